package controllers_test

import (
	"fmt"
	"sync/atomic"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	dto "github.com/prometheus/client_model/go"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	crmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	b2bv1alpha1 "github.com/partnerops/partner-operator/api/v1alpha1"
	"github.com/partnerops/partner-operator/internal/graph/emulator"
)

const day = 24 * time.Hour

var pokes atomic.Int64

// poke asks for a reconcile now, as any annotation change does: the clock was stepped, and
// the timers the operator set run on real time.
func poke(p *b2bv1alpha1.PartnerInvitation) {
	annotate(p, map[string]string{"test.partnerops.io/poke": fmt.Sprint(pokes.Add(1))})
}

// expiringIn sets an expiry that far from now (real time: the clock is stepped later) and
// the action to take.
func expiringIn(d time.Duration, action b2bv1alpha1.ExpiryAction) func(*b2bv1alpha1.PartnerInvitation) {
	return func(p *b2bv1alpha1.PartnerInvitation) {
		p.Spec.ExpiresAt = ptr.To(metav1.NewTime(time.Now().Add(d)))
		p.Spec.ExpiryAction = action
	}
}

// setExpiresAt moves spec.expiresAt, as a commit to Git would.
func setExpiresAt(p *b2bv1alpha1.PartnerInvitation, at time.Time) {
	got := fetch(p)(Default)
	base := got.DeepCopy()
	got.Spec.ExpiresAt = ptr.To(metav1.NewTime(at))
	Expect(k8s.Patch(suiteCtx, got, client.MergeFrom(base))).To(Succeed())
}

func eventuallyCondition(p *b2bv1alpha1.PartnerInvitation, typ string, status metav1.ConditionStatus, reason string) {
	GinkgoHelper()
	Eventually(fetch(p)).WithTimeout(timeout).WithPolling(interval).Should(haveCondition(typ, status, reason))
}

// eventReasons lists the reasons of the events recorded for the object.
func eventReasons(p *b2bv1alpha1.PartnerInvitation) []string {
	list := &eventsv1.EventList{}
	Expect(k8s.List(suiteCtx, list, client.InNamespace(p.Namespace))).To(Succeed())
	var out []string
	for _, e := range list.Items {
		if e.Regarding.Name == p.Name {
			out = append(out, e.Reason)
		}
	}
	return out
}

// counterValue reads a counter of the operator's registry (summed over its labels).
func counterValue(name string) float64 {
	families, err := crmetrics.Registry.Gather()
	Expect(err).NotTo(HaveOccurred())
	total := 0.0
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			total += counterOf(m)
		}
	}
	return total
}

func counterOf(m *dto.Metric) float64 {
	if c := m.GetCounter(); c != nil {
		return c.GetValue()
	}
	return 0
}

// reconcilerRequests counts the Graph requests the reconciler makes: the background work (the
// redemption watcher's delta rounds and the ownership recorder, which may be retrying another
// spec's record) is sent with low priority and left out.
func reconcilerRequests() int {
	n := 0
	for _, r := range emu.Requests() {
		if !r.LowPriority {
			n++
		}
	}
	return n
}

func accountEnabled(userID string) bool {
	u, ok := emu.User(userID)
	Expect(ok).To(BeTrue(), "user %s", userID)
	return u.AccountEnabled
}

var _ = Describe("Access that ends", func() {
	It("warns, revokes the grants at expiresAt, and restores them when expiresAt moves later", func() {
		ns := newNamespace()
		group := emu.AddGroup(emulator.Group{DisplayName: "expiry-revoke-" + ns})
		expiresAt := time.Now().Add(30 * day).Truncate(time.Second)
		p := newInvitation(ns, "ella", "ella@expiry.example", func(p *b2bv1alpha1.PartnerInvitation) {
			p.Spec.ExpiresAt = ptr.To(metav1.NewTime(expiresAt))
			p.Spec.Access = &b2bv1alpha1.PartnerAccess{Groups: []string{group.ID}}
		})
		createReady(p)
		guest := userID(p)
		Eventually(func() []string { return members(group.ID) }).WithTimeout(timeout).WithPolling(interval).Should(ContainElement(guest))
		got := fetch(p)(Default)
		Expect(got.Status.ExpiresAt.Time).To(BeTemporally("==", expiresAt))
		Expect(got).To(haveCondition(b2bv1alpha1.ConditionExpired, metav1.ConditionFalse, b2bv1alpha1.ReasonExpiryScheduled))

		By("inside the warning window (7 days): a warning event, a metric, the condition says so")
		warningsBefore := counterValue("partner_operator_expiry_warnings_total")
		operatorClock.Step(24 * day)
		poke(p)
		eventuallyCondition(p, b2bv1alpha1.ConditionExpired, metav1.ConditionFalse, b2bv1alpha1.ReasonExpiringSoon)
		Eventually(func() []string { return eventReasons(p) }).WithTimeout(timeout).WithPolling(interval).Should(ContainElement("ExpiringSoon"))
		Expect(counterValue("partner_operator_expiry_warnings_total")).To(BeNumerically(">", warningsBefore))
		Expect(members(group.ID)).To(ContainElement(guest))

		By("past expiresAt: the grant is revoked, Expired=True, and Ready stays True")
		operatorClock.Step(7 * day)
		poke(p)
		eventuallyCondition(p, b2bv1alpha1.ConditionExpired, metav1.ConditionTrue, b2bv1alpha1.ReasonAccessRevoked)
		got = fetch(p)(Default)
		Expect(got).To(haveCondition(b2bv1alpha1.ConditionReady, metav1.ConditionTrue, b2bv1alpha1.ReasonExpired))
		Expect(got).To(haveCondition(b2bv1alpha1.ConditionAccessGranted, metav1.ConditionFalse, b2bv1alpha1.ReasonExpired))
		Expect(got.Status.Expiry.Action).To(Equal(b2bv1alpha1.ExpiryRevokeAccess))
		Expect(members(group.ID)).NotTo(ContainElement(guest))
		Expect(accountEnabled(guest)).To(BeTrue())
		Expect(eventReasons(p)).To(ContainElement("Expired"))

		By("expiresAt moved later: the grant comes back, with no new invitation")
		setExpiresAt(p, operatorClock.Now().Add(60*day))
		eventuallyCondition(p, b2bv1alpha1.ConditionExpired, metav1.ConditionFalse, b2bv1alpha1.ReasonExpiryScheduled)
		eventuallyCondition(p, b2bv1alpha1.ConditionReady, metav1.ConditionTrue, b2bv1alpha1.ReasonInSync)
		Expect(members(group.ID)).To(ContainElement(guest))
		Expect(fetch(p)(Default).Status.Expiry).To(BeNil())
		Expect(invitationsFor("ella@expiry.example")).To(Equal(1))
		Expect(eventReasons(p)).To(ContainElement("AccessRestored"))
	})

	It("disables the account at expiry and enables it again when expiresAt moves later", func() {
		ns := newNamespace()
		p := newInvitation(ns, "dora", "dora@expiry.example", expiringIn(10*day, b2bv1alpha1.ExpiryDisable))
		createReady(p)
		guest := userID(p)
		Expect(accountEnabled(guest)).To(BeTrue())

		operatorClock.Step(11 * day)
		poke(p)
		eventuallyCondition(p, b2bv1alpha1.ConditionExpired, metav1.ConditionTrue, b2bv1alpha1.ReasonAccountDisabled)
		Expect(accountEnabled(guest)).To(BeFalse())
		Expect(fetch(p)(Default)).To(haveCondition(b2bv1alpha1.ConditionReady, metav1.ConditionTrue, b2bv1alpha1.ReasonExpired))

		setExpiresAt(p, operatorClock.Now().Add(30*day))
		eventuallyCondition(p, b2bv1alpha1.ConditionReady, metav1.ConditionTrue, b2bv1alpha1.ReasonInSync)
		Expect(accountEnabled(guest)).To(BeTrue())
		Expect(invitationsFor("dora@expiry.example")).To(Equal(1))
	})

	It("names the missing Graph permission when it cannot disable, and disables once it is granted", func() {
		ns := newNamespace()
		p := newInvitation(ns, "pete", "pete@expiry.example", expiringIn(10*day, b2bv1alpha1.ExpiryDisable))
		createReady(p)
		guest := userID(p)

		By("an application with invite and read permissions only")
		emu.SetGrantedPermissions("User.Invite.All", "User.Read.All")
		DeferCleanup(emu.SetGrantedPermissions)
		operatorClock.Step(11 * day)
		poke(p)
		Eventually(fetch(p)).WithTimeout(timeout).WithPolling(interval).Should(beStalled(b2bv1alpha1.ReasonPermissionDenied))
		got := fetch(p)(Default)
		Expect(condition(got, b2bv1alpha1.ConditionReady).Message).To(ContainSubstring("User.EnableDisableAccount.All"))
		Expect(got).To(haveCondition(b2bv1alpha1.ConditionExpired, metav1.ConditionFalse, b2bv1alpha1.ReasonExpiryActionPending))
		Expect(accountEnabled(guest)).To(BeTrue())

		By("the permission granted")
		emu.SetGrantedPermissions("User.Invite.All", "User.Read.All", "User.EnableDisableAccount.All")
		poke(p)
		eventuallyCondition(p, b2bv1alpha1.ConditionExpired, metav1.ConditionTrue, b2bv1alpha1.ReasonAccountDisabled)
		Expect(accountEnabled(guest)).To(BeFalse())
		Expect(fetch(p)(Default)).To(haveCondition(b2bv1alpha1.ConditionReady, metav1.ConditionTrue, b2bv1alpha1.ReasonExpired))
	})

	It("deletes the guest at expiry, sends nothing while expired, and invites again when expiresAt moves later", func() {
		ns := newNamespace()
		email := "dirk@expiry.example"
		p := newInvitation(ns, "dirk", email, expiringIn(10*day, b2bv1alpha1.ExpiryDelete))
		createReady(p)
		guest := userID(p)

		operatorClock.Step(11 * day)
		poke(p)
		eventuallyCondition(p, b2bv1alpha1.ConditionExpired, metav1.ConditionTrue, b2bv1alpha1.ReasonGuestDeleted)
		_, exists := emu.User(guest)
		Expect(exists).To(BeFalse())
		Expect(fetch(p)(Default).Status.UserID).To(BeEmpty())

		By("another reconcile while expired: no Graph call at all")
		requestsBefore := reconcilerRequests()
		poke(p)
		Eventually(func() []string { return eventReasons(p) }).WithTimeout(timeout).WithPolling(interval).Should(ContainElement("Expired"))
		Consistently(func() int { return reconcilerRequests() - requestsBefore }).WithTimeout(2 * time.Second).WithPolling(200 * time.Millisecond).Should(BeZero())
		Expect(invitationsFor(email)).To(Equal(1))

		By("expiresAt moved later: a new invitation")
		setExpiresAt(p, operatorClock.Now().Add(30*day))
		eventuallyCondition(p, b2bv1alpha1.ConditionReady, metav1.ConditionTrue, b2bv1alpha1.ReasonInSync)
		Expect(invitationsFor(email)).To(Equal(2))
		Expect(userID(p)).NotTo(Equal(guest))
	})

	It("caps access with a policy's maxAccessDuration and expires invitations not redeemed within its pendingTimeout", func() {
		ns, labels := labelledNamespace()
		createPolicy("expiry-"+ns, labels, b2bv1alpha1.PartnerAccessPolicySpec{
			MaxAccessDuration: &metav1.Duration{Duration: 90 * day},
			PendingTimeout:    &metav1.Duration{Duration: 14 * day},
		})
		capped := newInvitation(ns, "carl", "carl@expiry.example", func(p *b2bv1alpha1.PartnerInvitation) {
			p.Spec.ExpiresAt = ptr.To(metav1.NewTime(time.Now().Add(365 * day)))
		})
		pending := newInvitation(ns, "pia", "pia@expiry.example")
		Eventually(func() error { return k8s.Create(suiteCtx, capped.DeepCopy()) }).WithTimeout(timeout).WithPolling(interval).Should(Succeed())
		Expect(k8s.Create(suiteCtx, pending)).To(Succeed())
		eventuallyCondition(capped, b2bv1alpha1.ConditionReady, metav1.ConditionTrue, b2bv1alpha1.ReasonInSync)
		eventuallyCondition(pending, b2bv1alpha1.ConditionReady, metav1.ConditionTrue, b2bv1alpha1.ReasonInSync)

		By("the effective expiry is the earlier of the policy's cap and spec.expiresAt")
		Expect(emu.AcceptInvitation(userID(capped))).To(Succeed())
		eventuallyCondition(capped, b2bv1alpha1.ConditionRedeemed, metav1.ConditionTrue, b2bv1alpha1.ReasonAccepted)
		got := fetch(capped)(Default)
		Expect(got.Status.ExpiresAt.Time).To(BeTemporally("~", got.Status.InvitedAt.Add(90*day), time.Second))
		Expect(condition(got, b2bv1alpha1.ConditionExpired).Message).To(ContainSubstring("maxAccessDuration"))
		// The pending one expires at its send time plus the timeout.
		Expect(fetch(pending)(Default).Status.ExpiresAt.Time).To(BeTemporally("~", fetch(pending)(Default).Status.InvitedAt.Add(14*day), time.Second))

		By("15 days on: the unredeemed invitation has expired, the redeemed one has not")
		operatorClock.Step(15 * day)
		poke(pending)
		poke(capped)
		eventuallyCondition(pending, b2bv1alpha1.ConditionExpired, metav1.ConditionTrue, b2bv1alpha1.ReasonAccessRevoked)
		Expect(condition(fetch(pending)(Default), b2bv1alpha1.ConditionExpired).Message).To(ContainSubstring("pendingTimeout"))
		eventuallyCondition(capped, b2bv1alpha1.ConditionExpired, metav1.ConditionFalse, b2bv1alpha1.ReasonExpiryScheduled)

		By("a resend gives the pending invitation a new window")
		annotate(pending, map[string]string{b2bv1alpha1.AnnotationResendRequestedAt: "2026-12-10T09:00:00Z"})
		eventuallyCondition(pending, b2bv1alpha1.ConditionReady, metav1.ConditionTrue, b2bv1alpha1.ReasonInSync)
		Expect(invitationsFor("pia@expiry.example")).To(Equal(2))
		Expect(fetch(pending)(Default).Status.Expiry).To(BeNil())

		By("91 days on: the cap has ended the redeemed guest's access, although spec.expiresAt is a year out")
		operatorClock.Step(76 * day)
		poke(capped)
		eventuallyCondition(capped, b2bv1alpha1.ConditionExpired, metav1.ConditionTrue, b2bv1alpha1.ReasonAccessRevoked)
		Expect(fetch(capped)(Default).Status.Expiry.Source).To(ContainSubstring("PartnerAccessPolicy expiry-" + ns + " maxAccessDuration"))
	})
})
