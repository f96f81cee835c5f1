package partnerinvitation

import (
	"context"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	b2bv1alpha1 "github.com/partnerops/partner-operator/api/v1alpha1"
	"github.com/partnerops/partner-operator/internal/graph"
	"github.com/partnerops/partner-operator/internal/policy"
)

// reconcileDelete lets the object go. Only the holder of the address claim touches Graph: it
// hands the guest over to the oldest other object that asks for the same address and may take
// it, or else applies the deletion policy and releases the claim.
func (r *Reconciler) reconcileDelete(ctx context.Context, pinv *b2bv1alpha1.PartnerInvitation) (_ ctrl.Result, err error) {
	if !controllerutil.ContainsFinalizer(pinv, b2bv1alpha1.Finalizer) {
		return ctrl.Result{}, nil
	}
	// The guest is removed from the tenant it lives in; while that tenant cannot be reached,
	// the object (and the deletion it asks for) waits.
	if r, err = r.bindTenant(ctx, pinv); err != nil {
		return ctrl.Result{}, err
	}
	defer func() { err = inTenant(r.tenant, err) }()
	claim, err := r.claimForDeletion(ctx, pinv)
	if err != nil {
		return ctrl.Result{}, err
	}
	if claim == nil {
		// Another object holds the address, or this one never reached Graph.
		return ctrl.Result{}, r.removeFinalizer(ctx, pinv)
	}
	mirror(pinv, claim.record)
	next, err := r.successor(ctx, pinv)
	if err != nil {
		return ctrl.Result{}, err
	}
	if next != nil {
		return ctrl.Result{}, r.handOver(ctx, pinv, claim, next)
	}
	gone, err := r.applyDeletionPolicy(ctx, pinv, claim.record)
	if err != nil {
		return ctrl.Result{}, err
	}
	if gone != "" && r.ownershipOn() {
		err = r.tombstone(ctx, claim.lease, pinv, gone)
	} else {
		err = r.releaseClaim(ctx, claim.lease)
	}
	if err != nil {
		return ctrl.Result{}, err
	}
	return ctrl.Result{}, r.removeFinalizer(ctx, pinv)
}

// claimForDeletion returns the claim when this object holds it. An object that names a guest in
// its status but holds no claim (it predates claims) takes it if absent, so the API server still
// decides who may delete; its record is then confirmed by the directory before any write.
func (r *Reconciler) claimForDeletion(ctx context.Context, pinv *b2bv1alpha1.PartnerInvitation) (*addressClaim, error) {
	lease, err := r.getClaim(ctx, pinv)
	if apierrors.IsNotFound(err) {
		claim := unclaimed(pinv)
		if claim.record.UserID == "" {
			return nil, nil
		}
		if err := r.save(ctx, pinv, claim, func(*guestRecord) {}); err != nil {
			return nil, err
		}
		return claim, nil
	}
	if err != nil {
		return nil, err
	}
	if !heldBy(lease, pinv) {
		return nil, nil
	}
	return held(pinv, lease), nil
}

// handOver gives the guest to the next object for the same person: the manifest that still
// asks for the partner keeps them, with no new mail. The grants this object made go; the
// successor grants what its own spec asks for.
func (r *Reconciler) handOver(ctx context.Context, pinv *b2bv1alpha1.PartnerInvitation, claim *addressClaim, next *b2bv1alpha1.PartnerInvitation) error {
	if err := r.revokeAllAccess(ctx, pinv); err != nil {
		return err
	}
	rec := guestRecord{}
	if id := claim.record.UserID; id != "" {
		rec = guestRecord{UserID: id, Origin: claim.record.Origin, InvitedAt: claim.record.InvitedAt,
			LastSentAt: claim.record.LastSentAt, HandedOverFrom: holderIdentity(pinv)}
		// The successor's requests were made before it managed the guest: they are not
		// answered by sending, ever.
		requestedNow(next, &rec)
	}
	if _, err := r.transferClaim(ctx, claim.lease, next, rec); err != nil {
		return err
	}
	if rec.UserID != "" {
		r.event(pinv, corev1.EventTypeNormal, eventHandedOver, "Delete",
			fmt.Sprintf("Handed guest %s over to PartnerInvitation %s, which asks for the same address", rec.UserID, holderIdentity(next)))
	}
	return r.removeFinalizer(ctx, pinv)
}

// applyDeletionPolicy removes the guest when the object's policy says Delete, the guest is
// the operator's to delete and the deletion brake lets it; otherwise it leaves the guest and
// takes back only this object's grants (with Orphan, the grants stay with the guest). It
// returns the ID of the guest it deleted, or found deleted already.
func (r *Reconciler) applyDeletionPolicy(ctx context.Context, pinv *b2bv1alpha1.PartnerInvitation, rec guestRecord) (string, error) {
	if pinv.Spec.DeletionPolicy == b2bv1alpha1.DeletionPolicyOrphan {
		if id := rec.UserID; id != "" {
			r.event(pinv, corev1.EventTypeNormal, eventGuestOrphaned, "Delete",
				fmt.Sprintf("Left guest %s in the directory (deletionPolicy Orphan)", id))
		}
		return "", nil
	}
	id, err := r.guestToDelete(ctx, pinv, rec)
	if err != nil || id == "" {
		return "", err
	}
	u, err := r.Directory.GetUser(ctx, id)
	if graph.IsNotFound(err) {
		if r.withinCreateGrace(rec) {
			// Invited moments ago: Graph may not show the guest yet, and it must not
			// outlive its object.
			return "", awaitingGraph(id)
		}
		// Gone already: deleted by this object before the process stopped, or out of band.
		// Either way the claim remembers it, for a restore the deleted account's record allows.
		return id, nil
	}
	if err != nil {
		return "", err
	}
	why, err := r.keepGuest(ctx, pinv, rec, u)
	if err != nil {
		return "", err
	}
	if why == "" {
		switch verdict, err := r.brakeDeletion(ctx, pinv); {
		case err != nil:
			return "", err
		case verdict == brakeCancelled:
			why = "an admin cancelled the deletions the accidental-deletion brake held"
		}
	}
	if why != "" {
		if err := r.revokeAllAccess(ctx, pinv); err != nil {
			return "", err
		}
		r.event(pinv, corev1.EventTypeNormal, eventGuestKept, "Delete", fmt.Sprintf("Left user %s in the directory: %s", id, why))
		return "", nil
	}
	// No guest is deleted without its record: the deleted account, restorable for 30 days,
	// says whose it was.
	if err := r.recordNow(ctx, pinv, u, rec.Origin); err != nil {
		return "", err
	}
	if err := r.Directory.DeleteUser(ctx, id); err != nil && !graph.IsNotFound(err) {
		return "", err
	}
	r.forgetRecord(id)
	r.event(pinv, corev1.EventTypeNormal, eventGuestDeleted, "Delete", fmt.Sprintf("Deleted guest %s", id))
	return id, nil
}

// keepGuest says why the account must not be deleted, or "" when it may. The operator deletes
// a guest it invited; an adopted guest only where a policy says AdoptAndDelete, and only while
// it is still a guest; a member account never, not even one the operator promoted.
func (r *Reconciler) keepGuest(ctx context.Context, pinv *b2bv1alpha1.PartnerInvitation, rec guestRecord, u *graph.User) (string, error) {
	if !u.IsGuest() {
		return "it is not a guest account", nil
	}
	if !holdsAddress(u, pinv.Spec.Email) {
		return "it does not hold the address in spec.email", nil
	}
	if r.relation(pinv, u) == otherInstaller {
		return fmt.Sprintf("its ownership record in the directory names partner-operator installation %q", u.Ownership.Owner), nil
	}
	if !rec.adopted() {
		return "", nil
	}
	if !strings.EqualFold(u.UserType, graph.UserTypeGuest) {
		return fmt.Sprintf("it was adopted and is now a %s account", u.UserType), nil
	}
	selecting, err := r.selectingPolicies(ctx, pinv)
	if err != nil {
		return "", err
	}
	if policy.Adoption(selecting) != b2bv1alpha1.AdoptionAdoptAndDelete {
		return "it was adopted, and no PartnerAccessPolicy for this namespace says adoption: AdoptAndDelete", nil
	}
	return "", nil
}

// guestToDelete names the guest this object owns, resolving an invitation whose result was
// never recorded (the process stopped after Graph's answer) by the deterministic email lookup.
// It runs only for the claim's holder, and the pending mark is on the claim, so the guest found
// is this object's.
func (r *Reconciler) guestToDelete(ctx context.Context, pinv *b2bv1alpha1.PartnerInvitation, rec guestRecord) (string, error) {
	if rec.UserID != "" {
		return rec.UserID, nil
	}
	if rec.InvitePending.IsZero() {
		return "", nil // never invited anyone
	}
	found, err := r.Directory.FindUsersByEmail(ctx, pinv.Spec.Email)
	if err != nil {
		return "", err
	}
	for _, u := range found {
		if u.IsGuest() {
			return u.ID, nil
		}
	}
	if r.withinCreateGrace(rec) {
		// The invitation may have been sent and its guest not be listed yet.
		return "", awaitingGraph("")
	}
	return "", nil
}

func (r *Reconciler) removeFinalizer(ctx context.Context, pinv *b2bv1alpha1.PartnerInvitation) error {
	obj := pinv.DeepCopy()
	patch := client.MergeFrom(obj.DeepCopy())
	controllerutil.RemoveFinalizer(obj, b2bv1alpha1.Finalizer)
	if err := r.Patch(ctx, obj, patch); err != nil {
		return client.IgnoreNotFound(fmt.Errorf("%s: %w", errRemoveFinalizer, err))
	}
	return nil
}
