package controllers

import (
	"context"
	"fmt"
	"maps"
	"math/rand/v2"
	"sort"
	"strings"
	"time"

	"golang.org/x/time/rate"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	b2bv1alpha1 "github.com/partnerops/partner-operator/api/v1alpha1"
)

// claim decides whether this object may manage the guest for its address. One address is
// managed by one object cluster-wide: the oldest, deletion included, so a newcomer never
// adopts a guest that an object on its way out is about to delete. It returns the holder's
// namespace/name when the claim is someone else's.
func (r *PartnerInvitationReconciler) claim(ctx context.Context, pinv *b2bv1alpha1.PartnerInvitation) (bool, string, error) {
	var peers b2bv1alpha1.PartnerInvitationList
	if err := r.List(ctx, &peers, client.MatchingFields{EmailIndex: strings.ToLower(pinv.Spec.Email)}); err != nil {
		return false, "", fmt.Errorf("%s: %w", errListPeers, err)
	}
	if len(peers.Items) == 0 {
		return true, "", nil
	}
	items := peers.Items
	sort.Slice(items, func(i, j int) bool { return olderThan(&items[i], &items[j]) })
	holder := &items[0]
	for i := range items {
		// An object that already manages the guest keeps it, whatever the ages say.
		if items[i].Annotations[b2bv1alpha1.AnnotationExternalName] != "" {
			holder = &items[i]
			break
		}
	}
	if holder.UID == pinv.UID {
		return true, "", nil
	}
	if olderThan(pinv, holder) && holder.Annotations[b2bv1alpha1.AnnotationExternalName] == "" {
		// The cache may not have this object yet; the object itself is authoritative.
		return true, "", nil
	}
	return false, holder.Namespace + "/" + holder.Name, nil
}

func olderThan(a, b *b2bv1alpha1.PartnerInvitation) bool {
	ta, tb := a.CreationTimestamp.Time, b.CreationTimestamp.Time
	if !ta.Equal(tb) {
		return ta.Before(tb)
	}
	return a.Namespace+"/"+a.Name < b.Namespace+"/"+b.Name
}

// peersOf maps an object to the other objects that name the same address.
func (r *PartnerInvitationReconciler) peersOf(ctx context.Context, o client.Object) []reconcile.Request {
	pinv, ok := o.(*b2bv1alpha1.PartnerInvitation)
	if !ok || pinv.Spec.Email == "" {
		return nil
	}
	var peers b2bv1alpha1.PartnerInvitationList
	if err := r.List(ctx, &peers, client.MatchingFields{EmailIndex: strings.ToLower(pinv.Spec.Email)}); err != nil {
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
// to), or taking the guest on.
func claimChanged() predicate.Predicate {
	return predicate.Funcs{
		CreateFunc: func(event.CreateEvent) bool { return false },
		DeleteFunc: func(event.DeleteEvent) bool { return true },
		UpdateFunc: func(e event.UpdateEvent) bool {
			return e.ObjectOld.GetDeletionTimestamp().IsZero() != e.ObjectNew.GetDeletionTimestamp().IsZero() ||
				e.ObjectOld.GetAnnotations()[b2bv1alpha1.AnnotationExternalName] != e.ObjectNew.GetAnnotations()[b2bv1alpha1.AnnotationExternalName]
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

// bookkeepingAnnotations are written by the reconciler itself; a change to them must not
// trigger another reconcile (it would bypass Retry-After and poll intervals).
var bookkeepingAnnotations = []string{
	b2bv1alpha1.AnnotationCreatePending,
	b2bv1alpha1.AnnotationCreateSucceeded,
	b2bv1alpha1.AnnotationExternalName,
}

// userAnnotationsChanged passes updates whose annotations changed other than by the
// reconciler's own bookkeeping: pause, and whatever later annotations ask for.
func userAnnotationsChanged() predicate.Predicate {
	strip := func(a map[string]string) map[string]string {
		out := make(map[string]string, len(a))
		for k, v := range a {
			out[k] = v
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
