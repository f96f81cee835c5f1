package controllers

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	b2bv1alpha1 "github.com/partnerops/partner-operator/api/v1alpha1"
	"github.com/partnerops/partner-operator/internal/graph"
)

// reconcileDelete applies the deletion policy, then lets the object go. It deletes only the
// guest this object invited or adopted, and only while it is still a guest.
func (r *PartnerInvitationReconciler) reconcileDelete(ctx context.Context, pinv *b2bv1alpha1.PartnerInvitation) (ctrl.Result, error) {
	if !controllerutil.ContainsFinalizer(pinv, b2bv1alpha1.Finalizer) {
		return ctrl.Result{}, nil
	}
	setCondition(pinv, b2bv1alpha1.ConditionReady, metav1.ConditionFalse, b2bv1alpha1.ReasonDeleting, "The object is being deleted")

	if pinv.Spec.DeletionPolicy == b2bv1alpha1.DeletionPolicyOrphan {
		if id := managedUserID(pinv); id != "" {
			r.event(pinv, corev1.EventTypeNormal, eventGuestOrphaned, "Delete",
				fmt.Sprintf("Left guest %s in the directory (deletionPolicy Orphan)", id))
		}
		return ctrl.Result{}, r.removeFinalizer(ctx, pinv)
	}

	id, err := r.guestToDelete(ctx, pinv)
	if err != nil {
		return r.handleGraphError(pinv, ctrl.Result{}, err)
	}
	if id != "" {
		if err := r.deleteGuest(ctx, pinv, id); err != nil {
			return r.handleGraphError(pinv, ctrl.Result{}, err)
		}
	}
	return ctrl.Result{}, r.removeFinalizer(ctx, pinv)
}

// guestToDelete names the guest this object owns, resolving an invitation whose result was
// never recorded (the process stopped after Graph's answer) by the deterministic email lookup.
func (r *PartnerInvitationReconciler) guestToDelete(ctx context.Context, pinv *b2bv1alpha1.PartnerInvitation) (string, error) {
	if id := managedUserID(pinv); id != "" {
		return id, nil
	}
	if pinv.Annotations[b2bv1alpha1.AnnotationCreatePending] == "" {
		return "", nil // never invited anyone (a conflict, or deleted before the first call)
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
	return "", nil
}

// deleteGuest removes the guest after checking it is still one: an account an administrator
// turned into a member is no longer the operator's to delete. Graph keeps deleted users
// restorable for 30 days.
func (r *PartnerInvitationReconciler) deleteGuest(ctx context.Context, pinv *b2bv1alpha1.PartnerInvitation, id string) error {
	u, err := r.Directory.GetUser(ctx, id)
	if graph.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	if !u.IsGuest() {
		r.event(pinv, corev1.EventTypeWarning, eventGuestOrphaned, "Delete",
			fmt.Sprintf("User %s is no longer a guest account; left it in the directory", id))
		return nil
	}
	if err := r.Directory.DeleteUser(ctx, id); err != nil && !graph.IsNotFound(err) {
		return err
	}
	r.event(pinv, corev1.EventTypeNormal, eventGuestDeleted, "Delete", fmt.Sprintf("Deleted guest %s", id))
	return nil
}

func (r *PartnerInvitationReconciler) removeFinalizer(ctx context.Context, pinv *b2bv1alpha1.PartnerInvitation) error {
	obj := pinv.DeepCopy()
	patch := client.MergeFrom(obj.DeepCopy())
	controllerutil.RemoveFinalizer(obj, b2bv1alpha1.Finalizer)
	if err := r.Patch(ctx, obj, patch); err != nil {
		return client.IgnoreNotFound(fmt.Errorf("%s: %w", errRemoveFinalizer, err))
	}
	return nil
}
