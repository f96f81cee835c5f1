// Package observability_test tests what the operator ships for monitoring: the alerts
// (config/prometheus/alerts.yaml), the Grafana dashboard (config/grafana/partner-operator.json)
// and the metrics they name. rules_test.go parses them and checks every metric they name
// against internal/operator's MetricsReference, which the operator's tests keep equal to its
// registry; realrun_test.go evaluates each alert with the PromQL engine against the metrics of
// the operator binary, run against envtest and the Graph emulator.
package observability_test

import (
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/rulefmt"
	"github.com/prometheus/prometheus/promql/parser"
	"sigs.k8s.io/yaml"

	"github.com/partnerops/partner-operator/internal/operator"
)

var readme = flag.String("runbooks", "../../docs/operations/monitoring.md", "the page whose runbook sections TestRunbooksDocumented checks")

const repoRoot = "../.."

// promParser parses as Prometheus does by default (no experimental functions).
var promParser = parser.NewParser(parser.Options{})

// loadAlerts parses the rules of config/prometheus/alerts.yaml with Prometheus's own rule
// loader, which also parses each expression and each annotation's template.
func loadAlerts(t *testing.T) []rulefmt.Rule {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(repoRoot, "config", "prometheus", "alerts.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var obj struct {
		APIVersion string         `json:"apiVersion"`
		Kind       string         `json:"kind"`
		Metadata   map[string]any `json:"metadata"`
		Spec       map[string]any `json:"spec"`
	}
	if err := yaml.UnmarshalStrict(raw, &obj, yaml.DisallowUnknownFields); err != nil {
		t.Fatalf("alerts.yaml: %v", err)
	}
	if obj.APIVersion != "monitoring.coreos.com/v1" || obj.Kind != "PrometheusRule" {
		t.Fatalf("alerts.yaml is a %s %s, want a monitoring.coreos.com/v1 PrometheusRule", obj.APIVersion, obj.Kind)
	}
	spec, err := yaml.Marshal(obj.Spec)
	if err != nil {
		t.Fatal(err)
	}
	groups, errs := rulefmt.Parse(spec, false, model.UTF8Validation, promParser)
	for _, err := range errs {
		t.Errorf("alerts.yaml: %v", err)
	}
	if len(errs) > 0 || groups == nil {
		t.FailNow()
	}
	var rules []rulefmt.Rule
	for _, g := range groups.Groups {
		rules = append(rules, g.Rules...)
	}
	return rules
}

// metricNames returns the metric names an expression selects.
func metricNames(t *testing.T, expr string) []string {
	t.Helper()
	node, err := promParser.ParseExpr(expr)
	if err != nil {
		t.Fatalf("%q: %v", expr, err)
	}
	var names []string
	parser.Inspect(node, func(n parser.Node, _ []parser.Node) error {
		vs, ok := n.(*parser.VectorSelector)
		if !ok {
			return nil
		}
		name := vs.Name
		for _, m := range vs.LabelMatchers {
			if m.Name == model.MetricNameLabel && name == "" {
				name = m.Value
			}
		}
		if name == "" {
			t.Errorf("%q selects series without naming a metric", expr)
		}
		names = append(names, name)
		return nil
	})
	return names
}

// documented maps each series name a scrape may hold to its MetricsReference entry: a
// histogram's _bucket, _sum and _count series included.
func documented() map[string]operator.Metric {
	out := map[string]operator.Metric{}
	for _, m := range operator.MetricsReference {
		out[m.Name] = m
		if m.Type == "histogram" {
			for _, s := range []string{"_bucket", "_sum", "_count"} {
				out[m.Name+s] = m
			}
		}
	}
	return out
}

var runbookURL = regexp.MustCompile(`^https://github\.com/partnerops/partner-operator/blob/main/docs/operations/monitoring\.md#alert-([a-z]+)$`)

// TestAlertRules: the rules load in Prometheus, name only documented metrics, and each alert
// has a severity, a summary, a description and a runbook in docs/operations/monitoring.md.
func TestAlertRules(t *testing.T) {
	rules := loadAlerts(t)
	want := []string{
		"PartnerOperatorGraphAuthFailing", "PartnerOperatorGraphThrottled", "PartnerOperatorInvitationsNotReady",
		"PartnerOperatorInvitationPendingTooLong", "PartnerOperatorRedemptionWatcherStale", "PartnerOperatorDeletionsHeld",
		"PartnerOperatorRecertificationOverdue", "PartnerOperatorGuestsInactive", "PartnerOperatorLeaderMissing",
	}
	var got []string
	docs := documented()
	for _, r := range rules {
		got = append(got, r.Alert)
		if r.Alert == "" {
			t.Errorf("a recording rule %s: alerts.yaml holds alerts only", r.Record)
			continue
		}
		for _, name := range metricNames(t, r.Expr) {
			if _, ok := docs[name]; !ok {
				t.Errorf("%s: %s is not a metric the operator exports (internal/operator.MetricsReference)", r.Alert, name)
			}
		}
		if !slices.Contains([]string{"critical", "warning", "info"}, r.Labels["severity"]) {
			t.Errorf("%s: severity %q", r.Alert, r.Labels["severity"])
		}
		for _, a := range []string{"summary", "description", "runbook_url"} {
			if strings.TrimSpace(r.Annotations[a]) == "" {
				t.Errorf("%s has no %s", r.Alert, a)
			}
		}
		if m := runbookURL.FindStringSubmatch(r.Annotations["runbook_url"]); m == nil || m[1] != strings.ToLower(r.Alert) {
			t.Errorf("%s: runbook_url %q, want https://github.com/partnerops/partner-operator/blob/main/docs/operations/monitoring.md#alert-%s", r.Alert, r.Annotations["runbook_url"], strings.ToLower(r.Alert))
		}
	}
	if !slices.Equal(got, want) {
		t.Errorf("alerts %v, want %v", got, want)
	}
}

// TestRunbooksDocumented: each runbook_url's anchor is a heading "Alert: <name>" of docs/operations/monitoring.md.
func TestRunbooksDocumented(t *testing.T) {
	raw, err := os.ReadFile(*readme)
	if err != nil {
		t.Fatal(err)
	}
	anchors := map[string]bool{}
	for line := range strings.Lines(string(raw)) {
		if h, ok := strings.CutPrefix(strings.TrimLeft(line, "#"), " "); ok && strings.HasPrefix(line, "#") {
			anchors[githubAnchor(strings.TrimSpace(h))] = true
		}
	}
	for _, r := range loadAlerts(t) {
		_, anchor, _ := strings.Cut(r.Annotations["runbook_url"], "#")
		if !anchors[anchor] {
			t.Errorf("%s: %s has no heading \"Alert: %s\" (anchor #%s)", r.Alert, *readme, r.Alert, anchor)
		}
	}
}

// githubAnchor is the anchor GitHub gives a heading: lower case, punctuation dropped, spaces
// as hyphens.
func githubAnchor(h string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(h) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '-', r == '_':
			b.WriteRune(r)
		case r == ' ':
			b.WriteByte('-')
		}
	}
	return b.String()
}

// dashboardQueries returns each panel's title and its targets' expressions, with Grafana's
// variables replaced by what they stand for.
func dashboardQueries(t *testing.T) map[string][]string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(repoRoot, "config", "grafana", "partner-operator.json"))
	if err != nil {
		t.Fatal(err)
	}
	type panel struct {
		Title   string  `json:"title"`
		Type    string  `json:"type"`
		Panels  []panel `json:"panels"`
		Targets []struct {
			Expr string `json:"expr"`
		} `json:"targets"`
	}
	var dash struct {
		UID    string  `json:"uid"`
		Panels []panel `json:"panels"`
	}
	if err := json.Unmarshal(raw, &dash); err != nil {
		t.Fatalf("partner-operator.json: %v", err)
	}
	if dash.UID == "" {
		t.Error("the dashboard has no uid: the sidecar would import it anew on each change")
	}
	vars := strings.NewReplacer("$__rate_interval", "5m", "$__interval", "1m", "$__range", "1d", "$namespace", ".*")
	out := map[string][]string{}
	var walk func([]panel)
	walk = func(ps []panel) {
		for _, p := range ps {
			walk(p.Panels)
			if p.Type == "row" {
				continue
			}
			if _, dup := out[p.Title]; dup {
				t.Errorf("two panels are titled %q", p.Title)
			}
			if len(p.Targets) == 0 {
				t.Errorf("panel %q has no query", p.Title)
			}
			for _, tg := range p.Targets {
				out[p.Title] = append(out[p.Title], vars.Replace(tg.Expr))
			}
		}
	}
	walk(dash.Panels)
	return out
}

// TestDashboard: every query parses and names only documented metrics, and the dashboard
// shows what the issue asks of it.
func TestDashboard(t *testing.T) {
	queries := dashboardQueries(t)
	docs := documented()
	used := map[string]bool{}
	for title, exprs := range queries {
		for _, e := range exprs {
			for _, name := range metricNames(t, e) {
				used[name] = true
				if _, ok := docs[name]; !ok {
					t.Errorf("panel %q: %s is not a metric the operator exports (internal/operator.MetricsReference)", title, name)
				}
			}
		}
	}
	for what, metric := range map[string]string{
		"invitations by state":    "partner_operator_invitations",
		"time to redemption":      "partner_operator_time_to_redemption_seconds_bucket",
		"Graph requests and 429s": "partner_operator_graph_requests_total",
		"pacer wait":              "partner_operator_graph_pacer_wait_seconds_bucket",
		"reconcile errors":        "controller_runtime_reconcile_errors_total",
		"not Ready by reason":     "partner_operator_invitations_not_ready",
		"watcher staleness":       "partner_operator_redemption_watcher_last_success_timestamp_seconds",
		"leader":                  "leader_election_master_status",
		"lifecycle rules":         "partner_operator_lifecycle_invitations",
	} {
		if !used[metric] {
			t.Errorf("no panel shows %s (%s)", what, metric)
		}
	}
	t.Logf("%d panels query %d metrics", len(queries), len(used))
}
