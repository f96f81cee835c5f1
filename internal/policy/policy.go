// Package policy evaluates PartnerAccessPolicies against PartnerInvitations. It is pure logic:
// the controller feeds it the objects, and the admission-time ValidatingAdmissionPolicy in
// config/policy expresses the same rules in CEL.
package policy

import (
	"fmt"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/validation/field"

	b2bv1alpha1 "github.com/partnerops/partner-operator/api/v1alpha1"
)

// Posture is what applies to a namespace that no policy selects.
type Posture string

const (
	// AllowUnselected lets namespaces without a policy invite anyone and grant anything.
	AllowUnselected Posture = "Allow"
	// DenyUnselected refuses invitations from namespaces no policy selects.
	DenyUnselected Posture = "Deny"
)

// Violation names the policy and rule an invitation breaks.
type Violation struct {
	Policy string
	Rule   string
	Detail string
}

func (v Violation) String() string {
	if v.Policy == "" {
		return v.Detail
	}
	return fmt.Sprintf("PartnerAccessPolicy %s: rule %s: %s", v.Policy, v.Rule, v.Detail)
}

// InvalidPolicy is a policy Selecting set aside: its spec breaks a rule of
// b2bv1alpha1.ValidatePolicySpec, which the API server enforces on writes today but did not
// when the policy was written.
type InvalidPolicy struct {
	Name   string
	Errors field.ErrorList
}

func (p InvalidPolicy) String() string {
	return fmt.Sprintf("PartnerAccessPolicy %s is invalid: %v", p.Name, p.Errors.ToAggregate())
}

// Selecting returns the valid policies whose namespace selector matches the namespace's
// labels, and, apart, every invalid policy, whatever it would select.
//
// An invalid policy affects only itself: it is ignored, here as in every namespace, and its
// own status says why (Ready=False, reason Invalid, set by the PartnerAccessPolicy
// reconciler). It is not taken as selecting every namespace, nor does it fail the evaluation
// of the others, which would stop every namespace's invitations for one policy's typo. Ignoring
// a policy never widens what a namespace may do under the operator's default posture,
// DenyUnselected: a namespace only the invalid policy would select is then selected by none,
// and so denied; a namespace other policies select is bounded by them. Only under
// AllowUnselected, a posture that allows what no policy forbids, can it open a namespace the
// invalid policy meant to restrict, which is why the default is Deny. The admission policy
// (config/policy) cannot tell an invalid policy from a valid one and still applies it as
// written: admission is then the stricter of the two, never the looser.
func Selecting(policies []b2bv1alpha1.PartnerAccessPolicy, nsLabels map[string]string) ([]*b2bv1alpha1.PartnerAccessPolicy, []InvalidPolicy) {
	var out []*b2bv1alpha1.PartnerAccessPolicy
	var invalid []InvalidPolicy
	for i := range policies {
		p := &policies[i]
		if errs := b2bv1alpha1.ValidatePolicySpec(&p.Spec, field.NewPath("spec")); len(errs) > 0 {
			invalid = append(invalid, InvalidPolicy{Name: p.Name, Errors: errs})
			continue
		}
		sel, err := metav1.LabelSelectorAsSelector(&p.Spec.NamespaceSelector)
		if err != nil {
			// ValidatePolicySpec holds every rule the selector parser applies; this is the
			// parser's word should they ever differ.
			invalid = append(invalid, InvalidPolicy{Name: p.Name, Errors: field.ErrorList{
				field.Invalid(field.NewPath("spec", "namespaceSelector"), field.OmitValueType{}, err.Error())}})
			continue
		}
		if sel.Matches(labels.Set(nsLabels)) {
			out = append(out, p)
		}
	}
	return out, invalid
}

// Invitation checks what the invitation itself asks for: domain (and, for requireOrganization,
// status.organization, which the reconciler has just set from the cache), user type, message, and the
// namespace's count (index is the object's 0-based place among its namespace's invitations,
// oldest first). It returns nil when every selecting policy allows it.
func Invitation(selecting []*b2bv1alpha1.PartnerAccessPolicy, posture Posture, namespace string, pinv *b2bv1alpha1.PartnerInvitation, index int) *Violation {
	if len(selecting) == 0 {
		if posture == DenyUnselected {
			return &Violation{Detail: fmt.Sprintf("no PartnerAccessPolicy selects namespace %s, and the operator denies invitations by default", namespace)}
		}
		return nil
	}
	domain := Domain(pinv.Spec.Email)
	for _, p := range selecting {
		s := p.Spec
		for _, pattern := range s.DeniedDomains {
			if DomainMatches(pattern, domain) {
				return &Violation{p.Name, "deniedDomains", fmt.Sprintf("invitations to @%s are denied (%s)", domain, pattern)}
			}
		}
		if len(s.AllowedDomains) > 0 && !anyDomain(s.AllowedDomains, domain) {
			return &Violation{p.Name, "allowedDomains", fmt.Sprintf("@%s is not an allowed domain", domain)}
		}
		if pinv.Spec.UserType == b2bv1alpha1.UserTypeMember && !s.AllowMemberUserType {
			return &Violation{p.Name, "allowMemberUserType", "userType Member is not allowed"}
		}
		if pinv.Spec.Message != nil && pinv.Spec.Message.Body != "" && !s.AllowCustomMessage {
			return &Violation{p.Name, "allowCustomMessage", "a customised invitation message is not allowed"}
		}
		if s.RequireOrganization && pinv.Status.Organization == "" {
			return &Violation{p.Name, "requireOrganization", fmt.Sprintf("@%s is not a domain of any PartnerOrganization", domain)}
		}
		if v := tenantRule(p, pinv.Spec.TenantRef); v != nil {
			return v
		}
		if s.MaxInvitationsPerNamespace != nil && index >= int(*s.MaxInvitationsPerNamespace) {
			return &Violation{p.Name, "maxInvitationsPerNamespace", fmt.Sprintf("namespace %s may hold at most %d invitations", namespace, *s.MaxInvitationsPerNamespace)}
		}
	}
	return nil
}

// tenantRule checks the tenant the invitation names against one policy: without tenantRef the
// default tenant (allowed unless defaultTenant is Deny), with it one of allowedTenants.
func tenantRule(p *b2bv1alpha1.PartnerAccessPolicy, ref *b2bv1alpha1.TenantReference) *Violation {
	if ref == nil {
		if p.Spec.DefaultTenant == b2bv1alpha1.DefaultTenantDeny {
			return &Violation{p.Name, "defaultTenant", "invitations must name a tenant in spec.tenantRef (the default tenant is denied)"}
		}
		return nil
	}
	kind := ref.Kind
	if kind == "" {
		kind = b2bv1alpha1.KindGraphTenant
	}
	for _, t := range p.Spec.AllowedTenants {
		if t.Kind == kind && (t.Name == "*" || t.Name == ref.Name) {
			return nil
		}
	}
	return &Violation{p.Name, "allowedTenants", fmt.Sprintf("%s %s may not be used", kind, ref.Name)}
}

// Adoption is what the selecting policies together allow for a guest the operator did not
// invite: the most restrictive mode wins, and with no selecting policy adoption is denied.
// Taking over someone else's account is a grant of the cluster owner's, never a default.
func Adoption(selecting []*b2bv1alpha1.PartnerAccessPolicy) b2bv1alpha1.AdoptionMode {
	if len(selecting) == 0 {
		return b2bv1alpha1.AdoptionDeny
	}
	rank := map[b2bv1alpha1.AdoptionMode]int{b2bv1alpha1.AdoptionAdopt: 1, b2bv1alpha1.AdoptionAdoptAndDelete: 2}
	mode := b2bv1alpha1.AdoptionAdoptAndDelete
	for _, p := range selecting {
		if rank[p.Spec.Adoption] < rank[mode] {
			mode = p.Spec.Adoption
		}
	}
	if rank[mode] == 0 {
		return b2bv1alpha1.AdoptionDeny
	}
	return mode
}

// AdoptionDenied explains a refused adoption, naming the first policy that refuses it.
func AdoptionDenied(selecting []*b2bv1alpha1.PartnerAccessPolicy, namespace string) *Violation {
	for _, p := range selecting {
		if p.Spec.Adoption != b2bv1alpha1.AdoptionAdopt && p.Spec.Adoption != b2bv1alpha1.AdoptionAdoptAndDelete {
			return &Violation{p.Name, "adoption", "taking over an existing account is not allowed (adoption: Deny)"}
		}
	}
	return &Violation{Detail: fmt.Sprintf("no PartnerAccessPolicy selects namespace %s, so an existing account may not be taken over", namespace)}
}

// Promotion checks a change of an adopted account's userType: every selecting policy must set
// allowPromotion, and with none selecting it is refused.
func Promotion(selecting []*b2bv1alpha1.PartnerAccessPolicy, namespace string) *Violation {
	return everyAllows(selecting, namespace, "allowPromotion", "the userType of an adopted account may not change",
		func(s b2bv1alpha1.PartnerAccessPolicySpec) bool { return s.AllowPromotion })
}

// ResetRedemption checks a request to reset a guest's redemption: every selecting policy must
// set allowResetRedemption, and with none selecting it is refused.
func ResetRedemption(selecting []*b2bv1alpha1.PartnerAccessPolicy, namespace string) *Violation {
	return everyAllows(selecting, namespace, "allowResetRedemption", "a guest's redemption may not be reset",
		func(s b2bv1alpha1.PartnerAccessPolicySpec) bool { return s.AllowResetRedemption })
}

// everyAllows is an opt-in a cluster owner grants: it holds only where at least one policy
// selects the namespace and every selecting policy sets it.
func everyAllows(selecting []*b2bv1alpha1.PartnerAccessPolicy, namespace, rule, refused string, allows func(b2bv1alpha1.PartnerAccessPolicySpec) bool) *Violation {
	if len(selecting) == 0 {
		return &Violation{Detail: fmt.Sprintf("no PartnerAccessPolicy selects namespace %s, so %s", namespace, refused)}
	}
	for _, p := range selecting {
		if !allows(p.Spec) {
			return &Violation{p.Name, rule, refused}
		}
	}
	return nil
}

// Group checks one group grant; ref is the entry as written, id the resolved object ID.
func Group(selecting []*b2bv1alpha1.PartnerAccessPolicy, ref, id string) *Violation {
	for _, p := range selecting {
		if !anyEqualFold(p.Spec.AllowedGroups, ref, id) {
			return &Violation{p.Name, "allowedGroups", fmt.Sprintf("group %s may not be granted", ref)}
		}
	}
	return nil
}

// Application checks one app role grant. app and role are as written in the spec; the
// resolved service principal ID, appId and role ID also match.
func Application(selecting []*b2bv1alpha1.PartnerAccessPolicy, app, role string, also ...string) *Violation {
	for _, p := range selecting {
		if !appAllowed(p.Spec.AllowedApplications, app, role, also) {
			what := "default access"
			if role != "" {
				what = "role " + role
			}
			return &Violation{p.Name, "allowedApplications", fmt.Sprintf("application %s (%s) may not be granted", app, what)}
		}
	}
	return nil
}

func appAllowed(rules []b2bv1alpha1.ApplicationRule, app, role string, also []string) bool {
	for _, r := range rules {
		if r.App != "*" && !anyEqualFold([]string{r.App}, append([]string{app}, also...)...) {
			continue
		}
		if len(r.Roles) == 0 {
			return true
		}
		for _, allowed := range r.Roles {
			if allowed == "*" || (role != "" && strings.EqualFold(allowed, role)) {
				return true
			}
		}
	}
	return false
}

// Domain returns the lower-cased domain of an address.
func Domain(email string) string {
	at := strings.LastIndex(email, "@")
	return strings.ToLower(email[at+1:])
}

// DomainMatches reports whether the domain matches "*", "*.suffix" (subdomains only) or an
// exact domain.
func DomainMatches(pattern, domain string) bool {
	pattern = strings.ToLower(strings.TrimSpace(pattern))
	switch {
	case pattern == "*":
		return true
	case strings.HasPrefix(pattern, "*."):
		return strings.HasSuffix(domain, pattern[1:])
	default:
		return pattern == domain
	}
}

func anyDomain(patterns []string, domain string) bool {
	for _, p := range patterns {
		if DomainMatches(p, domain) {
			return true
		}
	}
	return false
}

func anyEqualFold(allowed []string, candidates ...string) bool {
	for _, a := range allowed {
		if a == "*" {
			return true
		}
		for _, c := range candidates {
			if c != "" && strings.EqualFold(a, c) {
				return true
			}
		}
	}
	return false
}
