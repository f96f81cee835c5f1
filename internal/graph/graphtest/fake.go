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
	GetUserFn          func(ctx context.Context, id string) (*graph.User, error)
	InviteFn           func(ctx context.Context, req graph.InvitationRequest) (*graph.Invitation, error)
	UpdateUserFn       func(ctx context.Context, id string, u graph.UserUpdate) error
	DeleteUserFn       func(ctx context.Context, id string) error

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
