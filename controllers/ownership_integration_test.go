package controllers_test

import (
	"encoding/json"

	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	b2bv1alpha1 "github.com/partnerops/partner-operator/api/v1alpha1"
	"github.com/partnerops/partner-operator/internal/graph"
	"github.com/partnerops/partner-operator/internal/graph/emulator"
	"github.com/partnerops/partner-operator/internal/graph/msgraph"
)

// profilePatchesTo counts the PATCHes of the user that change anything but its ownership record.
func profilePatchesTo(userID string) int {
	n := 0
	for _, r := range emu.Requests() {
		if r.Method != "PATCH" || r.Path != "/users/"+userID {
			continue
		}
		var body map[string]any
		_ = json.Unmarshal(r.Body, &body)
		for k := range body {
			if !strings.HasPrefix(k, "extension_") && k != "@odata.type" {
				n++
				break
			}
		}
	}
	return n
}

// record reads the guest's ownership record as the emulator stores it.
func record(userID string) graph.Ownership {
	u, _ := emu.User(userID)
	ext := func(name string) string { return u.Extensions[msgraph.ExtensionName(suiteClientID, name)] }
	return graph.Ownership{Owner: ext("partnerOwner"), Object: ext("partnerObject"), UID: ext("partnerObjectUID"), Origin: ext("partnerOrigin")}
}

var _ = Describe("The ownership record in the directory", func() {
	It("is written after the invitation and names the installation and the object", func() {
		ns := newNamespace()
		p := newInvitation(ns, "olga", "olga@owned.example")
		createReady(p)
		got := fetch(p)(Default)
		Eventually(func() graph.Ownership { return record(got.Status.UserID) }).WithTimeout(timeout).WithPolling(interval).Should(Equal(
			graph.Ownership{Owner: suiteOwner, Object: ns + "/olga", UID: string(got.UID), Origin: b2bv1alpha1.GuestOriginInvited}))

		By("a record changed out of band is put back within one delta round")
		Expect(emu.SetUserExtension(got.Status.UserID, msgraph.ExtensionName(suiteClientID, "partnerObject"), ns+"/someone-else")).To(Succeed())
		Eventually(func() string { return record(got.Status.UserID).Object }).WithTimeout(timeout).WithPolling(interval).Should(Equal(ns + "/olga"))
	})

	It("naming another installation stops the object from adopting, changing or deleting the guest, whatever the policy", func() {
		ns := newNamespace()
		email := "otto@elsewhere.example"
		guest := emu.AddUser(emulator.User{Mail: email, DisplayName: "Otto", UserType: "Guest", CreationType: "Invitation",
			ExternalUserState: "Accepted", AccountEnabled: true})
		Expect(emu.SetUserExtension(guest.ID, msgraph.ExtensionName(suiteClientID, "partnerOwner"), "staging-cluster")).To(Succeed())
		Expect(emu.SetUserExtension(guest.ID, msgraph.ExtensionName(suiteClientID, "partnerObject"), "team-x/otto")).To(Succeed())
		p := newInvitation(ns, "otto", email, func(p *b2bv1alpha1.PartnerInvitation) { p.Spec.DisplayName = "Otto Renamed" })
		Expect(k8s.Create(suiteCtx, p)).To(Succeed())
		Eventually(fetch(p)).WithTimeout(timeout).WithPolling(interval).Should(beStalled(b2bv1alpha1.ReasonConflict))
		Expect(condition(fetch(p)(Default), b2bv1alpha1.ConditionReady).Message).To(ContainSubstring(`"staging-cluster"`))
		Expect(requestsTo("PATCH", "/users/"+guest.ID)).To(Equal(0), "the other installation's guest was written to")

		Expect(k8s.Delete(suiteCtx, p)).To(Succeed())
		eventuallyGone(p)
		_, exists := emu.User(guest.ID)
		Expect(exists).To(BeTrue(), "the other installation's guest was deleted")
		Expect(requestsTo("DELETE", "/users/"+guest.ID)).To(Equal(0))
	})

	It("lets a re-created object restore the guest this installation deleted, instead of inviting again", func() {
		ns := newNamespace()
		email := "rita@restore.example"
		group := emu.AddGroup(emulator.Group{DisplayName: "restore-partners-" + ns})
		withGroup := func(p *b2bv1alpha1.PartnerInvitation) {
			p.Spec.Access = &b2bv1alpha1.PartnerAccess{Groups: []string{group.ID}}
		}
		p := newInvitation(ns, "rita", email, withGroup)
		createReady(p)
		guest := fetch(p)(Default).Status.UserID
		Eventually(func() string { return record(guest).Owner }).WithTimeout(timeout).WithPolling(interval).Should(Equal(suiteOwner))
		Expect(emu.GroupMembers(group.ID)).To(ContainElement(guest))

		Expect(k8s.Delete(suiteCtx, p)).To(Succeed())
		eventuallyGone(p)
		_, exists := emu.User(guest)
		Expect(exists).To(BeFalse(), "the guest was not deleted with its object")

		// Another name: envtest runs no garbage collector, so the first object's redemption
		// Secret is still there. A restore passes the guest on within the namespace.
		again := newInvitation(ns, "rita-again", email, withGroup)
		createReady(again)
		got := fetch(again)(Default)
		Expect(got.Status.UserID).To(Equal(guest), "a new account was made instead of restoring the old one")
		Expect(condition(got, b2bv1alpha1.ConditionInvited)).To(SatisfyAll(
			HaveField("Status", metav1.ConditionTrue), HaveField("Reason", b2bv1alpha1.ReasonRestored)))
		Expect(invitationsFor(email)).To(Equal(1), "the partner was invited again")
		Expect(emu.MailsSent(email)).To(Equal(1))
		Expect(requestsWithStatus("POST", "/directory/deletedItems/"+guest+"/restore", 200)).To(Equal(1))
		Eventually(func() []string { return emu.GroupMembers(group.ID) }).WithTimeout(timeout).WithPolling(interval).Should(ContainElement(guest))
		Eventually(func() graph.Ownership { return record(guest) }).WithTimeout(timeout).WithPolling(interval).Should(Equal(
			graph.Ownership{Owner: suiteOwner, Object: ns + "/rita-again", UID: string(got.UID), Origin: b2bv1alpha1.GuestOriginInvited}))
	})
})

var _ = Describe("Profile drift made in the portal", func() {
	It("is corrected within one users-delta round, not at the weekly read", func() {
		ns := newNamespace()
		p := newInvitation(ns, "dora", "dora@drift.example", func(p *b2bv1alpha1.PartnerInvitation) {
			p.Spec.Profile = &b2bv1alpha1.GuestProfile{Department: "Research", CompanyName: "Fabrikam"}
		})
		createReady(p)
		guest := fetch(p)(Default).Status.UserID
		Eventually(func() string { u, _ := emu.User(guest); return u.Profile["department"] }).WithTimeout(timeout).WithPolling(interval).Should(Equal("Research"))

		Expect(emu.SetUserProfile(guest, "department", "Sales")).To(Succeed())
		// The suite's per-object polls are weekly: only the delta can bring it back this soon.
		Eventually(func() string { u, _ := emu.User(guest); return u.Profile["department"] }).WithTimeout(timeout).WithPolling(interval).Should(Equal("Research"))
	})
})
