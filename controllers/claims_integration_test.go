package controllers_test

import (
	"fmt"
	"strings"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	b2bv1alpha1 "github.com/partnerops/partner-operator/api/v1alpha1"
)

// readyReasonOf is "True/InSync", "False/Conflict" and so on.
func readyReasonOf(p *b2bv1alpha1.PartnerInvitation) string {
	c := condition(p, b2bv1alpha1.ConditionReady)
	return string(c.Status) + "/" + c.Reason
}

// createConcurrently creates the objects from as many goroutines, so they race for the claim.
func createConcurrently(objs []*b2bv1alpha1.PartnerInvitation) {
	var wg sync.WaitGroup
	errs := make([]error, len(objs))
	for i := range objs {
		wg.Go(func() { errs[i] = k8s.Create(suiteCtx, objs[i]) })
	}
	wg.Wait()
	for _, err := range errs {
		Expect(err).NotTo(HaveOccurred())
	}
}

// settled waits until every object reports a final Ready verdict and returns the one that
// holds the address.
func settled(objs []*b2bv1alpha1.PartnerInvitation) *b2bv1alpha1.PartnerInvitation {
	var owner *b2bv1alpha1.PartnerInvitation
	Eventually(func(g Gomega) {
		owner = nil
		for _, p := range objs {
			got := fetch(p)(g)
			switch readyReasonOf(got) {
			case "True/InSync":
				g.Expect(owner).To(BeNil(), "two objects are Ready for one address: %s and %s", client.ObjectKeyFromObject(p), client.ObjectKeyFromObject(got))
				owner = got
			case "False/Conflict":
				g.Expect(meta.IsStatusConditionTrue(got.Status.Conditions, b2bv1alpha1.ConditionStalled)).To(BeTrue())
			default:
				g.Expect(readyReasonOf(got)).To(Equal("settled"), "%s is still %s", client.ObjectKeyFromObject(p), readyReasonOf(got))
			}
		}
		g.Expect(owner).NotTo(BeNil(), "no object holds the address")
	}).WithTimeout(2 * timeout).WithPolling(200 * time.Millisecond).Should(Succeed())
	return owner
}

var _ = Describe("One owner per address", func() {
	It("lets exactly one of 20 concurrent objects invite, and hands the guest over when it goes", func() {
		namespaces := make([]string, 20)
		for i := range namespaces {
			namespaces[i] = newNamespace()
		}
		for round := range 5 {
			email := fmt.Sprintf("rita-%d@race.example", round)
			objs := make([]*b2bv1alpha1.PartnerInvitation, len(namespaces))
			for i, ns := range namespaces {
				objs[i] = newInvitation(ns, fmt.Sprintf("rita-%d", round), email)
			}
			createConcurrently(objs)
			owner := settled(objs)
			Expect(invitationsFor(email)).To(Equal(1), "round %d: one invitation POST", round)
			guest := owner.Status.UserID
			Expect(guest).NotTo(BeEmpty())

			var losers []*b2bv1alpha1.PartnerInvitation
			for _, p := range objs {
				if p.Namespace != owner.Namespace {
					losers = append(losers, p)
				}
			}
			Expect(losers).To(HaveLen(19))
			for _, p := range losers {
				c := condition(fetch(p)(Default), b2bv1alpha1.ConditionReady)
				Expect(c.Message).To(ContainSubstring(owner.Namespace + "/" + owner.Name))
			}

			By("deleting 18 of the losers: the guest stays and Graph sees no write")
			writes := graphWritesFor(guest)
			for _, p := range losers[1:] {
				Expect(k8s.Delete(suiteCtx, p)).To(Succeed())
			}
			for _, p := range losers[1:] {
				eventuallyGone(p)
			}
			_, exists := emu.User(guest)
			Expect(exists).To(BeTrue())
			Expect(graphWritesFor(guest)).To(Equal(writes))

			By("deleting the owner: the last waiting object takes the guest over without a mail")
			heir := losers[0]
			Expect(k8s.Delete(suiteCtx, owner)).To(Succeed())
			eventuallyGone(owner)
			Eventually(fetch(heir)).WithTimeout(timeout).WithPolling(interval).Should(SatisfyAll(
				haveCondition(b2bv1alpha1.ConditionReady, metav1.ConditionTrue, b2bv1alpha1.ReasonInSync),
				haveCondition(b2bv1alpha1.ConditionInvited, metav1.ConditionTrue, b2bv1alpha1.ReasonHandedOver),
			))
			got := fetch(heir)(Default)
			Expect(got.Status.UserID).To(Equal(guest))
			Expect(meta.FindStatusCondition(got.Status.Conditions, b2bv1alpha1.ConditionStalled)).To(BeNil())
			Expect(invitationsFor(email)).To(Equal(1), "the handover sends no second invitation")
			Expect(emu.MailsSent(email)).To(Equal(1))
			_, exists = emu.User(guest)
			Expect(exists).To(BeTrue())

			By("deleting the heir: it invited nobody, but the guest is the operator's, so it goes")
			Expect(k8s.Delete(suiteCtx, heir)).To(Succeed())
			eventuallyGone(heir)
			_, exists = emu.User(guest)
			Expect(exists).To(BeFalse())
		}
	})

	It("decides pairs created in the same second by the API server, not by creation time and name", func() {
		// Today's rule would make the older object, or with equal timestamps the one whose
		// namespace/name sorts first, the owner. Each pair is created in the order that rule gets
		// wrong: the later object sorts first. Graph answers slowly and hides new guests, so a
		// second invitation would have every chance to happen.
		const pairs = 60
		emu.SetLatency(150 * time.Millisecond)
		emu.SetVisibilityDelay(3 * time.Second)
		DeferCleanup(func() { emu.SetLatency(0); emu.SetVisibilityDelay(0) })
		nsA, nsB := newNamespace(), newNamespace()
		type pair struct {
			first, second *b2bv1alpha1.PartnerInvitation
		}
		all := make([]pair, pairs)
		for i := range all {
			email := fmt.Sprintf("pat-%02d@pairs.example", i)
			first := newInvitation(nsB, fmt.Sprintf("pat-%02d", i), email)
			second := newInvitation(nsA, fmt.Sprintf("pat-%02d", i), email)
			Expect(k8s.Create(suiteCtx, first)).To(Succeed())
			Expect(k8s.Create(suiteCtx, second)).To(Succeed())
			all[i] = pair{first, second}
		}
		sameSecond := 0
		for _, p := range all {
			if fetch(p.first)(Default).CreationTimestamp.Equal(ptrTime(fetch(p.second)(Default).CreationTimestamp)) {
				sameSecond++
			}
		}
		Expect(sameSecond).To(BeNumerically(">=", 50), "pairs created within one second")
		for i, p := range all {
			email := fmt.Sprintf("pat-%02d@pairs.example", i)
			settled([]*b2bv1alpha1.PartnerInvitation{p.first, p.second})
			Expect(invitationsFor(email)).To(Equal(1), "pair %d: one invitation", i)
			Expect(emu.MailsSent(email)).To(Equal(1))
		}
	})
})

func ptrTime(t metav1.Time) *metav1.Time { return &t }

// graphWritesFor counts the non-GET requests that name the user.
func graphWritesFor(userID string) int {
	n := 0
	for _, r := range emu.Requests() {
		if r.Method != "GET" && (strings.Contains(r.Path, userID) || strings.Contains(string(r.Body), userID)) {
			n++
		}
	}
	return n
}

var _ = Describe("The redemption URL", func() {
	It("is never sent while a Secret of the same name belongs to someone else", func() {
		ns := newNamespace()
		email := "sven@secret.example"
		foreign := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "sven-invitation"},
			StringData: map[string]string{"password": "not the operator's"}}
		Expect(k8s.Create(suiteCtx, foreign)).To(Succeed())
		p := newInvitation(ns, "sven", email)
		Expect(k8s.Create(suiteCtx, p)).To(Succeed())
		Eventually(fetch(p)).WithTimeout(timeout).WithPolling(interval).Should(
			beStalled(b2bv1alpha1.ReasonSecretConflict))
		Expect(condition(fetch(p)(Default), b2bv1alpha1.ConditionReady).Message).To(ContainSubstring(ns + "/sven-invitation"))
		Expect(invitationAttemptsFor(email)).To(BeZero())
		Expect(invitationsFor(email)).To(BeZero())

		By("resolving the clash: the invitation goes out and its URL lands in the operator's Secret")
		Expect(k8s.Delete(suiteCtx, foreign)).To(Succeed())
		got := fetch(p)(Default)
		base := got.DeepCopy()
		// kubectl annotate: reconcile now, not at the next poll.
		got.SetAnnotations(map[string]string{"example.com/retry": "now"})
		Expect(k8s.Patch(suiteCtx, got, client.MergeFrom(base))).To(Succeed())
		Eventually(fetch(p)).WithTimeout(timeout).WithPolling(interval).Should(
			haveCondition(b2bv1alpha1.ConditionReady, metav1.ConditionTrue, b2bv1alpha1.ReasonInSync))
		Expect(invitationsFor(email)).To(Equal(1))
		secret := &corev1.Secret{}
		Expect(k8s.Get(suiteCtx, client.ObjectKey{Namespace: ns, Name: "sven-invitation"}, secret)).To(Succeed())
		Expect(metav1.IsControlledBy(secret, fetch(p)(Default))).To(BeTrue())
		redeemed, err := emu.Redeem(string(secret.Data["redeemURL"]))
		Expect(err).NotTo(HaveOccurred())
		Expect(redeemed).To(Equal(userID(p)))
	})
})

// invitationAttemptsFor counts the invitation POSTs for the address, whatever Graph answered,
// from one read of the log (other objects may invite meanwhile).
func invitationAttemptsFor(email string) int {
	n := 0
	for _, r := range emu.Requests() {
		if r.Method == "POST" && r.Path == "/invitations" && strings.Contains(string(r.Body), email) {
			n++
		}
	}
	return n
}
