// Package graphtenant verifies GraphTenants and ClusterGraphTenants: it signs in to each tenant
// with the credentials the object names and reports what it found. The connections it makes
// are the ones PartnerInvitations of the tenant use (partnerinvitation.TenantConnections).
package graphtenant

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	b2bv1alpha1 "github.com/partnerops/partner-operator/api/v1alpha1"
	"github.com/partnerops/partner-operator/controllers/partnerinvitation"
	"github.com/partnerops/partner-operator/internal/graph"
	"github.com/partnerops/partner-operator/internal/tenant"
)

// spread adds up to a tenth to a requeue, so that tenants created together are not signed in
// to together.
func spread(d time.Duration) time.Duration { return wait.Jitter(d, 0.1) }

func orUnknown(s string) string {
	if s == "" {
		return "(unknown)"
	}
	return s
}

// DefaultVerifyInterval is how often a tenant is signed in to again: it bounds how late
// a revoked credential, a rotated Secret or a newly granted permission shows.
const DefaultVerifyInterval = 10 * time.Minute

// Reconciler verifies the GraphTenants or the ClusterGraphTenants (one reconciler
// per kind): it reads the credentials the object names, connects, signs in, reads the tenant
// and reports Ready, the tenant's name and domains, and the permissions the token holds
// against those its invitations need.
type Reconciler struct {
	client.Client
	// APIReader reads Secrets one by one from the API server; they are never cached.
	APIReader   client.Reader
	Kind        string
	Connections *partnerinvitation.TenantConnections
	Options     tenant.Options
	Recorder    events.EventRecorder
	Clock       clock.PassiveClock
	// VerifyInterval: see DefaultVerifyInterval.
	VerifyInterval time.Duration
	// Ownership is on where the operator writes ownership records (--owner-id): the tenant's
	// application then holds the record's properties.
	Ownership bool
}

// RBAC: tenants are read and their status written; the Secrets they name are read by name only
// (the PartnerInvitation reconciler's rule on secrets covers it).
// +kubebuilder:rbac:groups=b2b.partnerops.io,resources=graphtenants;clustergraphtenants,verbs=get;list;watch
// +kubebuilder:rbac:groups=b2b.partnerops.io,resources=graphtenants/status;clustergraphtenants/status,verbs=patch

func (r *Reconciler) newObject() b2bv1alpha1.TenantObject {
	if r.Kind == b2bv1alpha1.KindClusterGraphTenant {
		return &b2bv1alpha1.ClusterGraphTenant{}
	}
	return &b2bv1alpha1.GraphTenant{}
}

// Reconcile signs in to one tenant and reports what it found.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	obj := r.newObject()
	if err := r.Get(ctx, req.NamespacedName, obj); err != nil {
		if apierrors.IsNotFound(err) {
			r.Connections.Forget(tenant.Ref{Kind: r.Kind, Namespace: req.Namespace, Name: req.Name})
		}
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if !obj.GetDeletionTimestamp().IsZero() {
		r.Connections.Forget(tenant.RefTo(obj))
		return ctrl.Result{}, nil
	}
	before := obj.DeepCopyObject().(b2bv1alpha1.TenantObject)
	res, verr := r.verify(ctx, obj)
	if err := r.patchStatus(ctx, before, obj); err != nil {
		return ctrl.Result{}, err
	}
	return res, verr
}

// verify sets the status from one sign-in; a problem with the object itself is reported in
// Ready and looked at again after a minute (a Secret cannot be watched by the operator).
func (r *Reconciler) verify(ctx context.Context, obj b2bv1alpha1.TenantObject) (ctrl.Result, error) {
	notReady := func(reason, msg string, after time.Duration) (ctrl.Result, error) {
		r.setCondition(obj, b2bv1alpha1.ConditionReady, metav1.ConditionFalse, reason, msg)
		// Never later than the next verification a Ready tenant would get.
		return ctrl.Result{RequeueAfter: spread(min(after, r.verifyInterval()))}, nil
	}
	spec := obj.TenantSpec()
	creds, err := tenant.ReadCredentials(ctx, r.APIReader, obj, r.Options)
	if p, ok := tenant.IsProblem(err); ok {
		return notReady(p.Reason, p.Message, time.Minute)
	}
	if err != nil {
		return ctrl.Result{}, err
	}
	if r.Ownership && spec.ClientID == "" {
		return notReady(b2bv1alpha1.ReasonCredentialsInvalid, "spec.clientID is required where the operator writes ownership records: the application holds their properties", time.Minute)
	}
	verifier, err := r.Connections.Connect(ctx, obj, creds, r.Ownership)
	if err != nil {
		return notReady(b2bv1alpha1.ReasonCredentialsInvalid, "spec.credentials: "+err.Error(), time.Minute)
	}
	info, err := verifier.VerifyTenant(ctx)
	if err != nil {
		reason, after := b2bv1alpha1.ReasonGraphError, time.Minute
		var gerr *graph.Error
		switch {
		case errors.As(err, &gerr) && gerr.StatusCode == graph.StatusUnauthenticated:
			reason, after = b2bv1alpha1.ReasonCredentialsInvalid, r.verifyInterval()
		case errors.As(err, &gerr) && gerr.StatusCode == 403:
			reason = b2bv1alpha1.ReasonPermissionDenied
			err = fmt.Errorf("grant the application Organization.Read.All, with admin consent: %w", err)
		}
		return notReady(reason, err.Error(), after)
	}
	if !strings.EqualFold(info.TenantID, spec.TenantID) {
		return notReady(b2bv1alpha1.ReasonTenantMismatch, fmt.Sprintf("the credentials signed in to tenant %s, not spec.tenantID %s", info.TenantID, spec.TenantID), 5*time.Minute)
	}
	st := obj.TenantStatus()
	st.DisplayName, st.DefaultDomain, st.VerifiedDomains = info.DisplayName, info.DefaultDomain, info.VerifiedDomains
	st.GrantedPermissions = info.Roles
	now := metav1.NewTime(r.now())
	st.LastVerifiedAt = &now
	r.setCondition(obj, b2bv1alpha1.ConditionReady, metav1.ConditionTrue, b2bv1alpha1.ReasonSignedIn,
		fmt.Sprintf("Signed in to %s (%s) with a %s for application %s", orUnknown(info.DisplayName), info.TenantID, creds.Kind, orUnknown(spec.ClientID)))
	if err := r.reportPermissions(ctx, obj, info); err != nil {
		return ctrl.Result{}, err
	}
	return ctrl.Result{RequeueAfter: spread(r.verifyInterval())}, nil
}

// reportPermissions compares the token's roles with what the tenant's invitations need.
func (r *Reconciler) reportPermissions(ctx context.Context, obj b2bv1alpha1.TenantObject, info *graph.TenantInfo) error {
	if !info.RolesKnown {
		r.setCondition(obj, b2bv1alpha1.ConditionPermissionsGranted, metav1.ConditionUnknown, "RolesUnknown",
			"The token does not list its application permissions (no roles claim)")
		return nil
	}
	var using b2bv1alpha1.PartnerInvitationList
	if err := r.List(ctx, &using, client.MatchingFields{partnerinvitation.TenantIndex: tenant.RefTo(obj).Key()}); err != nil {
		return fmt.Errorf("list the PartnerInvitations using the tenant: %w", err)
	}
	organizations, err := r.organizationsIn(ctx, obj)
	if err != nil {
		return err
	}
	if missing := tenant.MissingPermissions(info.Roles, using.Items, organizations, r.Ownership); len(missing) > 0 {
		r.setCondition(obj, b2bv1alpha1.ConditionPermissionsGranted, metav1.ConditionFalse, b2bv1alpha1.ReasonPermissionsMissing, tenant.Describe(missing))
		return nil
	}
	r.setCondition(obj, b2bv1alpha1.ConditionPermissionsGranted, metav1.ConditionTrue, b2bv1alpha1.ReasonAllGranted,
		fmt.Sprintf("The token holds every permission the %d PartnerInvitations using this tenant need", len(using.Items)))
	return nil
}

// organizationsIn reports whether any PartnerOrganization is configured in the tenant: a
// ClusterGraphTenant its tenantRef names, or the default tenant (never a GraphTenant).
func (r *Reconciler) organizationsIn(ctx context.Context, obj b2bv1alpha1.TenantObject) (bool, error) {
	if r.Kind != b2bv1alpha1.KindClusterGraphTenant {
		return false, nil
	}
	var orgs b2bv1alpha1.PartnerOrganizationList
	if err := r.List(ctx, &orgs); err != nil {
		return false, fmt.Errorf("list the PartnerOrganizations: %w", err)
	}
	return slices.ContainsFunc(orgs.Items, func(o b2bv1alpha1.PartnerOrganization) bool {
		return o.Spec.TenantRef != nil && o.Spec.TenantRef.Name == obj.GetName()
	}), nil
}

// setCondition sets a condition at the object's generation, with an event when Ready changes.
func (r *Reconciler) setCondition(obj b2bv1alpha1.TenantObject, typ string, status metav1.ConditionStatus, reason, msg string) {
	st := obj.TenantStatus()
	old := meta.FindStatusCondition(st.Conditions, typ)
	if typ == b2bv1alpha1.ConditionReady && r.Recorder != nil && (old == nil || old.Status != status || old.Reason != reason) {
		kind := corev1.EventTypeNormal
		if status != metav1.ConditionTrue {
			kind = corev1.EventTypeWarning
		}
		r.Recorder.Eventf(obj, nil, kind, reason, "Verify", "%s", msg)
	}
	meta.SetStatusCondition(&st.Conditions, metav1.Condition{Type: typ, Status: status, Reason: reason, Message: msg, ObservedGeneration: obj.GetGeneration()})
	st.ObservedGeneration = obj.GetGeneration()
}

func (r *Reconciler) patchStatus(ctx context.Context, before, obj b2bv1alpha1.TenantObject) error {
	if err := r.Status().Patch(ctx, obj, client.MergeFrom(before)); err != nil {
		return client.IgnoreNotFound(fmt.Errorf("patch %s status: %w", tenant.RefTo(obj), err))
	}
	return nil
}

func (r *Reconciler) verifyInterval() time.Duration {
	if r.VerifyInterval > 0 {
		return r.VerifyInterval
	}
	return DefaultVerifyInterval
}

func (r *Reconciler) now() time.Time {
	if r.Clock == nil {
		return time.Now()
	}
	return r.Clock.Now()
}

// SetupWithManager watches the kind; a spec change verifies at once.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error {
	return ctrl.NewControllerManagedBy(mgr).
		For(r.newObject(), builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		Named(strings.ToLower(r.Kind)).
		Complete(r)
}
