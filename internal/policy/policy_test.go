package policy

import (
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	b2bv1alpha1 "github.com/partnerops/partner-operator/api/v1alpha1"
)

func TestDomainMatches(t *testing.T) {
	cases := []struct {
		pattern, domain string
		want            bool
	}{
		{"*", "contoso.com", true},
		{"contoso.com", "contoso.com", true},
		{"Contoso.COM", "contoso.com", true},
		{"contoso.com", "eu.contoso.com", false},
		{"*.contoso.com", "eu.contoso.com", true},
		{"*.contoso.com", "contoso.com", false},
		{"*.contoso.com", "notcontoso.com", false},
		{"gmail.com", "googlemail.com", false},
	}
	for _, c := range cases {
		if got := DomainMatches(c.pattern, c.domain); got != c.want {
			t.Errorf("DomainMatches(%q, %q) = %v, want %v", c.pattern, c.domain, got, c.want)
		}
	}
}

func int32p(v int32) *int32 { return &v }

func TestInvitation(t *testing.T) {
	strict := b2bv1alpha1.PartnerAccessPolicy{ObjectMeta: metav1.ObjectMeta{Name: "partners"}, Spec: b2bv1alpha1.PartnerAccessPolicySpec{
		AllowedDomains:             []string{"*.contoso.com", "fabrikam.com"},
		DeniedDomains:              []string{"gmail.com", "outlook.com", "bad.contoso.com"},
		MaxInvitationsPerNamespace: int32p(2),
	}}
	pinv := func(email string, mutate ...func(*b2bv1alpha1.PartnerInvitation)) *b2bv1alpha1.PartnerInvitation {
		p := &b2bv1alpha1.PartnerInvitation{Spec: b2bv1alpha1.PartnerInvitationSpec{Email: email}}
		for _, m := range mutate {
			m(p)
		}
		return p
	}
	cases := map[string]struct {
		policies []*b2bv1alpha1.PartnerAccessPolicy
		posture  Posture
		pinv     *b2bv1alpha1.PartnerInvitation
		index    int
		wantRule string
	}{
		"AllowedDomain":           {policies: []*b2bv1alpha1.PartnerAccessPolicy{&strict}, pinv: pinv("a@fabrikam.com")},
		"AllowedSubdomain":        {policies: []*b2bv1alpha1.PartnerAccessPolicy{&strict}, pinv: pinv("a@eu.contoso.com")},
		"DeniedWinsOverAllowed":   {policies: []*b2bv1alpha1.PartnerAccessPolicy{&strict}, pinv: pinv("a@bad.contoso.com"), wantRule: "deniedDomains"},
		"ConsumerDomainDenied":    {policies: []*b2bv1alpha1.PartnerAccessPolicy{&strict}, pinv: pinv("a@GMAIL.com"), wantRule: "deniedDomains"},
		"DomainNotAllowed":        {policies: []*b2bv1alpha1.PartnerAccessPolicy{&strict}, pinv: pinv("a@tailspin.com"), wantRule: "allowedDomains"},
		"MemberNotAllowed":        {policies: []*b2bv1alpha1.PartnerAccessPolicy{&strict}, pinv: pinv("a@fabrikam.com", func(p *b2bv1alpha1.PartnerInvitation) { p.Spec.UserType = b2bv1alpha1.UserTypeMember }), wantRule: "allowMemberUserType"},
		"CustomMessageNotAllowed": {policies: []*b2bv1alpha1.PartnerAccessPolicy{&strict}, pinv: pinv("a@fabrikam.com", func(p *b2bv1alpha1.PartnerInvitation) { p.Spec.Message = &b2bv1alpha1.InvitationMessage{Body: "hi"} }), wantRule: "allowCustomMessage"},
		"LanguageOnlyIsNoCustomMessage": {policies: []*b2bv1alpha1.PartnerAccessPolicy{&strict}, pinv: pinv("a@fabrikam.com", func(p *b2bv1alpha1.PartnerInvitation) {
			p.Spec.Message = &b2bv1alpha1.InvitationMessage{Language: "de-DE"}
		})},
		"CountWithinCap":         {policies: []*b2bv1alpha1.PartnerAccessPolicy{&strict}, pinv: pinv("a@fabrikam.com"), index: 1},
		"CountBeyondCap":         {policies: []*b2bv1alpha1.PartnerAccessPolicy{&strict}, pinv: pinv("a@fabrikam.com"), index: 2, wantRule: "maxInvitationsPerNamespace"},
		"NoPolicyAllowByDefault": {posture: AllowUnselected, pinv: pinv("a@gmail.com")},
		"NoPolicyDenyByDefault":  {posture: DenyUnselected, pinv: pinv("a@fabrikam.com"), wantRule: "no PartnerAccessPolicy selects"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			v := Invitation(c.policies, c.posture, "team-a", c.pinv, c.index)
			switch {
			case c.wantRule == "" && v != nil:
				t.Errorf("want allowed, got %s", v)
			case c.wantRule != "" && (v == nil || !strings.Contains(v.String(), c.wantRule)):
				t.Errorf("want a violation of %s, got %v", c.wantRule, v)
			case v != nil && v.Policy != "" && !strings.Contains(v.String(), "PartnerAccessPolicy partners"):
				t.Errorf("violation must name the policy: %s", v)
			}
		})
	}
}

func TestGrants(t *testing.T) {
	p := &b2bv1alpha1.PartnerAccessPolicy{ObjectMeta: metav1.ObjectMeta{Name: "apps"}, Spec: b2bv1alpha1.PartnerAccessPolicySpec{
		AllowedGroups: []string{"Partners", "22222222-2222-2222-2222-222222222222"},
		AllowedApplications: []b2bv1alpha1.ApplicationRule{
			{App: "cd3ed3de-93ee-400b-8b19-b61ef44a0f29", Roles: []string{"Partner.Read"}},
			{App: "44444444-4444-4444-4444-444444444444"},
		},
	}}
	sel := []*b2bv1alpha1.PartnerAccessPolicy{p}
	if v := Group(sel, "partners", "g1"); v != nil {
		t.Errorf("group by name (case-insensitive): %s", v)
	}
	if v := Group(sel, "Partner Portal", "22222222-2222-2222-2222-222222222222"); v != nil {
		t.Errorf("group whose resolved ID is allowed: %s", v)
	}
	if v := Group(sel, "Domain Admins", "g9"); v == nil || v.Rule != "allowedGroups" {
		t.Errorf("want allowedGroups violation, got %v", v)
	}
	if v := Application(sel, "cd3ed3de-93ee-400b-8b19-b61ef44a0f29", "Partner.Read"); v != nil {
		t.Errorf("allowed role: %s", v)
	}
	if v := Application(sel, "cd3ed3de-93ee-400b-8b19-b61ef44a0f29", "Admin"); v == nil || v.Rule != "allowedApplications" {
		t.Errorf("want a violation for role Admin, got %v", v)
	}
	if v := Application(sel, "cd3ed3de-93ee-400b-8b19-b61ef44a0f29", ""); v == nil {
		t.Error("default access is not among the listed roles")
	}
	if v := Application(sel, "44444444-4444-4444-4444-444444444444", "Anything"); v != nil {
		t.Errorf("rule without roles allows any role: %s", v)
	}
	if v := Application(sel, "55555555-5555-5555-5555-555555555555", ""); v == nil {
		t.Error("unlisted application must be denied")
	}
}

func TestSelecting(t *testing.T) {
	policies := []b2bv1alpha1.PartnerAccessPolicy{
		{ObjectMeta: metav1.ObjectMeta{Name: "all"}},
		{ObjectMeta: metav1.ObjectMeta{Name: "partners"}, Spec: b2bv1alpha1.PartnerAccessPolicySpec{NamespaceSelector: metav1.LabelSelector{MatchLabels: map[string]string{"tier": "partner"}}}},
		{ObjectMeta: metav1.ObjectMeta{Name: "not-prod"}, Spec: b2bv1alpha1.PartnerAccessPolicySpec{NamespaceSelector: metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "env", Operator: metav1.LabelSelectorOpNotIn, Values: []string{"prod"}}}}}},
	}
	got, invalid := Selecting(policies, map[string]string{"tier": "partner", "env": "prod"})
	if len(invalid) != 0 {
		t.Fatal(invalid)
	}
	var names []string
	for _, p := range got {
		names = append(names, p.Name)
	}
	if strings.Join(names, ",") != "all,partners" {
		t.Errorf("selected %v, want [all partners]", names)
	}
}

// An invalid policy affects only itself: the valid ones still select, and it is reported
// apart, never taken as selecting every namespace nor as an error for all.
func TestSelectingSetsInvalidPoliciesApart(t *testing.T) {
	sel := func(r ...metav1.LabelSelectorRequirement) metav1.LabelSelector {
		return metav1.LabelSelector{MatchExpressions: r}
	}
	policies := []b2bv1alpha1.PartnerAccessPolicy{
		{ObjectMeta: metav1.ObjectMeta{Name: "bad-operator"}, Spec: b2bv1alpha1.PartnerAccessPolicySpec{
			NamespaceSelector: sel(metav1.LabelSelectorRequirement{Key: "tier", Operator: "Equals", Values: []string{"partner"}})}},
		{ObjectMeta: metav1.ObjectMeta{Name: "bad-key"}, Spec: b2bv1alpha1.PartnerAccessPolicySpec{
			NamespaceSelector: sel(metav1.LabelSelectorRequirement{Key: "bad key", Operator: metav1.LabelSelectorOpDoesNotExist})}},
		{ObjectMeta: metav1.ObjectMeta{Name: "typo"}, Spec: b2bv1alpha1.PartnerAccessPolicySpec{AllowedDomains: []string{"@contoso.com"}}},
		{ObjectMeta: metav1.ObjectMeta{Name: "partners"}, Spec: b2bv1alpha1.PartnerAccessPolicySpec{
			NamespaceSelector: metav1.LabelSelector{MatchLabels: map[string]string{"tier": "partner"}}}},
	}
	for _, tc := range []struct {
		labels map[string]string
		want   string
	}{
		{map[string]string{"tier": "partner"}, "partners"},
		{map[string]string{"tier": "internal"}, ""},
		{nil, ""},
	} {
		got, invalid := Selecting(policies, tc.labels)
		var names []string
		for _, p := range got {
			names = append(names, p.Name)
		}
		if strings.Join(names, ",") != tc.want {
			t.Errorf("labels %v: selected %v, want [%s]", tc.labels, names, tc.want)
		}
		var bad []string
		for _, p := range invalid {
			bad = append(bad, p.Name)
			if len(p.Errors) == 0 || !strings.Contains(p.String(), "spec.") {
				t.Errorf("%s: %q names no field", p.Name, p)
			}
		}
		if strings.Join(bad, ",") != "bad-operator,bad-key,typo" {
			t.Errorf("invalid = %v", bad)
		}
		// Under the default posture a namespace that only an invalid policy would select is
		// denied: ignoring the policy does not open it.
		inv := &b2bv1alpha1.PartnerInvitation{Spec: b2bv1alpha1.PartnerInvitationSpec{Email: "anna@contoso.com"}}
		if v := Invitation(got, DenyUnselected, "team-a", inv, 0); tc.want == "" && v == nil {
			t.Errorf("labels %v: admitted under DenyUnselected", tc.labels)
		}
	}
}

func TestAdoptionAndPromotionAreGrantedNeverAssumed(t *testing.T) {
	pol := func(name string, mode b2bv1alpha1.AdoptionMode, promote bool) *b2bv1alpha1.PartnerAccessPolicy {
		return &b2bv1alpha1.PartnerAccessPolicy{ObjectMeta: metav1.ObjectMeta{Name: name},
			Spec: b2bv1alpha1.PartnerAccessPolicySpec{Adoption: mode, AllowPromotion: promote}}
	}
	cases := []struct {
		name      string
		selecting []*b2bv1alpha1.PartnerAccessPolicy
		adoption  b2bv1alpha1.AdoptionMode
		promote   bool
	}{
		{"no policy", nil, b2bv1alpha1.AdoptionDeny, false},
		{"default mode", []*b2bv1alpha1.PartnerAccessPolicy{pol("a", "", true)}, b2bv1alpha1.AdoptionDeny, true},
		{"adopt", []*b2bv1alpha1.PartnerAccessPolicy{pol("a", b2bv1alpha1.AdoptionAdopt, false)}, b2bv1alpha1.AdoptionAdopt, false},
		{"the stricter policy wins", []*b2bv1alpha1.PartnerAccessPolicy{
			pol("a", b2bv1alpha1.AdoptionAdoptAndDelete, true), pol("b", b2bv1alpha1.AdoptionAdopt, false)}, b2bv1alpha1.AdoptionAdopt, false},
		{"all allow", []*b2bv1alpha1.PartnerAccessPolicy{
			pol("a", b2bv1alpha1.AdoptionAdoptAndDelete, true), pol("b", b2bv1alpha1.AdoptionAdoptAndDelete, true)}, b2bv1alpha1.AdoptionAdoptAndDelete, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := Adoption(tc.selecting); got != tc.adoption {
				t.Errorf("Adoption = %s, want %s", got, tc.adoption)
			}
			if got := Promotion(tc.selecting, "team-a") == nil; got != tc.promote {
				t.Errorf("promotion allowed = %v, want %v", got, tc.promote)
			}
			if tc.adoption == b2bv1alpha1.AdoptionDeny && AdoptionDenied(tc.selecting, "team-a").String() == "" {
				t.Error("a refused adoption must say why")
			}
		})
	}
}

func TestTenantsAreAllowedByName(t *testing.T) {
	onlyA := &b2bv1alpha1.PartnerAccessPolicy{ObjectMeta: metav1.ObjectMeta{Name: "only-a"}, Spec: b2bv1alpha1.PartnerAccessPolicySpec{
		AllowedTenants: []b2bv1alpha1.TenantRule{{Kind: b2bv1alpha1.KindClusterGraphTenant, Name: "a"}},
		DefaultTenant:  b2bv1alpha1.DefaultTenantDeny,
	}}
	anyOwn := &b2bv1alpha1.PartnerAccessPolicy{ObjectMeta: metav1.ObjectMeta{Name: "own"}, Spec: b2bv1alpha1.PartnerAccessPolicySpec{
		AllowedTenants: []b2bv1alpha1.TenantRule{{Kind: b2bv1alpha1.KindGraphTenant, Name: "*"}},
	}}
	ref := func(kind, name string) *b2bv1alpha1.PartnerInvitation {
		p := &b2bv1alpha1.PartnerInvitation{Spec: b2bv1alpha1.PartnerInvitationSpec{Email: "a@fabrikam.com"}}
		if name != "" {
			p.Spec.TenantRef = &b2bv1alpha1.TenantReference{Kind: kind, Name: name}
		}
		return p
	}
	cases := map[string]struct {
		policy   *b2bv1alpha1.PartnerAccessPolicy
		pinv     *b2bv1alpha1.PartnerInvitation
		wantRule string
	}{
		"ListedClusterTenant":      {policy: onlyA, pinv: ref(b2bv1alpha1.KindClusterGraphTenant, "a")},
		"OtherClusterTenant":       {policy: onlyA, pinv: ref(b2bv1alpha1.KindClusterGraphTenant, "b"), wantRule: "allowedTenants"},
		"SameNameOtherKind":        {policy: onlyA, pinv: ref(b2bv1alpha1.KindGraphTenant, "a"), wantRule: "allowedTenants"},
		"DefaultTenantDenied":      {policy: onlyA, pinv: ref("", ""), wantRule: "defaultTenant"},
		"DefaultTenantByDefault":   {policy: anyOwn, pinv: ref("", "")},
		"AnyOwnTenant":             {policy: anyOwn, pinv: ref(b2bv1alpha1.KindGraphTenant, "mine")},
		"KindDefaultsToNamespaced": {policy: anyOwn, pinv: ref("", "mine")},
		"NoListNoTenantObjects":    {policy: &b2bv1alpha1.PartnerAccessPolicy{ObjectMeta: metav1.ObjectMeta{Name: "plain"}}, pinv: ref(b2bv1alpha1.KindClusterGraphTenant, "a"), wantRule: "allowedTenants"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			v := Invitation([]*b2bv1alpha1.PartnerAccessPolicy{c.policy}, DenyUnselected, "team-a", c.pinv, 0)
			switch {
			case c.wantRule == "" && v != nil:
				t.Errorf("want allowed, got %s", v)
			case c.wantRule != "" && (v == nil || v.Rule != c.wantRule):
				t.Errorf("want a violation of %s, got %v", c.wantRule, v)
			}
		})
	}
}
