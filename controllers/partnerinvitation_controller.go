// Package controllers holds the reconcilers of the b2b.partnerops.io API.
package controllers

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/tools/events"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
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
		o.PolicyPosture = policy.AllowUnselected
	}
	return o
}

// PartnerInvitationReconciler invites partners through Microsoft Graph and tracks redemption.
type PartnerInvitationReconciler struct {
	client.Client
	// APIReader reads around the cache when an optimistic-lock write meets a conflict.
	APIReader client.Reader
	Directory graph.Directory
	Recorder  events.EventRecorder
	Clock     clock.PassiveClock
	Options   Options
}

// +kubebuilder:rbac:groups=b2b.partnerops.io,resources=partnerinvitations,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=b2b.partnerops.io,resources=partnerinvitations/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=b2b.partnerops.io,resources=partnerinvitations/finalizers,verbs=update
// +kubebuilder:rbac:groups=b2b.partnerops.io,resources=partneraccesspolicies,verbs=get;list;watch
// +kubebuilder:rbac:groups="",resources=namespaces,verbs=get;list;watch
// +kubebuilder:rbac:groups="",resources=secrets,verbs=get;list;watch;create;update;patch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// Reconcile moves one PartnerInvitation toward its spec: see the reconcile contract in the README.
func (r *PartnerInvitationReconciler) Reconcile(ctx context.Context, req ctrl.Request) (_ ctrl.Result, reterr error) {
	log := ctrl.LoggerFrom(ctx)

	pinv := &b2bv1alpha1.PartnerInvitation{}
	if err := r.Get(ctx, req.NamespacedName, pinv); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if pinv.Annotations[b2bv1alpha1.AnnotationPaused] == "true" {
		log.V(1).Info("paused; skipping")
		return ctrl.Result{}, nil
	}

	// The finalizer is stored before any Graph call, so no guest can exist without it.
	if pinv.DeletionTimestamp.IsZero() && !controllerutil.ContainsFinalizer(pinv, b2bv1alpha1.Finalizer) {
		if err := r.addFinalizer(ctx, pinv); err != nil {
			return quietOnConflict(fmt.Errorf("%s: %w", errAddFinalizer, err))
		}
	}

	before := pinv.DeepCopy()
	defer func() {
		if err := r.patchStatus(ctx, before, pinv, reterr); err != nil && reterr == nil {
			_, reterr = quietOnConflict(fmt.Errorf("%s: %w", errPatchStatus, err))
		}
	}()

	if !pinv.DeletionTimestamp.IsZero() {
		return r.reconcileDelete(ctx, pinv)
	}
	return r.reconcileNormal(ctx, pinv)
}

// reconcileNormal follows Crossplane's managed-resource order: validate, claim, check policy,
// observe, create if absent, update what drifted, grant access, report and poll.
func (r *PartnerInvitationReconciler) reconcileNormal(ctx context.Context, pinv *b2bv1alpha1.PartnerInvitation) (ctrl.Result, error) {
	if err := validateSpec(pinv); err != nil {
		r.markStalled(pinv, b2bv1alpha1.ReasonInvalidSpec, err.Error())
		return ctrl.Result{}, reconcile.TerminalError(err)
	}

	claimed, holder, err := r.claim(ctx, pinv)
	if err != nil {
		return ctrl.Result{}, err
	}
	if !claimed {
		r.markConflict(pinv, fmt.Sprintf("spec.email %q is already claimed by PartnerInvitation %s", pinv.Spec.Email, holder))
		return ctrl.Result{}, nil
	}

	selecting, violation, err := r.evaluatePolicy(ctx, pinv)
	if err != nil {
		return ctrl.Result{}, err
	}
	if violation != nil {
		// No new Graph writes; what this object granted earlier is taken back.
		r.markPolicyDenied(pinv, violation)
		return r.handleGraphError(pinv, ctrl.Result{}, r.revokeAllAccess(ctx, pinv))
	}

	guest, res, err := r.observe(ctx, pinv)
	if conflict := (*conflictError)(nil); errors.As(err, &conflict) {
		r.markConflict(pinv, conflict.Error())
		return ctrl.Result{}, nil
	}
	if err != nil || !res.IsZero() {
		return r.handleGraphError(pinv, res, err)
	}
	if guest == nil {
		if res, err := r.createInvitation(ctx, pinv); err != nil || !res.IsZero() {
			return r.handleGraphError(pinv, res, err)
		}
	} else {
		if err := r.updateDrift(ctx, pinv, guest); err != nil {
			return r.handleGraphError(pinv, ctrl.Result{}, err)
		}
		r.observeRedemption(pinv, guest)
	}

	access, err := r.reconcileAccess(ctx, pinv, pinv.Status.UserID, selecting)
	if err != nil {
		return r.handleGraphError(pinv, ctrl.Result{}, err)
	}
	return r.report(pinv, access)
}

// report settles Ready from the access outcome and picks the next poll.
func (r *PartnerInvitationReconciler) report(pinv *b2bv1alpha1.PartnerInvitation, access accessOutcome) (ctrl.Result, error) {
	switch {
	case len(access.problems) > 0:
		r.markNotReady(pinv, access.problems[0].reason, "spec.access cannot be granted in full: "+access.problems[0].message)
		// A missing group may be created, a policy relaxed: look again now and then.
		return ctrl.Result{RequeueAfter: jitter(min(r.opts().PendingPollInterval, 5*time.Minute))}, nil
	case access.pending != nil:
		r.markNotReady(pinv, b2bv1alpha1.ReasonAccessPending, "Waiting for Microsoft Graph to make the new guest visible to groups and applications")
		return ctrl.Result{}, fmt.Errorf("grant access: %w", access.pending)
	}
	r.markInSync(pinv)
	if pinv.Status.State == b2bv1alpha1.StateAccepted {
		return ctrl.Result{RequeueAfter: jitter(r.opts().ResyncInterval)}, nil
	}
	return ctrl.Result{RequeueAfter: jitter(r.opts().PendingPollInterval)}, nil
}

// handleGraphError reports a failed step and picks the requeue: throttling waits for
// Retry-After, terminal errors stall until the spec changes, the rest back off.
func (r *PartnerInvitationReconciler) handleGraphError(pinv *b2bv1alpha1.PartnerInvitation, res ctrl.Result, err error) (ctrl.Result, error) {
	if err == nil {
		return res, nil
	}
	if apierrors.IsConflict(err) {
		return quietOnConflict(err)
	}
	if wait, ok := graph.RetryAfter(err); ok {
		r.markNotReady(pinv, b2bv1alpha1.ReasonThrottled, "Microsoft Graph is throttling requests; retrying after "+wait.String())
		return ctrl.Result{RequeueAfter: wait}, nil
	}
	if graph.IsTerminal(err) {
		r.markStalled(pinv, b2bv1alpha1.ReasonGraphError, err.Error())
		return ctrl.Result{}, reconcile.TerminalError(err)
	}
	r.markNotReady(pinv, b2bv1alpha1.ReasonGraphError, err.Error())
	return ctrl.Result{}, err
}

func (r *PartnerInvitationReconciler) addFinalizer(ctx context.Context, pinv *b2bv1alpha1.PartnerInvitation) error {
	patch := client.MergeFrom(pinv.DeepCopy())
	controllerutil.AddFinalizer(pinv, b2bv1alpha1.Finalizer)
	return r.Patch(ctx, pinv, patch)
}

func (r *PartnerInvitationReconciler) opts() Options { return r.Options.withDefaults() }

func (r *PartnerInvitationReconciler) now() time.Time {
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

// SetupWithManager registers the email index and the watches.
func (r *PartnerInvitationReconciler) SetupWithManager(ctx context.Context, mgr ctrl.Manager) error {
	if err := mgr.GetFieldIndexer().IndexField(ctx, &b2bv1alpha1.PartnerInvitation{}, EmailIndex, indexEmail); err != nil {
		return fmt.Errorf("index %s: %w", EmailIndex, err)
	}
	if err := mgr.GetFieldIndexer().IndexField(ctx, &b2bv1alpha1.PartnerInvitation{}, GuestIndex, indexGuest); err != nil {
		return fmt.Errorf("index %s: %w", GuestIndex, err)
	}
	opts := r.opts()
	b := ctrl.NewControllerManagedBy(mgr)
	if opts.DeltaInterval > 0 {
		changed := make(chan event.GenericEvent, 1024)
		watcher := &RedemptionWatcher{
			Reader: mgr.GetClient(), Directory: r.Directory, Events: changed,
			Interval: opts.DeltaInterval, FullRoundInterval: opts.FullRoundInterval,
			Log: mgr.GetLogger().WithName("redemption-watcher"),
		}
		if err := mgr.Add(watcher); err != nil {
			return fmt.Errorf("add redemption watcher: %w", err)
		}
		b = b.WatchesRawSource(source.Channel(changed, &handler.EnqueueRequestForObject{}))
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

func indexEmail(o client.Object) []string {
	pinv, ok := o.(*b2bv1alpha1.PartnerInvitation)
	if !ok || pinv.Spec.Email == "" {
		return nil
	}
	return []string{strings.ToLower(pinv.Spec.Email)}
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
