package importer_test

import (
	"context"
	"errors"
	"github.com/partnerops/partner-operator/internal/testbed"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/wait"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/controller-runtime/pkg/client"

	b2bv1alpha1 "github.com/partnerops/partner-operator/api/v1alpha1"
	"github.com/partnerops/partner-operator/internal/importer"
)

// The API server, with the CRDs and the admission policy users install, judges the rows that
// pass the importer's own checks: policy refusals and names already taken come back as
// problems of their rows, and nothing is created.
func TestCheckWithServer(t *testing.T) {
	ctx := t.Context()
	c := startAPIServer(t)
	applyFile(ctx, t, c, filepath.Join("..", "..", "config", "policy", "admission_policy.yaml"))
	pol := &b2bv1alpha1.PartnerAccessPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: "fabrikam-only"},
		Spec: b2bv1alpha1.PartnerAccessPolicySpec{
			AllowedDomains:      []string{"fabrikam.example"},
			AllowedGroups:       []string{"*"},
			AllowedApplications: []b2bv1alpha1.ApplicationRule{{App: "*"}},
			AllowCustomMessage:  true,
		},
	}
	if err := c.Create(ctx, pol); err != nil {
		t.Fatal(err)
	}
	// The policy takes effect once the API server has compiled it and seen its parameter.
	probe := &b2bv1alpha1.PartnerInvitation{
		ObjectMeta: metav1.ObjectMeta{Name: "probe", Namespace: "default"},
		Spec:       b2bv1alpha1.PartnerInvitationSpec{Email: "probe@contoso.example"},
	}
	if err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		return apierrors.IsForbidden(c.Create(ctx, probe.DeepCopy(), client.DryRunAll)), nil
	}); err != nil {
		t.Fatalf("the admission policy never refused a denied domain: %v", err)
	}
	taken := &b2bv1alpha1.PartnerInvitation{
		ObjectMeta: metav1.ObjectMeta{Name: "bob-fabrikam-example", Namespace: "default"},
		Spec:       b2bv1alpha1.PartnerInvitationSpec{Email: "bob@fabrikam.example"},
	}
	if err := c.Create(ctx, taken); err != nil {
		t.Fatal(err)
	}

	res, err := importer.Import(strings.NewReader(
		"Email,DisplayName,InviteContactUsUrl\n"+
			"anna@fabrikam.example,Anna,https://fabrikam.example/contact\n"+
			"andreas@contoso.com,Andreas,\n"+
			"bob@fabrikam.example,Bob,\n"),
		"in.csv", importer.Options{Namespace: "default"})
	if err != nil {
		t.Fatal(err)
	}
	// A row the importer would have refused, to see the schema's answer reach its line.
	res.Invitations = append(res.Invitations, importer.Invitation{Line: 9, Object: &b2bv1alpha1.PartnerInvitation{
		ObjectMeta: metav1.ObjectMeta{Name: "carl-fabrikam-example", Namespace: "default"},
		Spec:       b2bv1alpha1.PartnerInvitationSpec{Email: "carl@fabrikam.example", RedirectURL: "http://fabrikam.example"},
	}})
	if err := res.CheckWithServer(ctx, c); err != nil {
		t.Fatal(err)
	}

	want := []struct{ prefix, contains string }{
		{"in.csv:3: server: ", "PartnerAccessPolicy fabrikam-only: rule allowedDomains: @contoso.com is not an allowed domain"},
		{"in.csv:4: server: ", `"bob-fabrikam-example" already exists`},
		{"in.csv:9: spec.redirectURL: ", "redirectURL must be an https:// URL"},
	}
	for _, p := range res.Problems {
		t.Log(p)
	}
	if len(res.Problems) != len(want) {
		t.Fatalf("problems:\n%v\nwant %d", res.Problems, len(want))
	}
	for i, w := range want {
		if p := res.Problems[i].String(); !strings.HasPrefix(p, w.prefix) || !strings.Contains(p, w.contains) {
			t.Errorf("problem %q, want %s...%s", p, w.prefix, w.contains)
		}
	}
	if v := res.Valid(); len(v) != 1 || v[0].Name != "anna-fabrikam-example" {
		t.Errorf("valid = %v, want anna only", v)
	}
	var list b2bv1alpha1.PartnerInvitationList
	if err := c.List(ctx, &list); err != nil {
		t.Fatal(err)
	}
	if len(list.Items) != 1 {
		t.Errorf("%d objects in the cluster, want only the one the test made: a dry run created something", len(list.Items))
	}
}

// startAPIServer starts kube-apiserver and etcd with this repository's CRDs.
func startAPIServer(t *testing.T) client.Client {
	t.Helper()
	_, c := testbed.StartAPIServer(t, filepath.Join("..", ".."))
	return c
}

func applyFile(ctx context.Context, t *testing.T, c client.Client, path string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	dec := utilyaml.NewYAMLOrJSONDecoder(f, 4096)
	for {
		obj := &unstructured.Unstructured{}
		if err := dec.Decode(&obj.Object); err != nil {
			if errors.Is(err, io.EOF) {
				return
			}
			t.Fatal(err)
		}
		if len(obj.Object) == 0 {
			continue
		}
		if err := c.Create(ctx, obj); err != nil {
			t.Fatalf("create %s %s: %v", obj.GetKind(), obj.GetName(), err)
		}
	}
}
