package partnerinvitation

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"math/rand/v2"
	"sort"
	"strings"
	"time"

	"golang.org/x/time/rate"
	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	b2bv1alpha1 "github.com/partnerops/partner-operator/api/v1alpha1"
	"github.com/partnerops/partner-operator/internal/tenant"
)

// DefaultClaimNamespace is where address claims live when no namespace is configured: the
// namespace config/default installs the operator in.
const DefaultClaimNamespace = "partner-operator-system"

// One address is managed by one PartnerInvitation cluster-wide. The API server decides which:
// the claim is a Lease, named after a hash of the lower-cased address, in the operator's
// namespace. Whoever creates it holds the address; a create that finds it taken loses,
// whatever any cache says. The Lease never expires; it changes hands only when its holder
// hands it over on deletion, or when the holder no longer exists.

// claimName is the Lease name for an address in the default tenant. The hash keeps the
// address itself (personal data) out of object names.
func claimName(email string) string {
	sum := sha256.Sum256([]byte(strings.ToLower(strings.TrimSpace(email))))
	return "address-" + hex.EncodeToString(sum[:16])
}

// claimNameIn is the Lease name for an address in a tenant: the same address may be a guest in
// two tenants, each managed by its own object. The default tenant's claims keep their names
// from before tenants, and a tenant object for the default tenant's ID shares them.
func claimNameIn(tenantID, defaultTenantID, email string) string {
	if tenantID == "" || strings.EqualFold(tenantID, defaultTenantID) {
		return claimName(email)
	}
	sum := sha256.Sum256([]byte(strings.ToLower(tenantID) + "/" + strings.ToLower(strings.TrimSpace(email))))
	return "address-" + hex.EncodeToString(sum[:16])
}

// claimName is the Lease name of the invitation's address in the tenant the reconciler is
// bound to.
func (r *Reconciler) claimName(pinv *b2bv1alpha1.PartnerInvitation) string {
	id := ""
	if r.tenant != nil {
		id = r.tenant.ID
	}
	return claimNameIn(id, r.opts().DefaultTenantID, pinv.Spec.Email)
}

// peerKey is the EmailIndex value of an invitation: its address, within the tenant object it
// names. Objects for one address in different tenants are not peers.
func peerKey(pinv *b2bv1alpha1.PartnerInvitation) string {
	email := strings.ToLower(pinv.Spec.Email)
	if key := tenant.RefOf(pinv).Key(); key != "" {
		return key + "|" + email
	}
	return email
}

func holderIdentity(pinv *b2bv1alpha1.PartnerInvitation) string {
	return pinv.Namespace + "/" + pinv.Name
}

func heldBy(lease *coordinationv1.Lease, pinv *b2bv1alpha1.PartnerInvitation) bool {
	return lease.Annotations[b2bv1alpha1.AnnotationClaimHolderUID] == string(pinv.UID)
}

// claimAddress finds this object's claim on its address and the record it carries. It returns
// an uncreated claim when nobody holds the address (the first record written creates it), and
// a Conflict blocker naming the holder when another live object does.
func (r *Reconciler) claimAddress(ctx context.Context, pinv *b2bv1alpha1.PartnerInvitation) (*addressClaim, error) {
	lease, err := r.getClaim(ctx, pinv)
	if apierrors.IsNotFound(err) {
		holder, err := r.unclaimedManager(ctx, pinv)
		if err != nil {
			return nil, err
		}
		if holder != "" {
			return nil, &blockedError{reason: b2bv1alpha1.ReasonConflict, stalled: true, retryAfter: time.Minute, message: fmt.Sprintf(
				"spec.email is already managed by PartnerInvitation %s", holder)}
		}
		return unclaimed(pinv), nil
	}
	if err != nil {
		return nil, err
	}
	if heldBy(lease, pinv) {
		return held(pinv, lease), nil
	}
	holder := ptr.Deref(lease.Spec.HolderIdentity, "")
	alive, err := r.holderExists(ctx, lease)
	if err != nil {
		return nil, err
	}
	if alive {
		return nil, &blockedError{reason: b2bv1alpha1.ReasonConflict, stalled: true, message: fmt.Sprintf(
			"spec.email is already claimed by PartnerInvitation %s", holder)}
	}
	// The holder was removed without handing over (its finalizer taken off by hand, say): its
	// guest is not passed on. The resourceVersion makes this a race the API server decides.
	// A claim left by this installation's deletion of the guest passes on what to restore.
	lease, err = r.transferClaim(ctx, lease, pinv, r.tombstoneRecord(lease))
	if err != nil {
		return nil, err
	}
	return held(pinv, lease), nil
}

// unclaimed is the claim of an object no claim exists for. An object from before claims that
// names a guest in its status brings that record along, to be confirmed by the directory.
func unclaimed(pinv *b2bv1alpha1.PartnerInvitation) *addressClaim {
	if pinv.Status.UserID == "" {
		return &addressClaim{}
	}
	return &addressClaim{record: legacyRecord(pinv), unsaved: true}
}

// held is a claim this object holds. One from before records lived on the claim gets the
// object's status as its record, to be confirmed by the directory.
func held(pinv *b2bv1alpha1.PartnerInvitation, lease *coordinationv1.Lease) *addressClaim {
	rec := readRecord(lease.Annotations)
	if rec.UserID == "" && rec.InvitePending.IsZero() && pinv.Status.UserID != "" && lease.Annotations[recordOrigin] == "" {
		return &addressClaim{lease: lease, record: legacyRecord(pinv), unsaved: true}
	}
	return &addressClaim{lease: lease, record: rec}
}

// unclaimedManager names another object that already manages a guest for the address without
// a claim (it was invited before claims existed); it will take the claim on its next
// reconcile. Only status counts, which no namespace editor writes. The cache can only make this
// object wait, never let it claim.
func (r *Reconciler) unclaimedManager(ctx context.Context, pinv *b2bv1alpha1.PartnerInvitation) (string, error) {
	if pinv.Status.UserID != "" {
		return "", nil
	}
	var peers b2bv1alpha1.PartnerInvitationList
	if err := r.List(ctx, &peers, client.MatchingFields{EmailIndex: peerKey(pinv)}); err != nil {
		return "", fmt.Errorf("%s: %w", errListPeers, err)
	}
	for i := range peers.Items {
		p := &peers.Items[i]
		if p.UID != pinv.UID && p.Status.UserID != "" {
			return holderIdentity(p), nil
		}
	}
	return "", nil
}

// releaseClaim drops this object's claim; preconditions make sure it is still this object's.
func (r *Reconciler) releaseClaim(ctx context.Context, lease *coordinationv1.Lease) error {
	err := r.Delete(ctx, lease, client.Preconditions{UID: &lease.UID, ResourceVersion: &lease.ResourceVersion})
	if err != nil && !apierrors.IsNotFound(err) {
		return fmt.Errorf("release the claim on the address: %w", err)
	}
	return nil
}

// transferClaim gives the claim to next with the record it is to manage: the guest, for a
// handover, so next manages the same account without an invitation or an adoption; nothing,
// when the holder vanished without handing over.
func (r *Reconciler) transferClaim(ctx context.Context, lease *coordinationv1.Lease, next *b2bv1alpha1.PartnerInvitation, rec guestRecord) (*coordinationv1.Lease, error) {
	lease = lease.DeepCopy()
	if lease.Annotations == nil {
		lease.Annotations = map[string]string{}
	}
	lease.Spec.HolderIdentity = ptr.To(holderIdentity(next))
	lease.Spec.AcquireTime = &metav1.MicroTime{Time: r.now()}
	lease.Spec.LeaseTransitions = ptr.To(ptr.Deref(lease.Spec.LeaseTransitions, 0) + 1)
	lease.Annotations[b2bv1alpha1.AnnotationClaimHolderUID] = string(next.UID)
	rec.writeTo(lease.Annotations)
	if err := r.Update(ctx, lease); err != nil {
		return nil, fmt.Errorf("transfer the claim on the address: %w", err)
	}
	return lease, nil
}

func (r *Reconciler) getClaim(ctx context.Context, pinv *b2bv1alpha1.PartnerInvitation) (*coordinationv1.Lease, error) {
	lease := &coordinationv1.Lease{}
	key := client.ObjectKey{Namespace: r.opts().ClaimNamespace, Name: r.claimName(pinv)}
	if err := r.apiReader().Get(ctx, key, lease); err != nil {
		return nil, err
	}
	if lease.Annotations == nil {
		lease.Annotations = map[string]string{}
	}
	return lease, nil
}

// newClaim is the claim for this object's address, not yet created. Create-if-absent decides
// between two objects: AlreadyExists means another object was first.
func (r *Reconciler) newClaim(pinv *b2bv1alpha1.PartnerInvitation) *coordinationv1.Lease {
	return &coordinationv1.Lease{
		ObjectMeta: metav1.ObjectMeta{
			Name:        r.claimName(pinv),
			Namespace:   r.opts().ClaimNamespace,
			Labels:      map[string]string{b2bv1alpha1.LabelClaim: "true", "app.kubernetes.io/managed-by": "partner-operator"},
			Annotations: map[string]string{b2bv1alpha1.AnnotationClaimHolderUID: string(pinv.UID)},
		},
		Spec: coordinationv1.LeaseSpec{
			HolderIdentity: ptr.To(holderIdentity(pinv)),
			AcquireTime:    &metav1.MicroTime{Time: r.now()},
		},
	}
}

// holderExists reads the holder around the cache: a claim is never taken from a live object
// because an informer has not seen it yet.
func (r *Reconciler) holderExists(ctx context.Context, lease *coordinationv1.Lease) (bool, error) {
	ns, name, ok := strings.Cut(ptr.Deref(lease.Spec.HolderIdentity, ""), "/")
	if !ok {
		return false, nil
	}
	holder := &b2bv1alpha1.PartnerInvitation{}
	err := r.apiReader().Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, holder)
	if apierrors.IsNotFound(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("read the holder of the address claim: %w", err)
	}
	return string(holder.UID) == lease.Annotations[b2bv1alpha1.AnnotationClaimHolderUID], nil
}

// successor is the oldest other live object that asks for the same address and may take the
// guest over (mayHandOver), read around the cache, or nil. The cache only proposes candidates; each is confirmed with a live read.
func (r *Reconciler) successor(ctx context.Context, pinv *b2bv1alpha1.PartnerInvitation) (*b2bv1alpha1.PartnerInvitation, error) {
	var peers b2bv1alpha1.PartnerInvitationList
	if err := r.List(ctx, &peers, client.MatchingFields{EmailIndex: peerKey(pinv)}); err != nil {
		return nil, fmt.Errorf("%s: %w", errListPeers, err)
	}
	items := peers.Items
	sort.Slice(items, func(i, j int) bool { return olderThan(&items[i], &items[j]) })
	for i := range items {
		if items[i].UID == pinv.UID || !items[i].DeletionTimestamp.IsZero() {
			continue
		}
		live := &b2bv1alpha1.PartnerInvitation{}
		err := r.apiReader().Get(ctx, client.ObjectKeyFromObject(&items[i]), live)
		if apierrors.IsNotFound(err) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("read a successor for the address: %w", err)
		}
		if live.UID != items[i].UID || !live.DeletionTimestamp.IsZero() {
			continue
		}
		allowed, err := r.mayHandOver(ctx, pinv, live)
		if err != nil {
			return nil, err
		}
		if allowed {
			return live, nil
		}
	}
	return nil, nil
}

// mayHandOver says whether next may inherit from's guest: within a namespace always, across
// namespaces only where a PartnerAccessPolicy that selects both allows it. Otherwise next keeps
// waiting in Conflict, and from's deletionPolicy applies to the guest.
func (r *Reconciler) mayHandOver(ctx context.Context, from, next *b2bv1alpha1.PartnerInvitation) (bool, error) {
	if from.Namespace == next.Namespace {
		return true, nil
	}
	mine, err := r.selectingPolicies(ctx, from)
	if err != nil {
		return false, err
	}
	theirs, err := r.selectingPolicies(ctx, next)
	if err != nil {
		return false, err
	}
	for _, p := range mine {
		if !p.Spec.AllowCrossNamespaceHandover {
			continue
		}
		for _, q := range theirs {
			if q.Name == p.Name {
				return true, nil
			}
		}
	}
	return false, nil
}

func olderThan(a, b *b2bv1alpha1.PartnerInvitation) bool {
	ta, tb := a.CreationTimestamp.Time, b.CreationTimestamp.Time
	if !ta.Equal(tb) {
		return ta.Before(tb)
	}
	return a.Namespace+"/"+a.Name < b.Namespace+"/"+b.Name
}

// peersOf maps an object to the other objects that name the same address: when one goes
// away, a waiting one may now hold the claim.
func (r *Reconciler) peersOf(ctx context.Context, o client.Object) []reconcile.Request {
	pinv, ok := o.(*b2bv1alpha1.PartnerInvitation)
	if !ok || pinv.Spec.Email == "" {
		return nil
	}
	var peers b2bv1alpha1.PartnerInvitationList
	if err := r.List(ctx, &peers, client.MatchingFields{EmailIndex: peerKey(pinv)}); err != nil {
		return nil
	}
	var out []reconcile.Request
	for i := range peers.Items {
		p := &peers.Items[i]
		if p.UID == pinv.UID {
			continue
		}
		out = append(out, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(p)})
	}
	return out
}

// claimChanged passes the events that can move a claim: an object going away (or starting
// to).
func claimChanged() predicate.Predicate {
	return predicate.Funcs{
		CreateFunc: func(event.CreateEvent) bool { return false },
		DeleteFunc: func(event.DeleteEvent) bool { return true },
		UpdateFunc: func(e event.UpdateEvent) bool {
			return e.ObjectOld.GetDeletionTimestamp().IsZero() != e.ObjectNew.GetDeletionTimestamp().IsZero()
		},
		GenericFunc: func(event.GenericEvent) bool { return false },
	}
}

func newBucket(qps float64, burst int) *rate.Limiter { return rate.NewLimiter(rate.Limit(qps), burst) }

// jitter spreads polls by ±10% so objects created together do not poll together.
func jitter(d time.Duration) time.Duration {
	if d <= 0 {
		return d
	}
	spread := int64(d) / 5
	if spread <= 0 {
		return d
	}
	return d - time.Duration(spread/2) + time.Duration(rand.Int64N(spread))
}

// bookkeepingAnnotations are what earlier versions wrote on the object as their memory; that
// memory now lives on the claim, and these are ignored. A change to them must not trigger a
// reconcile (it would bypass Retry-After and poll intervals).
var bookkeepingAnnotations = []string{
	b2bv1alpha1.AnnotationCreatePending,
	b2bv1alpha1.AnnotationCreateSucceeded,
	b2bv1alpha1.AnnotationExternalName,
	b2bv1alpha1.AnnotationGuestOrigin,
	b2bv1alpha1.AnnotationResendHandled,
	b2bv1alpha1.AnnotationResetHandled,
}

// userAnnotationsChanged passes updates whose annotations changed other than by the
// reconciler's own bookkeeping: pause, and whatever later annotations ask for.
func userAnnotationsChanged() predicate.Predicate {
	strip := func(a map[string]string) map[string]string {
		out := maps.Clone(a)
		if out == nil {
			out = map[string]string{}
		}
		for _, k := range bookkeepingAnnotations {
			delete(out, k)
		}
		return out
	}
	return predicate.Funcs{
		UpdateFunc: func(e event.UpdateEvent) bool {
			return !maps.Equal(strip(e.ObjectOld.GetAnnotations()), strip(e.ObjectNew.GetAnnotations()))
		},
	}
}
