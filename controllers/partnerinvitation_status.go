package controllers

import (
	"context"
	"errors"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	b2bv1alpha1 "github.com/partnerops/partner-operator/api/v1alpha1"
	"github.com/partnerops/partner-operator/internal/graph"
)

// Event reasons, typed so they read the same everywhere. Events never carry the redemption URL.
const (
	eventInvited       = "Invited"
	eventAdopted       = "Adopted"
	eventReinvited     = "Reinvited"
	eventRedeemed      = "Redeemed"
	eventUpdated       = "Updated"
	eventGuestDeleted  = "GuestDeleted"
	eventGuestOrphaned = "GuestOrphaned"
	eventConflict      = "Conflict"
	eventGraphError    = "GraphError"
	eventStalled       = "Stalled"
	eventThrottled     = "Throttled"
)

// patchStatus writes the status once per reconcile, and only when it changed. The write
// carries the resourceVersion this reconcile last saw: a reconcile that started from a stale
// cache gets a conflict (and a quiet requeue) instead of overwriting newer conditions. Events
// are derived from the condition transitions, after the write, so a discarded reconcile
// reports nothing. The top-level observedGeneration moves only when the reconcile succeeded
// (or stalled on a terminal error, which is a settled answer for this generation).
func (r *PartnerInvitationReconciler) patchStatus(ctx context.Context, before, after *b2bv1alpha1.PartnerInvitation, reconcileErr error) error {
	if reconcileErr == nil || isTerminal(reconcileErr) {
		after.Status.ObservedGeneration = after.Generation
	}
	if equality.Semantic.DeepEqual(before.Status, after.Status) {
		return nil
	}
	// The lock is on the last version this reconcile wrote (annotations move it), not the
	// version it started from.
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
func (r *PartnerInvitationReconciler) emitTransitions(pinv *b2bv1alpha1.PartnerInvitation, before, after []metav1.Condition) {
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
		case b2bv1alpha1.ReasonReinvited:
			r.event(pinv, corev1.EventTypeWarning, eventReinvited, "Invite", c.Message)
		default:
			r.event(pinv, corev1.EventTypeNormal, eventInvited, "Invite", c.Message)
		}
	}
	if c, ok := changed(b2bv1alpha1.ConditionRedeemed, metav1.ConditionTrue); ok {
		r.event(pinv, corev1.EventTypeNormal, eventRedeemed, "Redeem", c.Message)
	}
	if c, ok := changed(b2bv1alpha1.ConditionStalled, metav1.ConditionTrue); ok {
		reason := eventStalled
		if c.Reason == b2bv1alpha1.ReasonConflict {
			reason = eventConflict
		}
		r.event(pinv, corev1.EventTypeWarning, reason, "Reconcile", c.Message)
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

func (r *PartnerInvitationReconciler) markInSync(pinv *b2bv1alpha1.PartnerInvitation) {
	meta.RemoveStatusCondition(&pinv.Status.Conditions, b2bv1alpha1.ConditionStalled)
	setCondition(pinv, b2bv1alpha1.ConditionReady, metav1.ConditionTrue, b2bv1alpha1.ReasonInSync,
		"The invitation exists and the guest matches the spec")
}

func (r *PartnerInvitationReconciler) markNotReady(pinv *b2bv1alpha1.PartnerInvitation, reason, message string) {
	setCondition(pinv, b2bv1alpha1.ConditionReady, metav1.ConditionFalse, reason, message)
	if meta.FindStatusCondition(pinv.Status.Conditions, b2bv1alpha1.ConditionInvited) == nil {
		setCondition(pinv, b2bv1alpha1.ConditionInvited, metav1.ConditionFalse, b2bv1alpha1.ReasonNotInvited, "No invitation has been sent yet")
	}
}

// markStalled reports an error that retrying cannot fix: kstatus reads Stalled=True as Failed.
func (r *PartnerInvitationReconciler) markStalled(pinv *b2bv1alpha1.PartnerInvitation, reason, message string) {
	setCondition(pinv, b2bv1alpha1.ConditionStalled, metav1.ConditionTrue, reason, message)
	setCondition(pinv, b2bv1alpha1.ConditionReady, metav1.ConditionFalse, reason, message)
	if meta.FindStatusCondition(pinv.Status.Conditions, b2bv1alpha1.ConditionInvited) == nil {
		setCondition(pinv, b2bv1alpha1.ConditionInvited, metav1.ConditionFalse, b2bv1alpha1.ReasonNotInvited, "No invitation has been sent yet")
	}
}

// markConflict reports that another object or a member account holds the address. It is a
// settled answer until that changes, so it stalls rather than retries.
func (r *PartnerInvitationReconciler) markConflict(pinv *b2bv1alpha1.PartnerInvitation, message string) {
	setCondition(pinv, b2bv1alpha1.ConditionReady, metav1.ConditionFalse, b2bv1alpha1.ReasonConflict, message)
	setCondition(pinv, b2bv1alpha1.ConditionStalled, metav1.ConditionTrue, b2bv1alpha1.ReasonConflict, message)
	setCondition(pinv, b2bv1alpha1.ConditionInvited, metav1.ConditionFalse, b2bv1alpha1.ReasonConflict, message)
}

func (r *PartnerInvitationReconciler) recordInvited(pinv *b2bv1alpha1.PartnerInvitation) {
	reason, msg := b2bv1alpha1.ReasonInvitationSent, fmt.Sprintf("Invited %s as guest %s", pinv.Spec.Email, pinv.Status.UserID)
	if c := meta.FindStatusCondition(pinv.Status.Conditions, b2bv1alpha1.ConditionInvited); c != nil && c.Reason == b2bv1alpha1.ReasonReinvited {
		reason, msg = b2bv1alpha1.ReasonReinvited, fmt.Sprintf("Re-invited %s as guest %s after the previous guest was deleted outside the operator", pinv.Spec.Email, pinv.Status.UserID)
	}
	setCondition(pinv, b2bv1alpha1.ConditionInvited, metav1.ConditionTrue, reason, msg)
	setCondition(pinv, b2bv1alpha1.ConditionRedeemed, metav1.ConditionFalse, b2bv1alpha1.ReasonPendingAcceptance, "The partner has not redeemed the invitation yet")
}

// recordReinvite notes that the guest vanished; recordInvited then words its condition so.
func (r *PartnerInvitationReconciler) recordReinvite(pinv *b2bv1alpha1.PartnerInvitation, oldID string) {
	msg := fmt.Sprintf("Guest %s was deleted outside the operator; sending a new invitation", oldID)
	setCondition(pinv, b2bv1alpha1.ConditionInvited, metav1.ConditionFalse, b2bv1alpha1.ReasonReinvited, msg)
	pinv.Status.State = ""
	pinv.Status.RedeemedAt = nil
}

func (r *PartnerInvitationReconciler) recordAdoption(pinv *b2bv1alpha1.PartnerInvitation, guest *graph.User) {
	pinv.Status.Adopted = true
	msg := fmt.Sprintf("Adopted existing guest %s; no invitation was sent", guest.ID)
	setCondition(pinv, b2bv1alpha1.ConditionInvited, metav1.ConditionTrue, b2bv1alpha1.ReasonAdopted, msg)
}

func (r *PartnerInvitationReconciler) recordUpdated(pinv *b2bv1alpha1.PartnerInvitation) {
	r.event(pinv, corev1.EventTypeNormal, eventUpdated, "Update", "Updated the guest's display name or user type to match the spec")
}

// observeRedemption copies Graph's redemption state into status and reports the transition.
func (r *PartnerInvitationReconciler) observeRedemption(pinv *b2bv1alpha1.PartnerInvitation, guest *graph.User) {
	if c := meta.FindStatusCondition(pinv.Status.Conditions, b2bv1alpha1.ConditionInvited); c == nil || c.Status != metav1.ConditionTrue {
		setCondition(pinv, b2bv1alpha1.ConditionInvited, metav1.ConditionTrue, b2bv1alpha1.ReasonInvitationSent,
			fmt.Sprintf("Guest %s exists for %s", guest.ID, pinv.Spec.Email))
	}
	pinv.Status.UserID = guest.ID
	switch guest.ExternalUserState {
	case string(b2bv1alpha1.StateAccepted):
		pinv.Status.State = b2bv1alpha1.StateAccepted
		if !guest.ExternalUserStateChangedAt.IsZero() {
			t := metav1.NewTime(guest.ExternalUserStateChangedAt)
			pinv.Status.RedeemedAt = &t
		}
		setCondition(pinv, b2bv1alpha1.ConditionRedeemed, metav1.ConditionTrue, b2bv1alpha1.ReasonAccepted, "The partner redeemed the invitation")
	case string(b2bv1alpha1.StatePendingAcceptance):
		pinv.Status.State = b2bv1alpha1.StatePendingAcceptance
		pinv.Status.RedeemedAt = nil
		setCondition(pinv, b2bv1alpha1.ConditionRedeemed, metav1.ConditionFalse, b2bv1alpha1.ReasonPendingAcceptance, "The partner has not redeemed the invitation yet")
	default:
		// Graph reports no state for guests created before redemption tracking, or synced
		// ones: nothing to wait for.
		pinv.Status.State = ""
		setCondition(pinv, b2bv1alpha1.ConditionRedeemed, metav1.ConditionUnknown, "NotReported", "Graph reports no redemption state for this guest")
	}
}

func (r *PartnerInvitationReconciler) event(pinv *b2bv1alpha1.PartnerInvitation, eventType, reason, action, note string) {
	if r.Recorder == nil {
		return
	}
	r.Recorder.Eventf(pinv, nil, eventType, reason, action, "%s", note)
}
