package partnerinvitation

import (
	"context"
	"fmt"
	"strings"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/util/retry"
	"k8s.io/utils/ptr"

	b2bv1alpha1 "github.com/partnerops/partner-operator/api/v1alpha1"
	"github.com/partnerops/partner-operator/internal/graph"
)

// guestRecord is everything the operator acts on about the guest one PartnerInvitation
// manages: which account it is, how the object came to manage it, whether an invitation is in
// flight, and which send requests were answered. It lives on the address claim, a Lease in the
// operator's namespace, which no namespace editor can write; the object's status only mirrors
// it for people to read. The object's own annotations and labels are requests, never memory.
type guestRecord struct {
	// UserID is the guest's object ID; empty while no guest is known.
	UserID string
	// Origin is GuestOriginInvited or GuestOriginAdopted.
	Origin string
	// InvitePending is when an invitation was about to be sent and its answer not recorded yet.
	InvitePending time.Time
	// InvitedAt is when Graph answered the invitation that created the guest.
	InvitedAt time.Time
	// LastSentAt is when an invitation (first, resend or reset) last went out.
	LastSentAt time.Time
	// ResendHandled and ResetHandled are the request values last answered or refused.
	ResendHandled, ResetHandled string
	// HandedOverFrom names the object that held the guest before, when it came by handover.
	HandedOverFrom string
	// RestoreFrom is the guest this installation deleted for the address, kept on the claim
	// after the deletion (a tombstone) while Graph can still restore it; DeletedAt is when.
	RestoreFrom string
	DeletedAt   time.Time
	// DeletedBy is the object (namespace/name) whose deletion deleted the guest.
	DeletedBy string
}

// The record's keys on the claim Lease. They may share names with annotations a PartnerInvitation
// carried in earlier versions; there they are ignored.
const (
	recordUserID         = b2bv1alpha1.AnnotationClaimGuest
	recordOrigin         = b2bv1alpha1.AnnotationGuestOrigin
	recordInvitePending  = b2bv1alpha1.AnnotationCreatePending
	recordInvitedAt      = b2bv1alpha1.AnnotationCreateSucceeded
	recordLastSentAt     = "b2b.partnerops.io/last-sent-at"
	recordResendHandled  = b2bv1alpha1.AnnotationResendHandled
	recordResetHandled   = b2bv1alpha1.AnnotationResetHandled
	recordHandedOverFrom = "b2b.partnerops.io/handed-over-from"
	recordRestoreFrom    = "b2b.partnerops.io/restore-from"
	recordDeletedAt      = "b2b.partnerops.io/deleted-at"
	recordDeletedBy      = "b2b.partnerops.io/deleted-by"
)

func readRecord(a map[string]string) guestRecord {
	t := func(key string) time.Time {
		v, _ := time.Parse(time.RFC3339, a[key])
		return v
	}
	return guestRecord{
		UserID: a[recordUserID], Origin: a[recordOrigin],
		InvitePending: t(recordInvitePending), InvitedAt: t(recordInvitedAt), LastSentAt: t(recordLastSentAt),
		ResendHandled: a[recordResendHandled], ResetHandled: a[recordResetHandled],
		HandedOverFrom: a[recordHandedOverFrom],
		RestoreFrom:    a[recordRestoreFrom], DeletedAt: t(recordDeletedAt), DeletedBy: a[recordDeletedBy],
	}
}

func (g guestRecord) writeTo(a map[string]string) {
	set := func(key, value string) {
		if value == "" {
			delete(a, key)
			return
		}
		a[key] = value
	}
	stamp := func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.UTC().Format(time.RFC3339)
	}
	set(recordUserID, g.UserID)
	set(recordOrigin, g.Origin)
	set(recordInvitePending, stamp(g.InvitePending))
	set(recordInvitedAt, stamp(g.InvitedAt))
	set(recordLastSentAt, stamp(g.LastSentAt))
	set(recordResendHandled, g.ResendHandled)
	set(recordResetHandled, g.ResetHandled)
	set(recordHandedOverFrom, g.HandedOverFrom)
	set(recordRestoreFrom, g.RestoreFrom)
	set(recordDeletedAt, stamp(g.DeletedAt))
	set(recordDeletedBy, g.DeletedBy)
}

func (g guestRecord) adopted() bool { return g.Origin == b2bv1alpha1.GuestOriginAdopted }

// addressClaim is this object's claim on its address together with the record it carries.
// lease is nil while the claim is not created yet: it is created, if absent, with the first
// record this object writes, so an object that never writes to Graph never holds an address.
type addressClaim struct {
	lease  *coordinationv1.Lease
	record guestRecord
	// unsaved is true when record came from the status of an object that predates records on
	// the claim; it is saved once the directory confirms it (see verifyGuest).
	unsaved bool
}

// errClaimTaken reports that another object created the claim between this reconcile's read
// and its write: a conflict, retried quietly, after which the claim names its holder.
func errClaimTaken(name string) error {
	return apierrors.NewConflict(schema.GroupResource{Group: "coordination.k8s.io", Resource: "leases"}, name,
		fmt.Errorf("the address was claimed by another PartnerInvitation meanwhile"))
}

// save writes the record onto the claim: a create if absent, else an update checked against
// the resourceVersion this reconcile read, so a stale reconcile never overwrites a newer
// record. mutate changes the record in place; on success the reconcile's copies are updated.
func (r *Reconciler) save(ctx context.Context, pinv *b2bv1alpha1.PartnerInvitation, claim *addressClaim, mutate func(*guestRecord)) error {
	if err := r.fenceCheck(); err != nil {
		return err
	}
	rec := claim.record
	mutate(&rec)
	if claim.lease == nil {
		lease := r.newClaim(pinv)
		rec.writeTo(lease.Annotations)
		if err := r.Create(ctx, lease); err != nil {
			if apierrors.IsAlreadyExists(err) {
				return errClaimTaken(lease.Name)
			}
			return fmt.Errorf("claim the address: %w", err)
		}
		claim.lease, claim.record, claim.unsaved = lease, rec, false
		return nil
	}
	lease := claim.lease.DeepCopy()
	if lease.Annotations == nil {
		lease.Annotations = map[string]string{}
	}
	rec.writeTo(lease.Annotations)
	if err := r.Update(ctx, lease); err != nil {
		return fmt.Errorf("%s: %w", errRecordCreate, err)
	}
	claim.lease, claim.record, claim.unsaved = lease, rec, false
	return nil
}

// saveCritical records what Graph has already done (an invitation's answer). It outlives a
// cancelled reconcile and retries conflicts on a fresh read of the claim, as long as this
// object still holds it: losing this write would orphan the guest or send a second mail.
func (r *Reconciler) saveCritical(ctx context.Context, pinv *b2bv1alpha1.PartnerInvitation, claim *addressClaim, mutate func(*guestRecord)) error {
	critical, cancel := criticalContext(ctx)
	defer cancel()
	first := true
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		if !first {
			lease, err := r.getClaim(critical, pinv)
			if err != nil {
				return err
			}
			if !heldBy(lease, pinv) {
				return fmt.Errorf("%s: the claim on the address changed hands", errRecordCreate)
			}
			claim.lease, claim.record = lease, readRecord(lease.Annotations)
		}
		first = false
		return r.save(critical, pinv, claim, mutate)
	})
}

// legacyRecord is the record of an object from before records lived on the claim: its status,
// which only the operator writes. It is trusted only after verifyGuest confirms it.
func legacyRecord(pinv *b2bv1alpha1.PartnerInvitation) guestRecord {
	rec := guestRecord{UserID: pinv.Status.UserID, Origin: b2bv1alpha1.GuestOriginInvited,
		ResendHandled: pinv.Status.LastHandledResendAt, ResetHandled: pinv.Status.LastHandledResetAt}
	if pinv.Status.Adopted {
		rec.Origin = b2bv1alpha1.GuestOriginAdopted
	}
	if pinv.Status.LastSentAt != nil {
		rec.LastSentAt = pinv.Status.LastSentAt.Time
	}
	return rec
}

// mirror copies the record into status, where people and the redemption watcher read it.
func mirror(pinv *b2bv1alpha1.PartnerInvitation, rec guestRecord) {
	pinv.Status.UserID = rec.UserID
	pinv.Status.Adopted = rec.UserID != "" && rec.adopted()
	pinv.Status.LastHandledResendAt = rec.ResendHandled
	pinv.Status.LastHandledResetAt = rec.ResetHandled
	if !rec.LastSentAt.IsZero() && (pinv.Status.LastSentAt == nil || !pinv.Status.LastSentAt.Time.Equal(rec.LastSentAt)) {
		pinv.Status.LastSentAt = ptr.To(metav1.NewTime(rec.LastSentAt))
	}
}

// verifyGuest checks, against the directory, that the account a record names may be acted on
// for this object: it is a guest (or an account an invitation created), and it holds the
// object's address. Whatever a record says, a member account is never touched.
func verifyGuest(u *graph.User, email string) error {
	if !u.IsGuest() {
		return fmt.Errorf("user %s is a member account, which the operator never manages", u.ID)
	}
	if !holdsAddress(u, email) {
		return fmt.Errorf("guest %s no longer has the address in spec.email", u.ID)
	}
	return nil
}

func holdsAddress(u *graph.User, email string) bool {
	if strings.EqualFold(u.Mail, email) {
		return true
	}
	for _, m := range u.OtherMails {
		if strings.EqualFold(m, email) {
			return true
		}
	}
	return false
}

// recordMismatch stalls an object whose record names an account the directory does not confirm;
// nothing is written to that account.
func recordMismatch(err error) error {
	return &blockedError{reason: b2bv1alpha1.ReasonConflict, stalled: true, retryAfter: time.Hour, message: fmt.Sprintf(
		"%v; nothing is changed on that account (delete this PartnerInvitation with deletionPolicy Orphan, or ask the cluster owner)", err)}
}

// withinCreateGrace says an invitation went out (or was about to) recently enough that a guest
// Graph does not list yet is taken for eventual consistency, not for a deletion. The grace
// runs from the later of the mark and this replica's taking the lead: a deposed leader's last
// request left before then (it is fenced), but may have been marked long before.
func (r *Reconciler) withinCreateGrace(rec guestRecord) bool {
	for _, t := range []time.Time{rec.InvitedAt, rec.InvitePending} {
		if !t.IsZero() {
			if since := r.leaderSince(); since.After(t) {
				t = since
			}
			return r.now().Sub(t) < r.opts().CreateGracePeriod
		}
	}
	return false
}

// requestedNow is the record of a first invitation: it answers the send requests present.
func requestedNow(pinv *b2bv1alpha1.PartnerInvitation, rec *guestRecord) {
	for _, kind := range []sendAgainKind{resendRequest, resetRequest} {
		if v := pinv.Annotations[kind.requested]; v != "" {
			*kind.handled(rec) = v
		}
	}
}
