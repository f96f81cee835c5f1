package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	b2bv1alpha1 "github.com/partnerops/partner-operator/api/v1alpha1"
	"github.com/partnerops/partner-operator/controllers/partnerinvitation"
)

// operatorLeaseName is the operator's leader-election Lease, internal/operator.LeaderElectionID
// (orphan_test.go keeps the two equal; importing that package would link the whole operator
// into the plugin).
const operatorLeaseName = "partner-operator.b2b.partnerops.io"

// Without spec.leaseDurationSeconds a Lease is taken to last what the operator's default is.
const defaultOperatorLeaseDuration = 15 * time.Second

// leaseClockSkew is how long past its expiry a Lease still counts as held: renewTime is the
// operator's clock, the comparison is made with this machine's.
const leaseClockSkew = 10 * time.Second

type orphanOptions struct {
	p             *plugin
	operatorNS    string
	all           bool
	allNamespaces bool
}

// newOrphanCommand is "orphan": it removes the operator's finalizer, once the operator is gone,
// so that PartnerInvitations (and then the CRDs) can be deleted with every guest left in the
// directory.
func newOrphanCommand(p *plugin) *cobra.Command {
	o := &orphanOptions{p: p}
	cmd := &cobra.Command{
		Use:   "orphan (NAME | --all | -A)",
		Short: "Let PartnerInvitations go, their guests kept, once the operator is uninstalled",
		Long: `Remove the operator's finalizer ` + b2bv1alpha1.Finalizer + ` from PartnerInvitations: the
one named (in -n's namespace, or the context's), every one of the namespace (--all), or of
every namespace (-A). Their guests stay in the directory, untouched: only the operator deletes
guests, and it must not be running. An object already being deleted (its namespace or the CRD
deleted, say) goes at once; the others can then be deleted, and the CRDs with them, without
waiting for an operator that is no longer there. Objects without the finalizer are left as
they are.

orphan refuses while the operator runs: while its leader-election Lease
` + operatorLeaseName + ` in --operator-namespace (or in any namespace this user
may list Leases in) is held and was renewed within its lease duration. Uninstall the operator
first. To delete the guests instead, delete the PartnerInvitations while the operator runs:
it deletes each guest as its spec.deletionPolicy says, within the deletion brake
(kubectl partner brake).`,
		Example: `  # After helm uninstall: let every PartnerInvitation go, then remove the CRDs
  kubectl partner orphan -A --operator-namespace partner-operator-system
  kubectl delete crd partnerinvitations.b2b.partnerops.io partneraccesspolicies.b2b.partnerops.io

  # One namespace, or one object
  kubectl partner orphan --all -n team-a
  kubectl partner orphan jane-fabrikam-com -n team-a`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error { return o.run(cmd.Context(), args) },
	}
	cmd.Flags().BoolVarP(&o.allNamespaces, "all-namespaces", "A", false, "every PartnerInvitation of every namespace")
	cmd.Flags().BoolVar(&o.all, "all", false, "every PartnerInvitation of the namespace")
	cmd.Flags().StringVar(&o.operatorNS, "operator-namespace", partnerinvitation.DefaultClaimNamespace, "the namespace the operator runs in (its leader-election Lease's)")
	return cmd
}

func (o *orphanOptions) run(ctx context.Context, args []string) error {
	switch {
	case len(args) == 1 && (o.all || o.allNamespaces):
		return errors.New("name a PartnerInvitation or use --all or -A, not both")
	case len(args) == 0 && !o.all && !o.allNamespaces:
		return errors.New("name a PartnerInvitation, or use --all for every one of the namespace or -A for every namespace")
	}
	c, err := clusterClient(o.p, 0)
	if err != nil {
		return err
	}
	if err := o.checkOperatorGone(ctx, c, time.Now()); err != nil {
		return err
	}
	ns := ""
	if !o.allNamespaces {
		if ns, err = namespace(o.p); err != nil {
			return err
		}
	}
	var objs []b2bv1alpha1.PartnerInvitation
	if len(args) == 1 {
		obj := b2bv1alpha1.PartnerInvitation{}
		if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: args[0]}, &obj); err != nil {
			return fmt.Errorf("partnerinvitation %s/%s: %w", ns, args[0], err)
		}
		objs = append(objs, obj)
	} else {
		opts := []client.ListOption{client.InNamespace(ns), client.Limit(statusListChunk)}
		for {
			var list b2bv1alpha1.PartnerInvitationList
			if err := c.List(ctx, &list, opts...); err != nil {
				return fmt.Errorf("list PartnerInvitations: %w", err)
			}
			objs = append(objs, list.Items...)
			if list.Continue == "" {
				break
			}
			opts = []client.ListOption{client.InNamespace(ns), client.Limit(statusListChunk), client.Continue(list.Continue)}
		}
	}

	var errs []error
	orphaned, without := 0, 0
	for i := range objs {
		obj := &objs[i]
		ref := fmt.Sprintf("partnerinvitation.%s/%s in %s", b2bv1alpha1.GroupVersion.Group, obj.Name, obj.Namespace)
		outcome, err := removeFinalizer(ctx, c, obj)
		switch {
		case err != nil:
			errs = append(errs, fmt.Errorf("%s: %w", ref, err))
		case outcome == objectGone:
			fmt.Fprintf(o.p.streams.Out, "%s: deleted meanwhile, nothing to do\n", ref)
		case outcome == finalizerAbsent:
			without++
			fmt.Fprintf(o.p.streams.Out, "%s: no %s finalizer, left as it is\n", ref, b2bv1alpha1.Finalizer)
		default:
			orphaned++
			guest := "no guest recorded"
			if id := guestID(obj); id != "" {
				guest = "guest " + id + " stays in the directory"
			}
			// obj is the patch's answer: a deleted object's last state.
			switch {
			case obj.DeletionTimestamp == nil:
				fmt.Fprintf(o.p.streams.Out, "%s: finalizer removed, %s\n", ref, guest)
			case len(obj.Finalizers) == 0:
				fmt.Fprintf(o.p.streams.Out, "%s: finalizer removed, %s; it was being deleted and is gone\n", ref, guest)
			default:
				fmt.Fprintf(o.p.streams.Out, "%s: finalizer removed, %s; it is being deleted and waits for %s\n", ref, guest, strings.Join(obj.Finalizers, ", "))
			}
		}
	}
	fmt.Fprintf(o.p.streams.Out, "%d PartnerInvitations orphaned, %d without the finalizer left as they were, %d failed.\n", orphaned, without, len(errs))
	return errors.Join(errs...)
}

// checkOperatorGone refuses while a replica holds the operator's leader-election Lease: a
// running operator would put the finalizer back, or, for an object being deleted, should be
// the one to decide about its guest. The Lease is looked for in --operator-namespace and, so
// that a wrong namespace does not let a running operator through, in every namespace the user
// may list Leases in. It says on stdout what it found.
func (o *orphanOptions) checkOperatorGone(ctx context.Context, c client.Client, now time.Time) error {
	leases := map[string]*coordinationv1.Lease{}
	lease := &coordinationv1.Lease{}
	err := c.Get(ctx, client.ObjectKey{Namespace: o.operatorNS, Name: operatorLeaseName}, lease)
	switch {
	case err == nil:
		leases[lease.Namespace] = lease
	case apierrors.IsNotFound(err):
	default:
		return fmt.Errorf("read the operator's leader-election Lease %s/%s: %w", o.operatorNS, operatorLeaseName, err)
	}
	var list coordinationv1.LeaseList
	err = c.List(ctx, &list, client.MatchingFields{"metadata.name": operatorLeaseName})
	searched := err == nil
	if err != nil && !apierrors.IsForbidden(err) {
		return fmt.Errorf("look for the operator's leader-election Lease: %w", err)
	}
	for i := range list.Items {
		leases[list.Items[i].Namespace] = &list.Items[i]
	}
	for _, l := range leases {
		holder, until, held := leaseHeld(l)
		if !held || !now.Before(until) {
			continue
		}
		why := fmt.Sprintf("If it has just stopped, the Lease counts as held until %s.", until.UTC().Format(time.RFC3339))
		if l.Spec.RenewTime != nil {
			holder += fmt.Sprintf(", last renewed %s ago", now.Sub(l.Spec.RenewTime.Time).Round(time.Second))
		} else if l.Spec.AcquireTime == nil {
			why = "The Lease has no renewal time: if no replica runs, delete it (kubectl delete lease -n " + l.Namespace + " " + l.Name + ")."
		}
		return fmt.Errorf("the operator is running: its leader-election Lease %s/%s is held by %s.\n"+
			"Uninstall the operator first (helm uninstall, or delete its Deployment), then run this again: the guests stay in the directory. %s\n"+
			"To delete the guests instead, delete the PartnerInvitations while the operator runs: it deletes each guest as its "+
			"spec.deletionPolicy says, within the deletion brake ('kubectl partner brake status|approve')",
			l.Namespace, l.Name, holder, why)
	}
	switch {
	case len(leases) > 0:
		for _, l := range leases {
			fmt.Fprintf(o.p.streams.Out, "The operator is not running: its Lease %s/%s is released or expired.\n", l.Namespace, l.Name)
		}
	case searched:
		fmt.Fprintf(o.p.streams.Out, "The operator is not running: no namespace has its Lease %s.\n", operatorLeaseName)
	default:
		fmt.Fprintf(o.p.streams.Out, "The operator is not running in %s: no Lease %s there (this user may not list Leases elsewhere; if it runs in another namespace, name it with --operator-namespace).\n",
			o.operatorNS, operatorLeaseName)
	}
	return nil
}

// leaseHeld says who holds the Lease and until when that counts: its renewal plus its
// duration plus clock skew. A holder with no time on the Lease holds it until it is deleted.
func leaseHeld(l *coordinationv1.Lease) (holder string, until time.Time, held bool) {
	if l.Spec.HolderIdentity == nil || *l.Spec.HolderIdentity == "" {
		// Released: the operator's replicas give the Lease up when they stop.
		return "", time.Time{}, false
	}
	holder = *l.Spec.HolderIdentity
	var renewed time.Time
	switch {
	case l.Spec.RenewTime != nil:
		renewed = l.Spec.RenewTime.Time
	case l.Spec.AcquireTime != nil:
		renewed = l.Spec.AcquireTime.Time
	default:
		return holder, time.Unix(1<<62, 0), true
	}
	duration := defaultOperatorLeaseDuration
	if l.Spec.LeaseDurationSeconds != nil {
		duration = time.Duration(*l.Spec.LeaseDurationSeconds) * time.Second
	}
	return holder, renewed.Add(duration + leaseClockSkew), true
}

// finalizerOutcome is what removeFinalizer did to one object.
type finalizerOutcome int

const (
	finalizerRemoved finalizerOutcome = iota
	finalizerAbsent
	// objectGone: deleted before it could be read again.
	objectGone
)

// removeFinalizer removes the operator's finalizer, and only it, with a merge patch that
// carries the resourceVersion read: if anyone changed the object since (another controller's
// finalizer, say), the patch conflicts and the object is read again, rather than the stale
// read overwriting the change. obj is left as last read or written.
func removeFinalizer(ctx context.Context, c client.Client, obj *b2bv1alpha1.PartnerInvitation) (finalizerOutcome, error) {
	outcome := finalizerAbsent
	first := true
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		if !first {
			if err := c.Get(ctx, client.ObjectKeyFromObject(obj), obj); err != nil {
				return err
			}
		}
		first = false
		if !slices.Contains(obj.Finalizers, b2bv1alpha1.Finalizer) {
			return nil
		}
		base := obj.DeepCopy()
		obj.Finalizers = slices.DeleteFunc(slices.Clone(obj.Finalizers), func(f string) bool { return f == b2bv1alpha1.Finalizer })
		if err := c.Patch(ctx, obj, client.MergeFromWithOptions(base, client.MergeFromWithOptimisticLock{})); err != nil {
			*obj = *base
			return err
		}
		outcome = finalizerRemoved
		return nil
	})
	if apierrors.IsNotFound(err) {
		return objectGone, nil
	}
	if err != nil {
		return 0, fmt.Errorf("remove the finalizer: %w", err)
	}
	return outcome, nil
}

// guestID is the guest's directory object ID, from status or, before status is written, the
// annotation the operator keeps it in.
func guestID(obj *b2bv1alpha1.PartnerInvitation) string {
	if obj.Status.UserID != "" {
		return obj.Status.UserID
	}
	return obj.Annotations[b2bv1alpha1.AnnotationExternalName]
}
