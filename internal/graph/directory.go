// Package graph is the operator's narrow, domain-typed view of Microsoft Graph. The rest of
// the operator depends on the Directory interface only, so it never compiles msgraph-sdk-go
// and its tests can use a small fake.
package graph

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"time"
)

// Directory is what the operator needs from Entra ID.
type Directory interface {
	// FindUsersByEmail returns every user whose mail or otherMails holds the address,
	// guests and members alike, so the caller can tell adoption from a conflict.
	FindUsersByEmail(ctx context.Context, email string) ([]User, error)
	// FindUsersByEmails is FindUsersByEmail for up to MaxLookupAddresses addresses in one
	// request: every user whose mail or otherMails holds any of them.
	FindUsersByEmails(ctx context.Context, emails []string) ([]User, error)
	// GetUser returns one user, by object ID or user principal name, with the properties the
	// operator reads.
	GetUser(ctx context.Context, id string) (*User, error)
	// Invite creates an invitation (and, the first time, the guest user).
	Invite(ctx context.Context, req InvitationRequest) (*Invitation, error)
	// UpdateUser changes the properties set in the update.
	UpdateUser(ctx context.Context, id string, update UserUpdate) error
	// DeleteUser removes a user; a user already gone is reported as a NotFound error.
	DeleteUser(ctx context.Context, id string) error
	// GetDeletedUser reads a user in the directory's deleted items (kept 30 days after a
	// delete), with the properties GetUser reads; NotFound once it is purged.
	GetDeletedUser(ctx context.Context, id string) (*User, error)
	// RestoreDeletedUser brings a deleted user back with its object ID; NotFound once purged.
	RestoreDeletedUser(ctx context.Context, id string) error

	// GetGroup reads a group by object ID.
	GetGroup(ctx context.Context, id string) (*Group, error)
	// FindGroupsByName lists the groups whose displayName equals name.
	FindGroupsByName(ctx context.Context, name string) ([]Group, error)
	// AddGroupMember adds the user; an existing membership is an AlreadyExists error.
	AddGroupMember(ctx context.Context, groupID, userID string) error
	// RemoveGroupMember removes the user; a membership already gone is a NotFound error.
	RemoveGroupMember(ctx context.Context, groupID, userID string) error

	// GetServicePrincipal reads a service principal by object ID.
	GetServicePrincipal(ctx context.Context, id string) (*ServicePrincipal, error)
	// FindServicePrincipalByAppID returns the tenant's service principal of an application.
	FindServicePrincipalByAppID(ctx context.Context, appID string) (*ServicePrincipal, error)
	// AssignAppRole grants the role and returns the assignment's ID; a duplicate is an
	// AlreadyExists error.
	AssignAppRole(ctx context.Context, a AppRoleAssignment) (string, error)
	// RemoveAppRoleAssignment revokes an assignment; one already gone is a NotFound error.
	RemoveAppRoleAssignment(ctx context.Context, servicePrincipalID, assignmentID string) error

	// ListSponsors returns the user's sponsors (users and groups).
	ListSponsors(ctx context.Context, userID string) ([]DirectoryObject, error)
	// AddSponsor makes the user or group sponsorID a sponsor of the user; an existing sponsor
	// is an AlreadyExists error.
	AddSponsor(ctx context.Context, userID, sponsorID string) error
	// RemoveSponsor removes a sponsor; one already gone is a NotFound error.
	RemoveSponsor(ctx context.Context, userID, sponsorID string) error

	// UserChanges returns the users changed since the link (empty: a full initial round),
	// following every page, and the delta link to pass next time.
	UserChanges(ctx context.Context, deltaLink string) ([]UserChange, string, error)
}

// Group is a security or Microsoft 365 group.
type Group struct {
	ID          string
	DisplayName string
}

// DirectoryObject is a user or a group referenced by another object, such as a sponsor.
type DirectoryObject struct {
	ID string
	// Type is "user" or "group", from the object's @odata.type.
	Type        string
	DisplayName string
}

// Directory object types as DirectoryObject.Type reports them.
const (
	ObjectTypeUser  = "user"
	ObjectTypeGroup = "group"
)

// DefaultAppRoleID is the role Graph uses for "default access" to an app that defines none.
const DefaultAppRoleID = "00000000-0000-0000-0000-000000000000"

// ServicePrincipal is an application's identity in the tenant, with the roles it offers.
type ServicePrincipal struct {
	ID          string
	AppID       string
	DisplayName string
	AppRoles    []AppRole
}

// AppRole is one role an application defines for users.
type AppRole struct {
	ID    string
	Value string
}

// AppRoleAssignment grants PrincipalID the role AppRoleID on the ResourceID service principal.
type AppRoleAssignment struct {
	PrincipalID string
	ResourceID  string
	AppRoleID   string
}

// UserChange is one entry of a users delta round.
type UserChange struct {
	User
	// Removed is true when the user was deleted (the entry then carries only the ID).
	Removed bool
}

// Guest and member user types as Graph spells them.
const (
	UserTypeGuest  = "Guest"
	UserTypeMember = "Member"
	// CreationTypeInvitation marks accounts created by a B2B invitation.
	CreationTypeInvitation = "Invitation"
)

// User is the part of a Graph user the operator reads.
type User struct {
	ID                string
	UserPrincipalName string
	DisplayName       string
	Mail              string
	OtherMails        []string
	UserType          string
	CreationType      string
	ExternalUserState string
	// ExternalUserStateChangedAt is when ExternalUserState last changed (zero when unknown).
	ExternalUserStateChangedAt time.Time
	// AccountEnabled is false when the account may not sign in; nil when Graph did not say.
	AccountEnabled *bool
	// CreatedAt is the account's createdDateTime (zero when not read).
	CreatedAt time.Time
	// Profile holds the profile properties the operator can manage, by Graph name.
	Profile Profile
	// Ownership is the operator's record on the account (directory extension properties);
	// zero when the account carries none.
	Ownership Ownership
}

// Ownership is the record in the directory that says which operator installation manages a
// guest, for which PartnerInvitation, and how it came to (invited or adopted). It outlives
// the cluster: a cluster rebuilt from Git recognises its own guests by it, and a second
// installation against the same tenant leaves them alone.
type Ownership struct {
	// Owner is the installation's --owner-id.
	Owner string
	// Object is the PartnerInvitation as "namespace/name" (see ObjectRef).
	Object string
	// UID is the object's UID in the cluster that wrote the record.
	UID string
	// Origin is "Invited" or "Adopted".
	Origin string
}

// IsZero reports whether the account carries no record.
func (o Ownership) IsZero() bool { return o == Ownership{} }

// MaxExtensionValue is the length limit of a String directory extension property.
const MaxExtensionValue = 256

// ObjectRef is the Object of a record for namespace/name. A name too long for an extension
// value (namespaces reach 63 characters and names 253) keeps its start and a hash of the whole.
func ObjectRef(namespace, name string) string {
	ref := namespace + "/" + name
	if len(ref) <= MaxExtensionValue {
		return ref
	}
	sum := sha256.Sum256([]byte(ref))
	return ref[:MaxExtensionValue-33] + "~" + hex.EncodeToString(sum[:16])
}

// Profile is a user's editable profile, keyed by Graph's property names (ProfileProperties).
type Profile map[string]string

// ProfileProperties are the profile properties the operator reads and writes.
var ProfileProperties = []string{"givenName", "surname", "companyName", "department", "jobTitle", "usageLocation", "employeeType"}

// IsGuest reports whether the account is one the operator may adopt or delete: a guest, or an
// account an invitation created (an invited guest later converted to Member keeps that mark).
func (u *User) IsGuest() bool {
	return strings.EqualFold(u.UserType, UserTypeGuest) || strings.EqualFold(u.CreationType, CreationTypeInvitation)
}

// InvitationRequest is the body of POST /invitations.
type InvitationRequest struct {
	Email                 string
	DisplayName           string
	RedirectURL           string
	UserType              string
	SendInvitationMessage bool
	MessageBody           string
	MessageLanguage       string
	CCRecipients          []string
	// Sponsors are object IDs of users or groups, sent as invitedUserSponsors.
	Sponsors []string
	// ResetRedemptionForUserID, when set, re-invites an existing guest and resets its redemption.
	ResetRedemptionForUserID string
}

// Invitation is Graph's answer to an invitation.
type Invitation struct {
	ID        string
	UserID    string
	Status    string
	RedeemURL string
}

// UserUpdate holds the properties to change; nil means unchanged.
type UserUpdate struct {
	DisplayName *string
	UserType    *string
	// AccountEnabled enables or disables sign-in (it needs User.EnableDisableAccount.All).
	AccountEnabled *bool
	// Profile sets these profile properties; the others are left alone.
	Profile Profile
	// Ownership, when set, writes the whole ownership record.
	Ownership *Ownership
}

// TenantInfo is what signing in to a tenant tells: which tenant it is, its name and domains,
// and the application permissions the token holds.
type TenantInfo struct {
	TenantID        string
	DisplayName     string
	DefaultDomain   string
	VerifiedDomains []string
	// Roles are the token's application permissions; RolesKnown is false when the token did
	// not say (an opaque token).
	Roles      []string
	RolesKnown bool
}

// TenantVerifier signs in to a tenant and reads it.
type TenantVerifier interface {
	VerifyTenant(ctx context.Context) (*TenantInfo, error)
}
