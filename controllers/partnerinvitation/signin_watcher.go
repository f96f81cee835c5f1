package partnerinvitation

import (
	"context"
	"fmt"
	"time"

	"github.com/go-logr/logr"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"

	b2bv1alpha1 "github.com/partnerops/partner-operator/api/v1alpha1"
	"github.com/partnerops/partner-operator/internal/graph"
	"github.com/partnerops/partner-operator/internal/signin"
	"github.com/partnerops/partner-operator/internal/tenant"
)

// DefaultSignInInterval is how often a tenant's guests' sign-in activity is read: four rounds a
// day, 20 requests each at 10,000 guests. Graph's own signInActivity lags by hours, so reading
// more often would tell little more.
const DefaultSignInInterval = 6 * time.Hour

// SignInWatcher reads one tenant's guests' sign-in activity in one paged listing a round
// (GET /users?$select=id,signInActivity, 500 guests a page), never per object, while a
// PartnerAccessPolicy sets inactivity, and writes each
// newer last successful sign-in into the status of the guest's PartnerInvitation
// (status.lastSignInAt). Only the operator can write status, so the inactivity clock cannot be
// reset by a namespace editor.
type SignInWatcher struct {
	Client   client.Client
	SignIns  graph.SignInReader
	Interval time.Duration
	Activity *signin.Activity
	// Tenant is the tenant whose objects this watcher writes; other tenants' are left alone.
	Tenant tenant.Ref
	// Events enqueues an object whose warning a sign-in may have ended.
	Events chan<- event.GenericEvent
	Log    logr.Logger
	// Clock dates the reads, on the reconciler's clock, which the deadlines are on; nil: the
	// real one.
	Clock clock.PassiveClock
}

// NeedLeaderElection: only the leader reads Graph and writes status.
func (w *SignInWatcher) NeedLeaderElection() bool { return true }

// Start runs rounds an interval apart until ctx ends, while some PartnerAccessPolicy sets
// inactivity: without one, nothing is read (no request, and no AuditLog.Read.All needed). The
// policies are looked at every minute, so a new one is served within a minute.
func (w *SignInWatcher) Start(ctx context.Context) error {
	check := min(w.Interval, time.Minute)
	var next time.Time // when the next round may start, on real time
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-timer.C:
		}
		if time.Now().Before(next) || !w.wanted(ctx) {
			timer.Reset(min(check, max(time.Until(next), 0)+time.Millisecond))
			continue
		}
		started, began := w.now(), time.Now()
		err := w.round(ctx)
		if ctx.Err() != nil {
			return nil
		}
		w.record(err, started)
		// Rounds start an interval apart, however long one took.
		next = began.Add(w.Interval)
		if ra, ok := graph.RetryAfter(err); ok && time.Now().Add(ra).After(next) {
			next = time.Now().Add(ra)
		}
		timer.Reset(min(check, max(time.Until(next), 0)+time.Millisecond))
	}
}

// wanted reports whether any policy asks for inactivity.
func (w *SignInWatcher) wanted(ctx context.Context) bool {
	var list b2bv1alpha1.PartnerAccessPolicyList
	if err := w.Client.List(ctx, &list); err != nil {
		w.Log.Error(err, "cannot list PartnerAccessPolicies; sign-ins are read meanwhile")
		return true
	}
	for i := range list.Items {
		if list.Items[i].Spec.Inactivity != nil {
			return true
		}
	}
	return false
}

func (w *SignInWatcher) now() time.Time {
	if w.Clock == nil {
		return time.Now()
	}
	return w.Clock.Now()
}

// record turns a round's outcome into the tenant's state, logging only changes: a tenant
// without the licence says so once, not every round.
func (w *SignInWatcher) record(err error, started time.Time) {
	before := w.Activity.State()
	var reason, message string
	var readAt time.Time
	switch _, permission, denied := graph.MissingPermission(err); {
	case err == nil:
		reason, readAt = b2bv1alpha1.ReasonSignInsRead, started
	case graph.IsNoPremiumLicense(err):
		reason, message = b2bv1alpha1.ReasonNoPremiumLicense,
			"Graph reports sign-in activity only in tenants with a Microsoft Entra ID P1 or P2 licence; inactivity is not enforced there"
	case denied:
		reason, message = b2bv1alpha1.ReasonPermissionDenied,
			fmt.Sprintf("the application lacks %s, which reading sign-in activity needs; inactivity is not enforced there", permission)
	default:
		reason, message = b2bv1alpha1.ReasonSignInsNotRead, fmt.Sprintf("reading sign-in activity failed: %v", err)
	}
	w.Activity.Set(reason, message, readAt)
	switch {
	case before.Reason == reason:
	case err == nil:
		w.Log.Info("sign-in activity is read", "reason", reason)
	default:
		w.Log.Info("sign-in activity cannot be read", "reason", reason, "message", message,
			"graphStatus", graph.StatusCode(err), "graphRequestID", graph.RequestID(err))
	}
}

// round reads every page and writes what is newer. A failed status write fails the round, so
// that a read is complete only when every newer sign-in it saw is on its object.
func (w *SignInWatcher) round(ctx context.Context) error {
	return w.SignIns.ListGuestSignIns(graph.WithLowPriority(ctx), func(page []graph.SignIn) error {
		for i := range page {
			if err := w.apply(ctx, &page[i]); err != nil {
				return err
			}
		}
		return nil
	})
}

func (w *SignInWatcher) apply(ctx context.Context, s *graph.SignIn) error {
	if s.LastSuccessfulSignIn.IsZero() {
		return nil
	}
	var list b2bv1alpha1.PartnerInvitationList
	if err := w.Client.List(ctx, &list, client.MatchingFields{GuestIndex: s.UserID}); err != nil {
		return fmt.Errorf("look up the object of guest %s: %w", s.UserID, err)
	}
	at := metav1.NewTime(s.LastSuccessfulSignIn.UTC().Truncate(time.Second))
	for i := range list.Items {
		pinv := &list.Items[i]
		if tenant.RefOf(pinv) != w.Tenant || !pinv.DeletionTimestamp.IsZero() {
			continue
		}
		if last := pinv.Status.LastSignInAt; last != nil && !at.After(last.Time) {
			continue
		}
		patch := client.MergeFrom(pinv.DeepCopy())
		pinv.Status.LastSignInAt = &at
		if err := w.Client.Status().Patch(ctx, pinv, patch); err != nil && !apierrors.IsNotFound(err) {
			return fmt.Errorf("record the last sign-in of %s/%s: %w", pinv.Namespace, pinv.Name, err)
		}
		if c := meta.FindStatusCondition(pinv.Status.Conditions, b2bv1alpha1.ConditionExpired); w.Events != nil && c != nil && c.Reason == b2bv1alpha1.ReasonExpiringSoon {
			select {
			case w.Events <- event.GenericEvent{Object: pinv}:
			case <-ctx.Done():
				return ctx.Err()
			}
		}
	}
	return nil
}
