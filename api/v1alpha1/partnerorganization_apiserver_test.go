package v1alpha1_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	b2bv1alpha1 "github.com/partnerops/partner-operator/api/v1alpha1"
	"github.com/partnerops/partner-operator/internal/testbed"
)

// TestOrganizationSchema: the API server refuses malformed PartnerOrganizations with a message
// naming the field, fills in the safe defaults, admits the sample, and keeps tenantRef fixed.
func TestOrganizationSchema(t *testing.T) {
	_, c := testbed.StartAPIServer(t, filepath.Join("..", ".."))
	ctx := t.Context()
	inbound := func(users, groups, apps []string) *b2bv1alpha1.B2BInbound {
		return &b2bv1alpha1.B2BInbound{
			UsersAndGroups: b2bv1alpha1.PartnerUsersAndGroups{Access: b2bv1alpha1.AccessAllowed, Users: users, Groups: groups},
			Applications:   b2bv1alpha1.OurApplications{Access: b2bv1alpha1.AccessAllowed, Applications: apps},
		}
	}
	all := []string{"AllApplications"}
	cases := map[string]struct {
		spec b2bv1alpha1.PartnerOrganizationSpec
		want string // "" admits
	}{
		"domains only":      {spec: b2bv1alpha1.PartnerOrganizationSpec{Domains: []string{"fabrikam.com"}}},
		"no domain":         {spec: b2bv1alpha1.PartnerOrganizationSpec{}, want: "spec.domains"},
		"an address":        {spec: b2bv1alpha1.PartnerOrganizationSpec{Domains: []string{"ada@fabrikam.com"}}, want: "must be a domain such as contoso.com"},
		"a wildcard":        {spec: b2bv1alpha1.PartnerOrganizationSpec{Domains: []string{"*.fabrikam.com"}}, want: "no wildcard"},
		"tenant ID no GUID": {spec: b2bv1alpha1.PartnerOrganizationSpec{Domains: []string{"fabrikam.com"}, TenantID: "fabrikam"}, want: "spec.tenantID"},
		"nobody to allow": {spec: b2bv1alpha1.PartnerOrganizationSpec{Domains: []string{"fabrikam.com"},
			PartnerSettings: b2bv1alpha1.PartnerSettings{B2BCollaborationInbound: inbound(nil, nil, all)}}, want: "list at least one of users"},
		"a user by name": {spec: b2bv1alpha1.PartnerOrganizationSpec{Domains: []string{"fabrikam.com"},
			PartnerSettings: b2bv1alpha1.PartnerSettings{B2BCollaborationInbound: inbound([]string{"ada"}, nil, all)}}, want: "must be AllUsers or a user's object ID"},
		"no application": {spec: b2bv1alpha1.PartnerOrganizationSpec{Domains: []string{"fabrikam.com"},
			PartnerSettings: b2bv1alpha1.PartnerSettings{B2BDirectConnectInbound: inbound([]string{"AllUsers"}, nil, nil)}}, want: "spec.b2bDirectConnectInbound.applications.applications"},
		"a GraphTenant": {spec: b2bv1alpha1.PartnerOrganizationSpec{Domains: []string{"fabrikam.com"},
			TenantRef: &b2bv1alpha1.OrganizationTenantReference{Kind: "GraphTenant", Name: "own"}}, want: "spec.tenantRef.kind"},
		"deletion policy": {spec: b2bv1alpha1.PartnerOrganizationSpec{Domains: []string{"fabrikam.com"}, DeletionPolicy: "Keep"}, want: "spec.deletionPolicy"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			obj := &b2bv1alpha1.PartnerOrganization{ObjectMeta: metav1.ObjectMeta{Name: strings.ReplaceAll(name, " ", "-")}, Spec: tc.spec}
			err := c.Create(ctx, obj)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("got %v, want a refusal saying %q", err, tc.want)
			}
		})
	}

	t.Run("the sample, its defaults, and a fixed tenantRef", func(t *testing.T) {
		raw, err := os.ReadFile(filepath.Join("..", "..", "config", "samples", "b2b_v1alpha1_partnerorganization.yaml"))
		if err != nil {
			t.Fatal(err)
		}
		obj := &b2bv1alpha1.PartnerOrganization{}
		if err := yaml.UnmarshalStrict(raw, obj); err != nil {
			t.Fatal(err)
		}
		obj.Spec.TenantRef = &b2bv1alpha1.OrganizationTenantReference{Name: "prod"}
		if err := c.Create(ctx, obj); err != nil {
			t.Fatalf("the sample: %v", err)
		}
		if obj.Spec.Adoption != b2bv1alpha1.OrganizationAdoptionDeny || obj.Spec.TenantRef.Kind != b2bv1alpha1.KindClusterGraphTenant ||
			obj.Spec.B2BCollaborationInbound.UsersAndGroups.Groups == nil {
			t.Fatalf("defaults: adoption %q, tenantRef %+v, groups %v", obj.Spec.Adoption, obj.Spec.TenantRef, obj.Spec.B2BCollaborationInbound.UsersAndGroups.Groups)
		}
		obj.Spec.TenantRef.Name = "test"
		if err := c.Update(ctx, obj); err == nil || !strings.Contains(err.Error(), "tenantRef cannot be changed") {
			t.Fatalf("moving the organization to another tenant: %v", err)
		}
	})
}
