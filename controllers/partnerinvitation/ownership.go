package partnerinvitation

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/go-logr/logr"
	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/workqueue"

	b2bv1alpha1 "github.com/partnerops/partner-operator/api/v1alpha1"
	"github.com/partnerops/partner-operator/internal/graph"
)

// The ownership record in the directory (graph.Ownership) says which installation manages a
// guest and for which object. The claim Lease stays the cluster's own memory; the record is
// what survives the cluster. It is written after the invitation, by the OwnershipRecorder, on
// the identity write budget, so invitations never wait for it; it is checked on every read of
// the guest, and written synchronously before a deletion: no guest is deleted without it.

// ownershipOn says whether this installation keeps records (it has an owner ID).
func (r *Reconciler) ownershipOn() bool { return r.opts().OwnerID != "" }

// ownershipFor is the record this object's guest should carry.
func (r *Reconciler) ownershipFor(pinv *b2bv1alpha1.PartnerInvitation, origin string) graph.Ownership {
	if origin == "" {
		origin = b2bv1alpha1.GuestOriginInvited
	}
	return graph.Ownership{Owner: r.opts().OwnerID, Object: graph.ObjectRef(pinv.Namespace, pinv.Name), UID: string(pinv.UID), Origin: origin}
}

// ownerRelation is how a guest's record relates to this object.
type ownerRelation int

const (
	unrecorded     ownerRelation = iota // the guest carries no record
	thisObject                          // this installation, this namespace/name
	otherObject                         // this installation, another object
	otherInstaller                      // another installation
)

func (r *Reconciler) relation(pinv *b2bv1alpha1.PartnerInvitation, u *graph.User) ownerRelation {
	o := u.Ownership
	switch {
	case !r.ownershipOn() || o.Owner == "":
		return unrecorded
	case o.Owner != r.opts().OwnerID:
		return otherInstaller
	case o.Object == graph.ObjectRef(pinv.Namespace, pinv.Name):
		return thisObject
	}
	return otherObject
}

// ownedElsewhere stalls an object whose guest another installation owns: whatever a policy
// says, nothing is written to that account.
func ownedElsewhere(u *graph.User) error {
	return &blockedError{reason: b2bv1alpha1.ReasonConflict, stalled: true, retryAfter: time.Hour, message: fmt.Sprintf(
		"guest %s belongs to partner-operator installation %q (the ownership record in the directory names it, for %s); nothing is changed on that account",
		u.ID, u.Ownership.Owner, u.Ownership.Object)}
}

// keepRecord has the recorder bring the guest's record to this object's, unless it is so.
func (r *Reconciler) keepRecord(pinv *b2bv1alpha1.PartnerInvitation, u *graph.User, origin string) {
	if !r.ownershipOn() || r.Records == nil {
		return
	}
	want := r.ownershipFor(pinv, origin)
	if u != nil && u.Ownership == want {
		return
	}
	id := pinv.Status.UserID
	if u != nil {
		id = u.ID
	}
	r.Records.Record(id, pinv.Spec.Email, want)
}

// recordNow writes the record before a deletion, so the deleted account (restorable for 30
// days) says whose it was, and a guest is never deleted without it.
func (r *Reconciler) recordNow(ctx context.Context, pinv *b2bv1alpha1.PartnerInvitation, u *graph.User, origin string) error {
	if !r.ownershipOn() {
		return nil
	}
	want := r.ownershipFor(pinv, origin)
	if u.Ownership == want {
		return nil
	}
	if err := r.Directory.UpdateUser(ctx, u.ID, graph.UserUpdate{Ownership: &want}); err != nil {
		return fmt.Errorf("write the ownership record before deleting guest %s: %w", u.ID, err)
	}
	u.Ownership = want
	return nil
}

// forgetRecord drops a queued record of a guest just deleted: there is nothing left to write.
func (r *Reconciler) forgetRecord(userID string) {
	if r.Records != nil {
		r.Records.Forget(userID)
	}
}

// OwnershipRecorder writes ownership records in the background, at the identity write budget's
// pace, so the invitation path (which has its own quota) never waits for a write slot. A record
// lost in a crash is noticed on the next read of the guest and queued again.
type OwnershipRecorder struct {
	Directory graph.Directory
	Log       logr.Logger
	Metrics   *Metrics
	// Workers bound the writes in flight; 4 when zero.
	Workers int
	// Schema opens once the record's properties are registered; nil: they are.
	Schema *Gate

	once  sync.Once
	queue workqueue.TypedRateLimitingInterface[string]
	mu    sync.Mutex
	want  map[string]pendingRecord
}

// pendingRecord is a record to write and the address its guest must hold.
type pendingRecord struct {
	email     string
	ownership graph.Ownership
}

func (w *OwnershipRecorder) init() {
	w.once.Do(func() {
		w.queue = workqueue.NewTypedRateLimitingQueueWithConfig(
			workqueue.NewTypedItemExponentialFailureRateLimiter[string](2*time.Second, 2*time.Minute),
			workqueue.TypedRateLimitingQueueConfig[string]{Name: "ownership-records"})
		w.want = map[string]pendingRecord{}
	})
}

// Record queues the record for the guest, which must hold email when it is written; a later
// call for the same guest replaces it.
func (w *OwnershipRecorder) Record(userID, email string, o graph.Ownership) {
	if userID == "" {
		return
	}
	w.init()
	w.mu.Lock()
	w.want[userID] = pendingRecord{email: email, ownership: o}
	w.mu.Unlock()
	w.queue.Add(userID)
}

// Forget drops the guest's queued record, if any.
func (w *OwnershipRecorder) Forget(userID string) {
	w.init()
	w.mu.Lock()
	delete(w.want, userID)
	w.mu.Unlock()
}

// Pending is how many records wait to be written.
func (w *OwnershipRecorder) Pending() int {
	w.init()
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.want)
}

// NeedLeaderElection: only the leader writes.
func (w *OwnershipRecorder) NeedLeaderElection() bool { return true }

// Start runs the workers until ctx ends.
func (w *OwnershipRecorder) Start(ctx context.Context) error {
	w.init()
	if err := w.Schema.Wait(ctx); err != nil {
		w.queue.ShutDown()
		return nil
	}
	workers := w.Workers
	if workers <= 0 {
		workers = 4
	}
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for w.next(ctx) {
			}
		})
	}
	<-ctx.Done()
	w.queue.ShutDown()
	wg.Wait()
	return nil
}

// attempts bounds the retries of one record: a guest Graph does not list yet is retried for
// a few minutes; after that the next reconcile of its object queues it again.
const recordAttempts = 8

func (w *OwnershipRecorder) next(ctx context.Context) bool {
	id, quit := w.queue.Get()
	if quit {
		return false
	}
	defer w.queue.Done(id)
	w.mu.Lock()
	want, ok := w.want[id]
	w.mu.Unlock()
	if !ok {
		w.queue.Forget(id)
		return true
	}
	outcome, err := w.write(graph.WithLowPriority(ctx), id, want)
	if err != nil && ctx.Err() == nil && w.queue.NumRequeues(id) < recordAttempts {
		w.queue.AddRateLimited(id)
		return true
	}
	if err != nil {
		outcome = "failed"
		w.Log.Info("cannot write the ownership record; the next reconcile of its object tries again", "userID", id, "error", err.Error())
	}
	w.Metrics.countOwnershipRecord(outcome)
	w.queue.Forget(id)
	w.mu.Lock()
	if w.want[id] == want {
		delete(w.want, id)
	}
	w.mu.Unlock()
	return true
}

// write reads the guest first, as before any write to an account: it must still be a guest
// holding the object's address, and Graph has no conditional update of a user, so a record
// another installation wrote meanwhile is seen and left alone rather than overwritten.
func (w *OwnershipRecorder) write(ctx context.Context, id string, rec pendingRecord) (string, error) {
	u, err := w.Directory.GetUser(ctx, id)
	if err != nil {
		return "", err
	}
	want := rec.ownership
	switch {
	case u.Ownership == want:
		return "current", nil
	case verifyGuest(u, rec.email) != nil:
		w.Log.Info("not writing the ownership record: the account is no longer a guest holding the object's address", "userID", id)
		return "refused", nil
	case u.Ownership.Owner != "" && u.Ownership.Owner != want.Owner:
		w.Log.Info("guest is owned by another installation; its record is left as it is", "userID", id, "owner", u.Ownership.Owner)
		return "refused", nil
	}
	if err := w.Directory.UpdateUser(ctx, id, graph.UserUpdate{Ownership: &want}); err != nil {
		return "", err
	}
	return "written", nil
}

// reclaim takes back a guest whose record names this installation and this object: the
// cluster lost its claims (rebuilt from Git, say), the directory did not. No mail is sent and
// no adoption policy is needed; the guest keeps its ID and its redemption.
func (r *Reconciler) reclaim(ctx context.Context, pinv *b2bv1alpha1.PartnerInvitation, claim *addressClaim, guest *graph.User, f *findings) error {
	if err := r.ensureFinalizer(ctx, pinv); err != nil {
		return err
	}
	origin := originOf(guest)
	err := r.save(ctx, pinv, claim, func(rec *guestRecord) {
		*rec = guestRecord{UserID: guest.ID, Origin: origin}
		requestedNow(pinv, rec)
	})
	if err != nil {
		return err
	}
	mirror(pinv, claim.record)
	if pinv.Status.InvitedAt == nil && !guest.CreatedAt.IsZero() {
		pinv.Status.InvitedAt = &metav1.Time{Time: guest.CreatedAt}
	}
	f.established, f.establishedMsg = b2bv1alpha1.ReasonReclaimed, fmt.Sprintf(
		"Took guest %s back: its ownership record in the directory names this installation and this object; no invitation was sent", guest.ID)
	r.keepRecord(pinv, guest, origin)
	return nil
}

func originOf(u *graph.User) string {
	if u.Ownership.Origin == b2bv1alpha1.GuestOriginAdopted {
		return b2bv1alpha1.GuestOriginAdopted
	}
	return b2bv1alpha1.GuestOriginInvited
}

// recordMayBeOnItsWay says a guest without a record was invited so recently that the
// installation that invited it may not have written its record yet: it is not adopted
// meanwhile.
func (r *Reconciler) recordMayBeOnItsWay(u *graph.User) bool {
	return r.ownershipOn() && u.Ownership.IsZero() && strings.EqualFold(u.CreationType, graph.CreationTypeInvitation) &&
		!u.CreatedAt.IsZero() && r.now().Sub(u.CreatedAt) < r.opts().CreateGracePeriod
}

// restoreRetention is how long after a deletion the operator tries a restore: Graph keeps a
// deleted user 30 days; a day less leaves room for clocks and the purge's own schedule.
const restoreRetention = 29 * 24 * time.Hour

// tombstone keeps the claim after this installation deleted the guest, holding nobody and
// naming the deleted guest, so the next object for the address restores it instead of
// inviting anew.
func (r *Reconciler) tombstone(ctx context.Context, lease *coordinationv1.Lease, pinv *b2bv1alpha1.PartnerInvitation, userID string) error {
	if err := r.fenceCheck(); err != nil {
		return err
	}
	lease = lease.DeepCopy()
	lease.Spec.HolderIdentity = nil
	delete(lease.Annotations, b2bv1alpha1.AnnotationClaimHolderUID)
	// writeTo removes the keys the record has no value for: the rest of the guest's record.
	guestRecord{RestoreFrom: userID, DeletedAt: r.now(), DeletedBy: holderIdentity(pinv)}.writeTo(lease.Annotations)
	if err := r.Update(ctx, lease); err != nil {
		if apierrors.IsNotFound(err) {
			return nil
		}
		return fmt.Errorf("keep the deleted guest on the address claim: %w", err)
	}
	return nil
}

// tombstoneRecord is what a claim left by a deletion passes on: the guest to restore, while
// Graph still can.
func (r *Reconciler) tombstoneRecord(lease *coordinationv1.Lease) guestRecord {
	rec := readRecord(lease.Annotations)
	if rec.RestoreFrom == "" || !r.ownershipOn() || r.now().Sub(rec.DeletedAt) > restoreRetention {
		return guestRecord{}
	}
	return guestRecord{RestoreFrom: rec.RestoreFrom, DeletedAt: rec.DeletedAt, DeletedBy: rec.DeletedBy}
}

// restoreGuest restores the guest this installation deleted for the address, once the deleted
// account is confirmed to be a guest with the address and this installation's record. A guest
// purged meanwhile, or not this installation's, is forgotten, and the partner is invited.
func (r *Reconciler) restoreGuest(ctx context.Context, pinv *b2bv1alpha1.PartnerInvitation, claim *addressClaim, f *findings) (*graph.User, error) {
	id := claim.record.RestoreFrom
	// A restore passes the guest from the deleted object to this one: only where a handover
	// between the two would be allowed.
	if allowed, err := r.mayRestore(ctx, claim.record.DeletedBy, pinv); err != nil || !allowed {
		if err != nil {
			return nil, err
		}
		return nil, r.forgetRestore(ctx, pinv, claim)
	}
	u, err := r.Directory.GetDeletedUser(ctx, id)
	switch {
	case graph.IsNotFound(err):
		return nil, r.forgetRestore(ctx, pinv, claim)
	case err != nil:
		return nil, err
	case !u.IsGuest() || !holdsAddress(u, pinv.Spec.Email) || u.Ownership.Owner != r.opts().OwnerID:
		return nil, r.forgetRestore(ctx, pinv, claim)
	}
	if err := r.ensureFinalizer(ctx, pinv); err != nil {
		return nil, err
	}
	if err := r.Directory.RestoreDeletedUser(ctx, id); err != nil {
		if graph.IsNotFound(err) {
			return nil, r.forgetRestore(ctx, pinv, claim)
		}
		return nil, err
	}
	return u, r.takeRestored(ctx, pinv, claim, u, f)
}

// takeRestored records a restored guest as this object's.
func (r *Reconciler) takeRestored(ctx context.Context, pinv *b2bv1alpha1.PartnerInvitation, claim *addressClaim, u *graph.User, f *findings) error {
	origin, deletedAt := originOf(u), claim.record.DeletedAt
	err := r.saveCritical(ctx, pinv, claim, func(rec *guestRecord) {
		// InvitedAt starts the creation grace: Graph may list the restored guest a little late.
		*rec = guestRecord{UserID: u.ID, Origin: origin, InvitedAt: r.now()}
		requestedNow(pinv, rec)
	})
	if err != nil {
		return err
	}
	mirror(pinv, claim.record)
	now := metav1.NewTime(r.now())
	pinv.Status.InvitedAt = &now
	f.established, f.establishedMsg = b2bv1alpha1.ReasonRestored, fmt.Sprintf(
		"Restored guest %s, which this installation deleted on %s, instead of inviting the partner anew", u.ID, deletedAt.UTC().Format(time.DateOnly))
	r.keepRecord(pinv, u, origin)
	return nil
}

func (r *Reconciler) mayRestore(ctx context.Context, deletedBy string, pinv *b2bv1alpha1.PartnerInvitation) (bool, error) {
	ns, name, _ := strings.Cut(deletedBy, "/")
	if ns == pinv.Namespace {
		return true, nil
	}
	from := &b2bv1alpha1.PartnerInvitation{}
	from.Namespace, from.Name = ns, name
	allowed, err := r.mayHandOver(ctx, from, pinv)
	if apierrors.IsNotFound(err) {
		return false, nil // the namespace is gone: no policy can select it
	}
	return allowed, err
}

func (r *Reconciler) forgetRestore(ctx context.Context, pinv *b2bv1alpha1.PartnerInvitation, claim *addressClaim) error {
	return r.save(ctx, pinv, claim, func(rec *guestRecord) { rec.RestoreFrom, rec.DeletedAt, rec.DeletedBy = "", time.Time{}, "" })
}

// Gate opens once: the ownership record's properties are known to Graph. Until then a read
// that selects them is refused (400), so the reconciler, the users-delta watcher and the
// recorder wait for it rather than take the refusal for a verdict on the object.
type Gate struct {
	once sync.Once
	ch   chan struct{}
}

// NewGate returns a closed gate.
func NewGate() *Gate { return &Gate{ch: make(chan struct{})} }

// Open opens the gate; later calls do nothing.
func (g *Gate) Open() { g.once.Do(func() { close(g.ch) }) }

// IsOpen reports whether the gate is open; a nil gate always is.
func (g *Gate) IsOpen() bool {
	if g == nil {
		return true
	}
	select {
	case <-g.ch:
		return true
	default:
		return false
	}
}

// Wait blocks until the gate opens or ctx ends; a nil gate is open.
func (g *Gate) Wait(ctx context.Context) error {
	if g == nil {
		return nil
	}
	select {
	case <-g.ch:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
