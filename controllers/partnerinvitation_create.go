package controllers

import (
	"context"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	b2bv1alpha1 "github.com/partnerops/partner-operator/api/v1alpha1"
	"github.com/partnerops/partner-operator/internal/graph"
)

// redeemURLKey is the key of the redemption URL in the invitation's Secret.
const redeemURLKey = "redeemURL"

// observe finds the guest this object manages: the one its annotations name, else one found by
// email. It returns nil when there is none and an invitation is due. A non-zero result asks the
// caller to wait (Graph has not caught up with a recent invitation yet). It never writes to Graph.
func (r *PartnerInvitationReconciler) observe(ctx context.Context, pinv *b2bv1alpha1.PartnerInvitation) (*graph.User, ctrl.Result, error) {
	if id := managedUserID(pinv); id != "" {
		u, err := r.Directory.GetUser(ctx, id)
		switch {
		case err == nil:
			return u, ctrl.Result{}, nil
		case !graph.IsNotFound(err):
			return nil, ctrl.Result{}, err
		case r.withinCreateGrace(pinv):
			return nil, ctrl.Result{RequeueAfter: 5 * time.Second}, nil
		}
		// Gone although Graph had long caught up: deleted out of band. Forget it; the
		// caller re-invites and says so.
		if err := r.forgetGuest(ctx, pinv); err != nil {
			return nil, ctrl.Result{}, err
		}
		pinv.Status.UserID = ""
		r.recordReinvite(pinv, id)
	}

	found, err := r.Directory.FindUsersByEmail(ctx, pinv.Spec.Email)
	if err != nil {
		return nil, ctrl.Result{}, err
	}
	var guest *graph.User
	for i := range found {
		if !found[i].IsGuest() {
			return nil, ctrl.Result{}, &conflictError{msg: fmt.Sprintf(
				"a member account (%s) already has the address in spec.email; the operator never manages member accounts", found[i].ID)}
		}
		if guest == nil {
			guest = &found[i]
		}
	}
	pending := pinv.Annotations[b2bv1alpha1.AnnotationCreatePending] != ""
	switch {
	case guest != nil:
		// Either our own invitation whose result was lost (pending), or an existing guest.
		if err := r.recordGuest(ctx, pinv, guest.ID); err != nil {
			return nil, ctrl.Result{}, err
		}
		pinv.Status.UserID = guest.ID
		if !pending {
			r.recordAdoption(pinv, guest)
		}
		return guest, ctrl.Result{}, nil
	case pending && r.withinCreateGrace(pinv):
		// An invitation may have been sent before the process stopped; Graph may not list
		// the new guest yet. Waiting is cheaper than a duplicate mail.
		return nil, ctrl.Result{RequeueAfter: 5 * time.Second}, nil
	}
	return nil, ctrl.Result{}, nil
}

// createInvitation sends the one invitation for this object. The attempt is marked with an
// optimistic lock first, so a stale copy or a second worker fails instead of inviting twice,
// and a crash after Graph's answer is resolved by observe's lookup instead of a new invitation.
func (r *PartnerInvitationReconciler) createInvitation(ctx context.Context, pinv *b2bv1alpha1.PartnerInvitation) (ctrl.Result, error) {
	if err := r.markCreatePending(ctx, pinv); err != nil {
		return ctrl.Result{}, err
	}
	inv, err := r.Directory.Invite(ctx, invitationRequest(pinv))
	if err != nil {
		if graph.IsTerminal(err) || isThrottled(err) {
			// Graph refused the request outright, so nothing was created.
			if uerr := r.clearCreatePending(ctx, pinv); uerr != nil {
				return ctrl.Result{}, uerr
			}
		}
		return ctrl.Result{}, err
	}
	if err := r.recordGuest(ctx, pinv, inv.UserID); err != nil {
		return ctrl.Result{}, err
	}
	secretName, err := r.storeRedeemURL(ctx, pinv, inv.RedeemURL)
	if err != nil {
		return ctrl.Result{}, err
	}
	now := metav1.NewTime(r.now())
	pinv.Status.UserID = inv.UserID
	pinv.Status.State = b2bv1alpha1.StatePendingAcceptance
	if inv.Status == "Completed" {
		pinv.Status.State = b2bv1alpha1.StateAccepted
	}
	pinv.Status.InvitedAt = &now
	pinv.Status.Adopted = false
	pinv.Status.RedeemURLSecretName = secretName
	r.recordInvited(pinv)
	return ctrl.Result{}, nil
}

func invitationRequest(pinv *b2bv1alpha1.PartnerInvitation) graph.InvitationRequest {
	req := graph.InvitationRequest{
		Email:                 pinv.Spec.Email,
		DisplayName:           pinv.Spec.DisplayName,
		RedirectURL:           redirectURL(pinv),
		UserType:              string(userType(pinv)),
		SendInvitationMessage: pinv.Spec.SendInvitationMessage == nil || *pinv.Spec.SendInvitationMessage,
	}
	if m := pinv.Spec.Message; m != nil {
		req.MessageBody = m.Body
		req.MessageLanguage = m.Language
		req.CCRecipients = m.CCRecipients
	}
	return req
}

// updateDrift brings the guest's display name and user type back to the spec.
func (r *PartnerInvitationReconciler) updateDrift(ctx context.Context, pinv *b2bv1alpha1.PartnerInvitation, guest *graph.User) error {
	var upd graph.UserUpdate
	if pinv.Spec.DisplayName != "" && pinv.Spec.DisplayName != guest.DisplayName {
		upd.DisplayName = &pinv.Spec.DisplayName
	}
	if want := string(userType(pinv)); !strings.EqualFold(want, guest.UserType) {
		upd.UserType = &want
	}
	if upd.DisplayName == nil && upd.UserType == nil {
		return nil
	}
	if err := r.Directory.UpdateUser(ctx, guest.ID, upd); err != nil {
		return err
	}
	if upd.DisplayName != nil {
		guest.DisplayName = *upd.DisplayName
	}
	if upd.UserType != nil {
		guest.UserType = *upd.UserType
	}
	r.recordUpdated(pinv)
	return nil
}

// managedUserID is the guest this object manages. The annotation is authoritative: status
// can be lost (a backup restored without it), the annotation travels with the object.
func managedUserID(pinv *b2bv1alpha1.PartnerInvitation) string {
	if id := pinv.Annotations[b2bv1alpha1.AnnotationExternalName]; id != "" {
		return id
	}
	return pinv.Status.UserID
}

func (r *PartnerInvitationReconciler) withinCreateGrace(pinv *b2bv1alpha1.PartnerInvitation) bool {
	for _, key := range []string{b2bv1alpha1.AnnotationCreateSucceeded, b2bv1alpha1.AnnotationCreatePending} {
		if t, err := time.Parse(time.RFC3339, pinv.Annotations[key]); err == nil {
			return r.now().Sub(t) < r.opts().CreateGracePeriod
		}
	}
	return false
}

// markCreatePending stores the pending mark with an optimistic lock (the one deliberate
// resourceVersion-checked write): if another copy moved on, this one must not invite.
func (r *PartnerInvitationReconciler) markCreatePending(ctx context.Context, pinv *b2bv1alpha1.PartnerInvitation) error {
	// Patch a copy: the answer carries the stored status, which must not replace the status
	// this reconcile is computing.
	obj := pinv.DeepCopy()
	patch := client.MergeFromWithOptions(obj.DeepCopy(), client.MergeFromWithOptimisticLock{})
	setAnnotation(obj, b2bv1alpha1.AnnotationCreatePending, r.now().UTC().Format(time.RFC3339))
	delete(obj.Annotations, b2bv1alpha1.AnnotationCreateSucceeded)
	if err := r.Patch(ctx, obj, patch); err != nil {
		return err
	}
	pinv.Annotations = obj.Annotations
	pinv.ResourceVersion = obj.ResourceVersion
	return nil
}

func (r *PartnerInvitationReconciler) clearCreatePending(ctx context.Context, pinv *b2bv1alpha1.PartnerInvitation) error {
	return r.updateAnnotations(ctx, pinv, func(a map[string]string) {
		delete(a, b2bv1alpha1.AnnotationCreatePending)
	})
}

// recordGuest writes the guest's ID onto the object: the one fact that cannot be recomputed
// once a second object could claim the same address. It retries conflicts, because losing it
// after an invitation would orphan the guest.
func (r *PartnerInvitationReconciler) recordGuest(ctx context.Context, pinv *b2bv1alpha1.PartnerInvitation, userID string) error {
	now := r.now().UTC().Format(time.RFC3339)
	return r.updateAnnotations(ctx, pinv, func(a map[string]string) {
		if a[b2bv1alpha1.AnnotationCreatePending] != "" {
			a[b2bv1alpha1.AnnotationCreateSucceeded] = now
		}
		delete(a, b2bv1alpha1.AnnotationCreatePending)
		a[b2bv1alpha1.AnnotationExternalName] = userID
	})
}

// forgetGuest drops the record of a guest that no longer exists.
func (r *PartnerInvitationReconciler) forgetGuest(ctx context.Context, pinv *b2bv1alpha1.PartnerInvitation) error {
	return r.updateAnnotations(ctx, pinv, func(a map[string]string) {
		delete(a, b2bv1alpha1.AnnotationExternalName)
		delete(a, b2bv1alpha1.AnnotationCreateSucceeded)
	})
}

// updateAnnotations applies mutate to the live object, retrying on conflicts, and copies the
// result (annotations and resourceVersion) into pinv. Status in pinv is left as computed.
func (r *PartnerInvitationReconciler) updateAnnotations(ctx context.Context, pinv *b2bv1alpha1.PartnerInvitation, mutate func(map[string]string)) error {
	// The first attempt builds on the copy this reconcile holds (usually current: it just
	// wrote it); after a conflict, the live object is read around the cache.
	first := true
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		live := pinv.DeepCopy()
		if !first {
			if err := r.apiReader().Get(ctx, client.ObjectKeyFromObject(pinv), live); err != nil {
				return err
			}
		}
		first = false
		patch := client.MergeFromWithOptions(live.DeepCopy(), client.MergeFromWithOptimisticLock{})
		if live.Annotations == nil {
			live.Annotations = map[string]string{}
		}
		mutate(live.Annotations)
		if err := r.Patch(ctx, live, patch); err != nil {
			return err
		}
		pinv.Annotations = live.Annotations
		pinv.ResourceVersion = live.ResourceVersion
		return nil
	})
	if err != nil {
		return fmt.Errorf("%s: %w", errRecordCreate, err)
	}
	return nil
}

func (r *PartnerInvitationReconciler) apiReader() client.Reader {
	if r.APIReader != nil {
		return r.APIReader
	}
	return r.Client
}

// storeRedeemURL keeps the redemption URL, which Graph returns only once, in a Secret the
// object owns; status, events and logs never see it.
func (r *PartnerInvitationReconciler) storeRedeemURL(ctx context.Context, pinv *b2bv1alpha1.PartnerInvitation, url string) (string, error) {
	if url == "" {
		return "", nil
	}
	secret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: pinv.Name + "-invitation", Namespace: pinv.Namespace}}
	_, err := controllerutil.CreateOrUpdate(ctx, r.Client, secret, func() error {
		if secret.Labels == nil {
			secret.Labels = map[string]string{}
		}
		secret.Labels[b2bv1alpha1.LabelInvitation] = pinv.Name
		secret.Type = corev1.SecretTypeOpaque
		secret.StringData = nil
		secret.Data = map[string][]byte{redeemURLKey: []byte(url)}
		return controllerutil.SetControllerReference(pinv, secret, r.Scheme())
	})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return "", fmt.Errorf("%s: %w", errWriteSecret, err)
	}
	return secret.Name, nil
}

func setAnnotation(o client.Object, key, value string) {
	a := o.GetAnnotations()
	if a == nil {
		a = map[string]string{}
	}
	a[key] = value
	o.SetAnnotations(a)
}

func isThrottled(err error) bool { _, ok := graph.RetryAfter(err); return ok }

func redirectURL(pinv *b2bv1alpha1.PartnerInvitation) string {
	if pinv.Spec.RedirectURL == "" {
		return "https://myapps.microsoft.com"
	}
	return pinv.Spec.RedirectURL
}

func userType(pinv *b2bv1alpha1.PartnerInvitation) b2bv1alpha1.UserType {
	if pinv.Spec.UserType == "" {
		return b2bv1alpha1.UserTypeGuest
	}
	return pinv.Spec.UserType
}

// conflictError says the address belongs to an account the operator must not manage.
type conflictError struct{ msg string }

func (e *conflictError) Error() string { return e.msg }
