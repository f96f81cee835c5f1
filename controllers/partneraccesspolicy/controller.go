// Package partneraccesspolicy reports whether the operator applies each PartnerAccessPolicy,
// and lists in a policy that requires an organization the domains admission then admits.
// The policies themselves are evaluated where they apply: internal/policy, called by the
// PartnerInvitation reconciler, and the admission policy in config/policy.
package partneraccesspolicy

import (
	"context"
	"fmt"
	"slices"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	b2bv1alpha1 "github.com/partnerops/partner-operator/api/v1alpha1"
	"github.com/partnerops/partner-operator/internal/organization"
)

// Reconciler reports in each policy's Ready condition whether the operator
// applies it. The API server refuses invalid policies today; one admitted before a rule existed
// is ignored by policy.Selecting, and this condition is where its owner learns why.
type Reconciler struct {
	Client client.Client
}

// +kubebuilder:rbac:groups=b2b.partnerops.io,resources=partneraccesspolicies/status,verbs=patch

// Reconcile sets Ready from ValidatePolicySpec, for the generation it read.
func (r *Reconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	var p b2bv1alpha1.PartnerAccessPolicy
	if err := r.Client.Get(ctx, req.NamespacedName, &p); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	errs := b2bv1alpha1.ValidatePolicySpec(&p.Spec, field.NewPath("spec"))
	ready := metav1.Condition{
		Type:               b2bv1alpha1.ConditionReady,
		Status:             metav1.ConditionTrue,
		Reason:             b2bv1alpha1.ReasonValid,
		Message:            b2bv1alpha1.PolicyReadyMessage(errs),
		ObservedGeneration: p.Generation,
	}
	if len(errs) > 0 {
		ready.Status, ready.Reason = metav1.ConditionFalse, b2bv1alpha1.ReasonInvalid
	}
	before := p.DeepCopy()
	p.Status.ObservedGeneration = p.Generation
	p.Status.OrganizationDomains = nil
	if p.Spec.RequireOrganization {
		domains, err := organization.AllDomains(ctx, r.Client)
		if err != nil {
			return ctrl.Result{}, err
		}
		p.Status.OrganizationDomains = domains
	}
	changed := meta.SetStatusCondition(&p.Status.Conditions, ready)
	if !changed && before.Status.ObservedGeneration == p.Generation && slices.Equal(before.Status.OrganizationDomains, p.Status.OrganizationDomains) {
		return ctrl.Result{}, nil
	}
	// Optimistic lock: a status computed from an older spec is not written over a newer one.
	err := r.Client.Status().Patch(ctx, &p, client.MergeFromWithOptions(before, client.MergeFromWithOptimisticLock{}))
	if client.IgnoreNotFound(err) != nil {
		return ctrl.Result{}, fmt.Errorf("patch PartnerAccessPolicy status: %w", err)
	}
	return ctrl.Result{}, nil
}

// SetupWithManager reconciles a policy when its spec changes, and the policies that require an
// organization when an organization appears, goes or changes its domains.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error {
	return ctrl.NewControllerManagedBy(mgr).
		For(&b2bv1alpha1.PartnerAccessPolicy{}, builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		Watches(&b2bv1alpha1.PartnerOrganization{}, handler.EnqueueRequestsFromMapFunc(r.requiringOrganization),
			builder.WithPredicates(predicate.Or(predicate.GenerationChangedPredicate{}, organization.MarkedForDeletion()))).
		Named("partneraccesspolicy").
		Complete(r)
}

func (r *Reconciler) requiringOrganization(ctx context.Context, _ client.Object) []reconcile.Request {
	var list b2bv1alpha1.PartnerAccessPolicyList
	if err := r.Client.List(ctx, &list); err != nil {
		return nil
	}
	var out []reconcile.Request
	for i := range list.Items {
		if list.Items[i].Spec.RequireOrganization {
			out = append(out, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&list.Items[i])})
		}
	}
	return out
}
