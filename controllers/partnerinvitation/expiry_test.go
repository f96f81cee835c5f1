package partnerinvitation

import (
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	b2bv1alpha1 "github.com/partnerops/partner-operator/api/v1alpha1"
	"github.com/partnerops/partner-operator/internal/signin"
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
			got := effectiveExpiry(tc.pinv, tc.policies, testNow, nil)
			if !got.at.Equal(tc.want) {
				t.Fatalf("expiry at %v, want %v (source %q)", got.at, tc.want, got.source)
			}
			if byPending := got.rule == b2bv1alpha1.RulePendingTimeout; !strings.Contains(got.source, tc.source) || byPending != tc.byPending {
				t.Errorf("source %q (pending %v), want it to name %q (pending %v)", got.source, byPending, tc.source, tc.byPending)
			}
		})
	}
}

func TestUntilExpiryEventWarnsThenExpires(t *testing.T) {
	exp := expiry{at: testNow.Add(10 * 24 * time.Hour)}
	week := 7 * 24 * time.Hour
	if got := untilExpiryEvent(exp, testNow, week, time.Minute); got != 3*24*time.Hour {
		t.Errorf("before the window: next event in %v, want the window's start in 72h", got)
	}
	if got := untilExpiryEvent(exp, testNow.Add(5*24*time.Hour), week, time.Minute); got != 5*24*time.Hour {
		t.Errorf("inside the window: next event in %v, want the expiry in 120h", got)
	}
	if got := untilExpiryEvent(exp, exp.at, week, time.Minute); got != 0 {
		t.Errorf("at the expiry: %v, want 0 (nothing ahead)", got)
	}
	if got := untilExpiryEvent(expiry{}, testNow, week, time.Minute); got != 0 {
		t.Errorf("no expiry: %v, want 0", got)
	}
	waiting := expiry{at: testNow.Add(-time.Hour), rule: b2bv1alpha1.RuleInactivity, unconfirmed: true}
	if got := untilExpiryEvent(waiting, testNow, week, time.Minute); got != time.Minute {
		t.Errorf("an inactivity deadline waiting for a read: %v, want the recheck (1m)", got)
	}
}

func TestInactivityAndRecertification(t *testing.T) {
	day := 24 * time.Hour
	invited := testNow.Add(-100 * day)
	redeemed := invited.Add(day)
	lifecycle := func(inactive, recertify time.Duration, action b2bv1alpha1.ExpiryAction) *b2bv1alpha1.PartnerAccessPolicy {
		p := &b2bv1alpha1.PartnerAccessPolicy{ObjectMeta: metav1.ObjectMeta{Name: "lifecycle"}}
		if inactive > 0 {
			p.Spec.Inactivity = &b2bv1alpha1.InactivityRule{After: metav1.Duration{Duration: inactive}, Action: action, Warn: &metav1.Duration{Duration: 14 * day}}
		}
		if recertify > 0 {
			p.Spec.Recertification = &b2bv1alpha1.RecertificationRule{Every: metav1.Duration{Duration: recertify}}
		}
		return p
	}
	guest := func(opts ...func(*b2bv1alpha1.PartnerInvitation)) *b2bv1alpha1.PartnerInvitation {
		return invitation(append([]func(*b2bv1alpha1.PartnerInvitation){func(p *b2bv1alpha1.PartnerInvitation) {
			p.Status.InvitedAt = ptr.To(metav1.NewTime(invited))
			p.Status.RedeemedAt = ptr.To(metav1.NewTime(redeemed))
			p.Status.State = b2bv1alpha1.StateAccepted
		}}, opts...)...)
	}
	signedIn := func(at time.Time) func(*b2bv1alpha1.PartnerInvitation) {
		return func(p *b2bv1alpha1.PartnerInvitation) { p.Status.LastSignInAt = ptr.To(metav1.NewTime(at)) }
	}
	recertified := func(at time.Time) func(*b2bv1alpha1.PartnerInvitation) {
		return func(p *b2bv1alpha1.PartnerInvitation) {
			p.Spec.Recertification = &b2bv1alpha1.Recertification{At: metav1.NewTime(at), By: "jane@example.com", Reason: "project runs to June"}
		}
	}
	actedOn := func(at time.Time) func(*b2bv1alpha1.PartnerInvitation) {
		return func(p *b2bv1alpha1.PartnerInvitation) {
			p.Status.Expiry = &b2bv1alpha1.ExpiryStatus{Action: b2bv1alpha1.ExpiryRevokeAccess, At: metav1.NewTime(at), Rule: b2bv1alpha1.RuleInactivity}
		}
	}
	reg := signin.NewRegistry()
	read := reg.Add("default")
	read.Set(b2bv1alpha1.ReasonSignInsRead, "", testNow)
	stale := reg.Add("stale")
	stale.Set(b2bv1alpha1.ReasonSignInsRead, "", testNow.Add(-20*day))
	unlicensed := reg.Add("unlicensed")
	unlicensed.Set(b2bv1alpha1.ReasonNoPremiumLicense, "no licence", time.Time{})

	cases := map[string]struct {
		pinv     *b2bv1alpha1.PartnerInvitation
		policy   *b2bv1alpha1.PartnerAccessPolicy
		signIns  *signin.Activity
		want     time.Time
		rule     b2bv1alpha1.ExpiryRule
		action   b2bv1alpha1.ExpiryAction
		passed   bool
		awaiting bool
	}{
		"inactive since the redemption": {
			pinv: guest(), policy: lifecycle(90*day, 0, b2bv1alpha1.ExpiryDisable), signIns: read,
			want: redeemed.Add(90 * day), rule: b2bv1alpha1.RuleInactivity, action: b2bv1alpha1.ExpiryDisable, passed: true,
		},
		"a sign-in resets the clock": {
			pinv: guest(signedIn(testNow.Add(-10 * day))), policy: lifecycle(90*day, 0, ""), signIns: read,
			want: testNow.Add(80 * day), rule: b2bv1alpha1.RuleInactivity, action: b2bv1alpha1.ExpiryRevokeAccess,
		},
		"a recertification resets it too": {
			pinv: guest(recertified(testNow.Add(-day))), policy: lifecycle(90*day, 0, ""), signIns: read,
			want: testNow.Add(89 * day), rule: b2bv1alpha1.RuleInactivity, action: b2bv1alpha1.ExpiryRevokeAccess,
		},
		"a sign-in after inactivity acted does not undo it": {
			pinv: guest(signedIn(testNow.Add(-day)), actedOn(redeemed.Add(90*day))), policy: lifecycle(90*day, 0, ""), signIns: read,
			want: redeemed.Add(90 * day), rule: b2bv1alpha1.RuleInactivity, action: b2bv1alpha1.ExpiryRevokeAccess, passed: true,
		},
		"a deleted guest stays deleted until recertified, even where sign-ins are no longer read": {
			pinv: guest(actedOn(redeemed.Add(90*day)), func(p *b2bv1alpha1.PartnerInvitation) {
				p.Status.State, p.Status.RedeemedAt, p.Status.UserID = "", nil, ""
			}), policy: lifecycle(90*day, 0, b2bv1alpha1.ExpiryDelete), signIns: unlicensed,
			want: redeemed.Add(90 * day), rule: b2bv1alpha1.RuleInactivity, action: b2bv1alpha1.ExpiryDelete, passed: true,
		},
		"recertified after inactivity acted: the clock starts again": {
			pinv: guest(actedOn(redeemed.Add(90*day)), recertified(testNow.Add(-day))), policy: lifecycle(90*day, 0, ""), signIns: read,
			want: testNow.Add(89 * day), rule: b2bv1alpha1.RuleInactivity, action: b2bv1alpha1.ExpiryRevokeAccess,
		},
		"no read since the deadline: it waits": {
			pinv: guest(), policy: lifecycle(90*day, 0, ""), signIns: stale,
			want: redeemed.Add(90 * day), rule: b2bv1alpha1.RuleInactivity, action: b2bv1alpha1.ExpiryRevokeAccess, awaiting: true,
		},
		"without the licence inactivity is not enforced": {
			pinv: guest(), policy: lifecycle(90*day, 0, ""), signIns: unlicensed,
		},
		"sign-ins not read at all: not enforced": {
			pinv: guest(), policy: lifecycle(90*day, 0, ""),
		},
		"never redeemed: pendingTimeout's, not inactivity's": {
			pinv: guest(func(p *b2bv1alpha1.PartnerInvitation) {
				p.Status.State, p.Status.RedeemedAt = b2bv1alpha1.StatePendingAcceptance, nil
			}),
			policy: lifecycle(90*day, 0, ""), signIns: read,
		},
		"recertification due from the invitation": {
			pinv: guest(), policy: lifecycle(0, 180*day, ""), signIns: read,
			want: invited.Add(180 * day), rule: b2bv1alpha1.RuleRecertification, action: b2bv1alpha1.ExpiryRevokeAccess,
		},
		"overdue, then recertified": {
			pinv: guest(recertified(testNow.Add(-time.Hour))), policy: lifecycle(0, 60*day, ""),
			want: testNow.Add(-time.Hour).Add(60 * day), rule: b2bv1alpha1.RuleRecertification, action: b2bv1alpha1.ExpiryRevokeAccess,
		},
		"a recertification dated in the future does not count": {
			pinv: guest(recertified(testNow.Add(day))), policy: lifecycle(0, 60*day, ""),
			want: invited.Add(60 * day), rule: b2bv1alpha1.RuleRecertification, action: b2bv1alpha1.ExpiryRevokeAccess, passed: true,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got := effectiveExpiry(tc.pinv, []*b2bv1alpha1.PartnerAccessPolicy{tc.policy}, testNow, tc.signIns)
			if !got.at.Equal(tc.want) || got.rule != tc.rule || got.action != tc.action {
				t.Fatalf("expiry at %v by %q (%s), want %v by %q (%s); source %q", got.at, got.rule, got.action, tc.want, tc.rule, tc.action, got.source)
			}
			if got.passed(testNow) != tc.passed || (got.unconfirmed && !testNow.Before(got.at)) != tc.awaiting {
				t.Errorf("passed %v, awaiting a read %v; want %v, %v", got.passed(testNow), got.unconfirmed, tc.passed, tc.awaiting)
			}
		})
	}
}

func TestAnInactivityDeadlineAwaitingAReadDoesNotHoldBackAnotherLimit(t *testing.T) {
	day := 24 * time.Hour
	reg := signin.NewRegistry()
	stale := reg.Add("default")
	p := &b2bv1alpha1.PartnerAccessPolicy{ObjectMeta: metav1.ObjectMeta{Name: "p"}}
	p.Spec.Inactivity = &b2bv1alpha1.InactivityRule{After: metav1.Duration{Duration: 10 * day}}
	pinv := invitation(func(p *b2bv1alpha1.PartnerInvitation) {
		p.Status.InvitedAt = ptr.To(metav1.NewTime(testNow.Add(-30 * day)))
		p.Status.State = b2bv1alpha1.StateAccepted
		p.Spec.ExpiresAt = ptr.To(metav1.NewTime(testNow.Add(-day)))
	})
	got := effectiveExpiry(pinv, []*b2bv1alpha1.PartnerAccessPolicy{p}, testNow, stale)
	if got.rule != b2bv1alpha1.RuleExpiresAt || !got.passed(testNow) {
		t.Fatalf("got %q (passed %v), want spec.expiresAt, passed", got.rule, got.passed(testNow))
	}
}
