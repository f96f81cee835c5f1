package conformance

import (
	"slices"
	"strings"
	"testing"

	"github.com/microsoftgraph/msgraph-sdk-go/models"
)

// The checker itself: members a model does not define are found at any depth, annotations
// are not.
func TestUndefinedMembers(t *testing.T) {
	body := `{"@odata.context":"x","id":"s","foo":1,"appRoles":[{"id":"6f1b5c3a-9d2e-4b7a-8c1d-0e2f3a4b5c6d","value":"v","bar":2}],"info":{"logoUrl":null,"baz":3}}`
	got := parseModel([]byte(body), models.CreateServicePrincipalFromDiscriminatorValue)
	var names []string
	for _, p := range got {
		names = append(names, strings.Fields(p)[1])
	}
	slices.Sort(names)
	if want := []string{"appRoles[0].bar", "foo", "info.baz"}; !slices.Equal(names, want) {
		t.Errorf("undefined members %v, want %v (%q)", names, want, got)
	}
	if got := parseModel([]byte(`{"id":"u","displayName":null,"@removed":{"reason":"deleted"},"extension_0a1b_partnerOwner":"x"}`), models.CreateUserFromDiscriminatorValue); len(got) != 0 {
		t.Errorf("a well-formed user: %v", got)
	}
}

// Every case names its source and a request; names are unique.
func TestCasesAreDocumented(t *testing.T) {
	seen := map[string]bool{}
	for _, c := range Cases {
		if seen[c.Name] {
			t.Errorf("two cases are named %q", c.Name)
		}
		seen[c.Name] = true
		if !strings.HasPrefix(c.Doc, "https://learn.microsoft.com/") || c.Method == "" || !strings.HasPrefix(c.Path, "/") || c.Want.Status == 0 {
			t.Errorf("case %q is incomplete: %+v", c.Name, c)
		}
		if c.Want.Status >= 400 && c.Want.Code == "" {
			t.Errorf("case %q is an error without a code", c.Name)
		}
	}
}

// Every token case names its source; names are unique.
func TestTokenCasesAreDocumented(t *testing.T) {
	seen := map[string]bool{}
	for _, c := range TokenCases {
		if seen[c.Name] {
			t.Errorf("two token cases are named %q", c.Name)
		}
		seen[c.Name] = true
		if !strings.HasPrefix(c.Doc, "https://learn.microsoft.com/") || c.Tenant == "" || c.Want.Status == 0 {
			t.Errorf("token case %q is incomplete: %+v", c.Name, c)
		}
		if c.Want.Status >= 400 && (c.Want.Error == "" || c.Want.AADSTS == 0) {
			t.Errorf("token case %q is an error without an OAuth error or AADSTS code", c.Name)
		}
	}
}
