package controllers_test

import (
	"fmt"
	"strings"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	b2bv1alpha1 "github.com/partnerops/partner-operator/api/v1alpha1"
	"github.com/partnerops/partner-operator/internal/testbed"
)

// tenantSpec is a tenant object's spec for one of the suite's tenants, with its client secret
// in the Secret named secretName.
func tenantSpec(name, secretName string) b2bv1alpha1.GraphTenantSpec {
	t := tenantEmus[name]
	return b2bv1alpha1.GraphTenantSpec{
		TenantID: t.emu.TenantID(), ClientID: t.clientID, Cloud: b2bv1alpha1.Cloud("emulator-" + name),
		Credentials: b2bv1alpha1.TenantCredentials{ClientSecret: &b2bv1alpha1.SecretKeyReference{Name: secretName}},
	}
}

func createSecret(namespace, name, secret string) {
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: name},
		StringData: map[string]string{"client-secret": secret}}
	Expect(k8s.Create(suiteCtx, s)).To(Succeed())
	DeferCleanup(func() { _ = k8s.Delete(suiteCtx, s) })
}

// createClusterTenant creates a ClusterGraphTenant for one of the suite's tenants, its Secret
// in the operator's namespace.
func createClusterTenant(objName, tenantName string) *b2bv1alpha1.ClusterGraphTenant {
	secret := "tenant-" + objName
	createSecret(testbed.OperatorNamespace, secret, tenantEmus[tenantName].secret)
	t := &b2bv1alpha1.ClusterGraphTenant{ObjectMeta: metav1.ObjectMeta{Name: objName}, Spec: tenantSpec(tenantName, secret)}
	Expect(k8s.Create(suiteCtx, t)).To(Succeed())
	DeferCleanup(func() { _ = k8s.Delete(suiteCtx, t) })
	return t
}

func tenantReady(obj b2bv1alpha1.TenantObject) func(Gomega) string {
	return func(g Gomega) string {
		g.Expect(k8s.Get(suiteCtx, client.ObjectKeyFromObject(obj), obj)).To(Succeed())
		c := meta.FindStatusCondition(obj.TenantStatus().Conditions, b2bv1alpha1.ConditionReady)
		if c == nil {
			return ""
		}
		return string(c.Status) + "/" + c.Reason
	}
}

func inTenant(kind, name string) func(*b2bv1alpha1.PartnerInvitation) {
	return func(p *b2bv1alpha1.PartnerInvitation) {
		p.Spec.TenantRef = &b2bv1alpha1.TenantReference{Kind: kind, Name: name}
	}
}

// guestIn reports whether the tenant's directory holds a user with the address.
func guestIn(name, email string) bool {
	for _, u := range tenantEmus[name].emu.Users() {
		if strings.EqualFold(u.Mail, email) {
			return true
		}
	}
	return false
}

func requestsMentioningIn(name, email string) int {
	n := 0
	for _, r := range tenantEmus[name].emu.Requests() {
		if strings.Contains(r.RawQuery, email) || strings.Contains(string(r.Body), email) {
			n++
		}
	}
	return n
}

var _ = Describe("Tenants", Ordered, func() {
	var onlyA, all string // namespaces: one allowed ClusterGraphTenant a only, one allowed every tenant
	var a, b *b2bv1alpha1.ClusterGraphTenant
	var c *b2bv1alpha1.GraphTenant

	BeforeAll(func() {
		var labels map[string]string
		onlyA, labels = labelledNamespace()
		createPolicy("tenants-only-a", labels, b2bv1alpha1.PartnerAccessPolicySpec{
			AllowedTenants: []b2bv1alpha1.TenantRule{{Kind: b2bv1alpha1.KindClusterGraphTenant, Name: "tenant-a"}},
			DefaultTenant:  b2bv1alpha1.DefaultTenantDeny,
		})
		all, labels = labelledNamespace()
		createPolicy("tenants-all", labels, b2bv1alpha1.PartnerAccessPolicySpec{
			AllowedTenants: []b2bv1alpha1.TenantRule{{Kind: b2bv1alpha1.KindClusterGraphTenant, Name: "*"}, {Kind: b2bv1alpha1.KindGraphTenant, Name: "*"}},
		})
		a, b = createClusterTenant("tenant-a", "a"), createClusterTenant("tenant-b", "b")

		By("a namespace editor configures its own namespace's tenant, with a Secret of the namespace")
		editorCfg, err := testbed.NamespaceEditorConfig(suiteCtx, testEnv, k8s, all, "tenant-editor-"+all)
		Expect(err).NotTo(HaveOccurred())
		editor, err := client.New(editorCfg, client.Options{Scheme: k8s.Scheme()})
		Expect(err).NotTo(HaveOccurred())
		Expect(editor.Create(suiteCtx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: all, Name: "tenant-c"},
			StringData: map[string]string{"client-secret": tenantEmus["c"].secret}})).To(Succeed())
		c = &b2bv1alpha1.GraphTenant{ObjectMeta: metav1.ObjectMeta{Namespace: all, Name: "tenant-c"}, Spec: tenantSpec("c", "tenant-c")}
		Expect(editor.Create(suiteCtx, c)).To(Succeed())
		By("but not a ClusterGraphTenant, which holds the cluster owner's credentials")
		Expect(editor.Create(suiteCtx, &b2bv1alpha1.ClusterGraphTenant{ObjectMeta: metav1.ObjectMeta{Name: "editor-" + all},
			Spec: tenantSpec("c", "tenant-c")})).NotTo(Succeed())

		for _, obj := range []b2bv1alpha1.TenantObject{a, b, c} {
			Eventually(tenantReady(obj)).WithTimeout(timeout).WithPolling(interval).Should(Equal("True/" + b2bv1alpha1.ReasonSignedIn))
		}
	})

	It("reports what signing in told: the tenant's name, domains and the token's permissions", func() {
		Expect(k8s.Get(suiteCtx, client.ObjectKeyFromObject(a), a)).To(Succeed())
		Expect(a.Status.DisplayName).To(Equal("Tenant A"))
		Expect(a.Status.VerifiedDomains).To(ContainElement("a.tenants.example"))
		Expect(a.Status.GrantedPermissions).To(ContainElements("User.Invite.All", "User.Read.All"))
		Expect(a.Status.ObservedGeneration).To(Equal(a.Generation))
	})

	It("lets a namespace use only the tenants a policy allows it, at admission and in the controller", func() {
		By("admission refuses tenant b, and the default tenant, in the namespace allowed only a")
		err := k8s.Create(suiteCtx, newInvitation(onlyA, "to-b", "bert@only-a.example", inTenant(b2bv1alpha1.KindClusterGraphTenant, "tenant-b")))
		Expect(err).To(MatchError(ContainSubstring("rule allowedTenants: ClusterGraphTenant tenant-b may not be used")))
		err = k8s.Create(suiteCtx, newInvitation(onlyA, "to-default", "dora@only-a.example"))
		Expect(err).To(MatchError(ContainSubstring("rule defaultTenant")))

		By("the controller refuses it too, before any Graph call, when the namespace loses tenant b after admission")
		moved, labels := labelledNamespace()
		createPolicy("tenants-moved", labels, b2bv1alpha1.PartnerAccessPolicySpec{
			AllowedTenants: []b2bv1alpha1.TenantRule{{Kind: b2bv1alpha1.KindClusterGraphTenant, Name: "tenant-b"}}})
		p := newInvitation(moved, "late", "lena@moved.example", inTenant(b2bv1alpha1.KindClusterGraphTenant, "tenant-b"),
			func(p *b2bv1alpha1.PartnerInvitation) {
				p.Annotations = map[string]string{b2bv1alpha1.AnnotationPaused: "true"}
			})
		Expect(k8s.Create(suiteCtx, p)).To(Succeed())
		ns := &corev1.Namespace{}
		Expect(k8s.Get(suiteCtx, client.ObjectKey{Name: moved}, ns)).To(Succeed())
		ns.Labels = map[string]string{"policy-test": onlyA} // now selected by tenants-only-a only
		Expect(k8s.Update(suiteCtx, ns)).To(Succeed())
		annotate(p, map[string]string{b2bv1alpha1.AnnotationPaused: "false"})
		Eventually(fetch(p)).WithTimeout(timeout).WithPolling(interval).Should(beStalled(b2bv1alpha1.ReasonPolicyDenied))
		Expect(condition(fetch(p)(Default), b2bv1alpha1.ConditionReady).Message).To(ContainSubstring("allowedTenants"))
		Expect(requestsMentioningIn("b", "lena@moved.example")).To(BeZero())
	})

	It("keeps each tenant's guests, claims and tokens apart", func() {
		email := "sam@two-tenants.example"
		inA := newInvitation(all, "sam-a", email, inTenant(b2bv1alpha1.KindClusterGraphTenant, "tenant-a"))
		inB := newInvitation(all, "sam-b", email, inTenant(b2bv1alpha1.KindClusterGraphTenant, "tenant-b"))
		inC := newInvitation(all, "sam-c", email, inTenant("", "tenant-c")) // kind defaults to GraphTenant
		for _, p := range []*b2bv1alpha1.PartnerInvitation{inA, inB, inC} {
			createReady(p)
		}
		By("the same address is a guest in each tenant, managed by its own object")
		Expect(guestIn("a", email) && guestIn("b", email) && guestIn("c", email)).To(BeTrue())
		_, inDefault := guestByEmail(email)
		Expect(inDefault).To(BeFalse())
		ids := map[string]string{}
		for _, p := range []*b2bv1alpha1.PartnerInvitation{inA, inB, inC} {
			got := fetch(p)(Default)
			ids[got.Status.UserID] = got.Status.TenantID
		}
		Expect(ids).To(HaveLen(3))
		Expect(ids).To(ContainElements(tenantEmus["a"].emu.TenantID(), tenantEmus["b"].emu.TenantID(), tenantEmus["c"].emu.TenantID()))
		By("no tenant ever saw another's token")
		for _, name := range tenantNames {
			Expect(tenantEmus[name].emu.ForeignTokens()).To(BeZero(), "tokens of another tenant sent to tenant %s", name)
		}
		Expect(emu.ForeignTokens()).To(BeZero())
	})

	It("resolves a name used by both kinds as documented: the kind defaults to GraphTenant, in the invitation's namespace", func() {
		createClusterTenant("tenant-c", "a") // same name as the GraphTenant, another tenant
		shared := &b2bv1alpha1.ClusterGraphTenant{ObjectMeta: metav1.ObjectMeta{Name: "tenant-c"}}
		Eventually(tenantReady(shared)).WithTimeout(timeout).WithPolling(interval).Should(Equal("True/" + b2bv1alpha1.ReasonSignedIn))
		namespaced := newInvitation(all, "nina-ns", "nina@same-name.example", inTenant("", "tenant-c"))
		cluster := newInvitation(all, "nina-cluster", "nils@same-name.example", inTenant(b2bv1alpha1.KindClusterGraphTenant, "tenant-c"))
		createReady(namespaced)
		createReady(cluster)
		Expect(guestIn("c", "nina@same-name.example")).To(BeTrue())
		Expect(guestIn("a", "nina@same-name.example")).To(BeFalse())
		Expect(guestIn("a", "nils@same-name.example")).To(BeTrue())
		Expect(guestIn("c", "nils@same-name.example")).To(BeFalse())
	})

	It("stalls only the objects of a tenant whose credentials are revoked, naming the tenant", func() {
		inB := newInvitation(all, "rita-b", "rita@revoked.example", inTenant(b2bv1alpha1.KindClusterGraphTenant, "tenant-b"))
		createReady(inB)
		tenantEmus["b"].emu.DisableApp(tenantEmus["b"].clientID)
		DeferCleanup(func() { tenantEmus["b"].emu.EnableApp(tenantEmus["b"].clientID) })

		Eventually(tenantReady(b)).WithTimeout(timeout).WithPolling(interval).Should(Equal("False/" + b2bv1alpha1.ReasonCredentialsInvalid))
		poke(inB)
		Eventually(fetch(inB)).WithTimeout(timeout).WithPolling(interval).Should(beStalled(b2bv1alpha1.ReasonTenantNotReady))
		Expect(condition(fetch(inB)(Default), b2bv1alpha1.ConditionStalled).Message).To(ContainSubstring("ClusterGraphTenant tenant-b"))

		By("tenant a keeps working meanwhile")
		Expect(tenantReady(a)(Default)).To(Equal("True/" + b2bv1alpha1.ReasonSignedIn))
		createReady(newInvitation(all, "rita-a", "rita@revoked.example", inTenant(b2bv1alpha1.KindClusterGraphTenant, "tenant-a")))

		By("granted again, tenant b and its objects recover")
		tenantEmus["b"].emu.EnableApp(tenantEmus["b"].clientID)
		Eventually(tenantReady(b)).WithTimeout(timeout).WithPolling(interval).Should(Equal("True/" + b2bv1alpha1.ReasonSignedIn))
		Eventually(fetch(inB)).WithTimeout(timeout).WithPolling(interval).Should(
			haveCondition(b2bv1alpha1.ConditionReady, metav1.ConditionTrue, b2bv1alpha1.ReasonInSync))
	})

	It("refuses a tenant reference moved to another directory once the guest exists", func() {
		p := newInvitation(all, "mo", "mo@moving.example", inTenant(b2bv1alpha1.KindClusterGraphTenant, "tenant-a"))
		createReady(p)
		got := fetch(p)(Default)
		got.Spec.TenantRef.Name = "tenant-b"
		Expect(k8s.Update(suiteCtx, got)).To(Succeed())
		Eventually(fetch(p)).WithTimeout(timeout).WithPolling(interval).Should(beStalled(b2bv1alpha1.ReasonTenantMismatch))
		Expect(requestsMentioningIn("b", "mo@moving.example")).To(BeZero())
		Expect(guestIn("b", "mo@moving.example")).To(BeFalse())
	})

	It("reports a tenant whose Secret is missing, naming it, and never signs in", func() {
		t := &b2bv1alpha1.ClusterGraphTenant{ObjectMeta: metav1.ObjectMeta{Name: "tenant-no-secret"}, Spec: tenantSpec("a", "no-such-secret")}
		Expect(k8s.Create(suiteCtx, t)).To(Succeed())
		DeferCleanup(func() { _ = k8s.Delete(suiteCtx, t) })
		Eventually(tenantReady(t)).WithTimeout(timeout).WithPolling(interval).Should(Equal("False/" + b2bv1alpha1.ReasonSecretNotFound))
		c := meta.FindStatusCondition(t.Status.Conditions, b2bv1alpha1.ConditionReady)
		Expect(c.Message).To(ContainSubstring(fmt.Sprintf("Secret %s/no-such-secret not found", testbed.OperatorNamespace)))
	})
})
