package v1alpha1_test

import (
	"os"
	"path/filepath"
	"testing"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"sigs.k8s.io/yaml"
)

func loadCRD(t *testing.T) *apiextensionsv1.CustomResourceDefinition {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "..", "config", "crd", "bases", "b2b.partnerops.io_partnerinvitations.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	crd := &apiextensionsv1.CustomResourceDefinition{}
	if err := yaml.Unmarshal(raw, crd); err != nil {
		t.Fatal(err)
	}
	return crd
}

// kubectl explain shows these descriptions; an undocumented field is a defect.
func TestEveryFieldIsDescribed(t *testing.T) {
	crd := loadCRD(t)
	var walk func(path string, p apiextensionsv1.JSONSchemaProps)
	walk = func(path string, p apiextensionsv1.JSONSchemaProps) {
		for name, child := range p.Properties {
			childPath := path + "." + name
			if child.Description == "" && path != ".status.conditions[]" {
				t.Errorf("%s has no description", childPath)
			}
			walk(childPath, child)
		}
		if p.Items != nil && p.Items.Schema != nil {
			walk(path+"[]", *p.Items.Schema)
		}
	}
	schema := crd.Spec.Versions[0].Schema.OpenAPIV3Schema
	walk("", schema.Properties["spec"])
	walk("", schema.Properties["status"])
	if len(schema.Properties["spec"].Properties) < 7 {
		t.Errorf("spec has %d fields, want at least 7", len(schema.Properties["spec"].Properties))
	}
}

func TestPrinterColumns(t *testing.T) {
	crd := loadCRD(t)
	var normal, wide []string
	for _, c := range crd.Spec.Versions[0].AdditionalPrinterColumns {
		if c.Priority == 0 {
			normal = append(normal, c.Name)
		} else {
			wide = append(wide, c.Name)
		}
	}
	want := []string{"Email", "Organization", "State", "Ready", "Expires", "Last-Sign-In", "Age"}
	if len(normal) != len(want) {
		t.Fatalf("columns = %v, want %v", normal, want)
	}
	for i := range want {
		if normal[i] != want[i] {
			t.Errorf("column %d = %s, want %s", i, normal[i], want[i])
		}
	}
	if len(wide) == 0 || wide[0] != "User-ID" {
		t.Errorf("-o wide columns = %v, want User-ID first", wide)
	}
	if got := crd.Spec.Names.ShortNames; len(got) != 1 || got[0] != "pinv" {
		t.Errorf("short names = %v, want [pinv]", got)
	}
}
