package v1alpha1

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"sigs.k8s.io/yaml"
)

// TestPolicyValidationMatchesCRD keeps ValidatePolicySpec and the PartnerAccessPolicy CRD in
// step: the CEL rules and their messages, and the bounds (the markers', and those
// hack/crdbounds writes into the selector's schema), come from the constants the Go side uses.
func TestPolicyValidationMatchesCRD(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("..", "..", "config", "crd", "bases", "b2b.partnerops.io_partneraccesspolicies.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	crd := &apiextensionsv1.CustomResourceDefinition{}
	if err := yaml.Unmarshal(raw, crd); err != nil {
		t.Fatal(err)
	}
	spec := crd.Spec.Versions[0].Schema.OpenAPIV3Schema.Properties["spec"]

	type rule struct{ Rule, Message, FieldPath string }
	rules := func(s apiextensionsv1.JSONSchemaProps) []rule {
		var out []rule
		for _, r := range s.XValidations {
			msg := r.Message
			if r.MessageExpression != "" {
				msg = r.MessageExpression
			}
			out = append(out, rule{r.Rule, msg, r.FieldPath})
		}
		return out
	}
	const exprs, labels = ".namespaceSelector.matchExpressions", ".namespaceSelector.matchLabels"
	wantSpec := []rule{
		{selectorOperatorsRule, selectorOperatorsMessage, exprs},
		{selectorValuesRule, selectorValuesMessage, exprs},
		{selectorKeysRule, selectorKeysMessage, exprs},
		{selectorValueFormatRule, selectorValueFormatMessage, exprs},
		{selectorLabelKeysRule, selectorLabelKeysMessage, labels},
		{selectorLabelValuesRule, selectorLabelValuesMessage, labels},
	}
	if diff := cmp.Diff(wantSpec, rules(spec)); diff != "" {
		t.Errorf("spec's rules (+) differ from policy_validation.go's (-):\n%s", diff)
	}
	for _, name := range []string{"allowedDomains", "deniedDomains"} {
		list := spec.Properties[name]
		if got := rules(*list.Items.Schema); !cmp.Equal(got, []rule{{domainPatternRule, domainPatternMessageExpression, ""}}) {
			t.Errorf("%s[]: rules %v", name, got)
		}
		if *list.MaxItems != domainPatternsMaxItems || *list.Items.Schema.MaxLength != domainPatternMaxLength {
			t.Errorf("%s: maxItems %d, items maxLength %d", name, *list.MaxItems, *list.Items.Schema.MaxLength)
		}
	}
	groups := spec.Properties["allowedGroups"].Items.Schema
	if *groups.MinLength != allowedGroupMinLength || *groups.MaxLength != allowedGroupMaxLength {
		t.Errorf("allowedGroups[]: minLength %d, maxLength %d", *groups.MinLength, *groups.MaxLength)
	}
	apps := spec.Properties["allowedApplications"]
	app := apps.Items.Schema.Properties["app"]
	if *apps.MaxItems != allowedApplicationsMaxItems || *app.MaxLength != guidLength ||
		!cmp.Equal(rules(app), []rule{{policyAppRule, policyAppMessage, ""}}) {
		t.Errorf("allowedApplications: maxItems %d, app maxLength %d, rules %v", *apps.MaxItems, *app.MaxLength, rules(app))
	}

	sel := spec.Properties["namespaceSelector"]
	me := sel.Properties["matchExpressions"]
	item := me.Items.Schema.Properties
	ml := sel.Properties["matchLabels"]
	got := []int64{*me.MaxItems, *item["key"].MaxLength, *item["values"].MaxItems, *item["values"].Items.Schema.MaxLength,
		*ml.MaxProperties, *ml.AdditionalProperties.Schema.MaxLength}
	want := []int64{selectorMaxExpressions, selectorMaxKeyLength, selectorMaxValues, selectorMaxValueLength, selectorMaxMatchLabels, selectorMaxValueLength}
	if !cmp.Equal(got, want) {
		t.Errorf("namespaceSelector bounds %v, want %v (hack/crdbounds writes them)", got, want)
	}
}
