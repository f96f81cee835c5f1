package graph

import (
	"context"
	"sync"
	"time"
)

// Budget is the share of Graph's published quotas (graph.md, "Throttling") the operator may
// use. All workers draw from one Budget, and a request goes out only when Graph cannot count
// it over a quota (see window), so a clean run gets no 429 at all.
type Budget struct {
	// Invitations: the invitation manager allows 150 requests per 5 s per tenant.
	Invitations Quota
	// Writes: identity writes are capped at 3,000 per 2 min 30 s per app and tenant.
	Writes Quota
	// ResourceUnits: 3,500 / 5,000 / 8,000 resource units per 10 s for small / medium /
	// large tenants.
	ResourceUnits Quota
}

// Tenant sizes as Graph's identity-and-access throttling defines them.
const (
	TenantSmall  = "small"
	TenantMedium = "medium"
	TenantLarge  = "large"
)

// BudgetHeadroom is the share of each quota the budget leaves unused. Admission already keeps
// the operator's own requests within the quota exactly; the headroom is for what it cannot
// see: the SDK's inline retries of a 503 or 504, which Graph counts again.
const BudgetHeadroom = 0.01

// BudgetFor returns the budget for a tenant size: each quota less BudgetHeadroom.
func BudgetFor(size string) Budget {
	ru := 3500
	switch size {
	case TenantMedium:
		ru = 5000
	case TenantLarge:
		ru = 8000
	}
	spare := func(limit int, window time.Duration) Quota {
		return Quota{Limit: int(float64(limit) * (1 - BudgetHeadroom)), Window: window}
	}
	return Budget{
		Invitations:   spare(150, 5*time.Second),
		Writes:        spare(3000, 150*time.Second),
		ResourceUnits: spare(ru, 10*time.Second),
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
		invitations: newWindow(b.Invitations),
		writes:      newWindow(b.Writes),
		units:       newWindow(b.ResourceUnits),
	}
}

type paced struct {
	next                       Directory
	invitations, writes, units *window
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

// requestClass is which quotas a request counts against.
type requestClass int

const (
	classRead   requestClass = iota // resource units
	classWrite                      // resource units and writes
	classInvite                     // the invitation manager only
)

func (c requestClass) String() string {
	switch c {
	case classInvite:
		return PaceClassInvitation
	case classWrite:
		return PaceClassWrite
	}
	return PaceClassRead
}

// admit waits until the request fits the budget and returns done, which the caller calls with
// the request's outcome once Graph has answered.
func (p *paced) admit(ctx context.Context, units int, class requestClass) (done func(error) error, err error) {
	start := time.Now()
	if err := p.waitPause(ctx); err != nil {
		return nil, err
	}
	var held []*window
	var costs []int
	hold := func(w *window, cost int) error {
		if err := w.acquire(ctx, cost); err != nil {
			for i, h := range held {
				h.abandon(costs[i])
			}
			return err
		}
		held, costs = append(held, w), append(costs, cost)
		return nil
	}
	switch class {
	case classInvite:
		err = hold(p.invitations, 1)
	case classWrite:
		// The scarcer quota first, so a write waiting for it holds no resource units.
		if err = hold(p.writes, 1); err == nil {
			err = hold(p.units, units)
		}
	default:
		err = hold(p.units, units)
	}
	if err != nil {
		return nil, err
	}
	p.metrics.observePacerWait(class.String(), time.Since(start))
	return func(err error) error {
		for i, h := range held {
			h.release(costs[i])
		}
		return p.observe(err)
	}, nil
}

// waitPause holds a request back while Graph's last Retry-After runs.
func (p *paced) waitPause(ctx context.Context) error {
	p.mu.Lock()
	until := p.pausedUntil
	p.mu.Unlock()
	d := time.Until(until)
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
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
	done, err := p.admit(ctx, costList, classRead)
	if err != nil {
		return nil, err
	}
	u, err := p.next.FindUsersByEmail(ctx, email)
	return u, done(err)
}

// FindUsersByEmails costs what one lookup costs: one list request, whatever it asks for.
func (p *paced) FindUsersByEmails(ctx context.Context, emails []string) ([]User, error) {
	done, err := p.admit(ctx, costList, classRead)
	if err != nil {
		return nil, err
	}
	u, err := p.next.FindUsersByEmails(ctx, emails)
	return u, done(err)
}

func (p *paced) GetUser(ctx context.Context, id string) (*User, error) {
	done, err := p.admit(ctx, costRead, classRead)
	if err != nil {
		return nil, err
	}
	u, err := p.next.GetUser(ctx, id)
	return u, done(err)
}

// Invite draws on the invitation manager's budget only: it is a separate service whose quota
// identity-and-access units and writes do not include.
func (p *paced) Invite(ctx context.Context, req InvitationRequest) (*Invitation, error) {
	done, err := p.admit(ctx, 0, classInvite)
	if err != nil {
		return nil, err
	}
	inv, err := p.next.Invite(ctx, req)
	return inv, done(err)
}

func (p *paced) UpdateUser(ctx context.Context, id string, u UserUpdate) error {
	done, err := p.admit(ctx, costWrite, classWrite)
	if err != nil {
		return err
	}
	return done(p.next.UpdateUser(ctx, id, u))
}

func (p *paced) DeleteUser(ctx context.Context, id string) error {
	done, err := p.admit(ctx, costWrite, classWrite)
	if err != nil {
		return err
	}
	return done(p.next.DeleteUser(ctx, id))
}

func (p *paced) GetDeletedUser(ctx context.Context, id string) (*User, error) {
	done, err := p.admit(ctx, costRead, classRead)
	if err != nil {
		return nil, err
	}
	u, err := p.next.GetDeletedUser(ctx, id)
	return u, done(err)
}

func (p *paced) RestoreDeletedUser(ctx context.Context, id string) error {
	done, err := p.admit(ctx, costWrite, classWrite)
	if err != nil {
		return err
	}
	return done(p.next.RestoreDeletedUser(ctx, id))
}

func (p *paced) GetGroup(ctx context.Context, id string) (*Group, error) {
	done, err := p.admit(ctx, costRead, classRead)
	if err != nil {
		return nil, err
	}
	g, err := p.next.GetGroup(ctx, id)
	return g, done(err)
}

func (p *paced) FindGroupsByName(ctx context.Context, name string) ([]Group, error) {
	done, err := p.admit(ctx, costList, classRead)
	if err != nil {
		return nil, err
	}
	g, err := p.next.FindGroupsByName(ctx, name)
	return g, done(err)
}

func (p *paced) AddGroupMember(ctx context.Context, groupID, userID string) error {
	done, err := p.admit(ctx, costWrite, classWrite)
	if err != nil {
		return err
	}
	return done(p.next.AddGroupMember(ctx, groupID, userID))
}

func (p *paced) RemoveGroupMember(ctx context.Context, groupID, userID string) error {
	done, err := p.admit(ctx, costWrite, classWrite)
	if err != nil {
		return err
	}
	return done(p.next.RemoveGroupMember(ctx, groupID, userID))
}

func (p *paced) GetServicePrincipal(ctx context.Context, id string) (*ServicePrincipal, error) {
	done, err := p.admit(ctx, costRead, classRead)
	if err != nil {
		return nil, err
	}
	sp, err := p.next.GetServicePrincipal(ctx, id)
	return sp, done(err)
}

func (p *paced) FindServicePrincipalByAppID(ctx context.Context, appID string) (*ServicePrincipal, error) {
	done, err := p.admit(ctx, costList, classRead)
	if err != nil {
		return nil, err
	}
	sp, err := p.next.FindServicePrincipalByAppID(ctx, appID)
	return sp, done(err)
}

func (p *paced) AssignAppRole(ctx context.Context, a AppRoleAssignment) (string, error) {
	done, err := p.admit(ctx, costWrite, classWrite)
	if err != nil {
		return "", err
	}
	id, err := p.next.AssignAppRole(ctx, a)
	return id, done(err)
}

func (p *paced) RemoveAppRoleAssignment(ctx context.Context, spID, assignmentID string) error {
	done, err := p.admit(ctx, costWrite, classWrite)
	if err != nil {
		return err
	}
	return done(p.next.RemoveAppRoleAssignment(ctx, spID, assignmentID))
}

func (p *paced) ListSponsors(ctx context.Context, userID string) ([]DirectoryObject, error) {
	done, err := p.admit(ctx, costList, classRead)
	if err != nil {
		return nil, err
	}
	s, err := p.next.ListSponsors(ctx, userID)
	return s, done(err)
}

func (p *paced) AddSponsor(ctx context.Context, userID, sponsorID string) error {
	done, err := p.admit(ctx, costWrite, classWrite)
	if err != nil {
		return err
	}
	return done(p.next.AddSponsor(ctx, userID, sponsorID))
}

func (p *paced) RemoveSponsor(ctx context.Context, userID, sponsorID string) error {
	done, err := p.admit(ctx, costWrite, classWrite)
	if err != nil {
		return err
	}
	return done(p.next.RemoveSponsor(ctx, userID, sponsorID))
}

// UserChanges is charged per call; its pages are paced by Graph's own answers (a 429 on a
// page surfaces as an error and pauses everyone).
func (p *paced) UserChanges(ctx context.Context, deltaLink string) ([]UserChange, string, error) {
	done, err := p.admit(ctx, costList, classRead)
	if err != nil {
		return nil, "", err
	}
	c, link, err := p.next.UserChanges(ctx, deltaLink)
	return c, link, done(err)
}
