package controllers_test

import (
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	b2bv1alpha1 "github.com/partnerops/partner-operator/api/v1alpha1"
)

// annotate sets annotations the way `kubectl annotate --overwrite` does.
func annotate(p *b2bv1alpha1.PartnerInvitation, kv map[string]string) {
	got := fetch(p)(Default)
	base := got.DeepCopy()
	if got.Annotations == nil {
		got.Annotations = map[string]string{}
	}
	for k, v := range kv {
		got.Annotations[k] = v
	}
	Expect(k8s.Patch(suiteCtx, got, client.MergeFrom(base))).To(Succeed())
}

func storedURL(p *b2bv1alpha1.PartnerInvitation) string {
	secret := &corev1.Secret{}
	Expect(k8s.Get(suiteCtx, client.ObjectKey{Namespace: p.Namespace, Name: p.Name + "-invitation"}, secret)).To(Succeed())
	return string(secret.Data["redeemURL"])
}

var _ = Describe("Sending an invitation again", func() {
	It("resends to a pending guest once per annotation value, and never to one who redeemed", func() {
		ns := newNamespace()
		email := "rosa@resend.example"
		p := newInvitation(ns, "rosa", email)
		createReady(p)
		firstURL := storedURL(p)
		guest := userID(p)

		By("a resend within the hour of the invitation: refused, reported, and forgotten")
		const t0 = "2026-11-25T09:00:00Z"
		annotate(p, map[string]string{b2bv1alpha1.AnnotationResendRequestedAt: t0})
		Eventually(func() string { return fetch(p)(Default).Status.LastHandledResendAt }).
			WithTimeout(timeout).WithPolling(interval).Should(Equal(t0))
		Expect(invitationsFor(email)).To(Equal(1))
		Expect(eventReasons(p)).To(ContainElement("SendRateLimited"))

		By("a resend request an hour later: one more invitation for the same guest, a new URL in the Secret")
		operatorClock.Step(time.Hour)
		const t1 = "2026-11-25T10:00:00Z"
		annotate(p, map[string]string{b2bv1alpha1.AnnotationResendRequestedAt: t1})
		Eventually(func() string { return fetch(p)(Default).Status.LastHandledResendAt }).
			WithTimeout(timeout).WithPolling(interval).Should(Equal(t1))
		Expect(invitationsFor(email)).To(Equal(2))
		Expect(emu.MailsSent(email)).To(Equal(2))
		got := fetch(p)(Default)
		Expect(got.Status.UserID).To(Equal(guest))
		Expect(got.Status.LastSentAt).NotTo(BeNil())
		Expect(storedURL(p)).NotTo(Equal(firstURL))
		redeemedBy, ok := emu.RedeemURLUser(storedURL(p))
		Expect(ok).To(BeTrue())
		Expect(redeemedBy).To(Equal(guest))

		By("the same value again, and any other change: no more mail")
		annotate(p, map[string]string{"example.com/touched": "yes"})
		Consistently(func() int { return emu.MailsSent(email) }).WithTimeout(2 * time.Second).WithPolling(200 * time.Millisecond).Should(Equal(2))

		By("a resend for a guest who redeemed: nothing is sent, the request is answered")
		Expect(emu.AcceptInvitation(guest)).To(Succeed())
		Eventually(fetch(p)).WithTimeout(timeout).WithPolling(interval).Should(
			haveCondition(b2bv1alpha1.ConditionRedeemed, metav1.ConditionTrue, b2bv1alpha1.ReasonAccepted))
		const t2 = "2026-11-26T10:00:00Z"
		annotate(p, map[string]string{b2bv1alpha1.AnnotationResendRequestedAt: t2})
		Eventually(func() string { return fetch(p)(Default).Status.LastHandledResendAt }).
			WithTimeout(timeout).WithPolling(interval).Should(Equal(t2))
		Expect(invitationsFor(email)).To(Equal(2))
		Expect(fetch(p)(Default).Status.State).To(Equal(b2bv1alpha1.StateAccepted))
	})

	It("resets a redeemed guest's redemption only where a policy allows it", func() {
		ns, labels := labelledNamespace()
		pol := createPolicy("reset-"+ns, labels, b2bv1alpha1.PartnerAccessPolicySpec{})
		email := "ralf@reset.example"
		p := newInvitation(ns, "ralf", email)
		Eventually(func() error { return k8s.Create(suiteCtx, p.DeepCopy()) }).
			WithTimeout(timeout).WithPolling(200 * time.Millisecond).Should(Succeed())
		Eventually(fetch(p)).WithTimeout(timeout).WithPolling(interval).Should(
			haveCondition(b2bv1alpha1.ConditionReady, metav1.ConditionTrue, b2bv1alpha1.ReasonInSync))
		guest := userID(p)
		Expect(emu.AcceptInvitation(guest)).To(Succeed())
		Eventually(fetch(p)).WithTimeout(timeout).WithPolling(interval).Should(
			haveCondition(b2bv1alpha1.ConditionRedeemed, metav1.ConditionTrue, b2bv1alpha1.ReasonAccepted))

		By("without allowResetRedemption the request is refused, reported and forgotten")
		const denied = "2026-11-25T10:30:00Z"
		annotate(p, map[string]string{b2bv1alpha1.AnnotationResetRequestedAt: denied})
		Eventually(func() string { return fetch(p)(Default).Status.LastHandledResetAt }).
			WithTimeout(timeout).WithPolling(interval).Should(Equal(denied))
		Expect(eventReasons(p)).To(ContainElement(b2bv1alpha1.ReasonResetDenied))
		Expect(invitationsFor(email)).To(Equal(1))

		By("a later policy change does not arm the refused request")
		operatorClock.Step(time.Hour)
		Expect(k8s.Get(suiteCtx, client.ObjectKeyFromObject(pol), pol)).To(Succeed())
		pol.Spec.AllowResetRedemption = true
		Expect(k8s.Update(suiteCtx, pol)).To(Succeed())
		Eventually(fetch(p)).WithTimeout(timeout).WithPolling(interval).Should(
			haveCondition(b2bv1alpha1.ConditionReady, metav1.ConditionTrue, b2bv1alpha1.ReasonInSync))
		Consistently(func() int { return invitationsFor(email) }).WithTimeout(2 * time.Second).WithPolling(200 * time.Millisecond).Should(Equal(1))

		By("asked again now that the cluster owner allows it: one invitation with resetRedemption, redemption tracked again")
		annotate(p, map[string]string{b2bv1alpha1.AnnotationResetRequestedAt: "2026-11-25T11:00:00Z"})
		Eventually(fetch(p)).WithTimeout(timeout).WithPolling(interval).Should(SatisfyAll(
			haveCondition(b2bv1alpha1.ConditionReady, metav1.ConditionTrue, b2bv1alpha1.ReasonInSync),
			haveCondition(b2bv1alpha1.ConditionRedeemed, metav1.ConditionFalse, b2bv1alpha1.ReasonPendingAcceptance),
		))
		Expect(invitationsFor(email)).To(Equal(2))
		reset := 0
		for _, r := range emu.Requests() {
			if r.Method == "POST" && r.Path == "/invitations" && r.Status == 201 &&
				containsAll(string(r.Body), email, `"resetRedemption":true`, guest) {
				reset++
			}
		}
		Expect(reset).To(Equal(1))
		Expect(fetch(p)(Default).Status.LastHandledResetAt).To(Equal("2026-11-25T11:00:00Z"))
		u, _ := emu.User(guest)
		Expect(u.ExternalUserState).To(Equal("PendingAcceptance"))
	})
})

func containsAll(s string, subs ...string) bool {
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			return false
		}
	}
	return true
}
