package controllers

import (
	"k8s.io/apimachinery/pkg/util/validation/field"

	b2bv1alpha1 "github.com/partnerops/partner-operator/api/v1alpha1"
)

// validateSpec catches what the CRD schema cannot (or what an older CRD let through), so bad
// input becomes a Stalled condition naming the field and never a Graph write. The rules are
// b2bv1alpha1.ValidateSpec's, the same ones kubectl partner import applies to a CSV row.
func validateSpec(pinv *b2bv1alpha1.PartnerInvitation) error {
	if errs := b2bv1alpha1.ValidateSpec(&pinv.Spec, field.NewPath("spec")); len(errs) > 0 {
		return errs.ToAggregate()
	}
	return nil
}
