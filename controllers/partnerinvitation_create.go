package controllers

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/client-go/util/retry"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	b2bv1alpha1 "github.com/partnerops/partner-operator/api/v1alpha1"
	"github.com/partnerops/partner-operator/internal/graph"
	"github.com/partnerops/partner-operator/internal/policy"
)

// observe finds the guest this object manages: one handed over with the claim, the one its
// annotations name, else one found by email. It returns nil when there is none and an
// invitation is due. It writes to Graph only to recover a lost redemption URL.
func (r *PartnerInvitationReconciler) observe(ctx context.Context, pinv *b2bv1alpha1.PartnerInvitation, claim *coordinationv1.Lease, selecting []*b2bv1alpha1.PartnerAccessPolicy, f *findings) (*graph.User, error) {
	if err := r.takeHandedOverGuest(ctx, pinv, claim, f); err != nil {
		return nil, err
	}
	if id := managedUserID(pinv); id != "" {
		u, err := r.Directory.GetUser(ctx, id)
		switch {
		case err == nil:
			return u, nil
		case !graph.IsNotFound(err):
			return nil, err
		case r.withinCreateGrace(pinv):
			return nil, awaitingGraph(id)
		}
		// Gone although Graph had long caught up: deleted out of band. Forget it; the
		// caller re-invites and says so.
		if err := r.forgetGuest(ctx, pinv); err != nil {
			return nil, err
		}
		f.reinvitedFrom = id
		pinv.Status.UserID, pinv.Status.State, pinv.Status.RedeemedAt = "", "", nil
	}

	found, err := r.Directory.FindUsersByEmail(ctx, pinv.Spec.Email)
	if err != nil {
		return nil, err
	}
	var guest *graph.User
	for i := range found {
		if !found[i].IsGuest() {
			return nil, &blockedError{reason: b2bv1alpha1.ReasonConflict, stalled: true, retryAfter: r.opts().PendingPollInterval, message: fmt.Sprintf(
				"a member account (%s) already has the address in spec.email; the operator never manages member accounts", found[i].ID)}
		}
		if guest == nil {
			guest = &found[i]
		}
	}
	pending := pinv.Annotations[b2bv1alpha1.AnnotationCreatePending] != ""
	switch {
	case guest != nil && pending:
		// This object's own invitation, whose answer never reached it.
		if err := r.recoverRedeemURL(ctx, pinv, guest); err != nil {
			return nil, err
		}
		if err := r.recordGuest(ctx, pinv, guest.ID, b2bv1alpha1.GuestOriginInvited, markRequestsHandled); err != nil {
			return nil, err
		}
		r.establish(pinv, f, guest.ID, false)
		return guest, nil
	case guest != nil:
		return guest, r.adopt(ctx, pinv, guest, selecting, f)
	case pending && r.withinCreateGrace(pinv):
		// An invitation may have been sent before the process stopped; Graph may not list
		// the new guest yet. Waiting is cheaper than a duplicate mail.
		return nil, awaitingGraph("")
	}
	return nil, nil
}

// takeHandedOverGuest records the guest that came with the claim from the object that held
// the address before: the same person, so no invitation and no adoption.
func (r *PartnerInvitationReconciler) takeHandedOverGuest(ctx context.Context, pinv *b2bv1alpha1.PartnerInvitation, claim *coordinationv1.Lease, f *findings) error {
	id := claim.Annotations[b2bv1alpha1.AnnotationClaimGuest]
	if id == "" || managedUserID(pinv) == id {
		return nil
	}
	origin := claim.Annotations[b2bv1alpha1.AnnotationGuestOrigin]
	if origin != b2bv1alpha1.GuestOriginAdopted {
		origin = b2bv1alpha1.GuestOriginInvited
	}
	if err := r.recordGuest(ctx, pinv, id, origin); err != nil {
		return err
	}
	pinv.Status.UserID = id
	pinv.Status.Adopted = origin == b2bv1alpha1.GuestOriginAdopted
	f.established, f.establishedMsg = b2bv1alpha1.ReasonHandedOver,
		fmt.Sprintf("Took over guest %s from the PartnerInvitation that held the address before; no invitation was sent", id)
	return nil
}

// adopt takes over a guest the operator did not invite, where the cluster owner's policy lets
// this namespace; otherwise it touches nothing and says why.
func (r *PartnerInvitationReconciler) adopt(ctx context.Context, pinv *b2bv1alpha1.PartnerInvitation, guest *graph.User, selecting []*b2bv1alpha1.PartnerAccessPolicy, f *findings) error {
	if policy.Adoption(selecting) == b2bv1alpha1.AdoptionDeny {
		return &blockedError{reason: b2bv1alpha1.ReasonAdoptionDenied, stalled: true, retryAfter: r.opts().PendingPollInterval, message: fmt.Sprintf(
			"guest %s already has the address in spec.email and was not invited by the operator; %s",
			guest.ID, policy.AdoptionDenied(selecting, pinv.Namespace))}
	}
	if err := r.recordGuest(ctx, pinv, guest.ID, b2bv1alpha1.GuestOriginAdopted); err != nil {
		return err
	}
	pinv.Status.UserID = guest.ID
	pinv.Status.Adopted = true
	f.established, f.establishedMsg = b2bv1alpha1.ReasonAdopted, fmt.Sprintf("Adopted existing guest %s; no invitation was sent", guest.ID)
	return nil
}

func awaitingGraph(id string) error {
	msg := "Waiting for Microsoft Graph to list the guest invited moments ago"
	if id != "" {
		msg = fmt.Sprintf("Waiting for Microsoft Graph to list guest %s, invited moments ago", id)
	}
	return &blockedError{reason: b2bv1alpha1.ReasonAwaitingGraph, message: msg, retryAfter: 5 * time.Second}
}

// createInvitation sends the one invitation for this object. The name of the Secret for the
// redemption URL is checked first, so the URL has a place before Graph hands it out (once).
// The attempt is marked with an optimistic lock, together with the finalizer, so a stale copy
// or a second worker fails instead of inviting twice, and a crash after Graph's answer is
// resolved by observe's lookup instead of a new invitation.
func (r *PartnerInvitationReconciler) createInvitation(ctx context.Context, pinv *b2bv1alpha1.PartnerInvitation, f *findings, sponsors []b2bv1alpha1.SponsorGrant) error {
	secret, err := r.checkRedeemSecret(ctx, pinv)
	if err != nil {
		return err
	}
	if err := r.markCreatePending(ctx, pinv); err != nil {
		return err
	}
	req := invitationRequest(pinv)
	req.Sponsors = sponsorIDs(sponsors)
	inv, err := r.inviteMarked(ctx, pinv, req, func(a map[string]string) {
		delete(a, b2bv1alpha1.AnnotationCreatePending)
	})
	if err != nil {
		return err
	}
	// Graph has sent the invitation: the URL and the guest's ID must land even when the manager
	// is shutting down (SIGTERM cancels ctx), or the next leader has to recover them.
	critical, cancel := criticalContext(ctx)
	defer cancel()
	if err := r.storeRedeemURL(critical, pinv, secret, inv.RedeemURL, inv.UserID); err != nil {
		return err
	}
	if err := r.recordGuest(critical, pinv, inv.UserID, b2bv1alpha1.GuestOriginInvited, markRequestsHandled); err != nil {
		return err
	}
	now := metav1.NewTime(r.now())
	pinv.Status.State = b2bv1alpha1.StatePendingAcceptance
	if inv.Status == "Completed" {
		pinv.Status.State = b2bv1alpha1.StateAccepted
	}
	pinv.Status.InvitedAt = &now
	pinv.Status.Sponsors = nil
	for _, s := range sponsors {
		s.Managed = true
		pinv.Status.Sponsors = append(pinv.Status.Sponsors, s)
	}
	r.establish(pinv, f, inv.UserID, true)
	log := ctrl.LoggerFrom(ctx)
	log.Info("Invitation sent", "userID", inv.UserID, "state", pinv.Status.State)
	if r.opts().LogPersonalData {
		log.V(1).Info("Invitation sent", "userID", inv.UserID, "email", pinv.Spec.Email)
	}
	return nil
}

// establish records that this object invited the guest, as a re-invitation when the previous
// guest was deleted outside the operator.
func (r *PartnerInvitationReconciler) establish(pinv *b2bv1alpha1.PartnerInvitation, f *findings, userID string, sent bool) {
	pinv.Status.UserID = userID
	pinv.Status.Adopted = false
	reinvite := f.reinvitedFrom != ""
	if c := meta.FindStatusCondition(pinv.Status.Conditions, b2bv1alpha1.ConditionInvited); c != nil && c.Reason == b2bv1alpha1.ReasonReinvited && c.Status == metav1.ConditionFalse {
		reinvite = true
	}
	switch {
	case reinvite:
		f.established, f.establishedMsg = b2bv1alpha1.ReasonReinvited,
			fmt.Sprintf("Re-invited the partner as guest %s after the previous guest was deleted outside the operator", userID)
	case sent:
		f.established, f.establishedMsg = b2bv1alpha1.ReasonInvitationSent, fmt.Sprintf("Invited the partner as guest %s", userID)
	default:
		f.established, f.establishedMsg = b2bv1alpha1.ReasonInvitationSent,
			fmt.Sprintf("Invited the partner as guest %s (the answer to the invitation was recovered by lookup)", userID)
	}
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

// profileDrift is the profile fields the spec sets that the directory holds otherwise. Fields
// the spec leaves empty are not the operator's and are never written.
func profileDrift(want *b2bv1alpha1.GuestProfile, have graph.Profile) graph.Profile {
	if want == nil {
		return nil
	}
	drift := graph.Profile{}
	for prop, value := range map[string]string{
		"givenName": want.GivenName, "surname": want.Surname, "companyName": want.CompanyName,
		"department": want.Department, "jobTitle": want.JobTitle, "usageLocation": want.UsageLocation,
		"employeeType": want.EmployeeType,
	} {
		if value != "" && have[prop] != value {
			drift[prop] = value
		}
	}
	return drift
}

// updateDrift brings the guest's display name, user type and profile back to the spec. The user type
// of an adopted account changes only where a policy allows promotion.
func (r *PartnerInvitationReconciler) updateDrift(ctx context.Context, pinv *b2bv1alpha1.PartnerInvitation, guest *graph.User, selecting []*b2bv1alpha1.PartnerAccessPolicy) error {
	var upd graph.UserUpdate
	if pinv.Spec.DisplayName != "" && pinv.Spec.DisplayName != guest.DisplayName {
		upd.DisplayName = &pinv.Spec.DisplayName
	}
	if want := string(userType(pinv)); !strings.EqualFold(want, guest.UserType) {
		if guestOrigin(pinv) == b2bv1alpha1.GuestOriginAdopted {
			if v := policy.Promotion(selecting, pinv.Namespace); v != nil {
				return &blockedError{reason: b2bv1alpha1.ReasonPromotionDenied, stalled: true, message: fmt.Sprintf(
					"spec.userType %s would change adopted account %s (userType %s); %s", want, guest.ID, guest.UserType, v)}
			}
		}
		upd.UserType = &want
	}
	upd.Profile = profileDrift(pinv.Spec.Profile, guest.Profile)
	if upd.DisplayName == nil && upd.UserType == nil && len(upd.Profile) == 0 {
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
	r.event(pinv, corev1.EventTypeNormal, eventUpdated, "Update", "Updated the guest's display name, user type or profile to match the spec")
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

// guestOrigin says whether the operator invited the guest or adopted it; objects from before
// the annotation existed fall back to status.adopted.
func guestOrigin(pinv *b2bv1alpha1.PartnerInvitation) string {
	switch o := pinv.Annotations[b2bv1alpha1.AnnotationGuestOrigin]; {
	case o != "":
		return o
	case pinv.Status.Adopted:
		return b2bv1alpha1.GuestOriginAdopted
	}
	return b2bv1alpha1.GuestOriginInvited
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
	// The finalizer rides along: no guest may exist without it, and one write is cheaper.
	controllerutil.AddFinalizer(obj, b2bv1alpha1.Finalizer)
	if err := r.Patch(ctx, obj, patch); err != nil {
		return err
	}
	pinv.Annotations, pinv.Finalizers = obj.Annotations, obj.Finalizers
	pinv.ResourceVersion = obj.ResourceVersion
	return nil
}

// inviteMarked sends an invitation whose attempt is already marked on the object. When Graph
// refused it outright, nothing was sent, so unmark takes the mark back and a later reconcile
// tries again; any other failure keeps the mark, since the partner may have been mailed.
func (r *PartnerInvitationReconciler) inviteMarked(ctx context.Context, pinv *b2bv1alpha1.PartnerInvitation, req graph.InvitationRequest, unmark func(map[string]string)) (*graph.Invitation, error) {
	inv, err := r.Directory.Invite(ctx, req)
	if err != nil && refusedBeforeProcessing(err) {
		if uerr := r.updateAnnotations(ctx, pinv, unmark); uerr != nil {
			return nil, uerr
		}
	}
	return inv, err
}

// recordGuest writes the guest's ID and origin onto the object: the facts that cannot be
// recomputed once a second object could claim the same address. It retries conflicts, because
// losing them after an invitation would orphan the guest.
func (r *PartnerInvitationReconciler) recordGuest(ctx context.Context, pinv *b2bv1alpha1.PartnerInvitation, userID, origin string, also ...func(map[string]string)) error {
	now := r.now().UTC().Format(time.RFC3339)
	return r.updateAnnotations(ctx, pinv, func(a map[string]string) {
		if a[b2bv1alpha1.AnnotationCreatePending] != "" {
			a[b2bv1alpha1.AnnotationCreateSucceeded] = now
		}
		delete(a, b2bv1alpha1.AnnotationCreatePending)
		a[b2bv1alpha1.AnnotationExternalName] = userID
		a[b2bv1alpha1.AnnotationGuestOrigin] = origin
		for _, f := range also {
			f(a)
		}
	})
}

// forgetGuest drops the record of a guest that no longer exists.
func (r *PartnerInvitationReconciler) forgetGuest(ctx context.Context, pinv *b2bv1alpha1.PartnerInvitation) error {
	return r.updateAnnotations(ctx, pinv, func(a map[string]string) {
		delete(a, b2bv1alpha1.AnnotationExternalName)
		delete(a, b2bv1alpha1.AnnotationCreateSucceeded)
		delete(a, b2bv1alpha1.AnnotationGuestOrigin)
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
		if live.DeletionTimestamp.IsZero() {
			// What these annotations record (a guest, an attempt) needs the finalizer; it
			// rides along instead of costing a write of its own.
			controllerutil.AddFinalizer(live, b2bv1alpha1.Finalizer)
		}
		if err := r.Patch(ctx, live, patch); err != nil {
			return err
		}
		pinv.Annotations, pinv.Finalizers = live.Annotations, live.Finalizers
		pinv.ResourceVersion = live.ResourceVersion
		return nil
	})
	if err != nil {
		return fmt.Errorf("%s: %w", errRecordCreate, err)
	}
	return nil
}

func setAnnotation(o client.Object, key, value string) {
	a := o.GetAnnotations()
	if a == nil {
		a = map[string]string{}
	}
	a[key] = value
	o.SetAnnotations(a)
}

// refusedBeforeProcessing says Graph turned the request away before doing anything: a 4xx the
// spec must fix, a missing token or permission (401, 403), or throttling (429, and 503). Anything else, a 504 above
// all, may come after Graph invited the partner, so the pending mark stays and the guest is
// looked up instead of invited again (the fault soak found the 504 case).
func refusedBeforeProcessing(err error) bool {
	switch {
	case graph.IsTerminal(err):
		return true
	case graph.StatusCode(err) == http.StatusTooManyRequests, graph.StatusCode(err) == http.StatusServiceUnavailable,
		graph.StatusCode(err) == http.StatusUnauthorized, graph.StatusCode(err) == http.StatusForbidden:
		return true
	}
	return false
}

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
