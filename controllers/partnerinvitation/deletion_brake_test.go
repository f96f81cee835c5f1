package partnerinvitation

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	b2bv1alpha1 "github.com/partnerops/partner-operator/api/v1alpha1"
	"github.com/partnerops/partner-operator/internal/graph/graphtest"
)

// brakeHarness holds n managed objects, all being deleted at testNow.
func brakeHarness(t *testing.T, n, threshold, percent int) (*harness, []*b2bv1alpha1.PartnerInvitation) {
	t.Helper()
	var objs []client.Object
	var pinvs []*b2bv1alpha1.PartnerInvitation
	for i := range n {
		p := invitation(func(p *b2bv1alpha1.PartnerInvitation) {
			p.Name, p.UID = fmt.Sprintf("p-%02d", i), types.UID(fmt.Sprintf("uid-%02d", i))
			p.Status.UserID = fmt.Sprintf("user-%02d", i)
		})
		objs = append(objs, p)
		pinvs = append(pinvs, p)
	}
	h := newHarness(t, &graphtest.Fake{}, nil, objs...)
	h.r.Options.DeletionThreshold, h.r.Options.DeletionThresholdPercent = threshold, percent
	for _, p := range pinvs {
		p.DeletionTimestamp = &metav1.Time{Time: testNow.Add(-time.Minute)}
	}
	return h, pinvs
}

func verdicts(t *testing.T, h *harness, pinvs []*b2bv1alpha1.PartnerInvitation) (admitted, held int) {
	t.Helper()
	for _, p := range pinvs {
		v, err := h.r.brakeDeletion(context.Background(), p)
		var b *blockedError
		switch {
		case errors.As(err, &b) && b.reason == b2bv1alpha1.ReasonDeletionHeld:
			held++
		case err != nil:
			t.Fatalf("%s: %v", p.Name, err)
		case v == brakeAdmitted:
			admitted++
		}
	}
	return admitted, held
}

func decideOnBrake(t *testing.T, h *harness, annotation string, at time.Time) {
	t.Helper()
	lease := &coordinationv1.Lease{}
	if err := h.c.Get(context.Background(), client.ObjectKey{Namespace: DefaultClaimNamespace, Name: BrakeLeaseName}, lease); err != nil {
		t.Fatal(err)
	}
	lease.Annotations[annotation] = at.UTC().Format(time.RFC3339)
	if err := h.c.Update(context.Background(), lease); err != nil {
		t.Fatal(err)
	}
}

// The threshold admits its count, counts each object once however often it looks, and holds the
// rest until a decision.
func TestBrakeAdmitsTheThresholdThenHolds(t *testing.T) {
	h, pinvs := brakeHarness(t, 8, 3, -1)
	if a, held := verdicts(t, h, pinvs); a != 3 || held != 5 {
		t.Fatalf("%d admitted, %d held; want 3 and 5", a, held)
	}
	// Looking again changes nothing: the admitted stay admitted, the held stay held.
	if a, held := verdicts(t, h, pinvs); a != 3 || held != 5 {
		t.Fatalf("second look: %d admitted, %d held; want 3 and 5", a, held)
	}

	decideOnBrake(t, h, AnnotationBrakeApprove, testNow)
	for _, p := range pinvs[3:] {
		if v, err := h.r.brakeDeletion(context.Background(), p); err != nil || v != brakeApproved {
			t.Errorf("%s after approval: %v, %v; want approved", p.Name, v, err)
		}
	}
	// A deletion requested after the approval starts a new count.
	later := invitation(func(p *b2bv1alpha1.PartnerInvitation) {
		p.Name, p.UID, p.Status.UserID = "later", "uid-later", "user-later"
		p.DeletionTimestamp = &metav1.Time{Time: testNow.Add(time.Minute)}
	})
	if v, err := h.r.brakeDeletion(context.Background(), later); err != nil || v != brakeAdmitted {
		t.Errorf("a deletion after the approval: %v, %v; want admitted", v, err)
	}
}

func TestBrakeCancelKeepsTheHeldGuests(t *testing.T) {
	h, pinvs := brakeHarness(t, 6, 2, -1)
	verdicts(t, h, pinvs)
	decideOnBrake(t, h, AnnotationBrakeCancel, testNow)
	cancelled := 0
	for _, p := range pinvs {
		v, err := h.r.brakeDeletion(context.Background(), p)
		if err != nil {
			t.Fatal(err)
		}
		if v == brakeCancelled {
			cancelled++
		}
	}
	// The two admitted before the decision go ahead; the four held are kept.
	if cancelled != 4 {
		t.Errorf("%d cancelled, want the 4 held", cancelled)
	}
}

// The share of managed guests lowers the count, never below the floor of 10.
func TestBrakeShareOfManagedGuests(t *testing.T) {
	for _, c := range []struct{ managed, want int }{{40, 10}, {100, 25}, {400, 50}} {
		h, pinvs := brakeHarness(t, c.managed, DefaultDeletionThreshold, DefaultDeletionThresholdPercent)
		if a, _ := verdicts(t, h, pinvs); a != c.want {
			t.Errorf("%d managed guests: %d deletions admitted, want %d", c.managed, a, c.want)
		}
	}
}

func TestBrakeOff(t *testing.T) {
	h, pinvs := brakeHarness(t, 20, -1, -1)
	if a, held := verdicts(t, h, pinvs); a != 20 || held != 0 {
		t.Errorf("brake off: %d admitted, %d held", a, held)
	}
}
