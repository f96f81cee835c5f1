package v1alpha1_test

import (
	"path/filepath"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	b2bv1alpha1 "github.com/partnerops/partner-operator/api/v1alpha1"
	"github.com/partnerops/partner-operator/internal/testbed"
)

// TestTenantSchema: the API server refuses malformed tenant objects and references with a
// message naming the field, and fills in the defaults the docs promise.
func TestTenantSchema(t *testing.T) {
	_, c := testbed.StartAPIServer(t, filepath.Join("..", ".."))
	ctx := t.Context()
	const id, app = "72f988bf-86f1-41af-91ab-2d7cd011db47", "5d8c2f0e-3a41-4d7e-9b6a-0c1e2f3a4b5c"
	secret := b2bv1alpha1.TenantCredentials{ClientSecret: &b2bv1alpha1.SecretKeyReference{Name: "graph"}}
	cases := map[string]struct {
		spec b2bv1alpha1.GraphTenantSpec
		want string // "" admits
	}{
		"client secret":           {spec: b2bv1alpha1.GraphTenantSpec{TenantID: id, ClientID: app, Credentials: secret}},
		"managed identity, no ID": {spec: b2bv1alpha1.GraphTenantSpec{TenantID: id, Credentials: b2bv1alpha1.TenantCredentials{ManagedIdentity: &b2bv1alpha1.ManagedIdentityCredential{}}}},
		"no credential":           {spec: b2bv1alpha1.GraphTenantSpec{TenantID: id, ClientID: app}, want: "set exactly one of clientSecret, certificate, workloadIdentity and managedIdentity"},
		"two credentials": {spec: b2bv1alpha1.GraphTenantSpec{TenantID: id, ClientID: app, Credentials: b2bv1alpha1.TenantCredentials{
			ClientSecret: secret.ClientSecret, WorkloadIdentity: &b2bv1alpha1.WorkloadIdentityCredential{}}}, want: "set exactly one of"},
		"tenant ID not a GUID": {spec: b2bv1alpha1.GraphTenantSpec{TenantID: "contoso.onmicrosoft.com", ClientID: app, Credentials: secret}, want: "spec.tenantID: Invalid value"},
		"secret without app":   {spec: b2bv1alpha1.GraphTenantSpec{TenantID: id, Credentials: secret}, want: "spec.clientID: Invalid value"},
		"cloud not a name":     {spec: b2bv1alpha1.GraphTenantSpec{TenantID: id, ClientID: app, Credentials: secret, Cloud: "https://graph.example"}, want: "spec.cloud"},
		"size not a tier":      {spec: b2bv1alpha1.GraphTenantSpec{TenantID: id, ClientID: app, Credentials: secret, Size: "huge"}, want: "spec.size"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			obj := &b2bv1alpha1.ClusterGraphTenant{ObjectMeta: metav1.ObjectMeta{Name: strings.ToLower(strings.NewReplacer(" ", "-", ",", "").Replace(name))}, Spec: tc.spec}
			err := c.Create(ctx, obj)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("got %v, want a refusal saying %q", err, tc.want)
			}
		})
	}

	t.Run("defaults and an immutable tenant ID", func(t *testing.T) {
		obj := &b2bv1alpha1.GraphTenant{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "defaults"},
			Spec: b2bv1alpha1.GraphTenantSpec{TenantID: id, ClientID: app, Credentials: secret}}
		if err := c.Create(ctx, obj); err != nil {
			t.Fatal(err)
		}
		if obj.Spec.Cloud != b2bv1alpha1.CloudAzurePublic || obj.Spec.Size != "small" || obj.Spec.Credentials.ClientSecret.Key != "client-secret" {
			t.Fatalf("defaults: cloud %q, size %q, key %q", obj.Spec.Cloud, obj.Spec.Size, obj.Spec.Credentials.ClientSecret.Key)
		}
		obj.Spec.TenantID = "0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9"
		if err := c.Update(ctx, obj); err == nil || !strings.Contains(err.Error(), "tenantID is immutable") {
			t.Fatalf("changing the tenant ID: got %v", err)
		}
	})

	t.Run("tenantRef", func(t *testing.T) {
		p := &b2bv1alpha1.PartnerInvitation{ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "ref"},
			Spec: b2bv1alpha1.PartnerInvitationSpec{Email: "anna@fabrikam.example", TenantRef: &b2bv1alpha1.TenantReference{Name: "defaults"}}}
		if err := c.Create(ctx, p); err != nil {
			t.Fatal(err)
		}
		if p.Spec.TenantRef.Kind != b2bv1alpha1.KindGraphTenant {
			t.Fatalf("tenantRef.kind defaults to %q, want GraphTenant", p.Spec.TenantRef.Kind)
		}
		bad := p.DeepCopy()
		bad.ResourceVersion, bad.Name = "", "bad-ref"
		bad.Spec.TenantRef.Kind = "Issuer"
		if err := c.Create(ctx, bad); err == nil || !strings.Contains(err.Error(), "spec.tenantRef.kind") {
			t.Fatalf("kind Issuer: got %v", err)
		}
	})
}
