package partnerinvitation

import (
	"context"
	"fmt"
	"strconv"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	b2bv1alpha1 "github.com/partnerops/partner-operator/api/v1alpha1"
	"github.com/partnerops/partner-operator/internal/graph"
	"github.com/partnerops/partner-operator/internal/policy"
)

// sendAgainKind is a request, made with an annotation, to send the invitation again: handled
// once per annotation value, the pattern of Flux's reconcile.fluxcd.io/requestedAt. The request
// is the user's; which values were answered is the operator's, on the claim's record.
type sendAgainKind struct {
	name      string // metric label and log word
	requested string // the annotation a person or GitOps sets
	reset     bool   // reset the redemption of a redeemed guest, rather than resend a pending one
}

var (
	resendRequest = sendAgainKind{"resend", b2bv1alpha1.AnnotationResendRequestedAt, false}
	resetRequest  = sendAgainKind{"reset", b2bv1alpha1.AnnotationResetRequestedAt, true}
)

// handled is the record's field for the request values of this kind already answered.
func (k sendAgainKind) handled(rec *guestRecord) *string {
	if k.reset {
		return &rec.ResetHandled
	}
	return &rec.ResendHandled
}

// Defaults of the send limits, where no PartnerAccessPolicy sets them: a partner would not
// call one mail an hour spam, and a namespace gets 20 in a day.
const (
	DefaultSendMinInterval         = time.Hour
	DefaultSendsPerNamespacePerDay = 20
	sendBudgetWindow               = 24 * time.Hour
)

// handleSendRequests carries out a resend or a reset the annotations ask for.
func (r *Reconciler) handleSendRequests(ctx context.Context, pinv *b2bv1alpha1.PartnerInvitation, claim *addressClaim, guest *graph.User, selecting []*b2bv1alpha1.PartnerAccessPolicy) error {
	if err := r.sendAgain(ctx, pinv, claim, guest, selecting, resendRequest); err != nil {
		return err
	}
	return r.sendAgain(ctx, pinv, claim, guest, selecting, resetRequest)
}

// sendAgain posts the invitation again for the same guest: Graph keeps the user and returns a
// new redemption URL, which replaces the old one in the Secret. The request is marked handled
// on the claim (with its resourceVersion) before the call, so a crash or a stale reconcile
// never sends one request's mail twice; a call Graph refused outright unmarks it. A request
// that is refused (by policy, or by the send limits) is reported once and forgotten: it never
// runs later by itself, whatever changes meanwhile.
func (r *Reconciler) sendAgain(ctx context.Context, pinv *b2bv1alpha1.PartnerInvitation, claim *addressClaim, guest *graph.User, selecting []*b2bv1alpha1.PartnerAccessPolicy, kind sendAgainKind) error {
	want, previous := pinv.Annotations[kind.requested], *kind.handled(&claim.record)
	if want == "" || want == previous {
		return nil
	}
	redeemed := guest.ExternalUserState == string(b2bv1alpha1.StateAccepted)
	switch {
	case !kind.reset && redeemed:
		// Nothing to resend: the partner redeemed. A new link for them is a reset.
		return r.refuseRequest(ctx, pinv, claim, kind, want, "ResendSkipped", fmt.Sprintf(
			"Guest %s has redeemed the invitation; nothing to resend (annotate %s to reset the redemption)", guest.ID, resetRequest.requested))
	case kind.reset:
		if v := policy.ResetRedemption(selecting, pinv.Namespace); v != nil {
			return r.refuseRequest(ctx, pinv, claim, kind, want, b2bv1alpha1.ReasonResetDenied, fmt.Sprintf(
				"%s=%s asked to reset the redemption of guest %s and was refused; it will not run later: %s", kind.requested, want, guest.ID, v))
		}
	}
	limits := r.sendLimits(selecting)
	if last := claim.record.LastSentAt; !last.IsZero() && r.now().Sub(last) < limits.minInterval {
		return r.refuseRequest(ctx, pinv, claim, kind, want, "SendRateLimited", fmt.Sprintf(
			"%s=%s was refused: the partner was last sent an invitation at %s, and one PartnerInvitation may send at most once every %s; ask again after %s",
			kind.requested, want, last.UTC().Format(time.RFC3339), limits.minInterval, last.Add(limits.minInterval).UTC().Format(time.RFC3339)))
	}
	secret, err := r.checkRedeemSecret(ctx, pinv)
	if err != nil {
		return err
	}
	if next, err := r.takeNamespaceSend(ctx, pinv.Namespace, limits.perDay); err != nil || !next.IsZero() {
		if err != nil {
			return err
		}
		return r.refuseRequest(ctx, pinv, claim, kind, want, "SendRateLimited", fmt.Sprintf(
			"%s=%s was refused: namespace %s has used its %d sends of 24 hours; ask again after %s",
			kind.requested, want, pinv.Namespace, limits.perDay, next.UTC().Format(time.RFC3339)))
	}
	lastSent := claim.record.LastSentAt
	if err := r.save(ctx, pinv, claim, func(rec *guestRecord) { *kind.handled(rec), rec.LastSentAt = want, r.now() }); err != nil {
		return err
	}
	mirror(pinv, claim.record)
	req := invitationRequest(pinv)
	if kind.reset {
		req.ResetRedemptionForUserID = guest.ID
	}
	inv, err := r.inviteMarked(ctx, pinv, claim, req, func(rec *guestRecord) { *kind.handled(rec), rec.LastSentAt = previous, lastSent })
	if err != nil {
		mirror(pinv, claim.record)
		return err
	}
	critical, cancel := criticalContext(ctx)
	defer cancel()
	if err := r.storeRedeemURL(critical, pinv, secret, inv.RedeemURL, guest.ID); err != nil {
		return err
	}
	if kind.reset {
		pinv.Status.State, pinv.Status.RedeemedAt = b2bv1alpha1.StatePendingAcceptance, nil
		guest.ExternalUserState = string(b2bv1alpha1.StatePendingAcceptance)
	}
	r.Metrics.countSentAgain(kind.name)
	verb := "Sent the invitation again"
	if kind.reset {
		verb = "Reset the redemption"
	}
	r.event(pinv, corev1.EventTypeNormal, "InvitationSentAgain", "Invite",
		fmt.Sprintf("%s for guest %s as %s=%s asked; the new redemption URL is in Secret %s", verb, guest.ID, kind.requested, want, secret.Name))
	return nil
}

// refuseRequest answers a request without sending: it is marked handled, so it is forgotten,
// and a Warning event says why.
func (r *Reconciler) refuseRequest(ctx context.Context, pinv *b2bv1alpha1.PartnerInvitation, claim *addressClaim, kind sendAgainKind, value, reason, note string) error {
	if err := r.save(ctx, pinv, claim, func(rec *guestRecord) { *kind.handled(rec) = value }); err != nil {
		return err
	}
	mirror(pinv, claim.record)
	r.event(pinv, corev1.EventTypeWarning, reason, "Invite", note)
	return nil
}

type sendLimits struct {
	minInterval time.Duration
	perDay      int
}

// sendLimits are the strictest limits the selecting policies set, and the operator's defaults
// for what none of them sets.
func (r *Reconciler) sendLimits(selecting []*b2bv1alpha1.PartnerAccessPolicy) sendLimits {
	var out sendLimits
	var interval, perDay bool
	for _, p := range selecting {
		l := p.Spec.SendLimits
		if l == nil {
			continue
		}
		if l.MinInterval != nil && (!interval || l.MinInterval.Duration > out.minInterval) {
			out.minInterval, interval = l.MinInterval.Duration, true
		}
		if l.PerNamespacePerDay != nil && (!perDay || int(*l.PerNamespacePerDay) < out.perDay) {
			out.perDay, perDay = int(*l.PerNamespacePerDay), true
		}
	}
	if !interval {
		out.minInterval = r.opts().SendMinInterval
	}
	if !perDay {
		out.perDay = r.opts().SendsPerNamespacePerDay
	}
	return out
}

// The namespace's send budget is a Lease in the operator's namespace, counting the sends of a
// 24-hour window; the API server's resourceVersion decides between two sends racing for the
// last one.
const (
	annotationBudgetWindow = "b2b.partnerops.io/window-start"
	annotationBudgetSends  = "b2b.partnerops.io/sends"
	labelSendBudget        = "b2b.partnerops.io/send-budget"
)

func sendBudgetName(namespace string) string { return "sends-" + namespace }

// takeNamespaceSend counts one send against the namespace's budget. It returns the zero time
// when the send may go, else when the window that is full ends.
func (r *Reconciler) takeNamespaceSend(ctx context.Context, namespace string, perDay int) (time.Time, error) {
	now := r.now()
	if perDay <= 0 {
		return now.Add(sendBudgetWindow), nil
	}
	lease := &coordinationv1.Lease{}
	key := client.ObjectKey{Namespace: r.opts().ClaimNamespace, Name: sendBudgetName(namespace)}
	err := r.apiReader().Get(ctx, key, lease)
	if apierrors.IsNotFound(err) {
		lease = &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: key.Name, Namespace: key.Namespace,
			Labels:      map[string]string{labelSendBudget: "true", "app.kubernetes.io/managed-by": "partner-operator"},
			Annotations: map[string]string{annotationBudgetWindow: now.UTC().Format(time.RFC3339), annotationBudgetSends: "1"}}}
		if err := r.Create(ctx, lease); err != nil {
			if apierrors.IsAlreadyExists(err) {
				return time.Time{}, errClaimTaken(key.Name)
			}
			return time.Time{}, fmt.Errorf("count the namespace's sends: %w", err)
		}
		return time.Time{}, nil
	}
	if err != nil {
		return time.Time{}, fmt.Errorf("read the namespace's send budget: %w", err)
	}
	if lease.Annotations == nil {
		lease.Annotations = map[string]string{}
	}
	start, perr := time.Parse(time.RFC3339, lease.Annotations[annotationBudgetWindow])
	sends, _ := strconv.Atoi(lease.Annotations[annotationBudgetSends])
	switch {
	case perr != nil || now.Sub(start) >= sendBudgetWindow || now.Before(start):
		start, sends = now, 0
	case sends >= perDay:
		return start.Add(sendBudgetWindow), nil
	}
	lease.Annotations[annotationBudgetWindow] = start.UTC().Format(time.RFC3339)
	lease.Annotations[annotationBudgetSends] = strconv.Itoa(sends + 1)
	if err := r.Update(ctx, lease); err != nil {
		return time.Time{}, fmt.Errorf("count the namespace's sends: %w", err)
	}
	return time.Time{}, nil
}
