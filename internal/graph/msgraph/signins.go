package msgraph

import (
	"context"
	"time"

	"github.com/microsoftgraph/msgraph-sdk-go/models"
	"github.com/microsoftgraph/msgraph-sdk-go/users"

	graph "github.com/partnerops/partner-operator/internal/graph"
)

var _ graph.SignInReader = (*Client)(nil)

// signInPageSize is the largest page Graph returns of users when $select names
// signInActivity: 500, against 999 for other user lists; a larger $top is not refused but
// still yields pages of up to 500 (https://learn.microsoft.com/en-us/graph/api/user-list,
// "Optional query parameters" and example 11). Asking for exactly that keeps the request
// count the documented one: ceil(guests / 500).
const signInPageSize int32 = 500

// signInSelect is what ListGuestSignIns reads of each guest.
var signInSelect = []string{"id", "signInActivity"}

// ListGuestSignIns sends GET /users?$filter=userType eq 'Guest'&$select=id,signInActivity
// &$top=500 and follows every @odata.nextLink, calling page with each page's guests. Reading
// signInActivity needs AuditLog.Read.All besides User.Read.All (a 403 is classified under the
// op "list sign-ins", for which graph.MissingPermission names AuditLog.Read.All) and a
// Microsoft Entra ID P1 or P2 licence (a 403 for which graph.IsNoPremiumLicense is true).
func (c *Client) ListGuestSignIns(ctx context.Context, page func([]graph.SignIn) error) error {
	const op = "list sign-ins"
	filter, top := "userType eq 'Guest'", signInPageSize
	resp, err := c.users().Get(ctx, &users.UsersRequestBuilderGetRequestConfiguration{
		QueryParameters: &users.UsersRequestBuilderGetQueryParameters{Filter: &filter, Select: signInSelect, Top: &top},
	})
	for {
		if err != nil {
			return classify(op, err)
		}
		if resp == nil {
			return nil
		}
		values := resp.GetValue()
		signIns := make([]graph.SignIn, 0, len(values))
		for _, u := range values {
			signIns = append(signIns, signInFromModel(u))
		}
		if err := page(signIns); err != nil {
			return err
		}
		next := deref(resp.GetOdataNextLink())
		if next == "" {
			return nil
		}
		// The link carries the query itself; WithUrl ignores QueryParameters.
		resp, err = c.users().WithUrl(next).Get(ctx, nil)
	}
}

// signInFromModel maps a user's signInActivity. Graph leaves the property out for a user
// who never signed in; a date it has no record of is null, or, in Microsoft's own example,
// "0001-01-01T00:00:00Z", which is read as none too.
func signInFromModel(u models.Userable) graph.SignIn {
	out := graph.SignIn{UserID: deref(u.GetId())}
	if a := u.GetSignInActivity(); a != nil {
		out.LastSignIn = signInTime(a.GetLastSignInDateTime())
		out.LastSuccessfulSignIn = signInTime(a.GetLastSuccessfulSignInDateTime())
	}
	return out
}

func signInTime(t *time.Time) time.Time {
	if t == nil || t.Year() <= 1 {
		return time.Time{}
	}
	return t.UTC()
}
