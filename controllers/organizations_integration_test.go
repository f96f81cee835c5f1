package controllers_test

import (
	"fmt"
	"strings"
	"sync/atomic"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	eventsv1 "k8s.io/api/events/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	b2bv1alpha1 "github.com/partnerops/partner-operator/api/v1alpha1"
	"github.com/partnerops/partner-operator/internal/graph/emulator"
	"github.com/partnerops/partner-operator/internal/testbed"
)

var partnerCounter atomic.Int64

func kimAddress(p emulator.ExternalTenant) string { return "kim@" + p.DefaultDomain }

// newPartnerTenant makes another organization's tenant known to the suite's tenant, with one
// domain of its own, and returns it.
func newPartnerTenant(autoRedeem bool) emulator.ExternalTenant {
	n := partnerCounter.Add(1)
	return emu.AddExternalTenant(emulator.ExternalTenant{
		TenantID:    fmt.Sprintf("%08d-0000-4000-9000-00000000%04d", 77, n),
		DisplayName: fmt.Sprintf("Partner %d Ltd", n), DefaultDomain: fmt.Sprintf("partner%d.example", n),
		AutomaticRedemptionOutbound: autoRedeem,
	})
}

// newOrganization is a PartnerOrganization for the partner's domain: its B2B collaboration
// open to all its users for all our applications, its MFA trusted.
func newOrganization(p emulator.ExternalTenant, mutate ...func(*b2bv1alpha1.PartnerOrganization)) *b2bv1alpha1.PartnerOrganization {
	org := &b2bv1alpha1.PartnerOrganization{
		ObjectMeta: metav1.ObjectMeta{Name: strings.ReplaceAll(p.DefaultDomain, ".", "-")},
		Spec: b2bv1alpha1.PartnerOrganizationSpec{
			Domains: []string{p.DefaultDomain},
			PartnerSettings: b2bv1alpha1.PartnerSettings{
				B2BCollaborationInbound: &b2bv1alpha1.B2BInbound{
					UsersAndGroups: b2bv1alpha1.PartnerUsersAndGroups{Access: b2bv1alpha1.AccessAllowed, Users: []string{b2bv1alpha1.TargetAllUsers}, Groups: []string{}},
					Applications:   b2bv1alpha1.OurApplications{Access: b2bv1alpha1.AccessAllowed, Applications: []string{b2bv1alpha1.TargetAllApplications}},
				},
				InboundTrust: &b2bv1alpha1.InboundTrust{MFAAccepted: ptr.To(true)},
			},
		},
	}
	for _, m := range mutate {
		m(org)
	}
	return org
}

func createOrganization(org *b2bv1alpha1.PartnerOrganization) *b2bv1alpha1.PartnerOrganization {
	Expect(k8s.Create(suiteCtx, org)).To(Succeed())
	DeferCleanup(func() { _ = k8s.Delete(suiteCtx, org) })
	return org
}

// orgReady is the organization's Ready status and reason.
func orgReady(org *b2bv1alpha1.PartnerOrganization) func(Gomega) string {
	return func(g Gomega) string {
		g.Expect(k8s.Get(suiteCtx, client.ObjectKeyFromObject(org), org)).To(Succeed())
		c := meta.FindStatusCondition(org.Status.Conditions, b2bv1alpha1.ConditionReady)
		if c == nil || c.ObservedGeneration != org.Generation {
			return ""
		}
		return string(c.Status) + "/" + c.Reason
	}
}

// partnerSetting reads one setting of the tenant's partner configuration, as Graph stores it.
func partnerSetting(tenantID string, path ...string) func() any {
	return func() any {
		var v any
		cfg, ok := emu.Partner(tenantID)
		if !ok {
			return nil
		}
		v = cfg
		for _, p := range path {
			m, ok := v.(map[string]any)
			if !ok {
				return nil
			}
			v = m[p]
		}
		return v
	}
}

// crossTenantWrites counts the creates and updates of the tenant's cross-tenant access
// settings so far (other specs' cleanups delete theirs meanwhile).
func crossTenantWrites() int {
	n := 0
	for _, r := range emu.Requests() {
		if (r.Method == "POST" || r.Method == "PATCH") && strings.Contains(strings.ToLower(r.Path), "crosstenantaccesspolicy") {
			n++
		}
	}
	return n
}

// orgEventReasons lists the reasons of the events recorded for the organization (events of a
// cluster-scoped object land in the default namespace).
func orgEventReasons(name string) []string {
	list := &eventsv1.EventList{}
	Expect(k8s.List(suiteCtx, list)).To(Succeed())
	var out []string
	for _, e := range list.Items {
		if e.Regarding.Kind == b2bv1alpha1.KindPartnerOrganization && e.Regarding.Name == name {
			out = append(out, e.Reason)
		}
	}
	return out
}

var _ = Describe("PartnerOrganization", func() {
	It("resolves a known domain to its tenant, creates the partner configuration and reports Ready", func() {
		p := newPartnerTenant(false)
		org := createOrganization(newOrganization(p))
		Eventually(orgReady(org)).WithTimeout(timeout).WithPolling(interval).Should(Equal("True/" + b2bv1alpha1.ReasonConfigured))
		Expect(org.Status.TenantID).To(Equal(p.TenantID))
		Expect(org.Status.DisplayName).To(Equal(p.DisplayName))
		Expect(org.Status.DefaultDomain).To(Equal(p.DefaultDomain))
		Expect(org.Status.Configuration).To(Equal(b2bv1alpha1.ConfigurationCreated))
		Expect(org.Finalizers).To(ContainElement("b2b.partnerops.io/partner-configuration"))
		Expect(partnerSetting(p.TenantID, "inboundTrust", "isMfaAccepted")()).To(Equal(true))
		Expect(partnerSetting(p.TenantID, "b2bCollaborationInbound", "usersAndGroups", "accessType")()).To(Equal("allowed"))
		By("status shows the settings in effect")
		Expect(org.Status.Settings).NotTo(BeNil())
		Expect(org.Status.Settings.InboundTrust.MFAAccepted).To(Equal(ptr.To(true)))
		Expect(org.Status.Settings.B2BCollaborationInbound.UsersAndGroups.Users).To(ConsistOf(b2bv1alpha1.TargetAllUsers))
	})

	It("sets back a setting changed outside the operator, and leaves the settings the spec omits alone", func() {
		p := newPartnerTenant(false)
		org := createOrganization(newOrganization(p))
		Eventually(orgReady(org)).WithTimeout(timeout).WithPolling(interval).Should(Equal("True/" + b2bv1alpha1.ReasonConfigured))

		By("someone turns MFA trust off in the portal, and turns on device trust the spec says nothing about")
		Expect(emu.PatchPartner(p.TenantID, `{"inboundTrust":{"isMfaAccepted":false,"isCompliantDeviceAccepted":true,"isHybridAzureADJoinedDeviceAccepted":false}}`)).To(Succeed())
		Expect(partnerSetting(p.TenantID, "inboundTrust", "isMfaAccepted")()).To(Equal(false))
		Eventually(partnerSetting(p.TenantID, "inboundTrust", "isMfaAccepted")).WithTimeout(timeout).WithPolling(interval).Should(Equal(true))
		Expect(partnerSetting(p.TenantID, "inboundTrust", "isCompliantDeviceAccepted")()).To(Equal(true), "a setting the spec omits is left as the tenant has it")
		Eventually(func() []string { return orgEventReasons(org.Name) }).WithTimeout(timeout).WithPolling(interval).Should(ContainElement(b2bv1alpha1.ReasonDriftCorrected))

		By("a configuration deleted outside the operator is created again")
		Expect(emu.DeletePartnerOutOfBand(p.TenantID)).To(Succeed())
		Eventually(partnerSetting(p.TenantID, "tenantId")).WithTimeout(timeout).WithPolling(interval).Should(Equal(p.TenantID))
	})

	It("reports TenantNotFound for a domain no tenant has, and writes nothing", func() {
		writes := crossTenantWrites()
		org := createOrganization(newOrganization(emulator.ExternalTenant{DefaultDomain: "no-such-tenant.example"}))
		Eventually(orgReady(org)).WithTimeout(timeout).WithPolling(interval).Should(Equal("False/" + b2bv1alpha1.ReasonTenantNotFound))
		stalled := meta.FindStatusCondition(org.Status.Conditions, b2bv1alpha1.ConditionStalled)
		Expect(stalled).NotTo(BeNil())
		Expect(stalled.Message).To(ContainSubstring("spec.domains"))
		Expect(stalled.Message).To(ContainSubstring("no-such-tenant.example"))
		Expect(crossTenantWrites()).To(Equal(writes))
	})

	It("refuses domains that resolve to another tenant than spec.tenantID, and writes nothing", func() {
		p := newPartnerTenant(false)
		writes := crossTenantWrites()
		org := createOrganization(newOrganization(p, func(o *b2bv1alpha1.PartnerOrganization) {
			o.Spec.TenantID = "00000000-0000-4000-9000-000000009999"
		}))
		Eventually(orgReady(org)).WithTimeout(timeout).WithPolling(interval).Should(Equal("False/" + b2bv1alpha1.ReasonDomainMismatch))
		Expect(crossTenantWrites()).To(Equal(writes))
		_, exists := emu.Partner(p.TenantID)
		Expect(exists).To(BeFalse())
	})

	It("leaves a domain with the older of two organizations that list it", func() {
		p := newPartnerTenant(false)
		older := createOrganization(newOrganization(p))
		Eventually(orgReady(older)).WithTimeout(timeout).WithPolling(interval).Should(Equal("True/" + b2bv1alpha1.ReasonConfigured))
		writes := crossTenantWrites()
		younger := createOrganization(newOrganization(p, func(o *b2bv1alpha1.PartnerOrganization) { o.Name = "again-" + o.Name }))
		Eventually(orgReady(younger)).WithTimeout(timeout).WithPolling(interval).Should(Equal("False/" + b2bv1alpha1.ReasonConflict))
		Expect(meta.FindStatusCondition(younger.Status.Conditions, b2bv1alpha1.ConditionReady).Message).To(ContainSubstring("belongs to PartnerOrganization " + older.Name))
		Expect(crossTenantWrites()).To(Equal(writes))
	})

	It("adopts a configuration that exists already only where the spec says Adopt", func() {
		p := newPartnerTenant(false)
		Expect(emu.PatchPartner(p.TenantID, `{"inboundTrust":{"isMfaAccepted":false}}`)).To(Succeed())
		org := createOrganization(newOrganization(p))
		Eventually(orgReady(org)).WithTimeout(timeout).WithPolling(interval).Should(Equal("False/" + b2bv1alpha1.ReasonAdoptionDenied))
		Expect(partnerSetting(p.TenantID, "inboundTrust", "isMfaAccepted")()).To(Equal(false), "nothing written to a configuration not adopted")

		org.Spec.Adoption = b2bv1alpha1.OrganizationAdoptionAdopt
		Expect(k8s.Update(suiteCtx, org)).To(Succeed())
		Eventually(orgReady(org)).WithTimeout(timeout).WithPolling(interval).Should(Equal("True/" + b2bv1alpha1.ReasonConfigured))
		Expect(org.Status.Configuration).To(Equal(b2bv1alpha1.ConfigurationAdopted))
		Expect(partnerSetting(p.TenantID, "inboundTrust", "isMfaAccepted")()).To(Equal(true))
	})

	It("removes the configuration on deletion with Delete, and keeps it with Orphan", func() {
		del, orphan := newPartnerTenant(false), newPartnerTenant(false)
		a := createOrganization(newOrganization(del))
		b := createOrganization(newOrganization(orphan, func(o *b2bv1alpha1.PartnerOrganization) {
			o.Spec.DeletionPolicy = b2bv1alpha1.DeletionPolicyOrphan
		}))
		for _, org := range []*b2bv1alpha1.PartnerOrganization{a, b} {
			Eventually(orgReady(org)).WithTimeout(timeout).WithPolling(interval).Should(Equal("True/" + b2bv1alpha1.ReasonConfigured))
			Expect(k8s.Delete(suiteCtx, org)).To(Succeed())
			Eventually(func() error {
				return k8s.Get(suiteCtx, client.ObjectKeyFromObject(org), &b2bv1alpha1.PartnerOrganization{})
			}).WithTimeout(timeout).WithPolling(interval).Should(MatchError(ContainSubstring("not found")))
		}
		_, kept := emu.Partner(del.TenantID)
		Expect(kept).To(BeFalse(), "deletionPolicy Delete removes the partner configuration")
		_, kept = emu.Partner(orphan.TenantID)
		Expect(kept).To(BeTrue(), "deletionPolicy Orphan leaves it")
	})

	It("shows the organization on invitations to its domains, and counts them", func() {
		p := newPartnerTenant(false)
		org := createOrganization(newOrganization(p))
		ns := newNamespace()
		inv := newInvitation(ns, "org-member", "ada@"+strings.ToUpper(p.DefaultDomain))
		Expect(k8s.Create(suiteCtx, inv)).To(Succeed())
		other := newInvitation(ns, "no-org", "bob@unaffiliated.example")
		Expect(k8s.Create(suiteCtx, other)).To(Succeed())
		Eventually(func(g Gomega) string { return fetch(inv)(g).Status.Organization }).WithTimeout(timeout).WithPolling(interval).Should(Equal(org.Name))
		Eventually(func(g Gomega) int32 {
			g.Expect(k8s.Get(suiteCtx, client.ObjectKeyFromObject(org), org)).To(Succeed())
			return org.Status.Invitations
		}).WithTimeout(timeout).WithPolling(interval).Should(Equal(int32(1)))
		Eventually(func(g Gomega) bool { return fetch(other)(g).Status.State != "" }).WithTimeout(timeout).WithPolling(interval).Should(BeTrue())
		Expect(fetch(other)(Default).Status.Organization).To(BeEmpty())

		By("the partner redeems: the organization counts it as accepted")
		Eventually(func(g Gomega) string { return fetch(inv)(g).Status.UserID }).WithTimeout(timeout).WithPolling(interval).ShouldNot(BeEmpty())
		Expect(emu.AcceptInvitation(fetch(inv)(Default).Status.UserID)).To(Succeed())
		Eventually(func(g Gomega) int32 {
			g.Expect(k8s.Get(suiteCtx, client.ObjectKeyFromObject(org), org)).To(Succeed())
			return org.Status.AcceptedInvitations
		}).WithTimeout(timeout).WithPolling(interval).Should(Equal(int32(1)))
	})

	It("lets a policy with requireOrganization refuse, at admission, invitations to undeclared domains", func() {
		p := newPartnerTenant(false)
		org := createOrganization(newOrganization(p))
		ns, labels := labelledNamespace()
		policy := createPolicy("require-org-"+ns, labels, b2bv1alpha1.PartnerAccessPolicySpec{RequireOrganization: true})
		Eventually(func(g Gomega) []string {
			g.Expect(k8s.Get(suiteCtx, client.ObjectKeyFromObject(policy), policy)).To(Succeed())
			return policy.Status.OrganizationDomains
		}).WithTimeout(timeout).WithPolling(interval).Should(ContainElement(p.DefaultDomain))

		editorCfg, err := testbed.NamespaceEditorConfig(suiteCtx, testEnv, k8s, ns, "org-inviter-"+ns)
		Expect(err).NotTo(HaveOccurred())
		editor, err := client.New(editorCfg, client.Options{Scheme: k8s.Scheme()})
		Expect(err).NotTo(HaveOccurred())
		Eventually(func() error {
			return editor.Create(suiteCtx, newInvitation(ns, "anyone", "someone@mailbox.example"), client.DryRunAll)
		}).WithTimeout(timeout).WithPolling(interval).Should(MatchError(ContainSubstring("rule requireOrganization: @mailbox.example is not a domain of any PartnerOrganization")))
		Expect(editor.Create(suiteCtx, newInvitation(ns, "partner", "eve@"+p.DefaultDomain))).To(Succeed())
		Eventually(func(g Gomega) string { return fetch(newInvitation(ns, "partner", ""))(g).Status.Organization }).
			WithTimeout(timeout).WithPolling(interval).Should(Equal(org.Name))

		By("an invitation admitted before the policy required an organization is refused by the controller")
		early := newInvitation(ns, "early", "early@mailbox.example")
		DeferCleanup(func() { _ = k8s.Delete(suiteCtx, early) })
		policy.Spec.RequireOrganization = false
		Expect(k8s.Update(suiteCtx, policy)).To(Succeed())
		Eventually(func() error { return editor.Create(suiteCtx, early.DeepCopy()) }).WithTimeout(timeout).WithPolling(interval).Should(Succeed())
		Eventually(func(g Gomega) string { return fetch(early)(g).Status.UserID }).WithTimeout(timeout).WithPolling(interval).ShouldNot(BeEmpty())
		Expect(k8s.Get(suiteCtx, client.ObjectKeyFromObject(policy), policy)).To(Succeed())
		policy.Spec.RequireOrganization = true
		Expect(k8s.Update(suiteCtx, policy)).To(Succeed())
		Eventually(fetch(early)).WithTimeout(timeout).WithPolling(interval).Should(
			haveCondition(b2bv1alpha1.ConditionReady, metav1.ConditionFalse, b2bv1alpha1.ReasonPolicyDenied))
		Expect(meta.FindStatusCondition(fetch(early)(Default).Status.Conditions, b2bv1alpha1.ConditionReady).Message).To(ContainSubstring("rule requireOrganization"))

		By("the namespace editor cannot declare an organization: that is the cluster owner's decision")
		err = editor.Create(suiteCtx, newOrganization(emulator.ExternalTenant{DefaultDomain: "mailbox.example"}), client.DryRunAll)
		Expect(rbacForbidden(err)).To(BeTrue(), "a namespace editor creating a PartnerOrganization: %v", err)
	})

	It("names the permission Graph refused, and writes again once it is granted", func() {
		p := newPartnerTenant(false)
		emu.SetGrantedPermissions([]string{"Policy.Read.All", "CrossTenantInformation.ReadBasic.All", "User.Invite.All", "User.ReadWrite.All",
			"User.DeleteRestore.All", "Directory.Read.All", "Application.ReadWrite.All", "GroupMember.ReadWrite.All", "AppRoleAssignment.ReadWrite.All"}...)
		DeferCleanup(func() { emu.SetGrantedPermissions() })
		org := createOrganization(newOrganization(p))
		Eventually(orgReady(org)).WithTimeout(timeout).WithPolling(interval).Should(Equal("False/" + b2bv1alpha1.ReasonPermissionDenied))
		stalled := meta.FindStatusCondition(org.Status.Conditions, b2bv1alpha1.ConditionStalled)
		Expect(stalled).NotTo(BeNil())
		Expect(stalled.Message).To(ContainSubstring("Policy.ReadWrite.CrossTenantAccess"))
		_, exists := emu.Partner(p.TenantID)
		Expect(exists).To(BeFalse())

		emu.SetGrantedPermissions()
		org.Spec.InboundTrust.CompliantDeviceAccepted = ptr.To(true) // a spec change retries at once
		Expect(k8s.Update(suiteCtx, org)).To(Succeed())
		Eventually(orgReady(org)).WithTimeout(timeout).WithPolling(interval).Should(Equal("True/" + b2bv1alpha1.ReasonConfigured))
	})

	It("redeems guests of an organization with automatic redemption on both sides without the mail's link", func() {
		p := newPartnerTenant(true)
		org := createOrganization(newOrganization(p, func(o *b2bv1alpha1.PartnerOrganization) {
			o.Spec.AutomaticRedemption = ptr.To(true)
		}))
		Eventually(orgReady(org)).WithTimeout(timeout).WithPolling(interval).Should(Equal("True/" + b2bv1alpha1.ReasonConfigured))
		Expect(partnerSetting(p.TenantID, "automaticUserConsentSettings", "inboundAllowed")()).To(Equal(true))
		inv := newInvitation(newNamespace(), "auto", kimAddress(p))
		Expect(k8s.Create(suiteCtx, inv)).To(Succeed())
		Eventually(func(g Gomega) b2bv1alpha1.InvitationState { return fetch(inv)(g).Status.State }).
			WithTimeout(timeout).WithPolling(interval).Should(Equal(b2bv1alpha1.StateAccepted))
		Eventually(fetch(inv)).WithTimeout(timeout).WithPolling(interval).Should(
			haveCondition(b2bv1alpha1.ConditionRedeemed, metav1.ConditionTrue, b2bv1alpha1.ReasonAutomaticRedemption))
		Expect(emu.MailsSent(kimAddress(p))).To(BeZero(), "automatic redemption sends no invitation mail")
	})
})
