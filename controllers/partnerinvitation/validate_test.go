package partnerinvitation

import (
	"strings"
	"testing"

	b2bv1alpha1 "github.com/partnerops/partner-operator/api/v1alpha1"
)

// An invalid address becomes a message that names the field, not the address.
func TestInvalidSpecMessageNamesNoAddress(t *testing.T) {
	for _, email := range []string{"anna..berg@fabrikam.example", "<anna@fabrikam.example>", "anna@fabrikam"} {
		pinv := &b2bv1alpha1.PartnerInvitation{Spec: b2bv1alpha1.PartnerInvitationSpec{Email: email}}
		err := validateSpec(pinv)
		if err == nil {
			t.Fatalf("%q passed validation", email)
		}
		if strings.Contains(err.Error(), "anna") || !strings.Contains(err.Error(), "spec.email") {
			t.Errorf("%q: message %q", email, err)
		}
		t.Logf("%s", err)
	}
}
