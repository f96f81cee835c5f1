package msgraph

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/microsoftgraph/msgraph-sdk-go/models"
	"github.com/microsoftgraph/msgraph-sdk-go/users"

	graph "github.com/partnerops/partner-operator/internal/graph"
)

var _ graph.GuestReader = (*Client)(nil)

// maxPageSize is the largest $top Graph accepts on users and directory-object navigations.
const maxPageSize int32 = 999

// guestSelect names what an export reads of each guest.
var guestSelect = []string{
	"id", "displayName", "mail", "otherMails", "userType", "creationType",
	"externalUserState", "createdDateTime",
}

// memberOfSelect names the group properties that decide whether Graph can manage the
// membership; on a directoryObject collection they apply to the entries that are groups.
var memberOfSelect = []string{"id", "displayName", "groupTypes", "mailEnabled", "securityEnabled", "onPremisesSyncEnabled"}

var assignmentSelect = []string{"id", "appRoleId", "principalId", "principalType", "resourceId", "resourceDisplayName"}

// GuestFilter is the $filter ListGuests sends: userType, and the state and creation time
// when asked, all of which Graph filters with its default (not advanced) query support.
func GuestFilter(q graph.GuestQuery) string {
	parts := []string{"userType eq 'Guest'"}
	if q.State != "" {
		parts = append(parts, fmt.Sprintf("externalUserState eq '%s'", odataString(q.State)))
	}
	if !q.CreatedAfter.IsZero() {
		// DateTimeOffset literals are not quoted in OData.
		parts = append(parts, "createdDateTime ge "+q.CreatedAfter.UTC().Format(time.RFC3339))
	}
	return strings.Join(parts, " and ")
}

// ListGuests sends GET /users?$filter=userType eq 'Guest' ...&$select=...&$top=999 and follows
// every @odata.nextLink, calling page with each page's guests. Guests are checked again on the
// client (q.Matches): the domain is only matched there, and a member account must never
// slip through whatever Graph answered.
func (c *Client) ListGuests(ctx context.Context, q graph.GuestQuery, page func([]graph.User) error) error {
	const op = "list guests"
	filter, top := GuestFilter(q), maxPageSize
	resp, err := c.users().Get(ctx, &users.UsersRequestBuilderGetRequestConfiguration{
		QueryParameters: &users.UsersRequestBuilderGetQueryParameters{Filter: &filter, Select: append(append([]string{}, guestSelect...), c.ownership.all()...), Top: &top},
	})
	for {
		if err != nil {
			return classify(op, err)
		}
		if resp == nil {
			return nil
		}
		var guests []graph.User
		for _, m := range resp.GetValue() {
			if u := c.userFromModel(m); q.Matches(&u) {
				guests = append(guests, u)
			}
		}
		if err := page(guests); err != nil {
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

// MemberOf sends GET /users/{id}/memberOf?$select=...&$top=999 and follows every
// @odata.nextLink. Entries that are not groups (directory roles, administrative units) are
// left out.
func (c *Client) MemberOf(ctx context.Context, userID string) ([]graph.MemberGroup, error) {
	const op = "list memberships"
	top := maxPageSize
	memberOf := c.users().ByUserId(userID).MemberOf()
	resp, err := memberOf.Get(ctx, &users.ItemMemberOfRequestBuilderGetRequestConfiguration{
		QueryParameters: &users.ItemMemberOfRequestBuilderGetQueryParameters{Select: memberOfSelect, Top: &top},
	})
	var out []graph.MemberGroup
	for {
		if err != nil {
			return nil, classify(op, err)
		}
		if resp == nil {
			return out, nil
		}
		for _, o := range resp.GetValue() {
			if g, ok := o.(models.Groupable); ok {
				out = append(out, memberGroupFromModel(g))
			}
		}
		next := deref(resp.GetOdataNextLink())
		if next == "" {
			return out, nil
		}
		resp, err = memberOf.WithUrl(next).Get(ctx, nil)
	}
}

// AppRoleAssignments sends GET /users/{id}/appRoleAssignments?$select=... and follows every
// @odata.nextLink. Graph's page size is enough here: no $top, which this list is not
// documented to take.
func (c *Client) AppRoleAssignments(ctx context.Context, userID string) ([]graph.AssignedAppRole, error) {
	const op = "list app role assignments"
	assignments := c.users().ByUserId(userID).AppRoleAssignments()
	resp, err := assignments.Get(ctx, &users.ItemAppRoleAssignmentsRequestBuilderGetRequestConfiguration{
		QueryParameters: &users.ItemAppRoleAssignmentsRequestBuilderGetQueryParameters{Select: assignmentSelect},
	})
	var out []graph.AssignedAppRole
	for {
		if err != nil {
			return nil, classify(op, err)
		}
		if resp == nil {
			return out, nil
		}
		for _, a := range resp.GetValue() {
			out = append(out, graph.AssignedAppRole{
				ID:                  deref(a.GetId()),
				PrincipalID:         uuidString(a.GetPrincipalId()),
				PrincipalType:       deref(a.GetPrincipalType()),
				ResourceID:          uuidString(a.GetResourceId()),
				ResourceDisplayName: deref(a.GetResourceDisplayName()),
				AppRoleID:           uuidString(a.GetAppRoleId()),
			})
		}
		next := deref(resp.GetOdataNextLink())
		if next == "" {
			return out, nil
		}
		resp, err = assignments.WithUrl(next).Get(ctx, nil)
	}
}

func memberGroupFromModel(g models.Groupable) graph.MemberGroup {
	return graph.MemberGroup{
		Group:           groupFromModel(g),
		GroupTypes:      g.GetGroupTypes(),
		MailEnabled:     deref(g.GetMailEnabled()),
		SecurityEnabled: deref(g.GetSecurityEnabled()),
		OnPremisesSync:  deref(g.GetOnPremisesSyncEnabled()),
	}
}

// uuidString is the canonical (lowercase) form, "" for none.
func uuidString(id *uuid.UUID) string {
	if id == nil {
		return ""
	}
	return id.String()
}
