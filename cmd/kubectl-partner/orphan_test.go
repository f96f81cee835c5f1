package main

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	b2bv1alpha1 "github.com/partnerops/partner-operator/api/v1alpha1"
	"github.com/partnerops/partner-operator/internal/operator"
)

// otherFinalizer stands for another controller's finalizer, which orphan must keep.
const otherFinalizer = "example.com/backup"

func TestOrphanLeaseNameIsTheOperators(t *testing.T) {
	if operatorLeaseName != operator.LeaderElectionID {
		t.Fatalf("orphan looks for the Lease %q, the operator elects with %q", operatorLeaseName, operator.LeaderElectionID)
	}
}

// operatorLease writes the operator's leader-election Lease in ns as client-go's elector does,
// renewed at renewed by holder ("" once released), and deletes it when the test ends so that
// the package's other tests do not see an operator.
func (c *controlPlane) operatorLease(t *testing.T, ns, holder string, renewed time.Time) {
	t.Helper()
	ctx := context.Background()
	at := metav1.NewMicroTime(renewed)
	lease := &coordinationv1.Lease{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: operator.LeaderElectionID},
		Spec: coordinationv1.LeaseSpec{
			HolderIdentity: ptr.To(holder), LeaseDurationSeconds: ptr.To[int32](15),
			AcquireTime: &at, RenewTime: &at,
		},
	}
	if err := c.client.Create(ctx, lease); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := c.client.Delete(context.Background(), lease); err != nil && !apierrors.IsNotFound(err) {
			t.Errorf("delete the operator's Lease: %v", err)
		}
	})
}

// finalized creates a PartnerInvitation carrying finalizers, with the guest's ID in status as
// the operator writes it.
func (c *controlPlane) finalized(t *testing.T, ns, name string, finalizers ...string) *b2bv1alpha1.PartnerInvitation {
	t.Helper()
	p := c.invitation(t, ns, name, &b2bv1alpha1.PartnerInvitationStatus{UserID: "guest-" + name})
	if len(finalizers) > 0 {
		base := p.DeepCopy()
		p.Finalizers = finalizers
		if err := c.client.Patch(context.Background(), p, client.MergeFrom(base)); err != nil {
			t.Fatal(err)
		}
	}
	return p
}

func (c *controlPlane) get(t *testing.T, p *b2bv1alpha1.PartnerInvitation) (*b2bv1alpha1.PartnerInvitation, bool) {
	t.Helper()
	got := &b2bv1alpha1.PartnerInvitation{}
	err := c.client.Get(context.Background(), client.ObjectKeyFromObject(p), got)
	if apierrors.IsNotFound(err) {
		return nil, false
	}
	if err != nil {
		t.Fatal(err)
	}
	return got, true
}

func TestOrphanRefusesWhileTheOperatorRuns(t *testing.T) {
	c := cluster(t)
	const opNS, ns = "orphan-refuse-operator", "orphan-refuse"
	c.namespace(t, opNS)
	c.namespace(t, ns)
	p := c.finalized(t, ns, "kept", b2bv1alpha1.Finalizer)

	t.Run("lease held and renewed", func(t *testing.T) {
		c.operatorLease(t, opNS, "partner-operator-7d4f-abcde_1234", time.Now().Add(-3*time.Second))
		_, _, err := c.kubectl(t, "orphan", "-A", "--operator-namespace", opNS)
		if err == nil {
			t.Fatal("orphan ran while the operator's Lease is held")
		}
		for _, want := range []string{"the operator is running", opNS + "/" + operator.LeaderElectionID, "partner-operator-7d4f-abcde_1234",
			"Uninstall the operator first", "delete the PartnerInvitations while the operator runs", "kubectl partner brake"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("the refusal lacks %q: %v", want, err)
			}
		}
		if got, _ := c.get(t, p); !slices.Contains(got.Finalizers, b2bv1alpha1.Finalizer) {
			t.Error("the finalizer was removed although orphan refused")
		}
	})
	// A wrong --operator-namespace must not let a running operator through.
	t.Run("lease held in another namespace", func(t *testing.T) {
		c.operatorLease(t, opNS, "partner-operator-7d4f-abcde_1234", time.Now())
		_, _, err := c.kubectl(t, "orphan", "--all", "-n", ns, "--operator-namespace", "partner-operator-elsewhere")
		if err == nil || !strings.Contains(err.Error(), opNS+"/"+operator.LeaderElectionID) {
			t.Fatalf("orphan ran with the operator's Lease held in %s: %v", opNS, err)
		}
		if got, _ := c.get(t, p); !slices.Contains(got.Finalizers, b2bv1alpha1.Finalizer) {
			t.Error("the finalizer was removed although orphan refused")
		}
	})
	for _, tc := range []struct {
		name, holder string
		renewed      time.Time
	}{
		// LeaderElectionReleaseOnCancel: a stopped replica empties the holder.
		{"lease released", "", time.Now()},
		// A killed replica leaves the Lease to expire.
		{"lease expired", "partner-operator-7d4f-abcde_1234", time.Now().Add(-10 * time.Minute)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c.operatorLease(t, opNS, tc.holder, tc.renewed)
			stdout, stderr, err := c.kubectl(t, "orphan", "kept", "-n", ns, "--operator-namespace", opNS)
			if err != nil {
				t.Fatalf("orphan: %v\n%s", err, stderr)
			}
			if !strings.Contains(stdout, "The operator is not running: its Lease "+opNS+"/"+operator.LeaderElectionID+" is released or expired") {
				t.Errorf("stdout: %q", stdout)
			}
			if got, _ := c.get(t, p); slices.Contains(got.Finalizers, b2bv1alpha1.Finalizer) {
				t.Error("the finalizer is still there")
			}
			// Put it back for the next case.
			got, _ := c.get(t, p)
			base := got.DeepCopy()
			got.Finalizers = []string{b2bv1alpha1.Finalizer}
			if err := c.client.Patch(context.Background(), got, client.MergeFrom(base)); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestOrphanRemovesTheFinalizer(t *testing.T) {
	c := cluster(t)
	ctx := context.Background()
	const ns, other = "orphan-all", "orphan-all-other"
	c.namespace(t, ns)
	c.namespace(t, other)
	ours := c.finalized(t, ns, "ours", b2bv1alpha1.Finalizer)
	shared := c.finalized(t, ns, "shared", otherFinalizer, b2bv1alpha1.Finalizer)
	none := c.finalized(t, ns, "none")
	foreign := c.finalized(t, ns, "foreign", otherFinalizer)
	deleting := c.finalized(t, ns, "deleting", b2bv1alpha1.Finalizer)
	held := c.finalized(t, ns, "held", otherFinalizer, b2bv1alpha1.Finalizer)
	for _, p := range []*b2bv1alpha1.PartnerInvitation{deleting, held} {
		if err := c.client.Delete(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	elsewhere := c.finalized(t, other, "elsewhere", b2bv1alpha1.Finalizer)
	rv := map[string]string{}
	for _, p := range []*b2bv1alpha1.PartnerInvitation{none, foreign} {
		got, _ := c.get(t, p)
		rv[p.Name] = got.ResourceVersion
	}

	// No Lease at all: the operator never ran, or is long gone with its namespace.
	stdout, stderr, err := c.kubectl(t, "orphan", "--all", "-n", ns, "--operator-namespace", "orphan-no-operator")
	if err != nil {
		t.Fatalf("orphan --all: %v\n%s", err, stderr)
	}
	for _, want := range []string{
		"The operator is not running: no namespace has its Lease " + operator.LeaderElectionID,
		"partnerinvitation.b2b.partnerops.io/ours in orphan-all: finalizer removed, guest guest-ours stays in the directory\n",
		"partnerinvitation.b2b.partnerops.io/shared in orphan-all: finalizer removed, guest guest-shared stays in the directory\n",
		"partnerinvitation.b2b.partnerops.io/deleting in orphan-all: finalizer removed, guest guest-deleting stays in the directory; it was being deleted and is gone\n",
		"partnerinvitation.b2b.partnerops.io/none in orphan-all: no b2b.partnerops.io/guest-cleanup finalizer, left as it is\n",
		"partnerinvitation.b2b.partnerops.io/foreign in orphan-all: no b2b.partnerops.io/guest-cleanup finalizer, left as it is\n",
		"partnerinvitation.b2b.partnerops.io/held in orphan-all: finalizer removed, guest guest-held stays in the directory; it is being deleted and waits for example.com/backup\n",
		"4 PartnerInvitations orphaned, 2 without the finalizer left as they were, 0 failed.",
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("stdout lacks %q:\n%s", want, stdout)
		}
	}
	if got, _ := c.get(t, ours); len(got.Finalizers) != 0 {
		t.Errorf("ours: finalizers %v", got.Finalizers)
	}
	if got, _ := c.get(t, shared); !slices.Equal(got.Finalizers, []string{otherFinalizer}) {
		t.Errorf("shared: finalizers %v, want only %s", got.Finalizers, otherFinalizer)
	}
	if _, found := c.get(t, deleting); found {
		t.Error("deleting: the object is still there")
	}
	if got, found := c.get(t, held); !found || !slices.Equal(got.Finalizers, []string{otherFinalizer}) {
		t.Errorf("held: found %v, want it waiting for %s alone", found, otherFinalizer)
	}
	for _, p := range []*b2bv1alpha1.PartnerInvitation{none, foreign} {
		if got, _ := c.get(t, p); got.ResourceVersion != rv[p.Name] {
			t.Errorf("%s: written (resourceVersion %s, was %s), want untouched", p.Name, got.ResourceVersion, rv[p.Name])
		}
	}
	if got, _ := c.get(t, elsewhere); !slices.Contains(got.Finalizers, b2bv1alpha1.Finalizer) {
		t.Error("--all -n reached another namespace")
	}

	stdout, stderr, err = c.kubectl(t, "orphan", "-A", "--operator-namespace", "orphan-no-operator")
	if err != nil {
		t.Fatalf("orphan -A: %v\n%s", err, stderr)
	}
	if !strings.Contains(stdout, "partnerinvitation.b2b.partnerops.io/elsewhere in orphan-all-other: finalizer removed") {
		t.Errorf("-A: %s", stdout)
	}
	if got, _ := c.get(t, elsewhere); len(got.Finalizers) != 0 {
		t.Errorf("-A: elsewhere keeps %v", got.Finalizers)
	}
}

// TestOrphanOptimisticLock: a finalizer another controller adds after orphan's read survives,
// since the patch carries the resourceVersion read, conflicts, and is made again on a new read.
func TestOrphanOptimisticLock(t *testing.T) {
	c := cluster(t)
	ctx := context.Background()
	const ns = "orphan-lock"
	c.namespace(t, ns)
	p := c.finalized(t, ns, "raced", b2bv1alpha1.Finalizer)
	stale, _ := c.get(t, p)

	fresh := stale.DeepCopy()
	fresh.Finalizers = append(fresh.Finalizers, otherFinalizer)
	if err := c.client.Patch(ctx, fresh, client.MergeFrom(stale)); err != nil {
		t.Fatal(err)
	}
	outcome, err := removeFinalizer(ctx, c.client, stale)
	if err != nil || outcome != finalizerRemoved {
		t.Fatalf("removeFinalizer: %v, %v", outcome, err)
	}
	if got, _ := c.get(t, p); !slices.Equal(got.Finalizers, []string{otherFinalizer}) {
		t.Errorf("finalizers %v, want only %s: the stale read overwrote the change", got.Finalizers, otherFinalizer)
	}
}

func TestOrphanArguments(t *testing.T) {
	c := cluster(t)
	for _, args := range [][]string{
		{"orphan"},
		{"orphan", "x", "--all"},
		{"orphan", "x", "-A"},
	} {
		if _, _, err := c.kubectl(t, args...); err == nil || !strings.Contains(err.Error(), "name a PartnerInvitation") {
			t.Errorf("%v: %v", args, err)
		}
	}
	if _, _, err := c.kubectl(t, "orphan", "missing", "-n", "default", "--operator-namespace", "orphan-no-operator"); !apierrors.IsNotFound(err) {
		t.Errorf("a missing object: %v", err)
	}
}
