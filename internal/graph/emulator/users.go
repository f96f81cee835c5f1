package emulator

import (
	"fmt"
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
	// Profile holds the profile properties (givenName, surname, companyName, department,
	// jobTitle, usageLocation, employeeType) by their Graph names; unset ones are null.
	Profile map[string]string `json:"profile,omitempty"`
}

// ProfileLimits are the profile properties PATCH /users accepts, with Graph's maximum lengths.
var ProfileLimits = map[string]int{
	"givenName": 64, "surname": 64, "companyName": 64, "department": 64,
	"jobTitle": 128, "employeeType": 64, "usageLocation": 2,
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
		u.UserPrincipalName = seededUPN(u)
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

// seededUPN derives a plausible UPN: the #EXT# form for guests with a mail address, a
// tenant-domain name for members.
func seededUPN(u User) string {
	if u.Mail != "" && strings.EqualFold(u.UserType, "Guest") {
		return guestUPN(u.Mail)
	}
	local := u.ID[:8]
	if at := strings.IndexByte(u.Mail, '@'); at > 0 {
		local = u.Mail[:at]
	}
	return local + "@" + TenantDomain
}

// guestUPN is Entra's UPN for an invited address: jane@fabrikam.com becomes
// jane_fabrikam.com#EXT#@<tenant domain>.
func guestUPN(email string) string {
	return strings.Replace(email, "@", "_", 1) + "#EXT#@" + TenantDomain
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

// userProps maps lower-cased property names (Graph's $select is case-insensitive) to their
// canonical spelling. It lists what the emulator can render; anything else in $select is a
// 400, as on Graph, which catches typos in the operator's queries.
var userProps = canonicalNames(
	"id", "displayName", "mail", "otherMails", "userPrincipalName", "userType", "creationType",
	"externalUserState", "externalUserStateChangeDateTime", "createdDateTime", "accountEnabled",
	"businessPhones", "givenName", "surname", "jobTitle", "mobilePhone", "officeLocation",
	"preferredLanguage", "deletedDateTime", "companyName", "department", "usageLocation", "employeeType",
)

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
	case "businessPhones":
		return []string{}
	case "givenName", "surname", "companyName", "department", "jobTitle", "usageLocation", "employeeType":
		return nullIfEmpty(u.Profile[prop])
	default: // givenName, surname, jobTitle, ...: not modelled, null like an unset property
		return nil
	}
}

// renderUser returns the user's JSON object with only the selected properties (id always).
func renderUser(u *User, sel []string) map[string]any {
	m := make(map[string]any, len(sel)+1)
	for _, p := range sel {
		m[p] = userValue(u, p)
	}
	m["id"] = u.ID
	return m
}

// allUserProps is every property, for the control API's listings.
func allUserProps() []string {
	out := make([]string, 0, len(userProps))
	for _, p := range userProps {
		out = append(out, p)
	}
	return out
}
