package importer_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"sigs.k8s.io/yaml"

	b2bv1alpha1 "github.com/partnerops/partner-operator/api/v1alpha1"
	"github.com/partnerops/partner-operator/internal/importer"
)

// The sample PartnerInvitation is the seed's row as the importer maps it: the same name and
// spec. Were they to differ, applying the sample and the imported row would make two objects
// for one address, and the second would be refused its claim (a Conflict).
func TestSampleIsTheImportedSeedRow(t *testing.T) {
	samplePath := filepath.Join("..", "..", "config", "samples", "b2b_v1alpha1_partnerinvitation.yaml")
	raw, err := os.ReadFile(samplePath)
	if err != nil {
		t.Fatal(err)
	}
	var sample b2bv1alpha1.PartnerInvitation
	if err := yaml.UnmarshalStrict(raw, &sample); err != nil {
		t.Fatalf("%s: %v", samplePath, err)
	}
	seedPath := filepath.Join("testdata", "seed-2016.csv")
	seed, err := os.ReadFile(seedPath)
	if err != nil {
		t.Fatal(err)
	}
	// The sample quotes the seed's header and row: the same ones.
	for _, line := range strings.Split(strings.TrimSpace(string(seed)), "\n") {
		if !strings.Contains(string(raw), "#   "+strings.TrimSpace(line)+"\n") {
			t.Errorf("%s does not quote the seed's line %q", samplePath, line)
		}
	}

	res := importFile(t, seedPath, importer.Options{Namespace: sample.Namespace})
	if len(res.Problems) > 0 || len(res.Valid()) != 1 {
		t.Fatalf("the seed imports as %d objects, problems %v", len(res.Valid()), res.Problems)
	}
	got := res.Valid()[0]
	if got.Name != sample.Name || got.Namespace != sample.Namespace {
		t.Errorf("the importer names the seed's row %s/%s, the sample %s/%s", got.Namespace, got.Name, sample.Namespace, sample.Name)
	}
	if sample.APIVersion != b2bv1alpha1.GroupVersion.String() || sample.Kind != "PartnerInvitation" {
		t.Errorf("the sample is a %s %s", sample.APIVersion, sample.Kind)
	}
	// Empty and absent lists are the same manifest (omitempty).
	if diff := cmp.Diff(sample.Spec, got.Spec, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("the sample's spec differs from the importer's for the seed's row (-sample +importer):\n%s", diff)
	}
}
