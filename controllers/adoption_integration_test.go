package controllers_test

import (
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	b2bv1alpha1 "github.com/partnerops/partner-operator/api/v1alpha1"
	"github.com/partnerops/partner-operator/internal/graph/emulator"
	"github.com/partnerops/partner-operator/internal/testbed"
)

var _ = Describe("A namespace editor", func() {
	It("cannot take over, promote or delete an account the operator did not invite unless the cluster owner allows it", func() {
		ns, labels := labelledNamespace()
		pol := createPolicy("editors-"+ns, labels, b2bv1alpha1.PartnerAccessPolicySpec{AllowMemberUserType: true})
		editorCfg, err := testbed.NamespaceEditorConfig(suiteCtx, testEnv, k8s, ns, "eve@"+ns+".example")
		Expect(err).NotTo(HaveOccurred())
		editor, err := client.New(editorCfg, client.Options{Scheme: k8s.Scheme()})
		Expect(err).NotTo(HaveOccurred())

		email := "victor@existing-guest.example"
		existing := emu.AddUser(emulator.User{DisplayName: "Partner victor", Mail: email, OtherMails: []string{email},
			UserType: "Guest", CreationType: "Invitation", ExternalUserState: "Accepted",
			ExternalUserStateChangeDateTime: time.Now().Add(-24 * time.Hour), AccountEnabled: true})
		p := newInvitation(ns, "victor", email)
		// The admission policy needs a moment to see the new PartnerAccessPolicy.
		Eventually(func() error { return editor.Create(suiteCtx, p.DeepCopy()) }).
			WithTimeout(timeout).WithPolling(200 * time.Millisecond).Should(Succeed())

		By("with no adoption granted, the object says so and nothing reaches Graph")
		Eventually(fetch(p)).WithTimeout(timeout).WithPolling(interval).Should(
			beStalled(b2bv1alpha1.ReasonAdoptionDenied))
		Expect(condition(fetch(p)(Default), b2bv1alpha1.ConditionReady).Message).To(SatisfyAll(
			ContainSubstring(existing.ID), ContainSubstring("PartnerAccessPolicy editors-"+ns+": rule adoption")))
		Expect(fetch(p)(Default).Status.UserID).To(BeEmpty())
		Expect(invitationsFor(email)).To(BeZero())
		Expect(graphWritesFor(existing.ID)).To(BeZero())

		By("the cluster owner grants Adopt: the guest is adopted")
		Expect(k8s.Get(suiteCtx, client.ObjectKeyFromObject(pol), pol)).To(Succeed())
		pol.Spec.Adoption = b2bv1alpha1.AdoptionAdopt
		Expect(k8s.Update(suiteCtx, pol)).To(Succeed())
		Eventually(fetch(p)).WithTimeout(timeout).WithPolling(interval).Should(SatisfyAll(
			haveCondition(b2bv1alpha1.ConditionInvited, metav1.ConditionTrue, b2bv1alpha1.ReasonAdopted),
			haveCondition(b2bv1alpha1.ConditionReady, metav1.ConditionTrue, b2bv1alpha1.ReasonInSync),
		))
		Expect(fetch(p)(Default).Status.UserID).To(Equal(existing.ID))

		By("promoting the adopted guest to Member is refused without allowPromotion")
		got := &b2bv1alpha1.PartnerInvitation{}
		Expect(editor.Get(suiteCtx, client.ObjectKeyFromObject(p), got)).To(Succeed())
		got.Spec.UserType = b2bv1alpha1.UserTypeMember
		Expect(editor.Update(suiteCtx, got)).To(Succeed())
		Eventually(fetch(p)).WithTimeout(timeout).WithPolling(interval).Should(
			haveCondition(b2bv1alpha1.ConditionReady, metav1.ConditionFalse, b2bv1alpha1.ReasonPromotionDenied))
		Expect(meta.IsStatusConditionTrue(fetch(p)(Default).Status.Conditions, b2bv1alpha1.ConditionStalled)).To(BeTrue())
		// The only write to the account is its ownership record (written once it was adopted).
		Expect(profilePatchesTo(existing.ID)).To(BeZero())
		u, _ := emu.User(existing.ID)
		Expect(u.UserType).To(Equal("Guest"))

		By("deleting the object leaves the adopted guest in the directory")
		Expect(editor.Delete(suiteCtx, got)).To(Succeed())
		eventuallyGone(p)
		_, exists := emu.User(existing.ID)
		Expect(exists).To(BeTrue())
		Expect(requestsTo("DELETE", "/users/"+existing.ID)).To(BeZero())
	})
})
