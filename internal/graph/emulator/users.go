package emulator

import (
	"encoding/json"
	"fmt"
	"maps"
	"strings"
	"time"
)

// User is a directory user as the emulator stores it. The JSON tags are the control API's
// format (POST/GET /_emulator/users); Graph answers are rendered separately with $select.
type User struct {
	ID                              string    `json:"id,omitempty"`
	DisplayName                     string    `json:"displayName,omitempty"`
	Mail                            string    `json:"mail,omitempty"`
	UserPrincipalName               string    `json:"userPrincipalName,omitempty"`
	UserType                        string    `json:"userType,omitempty"`
	CreationType                    string    `json:"creationType,omitempty"`
	OtherMails                      []string  `json:"otherMails,omitempty"`
	ExternalUserState               string    `json:"externalUserState,omitempty"` // "", "PendingAcceptance", "Accepted"
	ExternalUserStateChangeDateTime time.Time `json:"externalUserStateChangeDateTime,omitzero"`
	CreatedDateTime                 time.Time `json:"createdDateTime,omitzero"`
	AccountEnabled                  bool      `json:"accountEnabled"`
	// Profile holds the other string properties of the user (givenName, surname,
	// companyName, department, jobTitle, usageLocation, city, ...) by their Graph names;
	// unset ones read as null.
	Profile map[string]string `json:"profile,omitempty"`
	// Extensions holds the user's directory extension values by their full names
	// (extension_{appId without dashes}_{name}); an unset one is absent, and Graph's answers
	// omit it even when selected.
	Extensions map[string]string `json:"extensions,omitempty"`

	// props holds the non-string properties a PATCH set (businessPhones, passwordProfile,
	// employeeOrgData, ...) as the JSON it sent, already checked against Graph's schema.
	props map[string]json.RawMessage
}

// External user states Graph reports.
const (
	StatePendingAcceptance = "PendingAcceptance"
	StateAccepted          = "Accepted"
)

// AddUser seeds a user (an existing guest or a member), visible immediately. Empty ID,
// UserPrincipalName, UserType and CreatedDateTime are filled in; everything else is taken
// as given (including AccountEnabled).
func (e *Emulator) AddUser(u User) User {
	e.mu.Lock()
	defer e.mu.Unlock()
	now := e.now()
	if u.ID == "" {
		u.ID = newUUID()
	}
	if u.UserType == "" {
		u.UserType = "Member"
		if u.CreationType == "Invitation" || u.ExternalUserState != "" {
			u.UserType = "Guest"
		}
	}
	if u.UserPrincipalName == "" {
		u.UserPrincipalName = seededUPN(u, e.opts.TenantDomain, e.opts.DefaultDomain)
	}
	if u.CreatedDateTime.IsZero() {
		u.CreatedDateTime = now
	}
	u = cloneUser(u)
	rec := &userRec{User: u, ord: e.dir.nextOrd()}
	if old := e.dir.users[u.ID]; old != nil {
		rec.ord = old.ord // re-seeding the same id replaces the user in place
	}
	e.dir.touch(rec)
	e.dir.users[u.ID] = rec
	return cloneUser(u)
}

// seededUPN derives a plausible UPN: the #EXT# form on the initial domain for guests with a
// mail address, a name on the default domain for members (the one Entra proposes).
func seededUPN(u User, initialDomain, defaultDomain string) string {
	if u.Mail != "" && strings.EqualFold(u.UserType, "Guest") {
		return guestUPN(u.Mail, initialDomain)
	}
	local := u.ID[:8]
	if at := strings.IndexByte(u.Mail, '@'); at > 0 {
		local = u.Mail[:at]
	}
	return local + "@" + defaultDomain
}

// guestUPN is Entra's UPN for an invited address in the tenant whose initial domain is
// domain: jane@fabrikam.com becomes jane_fabrikam.com#EXT#@<domain>.
func guestUPN(email, domain string) string {
	return strings.Replace(email, "@", "_", 1) + "#EXT#@" + domain
}

// User returns the stored user regardless of visibility.
func (e *Emulator) User(id string) (User, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	u := e.dir.users[id]
	if u == nil {
		return User{}, false
	}
	return cloneUser(u.User), true
}

// Users returns every (non-deleted) user in creation order.
func (e *Emulator) Users() []User {
	e.mu.Lock()
	defer e.mu.Unlock()
	recs := e.dir.sortedUsers()
	out := make([]User, len(recs))
	for i, u := range recs {
		out[i] = cloneUser(u.User)
	}
	return out
}

// AcceptInvitation plays the partner redeeming the invitation. Unlike Redeem it does not
// check accountEnabled: it is the test's shortcut to the accepted state, also for users seeded
// with AddUser, whose AccountEnabled is whatever the seed said.
func (e *Emulator) AcceptInvitation(userID string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	u := e.dir.users[userID]
	if u == nil {
		return fmt.Errorf("emulator: user %q does not exist", userID)
	}
	e.dir.accept(u, e.now())
	return nil
}

// accept records the redemption of the user's invitation.
func (d *directory) accept(u *userRec, now time.Time) {
	u.ExternalUserState = StateAccepted
	u.ExternalUserStateChangeDateTime = now
	d.touch(u)
}

// DeleteUserOutOfBand deletes a user as an administrator in the portal would, without a
// Graph request showing up in the log.
func (e *Emulator) DeleteUserOutOfBand(userID string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if !e.dir.deleteUser(userID, e.now()) {
		return fmt.Errorf("emulator: user %q does not exist", userID)
	}
	return nil
}

// controlUserProps are the properties the control API lists for every user; set Profile
// and props entries are added.
var controlUserProps = []string{
	"id", "displayName", "mail", "otherMails", "userPrincipalName", "userType", "creationType",
	"externalUserState", "externalUserStateChangeDateTime", "createdDateTime", "accountEnabled",
}

// defaultUserSelect is what Graph returns without $select; note it lacks externalUserState,
// userType and creationType, the trap graph.md warns about.
var defaultUserSelect = []string{
	"businessPhones", "displayName", "givenName", "jobTitle", "mail", "mobilePhone",
	"officeLocation", "preferredLanguage", "surname", "userPrincipalName", "id",
}

func canonicalNames(names ...string) map[string]string {
	m := make(map[string]string, len(names))
	for _, n := range names {
		m[strings.ToLower(n)] = n
	}
	return m
}

// userValue renders one property the way Graph serialises it (null for unset values).
func userValue(u *User, prop string) any {
	switch prop {
	case "id":
		return u.ID
	case "displayName":
		return nullIfEmpty(u.DisplayName)
	case "mail":
		return nullIfEmpty(u.Mail)
	case "otherMails":
		return append([]string{}, u.OtherMails...)
	case "userPrincipalName":
		return u.UserPrincipalName
	case "userType":
		return nullIfEmpty(u.UserType)
	case "creationType":
		return nullIfEmpty(u.CreationType)
	case "externalUserState":
		return nullIfEmpty(u.ExternalUserState)
	case "externalUserStateChangeDateTime":
		return formatTime(u.ExternalUserStateChangeDateTime)
	case "createdDateTime":
		return formatTime(u.CreatedDateTime)
	case "accountEnabled":
		return u.AccountEnabled
	}
	if raw, ok := u.props[prop]; ok {
		return raw
	}
	p := userSchema()[strings.ToLower(prop)]
	switch {
	case p.str:
		return nullIfEmpty(u.Profile[prop])
	case p.collection:
		return []any{}
	}
	return nil // a property no one has set reads as null, as on Graph
}

// renderUser returns the user's JSON object with only the selected properties (id always).
func renderUser(u *User, sel []string) map[string]any {
	m := make(map[string]any, len(sel)+1)
	for _, p := range sel {
		if isExtensionName(p) {
			if v, ok := u.Extensions[p]; ok {
				m[p] = v
			}
			continue
		}
		m[p] = userValue(u, p)
	}
	m["id"] = u.ID
	return m
}

// allUserProps is what the control API lists for u: the emulator's own properties and
// every property a seed or a PATCH set.
func allUserProps(u *User) []string {
	out := append([]string{}, controlUserProps...)
	for k := range u.Profile {
		out = append(out, k)
	}
	for k := range u.props {
		out = append(out, k)
	}
	return out
}

func cloneUser(u User) User {
	u.OtherMails = append([]string(nil), u.OtherMails...)
	u.Profile = maps.Clone(u.Profile)
	u.Extensions = maps.Clone(u.Extensions)
	u.props = maps.Clone(u.props)
	return u
}
