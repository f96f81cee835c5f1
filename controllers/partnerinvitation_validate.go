package controllers

import (
	"strings"

	"k8s.io/apimachinery/pkg/util/validation/field"

	b2bv1alpha1 "github.com/partnerops/partner-operator/api/v1alpha1"
	"github.com/partnerops/partner-operator/internal/logging"
)

// validateSpec catches what the CRD schema cannot (or what an older CRD let through), so bad
// input becomes a Stalled condition naming the field and never a Graph write. The rules are
// b2bv1alpha1.ValidateSpec's, the same ones kubectl partner import applies to a CSV row.
// The message names fields, never the addresses in them: it reaches events and the log.
func validateSpec(pinv *b2bv1alpha1.PartnerInvitation) error {
	errs := b2bv1alpha1.ValidateSpec(&pinv.Spec, field.NewPath("spec"))
	if len(errs) == 0 {
		return nil
	}
	for _, e := range errs {
		// An invalid address need not look like one ("anna@fabrikam") and still is one.
		bad, ok := e.BadValue.(string)
		if !ok || !strings.Contains(bad, "@") {
			continue
		}
		e.BadValue = field.OmitValueType{}
		// "must be the bare address x@y" quotes it; "such as name@example.com" stays.
		e.Detail = logging.MailAddress.ReplaceAllStringFunc(e.Detail, func(a string) string {
			if strings.Contains(bad, a) {
				return logging.RedactedAddress
			}
			return a
		})
	}
	return errs.ToAggregate()
}
