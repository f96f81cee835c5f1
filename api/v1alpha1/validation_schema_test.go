package v1alpha1

import (
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"sigs.k8s.io/yaml"
)

// constraints are the validating parts of one node of the CRD's schema.
type constraints struct {
	Pattern   string
	MinLength int64
	MaxLength int64
	MaxItems  int64
	Enum      []string
	ListType  string
	Format    string
	Required  []string
	Rules     []string // x-kubernetes-validations
	Messages  []string // each rule's message, or its messageExpression
}

// TestValidationMatchesCRD keeps ValidateSpec and the markers in step: every constraint of the
// generated CRD's spec must appear here, built from the constants ValidateSpec uses. A marker
// added or changed without the Go side (or the other way round) fails.
func TestValidationMatchesCRD(t *testing.T) {
	str := func(vs ...string) []string { return vs }
	want := map[string]constraints{
		"spec": {Required: str("email")},
		"spec.email": {
			MinLength: emailMinLength, MaxLength: emailMaxLength,
			// The first is a transition rule: the API server's alone (ValidateSpec sees one object).
			Rules:    str(emailImmutableRule, addressRule),
			Messages: str("email is immutable; create a new PartnerInvitation to invite another address", addressMessageExpression),
		},
		"spec.displayName": {MaxLength: displayNameMaxLength},
		"spec.redirectURL": {
			MaxLength: redirectURLMaxLength,
			Rules:     str(redirectURLRule), Messages: str(redirectURLMessage),
		},
		"spec.userType":       {Enum: asStrings(userTypes())},
		"spec.deletionPolicy": {Enum: asStrings(deletionPolicies())},
		"spec.expiryAction":   {Enum: asStrings(expiryActions())},
		// metav1.Time only ever serialises RFC 3339.
		"spec.expiresAt":            {Format: "date-time"},
		"spec.message.body":         {MaxLength: bodyMaxLength},
		"spec.message.language":     {MaxLength: languageMaxLength, Rules: str(languageRule), Messages: str(languageMessage)},
		"spec.message.ccRecipients": {MaxItems: ccRecipientsMaxItems, ListType: "atomic"},
		"spec.message.ccRecipients[]": {
			MaxLength: emailMaxLength, Rules: str(addressRule), Messages: str(addressMessageExpression),
		},
		"spec.profile.givenName":     {MaxLength: profileNameMaxLength},
		"spec.profile.surname":       {MaxLength: profileNameMaxLength},
		"spec.profile.companyName":   {MaxLength: profileNameMaxLength},
		"spec.profile.department":    {MaxLength: profileNameMaxLength},
		"spec.profile.jobTitle":      {MaxLength: jobTitleMaxLength},
		"spec.profile.employeeType":  {MaxLength: profileNameMaxLength},
		"spec.profile.usageLocation": {Rules: str(usageLocationRule), Messages: str(usageLocationMessage)},
		"spec.sponsors":              {MaxItems: sponsorsMaxItems, ListType: "set"},
		"spec.sponsors[]":            {MaxLength: refMaxLength, Rules: str(sponsorRule), Messages: str(sponsorMessage)},
		"spec.access.groups":         {MaxItems: accessMaxItems, ListType: "set"},
		"spec.access.groups[]":       {MinLength: groupMinLength, MaxLength: refMaxLength},
		"spec.access.applications":   {MaxItems: accessMaxItems, ListType: "atomic"},
		"spec.access.applications[]": {Required: str("app")},
		"spec.access.applications[].app": {
			MaxLength: guidLength, Rules: str(appRule), Messages: str(appMessage),
		},
		"spec.access.applications[].role": {MaxLength: refMaxLength},
		"spec.tenantRef":                  {Required: str("name")},
		"spec.recertification":            {Required: str("at", "by", "reason")},
		"spec.recertification.at":         {Format: "date-time"},
		"spec.recertification.by":         {MinLength: 1, MaxLength: recertifiedByMaxLength},
		"spec.recertification.reason":     {MinLength: 1, MaxLength: recertificationReasonMaxLength},
		"spec.tenantRef.kind":             {Enum: tenantKinds()},
		"spec.tenantRef.name":             {MinLength: 1, MaxLength: objectNameMaxLength},
	}

	raw, err := os.ReadFile(filepath.Join("..", "..", "config", "crd", "bases", "b2b.partnerops.io_partnerinvitations.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	crd := &apiextensionsv1.CustomResourceDefinition{}
	if err := yaml.Unmarshal(raw, crd); err != nil {
		t.Fatal(err)
	}
	got := map[string]constraints{}
	var walk func(path string, s *apiextensionsv1.JSONSchemaProps)
	walk = func(path string, s *apiextensionsv1.JSONSchemaProps) {
		if c := constraintsOf(t, path, s); !cmp.Equal(c, constraints{}) {
			got[path] = c
		}
		for name, child := range s.Properties {
			walk(path+"."+name, &child)
		}
		if s.Items != nil && s.Items.Schema != nil {
			walk(path+"[]", s.Items.Schema)
		}
	}
	spec := crd.Spec.Versions[0].Schema.OpenAPIV3Schema.Properties["spec"]
	walk("spec", &spec)

	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("the CRD's constraints (+) differ from ValidateSpec's (-); change validation.go with the markers:\n%s", diff)
	}
}

func constraintsOf(t *testing.T, path string, s *apiextensionsv1.JSONSchemaProps) constraints {
	t.Helper()
	c := constraints{Pattern: s.Pattern, Format: s.Format, Required: s.Required}
	for _, n := range []struct {
		from *int64
		to   *int64
	}{{s.MinLength, &c.MinLength}, {s.MaxLength, &c.MaxLength}, {s.MaxItems, &c.MaxItems}} {
		if n.from != nil {
			*n.to = *n.from
		}
	}
	for _, e := range s.Enum {
		var v string
		if err := json.Unmarshal(e.Raw, &v); err != nil {
			t.Fatalf("%s: enum value %s: %v", path, e.Raw, err)
		}
		c.Enum = append(c.Enum, v)
	}
	if s.XListType != nil {
		c.ListType = *s.XListType
	}
	for _, r := range s.XValidations {
		c.Rules = append(c.Rules, r.Rule)
		msg := r.Message
		if r.MessageExpression != "" {
			msg = r.MessageExpression
		}
		c.Messages = append(c.Messages, msg)
		// A message must be words: a pattern in it reads as noise to the person refused.
		if strings.ContainsAny(r.Message, "^$[]{}\\") {
			t.Errorf("%s: the message of rule %s shows a pattern: %s", path, r.Rule, r.Message)
		}
	}
	if s.Pattern != "" {
		t.Errorf("%s has a pattern, whose message shows the regex; use a CEL rule with a message", path)
	}
	// Constraints the Go side does not mirror would slip through the comparison unnoticed.
	unmirrored := map[string]bool{
		"minimum": s.Minimum != nil, "maximum": s.Maximum != nil, "minItems": s.MinItems != nil,
		"uniqueItems": s.UniqueItems, "minProperties": s.MinProperties != nil,
		"maxProperties": s.MaxProperties != nil, "multipleOf": s.MultipleOf != nil,
		"oneOf/anyOf/allOf/not":      len(s.OneOf)+len(s.AnyOf)+len(s.AllOf) > 0 || s.Not != nil,
		"x-kubernetes-list-map-keys": len(s.XListMapKeys) > 0,
	}
	var names []string
	for name, set := range unmirrored {
		if set {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	if len(names) > 0 {
		t.Errorf("%s has %v, which ValidateSpec does not check", path, names)
	}
	return c
}

func asStrings[T ~string](vs []T) []string {
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = string(v)
	}
	return out
}
