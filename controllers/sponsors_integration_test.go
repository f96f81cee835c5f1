package controllers_test

import (
	"encoding/json"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	b2bv1alpha1 "github.com/partnerops/partner-operator/api/v1alpha1"
	"github.com/partnerops/partner-operator/internal/graph/emulator"
)

// sentSponsors returns the invitedUserSponsors ids of the invitations sent for the address.
func sentSponsors(email string) [][]string {
	var out [][]string
	for _, r := range emu.Requests() {
		if r.Method != "POST" || r.Path != "/invitations" || r.Status != 201 {
			continue
		}
		var body struct {
			Email    string `json:"invitedUserEmailAddress"`
			Sponsors []struct {
				ID string `json:"id"`
			} `json:"invitedUserSponsors"`
		}
		Expect(json.Unmarshal(r.Body, &body)).To(Succeed())
		if body.Email != email {
			continue
		}
		var ids []string
		for _, s := range body.Sponsors {
			ids = append(ids, s.ID)
		}
		out = append(out, ids)
	}
	return out
}

func setSponsors(p *b2bv1alpha1.PartnerInvitation, sponsors ...string) {
	got := fetch(p)(Default)
	base := got.DeepCopy()
	got.Spec.Sponsors = sponsors
	Expect(k8s.Patch(suiteCtx, got, client.MergeFrom(base))).To(Succeed())
}

var _ = Describe("Sponsors", func() {
	It("sends them with the invitation, reports a missing one by name, and keeps them in sync in place", func() {
		ns := newNamespace()
		email := "sven@sponsors.example"
		alice := emu.AddUser(emulator.User{DisplayName: "Alice", UserPrincipalName: "alice-" + ns + "@" + emulator.TenantDomain, UserType: "Member"})
		team := emu.AddGroup(emulator.Group{DisplayName: "partner-managers-" + ns})
		missingUPN := "nadia-" + ns + "@" + emulator.TenantDomain
		p := newInvitation(ns, "sven", email, func(p *b2bv1alpha1.PartnerInvitation) {
			p.Spec.Sponsors = []string{alice.UserPrincipalName, team.ID, missingUPN}
		})
		Expect(k8s.Create(suiteCtx, p)).To(Succeed())

		By("the two that exist go out with the invitation; the third is reported by its field")
		Eventually(fetch(p)).WithTimeout(timeout).WithPolling(interval).Should(beStalled(b2bv1alpha1.ReasonSponsorNotFound))
		ready := condition(fetch(p)(Default), b2bv1alpha1.ConditionReady).Message
		Expect(ready).To(ContainSubstring("spec.sponsors[2]: no user with that user principal name"))
		Expect(ready).NotTo(ContainSubstring(missingUPN), "a UPN is personal data, like an address: the field names it")
		Expect(ready).NotTo(ContainSubstring(alice.UserPrincipalName))
		Expect(sentSponsors(email)).To(Equal([][]string{{alice.ID, team.ID}}))
		guest := userID(p)
		Expect(emu.Sponsors(guest)).To(ConsistOf(alice.ID, team.ID))

		By("the missing sponsor appears: it is added in place, with no new invitation")
		nadia := emu.AddUser(emulator.User{DisplayName: "Nadia", UserPrincipalName: missingUPN, UserType: "Member"})
		poke(p)
		eventuallyCondition(p, b2bv1alpha1.ConditionReady, metav1.ConditionTrue, b2bv1alpha1.ReasonInSync)
		Expect(emu.Sponsors(guest)).To(ConsistOf(alice.ID, team.ID, nadia.ID))

		By("a sponsor an administrator added stays; one removed from the spec goes")
		bob := emu.AddUser(emulator.User{DisplayName: "Bob", UserType: "Member"})
		Expect(emu.AddSponsorOutOfBand(guest, bob.ID)).To(Succeed())
		setSponsors(p, team.ID, missingUPN)
		Eventually(func() []string { return emu.Sponsors(guest) }).WithTimeout(timeout).WithPolling(interval).Should(ConsistOf(team.ID, nadia.ID, bob.ID))

		By("a managed sponsor removed outside the operator is added back")
		Expect(emu.RemoveSponsorOutOfBand(guest, team.ID)).To(Succeed())
		poke(p)
		Eventually(func() []string { return emu.Sponsors(guest) }).WithTimeout(timeout).WithPolling(interval).Should(ConsistOf(team.ID, nadia.ID, bob.ID))
		Expect(invitationsFor(email)).To(Equal(1))
		Expect(requestsWithStatus("POST", "/users/"+guest+"/sponsors/$ref", 400)).To(BeZero())
	})

	It("refuses a guest as sponsor", func() {
		ns := newNamespace()
		other := emu.AddUser(emulator.User{DisplayName: "Gus", Mail: "gus@elsewhere.example", UserType: "Guest", CreationType: "Invitation"})
		p := newInvitation(ns, "gina", "gina@sponsors.example", func(p *b2bv1alpha1.PartnerInvitation) {
			p.Spec.Sponsors = []string{other.ID}
		})
		Expect(k8s.Create(suiteCtx, p)).To(Succeed())
		Eventually(fetch(p)).WithTimeout(timeout).WithPolling(interval).Should(beStalled(b2bv1alpha1.ReasonSponsorNotMember))
		Expect(sentSponsors("gina@sponsors.example")).To(Equal([][]string{nil}))
		Consistently(func() []string { return emu.Sponsors(userID(p)) }).WithTimeout(time.Second).WithPolling(200 * time.Millisecond).Should(BeEmpty())
	})
})
