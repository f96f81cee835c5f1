package v1alpha1_test

import (
	"fmt"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"

	b2bv1alpha1 "github.com/partnerops/partner-operator/api/v1alpha1"
)

// policyCase changes an empty policy spec; field is the path ValidatePolicySpec and the API
// server must name ("" when both must accept it), detail a part of the message.
type policyCase struct {
	name   string
	change func(*b2bv1alpha1.PartnerAccessPolicySpec)
	field  string
	detail string
}

func (c policyCase) build() b2bv1alpha1.PartnerAccessPolicySpec {
	s := b2bv1alpha1.PartnerAccessPolicySpec{}
	c.change(&s)
	return s
}

func expr(key string, op metav1.LabelSelectorOperator, values ...string) metav1.LabelSelectorRequirement {
	return metav1.LabelSelectorRequirement{Key: key, Operator: op, Values: values}
}

func exprs(es ...metav1.LabelSelectorRequirement) func(*b2bv1alpha1.PartnerAccessPolicySpec) {
	return func(s *b2bv1alpha1.PartnerAccessPolicySpec) { s.NamespaceSelector.MatchExpressions = es }
}

func domains(ds ...string) func(*b2bv1alpha1.PartnerAccessPolicySpec) {
	return func(s *b2bv1alpha1.PartnerAccessPolicySpec) { s.AllowedDomains = ds }
}

// policyCases are the shared corpus of TestValidatePolicySpec and
// TestPolicyAdmission: ValidatePolicySpec and the API server give the same answers.
var policyCases = []policyCase{
	{name: "empty selector (every namespace)", change: func(*b2bv1alpha1.PartnerAccessPolicySpec) {}},
	{name: "selector with every operator", change: exprs(
		expr("tier", metav1.LabelSelectorOpIn, "partner", "vendor"), expr("env", metav1.LabelSelectorOpNotIn, "prod"),
		expr("example.com/team", metav1.LabelSelectorOpExists), expr("legacy", metav1.LabelSelectorOpDoesNotExist))},
	{name: "matchLabels with a prefixed key and an empty value", change: func(s *b2bv1alpha1.PartnerAccessPolicySpec) {
		s.NamespaceSelector.MatchLabels = map[string]string{"partners.example.com/access": "enabled", "marker": ""}
	}},
	{name: "domain forms", change: func(s *b2bv1alpha1.PartnerAccessPolicySpec) {
		s.AllowedDomains = []string{"contoso.com", "*.contoso.com", "Fabrikam.COM", "xn--mller-kva.example", "*.ru"}
		s.DeniedDomains = []string{"*"}
	}},
	{name: "groups and applications", change: func(s *b2bv1alpha1.PartnerAccessPolicySpec) {
		s.AllowedGroups = []string{"*", "Partner Portal Users", strings.Repeat("g", 256)}
		s.AllowedApplications = []b2bv1alpha1.ApplicationRule{{App: "*"}, {App: "CD3ED3DE-93EE-400B-8B19-B61EF44A0F29", Roles: []string{"Partner.Read"}}}
	}},

	{"unknown operator", exprs(expr("tier", "Equals", "partner")), "spec.namespaceSelector.matchExpressions", "the operator must be In, NotIn, Exists or DoesNotExist"},
	{"In without values", exprs(expr("tier", metav1.LabelSelectorOpIn)), "spec.namespaceSelector.matchExpressions", "In and NotIn need at least one value"},
	{"Exists with values", exprs(expr("tier", metav1.LabelSelectorOpExists, "x")), "spec.namespaceSelector.matchExpressions", "Exists and DoesNotExist take none"},
	{"key with a space", exprs(expr("bad key", metav1.LabelSelectorOpExists)), "spec.namespaceSelector.matchExpressions", "each key must be a label key"},
	{"key with a bad prefix", exprs(expr("Example.com/team", metav1.LabelSelectorOpExists)), "spec.namespaceSelector.matchExpressions", "each key must be a label key"},
	{"value with a space", exprs(expr("tier", metav1.LabelSelectorOpIn, "a b")), "spec.namespaceSelector.matchExpressions", "each value must be a label value"},
	{"matchLabels key", func(s *b2bv1alpha1.PartnerAccessPolicySpec) {
		s.NamespaceSelector.MatchLabels = map[string]string{"-tier": "partner"}
	}, "spec.namespaceSelector.matchLabels", "each key must be a label key"},
	{"matchLabels value", func(s *b2bv1alpha1.PartnerAccessPolicySpec) {
		s.NamespaceSelector.MatchLabels = map[string]string{"tier": "partner!"}
	}, "spec.namespaceSelector.matchLabels", "each value must be a label value"},
	{"matchLabels value too long", func(s *b2bv1alpha1.PartnerAccessPolicySpec) {
		s.NamespaceSelector.MatchLabels = map[string]string{"tier": strings.Repeat("p", 64)}
	}, "spec.namespaceSelector.matchLabels.tier", "may not be more than 63"},
	{"33 expressions", func(s *b2bv1alpha1.PartnerAccessPolicySpec) {
		for i := range 33 {
			s.NamespaceSelector.MatchExpressions = append(s.NamespaceSelector.MatchExpressions, expr(fmt.Sprintf("k%d", i), metav1.LabelSelectorOpExists))
		}
	}, "spec.namespaceSelector.matchExpressions", "must have at most 32 items"},
	{"domain with a space", domains("*.evil com"), "spec.allowedDomains[0]", "must be a domain such as contoso.com"},
	{"domain @@", domains("@@"), "spec.allowedDomains[0]", "must be a domain such as contoso.com"},
	{"empty domain", domains(""), "spec.allowedDomains[0]", "must be a domain such as contoso.com"},
	{"domain with an @", domains("@contoso.com"), "spec.allowedDomains[0]", "write the domain without the @: contoso.com"},
	{"domain with a trailing dot", domains("contoso.com."), "spec.allowedDomains[0]", "no dot at the end"},
	{"domain of one label", domains("contoso"), "spec.allowedDomains[0]", "must be a domain such as contoso.com"},
	{"wildcard inside", domains("*contoso.com"), "spec.allowedDomains[0]", "must be a domain such as contoso.com"},
	{"two wildcards", domains("*.*.contoso.com"), "spec.allowedDomains[0]", "must be a domain such as contoso.com"},
	{"international domain not in punycode", domains("müller.example"), "spec.allowedDomains[0]", "punycode"},
	{"denied domain with an address", func(s *b2bv1alpha1.PartnerAccessPolicySpec) {
		s.DeniedDomains = []string{"gmail.com", "anna@gmail.com"}
	}, "spec.deniedDomains[1]", "must be a domain such as contoso.com"},
	{"empty group", func(s *b2bv1alpha1.PartnerAccessPolicySpec) { s.AllowedGroups = []string{""} }, "spec.allowedGroups[0]", ""},
	{"group too long", func(s *b2bv1alpha1.PartnerAccessPolicySpec) { s.AllowedGroups = []string{strings.Repeat("g", 257)} }, "spec.allowedGroups[0]", ""},
	{"application by name", func(s *b2bv1alpha1.PartnerAccessPolicySpec) {
		s.AllowedApplications = []b2bv1alpha1.ApplicationRule{{App: "Partner Portal"}}
	}, "spec.allowedApplications[0].app", "or * for any application"},
}

func TestValidatePolicySpec(t *testing.T) {
	for _, c := range policyCases {
		t.Run(c.name, func(t *testing.T) {
			s := c.build()
			errs := b2bv1alpha1.ValidatePolicySpec(&s, field.NewPath("spec"))
			switch {
			case c.field == "" && len(errs) > 0:
				t.Errorf("refused a valid policy: %v", errs.ToAggregate())
			case c.field != "" && (len(errs) != 1 || errs[0].Field != c.field):
				t.Errorf("ValidatePolicySpec = %v, want one error on %s", errs.ToAggregate(), c.field)
			case c.field != "" && !strings.Contains(errs[0].Detail, c.detail):
				t.Errorf("message %q does not say %q", errs[0].Detail, c.detail)
			}
		})
	}
}

func TestPolicyReadyMessage(t *testing.T) {
	s := b2bv1alpha1.PartnerAccessPolicySpec{AllowedDomains: []string{"@contoso.com"}}
	got := b2bv1alpha1.PolicyReadyMessage(b2bv1alpha1.ValidatePolicySpec(&s, field.NewPath("spec")))
	if !strings.Contains(got, "spec.allowedDomains[0]") || !strings.Contains(got, "contoso.com") || !strings.Contains(got, "ignored") {
		t.Errorf("message %q", got)
	}
	if got := b2bv1alpha1.PolicyReadyMessage(nil); got == "" {
		t.Error("no message for a valid policy")
	}
}
