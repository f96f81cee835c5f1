package partnerinvitation

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	b2bv1alpha1 "github.com/partnerops/partner-operator/api/v1alpha1"
	"github.com/partnerops/partner-operator/internal/graph"
)

// expiry is when the guest's access ends and what set that time.
type expiry struct {
	at     time.Time
	source string
	// byPendingTimeout: a policy's pendingTimeout set it, which a resend renews.
	byPendingTimeout bool
}

func (e expiry) set() bool                          { return !e.at.IsZero() }
func (e expiry) passed(now time.Time) bool          { return e.set() && !now.Before(e.at) }
func (e expiry) warnFrom(w time.Duration) time.Time { return e.at.Add(-w) }

// expiryFinding is what a reconcile found about the expiry, for the conditions.
type expiryFinding struct {
	expiry
	// soon: inside the warning window, not passed.
	soon bool
	// failed: the expiry action was recorded but Graph refused or failed it this time.
	failed bool
}

// checkExpiry computes the effective expiry at the reconcile's clock and records it for the
// conditions.
func (r *Reconciler) checkExpiry(pinv *b2bv1alpha1.PartnerInvitation, selecting []*b2bv1alpha1.PartnerAccessPolicy, f *findings) expiry {
	exp := effectiveExpiry(pinv, selecting)
	now := r.now()
	f.expiry = &expiryFinding{expiry: exp, soon: exp.set() && !exp.passed(now) && !now.Before(exp.warnFrom(r.opts().ExpiryWarning))}
	return exp
}

// effectiveExpiry is the earliest of spec.expiresAt, each selecting policy's maxAccessDuration
// counted from the invitation, and each pendingTimeout counted from the last send while the
// guest has not redeemed (or redeemed only after it).
func effectiveExpiry(pinv *b2bv1alpha1.PartnerInvitation, selecting []*b2bv1alpha1.PartnerAccessPolicy) expiry {
	var out expiry
	consider := func(at time.Time, source string, pending bool) {
		if !out.set() || at.Before(out.at) {
			out = expiry{at: at, source: source, byPendingTimeout: pending}
		}
	}
	if pinv.Spec.ExpiresAt != nil {
		consider(pinv.Spec.ExpiresAt.Time, "spec.expiresAt", false)
	}
	start := pinv.CreationTimestamp.Time
	if pinv.Status.InvitedAt != nil {
		start = pinv.Status.InvitedAt.Time
	}
	sent := lastSent(pinv)
	for _, p := range selecting {
		if d := p.Spec.MaxAccessDuration; d != nil {
			consider(start.Add(d.Duration), fmt.Sprintf("PartnerAccessPolicy %s maxAccessDuration (%s)", p.Name, d.Duration), false)
		}
		if d := p.Spec.PendingTimeout; d != nil && !sent.IsZero() {
			deadline := sent.Add(d.Duration)
			if !redeemedBy(pinv, deadline) {
				consider(deadline, fmt.Sprintf("PartnerAccessPolicy %s pendingTimeout (%s): not redeemed in time", p.Name, d.Duration), true)
			}
		}
	}
	return out
}

// lastSent is when this object last sent the invitation; zero for an adopted guest.
func lastSent(pinv *b2bv1alpha1.PartnerInvitation) time.Time {
	switch {
	case pinv.Status.LastSentAt != nil:
		return pinv.Status.LastSentAt.Time
	case pinv.Status.InvitedAt != nil:
		return pinv.Status.InvitedAt.Time
	}
	return time.Time{}
}

// redeemedBy says whether the partner redeemed no later than deadline. A redemption after a
// pending timeout does not undo it: the timeout stays until the invitation is sent again.
func redeemedBy(pinv *b2bv1alpha1.PartnerInvitation, deadline time.Time) bool {
	if pinv.Status.State != b2bv1alpha1.StateAccepted {
		return false
	}
	return pinv.Status.RedeemedAt == nil || !pinv.Status.RedeemedAt.After(deadline)
}

// expire takes the expiry action once access has ended. What it does is recorded in status
// before Graph is written, so that a crash at any line cannot lose what must be undone when
// the expiry moves later. Disable and Delete apply only to an account the deletion rules let
// the operator delete; otherwise access is revoked instead, and the status says why.
func (r *Reconciler) expire(ctx context.Context, pinv *b2bv1alpha1.PartnerInvitation, claim *addressClaim, guest *graph.User, exp expiry) error {
	action := expiryAction(pinv)
	note := ""
	if guest == nil {
		note = "no guest account exists; nothing was sent"
	} else if action != b2bv1alpha1.ExpiryRevokeAccess {
		why, err := r.keepGuest(ctx, pinv, claim.record, guest)
		if err != nil {
			return err
		}
		if why != "" {
			note = fmt.Sprintf("spec.expiryAction %s not applied because %s; access was revoked instead", action, why)
			action = b2bv1alpha1.ExpiryRevokeAccess
		}
	}
	if err := r.recordExpiry(ctx, pinv, &b2bv1alpha1.ExpiryStatus{
		Action: action, At: metav1.NewTime(exp.at), Source: exp.source, Note: note,
	}); err != nil {
		return err
	}
	if guest == nil {
		return nil
	}
	switch action {
	case b2bv1alpha1.ExpiryDisable:
		if guest.AccountEnabled != nil && !*guest.AccountEnabled {
			return nil
		}
		return r.Directory.UpdateUser(ctx, guest.ID, graph.UserUpdate{AccountEnabled: ptr.To(false)})
	case b2bv1alpha1.ExpiryDelete:
		if err := r.recordNow(ctx, pinv, guest, claim.record.Origin); err != nil {
			return err
		}
		if err := r.Directory.DeleteUser(ctx, guest.ID); err != nil && !graph.IsNotFound(err) {
			return err
		}
		r.forgetRecord(guest.ID)
		// The account took its memberships and sponsors with it; the claim on the address
		// stays, so no other object invites the partner while this one says the access ended.
		if err := r.save(ctx, pinv, claim, forgetGuest); err != nil {
			return err
		}
		mirror(pinv, claim.record)
		pinv.Status.State, pinv.Status.RedeemedAt = "", nil
		pinv.Status.Access, pinv.Status.Sponsors = nil, nil
		return nil
	}
	return r.revokeAllAccess(ctx, pinv)
}

// restore undoes what an expiry did, once the expiry has moved later or a policy's limit went
// away: it enables the account it disabled. Revoked grants come back with the access pass; a
// deleted guest is invited again.
func (r *Reconciler) restore(ctx context.Context, pinv *b2bv1alpha1.PartnerInvitation, guest *graph.User) error {
	done := pinv.Status.Expiry
	if done == nil {
		return nil
	}
	if done.Action == b2bv1alpha1.ExpiryDisable && guest != nil && guest.AccountEnabled != nil && !*guest.AccountEnabled {
		if err := r.Directory.UpdateUser(ctx, guest.ID, graph.UserUpdate{AccountEnabled: ptr.To(true)}); err != nil {
			return err
		}
		guest.AccountEnabled = ptr.To(true)
	}
	pinv.Status.Expiry = nil
	r.event(pinv, corev1.EventTypeNormal, eventAccessRestored, "Restore", fmt.Sprintf(
		"Access no longer ends at %s; undid %s", done.At.UTC().Format(time.RFC3339), done.Action))
	return nil
}

// recordExpiry writes status.expiry at once, with an optimistic lock: a stale copy fails
// instead of acting on an expiry a newer spec moved.
func (r *Reconciler) recordExpiry(ctx context.Context, pinv *b2bv1alpha1.PartnerInvitation, done *b2bv1alpha1.ExpiryStatus) error {
	if equality.Semantic.DeepEqual(pinv.Status.Expiry, done) {
		return nil
	}
	if err := r.fenceCheck(); err != nil {
		return err
	}
	base := pinv.DeepCopy()
	pinv.Status.Expiry = done
	obj := pinv.DeepCopy()
	if err := r.Status().Patch(ctx, obj, client.MergeFromWithOptions(base, client.MergeFromWithOptimisticLock{})); err != nil {
		pinv.Status.Expiry = base.Status.Expiry
		return err
	}
	pinv.ResourceVersion = obj.ResourceVersion
	return nil
}

// reportExpiry sets status.expiresAt and Expired from the effective expiry: absent when there
// is none, False while it is ahead (ExpiringSoon inside the warning window), True with the
// action once taken (AccessGranted then says False, Expired).
func reportExpiry(pinv *b2bv1alpha1.PartnerInvitation, ef *expiryFinding) {
	st := &pinv.Status
	exp := ef.expiry
	if exp.set() {
		st.ExpiresAt = ptr.To(metav1.NewTime(exp.at))
	} else {
		st.ExpiresAt = nil
	}
	at := exp.at.UTC().Format(time.RFC3339)
	switch done := st.Expiry; {
	case done != nil && ef.failed:
		setCondition(pinv, b2bv1alpha1.ConditionExpired, metav1.ConditionFalse, b2bv1alpha1.ReasonExpiryActionPending, fmt.Sprintf(
			"Access ended at %s (%s); %s is not done yet (see Ready)", done.At.UTC().Format(time.RFC3339), done.Source, done.Action))
	case done != nil:
		msg := fmt.Sprintf("Access ended at %s (%s): %s", done.At.UTC().Format(time.RFC3339), done.Source, expiryActions[done.Action].done)
		if done.Note != "" {
			msg += "; " + done.Note
		}
		setCondition(pinv, b2bv1alpha1.ConditionExpired, metav1.ConditionTrue, expiryActions[done.Action].reason, msg)
		if meta.FindStatusCondition(st.Conditions, b2bv1alpha1.ConditionAccessGranted) != nil || st.Access != nil {
			setCondition(pinv, b2bv1alpha1.ConditionAccessGranted, metav1.ConditionFalse, b2bv1alpha1.ReasonExpired, msg)
		}
	case !exp.set():
		meta.RemoveStatusCondition(&st.Conditions, b2bv1alpha1.ConditionExpired)
	case ef.soon:
		setCondition(pinv, b2bv1alpha1.ConditionExpired, metav1.ConditionFalse, b2bv1alpha1.ReasonExpiringSoon,
			fmt.Sprintf("Access ends at %s (%s), then %s", at, exp.source, expiryActions[expiryAction(pinv)].due))
	default:
		setCondition(pinv, b2bv1alpha1.ConditionExpired, metav1.ConditionFalse, b2bv1alpha1.ReasonExpiryScheduled,
			fmt.Sprintf("Access ends at %s (%s)", at, exp.source))
	}
}

// untilExpiryEvent is how long until the warning window opens or the expiry passes, 0 when
// neither is ahead.
func untilExpiryEvent(exp expiry, now time.Time, warning time.Duration) time.Duration {
	if !exp.set() {
		return 0
	}
	for _, t := range []time.Time{exp.warnFrom(warning), exp.at} {
		if t.After(now) {
			return t.Sub(now)
		}
	}
	return 0
}

func expiryAction(pinv *b2bv1alpha1.PartnerInvitation) b2bv1alpha1.ExpiryAction {
	if pinv.Spec.ExpiryAction == "" {
		return b2bv1alpha1.ExpiryRevokeAccess
	}
	return pinv.Spec.ExpiryAction
}

// expiryActions says, per action, Expired's reason once it is done and what it does, in the
// past and ahead.
var expiryActions = map[b2bv1alpha1.ExpiryAction]struct{ reason, done, due string }{
	b2bv1alpha1.ExpiryRevokeAccess: {b2bv1alpha1.ReasonAccessRevoked, "the grants this object made were revoked", "the grants this object made are revoked"},
	b2bv1alpha1.ExpiryDisable:      {b2bv1alpha1.ReasonAccountDisabled, "the guest account is disabled", "the guest account is disabled"},
	b2bv1alpha1.ExpiryDelete:       {b2bv1alpha1.ReasonGuestDeleted, "the guest account was deleted", "the guest account is deleted"},
}
