// Package chart_test tests charts/partner-operator like code: helm lint and helm template with
// the default values and with testdata/all-values.yaml, the values schema, the RBAC against
// config/default's (rbac_test.go), and the rendered manifests, and config/default's, dry-run
// applied to a real API server under the restricted Pod Security level (podsecurity_test.go);
// and upgrades and uninstall with the real helm against a real API server (lifecycle_test.go).
//
// helm comes from hack/helm.sh (built from the Go module proxy, cached per user); `make test`
// passes it as $HELM. kubectl (kustomize) and the API server come from $KUBEBUILDER_ASSETS.
package chart_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apiequality "k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"

	"github.com/partnerops/partner-operator/internal/testbed"
)

const (
	// release and namespace of the default rendering: the names config/default uses.
	release   = "partner-operator"
	namespace = "partner-operator-system"
)

var (
	repoRoot, chartDir, allValues string
	// helmHome keeps helm's cache, config and data out of the user's home.
	helmHome string
)

func TestMain(m *testing.M) {
	code, err := run(m)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		code = 1
	}
	os.Exit(code)
}

func run(m *testing.M) (int, error) {
	root, err := testbed.FindRepoRoot(".")
	if err != nil {
		return 1, err
	}
	repoRoot = root
	chartDir = filepath.Join(root, "charts", "partner-operator")
	allValues = filepath.Join(root, "test", "chart", "testdata", "all-values.yaml")
	helmHome, err = os.MkdirTemp("", "chart-test-helm-")
	if err != nil {
		return 1, err
	}
	defer os.RemoveAll(helmHome)
	return m.Run(), nil
}

var helmPath = sync.OnceValues(func() (string, error) {
	// hack/helm.sh returns $HELM when it is the pinned version, else builds or reuses the cache.
	cmd := exec.Command("bash", filepath.Join(repoRoot, "hack", "helm.sh"))
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("hack/helm.sh: %w: %s", err, stderr.String())
	}
	return strings.TrimSpace(stdout.String()), nil
})

// helm runs the pinned helm and returns its stdout; the error carries its stderr.
func helm(t *testing.T, args ...string) (string, error) {
	t.Helper()
	bin, err := helmPath()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(),
		"HELM_CACHE_HOME="+filepath.Join(helmHome, "cache"),
		"HELM_CONFIG_HOME="+filepath.Join(helmHome, "config"),
		"HELM_DATA_HOME="+filepath.Join(helmHome, "data"),
		"KUBECONFIG="+filepath.Join(helmHome, "no-kubeconfig"))
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("helm %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return stdout.String(), nil
}

// servesPolicies tells helm template that the cluster serves PartnerAccessPolicies, as it does
// once the CRDs are installed: the sample policy is rendered only then (templates/samplepolicy.yaml).
var servesPolicies = []string{"--api-versions", "b2b.partnerops.io/v1alpha1/PartnerAccessPolicy"}

// render runs helm template, for a cluster that has the CRDs, and decodes the objects. The CRDs
// are templates (crds.enabled): no --include-crds, so that a crds/ directory coming back would
// not go unnoticed here.
func render(t *testing.T, rel, ns string, args ...string) []*unstructured.Unstructured {
	t.Helper()
	return renderFor(t, rel, ns, append(slices.Clone(servesPolicies), args...)...)
}

// renderFor runs helm template with args alone: a cluster without the CRDs unless they say so.
func renderFor(t *testing.T, rel, ns string, args ...string) []*unstructured.Unstructured {
	t.Helper()
	out, err := helm(t, append([]string{"template", rel, chartDir, "--namespace", ns}, args...)...)
	if err != nil {
		t.Fatal(err)
	}
	objs, err := decode(strings.NewReader(out))
	if err != nil {
		t.Fatalf("helm template output: %v", err)
	}
	return objs
}

func decode(r io.Reader) ([]*unstructured.Unstructured, error) {
	var objs []*unstructured.Unstructured
	dec := utilyaml.NewYAMLOrJSONDecoder(r, 4096)
	for {
		obj := &unstructured.Unstructured{}
		if err := dec.Decode(&obj.Object); err != nil {
			if errors.Is(err, io.EOF) {
				return objs, nil
			}
			return nil, err
		}
		if len(obj.Object) > 0 {
			objs = append(objs, obj)
		}
	}
}

// kustomize renders a kustomization of this repository with the envtest kubectl.
func kustomize(t *testing.T, dir string) []*unstructured.Unstructured {
	t.Helper()
	kubectl, err := testbed.Kubectl()
	if err != nil {
		t.Fatalf("%v (run 'make test')", err)
	}
	objs, err := testbed.Kustomize(context.Background(), kubectl, dir)
	if err != nil {
		t.Fatal(err)
	}
	return objs
}

func find(objs []*unstructured.Unstructured, kind string) []*unstructured.Unstructured {
	var out []*unstructured.Unstructured
	for _, o := range objs {
		if o.GetKind() == kind {
			out = append(out, o)
		}
	}
	return out
}

func only(t *testing.T, objs []*unstructured.Unstructured, kind string) *unstructured.Unstructured {
	t.Helper()
	found := find(objs, kind)
	if len(found) != 1 {
		t.Fatalf("want one %s, got %d", kind, len(found))
	}
	return found[0]
}

func convert[T any](t *testing.T, obj *unstructured.Unstructured) *T {
	t.Helper()
	out := new(T)
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(obj.Object, out); err != nil {
		t.Fatalf("%s %s: %v", obj.GetKind(), obj.GetName(), err)
	}
	return out
}

func deployment(t *testing.T, objs []*unstructured.Unstructured) *appsv1.Deployment {
	t.Helper()
	return convert[appsv1.Deployment](t, only(t, objs, "Deployment"))
}

// TestCRDsMatchConfig keeps the chart's files/crds/ byte-identical to the generated CRDs (make
// manifests copies them), and the CRDs templates/crds.yaml renders equal to them but for the
// labels and annotations the chart adds. The chart has no crds/ directory: Helm would install
// that once and never upgrade it, and it would hold a second copy of each CRD.
func TestCRDsMatchConfig(t *testing.T) {
	generated, err := filepath.Glob(filepath.Join(repoRoot, "config", "crd", "bases", "*.yaml"))
	if err != nil || len(generated) == 0 {
		t.Fatalf("no CRDs under config/crd/bases: %v", err)
	}
	if _, err := os.Stat(filepath.Join(chartDir, "crds")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("charts/partner-operator/crds exists (%v): Helm would install its CRDs once and never upgrade them; they belong in files/crds/", err)
	}
	inChart, err := filepath.Glob(filepath.Join(chartDir, "files", "crds", "*"))
	if err != nil {
		t.Fatal(err)
	}
	names := func(paths []string) (out []string) {
		for _, p := range paths {
			out = append(out, filepath.Base(p))
		}
		return out
	}
	if !slices.Equal(names(generated), names(inChart)) {
		t.Fatalf("charts/partner-operator/files/crds holds %v, config/crd/bases %v: run 'make manifests'", names(inChart), names(generated))
	}
	rendered := map[string]*unstructured.Unstructured{}
	for _, crd := range find(render(t, release, namespace), "CustomResourceDefinition") {
		rendered[crd.GetName()] = crd
	}
	if len(rendered) != len(generated) {
		t.Errorf("the chart renders %d CRDs, config/crd/bases has %d", len(rendered), len(generated))
	}
	for _, p := range generated {
		want, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(filepath.Join(chartDir, "files", "crds", filepath.Base(p)))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("charts/partner-operator/files/crds/%s differs from config/crd/bases: run 'make manifests'", filepath.Base(p))
		}
		objs, err := decode(bytes.NewReader(want))
		if err != nil || len(objs) != 1 {
			t.Fatalf("%s: %d objects, %v", p, len(objs), err)
		}
		crd := objs[0]
		out := rendered[crd.GetName()]
		if out == nil {
			t.Errorf("the chart does not render %s", crd.GetName())
			continue
		}
		// The chart adds labels and annotations and changes nothing else.
		for k, v := range crd.GetAnnotations() {
			if out.GetAnnotations()[k] != v {
				t.Errorf("%s: annotation %s is %q, config/crd/bases has %q", crd.GetName(), k, out.GetAnnotations()[k], v)
			}
		}
		if out.GetLabels()["app.kubernetes.io/managed-by"] != "Helm" {
			t.Errorf("%s lacks the chart's labels: %v", crd.GetName(), out.GetLabels())
		}
		out = out.DeepCopy()
		out.SetAnnotations(crd.GetAnnotations())
		out.SetLabels(crd.GetLabels())
		if !apiequality.Semantic.DeepEqual(out.Object, crd.Object) {
			t.Errorf("the chart renders %s other than config/crd/bases has it", crd.GetName())
		}
	}
}

func TestLint(t *testing.T) {
	for name, args := range map[string][]string{
		"defaults":   nil,
		"all values": {"--values", allValues},
	} {
		t.Run(name, func(t *testing.T) {
			// --strict: a lint warning fails too.
			if out, err := helm(t, append([]string{"lint", "--strict", chartDir}, args...)...); err != nil {
				t.Fatalf("%v\n%s", err, out)
			}
		})
	}
}

// TestSchemaRejects: a wrong value fails helm (install and template alike) with the schema's
// message, which names the value.
func TestSchemaRejects(t *testing.T) {
	for _, tc := range []struct {
		name, values string
		want         []string
	}{
		{"wrong type", "replicaCount: two", []string{"/replicaCount", "got string, want integer"}},
		{"unknown top-level key", "replicas: 2", []string{"additional properties 'replicas' not allowed"}},
		{"unknown nested key", "image: {repo: x}", []string{"/image", "additional properties 'repo' not allowed"}},
		{"enum", "logFormat: text", []string{"/logFormat", "value must be one of 'json', 'console'"}},
		{"posture enum", "policyPosture: deny", []string{"/policyPosture", "'Deny', 'Allow'"}},
		{"credential enum", "azure: {credential: password}", []string{"/azure/credential", "value must be one of"}},
		{"duration pattern", "expiryWarning: 7d", []string{"/expiryWarning", "does not match pattern"}},
		{"tenant GUID", "azure: {tenantId: contoso.onmicrosoft.com}", []string{"/azure/tenantId", "does not match pattern"}},
		{"graph endpoint over http", "azure: {graphEndpoint: 'http://graph.microsoft.com'}", []string{"/azure/graphEndpoint", "does not match pattern"}},
		{"client secret without its Secret", "azure: {credential: clientSecret}", []string{"/azure/clientSecret/existingSecret", "minLength"}},
		{"certificate without tenant", "azure: {credential: clientCertificate, clientCertificate: {existingSecret: s, clientId: 33333333-4444-5555-6666-777777777777}}", []string{"/azure/tenantId", "minLength"}},
		{"CIDR", "networkPolicy: {apiServer: {cidrs: [10.0.0.1]}}", []string{"/networkPolicy/apiServer/cidrs/0", "does not match pattern"}},
		{"label value not a string", "podLabels: {tier: 1}", []string{"/podLabels/tier", "want string"}},
		{"extra argument without --", "extraArgs: [verbose]", []string{"/extraArgs/0", "does not match pattern"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			file := filepath.Join(t.TempDir(), "values.yaml")
			if err := os.WriteFile(file, []byte(tc.values+"\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			_, err := helm(t, "template", release, chartDir, "--values", file)
			if err == nil {
				t.Fatalf("helm template accepted %q", tc.values)
			}
			msg := err.Error()
			if !strings.Contains(msg, "values don't meet the specifications of the schema") {
				t.Fatalf("not a schema error: %v", err)
			}
			for _, w := range tc.want {
				if !strings.Contains(msg, w) {
					t.Errorf("message lacks %q:\n%s", w, msg)
				}
			}
		})
	}
}

// leafPaths lists the paths of values.yaml down to its leaves (scalars, lists, empty maps),
// stopping at maps whose keys are the user's (labels, selectors, the sample policy's spec).
func leafPaths(prefix string, v any, freeForm map[string]bool) []string {
	m, ok := v.(map[string]any)
	if !ok || len(m) == 0 || freeForm[prefix] {
		return []string{prefix}
	}
	var out []string
	for k, sub := range m {
		p := k
		if prefix != "" {
			p = prefix + "." + k
		}
		out = append(out, leafPaths(p, sub, freeForm)...)
	}
	slices.Sort(out)
	return out
}

var freeFormValues = map[string]bool{
	"samplePolicy.spec": true, "networkPolicy.dns.namespaceSelector": true, "networkPolicy.dns.podSelector": true,
	"resources": true, "resources.requests": true, "resources.limits": true,
	"tenants.clouds": true, "tenants.cluster": true,
}

func readYAML(t *testing.T, path string) map[string]any {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var v map[string]any
	if err := yaml.Unmarshal(raw, &v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return v
}

func lookup(v any, path string) (any, bool) {
	for _, k := range strings.Split(path, ".") {
		m, ok := v.(map[string]any)
		if !ok {
			return nil, false
		}
		if v, ok = m[k]; !ok {
			return nil, false
		}
	}
	return v, true
}

// TestAllValuesSetsEveryKey keeps testdata/all-values.yaml complete as values.yaml grows.
func TestAllValuesSetsEveryKey(t *testing.T) {
	defaults := readYAML(t, filepath.Join(chartDir, "values.yaml"))
	all := readYAML(t, allValues)
	for _, p := range leafPaths("", defaults, freeFormValues) {
		if _, ok := lookup(all, p); !ok {
			t.Errorf("testdata/all-values.yaml does not set %s", p)
		}
	}
}

// TestSchemaCoversEveryValue: each value of values.yaml is declared in values.schema.json,
// with a type, an enum, a const, a pattern or a reference to one.
func TestSchemaCoversEveryValue(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(chartDir, "values.schema.json"))
	if err != nil {
		t.Fatal(err)
	}
	var schema map[string]any
	if err := json.Unmarshal(raw, &schema); err != nil {
		t.Fatal(err)
	}
	if schema["$schema"] != "http://json-schema.org/draft-07/schema#" || schema["additionalProperties"] != false {
		t.Fatalf("values.schema.json must be draft-07 with additionalProperties: false at the top")
	}
	resolve := func(s map[string]any) map[string]any {
		for {
			ref, ok := s["$ref"].(string)
			if !ok {
				return s
			}
			def, _ := lookup(schema, strings.ReplaceAll(strings.TrimPrefix(ref, "#/"), "/", "."))
			s, _ = def.(map[string]any)
		}
	}
	defaults := readYAML(t, filepath.Join(chartDir, "values.yaml"))
	for _, p := range leafPaths("", defaults, freeFormValues) {
		s := schema
		for _, k := range strings.Split(p, ".") {
			s = resolve(s)
			props, _ := s["properties"].(map[string]any)
			next, ok := props[k].(map[string]any)
			if !ok {
				t.Errorf("values.schema.json does not declare %s", p)
				s = nil
				break
			}
			s = next
		}
		if s == nil {
			continue
		}
		s = resolve(s)
		if s["type"] == nil && s["enum"] == nil && s["anyOf"] == nil && s["const"] == nil {
			t.Errorf("values.schema.json gives %s no type or enum", p)
		}
	}
}

// TestDeploymentAsConfigManager: the chart runs the container as config/manager/manager.yaml
// does: its arguments, probes, ports, security contexts, resources, downward-API environment.
func TestDeploymentAsConfigManager(t *testing.T) {
	want := deployment(t, kustomize(t, filepath.Join(repoRoot, "config", "default")))
	wantPod, wantC := want.Spec.Template.Spec, want.Spec.Template.Spec.Containers[0]
	for name, args := range map[string][]string{"defaults": nil, "all values": {"--values", allValues}} {
		t.Run(name, func(t *testing.T) {
			d := deployment(t, render(t, release, namespace, args...))
			pod := d.Spec.Template.Spec
			if len(pod.Containers) != 1 {
				t.Fatalf("want one container, got %d", len(pod.Containers))
			}
			c := pod.Containers[0]
			for _, a := range wantC.Args {
				if !slices.Contains(c.Args, a) {
					t.Errorf("argument %s of config/manager is missing: %v", a, c.Args)
				}
			}
			same := func(what string, got, want any) {
				if !apiequality.Semantic.DeepEqual(got, want) {
					t.Errorf("%s: chart %+v, config/manager %+v", what, got, want)
				}
			}
			same("pod securityContext", pod.SecurityContext, wantPod.SecurityContext)
			same("container securityContext", c.SecurityContext, wantC.SecurityContext)
			same("ports", c.Ports, wantC.Ports)
			same("livenessProbe", c.LivenessProbe, wantC.LivenessProbe)
			same("readinessProbe", c.ReadinessProbe, wantC.ReadinessProbe)
			same("terminationGracePeriodSeconds", pod.TerminationGracePeriodSeconds, wantPod.TerminationGracePeriodSeconds)
			if len(c.Env) < 2 || len(wantC.Env) < 2 {
				t.Fatalf("no downward-API environment: chart %v, config/manager %v", c.Env, wantC.Env)
			}
			same("downward-API env", c.Env[:2], wantC.Env[:2])
			if name == "defaults" {
				same("resources", c.Resources, wantC.Resources)
				same("replicas", d.Spec.Replicas, want.Spec.Replicas)
				if !slices.Contains(c.Args, "--zap-encoder=json") {
					t.Errorf("logs are not JSON by default: %v", c.Args)
				}
			}
			spread := pod.TopologySpreadConstraints
			if len(spread) != 1 || spread[0].LabelSelector == nil || !apiequality.Semantic.DeepEqual(spread[0].LabelSelector.MatchLabels, d.Spec.Selector.MatchLabels) {
				t.Errorf("topology spread does not select the operator's pods: %+v", spread)
			}
			if name == "defaults" && spread[0].TopologyKey != corev1.LabelHostname {
				t.Errorf("replicas are spread by %s, want %s", spread[0].TopologyKey, corev1.LabelHostname)
			}
		})
	}
}

// TestTemplateSwitches: the values that add or remove objects and arguments.
func TestTemplateSwitches(t *testing.T) {
	defaults := render(t, release, namespace)
	pdb := only(t, defaults, "PodDisruptionBudget")
	if v, _, _ := unstructured.NestedFieldNoCopy(pdb.Object, "spec", "minAvailable"); fmt.Sprint(v) != "1" {
		t.Errorf("PodDisruptionBudget minAvailable %v, want 1", v)
	}
	for _, kind := range []string{"ServiceMonitor", "NetworkPolicy", "PartnerAccessPolicy", "PrometheusRule", "ConfigMap"} {
		if n := len(find(defaults, kind)); n != 0 {
			t.Errorf("%s is rendered by default", kind)
		}
	}
	// crds.enabled and crds.keep: the CRDs are the release's, and helm uninstall leaves them.
	bases, err := filepath.Glob(filepath.Join(repoRoot, "config", "crd", "bases", "*.yaml"))
	if err != nil || len(bases) < 4 {
		t.Fatalf("config/crd/bases: %d CRDs (%v), want one per kind", len(bases), err)
	}
	crds := find(defaults, "CustomResourceDefinition")
	if len(crds) != len(bases) {
		t.Errorf("%d CRDs rendered by default, want the %d of config/crd/bases", len(crds), len(bases))
	}
	for _, crd := range crds {
		if got := crd.GetAnnotations()["helm.sh/resource-policy"]; got != "keep" {
			t.Errorf("CRD %s: helm.sh/resource-policy %q by default, want keep", crd.GetName(), got)
		}
	}
	if n := len(find(render(t, release, namespace, "--set", "crds.enabled=false"), "CustomResourceDefinition")); n != 0 {
		t.Errorf("crds.enabled=false: %d CRDs rendered", n)
	}
	unkept := find(render(t, release, namespace, "--set", "crds.keep=false"), "CustomResourceDefinition")
	if len(unkept) != len(bases) {
		t.Errorf("crds.keep=false: %d CRDs rendered, want %d", len(unkept), len(bases))
	}
	// Tenants as values: ClusterGraphTenants and the operator's tenant flags.
	if n := len(find(defaults, "ClusterGraphTenant")); n != 0 {
		t.Errorf("%d ClusterGraphTenants rendered by default", n)
	}
	if tenants := find(render(t, release, namespace, "--values", allValues), "ClusterGraphTenant"); len(tenants) != 1 || tenants[0].GetName() != "fabrikam-prod" {
		t.Errorf("tenants.cluster: rendered %d ClusterGraphTenants, want fabrikam-prod", len(tenants))
	}
	for _, crd := range unkept {
		if v, ok := crd.GetAnnotations()["helm.sh/resource-policy"]; ok {
			t.Errorf("crds.keep=false: CRD %s is annotated helm.sh/resource-policy: %s", crd.GetName(), v)
		}
	}
	if n := len(find(defaults, "ValidatingAdmissionPolicyBinding")); n != 4 {
		t.Errorf("%d admission policy bindings, want 4", n)
	}
	all := render(t, release, namespace, "--values", allValues)
	for _, kind := range []string{"ServiceMonitor", "NetworkPolicy", "PartnerAccessPolicy", "PodDisruptionBudget", "Service", "PrometheusRule", "ConfigMap"} {
		if n := len(find(all, kind)); n != 1 {
			t.Errorf("all values: %d %s, want 1", n, kind)
		}
	}

	// The first install into a cluster without the CRDs: helm would fail to map the sample policy
	// of the same release, so it waits for the next upgrade.
	if n := len(find(renderFor(t, release, namespace, "--values", allValues), "PartnerAccessPolicy")); n != 0 {
		t.Errorf("all values, no PartnerAccessPolicy API yet: %d sample policies rendered", n)
	}

	single := render(t, release, namespace, "--set", "replicaCount=1")
	if n := len(find(single, "PodDisruptionBudget")); n != 0 {
		t.Errorf("one replica: a PodDisruptionBudget would block node drains")
	}
	off := render(t, release, namespace, "--set", "metrics.enabled=false,admissionPolicy.enabled=false")
	if n := len(find(off, "Service")); n != 0 {
		t.Errorf("metrics off: %d Services rendered", n)
	}
	if n := len(find(off, "ValidatingAdmissionPolicy")); n != 0 {
		t.Errorf("admission policy off: still rendered")
	}
	// Alerts about metrics nobody scrapes would page for a missing leader.
	if n := len(find(render(t, release, namespace, "--set", "metrics.enabled=false,metrics.prometheusRule.enabled=true"), "PrometheusRule")); n != 0 {
		t.Errorf("metrics off: the PrometheusRule is still rendered")
	}
	if args := deployment(t, off).Spec.Template.Spec.Containers[0].Args; !slices.Contains(args, "--metrics-bind-address=0") {
		t.Errorf("metrics off: the endpoint still listens: %v", args)
	}
}

// envOf returns the container's environment as name -> value or "secret:<name>/<key>".
func envOf(c corev1.Container) map[string]string {
	env := map[string]string{}
	for _, e := range c.Env {
		switch {
		case e.ValueFrom == nil:
			env[e.Name] = e.Value
		case e.ValueFrom.SecretKeyRef != nil:
			env[e.Name] = "secret:" + e.ValueFrom.SecretKeyRef.Name + "/" + e.ValueFrom.SecretKeyRef.Key
		}
	}
	return env
}

// credentialCases are the credentials as values; podsecurity_test.go dry-runs each too.
var credentialCases = []struct {
	name string
	set  string
}{
	{"workload identity", "azure.credential=workloadIdentity,azure.workloadIdentity.clientId=22222222-3333-4444-5555-666666666666"},
	{"client secret", "azure.credential=clientSecret,azure.clientSecret.existingSecret=partner-operator-azure,azure.tenantId=11111111-2222-3333-4444-555555555555"},
	{"client certificate", "azure.credential=clientCertificate,azure.clientCertificate.existingSecret=partner-operator-certificate,azure.clientCertificate.clientId=33333333-4444-5555-6666-777777777777,azure.tenantId=11111111-2222-3333-4444-555555555555"},
	{"managed identity, user-assigned", "azure.credential=managedIdentity,azure.managedIdentity.clientId=44444444-5555-6666-7777-888888888888"},
	{"managed identity, system-assigned", "azure.credential=managedIdentity"},
}

// TestCredentials: each credential sets what msgraph.NewCredential reads to choose it, and
// nothing of the others.
func TestCredentials(t *testing.T) {
	want := map[string]struct {
		env        map[string]string
		saClientID string
		wiLabel    bool
		envFrom    string
		certMount  string
	}{
		"workload identity": {env: map[string]string{}, saClientID: "22222222-3333-4444-5555-666666666666", wiLabel: true},
		"client secret": {env: map[string]string{"AZURE_TENANT_ID": "11111111-2222-3333-4444-555555555555"},
			envFrom: "partner-operator-azure"},
		"client certificate": {env: map[string]string{
			"AZURE_TENANT_ID":               "11111111-2222-3333-4444-555555555555",
			"AZURE_CLIENT_ID":               "33333333-4444-5555-6666-777777777777",
			"AZURE_CLIENT_CERTIFICATE_PATH": "/var/run/secrets/partner-operator/azure-client-certificate/client-certificate.pem",
		}, certMount: "partner-operator-certificate"},
		"managed identity, user-assigned": {env: map[string]string{"AZURE_TOKEN_CREDENTIALS": "ManagedIdentityCredential",
			"AZURE_CLIENT_ID": "44444444-5555-6666-7777-888888888888"}},
		"managed identity, system-assigned": {env: map[string]string{"AZURE_TOKEN_CREDENTIALS": "ManagedIdentityCredential"}},
	}
	for _, tc := range credentialCases {
		t.Run(tc.name, func(t *testing.T) {
			w := want[tc.name]
			objs := render(t, release, namespace, "--set", tc.set)
			d := deployment(t, objs)
			c := d.Spec.Template.Spec.Containers[0]
			env := envOf(c)
			delete(env, "POD_NAME")
			delete(env, "POD_NAMESPACE")
			if !apiequality.Semantic.DeepEqual(env, w.env) {
				t.Errorf("environment %v, want %v", env, w.env)
			}
			sa := only(t, objs, "ServiceAccount")
			if got := sa.GetAnnotations()["azure.workload.identity/client-id"]; got != w.saClientID {
				t.Errorf("ServiceAccount client-id annotation %q, want %q", got, w.saClientID)
			}
			if sa.GetName() != d.Spec.Template.Spec.ServiceAccountName {
				t.Errorf("the pod runs as %s, the chart's ServiceAccount is %s", d.Spec.Template.Spec.ServiceAccountName, sa.GetName())
			}
			if got := d.Spec.Template.Labels["azure.workload.identity/use"] == "true"; got != w.wiLabel {
				t.Errorf("pod label azure.workload.identity/use: %v, want %v", got, w.wiLabel)
			}
			var envFrom string
			for _, e := range c.EnvFrom {
				if e.SecretRef != nil {
					envFrom = e.SecretRef.Name
				}
			}
			if envFrom != w.envFrom {
				t.Errorf("envFrom Secret %q, want %q", envFrom, w.envFrom)
			}
			var certSecret string
			for _, v := range d.Spec.Template.Spec.Volumes {
				if v.Secret != nil && v.Name == "azure-client-certificate" {
					certSecret = v.Secret.SecretName
				}
			}
			if certSecret != w.certMount {
				t.Errorf("certificate volume from Secret %q, want %q", certSecret, w.certMount)
			}
			if path := env["AZURE_CLIENT_CERTIFICATE_PATH"]; path != "" {
				mounted := slices.ContainsFunc(c.VolumeMounts, func(m corev1.VolumeMount) bool {
					return m.Name == "azure-client-certificate" && m.ReadOnly && strings.HasPrefix(path, m.MountPath+"/")
				})
				if !mounted {
					t.Errorf("AZURE_CLIENT_CERTIFICATE_PATH %s is not in a read-only mount of the certificate: %+v", path, c.VolumeMounts)
				}
			}
		})
	}
	// The password of an encrypted certificate comes from the same Secret.
	d := deployment(t, render(t, release, namespace, "--values", allValues))
	if got := envOf(d.Spec.Template.Spec.Containers[0])["AZURE_CLIENT_CERTIFICATE_PASSWORD"]; got != "secret:partner-operator-certificate/password" {
		t.Errorf("AZURE_CLIENT_CERTIFICATE_PASSWORD from %q", got)
	}
}

// TestAdmissionPolicyAsConfigPolicy: the chart's ValidatingAdmissionPolicies and bindings have
// config/policy's specs; only names differ (the chart's carry the release's prefix), and
// policyPosture Allow leaves out the policy that refuses invitations while no
// PartnerAccessPolicy exists.
func TestAdmissionPolicyAsConfigPolicy(t *testing.T) {
	// Read as written: kustomize's YAML writer adds blank lines to folded (>-) CEL expressions.
	f, err := os.Open(filepath.Join(repoRoot, "config", "policy", "admission_policy.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	config, err := decode(f)
	if err != nil {
		t.Fatal(err)
	}
	// byName keys each spec by kind and name without the prefix, policyName the same way.
	byName := func(objs []*unstructured.Unstructured, prefix string) map[string]map[string]any {
		out := map[string]map[string]any{}
		for _, kind := range []string{"ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding"} {
			for _, o := range find(objs, kind) {
				name, ok := strings.CutPrefix(o.GetName(), prefix)
				if !ok {
					t.Errorf("%s %s: the name does not start with %q", kind, o.GetName(), prefix)
				}
				s, _, _ := unstructured.NestedMap(o.Object, "spec")
				if p, ok := s["policyName"].(string); ok {
					if s["policyName"], ok = strings.CutPrefix(p, prefix); !ok {
						t.Errorf("binding %s names policy %s, want the prefix %q", o.GetName(), p, prefix)
					}
				}
				out[kind+"/"+name] = s
			}
		}
		return out
	}
	want := byName(config, "")
	for _, name := range []string{
		"ValidatingAdmissionPolicy/partner-access-policy",
		"ValidatingAdmissionPolicyBinding/partner-access-policy-create",
		"ValidatingAdmissionPolicyBinding/partner-access-policy-update",
		"ValidatingAdmissionPolicy/partner-access-policy-required",
		"ValidatingAdmissionPolicyBinding/create-a-partneraccesspolicy-first",
		"ValidatingAdmissionPolicy/partner-invitation-warnings",
		"ValidatingAdmissionPolicyBinding/partner-invitation-warnings",
	} {
		if want[name] == nil {
			t.Errorf("config/policy has no %s", name)
		}
	}
	if len(want) != 7 {
		t.Fatalf("config/policy: %d objects, want 7", len(want))
	}
	got := byName(render(t, release, namespace), release+"-")
	if !apiequality.Semantic.DeepEqual(got, want) {
		t.Errorf("the chart's admission policy differs from config/policy:\nchart:  %v\nconfig: %v", got, want)
	}
	allow := byName(render(t, release, namespace, "--set", "policyPosture=Allow"), release+"-")
	for _, name := range []string{"ValidatingAdmissionPolicy/partner-access-policy-required", "ValidatingAdmissionPolicyBinding/create-a-partneraccesspolicy-first"} {
		if allow[name] != nil {
			t.Errorf("policyPosture Allow: %s is rendered", name)
		}
		delete(want, name)
	}
	if !apiequality.Semantic.DeepEqual(allow, want) {
		t.Errorf("policyPosture Allow: the chart's admission policy differs from config/policy's other objects:\nchart:  %v\nconfig: %v", allow, want)
	}
}

// TestDashboardAndAlertsAsConfig: the chart ships config/grafana's dashboard and
// config/prometheus's alerts. Its files/ copies are byte-identical to them (make manifests
// copies them), and the rendered ConfigMap and PrometheusRule carry their content unchanged.
func TestDashboardAndAlertsAsConfig(t *testing.T) {
	for chartFile, configFile := range map[string]string{
		"files/partner-operator.json": "config/grafana/partner-operator.json",
		"files/alerts.yaml":           "config/prometheus/alerts.yaml",
	} {
		want, err := os.ReadFile(filepath.Join(repoRoot, configFile))
		if err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(filepath.Join(chartDir, chartFile))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("charts/partner-operator/%s differs from %s: run 'make manifests'", chartFile, configFile)
		}
	}
	objs := render(t, release, namespace, "--values", allValues)

	cm := convert[corev1.ConfigMap](t, only(t, objs, "ConfigMap"))
	if cm.Labels["grafana_dashboard"] != "1" {
		t.Errorf("the dashboard ConfigMap lacks the sidecar label grafana_dashboard: \"1\": %v", cm.Labels)
	}
	raw, err := os.ReadFile(filepath.Join(repoRoot, "config", "grafana", "partner-operator.json"))
	if err != nil {
		t.Fatal(err)
	}
	var want, got any
	if err := json.Unmarshal(raw, &want); err != nil {
		t.Fatalf("config/grafana/partner-operator.json: %v", err)
	}
	if err := json.Unmarshal([]byte(cm.Data["partner-operator.json"]), &got); err != nil {
		t.Fatalf("the ConfigMap's dashboard is not JSON: %v", err)
	}
	if !apiequality.Semantic.DeepEqual(got, want) {
		t.Error("the ConfigMap's dashboard differs from config/grafana/partner-operator.json")
	}

	f, err := os.Open(filepath.Join(repoRoot, "config", "prometheus", "alerts.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	config, err := decode(f)
	if err != nil {
		t.Fatal(err)
	}
	wantSpec, _, _ := unstructured.NestedMap(only(t, config, "PrometheusRule").Object, "spec")
	rule := only(t, objs, "PrometheusRule")
	gotSpec, _, _ := unstructured.NestedMap(rule.Object, "spec")
	if len(wantSpec) == 0 || !apiequality.Semantic.DeepEqual(gotSpec, wantSpec) {
		t.Errorf("the chart's PrometheusRule spec differs from config/prometheus/alerts.yaml's")
	}
	if rule.GetLabels()["release"] != "kube-prometheus-stack" {
		t.Errorf("PrometheusRule labels %v lack metrics.prometheusRule.labels", rule.GetLabels())
	}
}
