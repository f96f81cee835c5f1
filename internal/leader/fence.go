// Package leader fences writes by leadership: a replica sends a write only while its last
// successful renewal of the leader-election Lease is recent enough that no other replica can
// have acquired the Lease since.
//
// client-go's elector lets a standby take the Lease over only after it has seen the record
// unchanged for the lease duration, counted from when it saw the last change, which is after
// the leader sent that renewal. A write sent before renewal start + renew deadline therefore
// leaves before any other replica can lead, with lease duration − renew deadline (5 s by
// default) to spare for the request's time on the wire, which the fence's deadline bounds.
package leader

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"k8s.io/client-go/tools/leaderelection/resourcelock"

	"github.com/partnerops/partner-operator/internal/graph"
)

// Fence says whether this replica may write. The zero value and nil are closed.
type Fence struct {
	valid time.Duration
	open  bool
	now   func() time.Time

	mu         sync.Mutex
	renewedAt  time.Time // when the last successful renewal was sent, with its monotonic reading
	acquiredAt time.Time // when the renewal that began this term of leadership was sent
}

// New returns a fence that opens for valid after each renewal the Lock it wraps reports. valid
// must be shorter than the lease duration; the renew deadline is the natural choice.
func New(valid time.Duration) *Fence { return &Fence{valid: valid, now: time.Now} }

// Unfenced is for a process that does not elect a leader: always open.
func Unfenced() *Fence { return &Fence{open: true, now: time.Now} }

// Deadline is the instant after which this replica may no longer write, or graph.ErrFenced when
// that is past. The zero time means no deadline (unfenced). Both clocks are asked: the
// monotonic one, which a process pause does not stop, and the wall clock, which a suspend of
// the whole machine does not stop.
func (f *Fence) Deadline() (time.Time, error) {
	if f == nil {
		return time.Time{}, graph.ErrFenced
	}
	if f.open {
		return time.Time{}, nil
	}
	f.mu.Lock()
	renewed := f.renewedAt
	f.mu.Unlock()
	if renewed.IsZero() {
		return time.Time{}, graph.ErrFenced
	}
	deadline, now := renewed.Add(f.valid), f.now()
	if !now.Before(deadline) || !now.Round(0).Before(deadline.Round(0)) {
		return time.Time{}, fmt.Errorf("%w (last renewal %s ago)", graph.ErrFenced, now.Round(0).Sub(renewed.Round(0)).Round(time.Millisecond))
	}
	return deadline, nil
}

// Check is Deadline for a write that cannot carry a deadline: nil while this replica may write.
func (f *Fence) Check() error {
	_, err := f.Deadline()
	return err
}

// LeaderSince is when this replica's current term of leadership began (its acquiring renewal
// was sent); the zero time when unfenced or not leading. Every write of an earlier leader left
// before then.
func (f *Fence) LeaderSince() time.Time {
	if f == nil || f.open {
		return time.Time{}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.acquiredAt
}

func (f *Fence) renewed(start time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.renewedAt.IsZero() || start.Sub(f.renewedAt) >= f.valid {
		f.acquiredAt = start // the fence was closed: a new term
	}
	f.renewedAt = start
}

// Lock wraps the leader-election lock so that each successful write of this replica's own
// record (an acquisition or a renewal) opens the fence from the time it was sent.
func (f *Fence) Lock(inner resourcelock.Interface) resourcelock.Interface {
	return &fencedLock{Interface: inner, fence: f}
}

type fencedLock struct {
	resourcelock.Interface
	fence *Fence
}

func (l *fencedLock) Create(ctx context.Context, ler resourcelock.LeaderElectionRecord) error {
	start := l.fence.now()
	err := l.Interface.Create(ctx, ler)
	l.observe(start, ler, err)
	return err
}

func (l *fencedLock) Update(ctx context.Context, ler resourcelock.LeaderElectionRecord) error {
	start := l.fence.now()
	err := l.Interface.Update(ctx, ler)
	l.observe(start, ler, err)
	return err
}

// observe counts only this replica's own record: a release writes an empty holder.
func (l *fencedLock) observe(start time.Time, ler resourcelock.LeaderElectionRecord, err error) {
	if err == nil && ler.HolderIdentity == l.Identity() {
		l.fence.renewed(start)
	}
}

// Transport fences every request but reads (GET, HEAD): a request is checked when it is about
// to be sent, after any wait in a pacer, batcher or retry handler above it, and carries the
// fence's deadline, so it cannot leave later.
func (f *Fence) Transport(next http.RoundTripper) http.RoundTripper {
	return roundTripperFunc(func(req *http.Request) (*http.Response, error) {
		if req.Method == http.MethodGet || req.Method == http.MethodHead {
			return next.RoundTrip(req)
		}
		deadline, err := f.Deadline()
		if err != nil {
			return nil, fmt.Errorf("%s %s: %w", req.Method, req.URL.Path, err)
		}
		if deadline.IsZero() {
			return next.RoundTrip(req)
		}
		ctx, cancel := context.WithDeadline(req.Context(), deadline)
		resp, err := next.RoundTrip(req.WithContext(ctx))
		if err != nil {
			cancel()
			if ctx.Err() != nil && req.Context().Err() == nil {
				return nil, fmt.Errorf("%s %s: %w", req.Method, req.URL.Path, graph.ErrFenced)
			}
			return nil, err
		}
		resp.Body = &cancelOnClose{ReadCloser: resp.Body, cancel: cancel}
		return resp, nil
	})
}

type roundTripperFunc func(*http.Request) (*http.Response, error)

func (f roundTripperFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

type cancelOnClose struct {
	io.ReadCloser
	cancel context.CancelFunc
}

func (c *cancelOnClose) Close() error {
	err := c.ReadCloser.Close()
	c.cancel()
	return err
}
