package operator

import (
	"flag"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/partnerops/partner-operator/controllers/partnerinvitation"
)

var readme = flag.String("metrics-doc", "../../docs/operations/monitoring.md", "the page whose metrics table TestMetricsTableDocumented checks")

// recorder is a Registerer that keeps what is registered with it.
type recorder struct{ collectors []prometheus.Collector }

func (r *recorder) Register(c prometheus.Collector) error {
	r.collectors = append(r.collectors, c)
	return nil
}
func (r *recorder) MustRegister(cs ...prometheus.Collector) {
	r.collectors = append(r.collectors, cs...)
}
func (r *recorder) Unregister(prometheus.Collector) bool { return true }

var descRE = regexp.MustCompile(`fqName: "([^"]+)".*variableLabels: \{([^}]*)\}`)

// registered describes every collector registerMetrics registers: name -> type and labels.
func registered(t *testing.T) map[string]Metric {
	t.Helper()
	rec := &recorder{}
	if _, err := registerMetrics(rec, partnerinvitation.NewInventoryCollector(nil, nil, nil, logr.Discard())); err != nil {
		t.Fatal(err)
	}
	out := map[string]Metric{}
	for _, c := range rec.collectors {
		typ := ""
		switch c.(type) {
		case prometheus.Gauge, *prometheus.GaugeVec, *partnerinvitation.InventoryCollector: // the inventory is gauges only
			typ = "gauge"
		case prometheus.Histogram, *prometheus.HistogramVec:
			typ = "histogram"
		case prometheus.Counter, *prometheus.CounterVec:
			typ = "counter"
		default:
			t.Fatalf("a collector of type %T: teach this test its metric type", c)
		}
		ch := make(chan *prometheus.Desc, 16)
		c.Describe(ch)
		close(ch)
		for d := range ch {
			m := descRE.FindStringSubmatch(d.String())
			if m == nil {
				t.Fatalf("cannot read %s", d)
			}
			var labels []string
			if m[2] != "" {
				labels = strings.Split(m[2], ",")
			}
			slices.Sort(labels)
			out[m[1]] = Metric{Name: m[1], Type: typ, Labels: labels}
		}
	}
	return out
}

// TestMetricsReferenceIsTheRegistry: MetricsReference lists exactly the partner_operator_*
// metrics the operator registers, with their types and labels.
func TestMetricsReferenceIsTheRegistry(t *testing.T) {
	got := registered(t)
	documented := map[string]bool{}
	for _, m := range MetricsReference {
		if documented[m.Name] {
			t.Errorf("%s is in MetricsReference twice", m.Name)
		}
		documented[m.Name] = true
		if !strings.HasPrefix(m.Name, "partner_operator_") {
			continue
		}
		r, ok := got[m.Name]
		if !ok {
			t.Errorf("MetricsReference documents %s, which the operator does not register", m.Name)
			continue
		}
		labels := slices.Sorted(slices.Values(m.Labels))
		if r.Type != m.Type || !slices.Equal(r.Labels, labels) {
			t.Errorf("%s: registered as a %s with labels %v, documented as a %s with %v", m.Name, r.Type, r.Labels, m.Type, labels)
		}
	}
	for name := range got {
		if !documented[name] {
			t.Errorf("%s is registered but not in MetricsReference (and so not in docs/operations/monitoring.md)", name)
		}
		if !strings.HasPrefix(name, "partner_operator_") {
			t.Errorf("%s: the operator's own metrics are named partner_operator_*", name)
		}
	}
	for _, m := range MetricsReference {
		for _, l := range m.Labels {
			// Labels never name an object or a person.
			if slices.Contains([]string{"name", "namespace", "email", "user", "guest", "object"}, l) && m.Name != "leader_election_master_status" && !strings.HasPrefix(m.Name, "workqueue_") {
				t.Errorf("%s has a label %q", m.Name, l)
			}
		}
	}
	t.Logf("%d partner_operator_* metrics registered, %d metrics documented", len(got), len(MetricsReference))
}

// TestMetricsTableDocumented: the metrics table of docs/operations/monitoring.md is MetricsTable(), so the documentation
// says what the registry holds. `go test -run TestMetricsTableDocumented -v` prints the table.
func TestMetricsTableDocumented(t *testing.T) {
	want := MetricsTable()
	raw, err := os.ReadFile(*readme)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(raw), want) {
		t.Errorf("%s does not hold the metrics table; under \"## Metrics\" it should read:\n\n%s", *readme, want)
	}
}
