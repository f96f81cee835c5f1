// Package testbed gives an envtest control plane the identities of a real installation: the
// operator's ServiceAccount with exactly the RBAC that config/default ships, and namespace users
// bound to built-in and shipped roles. The integration suite, the end-to-end tests, the
// benchmark and the demo run the operator as that ServiceAccount, never as cluster admin, so a
// rule missing from config/rbac fails them as it would fail a cluster.
//
// envtest's kube-apiserver authorizes with RBAC (controller-runtime's default
// --authorization-mode=RBAC) and authenticates users by client certificate (CN user, O groups),
// so a certificate for "system:serviceaccount:<ns>:<name>" is that ServiceAccount to RBAC.
package testbed

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	authorizationv1 "k8s.io/api/authorization/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	b2bv1alpha1 "github.com/partnerops/partner-operator/api/v1alpha1"
)

const (
	// OperatorNamespace is the namespace config/default installs the operator in; its
	// leader-election Lease and address claims live there.
	OperatorNamespace = "partner-operator-system"
	// OperatorServiceAccount is the operator's ServiceAccount in OperatorNamespace.
	OperatorServiceAccount = "partner-operator-controller-manager"
	// OperatorUser is the user name the API server gives OperatorServiceAccount.
	OperatorUser = "system:serviceaccount:" + OperatorNamespace + ":" + OperatorServiceAccount
	// EditorClusterRole lets its holders manage PartnerInvitations (config/rbac); it is not
	// aggregated into "edit" unless a cluster opts in.
	EditorClusterRole = "partner-operator-partnerinvitation-editor"
	// ViewerClusterRole lets its holders read PartnerInvitations; aggregated into "view".
	ViewerClusterRole = "partner-operator-partnerinvitation-viewer"
)

// OperatorGroups are the groups the API server gives OperatorServiceAccount.
var OperatorGroups = []string{"system:serviceaccounts", "system:serviceaccounts:" + OperatorNamespace, "system:authenticated"}

// rbacKinds are the objects of the shipped install that make up the operator's identity, in
// the order they can be created.
var rbacKinds = []string{"Namespace", "ServiceAccount", "ClusterRole", "Role", "ClusterRoleBinding", "RoleBinding"}

// Kubectl returns the kubectl of the envtest binaries in $KUBEBUILDER_ASSETS.
func Kubectl() (string, error) {
	assets := os.Getenv("KUBEBUILDER_ASSETS")
	if assets == "" {
		return "", errors.New("KUBEBUILDER_ASSETS is not set: hack/envtest.sh prints a directory with kube-apiserver, etcd and kubectl")
	}
	path := filepath.Join(assets, "kubectl")
	if _, err := os.Stat(path); err != nil {
		return "", fmt.Errorf("kubectl of the envtest binaries: %w", err)
	}
	return path, nil
}

// FindRepoRoot returns the first directory at or above dir holding go.mod.
func FindRepoRoot(dir string) (string, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod at or above the working directory")
		}
		dir = parent
	}
}

// Kustomize renders a kustomization with the kustomize built into kubectl and returns its
// objects.
func Kustomize(ctx context.Context, kubectlPath, dir string) ([]*unstructured.Unstructured, error) {
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, kubectlPath, "kustomize", dir)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("kubectl kustomize %s: %w: %s", dir, err, strings.TrimSpace(stderr.String()))
	}
	var objs []*unstructured.Unstructured
	dec := utilyaml.NewYAMLOrJSONDecoder(&stdout, 4096)
	for {
		obj := &unstructured.Unstructured{}
		if err := dec.Decode(&obj.Object); err != nil {
			if errors.Is(err, io.EOF) {
				return objs, nil
			}
			return nil, fmt.Errorf("kubectl kustomize %s: decode: %w", dir, err)
		}
		if len(obj.Object) > 0 {
			objs = append(objs, obj)
		}
	}
}

// ShippedRBAC renders <repoRoot>/config/default, the install users apply, and returns its
// Namespace, ServiceAccount, ClusterRoles, ClusterRoleBindings, Roles and RoleBindings (not
// the CRDs, not the Deployment).
func ShippedRBAC(ctx context.Context, kubectlPath, repoRoot string) ([]*unstructured.Unstructured, error) {
	all, err := Kustomize(ctx, kubectlPath, filepath.Join(repoRoot, "config", "default"))
	if err != nil {
		return nil, err
	}
	var objs []*unstructured.Unstructured
	for _, obj := range all {
		gvk := obj.GroupVersionKind()
		if (gvk.Group == "" || gvk.Group == rbacv1.GroupName) && slices.Contains(rbacKinds, gvk.Kind) {
			objs = append(objs, obj)
		}
	}
	sort.SliceStable(objs, func(i, j int) bool {
		return slices.Index(rbacKinds, objs[i].GetKind()) < slices.Index(rbacKinds, objs[j].GetKind())
	})
	if !slices.ContainsFunc(objs, func(o *unstructured.Unstructured) bool {
		return o.GetKind() == "ServiceAccount" && o.GetNamespace() == OperatorNamespace && o.GetName() == OperatorServiceAccount
	}) {
		return nil, fmt.Errorf("config/default has no ServiceAccount %s/%s", OperatorNamespace, OperatorServiceAccount)
	}
	return objs, nil
}

// InstallOperatorIdentity creates the shipped RBAC (ShippedRBAC) with adminClient, objects
// that exist already are left as they are, waits until the API server authorizes the
// ServiceAccount accordingly, and returns the user that authenticates as it (Config for a
// client in this process, KubeConfig for another process).
func InstallOperatorIdentity(ctx context.Context, env *envtest.Environment, adminClient client.Client, kubectlPath, repoRoot string) (*envtest.AuthenticatedUser, error) {
	objs, err := ShippedRBAC(ctx, kubectlPath, repoRoot)
	if err != nil {
		return nil, err
	}
	for _, obj := range objs {
		if err := adminClient.Create(ctx, obj.DeepCopy()); err != nil && !apierrors.IsAlreadyExists(err) {
			return nil, fmt.Errorf("create %s %s: %w", obj.GetKind(), client.ObjectKeyFromObject(obj), err)
		}
	}
	// The RBAC authorizer works from informers: wait until every binding of the
	// ServiceAccount is in effect.
	if err := waitForBindings(ctx, adminClient, objs); err != nil {
		return nil, err
	}
	user, err := env.AddUser(envtest.User{Name: OperatorUser, Groups: OperatorGroups}, nil)
	if err != nil {
		return nil, fmt.Errorf("operator user: %w", err)
	}
	return user, nil
}

// waitForBindings waits until the first rule of each role bound to the operator's
// ServiceAccount is allowed to it.
func waitForBindings(ctx context.Context, c client.Client, objs []*unstructured.Unstructured) error {
	roles := map[string]rbacv1.PolicyRule{} // kind/namespace/name -> first resource rule
	for _, obj := range objs {
		if obj.GetKind() != "ClusterRole" && obj.GetKind() != "Role" {
			continue
		}
		var role rbacv1.Role
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(obj.Object, &role); err != nil {
			return err
		}
		for _, r := range role.Rules {
			if len(r.Resources) > 0 && len(r.Verbs) > 0 && len(r.APIGroups) > 0 {
				roles[obj.GetKind()+"/"+obj.GetNamespace()+"/"+obj.GetName()] = r
				break
			}
		}
	}
	for _, obj := range objs {
		if obj.GetKind() != "ClusterRoleBinding" && obj.GetKind() != "RoleBinding" {
			continue
		}
		var b rbacv1.RoleBinding
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(obj.Object, &b); err != nil {
			return err
		}
		if !slices.ContainsFunc(b.Subjects, func(s rbacv1.Subject) bool {
			return s.Kind == rbacv1.ServiceAccountKind && s.Namespace == OperatorNamespace && s.Name == OperatorServiceAccount
		}) {
			continue
		}
		roleNS := b.Namespace
		if b.RoleRef.Kind == "ClusterRole" {
			roleNS = ""
		}
		rule, ok := roles[b.RoleRef.Kind+"/"+roleNS+"/"+b.RoleRef.Name]
		if !ok {
			continue // a role not shipped here (a built-in one): nothing to check it against
		}
		attrs := authorizationv1.ResourceAttributes{Namespace: b.Namespace, Group: rule.APIGroups[0], Resource: rule.Resources[0], Verb: rule.Verbs[0]}
		if resource, sub, ok := strings.Cut(attrs.Resource, "/"); ok {
			attrs.Resource, attrs.Subresource = resource, sub
		}
		if err := waitAllowed(ctx, c, OperatorUser, OperatorGroups, attrs); err != nil {
			return fmt.Errorf("%s %s: %w", b.Kind, b.Name, err)
		}
	}
	return nil
}

// Allowed asks the API server (a SubjectAccessReview, created with c) whether user may do what
// attrs describe.
func Allowed(ctx context.Context, c client.Client, user string, groups []string, attrs authorizationv1.ResourceAttributes) (bool, string, error) {
	sar := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
		User: user, Groups: groups, ResourceAttributes: &attrs,
	}}
	if err := c.Create(ctx, sar); err != nil {
		return false, "", err
	}
	return sar.Status.Allowed, sar.Status.Reason, nil
}

func waitAllowed(ctx context.Context, c client.Client, user string, groups []string, attrs authorizationv1.ResourceAttributes) error {
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	for {
		ok, _, err := Allowed(ctx, c, user, groups, attrs)
		if err == nil && ok {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s is still not allowed to %s %s (group %q) in namespace %q: %v", user, attrs.Verb, attrs.Resource, attrs.Group, attrs.Namespace, err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// NamespaceEditorConfig binds ClusterRoles to userName in namespace (one RoleBinding each,
// the namespace is created when missing) and returns a rest.Config that authenticates as that
// user. With no clusterRoles it binds "edit" and EditorClusterRole: a namespace editor who may
// also create PartnerInvitations. The ClusterRoles must exist; "edit" is one of the API
// server's bootstrap roles. envtest runs no controller-manager, so AggregateClusterRoles first
// fills the aggregated roles as its clusterrole-aggregation controller would.
func NamespaceEditorConfig(ctx context.Context, env *envtest.Environment, adminClient client.Client, namespace, userName string, clusterRoles ...string) (*rest.Config, error) {
	if len(clusterRoles) == 0 {
		clusterRoles = []string{"edit", EditorClusterRole}
	}
	if err := AggregateClusterRoles(ctx, adminClient); err != nil {
		return nil, err
	}
	ns := &unstructured.Unstructured{}
	ns.SetAPIVersion("v1")
	ns.SetKind("Namespace")
	ns.SetName(namespace)
	if err := adminClient.Create(ctx, ns); err != nil && !apierrors.IsAlreadyExists(err) {
		return nil, fmt.Errorf("create namespace %s: %w", namespace, err)
	}
	groups := []string{"system:authenticated"}
	for _, name := range clusterRoles {
		var role rbacv1.ClusterRole
		if err := adminClient.Get(ctx, client.ObjectKey{Name: name}, &role); err != nil {
			return nil, fmt.Errorf("ClusterRole %s: %w", name, err)
		}
		rb := &rbacv1.RoleBinding{
			ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: bindingName(userName, name)},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: name},
			Subjects:   []rbacv1.Subject{{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: userName}},
		}
		if err := adminClient.Create(ctx, rb); err != nil && !apierrors.IsAlreadyExists(err) {
			return nil, fmt.Errorf("bind %s to %s in %s: %w", name, userName, namespace, err)
		}
		for _, r := range role.Rules {
			if len(r.Resources) > 0 && len(r.Verbs) > 0 && len(r.APIGroups) > 0 && len(r.ResourceNames) == 0 {
				attrs := authorizationv1.ResourceAttributes{Namespace: namespace, Group: r.APIGroups[0], Resource: r.Resources[0], Verb: r.Verbs[0]}
				if resource, sub, ok := strings.Cut(attrs.Resource, "/"); ok {
					attrs.Resource, attrs.Subresource = resource, sub
				}
				if err := waitAllowed(ctx, adminClient, userName, groups, attrs); err != nil {
					return nil, err
				}
				break
			}
		}
	}
	user, err := env.AddUser(envtest.User{Name: userName, Groups: groups}, nil)
	if err != nil {
		return nil, fmt.Errorf("user %s: %w", userName, err)
	}
	return user.Config(), nil
}

// WriteAdminKubeconfig writes, at path, a kubeconfig with the client certificate of a cluster
// admin called name (group system:masters): how a person, helm or kubectl reaches the control
// plane, unlike the operator, which runs as its ServiceAccount.
func WriteAdminKubeconfig(env *envtest.Environment, name, path string) error {
	user, err := env.AddUser(envtest.User{Name: name, Groups: []string{"system:masters"}}, nil)
	if err != nil {
		return fmt.Errorf("user %s: %w", name, err)
	}
	raw, err := user.KubeConfig()
	if err != nil {
		return fmt.Errorf("kubeconfig of %s: %w", name, err)
	}
	return os.WriteFile(path, raw, 0o600)
}

func bindingName(user, role string) string {
	name := strings.ToLower(user + "-" + role)
	name = strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '.' {
			return r
		}
		return '-'
	}, name)
	if len(name) > 253 {
		name = name[:253]
	}
	return name
}

// AggregateClusterRoles does what kube-controller-manager's clusterrole-aggregation controller
// does, which envtest does not run: every ClusterRole with an aggregationRule gets the rules of
// the ClusterRoles its selectors match. It repeats until nothing changes, as aggregated roles
// feed each other (view into edit, edit into admin).
func AggregateClusterRoles(ctx context.Context, c client.Client) error {
	for range 10 {
		var list rbacv1.ClusterRoleList
		if err := c.List(ctx, &list); err != nil {
			return fmt.Errorf("list ClusterRoles: %w", err)
		}
		changed := false
		for i := range list.Items {
			role := &list.Items[i]
			if role.AggregationRule == nil {
				continue
			}
			var rules []rbacv1.PolicyRule
			for _, sel := range role.AggregationRule.ClusterRoleSelectors {
				selector, err := metav1.LabelSelectorAsSelector(&sel)
				if err != nil {
					return fmt.Errorf("ClusterRole %s: %w", role.Name, err)
				}
				for j := range list.Items {
					other := &list.Items[j]
					if other.Name == role.Name || !selector.Matches(labels.Set(other.Labels)) {
						continue
					}
					for _, r := range other.Rules {
						if !slices.ContainsFunc(rules, func(have rbacv1.PolicyRule) bool { return apiequality.Semantic.DeepEqual(have, r) }) {
							rules = append(rules, r)
						}
					}
				}
			}
			if apiequality.Semantic.DeepEqual(rules, role.Rules) || (len(rules) == 0 && len(role.Rules) == 0) {
				continue
			}
			role.Rules = rules
			if err := c.Update(ctx, role); err != nil {
				return fmt.Errorf("aggregate ClusterRole %s: %w", role.Name, err)
			}
			changed = true
		}
		if !changed {
			return nil
		}
	}
	return errors.New("aggregated ClusterRoles did not settle")
}

// StartAPIServer starts kube-apiserver and etcd with the CRDs of repoRoot/config/crd/bases
// and returns a cluster-admin client that knows the core types and this API; both stop when
// the test ends. It never skips: without the binaries the test fails and says how to get them.
func StartAPIServer(t testing.TB, repoRoot string) (*envtest.Environment, client.Client) {
	t.Helper()
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		t.Fatal("KUBEBUILDER_ASSETS is not set: run 'make test', which provides kube-apiserver and etcd via hack/envtest.sh")
	}
	env := &envtest.Environment{
		CRDDirectoryPaths:     []string{filepath.Join(repoRoot, "config", "crd", "bases")},
		ErrorIfCRDPathMissing: true,
	}
	cfg, err := env.Start()
	if err != nil {
		t.Fatalf("starting envtest: %v", err)
	}
	t.Cleanup(func() {
		if err := env.Stop(); err != nil {
			t.Errorf("stopping envtest: %v", err)
		}
	})
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	if err := b2bv1alpha1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	return env, c
}
