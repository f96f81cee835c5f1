package partnerinvitation

import (
	"errors"
	"time"

	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/partnerops/partner-operator/internal/graph"
)

// Fence admits writes only while this replica surely holds the leader lease (internal/leader).
type Fence interface {
	// Check is nil while this replica may write, else an error wrapping graph.ErrFenced.
	Check() error
	// LeaderSince is when this replica's term as leader began; zero when unknown.
	LeaderSince() time.Time
}

// fenceCheck guards the writes that record what Graph did or what the directory holds (status,
// the claim's record): a deposed leader's view may be stale, and the leader now in charge
// writes its own.
func (r *Reconciler) fenceCheck() error {
	if r.Fence == nil {
		return nil
	}
	return r.Fence.Check()
}

// leaderSince is when this replica began to lead; zero without a fence.
func (r *Reconciler) leaderSince() time.Time {
	if r.Fence == nil {
		return time.Time{}
	}
	return r.Fence.LeaderSince()
}

// fencedResult looks again soon: if this replica still leads after all, its next renewal
// reopens the fence; if not, it exits when the elector notices.
var fencedResult = ctrl.Result{RequeueAfter: time.Second}

func isFenced(err error) bool { return errors.Is(err, graph.ErrFenced) }
