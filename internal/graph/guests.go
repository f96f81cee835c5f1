package graph

import (
	"context"
	"slices"
	"strings"
	"time"
)

// GuestReader reads a tenant's guests and what they were granted, for an export into
// manifests. It is not part of Directory: the operator itself never lists the tenant.
type GuestReader interface {
	// ListGuests pages through the users with userType Guest that match q, calling page once
	// for each page Graph returns (possibly with none left after the client-side filters).
	// An error from page stops the listing and is returned as it is.
	ListGuests(ctx context.Context, q GuestQuery, page func([]User) error) error
	// MemberOf lists the groups the user is a direct member of; directory roles and
	// administrative units are left out.
	MemberOf(ctx context.Context, userID string) ([]MemberGroup, error)
	// AppRoleAssignments lists the user's app role assignments, including, as Graph returns
	// them, those granted to groups the user is a direct member of.
	AppRoleAssignments(ctx context.Context, userID string) ([]AssignedAppRole, error)
}

// GuestQuery narrows ListGuests.
type GuestQuery struct {
	// Domain keeps guests whose mail, or any of otherMails, is at this domain
	// (case-insensitive). Graph can only filter mail by suffix in an advanced query, and not
	// otherMails at all, so it is matched on the client.
	Domain string
	// CreatedAfter keeps guests created at or after this time (zero: any).
	CreatedAfter time.Time
	// State keeps guests in this redemption state: PendingAcceptance or Accepted ("": any).
	State string
}

// Matches applies the query to a user as ListGuests returns it: a guest, created and in the
// state asked for, with an address at the domain. Implementations filter on Graph what Graph
// can filter and call this for the rest; calling it on everything is harmless.
func (q GuestQuery) Matches(u *User) bool {
	switch {
	case !strings.EqualFold(u.UserType, UserTypeGuest):
		return false
	case q.State != "" && !strings.EqualFold(u.ExternalUserState, q.State):
		return false
	case !q.CreatedAfter.IsZero() && !u.CreatedAt.IsZero() && u.CreatedAt.Before(q.CreatedAfter):
		return false
	case q.Domain == "":
		return true
	}
	return slices.ContainsFunc(append([]string{u.Mail}, u.OtherMails...), func(addr string) bool {
		return addressInDomain(addr, q.Domain)
	})
}

func addressInDomain(addr, domain string) bool {
	at := strings.LastIndexByte(addr, '@')
	return at > 0 && strings.EqualFold(addr[at+1:], strings.TrimPrefix(domain, "@"))
}

// Group types as Graph's groupTypes lists them.
const (
	GroupTypeUnified = "Unified"           // a Microsoft 365 group
	GroupTypeDynamic = "DynamicMembership" // members come from a rule
)

// MemberGroup is a group a user belongs to, with the properties that decide whether its
// membership can be managed through Graph.
type MemberGroup struct {
	Group
	GroupTypes      []string
	MailEnabled     bool
	SecurityEnabled bool
	// OnPremisesSync is true for a group synchronised from an on-premises directory.
	OnPremisesSync bool
}

// Manageable reports whether an application can add and remove this group's members through
// Graph, as the operator does, and if not, why. Graph manages the members of security groups
// and Microsoft 365 groups only; rule-based membership and groups mastered on premises are
// changed elsewhere, and mail-enabled security groups and distribution lists in Exchange.
func (g *MemberGroup) Manageable() (bool, string) {
	unified := slices.Contains(g.GroupTypes, GroupTypeUnified)
	switch {
	case slices.Contains(g.GroupTypes, GroupTypeDynamic):
		return false, "dynamic membership"
	case g.OnPremisesSync:
		return false, "synchronised from on-premises"
	case g.MailEnabled && !unified && g.SecurityEnabled:
		return false, "mail-enabled security group (managed in Exchange)"
	case g.MailEnabled && !unified:
		return false, "distribution list (managed in Exchange)"
	}
	return true, ""
}

// Principal types of an app role assignment.
const (
	PrincipalTypeUser  = "User"
	PrincipalTypeGroup = "Group"
)

// AssignedAppRole is an app role assignment as a user's appRoleAssignments list it.
type AssignedAppRole struct {
	ID string
	// PrincipalID and PrincipalType name who holds the role: the user, or a group it is a
	// member of.
	PrincipalID   string
	PrincipalType string
	// ResourceID is the object ID of the application's service principal.
	ResourceID          string
	ResourceDisplayName string
	AppRoleID           string
}
