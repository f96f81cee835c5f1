package graph

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"
)

// SignIn is when a user last signed in, from the user's signInActivity
// (https://learn.microsoft.com/en-us/graph/api/resources/signinactivity). A zero time means
// Graph has no record: the user never signed in (or not since April 2020, which Microsoft's
// data goes back to), or not since lastSuccessfulSignInDateTime was introduced on
// 1 December 2023, which is not backfilled.
type SignIn struct {
	UserID string
	// LastSignIn is lastSignInDateTime: the last interactive sign-in attempt, successful or
	// not.
	LastSignIn time.Time
	// LastSuccessfulSignIn is lastSuccessfulSignInDateTime: the last successful sign-in,
	// interactive or not. It is the one that says an account is really used.
	LastSuccessfulSignIn time.Time
}

// SignInReader reads the guests' sign-in activity, for finding guests who no longer use
// their access. It is not part of Directory: reading sign-in activity needs the application
// permission AuditLog.Read.All besides User.Read.All, and a Microsoft Entra ID P1 or P2
// licence in the tenant (https://learn.microsoft.com/en-us/graph/api/user-list, example
// "Get users including their last sign-in time").
type SignInReader interface {
	// ListGuestSignIns is one paged read of every guest's sign-in activity:
	// GET /users?$select=id,signInActivity&$filter=userType eq 'Guest', at the largest page
	// size Graph allows when signInActivity is selected (500, not the 999 of other user
	// lists), following @odata.nextLink. page is called once for each page Graph returns,
	// with one SignIn per guest on it (zero times for a guest Graph has no activity for); an
	// error from page stops the listing and is returned as it is. A tenant without the
	// licence fails with an error for which IsNoPremiumLicense is true.
	ListGuestSignIns(ctx context.Context, page func([]SignIn) error) error
}

// CodeNoPremiumLicense is the error code Graph answers (403) a request selecting or
// filtering on signInActivity in a tenant without a Microsoft Entra ID P1 or P2 licence, with
// the message "Neither tenant is B2C or tenant doesn't have premium license". Microsoft's
// reference pages state the licence requirement but not the error; the code is the one
// reported in microsoftgraph/microsoft-graph-docs#12772 and #14120 and
// microsoftgraph/msgraph-sdk-dotnet#1006.
const CodeNoPremiumLicense = "Authentication_RequestFromNonPremiumTenantOrB2CTenant"

// IsNoPremiumLicense reports whether err is Graph refusing sign-in activity because the
// tenant has no Microsoft Entra ID P1 or P2 licence: something only buying the licence
// fixes, unlike a missing permission. MissingPermission also reports such an error (it is a
// 403), so check this first.
func IsNoPremiumLicense(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.StatusCode == http.StatusForbidden &&
		strings.EqualFold(e.Code, CodeNoPremiumLicense)
}

// PaceSignIns wraps a SignInReader so that its pages draw from the same budget as d's requests
// when d is a Directory Pace made: sign-in reads then share the tenant's quota windows and
// throttling pause instead of competing with invitations from a pacer of their own. Each page
// costs one list request. With any other d, r is returned as it is.
func PaceSignIns(r SignInReader, d Directory) SignInReader {
	p, ok := d.(*paced)
	if !ok || r == nil {
		return r
	}
	return &pacedSignIns{next: r, p: p}
}

type pacedSignIns struct {
	next SignInReader
	p    *paced
}

func (r *pacedSignIns) ListGuestSignIns(ctx context.Context, page func([]SignIn) error) error {
	return pacePages(ctx, r.p, func(each func([]SignIn) error) error { return r.next.ListGuestSignIns(ctx, each) }, page)
}

// InstrumentSignIns counts and times each sign-in listing as the operation "list_sign_ins".
func InstrumentSignIns(r SignInReader, m *Metrics) SignInReader {
	if r == nil || m == nil {
		return r
	}
	return &instrumentedSignIns{next: r, i: &instrumented{m: m}}
}

type instrumentedSignIns struct {
	next SignInReader
	i    *instrumented
}

func (s *instrumentedSignIns) ListGuestSignIns(ctx context.Context, page func([]SignIn) error) (err error) {
	defer func(start time.Time) { s.i.observe("list_sign_ins", start, err, 200) }(time.Now())
	return s.next.ListGuestSignIns(ctx, page)
}
