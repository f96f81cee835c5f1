package graph_test

import (
	"context"
	"maps"
	"reflect"
	"slices"
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

// Every Directory method is counted under one of Operations, whose 401 and 429 series exist
// from the start.
func TestOperationsAreEveryDirectoryMethod(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := graph.NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	before := labelValues(t, reg, "operation")
	if !slices.Equal(before, slices.Sorted(slices.Values(graph.Operations))) {
		t.Errorf("series at start for operations %v, want %v", before, graph.Operations)
	}
	dir := reflect.ValueOf(graph.Instrument(&graphtest.Fake{}, m))
	typ := reflect.TypeFor[graph.Directory]()
	for i := range typ.NumMethod() {
		method := dir.MethodByName(typ.Method(i).Name)
		args := []reflect.Value{reflect.ValueOf(context.Background())}
		for j := 1; j < method.Type().NumIn(); j++ {
			args = append(args, reflect.Zero(method.Type().In(j)))
		}
		method.Call(args)
	}
	if after := labelValues(t, reg, "operation"); !slices.Equal(after, before) {
		t.Errorf("the %d Directory methods are counted under %v, not only Operations %v", typ.NumMethod(), after, before)
	}
	if n := typ.NumMethod(); n != len(graph.Operations) {
		t.Errorf("%d Directory methods, %d Operations", n, len(graph.Operations))
	}
}

func labelValues(t *testing.T, reg *prometheus.Registry, label string) []string {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	set := map[string]bool{}
	for _, mf := range mfs {
		if mf.GetName() != "partner_operator_graph_requests_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, lp := range m.GetLabel() {
				if lp.GetName() == label {
					set[lp.GetValue()] = true
				}
			}
		}
	}
	return slices.Sorted(maps.Keys(set))
}

// Each tenant counts into its own series of the same collectors.
func TestMetricsPerTenant(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := graph.NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = graph.Instrument(&graphtest.Fake{}, m).GetUser(context.Background(), "u1")
	other := graph.Instrument(&graphtest.Fake{}, m.ForTenant("ClusterGraphTenant/prod"))
	for range 2 {
		_, _ = other.GetUser(context.Background(), "u1")
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	byTenant := map[string]float64{}
	for _, mf := range mfs {
		if mf.GetName() != "partner_operator_graph_requests_total" {
			continue
		}
		for _, s := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range s.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["operation"] == "get_user" {
				byTenant[labels["tenant"]] += s.GetCounter().GetValue()
			}
		}
	}
	if want := map[string]float64{graph.DefaultTenantLabel: 1, "ClusterGraphTenant/prod": 2}; !maps.Equal(byTenant, want) {
		t.Fatalf("get_user calls by tenant: %v, want %v", byTenant, want)
	}
}
