package controllers

import (
	"context"
	"fmt"
	"sort"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	b2bv1alpha1 "github.com/partnerops/partner-operator/api/v1alpha1"
	"github.com/partnerops/partner-operator/internal/policy"
)

// evaluatePolicy finds the PartnerAccessPolicies that govern the object's namespace and checks
// the invitation itself against them. Admission enforces the same rules; this catches objects
// admitted before a policy changed, and the count cap, which admission cannot see.
func (r *PartnerInvitationReconciler) evaluatePolicy(ctx context.Context, pinv *b2bv1alpha1.PartnerInvitation) ([]*b2bv1alpha1.PartnerAccessPolicy, *policy.Violation, error) {
	var policies b2bv1alpha1.PartnerAccessPolicyList
	if err := r.List(ctx, &policies); err != nil {
		return nil, nil, fmt.Errorf("list PartnerAccessPolicies: %w", err)
	}
	posture := r.opts().PolicyPosture
	if len(policies.Items) == 0 && posture != policy.DenyUnselected {
		return nil, nil, nil // the common case without policies costs no namespace read
	}
	ns := &corev1.Namespace{}
	if err := r.Get(ctx, client.ObjectKey{Name: pinv.Namespace}, ns); err != nil {
		return nil, nil, fmt.Errorf("get namespace %s: %w", pinv.Namespace, err)
	}
	selecting, err := policy.Selecting(policies.Items, ns.Labels)
	if err != nil {
		return nil, nil, err
	}
	index, err := r.placeInNamespace(ctx, pinv, selecting)
	if err != nil {
		return nil, nil, err
	}
	return selecting, policy.Invitation(selecting, posture, pinv.Namespace, pinv, index), nil
}

// placeInNamespace is the object's 0-based place among its namespace's invitations, oldest
// first, so a cap keeps the objects that were there first. It lists only when a cap applies.
func (r *PartnerInvitationReconciler) placeInNamespace(ctx context.Context, pinv *b2bv1alpha1.PartnerInvitation, selecting []*b2bv1alpha1.PartnerAccessPolicy) (int, error) {
	capped := false
	for _, p := range selecting {
		capped = capped || p.Spec.MaxInvitationsPerNamespace != nil
	}
	if !capped {
		return 0, nil
	}
	var list b2bv1alpha1.PartnerInvitationList
	if err := r.List(ctx, &list, client.InNamespace(pinv.Namespace)); err != nil {
		return 0, fmt.Errorf("list PartnerInvitations in %s: %w", pinv.Namespace, err)
	}
	items := list.Items
	sort.Slice(items, func(i, j int) bool { return olderThan(&items[i], &items[j]) })
	for i := range items {
		if items[i].UID == pinv.UID {
			return i, nil
		}
	}
	return len(items), nil
}

// markPolicyDenied reports a refused invitation. It is not Stalled: the answer changes when
// the policy or the namespace's labels do, and those changes requeue the object.
func (r *PartnerInvitationReconciler) markPolicyDenied(pinv *b2bv1alpha1.PartnerInvitation, v *policy.Violation) {
	setCondition(pinv, b2bv1alpha1.ConditionReady, metav1.ConditionFalse, b2bv1alpha1.ReasonPolicyDenied, v.String())
	if pinv.Status.UserID == "" {
		setCondition(pinv, b2bv1alpha1.ConditionInvited, metav1.ConditionFalse, b2bv1alpha1.ReasonPolicyDenied, v.String())
	}
}

// policyRequests maps a policy change to every PartnerInvitation: policies change rarely, and
// which objects a change affects depends on namespace labels the map function would re-read.
func (r *PartnerInvitationReconciler) policyRequests(ctx context.Context, _ client.Object) []reconcile.Request {
	var list b2bv1alpha1.PartnerInvitationList
	if err := r.List(ctx, &list); err != nil {
		return nil
	}
	return requestsFor(list.Items)
}

// namespaceRequests maps a namespace whose labels changed to its PartnerInvitations.
func (r *PartnerInvitationReconciler) namespaceRequests(ctx context.Context, o client.Object) []reconcile.Request {
	var list b2bv1alpha1.PartnerInvitationList
	if err := r.List(ctx, &list, client.InNamespace(o.GetName())); err != nil {
		return nil
	}
	return requestsFor(list.Items)
}

func requestsFor(items []b2bv1alpha1.PartnerInvitation) []reconcile.Request {
	out := make([]reconcile.Request, 0, len(items))
	for i := range items {
		out = append(out, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&items[i])})
	}
	return out
}
