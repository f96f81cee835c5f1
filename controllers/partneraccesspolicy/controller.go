// Package partneraccesspolicy reports whether the operator applies each PartnerAccessPolicy.
// The policies themselves are evaluated where they apply: internal/policy, called by the
// PartnerInvitation reconciler, and the admission policy in config/policy.
package partneraccesspolicy

import (
	"context"
	"fmt"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	b2bv1alpha1 "github.com/partnerops/partner-operator/api/v1alpha1"
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
	if !meta.SetStatusCondition(&p.Status.Conditions, ready) && before.Status.ObservedGeneration == p.Generation {
		return ctrl.Result{}, nil
	}
	// Optimistic lock: a status computed from an older spec is not written over a newer one.
	err := r.Client.Status().Patch(ctx, &p, client.MergeFromWithOptions(before, client.MergeFromWithOptimisticLock{}))
	if client.IgnoreNotFound(err) != nil {
		return ctrl.Result{}, fmt.Errorf("patch PartnerAccessPolicy status: %w", err)
	}
	return ctrl.Result{}, nil
}

// SetupWithManager reconciles a policy when its spec changes.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error {
	return ctrl.NewControllerManagedBy(mgr).
		For(&b2bv1alpha1.PartnerAccessPolicy{}, builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		Named("partneraccesspolicy").
		Complete(r)
}
