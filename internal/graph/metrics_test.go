package graph_test

import (
	"context"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/partnerops/partner-operator/internal/graph"
	"github.com/partnerops/partner-operator/internal/graph/graphtest"
)

// A second NewMetrics on the same registry (a second manager in one process) must count into
// the collectors the registry exports, not into unregistered copies.
func TestNewMetricsTwiceSharesRegisteredCollectors(t *testing.T) {
	reg := prometheus.NewRegistry()
	if _, err := graph.NewMetrics(reg); err != nil {
		t.Fatal(err)
	}
	second, err := graph.NewMetrics(reg)
	if err != nil {
		t.Fatalf("second NewMetrics: %v", err)
	}
	dir := graph.Instrument(&graphtest.Fake{}, second)
	for range 3 {
		_, _ = dir.GetUser(context.Background(), "u1")
	}

	got := gather(t, reg)
	if c := got["partner_operator_graph_requests_total"]; c != 3 {
		t.Errorf("partner_operator_graph_requests_total = %v after 3 calls through the second Metrics, want 3", c)
	}
	if c := got["partner_operator_graph_request_duration_seconds"]; c != 3 {
		t.Errorf("partner_operator_graph_request_duration_seconds count = %v, want 3", c)
	}
}

// gather sums each counter family's values and each histogram family's sample counts.
func gather(t *testing.T, reg *prometheus.Registry) map[string]float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	sums := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			sums[mf.GetName()] += m.GetCounter().GetValue() + float64(m.GetHistogram().GetSampleCount())
		}
	}
	return sums
}

// A collector of another type under the same name is an error, not a silent copy.
func TestNewMetricsConflictingCollector(t *testing.T) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "partner_operator_graph_request_duration_seconds",
		Help: "Latency of Microsoft Graph calls, retries included.",
	}, []string{"operation"}))
	if _, err := graph.NewMetrics(reg); err == nil {
		t.Fatal("NewMetrics succeeded over a conflicting collector")
	}
}
