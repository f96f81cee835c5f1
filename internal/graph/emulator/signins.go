package emulator

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"
)

// Users' sign-in activity: the signInActivity property of a user
// (https://learn.microsoft.com/en-us/graph/api/resources/signinactivity), which Graph returns
// only when $select names it and which reads differently from every other property:
//
//   - It needs the application permission AuditLog.Read.All on top of the read's own
//     (User.Read.All), and a Microsoft Entra ID P1 or P2 licence in the tenant
//     (https://learn.microsoft.com/en-us/graph/api/user-list, example 11 "Get users including
//     their last sign-in time"; https://learn.microsoft.com/en-us/graph/api/resources/user,
//     property signInActivity).
//   - Selected or filtered on, a users list has pages of at most 500; a larger $top is not
//     refused but returns pages of up to 500 (user-list, "Optional query parameters" and
//     example 11; the limit was 120 in older versions of the page, and 999 before
//     microsoftgraph/microsoft-graph-docs-contrib#9591, July 2025). A $top above 999 is the
//     400 of every users list.
//   - It supports $filter (eq, ne, not, ge, le) "but not with any other filterable
//     properties" (user-list, example 11). The emulator evaluates eq, ge and le, as for
//     createdDateTime.
//   - It is not returned for a user who never signed in or last signed in before April 2020
//     (user resource, signInActivity).
//
// What Microsoft's pages do not state, and the emulator assumes or takes from reports:
//
//   - ASSUMED (observed, not documented): without AuditLog.Read.All Graph answers 403
//     Authentication_MSGraphPermissionMissing "Calling principal does not have required
//     MSGraph permissions AuditLog.Read.All" (microsoftgraph/microsoft-graph-explorer-v4#2731,
//     12Knocksinna/Office365itpros#109), not the Authorization_RequestDenied of the route
//     table, which still applies first when the read's own permission is missing.
//   - ASSUMED (observed, not documented): without the licence Graph answers 403
//     Authentication_RequestFromNonPremiumTenantOrB2CTenant "Neither tenant is B2C or tenant
//     doesn't have premium license" (microsoftgraph/microsoft-graph-docs#12772 and #14120,
//     microsoftgraph/msgraph-sdk-dotnet#1006). The permission is checked before the licence.
//   - ASSUMED: a date Graph has no record of reads as null, with its request id null. The
//     example on user-list shows "0001-01-01T00:00:00Z" and "" instead, which msgraph-sdk-go
//     could not even parse ("" is no DateTimeOffset), so the emulator does not copy it.
//   - ASSUMED: selecting signInActivity on GET /users/{userPrincipalName} is a 400: Microsoft
//     answered on Q&A that it works only with the object id
//     (https://learn.microsoft.com/en-us/answers/questions/1311910); the code and message are
//     the emulator's.
//   - ASSUMED: the default page size stays 100, and the $filter with other properties is
//     answered 400 Request_UnsupportedQuery with the emulator's message.
//   - ASSUMED: such reads cost the resource units of any users read: the throttling pages
//     list no cost of their own for signInActivity, so quota.go prices them as it prices
//     GET /users.

// signInMaxPageSize is the largest page of a users list that selects or filters on
// signInActivity.
const signInMaxPageSize = 500

// Graph's answers to a signInActivity read it refuses.
const (
	codeNoPremiumLicense    = "Authentication_RequestFromNonPremiumTenantOrB2CTenant"
	msgNoPremiumLicense     = "Neither tenant is B2C or tenant doesn't have premium license"
	codePermissionMissing   = "Authentication_MSGraphPermissionMissing"
	msgAuditLogMissing      = "Calling principal does not have required MSGraph permissions AuditLog.Read.All"
	msgSignInByUPN          = "Selecting signInActivity is not supported when the user is addressed by userPrincipalName; use the object id."
	msgSignInFilterCombined = "Unsupported Query. signInActivity supports $filter but not with any other filterable properties."
)

// signInProperty is the user property, as $select spells it canonically.
const signInProperty = "signInActivity"

// signInFilterProps are the sub-properties a $filter can compare, as DateTimeOffset values.
var signInFilterProps = []string{
	"signInActivity/lastSignInDateTime",
	"signInActivity/lastSuccessfulSignInDateTime",
	"signInActivity/lastNonInteractiveSignInDateTime",
}

// SignInActivity is a user's sign-in activity as tests set it. A zero time is a sign-in Graph
// has no record of (null); all three zero is a user who never signed in, whose signInActivity
// Graph does not return.
type SignInActivity struct {
	// LastSignIn is lastSignInDateTime: the last interactive sign-in attempt.
	LastSignIn time.Time
	// LastSuccessfulSignIn is lastSuccessfulSignInDateTime: the last successful sign-in,
	// interactive or not.
	LastSuccessfulSignIn time.Time
	// LastNonInteractiveSignIn is lastNonInteractiveSignInDateTime.
	LastNonInteractiveSignIn time.Time
}

func (a SignInActivity) zero() bool {
	return a.LastSignIn.IsZero() && a.LastSuccessfulSignIn.IsZero() && a.LastNonInteractiveSignIn.IsZero()
}

// signInRec is a user's stored activity with the request id of each sign-in, fixed when the
// sign-in is recorded so every read shows the same.
type signInRec struct {
	act SignInActivity
	ids [3]string // lastSignIn, lastSuccessfulSignIn, lastNonInteractiveSignIn
}

// SetSignIn records a successful interactive sign-in of the user at at: lastSignInDateTime
// and lastSuccessfulSignInDateTime become at; the non-interactive one is kept.
func (e *Emulator) SetSignIn(userID string, at time.Time) error {
	e.mu.Lock()
	a := SignInActivity{}
	if rec := e.signIns[userID]; rec != nil {
		a = rec.act
	}
	e.mu.Unlock()
	a.LastSignIn, a.LastSuccessfulSignIn = at, at
	return e.SetSignInActivity(userID, a)
}

// SetSignInActivity sets the user's sign-in activity; the zero value makes the user one who
// never signed in. Each date that changes gets a new request id.
func (e *Emulator) SetSignInActivity(userID string, a SignInActivity) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.dir.users[userID] == nil {
		return fmt.Errorf("emulator: user %q does not exist", userID)
	}
	if a.zero() {
		delete(e.signIns, userID)
		return nil
	}
	if e.signIns == nil {
		e.signIns = map[string]*signInRec{}
	}
	old := e.signIns[userID]
	if old == nil {
		old = &signInRec{}
	}
	rec := &signInRec{act: SignInActivity{
		LastSignIn:               a.LastSignIn.UTC(),
		LastSuccessfulSignIn:     a.LastSuccessfulSignIn.UTC(),
		LastNonInteractiveSignIn: a.LastNonInteractiveSignIn.UTC(),
	}}
	for i, pair := range [3][2]time.Time{
		{rec.act.LastSignIn, old.act.LastSignIn},
		{rec.act.LastSuccessfulSignIn, old.act.LastSuccessfulSignIn},
		{rec.act.LastNonInteractiveSignIn, old.act.LastNonInteractiveSignIn},
	} {
		switch {
		case pair[0].IsZero():
		case pair[0].Equal(pair[1]) && old.ids[i] != "":
			rec.ids[i] = old.ids[i]
		default:
			rec.ids[i] = newUUID()
		}
	}
	e.signIns[userID] = rec
	return nil
}

// UserSignInActivity returns the user's recorded sign-in activity (zero when none).
func (e *Emulator) UserSignInActivity(userID string) SignInActivity {
	e.mu.Lock()
	defer e.mu.Unlock()
	if rec := e.signIns[userID]; rec != nil {
		return rec.act
	}
	return SignInActivity{}
}

// SetPremiumLicense gives the tenant a Microsoft Entra ID P1/P2 licence (true, the default)
// or takes it away (false), as Options.NoPremiumLicense does at creation.
func (e *Emulator) SetPremiumLicense(premium bool) { e.noPremium.Store(!premium) }

// signInValue is the user's signInActivity as Graph renders it, false for a user with none.
// The caller holds e.mu.
func (e *Emulator) signInValue(userID string) (map[string]any, bool) {
	rec := e.signIns[userID]
	if rec == nil {
		return nil, false
	}
	return map[string]any{
		"lastSignInDateTime":                formatTime(rec.act.LastSignIn),
		"lastSignInRequestId":               nullIfEmpty(rec.ids[0]),
		"lastSuccessfulSignInDateTime":      formatTime(rec.act.LastSuccessfulSignIn),
		"lastSuccessfulSignInRequestId":     nullIfEmpty(rec.ids[1]),
		"lastNonInteractiveSignInDateTime":  formatTime(rec.act.LastNonInteractiveSignIn),
		"lastNonInteractiveSignInRequestId": nullIfEmpty(rec.ids[2]),
	}, true
}

// renderUserSignIn is renderUser with signInActivity, when selected, filled in from the
// recorded activity, or left out for a user without any. The caller holds e.mu.
func (e *Emulator) renderUserSignIn(u *User, sel []string) map[string]any {
	m := renderUser(u, sel)
	if !slices.Contains(sel, signInProperty) {
		return m
	}
	if v, ok := e.signInValue(u.ID); ok {
		m[signInProperty] = v
	} else {
		delete(m, signInProperty)
	}
	return m
}

// signInGetter is userGetter with the signInActivity dates a $filter compares. The caller
// holds e.mu.
func (e *Emulator) signInGetter(u *User) func(string) []string {
	get := userGetter(u)
	return func(p string) []string {
		var t time.Time
		rec := e.signIns[u.ID]
		switch p {
		case signInFilterProps[0]:
			if rec != nil {
				t = rec.act.LastSignIn
			}
		case signInFilterProps[1]:
			if rec != nil {
				t = rec.act.LastSuccessfulSignIn
			}
		case signInFilterProps[2]:
			if rec != nil {
				t = rec.act.LastNonInteractiveSignIn
			}
		default:
			return get(p)
		}
		if t.IsZero() {
			return nil
		}
		return []string{t.Format(time.RFC3339Nano)}
	}
}

// signInUserQuery checks a GET /users/{key} that selects signInActivity; when Graph would
// refuse it, it answers itself and returns false.
func (e *Emulator) signInUserQuery(w http.ResponseWriter, r *http.Request, key string, sel []string) bool {
	if !slices.Contains(sel, signInProperty) {
		return true
	}
	if !e.signInAllowed(w, r) {
		return false
	}
	if strings.Contains(key, "@") {
		writeError(w, r, http.StatusBadRequest, codeRequestBadRequest, msgSignInByUPN)
		return false
	}
	return true
}

// signInListQuery checks a GET /users that selects or filters on signInActivity and caps
// its page size; when Graph would refuse it, it answers itself and returns false.
func (e *Emulator) signInListQuery(w http.ResponseWriter, r *http.Request, sel []string, q *listQuery) bool {
	filtered, others := false, false
	for _, p := range filterProps(q.filter) {
		if slices.Contains(signInFilterProps, p) {
			filtered = true
		} else {
			others = true
		}
	}
	if !filtered && !slices.Contains(sel, signInProperty) {
		return true
	}
	if filtered && others {
		writeError(w, r, http.StatusBadRequest, codeUnsupportedQuery, msgSignInFilterCombined)
		return false
	}
	if !e.signInAllowed(w, r) {
		return false
	}
	q.top = min(q.top, signInMaxPageSize)
	return true
}

// signInAllowed checks the permission and the licence reading signInActivity needs, on top
// of the route's own permission, which serveGraph checked already.
func (e *Emulator) signInAllowed(w http.ResponseWriter, r *http.Request) bool {
	if g := e.granted.Load(); g != nil && !slices.ContainsFunc(permsSignInActivity, func(p string) bool {
		return g.set[strings.ToLower(p)]
	}) {
		writeError(w, r, http.StatusForbidden, codePermissionMissing, msgAuditLogMissing)
		return false
	}
	if e.noPremium.Load() {
		writeError(w, r, http.StatusForbidden, codeNoPremiumLicense, msgNoPremiumLicense)
		return false
	}
	return true
}

// filterProps lists the properties a parsed $filter names, in order, repeats included.
func filterProps(n filterNode) []string {
	switch n := n.(type) {
	case orNode:
		return append(filterProps(n.l), filterProps(n.r)...)
	case andNode:
		return append(filterProps(n.l), filterProps(n.r)...)
	case eqNode:
		return []string{n.prop}
	case timeNode:
		return []string{n.prop}
	case prefixNode:
		return []string{n.prop}
	case inNode:
		return []string{n.prop}
	}
	return nil
}
