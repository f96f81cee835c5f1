package partnerinvitation

import (
	"context"
	"strings"
	"time"

	"github.com/go-logr/logr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"

	b2bv1alpha1 "github.com/partnerops/partner-operator/api/v1alpha1"
	"github.com/partnerops/partner-operator/internal/graph"
)

// GuestIndex maps a guest's user ID to the PartnerInvitation that manages it.
const GuestIndex = "guest.id"

// RedemptionWatcher learns of redemptions, out-of-band deletions and drift from one tenant-wide
// users delta query (Microsoft's documented change-tracking mechanism for users) instead of
// polling each guest: its cost follows the number of changes, not the number of guests. It
// enqueues only the objects whose guest changed in a way their status does not show yet.
type RedemptionWatcher struct {
	Reader    client.Reader
	Directory graph.Directory
	// Interval between delta queries; it bounds how late a redemption is noticed.
	Interval time.Duration
	// FullRoundInterval restarts the delta from scratch now and then, a safety net for a lost
	// change; it costs one page per 100-odd users.
	FullRoundInterval time.Duration
	Events            chan<- event.GenericEvent
	Log               logr.Logger
	// Metrics records each successful round; nil records nothing.
	Metrics *Metrics
	// OwnerID is this installation's; a guest whose ownership record changed to name another
	// owner or object is news to its object.
	OwnerID string
	// Schema opens once the ownership record's properties are registered: the delta selects
	// them. Nil: open.
	Schema *Gate
}

// NeedLeaderElection: only the leader watches, as only the leader reconciles.
func (w *RedemptionWatcher) NeedLeaderElection() bool { return true }

// Start runs until ctx ends.
func (w *RedemptionWatcher) Start(ctx context.Context) error {
	if w.OwnerID != "" {
		if err := w.Schema.Wait(ctx); err != nil {
			return nil
		}
	}
	var link string
	var lastFull time.Time
	timer := time.NewTimer(0)
	defer timer.Stop()
	// Freshness counts from the start: a watcher that never succeeds goes stale too.
	w.Metrics.watcherSucceeded(time.Now())
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-timer.C:
		}
		if link == "" || (w.FullRoundInterval > 0 && time.Since(lastFull) > w.FullRoundInterval) {
			link, lastFull = "", time.Now()
		}
		started := time.Now()
		changes, next, err := w.Directory.UserChanges(graph.WithLowPriority(ctx), link)
		switch {
		case err == nil:
			link = next
			w.Metrics.watcherSucceeded(time.Now())
			w.dispatch(ctx, changes)
			// Rounds start an interval apart, however long one took: the interval is the
			// promise on how late a redemption is noticed, and the request count per hour.
			timer.Reset(max(w.Interval-time.Since(started), 0))
		case ctx.Err() != nil:
			return nil
		default:
			if graph.IsTerminal(err) || graph.IsNotFound(err) {
				link = "" // an expired or unknown delta token: start a new round
			}
			wait := w.Interval
			if ra, ok := graph.RetryAfter(err); ok && ra > wait {
				wait = ra
			}
			w.Log.Info("users delta failed; retrying", "error", err.Error(), "after", wait,
				"graphStatus", graph.StatusCode(err), "graphRequestID", graph.RequestID(err))
			timer.Reset(wait)
		}
	}
}

func (w *RedemptionWatcher) dispatch(ctx context.Context, changes []graph.UserChange) {
	for i := range changes {
		var list b2bv1alpha1.PartnerInvitationList
		if err := w.Reader.List(ctx, &list, client.MatchingFields{GuestIndex: changes[i].ID}); err != nil {
			w.Log.Error(err, "cannot look up the object of a changed guest", "userID", changes[i].ID)
			continue
		}
		for j := range list.Items {
			if stale(&list.Items[j], &changes[i], w.OwnerID) {
				select {
				case w.Events <- event.GenericEvent{Object: &list.Items[j]}:
				case <-ctx.Done():
					return
				}
			}
		}
	}
}

// stale reports whether the change is news to the object: its redemption state, its
// existence, a property the spec sets (profile drift is corrected within one round), or an
// ownership record that no longer names it. A record not written yet is not news: the
// recorder is on its way.
func stale(pinv *b2bv1alpha1.PartnerInvitation, c *graph.UserChange, ownerID string) bool {
	if c.Removed {
		return true
	}
	if o := c.Ownership; ownerID != "" && o.Owner != "" && (o.Owner != ownerID || o.Object != graph.ObjectRef(pinv.Namespace, pinv.Name)) {
		return true
	}
	if len(profileDrift(pinv.Spec.Profile, c.Profile)) > 0 {
		return true
	}
	if c.ExternalUserState != "" && c.ExternalUserState != string(pinv.Status.State) {
		return true
	}
	if pinv.Spec.DisplayName != "" && c.DisplayName != "" && c.DisplayName != pinv.Spec.DisplayName {
		return true
	}
	return c.UserType != "" && !strings.EqualFold(c.UserType, string(userType(pinv)))
}

func indexGuest(o client.Object) []string {
	pinv, ok := o.(*b2bv1alpha1.PartnerInvitation)
	if !ok {
		return nil
	}
	if id := managedUserID(pinv); id != "" {
		return []string{id}
	}
	return nil
}
