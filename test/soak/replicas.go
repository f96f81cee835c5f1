package soak

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/partnerops/partner-operator/test/internal/operatorproc"
)

// acquiredLine is what client-go's leader election logs once a replica leads.
var acquiredLine = []byte("uccessfully acquired lease") // "Successfully" or "successfully", by version

// replica is one operator process of the two-replica deployment; a restart is a new replica
// with a new name, so the emulator's log tells every process apart.
type replica struct {
	name string
	proc *operatorproc.Process

	mu         sync.Mutex
	acquiredAt time.Time // zero until its log says it leads
	offset     int64
}

// leads reports whether the replica has acquired the lease and is still running.
func (r *replica) leads() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return !r.acquiredAt.IsZero() && !r.proc.Exited()
}

// poll reads what the replica logged since the last poll.
func (r *replica) poll() {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.acquiredAt.IsZero() {
		return
	}
	f, err := os.Open(r.proc.LogPath)
	if err != nil {
		return
	}
	defer f.Close()
	// Back up a little so a line split across two polls is still seen.
	start := max(r.offset-int64(len(acquiredLine)), 0)
	buf := make([]byte, 1<<20)
	n, _ := f.ReadAt(buf, start)
	if bytes.Contains(buf[:n], acquiredLine) {
		r.acquiredAt = time.Now()
	}
	r.offset = start + int64(n)
}

// deployment runs two replicas with leader election and restarts whatever it kills.
type deployment struct {
	tb    testing.TB
	ctx   context.Context
	env   *operatorproc.Environment
	flags []string

	mu       sync.Mutex
	slots    [2]*replica
	restarts [2]int
	all      []*replica
}

func newDeployment(tb testing.TB, ctx context.Context, env *operatorproc.Environment, flags ...string) *deployment {
	// The soak deletes far more guests an hour than the accidental-deletion brake admits; it
	// checks that each deletion happens, so the brake is off (test/ownership covers it).
	flags = append([]string{"--deletion-threshold=-1"}, flags...)
	d := &deployment{tb: tb, ctx: ctx, env: env, flags: flags}
	for i := range d.slots {
		d.startSlot(i)
	}
	go func() {
		for ctx.Err() == nil {
			d.mu.Lock()
			for _, r := range d.slots {
				r.poll()
			}
			d.mu.Unlock()
			time.Sleep(100 * time.Millisecond)
		}
	}()
	return d
}

func (d *deployment) startSlot(i int) {
	d.restarts[i]++
	name := fmt.Sprintf("replica-%c-%d", 'a'+i, d.restarts[i])
	r := &replica{name: name, proc: d.env.StartReplica(d.tb, d.ctx, name, d.flags...)}
	d.slots[i] = r
	d.all = append(d.all, r)
}

// leader returns the slot of the replica that leads, or -1.
func (d *deployment) leader() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	for i, r := range d.slots {
		if r.leads() {
			return i
		}
	}
	return -1
}

// restartExited brings back replicas that ended on their own (a lost lease makes a replica
// exit, as a pod's container would, and the kubelet restarts it).
func (d *deployment) restartExited() {
	d.mu.Lock()
	defer d.mu.Unlock()
	for i, r := range d.slots {
		if r.proc.Exited() {
			d.startSlot(i)
		}
	}
}

// waitLeader waits until some replica leads; false after timeout.
func (d *deployment) waitLeader(timeout time.Duration) (int, bool) {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) && d.ctx.Err() == nil {
		d.restartExited()
		if i := d.leader(); i >= 0 {
			return i, true
		}
		time.Sleep(100 * time.Millisecond)
	}
	return -1, false
}

// disrupt ends the leader in slot i with SIGKILL or SIGTERM, restarts it, and returns how long
// the other replica took to lead (0 and false if it did not within timeout).
func (d *deployment) disrupt(i int, graceful bool, timeout time.Duration) (time.Duration, bool) {
	d.mu.Lock()
	victim := d.slots[i]
	d.mu.Unlock()
	start := time.Now()
	if graceful {
		victim.proc.Terminate()
		select {
		case <-victim.proc.Done():
		case <-time.After(30 * time.Second):
			d.tb.Errorf("%s did not shut down within 30 s of SIGTERM", victim.name)
			victim.proc.Kill()
		}
	} else {
		victim.proc.Kill()
	}
	d.mu.Lock()
	d.startSlot(i)
	other := d.slots[1-i]
	d.mu.Unlock()
	for time.Since(start) < timeout && d.ctx.Err() == nil {
		d.restartExited()
		d.mu.Lock()
		other = d.slots[1-i]
		d.mu.Unlock()
		if other.leads() {
			return other.acquiredAtTime().Sub(start), true
		}
		if d.slots[i].leads() {
			// The restarted replica won the race; the failover still happened.
			return d.slots[i].acquiredAtTime().Sub(start), true
		}
		time.Sleep(50 * time.Millisecond)
	}
	return 0, false
}

func (r *replica) acquiredAtTime() time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.acquiredAt
}

// stop shuts every replica down gracefully.
func (d *deployment) stop() {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, r := range d.slots {
		r.proc.Stop()
	}
}

// logs returns the log files of every replica that ran.
func (d *deployment) logs() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []string
	for _, r := range d.all {
		out = append(out, r.proc.LogPath)
	}
	return out
}

// pause stops the leader in slot i with SIGSTOP for pauseFor, continues it, and waits for it to
// find that it lost the lease and exit, as a replica that was frozen past its lease must. It
// returns how long the other replica took to lead and how long the resumed one ran on; ok is
// false if nobody else led during the pause or the resumed replica did not exit within exitBound.
func (d *deployment) pause(i int, pauseFor, exitBound time.Duration) (failover, ranOn time.Duration, ok bool) {
	d.mu.Lock()
	victim := d.slots[i]
	d.mu.Unlock()
	start := time.Now()
	victim.proc.Pause()
	// The pause lasts pauseFor whatever happens; meanwhile, note when the other replica leads.
	paused, endPause := context.WithTimeout(d.ctx, pauseFor)
	wait.UntilWithContext(paused, func(context.Context) {
		d.mu.Lock()
		other := d.slots[1-i]
		d.mu.Unlock()
		if failover == 0 && other.leads() {
			failover = other.acquiredAtTime().Sub(start)
		}
		d.restartExited()
	}, 50*time.Millisecond)
	endPause()
	victim.proc.Resume()
	resumed := time.Now()
	select {
	case <-victim.proc.Done():
		ranOn = time.Since(resumed)
	case <-time.After(exitBound):
		if failover > 0 {
			d.tb.Errorf("%s still runs %s after SIGCONT although %s took the lease during its pause", victim.name, exitBound, d.slots[1-i].name)
		}
		return failover, exitBound, false
	case <-d.ctx.Done():
		return failover, 0, false
	}
	d.restartExited()
	return failover, ranOn, failover > 0
}

// countInLogs counts the lines of every replica's log that contain s.
func (d *deployment) countInLogs(s string) int {
	n := 0
	for _, l := range d.logs() {
		raw, err := os.ReadFile(l)
		if err == nil {
			n += bytes.Count(raw, []byte(s))
		}
	}
	return n
}

// logTailsIfFailed puts the end of every replica's log into a failed test's output.
func (d *deployment) logTailsIfFailed(t *testing.T) {
	if !t.Failed() {
		return
	}
	for _, l := range d.logs() {
		raw, _ := os.ReadFile(l)
		t.Logf("%s (last 3 KiB):\n%s", filepath.Base(l), tail(raw, 3<<10))
	}
}

// tail is the last n bytes of b, for the logs a failed run prints.
func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}
