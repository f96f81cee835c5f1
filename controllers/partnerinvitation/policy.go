package partnerinvitation

import (
	"context"
	"fmt"
	"sort"

	corev1 "k8s.io/api/core/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	b2bv1alpha1 "github.com/partnerops/partner-operator/api/v1alpha1"
	"github.com/partnerops/partner-operator/internal/organization"
	"github.com/partnerops/partner-operator/internal/policy"
)

// enforcePolicy checks the invitation itself against the policies that govern its namespace.
// Admission enforces the same rules; this catches objects admitted before a policy changed,
// and the count cap, which admission cannot see. A refused invitation makes no new Graph
// writes, and what this object granted earlier is taken back.
func (r *Reconciler) enforcePolicy(ctx context.Context, pinv *b2bv1alpha1.PartnerInvitation, f *findings) ([]*b2bv1alpha1.PartnerAccessPolicy, error) {
	selecting, err := r.selectingPolicies(ctx, pinv)
	if err != nil {
		return nil, err
	}
	index, err := r.placeInNamespace(ctx, pinv, selecting)
	if err != nil {
		return nil, err
	}
	v := policy.Invitation(selecting, r.opts().PolicyPosture, pinv.Namespace, pinv, index)
	if v == nil {
		return selecting, nil
	}
	if err := r.revokeAllAccess(ctx, pinv); err != nil {
		return nil, err
	}
	if pinv.Spec.Access != nil || pinv.Status.Access != nil {
		f.access = &accessOutcome{problems: []accessProblem{{b2bv1alpha1.ReasonPolicyDenied, v.String()}}}
	}
	// Stalled: the answer changes only when a person changes the policy, the namespace's
	// labels or the spec, and each of those requeues the object.
	return nil, &blockedError{reason: b2bv1alpha1.ReasonPolicyDenied, message: v.String(), stalled: true}
}

// selectingPolicies returns the PartnerAccessPolicies whose selector matches the object's
// namespace.
func (r *Reconciler) selectingPolicies(ctx context.Context, pinv *b2bv1alpha1.PartnerInvitation) ([]*b2bv1alpha1.PartnerAccessPolicy, error) {
	var policies b2bv1alpha1.PartnerAccessPolicyList
	if err := r.List(ctx, &policies); err != nil {
		return nil, fmt.Errorf("list PartnerAccessPolicies: %w", err)
	}
	if len(policies.Items) == 0 {
		return nil, nil // no namespace read needed
	}
	ns := &corev1.Namespace{}
	if err := r.Get(ctx, client.ObjectKey{Name: pinv.Namespace}, ns); err != nil {
		return nil, fmt.Errorf("get namespace %s: %w", pinv.Namespace, err)
	}
	// An invalid policy is ignored (policy.Selecting says why that is the safe side); its own
	// status says what is wrong, so this object only notes it.
	selecting, invalid := policy.Selecting(policies.Items, ns.Labels)
	for _, p := range invalid {
		ctrl.LoggerFrom(ctx).V(1).Info("ignoring an invalid PartnerAccessPolicy; its status says why", "policy", p.Name)
	}
	return selecting, nil
}

// placeInNamespace is the object's 0-based place among its namespace's invitations, oldest
// first, so a cap keeps the objects that were there first. It lists only when a cap applies.
func (r *Reconciler) placeInNamespace(ctx context.Context, pinv *b2bv1alpha1.PartnerInvitation, selecting []*b2bv1alpha1.PartnerAccessPolicy) (int, error) {
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

// policyRequests maps a policy change to every PartnerInvitation: policies change rarely, and
// which objects a change affects depends on namespace labels the map function would re-read.
func (r *Reconciler) policyRequests(ctx context.Context, _ client.Object) []reconcile.Request {
	var list b2bv1alpha1.PartnerInvitationList
	if err := r.List(ctx, &list); err != nil {
		return nil
	}
	return requestsFor(list.Items)
}

// organizationRequests maps a PartnerOrganization that appeared, went or changed its domains
// to the invitations to its domains, whose status.organization (and requireOrganization) it
// decides.
func (r *Reconciler) organizationRequests(ctx context.Context, o client.Object) []reconcile.Request {
	org, ok := o.(*b2bv1alpha1.PartnerOrganization)
	if !ok {
		return nil
	}
	invs, err := organization.Invitations(ctx, r.Client, org)
	if err != nil {
		return nil
	}
	return requestsFor(invs)
}

// observeOrganization sets status.organization from the cache: the organization whose domains
// hold the address.
func (r *Reconciler) observeOrganization(ctx context.Context, pinv *b2bv1alpha1.PartnerInvitation) error {
	org, err := organization.ForDomain(ctx, r.Client, organization.DomainOf(pinv.Spec.Email))
	if err != nil {
		return err
	}
	pinv.Status.Organization = ""
	if org != nil && org.DeletionTimestamp.IsZero() {
		pinv.Status.Organization = org.Name
	}
	return nil
}

// namespaceRequests maps a namespace whose labels changed to its PartnerInvitations.
func (r *Reconciler) namespaceRequests(ctx context.Context, o client.Object) []reconcile.Request {
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
