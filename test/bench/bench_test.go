// Package bench measures the operator end to end: a real kube-apiserver and etcd (envtest), the
// Graph emulator enforcing Graph's published quotas with realistic latency, and the operator
// binary as its own process (so its memory is its own). It prints a table; it asserts nothing
// about speed.
//
//	make bench BENCH_N=1000
package bench

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	b2bv1alpha1 "github.com/partnerops/partner-operator/api/v1alpha1"
	"github.com/partnerops/partner-operator/internal/graph/emulator"
	"github.com/partnerops/partner-operator/test/internal/operatorproc"
)

type result struct {
	n                    int
	converge             time.Duration
	quotaMinimum         time.Duration
	graphRequests        int
	lookups, invites     int
	throttled            int
	invitePeak, unitPeak emulator.QuotaPeak
	steadyPerHour        float64
	steadyWindow         time.Duration
	redeemP50, redeemP95 time.Duration
	redeemed             int
	peakRSS, peakHeap    uint64
	endAnon, endFile     uint64 // resident memory at the end: anonymous, file-backed
	apiWrites            float64
	writesByKind         map[string]float64 // "resource[/subresource] VERB" -> writes per object
	watchInterval        time.Duration
	workers              int
	inviteSpan           time.Duration
	leader               string
	heapTop              string // go tool pprof -top of the leader's heap once all are Invited
	// The ownership records, written in the background on the write budget: the time from the
	// start until every guest carries one, and the recorder's reads and writes in all.
	recordsDone               time.Duration
	recordReads, recordWrites int
	recordRequestsAtInvited   int
	// tenants side by side (BENCH_TENANTS), N/tenants invitations each; the machine's
	// saturation: CPU of each process and the API server's write rate while converging.
	tenants         int
	cpu             map[string]float64
	apiWritesPerSec float64
}

func BenchmarkConverge(b *testing.B) {
	ctrllog.SetLogger(logr.Discard()) // the benchmark's own clients; the operator logs to its file
	n := envInt("BENCH_N", 100)
	watch := envDuration("BENCH_WATCH_INTERVAL", 30*time.Second)
	steady := envDuration("BENCH_STEADY_WINDOW", 2*watch)
	for range b.N {
		res := run(b, n, watch, steady)
		res.print(os.Stdout)
		b.ReportMetric(res.converge.Seconds(), "s-to-invited")
		b.ReportMetric(float64(res.graphRequests)/float64(n), "graph-req/invitation")
		b.ReportMetric(float64(res.peakRSS)/(1<<20), "operator-peak-RSS-MiB")
	}
}

func run(b *testing.B, n int, watch, steady time.Duration) result {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	root := filepath.Join("..", "..")
	cp := operatorproc.StartControlPlane(b, root)
	cfg, k8s := cp.Config, cp.Client
	dir := b.TempDir()
	if keep := os.Getenv("BENCH_DIR"); keep != "" {
		dir = keep
	}
	bin := operatorproc.Build(b, root, dir)

	emu := emulator.New(emulator.Options{RequireAuth: true, Quotas: emulator.DefaultQuotas(),
		Latency: 50 * time.Millisecond, LatencyJitter: 100 * time.Millisecond})
	if err := emu.Start(); err != nil {
		b.Fatal(err)
	}
	defer emu.Close()

	tenants := envInt("BENCH_TENANTS", 1)
	fleet, tenantFlags := newTenantFleet(b, dir, emu, tenants)
	// Each tenant has its own invitation quota: the tenants run side by side, so the bound is
	// one tenant's share of the objects at 30 a second.
	res := result{n: n, tenants: tenants, watchInterval: watch, workers: envInt("BENCH_WORKERS", 32*tenants),
		quotaMinimum: time.Duration(float64(n) / float64(tenants) / 30 * float64(time.Second))}
	env := operatorproc.NewEnvironment(b, bin, dir, cp.Env, emu)
	// Memory is read from the operator's metrics the way Prometheus reads them: over HTTPS,
	// with a token allowed by the shipped metrics-reader role.
	env.AuthorizeScrapes(b, cfg)
	// Two leader-elected replicas, as the chart installs them, under the shipped RBAC.
	replicas := map[string]*replica{}
	for _, name := range []string{"operator-a", "operator-b"} {
		pprofAddr := operatorproc.FreePort(b)
		flags := append([]string{"--redemption-watch-interval", watch.String(),
			"--max-concurrent-reconciles", strconv.Itoa(res.workers), "--pprof-bind-address", pprofAddr}, tenantFlags...)
		p := env.StartReplica(b, ctx, name, flags...)
		defer p.Stop()
		replicas[name] = &replica{Process: p, pprof: pprofAddr, heap: p.SampleHeap(ctx)}
	}

	operatorproc.AllowInvitations(b, ctx, k8s)
	fleet.createTenantObjects(b, ctx, k8s)
	writesBefore := apiWrites(b, cfg)

	// Create N objects, the way a GitOps sync applies a directory.
	cpu := startCPU(replicaPids(replicas)...)
	start := time.Now()
	createAll(b, ctx, k8s, n, fleet.refFor)
	waitFor(b, ctx, k8s, n, func(p *b2bv1alpha1.PartnerInvitation) bool {
		return meta.IsStatusConditionTrue(p.Status.Conditions, b2bv1alpha1.ConditionInvited)
	})
	res.converge = time.Since(start)
	res.cpu = cpu.cores()
	reqs := fleet.requests()
	res.graphRequests = len(reqs)
	var first, last time.Time
	for _, r := range reqs {
		if isRecordRequest(r) {
			// The record rides its own (write) budget after the invitation; counted apart.
			res.recordRequestsAtInvited++
			res.graphRequests--
			continue
		}
		switch {
		case r.Method == "POST" && r.Path == "/invitations":
			res.invites++
			if r.Status == 201 {
				if first.IsZero() {
					first = r.Time
				}
				last = r.Time
			}
		case r.Method == "GET" && r.Path == "/users" && strings.Contains(r.RawQuery, "filter"):
			res.lookups++
		}
		for name := range replicas {
			if strings.Contains(r.Header.Get("User-Agent"), name) {
				res.leader = name
			}
		}
	}
	res.inviteSpan = last.Sub(first)
	res.throttled = fleet.throttled()
	peaks := fleet.peaks()
	res.invitePeak, res.unitPeak = peaks["invitationManager"], peaks["resourceUnits"]
	res.writesByKind = map[string]float64{}
	after := apiWrites(b, cfg)
	after["partnerinvitations POST"] -= float64(n) // the benchmark's own creations
	var writes float64
	for k, v := range after {
		writes += v - writesBefore[k]
		if d := (v - writesBefore[k]) / float64(n); d >= 0.005 {
			res.writesByKind[k] = d
			res.apiWrites += d
		}
	}
	res.apiWritesPerSec = writes / res.converge.Seconds()
	leader := replicas[res.leader]
	if leader == nil {
		b.Fatalf("no replica's User-Agent in the Graph requests; replicas %v", slices.Collect(maps.Keys(replicas)))
	}
	res.heapTop = heapTop(b, ctx, bin, dir, leader.pprof)

	// Every guest gets its ownership record at the write budget's pace (20 a second), after
	// its invitation; the steady state is measured once all have one.
	recordsTimeout := time.Duration(n/15)*time.Second + 2*time.Minute
	if err := wait.PollUntilContextTimeout(ctx, time.Second, recordsTimeout, true, func(context.Context) (bool, error) {
		return fleet.recorded() == n, nil
	}); err != nil {
		b.Fatalf("%d of %d guests carry an ownership record after %s", fleet.recorded(), n, recordsTimeout)
	}
	res.recordsDone = time.Since(start)
	for _, r := range fleet.requests() {
		if isRecordRequest(r) {
			if r.Method == "PATCH" {
				res.recordWrites++
			} else {
				res.recordReads++
			}
		}
	}

	// Steady state: every guest pending, nothing changing. Let the last status writes settle
	// and one watch round pick up the creations, then measure whole watch intervals starting
	// half an interval after a round, so the count does not depend on where the window falls.
	time.Sleep(watch + 5*time.Second)
	rounds := fleet.count("GET", "/users/delta")
	if err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 3*watch, true, func(context.Context) (bool, error) {
		return fleet.count("GET", "/users/delta") > rounds, nil
	}); err != nil {
		b.Fatalf("no users-delta round within %s: %v", 3*watch, err)
	}
	// Not a wait for a condition: it places the window between two rounds on purpose.
	time.Sleep(watch / 2)
	fleet.resetRequests()
	time.Sleep(steady)
	res.steadyWindow = steady
	res.steadyPerHour = float64(len(fleet.requests())) * float64(time.Hour) / float64(steady)

	// 1 % of the partners accept, at random moments over one watch interval.
	res.redeemP50, res.redeemP95, res.redeemed = redemptions(b, ctx, cfg, k8s, fleet, n, watch)

	res.peakRSS = leader.PeakRSS()
	res.endAnon, res.endFile = leader.RSSSplit()
	res.peakHeap = leader.heap()
	return res
}

type replica struct {
	*operatorproc.Process
	pprof string
	heap  func() uint64
}

// heapTop fetches the replica's heap profile and renders its largest in-use entries with
// go tool pprof.
func heapTop(b *testing.B, ctx context.Context, bin, dir, pprofAddr string) string {
	path := filepath.Join(dir, "heap.pprof")
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+pprofAddr+"/debug/pprof/heap?gc=1", nil)
	if err != nil {
		b.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		b.Fatalf("heap profile: %v", err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(path, raw, 0o600); err != nil {
		b.Fatal(err)
	}
	if keep := os.Getenv("BENCH_HEAP_PROFILE"); keep != "" {
		// For go tool pprof -sample_index=alloc_space and friends afterwards.
		if err := os.WriteFile(keep, raw, 0o600); err != nil {
			b.Fatal(err)
		}
	}
	out, err := exec.CommandContext(ctx, "go", "tool", "pprof", "-top", "-sample_index=inuse_space", "-nodecount=12", bin, path).CombinedOutput()
	if err != nil {
		b.Fatalf("go tool pprof: %v\n%s", err, out)
	}
	return string(out)
}

func replicaPids(replicas map[string]*replica) []int {
	var out []int
	for _, r := range replicas {
		out = append(out, r.Pid())
	}
	return out
}

func createAll(b *testing.B, ctx context.Context, k8s client.Client, n int, tenantOf func(int) *b2bv1alpha1.TenantReference) {
	var next atomic.Int64
	var wg sync.WaitGroup
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				p := &b2bv1alpha1.PartnerInvitation{
					ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: fmt.Sprintf("partner-%05d", i)},
					Spec: b2bv1alpha1.PartnerInvitationSpec{Email: fmt.Sprintf("partner-%05d@bench.example", i), DisplayName: fmt.Sprintf("Partner %d", i),
						TenantRef: tenantOf(i)},
				}
				if err := k8s.Create(ctx, p); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
}

// waitFor polls until every object satisfies done.
func waitFor(b *testing.B, ctx context.Context, k8s client.Client, n int, done func(*b2bv1alpha1.PartnerInvitation) bool) {
	deadline := time.Now().Add(time.Duration(n)*100*time.Millisecond + 5*time.Minute)
	for time.Now().Before(deadline) {
		var list b2bv1alpha1.PartnerInvitationList
		if err := k8s.List(ctx, &list); err != nil {
			b.Fatal(err)
		}
		count := 0
		for i := range list.Items {
			if done(&list.Items[i]) {
				count++
			}
		}
		if count >= n {
			return
		}
		time.Sleep(500 * time.Millisecond)
	}
	b.Fatalf("not all %d objects converged in time", n)
}

// redemptions has 1 % of the partners accept at random moments over spread and measures how
// long each object takes to show Redeemed=True, as a watch sees it (a List of N objects per
// poll would add its own seconds at N=10,000).
func redemptions(b *testing.B, ctx context.Context, cfg *rest.Config, k8s client.Client, fleet *tenantFleet, n int, spread time.Duration) (time.Duration, time.Duration, int) {
	var list b2bv1alpha1.PartnerInvitationList
	if err := k8s.List(ctx, &list); err != nil {
		b.Fatal(err)
	}
	watcher, err := client.NewWithWatch(cfg, client.Options{Scheme: k8s.Scheme()})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(ctx, spread+3*time.Minute)
	defer cancel()
	events, err := watcher.Watch(ctx, &b2bv1alpha1.PartnerInvitationList{}, &client.ListOptions{Raw: &metav1.ListOptions{ResourceVersion: list.ResourceVersion}})
	if err != nil {
		b.Fatal(err)
	}
	defer events.Stop()

	picks := max(n/100, 1)
	rand.Shuffle(len(list.Items), func(i, j int) { list.Items[i], list.Items[j] = list.Items[j], list.Items[i] })
	accepted := map[string]time.Time{} // object name -> acceptance time
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, p := range list.Items[:picks] {
		wg.Add(1)
		go func(name, userID string, emu *emulator.Emulator) {
			defer wg.Done()
			time.Sleep(rand.N(spread))
			mu.Lock()
			defer mu.Unlock()
			if err := emu.AcceptInvitation(userID); err != nil {
				b.Error(err)
				return
			}
			accepted[name] = time.Now()
		}(p.Name, p.Status.UserID, fleet.emulatorOf(&p))
	}
	detected := map[string]time.Duration{}
	for len(detected) < picks {
		var ev watch.Event
		select {
		case ev = <-events.ResultChan():
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		p, ok := ev.Object.(*b2bv1alpha1.PartnerInvitation)
		if !ok || !meta.IsStatusConditionTrue(p.Status.Conditions, b2bv1alpha1.ConditionRedeemed) {
			continue
		}
		now := time.Now()
		mu.Lock()
		if at, ok := accepted[p.Name]; ok {
			if _, seen := detected[p.Name]; !seen {
				detected[p.Name] = now.Sub(at)
			}
		}
		mu.Unlock()
	}
	wg.Wait()
	var ds []time.Duration
	for _, d := range detected {
		ds = append(ds, d)
	}
	if len(ds) == 0 {
		return 0, 0, 0
	}
	sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
	return ds[len(ds)/2], ds[min(len(ds)-1, (len(ds)*95+99)/100-1)], len(ds)
}

// apiWrites counts the API server's mutating requests on the resources the operator writes,
// by "resource[/subresource] VERB".
func apiWrites(b *testing.B, cfg *rest.Config) map[string]float64 {
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		b.Fatal(err)
	}
	raw, err := cs.RESTClient().Get().AbsPath("/metrics").DoRaw(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	total := map[string]float64{}
	sc := bufio.NewScanner(strings.NewReader(string(raw)))
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "apiserver_request_total{") {
			continue
		}
		resource, verb := label(line, "resource"), label(line, "verb")
		switch verb {
		case "POST", "PUT", "PATCH", "DELETE":
		default:
			continue
		}
		switch resource {
		case "partnerinvitations", "secrets", "leases", "events":
		default:
			continue
		}
		if sub := label(line, "subresource"); sub != "" {
			resource += "/" + sub
		}
		if v, err := strconv.ParseFloat(line[strings.LastIndex(line, " ")+1:], 64); err == nil {
			total[resource+" "+verb] += v
		}
	}
	return total
}

// label reads one label's value from a Prometheus text-format line.
func label(line, name string) string {
	_, rest, ok := strings.Cut(line, name+`="`)
	if !ok {
		return ""
	}
	v, _, _ := strings.Cut(rest, `"`)
	return v
}

func (r result) print(w *os.File) {
	fmt.Fprintf(w, "\npartner-operator benchmark: N=%d in %d tenant(s), two replicas (shipped RBAC), %d workers on the leader, Graph emulator with small-tenant quotas and 50-150 ms latency\n", r.n, r.tenants, r.workers)
	row := func(k, v string) { fmt.Fprintf(w, "| %-52s | %-28s |\n", k, v) }
	fmt.Fprintf(w, "| %-52s | %-28s |\n|%s|%s|\n", "figure", "value", strings.Repeat("-", 54), strings.Repeat("-", 30))
	row("time until all Invited", fmt.Sprintf("%.1f s", r.converge.Seconds()))
	row("quota-bound minimum (N / tenants / 30 per s)", fmt.Sprintf("%.1f s (ratio %.2f)", r.quotaMinimum.Seconds(), r.converge.Seconds()/r.quotaMinimum.Seconds()))
	row("first to last invitation (Graph's answers)", fmt.Sprintf("%.1f s (%.1f per s)", r.inviteSpan.Seconds(), float64(r.n)/max(r.inviteSpan.Seconds(), 0.001)))
	row("Graph requests per invitation", fmt.Sprintf("%.3f", float64(r.graphRequests)/float64(r.n)))
	row("  lookups (GET /users?$filter) per invitation", fmt.Sprintf("%.3f", float64(r.lookups)/float64(r.n)))
	row("  invitations (POST /invitations) per invitation", fmt.Sprintf("%.3f", float64(r.invites)/float64(r.n)))
	row("  other requests per invitation", fmt.Sprintf("%.3f", float64(r.graphRequests-r.lookups-r.invites)/float64(r.n)))
	row("ownership records: time until every guest has one", fmt.Sprintf("%.1f s", r.recordsDone.Seconds()))
	row("  record reads + writes per invitation (own row)", fmt.Sprintf("%.3f + %.3f", float64(r.recordReads)/float64(r.n), float64(r.recordWrites)/float64(r.n)))
	row("  of them sent before all were Invited", fmt.Sprintf("%d", r.recordRequestsAtInvited))
	row("requests answered 429", fmt.Sprintf("%d (%.2f %%)", r.throttled, 100*float64(r.throttled)/float64(max(r.graphRequests, 1))))
	row("fullest invitation-manager window (margin)", peakText(r.invitePeak))
	row("fullest resource-unit window (margin)", peakText(r.unitPeak))
	row("steady state, all pending: Graph requests per hour", fmt.Sprintf("%.0f (over %s)", r.steadyPerHour, r.steadyWindow))
	row(fmt.Sprintf("acceptance to Redeemed=True, p50 / p95 (%d guests)", r.redeemed), fmt.Sprintf("%.1f s / %.1f s", r.redeemP50.Seconds(), r.redeemP95.Seconds()))
	row("operator peak RSS (leader)", fmt.Sprintf("%.0f MiB", float64(r.peakRSS)/(1<<20)))
	row("operator peak heap in use (leader)", fmt.Sprintf("%.0f MiB", float64(r.peakHeap)/(1<<20)))
	row("  RSS at the end: anonymous + file (the binary)", fmt.Sprintf("%.0f + %.0f MiB", float64(r.endAnon)/(1<<20), float64(r.endFile)/(1<<20)))
	row("API server writes per second while converging", fmt.Sprintf("%.0f", r.apiWritesPerSec))
	for _, k := range slices.Sorted(maps.Keys(r.cpu)) {
		row("  CPU while converging: "+k, fmt.Sprintf("%.2f cores", r.cpu[k]))
	}
	row("API server writes per object (operator)", fmt.Sprintf("%.2f", r.apiWrites))
	kinds := slices.Sorted(maps.Keys(r.writesByKind))
	for _, k := range kinds {
		row("  "+k, fmt.Sprintf("%.2f", r.writesByKind[k]))
	}
	fmt.Fprintf(w, "\nleader (%s) heap once all were Invited, largest in-use entries:\n%s\n", r.leader, r.heapTop)
}

// isRecordRequest tells the ownership recorder's requests (low priority, reading or patching
// one user) from the invitation path's.
func isRecordRequest(r emulator.Request) bool {
	one := strings.HasPrefix(r.Path, "/users/") && !strings.HasPrefix(r.Path, "/users/delta")
	return one && (r.Method == "PATCH" || (r.Method == "GET" && r.LowPriority))
}

func peakText(p emulator.QuotaPeak) string {
	if p.Limit == 0 {
		return "-"
	}
	return fmt.Sprintf("%d of %d per %s (%.1f %% spare)", p.Used, p.Limit, p.Window, 100*float64(p.Limit-p.Used)/float64(p.Limit))
}

func envInt(key string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(key)); err == nil && v > 0 {
		return v
	}
	return def
}

func envDuration(key string, def time.Duration) time.Duration {
	if v, err := time.ParseDuration(os.Getenv(key)); err == nil && v > 0 {
		return v
	}
	return def
}
