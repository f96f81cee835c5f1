package controllers

import (
	"fmt"
	"net/mail"
	"net/url"
	"strings"

	b2bv1alpha1 "github.com/partnerops/partner-operator/api/v1alpha1"
)

// validateSpec catches what the CRD schema cannot (or what an older CRD let through), so bad
// input becomes a Stalled condition naming the field and never a Graph write.
func validateSpec(pinv *b2bv1alpha1.PartnerInvitation) error {
	if _, err := mail.ParseAddress(pinv.Spec.Email); err != nil {
		return fmt.Errorf("spec.email %q is not a mail address: %w", pinv.Spec.Email, err)
	}
	if pinv.Spec.RedirectURL != "" {
		u, err := url.Parse(pinv.Spec.RedirectURL)
		if err != nil || u.Scheme != "https" || u.Host == "" {
			return fmt.Errorf("spec.redirectURL %q must be an absolute https URL", pinv.Spec.RedirectURL)
		}
	}
	if m := pinv.Spec.Message; m != nil {
		if len(m.CCRecipients) > 1 {
			return fmt.Errorf("spec.message.ccRecipients has %d entries; Graph accepts at most one", len(m.CCRecipients))
		}
		for _, cc := range m.CCRecipients {
			if _, err := mail.ParseAddress(cc); err != nil {
				return fmt.Errorf("spec.message.ccRecipients %q is not a mail address: %w", cc, err)
			}
		}
	}
	switch pinv.Spec.UserType {
	case "", b2bv1alpha1.UserTypeGuest, b2bv1alpha1.UserTypeMember:
	default:
		return fmt.Errorf("spec.userType %q must be Guest or Member", pinv.Spec.UserType)
	}
	switch pinv.Spec.DeletionPolicy {
	case "", b2bv1alpha1.DeletionPolicyDelete, b2bv1alpha1.DeletionPolicyOrphan:
	default:
		return fmt.Errorf("spec.deletionPolicy %q must be Delete or Orphan", pinv.Spec.DeletionPolicy)
	}
	switch pinv.Spec.ExpiryAction {
	case "", b2bv1alpha1.ExpiryRevokeAccess, b2bv1alpha1.ExpiryDisable, b2bv1alpha1.ExpiryDelete:
	default:
		return fmt.Errorf("spec.expiryAction %q must be RevokeAccess, Disable or Delete", pinv.Spec.ExpiryAction)
	}
	for i, s := range pinv.Spec.Sponsors {
		if !objectIDPattern.MatchString(s) && strings.Count(s, "@") != 1 {
			return fmt.Errorf("spec.sponsors[%d] %q must be an object ID or a user principal name", i, s)
		}
	}
	return nil
}
