package main

import (
	"context"
	"strings"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/partnerops/partner-operator/controllers/partnerinvitation"
)

func TestBrake(t *testing.T) {
	c := cluster(t)
	ctx := context.Background()
	ns := "brake-operator"
	c.namespace(t, ns)

	t.Run("before any deletion", func(t *testing.T) {
		stdout, _, err := c.kubectl(t, "brake", "--operator-namespace", ns)
		if err != nil || !strings.Contains(stdout, "not been consulted yet") {
			t.Errorf("status: %q, %v", stdout, err)
		}
		if _, _, err := c.kubectl(t, "brake", "approve", "--operator-namespace", ns); err == nil || !strings.Contains(err.Error(), "no brake") {
			t.Errorf("approve without a brake: %v", err)
		}
	})

	held := &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: partnerinvitation.BrakeLeaseName, Annotations: map[string]string{
		partnerinvitation.AnnotationBrakeAdmitted:  "uid-1@2026-12-04T10:00:00Z uid-2@2026-12-04T10:00:01Z",
		partnerinvitation.AnnotationBrakeHeldSince: "2026-12-04T10:00:02Z",
	}}}
	if err := c.client.Create(ctx, held); err != nil {
		t.Fatal(err)
	}
	stdout, _, err := c.kubectl(t, "brake", "status", "--operator-namespace", ns)
	if err != nil || !strings.Contains(stdout, "HELD since 2026-12-04T10:00:02Z: 2 guest deletions admitted") {
		t.Errorf("status: %q, %v", stdout, err)
	}

	for _, decision := range []struct{ arg, annotation string }{
		{"approve", partnerinvitation.AnnotationBrakeApprove}, {"cancel", partnerinvitation.AnnotationBrakeCancel},
	} {
		before := time.Now().Add(-time.Second)
		if _, stderr, err := c.kubectl(t, "brake", decision.arg, "--operator-namespace", ns); err != nil {
			t.Fatalf("%s: %v\n%s", decision.arg, err, stderr)
		}
		got := &coordinationv1.Lease{}
		if err := c.client.Get(ctx, client.ObjectKeyFromObject(held), got); err != nil {
			t.Fatal(err)
		}
		at, err := time.Parse(time.RFC3339, got.Annotations[decision.annotation])
		if err != nil || at.Before(before.Truncate(time.Second)) {
			t.Errorf("%s wrote %q, want the time of the command", decision.annotation, got.Annotations[decision.annotation])
		}
		if got.Annotations[partnerinvitation.AnnotationBrakeAdmitted] != held.Annotations[partnerinvitation.AnnotationBrakeAdmitted] {
			t.Errorf("%s changed the operator's ledger", decision.arg)
		}
	}
	if _, _, err := c.kubectl(t, "brake", "release"); err == nil {
		t.Error("an unknown action was accepted")
	}
}
