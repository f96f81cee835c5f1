// Package partneraccesspolicy reports whether the operator applies each PartnerAccessPolicy,
// and lists in a policy that requires an organization the domains admission then admits.
// The policies themselves are evaluated where they apply: internal/policy, called by the
// PartnerInvitation reconciler, and the admission policy in config/policy.
package partneraccesspolicy

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"

	b2bv1alpha1 "github.com/partnerops/partner-operator/api/v1alpha1"
	"github.com/partnerops/partner-operator/internal/organization"
	"github.com/partnerops/partner-operator/internal/signin"
)

// Reconciler reports in each policy's Ready condition whether the operator
// applies it. The API server refuses invalid policies today; one admitted before a rule existed
// is ignored by policy.Selecting, and this condition is where its owner learns why.
type Reconciler struct {
	Client client.Client
	// SignIns is every tenant's sign-in reads, for the SignInActivity condition of policies
	// with spec.inactivity; nil: none are read.
	SignIns *signin.Registry
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
	if p.Spec.Inactivity != nil {
		changed = meta.SetStatusCondition(&p.Status.Conditions, signInActivity(r.SignIns.States(), p.Generation)) || changed
	} else {
		changed = meta.RemoveStatusCondition(&p.Status.Conditions, b2bv1alpha1.ConditionSignInActivity) || changed
	}
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

// signInActivity says whether every tenant's sign-ins are read: inactivity is enforced only
// where they are. The message leaves the read times out, so that a read does not write
// every policy's status.
func signInActivity(states []signin.State, generation int64) metav1.Condition {
	c := metav1.Condition{Type: b2bv1alpha1.ConditionSignInActivity, ObservedGeneration: generation, Status: metav1.ConditionFalse}
	if len(states) == 0 {
		c.Reason, c.Message = b2bv1alpha1.ReasonSignInsDisabled, "No tenant's sign-in activity is read (--sign-in-interval=0): inactivity is not enforced"
		return c
	}
	rank := map[string]int{b2bv1alpha1.ReasonSignInsNotRead: 1, b2bv1alpha1.ReasonNoPremiumLicense: 2, b2bv1alpha1.ReasonPermissionDenied: 3}
	var read, unread []string
	for _, s := range states {
		if s.Reason == b2bv1alpha1.ReasonSignInsRead {
			read = append(read, s.Tenant)
			continue
		}
		unread = append(unread, fmt.Sprintf("%s (%s: %s)", s.Tenant, s.Reason, s.Message))
		if rank[s.Reason] > rank[c.Reason] {
			c.Reason = s.Reason
		}
	}
	if len(unread) == 0 {
		c.Status, c.Reason = metav1.ConditionTrue, b2bv1alpha1.ReasonSignInsRead
		c.Message = "Sign-in activity is read in every tenant: " + strings.Join(read, ", ")
		return c
	}
	c.Message = "Sign-in activity is not read in " + strings.Join(unread, "; ")
	if len(read) > 0 {
		c.Message += "; it is read in " + strings.Join(read, ", ")
	}
	return c
}

// SetupWithManager reconciles a policy when its spec changes, the policies that require an
// organization when an organization appears, goes or changes its domains, and the policies
// with inactivity when a tenant's sign-in reads change.
func (r *Reconciler) SetupWithManager(mgr ctrl.Manager) error {
	b := ctrl.NewControllerManagedBy(mgr).
		For(&b2bv1alpha1.PartnerAccessPolicy{}, builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		Watches(&b2bv1alpha1.PartnerOrganization{}, handler.EnqueueRequestsFromMapFunc(r.policies(func(s *b2bv1alpha1.PartnerAccessPolicySpec) bool { return s.RequireOrganization })),
			builder.WithPredicates(predicate.Or(predicate.GenerationChangedPredicate{}, organization.MarkedForDeletion())))
	if r.SignIns != nil {
		b = b.WatchesRawSource(source.Channel(r.SignIns.Events(), handler.EnqueueRequestsFromMapFunc(r.policies(func(s *b2bv1alpha1.PartnerAccessPolicySpec) bool { return s.Inactivity != nil }))))
	}
	return b.Named("partneraccesspolicy").Complete(r)
}

// policies maps any event to the policies whose spec matches.
func (r *Reconciler) policies(match func(*b2bv1alpha1.PartnerAccessPolicySpec) bool) handler.MapFunc {
	return func(ctx context.Context, _ client.Object) []reconcile.Request {
		var list b2bv1alpha1.PartnerAccessPolicyList
		if err := r.Client.List(ctx, &list); err != nil {
			return nil
		}
		var out []reconcile.Request
		for i := range list.Items {
			if match(&list.Items[i].Spec) {
				out = append(out, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&list.Items[i])})
			}
		}
		return out
	}
}
