package partnerinvitation

import (
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	b2bv1alpha1 "github.com/partnerops/partner-operator/api/v1alpha1"
)

func TestEffectiveExpiryIsTheEarliestLimit(t *testing.T) {
	day := 24 * time.Hour
	invited := testNow.Add(-10 * day)
	policy := func(name string, maxAccess, pending time.Duration) *b2bv1alpha1.PartnerAccessPolicy {
		p := &b2bv1alpha1.PartnerAccessPolicy{ObjectMeta: metav1.ObjectMeta{Name: name}}
		if maxAccess > 0 {
			p.Spec.MaxAccessDuration = &metav1.Duration{Duration: maxAccess}
		}
		if pending > 0 {
			p.Spec.PendingTimeout = &metav1.Duration{Duration: pending}
		}
		return p
	}
	sent := func(st b2bv1alpha1.InvitationState, redeemed *time.Time, resent *time.Time) func(*b2bv1alpha1.PartnerInvitation) {
		return func(p *b2bv1alpha1.PartnerInvitation) {
			p.Status.InvitedAt = ptr.To(metav1.NewTime(invited))
			p.Status.State = st
			if redeemed != nil {
				p.Status.RedeemedAt = ptr.To(metav1.NewTime(*redeemed))
			}
			if resent != nil {
				p.Status.LastSentAt = ptr.To(metav1.NewTime(*resent))
			}
		}
	}
	expiresIn := func(d time.Duration) func(*b2bv1alpha1.PartnerInvitation) {
		return func(p *b2bv1alpha1.PartnerInvitation) { p.Spec.ExpiresAt = ptr.To(metav1.NewTime(testNow.Add(d))) }
	}
	early := invited.Add(day)
	late := invited.Add(8 * day)
	resent := testNow.Add(-day)

	cases := map[string]struct {
		pinv      *b2bv1alpha1.PartnerInvitation
		policies  []*b2bv1alpha1.PartnerAccessPolicy
		want      time.Time
		source    string
		byPending bool
	}{
		"none":      {pinv: invitation(sent(b2bv1alpha1.StateAccepted, nil, nil))},
		"spec only": {pinv: invitation(expiresIn(30 * day)), want: testNow.Add(30 * day), source: "spec.expiresAt"},
		"the policy cap is earlier than the spec": {
			pinv:     invitation(sent(b2bv1alpha1.StateAccepted, nil, nil), expiresIn(100*day)),
			policies: []*b2bv1alpha1.PartnerAccessPolicy{policy("consultants", 90*day, 0)},
			want:     invited.Add(90 * day), source: "PartnerAccessPolicy consultants maxAccessDuration",
		},
		"the strictest of two policies": {
			pinv:     invitation(sent(b2bv1alpha1.StateAccepted, nil, nil)),
			policies: []*b2bv1alpha1.PartnerAccessPolicy{policy("a", 90*day, 0), policy("b", 30*day, 0)},
			want:     invited.Add(30 * day), source: "PartnerAccessPolicy b",
		},
		"the cap of an adopted guest counts from the object's creation": {
			pinv:     invitation(),
			policies: []*b2bv1alpha1.PartnerAccessPolicy{policy("a", 90*day, 0)},
			want:     testNow.Add(-time.Hour).Add(90 * day), source: "maxAccessDuration",
		},
		"pending past the timeout": {
			pinv:     invitation(sent(b2bv1alpha1.StatePendingAcceptance, nil, nil)),
			policies: []*b2bv1alpha1.PartnerAccessPolicy{policy("p", 0, 7*day)},
			want:     invited.Add(7 * day), source: "pendingTimeout", byPending: true,
		},
		"redeemed in time: no pending timeout": {
			pinv:     invitation(sent(b2bv1alpha1.StateAccepted, &early, nil)),
			policies: []*b2bv1alpha1.PartnerAccessPolicy{policy("p", 0, 7*day)},
		},
		"redeemed after the timeout: it stays": {
			pinv:     invitation(sent(b2bv1alpha1.StateAccepted, &late, nil)),
			policies: []*b2bv1alpha1.PartnerAccessPolicy{policy("p", 0, 7*day)},
			want:     invited.Add(7 * day), source: "pendingTimeout", byPending: true,
		},
		"a resend starts the pending time again": {
			pinv:     invitation(sent(b2bv1alpha1.StatePendingAcceptance, nil, &resent)),
			policies: []*b2bv1alpha1.PartnerAccessPolicy{policy("p", 0, 7*day)},
			want:     resent.Add(7 * day), source: "pendingTimeout", byPending: true,
		},
		"never sent (adopted): no pending timeout": {
			pinv:     invitation(func(p *b2bv1alpha1.PartnerInvitation) { p.Status.State = b2bv1alpha1.StatePendingAcceptance }),
			policies: []*b2bv1alpha1.PartnerAccessPolicy{policy("p", 0, 7*day)},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got := effectiveExpiry(tc.pinv, tc.policies)
			if !got.at.Equal(tc.want) {
				t.Fatalf("expiry at %v, want %v (source %q)", got.at, tc.want, got.source)
			}
			if !strings.Contains(got.source, tc.source) || got.byPendingTimeout != tc.byPending {
				t.Errorf("source %q (pending %v), want it to name %q (pending %v)", got.source, got.byPendingTimeout, tc.source, tc.byPending)
			}
		})
	}
}

func TestUntilExpiryEventWarnsThenExpires(t *testing.T) {
	exp := expiry{at: testNow.Add(10 * 24 * time.Hour)}
	week := 7 * 24 * time.Hour
	if got := untilExpiryEvent(exp, testNow, week); got != 3*24*time.Hour {
		t.Errorf("before the window: next event in %v, want the window's start in 72h", got)
	}
	if got := untilExpiryEvent(exp, testNow.Add(5*24*time.Hour), week); got != 5*24*time.Hour {
		t.Errorf("inside the window: next event in %v, want the expiry in 120h", got)
	}
	if got := untilExpiryEvent(exp, exp.at, week); got != 0 {
		t.Errorf("at the expiry: %v, want 0 (nothing ahead)", got)
	}
	if got := untilExpiryEvent(expiry{}, testNow, week); got != 0 {
		t.Errorf("no expiry: %v, want 0", got)
	}
}
