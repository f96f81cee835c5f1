package operator_test

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	"sigs.k8s.io/yaml"

	"github.com/partnerops/partner-operator/controllers/partnerinvitation"
	"github.com/partnerops/partner-operator/internal/graph"
	"github.com/partnerops/partner-operator/internal/graph/graphtest"
	"github.com/partnerops/partner-operator/internal/operator"
)

const configDir = "../../config"

// TestMetricsEndpointAuth runs the manager's metrics endpoint against a real API server: HTTPS,
// and only a token whose identity the metrics-reader ClusterRole allows gets the metrics.
func TestMetricsEndpointAuth(t *testing.T) {
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		t.Fatal("KUBEBUILDER_ASSETS is not set: run 'make test', which provides kube-apiserver and etcd via hack/envtest.sh")
	}
	out := io.Discard
	if testing.Verbose() {
		out = os.Stderr
	}
	logged := &syncBuffer{}
	logf.SetLogger(zap.New(zap.WriteTo(io.MultiWriter(out, logged)), zap.UseDevMode(true)))

	env := &envtest.Environment{
		CRDDirectoryPaths:     []string{filepath.Join(configDir, "crd", "bases")},
		ErrorIfCRDPathMissing: true,
	}
	admin, err := env.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.Stop() })
	cs := kubernetes.NewForConfigOrDie(admin)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	// The endpoint authenticates and authorizes through the manager's own identity; here it is
	// the admin, and the metrics-auth-role subtest shows the shipped role is enough.
	addr := freeAddr(t)
	dir := &graphtest.Fake{UserChangesFn: func(context.Context, string) ([]graph.UserChange, string, error) {
		return nil, "delta-link", nil
	}}
	mgr, err := operator.NewManager(ctx, admin, operator.Config{
		Directory:              dir,
		MetricsBindAddress:     addr,
		HealthProbeBindAddress: "0",
		// The users-delta watcher calls Graph at once, so the Graph counter has a series.
		Controller: partnerinvitation.Options{DeltaInterval: 200 * time.Millisecond},
	})
	if err != nil {
		t.Fatal(err)
	}
	mgrCtx, stopMgr := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- mgr.Start(mgrCtx) }()
	t.Cleanup(func() {
		stopMgr()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("manager: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Error("manager did not stop")
		}
	})

	const ns = "metrics-test"
	create(t, ctx, cs.CoreV1().Namespaces().Create, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}})
	for _, sa := range []string{"no-access", "scraper"} {
		create(t, ctx, cs.CoreV1().ServiceAccounts(ns).Create, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: sa}})
	}
	reader := readClusterRole(t, "metrics_reader_role.yaml")
	create(t, ctx, cs.RbacV1().ClusterRoles().Create, reader)
	create(t, ctx, cs.RbacV1().ClusterRoleBindings().Create, &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "scraper-metrics-reader"},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: reader.Name},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.ServiceAccountKind, Name: "scraper", Namespace: ns}},
	})
	noAccess, scraper := token(t, ctx, cs, ns, "no-access"), token(t, ctx, cs, ns, "scraper")

	url := "https://" + addr + "/metrics"
	// Until the manager listens, connections are refused.
	var code int
	_ = wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		code, _, err = scrape(ctx, url, "")
		return err == nil, nil
	})
	if err != nil {
		t.Fatalf("metrics endpoint never answered: %v", err)
	}

	t.Run("no token", func(t *testing.T) {
		t.Logf("GET %s without a token: %d", url, code)
		if code != http.StatusUnauthorized {
			t.Errorf("status %d, want 401", code)
		}
	})
	t.Run("invalid token", func(t *testing.T) {
		// controller-runtime's own filter answers 500 here and logs an error with a stack
		// trace for each request: the TokenReview's "invalid bearer token" reaches it as an
		// error. The operator's filter answers 401, in a few bytes, and logs no error.
		for _, authorization := range []string{"Bearer not-a-token", "Bearer %%%", "Bearer", "Bearer ",
			"Bearer a b", "Bearer ünïcode", "Bearer " + strings.Repeat("A", 20000), "Basic Zm9vOmJhcg==", "Bearer " + noAccess + "x"} {
			before := logged.Len()
			code, body, err := get(ctx, url, authorization)
			t.Logf("GET %s with Authorization %.40q: %d %q", url, authorization, code, strings.TrimSpace(body))
			if err != nil || code != http.StatusUnauthorized || len(body) > 40 {
				t.Errorf("Authorization %.40q: status %d, %q, %v; want 401 and a short body", authorization, code, body, err)
			}
			if l := logged.From(before); strings.Contains(l, "ERROR") || strings.Contains(l, "\n\t") {
				t.Errorf("Authorization %.40q logged an error or a stack trace:\n%s", authorization, l)
			}
		}
	})
	t.Run("token without metrics-reader", func(t *testing.T) {
		code, body, err := scrape(ctx, url, noAccess)
		t.Logf("GET %s as system:serviceaccount:%s:no-access: %d %s", url, ns, code, strings.TrimSpace(body))
		if err != nil || code != http.StatusForbidden {
			t.Errorf("status %d, %v; want 403", code, err)
		}
	})
	t.Run("token bound to metrics-reader", func(t *testing.T) {
		// The counter's first series appears with the watcher's first Graph call.
		want := []string{`partner_operator_graph_requests_total{code="200",operation="user_changes",tenant="default"}`, "controller_runtime_reconcile_total"}
		var code int
		var body string
		var err error
		_ = wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
			code, body, err = scrape(ctx, url, scraper)
			return err == nil && code == http.StatusOK && containsAll(body, want), nil
		})
		t.Logf("GET %s as system:serviceaccount:%s:scraper: %d, %d bytes", url, ns, code, len(body))
		if err != nil || code != http.StatusOK {
			t.Fatalf("status %d, %v; want 200", code, err)
		}
		for _, w := range want {
			if !strings.Contains(body, w) {
				t.Errorf("metrics lack %s", w)
			} else {
				t.Logf("found %s", line(body, w))
			}
		}
	})
	t.Run("plain HTTP refused", func(t *testing.T) {
		resp, err := http.Get("http://" + addr + "/metrics")
		if err != nil {
			return
		}
		defer resp.Body.Close()
		t.Logf("GET http://%s/metrics: %d", addr, resp.StatusCode)
		if resp.StatusCode == http.StatusOK {
			t.Errorf("plain HTTP got metrics")
		}
	})
	t.Run("metrics-auth-role suffices", func(t *testing.T) {
		// What the operator's identity does for each scrape, as a user holding only the
		// shipped metrics-auth-role.
		const user = "metrics-auth-only"
		u, err := env.AddUser(envtest.User{Name: user}, nil)
		if err != nil {
			t.Fatal(err)
		}
		limited := kubernetes.NewForConfigOrDie(rest.CopyConfig(u.Config()))
		review := func() (*authenticationv1.TokenReview, error) {
			return limited.AuthenticationV1().TokenReviews().Create(ctx,
				&authenticationv1.TokenReview{Spec: authenticationv1.TokenReviewSpec{Token: scraper}}, metav1.CreateOptions{})
		}
		if _, err := review(); !apierrors.IsForbidden(err) {
			t.Fatalf("TokenReview as %s before the binding: %v, want Forbidden", user, err)
		}
		authRole := readClusterRole(t, "metrics_auth_role.yaml")
		create(t, ctx, cs.RbacV1().ClusterRoles().Create, authRole)
		create(t, ctx, cs.RbacV1().ClusterRoleBindings().Create, &rbacv1.ClusterRoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: user},
			RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: authRole.Name},
			Subjects:   []rbacv1.Subject{{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: user}},
		})
		// The API server's RBAC authorizer learns of the binding through a watch.
		var tr *authenticationv1.TokenReview
		_ = wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 10*time.Second, true, func(context.Context) (bool, error) {
			tr, err = review()
			return !apierrors.IsForbidden(err), nil
		})
		if err != nil {
			t.Fatalf("TokenReview as %s: %v", user, err)
		}
		if !tr.Status.Authenticated {
			t.Fatalf("scraper token not authenticated: %s", tr.Status.Error)
		}
		sar, err := limited.AuthorizationV1().SubjectAccessReviews().Create(ctx, &authorizationv1.SubjectAccessReview{
			Spec: authorizationv1.SubjectAccessReviewSpec{
				User: tr.Status.User.Username, Groups: tr.Status.User.Groups,
				NonResourceAttributes: &authorizationv1.NonResourceAttributes{Path: "/metrics", Verb: "get"},
			}}, metav1.CreateOptions{})
		if err != nil {
			t.Fatalf("SubjectAccessReview as %s: %v", user, err)
		}
		if !sar.Status.Allowed {
			t.Errorf("%s may not GET /metrics: %s", tr.Status.User.Username, sar.Status.Reason)
		}
	})
}

// TestMetricsCertDirMissingFiles: a certificate directory named on purpose must hold the
// certificate; controller-runtime alone would fall back to a self-signed one without a word.
func TestMetricsCertDirMissingFiles(t *testing.T) {
	_, err := operator.NewManager(context.Background(), &rest.Config{Host: "https://127.0.0.1:1"}, operator.Config{
		Directory:          &graphtest.Fake{},
		MetricsBindAddress: "127.0.0.1:0",
		MetricsCertDir:     t.TempDir(),
	})
	if err == nil || !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("NewManager with an empty --metrics-cert-dir: %v, want a missing-file error", err)
	}
}

func create[T any](t *testing.T, ctx context.Context, fn func(context.Context, T, metav1.CreateOptions) (T, error), obj T) {
	t.Helper()
	if _, err := fn(ctx, obj, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// readClusterRole reads a shipped ClusterRole from config/rbac.
func readClusterRole(t *testing.T, file string) *rbacv1.ClusterRole {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(configDir, "rbac", file))
	if err != nil {
		t.Fatal(err)
	}
	role := &rbacv1.ClusterRole{}
	if err := yaml.UnmarshalStrict(raw, role); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	return role
}

// token gets a short-lived token for a ServiceAccount from the TokenRequest API, as a kubelet
// does for a pod.
func token(t *testing.T, ctx context.Context, cs kubernetes.Interface, ns, sa string) string {
	t.Helper()
	tr, err := cs.CoreV1().ServiceAccounts(ns).CreateToken(ctx, sa, &authenticationv1.TokenRequest{
		Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: ptr(int64(600))},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("token for %s/%s: %v", ns, sa, err)
	}
	return tr.Status.Token
}

// scrape GETs url over HTTPS, without verifying the self-signed certificate, with token as a
// bearer token when it is not empty.
func scrape(ctx context.Context, url, token string) (int, string, error) {
	if token == "" {
		return get(ctx, url, "")
	}
	return get(ctx, url, "Bearer "+token)
}

// get is scrape with the Authorization header as given.
func get(ctx context.Context, url, authorization string) (int, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, "", err
	}
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // the endpoint's certificate is self-signed
	}}
	resp, err := client.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body), err
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func containsAll(s string, subs []string) bool {
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			return false
		}
	}
	return true
}

// line returns the first line of body that contains sub.
func line(body, sub string) string {
	for l := range strings.Lines(body) {
		if strings.Contains(l, sub) {
			return strings.TrimSpace(l)
		}
	}
	return ""
}

func ptr[T any](v T) *T { return &v }

// syncBuffer collects the log for a test to read while the manager writes.
type syncBuffer struct {
	mu  sync.Mutex
	buf strings.Builder
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) Len() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Len()
}

// From returns what was written since Len returned n.
func (b *syncBuffer) From(n int) string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()[n:]
}
