package v1alpha1

import (
	"time"

	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"unicode/utf8"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// The rules of a PartnerAccessPolicy's spec, as the markers in partneraccesspolicy_types.go
// declare them; TestPolicyValidationMatchesCRD compares them with the generated CRD.
//
// metav1.LabelSelector's schema is generated from its Go type, which has no markers of ours,
// so the selector's rules sit on the spec, each with the fieldPath it judges. CEL's format
// library is the API server's own label validation (validation.IsQualifiedName and
// IsValidLabelValue), which ValidatePolicySpec calls directly.
const (
	selectorOperatorsRule    = `!has(self.namespaceSelector.matchExpressions) || self.namespaceSelector.matchExpressions.all(e, e.operator in ["In", "NotIn", "Exists", "DoesNotExist"])`
	selectorOperatorsMessage = "namespaceSelector.matchExpressions: the operator must be In, NotIn, Exists or DoesNotExist"

	selectorValuesRule    = `!has(self.namespaceSelector.matchExpressions) || self.namespaceSelector.matchExpressions.all(e, e.operator in ["In", "NotIn"] ? has(e.values) && size(e.values) > 0 : !(e.operator in ["Exists", "DoesNotExist"]) || !has(e.values) || size(e.values) == 0)`
	selectorValuesMessage = "namespaceSelector.matchExpressions: In and NotIn need at least one value; Exists and DoesNotExist take none"

	selectorKeysRule    = `!has(self.namespaceSelector.matchExpressions) || self.namespaceSelector.matchExpressions.all(e, !format.qualifiedName().validate(e.key).hasValue())`
	selectorKeysMessage = "namespaceSelector.matchExpressions: each key must be a label key such as team or example.com/team: up to 63 letters, digits, '-', '_' or '.', beginning and ending with a letter or digit, optionally after a DNS subdomain and a '/'"

	selectorValueFormatRule    = `!has(self.namespaceSelector.matchExpressions) || self.namespaceSelector.matchExpressions.all(e, !has(e.values) || e.values.all(v, !format.labelValue().validate(v).hasValue()))`
	selectorValueFormatMessage = "namespaceSelector.matchExpressions: each value must be a label value: up to 63 letters, digits, '-', '_' or '.', beginning and ending with a letter or digit"

	selectorLabelKeysRule    = `!has(self.namespaceSelector.matchLabels) || self.namespaceSelector.matchLabels.all(k, !format.qualifiedName().validate(k).hasValue())`
	selectorLabelKeysMessage = "namespaceSelector.matchLabels: each key must be a label key such as team or example.com/team: up to 63 letters, digits, '-', '_' or '.', beginning and ending with a letter or digit, optionally after a DNS subdomain and a '/'"

	selectorLabelValuesRule    = `!has(self.namespaceSelector.matchLabels) || self.namespaceSelector.matchLabels.all(k, !format.labelValue().validate(self.namespaceSelector.matchLabels[k]).hasValue())`
	selectorLabelValuesMessage = "namespaceSelector.matchLabels: each value must be a label value: up to 63 letters, digits, '-', '_' or '.', beginning and ending with a letter or digit, or empty"

	// A domain pattern: "*", "contoso.com" (that domain: two labels at least), or
	// "*.contoso.com" (its subdomains: one label at least after "*."), labels as in an
	// address's domain (domainLabel), any case, no trailing dot, IDN in punycode.
	domainPatternPattern = `^([*]|[*][.]` + domainLabel + `([.]` + domainLabel + `)*|` + domainName + `)$`
	domainPatternMessage = "must be a domain such as contoso.com, *.contoso.com for its subdomains, or * for any: labels of letters, digits and hyphens joined by single dots, no @, no spaces, no dot at the end; an international domain in punycode (xn--...)"
	// domainPatternAtRule is the messageExpression's test for "@contoso.com".
	domainPatternAtRule              = `self.startsWith("@") && self.substring(1).matches("` + domainPatternPattern + `")`
	domainPatternRule                = `self.matches("` + domainPatternPattern + `")`
	domainPatternMessageExpression   = domainPatternAtRule + ` ? "write the domain without the @: " + self.substring(1) : "` + domainPatternMessage + `"`
	domainPatternMaxLength           = 253
	domainPatternsMaxItems           = 1000
	policyAppRule                    = `self == "*" || self.matches("` + uuidPattern + `")`
	policyAppMessage                 = `must be an application's appId or its service principal's object ID (a GUID), or * for any application`
	allowedApplicationsMaxItems      = 200
	allowedGroupMinLength            = 1
	allowedGroupMaxLength            = refMaxLength
	policyConditionMessageValid      = "the policy is valid"
	policyConditionMessageInvalidFmt = "the policy is ignored until it is fixed: %s"
)

// The selector's bounds, which hack/crdbounds writes into the CRD (see there why).
const (
	selectorMaxExpressions = 32
	selectorMaxKeyLength   = 317
	selectorMaxValues      = 64
	selectorMaxValueLength = 63
	selectorMaxMatchLabels = 64
)

var domainPatternRE = regexp.MustCompile(domainPatternPattern)

// Condition reasons of a PartnerAccessPolicy's Ready condition.
const (
	// ReasonValid: the spec passes ValidatePolicySpec; the policy applies.
	ReasonValid = "Valid"
	// ReasonInvalid: the spec does not (admitted before the rules existed); the operator
	// ignores the policy, and its message names the field.
	ReasonInvalid = "Invalid"
)

// ValidatePolicySpec checks a PartnerAccessPolicy's spec against the rules the CRD holds
// (partneraccesspolicy_types.go), with the same messages: what it refuses the API server
// refuses at creation, and the operator ignores a stored policy it refuses (one admitted
// before the rules existed), reporting why in the policy's Ready condition.
func ValidatePolicySpec(spec *PartnerAccessPolicySpec, path *field.Path) field.ErrorList {
	var errs field.ErrorList
	errs = append(errs, validateSelector(&spec.NamespaceSelector, path.Child("namespaceSelector"))...)
	for _, f := range []struct {
		name     string
		patterns []string
	}{{"allowedDomains", spec.AllowedDomains}, {"deniedDomains", spec.DeniedDomains}} {
		p := path.Child(f.name)
		if len(f.patterns) > domainPatternsMaxItems {
			errs = append(errs, field.TooMany(p, len(f.patterns), domainPatternsMaxItems))
		}
		errs = append(errs, duplicates(p, f.patterns)...)
		for i, d := range f.patterns {
			if err := domainPattern(p.Index(i), d); err != nil {
				errs = append(errs, err)
			}
		}
	}
	groups := path.Child("allowedGroups")
	errs = append(errs, duplicates(groups, spec.AllowedGroups)...)
	for i, g := range spec.AllowedGroups {
		switch n := utf8.RuneCountInString(g); {
		case n < allowedGroupMinLength:
			errs = append(errs, field.TooShort(groups.Index(i), g, allowedGroupMinLength))
		case n > allowedGroupMaxLength:
			errs = append(errs, field.TooLongCharacters(groups.Index(i), g, allowedGroupMaxLength))
		}
	}
	apps := path.Child("allowedApplications")
	if len(spec.AllowedApplications) > allowedApplicationsMaxItems {
		errs = append(errs, field.TooMany(apps, len(spec.AllowedApplications), allowedApplicationsMaxItems))
	}
	for i, a := range spec.AllowedApplications {
		p := apps.Index(i).Child("app")
		switch {
		case a.App == "":
			errs = append(errs, field.Required(p, "an application's appId or service principal object ID, or *"))
		case utf8.RuneCountInString(a.App) > guidLength:
			errs = append(errs, field.TooLongCharacters(p, a.App, guidLength))
		case a.App != "*" && !uuidRE.MatchString(a.App):
			errs = append(errs, field.Invalid(p, a.App, policyAppMessage))
		}
		errs = append(errs, duplicates(apps.Index(i).Child("roles"), a.Roles)...)
	}
	add := func(err *field.Error) {
		if err != nil {
			errs = append(errs, err)
		}
	}
	add(oneOf(path.Child("adoption"), spec.Adoption, []AdoptionMode{AdoptionDeny, AdoptionAdopt, AdoptionAdoptAndDelete}))
	if m := spec.MaxInvitationsPerNamespace; m != nil && *m < 0 {
		errs = append(errs, field.Invalid(path.Child("maxInvitationsPerNamespace"), *m, "should be greater than or equal to 0"))
	}
	if l := spec.SendLimits; l != nil && l.PerNamespacePerDay != nil {
		if n := *l.PerNamespacePerDay; n < 0 || n > 10000 {
			errs = append(errs, field.Invalid(path.Child("sendLimits", "perNamespacePerDay"), n, "must be between 0 and 10000"))
		}
	}
	if r := spec.Inactivity; r != nil {
		errs = append(errs, lifecycleRule(path.Child("inactivity"), "after", r.After, r.Warn, r.Action)...)
	}
	if r := spec.Recertification; r != nil {
		errs = append(errs, lifecycleRule(path.Child("recertification"), "every", r.Every, r.Warn, r.Action)...)
	}
	return errs
}

// lifecycleRule is the CRD's rules for inactivity and recertification: a positive period, a
// warning shorter than it, and a known action.
func lifecycleRule(path *field.Path, name string, period metav1.Duration, warn *metav1.Duration, action ExpiryAction) field.ErrorList {
	var errs field.ErrorList
	if period.Duration < time.Second {
		errs = append(errs, field.Invalid(path.Child(name), period.Duration.String(), "must be a positive duration"))
	}
	if warn != nil && warn.Duration >= period.Duration {
		errs = append(errs, field.Invalid(path.Child("warn"), warn.Duration.String(), "warn must be shorter than "+name))
	}
	if action != "" {
		if err := oneOf(path.Child("action"), action, []ExpiryAction{ExpiryRevokeAccess, ExpiryDisable, ExpiryDelete}); err != nil {
			errs = append(errs, err)
		}
	}
	return errs
}

// validateSelector is the selector's bounds, then its six rules; like CEL's, each rule gives
// at most one error, on the list or map it judges. As the API server does, the rules are not
// checked while a bound is broken.
func validateSelector(sel *metav1.LabelSelector, path *field.Path) field.ErrorList {
	if errs := selectorBounds(sel, path); len(errs) > 0 {
		return errs
	}
	var errs field.ErrorList
	exprs := path.Child("matchExpressions")
	ops := []metav1.LabelSelectorOperator{metav1.LabelSelectorOpIn, metav1.LabelSelectorOpNotIn, metav1.LabelSelectorOpExists, metav1.LabelSelectorOpDoesNotExist}
	for _, rule := range []struct {
		ok      func(metav1.LabelSelectorRequirement) bool
		message string
	}{
		{func(e metav1.LabelSelectorRequirement) bool { return slices.Contains(ops, e.Operator) }, selectorOperatorsMessage},
		{func(e metav1.LabelSelectorRequirement) bool {
			switch e.Operator {
			case metav1.LabelSelectorOpIn, metav1.LabelSelectorOpNotIn:
				return len(e.Values) > 0
			case metav1.LabelSelectorOpExists, metav1.LabelSelectorOpDoesNotExist:
				return len(e.Values) == 0
			}
			return true
		}, selectorValuesMessage},
		{func(e metav1.LabelSelectorRequirement) bool { return len(validation.IsQualifiedName(e.Key)) == 0 }, selectorKeysMessage},
		{func(e metav1.LabelSelectorRequirement) bool {
			return !slices.ContainsFunc(e.Values, func(v string) bool { return len(validation.IsValidLabelValue(v)) > 0 })
		}, selectorValueFormatMessage},
	} {
		if !all(sel.MatchExpressions, rule.ok) {
			errs = append(errs, field.Invalid(exprs, field.OmitValueType{}, rule.message))
		}
	}
	labels := path.Child("matchLabels")
	var badKey, badValue bool
	for k, v := range sel.MatchLabels {
		badKey = badKey || len(validation.IsQualifiedName(k)) > 0
		badValue = badValue || len(validation.IsValidLabelValue(v)) > 0
	}
	if badKey {
		errs = append(errs, field.Invalid(labels, field.OmitValueType{}, selectorLabelKeysMessage))
	}
	if badValue {
		errs = append(errs, field.Invalid(labels, field.OmitValueType{}, selectorLabelValuesMessage))
	}
	return errs
}

func selectorBounds(sel *metav1.LabelSelector, path *field.Path) field.ErrorList {
	var errs field.ErrorList
	exprs := path.Child("matchExpressions")
	if n := len(sel.MatchExpressions); n > selectorMaxExpressions {
		errs = append(errs, field.TooMany(exprs, n, selectorMaxExpressions))
	}
	for i, e := range sel.MatchExpressions {
		p := exprs.Index(i)
		if len(e.Key) > selectorMaxKeyLength {
			errs = append(errs, field.TooLong(p.Child("key"), "", selectorMaxKeyLength))
		}
		if n := len(e.Values); n > selectorMaxValues {
			errs = append(errs, field.TooMany(p.Child("values"), n, selectorMaxValues))
		}
		for j, v := range e.Values {
			if len(v) > selectorMaxValueLength {
				errs = append(errs, field.TooLong(p.Child("values").Index(j), "", selectorMaxValueLength))
			}
		}
	}
	labels := path.Child("matchLabels")
	if n := len(sel.MatchLabels); n > selectorMaxMatchLabels {
		errs = append(errs, field.TooMany(labels, n, selectorMaxMatchLabels))
	}
	for _, k := range slices.Sorted(maps.Keys(sel.MatchLabels)) {
		if len(sel.MatchLabels[k]) > selectorMaxValueLength {
			errs = append(errs, field.TooLong(labels.Child(k), "", selectorMaxValueLength))
		}
	}
	return errs
}

func all[T any](items []T, ok func(T) bool) bool {
	for _, it := range items {
		if !ok(it) {
			return false
		}
	}
	return true
}

// domainPattern is the domain lists' item rules: the length, then the grammar, with the
// messageExpression's words.
func domainPattern(path *field.Path, s string) *field.Error {
	if err := maxChars(path, s, domainPatternMaxLength); err != nil {
		return err
	}
	if domainPatternRE.MatchString(s) {
		return nil
	}
	if rest, ok := strings.CutPrefix(s, "@"); ok && domainPatternRE.MatchString(rest) {
		return field.Invalid(path, s, "write the domain without the @: "+rest)
	}
	return field.Invalid(path, s, domainPatternMessage)
}

// duplicates refuses repeats in a list the schema declares a set, as the API server does.
func duplicates(path *field.Path, items []string) field.ErrorList {
	var errs field.ErrorList
	seen := make(map[string]bool, len(items))
	for i, s := range items {
		if seen[s] {
			errs = append(errs, field.Duplicate(path.Index(i), s))
		}
		seen[s] = true
	}
	return errs
}

// PolicyReadyMessage is the message of a policy's Ready condition for ValidatePolicySpec's
// errors: the fields and what is wrong with them.
func PolicyReadyMessage(errs field.ErrorList) string {
	if len(errs) == 0 {
		return policyConditionMessageValid
	}
	return fmt.Sprintf(policyConditionMessageInvalidFmt, errs.ToAggregate().Error())
}
