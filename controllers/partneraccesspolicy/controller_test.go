package partneraccesspolicy

import (
	"context"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	b2bv1alpha1 "github.com/partnerops/partner-operator/api/v1alpha1"
)

// A policy stored before a rule existed (the fake client has no CEL, as such an object had
// none) is reported Invalid, naming the field; a valid one Ready, for the generation read.
func TestPolicyReadyCondition(t *testing.T) {
	for _, tc := range []struct {
		name        string
		spec        b2bv1alpha1.PartnerAccessPolicySpec
		wantStatus  metav1.ConditionStatus
		wantReason  string
		wantMention string
	}{
		{"valid", b2bv1alpha1.PartnerAccessPolicySpec{AllowedDomains: []string{"contoso.com"}},
			metav1.ConditionTrue, b2bv1alpha1.ReasonValid, ""},
		{"domain with @", b2bv1alpha1.PartnerAccessPolicySpec{AllowedDomains: []string{"@contoso.com"}},
			metav1.ConditionFalse, b2bv1alpha1.ReasonInvalid, "spec.allowedDomains[0]"},
		{"selector operator", b2bv1alpha1.PartnerAccessPolicySpec{NamespaceSelector: metav1.LabelSelector{
			MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "team", Operator: "Near", Values: []string{"a"}}}}},
			metav1.ConditionFalse, b2bv1alpha1.ReasonInvalid, "spec.namespaceSelector.matchExpressions"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := &b2bv1alpha1.PartnerAccessPolicy{ObjectMeta: metav1.ObjectMeta{Name: "p", Generation: 3}, Spec: tc.spec}
			c := fake.NewClientBuilder().WithScheme(testScheme(t)).WithObjects(p).
				WithStatusSubresource(&b2bv1alpha1.PartnerAccessPolicy{}).Build()
			r := &Reconciler{Client: c}
			if _, err := r.Reconcile(context.Background(), ctrl.Request{NamespacedName: types.NamespacedName{Name: "p"}}); err != nil {
				t.Fatalf("Reconcile: %v", err)
			}
			var got b2bv1alpha1.PartnerAccessPolicy
			if err := c.Get(context.Background(), types.NamespacedName{Name: "p"}, &got); err != nil {
				t.Fatal(err)
			}
			ready := meta.FindStatusCondition(got.Status.Conditions, b2bv1alpha1.ConditionReady)
			if ready == nil {
				t.Fatalf("no Ready condition: %+v", got.Status)
			}
			if ready.Status != tc.wantStatus || ready.Reason != tc.wantReason {
				t.Errorf("Ready = %s/%s (%q), want %s/%s", ready.Status, ready.Reason, ready.Message, tc.wantStatus, tc.wantReason)
			}
			if !strings.Contains(ready.Message, tc.wantMention) {
				t.Errorf("Ready message %q does not name %q", ready.Message, tc.wantMention)
			}
			if ready.ObservedGeneration != 3 || got.Status.ObservedGeneration != 3 {
				t.Errorf("observedGeneration = %d (condition %d), want 3", got.Status.ObservedGeneration, ready.ObservedGeneration)
			}
		})
	}
}

func testScheme(t *testing.T) *runtime.Scheme {
	t.Helper()
	s := runtime.NewScheme()
	if err := b2bv1alpha1.AddToScheme(s); err != nil {
		t.Fatal(err)
	}
	return s
}
