package graph

import (
	"context"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Budget is the share of Graph's published quotas (graph.md, "Throttling") the operator may
// use. All workers draw from one Budget, so the operator runs close to the limit without
// provoking 429 storms.
type Budget struct {
	// InvitationsPerSecond: the invitation manager allows 150 requests per 5 s per tenant.
	InvitationsPerSecond float64
	// WritesPerSecond: identity writes are capped at 3,000 per 2 min 30 s per app and tenant.
	WritesPerSecond float64
	// ResourceUnitsPerSecond: 3,500 / 5,000 / 8,000 resource units per 10 s for small /
	// medium / large tenants.
	ResourceUnitsPerSecond float64
	// Burst is how many requests may go out back to back.
	Burst int
}

// Tenant sizes as Graph's identity-and-access throttling defines them.
const (
	TenantSmall  = "small"
	TenantMedium = "medium"
	TenantLarge  = "large"
)

// BudgetFor returns a budget for a tenant size, keeping 3 % headroom below each quota so a
// sliding-window limiter on Graph's side never sees more than its figure.
func BudgetFor(size string) Budget {
	ru := 3500.0
	switch size {
	case TenantMedium:
		ru = 5000
	case TenantLarge:
		ru = 8000
	}
	const headroom = 0.97
	return Budget{
		InvitationsPerSecond:   150.0 / 5 * headroom,
		WritesPerSecond:        3000.0 / 150 * headroom,
		ResourceUnitsPerSecond: ru / 10 * headroom,
		Burst:                  4,
	}
}

// Pace wraps a Directory so every call waits for its share of the budget, and a 429 pauses all
// callers until Graph's Retry-After has passed (one throttled answer stops the whole herd).
// m, when not nil, times each call's wait (partner_operator_graph_pacer_wait_seconds).
func Pace(d Directory, b Budget, m *Metrics) Directory {
	p := newPaced(b)
	p.next, p.metrics = d, m
	return p
}

func newPaced(b Budget) *paced {
	return &paced{
		invitations: rate.NewLimiter(rate.Limit(b.InvitationsPerSecond), max(b.Burst, 1)),
		writes:      rate.NewLimiter(rate.Limit(b.WritesPerSecond), max(b.Burst, 1)),
		units:       rate.NewLimiter(rate.Limit(b.ResourceUnitsPerSecond), max(b.Burst, 2)),
	}
}

type paced struct {
	next                       Directory
	invitations, writes, units *rate.Limiter
	metrics                    *Metrics

	mu          sync.Mutex
	pausedUntil time.Time
}

// cost of a request in resource units, per graph.md: a GET of one object 1, a list 2, minus 1
// with $select (the operator always selects), minimum 1; writes 1.
const (
	costRead  = 1
	costList  = 1
	costWrite = 1
)

func (p *paced) wait(ctx context.Context, units int, write, invite bool) error {
	start := time.Now()
	if err := p.waitBudget(ctx, units, write, invite); err != nil {
		return err
	}
	class := PaceClassRead
	switch {
	case invite:
		class = PaceClassInvitation
	case write:
		class = PaceClassWrite
	}
	p.metrics.observePacerWait(class, time.Since(start))
	return nil
}

func (p *paced) waitBudget(ctx context.Context, units int, write, invite bool) error {
	p.mu.Lock()
	until := p.pausedUntil
	p.mu.Unlock()
	if d := time.Until(until); d > 0 {
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
	if invite {
		if err := p.invitations.Wait(ctx); err != nil {
			return err
		}
	}
	if write {
		if err := p.writes.Wait(ctx); err != nil {
			return err
		}
	}
	return p.units.WaitN(ctx, units)
}

// observe pauses everyone when Graph throttled this call.
func (p *paced) observe(err error) error {
	if wait, ok := RetryAfter(err); ok {
		p.mu.Lock()
		if until := time.Now().Add(wait); until.After(p.pausedUntil) {
			p.pausedUntil = until
		}
		p.mu.Unlock()
	}
	return err
}

func (p *paced) FindUsersByEmail(ctx context.Context, email string) ([]User, error) {
	if err := p.wait(ctx, costList, false, false); err != nil {
		return nil, err
	}
	u, err := p.next.FindUsersByEmail(ctx, email)
	return u, p.observe(err)
}

func (p *paced) GetUser(ctx context.Context, id string) (*User, error) {
	if err := p.wait(ctx, costRead, false, false); err != nil {
		return nil, err
	}
	u, err := p.next.GetUser(ctx, id)
	return u, p.observe(err)
}

// Invite draws on the invitation manager's budget only: it is a separate service whose quota
// identity-and-access units and writes do not include.
func (p *paced) Invite(ctx context.Context, req InvitationRequest) (*Invitation, error) {
	if err := p.wait(ctx, 0, false, true); err != nil {
		return nil, err
	}
	inv, err := p.next.Invite(ctx, req)
	return inv, p.observe(err)
}

func (p *paced) UpdateUser(ctx context.Context, id string, u UserUpdate) error {
	if err := p.wait(ctx, costWrite, true, false); err != nil {
		return err
	}
	return p.observe(p.next.UpdateUser(ctx, id, u))
}

func (p *paced) DeleteUser(ctx context.Context, id string) error {
	if err := p.wait(ctx, costWrite, true, false); err != nil {
		return err
	}
	return p.observe(p.next.DeleteUser(ctx, id))
}

func (p *paced) GetGroup(ctx context.Context, id string) (*Group, error) {
	if err := p.wait(ctx, costRead, false, false); err != nil {
		return nil, err
	}
	g, err := p.next.GetGroup(ctx, id)
	return g, p.observe(err)
}

func (p *paced) FindGroupsByName(ctx context.Context, name string) ([]Group, error) {
	if err := p.wait(ctx, costList, false, false); err != nil {
		return nil, err
	}
	g, err := p.next.FindGroupsByName(ctx, name)
	return g, p.observe(err)
}

func (p *paced) AddGroupMember(ctx context.Context, groupID, userID string) error {
	if err := p.wait(ctx, costWrite, true, false); err != nil {
		return err
	}
	return p.observe(p.next.AddGroupMember(ctx, groupID, userID))
}

func (p *paced) RemoveGroupMember(ctx context.Context, groupID, userID string) error {
	if err := p.wait(ctx, costWrite, true, false); err != nil {
		return err
	}
	return p.observe(p.next.RemoveGroupMember(ctx, groupID, userID))
}

func (p *paced) GetServicePrincipal(ctx context.Context, id string) (*ServicePrincipal, error) {
	if err := p.wait(ctx, costRead, false, false); err != nil {
		return nil, err
	}
	sp, err := p.next.GetServicePrincipal(ctx, id)
	return sp, p.observe(err)
}

func (p *paced) FindServicePrincipalByAppID(ctx context.Context, appID string) (*ServicePrincipal, error) {
	if err := p.wait(ctx, costList, false, false); err != nil {
		return nil, err
	}
	sp, err := p.next.FindServicePrincipalByAppID(ctx, appID)
	return sp, p.observe(err)
}

func (p *paced) AssignAppRole(ctx context.Context, a AppRoleAssignment) (string, error) {
	if err := p.wait(ctx, costWrite, true, false); err != nil {
		return "", err
	}
	id, err := p.next.AssignAppRole(ctx, a)
	return id, p.observe(err)
}

func (p *paced) RemoveAppRoleAssignment(ctx context.Context, spID, assignmentID string) error {
	if err := p.wait(ctx, costWrite, true, false); err != nil {
		return err
	}
	return p.observe(p.next.RemoveAppRoleAssignment(ctx, spID, assignmentID))
}

func (p *paced) ListSponsors(ctx context.Context, userID string) ([]DirectoryObject, error) {
	if err := p.wait(ctx, costList, false, false); err != nil {
		return nil, err
	}
	s, err := p.next.ListSponsors(ctx, userID)
	return s, p.observe(err)
}

func (p *paced) AddSponsor(ctx context.Context, userID, sponsorID string) error {
	if err := p.wait(ctx, costWrite, true, false); err != nil {
		return err
	}
	return p.observe(p.next.AddSponsor(ctx, userID, sponsorID))
}

func (p *paced) RemoveSponsor(ctx context.Context, userID, sponsorID string) error {
	if err := p.wait(ctx, costWrite, true, false); err != nil {
		return err
	}
	return p.observe(p.next.RemoveSponsor(ctx, userID, sponsorID))
}

// UserChanges is charged per call; its pages are paced by Graph's own answers (a 429 on a
// page surfaces as an error and pauses everyone).
func (p *paced) UserChanges(ctx context.Context, deltaLink string) ([]UserChange, string, error) {
	if err := p.wait(ctx, costList, false, false); err != nil {
		return nil, "", err
	}
	c, link, err := p.next.UserChanges(ctx, deltaLink)
	return c, link, p.observe(err)
}
