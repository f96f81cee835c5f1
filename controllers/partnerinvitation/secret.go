package partnerinvitation

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	b2bv1alpha1 "github.com/partnerops/partner-operator/api/v1alpha1"
	"github.com/partnerops/partner-operator/internal/graph"
)

// Keys of the invitation's Secret: the redemption URL, and the guest it redeems (a guest deleted
// out of band and invited again gets a new URL; the key tells a stale one apart).
const (
	redeemURLKey = "redeemURL"
	userIDKey    = "userID"
)

// Graph returns an invitation's redemption URL once. It goes into a Secret the object owns,
// never into status, events or logs. The Secret's name is checked before the invitation, so
// a name taken by someone else stops the invitation instead of losing the URL; the Secret is
// written once, with the URL, right after Graph's answer, before anything else. A process
// that stops in between loses nothing either: recoverRedeemURL gets a new URL for the same
// guest without a second mail.

// Every valid PartnerInvitation name (a DNS subdomain of up to 253 characters) gets a valid
// Secret name and label value. Names that fit keep the names they always had: the Secret is
// <name>-invitation (a name of up to 242 characters) and the label's value is the name (up to
// 63). A longer name is cut and followed by a short hash of the whole name, so the result is
// valid, the same on every reconcile and after a backup restore, and two long names that share
// a beginning still differ.
const (
	redeemSecretSuffix = "-invitation"
	nameHashLen        = 10 // hex digits of the name's SHA-256: 40 bits
)

func redeemSecretName(pinv *b2bv1alpha1.PartnerInvitation) string {
	return secretNameFor(pinv.Name)
}

// secretNameFor is redeemSecretName for a name.
func secretNameFor(name string) string {
	if len(name)+len(redeemSecretSuffix) <= validation.DNS1123SubdomainMaxLength {
		return name + redeemSecretSuffix
	}
	keep := validation.DNS1123SubdomainMaxLength - len(redeemSecretSuffix) - 1 - nameHashLen
	return shortened(name, keep) + "-" + nameHash(name) + redeemSecretSuffix
}

// invitationLabelValue is the value of LabelInvitation on the object's Secret.
func invitationLabelValue(pinv *b2bv1alpha1.PartnerInvitation) string {
	return labelValueFor(pinv.Name)
}

// labelValueFor is invitationLabelValue for a name.
func labelValueFor(name string) string {
	if len(validation.IsValidLabelValue(name)) == 0 {
		return name
	}
	return shortened(name, validation.LabelValueMaxLength-1-nameHashLen) + "-" + nameHash(name)
}

// shortened cuts name to at most n characters and drops the dots and dashes it then ends with,
// so that what follows it (a dash and hex digits) continues a valid DNS label.
func shortened(name string, n int) string {
	if len(name) > n {
		name = name[:n]
	}
	return strings.TrimRight(name, ".-")
}

func nameHash(name string) string {
	sum := sha256.Sum256([]byte(name))
	return hex.EncodeToString(sum[:])[:nameHashLen]
}

// redeemSecretNamesInvalid says, in words, why the object's Secret name or label would be
// refused by the API server; empty when both are valid. Names the API server admitted never
// are; the check keeps an invitation from being sent whose URL would have nowhere to go.
func redeemSecretNamesInvalid(pinv *b2bv1alpha1.PartnerInvitation) string {
	if errs := validation.IsDNS1123Subdomain(pinv.Name); len(errs) > 0 {
		return fmt.Sprintf("the object's name is not a valid DNS subdomain (%s)", strings.Join(errs, "; "))
	}
	if errs := validation.IsDNS1123Subdomain(redeemSecretName(pinv)); len(errs) > 0 {
		return fmt.Sprintf("the Secret name %q derived from the object's name is not valid (%s)", redeemSecretName(pinv), strings.Join(errs, "; "))
	}
	if errs := validation.IsValidLabelValue(invitationLabelValue(pinv)); len(errs) > 0 {
		return fmt.Sprintf("the label value %q derived from the object's name is not valid (%s)", invitationLabelValue(pinv), strings.Join(errs, "; "))
	}
	return ""
}

// checkRedeemSecret returns this object's Secret for the redemption URL, or nil when there is
// none yet; it writes nothing. A Secret of that name that this object does not control is a
// SecretConflict.
func (r *Reconciler) checkRedeemSecret(ctx context.Context, pinv *b2bv1alpha1.PartnerInvitation) (*corev1.Secret, error) {
	if why := redeemSecretNamesInvalid(pinv); why != "" {
		return nil, &blockedError{reason: b2bv1alpha1.ReasonInvalidSpec, stalled: true, terminal: true, message: "No Secret can hold the redemption URL: " +
			why + "; no invitation is sent. Rename the PartnerInvitation."}
	}
	key := client.ObjectKey{Namespace: pinv.Namespace, Name: redeemSecretName(pinv)}
	secret := &corev1.Secret{}
	if err := r.Get(ctx, key, secret); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, nil
		}
		return nil, fmt.Errorf("%s: %w", errWriteSecret, err)
	}
	if !metav1.IsControlledBy(secret, pinv) {
		return nil, &blockedError{reason: b2bv1alpha1.ReasonSecretConflict, stalled: true, retryAfter: time.Minute, message: fmt.Sprintf(
			"Secret %s/%s, which would hold the redemption URL, exists and is not owned by this PartnerInvitation; "+
				"no invitation is sent until it is deleted or renamed", key.Namespace, key.Name)}
	}
	return secret, nil
}

// criticalContext outlives a cancelled reconcile (a shutting-down manager) for the writes that
// record what Graph has already done, bounded so a shutdown still ends.
func criticalContext(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
}

// storeRedeemURL writes the URL and its guest into the object's Secret (secret, or a new one
// when nil), retrying: Graph will not return it again.
func (r *Reconciler) storeRedeemURL(ctx context.Context, pinv *b2bv1alpha1.PartnerInvitation, secret *corev1.Secret, url, userID string) error {
	if url == "" {
		return nil
	}
	data := map[string][]byte{redeemURLKey: []byte(url), userIDKey: []byte(userID)}
	err := retry.OnError(retry.DefaultBackoff, func(err error) bool { return ctx.Err() == nil && !isBlocked(err) }, func() error {
		if secret == nil {
			created, err := r.createRedeemSecret(ctx, pinv, data)
			if err == nil {
				secret = created
				return nil
			}
			if !apierrors.IsAlreadyExists(err) {
				return err // not created: the next attempt creates it again
			}
			// Created since the check: by this object's earlier attempt, or by someone else.
			if secret, err = r.checkRedeemSecret(ctx, pinv); err != nil || secret == nil {
				return cmp.Or(err, errors.New("the Secret was deleted while being written"))
			}
		}
		patch := client.MergeFrom(secret.DeepCopy())
		secret.Data = data
		return r.Patch(ctx, secret, patch)
	})
	if err != nil {
		if isBlocked(err) {
			return err
		}
		return fmt.Errorf("%s: %w", errWriteSecret, err)
	}
	pinv.Status.RedeemURLSecretName = secret.Name
	return nil
}

func (r *Reconciler) createRedeemSecret(ctx context.Context, pinv *b2bv1alpha1.PartnerInvitation, data map[string][]byte) (*corev1.Secret, error) {
	secret := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: redeemSecretName(pinv), Namespace: pinv.Namespace,
			Labels: map[string]string{b2bv1alpha1.LabelInvitation: invitationLabelValue(pinv)}},
		Type: corev1.SecretTypeOpaque,
		Data: data,
	}
	if err := controllerutil.SetControllerReference(pinv, secret, r.Scheme()); err != nil {
		return nil, err
	}
	return secret, r.Create(ctx, secret)
}

func isBlocked(err error) bool {
	var b *blockedError
	return errors.As(err, &b)
}

// recoverRedeemURL gets a redemption URL for this object's own pending guest whose URL never
// reached the Secret (the process stopped after the invitation, or Graph's answer was lost),
// also when the Secret still holds the URL of a guest deleted before (found by the soak). Inviting the same address
// again without a mail returns a fresh URL for the same user; the partner gets no second mail.
func (r *Reconciler) recoverRedeemURL(ctx context.Context, pinv *b2bv1alpha1.PartnerInvitation, guest *graph.User) error {
	if guest.ExternalUserState == string(b2bv1alpha1.StateAccepted) {
		return nil // redeemed: the URL is no longer needed
	}
	secret, err := r.checkRedeemSecret(ctx, pinv)
	if err != nil {
		return err
	}
	if secret != nil && len(secret.Data[redeemURLKey]) > 0 && string(secret.Data[userIDKey]) == guest.ID {
		pinv.Status.RedeemURLSecretName = secret.Name
		return nil
	}
	req := invitationRequest(pinv)
	req.SendInvitationMessage = false
	inv, err := r.Directory.Invite(ctx, req)
	if err != nil {
		return err
	}
	if inv.UserID != guest.ID {
		return fmt.Errorf("re-inviting spec.email for its redemption URL answered with user %s, not guest %s", inv.UserID, guest.ID)
	}
	critical, cancel := criticalContext(ctx)
	defer cancel()
	if err := r.storeRedeemURL(critical, pinv, secret, inv.RedeemURL, guest.ID); err != nil {
		return err
	}
	r.event(pinv, corev1.EventTypeNormal, eventURLRecovered, "Invite",
		fmt.Sprintf("Stored a new redemption URL for guest %s in Secret %s (no mail was sent)", guest.ID, redeemSecretName(pinv)))
	return nil
}
