package controllers_test

import (
	"fmt"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	b2bv1alpha1 "github.com/partnerops/partner-operator/api/v1alpha1"
	"github.com/partnerops/partner-operator/internal/graph/emulator"
)

func members(groupID string) []string { return emu.GroupMembers(groupID) }

func assignedRoles(spID, principalID string) []string {
	var roles []string
	for _, a := range emu.AppRoleAssignments(spID) {
		if a.PrincipalID == principalID {
			roles = append(roles, a.AppRoleID)
		}
	}
	return roles
}

func userID(p *b2bv1alpha1.PartnerInvitation) string { return fetch(p)(Default).Status.UserID }

// labelledNamespace creates a namespace that only this test's policies select.
func labelledNamespace() (string, map[string]string) {
	name := fmt.Sprintf("pinv-policy-%d", nsCounter.Add(1))
	labels := map[string]string{"policy-test": name}
	Expect(k8s.Create(suiteCtx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}})).To(Succeed())
	return name, labels
}

func createPolicy(name string, selector map[string]string, spec b2bv1alpha1.PartnerAccessPolicySpec) *b2bv1alpha1.PartnerAccessPolicy {
	spec.NamespaceSelector = metav1.LabelSelector{MatchLabels: selector}
	p := &b2bv1alpha1.PartnerAccessPolicy{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: spec}
	Expect(k8s.Create(suiteCtx, p)).To(Succeed())
	DeferCleanup(func() { _ = k8s.Delete(suiteCtx, p) })
	return p
}

var _ = Describe("PartnerInvitation access", func() {
	It("grants groups and app roles, revokes what it granted, and leaves foreign grants alone", func() {
		ns := newNamespace()
		email := "greta@access.example"
		portal := emu.AddGroup(emulator.Group{DisplayName: "Partner Portal Users"})
		byID := emu.AddGroup(emulator.Group{DisplayName: "Project Falcon"})
		foreign := emu.AddGroup(emulator.Group{DisplayName: "Granted By Someone Else"})
		app := emu.AddServicePrincipal(emulator.ServicePrincipal{AppID: "aaaaaaaa-0000-4000-8000-000000000001", DisplayName: "Falcon Portal",
			AppRoles: []emulator.AppRole{{ID: "bbbbbbbb-0000-4000-8000-000000000001", Value: "Partner.Read"}, {ID: "bbbbbbbb-0000-4000-8000-000000000002", Value: "Partner.Write"}}})

		p := newInvitation(ns, "greta", email, func(p *b2bv1alpha1.PartnerInvitation) {
			p.Spec.Access = &b2bv1alpha1.PartnerAccess{
				Groups:       []string{"Partner Portal Users", byID.ID},
				Applications: []b2bv1alpha1.ApplicationAccess{{App: app.AppID, Role: "Partner.Read"}, {App: app.ID, Role: "bbbbbbbb-0000-4000-8000-000000000002"}},
			}
		})
		Expect(k8s.Create(suiteCtx, p)).To(Succeed())
		Eventually(fetch(p)).WithTimeout(timeout).WithPolling(interval).Should(SatisfyAll(
			haveCondition(b2bv1alpha1.ConditionAccessGranted, metav1.ConditionTrue, b2bv1alpha1.ReasonGranted),
			haveCondition(b2bv1alpha1.ConditionReady, metav1.ConditionTrue, b2bv1alpha1.ReasonInSync),
		))
		guest := userID(p)
		Expect(members(portal.ID)).To(ContainElement(guest))
		Expect(members(byID.ID)).To(ContainElement(guest))
		Expect(assignedRoles(app.ID, guest)).To(ConsistOf("bbbbbbbb-0000-4000-8000-000000000001", "bbbbbbbb-0000-4000-8000-000000000002"))
		got := fetch(p)(Default)
		Expect(got.Status.Access.Groups).To(HaveLen(2))
		Expect(got.Status.Access.Applications).To(HaveLen(2))
		Expect(invitationsFor(email)).To(Equal(1))

		By("someone else grants a group the spec does not name, and the spec drops a group and a role")
		Expect(emu.AddGroupMemberOutOfBand(foreign.ID, guest)).To(Succeed())
		got.Spec.Access.Groups = []string{byID.ID}
		got.Spec.Access.Applications = got.Spec.Access.Applications[:1]
		Expect(k8s.Update(suiteCtx, got)).To(Succeed())
		Eventually(func() []string { return members(portal.ID) }).WithTimeout(timeout).WithPolling(interval).ShouldNot(ContainElement(guest))
		Eventually(func() []string { return assignedRoles(app.ID, guest) }).WithTimeout(timeout).WithPolling(interval).
			Should(ConsistOf("bbbbbbbb-0000-4000-8000-000000000001"))
		Expect(members(byID.ID)).To(ContainElement(guest))
		Consistently(func() []string { return members(foreign.ID) }).WithTimeout(time.Second).WithPolling(200 * time.Millisecond).Should(ContainElement(guest))
	})

	It("records a membership it did not make as unmanaged and never revokes it", func() {
		ns := newNamespace()
		email := "uma@unmanaged.example"
		team := emu.AddGroup(emulator.Group{DisplayName: "Existing Team"})
		existing := emu.AddUser(emulator.User{Mail: email, OtherMails: []string{email}, DisplayName: "Partner uma", UserType: "Guest",
			CreationType: "Invitation", ExternalUserState: "Accepted", AccountEnabled: true})
		Expect(emu.AddGroupMemberOutOfBand(team.ID, existing.ID)).To(Succeed())

		p := newInvitation(ns, "uma", email, func(p *b2bv1alpha1.PartnerInvitation) {
			p.Spec.Access = &b2bv1alpha1.PartnerAccess{Groups: []string{team.ID}}
		})
		Expect(k8s.Create(suiteCtx, p)).To(Succeed())
		Eventually(fetch(p)).WithTimeout(timeout).WithPolling(interval).Should(
			haveCondition(b2bv1alpha1.ConditionAccessGranted, metav1.ConditionTrue, b2bv1alpha1.ReasonGranted))
		got := fetch(p)(Default)
		Expect(got.Status.Access.Groups).To(ConsistOf(b2bv1alpha1.GroupGrant{Ref: team.ID, ID: team.ID, Managed: false}))

		got.Spec.Access = nil
		Expect(k8s.Update(suiteCtx, got)).To(Succeed())
		Eventually(fetch(p)).WithTimeout(timeout).WithPolling(interval).Should(
			WithTransform(func(p *b2bv1alpha1.PartnerInvitation) *b2bv1alpha1.AccessStatus { return p.Status.Access }, BeNil()))
		Expect(members(team.ID)).To(ContainElement(existing.ID))
	})

	It("retries grants while Graph does not see the new guest yet", func() {
		ns := newNamespace()
		email := "nina@notvisible.example"
		group := emu.AddGroup(emulator.Group{DisplayName: "Visibility Group"})
		emu.SetVisibilityDelay(2 * time.Second)
		defer emu.SetVisibilityDelay(0)
		p := newInvitation(ns, "nina", email, func(p *b2bv1alpha1.PartnerInvitation) {
			p.Spec.Access = &b2bv1alpha1.PartnerAccess{Groups: []string{group.ID}}
		})
		Expect(k8s.Create(suiteCtx, p)).To(Succeed())
		Eventually(fetch(p)).WithTimeout(timeout).WithPolling(interval).Should(
			haveCondition(b2bv1alpha1.ConditionAccessGranted, metav1.ConditionTrue, b2bv1alpha1.ReasonGranted))
		Expect(members(group.ID)).To(ContainElement(userID(p)))
		refused := 0
		for _, r := range emu.Requests() {
			if r.Method == "POST" && r.Path == "/groups/"+group.ID+"/members/$ref" && r.Status == 400 {
				refused++
			}
		}
		Expect(refused).To(BeNumerically(">=", 1), "the first grant must have met Graph's eventual consistency")
		Expect(invitationsFor(email)).To(Equal(1))
	})

	It("names a group or application that does not exist in a condition", func() {
		ns := newNamespace()
		p := newInvitation(ns, "ghost", "ghost@unknown.example", func(p *b2bv1alpha1.PartnerInvitation) {
			p.Spec.Access = &b2bv1alpha1.PartnerAccess{
				Groups:       []string{"No Such Group"},
				Applications: []b2bv1alpha1.ApplicationAccess{{App: "dddddddd-0000-4000-8000-000000000009"}},
			}
		})
		Expect(k8s.Create(suiteCtx, p)).To(Succeed())
		Eventually(fetch(p)).WithTimeout(timeout).WithPolling(interval).Should(SatisfyAll(
			haveCondition(b2bv1alpha1.ConditionAccessGranted, metav1.ConditionFalse, b2bv1alpha1.ReasonGroupNotFound),
			haveCondition(b2bv1alpha1.ConditionReady, metav1.ConditionFalse, b2bv1alpha1.ReasonGroupNotFound),
			haveCondition(b2bv1alpha1.ConditionInvited, metav1.ConditionTrue, b2bv1alpha1.ReasonInvitationSent),
		))
		msg := condition(fetch(p)(Default), b2bv1alpha1.ConditionAccessGranted).Message
		Expect(msg).To(ContainSubstring(`spec.access.groups[0]: no group is named "No Such Group"`))
		Expect(msg).To(ContainSubstring("spec.access.applications[0]"))
	})

	Context("with a PartnerAccessPolicy", func() {
		It("refuses at admission what the policy forbids, naming the policy and the rule", func() {
			ns, labels := labelledNamespace()
			allowed := emu.AddGroup(emulator.Group{DisplayName: "Allowed Group"})
			createPolicy("admission-"+ns, labels, b2bv1alpha1.PartnerAccessPolicySpec{
				DeniedDomains:       []string{"gmail.com", "*.consumer.example"},
				AllowedGroups:       []string{"Allowed Group"},
				AllowedApplications: []b2bv1alpha1.ApplicationRule{{App: "eeeeeeee-0000-4000-8000-000000000001", Roles: []string{"Partner.Read"}}},
			})
			cases := []struct {
				mutate func(*b2bv1alpha1.PartnerInvitation)
				want   string
			}{
				{func(p *b2bv1alpha1.PartnerInvitation) { p.Spec.Email = "someone@gmail.com" }, "rule deniedDomains: invitations to @gmail.com are denied"},
				{func(p *b2bv1alpha1.PartnerInvitation) { p.Spec.Email = "x@mail.consumer.example" }, "rule deniedDomains"},
				{func(p *b2bv1alpha1.PartnerInvitation) {
					p.Spec.Access = &b2bv1alpha1.PartnerAccess{Groups: []string{"Domain Admins"}}
				}, "rule allowedGroups: group Domain Admins may not be granted"},
				{func(p *b2bv1alpha1.PartnerInvitation) {
					p.Spec.Access = &b2bv1alpha1.PartnerAccess{Applications: []b2bv1alpha1.ApplicationAccess{{App: "eeeeeeee-0000-4000-8000-000000000001", Role: "Admin"}}}
				}, "rule allowedApplications: application eeeeeeee-0000-4000-8000-000000000001 (role Admin) may not be granted"},
				{func(p *b2bv1alpha1.PartnerInvitation) { p.Spec.UserType = b2bv1alpha1.UserTypeMember }, "rule allowMemberUserType"},
				{func(p *b2bv1alpha1.PartnerInvitation) { p.Spec.Message = &b2bv1alpha1.InvitationMessage{Body: "Hello"} }, "rule allowCustomMessage"},
			}
			for i, c := range cases {
				p := newInvitation(ns, fmt.Sprintf("denied-%d", i), fmt.Sprintf("p%d@business.example", i), c.mutate)
				// The API server picks a new policy parameter up within a second or so.
				Eventually(func() string {
					err := k8s.Create(suiteCtx, p.DeepCopy())
					if err == nil {
						_ = k8s.Delete(suiteCtx, p)
						return ""
					}
					return err.Error()
				}).WithTimeout(timeout).WithPolling(200 * time.Millisecond).Should(SatisfyAll(
					ContainSubstring("PartnerAccessPolicy admission-"+ns), ContainSubstring(c.want)))
			}
			By("admitting what the policy allows")
			ok := newInvitation(ns, "allowed", "ok@business.example", func(p *b2bv1alpha1.PartnerInvitation) {
				p.Spec.Access = &b2bv1alpha1.PartnerAccess{Groups: []string{"Allowed Group"}}
			})
			Expect(k8s.Create(suiteCtx, ok)).To(Succeed())
			Eventually(fetch(ok)).WithTimeout(timeout).WithPolling(interval).Should(
				haveCondition(b2bv1alpha1.ConditionReady, metav1.ConditionTrue, b2bv1alpha1.ReasonInSync))
			Expect(members(allowed.ID)).To(ContainElement(userID(ok)))
		})

		It("caps the invitations of a namespace", func() {
			ns, labels := labelledNamespace()
			one := int32(1)
			createPolicy("count-"+ns, labels, b2bv1alpha1.PartnerAccessPolicySpec{MaxInvitationsPerNamespace: &one})
			first := newInvitation(ns, "first", "first@count.example")
			Expect(k8s.Create(suiteCtx, first)).To(Succeed())
			Eventually(fetch(first)).WithTimeout(timeout).WithPolling(interval).Should(
				haveCondition(b2bv1alpha1.ConditionReady, metav1.ConditionTrue, b2bv1alpha1.ReasonInSync))
			second := newInvitation(ns, "second", "second@count.example")
			Expect(k8s.Create(suiteCtx, second)).To(Succeed())
			Eventually(fetch(second)).WithTimeout(timeout).WithPolling(interval).Should(
				haveCondition(b2bv1alpha1.ConditionReady, metav1.ConditionFalse, b2bv1alpha1.ReasonPolicyDenied))
			Expect(condition(fetch(second)(Default), b2bv1alpha1.ConditionReady).Message).To(
				ContainSubstring("PartnerAccessPolicy count-" + ns + ": rule maxInvitationsPerNamespace"))
			Expect(invitationsFor("second@count.example")).To(BeZero())
		})

		It("revokes access and stops Graph writes for objects admitted before the policy changed", func() {
			ns, labels := labelledNamespace()
			pol := createPolicy("tighten-"+ns, labels, b2bv1alpha1.PartnerAccessPolicySpec{AllowedGroups: []string{"*"}})
			group := emu.AddGroup(emulator.Group{DisplayName: "Before Policy"})
			p := newInvitation(ns, "early", "early@tightened.example", func(p *b2bv1alpha1.PartnerInvitation) {
				p.Spec.Access = &b2bv1alpha1.PartnerAccess{Groups: []string{group.ID}}
			})
			Expect(k8s.Create(suiteCtx, p)).To(Succeed())
			Eventually(fetch(p)).WithTimeout(timeout).WithPolling(interval).Should(
				haveCondition(b2bv1alpha1.ConditionReady, metav1.ConditionTrue, b2bv1alpha1.ReasonInSync))
			guest := userID(p)
			Expect(members(group.ID)).To(ContainElement(guest))

			By("a policy that no longer allows the group")
			Expect(k8s.Get(suiteCtx, client.ObjectKeyFromObject(pol), pol)).To(Succeed())
			pol.Spec.AllowedGroups = []string{"Some Other Group"}
			Expect(k8s.Update(suiteCtx, pol)).To(Succeed())
			Eventually(func() []string { return members(group.ID) }).WithTimeout(timeout).WithPolling(interval).ShouldNot(ContainElement(guest))
			Eventually(fetch(p)).WithTimeout(timeout).WithPolling(interval).Should(SatisfyAll(
				haveCondition(b2bv1alpha1.ConditionAccessGranted, metav1.ConditionFalse, b2bv1alpha1.ReasonPolicyDenied),
				haveCondition(b2bv1alpha1.ConditionReady, metav1.ConditionFalse, b2bv1alpha1.ReasonPolicyDenied),
			))
			Expect(condition(fetch(p)(Default), b2bv1alpha1.ConditionAccessGranted).Message).To(ContainSubstring("rule allowedGroups"))

			By("a policy that denies the partner's domain")
			Expect(k8s.Get(suiteCtx, client.ObjectKeyFromObject(pol), pol)).To(Succeed())
			pol.Spec.DeniedDomains = []string{"tightened.example"}
			Expect(k8s.Update(suiteCtx, pol)).To(Succeed())
			Eventually(func() string { return condition(fetch(p)(Default), b2bv1alpha1.ConditionReady).Message }).
				WithTimeout(timeout).WithPolling(interval).Should(ContainSubstring("rule deniedDomains"))
			Expect(fetch(p)(Default)).To(haveCondition(b2bv1alpha1.ConditionReady, metav1.ConditionFalse, b2bv1alpha1.ReasonPolicyDenied))
			writes := func() int {
				n := 0
				for _, r := range emu.Requests() {
					if r.Method != "GET" && (r.Path == "/users/"+guest || r.Path == "/invitations" || r.Path == "/groups/"+group.ID+"/members/$ref") {
						n++
					}
				}
				return n
			}
			before := writes()
			// A user's annotation change makes the operator reconcile again under the denial.
			got := fetch(p)(Default)
			base := got.DeepCopy()
			if got.Annotations == nil {
				got.Annotations = map[string]string{}
			}
			got.Annotations["example.com/touched"] = "yes"
			Expect(k8s.Patch(suiteCtx, got, client.MergeFrom(base))).To(Succeed())
			Consistently(writes).WithTimeout(1500 * time.Millisecond).WithPolling(100 * time.Millisecond).Should(Equal(before))
			Expect(invitationsFor("early@tightened.example")).To(Equal(1))

			By("deleting the object still cleans up")
			Expect(k8s.Delete(suiteCtx, p)).To(Succeed())
			eventuallyGone(p)
		})
	})
})
