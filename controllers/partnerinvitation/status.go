package partnerinvitation

import (
	"context"
	"errors"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	b2bv1alpha1 "github.com/partnerops/partner-operator/api/v1alpha1"
	"github.com/partnerops/partner-operator/internal/graph"
)

// Event reasons, typed so they read the same everywhere. Events never carry the redemption URL.
const (
	eventInvited        = "Invited"
	eventAdopted        = "Adopted"
	eventReinvited      = "Reinvited"
	eventHandedOver     = "HandedOver"
	eventRedeemed       = "Redeemed"
	eventUpdated        = "Updated"
	eventGuestDeleted   = "GuestDeleted"
	eventGuestOrphaned  = "GuestOrphaned"
	eventGuestKept      = "GuestKept"
	eventURLRecovered   = "RedeemURLRecovered"
	eventConflict       = "Conflict"
	eventGraphError     = "GraphError"
	eventStalled        = "Stalled"
	eventThrottled      = "Throttled"
	eventExpiringSoon   = "ExpiringSoon"
	eventExpired        = "Expired"
	eventAccessRestored = "AccessRestored"
)

// blockedError stops a reconcile for a reason the object reports as Ready=False: stalled when a
// person has to act (kstatus Failed, Argo CD Degraded), progressing otherwise. It comes back
// after retryAfter, or when a watched object changes; backoff asks for the rate limiter's
// exponential backoff instead.
type blockedError struct {
	reason     string
	message    string
	stalled    bool
	terminal   bool
	backoff    bool
	retryAfter time.Duration
}

func (e *blockedError) Error() string { return e.message }

// findings is what one reconcile learned besides status fields; the conditions are derived
// from it, and from status, in one place (report).
type findings struct {
	// established says how this reconcile came to manage the guest, when it did.
	established, establishedMsg string
	// reinvitedFrom is a guest that was deleted outside the operator.
	reinvitedFrom string
	// access is the outcome of the access pass, nil when it did not run; sponsors likewise.
	access, sponsors *accessOutcome
	// expiry is the effective expiry, nil when it was not computed.
	expiry   *expiryFinding
	deleting bool
}

// report turns the reconcile's outcome into the requeue and the conditions. It is the only
// place conditions are set, so every path sets and clears all of them.
func (r *Reconciler) report(pinv *b2bv1alpha1.PartnerInvitation, f *findings, res ctrl.Result, err error) (ctrl.Result, error) {
	blocker, res, err := classify(res, err)
	deriveConditions(pinv, f, blocker)
	return res, err
}

// classify sorts an error into what the object reports and how the reconcile is retried:
// throttling waits for Retry-After, terminal errors stall until the spec changes, blocked
// objects wait for their poll or a watch, the rest back off.
func classify(res ctrl.Result, err error) (*blockedError, ctrl.Result, error) {
	var blocked *blockedError
	switch {
	case err == nil:
		return nil, res, nil
	case errors.As(err, &blocked):
		switch {
		case blocked.terminal:
			return blocked, ctrl.Result{}, reconcile.TerminalError(err)
		case blocked.backoff:
			return blocked, ctrl.Result{}, err
		}
		return blocked, ctrl.Result{RequeueAfter: jitter(blocked.retryAfter)}, nil
	}
	if op, permission, ok := graph.MissingPermission(err); ok {
		// A person has to grant it; looking again now and then notices when they have.
		return &blockedError{reason: b2bv1alpha1.ReasonPermissionDenied, stalled: true, message: fmt.Sprintf(
				"Microsoft Graph refused %s (403): grant the operator's application %s, with admin consent (%v)", op, permission, err)},
			ctrl.Result{RequeueAfter: jitter(10 * time.Minute)}, nil
	}
	if wait, ok := graph.RetryAfter(err); ok {
		return &blockedError{reason: b2bv1alpha1.ReasonThrottled, message: "Microsoft Graph is throttling requests; retrying after " + wait.String()},
			ctrl.Result{RequeueAfter: wait}, nil
	}
	reason := b2bv1alpha1.ReasonKubernetesError
	var gerr *graph.Error
	if errors.As(err, &gerr) {
		reason = b2bv1alpha1.ReasonGraphError
	}
	if graph.IsTerminal(err) {
		return &blockedError{reason: reason, message: err.Error(), stalled: true}, ctrl.Result{}, reconcile.TerminalError(err)
	}
	return &blockedError{reason: reason, message: err.Error()}, ctrl.Result{}, err
}

// deriveConditions sets Invited, Redeemed, AccessGranted, Ready and Stalled from the status and
// the findings, each stamped with the generation.
func deriveConditions(pinv *b2bv1alpha1.PartnerInvitation, f *findings, blocker *blockedError) {
	st := &pinv.Status
	switch invited := meta.FindStatusCondition(st.Conditions, b2bv1alpha1.ConditionInvited); {
	case st.UserID != "" && f.established != "":
		setCondition(pinv, b2bv1alpha1.ConditionInvited, metav1.ConditionTrue, f.established, f.establishedMsg)
	case st.UserID != "" && invited != nil && invited.Status == metav1.ConditionTrue:
		setCondition(pinv, b2bv1alpha1.ConditionInvited, metav1.ConditionTrue, invited.Reason, invited.Message)
	case st.UserID != "":
		setCondition(pinv, b2bv1alpha1.ConditionInvited, metav1.ConditionTrue, b2bv1alpha1.ReasonInvitationSent,
			fmt.Sprintf("Guest %s exists for the address in spec.email", st.UserID))
	case f.reinvitedFrom != "":
		setCondition(pinv, b2bv1alpha1.ConditionInvited, metav1.ConditionFalse, b2bv1alpha1.ReasonReinvited,
			fmt.Sprintf("Guest %s was deleted outside the operator; sending a new invitation", f.reinvitedFrom))
	case blocker != nil && blocker.stalled:
		setCondition(pinv, b2bv1alpha1.ConditionInvited, metav1.ConditionFalse, blocker.reason, blocker.message)
	case st.Expiry != nil && st.Expiry.Action == b2bv1alpha1.ExpiryDelete:
		setCondition(pinv, b2bv1alpha1.ConditionInvited, metav1.ConditionFalse, b2bv1alpha1.ReasonGuestDeleted,
			"The guest account was deleted when its access ended")
	case invited != nil && invited.Reason == b2bv1alpha1.ReasonReinvited:
		setCondition(pinv, b2bv1alpha1.ConditionInvited, metav1.ConditionFalse, invited.Reason, invited.Message)
	default:
		setCondition(pinv, b2bv1alpha1.ConditionInvited, metav1.ConditionFalse, b2bv1alpha1.ReasonNotInvited, "No invitation has been sent yet")
	}

	switch {
	case st.UserID == "":
		meta.RemoveStatusCondition(&st.Conditions, b2bv1alpha1.ConditionRedeemed)
	case st.State == b2bv1alpha1.StateAccepted && st.AutomaticallyRedeemed:
		setCondition(pinv, b2bv1alpha1.ConditionRedeemed, metav1.ConditionTrue, b2bv1alpha1.ReasonAutomaticRedemption,
			"Redeemed automatically as it was sent: both organizations' cross-tenant access settings allow automatic redemption, so no mail and no consent prompt")
	case st.State == b2bv1alpha1.StateAccepted:
		setCondition(pinv, b2bv1alpha1.ConditionRedeemed, metav1.ConditionTrue, b2bv1alpha1.ReasonAccepted, "The partner redeemed the invitation")
	case st.State == b2bv1alpha1.StatePendingAcceptance:
		setCondition(pinv, b2bv1alpha1.ConditionRedeemed, metav1.ConditionFalse, b2bv1alpha1.ReasonPendingAcceptance, "The partner has not redeemed the invitation yet")
	default:
		// Graph reports no state for guests created before redemption tracking, or synced
		// ones: nothing to wait for.
		setCondition(pinv, b2bv1alpha1.ConditionRedeemed, metav1.ConditionUnknown, b2bv1alpha1.ReasonNotReported, "Graph reports no redemption state for this guest")
	}

	if f.access != nil {
		reportAccess(pinv, *f.access)
	}
	if f.expiry != nil {
		reportExpiry(pinv, f.expiry)
	}

	ready := readiness(pinv, f, blocker)
	setCondition(pinv, b2bv1alpha1.ConditionReady, ready.status, ready.reason, ready.message)
	if ready.stalled {
		setCondition(pinv, b2bv1alpha1.ConditionStalled, metav1.ConditionTrue, ready.reason, ready.message)
	} else {
		meta.RemoveStatusCondition(&st.Conditions, b2bv1alpha1.ConditionStalled)
	}
}

type verdict struct {
	status          metav1.ConditionStatus
	reason, message string
	stalled         bool
}

// readiness is Ready's verdict: what blocked the reconcile, else what access still lacks,
// else in sync.
func readiness(pinv *b2bv1alpha1.PartnerInvitation, f *findings, blocker *blockedError) verdict {
	st := &pinv.Status
	switch {
	case blocker != nil:
		return verdict{metav1.ConditionFalse, blocker.reason, blocker.message, blocker.stalled}
	case f.deleting:
		return verdict{metav1.ConditionFalse, b2bv1alpha1.ReasonDeleting, "The object is being deleted", false}
	case st.Expiry != nil:
		// Ended as the spec asked: the desired state, not a failure (kstatus Current, Argo CD
		// Healthy); Expired says what was done.
		return verdict{metav1.ConditionTrue, b2bv1alpha1.ReasonExpired, "Access ended as planned; see the Expired condition", false}
	}
	for _, part := range []struct {
		what    string
		outcome *accessOutcome
	}{{"spec.access cannot be granted in full", f.access}, {"spec.sponsors cannot be set in full", f.sponsors}} {
		switch o := part.outcome; {
		case o != nil && len(o.problems) > 0:
			// A group that does not exist or a grant a policy forbids needs a person; the
			// object looks again now and then, but it is not making progress on its own.
			return verdict{metav1.ConditionFalse, o.problems[0].reason, part.what + ": " + problemList(o.problems), true}
		case o != nil && o.pending != nil:
			return verdict{metav1.ConditionFalse, b2bv1alpha1.ReasonAccessPending, "Waiting for Microsoft Graph to make the new guest visible to groups and applications", false}
		}
	}
	return verdict{metav1.ConditionTrue, b2bv1alpha1.ReasonInSync, "The invitation exists and the guest matches the spec", false}
}

// patchStatus writes the status once per reconcile, and only when it changed. The write
// carries the resourceVersion this reconcile last saw: a reconcile that started from a stale
// cache gets a conflict (and a quiet requeue) instead of overwriting newer conditions. Events
// are derived from the condition transitions, after the write, so a discarded reconcile
// reports nothing. The top-level observedGeneration moves only when the reconcile succeeded
// (or stalled on a terminal error, which is a settled answer for this generation).
func (r *Reconciler) patchStatus(ctx context.Context, before, after *b2bv1alpha1.PartnerInvitation, reconcileErr error) error {
	if reconcileErr == nil || isTerminal(reconcileErr) {
		after.Status.ObservedGeneration = after.Generation
	}
	if equality.Semantic.DeepEqual(before.Status, after.Status) {
		return nil
	}
	// The lock is on the last version this reconcile wrote (annotations move it), not the
	// version it started from.
	if err := r.fenceCheck(); err != nil {
		return err
	}
	base := before.DeepCopy()
	base.ResourceVersion = after.ResourceVersion
	err := r.Status().Patch(ctx, after, client.MergeFromWithOptions(base, client.MergeFromWithOptimisticLock{}))
	if apierrors.IsNotFound(err) {
		return nil // the finalizer came off and the object is gone
	}
	if err != nil {
		return err
	}
	r.emitTransitions(after, before.Status.Conditions, after.Status.Conditions)
	return nil
}

// emitTransitions records an event for each condition that changed in a way a person cares
// about. Events never carry the redemption URL.
func (r *Reconciler) emitTransitions(pinv *b2bv1alpha1.PartnerInvitation, before, after []metav1.Condition) {
	changed := func(typ string, status metav1.ConditionStatus) (*metav1.Condition, bool) {
		now := meta.FindStatusCondition(after, typ)
		if now == nil || now.Status != status {
			return nil, false
		}
		was := meta.FindStatusCondition(before, typ)
		return now, was == nil || was.Status != now.Status || was.Reason != now.Reason || was.Message != now.Message
	}
	if c, ok := changed(b2bv1alpha1.ConditionInvited, metav1.ConditionTrue); ok {
		switch c.Reason {
		case b2bv1alpha1.ReasonAdopted:
			r.event(pinv, corev1.EventTypeNormal, eventAdopted, "Adopt", c.Message)
		case b2bv1alpha1.ReasonHandedOver:
			r.event(pinv, corev1.EventTypeNormal, eventHandedOver, "Adopt", c.Message)
		case b2bv1alpha1.ReasonReinvited:
			r.event(pinv, corev1.EventTypeWarning, eventReinvited, "Invite", c.Message)
		default:
			r.event(pinv, corev1.EventTypeNormal, eventInvited, "Invite", c.Message)
		}
	}
	if c, ok := changed(b2bv1alpha1.ConditionRedeemed, metav1.ConditionTrue); ok {
		r.event(pinv, corev1.EventTypeNormal, eventRedeemed, "Redeem", c.Message)
		// Once per redemption: this runs after the status write that made Redeemed True.
		if was := meta.FindStatusCondition(before, b2bv1alpha1.ConditionRedeemed); was == nil || was.Status != metav1.ConditionTrue {
			r.Metrics.observeRedemption(pinv)
		}
	}
	if c, ok := changed(b2bv1alpha1.ConditionStalled, metav1.ConditionTrue); ok {
		reason := eventStalled
		if c.Reason == b2bv1alpha1.ReasonConflict {
			reason = eventConflict
		}
		r.event(pinv, corev1.EventTypeWarning, reason, "Reconcile", c.Message)
	}
	if c, ok := changed(b2bv1alpha1.ConditionExpired, metav1.ConditionTrue); ok {
		r.event(pinv, corev1.EventTypeWarning, eventExpired, "Expire", c.Message)
		r.Metrics.countExpired(c.Reason)
	}
	if c, ok := changed(b2bv1alpha1.ConditionExpired, metav1.ConditionFalse); ok && c.Reason == b2bv1alpha1.ReasonExpiringSoon {
		if was := meta.FindStatusCondition(before, b2bv1alpha1.ConditionExpired); was == nil || was.Reason != c.Reason {
			r.event(pinv, corev1.EventTypeWarning, eventExpiringSoon, "Expire", c.Message)
			r.Metrics.countExpiryWarning()
		}
	}
	if c, ok := changed(b2bv1alpha1.ConditionReady, metav1.ConditionFalse); ok {
		switch c.Reason {
		case b2bv1alpha1.ReasonGraphError:
			r.event(pinv, corev1.EventTypeWarning, eventGraphError, "Reconcile", c.Message)
		case b2bv1alpha1.ReasonThrottled:
			r.event(pinv, corev1.EventTypeWarning, eventThrottled, "Reconcile", c.Message)
		}
	}
}

func isTerminal(err error) bool {
	return err != nil && errors.Is(err, reconcile.TerminalError(nil))
}

// setCondition stamps the object's generation on the condition, as kstatus expects.
func setCondition(pinv *b2bv1alpha1.PartnerInvitation, typ string, status metav1.ConditionStatus, reason, message string) {
	meta.SetStatusCondition(&pinv.Status.Conditions, metav1.Condition{
		Type: typ, Status: status, Reason: reason, Message: message, ObservedGeneration: pinv.Generation,
	})
}

// observeRedemption copies Graph's redemption state into status.
func observeRedemption(pinv *b2bv1alpha1.PartnerInvitation, guest *graph.User) {
	pinv.Status.UserID = guest.ID
	switch guest.ExternalUserState {
	case string(b2bv1alpha1.StateAccepted):
		pinv.Status.State = b2bv1alpha1.StateAccepted
		if !guest.ExternalUserStateChangedAt.IsZero() {
			t := metav1.NewTime(guest.ExternalUserStateChangedAt)
			pinv.Status.RedeemedAt = &t
		}
	case string(b2bv1alpha1.StatePendingAcceptance):
		pinv.Status.State = b2bv1alpha1.StatePendingAcceptance
		pinv.Status.RedeemedAt = nil
		pinv.Status.AutomaticallyRedeemed = false // reset: the next redemption is the partner's
	default:
		pinv.Status.State = ""
	}
}

func (r *Reconciler) event(pinv *b2bv1alpha1.PartnerInvitation, eventType, reason, action, note string) {
	if r.Recorder == nil {
		return
	}
	r.Recorder.Eventf(pinv, nil, eventType, reason, action, "%s", note)
}
