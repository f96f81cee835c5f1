package graph

import (
	"context"
	"sync"
	"time"
)

// Quota is one of Graph's throttling limits: at most Limit units in any Window.
type Quota struct {
	Limit  int
	Window time.Duration
}

// window admits requests against one Quota so that Graph can never count more than the limit
// in any interval of the window's length, whatever the network does to the requests' timing.
//
// Graph counts a request at some moment between its sending and its answer. So a request
// holds its units from the moment it is admitted until one window after its answer came
// back: while in flight it is counted as if Graph had just counted it, and after the answer
// as if Graph had counted it at the last possible moment. A new request is admitted only if
// its units fit beside everything held. Two requests more than a window apart on Graph's
// side are then never both held, so no interval Graph looks at can exceed the limit. The
// price is one round trip per window of unused capacity, a few percent at Graph's latency.
type window struct {
	quota Quota

	mu       sync.Mutex
	inFlight int     // units of admitted requests not answered yet
	answered []stamp // answered requests still inside the window, oldest first
	head     int     // answered[:head] have left the window
	used     int     // units of answered[head:]
	changed  chan struct{}
}

type stamp struct {
	at   time.Time
	cost int
}

func newWindow(q Quota) *window {
	return &window{quota: q, changed: make(chan struct{})}
}

// acquire waits until cost fits the quota and holds it. A request costing more than the whole
// limit is admitted into an empty window, or it could never go out.
func (w *window) acquire(ctx context.Context, cost int) error {
	if w == nil || w.quota.Limit <= 0 || cost <= 0 {
		return nil
	}
	for {
		w.mu.Lock()
		now := time.Now()
		w.expire(now)
		held := w.inFlight + w.used
		if held == 0 || held+cost <= w.quota.Limit {
			w.inFlight += cost
			w.mu.Unlock()
			return nil
		}
		// Capacity comes back when the oldest answer leaves the window, or, with nothing
		// answered yet, after the next answer has started its own countdown.
		var timer *time.Timer
		var expired <-chan time.Time
		if w.head < len(w.answered) {
			timer = time.NewTimer(w.answered[w.head].at.Add(w.quota.Window).Sub(now))
			expired = timer.C
		}
		changed := w.changed
		w.mu.Unlock()
		select {
		case <-ctx.Done():
			stopTimer(timer)
			return ctx.Err()
		case <-expired:
		case <-changed:
			stopTimer(timer)
		}
	}
}

// release records the answer to an admitted request: its units stay held for one window.
func (w *window) release(cost int) { w.settle(cost, true) }

// abandon gives back units of a request that was admitted but never sent.
func (w *window) abandon(cost int) { w.settle(cost, false) }

func (w *window) settle(cost int, answered bool) {
	if w == nil || w.quota.Limit <= 0 || cost <= 0 {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.inFlight -= cost
	if answered {
		w.answered = append(w.answered, stamp{at: time.Now(), cost: cost})
		w.used += cost
	}
	// Wake the waiters: an answer starts a countdown some of them had none for, and an
	// abandoned request frees its units at once.
	close(w.changed)
	w.changed = make(chan struct{})
}

// expire forgets answers older than the window. The caller holds mu.
func (w *window) expire(now time.Time) {
	cutoff := now.Add(-w.quota.Window)
	for w.head < len(w.answered) && !w.answered[w.head].at.After(cutoff) {
		w.used -= w.answered[w.head].cost
		w.head++
	}
	// Compact once the dead prefix dominates, so memory follows the limit, not the history.
	if w.head > 64 && w.head*2 >= len(w.answered) {
		n := copy(w.answered, w.answered[w.head:])
		clear(w.answered[n:])
		w.answered = w.answered[:n]
		w.head = 0
	}
}

func stopTimer(t *time.Timer) {
	if t != nil {
		t.Stop()
	}
}
