package partneraccesspolicy

import (
	"context"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	b2bv1alpha1 "github.com/partnerops/partner-operator/api/v1alpha1"
	"github.com/partnerops/partner-operator/internal/signin"
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

func TestSignInActivityNamesEachTenantNotRead(t *testing.T) {
	for _, tc := range []struct {
		name       string
		states     []signin.State
		wantStatus metav1.ConditionStatus
		wantReason string
		mentions   []string
	}{
		{"none read", nil, metav1.ConditionFalse, b2bv1alpha1.ReasonSignInsDisabled, []string{"--sign-in-interval"}},
		{"all read", []signin.State{{Tenant: "default", Reason: b2bv1alpha1.ReasonSignInsRead}, {Tenant: "ClusterGraphTenant/b", Reason: b2bv1alpha1.ReasonSignInsRead}},
			metav1.ConditionTrue, b2bv1alpha1.ReasonSignInsRead, []string{"default", "ClusterGraphTenant/b"}},
		{"one without the permission, one without the licence", []signin.State{
			{Tenant: "default", Reason: b2bv1alpha1.ReasonNoPremiumLicense, Message: "no P1"},
			{Tenant: "ClusterGraphTenant/b", Reason: b2bv1alpha1.ReasonPermissionDenied, Message: "lacks AuditLog.Read.All"},
			{Tenant: "ClusterGraphTenant/c", Reason: b2bv1alpha1.ReasonSignInsRead},
		}, metav1.ConditionFalse, b2bv1alpha1.ReasonPermissionDenied, []string{"default (NoPremiumLicense: no P1)", "ClusterGraphTenant/b (PermissionDenied: lacks AuditLog.Read.All)", "read in ClusterGraphTenant/c"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := signInActivity(tc.states, 4)
			if c.Status != tc.wantStatus || c.Reason != tc.wantReason || c.ObservedGeneration != 4 {
				t.Errorf("condition %+v, want %s/%s for generation 4", c, tc.wantStatus, tc.wantReason)
			}
			for _, m := range tc.mentions {
				if !strings.Contains(c.Message, m) {
					t.Errorf("message %q does not name %q", c.Message, m)
				}
			}
		})
	}
}

// The condition is on policies with inactivity only, and goes when inactivity does.
func TestSignInActivityOnlyWithInactivity(t *testing.T) {
	reg := signin.NewRegistry()
	reg.Add("default").Set(b2bv1alpha1.ReasonNoPremiumLicense, "no P1", time.Time{})
	p := &b2bv1alpha1.PartnerAccessPolicy{ObjectMeta: metav1.ObjectMeta{Name: "p", Generation: 1},
		Spec: b2bv1alpha1.PartnerAccessPolicySpec{Inactivity: &b2bv1alpha1.InactivityRule{After: metav1.Duration{Duration: time.Hour}}}}
	c := fake.NewClientBuilder().WithScheme(testScheme(t)).WithObjects(p).WithStatusSubresource(&b2bv1alpha1.PartnerAccessPolicy{}).Build()
	r := &Reconciler{Client: c, SignIns: reg}
	get := func() *b2bv1alpha1.PartnerAccessPolicy {
		got := &b2bv1alpha1.PartnerAccessPolicy{}
		if err := c.Get(context.Background(), types.NamespacedName{Name: "p"}, got); err != nil {
			t.Fatal(err)
		}
		return got
	}
	if _, err := r.Reconcile(context.Background(), ctrl.Request{NamespacedName: types.NamespacedName{Name: "p"}}); err != nil {
		t.Fatal(err)
	}
	if cond := meta.FindStatusCondition(get().Status.Conditions, b2bv1alpha1.ConditionSignInActivity); cond == nil || cond.Reason != b2bv1alpha1.ReasonNoPremiumLicense {
		t.Fatalf("SignInActivity %+v, want NoPremiumLicense", cond)
	}
	got := get()
	got.Spec.Inactivity = nil
	got.Generation = 2
	if err := c.Update(context.Background(), got); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Reconcile(context.Background(), ctrl.Request{NamespacedName: types.NamespacedName{Name: "p"}}); err != nil {
		t.Fatal(err)
	}
	if cond := meta.FindStatusCondition(get().Status.Conditions, b2bv1alpha1.ConditionSignInActivity); cond != nil {
		t.Errorf("SignInActivity %+v on a policy without inactivity", cond)
	}
}
