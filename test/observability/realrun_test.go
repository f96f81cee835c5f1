package observability_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql"
	"github.com/prometheus/prometheus/promql/parser"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"

	b2bv1alpha1 "github.com/partnerops/partner-operator/api/v1alpha1"
	"github.com/partnerops/partner-operator/internal/graph/emulator"
	"github.com/partnerops/partner-operator/internal/logging"
	"github.com/partnerops/partner-operator/internal/operator"
	"github.com/partnerops/partner-operator/internal/testbed"
	"github.com/partnerops/partner-operator/test/internal/operatorproc"
)

// alertExpectation is what an alert's expression must give on the samples of the run: at its
// end, and optionally at a later time the run leaves no samples for (a replica gone, a watcher
// that stopped succeeding while the operator kept being scraped).
type alertExpectation struct {
	firesAtEnd bool
	later      time.Duration // 0: not checked
	// lookback for the later evaluation: Prometheus's default (5m) sees no sample older than
	// that; a longer one stands for scrapes that went on returning the last value.
	lookback   time.Duration
	firesLater bool
}

var alertExpectations = map[string]alertExpectation{
	// The run injects Graph 401s and a burst of 429s.
	"PartnerOperatorGraphAuthFailing": {firesAtEnd: true},
	"PartnerOperatorGraphThrottled":   {firesAtEnd: true},
	// Objects are not Ready and invitations pending for a minute or two, not 15 minutes or
	// 14 days: the gauges are there (checked below), the thresholds not reached.
	"PartnerOperatorInvitationsNotReady":      {},
	"PartnerOperatorInvitationPendingTooLong": {},
	// The watcher succeeds every second; had the operator been scraped for 16 more minutes
	// with no successful round, the same timestamp would read 16 minutes old.
	"PartnerOperatorRedemptionWatcherStale": {later: 16 * time.Minute, lookback: 20 * time.Minute, firesLater: true},
	// Nothing is deleted in this run; test/ownership's brake test reads the gauge it fires on.
	"PartnerOperatorDeletionsHeld": {},
	// No policy of the run has inactivity or recertification rules: the gauge's series are
	// there, at 0.
	"PartnerOperatorRecertificationOverdue": {},
	"PartnerOperatorGuestsInactive":         {},
	// One replica leads; 6 minutes after both are gone no series is left.
	"PartnerOperatorLeaderMissing": {later: 6 * time.Minute, firesLater: true},
}

// scraper scrapes each replica every second into a memStorage, labelled as the Prometheus
// Operator labels a pod's target.
type scraper struct {
	store *memStorage
	mu    sync.Mutex
	last  map[string]map[string]*dto.MetricFamily // replica -> its last scrape
	count map[string]int                          // replica -> scrapes taken
	end   time.Time
}

func (s *scraper) scrape(ctx context.Context, t *testing.T, replica, addr string) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/metrics", nil)
	if err != nil {
		t.Error(err)
		return
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return // not listening yet, or gone
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		return
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(strings.NewReader(string(body)))
	if err != nil {
		t.Errorf("scrape of %s: %v", replica, err)
		return
	}
	now := time.Now()
	s.store.addScrape(families, labels.FromStrings("job", "partner-operator-metrics", "namespace", testbed.OperatorNamespace,
		"pod", replica, "instance", addr), now)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.last[replica] = families
	s.count[replica]++
	s.end = now
}

// scrapes is how many scrapes of the replica have been taken.
func (s *scraper) scrapes(replica string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.count[replica]
}

func (s *scraper) lastScrape(replica string) map[string]*dto.MetricFamily {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.last[replica]
}

// value sums the replica's last samples of name whose labels include want.
func (s *scraper) value(replica, name string, want map[string]string) (float64, bool) {
	mf := s.lastScrape(replica)[name]
	if mf == nil {
		return 0, false
	}
	var sum float64
	found := false
	for _, m := range mf.GetMetric() {
		has := map[string]string{}
		for _, lp := range m.GetLabel() {
			has[lp.GetName()] = lp.GetValue()
		}
		match := true
		for k, v := range want {
			match = match && has[k] == v
		}
		if !match {
			continue
		}
		found = true
		sum += m.GetCounter().GetValue() + m.GetGauge().GetValue() + float64(m.GetHistogram().GetSampleCount())
	}
	return sum, found
}

// TestAlertsOnARealRun runs two leader-elected replicas of the operator binary against envtest
// and the Graph emulator, drives invitations through their states (redeemed, pending and
// resent, not Ready, expired), makes Graph answer 401s and a burst of 429s, scrapes both
// replicas every second as Prometheus would, and then:
//   - checks that each MetricsReference entry the run exported has the documented type and
//     labels, and that no label value names an object or an address;
//   - checks the new metrics' values: invitations by state, one time-to-redemption observation
//     for one redemption however often the object is reconciled, the inventory and the watcher
//     freshness on the leader only, pacer waits, 401 and 429 counts;
//   - evaluates each alert's expression with the PromQL engine on the scraped samples, at the
//     run's end and where given later, against alertExpectations, and each comparison's
//     left-hand side, which must select series of the run.
func TestAlertsOnARealRun(t *testing.T) {
	cp := operatorproc.StartControlPlane(t, repoRoot)
	emu := operatorproc.StartEmulator(t, emulator.Options{RequireAuth: true})
	dir := t.TempDir()
	env := operatorproc.NewEnvironment(t, operatorproc.Build(t, repoRoot, dir), dir, cp.Env, emu)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	k8s := cp.Client
	operatorproc.AllowInvitations(t, ctx, k8s)

	flags := []string{"--redemption-watch-interval=1s", "--leader-election-lease-duration=4s",
		"--leader-election-renew-deadline=3s", "--leader-election-retry-period=500ms",
		// The resend below follows the invitation at once; the default allows one an hour.
		"--send-min-interval=1ns"}
	replicas := map[string]*operatorproc.Process{}
	for _, name := range []string{"replica-a", "replica-b"} {
		p := env.StartReplica(t, ctx, name, flags...)
		replicas[name] = p
		defer p.Stop()
	}
	defer func() {
		if t.Failed() {
			for name := range replicas {
				raw, _ := os.ReadFile(filepath.Join(dir, name+".log"))
				t.Logf("%s.log (last 6000 bytes):\n%s", name, tail(raw, 6000))
			}
		}
	}()

	s := &scraper{store: newMemStorage(), last: map[string]map[string]*dto.MetricFamily{}, count: map[string]int{}}
	scrapeCtx, stopScraping := context.WithCancel(ctx)
	scraping := make(chan struct{})
	go func() {
		defer close(scraping)
		for scrapeCtx.Err() == nil {
			for name, p := range replicas {
				s.scrape(scrapeCtx, t, name, p.Metrics)
			}
			select {
			case <-scrapeCtx.Done():
			case <-time.After(time.Second):
			}
		}
	}()
	eventually := func(what string, timeout time.Duration, cond func() bool) {
		t.Helper()
		if err := wait.PollUntilContextTimeout(ctx, 250*time.Millisecond, timeout, true, func(context.Context) (bool, error) {
			return cond(), nil
		}); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}

	// One replica leads.
	const lease = "partner-operator.b2b.partnerops.io"
	var leader, standby string
	eventually("a leader", time.Minute, func() bool {
		for name := range replicas {
			if v, _ := s.value(name, "leader_election_master_status", map[string]string{"name": lease}); v == 1 {
				leader = name
			}
		}
		return leader != ""
	})
	for name := range replicas {
		if name != leader {
			standby = name
		}
	}
	t.Logf("%s leads, %s stands by", leader, standby)

	// Invitations through their states.
	const ns = "observability"
	if err := k8s.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
		t.Fatal(err)
	}
	pinv := func(name string, mutate ...func(*b2bv1alpha1.PartnerInvitation)) *b2bv1alpha1.PartnerInvitation {
		p := &b2bv1alpha1.PartnerInvitation{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
			Spec:       b2bv1alpha1.PartnerInvitationSpec{Email: name + "@observability.example", DisplayName: "Partner " + name},
		}
		for _, m := range mutate {
			m(p)
		}
		if err := k8s.Create(ctx, p); err != nil {
			t.Fatal(err)
		}
		return p
	}
	get := func(p *b2bv1alpha1.PartnerInvitation) *b2bv1alpha1.PartnerInvitation {
		got := &b2bv1alpha1.PartnerInvitation{}
		if err := k8s.Get(ctx, client.ObjectKeyFromObject(p), got); err != nil {
			t.Fatal(err)
		}
		return got
	}
	redeemed := pinv("redeemed")
	pending := pinv("pending")
	blocked := pinv("blocked", func(p *b2bv1alpha1.PartnerInvitation) {
		p.Spec.Access = &b2bv1alpha1.PartnerAccess{Groups: []string{"No Such Group"}}
	})
	soon := metav1.NewTime(time.Now().Add(20 * time.Second).Truncate(time.Second))
	expired := pinv("expired", func(p *b2bv1alpha1.PartnerInvitation) { p.Spec.ExpiresAt = &soon })

	eventually("the redemption URL", time.Minute, func() bool { return get(redeemed).Status.RedeemURLSecretName != "" })
	secret := &corev1.Secret{}
	if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: get(redeemed).Status.RedeemURLSecretName}, secret); err != nil {
		t.Fatal(err)
	}
	if _, err := emu.Redeem(string(secret.Data["redeemURL"])); err != nil {
		t.Fatal(err)
	}
	eventually("the redemption seen", time.Minute, func() bool { return get(redeemed).Status.State == b2bv1alpha1.StateAccepted })
	eventually("the pending guest invited", time.Minute, func() bool { return get(pending).Status.State == b2bv1alpha1.StatePendingAcceptance })
	eventually("the blocked object not Ready", time.Minute, func() bool {
		c := meta.FindStatusCondition(get(blocked).Status.Conditions, b2bv1alpha1.ConditionReady)
		return c != nil && c.Status == metav1.ConditionFalse && c.Reason != b2bv1alpha1.ReasonAccessPending
	})
	// A resend, and more reconciles of the redeemed object: its redemption is still one.
	annotate := func(p *b2bv1alpha1.PartnerInvitation, k, v string) {
		cur := get(p)
		patch := client.MergeFrom(cur.DeepCopy())
		if cur.Annotations == nil {
			cur.Annotations = map[string]string{}
		}
		cur.Annotations[k] = v
		if err := k8s.Patch(ctx, cur, patch); err != nil {
			t.Fatal(err)
		}
	}
	annotate(pending, b2bv1alpha1.AnnotationResendRequestedAt, time.Now().UTC().Format(time.RFC3339))
	reconciles := func() float64 {
		v, _ := s.value(leader, "controller_runtime_reconcile_total", map[string]string{"controller": "partnerinvitation"})
		return v
	}
	for i := range 3 {
		before := reconciles()
		annotate(redeemed, "example.com/nudge", fmt.Sprint(i))
		eventually("the nudge reconciled", time.Minute, func() bool { return reconciles() > before })
	}
	eventually("the resend handled", time.Minute, func() bool { return get(pending).Status.LastHandledResendAt != "" })

	// Graph refuses the operator's token (401), then throttles a burst of invitations (429:
	// the SDK retries three times inline within Retry-After, then the call ends throttled).
	// For a few scrapes, as a credential that stopped working would: a counter that appears
	// at its final value between two scrapes has no rate.
	emu.InjectFault(emulator.Fault{Status: http.StatusUnauthorized, Code: "InvalidAuthenticationToken", Message: "Access token has expired or is not yet valid.", Times: -1})
	eventually("401s counted", time.Minute, func() bool {
		v, _ := s.value(leader, "partner_operator_graph_requests_total", map[string]string{"code": "401"})
		return v >= 5
	})
	emu.ClearFaults()
	emu.InjectFault(emulator.Fault{Status: http.StatusTooManyRequests, RetryAfter: time.Second, Times: -1})
	var burst []*b2bv1alpha1.PartnerInvitation
	for i := range 12 {
		burst = append(burst, pinv(fmt.Sprintf("burst-%02d", i)))
	}
	eventually("429s counted", 2*time.Minute, func() bool {
		v, _ := s.value(leader, "partner_operator_graph_requests_total", map[string]string{"code": "429"})
		return v >= 12
	})
	emu.ClearFaults()
	eventually("the expired object expired", time.Minute, func() bool {
		return meta.IsStatusConditionTrue(get(expired).Status.Conditions, b2bv1alpha1.ConditionExpired)
	})
	eventually("the burst invited", 2*time.Minute, func() bool {
		for _, p := range burst {
			if get(p).Status.UserID == "" {
				return false
			}
		}
		return true
	})
	// A few scrapes of the settled state.
	settled := s.scrapes(leader)
	eventually("three more scrapes", time.Minute, func() bool { return s.scrapes(leader) >= settled+3 })
	stopScraping()
	<-scraping

	t.Run("logs", func(t *testing.T) {
		for name := range replicas {
			raw, err := os.ReadFile(filepath.Join(dir, name+".log"))
			if err != nil {
				t.Fatal(err)
			}
			checkLog(t, name, raw)
		}
	})
	t.Run("metrics as documented", func(t *testing.T) { checkAsDocumented(t, s, leader, standby) })
	t.Run("values", func(t *testing.T) { checkValues(t, s, leader, standby) })
	t.Run("alerts", func(t *testing.T) { checkAlerts(t, s) })
}

// checkAsDocumented: every family of the run that MetricsReference documents has the
// documented type and label names (the target's labels aside); the operator's own are all
// there but the ones the run cannot reach; no label value names an object or an address.
func checkAsDocumented(t *testing.T, s *scraper, leader, standby string) {
	docs := map[string]operator.Metric{}
	for _, m := range operator.MetricsReference {
		docs[m.Name] = m
	}
	seen := map[string]bool{}
	for _, replica := range []string{leader, standby} {
		for name, mf := range s.lastScrape(replica) {
			doc, ok := docs[name]
			if !ok {
				if strings.HasPrefix(name, "partner_operator_") {
					t.Errorf("%s exports %s, which MetricsReference does not document", replica, name)
				}
				continue
			}
			seen[name] = true
			if typ := strings.ToLower(mf.GetType().String()); typ != doc.Type {
				t.Errorf("%s is a %s, documented as a %s", name, typ, doc.Type)
			}
			want := slices.Sorted(slices.Values(doc.Labels))
			for _, m := range mf.GetMetric() {
				var got []string
				for _, lp := range m.GetLabel() {
					got = append(got, lp.GetName())
					if v := lp.GetValue(); strings.Contains(v, "@") || strings.Contains(v, "observability") || strings.HasPrefix(v, "burst-") || v == "redeemed" || v == "pending" {
						t.Errorf("%s has a label %s=%q naming an object or an address", name, lp.GetName(), v)
					}
				}
				slices.Sort(got)
				if !slices.Equal(got, want) {
					t.Errorf("%s has labels %v, documented %v", name, got, want)
					break
				}
			}
		}
	}
	for _, m := range operator.MetricsReference {
		if !seen[m.Name] {
			t.Errorf("the run exported no %s", m.Name)
		}
	}
	t.Logf("%d of %d documented metrics exported by the run", len(seen), len(operator.MetricsReference))
}

func checkValues(t *testing.T, s *scraper, leader, standby string) {
	expect := func(replica, name string, lbls map[string]string, ok func(float64) bool, what string) {
		t.Helper()
		v, found := s.value(replica, name, lbls)
		if !found || !ok(v) {
			t.Errorf("%s: %s%v = %v (found %v), want %s", replica, name, lbls, v, found, what)
		} else {
			t.Logf("%s: %s%v = %v", replica, name, lbls, v)
		}
	}
	atLeast := func(n float64) func(float64) bool { return func(v float64) bool { return v >= n } }
	exactly := func(n float64) func(float64) bool { return func(v float64) bool { return v == n } }
	between := func(lo, hi float64) func(float64) bool { return func(v float64) bool { return v >= lo && v <= hi } }

	expect(leader, "partner_operator_invitations", map[string]string{"state": "Accepted"}, exactly(1), "1")
	expect(leader, "partner_operator_invitations", map[string]string{"state": "PendingAcceptance"}, atLeast(14), ">= 14 (pending, expired, the burst)")
	expect(leader, "partner_operator_invitations_not_ready", nil, atLeast(1), ">= 1 (the blocked object)")
	expect(leader, "partner_operator_invitations_not_ready_longest_seconds", nil, between(1, 600), "the blocked object's minutes")
	expect(leader, "partner_operator_invitations_pending_oldest_seconds", nil, between(1, 600), "the resent invitation's age")
	// No lifecycle rule in this run: the four series, at 0.
	for _, rule := range []string{"Inactivity", "Recertification"} {
		for _, state := range []string{"Warning", "Acted"} {
			expect(leader, "partner_operator_lifecycle_invitations", map[string]string{"rule": rule, "state": state}, exactly(0), "0")
		}
	}
	// One redemption, observed once although the object was reconciled again and again.
	expect(leader, "partner_operator_time_to_redemption_seconds", nil, exactly(1), "one observation")
	expect(leader, "partner_operator_redemption_watcher_last_success_timestamp_seconds", nil,
		between(float64(s.end.Add(-30*time.Second).Unix()), float64(s.end.Unix()+1)), "within the run's last 30 s")
	expect(leader, "partner_operator_graph_requests_total", map[string]string{"code": "401"}, atLeast(3), ">= 3")
	expect(leader, "partner_operator_graph_requests_total", map[string]string{"code": "429"}, atLeast(12), ">= 12")
	expect(leader, "partner_operator_graph_pacer_wait_seconds", map[string]string{"class": "invitation"}, atLeast(16), "one per invitation")
	expect(leader, "partner_operator_graph_pacer_wait_seconds", map[string]string{"class": "read"}, atLeast(1), ">= 1")
	expect(leader, "partner_operator_invitations_sent_again_total", map[string]string{"kind": "resend"}, exactly(1), "1")
	expect(leader, "partner_operator_expirations_total", map[string]string{"action": "AccessRevoked"}, exactly(1), "1")
	expect(leader, "leader_election_master_status", map[string]string{"name": "partner-operator.b2b.partnerops.io"}, exactly(1), "1")
	expect(standby, "leader_election_master_status", map[string]string{"name": "partner-operator.b2b.partnerops.io"}, exactly(0), "0")
	// The cache-derived gauges and the watcher come from the leader only.
	for _, name := range []string{"partner_operator_invitations", "partner_operator_invitations_pending_oldest_seconds",
		"partner_operator_lifecycle_invitations", "partner_operator_redemption_watcher_last_success_timestamp_seconds"} {
		if _, found := s.value(standby, name, nil); found {
			t.Errorf("the standby exports %s: sums over replicas would count twice", name)
		}
	}
}

// comparisons returns the left-hand sides of an expression's comparisons (a > b, ...).
func comparisons(t *testing.T, expr string) []string {
	node, err := promParser.ParseExpr(expr)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	parser.Inspect(node, func(n parser.Node, _ []parser.Node) error {
		if b, ok := n.(*parser.BinaryExpr); ok && b.Op.IsComparisonOperator() {
			out = append(out, b.LHS.String())
		}
		return nil
	})
	return out
}

func checkAlerts(t *testing.T, s *scraper) {
	engine := func(lookback time.Duration) *promql.Engine {
		return promql.NewEngine(promql.EngineOpts{MaxSamples: 1e7, Timeout: time.Minute, LookbackDelta: lookback, Parser: promParser})
	}
	eval := func(e *promql.Engine, expr string, at time.Time) (promql.Vector, error) {
		q, err := e.NewInstantQuery(context.Background(), s.store, nil, expr, at)
		if err != nil {
			return nil, err
		}
		defer q.Close()
		res := q.Exec(context.Background())
		if res.Err != nil {
			return nil, res.Err
		}
		return res.Vector()
	}
	def := engine(0)
	rules := loadAlerts(t)
	for _, r := range rules {
		t.Run(r.Alert, func(t *testing.T) {
			want, ok := alertExpectations[r.Alert]
			if !ok {
				t.Fatalf("no expectation for %s: add one to alertExpectations", r.Alert)
			}
			for _, lhs := range comparisons(t, r.Expr) {
				v, err := eval(def, lhs, s.end)
				if err != nil {
					t.Fatalf("%s: %v", lhs, err)
				}
				if len(v) == 0 {
					t.Errorf("%s selects nothing from the run: a metric or label it names is not what the operator exports", lhs)
				}
				t.Logf("%s = %v", lhs, v)
			}
			v, err := eval(def, r.Expr, s.end)
			if err != nil {
				t.Fatal(err)
			}
			if fires := len(v) > 0; fires != want.firesAtEnd {
				t.Errorf("at the run's end it fires: %v, want %v (%v)", fires, want.firesAtEnd, v)
			} else {
				t.Logf("at the run's end: fires %v %v", fires, v)
			}
			if want.later == 0 {
				return
			}
			e := def
			if want.lookback != 0 {
				e = engine(want.lookback)
			}
			v, err = eval(e, r.Expr, s.end.Add(want.later))
			if err != nil {
				t.Fatal(err)
			}
			if fires := len(v) > 0; fires != want.firesLater {
				t.Errorf("%v after the run's end it fires: %v, want %v (%v)", want.later, fires, want.firesLater, v)
			} else {
				t.Logf("%v after the run's end: fires %v %v", want.later, fires, v)
			}
		})
	}
	if len(rules) != len(alertExpectations) {
		t.Errorf("%d alerts, %d expectations", len(rules), len(alertExpectations))
	}
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}

// checkLog: the binary logs JSON (the default, as the chart sets it), each reconcile's lines
// name the object, failed Graph calls carry Graph's request-id, and no line carries a mail
// address (without --log-personal-data) or a redemption URL.
func checkLog(t *testing.T, replica string, raw []byte) {
	var lines, reconcileLines, withRequestID int
	for line := range strings.Lines(string(raw)) {
		var entry map[string]any
		if err := json.Unmarshal([]byte(line), &entry); err != nil {
			t.Errorf("%s: a log line that is not JSON: %q", replica, line)
			continue
		}
		lines++
		if logging.MailAddress.MatchString(line) || logging.RedemptionURL.MatchString(line) {
			t.Errorf("%s: personal data or a redemption URL in the log: %s", replica, line)
		}
		if entry["controller"] == "partnerinvitation" && entry["reconcileID"] != nil {
			reconcileLines++
			if entry["namespace"] == nil || entry["name"] == nil {
				t.Errorf("%s: a reconcile's line without the object's namespace and name: %s", replica, line)
			}
		}
		if _, ok := entry["graphStatus"]; ok {
			if id, _ := entry["graphRequestID"].(string); id != "" {
				withRequestID++
			} else {
				t.Errorf("%s: a failed Graph call logged without Graph's request-id: %s", replica, line)
			}
		}
	}
	t.Logf("%s: %d JSON lines, %d of reconciles, %d Graph failures with their request-id", replica, lines, reconcileLines, withRequestID)
}
