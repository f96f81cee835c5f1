package partnerinvitation

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/go-logr/logr"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	b2bv1alpha1 "github.com/partnerops/partner-operator/api/v1alpha1"
	"github.com/partnerops/partner-operator/internal/graph"
	"github.com/partnerops/partner-operator/internal/signin"
	"github.com/partnerops/partner-operator/internal/tenant"
)

// TenantIndex maps a tenant reference (tenant.Ref.Key) to the PartnerInvitations naming it.
const TenantIndex = "spec.tenantRef.key"

func indexTenant(o client.Object) []string {
	pinv, ok := o.(*b2bv1alpha1.PartnerInvitation)
	if !ok {
		return nil
	}
	if key := tenant.RefOf(pinv).Key(); key != "" {
		return []string{key}
	}
	return nil
}

// Tenant is one Entra ID tenant as the reconciler works with it: its Graph stack (client,
// pacer, lookup batcher) and the background work bound to it (users-delta watcher, ownership
// recorder), none of it shared with another tenant.
type Tenant struct {
	Ref tenant.Ref
	// ID is the directory (tenant) ID, lower-cased; "" for the default tenant when the flags
	// do not say it (a managed identity without AZURE_TENANT_ID).
	ID        string
	Directory graph.Directory
	// Partners is the tenant's cross-tenant access settings (PartnerOrganizations); nil where
	// the client offers none.
	Partners graph.CrossTenantAccess
	// Records writes ownership records in the background; nil writes none.
	Records *OwnershipRecorder
	// Schema opens once the tenant's ownership record properties are registered; nil: open.
	Schema *Gate
	// SignInReader reads the tenant's guests' sign-in activity; nil: not read.
	SignInReader graph.SignInReader
	// SignIns is its sign-in watcher's state; nil when no watcher reads them (inactivity is
	// then not enforced in this tenant).
	SignIns *signin.Activity
}

// Dialed is a tenant's Graph client as TenantConnections.Dial builds it.
type Dialed struct {
	// Directory is the tenant's, paced for its size and batched.
	Directory graph.Directory
	Verifier  graph.TenantVerifier
	// Partners is the tenant's cross-tenant access settings; nil: none.
	Partners graph.CrossTenantAccess
	// Schema registers the ownership record's properties in the tenant; nil: none.
	Schema OwnershipSchema
	// SignIns reads the guests' sign-in activity, paced with Directory; nil: none.
	SignIns graph.SignInReader
}

// TenantConnections holds one Graph connection per tenant object, built from the credentials
// the tenant reconciler read and replaced when they change. Invitations only look
// connections up: they never read a tenant's Secret or sign in themselves.
type TenantConnections struct {
	// Dial builds a tenant's Graph client.
	Dial func(ctx context.Context, ref tenant.Ref, creds *tenant.Credentials, size b2bv1alpha1.TenantSize) (*Dialed, error)
	// Log is for the background work's loggers.
	Log logr.Logger

	mu    sync.Mutex
	conns map[tenant.Ref]*connection
	// leaderCtx is set once this replica leads (Start); background work runs under it.
	leaderCtx context.Context
	// prepare readies a new tenant's background work (watcher, recorder) and returns what
	// starts it; set by the invitation reconciler. It runs before the tenant is published, so
	// reconciles never see it half made.
	prepare func(t *Tenant, schema OwnershipSchema) func(ctx context.Context)
}

type connection struct {
	tenant      *Tenant
	verifier    graph.TenantVerifier
	start       func(ctx context.Context)
	fingerprint string
	generation  int64
	cancel      context.CancelFunc
}

// NeedLeaderElection: tenants' background work, as all Graph work, runs on the leader only.
func (c *TenantConnections) NeedLeaderElection() bool { return true }

// Start runs the tenants' background work until ctx ends.
func (c *TenantConnections) Start(ctx context.Context) error {
	c.mu.Lock()
	c.leaderCtx = ctx
	for _, conn := range c.conns {
		c.startLocked(conn)
	}
	c.mu.Unlock()
	<-ctx.Done()
	return nil
}

func (c *TenantConnections) startLocked(conn *connection) {
	if c.leaderCtx == nil || conn.start == nil || conn.cancel != nil {
		return
	}
	ctx, cancel := context.WithCancel(c.leaderCtx)
	conn.cancel = cancel
	conn.start(ctx)
}

// Connect makes the tenant object's connection for these credentials, dialling a new one (and
// stopping the old one's background work) when they changed, and returns what signs in to it.
// ownership says whether the tenant's application holds ownership records.
func (c *TenantConnections) Connect(ctx context.Context, obj b2bv1alpha1.TenantObject, creds *tenant.Credentials, ownership bool) (graph.TenantVerifier, error) {
	conn, err := c.connect(ctx, obj, creds, ownership)
	if err != nil {
		return nil, err
	}
	return conn.verifier, nil
}

func (c *TenantConnections) connect(ctx context.Context, obj b2bv1alpha1.TenantObject, creds *tenant.Credentials, ownership bool) (*connection, error) {
	ref := tenant.RefTo(obj)
	c.mu.Lock()
	defer c.mu.Unlock()
	if conn := c.conns[ref]; conn != nil && conn.fingerprint == creds.Fingerprint {
		conn.generation = obj.GetGeneration()
		return conn, nil
	}
	d, err := c.Dial(ctx, ref, creds, obj.TenantSpec().Size)
	if err != nil {
		return nil, err
	}
	t := &Tenant{Ref: ref, ID: strings.ToLower(obj.TenantSpec().TenantID), Directory: d.Directory, Partners: d.Partners, SignInReader: d.SignIns}
	conn := &connection{tenant: t, verifier: d.Verifier, fingerprint: creds.Fingerprint, generation: obj.GetGeneration()}
	var schema OwnershipSchema
	if ownership && d.Schema != nil {
		t.Schema, schema = NewGate(), d.Schema
	}
	if c.prepare != nil {
		conn.start = c.prepare(t, schema)
	}
	c.forgetLocked(ref)
	if c.conns == nil {
		c.conns = map[tenant.Ref]*connection{}
	}
	c.conns[ref] = conn
	c.startLocked(conn)
	return conn, nil
}

// Forget drops a tenant object's connection and stops its background work.
func (c *TenantConnections) Forget(ref tenant.Ref) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.forgetLocked(ref)
}

func (c *TenantConnections) forgetLocked(ref tenant.Ref) {
	if old := c.conns[ref]; old != nil {
		if old.cancel != nil {
			old.cancel()
		}
		delete(c.conns, ref)
	}
}

// lookup returns the connection made for the tenant object at this generation.
func (c *TenantConnections) lookup(ref tenant.Ref, generation int64) (*Tenant, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	conn := c.conns[ref]
	if conn == nil || conn.generation != generation {
		return nil, false
	}
	return conn.tenant, true
}

// defaultTenant is the tenant of the operator's flags.
func (r *Reconciler) defaultTenant() *Tenant {
	return &Tenant{ID: strings.ToLower(r.opts().DefaultTenantID), Directory: r.Directory, Partners: r.Partners, Records: r.Records, Schema: r.OwnershipSchema,
		SignInReader: r.SignInReader, SignIns: r.defaultSignIns}
}

// resolveTenant finds the connected tenant the invitation names. A tenant object that is
// missing, not Ready for its current generation, or not connected yet blocks the invitation
// (Stalled, naming the tenant) before any Graph call.
func (r *Reconciler) resolveTenant(ctx context.Context, pinv *b2bv1alpha1.PartnerInvitation) (*Tenant, error) {
	return r.resolveRef(ctx, tenant.RefOf(pinv), "spec.tenantRef")
}

// ResolveTenant is the tenant lookup for other kinds' reconcilers (a PartnerOrganization's
// tenantRef): the connected tenant ref names, or a *tenant.Problem saying why it cannot be used
// (Stalled, when only a change to the tenant object or the operator's flags will help).
func (r *Reconciler) ResolveTenant(ctx context.Context, ref tenant.Ref, field string) (*Tenant, error) {
	t, err := r.resolveRef(ctx, ref, field)
	var blocked *blockedError
	if errors.As(err, &blocked) {
		return nil, &tenant.Problem{Reason: blocked.reason, Message: blocked.message, Stalled: blocked.stalled}
	}
	return t, err
}

func (r *Reconciler) resolveRef(ctx context.Context, ref tenant.Ref, field string) (*Tenant, error) {
	if ref.IsDefault() {
		if r.Directory == nil {
			return nil, &blockedError{reason: b2bv1alpha1.ReasonTenantNotFound, stalled: true, backoff: true,
				message: field + " is required: this operator has no default tenant (--no-default-tenant)"}
		}
		return r.defaultTenant(), nil
	}
	obj, err := tenant.Get(ctx, r.Client, ref)
	if apierrors.IsNotFound(err) {
		return nil, &blockedError{reason: b2bv1alpha1.ReasonTenantNotFound, stalled: true, backoff: true,
			message: fmt.Sprintf("%s: %s does not exist", field, ref)}
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", ref, err)
	}
	ready := meta.FindStatusCondition(obj.TenantStatus().Conditions, b2bv1alpha1.ConditionReady)
	switch {
	case ready == nil || ready.ObservedGeneration != obj.GetGeneration():
		return nil, &blockedError{reason: b2bv1alpha1.ReasonTenantNotReady, backoff: true,
			message: fmt.Sprintf("%s: waiting for %s to be verified", field, ref)}
	case ready.Status != metav1.ConditionTrue:
		return nil, &blockedError{reason: b2bv1alpha1.ReasonTenantNotReady, stalled: true, backoff: true,
			message: fmt.Sprintf("%s: %s is not Ready (%s): %s", field, ref, ready.Reason, ready.Message)}
	}
	if r.Tenants == nil {
		return nil, &blockedError{reason: b2bv1alpha1.ReasonTenantNotReady, stalled: true, backoff: true,
			message: fmt.Sprintf("%s: this operator serves only the default tenant, not %s", field, ref)}
	}
	t, ok := r.Tenants.lookup(ref, obj.GetGeneration())
	if !ok {
		return nil, &blockedError{reason: b2bv1alpha1.ReasonTenantNotReady, backoff: true,
			message: fmt.Sprintf("%s: waiting for the operator to connect to %s", field, ref)}
	}
	return t, nil
}

// bindTenant returns a reconciler bound to the invitation's tenant: every Graph call, claim
// and record of this reconcile is that tenant's. A guest recorded in another tenant stops the
// reconcile: moving spec.tenantRef may only name the same directory.
func (r *Reconciler) bindTenant(ctx context.Context, pinv *b2bv1alpha1.PartnerInvitation) (*Reconciler, error) {
	t, err := r.resolveTenant(ctx, pinv)
	if err != nil {
		return nil, err
	}
	if recorded := recordedTenant(pinv, r.opts().DefaultTenantID); recorded != nil && !strings.EqualFold(*recorded, t.ID) {
		return nil, &blockedError{reason: b2bv1alpha1.ReasonTenantMismatch, stalled: true, message: fmt.Sprintf(
			"spec.tenantRef: the guest lives in tenant %s, and %s is tenant %s; point spec.tenantRef back, or delete this object and create a new one for the other tenant",
			orUnknown(*recorded), tenantName(t), orUnknown(t.ID))}
	}
	bound := *r
	bound.tenant = t
	bound.Directory, bound.Records, bound.OwnershipSchema = t.Directory, t.Records, t.Schema
	return &bound, nil
}

// awaitingSchema reports whether the invitation's tenant still registers the ownership
// record's properties: until then its objects wait quietly (their reads would select unknown
// properties), without a status write each. A tenant that cannot be resolved is not waited
// for: the reconcile reports why.
func (r *Reconciler) awaitingSchema(ctx context.Context, pinv *b2bv1alpha1.PartnerInvitation) bool {
	if !r.ownershipOn() {
		return false
	}
	t, err := r.resolveTenant(ctx, pinv)
	return err == nil && !t.Schema.IsOpen()
}

// recordedTenant is the tenant the invitation's guest lives in, as far as status says: nil
// when no guest is recorded. A guest recorded before tenants existed lives in the default one.
func recordedTenant(pinv *b2bv1alpha1.PartnerInvitation, defaultID string) *string {
	switch {
	case pinv.Status.TenantID != "":
		return &pinv.Status.TenantID
	case pinv.Status.UserID != "":
		return &defaultID
	}
	return nil
}

func orUnknown(id string) string {
	if id == "" {
		return "(unknown: the default tenant's ID is not configured)"
	}
	return id
}

func tenantName(t *Tenant) string { return t.Ref.String() }

// inTenant prefixes a Graph failure with the tenant object it happened in, so that a
// condition says which tenant's credentials or quota to look at.
func inTenant(t *Tenant, err error) error {
	var gerr *graph.Error
	if t == nil || t.Ref.IsDefault() || err == nil || !errors.As(err, &gerr) {
		return err
	}
	return fmt.Errorf("%s: %w", t.Ref, err)
}
