package main

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"

	b2bv1alpha1 "github.com/partnerops/partner-operator/api/v1alpha1"
)

func TestResendAndReset(t *testing.T) {
	c := cluster(t)
	ctx := context.Background()
	ns := "resend"
	c.scratchNamespace(t, ns)
	jane := c.invitation(t, ns, "jane", nil)
	joe := c.invitation(t, ns, "joe", nil)

	annotation := func(t *testing.T, name, key string) time.Time {
		t.Helper()
		var p b2bv1alpha1.PartnerInvitation
		if err := c.client.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &p); err != nil {
			t.Fatal(err)
		}
		at, err := time.Parse(time.RFC3339, p.Annotations[key])
		if err != nil {
			t.Fatalf("%s: annotation %s = %q is not an RFC 3339 time: %v", name, key, p.Annotations[key], err)
		}
		return at
	}

	before := time.Now()
	stdout, stderr, err := c.kubectl(t, "resend", "jane", "-n", ns)
	if err != nil {
		t.Fatalf("resend: %v\n%s", err, stderr)
	}
	at := annotation(t, "jane", b2bv1alpha1.AnnotationResendRequestedAt)
	if at.Before(before.Add(-time.Second)) || at.After(time.Now()) {
		t.Errorf("requested at %s, want the time of the command", at)
	}
	want := fmt.Sprintf("partnerinvitation.b2b.partnerops.io/jane: resend requested for %s (%s=%s)\n",
		jane.Spec.Email, b2bv1alpha1.AnnotationResendRequestedAt, at.Format(time.RFC3339Nano))
	if stdout != want {
		t.Errorf("output %q, want %q", stdout, want)
	}

	t.Run("again, with a new value", func(t *testing.T) {
		if _, _, err := c.kubectl(t, "resend", "jane", "-n", ns); err != nil {
			t.Fatal(err)
		}
		if again := annotation(t, "jane", b2bv1alpha1.AnnotationResendRequestedAt); !again.After(at) {
			t.Errorf("a second resend kept the value %s; the operator handles each value once", again)
		}
	})

	t.Run("reset, of several objects", func(t *testing.T) {
		stdout, _, err := c.kubectl(t, "reset", "jane", "joe", "-n", ns)
		if err != nil {
			t.Fatal(err)
		}
		annotation(t, "jane", b2bv1alpha1.AnnotationResetRequestedAt)
		annotation(t, "joe", b2bv1alpha1.AnnotationResetRequestedAt)
		if !strings.Contains(stdout, "partnerinvitation.b2b.partnerops.io/joe: reset of the redemption requested for "+joe.Spec.Email) {
			t.Errorf("output %q", stdout)
		}
	})

	t.Run("an object that does not exist", func(t *testing.T) {
		stdout, _, err := c.kubectl(t, "resend", "nobody", "jane", "-n", ns)
		if err == nil || !strings.Contains(err.Error(), "resend/nobody") || !strings.Contains(err.Error(), "not found") {
			t.Errorf("error %v, want nobody not found", err)
		}
		if !strings.Contains(stdout, "/jane: resend requested") {
			t.Errorf("the other name was not handled: %q", stdout)
		}
	})

	t.Run("a partner who has redeemed", func(t *testing.T) {
		c.invitation(t, ns, "ann", &b2bv1alpha1.PartnerInvitationStatus{State: b2bv1alpha1.StateAccepted})
		_, stderr, err := c.kubectl(t, "resend", "ann", "-n", ns)
		if err != nil || !strings.Contains(stderr, "ann@resend.example has redeemed the invitation, so nothing will be sent; 'kubectl partner reset ann'") {
			t.Errorf("resend of a redeemed invitation: %v, stderr %q; want a warning", err, stderr)
		}
	})

	t.Run("help", func(t *testing.T) {
		stdout, _, err := c.kubectl(t, "reset", "--help")
		if err != nil || !strings.Contains(stdout, "PartnerAccessPolicy") || !strings.Contains(stdout, "allowResetRedemption") {
			t.Errorf("reset --help: %v\n%s", err, stdout)
		}
		if _, _, err := c.kubectl(t, "resend"); err == nil {
			t.Error("resend without a name succeeded")
		}
	})
}
