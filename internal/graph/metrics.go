package graph

import (
	"context"
	"github.com/partnerops/partner-operator/internal/metrics"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Operations are the operation label values of the Graph metrics, one per Directory method.
var Operations = []string{
	"find_users", "find_users_batch", "get_user", "invite", "update_user", "delete_user", "get_deleted_user", "restore_user", "get_group", "find_groups",
	"add_group_member", "remove_group_member", "get_service_principal", "find_service_principal",
	"assign_app_role", "remove_app_role_assignment", "list_sponsors", "add_sponsor", "remove_sponsor",
	"user_changes",
}

// alertedCodes are the status codes the shipped alerts take rates of. Their series exist from
// the start, at 0: a counter that first appears at 1 has no rate until it grows again, so a
// first burst of 401s or 429s would otherwise go unseen.
var alertedCodes = []string{"401", "429"}

// Metrics counts Graph calls by tenant, operation and outcome. Labels never name an object or
// user, so cardinality stays bounded (tenants are the cluster owner's objects).
type Metrics struct {
	requests  *prometheus.CounterVec
	duration  prometheus.ObserverVec
	pacerWait prometheus.ObserverVec
	// all holds the registered collectors, tenant label and all; the fields above are one
	// tenant's.
	all *Metrics
}

// DefaultTenantLabel is the tenant label of the default tenant's (the flags') calls.
const DefaultTenantLabel = "default"

// Pacer wait classes: which of the budget's quotas a call waits for (each also waits out a
// pause after a 429).
const (
	PaceClassInvitation = "invitation"
	PaceClassWrite      = "write"
	PaceClassRead       = "read"
)

// NewMetrics creates the collectors and registers them with reg, and returns the default
// tenant's view of them (ForTenant gives the others'). When reg already holds them (a second
// manager in the same process), it returns the registered ones: counting into the new,
// unregistered collectors would export nothing.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	requests, err := metrics.Register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "partner_operator_graph_requests_total",
		Help: "Microsoft Graph calls by operation and HTTP status code (0 when no answer came back).",
	}, []string{"tenant", "operation", "code"}))
	if err != nil {
		return nil, err
	}
	duration, err := metrics.Register(reg, prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "partner_operator_graph_request_duration_seconds",
		Help:    "Latency of Microsoft Graph calls, retries included.",
		Buckets: prometheus.ExponentialBuckets(0.025, 2, 10),
	}, []string{"tenant", "operation"}))
	if err != nil {
		return nil, err
	}
	pacerWait, err := metrics.Register(reg, prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "partner_operator_graph_pacer_wait_seconds",
		Help: "Time a Microsoft Graph call waited for the request budget (and for a pause after a 429) before it was sent, by class: invitation, write or read.",
		// From "no wait" to a long 429 pause.
		Buckets: []float64{0.001, 0.005, 0.025, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120},
	}, []string{"tenant", "class"}))
	if err != nil {
		return nil, err
	}
	all := &Metrics{requests: requests, duration: duration, pacerWait: pacerWait}
	all.all = all
	return all.ForTenant(DefaultTenantLabel), nil
}

// ForTenant is m with every series labelled with the tenant (DefaultTenantLabel, or a tenant
// object's kind and name): each tenant's Graph stack counts into its own series.
func (m *Metrics) ForTenant(tenant string) *Metrics {
	if m == nil {
		return nil
	}
	t := prometheus.Labels{"tenant": tenant}
	all := m.all
	out := &Metrics{requests: all.requests.MustCurryWith(t), duration: all.duration.MustCurryWith(t), pacerWait: all.pacerWait.MustCurryWith(t), all: all}
	for _, op := range Operations {
		for _, code := range alertedCodes {
			out.requests.WithLabelValues(op, code)
		}
	}
	return out
}

func (m *Metrics) observePacerWait(class string, d time.Duration) {
	if m != nil {
		m.pacerWait.WithLabelValues(class).Observe(d.Seconds())
	}
}

// Instrument wraps a Directory so every call is counted and timed.
func Instrument(d Directory, m *Metrics) Directory {
	return &instrumented{next: d, m: m}
}

type instrumented struct {
	next Directory
	m    *Metrics
}

func (i *instrumented) observe(op string, start time.Time, err error, success int) {
	code := success
	if err != nil {
		code = StatusCode(err)
	}
	i.m.requests.WithLabelValues(op, strconv.Itoa(code)).Inc()
	i.m.duration.WithLabelValues(op).Observe(time.Since(start).Seconds())
}

func (i *instrumented) FindUsersByEmail(ctx context.Context, email string) (_ []User, err error) {
	defer func(start time.Time) { i.observe("find_users", start, err, 200) }(time.Now())
	return i.next.FindUsersByEmail(ctx, email)
}

func (i *instrumented) FindUsersByEmails(ctx context.Context, emails []string) (_ []User, err error) {
	defer func(start time.Time) { i.observe("find_users_batch", start, err, 200) }(time.Now())
	return i.next.FindUsersByEmails(ctx, emails)
}

func (i *instrumented) GetUser(ctx context.Context, id string) (_ *User, err error) {
	defer func(start time.Time) { i.observe("get_user", start, err, 200) }(time.Now())
	return i.next.GetUser(ctx, id)
}

func (i *instrumented) Invite(ctx context.Context, req InvitationRequest) (_ *Invitation, err error) {
	defer func(start time.Time) { i.observe("invite", start, err, 201) }(time.Now())
	return i.next.Invite(ctx, req)
}

func (i *instrumented) UpdateUser(ctx context.Context, id string, u UserUpdate) (err error) {
	defer func(start time.Time) { i.observe("update_user", start, err, 204) }(time.Now())
	return i.next.UpdateUser(ctx, id, u)
}

func (i *instrumented) DeleteUser(ctx context.Context, id string) (err error) {
	defer func(start time.Time) { i.observe("delete_user", start, err, 204) }(time.Now())
	return i.next.DeleteUser(ctx, id)
}

func (i *instrumented) GetDeletedUser(ctx context.Context, id string) (_ *User, err error) {
	defer func(start time.Time) { i.observe("get_deleted_user", start, err, 200) }(time.Now())
	return i.next.GetDeletedUser(ctx, id)
}

func (i *instrumented) RestoreDeletedUser(ctx context.Context, id string) (err error) {
	defer func(start time.Time) { i.observe("restore_user", start, err, 200) }(time.Now())
	return i.next.RestoreDeletedUser(ctx, id)
}

func (i *instrumented) GetGroup(ctx context.Context, id string) (_ *Group, err error) {
	defer func(start time.Time) { i.observe("get_group", start, err, 200) }(time.Now())
	return i.next.GetGroup(ctx, id)
}

func (i *instrumented) FindGroupsByName(ctx context.Context, name string) (_ []Group, err error) {
	defer func(start time.Time) { i.observe("find_groups", start, err, 200) }(time.Now())
	return i.next.FindGroupsByName(ctx, name)
}

func (i *instrumented) AddGroupMember(ctx context.Context, groupID, userID string) (err error) {
	defer func(start time.Time) { i.observe("add_group_member", start, err, 204) }(time.Now())
	return i.next.AddGroupMember(ctx, groupID, userID)
}

func (i *instrumented) RemoveGroupMember(ctx context.Context, groupID, userID string) (err error) {
	defer func(start time.Time) { i.observe("remove_group_member", start, err, 204) }(time.Now())
	return i.next.RemoveGroupMember(ctx, groupID, userID)
}

func (i *instrumented) GetServicePrincipal(ctx context.Context, id string) (_ *ServicePrincipal, err error) {
	defer func(start time.Time) { i.observe("get_service_principal", start, err, 200) }(time.Now())
	return i.next.GetServicePrincipal(ctx, id)
}

func (i *instrumented) FindServicePrincipalByAppID(ctx context.Context, appID string) (_ *ServicePrincipal, err error) {
	defer func(start time.Time) { i.observe("find_service_principal", start, err, 200) }(time.Now())
	return i.next.FindServicePrincipalByAppID(ctx, appID)
}

func (i *instrumented) AssignAppRole(ctx context.Context, a AppRoleAssignment) (_ string, err error) {
	defer func(start time.Time) { i.observe("assign_app_role", start, err, 201) }(time.Now())
	return i.next.AssignAppRole(ctx, a)
}

func (i *instrumented) RemoveAppRoleAssignment(ctx context.Context, spID, assignmentID string) (err error) {
	defer func(start time.Time) { i.observe("remove_app_role_assignment", start, err, 204) }(time.Now())
	return i.next.RemoveAppRoleAssignment(ctx, spID, assignmentID)
}

func (i *instrumented) ListSponsors(ctx context.Context, userID string) (_ []DirectoryObject, err error) {
	defer func(start time.Time) { i.observe("list_sponsors", start, err, 200) }(time.Now())
	return i.next.ListSponsors(ctx, userID)
}

func (i *instrumented) AddSponsor(ctx context.Context, userID, sponsorID string) (err error) {
	defer func(start time.Time) { i.observe("add_sponsor", start, err, 204) }(time.Now())
	return i.next.AddSponsor(ctx, userID, sponsorID)
}

func (i *instrumented) RemoveSponsor(ctx context.Context, userID, sponsorID string) (err error) {
	defer func(start time.Time) { i.observe("remove_sponsor", start, err, 204) }(time.Now())
	return i.next.RemoveSponsor(ctx, userID, sponsorID)
}

func (i *instrumented) UserChanges(ctx context.Context, deltaLink string) (_ []UserChange, _ string, err error) {
	defer func(start time.Time) { i.observe("user_changes", start, err, 200) }(time.Now())
	return i.next.UserChanges(ctx, deltaLink)
}
