package controllers_test

import (
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	b2bv1alpha1 "github.com/partnerops/partner-operator/api/v1alpha1"
	"github.com/partnerops/partner-operator/internal/graph/emulator"
	"github.com/partnerops/partner-operator/internal/testbed"
)

// asEditor is a client bound to the shipped PartnerInvitation editor role in ns.
func asEditor(ns, user string) client.Client {
	GinkgoHelper()
	cfg, err := testbed.NamespaceEditorConfig(suiteCtx, testEnv, k8s, ns, user)
	Expect(err).NotTo(HaveOccurred())
	c, err := client.New(cfg, client.Options{Scheme: k8s.Scheme()})
	Expect(err).NotTo(HaveOccurred())
	return c
}

// recertify writes spec.recertification as a reviewed commit (or kubectl partner recertify)
// would, with the editor's client.
func recertify(c client.Client, p *b2bv1alpha1.PartnerInvitation, by, reason string) {
	GinkgoHelper()
	got := fetch(p)(Default)
	base := got.DeepCopy()
	got.Spec.Recertification = &b2bv1alpha1.Recertification{At: metav1.NewTime(operatorClock.Now().Truncate(time.Second)), By: by, Reason: reason}
	Expect(c.Patch(suiteCtx, got, client.MergeFrom(base))).To(Succeed())
}

func policyCondition(name, typ string) func(Gomega) metav1.Condition {
	return func(g Gomega) metav1.Condition {
		p := &b2bv1alpha1.PartnerAccessPolicy{}
		g.Expect(k8s.Get(suiteCtx, client.ObjectKey{Name: name}, p)).To(Succeed())
		for _, c := range p.Status.Conditions {
			if c.Type == typ {
				return c
			}
		}
		return metav1.Condition{}
	}
}

var _ = Describe("Inactivity and recertification", func() {
	It("revokes the access of a guest who stopped signing in, keeps that of one who signed in, and only a recertification undoes it", func() {
		ns, labels := labelledNamespace()
		group := emu.AddGroup(emulator.Group{DisplayName: "inactivity-" + ns})
		policy := createPolicy("inactivity-"+ns, labels, b2bv1alpha1.PartnerAccessPolicySpec{
			AllowedGroups: []string{"*"},
			Inactivity: &b2bv1alpha1.InactivityRule{After: metav1.Duration{Duration: 30 * day},
				Action: b2bv1alpha1.ExpiryRevokeAccess, Warn: &metav1.Duration{Duration: 7 * day}},
		})
		withGroup := func(p *b2bv1alpha1.PartnerInvitation) {
			p.Spec.Access = &b2bv1alpha1.PartnerAccess{Groups: []string{group.ID}}
		}
		active := newInvitation(ns, "ada", "ada@inactivity.example", withGroup)
		idle := newInvitation(ns, "ivan", "ivan@inactivity.example", withGroup)
		Eventually(func() error { return k8s.Create(suiteCtx, active.DeepCopy()) }).WithTimeout(timeout).WithPolling(interval).Should(Succeed())
		createReady(idle)
		eventuallyCondition(active, b2bv1alpha1.ConditionReady, metav1.ConditionTrue, b2bv1alpha1.ReasonInSync)
		for _, p := range []*b2bv1alpha1.PartnerInvitation{active, idle} {
			Expect(emu.AcceptInvitation(userID(p))).To(Succeed())
			eventuallyCondition(p, b2bv1alpha1.ConditionRedeemed, metav1.ConditionTrue, b2bv1alpha1.ReasonAccepted)
		}
		Eventually(policyCondition(policy.Name, b2bv1alpha1.ConditionSignInActivity)).WithTimeout(timeout).WithPolling(interval).
			Should(HaveField("Message", ContainSubstring("read in")))

		By("25 days on, one guest signs in: the operator records it; the other is warned")
		operatorClock.Step(25 * day)
		signedIn := operatorClock.Now().Truncate(time.Second)
		Expect(emu.SetSignIn(userID(active), signedIn)).To(Succeed())
		Eventually(func(g Gomega) *metav1.Time { return fetch(active)(g).Status.LastSignInAt }).WithTimeout(timeout).WithPolling(interval).
			Should(HaveField("Time", BeTemporally("==", signedIn)))
		poke(idle)
		eventuallyCondition(idle, b2bv1alpha1.ConditionExpired, metav1.ConditionFalse, b2bv1alpha1.ReasonExpiringSoon)
		Expect(condition(fetch(idle)(Default), b2bv1alpha1.ConditionExpired).Message).To(ContainSubstring("inactivity"))
		Expect(fetch(idle)(Default).Status.ExpiryRule).To(Equal(b2bv1alpha1.RuleInactivity))
		Eventually(func() []string { return eventReasons(idle) }).WithTimeout(timeout).WithPolling(interval).Should(ContainElement("ExpiringSoon"))

		By("31 days on: the idle guest's grant is revoked, as an expiry would; the active one keeps it")
		operatorClock.Step(6 * day)
		poke(idle)
		poke(active)
		eventuallyCondition(idle, b2bv1alpha1.ConditionExpired, metav1.ConditionTrue, b2bv1alpha1.ReasonAccessRevoked)
		got := fetch(idle)(Default)
		Expect(got.Status.Expiry.Rule).To(Equal(b2bv1alpha1.RuleInactivity))
		Expect(got.Status.Expiry.Source).To(ContainSubstring("PartnerAccessPolicy " + policy.Name + " inactivity"))
		Expect(got).To(haveCondition(b2bv1alpha1.ConditionAccessGranted, metav1.ConditionFalse, b2bv1alpha1.ReasonExpired))
		Expect(members(group.ID)).NotTo(ContainElement(userID(idle)))
		Expect(eventReasons(idle)).To(ContainElement("Expired"))
		eventuallyCondition(active, b2bv1alpha1.ConditionExpired, metav1.ConditionFalse, b2bv1alpha1.ReasonExpiryScheduled)
		Expect(fetch(active)(Default).Status.ExpiresAt.Time).To(BeTemporally("==", signedIn.Add(30*day)))
		Expect(members(group.ID)).To(ContainElement(userID(active)))

		By("the idle guest signs in afterwards (a revoked guest still can): the access stays revoked")
		Expect(emu.SetSignIn(userID(idle), operatorClock.Now())).To(Succeed())
		Eventually(func(g Gomega) *metav1.Time { return fetch(idle)(g).Status.LastSignInAt }).WithTimeout(timeout).WithPolling(interval).ShouldNot(BeNil())
		poke(idle)
		Consistently(fetch(idle)).WithTimeout(2 * time.Second).WithPolling(200 * time.Millisecond).
			Should(haveCondition(b2bv1alpha1.ConditionExpired, metav1.ConditionTrue, b2bv1alpha1.ReasonAccessRevoked))

		By("the sponsor recertifies it, as the shipped editor role: the grant comes back, with no new invitation")
		editor := asEditor(ns, "inactivity-sponsor")
		recertify(editor, idle, "sponsor@contoso.example", "still on project Falcon")
		eventuallyCondition(idle, b2bv1alpha1.ConditionReady, metav1.ConditionTrue, b2bv1alpha1.ReasonInSync)
		Eventually(func() []string { return members(group.ID) }).WithTimeout(timeout).WithPolling(interval).Should(ContainElement(userID(idle)))
		Expect(fetch(idle)(Default).Status.Expiry).To(BeNil())
		Expect(invitationsFor("ivan@inactivity.example")).To(Equal(1))

		By("the editor cannot reset the clock itself: status is the operator's")
		got = fetch(active)(Default)
		base := got.DeepCopy()
		got.Status.LastSignInAt = ptr.To(metav1.NewTime(operatorClock.Now().Add(365 * day)))
		err := editor.Status().Patch(suiteCtx, got, client.MergeFrom(base))
		Expect(apierrors.IsForbidden(err)).To(BeTrue(), "an editor writing status.lastSignInAt: %v", err)
	})

	It("warns before a recertification is due, disables the guest when it is overdue, and recertifying restores it", func() {
		ns, labels := labelledNamespace()
		createPolicy("recertify-"+ns, labels, b2bv1alpha1.PartnerAccessPolicySpec{
			Recertification: &b2bv1alpha1.RecertificationRule{Every: metav1.Duration{Duration: 60 * day}, Action: b2bv1alpha1.ExpiryDisable},
		})
		p := newInvitation(ns, "rita", "rita@recertify.example")
		Eventually(func() error { return k8s.Create(suiteCtx, p.DeepCopy()) }).WithTimeout(timeout).WithPolling(interval).Should(Succeed())
		eventuallyCondition(p, b2bv1alpha1.ConditionReady, metav1.ConditionTrue, b2bv1alpha1.ReasonInSync)
		got := fetch(p)(Default)
		Expect(got.Status.RecertificationDueAt.Time).To(BeTemporally("~", got.Status.InvitedAt.Add(60*day), time.Second))
		guest := got.Status.UserID

		By("55 days on: ExpiringSoon, naming what to do")
		operatorClock.Step(55 * day)
		poke(p)
		eventuallyCondition(p, b2bv1alpha1.ConditionExpired, metav1.ConditionFalse, b2bv1alpha1.ReasonExpiringSoon)
		Expect(condition(fetch(p)(Default), b2bv1alpha1.ConditionExpired).Message).To(ContainSubstring("kubectl partner recertify"))

		By("61 days on: overdue, the account is disabled")
		operatorClock.Step(6 * day)
		poke(p)
		eventuallyCondition(p, b2bv1alpha1.ConditionExpired, metav1.ConditionTrue, b2bv1alpha1.ReasonAccountDisabled)
		Expect(accountEnabled(guest)).To(BeFalse())
		Expect(fetch(p)(Default).Status.Expiry.Rule).To(Equal(b2bv1alpha1.RuleRecertification))

		By("a recertification dated in the future is not one")
		got = fetch(p)(Default)
		base := got.DeepCopy()
		got.Spec.Recertification = &b2bv1alpha1.Recertification{At: metav1.NewTime(operatorClock.Now().Add(30 * day)), By: "someone", Reason: "in advance"}
		Expect(k8s.Patch(suiteCtx, got, client.MergeFrom(base))).To(Succeed())
		Consistently(fetch(p)).WithTimeout(2 * time.Second).WithPolling(200 * time.Millisecond).
			Should(haveCondition(b2bv1alpha1.ConditionExpired, metav1.ConditionTrue, b2bv1alpha1.ReasonAccountDisabled))

		By("recertified now, as the shipped editor role: enabled again, next due in 60 days")
		recertify(asEditor(ns, "recertify-sponsor"), p, "sponsor@contoso.example", "contract renewed")
		eventuallyCondition(p, b2bv1alpha1.ConditionReady, metav1.ConditionTrue, b2bv1alpha1.ReasonInSync)
		Expect(accountEnabled(guest)).To(BeTrue())
		got = fetch(p)(Default)
		Expect(got.Status.Expiry).To(BeNil())
		Expect(got.Status.RecertificationDueAt.Time).To(BeTemporally("==", got.Spec.Recertification.At.Add(60*day)))
		Expect(eventReasons(p)).To(ContainElement("AccessRestored"))
	})

	It("says once, on the policy, that sign-ins cannot be read without the licence, and everything else keeps working", func() {
		ns, labels := labelledNamespace()
		policy := createPolicy("no-licence-"+ns, labels, b2bv1alpha1.PartnerAccessPolicySpec{
			Inactivity: &b2bv1alpha1.InactivityRule{After: metav1.Duration{Duration: 30 * day}},
		})
		emu.SetPremiumLicense(false)
		DeferCleanup(emu.SetPremiumLicense, true)
		Eventually(policyCondition(policy.Name, b2bv1alpha1.ConditionSignInActivity)).WithTimeout(timeout).WithPolling(interval).
			Should(And(HaveField("Status", metav1.ConditionFalse), HaveField("Message", ContainSubstring("default (NoPremiumLicense"))))

		p := newInvitation(ns, "lena", "lena@nolicence.example")
		createReady(p)
		Expect(emu.AcceptInvitation(userID(p))).To(Succeed())
		eventuallyCondition(p, b2bv1alpha1.ConditionRedeemed, metav1.ConditionTrue, b2bv1alpha1.ReasonAccepted)

		By("40 days without a sign-in: inactivity is not enforced, nothing else changes")
		operatorClock.Step(40 * day)
		poke(p)
		Consistently(fetch(p)).WithTimeout(2 * time.Second).WithPolling(200 * time.Millisecond).
			Should(haveCondition(b2bv1alpha1.ConditionReady, metav1.ConditionTrue, b2bv1alpha1.ReasonInSync))
		got := fetch(p)(Default)
		Expect(got.Status.Expiry).To(BeNil())
		Expect(got.Status.ExpiresAt).To(BeNil())

		By("the licence bought: the condition clears")
		emu.SetPremiumLicense(true)
		Eventually(policyCondition(policy.Name, b2bv1alpha1.ConditionSignInActivity)).WithTimeout(timeout).WithPolling(interval).
			ShouldNot(HaveField("Message", ContainSubstring("default (NoPremiumLicense")))
	})
})
