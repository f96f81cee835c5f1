package partnerinvitation

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	b2bv1alpha1 "github.com/partnerops/partner-operator/api/v1alpha1"
)

// The accidental-deletion brake. Deleting a CRD, a namespace or a whole Argo CD application
// deletes every PartnerInvitation behind it at once; each would delete its guest at Graph's
// full pace. Like Entra Connect's export-deletion threshold, the operator deletes at most a
// threshold of guests within a window and holds the rest, finalizer in place, until an admin
// approves or cancels on the brake's Lease in the operator's namespace, which no namespace
// editor can write. The Lease is the ledger too: each admitted deletion is recorded on it with
// its resourceVersion before the guest is deleted, so concurrent reconciles and a restarted
// operator count the same deletions.

// BrakeLeaseName is the brake's Lease in the operator's namespace.
const BrakeLeaseName = "deletion-brake"

// Annotations of the brake's Lease. The operator writes the ledger and held-since; an admin
// writes approve or cancel (an RFC 3339 time; `kubectl partner brake approve|cancel` writes the
// current one): deletions requested up to that time are released, or kept.
const (
	AnnotationBrakeAdmitted  = "b2b.partnerops.io/admitted-deletions"
	AnnotationBrakeHeldSince = "b2b.partnerops.io/held-since"
	AnnotationBrakeApprove   = "b2b.partnerops.io/approve"
	AnnotationBrakeCancel    = "b2b.partnerops.io/cancel"
)

// Brake defaults: at most 50 guest deletions, and at most a quarter of the managed guests
// (but always 10), per hour.
const (
	DefaultDeletionThreshold        = 50
	DefaultDeletionThresholdPercent = 25
	DefaultDeletionWindow           = time.Hour
	deletionThresholdFloor          = 10
)

type brakeVerdict int

const (
	brakeAdmitted  brakeVerdict = iota // within the threshold, counted
	brakeApproved                      // released by an admin's approval
	brakeCancelled                     // an admin cancelled it: keep the guest
)

// brakeState is the Lease's content.
type brakeState struct {
	// admitted are "uid@time" of the deletions counted in the window.
	admitted        []string
	heldSince       time.Time
	approve, cancel time.Time
}

func readBrake(a map[string]string) brakeState {
	t := func(key string) time.Time {
		v, _ := time.Parse(time.RFC3339, strings.TrimSpace(a[key]))
		return v
	}
	return brakeState{admitted: strings.Fields(a[AnnotationBrakeAdmitted]), heldSince: t(AnnotationBrakeHeldSince),
		approve: t(AnnotationBrakeApprove), cancel: t(AnnotationBrakeCancel)}
}

func (b brakeState) writeTo(a map[string]string) {
	a[AnnotationBrakeAdmitted] = strings.Join(b.admitted, " ")
	if b.heldSince.IsZero() {
		delete(a, AnnotationBrakeHeldSince)
	} else {
		a[AnnotationBrakeHeldSince] = b.heldSince.UTC().Format(time.RFC3339)
	}
}

func admittedAt(entry string) time.Time {
	_, at, _ := strings.Cut(entry, "@")
	t, _ := time.Parse(time.RFC3339, at)
	return t
}

// brakeDeletion decides whether this object may delete its guest now. A held deletion is a
// blockedError with reason DeletionHeld; the object keeps its finalizer and looks again
// every 15 seconds.
func (r *Reconciler) brakeDeletion(ctx context.Context, pinv *b2bv1alpha1.PartnerInvitation) (brakeVerdict, error) {
	opts := r.opts()
	if opts.DeletionThreshold < 0 {
		return brakeAdmitted, nil
	}
	if err := r.fenceCheck(); err != nil {
		return 0, err
	}
	requested := pinv.DeletionTimestamp.Time
	var verdict brakeVerdict
	var held bool
	var limit int
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		lease, err := r.brakeLease(ctx)
		if err != nil {
			return err
		}
		st := readBrake(lease.Annotations)
		mine := string(pinv.UID) + "@"
		held = false
		switch {
		case slices.ContainsFunc(st.admitted, func(e string) bool { return strings.HasPrefix(e, mine) }):
			verdict = brakeAdmitted
			return nil
		case !st.cancel.IsZero() && !requested.After(st.cancel):
			verdict = brakeCancelled
			return nil
		case !st.approve.IsZero() && !requested.After(st.approve):
			verdict = brakeApproved
			return nil
		}
		now := r.now()
		// A decision taken after the brake engaged releases it: counting starts again.
		if !st.heldSince.IsZero() && (!st.approve.Before(st.heldSince) || !st.cancel.Before(st.heldSince)) {
			st.heldSince, st.admitted = time.Time{}, nil
		}
		st.admitted = slices.DeleteFunc(st.admitted, func(e string) bool { return now.Sub(admittedAt(e)) > opts.DeletionWindow })
		if limit, err = r.deletionLimit(ctx, st.admitted); err != nil {
			return err
		}
		if st.heldSince.IsZero() && len(st.admitted) < limit {
			st.admitted = append(st.admitted, mine+now.UTC().Format(time.RFC3339))
			verdict = brakeAdmitted
		} else {
			held = true
			if st.heldSince.IsZero() {
				st.heldSince = now
			}
		}
		before := readBrake(lease.Annotations)
		if slices.Equal(before.admitted, st.admitted) && before.heldSince.Equal(st.heldSince) {
			return nil
		}
		st.writeTo(lease.Annotations)
		return r.Update(ctx, lease)
	})
	if err != nil {
		return 0, fmt.Errorf("consult the deletion brake: %w", err)
	}
	if held {
		r.Metrics.countGuestDeletion("held")
		return 0, &blockedError{reason: b2bv1alpha1.ReasonDeletionHeld, stalled: true, retryAfter: 15 * time.Second, message: fmt.Sprintf(
			"the accidental-deletion brake holds this guest's deletion: more than %d guests would be deleted within %s; "+
				"nothing more is deleted until an admin approves (kubectl partner brake approve) or cancels, keeping the guests (kubectl partner brake cancel)",
			limit, opts.DeletionWindow)}
	}
	switch verdict {
	case brakeAdmitted:
		r.Metrics.countGuestDeletion("admitted")
	case brakeApproved:
		r.Metrics.countGuestDeletion("approved")
	case brakeCancelled:
		r.Metrics.countGuestDeletion("cancelled")
	}
	return verdict, nil
}

// brakeLease reads the brake around the cache, creating it if absent.
func (r *Reconciler) brakeLease(ctx context.Context) (*coordinationv1.Lease, error) {
	lease := &coordinationv1.Lease{}
	key := client.ObjectKey{Namespace: r.opts().ClaimNamespace, Name: BrakeLeaseName}
	err := r.apiReader().Get(ctx, key, lease)
	if apierrors.IsNotFound(err) {
		lease = &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Namespace: key.Namespace, Name: key.Name,
			Labels:      map[string]string{"app.kubernetes.io/managed-by": "partner-operator"},
			Annotations: map[string]string{AnnotationBrakeAdmitted: ""}}}
		if err := r.Create(ctx, lease); err != nil {
			if apierrors.IsAlreadyExists(err) {
				return nil, apierrors.NewConflict(coordinationv1.Resource("leases"), key.Name, err)
			}
			return nil, err
		}
		return lease, nil
	}
	if err != nil {
		return nil, err
	}
	if lease.Annotations == nil {
		lease.Annotations = map[string]string{}
	}
	return lease, nil
}

// deletionLimit is the count the window admits: the threshold, or the share of the guests the
// operator manages if fewer, but never below the floor. The guests deleted within the window
// still count as managed, so the share does not shrink as a mass deletion proceeds.
func (r *Reconciler) deletionLimit(ctx context.Context, admitted []string) (int, error) {
	opts := r.opts()
	limit := opts.DeletionThreshold
	if opts.DeletionThresholdPercent <= 0 {
		return limit, nil
	}
	var all b2bv1alpha1.PartnerInvitationList
	if err := r.List(ctx, &all, client.UnsafeDisableDeepCopy); err != nil {
		return 0, fmt.Errorf("count the managed guests: %w", err)
	}
	live := map[string]bool{}
	for i := range all.Items {
		if all.Items[i].Status.UserID != "" {
			live[string(all.Items[i].UID)] = true
		}
	}
	managed := len(live)
	for _, e := range admitted {
		if uid, _, _ := strings.Cut(e, "@"); !live[uid] {
			managed++
		}
	}
	share := max(deletionThresholdFloor, (managed*opts.DeletionThresholdPercent+99)/100)
	return min(limit, share), nil
}
