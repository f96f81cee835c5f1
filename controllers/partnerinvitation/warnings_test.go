package partnerinvitation

import (
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/events"

	b2bv1alpha1 "github.com/partnerops/partner-operator/api/v1alpha1"
)

// A look-alike domain is a Warning event naming the field and the scripts, never the address,
// until the invitation is sent.
func TestWarnSpecLookAlikeDomain(t *testing.T) {
	rec := events.NewFakeRecorder(10)
	r := &Reconciler{Recorder: rec}
	pinv := &b2bv1alpha1.PartnerInvitation{Spec: b2bv1alpha1.PartnerInvitationSpec{Email: "anna@xn--pple-43d.com"}}
	r.warnSpec(pinv)
	select {
	case e := <-rec.Events:
		if !strings.Contains(e, "Warning "+eventSpecWarning) || !strings.Contains(e, "spec.email") ||
			!strings.Contains(e, "Cyrillic and Latin") || strings.Contains(e, "anna") {
			t.Errorf("event %q", e)
		}
	default:
		t.Fatal("no event")
	}

	now := metav1.Now()
	pinv.Status.InvitedAt = &now
	r.warnSpec(pinv)
	pinv.Status.InvitedAt = nil
	pinv.Spec.Email = "anna@xn--mller-kva.example"
	r.warnSpec(pinv)
	if len(rec.Events) != 0 {
		t.Errorf("unexpected event %q", <-rec.Events)
	}
}
