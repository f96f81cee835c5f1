// Package partnerinvitation reconciles PartnerInvitations: the invitation, its redemption, the
// access and sponsors it grants, expiry and deletion, each in its own file (create.go,
// access.go, expiry.go, delete.go, ...), read top to bottom from Reconcile in controller.go.
// tenants.go connects the tenant objects that spec.tenantRef names.
package partnerinvitation

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	toolscache "k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/events"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	crcache "sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"

	b2bv1alpha1 "github.com/partnerops/partner-operator/api/v1alpha1"
	"github.com/partnerops/partner-operator/internal/graph"
	"github.com/partnerops/partner-operator/internal/policy"
	"github.com/partnerops/partner-operator/internal/signin"
	"github.com/partnerops/partner-operator/internal/tenant"
)

// EmailIndex is the field index that maps a lower-cased invitee address to its objects.
const EmailIndex = "spec.email.lower"

// Options tunes the reconciler; zero values take the defaults below.
type Options struct {
	// PendingPollInterval is how often a guest that has not redeemed yet is read again.
	PendingPollInterval time.Duration
	// ResyncInterval is how often a settled guest is checked for drift or out-of-band deletion.
	ResyncInterval time.Duration
	// CreateGracePeriod is how long after an invitation a missing guest is taken for Graph's
	// eventual consistency rather than for a deletion (which would cause a second invitation).
	CreateGracePeriod time.Duration
	// MaxConcurrentReconciles bounds parallel Graph work; Graph throttles per tenant.
	MaxConcurrentReconciles int
	// PolicyPosture applies to namespaces no PartnerAccessPolicy selects.
	PolicyPosture policy.Posture
	// DeltaInterval is how often the tenant-wide users delta is read to learn of redemptions;
	// 0 turns the watcher off and leaves redemption to per-object polls.
	DeltaInterval time.Duration
	// FullRoundInterval restarts the users delta from scratch as a safety net.
	FullRoundInterval time.Duration
	// ClaimNamespace holds the Leases that give one object the claim on one address.
	ClaimNamespace string
	// ExpiryWarning is how long before access ends the object warns (event, metric, condition).
	ExpiryWarning time.Duration
	// SendMinInterval is the least time between two sends for one object, and
	// SendsPerNamespacePerDay the sends (resends and resets) a namespace may ask for in 24
	// hours, where no PartnerAccessPolicy sets them.
	SendMinInterval         time.Duration
	SendsPerNamespacePerDay int
	// OwnerID names this installation in the ownership records it writes to the directory
	// (--owner-id); empty, no records are read or written (unit tests with a fake Graph).
	OwnerID string
	// DeletionThreshold, DeletionThresholdPercent and DeletionWindow set the accidental-
	// deletion brake: more guest deletions within the window than the count, or than the share
	// of managed guests, are held until an admin approves (see deletion_brake.go).
	DeletionThreshold        int
	DeletionThresholdPercent int
	DeletionWindow           time.Duration
	// DefaultTenantID is the directory (tenant) ID of the default tenant (AZURE_TENANT_ID), when
	// known: a tenant object for the same ID then shares its address claims, so that moving an
	// invitation from the flags' tenant to a tenant object keeps its guest.
	DefaultTenantID string
	// SignInInterval is how often each tenant's guests' sign-in activity is read (for
	// inactivity); negative turns the reads off.
	SignInInterval time.Duration
	// LogPersonalData lets the operator log guests' mail addresses, at debug level (V(1))
	// only. Off, no log line of the operator's carries one; conditions and events never do.
	LogPersonalData bool
}

func (o Options) withDefaults() Options {
	// With the delta watcher, per-object reads are only a slow safety net: 10,000 guests
	// read once a week cost 60 requests an hour.
	poll, resync := 5*time.Minute, time.Hour
	if o.DeltaInterval > 0 {
		poll, resync = 7*24*time.Hour, 7*24*time.Hour
	}
	if o.PendingPollInterval <= 0 {
		o.PendingPollInterval = poll
	}
	if o.ResyncInterval <= 0 {
		o.ResyncInterval = resync
	}
	if o.FullRoundInterval <= 0 {
		o.FullRoundInterval = 24 * time.Hour
	}
	if o.CreateGracePeriod <= 0 {
		o.CreateGracePeriod = 5 * time.Minute
	}
	if o.MaxConcurrentReconciles <= 0 {
		o.MaxConcurrentReconciles = 4
	}
	if o.PolicyPosture == "" {
		o.PolicyPosture = policy.DenyUnselected
	}
	if o.ExpiryWarning <= 0 {
		o.ExpiryWarning = 7 * 24 * time.Hour
	}
	if o.SendMinInterval <= 0 {
		o.SendMinInterval = DefaultSendMinInterval
	}
	if o.SendsPerNamespacePerDay <= 0 {
		o.SendsPerNamespacePerDay = DefaultSendsPerNamespacePerDay
	}
	if o.ClaimNamespace == "" {
		o.ClaimNamespace = DefaultClaimNamespace
	}
	if o.DeletionThreshold == 0 {
		o.DeletionThreshold = DefaultDeletionThreshold
	}
	if o.DeletionThresholdPercent == 0 {
		o.DeletionThresholdPercent = DefaultDeletionThresholdPercent
	}
	if o.SignInInterval == 0 {
		o.SignInInterval = DefaultSignInInterval
	}
	if o.DeletionWindow <= 0 {
		o.DeletionWindow = DefaultDeletionWindow
	}
	return o
}

// Reconciler invites partners through Microsoft Graph and tracks redemption.
type Reconciler struct {
	client.Client
	// APIReader reads around the cache when an optimistic-lock write meets a conflict.
	APIReader client.Reader
	Directory graph.Directory
	// Partners is the default tenant's cross-tenant access settings, for PartnerOrganizations;
	// nil: none.
	Partners graph.CrossTenantAccess
	Recorder events.EventRecorder
	Clock    clock.PassiveClock
	Options  Options
	// Metrics counts resends and resets; nil counts nothing.
	Metrics *Metrics
	// Fence stops the writes of a replica that may have lost the leader lease; nil admits all.
	Fence Fence
	// Records writes ownership records in the background; nil writes none (SetupWithManager
	// creates one when Options.OwnerID is set).
	Records *OwnershipRecorder
	// OwnershipSchema opens once the ownership record's properties are registered; until then
	// objects wait (their reads would select unknown properties). Nil: open.
	OwnershipSchema *Gate
	// Tenants connects the GraphTenants and ClusterGraphTenants that spec.tenantRef names; nil
	// serves the default tenant only (Directory, Records, OwnershipSchema).
	Tenants *TenantConnections
	// SignInReader reads the default tenant's guests' sign-in activity; nil: not read.
	SignInReader graph.SignInReader
	// SignIns registers every tenant's sign-in reads, for inactivity and the policies'
	// SignInActivity condition; nil: no tenant's sign-ins are read.
	SignIns *signin.Registry

	// defaultSignIns is the default tenant's sign-in state.
	defaultSignIns *signin.Activity
	// tenant is the tenant a bound reconciler (bindTenant) works in.
	tenant *Tenant
}

// RBAC, least privilege: each rule names what needs it.
// The objects it reconciles; writes are patches (finalizer, bookkeeping annotations).
// +kubebuilder:rbac:groups=b2b.partnerops.io,resources=partnerinvitations,verbs=get;list;watch;patch
// Status is written once per reconcile with a patch.
// +kubebuilder:rbac:groups=b2b.partnerops.io,resources=partnerinvitations/status,verbs=patch
// The redemption-URL Secret is owned with blockOwnerDeletion, which needs update on finalizers.
// +kubebuilder:rbac:groups=b2b.partnerops.io,resources=partnerinvitations/finalizers,verbs=update
// Policies bound what namespaces may ask for; they are watched.
// +kubebuilder:rbac:groups=b2b.partnerops.io,resources=partneraccesspolicies,verbs=get;list;watch
// Policies select namespaces by label; label changes are watched.
// +kubebuilder:rbac:groups="",resources=namespaces,verbs=get;list;watch
// Only the Secrets it owns, by name: never listed or watched, so no other Secret is readable in bulk.
// +kubebuilder:rbac:groups="",resources=secrets,verbs=get;create;patch
// Events on transitions.
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch
// Address claims: one Lease per address in the operator's namespace, created if absent.
// +kubebuilder:rbac:groups=coordination.k8s.io,resources=leases,verbs=get;create;update;delete,namespace=system

// Reconcile moves one PartnerInvitation toward its spec: see "Behaviour you can rely on" in docs/api.md.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (result ctrl.Result, reterr error) {
	log := ctrl.LoggerFrom(ctx)

	pinv := &b2bv1alpha1.PartnerInvitation{}
	if err := r.Get(ctx, req.NamespacedName, pinv); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if ref := tenant.RefOf(pinv); !ref.IsDefault() {
		// Every line of this reconcile says which tenant it is about.
		log = log.WithValues("tenant", ref.Label())
		ctx = ctrl.LoggerInto(ctx, log)
	}
	if pinv.Annotations[b2bv1alpha1.AnnotationPaused] == "true" {
		log.V(1).Info("paused; skipping")
		return ctrl.Result{}, nil
	}
	if r.awaitingSchema(ctx, pinv) {
		log.V(1).Info("waiting for the ownership record's properties to be registered")
		return ctrl.Result{RequeueAfter: 2 * time.Second}, nil
	}
	// No guest may exist without the finalizer. It is written with the first record that needs
	// it (the invitation's pending mark, an adopted guest's ID, a claim at the end of the
	// reconcile); an object that already names a guest without it gets it before anything else.
	if pinv.DeletionTimestamp.IsZero() && managedUserID(pinv) != "" {
		if err := r.ensureFinalizer(ctx, pinv); err != nil {
			return quietOnConflict(err)
		}
	}

	before := pinv.DeepCopy()
	fenced := false
	defer func() {
		if fenced {
			return
		}
		err := r.patchStatus(ctx, before, pinv, reterr)
		switch {
		case isFenced(err):
			// The lease may have lapsed since the Graph calls: the leader now in charge reports.
			result, reterr = fencedResult, nil
		case err != nil && reterr == nil:
			// A conflict means this reconcile started from a stale copy. The newer copy's
			// update may pass no predicate (status and bookkeeping only), so look again soon
			// rather than at the next poll: the status computed here was not written.
			result, reterr = quietOnConflict(fmt.Errorf("%s: %w", errPatchStatus, err))
		}
	}()

	var f findings
	var res ctrl.Result
	var err error
	if pinv.DeletionTimestamp.IsZero() {
		res, err = r.reconcileNormal(ctx, pinv, &f)
	} else {
		f.deleting = true
		res, err = r.reconcileDelete(ctx, pinv)
	}
	if apierrors.IsConflict(err) {
		// A newer copy of the object is on its way; its reconcile reports.
		pinv.Status = *before.Status.DeepCopy()
		return quietOnConflict(err)
	}
	if isFenced(err) {
		// This replica may no longer lead: what it saw may be stale, so it reports nothing.
		fenced = true
		log.Info("not leading for sure; the reconcile ends without writing", "reason", err.Error())
		return fencedResult, nil
	}
	res, reported := r.report(pinv, &f, res, err)
	return res, logGraphFailure(log, err, reported, res)
}

// logGraphFailure gives a failed Graph call's request-id, which Microsoft support asks for, to
// the log: on the error controller-runtime logs ("Reconciler error"), or in a line of its own
// when the failure only requeues (throttling, a missing permission, a blocked object). The
// conditions leave it out, as it changes with every attempt.
func logGraphFailure(log logr.Logger, cause, reported error, res ctrl.Result) error {
	var gerr *graph.Error
	if cause == nil || !errors.As(cause, &gerr) {
		return reported
	}
	if reported != nil {
		if gerr.RequestID == "" {
			return reported
		}
		return fmt.Errorf("%w (graph request-id %s)", reported, gerr.RequestID)
	}
	log.Info("Microsoft Graph call failed; retrying later", "error", cause.Error(), "graphOperation", gerr.Op,
		"graphStatus", gerr.StatusCode, "graphCode", gerr.Code, "graphRequestID", gerr.RequestID, "retryAfter", res.RequeueAfter)
	return nil
}

// reconcileNormal follows Crossplane's managed-resource order: validate, check policy, claim,
// observe, create if absent, update what drifted, grant access, then poll. Each step returns
// what it found; report derives the conditions from it.
func (r *Reconciler) reconcileNormal(ctx context.Context, pinv *b2bv1alpha1.PartnerInvitation, f *findings) (_ ctrl.Result, err error) {
	if err := validateSpec(pinv); err != nil {
		return ctrl.Result{}, &blockedError{reason: b2bv1alpha1.ReasonInvalidSpec, message: err.Error(), stalled: true, terminal: true}
	}
	r.warnSpec(pinv)
	if err := r.observeOrganization(ctx, pinv); err != nil {
		return ctrl.Result{}, err
	}
	// Policy first: an object its namespace may not send never holds an address another
	// namespace may need, nor uses a tenant it may not.
	selecting, err := r.enforcePolicy(ctx, pinv, f)
	if err != nil {
		return ctrl.Result{}, err
	}
	if r, err = r.bindTenant(ctx, pinv); err != nil {
		return ctrl.Result{}, err
	}
	defer func() {
		err = inTenant(r.tenant, err)
		if pinv.Status.UserID != "" {
			pinv.Status.TenantID = r.tenant.ID
		}
	}()
	claim, err := r.claimAddress(ctx, pinv)
	if err != nil {
		return ctrl.Result{}, err
	}
	// A claim's holder needs the finalizer, so that deleting it releases the claim. Every
	// record write stores it first; this covers a claim taken over from a vanished holder.
	defer func() {
		if claim.lease == nil {
			return
		}
		if ferr := r.ensureFinalizer(ctx, pinv); ferr != nil && err == nil {
			err = ferr
		}
	}()
	if exp := r.checkExpiry(pinv, selecting, f); exp.passed(r.now()) && pinv.Status.Expiry != nil && managedUserID(pinv) == "" {
		// Access ended and no account is left to act on: nothing to read or write.
		return r.expiredPoll(), nil
	}
	guest, err := r.observe(ctx, pinv, claim, selecting, f)
	if err != nil {
		return ctrl.Result{}, err
	}
	if guest != nil {
		observeRedemption(pinv, guest)
	}
	if ended, err := r.reconcileExpiry(ctx, pinv, claim, guest, selecting, f); ended || err != nil {
		return r.expiredPoll(), err
	}
	invitedNow := guest == nil
	if invitedNow {
		// Sponsors go out with the invitation; one that cannot be resolved yet is added later.
		sponsors, _, err := r.resolveSponsors(ctx, pinv)
		if err != nil {
			return ctrl.Result{}, err
		}
		if err := r.createInvitation(ctx, pinv, claim, f, sponsors); err != nil {
			return ctrl.Result{}, err
		}
	} else {
		if err := r.updateDrift(ctx, pinv, guest, selecting); err != nil {
			return ctrl.Result{}, err
		}
		if err := r.handleSendRequests(ctx, pinv, claim, guest, selecting); err != nil {
			return ctrl.Result{}, err
		}
	}
	sponsors, err := r.reconcileSponsors(ctx, pinv, pinv.Status.UserID, invitedNow)
	f.sponsors = &sponsors
	if err != nil {
		return ctrl.Result{}, err
	}
	access, err := r.reconcileAccess(ctx, pinv, pinv.Status.UserID, selecting)
	f.access = &access
	if err != nil {
		return ctrl.Result{}, err
	}
	// An invitation sent just now (first, resend or reset) starts the pending timeout.
	r.checkExpiry(pinv, selecting, f)
	if invitedNow && pinv.Spec.Profile != nil {
		// The invitation carries no profile; it is patched once Graph lists the new guest.
		return ctrl.Result{}, &blockedError{reason: b2bv1alpha1.ReasonAwaitingGraph, retryAfter: 5 * time.Second,
			message: "Waiting for Microsoft Graph to list the new guest before setting spec.profile"}
	}
	return r.nextPoll(pinv, f)
}

// reconcileExpiry acts when the guest's access has ended, and undoes the action when the
// expiry moved later. A resend renews an invitation that a pending timeout ended. It reports
// whether access has ended, in which case nothing else is reconciled.
func (r *Reconciler) reconcileExpiry(ctx context.Context, pinv *b2bv1alpha1.PartnerInvitation, claim *addressClaim, guest *graph.User, selecting []*b2bv1alpha1.PartnerAccessPolicy, f *findings) (bool, error) {
	exp := r.checkExpiry(pinv, selecting, f)
	if exp.passed(r.now()) && exp.rule == b2bv1alpha1.RuleInactivity && pinv.Status.Expiry == nil {
		// The cache may not have the sign-in the last read wrote yet: ask the API server.
		if err := r.refreshLastSignIn(ctx, pinv); err != nil {
			return true, err
		}
		exp = r.checkExpiry(pinv, selecting, f)
	}
	if exp.passed(r.now()) && exp.rule == b2bv1alpha1.RulePendingTimeout && guest != nil {
		if err := r.handleSendRequests(ctx, pinv, claim, guest, selecting); err != nil {
			return true, err
		}
		exp = r.checkExpiry(pinv, selecting, f)
	}
	if exp.passed(r.now()) {
		err := r.expire(ctx, pinv, claim, guest, exp)
		f.expiry.failed = err != nil
		return true, err
	}
	return false, r.restore(ctx, pinv, guest)
}

// expiredPoll looks at an expired object now and then, to hold the expiry action against
// changes made outside the operator.
func (r *Reconciler) expiredPoll() ctrl.Result {
	return ctrl.Result{RequeueAfter: jitter(r.opts().ResyncInterval)}
}

// nextPoll picks when to look again: soon while access or sponsors are incomplete, else at the
// poll or resync interval, and no later than the expiry's next step (warning, then expiry).
func (r *Reconciler) nextPoll(pinv *b2bv1alpha1.PartnerInvitation, f *findings) (ctrl.Result, error) {
	var res ctrl.Result
	var problems bool
	for _, o := range []*accessOutcome{f.access, f.sponsors} {
		if o == nil {
			continue
		}
		if o.pending != nil {
			return ctrl.Result{}, &blockedError{reason: b2bv1alpha1.ReasonAccessPending, backoff: true,
				message: fmt.Sprintf("grant access: %v", o.pending)}
		}
		problems = problems || len(o.problems) > 0
	}
	switch {
	case problems:
		// A missing group may be created, a policy relaxed: look again now and then.
		res.RequeueAfter = jitter(min(r.opts().PendingPollInterval, 5*time.Minute))
	case pinv.Status.State == b2bv1alpha1.StateAccepted:
		res.RequeueAfter = jitter(r.opts().ResyncInterval)
	default:
		res.RequeueAfter = jitter(r.opts().PendingPollInterval)
	}
	if f.expiry != nil {
		// Exactly on time (no jitter): the expiry is a promise to the cluster owner.
		if next := untilExpiryEvent(f.expiry.expiry, r.now(), r.opts().ExpiryWarning, r.opts().signInRecheck()); next > 0 && next < res.RequeueAfter {
			res.RequeueAfter = next
		}
	}
	return res, nil
}

// ensureFinalizer stores the finalizer unless the object has it.
func (r *Reconciler) ensureFinalizer(ctx context.Context, pinv *b2bv1alpha1.PartnerInvitation) error {
	if controllerutil.ContainsFinalizer(pinv, b2bv1alpha1.Finalizer) {
		return nil
	}
	// Patch a copy: the answer carries the stored status, which must not replace the status
	// this reconcile is computing.
	obj := pinv.DeepCopy()
	patch := client.MergeFrom(obj.DeepCopy())
	controllerutil.AddFinalizer(obj, b2bv1alpha1.Finalizer)
	if err := r.Patch(ctx, obj, patch); err != nil {
		return fmt.Errorf("%s: %w", errAddFinalizer, err)
	}
	pinv.Finalizers, pinv.ResourceVersion = obj.Finalizers, obj.ResourceVersion
	return nil
}

func (r *Reconciler) opts() Options { return r.Options.withDefaults() }

// signInRecheck is how often an inactivity deadline that waits for a read of sign-ins is
// looked at again: a tenth of the read interval.
func (o Options) signInRecheck() time.Duration { return max(o.SignInInterval/10, time.Second) }

func (r *Reconciler) now() time.Time {
	if r.Clock == nil {
		return time.Now()
	}
	return r.Clock.Now()
}

// quietOnConflict turns an optimistic-lock conflict into a prompt requeue without an error
// log: a newer copy of the object is already on its way through the informer.
func quietOnConflict(err error) (ctrl.Result, error) {
	if apierrors.IsConflict(err) {
		return ctrl.Result{RequeueAfter: 200 * time.Millisecond}, nil
	}
	return ctrl.Result{}, err
}

// SetupWithManager registers the indexes and the watches, and the default tenant's background
// work (users-delta watcher, ownership recorder); tenant objects' start as they connect.
func (r *Reconciler) SetupWithManager(ctx context.Context, mgr ctrl.Manager) error {
	if err := indexClusterWide(ctx, mgr.GetCache(), map[string]client.IndexerFunc{EmailIndex: indexEmail, GuestIndex: indexGuest, TenantIndex: indexTenant}); err != nil {
		return err
	}
	opts := r.opts()
	b := ctrl.NewControllerManagedBy(mgr)
	var changed chan event.GenericEvent
	if opts.DeltaInterval > 0 {
		changed = make(chan event.GenericEvent, 1024)
		b = b.WatchesRawSource(source.Channel(changed, &handler.EnqueueRequestForObject{}))
	}
	if opts.OwnerID != "" && r.Records == nil && r.Directory != nil {
		r.Records = r.newRecorder(mgr.GetLogger(), r.Directory, r.OwnershipSchema)
		if err := mgr.Add(r.Records); err != nil {
			return fmt.Errorf("add ownership recorder: %w", err)
		}
	}
	if changed != nil && r.Directory != nil {
		if err := mgr.Add(r.newWatcher(mgr, changed, r.defaultTenant())); err != nil {
			return fmt.Errorf("add redemption watcher: %w", err)
		}
	}
	if r.SignInReader != nil && opts.SignInInterval > 0 && r.SignIns != nil {
		r.defaultSignIns = r.SignIns.Add(tenant.Ref{}.Label())
		if err := mgr.Add(r.newSignInWatcher(mgr, changed, r.defaultTenant())); err != nil {
			return fmt.Errorf("add sign-in watcher: %w", err)
		}
	}
	if r.Tenants != nil {
		r.Tenants.prepare = func(t *Tenant, schema OwnershipSchema) func(context.Context) {
			return r.prepareTenantWork(mgr, changed, t, schema)
		}
		if err := mgr.Add(r.Tenants); err != nil {
			return fmt.Errorf("add tenant connections: %w", err)
		}
		for _, obj := range []client.Object{&b2bv1alpha1.GraphTenant{}, &b2bv1alpha1.ClusterGraphTenant{}} {
			b = b.Watches(obj, handler.EnqueueRequestsFromMapFunc(r.tenantRequests), builder.WithPredicates(tenantReadinessChanged()))
		}
	}
	return b.
		For(&b2bv1alpha1.PartnerInvitation{}, builder.WithPredicates(
			predicate.Or(predicate.GenerationChangedPredicate{}, userAnnotationsChanged()))).
		// When an object claiming an address changes or goes away, the others with that
		// address may now hold the claim.
		Watches(&b2bv1alpha1.PartnerInvitation{}, handler.EnqueueRequestsFromMapFunc(r.peersOf),
			builder.WithPredicates(claimChanged())).
		Watches(&b2bv1alpha1.PartnerAccessPolicy{}, handler.EnqueueRequestsFromMapFunc(r.policyRequests),
			builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		Watches(&corev1.Namespace{}, handler.EnqueueRequestsFromMapFunc(r.namespaceRequests),
			builder.WithPredicates(predicate.LabelChangedPredicate{})).
		Watches(&b2bv1alpha1.PartnerOrganization{}, handler.EnqueueRequestsFromMapFunc(r.organizationRequests),
			builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		WithOptions(controller.Options{
			MaxConcurrentReconciles: opts.MaxConcurrentReconciles,
			RateLimiter: workqueue.NewTypedMaxOfRateLimiter(
				workqueue.NewTypedItemExponentialFailureRateLimiter[reconcile.Request](time.Second, 5*time.Minute),
				&workqueue.TypedBucketRateLimiter[reconcile.Request]{Limiter: newBucket(10, 100)},
			),
		}).
		Named("partnerinvitation").
		Complete(r)
}

func (r *Reconciler) newRecorder(log logr.Logger, dir graph.Directory, schema *Gate) *OwnershipRecorder {
	return &OwnershipRecorder{Directory: dir, Log: log.WithName("ownership-recorder"), Metrics: r.Metrics, Schema: schema}
}

func (r *Reconciler) newWatcher(mgr ctrl.Manager, changed chan<- event.GenericEvent, t *Tenant) *RedemptionWatcher {
	opts := r.opts()
	log := mgr.GetLogger().WithName("redemption-watcher")
	if !t.Ref.IsDefault() {
		log = log.WithValues("tenant", t.Ref.Key())
	}
	return &RedemptionWatcher{
		Reader: mgr.GetClient(), Directory: t.Directory, Events: changed,
		Interval: opts.DeltaInterval, FullRoundInterval: opts.FullRoundInterval,
		Log: log, Metrics: r.Metrics, OwnerID: opts.OwnerID, Schema: t.Schema,
	}
}

// prepareTenantWork makes a tenant object's own background work, as the default tenant's runs
// under the manager: its ownership schema registration, recorder and users-delta watcher. The
// func it returns runs them until its context ends.
func (r *Reconciler) prepareTenantWork(mgr ctrl.Manager, changed chan<- event.GenericEvent, t *Tenant, schema OwnershipSchema) func(context.Context) {
	opts := r.opts()
	log := mgr.GetLogger().WithValues("tenant", t.Ref.Key())
	var work []interface{ Start(context.Context) error }
	if opts.OwnerID != "" {
		if schema != nil {
			work = append(work, &SchemaRegistration{Schema: schema, Gate: t.Schema, Log: log.WithName("ownership-schema")})
		}
		t.Records = r.newRecorder(log, t.Directory, t.Schema)
		work = append(work, t.Records)
	}
	if changed != nil {
		work = append(work, r.newWatcher(mgr, changed, t))
	}
	if t.SignInReader != nil && opts.SignInInterval > 0 && r.SignIns != nil {
		t.SignIns = r.SignIns.Add(t.Ref.Label())
		work = append(work, r.newSignInWatcher(mgr, changed, t))
	}
	return func(ctx context.Context) {
		for _, w := range work {
			go func() { _ = w.Start(ctx) }()
		}
		if t.SignIns != nil {
			// A tenant forgotten or reconnected takes its state with it.
			context.AfterFunc(ctx, func() { r.SignIns.Remove(t.Ref.Label(), t.SignIns) })
		}
	}
}

func (r *Reconciler) newSignInWatcher(mgr ctrl.Manager, changed chan<- event.GenericEvent, t *Tenant) *SignInWatcher {
	log := mgr.GetLogger().WithName("sign-in-watcher")
	if !t.Ref.IsDefault() {
		log = log.WithValues("tenant", t.Ref.Key())
	}
	return &SignInWatcher{Client: mgr.GetClient(), SignIns: t.SignInReader, Interval: r.opts().SignInInterval,
		Activity: t.SignIns, Tenant: t.Ref, Events: changed, Log: log, Clock: r.Clock}
}

// tenantRequests maps a tenant object to the invitations that name it.
func (r *Reconciler) tenantRequests(ctx context.Context, o client.Object) []reconcile.Request {
	obj, ok := o.(b2bv1alpha1.TenantObject)
	if !ok {
		return nil
	}
	var list b2bv1alpha1.PartnerInvitationList
	if err := r.List(ctx, &list, client.MatchingFields{TenantIndex: tenant.RefTo(obj).Key()}); err != nil {
		return nil
	}
	out := make([]reconcile.Request, 0, len(list.Items))
	for i := range list.Items {
		out = append(out, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&list.Items[i])})
	}
	return out
}

// tenantReadinessChanged passes the tenant events that change what its invitations may do:
// Ready's status or generation, and deletion.
func tenantReadinessChanged() predicate.Predicate {
	ready := func(o client.Object) string {
		obj, ok := o.(b2bv1alpha1.TenantObject)
		if !ok {
			return ""
		}
		c := meta.FindStatusCondition(obj.TenantStatus().Conditions, b2bv1alpha1.ConditionReady)
		if c == nil {
			return ""
		}
		return fmt.Sprintf("%s/%d", c.Status, c.ObservedGeneration)
	}
	return predicate.Funcs{
		CreateFunc:  func(event.CreateEvent) bool { return true },
		DeleteFunc:  func(event.DeleteEvent) bool { return true },
		UpdateFunc:  func(e event.UpdateEvent) bool { return ready(e.ObjectOld) != ready(e.ObjectNew) },
		GenericFunc: func(event.GenericEvent) bool { return false },
	}
}

// indexClusterWide adds field indexes on PartnerInvitations that answer cluster-wide lookups
// only, the only ones the operator makes (client.MatchingFields without a namespace). The
// cache's own IndexField keeps a second, per-namespace key of every value as well: at 10,000
// objects the two indexes held 40,000 one-entry sets, a third of the live heap. The index names
// and keys are the ones controller-runtime's cache reader asks for ("field:<name>" and
// "__all_namespaces/<value>"); the integration suite's claim and redemption specs fail if they
// ever differ.
func indexClusterWide(ctx context.Context, informers crcache.Informers, indexes map[string]client.IndexerFunc) error {
	informer, err := informers.GetInformer(ctx, &b2bv1alpha1.PartnerInvitation{})
	if err != nil {
		return fmt.Errorf("PartnerInvitation informer: %w", err)
	}
	indexers := toolscache.Indexers{}
	for name, extract := range indexes {
		indexers["field:"+name] = func(obj any) ([]string, error) {
			o, ok := obj.(client.Object)
			if !ok {
				return nil, fmt.Errorf("index %s: %T is not a client.Object", name, obj)
			}
			values := extract(o)
			keys := make([]string, len(values))
			for i, v := range values {
				keys[i] = "__all_namespaces/" + v
			}
			return keys, nil
		}
	}
	if err := informer.AddIndexers(indexers); err != nil {
		return fmt.Errorf("add PartnerInvitation indexes: %w", err)
	}
	return nil
}

func indexEmail(o client.Object) []string {
	pinv, ok := o.(*b2bv1alpha1.PartnerInvitation)
	if !ok || pinv.Spec.Email == "" {
		return nil
	}
	return []string{peerKey(pinv)}
}

// Error messages, kept together so they read the same in logs and conditions.
const (
	errAddFinalizer    = "cannot add finalizer"
	errRemoveFinalizer = "cannot remove finalizer"
	errPatchStatus     = "cannot patch status"
	errListPeers       = "cannot list PartnerInvitations with the same email"
	errRecordCreate    = "cannot record the invitation on the object"
	errWriteSecret     = "cannot store the redemption URL"
)

func (r *Reconciler) apiReader() client.Reader {
	if r.APIReader != nil {
		return r.APIReader
	}
	return r.Client
}
