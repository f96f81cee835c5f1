// Package partnerorganization reconciles PartnerOrganizations: it resolves the partner's
// domains to its tenant, keeps the partner-specific cross-tenant access configuration of our
// tenant as the spec says (creating, adopting, correcting drift on a poll), removes it on
// deletion where the spec says so, and counts the organization's invitations.
package partnerorganization

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	b2bv1alpha1 "github.com/partnerops/partner-operator/api/v1alpha1"
	"github.com/partnerops/partner-operator/internal/graph"
	"github.com/partnerops/partner-operator/internal/organization"
	"github.com/partnerops/partner-operator/internal/tenant"
)

// Finalizer holds a PartnerOrganization until its deletion policy has been applied.
const Finalizer = "b2b.partnerops.io/partner-configuration"

// DefaultSyncInterval is how often the configuration is read back and drift corrected.
const DefaultSyncInterval = 10 * time.Minute

// Tenants resolves the tenant a PartnerOrganization is configured in.
type Tenants interface {
	// CrossTenantAccess returns the tenant's cross-tenant access client and the tenant's ID,
	// or a *tenant.Problem saying why the tenant cannot be used.
	CrossTenantAccess(ctx context.Context, ref tenant.Ref) (graph.CrossTenantAccess, string, error)
}

// Reconciler reconciles PartnerOrganizations.
type Reconciler struct {
	client.Client
	Tenants  Tenants
	Recorder events.EventRecorder
	Clock    clock.PassiveClock
	// SyncInterval: DefaultSyncInterval when 0.
	SyncInterval time.Duration
}

// +kubebuilder:rbac:groups=b2b.partnerops.io,resources=partnerorganizations,verbs=get;list;watch;patch
// +kubebuilder:rbac:groups=b2b.partnerops.io,resources=partnerorganizations/status,verbs=patch

// Reconcile reads top to bottom: deletion, finalizer, sync with Graph when due, counts, status.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	var org b2bv1alpha1.PartnerOrganization
	if err := r.Get(ctx, req.NamespacedName, &org); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !org.DeletionTimestamp.IsZero() {
		return r.finalize(ctx, &org)
	}
	if !controllerutil.ContainsFinalizer(&org, Finalizer) {
		// Stored before any Graph write, so a deletion always finds it.
		patch := client.MergeFromWithOptions(org.DeepCopy(), client.MergeFromWithOptimisticLock{})
		controllerutil.AddFinalizer(&org, Finalizer)
		if err := r.Patch(ctx, &org, patch); err != nil {
			return ctrl.Result{}, client.IgnoreNotFound(fmt.Errorf("add finalizer: %w", err))
		}
	}
	before := org.DeepCopy()
	res, syncErr := r.sync(ctx, &org, before)
	if err := r.count(ctx, &org); err != nil {
		return ctrl.Result{}, err
	}
	if err := r.patchStatus(ctx, before, &org); err != nil {
		if apierrors.IsConflict(err) {
			// Read from a cache behind the API server: read again. What was written to
			// Graph is found there next time.
			return ctrl.Result{Requeue: true}, nil
		}
		return ctrl.Result{}, err
	}
	return res, syncErr
}

// problem is why the configuration is not as the spec says; stalled ones need a change to
// the spec, the tenant or its permissions.
type problem struct {
	reason, message string
	stalled         bool
	retryAfter      time.Duration
}

func (p *problem) Error() string { return p.message }

// sync brings the partner configuration to the spec when a sync is due, and sets Ready.
func (r *Reconciler) sync(ctx context.Context, org *b2bv1alpha1.PartnerOrganization, before *b2bv1alpha1.PartnerOrganization) (ctrl.Result, error) {
	if wait, due := r.syncDue(org); !due {
		return ctrl.Result{RequeueAfter: wait}, nil
	}
	err := r.configure(ctx, org, before)
	var p *problem
	if errors.As(err, &p) {
		r.setReady(org, metav1.ConditionFalse, p.reason, p.message, p.stalled)
		after := p.retryAfter
		if after == 0 {
			after = time.Minute
		}
		return ctrl.Result{RequeueAfter: wait.Jitter(min(after, r.interval()), 0.1)}, nil
	}
	if err != nil {
		return ctrl.Result{}, err
	}
	return ctrl.Result{RequeueAfter: wait.Jitter(r.interval(), 0.1)}, nil
}

// syncDue: a new generation, a configuration not Ready, or the poll interval passed.
func (r *Reconciler) syncDue(org *b2bv1alpha1.PartnerOrganization) (time.Duration, bool) {
	ready := meta.FindStatusCondition(org.Status.Conditions, b2bv1alpha1.ConditionReady)
	if ready == nil || ready.Status != metav1.ConditionTrue || ready.ObservedGeneration != org.Generation || org.Status.LastSyncedAt == nil {
		return 0, true
	}
	next := org.Status.LastSyncedAt.Add(r.interval())
	if wait := next.Sub(r.now()); wait > 0 {
		return wait, false
	}
	return 0, true
}

// configure resolves both tenants, then creates, adopts or corrects the configuration.
func (r *Reconciler) configure(ctx context.Context, org *b2bv1alpha1.PartnerOrganization, before *b2bv1alpha1.PartnerOrganization) error {
	partners, ourID, err := r.tenant(ctx, org)
	if err != nil {
		return err
	}
	if err := r.checkDomainsFree(ctx, org); err != nil {
		return err
	}
	partnerID, err := r.resolvePartner(ctx, org, partners)
	if err != nil {
		return err
	}
	org.Status.ConfiguredIn = ourID
	want := organization.Desired(partnerID, org.Spec.PartnerSettings)
	actual, err := partners.GetPartner(ctx, partnerID)
	switch {
	case graph.IsNotFound(err):
		if actual, err = r.create(ctx, org, before, partners, want); err != nil {
			return err
		}
	case err != nil:
		return graphProblem(err, "read the partner configuration")
	default:
		if err := r.claim(org, partnerID); err != nil {
			return err
		}
		if err := r.correct(ctx, org, partners, want, actual); err != nil {
			return err
		}
	}
	org.Status.Settings = organization.Observed(actual)
	now := metav1.NewTime(r.now())
	org.Status.LastSyncedAt = &now
	r.setReady(org, metav1.ConditionTrue, b2bv1alpha1.ReasonConfigured, fmt.Sprintf(
		"The partner configuration for %s (%s) matches the spec", orUnknown(org.Status.DisplayName), partnerID), false)
	return nil
}

// tenant is our tenant the organization is configured in.
func (r *Reconciler) tenant(ctx context.Context, org *b2bv1alpha1.PartnerOrganization) (graph.CrossTenantAccess, string, error) {
	partners, id, err := r.Tenants.CrossTenantAccess(ctx, refOf(org))
	if p, ok := tenant.IsProblem(err); ok {
		return nil, "", &problem{reason: p.Reason, message: p.Message, stalled: p.Stalled}
	}
	if err != nil {
		return nil, "", err
	}
	if partners == nil {
		return nil, "", &problem{reason: b2bv1alpha1.ReasonTenantNotReady, stalled: true,
			message: fmt.Sprintf("%s: the tenant's Graph client offers no cross-tenant access settings", tenantField(org))}
	}
	return partners, id, nil
}

func refOf(org *b2bv1alpha1.PartnerOrganization) tenant.Ref {
	if org.Spec.TenantRef == nil {
		return tenant.Ref{}
	}
	return tenant.Ref{Kind: b2bv1alpha1.KindClusterGraphTenant, Name: org.Spec.TenantRef.Name}
}

func tenantField(org *b2bv1alpha1.PartnerOrganization) string {
	if org.Spec.TenantRef == nil {
		return "the default tenant"
	}
	return "spec.tenantRef"
}

// checkDomainsFree refuses a domain an older organization lists: invitations to it belong to
// that one.
func (r *Reconciler) checkDomainsFree(ctx context.Context, org *b2bv1alpha1.PartnerOrganization) error {
	for _, d := range organization.Domains(org) {
		holder, err := organization.ForDomain(ctx, r.Client, d)
		if err != nil {
			return err
		}
		if holder != nil && holder.Name != org.Name {
			return &problem{reason: b2bv1alpha1.ReasonConflict, stalled: true, message: fmt.Sprintf(
				"spec.domains: %s belongs to PartnerOrganization %s already; list each domain in one organization", d, holder.Name)}
		}
	}
	return nil
}

// resolvePartner finds the partner's tenant from its domains: all must resolve, to one tenant,
// the one spec.tenantID names if it does. Once a configuration is managed, the tenant stays.
func (r *Reconciler) resolvePartner(ctx context.Context, org *b2bv1alpha1.PartnerOrganization, partners graph.CrossTenantAccess) (string, error) {
	st := &org.Status
	if st.TenantID != "" && st.ObservedGeneration == org.Generation && managed(org) {
		return st.TenantID, nil // the domains have not changed since they were resolved
	}
	var found *graph.TenantInformation
	for _, d := range organization.Domains(org) {
		info, err := partners.FindTenantByDomain(ctx, d)
		if graph.IsNotFound(err) {
			return "", &problem{reason: b2bv1alpha1.ReasonTenantNotFound, stalled: true, message: fmt.Sprintf(
				"spec.domains: no Entra ID tenant has the domain %s (a domain without a tenant, or a typo); nothing was written", d)}
		}
		if err != nil {
			return "", graphProblem(err, "look up the tenant of "+d)
		}
		switch {
		case found == nil:
			found = info
		case !strings.EqualFold(found.TenantID, info.TenantID):
			return "", &problem{reason: b2bv1alpha1.ReasonDomainMismatch, stalled: true, message: fmt.Sprintf(
				"spec.domains: %s is tenant %s but %s is tenant %s; one PartnerOrganization is one tenant", organization.Domains(org)[0], found.TenantID, d, info.TenantID)}
		}
	}
	id := strings.ToLower(found.TenantID)
	if org.Spec.TenantID != "" && !strings.EqualFold(org.Spec.TenantID, id) {
		return "", &problem{reason: b2bv1alpha1.ReasonDomainMismatch, stalled: true, message: fmt.Sprintf(
			"spec.tenantID is %s but spec.domains resolve to tenant %s (%s); nothing was written", org.Spec.TenantID, id, orUnknown(found.DisplayName))}
	}
	if st.TenantID != "" && managed(org) && !strings.EqualFold(st.TenantID, id) {
		return "", &problem{reason: b2bv1alpha1.ReasonTenantMismatch, stalled: true, message: fmt.Sprintf(
			"spec.domains now resolve to tenant %s, but this object manages the configuration of tenant %s; put the domains back, or delete this object and create one for the other tenant", id, st.TenantID)}
	}
	st.TenantID, st.DisplayName, st.DefaultDomain = id, found.DisplayName, found.DefaultDomainName
	return id, nil
}

func managed(org *b2bv1alpha1.PartnerOrganization) bool { return org.Status.Configuration != "" }

// create makes the configuration. The intent is written to status first, so that one found
// after a crash between Graph's answer and the status write is known to be ours.
func (r *Reconciler) create(ctx context.Context, org *b2bv1alpha1.PartnerOrganization, before *b2bv1alpha1.PartnerOrganization, partners graph.CrossTenantAccess, want graph.PartnerConfiguration) (*graph.PartnerConfiguration, error) {
	if org.Status.Configuration == "" {
		org.Status.Configuration = b2bv1alpha1.ConfigurationCreating
		if err := r.patchStatus(ctx, before, org); err != nil {
			return nil, err
		}
		*before = *org.DeepCopy() // the next patch starts from what the API server holds now
	}
	err := partners.CreatePartner(ctx, want)
	if err != nil && !graph.IsAlreadyExists(err) { // one that exists now is the create we lost
		if refusedBeforeProcessing(err) && org.Status.Configuration == b2bv1alpha1.ConfigurationCreating {
			// Graph made nothing: take the mark back, so that a configuration someone else
			// creates later is never taken for ours.
			org.Status.Configuration = ""
		}
		return nil, graphProblem(err, "create the partner configuration")
	}
	if org.Status.Configuration == b2bv1alpha1.ConfigurationCreating {
		org.Status.Configuration = b2bv1alpha1.ConfigurationCreated
		r.event(org, corev1.EventTypeNormal, "Created", "Configure", fmt.Sprintf("Created the partner configuration for tenant %s", want.TenantID))
	} else {
		r.event(org, corev1.EventTypeWarning, b2bv1alpha1.ReasonDriftCorrected, "Configure",
			fmt.Sprintf("The partner configuration for tenant %s had been deleted outside the operator; created it again", want.TenantID))
	}
	actual, err := partners.GetPartner(ctx, want.TenantID)
	if err != nil {
		return nil, graphProblem(err, "read the partner configuration back")
	}
	return actual, nil
}

// refusedBeforeProcessing: Graph turned the request away without acting on it (a 4xx, a
// missing permission, throttling). A 5xx or a lost answer may come after the write.
func refusedBeforeProcessing(err error) bool {
	var gerr *graph.Error
	return errors.As(err, &gerr) && (gerr.Kind == graph.KindTerminal || gerr.Kind == graph.KindThrottled ||
		(gerr.StatusCode >= 400 && gerr.StatusCode < 500))
}

// claim decides whether an existing configuration is ours to manage.
func (r *Reconciler) claim(org *b2bv1alpha1.PartnerOrganization, partnerID string) error {
	switch org.Status.Configuration {
	case b2bv1alpha1.ConfigurationCreated, b2bv1alpha1.ConfigurationAdopted:
		return nil
	case b2bv1alpha1.ConfigurationCreating:
		org.Status.Configuration = b2bv1alpha1.ConfigurationCreated // our create went through
		return nil
	}
	if org.Spec.Adoption != b2bv1alpha1.OrganizationAdoptionAdopt {
		return &problem{reason: b2bv1alpha1.ReasonAdoptionDenied, stalled: true, message: fmt.Sprintf(
			"A partner configuration for tenant %s exists already (made in the portal or by another tool); nothing was written. Set spec.adoption: Adopt to manage it from this object", partnerID)}
	}
	org.Status.Configuration = b2bv1alpha1.ConfigurationAdopted
	r.event(org, corev1.EventTypeNormal, b2bv1alpha1.ReasonAdopted, "Adopt", fmt.Sprintf("Adopted the existing partner configuration for tenant %s", partnerID))
	return nil
}

// correct sets back what differs from the spec, leaving the settings the spec omits alone.
func (r *Reconciler) correct(ctx context.Context, org *b2bv1alpha1.PartnerOrganization, partners graph.CrossTenantAccess, want graph.PartnerConfiguration, actual *graph.PartnerConfiguration) error {
	patch, changed := organization.Drift(want, *actual)
	if len(changed) == 0 {
		return nil
	}
	if err := partners.UpdatePartner(ctx, want.TenantID, patch); err != nil {
		return graphProblem(err, "update the partner configuration")
	}
	applyPatch(actual, patch)
	reason, note := "Updated", "Set %s as the spec says"
	if ready := meta.FindStatusCondition(org.Status.Conditions, b2bv1alpha1.ConditionReady); ready != nil &&
		ready.Status == metav1.ConditionTrue && ready.ObservedGeneration == org.Generation {
		reason, note = b2bv1alpha1.ReasonDriftCorrected, "%s had been changed outside the operator; set back as the spec says"
	}
	r.event(org, corev1.EventTypeNormal, reason, "Configure", fmt.Sprintf(note, strings.Join(changed, ", ")))
	return nil
}

func applyPatch(actual *graph.PartnerConfiguration, patch graph.PartnerConfiguration) {
	if patch.B2BCollaborationInbound != nil {
		actual.B2BCollaborationInbound = patch.B2BCollaborationInbound
	}
	if patch.B2BDirectConnectInbound != nil {
		actual.B2BDirectConnectInbound = patch.B2BDirectConnectInbound
	}
	if patch.InboundTrust != nil {
		actual.InboundTrust = patch.InboundTrust
	}
	if patch.AutomaticUserConsentSettings != nil {
		actual.AutomaticUserConsentSettings = patch.AutomaticUserConsentSettings
	}
}

// finalize applies the deletion policy and releases the object.
func (r *Reconciler) finalize(ctx context.Context, org *b2bv1alpha1.PartnerOrganization) (ctrl.Result, error) {
	if !controllerutil.ContainsFinalizer(org, Finalizer) {
		return ctrl.Result{}, nil
	}
	if managed(org) && org.Spec.DeletionPolicy != b2bv1alpha1.DeletionPolicyOrphan && org.Status.TenantID != "" {
		if err := r.deleteConfiguration(ctx, org); err != nil {
			var p *problem
			if !errors.As(err, &p) {
				return ctrl.Result{}, err
			}
			before := org.DeepCopy()
			r.setReady(org, metav1.ConditionFalse, b2bv1alpha1.ReasonDeleting, "Deleting is waiting: "+p.message, p.stalled)
			if err := r.patchStatus(ctx, before, org); err != nil {
				return ctrl.Result{}, err
			}
			return ctrl.Result{RequeueAfter: wait.Jitter(time.Minute, 0.1)}, nil
		}
	} else if managed(org) {
		r.event(org, corev1.EventTypeNormal, "Orphaned", "Delete", fmt.Sprintf("Left the partner configuration for tenant %s as it is (deletionPolicy Orphan)", org.Status.TenantID))
	}
	patch := client.MergeFromWithOptions(org.DeepCopy(), client.MergeFromWithOptimisticLock{})
	controllerutil.RemoveFinalizer(org, Finalizer)
	if err := r.Patch(ctx, org, patch); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(fmt.Errorf("remove finalizer: %w", err))
	}
	return ctrl.Result{}, nil
}

func (r *Reconciler) deleteConfiguration(ctx context.Context, org *b2bv1alpha1.PartnerOrganization) error {
	partners, _, err := r.tenant(ctx, org)
	if err != nil {
		return err
	}
	err = partners.DeletePartner(ctx, org.Status.TenantID)
	if err != nil && !graph.IsNotFound(err) { // already gone counts as deleted
		return graphProblem(err, "delete the partner configuration")
	}
	r.event(org, corev1.EventTypeNormal, b2bv1alpha1.ReasonConfigurationDeleted, "Delete",
		fmt.Sprintf("Deleted the partner configuration for tenant %s: the partner now has the tenant's default settings", org.Status.TenantID))
	return nil
}

// count sets how many invitations belong to the organization, from the cache.
func (r *Reconciler) count(ctx context.Context, org *b2bv1alpha1.PartnerOrganization) error {
	invs, err := organization.Invitations(ctx, r.Client, org)
	if err != nil {
		return err
	}
	var accepted int32
	for i := range invs {
		if invs[i].Status.State == b2bv1alpha1.StateAccepted {
			accepted++
		}
	}
	org.Status.Invitations, org.Status.AcceptedInvitations = int32(len(invs)), accepted
	return nil
}

// graphProblem turns a Graph failure into a condition: a missing permission names it.
func graphProblem(err error, doing string) error {
	var gerr *graph.Error
	if !errors.As(err, &gerr) {
		return err
	}
	if _, permission, denied := graph.MissingPermission(err); denied {
		return &problem{reason: b2bv1alpha1.ReasonPermissionDenied, stalled: true, retryAfter: 5 * time.Minute, message: fmt.Sprintf(
			"Graph refused to %s: grant the application %s, with admin consent (%v)", doing, permission, err)}
	}
	switch {
	case gerr.Kind == graph.KindThrottled:
		return &problem{reason: b2bv1alpha1.ReasonThrottled, retryAfter: max(gerr.RetryAfter, time.Second), message: fmt.Sprintf("Graph throttled the request to %s", doing)}
	case gerr.Kind == graph.KindTerminal:
		return &problem{reason: b2bv1alpha1.ReasonGraphError, stalled: true, retryAfter: 5 * time.Minute, message: fmt.Sprintf("Graph refused to %s: %v", doing, err)}
	}
	return fmt.Errorf("%s: %w", doing, err)
}

// setReady sets Ready (and Stalled) at the object's generation, with an event when Ready changes.
func (r *Reconciler) setReady(org *b2bv1alpha1.PartnerOrganization, status metav1.ConditionStatus, reason, msg string, stalled bool) {
	old := meta.FindStatusCondition(org.Status.Conditions, b2bv1alpha1.ConditionReady)
	if old == nil || old.Status != status || old.Reason != reason {
		kind := corev1.EventTypeNormal
		if status != metav1.ConditionTrue {
			kind = corev1.EventTypeWarning
		}
		r.event(org, kind, reason, "Configure", msg)
	}
	set := func(typ string, s metav1.ConditionStatus, reason, msg string) {
		meta.SetStatusCondition(&org.Status.Conditions, metav1.Condition{Type: typ, Status: s, Reason: reason, Message: msg, ObservedGeneration: org.Generation})
	}
	set(b2bv1alpha1.ConditionReady, status, reason, msg)
	if stalled {
		set(b2bv1alpha1.ConditionStalled, metav1.ConditionTrue, reason, msg)
	} else {
		meta.RemoveStatusCondition(&org.Status.Conditions, b2bv1alpha1.ConditionStalled)
	}
	org.Status.ObservedGeneration = org.Generation
}

func (r *Reconciler) event(org *b2bv1alpha1.PartnerOrganization, kind, reason, action, note string) {
	if r.Recorder != nil {
		r.Recorder.Eventf(org, nil, kind, reason, action, "%s", note)
	}
}

// patchStatus writes status when it changed; the optimistic lock keeps a status computed from
// an older object from overwriting a newer one (the Creating mark among them).
func (r *Reconciler) patchStatus(ctx context.Context, before, org *b2bv1alpha1.PartnerOrganization) error {
	if equalStatus(before, org) {
		return nil
	}
	if err := r.Status().Patch(ctx, org, client.MergeFromWithOptions(before, client.MergeFromWithOptimisticLock{})); err != nil {
		return client.IgnoreNotFound(fmt.Errorf("patch PartnerOrganization status: %w", err))
	}
	return nil
}

func (r *Reconciler) interval() time.Duration {
	if r.SyncInterval > 0 {
		return r.SyncInterval
	}
	return DefaultSyncInterval
}

func (r *Reconciler) now() time.Time {
	if r.Clock == nil {
		return time.Now()
	}
	return r.Clock.Now()
}

func orUnknown(s string) string {
	if s == "" {
		return "(name unknown)"
	}
	return s
}

// SetupWithManager watches organizations (spec changes) and the invitations to their domains
// (for the counts). The organization.Register indexes must be in place.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error {
	return ctrl.NewControllerManagedBy(mgr).
		For(&b2bv1alpha1.PartnerOrganization{}, builder.WithPredicates(predicate.Or(predicate.GenerationChangedPredicate{}, organization.MarkedForDeletion()))).
		Watches(&b2bv1alpha1.PartnerInvitation{}, handler.EnqueueRequestsFromMapFunc(r.organizationOf),
			builder.WithPredicates(invitationCounted())).
		Named("partnerorganization").
		Complete(r)
}

func (r *Reconciler) organizationOf(ctx context.Context, o client.Object) []reconcile.Request {
	pinv, ok := o.(*b2bv1alpha1.PartnerInvitation)
	if !ok {
		return nil
	}
	org, err := organization.ForDomain(ctx, r.Client, organization.DomainOf(pinv.Spec.Email))
	if err != nil || org == nil {
		return nil
	}
	return []reconcile.Request{{NamespacedName: client.ObjectKeyFromObject(org)}}
}

// invitationCounted passes the changes that move an organization's counts.
func invitationCounted() predicate.Predicate {
	return predicate.Funcs{
		UpdateFunc: func(e event.UpdateEvent) bool {
			old, okOld := e.ObjectOld.(*b2bv1alpha1.PartnerInvitation)
			cur, okNew := e.ObjectNew.(*b2bv1alpha1.PartnerInvitation)
			return okOld && okNew && (old.Spec.Email != cur.Spec.Email || old.Status.State != cur.Status.State)
		},
		GenericFunc: func(event.GenericEvent) bool { return false },
	}
}

func equalStatus(a, b *b2bv1alpha1.PartnerOrganization) bool {
	return equality.Semantic.DeepEqual(a.Status, b.Status)
}
