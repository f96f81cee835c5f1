package controllers_test

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/sets"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/partnerops/partner-operator/internal/testbed"
)

// The operator runs in this suite as the ServiceAccount config/default installs, with the RBAC
// config/rbac ships (testbed.InstallOperatorIdentity). These specs pin that RBAC down: every
// rule the operator needs, and nothing more.

// operatorNeeds is every permission the operator uses, as group/resource/verb, cluster-wide
// (ClusterRole partner-operator, generated from the +kubebuilder:rbac markers).
var operatorNeeds = []string{
	// the reconciler: reads invitations, patches finalizer and bookkeeping, writes status
	"b2b.partnerops.io/partnerinvitations/get",
	"b2b.partnerops.io/partnerinvitations/list",
	"b2b.partnerops.io/partnerinvitations/watch",
	"b2b.partnerops.io/partnerinvitations/patch",
	"b2b.partnerops.io/partnerinvitations/status/patch",
	// ownerReferences with blockOwnerDeletion on the redemption Secret
	"b2b.partnerops.io/partnerinvitations/finalizers/update",
	// policy enforcement: the policies and the labels of the namespaces they select
	"b2b.partnerops.io/partneraccesspolicies/get",
	"b2b.partnerops.io/partneraccesspolicies/list",
	"b2b.partnerops.io/partneraccesspolicies/watch",
	// each policy's Ready condition: whether the operator applies it
	"b2b.partnerops.io/partneraccesspolicies/status/patch",
	// tenant objects: the ones invitations name, and their Ready condition
	"b2b.partnerops.io/graphtenants/get",
	"b2b.partnerops.io/graphtenants/list",
	"b2b.partnerops.io/graphtenants/watch",
	"b2b.partnerops.io/graphtenants/status/patch",
	"b2b.partnerops.io/clustergraphtenants/get",
	"b2b.partnerops.io/clustergraphtenants/list",
	"b2b.partnerops.io/clustergraphtenants/watch",
	"b2b.partnerops.io/clustergraphtenants/status/patch",
	// organizations: read, the finalizer patched, status written; never created or deleted
	"b2b.partnerops.io/partnerorganizations/get",
	"b2b.partnerops.io/partnerorganizations/list",
	"b2b.partnerops.io/partnerorganizations/watch",
	"b2b.partnerops.io/partnerorganizations/patch",
	"b2b.partnerops.io/partnerorganizations/status/patch",
	"/namespaces/get",
	"/namespaces/list",
	"/namespaces/watch",
	// the redemption-URL Secret, by name only: never list or watch
	"/secrets/get",
	"/secrets/create",
	"/secrets/patch",
	// the reconciler's events (events.k8s.io/v1)
	"events.k8s.io/events/create",
	"events.k8s.io/events/patch",
	// the metrics endpoint's authentication and authorization (controller-runtime's filter)
	"authentication.k8s.io/tokenreviews/create",
	"authorization.k8s.io/subjectaccessreviews/create",
}

// operatorNamespaceNeeds is what it needs in its own namespace only (Roles partner-operator
// and leader-election): address claims, the leader-election Lease and its events.
var operatorNamespaceNeeds = []string{
	"coordination.k8s.io/leases/get",
	"coordination.k8s.io/leases/create",
	"coordination.k8s.io/leases/update",
	"coordination.k8s.io/leases/delete",
	"/events/create",
	"/events/patch",
}

type permission struct {
	namespace, group, resource, subresource, verb string
}

func (p permission) String() string {
	r := p.resource
	if p.subresource != "" {
		r += "/" + p.subresource
	}
	where := "cluster-wide"
	if p.namespace != "" {
		where = "in namespace " + p.namespace
	}
	if p.group != "" {
		r += "." + p.group
	}
	return fmt.Sprintf("%s %s %s", p.verb, r, where)
}

// parsePermission reads "group/resource[/subresource]/verb".
func parsePermission(namespace, s string) permission {
	parts := strings.Split(s, "/")
	p := permission{namespace: namespace, group: parts[0], resource: parts[1], verb: parts[len(parts)-1]}
	if len(parts) == 4 {
		p.subresource = parts[2]
	}
	return p
}

// operatorMay asks the API server, with a SubjectAccessReview created as admin, whether the
// operator's ServiceAccount may do p.
func operatorMay(p permission) bool {
	GinkgoHelper()
	ok, _, err := testbed.Allowed(suiteCtx, k8s, testbed.OperatorUser, testbed.OperatorGroups, authorizationv1.ResourceAttributes{
		Namespace: p.namespace, Group: p.group, Resource: p.resource, Subresource: p.subresource, Verb: p.verb,
	})
	Expect(err).NotTo(HaveOccurred())
	return ok
}

// resourceRules are the permissions a SelfSubjectRulesReview reports for cfg's user in
// namespace, as "group/resource/verb" (plus "[names]" when limited to resource names).
func resourceRules(cfg *rest.Config, namespace string) sets.Set[string] {
	GinkgoHelper()
	c, err := client.New(cfg, client.Options{Scheme: k8s.Scheme()})
	Expect(err).NotTo(HaveOccurred())
	review := &authorizationv1.SelfSubjectRulesReview{Spec: authorizationv1.SelfSubjectRulesReviewSpec{Namespace: namespace}}
	Expect(c.Create(suiteCtx, review)).To(Succeed())
	Expect(review.Status.Incomplete).To(BeFalse(), review.Status.EvaluationError)
	got := sets.New[string]()
	for _, r := range review.Status.ResourceRules {
		names := ""
		if len(r.ResourceNames) > 0 {
			names = fmt.Sprintf("[%s]", strings.Join(r.ResourceNames, ","))
		}
		for _, g := range r.APIGroups {
			for _, res := range r.Resources {
				for _, v := range r.Verbs {
					got.Insert(g + "/" + res + "/" + v + names)
				}
			}
		}
	}
	return got
}

var _ = Describe("RBAC", func() {
	It("runs the operator as the shipped ServiceAccount, which the API server holds to its role", func() {
		op, err := client.New(operatorCfg, client.Options{Scheme: k8s.Scheme()})
		Expect(err).NotTo(HaveOccurred())
		By("authenticating as " + testbed.OperatorUser)
		who := &authenticationv1.SelfSubjectReview{}
		Expect(op.Create(suiteCtx, who)).To(Succeed())
		Expect(who.Status.UserInfo.Username).To(Equal(testbed.OperatorUser))
		Expect(who.Status.UserInfo.Groups).NotTo(ContainElement("system:masters"))

		By("being refused what the role lacks (envtest enforces RBAC)")
		ns := newNamespace()
		err = op.List(suiteCtx, &corev1.SecretList{}, client.InNamespace(ns))
		Expect(apierrors.IsForbidden(err)).To(BeTrue(), "listing Secrets as the operator: %v", err)
		err = op.Delete(suiteCtx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}})
		Expect(apierrors.IsForbidden(err)).To(BeTrue(), "deleting a namespace as the operator: %v", err)

		By("being allowed what it needs")
		err = op.Get(suiteCtx, client.ObjectKey{Namespace: ns, Name: "no-such-secret"}, &corev1.Secret{})
		Expect(apierrors.IsNotFound(err)).To(BeTrue(), "reading a Secret by name as the operator: %v", err)
		Expect(op.List(suiteCtx, &corev1.NamespaceList{})).To(Succeed())
	})

	It("lets the operator do everything it needs", func() {
		ns := newNamespace()
		var missing []string
		for _, need := range operatorNeeds {
			for _, where := range []string{"", ns} {
				p := parsePermission(where, need)
				if (p.resource == "namespaces" || p.resource == "partneraccesspolicies" || p.resource == "tokenreviews" ||
					p.resource == "subjectaccessreviews") && where != "" {
					continue // cluster-scoped
				}
				if !operatorMay(p) {
					missing = append(missing, p.String())
				}
			}
		}
		for _, need := range operatorNamespaceNeeds {
			if p := parsePermission(testbed.OperatorNamespace, need); !operatorMay(p) {
				missing = append(missing, p.String())
			}
		}
		Expect(missing).To(BeEmpty(), "config/rbac does not give the operator these permissions")
	})

	It("refuses the operator what it does not need", func() {
		ns := newNamespace()
		var refused []permission
		for _, where := range []string{"", ns, testbed.OperatorNamespace} {
			refused = append(refused,
				// no Secret of the cluster is ever listed, watched or removed by the operator
				permission{namespace: where, resource: "secrets", verb: "list"},
				permission{namespace: where, resource: "secrets", verb: "watch"},
				permission{namespace: where, resource: "secrets", verb: "delete"},
				permission{namespace: where, resource: "secrets", verb: "deletecollection"},
				permission{namespace: where, resource: "secrets", verb: "update"},
				// people write invitations; the operator only patches them
				permission{namespace: where, group: "b2b.partnerops.io", resource: "partnerinvitations", verb: "create"},
				permission{namespace: where, group: "b2b.partnerops.io", resource: "partnerinvitations", verb: "update"},
				permission{namespace: where, group: "b2b.partnerops.io", resource: "partnerinvitations", verb: "delete"},
				permission{namespace: where, group: "b2b.partnerops.io", resource: "partnerinvitations", subresource: "status", verb: "update"},
				permission{namespace: where, resource: "serviceaccounts", subresource: "token", verb: "create"},
				permission{namespace: where, resource: "pods", verb: "create"},
				permission{namespace: where, resource: "configmaps", verb: "get"},
				permission{namespace: where, group: "rbac.authorization.k8s.io", resource: "rolebindings", verb: "create"},
				permission{namespace: where, group: "rbac.authorization.k8s.io", resource: "roles", verb: "escalate"},
			)
		}
		refused = append(refused,
			// the platform team writes policies; the operator only reads them (and writes status)
			permission{group: "b2b.partnerops.io", resource: "partneraccesspolicies", verb: "create"},
			permission{group: "b2b.partnerops.io", resource: "partneraccesspolicies", verb: "update"},
			permission{group: "b2b.partnerops.io", resource: "partneraccesspolicies", verb: "patch"},
			permission{group: "b2b.partnerops.io", resource: "partneraccesspolicies", verb: "delete"},
			// Leases (claims, leader election) only in its own namespace, and never listed
			permission{namespace: "default", group: "coordination.k8s.io", resource: "leases", verb: "create"},
			permission{namespace: "kube-system", group: "coordination.k8s.io", resource: "leases", verb: "create"},
			permission{namespace: "kube-system", group: "coordination.k8s.io", resource: "leases", verb: "update"},
			permission{namespace: ns, group: "coordination.k8s.io", resource: "leases", verb: "get"},
			permission{group: "coordination.k8s.io", resource: "leases", verb: "create"},
			permission{namespace: testbed.OperatorNamespace, group: "coordination.k8s.io", resource: "leases", verb: "list"},
			permission{namespace: testbed.OperatorNamespace, group: "coordination.k8s.io", resource: "leases", verb: "watch"},
			// core Events (leader election) only in its own namespace
			permission{namespace: ns, resource: "events", verb: "create"},
			// nothing that changes who may do what, or who anyone is
			permission{group: "rbac.authorization.k8s.io", resource: "clusterrolebindings", verb: "create"},
			permission{group: "rbac.authorization.k8s.io", resource: "clusterroles", verb: "bind"},
			permission{group: "rbac.authorization.k8s.io", resource: "clusterroles", verb: "escalate"},
			permission{resource: "users", verb: "impersonate"},
			permission{resource: "serviceaccounts", verb: "impersonate"},
			permission{group: "certificates.k8s.io", resource: "certificatesigningrequests", verb: "create"},
			// namespaces are read, never changed
			permission{resource: "namespaces", verb: "create"},
			permission{resource: "namespaces", verb: "update"},
			permission{resource: "namespaces", verb: "patch"},
			permission{resource: "namespaces", verb: "delete"},
			permission{group: "apiextensions.k8s.io", resource: "customresourcedefinitions", verb: "update"},
			permission{group: "admissionregistration.k8s.io", resource: "validatingadmissionpolicybindings", verb: "delete"},
		)
		var granted []string
		for _, p := range refused {
			if operatorMay(p) {
				granted = append(granted, p.String())
			}
		}
		Expect(granted).To(BeEmpty(), "config/rbac gives the operator permissions it does not need")
	})

	It("gives the operator no rule beyond those it needs", func() {
		// What any ServiceAccount has (system:basic-user, discovery) is not the operator's role.
		baseline, err := testEnv.AddUser(envtest.User{Name: "system:serviceaccount:rbac-baseline:nobody",
			Groups: []string{"system:serviceaccounts", "system:serviceaccounts:rbac-baseline", "system:authenticated"}}, nil)
		Expect(err).NotTo(HaveOccurred())
		ns := newNamespace()
		for _, where := range []string{ns, testbed.OperatorNamespace} {
			want := sets.New(operatorNeeds...)
			if where == testbed.OperatorNamespace {
				want.Insert(operatorNamespaceNeeds...)
			}
			got := resourceRules(operatorCfg, where).Difference(resourceRules(baseline.Config(), where))
			extra, missing := sets.List(got.Difference(want)), sets.List(want.Difference(got))
			Expect(extra).To(BeEmpty(), "rules the operator has in namespace %s but does not need", where)
			Expect(missing).To(BeEmpty(), "rules the operator needs in namespace %s but does not have", where)
		}
	})

	It("does not let namespace editors create PartnerInvitations unless the cluster opts in", func() {
		objs, err := testbed.ShippedRBAC(suiteCtx, kubectlPath, repoRoot)
		Expect(err).NotTo(HaveOccurred())
		for _, obj := range objs {
			if obj.GetKind() == "ClusterRole" {
				Expect(obj.GetLabels()).NotTo(HaveKey("rbac.authorization.k8s.io/aggregate-to-edit"), "ClusterRole %s", obj.GetName())
				Expect(obj.GetLabels()).NotTo(HaveKey("rbac.authorization.k8s.io/aggregate-to-admin"), "ClusterRole %s", obj.GetName())
			}
		}

		ns := newNamespace()
		editorCfg, err := testbed.NamespaceEditorConfig(suiteCtx, testEnv, k8s, ns, "rbac-plain-editor", "edit")
		Expect(err).NotTo(HaveOccurred())
		editor, err := client.New(editorCfg, client.Options{Scheme: k8s.Scheme()})
		Expect(err).NotTo(HaveOccurred())
		By("a namespace editor can edit the namespace (the built-in edit role, aggregated)")
		Expect(editor.Create(suiteCtx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "editor-was-here"}}, client.DryRunAll)).To(Succeed())
		By("but cannot create a PartnerInvitation")
		err = editor.Create(suiteCtx, newInvitation(ns, "by-editor", "editor@fabrikam.example"), client.DryRunAll)
		Expect(rbacForbidden(err)).To(BeTrue(), "a plain namespace editor creating a PartnerInvitation: %v", err)

		By("someone bound to the PartnerInvitation editor role can")
		inviterCfg, err := testbed.NamespaceEditorConfig(suiteCtx, testEnv, k8s, ns, "rbac-inviter")
		Expect(err).NotTo(HaveOccurred())
		inviter, err := client.New(inviterCfg, client.Options{Scheme: k8s.Scheme()})
		Expect(err).NotTo(HaveOccurred())
		Expect(inviter.Create(suiteCtx, newInvitation(ns, "by-inviter", "inviter@fabrikam.example"), client.DryRunAll)).To(Succeed())

		By("opting in with config/rbac/aggregate-to-edit gives every namespace editor that right")
		labels := optInLabels()
		Expect(labels).To(HaveKeyWithValue("rbac.authorization.k8s.io/aggregate-to-edit", "true"))
		var role rbacv1.ClusterRole
		Expect(k8s.Get(suiteCtx, client.ObjectKey{Name: testbed.EditorClusterRole}, &role)).To(Succeed())
		before := role.DeepCopy()
		DeferCleanup(func() {
			var now rbacv1.ClusterRole
			Expect(k8s.Get(suiteCtx, client.ObjectKey{Name: testbed.EditorClusterRole}, &now)).To(Succeed())
			now.Labels = before.Labels
			Expect(k8s.Update(suiteCtx, &now)).To(Succeed())
			Expect(testbed.AggregateClusterRoles(suiteCtx, k8s)).To(Succeed())
		})
		if role.Labels == nil {
			role.Labels = map[string]string{}
		}
		for k, v := range labels {
			role.Labels[k] = v
		}
		Expect(k8s.Update(suiteCtx, &role)).To(Succeed())
		Expect(testbed.AggregateClusterRoles(suiteCtx, k8s)).To(Succeed())
		Eventually(func() error {
			return editor.Create(suiteCtx, newInvitation(ns, "by-editor", "editor@fabrikam.example"), client.DryRunAll)
		}).WithTimeout(timeout).WithPolling(200 * time.Millisecond).Should(Succeed())
	})
})

// rbacForbidden tells RBAC's refusal from an admission policy's (both are 403 Forbidden).
func rbacForbidden(err error) bool {
	return apierrors.IsForbidden(err) && strings.Contains(err.Error(), "cannot create resource")
}

// optInLabels renders config/default with the opt-in component and returns the labels it puts
// on the PartnerInvitation editor ClusterRole.
func optInLabels() map[string]string {
	GinkgoHelper()
	root, err := filepath.Abs(repoRoot)
	Expect(err).NotTo(HaveOccurred())
	dir := GinkgoT().TempDir()
	// kustomize refuses absolute paths to other kustomizations.
	rel := func(p string) string {
		r, err := filepath.Rel(dir, filepath.Join(root, p))
		Expect(err).NotTo(HaveOccurred())
		return r
	}
	kustomization := fmt.Sprintf("resources:\n- %s\ncomponents:\n- %s\n", rel("config/default"), rel("config/rbac/aggregate-to-edit"))
	Expect(os.WriteFile(filepath.Join(dir, "kustomization.yaml"), []byte(kustomization), 0o600)).To(Succeed())
	objs, err := testbed.Kustomize(suiteCtx, kubectlPath, dir)
	Expect(err).NotTo(HaveOccurred())
	var names []string
	for _, o := range objs {
		if o.GetKind() == "ClusterRole" && o.GetName() == testbed.EditorClusterRole {
			return o.GetLabels()
		}
		names = append(names, o.GetKind()+"/"+o.GetName())
	}
	sort.Strings(names)
	Fail(fmt.Sprintf("no ClusterRole %s in %v", testbed.EditorClusterRole, names))
	return nil
}
