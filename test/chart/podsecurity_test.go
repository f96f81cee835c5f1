package chart_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	corev1 "k8s.io/api/core/v1"
	schedulingv1 "k8s.io/api/scheduling/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// restrictedLabels put a namespace at the restricted Pod Security level: enforce refuses Pods
// that break it; warn makes the API server answer a workload (Deployment) whose pods would
// break it with a Warning header, which is all it does for workloads.
var restrictedLabels = map[string]string{
	"pod-security.kubernetes.io/enforce":         "restricted",
	"pod-security.kubernetes.io/enforce-version": "latest",
	"pod-security.kubernetes.io/warn":            "restricted",
	"pod-security.kubernetes.io/warn-version":    "latest",
	"pod-security.kubernetes.io/audit":           "restricted",
	"pod-security.kubernetes.io/audit-version":   "latest",
}

// warningRecorder keeps the API server's Warning headers: Pod Security's verdict on workloads,
// and unknown or duplicate fields (field validation warns by default).
type warningRecorder struct {
	mu   sync.Mutex
	msgs []string
}

func (w *warningRecorder) HandleWarningHeaderWithContext(_ context.Context, _ int, _ string, msg string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.msgs = append(w.msgs, msg)
}

// take returns the warnings since the last take.
func (w *warningRecorder) take() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	msgs := w.msgs
	w.msgs = nil
	return msgs
}

type apiServer struct {
	c        client.Client
	warnings *warningRecorder
}

// prometheusOperatorCRD stands in for a CRD of the Prometheus Operator (ServiceMonitor,
// PrometheusRule), which envtest does not have: it accepts any spec, so the dry run checks the
// object's metadata and namespace (test/observability checks the rules themselves).
func prometheusOperatorCRD(kind string) *apiextensionsv1.CustomResourceDefinition {
	singular := strings.ToLower(kind)
	return &apiextensionsv1.CustomResourceDefinition{
		ObjectMeta: metav1.ObjectMeta{Name: singular + "s.monitoring.coreos.com"},
		Spec: apiextensionsv1.CustomResourceDefinitionSpec{
			Group: "monitoring.coreos.com",
			Names: apiextensionsv1.CustomResourceDefinitionNames{Plural: singular + "s", Singular: singular, Kind: kind, ListKind: kind + "List"},
			Scope: apiextensionsv1.NamespaceScoped,
			Versions: []apiextensionsv1.CustomResourceDefinitionVersion{{
				Name: "v1", Served: true, Storage: true,
				Schema: &apiextensionsv1.CustomResourceValidation{OpenAPIV3Schema: &apiextensionsv1.JSONSchemaProps{
					Type: "object", XPreserveUnknownFields: ptr.To(true),
				}},
			}},
		},
	}
}

// TestPodSecurityRestricted dry-run applies the chart (defaults, all values, each credential)
// and config/default to a real API server, each into a namespace at the restricted level, and
// has the API server's own Pod Security admission judge the Deployment (warn) and a Pod made
// from its template (enforce). Negative controls first show that it refuses what breaks the level.
func TestPodSecurityRestricted(t *testing.T) {
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		t.Fatal("KUBEBUILDER_ASSETS is not set: run 'make test', which provides kube-apiserver and etcd via hack/envtest.sh")
	}
	env := &envtest.Environment{
		// The chart's CRDs (TestCRDsMatchConfig keeps them identical to config/crd/bases).
		CRDDirectoryPaths:     []string{filepath.Join(chartDir, "files", "crds")},
		CRDs:                  []*apiextensionsv1.CustomResourceDefinition{prometheusOperatorCRD("ServiceMonitor"), prometheusOperatorCRD("PrometheusRule")},
		ErrorIfCRDPathMissing: true,
	}
	cfg := startEnvtest(t, env)
	warnings := &warningRecorder{}
	cfg = rest.CopyConfig(cfg)
	cfg.WarningHandlerWithContext = warnings
	c, err := client.New(cfg, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	api := &apiServer{c: c, warnings: warnings}
	ctx := t.Context()

	// What a cluster has before the chart: the PriorityClass all-values.yaml names (Priority
	// admission refuses a Pod naming one that does not exist).
	pc := &schedulingv1.PriorityClass{ObjectMeta: metav1.ObjectMeta{Name: "platform-operators"}, Value: 1000000}
	if err := c.Create(ctx, pc); err != nil {
		t.Fatal(err)
	}

	t.Run("negative controls", func(t *testing.T) { api.negativeControls(t) })
	t.Run("chart defaults", func(t *testing.T) {
		api.check(t, "chart-defaults", render(t, release, "chart-defaults"))
	})
	t.Run("chart all values", func(t *testing.T) {
		api.check(t, "chart-all-values", render(t, release, "chart-all-values", "--values", allValues))
	})
	for i, tc := range credentialCases {
		t.Run("chart "+tc.name, func(t *testing.T) {
			ns := "chart-credential-" + string(rune('a'+i))
			api.check(t, ns, render(t, release, ns, "--set", tc.set))
		})
	}
	t.Run("config/default", func(t *testing.T) {
		objs := kustomize(t, filepath.Join(repoRoot, "config", "default"))
		nsObj := only(t, objs, "Namespace")
		if got := nsObj.GetLabels()["pod-security.kubernetes.io/enforce"]; got != "restricted" {
			t.Errorf("config/default's Namespace %s is labelled enforce=%q, want restricted", nsObj.GetName(), got)
		}
		api.check(t, nsObj.GetName(), objs)
	})
}

// check creates namespace at the restricted level (with the labels of a Namespace among objs)
// and dry-run applies the other objects into it: no error, no warning. Then it dry-run creates
// a Pod from each Deployment's pod template, which enforce admits or refuses.
func (a *apiServer) check(t *testing.T, namespace string, objs []*unstructured.Unstructured) {
	ctx := t.Context()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: namespace, Labels: map[string]string{}}}
	for _, o := range find(objs, "Namespace") {
		if o.GetName() != namespace {
			t.Fatalf("the manifests create namespace %s, not %s", o.GetName(), namespace)
		}
		for k, v := range o.GetLabels() {
			ns.Labels[k] = v
		}
	}
	for k, v := range restrictedLabels {
		ns.Labels[k] = v
	}
	if err := a.c.Create(ctx, ns); err != nil {
		t.Fatalf("create namespace: %v", err)
	}
	a.warnings.take()

	var deployments int
	for _, o := range objs {
		if o.GetKind() == "Namespace" {
			continue
		}
		if o.GetNamespace() != "" && o.GetNamespace() != namespace {
			t.Errorf("%s %s is in namespace %s, not the install's %s", o.GetKind(), o.GetName(), o.GetNamespace(), namespace)
		}
		err := a.c.Apply(ctx, client.ApplyConfigurationFromUnstructured(o.DeepCopy()),
			client.FieldOwner("chart-test"), client.ForceOwnership, client.DryRunAll)
		if err != nil {
			t.Errorf("dry-run apply %s %s: %v", o.GetKind(), o.GetName(), err)
		}
		for _, w := range a.warnings.take() {
			t.Errorf("dry-run apply %s %s: warning: %s", o.GetKind(), o.GetName(), w)
		}
		if o.GetKind() != "Deployment" {
			continue
		}
		deployments++
		pod := podFrom(t, o)
		// Pod Security does not look at readOnlyRootFilesystem; the operator's pod sets it anyway.
		for _, c := range pod.Spec.Containers {
			if c.SecurityContext == nil || !ptr.Deref(c.SecurityContext.ReadOnlyRootFilesystem, false) {
				t.Errorf("container %s: root filesystem is writable", c.Name)
			}
		}
		if err := a.c.Create(ctx, pod, client.DryRunAll); err != nil {
			t.Errorf("dry-run create a Pod of Deployment %s: %v", o.GetName(), err)
		}
		for _, w := range a.warnings.take() {
			t.Errorf("dry-run create a Pod of Deployment %s: warning: %s", o.GetName(), w)
		}
	}
	if deployments != 1 {
		t.Errorf("%d Deployments, want 1", deployments)
	}
}

// podFrom is the Pod the Deployment's ReplicaSet would create (envtest runs no controllers).
func podFrom(t *testing.T, deploy *unstructured.Unstructured) *corev1.Pod {
	t.Helper()
	tmpl := deployment(t, []*unstructured.Unstructured{deploy}).Spec.Template
	pod := &corev1.Pod{ObjectMeta: *tmpl.ObjectMeta.DeepCopy(), Spec: *tmpl.Spec.DeepCopy()}
	pod.Name = deploy.GetName() + "-dry-run"
	pod.Namespace = deploy.GetNamespace()
	return pod
}

// negativeControls: each way of breaking the restricted level, applied to the chart's own
// pod, is refused (Pod) and warned about (Deployment), so the checks above can fail.
func (a *apiServer) negativeControls(t *testing.T) {
	const namespace = "negative-control"
	ctx := t.Context()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: namespace, Labels: restrictedLabels}}
	if err := a.c.Create(ctx, ns); err != nil {
		t.Fatal(err)
	}
	deploy := only(t, render(t, release, namespace), "Deployment")
	// container returns the manager container itself, not a copy, for the cases to change.
	container := func(u *unstructured.Unstructured) map[string]any {
		cs, _, _ := unstructured.NestedFieldNoCopy(u.Object, "spec", "template", "spec", "containers")
		return cs.([]any)[0].(map[string]any)
	}
	for _, tc := range []struct {
		name   string
		break_ func(u *unstructured.Unstructured)
		want   string // in Pod Security's message
	}{
		{"privileged", func(u *unstructured.Unstructured) {
			// Validation refuses privileged with allowPrivilegeEscalation false: drop the latter.
			unstructured.RemoveNestedField(container(u), "securityContext", "allowPrivilegeEscalation")
			_ = unstructured.SetNestedField(container(u), true, "securityContext", "privileged")
		}, "privileged"},
		{"may run as root", func(u *unstructured.Unstructured) {
			unstructured.RemoveNestedField(u.Object, "spec", "template", "spec", "securityContext", "runAsNonRoot")
		}, "runAsNonRoot"},
		{"privilege escalation", func(u *unstructured.Unstructured) {
			unstructured.RemoveNestedField(container(u), "securityContext", "allowPrivilegeEscalation")
		}, "allowPrivilegeEscalation"},
		{"capabilities kept", func(u *unstructured.Unstructured) {
			unstructured.RemoveNestedField(container(u), "securityContext", "capabilities")
		}, "unrestricted capabilities"},
		{"no seccomp profile", func(u *unstructured.Unstructured) {
			unstructured.RemoveNestedField(u.Object, "spec", "template", "spec", "securityContext", "seccompProfile")
		}, "seccompProfile"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bad := deploy.DeepCopy()
			tc.break_(bad)
			a.warnings.take()
			if err := a.c.Apply(ctx, client.ApplyConfigurationFromUnstructured(bad.DeepCopy()),
				client.FieldOwner("chart-test"), client.ForceOwnership, client.DryRunAll); err != nil {
				t.Fatalf("dry-run apply: %v", err)
			}
			warned := a.warnings.take()
			if !containsAll(strings.Join(warned, "\n"), `would violate PodSecurity "restricted:latest"`, tc.want) {
				t.Errorf("the Deployment drew no Pod Security warning naming %s: %q", tc.want, warned)
			}
			err := a.c.Create(ctx, podFrom(t, bad), client.DryRunAll)
			if !apierrors.IsForbidden(err) || !containsAll(err.Error(), `violates PodSecurity "restricted:latest"`, tc.want) {
				t.Errorf("the Pod was not refused by Pod Security for %s: %v", tc.want, err)
			}
		})
	}
}

func containsAll(s string, subs ...string) bool {
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			return false
		}
	}
	return true
}

// startEnvtest starts a real API server and etcd and stops them when the test ends.
func startEnvtest(t *testing.T, env *envtest.Environment) *rest.Config {
	t.Helper()
	cfg, err := env.Start()
	if err != nil {
		t.Fatalf("start envtest: %v", err)
	}
	t.Cleanup(func() {
		if err := env.Stop(); err != nil {
			t.Errorf("stop envtest: %v", err)
		}
	})
	return cfg
}
