package partnerinvitation

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	ctrl "sigs.k8s.io/controller-runtime"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	b2bv1alpha1 "github.com/partnerops/partner-operator/api/v1alpha1"
	"github.com/partnerops/partner-operator/internal/graph"
	"github.com/partnerops/partner-operator/internal/policy"
)

// observe finds the guest this object manages: the one its record on the claim names (handed
// over, invited or adopted), confirmed by the directory, else one found by email. It returns nil
// when there is none and an invitation is due. It writes to Graph only to recover a lost
// redemption URL for its own invitation.
func (r *Reconciler) observe(ctx context.Context, pinv *b2bv1alpha1.PartnerInvitation, claim *addressClaim, selecting []*b2bv1alpha1.PartnerAccessPolicy, f *findings) (*graph.User, error) {
	if rec := claim.record; rec.UserID != "" {
		u, err := r.Directory.GetUser(ctx, rec.UserID)
		switch {
		case err == nil:
			return u, r.confirmRecord(ctx, pinv, claim, u, f)
		case !graph.IsNotFound(err):
			return nil, err
		case r.withinCreateGrace(rec):
			mirror(pinv, rec)
			return nil, awaitingGraph(rec.UserID)
		}
		// Gone although Graph had long caught up: deleted out of band. Forget it; the
		// caller re-invites and says so.
		if err := r.save(ctx, pinv, claim, forgetGuest); err != nil {
			return nil, err
		}
		f.reinvitedFrom = rec.UserID
		mirror(pinv, claim.record)
		pinv.Status.State, pinv.Status.RedeemedAt = "", nil
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
	pending := !claim.record.InvitePending.IsZero()
	if guest != nil && r.relation(pinv, guest) == otherInstaller {
		return nil, ownedElsewhere(guest)
	}
	switch {
	case guest == nil && claim.record.RestoreFrom != "":
		return r.restoreGuest(ctx, pinv, claim, f)
	case guest != nil && guest.ID == claim.record.RestoreFrom:
		// Restored by this object before the process stopped, the record not saved yet.
		return guest, r.takeRestored(ctx, pinv, claim, guest, f)
	case guest != nil && pending:
		// This object's own invitation, whose answer never reached it: the claim says it was
		// sent, and only the operator writes the claim.
		if err := r.recoverRedeemURL(ctx, pinv, guest); err != nil {
			return nil, err
		}
		err := r.saveCritical(ctx, pinv, claim, func(rec *guestRecord) {
			invited(rec, guest.ID, r.now())
			requestedNow(pinv, rec)
		})
		if err != nil {
			return nil, err
		}
		mirror(pinv, claim.record)
		r.establish(pinv, f, guest.ID, false)
		r.keepRecord(pinv, guest, b2bv1alpha1.GuestOriginInvited)
		return guest, nil
	case guest != nil && r.relation(pinv, guest) == thisObject:
		return guest, r.reclaim(ctx, pinv, claim, guest, f)
	case guest != nil && r.recordMayBeOnItsWay(guest):
		return nil, &blockedError{reason: b2bv1alpha1.ReasonAwaitingGraph, retryAfter: 5 * time.Second, message: fmt.Sprintf(
			"guest %s was invited moments ago and carries no ownership record yet; waiting for the installation that invited it to record it", guest.ID)}
	case guest != nil:
		return guest, r.adopt(ctx, pinv, claim, guest, selecting, f)
	case pending && r.withinCreateGrace(claim.record):
		// An invitation may have been sent before the process stopped; Graph may not list
		// the new guest yet. Waiting is cheaper than a duplicate mail.
		return nil, awaitingGraph("")
	}
	return nil, nil
}

// confirmRecord holds the account the record names against the directory before anything is
// written to it, saves a record carried over from an earlier version once it is confirmed, and
// reports a guest that came by handover.
func (r *Reconciler) confirmRecord(ctx context.Context, pinv *b2bv1alpha1.PartnerInvitation, claim *addressClaim, u *graph.User, f *findings) error {
	if err := verifyGuest(u, pinv.Spec.Email); err != nil {
		return recordMismatch(err)
	}
	if r.relation(pinv, u) == otherInstaller {
		return ownedElsewhere(u)
	}
	if claim.unsaved {
		if err := r.save(ctx, pinv, claim, func(*guestRecord) {}); err != nil {
			return err
		}
	}
	rec := claim.record
	if rec.HandedOverFrom != "" && pinv.Status.UserID != rec.UserID {
		f.established, f.establishedMsg = b2bv1alpha1.ReasonHandedOver, fmt.Sprintf(
			"Took over guest %s from PartnerInvitation %s, which held the address before; no invitation was sent", rec.UserID, rec.HandedOverFrom)
	}
	mirror(pinv, rec)
	r.keepRecord(pinv, u, rec.Origin)
	return nil
}

// adopt takes over a guest the operator did not invite, where the cluster owner's policy lets
// this namespace; otherwise it touches nothing and says why.
func (r *Reconciler) adopt(ctx context.Context, pinv *b2bv1alpha1.PartnerInvitation, claim *addressClaim, guest *graph.User, selecting []*b2bv1alpha1.PartnerAccessPolicy, f *findings) error {
	if policy.Adoption(selecting) == b2bv1alpha1.AdoptionDeny {
		origin := "was not invited by the operator"
		if r.relation(pinv, guest) == otherObject {
			origin = fmt.Sprintf("is recorded in the directory for PartnerInvitation %s of this installation", guest.Ownership.Object)
		}
		return &blockedError{reason: b2bv1alpha1.ReasonAdoptionDenied, stalled: true, retryAfter: r.opts().PendingPollInterval, message: fmt.Sprintf(
			"guest %s already has the address in spec.email and %s; %s",
			guest.ID, origin, policy.AdoptionDenied(selecting, pinv.Namespace))}
	}
	if err := r.ensureFinalizer(ctx, pinv); err != nil {
		return err
	}
	err := r.save(ctx, pinv, claim, func(rec *guestRecord) {
		*rec = guestRecord{UserID: guest.ID, Origin: b2bv1alpha1.GuestOriginAdopted}
		requestedNow(pinv, rec)
	})
	if err != nil {
		return err
	}
	mirror(pinv, claim.record)
	r.keepRecord(pinv, guest, b2bv1alpha1.GuestOriginAdopted)
	f.established, f.establishedMsg = b2bv1alpha1.ReasonAdopted, fmt.Sprintf("Adopted existing guest %s; no invitation was sent", guest.ID)
	return nil
}

// invited records the answer to this object's invitation.
func invited(rec *guestRecord, userID string, now time.Time) {
	rec.UserID, rec.Origin = userID, b2bv1alpha1.GuestOriginInvited
	rec.InvitePending, rec.InvitedAt, rec.LastSentAt = time.Time{}, now, now
	rec.HandedOverFrom = ""
}

// forgetGuest drops the record of a guest that no longer exists.
func forgetGuest(rec *guestRecord) {
	*rec = guestRecord{ResendHandled: rec.ResendHandled, ResetHandled: rec.ResetHandled, LastSentAt: rec.LastSentAt}
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
// The finalizer is stored, then the attempt is marked on the claim with its resourceVersion
// (creating the claim if absent), so a stale reconcile or another object fails instead of
// inviting, and a crash after Graph's answer is resolved by observe's lookup instead of a new
// invitation.
func (r *Reconciler) createInvitation(ctx context.Context, pinv *b2bv1alpha1.PartnerInvitation, claim *addressClaim, f *findings, sponsors []b2bv1alpha1.SponsorGrant) error {
	secret, err := r.checkRedeemSecret(ctx, pinv)
	if err != nil {
		return err
	}
	if err := r.ensureFinalizer(ctx, pinv); err != nil {
		return err
	}
	if err := r.save(ctx, pinv, claim, func(rec *guestRecord) { rec.InvitePending = r.now() }); err != nil {
		return err
	}
	req := invitationRequest(pinv)
	req.Sponsors = sponsorIDs(sponsors)
	inv, err := r.inviteMarked(ctx, pinv, claim, req, func(rec *guestRecord) { rec.InvitePending = time.Time{} })
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
	err = r.saveCritical(ctx, pinv, claim, func(rec *guestRecord) {
		invited(rec, inv.UserID, r.now())
		requestedNow(pinv, rec)
	})
	if err != nil {
		return err
	}
	mirror(pinv, claim.record)
	now := metav1.NewTime(r.now())
	pinv.Status.State = b2bv1alpha1.StatePendingAcceptance
	if inv.Status == "Completed" {
		pinv.Status.State = b2bv1alpha1.StateAccepted
		pinv.Status.AutomaticallyRedeemed = true
	}
	pinv.Status.InvitedAt = &now
	pinv.Status.Sponsors = nil
	for _, s := range sponsors {
		s.Managed = true
		pinv.Status.Sponsors = append(pinv.Status.Sponsors, s)
	}
	r.establish(pinv, f, inv.UserID, true)
	r.keepRecord(pinv, nil, b2bv1alpha1.GuestOriginInvited)
	log := ctrl.LoggerFrom(ctx)
	log.Info("Invitation sent", "userID", inv.UserID, "state", pinv.Status.State)
	if r.opts().LogPersonalData {
		log.V(1).Info("Invitation sent", "userID", inv.UserID, "email", pinv.Spec.Email)
	}
	return nil
}

// establish records that this object invited the guest, as a re-invitation when the previous
// guest was deleted outside the operator.
func (r *Reconciler) establish(pinv *b2bv1alpha1.PartnerInvitation, f *findings, userID string, sent bool) {
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
func (r *Reconciler) updateDrift(ctx context.Context, pinv *b2bv1alpha1.PartnerInvitation, guest *graph.User, selecting []*b2bv1alpha1.PartnerAccessPolicy) error {
	var upd graph.UserUpdate
	if pinv.Spec.DisplayName != "" && pinv.Spec.DisplayName != guest.DisplayName {
		upd.DisplayName = &pinv.Spec.DisplayName
	}
	if want := string(userType(pinv)); !strings.EqualFold(want, guest.UserType) {
		if pinv.Status.Adopted {
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

// managedUserID is the guest this object manages, as status mirrors the record on its claim.
// Status is written only by the operator.
func managedUserID(pinv *b2bv1alpha1.PartnerInvitation) string { return pinv.Status.UserID }

// inviteMarked sends an invitation whose attempt is already marked on the claim. When Graph
// refused it outright, nothing was sent, so unmark takes the mark back and a later reconcile
// tries again; any other failure keeps the mark, since the partner may have been mailed.
func (r *Reconciler) inviteMarked(ctx context.Context, pinv *b2bv1alpha1.PartnerInvitation, claim *addressClaim, req graph.InvitationRequest, unmark func(*guestRecord)) (*graph.Invitation, error) {
	inv, err := r.Directory.Invite(ctx, req)
	if err != nil && refusedBeforeProcessing(err) {
		if uerr := r.save(ctx, pinv, claim, unmark); uerr != nil {
			return nil, uerr
		}
	}
	return inv, err
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
