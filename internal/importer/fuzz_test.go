package importer_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	b2bv1alpha1 "github.com/partnerops/partner-operator/api/v1alpha1"
	"github.com/partnerops/partner-operator/internal/importer"
	"github.com/partnerops/partner-operator/internal/manifest"
)

// FuzzImport: whatever the bytes, Import does not panic, and what it calls valid is valid:
// ValidateSpec accepts it, its name is a DNS-1123 label no other object has, and it encodes.
// Without -fuzz, go test runs the seed corpus: the fixtures of both formats, re-encoded.
func FuzzImport(f *testing.F) {
	files, err := filepath.Glob(filepath.Join("testdata", "*.csv"))
	if err != nil || len(files) == 0 {
		f.Fatalf("no seed files: %v", err)
	}
	for _, file := range files {
		raw, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(raw)
		f.Add(append([]byte("\uFEFF"), bytes.ReplaceAll(raw, []byte("\n"), []byte("\r\n"))...))
	}
	f.Add([]byte("version:v1.0\n[inviteeEmail],[sendEmail]\n\"a@b.example\n\",TRUE\n"))
	f.Add([]byte("Email\n\"unterminated\n"))
	f.Add([]byte("Email,InviteGroupResources\na@b.example,\"g g\"\"\"\n"))

	f.Fuzz(func(t *testing.T, in []byte) {
		res, err := importer.Import(bytes.NewReader(in), "fuzz.csv", importer.Options{Namespace: "default"})
		if err != nil {
			t.Fatalf("Import: %v", err)
		}
		names := map[string]bool{}
		valid := res.Valid()
		for _, obj := range valid {
			if errs := b2bv1alpha1.ValidateSpec(&obj.Spec, field.NewPath("spec")); len(errs) > 0 {
				t.Fatalf("valid object %s fails validation: %v", obj.Name, errs)
			}
			if errs := validation.IsDNS1123Label(obj.Name); len(errs) > 0 || names[obj.Name] {
				t.Fatalf("name %q: %v (seen before: %v)", obj.Name, errs, names[obj.Name])
			}
			names[obj.Name] = true
		}
		var out strings.Builder
		if err := manifest.Encode(&out, valid); err != nil {
			t.Fatalf("Encode: %v", err)
		}
		for _, p := range res.Problems {
			if p.Line < 1 || p.Field == "" {
				t.Fatalf("problem without a line or field: %q", p)
			}
		}
	})
}
