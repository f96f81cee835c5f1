package controllers

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	b2bv1alpha1 "github.com/partnerops/partner-operator/api/v1alpha1"
	"github.com/partnerops/partner-operator/internal/graph"
	"github.com/partnerops/partner-operator/internal/policy"
)

// sendAgainKind is a request, made with an annotation, to send the invitation again: handled
// once per annotation value, the pattern of Flux's reconcile.fluxcd.io/requestedAt.
type sendAgainKind struct {
	name      string // metric label and log word
	requested string // the annotation a person or GitOps sets
	handled   string // the annotation the operator marks before it calls Graph
	reset     bool   // reset the redemption of a redeemed guest, rather than resend a pending one
}

var (
	resendRequest = sendAgainKind{"resend", b2bv1alpha1.AnnotationResendRequestedAt, b2bv1alpha1.AnnotationResendHandled, false}
	resetRequest  = sendAgainKind{"reset", b2bv1alpha1.AnnotationResetRequestedAt, b2bv1alpha1.AnnotationResetHandled, true}
)

// handleSendRequests carries out a resend or a reset the annotations ask for.
func (r *PartnerInvitationReconciler) handleSendRequests(ctx context.Context, pinv *b2bv1alpha1.PartnerInvitation, guest *graph.User, selecting []*b2bv1alpha1.PartnerAccessPolicy) error {
	pinv.Status.LastHandledResendAt = pinv.Annotations[resendRequest.handled]
	pinv.Status.LastHandledResetAt = pinv.Annotations[resetRequest.handled]
	if err := r.sendAgain(ctx, pinv, guest, selecting, resendRequest); err != nil {
		return err
	}
	return r.sendAgain(ctx, pinv, guest, selecting, resetRequest)
}

// sendAgain posts the invitation again for the same guest: Graph keeps the user and returns a
// new redemption URL, which replaces the old one in the Secret. The request is marked handled
// (with an optimistic lock) before the call, so a crash or a stale copy never sends one
// request's mail twice; a call Graph refused outright unmarks it.
func (r *PartnerInvitationReconciler) sendAgain(ctx context.Context, pinv *b2bv1alpha1.PartnerInvitation, guest *graph.User, selecting []*b2bv1alpha1.PartnerAccessPolicy, kind sendAgainKind) error {
	want, previous := pinv.Annotations[kind.requested], pinv.Annotations[kind.handled]
	if want == "" || want == previous {
		return nil
	}
	redeemed := guest.ExternalUserState == string(b2bv1alpha1.StateAccepted)
	switch {
	case !kind.reset && redeemed:
		// Nothing to resend: the partner redeemed. A new link for them is a reset.
		if err := r.markHandled(ctx, pinv, kind, want); err != nil {
			return err
		}
		r.event(pinv, corev1.EventTypeWarning, "ResendSkipped", "Invite", fmt.Sprintf(
			"Guest %s has redeemed the invitation; nothing to resend (annotate %s to reset the redemption)", guest.ID, resetRequest.requested))
		return nil
	case kind.reset:
		if v := policy.ResetRedemption(selecting, pinv.Namespace); v != nil {
			return &blockedError{reason: b2bv1alpha1.ReasonResetDenied, stalled: true, message: fmt.Sprintf(
				"%s asks to reset the redemption of guest %s; %s", kind.requested, guest.ID, v)}
		}
	}
	secret, err := r.checkRedeemSecret(ctx, pinv)
	if err != nil {
		return err
	}
	if err := r.markHandled(ctx, pinv, kind, want); err != nil {
		return err
	}
	req := invitationRequest(pinv)
	if kind.reset {
		req.ResetRedemptionForUserID = guest.ID
	}
	inv, err := r.inviteMarked(ctx, pinv, req, func(a map[string]string) { setOrDelete(a, kind.handled, previous) })
	if err != nil {
		return err
	}
	critical, cancel := criticalContext(ctx)
	defer cancel()
	if err := r.storeRedeemURL(critical, pinv, secret, inv.RedeemURL, guest.ID); err != nil {
		return err
	}
	now := metav1.NewTime(r.now())
	pinv.Status.LastSentAt = &now
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

// markHandled records the request value with an optimistic lock: a copy that is not the
// latest fails with a conflict (a quiet requeue) instead of handling the request twice.
func (r *PartnerInvitationReconciler) markHandled(ctx context.Context, pinv *b2bv1alpha1.PartnerInvitation, kind sendAgainKind, value string) error {
	obj := pinv.DeepCopy()
	patch := client.MergeFromWithOptions(obj.DeepCopy(), client.MergeFromWithOptimisticLock{})
	setAnnotation(obj, kind.handled, value)
	if err := r.Patch(ctx, obj, patch); err != nil {
		return err
	}
	pinv.Annotations, pinv.ResourceVersion = obj.Annotations, obj.ResourceVersion
	if kind.reset {
		pinv.Status.LastHandledResetAt = value
	} else {
		pinv.Status.LastHandledResendAt = value
	}
	return nil
}

// markRequestsHandled marks the requests present when the first invitation goes out: that
// invitation answers them.
func markRequestsHandled(a map[string]string) {
	for _, kind := range []sendAgainKind{resendRequest, resetRequest} {
		if v := a[kind.requested]; v != "" {
			a[kind.handled] = v
		}
	}
}

func setOrDelete(a map[string]string, key, value string) {
	if value == "" {
		delete(a, key)
		return
	}
	a[key] = value
}
