package partnerinvitation

import (
	"strings"

	corev1 "k8s.io/api/core/v1"
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

// eventSpecWarning is the reason of the Warning events warnSpec records.
const eventSpecWarning = "SpecWarning"

// warnSpec records what b2bv1alpha1.ValidateSpecWarnings finds (a punycode domain that mixes
// scripts, as look-alike domains do, or that does not decode) as Warning events, until the
// invitation is first sent: that is when a second look can still help, and afterwards the
// event would only repeat. The admission policy warns on every punycode domain at create; this
// names the mixed scripts. The messages name fields, never the address.
func (r *Reconciler) warnSpec(pinv *b2bv1alpha1.PartnerInvitation) {
	if pinv.Status.InvitedAt != nil || pinv.Status.LastSentAt != nil {
		return
	}
	for _, w := range b2bv1alpha1.ValidateSpecWarnings(&pinv.Spec, field.NewPath("spec")) {
		r.event(pinv, corev1.EventTypeWarning, eventSpecWarning, "Validate", w)
	}
}
