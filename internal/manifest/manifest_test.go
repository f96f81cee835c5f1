package manifest_test

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/utils/ptr"
	sigsyaml "sigs.k8s.io/yaml"

	b2bv1alpha1 "github.com/partnerops/partner-operator/api/v1alpha1"
	"github.com/partnerops/partner-operator/internal/manifest"
)

func TestNames(t *testing.T) {
	for _, tc := range []struct {
		emails []string
		want   []string
	}{
		{[]string{"andreas@contoso.com"}, []string{"andreas-contoso-com"}},
		{[]string{"Anna.Berg+partner@Fabrikam.example"}, []string{"anna-berg-partner-fabrikam-example"}},
		{[]string{"jürgen@müller.example"}, []string{"j-rgen-m-ller-example"}},
		{[]string{"__x__@--y--.example"}, []string{"x-y-example"}},
		// Equal but for case: one name, no suffix.
		{[]string{"Anna@Fabrikam.example", "anna@fabrikam.EXAMPLE"}, []string{"anna-fabrikam-example", "anna-fabrikam-example"}},
		// Different addresses, same plain name: both get a suffix (sha256 of the lower-cased address).
		{[]string{"a.b@c.example", "a-b@c.example", "x@y.example"}, []string{"a-b-c-example-5dae373d", "a-b-c-example-e5995012", "x-y-example"}},
		{[]string{"@@@", "ü@ö.ä"}, []string{"guest-2ec847d8", "guest-08811e47"}},
	} {
		if got := manifest.Names(tc.emails); !slices.Equal(got, tc.want) {
			t.Errorf("Names(%q) = %q, want %q", tc.emails, got, tc.want)
		}
	}
}

func TestNamesAreShortAndStable(t *testing.T) {
	long := strings.Repeat("verylonglocalpart", 5) + "@" + strings.Repeat("sub.", 20) + "example"
	got := manifest.Names([]string{long, strings.ToUpper(long)})
	if len(got[0]) > 63 || got[0] != got[1] {
		t.Errorf("Names = %q: want one name of at most 63 characters", got)
	}
	// Two long addresses that differ only past the 63rd character.
	a, b := long+"a", long+"b"
	got = manifest.Names([]string{a, b})
	if got[0] == got[1] || len(got[0]) > 63 || len(got[1]) > 63 {
		t.Errorf("Names = %q: want two different names of at most 63 characters", got)
	}
}

// FuzzNames: whatever the addresses, the names are DNS-1123 labels, equal exactly when the
// addresses are equal but for case, and do not depend on the order of the input.
func FuzzNames(f *testing.F) {
	f.Add("andreas@contoso.com", "Andreas@Contoso.com", "a.b@c.example")
	f.Add("a-b@c.example", "a.b@c.example", "a_b@c.example")
	f.Add("", "@", "ſ@x.example")
	f.Add("s@x.example", "ſ@x.example", "S@X.EXAMPLE")
	f.Fuzz(func(t *testing.T, a, b, c string) {
		in := []string{a, b, c}
		got := manifest.Names(in)
		for i, n := range got {
			if errs := validation.IsDNS1123Label(n); len(errs) > 0 {
				t.Fatalf("Names(%q)[%d] = %q: %v", in, i, n, errs)
			}
			for j := range got {
				if same := strings.EqualFold(in[i], in[j]); same != (n == got[j]) {
					t.Fatalf("Names(%q) = %q: addresses %d and %d equal but for case: %v", in, got, i, j, same)
				}
			}
		}
		if rev := manifest.Names([]string{c, b, a}); rev[0] != got[2] || rev[1] != got[1] || rev[2] != got[0] {
			t.Fatalf("Names depends on order: %q and %q", got, rev)
		}
	})
}

func invitation(name, email string) *b2bv1alpha1.PartnerInvitation {
	return &b2bv1alpha1.PartnerInvitation{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "partners"},
		Spec:       b2bv1alpha1.PartnerInvitationSpec{Email: email},
	}
}

func TestEncode(t *testing.T) {
	a := invitation("anna-fabrikam-example", "anna@fabrikam.example")
	a.Spec.SendInvitationMessage = ptr.To(false)
	a.Spec.Access = &b2bv1alpha1.PartnerAccess{}
	a.Status.State = b2bv1alpha1.StateAccepted // never written
	b := invitation("bob-contoso-example", "bob@contoso.example")
	b.Spec.RedirectURL = "https://contoso.example/?a=1&b=2"

	var buf bytes.Buffer
	if err := manifest.Encode(&buf, []*b2bv1alpha1.PartnerInvitation{a, b}); err != nil {
		t.Fatal(err)
	}
	want := `apiVersion: b2b.partnerops.io/v1alpha1
kind: PartnerInvitation
metadata:
  name: anna-fabrikam-example
  namespace: partners
spec:
  email: anna@fabrikam.example
  sendInvitationMessage: false
---
apiVersion: b2b.partnerops.io/v1alpha1
kind: PartnerInvitation
metadata:
  name: bob-contoso-example
  namespace: partners
spec:
  email: bob@contoso.example
  redirectURL: https://contoso.example/?a=1&b=2
`
	if buf.String() != want {
		t.Errorf("Encode =\n%s\nwant\n%s", buf.String(), want)
	}
	if a.APIVersion != "" || a.Status.State == "" {
		t.Error("Encode changed its input")
	}

	buf.Reset()
	if err := manifest.EncodeJSON(&buf, []*b2bv1alpha1.PartnerInvitation{b}); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{`"kind": "List"`, `"kind": "PartnerInvitation"`, `"redirectURL": "https://contoso.example/?a=1&b=2"`} {
		if !strings.Contains(buf.String(), s) {
			t.Errorf("EncodeJSON = %s, want it to contain %s", buf.String(), s)
		}
	}
}

// What Encode writes reads back as the same object, whatever the strings hold.
func TestEncodeRoundTrips(t *testing.T) {
	a := invitation("odd-x-example", "odd@x.example")
	a.Spec.DisplayName = "DEL\x7f NEL\u0085 BOM\ufeff TAB\t yes"
	a.Spec.Message = &b2bv1alpha1.InvitationMessage{Body: "line one\n  line two: 'quoted' \"too\"\n"}
	a.Spec.Access = &b2bv1alpha1.PartnerAccess{Groups: []string{"true", "0123", "null", "- dash"}}
	var buf bytes.Buffer
	if err := manifest.Encode(&buf, []*b2bv1alpha1.PartnerInvitation{a, a}); err != nil {
		t.Fatal(err)
	}
	docs := strings.Split(buf.String(), "---\n")
	if len(docs) != 2 {
		t.Fatalf("%d documents, want 2:\n%s", len(docs), buf.String())
	}
	for _, doc := range docs {
		var got b2bv1alpha1.PartnerInvitation
		if err := sigsyaml.UnmarshalStrict([]byte(doc), &got); err != nil {
			t.Fatalf("%v:\n%s", err, doc)
		}
		if !equality.Semantic.DeepEqual(got.Spec, a.Spec) || got.Name != a.Name {
			t.Errorf("read back %+v, want %+v", got.Spec, a.Spec)
		}
	}
}

func TestWriteDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "guests")
	objs := []*b2bv1alpha1.PartnerInvitation{invitation("zed-x-example", "zed@x.example"), invitation("amy-x-example", "amy@x.example")}
	if err := manifest.WriteDir(dir, objs, false); err != nil {
		t.Fatal(err)
	}
	kust, err := os.ReadFile(filepath.Join(dir, "kustomization.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	want := `apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
- amy-x-example.yaml
- zed-x-example.yaml
`
	if string(kust) != want {
		t.Errorf("kustomization.yaml =\n%s\nwant\n%s", kust, want)
	}
	amy, err := os.ReadFile(filepath.Join(dir, "amy-x-example.yaml"))
	if err != nil || !strings.Contains(string(amy), "email: amy@x.example") {
		t.Errorf("amy-x-example.yaml = %s, %v", amy, err)
	}

	// Again, with one new object: the existing files are named, nothing is written.
	objs = append(objs, invitation("new-x-example", "new@x.example"))
	err = manifest.WriteDir(dir, objs, false)
	if !errors.Is(err, fs.ErrExist) || !strings.Contains(err.Error(), "amy-x-example.yaml") || !strings.Contains(err.Error(), "kustomization.yaml") {
		t.Errorf("WriteDir over existing files = %v, want fs.ErrExist naming them", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "new-x-example.yaml")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("WriteDir wrote new-x-example.yaml although it refused: %v", err)
	}

	objs[1].Spec.DisplayName = "Amy"
	if err := manifest.WriteDir(dir, objs, true); err != nil {
		t.Fatal(err)
	}
	amy, _ = os.ReadFile(filepath.Join(dir, "amy-x-example.yaml"))
	kust, _ = os.ReadFile(filepath.Join(dir, "kustomization.yaml"))
	if !strings.Contains(string(amy), "displayName: Amy") || !strings.Contains(string(kust), "- new-x-example.yaml") {
		t.Errorf("overwrite: amy = %s, kustomization = %s", amy, kust)
	}
}

func TestWriteDirRefusesBadNames(t *testing.T) {
	dir := t.TempDir()
	for _, objs := range [][]*b2bv1alpha1.PartnerInvitation{
		{invitation("../escape", "a@x.example")},
		{invitation("", "a@x.example")},
		{invitation("kustomization", "a@x.example")},
		{invitation("same", "a@x.example"), invitation("same", "b@x.example")},
	} {
		if err := manifest.WriteDir(dir, objs, true); err == nil {
			t.Errorf("WriteDir(%s) succeeded", objs[0].Name)
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) > 0 {
		t.Errorf("WriteDir wrote %v", entries)
	}
}
