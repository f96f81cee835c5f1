// Package soak runs two leader-elected operator replicas, as shipped (their own ServiceAccount
// and RBAC), against a real kube-apiserver and the Graph emulator with faults, quotas and
// latency on, while a scenario creates, edits and deletes PartnerInvitations, partners accept,
// administrators change the directory under the operator, and the leader is killed again and
// again. At the end it checks, from the emulator's own log and directory, that nothing was
// lost and nothing doubled.
//
//	go test ./test/soak/                                     # the short soak make test runs
//	SOAK_OBJECTS=1000 SOAK_DURATION=10m go test -timeout 60m -v ./test/soak/   # make soak
package soak

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/go-logr/logr"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/partnerops/partner-operator/internal/graph/emulator"
	"github.com/partnerops/partner-operator/test/internal/operatorproc"
)

type config struct {
	objects  int
	duration time.Duration // of the chaos: creates, edits, faults and kills
	settle   time.Duration // bound on convergence once faults and kills stop
	seed     uint64
}

func configFromEnv(tb testing.TB) config {
	c := config{objects: 100, duration: 2 * time.Minute, settle: 3 * time.Minute, seed: uint64(time.Now().UnixNano())}
	var err error
	if v := os.Getenv("SOAK_OBJECTS"); v != "" {
		if c.objects, err = strconv.Atoi(v); err != nil {
			tb.Fatalf("SOAK_OBJECTS: %v", err)
		}
	}
	for env, d := range map[string]*time.Duration{"SOAK_DURATION": &c.duration, "SOAK_SETTLE": &c.settle} {
		if v := os.Getenv(env); v != "" {
			if *d, err = time.ParseDuration(v); err != nil {
				tb.Fatalf("%s: %v", env, err)
			}
		}
	}
	if v := os.Getenv("SOAK_SEED"); v != "" {
		if c.seed, err = strconv.ParseUint(v, 10, 64); err != nil {
			tb.Fatalf("SOAK_SEED: %v", err)
		}
	}
	return c
}

// Leader election is tuned shorter than controller-runtime's 15 s/10 s/2 s so that a killed
// leader is replaced within the kill interval; the 3 s between renew deadline and lease
// duration is the margin that keeps two leaders apart.
var replicaFlags = []string{
	"--leader-election-lease-duration=" + leaseDuration.String(), "--leader-election-renew-deadline=5s", "--leader-election-retry-period=1s",
	// The emulator hides new users for 5 s; the grace period must be longer.
	"--create-grace-period=20s",
	"--redemption-watch-interval=2s",
}

// TestMain silences the test's own controller-runtime clients (envtest, the watches); the
// operators log to their files.
func TestMain(m *testing.M) {
	ctrllog.SetLogger(logr.Discard())
	os.Exit(m.Run())
}

func TestSoak(t *testing.T) {
	cfg := configFromEnv(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	root := filepath.Join("..", "..")
	cp := operatorproc.StartControlPlane(t, root)
	emu := operatorproc.StartEmulator(t, emulator.Options{RequireAuth: true, Quotas: emulator.DefaultQuotas(),
		Latency: 20 * time.Millisecond, LatencyJitter: 60 * time.Millisecond, VisibilityDelay: 5 * time.Second})
	dir := t.TempDir()
	bin := operatorproc.Build(t, root, dir)
	env := operatorproc.NewEnvironment(t, bin, dir, cp.Env, emu)

	s := newScenario(t, ctx, cp.Client, emu, cfg.seed)
	s.setUp()
	s.watchReasons(cp.Config)
	leases := watchLeaderLease(ctx, cp.Client)
	dep := newDeployment(t, ctx, env, replicaFlags...)
	defer dep.logTailsIfFailed(t)
	if _, ok := dep.waitLeader(time.Minute); !ok {
		t.Fatal("no replica became leader within a minute")
	}

	// Faults: 10 % of requests fail with a 5xx, 5 % more are throttled; and 5 % of invitations
	// are carried out by Graph while their answer is lost (a gateway timeout after the write).
	emu.InjectFault(emulator.Fault{Method: "POST", PathPrefix: "/invitations", Status: 504, AfterWrite: true, Rate: 0.05, Times: -1})
	emu.InjectFault(emulator.Fault{Status: 503, Rate: 0.05, Times: -1})
	emu.InjectFault(emulator.Fault{Status: 500, Rate: 0.05, Times: -1})
	emu.InjectFault(emulator.Fault{Status: 429, RetryAfter: 2 * time.Second, Rate: 0.05, Times: -1})
	start := time.Now()
	chaosCtx, stopChaos := context.WithTimeout(ctx, cfg.duration)
	defer stopChaos()
	rep := &report{cfg: cfg}
	done := make(chan struct{})
	go func() { defer close(done); kill(chaosCtx, dep, cfg.seed, rep) }()
	drive(chaosCtx, s, cfg)
	<-done
	emu.ClearFaults()
	emu.SetVisibilityDelay(0)
	rep.chaos = time.Since(start)

	settleStart := time.Now()
	problems := s.waitConverged(cfg.settle, dep)
	rep.converge = time.Since(settleStart)
	dep.stop()
	for _, p := range problems {
		t.Errorf("not converged %s after faults stopped: %s", cfg.settle, p)
	}
	rep.replicas = len(dep.logs())
	rep.fenced = dep.countInLogs(fencedLine)
	inv := s.checkInvariants(leases)
	rep.print(os.Stdout, s, inv, emu)
	for _, v := range inv.violations {
		t.Error(v)
	}
}

// drive creates the objects over the first 60 % of the chaos and acts on them throughout.
func drive(ctx context.Context, s *scenario, cfg config) {
	createEvery := time.Duration(float64(cfg.duration) * 0.6 / float64(cfg.objects))
	actEvery := time.Duration(float64(time.Second) / max(1, float64(cfg.objects)/300))
	creates, acts := time.NewTicker(max(createEvery, time.Millisecond)), time.NewTicker(actEvery)
	defer creates.Stop()
	defer acts.Stop()
	created := 0
	for ctx.Err() == nil {
		select {
		case <-ctx.Done():
		case <-creates.C:
			if created < cfg.objects {
				s.create(created)
				created++
			}
		case <-acts.C:
			s.act()
		}
	}
	for ; created < cfg.objects; created++ {
		s.create(created)
	}
}

// leaseDuration is replicaFlags' lease duration; a pause outlasts it 2.5 times.
const leaseDuration = 8 * time.Second

// fencedLine is what a replica logs when the fence ends a reconcile (controllers/partnerinvitation/fence.go).
const fencedLine = "not leading for sure"

// kill disrupts the leader every 5–20 s: mostly SIGKILL (a node failure, an OOM kill),
// sometimes SIGTERM (a drain), and restarts it; now and then it pauses the leader instead with
// SIGSTOP for 2.5 times the lease duration (a GC stall, CPU throttling, a frozen VM) and
// continues it, by when the other replica leads.
func kill(ctx context.Context, dep *deployment, seed uint64, rep *report) {
	rng := rand.New(rand.NewPCG(seed, 0xdead))
	for ctx.Err() == nil {
		i, ok := dep.waitLeader(time.Minute)
		if !ok {
			if ctx.Err() == nil {
				rep.leaderless++
			}
			continue
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(5*time.Second + time.Duration(rng.Int64N(int64(15*time.Second)))):
		}
		if rng.IntN(4) == 0 {
			took, ranOn, ok := dep.pause(i, leaseDuration*5/2, 30*time.Second)
			if !ok {
				rep.leaderless++
				continue
			}
			rep.pauseFailover = append(rep.pauseFailover, took)
			rep.ranOn = append(rep.ranOn, ranOn)
			continue
		}
		graceful := rng.IntN(5) == 0
		took, ok := dep.disrupt(i, graceful, time.Minute)
		switch {
		case !ok:
			rep.leaderless++
		case graceful:
			rep.termFailover = append(rep.termFailover, took)
		default:
			rep.killFailover = append(rep.killFailover, took)
		}
	}
}

type report struct {
	cfg                        config
	chaos, converge            time.Duration
	killFailover, termFailover []time.Duration
	// pauseFailover is how long the standby took to lead after the leader was paused; ranOn
	// how long the resumed replica ran before it exited.
	pauseFailover, ranOn []time.Duration
	leaderless           int
	replicas             int
	fenced               int // reconciles the fence ended, from the replicas' logs
}

func (r *report) print(w io.Writer, s *scenario, inv invariants, emu *emulator.Emulator) {
	reqs := emu.Requests()
	var fivexx, throttled int
	for _, q := range reqs {
		switch {
		case q.Status >= 500:
			fivexx++
		case q.Status == 429:
			throttled++
		}
	}
	deleted := 0
	for _, o := range s.objects {
		if o.deleted {
			deleted++
		}
	}
	row := func(k, v string, args ...any) { fmt.Fprintf(w, "| %-72s | %-14s |\n", k, fmt.Sprintf(v, args...)) }
	fmt.Fprintf(w, "\npartner-operator soak: seed %d (SOAK_SEED reproduces the scenario, not the timing)\n", r.cfg.seed)
	fmt.Fprintf(w, "| %-72s | %-14s |\n|%s|%s|\n", "figure", "value", dashes(74), dashes(16))
	row("objects created / deleted", "%d / %d", len(s.objects), deleted)
	row("chaos (creates, edits, faults, kills)", "%s", r.chaos.Round(time.Second))
	row("replicas started (2 at a time)", "%d", r.replicas)
	row("leader SIGKILLs / SIGTERMs", "%d / %d", len(r.killFailover), len(r.termFailover))
	row("failover after SIGKILL, p50 / p95", "%s / %s", pct(r.killFailover, 50), pct(r.killFailover, 95))
	row("failover after SIGTERM, p50 / p95", "%s / %s", pct(r.termFailover, 50), pct(r.termFailover, 95))
	row(fmt.Sprintf("leader pauses (SIGSTOP %s, then SIGCONT)", leaseDuration*5/2), "%d", len(r.pauseFailover))
	row("failover during a pause, p50 / p95", "%s / %s", pct(r.pauseFailover, 50), pct(r.pauseFailover, 95))
	row("resumed replica ran on before it exited, max", "%s", pct(r.ranOn, 100))
	row("reconciles ended by the fence (nothing written)", "%d", r.fenced)
	row("times no replica led within a minute", "%d", r.leaderless)
	row("Graph requests (answered 5xx / 429)", "%d (%d / %d)", len(reqs), fivexx, throttled)
	for _, name := range sortedKeys(s.actions) {
		row("scenario: "+name, "%d", s.actions[name])
	}
	row("converged after faults stopped", "%s", r.converge.Round(100*time.Millisecond))
	for _, c := range inv.counts {
		row("invariant: "+c.name, "%d (want 0)", c.n)
	}
}

func dashes(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = '-'
	}
	return string(b)
}

func pct(ds []time.Duration, p int) string {
	if len(ds) == 0 {
		return "-"
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[min(len(s)-1, (len(s)*p+99)/100-1)].Round(100 * time.Millisecond).String()
}

func sortedKeys(m map[string]int) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
