// Package graphtest provides a func-field fake of graph.Directory for unit tests of pure
// reconcile logic. Any call whose func is unset fails with "not implemented", so a test says
// exactly which Graph calls it expects.
package graphtest

import (
	"context"
	"errors"
	"sync"

	"github.com/partnerops/partner-operator/internal/graph"
)

// ErrNotImplemented is returned by calls the test did not set up.
var ErrNotImplemented = errors.New("graphtest: not implemented")

// Fake implements graph.Directory with optional funcs and records the calls made.
type Fake struct {
	FindUsersByEmailFn func(ctx context.Context, email string) ([]graph.User, error)
	// FindUsersByEmailsFn answers batched lookups; unset, each address goes to
	// FindUsersByEmailFn in turn (the answers a batch would merge).
	FindUsersByEmailsFn  func(ctx context.Context, emails []string) ([]graph.User, error)
	GetUserFn            func(ctx context.Context, id string) (*graph.User, error)
	InviteFn             func(ctx context.Context, req graph.InvitationRequest) (*graph.Invitation, error)
	UpdateUserFn         func(ctx context.Context, id string, u graph.UserUpdate) error
	DeleteUserFn         func(ctx context.Context, id string) error
	GetDeletedUserFn     func(ctx context.Context, id string) (*graph.User, error)
	RestoreDeletedUserFn func(ctx context.Context, id string) error

	GetGroupFn                    func(ctx context.Context, id string) (*graph.Group, error)
	FindGroupsByNameFn            func(ctx context.Context, name string) ([]graph.Group, error)
	AddGroupMemberFn              func(ctx context.Context, groupID, userID string) error
	RemoveGroupMemberFn           func(ctx context.Context, groupID, userID string) error
	GetServicePrincipalFn         func(ctx context.Context, id string) (*graph.ServicePrincipal, error)
	FindServicePrincipalByAppIDFn func(ctx context.Context, appID string) (*graph.ServicePrincipal, error)
	AssignAppRoleFn               func(ctx context.Context, a graph.AppRoleAssignment) (string, error)
	RemoveAppRoleAssignmentFn     func(ctx context.Context, spID, assignmentID string) error
	ListSponsorsFn                func(ctx context.Context, userID string) ([]graph.DirectoryObject, error)
	AddSponsorFn                  func(ctx context.Context, userID, sponsorID string) error
	RemoveSponsorFn               func(ctx context.Context, userID, sponsorID string) error
	UserChangesFn                 func(ctx context.Context, deltaLink string) ([]graph.UserChange, string, error)

	mu    sync.Mutex
	calls []string
}

var _ graph.Directory = (*Fake)(nil)

// Calls returns the operations called, in order.
func (f *Fake) Calls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.calls...)
}

func (f *Fake) record(op string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, op)
}

func (f *Fake) FindUsersByEmail(ctx context.Context, email string) ([]graph.User, error) {
	f.record("FindUsersByEmail")
	if f.FindUsersByEmailFn == nil {
		return nil, ErrNotImplemented
	}
	return f.FindUsersByEmailFn(ctx, email)
}

func (f *Fake) FindUsersByEmails(ctx context.Context, emails []string) ([]graph.User, error) {
	f.record("FindUsersByEmails")
	if f.FindUsersByEmailsFn != nil {
		return f.FindUsersByEmailsFn(ctx, emails)
	}
	if f.FindUsersByEmailFn == nil {
		return nil, ErrNotImplemented
	}
	var all []graph.User
	for _, e := range emails {
		u, err := f.FindUsersByEmailFn(ctx, e)
		if err != nil {
			return nil, err
		}
		all = append(all, u...)
	}
	return all, nil
}

func (f *Fake) GetUser(ctx context.Context, id string) (*graph.User, error) {
	f.record("GetUser")
	if f.GetUserFn == nil {
		return nil, ErrNotImplemented
	}
	return f.GetUserFn(ctx, id)
}

func (f *Fake) Invite(ctx context.Context, req graph.InvitationRequest) (*graph.Invitation, error) {
	f.record("Invite")
	if f.InviteFn == nil {
		return nil, ErrNotImplemented
	}
	return f.InviteFn(ctx, req)
}

func (f *Fake) UpdateUser(ctx context.Context, id string, u graph.UserUpdate) error {
	f.record("UpdateUser")
	if f.UpdateUserFn == nil {
		return ErrNotImplemented
	}
	return f.UpdateUserFn(ctx, id, u)
}

func (f *Fake) DeleteUser(ctx context.Context, id string) error {
	f.record("DeleteUser")
	if f.DeleteUserFn == nil {
		return ErrNotImplemented
	}
	return f.DeleteUserFn(ctx, id)
}

func (f *Fake) GetDeletedUser(ctx context.Context, id string) (*graph.User, error) {
	f.record("GetDeletedUser")
	if f.GetDeletedUserFn == nil {
		return nil, ErrNotImplemented
	}
	return f.GetDeletedUserFn(ctx, id)
}

func (f *Fake) RestoreDeletedUser(ctx context.Context, id string) error {
	f.record("RestoreDeletedUser")
	if f.RestoreDeletedUserFn == nil {
		return ErrNotImplemented
	}
	return f.RestoreDeletedUserFn(ctx, id)
}

func (f *Fake) GetGroup(ctx context.Context, id string) (*graph.Group, error) {
	f.record("GetGroup")
	if f.GetGroupFn == nil {
		return nil, ErrNotImplemented
	}
	return f.GetGroupFn(ctx, id)
}

func (f *Fake) FindGroupsByName(ctx context.Context, name string) ([]graph.Group, error) {
	f.record("FindGroupsByName")
	if f.FindGroupsByNameFn == nil {
		return nil, ErrNotImplemented
	}
	return f.FindGroupsByNameFn(ctx, name)
}

func (f *Fake) AddGroupMember(ctx context.Context, groupID, userID string) error {
	f.record("AddGroupMember")
	if f.AddGroupMemberFn == nil {
		return ErrNotImplemented
	}
	return f.AddGroupMemberFn(ctx, groupID, userID)
}

func (f *Fake) RemoveGroupMember(ctx context.Context, groupID, userID string) error {
	f.record("RemoveGroupMember")
	if f.RemoveGroupMemberFn == nil {
		return ErrNotImplemented
	}
	return f.RemoveGroupMemberFn(ctx, groupID, userID)
}

func (f *Fake) GetServicePrincipal(ctx context.Context, id string) (*graph.ServicePrincipal, error) {
	f.record("GetServicePrincipal")
	if f.GetServicePrincipalFn == nil {
		return nil, ErrNotImplemented
	}
	return f.GetServicePrincipalFn(ctx, id)
}

func (f *Fake) FindServicePrincipalByAppID(ctx context.Context, appID string) (*graph.ServicePrincipal, error) {
	f.record("FindServicePrincipalByAppID")
	if f.FindServicePrincipalByAppIDFn == nil {
		return nil, ErrNotImplemented
	}
	return f.FindServicePrincipalByAppIDFn(ctx, appID)
}

func (f *Fake) AssignAppRole(ctx context.Context, a graph.AppRoleAssignment) (string, error) {
	f.record("AssignAppRole")
	if f.AssignAppRoleFn == nil {
		return "", ErrNotImplemented
	}
	return f.AssignAppRoleFn(ctx, a)
}

func (f *Fake) RemoveAppRoleAssignment(ctx context.Context, spID, assignmentID string) error {
	f.record("RemoveAppRoleAssignment")
	if f.RemoveAppRoleAssignmentFn == nil {
		return ErrNotImplemented
	}
	return f.RemoveAppRoleAssignmentFn(ctx, spID, assignmentID)
}

func (f *Fake) ListSponsors(ctx context.Context, userID string) ([]graph.DirectoryObject, error) {
	f.record("ListSponsors")
	if f.ListSponsorsFn == nil {
		return nil, ErrNotImplemented
	}
	return f.ListSponsorsFn(ctx, userID)
}

func (f *Fake) AddSponsor(ctx context.Context, userID, sponsorID string) error {
	f.record("AddSponsor")
	if f.AddSponsorFn == nil {
		return ErrNotImplemented
	}
	return f.AddSponsorFn(ctx, userID, sponsorID)
}

func (f *Fake) RemoveSponsor(ctx context.Context, userID, sponsorID string) error {
	f.record("RemoveSponsor")
	if f.RemoveSponsorFn == nil {
		return ErrNotImplemented
	}
	return f.RemoveSponsorFn(ctx, userID, sponsorID)
}

func (f *Fake) UserChanges(ctx context.Context, deltaLink string) ([]graph.UserChange, string, error) {
	f.record("UserChanges")
	if f.UserChangesFn == nil {
		return nil, "", ErrNotImplemented
	}
	return f.UserChangesFn(ctx, deltaLink)
}
