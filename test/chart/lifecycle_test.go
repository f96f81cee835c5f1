package chart_test

// The chart's upgrades and uninstall, as docs/operations/upgrade-and-uninstall.md describes
// them, with the real helm against a real kube-apiserver and etcd (envtest).
//
// No operator runs here: envtest has no kubelet, so the chart's Deployment is created and its
// pods never are. No Graph emulator is needed either: nothing that could delete a guest is
// running, so every guest is untouched by construction. What these tests establish is what
// becomes of the objects that decide whether an operator ever would delete a guest: the CRDs,
// the PartnerInvitations and the operator's finalizer on them.

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/yaml"

	b2bv1alpha1 "github.com/partnerops/partner-operator/api/v1alpha1"
	"github.com/partnerops/partner-operator/internal/operator"
	"github.com/partnerops/partner-operator/internal/testbed"
)

const (
	// The README's names (Install with Helm). The namespace is also kubectl partner's default
	// --operator-namespace, so the plugin is run here without it.
	installRelease   = "partner-operator"
	installNamespace = "partner-operator-system"

	invitationsCRD = "partnerinvitations.b2b.partnerops.io"
	policiesCRD    = "partneraccesspolicies.b2b.partnerops.io"
	// partnersNamespace holds the tests' PartnerInvitations; allowPartners lets it invite.
	partnersNamespace = "partners"

	// oldInvitationsCRD is a real earlier PartnerInvitation CRD (commit fc42990), without
	// spec.expiresAt and spec.sponsors: the CRD change of the upgrade tests.
	oldInvitationsCRD = "partnerinvitations-crd-fc42990.yaml"
	// The API server needs a moment after helm returns: to serve a new CRD, to switch to an
	// updated CRD's schema, and to finish deleting a CRD (it looks for instances every 5 s).
	apiServerDeadline = 90 * time.Second
)

// testBed is an API server without CRDs (the chart brings them), a cluster-admin client of
// it, and a kubeconfig for helm, kubectl and the plugin.
type testBed struct {
	c          client.Client
	kubeconfig string
	kubectl    string
}

func startTestBed(t *testing.T) *testBed {
	t.Helper()
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		t.Fatal("KUBEBUILDER_ASSETS is not set: run 'make test', which provides kube-apiserver and etcd via hack/envtest.sh")
	}
	kubectl, err := testbed.Kubectl()
	if err != nil {
		t.Fatal(err)
	}
	env := &envtest.Environment{}
	cfg := startEnvtest(t, env)
	scheme := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{clientgoscheme.AddToScheme, apiextensionsv1.AddToScheme} {
		if err := add(scheme); err != nil {
			t.Fatal(err)
		}
	}
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	// helm, kubectl and the plugin connect as a person would: a client certificate of a
	// cluster admin in a kubeconfig.
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	if err := testbed.WriteAdminKubeconfig(env, "platform-admin", kubeconfig); err != nil {
		t.Fatal(err)
	}
	return &testBed{c: c, kubeconfig: kubeconfig, kubectl: kubectl}
}

// helm runs helm against the test bed and fails the test if it fails.
func (b *testBed) helm(t *testing.T, args ...string) string {
	t.Helper()
	out, err := b.helmErr(t, args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func (b *testBed) helmErr(t *testing.T, args ...string) (string, error) {
	t.Helper()
	return helm(t, append(args, "--kubeconfig", b.kubeconfig)...)
}

// run runs a command against the test bed; its output (stdout and stderr) comes back, and
// the error carries it too.
func (b *testBed) run(t *testing.T, bin string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, append(args, "--kubeconfig", b.kubeconfig)...)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+b.kubeconfig)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("%s %s: %w: %s", filepath.Base(bin), strings.Join(args, " "), err, out)
	}
	return string(out), nil
}

func (b *testBed) kubectlOK(t *testing.T, args ...string) string {
	t.Helper()
	out, err := b.run(t, b.kubectl, args...)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// kubectlPartner is the plugin as a user runs it: its binary, built once per test run.
func (b *testBed) kubectlPartner(t *testing.T, args ...string) (string, error) {
	t.Helper()
	bin, err := pluginPath()
	if err != nil {
		t.Fatal(err)
	}
	return b.run(t, bin, args...)
}

var pluginPath = sync.OnceValues(func() (string, error) {
	bin := filepath.Join(helmHome, "kubectl-partner")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/kubectl-partner")
	cmd.Dir = repoRoot
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/kubectl-partner: %w: %s", err, out)
	}
	return bin, nil
})

// eventually retries f until it succeeds or the deadline passes.
func eventually(t *testing.T, what string, f func(ctx context.Context) error) {
	t.Helper()
	var last error
	err := wait.PollUntilContextTimeout(t.Context(), 200*time.Millisecond, apiServerDeadline, true, func(ctx context.Context) (bool, error) {
		last = f(ctx)
		return last == nil, nil
	})
	if err != nil {
		t.Fatalf("%s: not within %s: %v", what, apiServerDeadline, last)
	}
}

// previousChart is "the previous chart version": a copy of the chart, version 0.0.1 (below
// any version this chart will have), whose PartnerInvitation CRD is the older one of testdata.
// With crdsDirectory it is laid out as chart 0.1.0 was (the chart of commit 713ac6d): the CRDs
// in crds/, which Helm installs once and never upgrades, and no crds values.
func previousChart(t *testing.T, crdsDirectory bool) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "partner-operator")
	if err := os.CopyFS(dir, os.DirFS(chartDir)); err != nil {
		t.Fatal(err)
	}
	edit := func(path string, f func(string) string) {
		t.Helper()
		raw, err := os.ReadFile(filepath.Join(dir, path))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, path), []byte(f(string(raw))), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	edit("Chart.yaml", func(s string) string {
		return regexp.MustCompile(`(?m)^version:.*$`).ReplaceAllString(s, "version: 0.0.1")
	})
	old, err := os.ReadFile(filepath.Join(repoRoot, "test", "chart", "testdata", oldInvitationsCRD))
	if err != nil {
		t.Fatal(err)
	}
	crds := filepath.Join(dir, "files", "crds")
	if err := os.WriteFile(filepath.Join(crds, invitationsCRDFile), old, 0o600); err != nil {
		t.Fatal(err)
	}
	// The tenant and organization kinds came after it.
	for _, kind := range []string{"graphtenants", "clustergraphtenants", "partnerorganizations"} {
		if err := os.Remove(filepath.Join(crds, "b2b.partnerops.io_"+kind+".yaml")); err != nil {
			t.Fatal(err)
		}
	}
	if !crdsDirectory {
		return dir
	}
	if err := os.Rename(crds, filepath.Join(dir, "crds")); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(dir, "templates", "crds.yaml")); err != nil {
		t.Fatal(err)
	}
	edit("values.yaml", func(s string) string { return dropTopLevelKey(t, s, "crds") })
	edit("values.schema.json", func(s string) string {
		var schema map[string]any
		if err := json.Unmarshal([]byte(s), &schema); err != nil {
			t.Fatal(err)
		}
		delete(schema["properties"].(map[string]any), "crds")
		out, err := json.MarshalIndent(schema, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		return string(out)
	})
	return dir
}

const invitationsCRDFile = "b2b.partnerops.io_partnerinvitations.yaml"

// dropTopLevelKey removes key from a values.yaml, with the comment above it and its block.
func dropTopLevelKey(t *testing.T, s, key string) string {
	t.Helper()
	lines := strings.SplitAfter(s, "\n")
	at := slices.Index(lines, key+":\n")
	if at < 0 {
		t.Fatalf("values.yaml has no top-level %s", key)
	}
	start, end := at, at+1
	for start > 0 && strings.HasPrefix(lines[start-1], "#") {
		start--
	}
	for end < len(lines) && (strings.HasPrefix(lines[end], " ") || strings.HasPrefix(lines[end], "#")) {
		end++
	}
	return strings.Join(slices.Delete(lines, start, end), "")
}

// allowPartners creates the namespace partners and a PartnerAccessPolicy that lets it invite
// fabrikam.com: with the default policyPosture, the chart's admission policy refuses
// PartnerInvitations until one exists.
func (b *testBed) allowPartners(t *testing.T) {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: partnersNamespace, Labels: map[string]string{"partner-access": "enabled"}}}
	if err := b.c.Create(t.Context(), ns); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	policy := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": b2bv1alpha1.GroupVersion.String(), "kind": "PartnerAccessPolicy",
		"metadata": map[string]any{"name": "lifecycle-test"},
		"spec": map[string]any{
			"namespaceSelector": map[string]any{"matchLabels": map[string]any{"partner-access": "enabled"}},
			"allowedDomains":    []any{"fabrikam.com"},
		},
	}}
	eventually(t, "create a PartnerAccessPolicy", func(ctx context.Context) error {
		if err := b.c.Create(ctx, policy.DeepCopy()); err != nil && !apierrors.IsAlreadyExists(err) {
			return err
		}
		return nil
	})
}

// invitation creates the PartnerInvitation partners/name. With the finalizer it is as the
// operator leaves it: the finalizer, and the guest's ID in status.
func (b *testBed) invitation(t *testing.T, name string, finalizer bool) *unstructured.Unstructured {
	t.Helper()
	obj := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": b2bv1alpha1.GroupVersion.String(), "kind": "PartnerInvitation",
		"metadata": map[string]any{"namespace": partnersNamespace, "name": name},
		"spec":     map[string]any{"email": name + "@fabrikam.com"},
	}}
	if finalizer {
		obj.SetFinalizers([]string{b2bv1alpha1.Finalizer})
	}
	// The admission policy reads PartnerAccessPolicies through an informer: it may refuse for
	// a moment after the policy is created.
	eventually(t, "create PartnerInvitation "+name, func(ctx context.Context) error {
		if err := b.c.Create(ctx, obj.DeepCopy()); err != nil && !apierrors.IsAlreadyExists(err) {
			return err
		}
		return nil
	})
	got, _ := b.getInvitation(t, name)
	if finalizer {
		if err := unstructured.SetNestedField(got.Object, "guest-"+name, "status", "userID"); err != nil {
			t.Fatal(err)
		}
		if err := b.c.Status().Update(t.Context(), got); err != nil {
			t.Fatal(err)
		}
	}
	return got
}

func (b *testBed) getInvitation(t *testing.T, name string) (*unstructured.Unstructured, bool) {
	t.Helper()
	got := &unstructured.Unstructured{}
	got.SetGroupVersionKind(b2bv1alpha1.GroupVersion.WithKind("PartnerInvitation"))
	err := b.c.Get(t.Context(), client.ObjectKey{Namespace: partnersNamespace, Name: name}, got)
	if apierrors.IsNotFound(err) {
		return nil, false
	}
	if err != nil {
		t.Fatal(err)
	}
	return got, true
}

// survived checks that the object is the one created (same UID), with the operator's
// finalizer and not being deleted.
func (b *testBed) survived(t *testing.T, was *unstructured.Unstructured) {
	t.Helper()
	got, found := b.getInvitation(t, was.GetName())
	switch {
	case !found:
		t.Fatalf("PartnerInvitation %s is gone", was.GetName())
	case got.GetUID() != was.GetUID():
		t.Errorf("PartnerInvitation %s was recreated", was.GetName())
	case got.GetDeletionTimestamp() != nil:
		t.Errorf("PartnerInvitation %s is being deleted", was.GetName())
	case !slices.Equal(got.GetFinalizers(), []string{b2bv1alpha1.Finalizer}):
		t.Errorf("PartnerInvitation %s: finalizers %v", was.GetName(), got.GetFinalizers())
	}
}

func (b *testBed) crd(t *testing.T, name string) (*apiextensionsv1.CustomResourceDefinition, bool) {
	t.Helper()
	crd := &apiextensionsv1.CustomResourceDefinition{}
	err := b.c.Get(t.Context(), client.ObjectKey{Name: name}, crd)
	if apierrors.IsNotFound(err) {
		return nil, false
	}
	if err != nil {
		t.Fatal(err)
	}
	return crd, true
}

// specFields lists the spec properties of the CRD's storage version.
func specFields(crd *apiextensionsv1.CustomResourceDefinition) []string {
	var out []string
	for _, v := range crd.Spec.Versions {
		if v.Storage && v.Schema != nil && v.Schema.OpenAPIV3Schema != nil {
			for k := range v.Schema.OpenAPIV3Schema.Properties["spec"].Properties {
				out = append(out, k)
			}
		}
	}
	slices.Sort(out)
	return out
}

// newFields are what the current CRD has and the older one of testdata has not.
var newFields = map[string]any{"expiresAt": "2027-06-30T00:00:00Z", "sponsors": []any{"11111111-2222-3333-4444-555555555555"}}

// setNewFields writes the new fields and returns what the API server kept of them.
func (b *testBed) setNewFields(ctx context.Context, name string) (map[string]any, error) {
	patch, err := json.Marshal(map[string]any{"spec": newFields})
	if err != nil {
		return nil, err
	}
	obj := &unstructured.Unstructured{}
	obj.SetGroupVersionKind(b2bv1alpha1.GroupVersion.WithKind("PartnerInvitation"))
	obj.SetNamespace(partnersNamespace)
	obj.SetName(name)
	if err := b.c.Patch(ctx, obj, client.RawPatch("application/merge-patch+json", patch)); err != nil {
		return nil, err
	}
	if err := b.c.Get(ctx, client.ObjectKeyFromObject(obj), obj); err != nil {
		return nil, err
	}
	kept := map[string]any{}
	for k := range newFields {
		if v, ok, _ := unstructured.NestedFieldCopy(obj.Object, "spec", k); ok {
			kept[k] = v
		}
	}
	return kept, nil
}

// checkNewCRD: after the upgrade the API server has the current CRD, kept on uninstall, and an
// object written before it takes the new fields (and keeps them: not pruned).
func (b *testBed) checkNewCRD(t *testing.T, jane *unstructured.Unstructured) {
	t.Helper()
	crd, _ := b.crd(t, invitationsCRD)
	for k := range newFields {
		if !slices.Contains(specFields(crd), k) {
			t.Errorf("after the upgrade the CRD has no spec.%s: %v", k, specFields(crd))
		}
	}
	if crd.Annotations["helm.sh/resource-policy"] != "keep" || crd.Labels["app.kubernetes.io/managed-by"] != "Helm" {
		t.Errorf("after the upgrade the CRD is not the release's, kept: annotations %v, labels %v", crd.Annotations, crd.Labels)
	}
	b.survived(t, jane)
	// The API server takes up an updated CRD's schema a moment after the update.
	eventually(t, "the new fields persist", func(ctx context.Context) error {
		kept, err := b.setNewFields(ctx, jane.GetName())
		if err != nil {
			return err
		}
		if fmt.Sprint(kept) != fmt.Sprint(newFields) {
			return fmt.Errorf("spec kept %v of %v", kept, newFields)
		}
		return nil
	})
	b.survived(t, jane)
}

func chartVersion(t *testing.T) string {
	t.Helper()
	var meta struct{ Version string }
	raw, err := os.ReadFile(filepath.Join(chartDir, "Chart.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(raw, &meta); err != nil {
		t.Fatal(err)
	}
	return meta.Version
}

// checkHistory: the release went from the previous chart version to this one.
func (b *testBed) checkHistory(t *testing.T) {
	t.Helper()
	var history []struct {
		Revision int
		Status   string
		Chart    string
	}
	out := b.helm(t, "history", installRelease, "-n", installNamespace, "-o", "json")
	if err := json.Unmarshal([]byte(out), &history); err != nil {
		t.Fatalf("helm history: %v: %s", err, out)
	}
	last := history[len(history)-1]
	if history[0].Chart != "partner-operator-0.0.1" || last.Chart != "partner-operator-"+chartVersion(t) || last.Status != "deployed" {
		t.Errorf("helm history: %+v", history)
	}
}

// TestUpgradeWithCRDChange: helm upgrade from the previous chart version, whose
// PartnerInvitation CRD lacks fields, upgrades the CRD, and the objects stay as they were.
func TestUpgradeWithCRDChange(t *testing.T) {
	b := startTestBed(t)
	out := b.helm(t, "install", installRelease, previousChart(t, false), "-n", installNamespace, "--create-namespace",
		"--set", "samplePolicy.enabled=true")
	crd, found := b.crd(t, invitationsCRD)
	if !found {
		t.Fatal("helm install created no PartnerInvitation CRD")
	}
	for k := range newFields {
		if slices.Contains(specFields(crd), k) {
			t.Fatalf("the previous chart's CRD already has spec.%s", k)
		}
	}
	// The sample policy's CRD is in the same release: the first install leaves the policy to
	// the next upgrade, and says so, rather than failing.
	if !strings.Contains(out, "business-partners is\ncreated by the next upgrade") {
		t.Errorf("the install's notes do not say the sample policy comes with the next upgrade:\n%s", out)
	}
	b.allowPartners(t)
	sample := &unstructured.Unstructured{}
	sample.SetGroupVersionKind(b2bv1alpha1.GroupVersion.WithKind("PartnerAccessPolicy"))
	if err := b.c.Get(t.Context(), client.ObjectKey{Name: "business-partners"}, sample); !apierrors.IsNotFound(err) {
		t.Errorf("the sample policy on the first install: %v", err)
	}
	jane := b.invitation(t, "jane", true)
	// The negative control: the previous CRD prunes the fields.
	if kept, err := b.setNewFields(t.Context(), "jane"); err != nil || len(kept) != 0 {
		t.Fatalf("under the previous CRD: kept %v, %v", kept, err)
	}

	b.helm(t, "upgrade", installRelease, chartDir, "-n", installNamespace, "--set", "samplePolicy.enabled=true")
	b.checkHistory(t)
	b.checkNewCRD(t, jane)
	if err := b.c.Get(t.Context(), client.ObjectKey{Name: "business-partners"}, sample); err != nil {
		t.Errorf("the sample policy after the upgrade: %v", err)
	}
}

// TestUpgradeFromCRDsDirectory: from chart 0.1.0, whose CRDs were in crds/ and so not the
// release's, helm upgrade refuses to take them over until they are labelled and annotated as
// the release's (the documented one-time step); then it upgrades them.
func TestUpgradeFromCRDsDirectory(t *testing.T) {
	b := startTestBed(t)
	b.helm(t, "install", installRelease, previousChart(t, true), "-n", installNamespace, "--create-namespace")
	crd, found := b.crd(t, invitationsCRD)
	if !found || slices.Contains(specFields(crd), "expiresAt") || crd.Labels["app.kubernetes.io/managed-by"] == "Helm" {
		t.Fatalf("the previous chart's CRD: found %v, fields %v, labels %v", found, specFields(crd), crd.Labels)
	}
	b.allowPartners(t)
	jane := b.invitation(t, "jane", true)

	// --reuse-values, as many upgrade: the old release's values have no crds key.
	upgrade := []string{"upgrade", installRelease, chartDir, "-n", installNamespace, "--reuse-values"}
	_, err := b.helmErr(t, upgrade...)
	if err == nil || !strings.Contains(err.Error(), "invalid ownership metadata") {
		t.Fatalf("the upgrade took over CRDs that are not the release's: %v", err)
	}
	if crd, _ := b.crd(t, invitationsCRD); slices.Contains(specFields(crd), "expiresAt") {
		t.Error("the refused upgrade changed the CRD")
	}
	b.survived(t, jane)
	b.kubectlOK(t, "label", "crd", invitationsCRD, policiesCRD, "app.kubernetes.io/managed-by=Helm")
	b.kubectlOK(t, "annotate", "crd", invitationsCRD, policiesCRD,
		"meta.helm.sh/release-name="+installRelease, "meta.helm.sh/release-namespace="+installNamespace)
	b.helm(t, upgrade...)
	b.checkHistory(t)
	b.checkNewCRD(t, jane)
}

// operatorLease writes the operator's leader-election Lease in the release namespace as its
// leader holds it, or, with holder "", as a stopping replica leaves it. The lease lasts 5
// minutes rather than the operator's default 15 s, so that a slow machine cannot let it expire
// before the plugin reads it (orphan honours the Lease's own duration).
func (b *testBed) operatorLease(t *testing.T, holder string) {
	t.Helper()
	now := metav1.NewMicroTime(time.Now())
	lease := &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Namespace: installNamespace, Name: operator.LeaderElectionID}}
	err := b.c.Get(t.Context(), client.ObjectKeyFromObject(lease), lease)
	if err != nil && !apierrors.IsNotFound(err) {
		t.Fatal(err)
	}
	lease.Spec = coordinationv1.LeaseSpec{HolderIdentity: ptr.To(holder), LeaseDurationSeconds: ptr.To[int32](300), AcquireTime: &now, RenewTime: &now}
	if apierrors.IsNotFound(err) {
		err = b.c.Create(t.Context(), lease)
	} else {
		err = b.c.Update(t.Context(), lease)
	}
	if err != nil {
		t.Fatal(err)
	}
}

// gone waits until the object no longer exists.
func (b *testBed) gone(t *testing.T, obj client.Object) {
	t.Helper()
	eventually(t, fmt.Sprintf("%T %s gone", obj, obj.GetName()), func(ctx context.Context) error {
		err := b.c.Get(ctx, client.ObjectKeyFromObject(obj), obj)
		if apierrors.IsNotFound(err) {
			return nil
		}
		if err == nil {
			err = fmt.Errorf("still there, deletionTimestamp %v, finalizers %v", obj.GetDeletionTimestamp(), obj.GetFinalizers())
		}
		return err
	})
}

func crdObject(name string) *apiextensionsv1.CustomResourceDefinition {
	return &apiextensionsv1.CustomResourceDefinition{ObjectMeta: metav1.ObjectMeta{Name: name}}
}

// TestUninstall: helm uninstall never deletes a guest and never strands an object on the
// operator's finalizer: with crds.keep (the default) everything stays; kubectl partner orphan
// then lets the objects and the CRDs go. The subtests share one API server, in order; each
// leaves no CRD behind.
func TestUninstall(t *testing.T) {
	// The plugin is built before anything is timed.
	if _, err := pluginPath(); err != nil {
		t.Fatal(err)
	}
	b := startTestBed(t)
	install := []string{"install", installRelease, chartDir, "-n", installNamespace, "--create-namespace"}
	uninstall := []string{"uninstall", installRelease, "-n", installNamespace}

	ok := t.Run("crds.keep: everything stays, orphan then lets it go", func(t *testing.T) {
		b.helm(t, install...)
		b.allowPartners(t)
		jane := b.invitation(t, "jane", true)

		// While the operator runs, orphan refuses, with what to do instead.
		b.operatorLease(t, "partner-operator-controller-manager-5d8c7_0f1e")
		out, err := b.kubectlPartner(t, "orphan", "-A")
		if err == nil || !strings.Contains(out, "the operator is running") || !strings.Contains(out, "Uninstall the operator first") {
			t.Errorf("orphan with the operator running: %v", err)
		}
		b.survived(t, jane)

		out = b.helm(t, uninstall...)
		for _, want := range []string{"kept due to the resource policy", "[CustomResourceDefinition] " + invitationsCRD, "[CustomResourceDefinition] " + policiesCRD} {
			if !strings.Contains(out, want) {
				t.Errorf("helm uninstall does not say %q:\n%s", want, out)
			}
		}
		var deployments appsv1.DeploymentList
		if err := b.c.List(t.Context(), &deployments, client.InNamespace(installNamespace)); err != nil || len(deployments.Items) != 0 {
			t.Errorf("after uninstall: %d Deployments, %v", len(deployments.Items), err)
		}
		b.crdsStay(t)
		b.survived(t, jane)

		// A later install takes the kept CRDs, and so the objects, back.
		b.helm(t, install...)
		b.survived(t, jane)
		b.helm(t, uninstall...)
		b.survived(t, jane)

		// The replicas give the Lease up when they stop (LeaderElectionReleaseOnCancel).
		b.operatorLease(t, "")
		out, err = b.kubectlPartner(t, "orphan", "-A")
		if err != nil {
			t.Fatal(err)
		}
		if want := "partnerinvitation.b2b.partnerops.io/jane in partners: finalizer removed, guest guest-jane stays in the directory"; !strings.Contains(out, want) {
			t.Errorf("orphan does not say %q:\n%s", want, out)
		}
		if got, found := b.getInvitation(t, "jane"); !found {
			t.Error("orphan deleted jane, which was not being deleted")
		} else if len(got.GetFinalizers()) != 0 {
			t.Errorf("after orphan: finalizers %v", got.GetFinalizers())
		}
		// The documented removal; kubectl waits for each CRD to be gone.
		b.kubectlOK(t, "delete", "crd", invitationsCRD, policiesCRD, "--timeout="+apiServerDeadline.String())
		b.gone(t, crdObject(invitationsCRD))
		b.gone(t, crdObject(policiesCRD))
		if _, found := b.getInvitation(t, "jane"); found {
			t.Error("jane outlived its CRD")
		}
		if err := b.c.Delete(t.Context(), &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Namespace: installNamespace, Name: operator.LeaderElectionID}}); err != nil {
			t.Fatal(err)
		}
	})
	if !ok {
		return
	}

	ok = t.Run("crds.keep=false: the CRD stays Terminating until orphan", func(t *testing.T) {
		b.helm(t, slices.Concat(install, []string{"--set", "crds.keep=false"})...)
		// keep is a value like any other: an upgrade sets and removes the annotation.
		upgrade := []string{"upgrade", installRelease, chartDir, "-n", installNamespace, "--reuse-values"}
		for _, keep := range []string{"true", "false"} {
			b.helm(t, slices.Concat(upgrade, []string{"--set", "crds.keep=" + keep})...)
			for _, name := range []string{invitationsCRD, policiesCRD} {
				if crd, _ := b.crd(t, name); fmt.Sprint(crd.Annotations["helm.sh/resource-policy"] == "keep") != keep {
					t.Errorf("crds.keep=%s: CRD %s annotations %v", keep, name, crd.Annotations)
				}
			}
		}
		b.allowPartners(t)
		jane := b.invitation(t, "jane", true)
		plain := b.invitation(t, "bob", false)

		out := b.helm(t, uninstall...)
		if strings.Contains(out, "kept due to the resource policy") {
			t.Errorf("crds.keep=false: helm uninstall kept resources:\n%s", out)
		}
		// The API server deletes every PartnerInvitation with the CRD: the one without the
		// finalizer goes, the one with it stays, being deleted, and holds the CRD Terminating.
		b.gone(t, plain)
		b.gone(t, crdObject(policiesCRD))
		eventually(t, "the CRD Terminating on jane", func(ctx context.Context) error {
			crd, found := b.crd(t, invitationsCRD)
			if !found || crd.DeletionTimestamp == nil {
				return fmt.Errorf("CRD found %v, not being deleted", found)
			}
			terminating := slices.ContainsFunc(crd.Status.Conditions, func(c apiextensionsv1.CustomResourceDefinitionCondition) bool {
				return c.Type == apiextensionsv1.Terminating && c.Status == apiextensionsv1.ConditionTrue
			})
			got, found := b.getInvitation(t, "jane")
			if !terminating || !found || got.GetDeletionTimestamp() == nil {
				return fmt.Errorf("Terminating %v, jane found %v", terminating, found)
			}
			return nil
		})
		if got, _ := b.getInvitation(t, "jane"); got.GetUID() != jane.GetUID() || !slices.Equal(got.GetFinalizers(), []string{b2bv1alpha1.Finalizer}) {
			t.Fatalf("jane: UID %s (was %s), finalizers %v", got.GetUID(), jane.GetUID(), got.GetFinalizers())
		}

		// No operator: orphan may, and works on a Terminating CRD's objects.
		out, err := b.kubectlPartner(t, "orphan", "-A")
		if err != nil {
			t.Fatal(err)
		}
		if want := "partnerinvitation.b2b.partnerops.io/jane in partners: finalizer removed, guest guest-jane stays in the directory; it was being deleted and is gone"; !strings.Contains(out, want) {
			t.Errorf("orphan does not say %q:\n%s", want, out)
		}
		b.gone(t, crdObject(invitationsCRD))
	})
	if !ok {
		return
	}

	ok = t.Run("crds.enabled switched off on an upgrade: the CRDs stay, the user's", func(t *testing.T) {
		b.helm(t, install...)
		b.allowPartners(t)
		jane := b.invitation(t, "jane", true)
		// Turned off on an upgrade, the CRDs leave the release and stay: they carry keep.
		b.helm(t, "upgrade", installRelease, chartDir, "-n", installNamespace, "--set", "crds.enabled=false")
		if manifest := b.helm(t, "get", "manifest", installRelease, "-n", installNamespace); strings.Contains(manifest, "kind: CustomResourceDefinition") {
			t.Error("crds.enabled=false: the release still holds CRDs")
		}
		b.crdsStay(t)
		b.survived(t, jane)
		// They are the user's now. helm wrote their fields, so kubectl's server-side apply of a
		// changed CRD conflicts with helm until it is forced.
		old := filepath.Join(repoRoot, "test", "chart", "testdata", oldInvitationsCRD)
		if _, err := b.run(t, b.kubectl, "apply", "--server-side", "-f", old); err == nil || !strings.Contains(err.Error(), "conflict") || !strings.Contains(err.Error(), `"helm"`) {
			t.Errorf("server-side apply over helm's fields: %v", err)
		}
		b.kubectlOK(t, "apply", "--server-side", "--force-conflicts", "-f", old)
		if crd, _ := b.crd(t, invitationsCRD); slices.Contains(specFields(crd), "expiresAt") {
			t.Errorf("kubectl apply --force-conflicts did not apply the older CRD: %v", specFields(crd))
		}
		b.kubectlOK(t, "apply", "--server-side", "-f", filepath.Join(chartDir, "files", "crds")+string(filepath.Separator))
		if crd, _ := b.crd(t, invitationsCRD); !slices.Contains(specFields(crd), "expiresAt") {
			t.Errorf("kubectl apply did not bring the current CRD back: %v", specFields(crd))
		}
		b.helm(t, uninstall...)
		b.crdsStay(t)
		b.survived(t, jane)
	})
	if !ok {
		return
	}

	// From the previous subtest: the CRDs, now the user's, and jane.
	t.Run("crds.enabled=false: the CRDs are the user's", func(t *testing.T) {
		jane, _ := b.getInvitation(t, "jane")
		b.kubectlOK(t, "apply", "--server-side", "-f", filepath.Join(chartDir, "files", "crds")+string(filepath.Separator))
		out := b.helm(t, slices.Concat(install, []string{"--set", "crds.enabled=false"})...)
		if !strings.Contains(out, "crds.enabled is false") {
			t.Errorf("the notes do not say who applies the CRDs:\n%s", out)
		}
		if manifest := b.helm(t, "get", "manifest", installRelease, "-n", installNamespace); strings.Contains(manifest, "kind: CustomResourceDefinition") {
			t.Error("crds.enabled=false: the release holds CRDs")
		}
		b.helm(t, uninstall...)
		b.crdsStay(t)
		b.survived(t, jane)
	})
}

// crdsStay: both CRDs exist and are not being deleted.
func (b *testBed) crdsStay(t *testing.T) {
	t.Helper()
	for _, name := range []string{invitationsCRD, policiesCRD} {
		if crd, found := b.crd(t, name); !found || crd.DeletionTimestamp != nil {
			t.Errorf("the CRD %s is gone or going", name)
		}
	}
}
