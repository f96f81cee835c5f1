package operatorproc_test

import (
	"context"
	"crypto/tls"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/partnerops/partner-operator/internal/graph/emulator"
	"github.com/partnerops/partner-operator/test/internal/operatorproc"
)

// TestScrapeSecureMetrics runs the operator binary as installed (its shipped RBAC identity,
// metrics over HTTPS with authentication and authorization) and scrapes it as Prometheus does,
// with the token of a ServiceAccount bound to the shipped metrics-reader ClusterRole.
func TestScrapeSecureMetrics(t *testing.T) {
	root := filepath.Join("..", "..", "..")
	cp := operatorproc.StartControlPlane(t, root)
	emu := operatorproc.StartEmulator(t, emulator.Options{RequireAuth: true})
	dir := t.TempDir()
	env := operatorproc.NewEnvironment(t, operatorproc.Build(t, root, dir), dir, cp.Env, emu)
	env.AuthorizeScrapes(t, cp.Config)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	op := env.Start(t, ctx, "operator.log")
	defer op.Stop()
	defer func() {
		if t.Failed() {
			raw, _ := os.ReadFile(filepath.Join(dir, "operator.log"))
			t.Logf("operator.log:\n%s", raw)
		}
	}()

	var heap float64
	_ = wait.PollUntilContextTimeout(context.Background(), 200*time.Millisecond, 30*time.Second, true, func(context.Context) (bool, error) {
		heap = op.Scrape("go_memstats_heap_inuse_bytes")
		return heap > 0 || op.Exited(), nil
	})
	if heap == 0 {
		t.Fatalf("no go_memstats_heap_inuse_bytes from https://%s/metrics with the metrics-reader token", op.Metrics)
	}
	t.Logf("go_memstats_heap_inuse_bytes %.0f, scraped over HTTPS with a metrics-reader token", heap)

	// Nothing without a token, and nothing over plain HTTP.
	insecure := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // self-signed, as shipped
	}}
	resp, err := insecure.Get("https://" + op.Metrics + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	t.Logf("GET https://%s/metrics without a token: %d", op.Metrics, resp.StatusCode)
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("status %d without a token, want 401", resp.StatusCode)
	}
	if resp, err := http.Get("http://" + op.Metrics + "/metrics"); err == nil {
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			t.Error("metrics served over plain HTTP")
		}
	}
}
