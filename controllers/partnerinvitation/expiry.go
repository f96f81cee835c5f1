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
	"github.com/partnerops/partner-operator/internal/signin"
)

// expiry is when the guest's access ends, what set that time and what happens then.
type expiry struct {
	at     time.Time
	source string
	rule   b2bv1alpha1.ExpiryRule
	action b2bv1alpha1.ExpiryAction
	// warn is the rule's own warning window; 0 takes the operator's --expiry-warning.
	warn time.Duration
	// unconfirmed: an inactivity deadline no complete read of sign-ins since has confirmed yet;
	// it is not acted on until one has.
	unconfirmed bool
}

func (e expiry) set() bool { return !e.at.IsZero() }

// passed reports whether the expiry is due for its action.
func (e expiry) passed(now time.Time) bool { return e.set() && !now.Before(e.at) && !e.unconfirmed }

func (e expiry) warnFrom(fallback time.Duration) time.Time {
	if e.warn > 0 {
		return e.at.Add(-e.warn)
	}
	return e.at.Add(-fallback)
}

// expiryFinding is what a reconcile found about the expiry, for the conditions.
type expiryFinding struct {
	expiry
	// soon: inside the warning window, not passed.
	soon bool
	// failed: the expiry action was recorded but Graph refused or failed it this time.
	failed bool
	// awaitingSignIns: an inactivity deadline has passed and waits for a read of sign-ins
	// that started after it.
	awaitingSignIns bool
	// recertificationDue is when the guest must next be recertified; zero when no selecting
	// policy requires it.
	recertificationDue time.Time
}

// checkExpiry computes the effective expiry at the reconcile's clock and records it for the
// conditions.
func (r *Reconciler) checkExpiry(pinv *b2bv1alpha1.PartnerInvitation, selecting []*b2bv1alpha1.PartnerAccessPolicy, f *findings) expiry {
	now := r.now()
	var signIns *signin.Activity
	if r.tenant != nil {
		signIns = r.tenant.SignIns
	}
	exp := effectiveExpiry(pinv, selecting, now, signIns)
	f.expiry = &expiryFinding{
		expiry:             exp,
		soon:               exp.set() && now.Before(exp.at) && !now.Before(exp.warnFrom(r.opts().ExpiryWarning)),
		awaitingSignIns:    exp.unconfirmed && !now.Before(exp.at),
		recertificationDue: recertificationDue(pinv, selecting, now),
	}
	return exp
}

// effectiveExpiry is the earliest of spec.expiresAt, each selecting policy's maxAccessDuration
// counted from the invitation, each pendingTimeout counted from the last send while the guest
// has not redeemed (or redeemed only after it), each recertification rule counted from the
// last recertification, and, where the tenant's sign-ins are read, each inactivity rule
// counted from the guest's last activity.
func effectiveExpiry(pinv *b2bv1alpha1.PartnerInvitation, selecting []*b2bv1alpha1.PartnerAccessPolicy, now time.Time, signIns *signin.Activity) expiry {
	var out expiry
	consider := func(e expiry) {
		if !out.set() || e.at.Before(out.at) {
			out = e
		}
	}
	own := expiryAction(pinv)
	if pinv.Spec.ExpiresAt != nil {
		consider(expiry{at: pinv.Spec.ExpiresAt.Time, source: "spec.expiresAt", rule: b2bv1alpha1.RuleExpiresAt, action: own})
	}
	start := accessStart(pinv)
	sent := lastSent(pinv)
	recertified := recertifiedAt(pinv, now)
	var inactive []expiry
	for _, p := range selecting {
		if d := p.Spec.MaxAccessDuration; d != nil {
			consider(expiry{at: start.Add(d.Duration), source: fmt.Sprintf("PartnerAccessPolicy %s maxAccessDuration (%s)", p.Name, d.Duration),
				rule: b2bv1alpha1.RuleMaxAccessDuration, action: own})
		}
		if d := p.Spec.PendingTimeout; d != nil && !sent.IsZero() {
			deadline := sent.Add(d.Duration)
			if !redeemedBy(pinv, deadline) {
				consider(expiry{at: deadline, source: fmt.Sprintf("PartnerAccessPolicy %s pendingTimeout (%s): not redeemed in time", p.Name, d.Duration),
					rule: b2bv1alpha1.RulePendingTimeout, action: own})
			}
		}
		if rc := p.Spec.Recertification; rc != nil {
			from := latest(start, recertified)
			consider(expiry{at: from.Add(rc.Every.Duration), source: fmt.Sprintf("PartnerAccessPolicy %s recertification (every %s): not recertified since %s",
				p.Name, rc.Every.Duration, from.UTC().Format(time.RFC3339)), rule: b2bv1alpha1.RuleRecertification, action: ruleAction(rc.Action), warn: warnOf(rc.Warn)})
		}
		if in := p.Spec.Inactivity; in != nil && actedOnInactivity(pinv, recertified) {
			// What inactivity did stands until a recertification, whatever was read since (a
			// deleted guest has no redemption left to count from).
			done := pinv.Status.Expiry
			inactive = append(inactive, expiry{at: done.At.Time, source: done.Source, rule: b2bv1alpha1.RuleInactivity, action: ruleAction(in.Action), warn: warnOf(in.Warn)})
		} else if in != nil && pinv.Status.State == b2bv1alpha1.StateAccepted && signIns.Enforced() {
			from := lastActivity(pinv, start, recertified)
			at := from.Add(in.After.Duration)
			inactive = append(inactive, expiry{at: at, source: fmt.Sprintf("PartnerAccessPolicy %s inactivity (%s): no sign-in since %s",
				p.Name, in.After.Duration, from.UTC().Format(time.RFC3339)), rule: b2bv1alpha1.RuleInactivity, action: ruleAction(in.Action), warn: warnOf(in.Warn),
				unconfirmed: !signIns.ReadSince(at)})
		}
	}
	// An inactivity deadline that waits for a read of sign-ins does not hold back another
	// limit that has passed.
	for _, e := range inactive {
		if e.unconfirmed && !now.Before(e.at) && out.passed(now) {
			continue
		}
		consider(e)
	}
	return out
}

// accessStart is when access began: the invitation, or for an adopted guest the object's
// creation.
func accessStart(pinv *b2bv1alpha1.PartnerInvitation) time.Time {
	if pinv.Status.InvitedAt != nil {
		return pinv.Status.InvitedAt.Time
	}
	return pinv.CreationTimestamp.Time
}

// recertificationSkew is how far ahead of the operator's clock spec.recertification.at may be
// and still count: clocks differ by seconds, not by days.
const recertificationSkew = 5 * time.Minute

// recertifiedAt is spec.recertification.at, zero when there is none or it lies in the future
// (a recertification cannot be made in advance).
func recertifiedAt(pinv *b2bv1alpha1.PartnerInvitation, now time.Time) time.Time {
	rc := pinv.Spec.Recertification
	if rc == nil || rc.At.After(now.Add(recertificationSkew)) {
		return time.Time{}
	}
	return rc.At.Time
}

// actedOnInactivity reports whether inactivity took its action and no recertification came
// after it.
func actedOnInactivity(pinv *b2bv1alpha1.PartnerInvitation, recertified time.Time) bool {
	done := pinv.Status.Expiry
	return done != nil && done.Rule == b2bv1alpha1.RuleInactivity && !recertified.After(done.At.Time)
}

// lastActivity is the latest of the access's start, the redemption, the last successful
// sign-in and the last recertification.
func lastActivity(pinv *b2bv1alpha1.PartnerInvitation, start, recertified time.Time) time.Time {
	from := latest(start, recertified)
	if t := pinv.Status.RedeemedAt; t != nil {
		from = latest(from, t.Time)
	}
	if t := pinv.Status.LastSignInAt; t != nil {
		from = latest(from, t.Time)
	}
	return from
}

// recertificationDue is the earliest due date of the selecting policies' recertification
// rules; zero when none requires it.
func recertificationDue(pinv *b2bv1alpha1.PartnerInvitation, selecting []*b2bv1alpha1.PartnerAccessPolicy, now time.Time) time.Time {
	var due time.Time
	from := latest(accessStart(pinv), recertifiedAt(pinv, now))
	for _, p := range selecting {
		if rc := p.Spec.Recertification; rc != nil {
			if at := from.Add(rc.Every.Duration); due.IsZero() || at.Before(due) {
				due = at
			}
		}
	}
	return due
}

func latest(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// ruleAction is an action as written, RevokeAccess when it is left out.
func ruleAction(a b2bv1alpha1.ExpiryAction) b2bv1alpha1.ExpiryAction {
	if a == "" {
		return b2bv1alpha1.ExpiryRevokeAccess
	}
	return a
}

func warnOf(d *metav1.Duration) time.Duration {
	if d == nil {
		return 0
	}
	return d.Duration
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
	action := exp.action
	note := ""
	if guest == nil {
		note = "no guest account exists; nothing was sent"
	} else if action != b2bv1alpha1.ExpiryRevokeAccess {
		why, err := r.keepGuest(ctx, pinv, claim.record, guest)
		if err != nil {
			return err
		}
		if why != "" {
			note = fmt.Sprintf("%s %s not applied because %s; access was revoked instead", actionField(exp.rule), action, why)
			action = b2bv1alpha1.ExpiryRevokeAccess
		}
	}
	if err := r.recordExpiry(ctx, pinv, &b2bv1alpha1.ExpiryStatus{
		Action: action, At: metav1.NewTime(exp.at), Source: exp.source, Rule: exp.rule, Note: note,
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
		st.ExpiresAt, st.ExpiryRule = ptr.To(metav1.NewTime(exp.at)), exp.rule
	} else {
		st.ExpiresAt, st.ExpiryRule = nil, ""
	}
	if ef.recertificationDue.IsZero() {
		st.RecertificationDueAt = nil
	} else {
		st.RecertificationDueAt = ptr.To(metav1.NewTime(ef.recertificationDue))
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
	case ef.awaitingSignIns:
		setCondition(pinv, b2bv1alpha1.ConditionExpired, metav1.ConditionFalse, b2bv1alpha1.ReasonExpiringSoon,
			fmt.Sprintf("Access ends once a read of sign-in activity confirms no sign-in since %s (%s), then %s%s", at, exp.source, expiryActions[exp.action].due, remedy(exp.rule)))
	case ef.soon:
		setCondition(pinv, b2bv1alpha1.ConditionExpired, metav1.ConditionFalse, b2bv1alpha1.ReasonExpiringSoon,
			fmt.Sprintf("Access ends at %s (%s), then %s%s", at, exp.source, expiryActions[exp.action].due, remedy(exp.rule)))
	default:
		setCondition(pinv, b2bv1alpha1.ConditionExpired, metav1.ConditionFalse, b2bv1alpha1.ReasonExpiryScheduled,
			fmt.Sprintf("Access ends at %s (%s)", at, exp.source))
	}
}

// untilExpiryEvent is how long until the warning window opens or the expiry passes, 0 when
// neither is ahead. An unconfirmed inactivity deadline is looked at again every
// signInRecheck until a read of sign-ins confirms it.
func untilExpiryEvent(exp expiry, now time.Time, warning, signInRecheck time.Duration) time.Duration {
	if !exp.set() {
		return 0
	}
	if exp.unconfirmed && !now.Before(exp.at) {
		return signInRecheck
	}
	for _, t := range []time.Time{exp.warnFrom(warning), exp.at} {
		if t.After(now) {
			return t.Sub(now)
		}
	}
	return 0
}

// ruleTexts says, per lifecycle rule, what keeps the access (for the warning) and where the
// action taken came from (for a note); other limits take spec.expiryAction and have no remedy.
var ruleTexts = map[b2bv1alpha1.ExpiryRule]struct{ remedy, actionField string }{
	b2bv1alpha1.RuleRecertification: {"; recertify it (spec.recertification, or kubectl partner recertify) to keep it", "the policy's recertification.action"},
	b2bv1alpha1.RuleInactivity:      {"; a sign-in or a recertification keeps it", "the policy's inactivity.action"},
}

func remedy(rule b2bv1alpha1.ExpiryRule) string { return ruleTexts[rule].remedy }

func actionField(rule b2bv1alpha1.ExpiryRule) string {
	if f := ruleTexts[rule].actionField; f != "" {
		return f
	}
	return "spec.expiryAction"
}

func expiryAction(pinv *b2bv1alpha1.PartnerInvitation) b2bv1alpha1.ExpiryAction {
	return ruleAction(pinv.Spec.ExpiryAction)
}

// expiryActions says, per action, Expired's reason once it is done and what it does, in the
// past and ahead.
var expiryActions = map[b2bv1alpha1.ExpiryAction]struct{ reason, done, due string }{
	b2bv1alpha1.ExpiryRevokeAccess: {b2bv1alpha1.ReasonAccessRevoked, "the grants this object made were revoked", "the grants this object made are revoked"},
	b2bv1alpha1.ExpiryDisable:      {b2bv1alpha1.ReasonAccountDisabled, "the guest account is disabled", "the guest account is disabled"},
	b2bv1alpha1.ExpiryDelete:       {b2bv1alpha1.ReasonGuestDeleted, "the guest account was deleted", "the guest account is deleted"},
}

// refreshLastSignIn takes status.lastSignInAt from the API server before inactivity acts: the
// watcher's write may not have reached the cache yet.
func (r *Reconciler) refreshLastSignIn(ctx context.Context, pinv *b2bv1alpha1.PartnerInvitation) error {
	fresh := &b2bv1alpha1.PartnerInvitation{}
	if err := r.apiReader().Get(ctx, client.ObjectKeyFromObject(pinv), fresh); err != nil {
		return fmt.Errorf("read the last sign-in: %w", err)
	}
	if t := fresh.Status.LastSignInAt; t != nil && (pinv.Status.LastSignInAt == nil || t.After(pinv.Status.LastSignInAt.Time)) {
		pinv.Status.LastSignInAt = t
	}
	return nil
}
