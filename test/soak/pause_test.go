package soak

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"

	b2bv1alpha1 "github.com/partnerops/partner-operator/api/v1alpha1"
	"github.com/partnerops/partner-operator/internal/graph/emulator"
	"github.com/partnerops/partner-operator/test/internal/operatorproc"
)

// The pause rounds run leader election at half the soak's timings, so that three pauses of 2.5
// lease durations fit in a minute; the create grace still outlasts the emulator's visibility
// delay with room for the time on the wire.
const pauseLease = 4 * time.Second

var pauseFlags = []string{
	"--leader-election-lease-duration=" + pauseLease.String(), "--leader-election-renew-deadline=2500ms", "--leader-election-retry-period=500ms",
	"--create-grace-period=8s",
	"--redemption-watch-interval=1s",
	// Each object gets one resend in the third round; the send limits are not what is tested.
	"--send-min-interval=1s", "--sends-per-namespace-per-day=100000",
}

// TestPause freezes the leader with SIGSTOP for 2.5 lease durations while it has Graph writes
// under way, three times: in a burst of invitations, during grants and deletions, and during
// resends, with Graph answering in 300–800 ms. A fenced replica sends nothing once it may have
// lost the lease, so: no Graph write from a replica after another acquired the lease, no
// partner mailed twice, and no object invited by the operator reading a foreign guest's reason.
//
//	PAUSE_OBJECTS=200 go test -run TestPause -v ./test/soak/   # the size (make soak)
func TestPause(t *testing.T) {
	objects := 60
	if v := os.Getenv("PAUSE_OBJECTS"); v != "" {
		var err error
		if objects, err = strconv.Atoi(v); err != nil {
			t.Fatalf("PAUSE_OBJECTS: %v", err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	root := filepath.Join("..", "..")
	cp := operatorproc.StartControlPlane(t, root)
	emu := operatorproc.StartEmulator(t, emulator.Options{RequireAuth: true,
		Latency: 300 * time.Millisecond, LatencyJitter: 500 * time.Millisecond, VisibilityDelay: 2 * time.Second})
	dir := t.TempDir()
	env := operatorproc.NewEnvironment(t, operatorproc.Build(t, root, dir), dir, cp.Env, emu)

	s := newScenario(t, ctx, cp.Client, emu, 1)
	s.setUp()
	s.watchReasons(cp.Config)
	leases := watchLeaderLease(ctx, cp.Client)
	dep := newDeployment(t, ctx, env, pauseFlags...)
	defer dep.logTailsIfFailed(t)

	rounds := []struct {
		name string
		// start sets the round's writes going; the leader is paused once Graph has received
		// a quarter of what it asks for.
		start func() (method, pathPrefix string, want int)
	}{
		{"a burst of invitations", func() (string, string, int) {
			for i := range objects {
				s.create(i)
			}
			return "POST", "/invitations", objects / 4
		}},
		{"grants and deletions", func() (string, string, int) {
			n := 0
			for i, o := range s.liveFresh() {
				if i%4 == 3 {
					s.delete(o)
				} else {
					g := s.groups[i%len(s.groups)].ID
					s.edit(o, func(p *b2bv1alpha1.PartnerInvitation) { p.Spec.Access = toggleGroup(p.Spec.Access, g) })
				}
				n++
			}
			return "", "/", n / 4
		}},
		{"resends", func() (string, string, int) {
			live := s.liveFresh()
			at := time.Now().UTC().Format(time.RFC3339)
			for _, o := range live {
				s.edit(o, func(p *b2bv1alpha1.PartnerInvitation) {
					if p.Annotations == nil {
						p.Annotations = map[string]string{}
					}
					p.Annotations[b2bv1alpha1.AnnotationResendRequestedAt] = at
				})
				s.mu.Lock()
				o.resends++
				s.mu.Unlock()
			}
			return "POST", "/invitations", len(live) / 4
		}},
	}
	var table strings.Builder
	for _, round := range rounds {
		i, ok := dep.waitLeader(time.Minute)
		if !ok {
			t.Fatalf("%s: no replica leads", round.name)
		}
		begin := time.Now()
		method, prefix, want := round.start()
		if !waitWrites(ctx, emu, begin, method, prefix, max(want, 1), time.Minute) {
			t.Fatalf("%s: Graph received fewer than %d writes within a minute", round.name, want)
		}
		fencedBefore := dep.countInLogs(fencedLine)
		failover, ranOn, ok := dep.pause(i, pauseLease*5/2, 30*time.Second)
		if !ok {
			t.Fatalf("%s: the standby did not take the lease during the pause (failover %s)", round.name, failover)
		}
		if problems := s.waitConverged(2*time.Minute, dep); len(problems) > 0 {
			t.Errorf("%s: not converged within 2 minutes of the pause:\n%s", round.name, strings.Join(problems, "\n"))
		}
		fmt.Fprintf(&table, "| %-24s | %-10s | %-10s | %-9d | %-9s |\n", round.name, failover.Round(100*time.Millisecond),
			ranOn.Round(100*time.Millisecond), dep.countInLogs(fencedLine)-fencedBefore, time.Since(begin).Round(time.Second))
	}
	dep.stop()

	reqs := emu.Requests()
	inv := invariants{}
	inv.add("Graph writes from a replica after another acquired the lease", deposedWrites(reqs, leases.acquisitions()))
	inv.add("invitation mails beyond 1 + resends asked for", s.duplicateMails(reqs))
	inv.add("fresh objects that ever read AdoptionDenied or Conflict", s.wrongReasons())
	inv.add("guests left whose object was deleted with Delete", s.guestsLeftBehind(emu.Users(), reqs))
	fmt.Printf("\npartner-operator pause rounds: %d objects, Graph latency 300–800 ms, lease %s, each pause %s\n", objects, pauseLease, pauseLease*5/2)
	fmt.Printf("| %-24s | %-10s | %-10s | %-9s | %-9s |\n|%s|%s|%s|%s|%s|\n%s", "round", "failover", "ran on", "fenced", "round",
		dashes(26), dashes(12), dashes(12), dashes(11), dashes(11), table.String())
	for _, c := range inv.counts {
		fmt.Printf("invariant: %s: %d (want 0)\n", c.name, c.n)
	}
	for _, v := range inv.violations {
		t.Error(v)
	}
}

// waitWrites waits until Graph has received n requests since since whose method is method
// (any but GET when empty) and whose path starts with prefix.
func waitWrites(ctx context.Context, emu *emulator.Emulator, since time.Time, method, prefix string, n int, timeout time.Duration) bool {
	err := wait.PollUntilContextTimeout(ctx, 20*time.Millisecond, timeout, true, func(context.Context) (bool, error) {
		got := 0
		for _, q := range emu.Requests() {
			if q.Time.After(since) && strings.HasPrefix(q.Path, prefix) && (q.Method == method || method == "" && q.Method != "GET") {
				got++
			}
		}
		return got >= n, nil
	})
	return err == nil
}
