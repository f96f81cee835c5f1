package tenant

import (
	"context"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	b2bv1alpha1 "github.com/partnerops/partner-operator/api/v1alpha1"
)

const tenantID = "72f988bf-86f1-41af-91ab-2d7cd011db47"

func secret(ns, name, key, value string) *corev1.Secret {
	return &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Data: map[string][]byte{key: []byte(value)}}
}

func newReader(t *testing.T, objs ...*corev1.Secret) *fake.ClientBuilder {
	t.Helper()
	s := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(s); err != nil {
		t.Fatal(err)
	}
	b := fake.NewClientBuilder().WithScheme(s)
	for _, o := range objs {
		b = b.WithObjects(o)
	}
	return b
}

func withSecret(name string) b2bv1alpha1.GraphTenantSpec {
	return b2bv1alpha1.GraphTenantSpec{TenantID: tenantID, ClientID: "00000000-0000-4000-8000-000000000001",
		Credentials: b2bv1alpha1.TenantCredentials{ClientSecret: &b2bv1alpha1.SecretKeyReference{Name: name}}}
}

func TestRefOfKeepsGraphTenantsInTheInvitationsNamespace(t *testing.T) {
	p := &b2bv1alpha1.PartnerInvitation{ObjectMeta: metav1.ObjectMeta{Namespace: "team-a"}}
	if r := RefOf(p); !r.IsDefault() || r.Key() != "" {
		t.Fatalf("no tenantRef: got %+v, want the default tenant", r)
	}
	p.Spec.TenantRef = &b2bv1alpha1.TenantReference{Name: "contoso"}
	if r := RefOf(p); r != (Ref{Kind: b2bv1alpha1.KindGraphTenant, Namespace: "team-a", Name: "contoso"}) {
		t.Fatalf("kind left out: got %+v, want the GraphTenant of team-a", r)
	}
	p.Spec.TenantRef.Kind = b2bv1alpha1.KindClusterGraphTenant
	if r := RefOf(p); r.Namespace != "" || r.String() != "ClusterGraphTenant contoso" {
		t.Fatalf("cluster kind: got %+v (%s)", r, r)
	}
}

func TestReadCredentialsReadsOnlyFromTheTenantsOwnNamespace(t *testing.T) {
	opts := Options{Clouds: mustClouds(t, nil), OperatorNamespace: "partner-operator-system"}
	c := newReader(t,
		secret("team-a", "graph", "client-secret", "a-secret"),
		secret("team-b", "other", "client-secret", "b-secret"),
		secret("partner-operator-system", "graph", "client-secret", "cluster-secret")).Build()
	ctx := context.Background()

	own := &b2bv1alpha1.GraphTenant{ObjectMeta: metav1.ObjectMeta{Namespace: "team-a", Name: "t"}, Spec: withSecret("graph")}
	creds, err := ReadCredentials(ctx, c, own, opts)
	if err != nil || creds.Secret != "a-secret" || creds.Kind != CredentialClientSecret {
		t.Fatalf("own namespace: got %+v, %v", creds, err)
	}
	// team-b's Secret has no name team-a could write that reaches it.
	other := &b2bv1alpha1.GraphTenant{ObjectMeta: metav1.ObjectMeta{Namespace: "team-a", Name: "t"}, Spec: withSecret("other")}
	_, err = ReadCredentials(ctx, c, other, opts)
	if p, ok := IsProblem(err); !ok || p.Reason != b2bv1alpha1.ReasonSecretNotFound || !strings.Contains(p.Message, "team-a/other") {
		t.Fatalf("another namespace's Secret name: got %v, want SecretNotFound in team-a", err)
	}
	cluster := &b2bv1alpha1.ClusterGraphTenant{ObjectMeta: metav1.ObjectMeta{Name: "t"}, Spec: withSecret("graph")}
	if creds, err := ReadCredentials(ctx, c, cluster, opts); err != nil || creds.Secret != "cluster-secret" {
		t.Fatalf("ClusterGraphTenant: got %+v, %v, want the operator namespace's Secret", creds, err)
	}
	if creds.Endpoints.GraphEndpoint != "https://graph.microsoft.com" || creds.Endpoints.Scope() != "https://graph.microsoft.com/.default" {
		t.Fatalf("the default cloud is Microsoft's public one: %+v", creds.Endpoints)
	}
}

func TestReadCredentialsRefusesAmbientIdentityToNamespacedTenants(t *testing.T) {
	c := newReader(t).Build()
	spec := b2bv1alpha1.GraphTenantSpec{TenantID: tenantID, ClientID: "00000000-0000-4000-8000-000000000001",
		Credentials: b2bv1alpha1.TenantCredentials{WorkloadIdentity: &b2bv1alpha1.WorkloadIdentityCredential{TokenFile: "/var/run/token"}}}
	namespaced := &b2bv1alpha1.GraphTenant{ObjectMeta: metav1.ObjectMeta{Namespace: "team-a", Name: "t"}, Spec: spec}
	opts := Options{Clouds: mustClouds(t, nil)}
	if _, err := ReadCredentials(context.Background(), c, namespaced, opts); err == nil {
		t.Fatal("a GraphTenant signed in as the operator's own workload identity")
	} else if p, ok := IsProblem(err); !ok || p.Reason != b2bv1alpha1.ReasonAmbientNotAllowed {
		t.Fatalf("got %v, want AmbientCredentialsNotAllowed", err)
	}
	opts.NamespacedAmbient = true
	if creds, err := ReadCredentials(context.Background(), c, namespaced, opts); err != nil || creds.TokenFile != "/var/run/token" {
		t.Fatalf("allowed by the cluster owner: got %+v, %v", creds, err)
	}
	cluster := &b2bv1alpha1.ClusterGraphTenant{ObjectMeta: metav1.ObjectMeta{Name: "t"}, Spec: spec}
	if _, err := ReadCredentials(context.Background(), c, cluster, Options{Clouds: mustClouds(t, nil)}); err != nil {
		t.Fatalf("a ClusterGraphTenant may use the operator's identity: %v", err)
	}
}

func TestCloudsAreTheClusterOwnersChoice(t *testing.T) {
	c := newReader(t, secret("team-a", "graph", "client-secret", "s")).Build()
	obj := &b2bv1alpha1.GraphTenant{ObjectMeta: metav1.ObjectMeta{Namespace: "team-a", Name: "t"}, Spec: withSecret("graph")}
	obj.Spec.Cloud = "Private"
	_, err := ReadCredentials(context.Background(), c, obj, Options{Clouds: mustClouds(t, nil)})
	if p, ok := IsProblem(err); !ok || p.Reason != b2bv1alpha1.ReasonUnknownCloud || !strings.Contains(p.Message, "AzureUSGovernment") {
		t.Fatalf("unknown cloud: got %v", err)
	}
	name, e, err := ParseCloud("Private=https://login.private.example/,https://graph.private.example,/etc/ca.pem")
	if err != nil || name != "Private" || e.CAFile != "/etc/ca.pem" {
		t.Fatalf("ParseCloud: %v %+v %v", name, e, err)
	}
	creds, err := ReadCredentials(context.Background(), c, obj, Options{Clouds: mustClouds(t, map[b2bv1alpha1.Cloud]Endpoints{name: e})})
	if err != nil || creds.Endpoints.GraphEndpoint != "https://graph.private.example" {
		t.Fatalf("registered cloud: %+v %v", creds, err)
	}
	if _, err := NewClouds(map[b2bv1alpha1.Cloud]Endpoints{b2bv1alpha1.CloudAzurePublic: e}); err == nil {
		t.Fatal("--cloud redefined AzurePublic")
	}
	for _, bad := range []string{"Private", "Private=https://login.example/", "=a,b", "P=a,b,c,d"} {
		if _, _, err := ParseCloud(bad); err == nil {
			t.Errorf("ParseCloud(%q) accepted", bad)
		}
	}
}

func TestFingerprintFollowsTheSecret(t *testing.T) {
	obj := &b2bv1alpha1.GraphTenant{ObjectMeta: metav1.ObjectMeta{Namespace: "team-a", Name: "t"}, Spec: withSecret("graph")}
	opts := Options{Clouds: mustClouds(t, nil)}
	first, err := ReadCredentials(context.Background(), newReader(t, secret("team-a", "graph", "client-secret", "one")).Build(), obj, opts)
	if err != nil {
		t.Fatal(err)
	}
	again, _ := ReadCredentials(context.Background(), newReader(t, secret("team-a", "graph", "client-secret", "one")).Build(), obj, opts)
	rotated, _ := ReadCredentials(context.Background(), newReader(t, secret("team-a", "graph", "client-secret", "two")).Build(), obj, opts)
	if first.Fingerprint != again.Fingerprint || first.Fingerprint == rotated.Fingerprint {
		t.Fatalf("fingerprints: same secret %v, rotated %v", first.Fingerprint == again.Fingerprint, first.Fingerprint != rotated.Fingerprint)
	}
	if strings.Contains(first.Fingerprint, "one") {
		t.Fatal("the fingerprint holds the secret")
	}
}

func TestMissingPermissionsPerFeature(t *testing.T) {
	plain := b2bv1alpha1.PartnerInvitation{Spec: b2bv1alpha1.PartnerInvitationSpec{DeletionPolicy: b2bv1alpha1.DeletionPolicyOrphan}}
	groups := plain
	groups.Spec.Access = &b2bv1alpha1.PartnerAccess{Groups: []string{"Partners"}}
	roles := []string{"User.Invite.All", "User.ReadWrite.All", "Organization.Read.All"}

	if m := MissingPermissions(roles, []b2bv1alpha1.PartnerInvitation{plain}, false, false); len(m) != 0 {
		t.Fatalf("User.ReadWrite.All covers User.Read.All, and nothing else is used: %+v", m)
	}
	m := MissingPermissions(roles, []b2bv1alpha1.PartnerInvitation{plain, groups}, false, false)
	if len(m) != 1 || m[0].Feature != "group access" || m[0].Permissions[0] != "GroupMember.ReadWrite.All" {
		t.Fatalf("group access: %+v", m)
	}
	if msg := Describe(m); !strings.Contains(msg, "group access needs GroupMember.ReadWrite.All") {
		t.Fatalf("message: %s", msg)
	}
	deleting := plain
	deleting.Spec.DeletionPolicy = b2bv1alpha1.DeletionPolicyDelete
	if m := MissingPermissions([]string{"User.Invite.All", "User.Read.All"}, []b2bv1alpha1.PartnerInvitation{deleting}, false, true); len(m) != 3 {
		t.Fatalf("tenant status, deletion and ownership records each lack one: %+v", m)
	}
	m = MissingPermissions(append(roles, "GroupMember.ReadWrite.All", "CrossTenantInformation.ReadBasic.All"), []b2bv1alpha1.PartnerInvitation{plain}, true, false)
	if len(m) != 1 || m[0].Feature != "partner organizations" || len(m[0].Permissions) != 1 || m[0].Permissions[0] != "Policy.ReadWrite.CrossTenantAccess" {
		t.Fatalf("a tenant organizations are configured in: %+v", m)
	}
}

func mustClouds(t *testing.T, extra map[b2bv1alpha1.Cloud]Endpoints) Clouds {
	t.Helper()
	c, err := NewClouds(extra)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestParseClouds(t *testing.T) {
	c, err := ParseClouds([]string{"Private=https://login.private.example/,https://graph.private.example"})
	if err != nil || c["Private"].GraphEndpoint != "https://graph.private.example" || c[b2bv1alpha1.CloudAzureChina].GraphEndpoint == "" {
		t.Fatalf("ParseClouds: %v, %v", c, err)
	}
	if _, err := ParseClouds([]string{"AzurePublic=https://a/,https://b"}); err == nil {
		t.Fatal("a --cloud redefined AzurePublic")
	}
}
