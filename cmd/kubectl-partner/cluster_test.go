package main

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	b2bv1alpha1 "github.com/partnerops/partner-operator/api/v1alpha1"
	"github.com/partnerops/partner-operator/internal/testbed"
)

// controlPlane is one envtest API server for the package's status and resend tests, started
// by the first test that needs it and stopped by TestMain.
type controlPlane struct {
	env        *envtest.Environment
	client     client.Client
	kubeconfig string
	dir        string
}

var (
	cpOnce sync.Once
	cp     *controlPlane
	cpErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if cp != nil {
		_ = cp.env.Stop()
		_ = os.RemoveAll(cp.dir)
	}
	os.Exit(code)
}

// cluster returns the shared control plane. It fails, never skips, without the binaries.
func cluster(t *testing.T) *controlPlane {
	t.Helper()
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		t.Fatal("KUBEBUILDER_ASSETS is not set: run 'make test', which provides kube-apiserver and etcd via hack/envtest.sh")
	}
	cpOnce.Do(func() { cp, cpErr = startControlPlane() })
	if cpErr != nil {
		t.Fatalf("start envtest: %v", cpErr)
	}
	return cp
}

func startControlPlane() (*controlPlane, error) {
	env := &envtest.Environment{
		CRDDirectoryPaths:     []string{filepath.Join("..", "..", "config", "crd", "bases")},
		ErrorIfCRDPathMissing: true,
	}
	cfg, err := env.Start()
	if err != nil {
		return nil, err
	}
	c := &controlPlane{env: env}
	scheme := runtime.NewScheme()
	if err := coordinationv1.AddToScheme(scheme); err != nil {
		return c, err
	}
	if err := corev1.AddToScheme(scheme); err != nil {
		return c, err
	}
	if err := b2bv1alpha1.AddToScheme(scheme); err != nil {
		return c, err
	}
	if c.client, err = client.New(cfg, client.Options{Scheme: scheme}); err != nil {
		return c, err
	}
	// The plugin connects as a person with a kubeconfig would.
	if c.dir, err = os.MkdirTemp("", "kubectl-partner-test"); err != nil {
		return c, err
	}
	c.kubeconfig = filepath.Join(c.dir, "kubeconfig")
	return c, testbed.WriteAdminKubeconfig(env, "platform-admin", c.kubeconfig)
}

// kubectl runs the plugin against the control plane.
func (c *controlPlane) kubectl(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	return runPlugin(t, append([]string{"--kubeconfig", c.kubeconfig}, args...)...)
}

func (c *controlPlane) namespace(t *testing.T, name string) {
	t.Helper()
	if err := c.client.Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}); err != nil {
		t.Fatal(err)
	}
}

// scratchNamespace creates namespace name and, when the test ends, deletes its
// PartnerInvitations, so nothing is left behind for other tests' -A (no operator runs here,
// so no finalizer holds them).
func (c *controlPlane) scratchNamespace(t *testing.T, name string) {
	t.Helper()
	c.namespace(t, name)
	t.Cleanup(func() {
		_ = c.client.DeleteAllOf(context.Background(), &b2bv1alpha1.PartnerInvitation{}, client.InNamespace(name))
	})
}

// invitation creates a PartnerInvitation and, when status is set, writes it as the operator
// would.
func (c *controlPlane) invitation(t *testing.T, ns, name string, status *b2bv1alpha1.PartnerInvitationStatus) *b2bv1alpha1.PartnerInvitation {
	t.Helper()
	ctx := context.Background()
	p := &b2bv1alpha1.PartnerInvitation{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec:       b2bv1alpha1.PartnerInvitationSpec{Email: name + "@" + ns + ".example"},
	}
	if err := c.client.Create(ctx, p); err != nil {
		t.Fatal(err)
	}
	if status != nil {
		p.Status = *status
		if err := c.client.Status().Update(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	return p
}

// readyCondition is a Ready condition as the operator writes it.
func readyCondition(status metav1.ConditionStatus, reason, message string) []metav1.Condition {
	return []metav1.Condition{{Type: b2bv1alpha1.ConditionReady, Status: status, Reason: reason, Message: message,
		LastTransitionTime: metav1.Now()}}
}

func ago(d time.Duration) *metav1.Time {
	t := metav1.NewTime(time.Now().Add(-d).Truncate(time.Second))
	return &t
}
