// Package signin holds what the operator knows about reading each tenant's guests' sign-in
// activity: whether it can (the permission, the licence), and up to when its reads are
// complete. The invitation reconciler decides inactivity from it; the PartnerAccessPolicy
// reconciler reports it in the policies that ask for inactivity.
package signin

import (
	"slices"
	"strings"
	"sync"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/event"

	b2bv1alpha1 "github.com/partnerops/partner-operator/api/v1alpha1"
)

// State is what one tenant's sign-in reads can say.
type State struct {
	// Tenant names the tenant ("default" for the flags' one).
	Tenant string
	// Reason is SignInActivity's: Read, NoPremiumLicense, PermissionDenied or NotRead.
	Reason  string
	Message string
	// ReadAt is when the last complete read started; zero before the first.
	ReadAt time.Time
}

// Activity is one tenant's state, written by its watcher and read by reconciles. A nil
// Activity is a tenant whose sign-ins are not read at all.
type Activity struct {
	mu     sync.Mutex
	state  State
	notify func()
}

// State is a copy of the current state.
func (a *Activity) State() State {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.state
}

// ReadSince reports whether a complete read that started at or after t has finished: only
// such a read can confirm that a guest did not sign in before t.
func (a *Activity) ReadSince(t time.Time) bool {
	if a == nil {
		return false
	}
	s := a.State()
	return s.Reason == b2bv1alpha1.ReasonSignInsRead && !s.ReadAt.Before(t)
}

// Enforced reports whether inactivity can be decided in this tenant: its sign-ins are read, or
// will be (a failed or first read; the decision waits for one). Without the permission or the
// licence, it cannot.
func (a *Activity) Enforced() bool {
	if a == nil {
		return false
	}
	switch a.State().Reason {
	case b2bv1alpha1.ReasonSignInsRead, b2bv1alpha1.ReasonSignInsNotRead:
		return true
	}
	return false
}

// Set records a read's outcome; readAt, when not zero, is the start of a complete read. It
// reports whether the reason or message changed.
func (a *Activity) Set(reason, message string, readAt time.Time) bool {
	a.mu.Lock()
	changed := a.state.Reason != reason || a.state.Message != message
	a.state.Reason, a.state.Message = reason, message
	if !readAt.IsZero() {
		a.state.ReadAt = readAt
	}
	a.mu.Unlock()
	if changed && a.notify != nil {
		a.notify()
	}
	return changed
}

// Registry holds every tenant's Activity, and tells its listeners when one changes.
type Registry struct {
	mu      sync.Mutex
	tenants map[string]*Activity
	events  chan event.GenericEvent
}

// NewRegistry makes an empty registry.
func NewRegistry() *Registry {
	return &Registry{tenants: map[string]*Activity{}, events: make(chan event.GenericEvent, 1)}
}

// Add starts a tenant's Activity, not read yet.
func (r *Registry) Add(tenant string) *Activity {
	a := &Activity{notify: r.changed, state: State{Tenant: tenant, Reason: b2bv1alpha1.ReasonSignInsNotRead,
		Message: "the first read of sign-in activity has not completed yet"}}
	r.mu.Lock()
	r.tenants[tenant] = a
	r.mu.Unlock()
	r.changed()
	return a
}

// Remove forgets a tenant's Activity, if it is still a.
func (r *Registry) Remove(tenant string, a *Activity) {
	r.mu.Lock()
	if r.tenants[tenant] == a {
		delete(r.tenants, tenant)
	}
	r.mu.Unlock()
	r.changed()
}

// States lists every tenant's state, by tenant name.
func (r *Registry) States() []State {
	if r == nil {
		return nil
	}
	r.mu.Lock()
	out := make([]State, 0, len(r.tenants))
	for _, a := range r.tenants {
		out = append(out, a.State())
	}
	r.mu.Unlock()
	slices.SortFunc(out, func(a, b State) int { return strings.Compare(a.Tenant, b.Tenant) })
	return out
}

// Events carries one event after any number of changes, for a controller's channel source;
// its object is an empty PartnerAccessPolicy, which the listener maps to the policies it cares
// about.
func (r *Registry) Events() <-chan event.GenericEvent { return r.events }

func (r *Registry) changed() {
	select {
	case r.events <- event.GenericEvent{Object: &b2bv1alpha1.PartnerAccessPolicy{}}:
	default: // one is already waiting
	}
}
