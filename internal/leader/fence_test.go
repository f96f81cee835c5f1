package leader

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"k8s.io/client-go/tools/leaderelection/resourcelock"

	"github.com/partnerops/partner-operator/internal/graph"
)

// fakeClock is a settable now for the fence; the fence asks it for every decision.
type fakeClock struct{ t time.Time }

func (c *fakeClock) now() time.Time       { return c.t }
func (c *fakeClock) step(d time.Duration) { c.t = c.t.Add(d) }
func newFakeClock() *fakeClock            { return &fakeClock{t: time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)} }

// leaderA is replica-a's fence (open for 10 s after each renewal) on a fake clock, with the
// lock that reports its renewals.
func leaderA() (*fakeClock, *Fence, *memLock, resourcelock.Interface) {
	clock := newFakeClock()
	f := fencedAt(clock, 10*time.Second)
	inner := &memLock{id: "replica-a"}
	return clock, f, inner, f.Lock(inner)
}

func fencedAt(c *fakeClock, valid time.Duration) *Fence {
	f := New(valid)
	f.now = c.now
	return f
}

// memLock is a resourcelock that keeps the record in memory; fail makes writes fail.
type memLock struct {
	id   string
	fail error
	rec  resourcelock.LeaderElectionRecord
}

func (l *memLock) Get(context.Context) (*resourcelock.LeaderElectionRecord, []byte, error) {
	r := l.rec
	return &r, nil, nil
}
func (l *memLock) Create(_ context.Context, r resourcelock.LeaderElectionRecord) error {
	return l.write(r)
}
func (l *memLock) Update(_ context.Context, r resourcelock.LeaderElectionRecord) error {
	return l.write(r)
}
func (l *memLock) write(r resourcelock.LeaderElectionRecord) error {
	if l.fail != nil {
		return l.fail
	}
	l.rec = r
	return nil
}
func (l *memLock) RecordEvent(string) {}
func (l *memLock) Identity() string   { return l.id }
func (l *memLock) Describe() string   { return "mem/" + l.id }
func own(l *memLock) resourcelock.LeaderElectionRecord {
	return resourcelock.LeaderElectionRecord{HolderIdentity: l.id}
}

func TestFenceOpensForValidAfterEachRenewal(t *testing.T) {
	clock, f, inner, lock := leaderA()
	ctx := context.Background()

	if err := f.Check(); !errors.Is(err, graph.ErrFenced) {
		t.Fatalf("before any renewal Check() = %v, want ErrFenced", err)
	}
	if err := lock.Create(ctx, own(inner)); err != nil {
		t.Fatal(err)
	}
	acquired := clock.t
	clock.step(9*time.Second + 999*time.Millisecond)
	if err := f.Check(); err != nil {
		t.Fatalf("just inside the renew deadline Check() = %v, want open", err)
	}
	if d, err := f.Deadline(); err != nil || !d.Equal(acquired.Add(10*time.Second)) {
		t.Errorf("Deadline() = %v, %v; want %v", d, err, acquired.Add(10*time.Second))
	}
	clock.step(time.Millisecond)
	if err := f.Check(); !errors.Is(err, graph.ErrFenced) {
		t.Fatalf("at the renew deadline Check() = %v, want ErrFenced", err)
	}

	// A renewal reopens from when it was sent; a failed one does not.
	if err := lock.Update(ctx, own(inner)); err != nil {
		t.Fatal(err)
	}
	clock.step(5 * time.Second)
	inner.fail = errors.New("apiserver unreachable")
	if err := lock.Update(ctx, own(inner)); err == nil {
		t.Fatal("the failing lock did not fail")
	}
	clock.step(5 * time.Second)
	if err := f.Check(); !errors.Is(err, graph.ErrFenced) {
		t.Errorf("10s after the last successful renewal Check() = %v, want ErrFenced", err)
	}
}

func TestFenceIgnoresWritesOfAnotherHolder(t *testing.T) {
	_, f, _, lock := leaderA()
	// Releasing the lease on shutdown writes an empty holder: that is not a renewal.
	if err := lock.Update(context.Background(), resourcelock.LeaderElectionRecord{}); err != nil {
		t.Fatal(err)
	}
	if err := lock.Update(context.Background(), resourcelock.LeaderElectionRecord{HolderIdentity: "replica-b"}); err != nil {
		t.Fatal(err)
	}
	if err := f.Check(); !errors.Is(err, graph.ErrFenced) {
		t.Errorf("after writes naming another holder Check() = %v, want ErrFenced", err)
	}
}

func TestLeaderSinceIsTheStartOfTheTerm(t *testing.T) {
	clock, f, inner, lock := leaderA()
	ctx := context.Background()

	if !f.LeaderSince().IsZero() {
		t.Fatalf("LeaderSince() before leading = %v, want zero", f.LeaderSince())
	}
	first := clock.t
	_ = lock.Create(ctx, own(inner))
	for range 3 {
		clock.step(2 * time.Second)
		_ = lock.Update(ctx, own(inner))
	}
	if got := f.LeaderSince(); !got.Equal(first) {
		t.Errorf("LeaderSince() while renewing = %v, want the acquisition %v", got, first)
	}
	// A pause longer than the renew deadline ends the term: the renewal after it begins a new one.
	clock.step(30 * time.Second)
	second := clock.t
	_ = lock.Update(ctx, own(inner))
	if got := f.LeaderSince(); !got.Equal(second) {
		t.Errorf("LeaderSince() after a lapse = %v, want the new acquisition %v", got, second)
	}
}

func TestUnfencedAndNil(t *testing.T) {
	if err := Unfenced().Check(); err != nil {
		t.Errorf("Unfenced().Check() = %v, want open", err)
	}
	if d, err := Unfenced().Deadline(); err != nil || !d.IsZero() {
		t.Errorf("Unfenced().Deadline() = %v, %v; want no deadline", d, err)
	}
	var f *Fence
	if err := f.Check(); !errors.Is(err, graph.ErrFenced) {
		t.Errorf("nil fence Check() = %v, want ErrFenced", err)
	}
}

// countingServer answers 204 to everything and counts the requests by method.
func countingServer(t *testing.T, handler http.HandlerFunc) (*httptest.Server, *atomic.Int32, *atomic.Int32) {
	t.Helper()
	var reads, writes atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet {
			reads.Add(1)
		} else {
			writes.Add(1)
		}
		if handler != nil {
			handler(w, r)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(srv.Close)
	return srv, &reads, &writes
}

func do(t *testing.T, c *http.Client, method, url string) error {
	t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), method, url, strings.NewReader(""))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	return resp.Body.Close()
}

func TestTransportRefusesWritesWhenClosed(t *testing.T) {
	srv, reads, writes := countingServer(t, nil)
	closed := New(10 * time.Second) // never renewed
	c := &http.Client{Transport: closed.Transport(http.DefaultTransport)}

	for _, m := range []string{http.MethodPost, http.MethodPatch, http.MethodDelete, http.MethodPut} {
		if err := do(t, c, m, srv.URL+"/users/x"); !errors.Is(err, graph.ErrFenced) {
			t.Errorf("%s through a closed fence: %v, want ErrFenced", m, err)
		}
	}
	if err := do(t, c, http.MethodGet, srv.URL+"/users/x"); err != nil {
		t.Errorf("GET through a closed fence: %v, want it sent", err)
	}
	if writes.Load() != 0 || reads.Load() != 1 {
		t.Errorf("server saw %d writes and %d reads, want 0 and 1", writes.Load(), reads.Load())
	}

	open := &http.Client{Transport: Unfenced().Transport(http.DefaultTransport)}
	if err := do(t, open, http.MethodPost, srv.URL+"/invitations"); err != nil || writes.Load() != 1 {
		t.Errorf("POST through an open fence: %v, server saw %d writes; want it sent", err, writes.Load())
	}
}

// A write cannot outlive the fence: one still unanswered at the deadline is abandoned.
func TestTransportAbandonsAWriteAtTheDeadline(t *testing.T) {
	srv, _, writes := countingServer(t, func(w http.ResponseWriter, r *http.Request) {
		<-r.Context().Done() // never answers; returns when the client gives up
	})
	f := New(300 * time.Millisecond)
	_ = f.Lock(&memLock{id: "a"}).Create(context.Background(), resourcelock.LeaderElectionRecord{HolderIdentity: "a"})
	c := &http.Client{Transport: f.Transport(http.DefaultTransport)}

	err := do(t, c, http.MethodPost, srv.URL+"/invitations")
	if !errors.Is(err, graph.ErrFenced) {
		t.Errorf("a write unanswered at the fence's deadline: %v, want ErrFenced", err)
	}
	if writes.Load() != 1 {
		t.Errorf("server saw %d writes, want the 1 that left in time", writes.Load())
	}
}
