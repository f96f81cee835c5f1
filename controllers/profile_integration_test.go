package controllers_test

import (
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	b2bv1alpha1 "github.com/partnerops/partner-operator/api/v1alpha1"
	"github.com/partnerops/partner-operator/internal/graph/emulator"
)

var _ = Describe("The guest's profile", func() {
	It("is set and kept in place with PATCH, never by inviting again", func() {
		ns := newNamespace()
		email := "paula@profile.example"
		p := newInvitation(ns, "paula", email, func(p *b2bv1alpha1.PartnerInvitation) {
			p.Spec.Profile = &b2bv1alpha1.GuestProfile{CompanyName: "Fabrikam", JobTitle: "Consultant", UsageLocation: "DE"}
		})
		Expect(k8s.Create(suiteCtx, p)).To(Succeed())
		Eventually(func() map[string]string {
			u, _ := emu.User(userID(p))
			return u.Profile
		}).WithTimeout(timeout).WithPolling(interval).Should(Equal(map[string]string{
			"companyName": "Fabrikam", "jobTitle": "Consultant", "usageLocation": "DE"}))
		Eventually(fetch(p)).WithTimeout(timeout).WithPolling(interval).Should(
			haveCondition(b2bv1alpha1.ConditionReady, metav1.ConditionTrue, b2bv1alpha1.ReasonInSync))
		guest := userID(p)

		By("a changed field is patched; fields the spec leaves empty stay as they are")
		got := fetch(p)(Default)
		got.Spec.Profile.Department = "Audit"
		got.Spec.Profile.JobTitle = "Senior Consultant"
		Expect(k8s.Update(suiteCtx, got)).To(Succeed())
		Eventually(func() map[string]string {
			u, _ := emu.User(guest)
			return u.Profile
		}).WithTimeout(timeout).WithPolling(interval).Should(Equal(map[string]string{
			"companyName": "Fabrikam", "jobTitle": "Senior Consultant", "usageLocation": "DE", "department": "Audit"}))
		Expect(invitationsFor(email)).To(Equal(1))
		Expect(requestsWithStatus("PATCH", "/users/"+guest, 204)).To(BeNumerically(">=", 2))
	})

	It("is validated at admission", func() {
		p := newInvitation(newNamespace(), "bad-profile", "bad@profile.example", func(p *b2bv1alpha1.PartnerInvitation) {
			p.Spec.Profile = &b2bv1alpha1.GuestProfile{UsageLocation: "Germany"}
		})
		err := k8s.Create(suiteCtx, p, client.DryRunAll)
		Expect(err).To(MatchError(ContainSubstring("spec.profile.usageLocation")))
	})
})

var _ = Describe("A missing Graph permission", func() {
	It("is named in a condition instead of being retried in a loop", func() {
		ns := newNamespace()
		email := "perry@permission.example"
		emu.InjectFault(emulator.Fault{Method: "POST", PathPrefix: "/invitations", Status: 403, Times: 1})
		p := newInvitation(ns, "perry", email)
		Expect(k8s.Create(suiteCtx, p)).To(Succeed())
		Eventually(fetch(p)).WithTimeout(timeout).WithPolling(interval).Should(
			beStalled(b2bv1alpha1.ReasonPermissionDenied))
		Expect(condition(fetch(p)(Default), b2bv1alpha1.ConditionReady).Message).To(ContainSubstring("User.Invite.All"))
		Consistently(func() int { return invitationAttemptsFor(email) }).
			WithTimeout(2 * time.Second).WithPolling(200 * time.Millisecond).Should(Equal(1))

		By("once the permission is granted, the next look succeeds")
		annotate(p, map[string]string{"example.com/permission-granted": "yes"})
		Eventually(fetch(p)).WithTimeout(timeout).WithPolling(interval).Should(
			haveCondition(b2bv1alpha1.ConditionReady, metav1.ConditionTrue, b2bv1alpha1.ReasonInSync))
		Expect(emu.MailsSent(email)).To(Equal(1))
	})
})
