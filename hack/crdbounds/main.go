// Command crdbounds bounds the namespaceSelector of the PartnerAccessPolicy CRD, after
// controller-gen wrote it (make manifests runs it).
//
// The selector is a metav1.LabelSelector, whose schema controller-gen generates from the
// upstream type: no maxItems, no maxLength. The CEL rules that check its operators, keys and
// values (partneraccesspolicy_types.go) cost, to the API server's estimator, as much as the
// largest request it could hold, and the API server refuses a CRD whose rules' estimated cost
// exceeds its budget. Bounds no real selector comes near make the estimate small; ValidatePolicySpec
// checks the same bounds (TestPolicyValidationMatchesCRD compares them).
//
// The file is read and written with sigs.k8s.io/yaml, as controller-gen writes it, so a
// second run changes nothing.
package main

import (
	"bytes"
	"fmt"
	"os"

	"sigs.k8s.io/yaml"
)

// The bounds. A label key is at most 253 (DNS prefix) + 1 + 63 (name) characters, a label
// value at most 63.
const (
	maxExpressions = 32
	maxKeyLength   = 317
	maxOperator    = 12 // "DoesNotExist"
	maxValues      = 64
	maxValueLength = 63
	maxMatchLabels = 64
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: crdbounds <the PartnerAccessPolicy CRD file>")
		os.Exit(2)
	}
	if err := run(os.Args[1]); err != nil {
		fmt.Fprintln(os.Stderr, "crdbounds:", err)
		os.Exit(1)
	}
}

func run(path string) error {
	raw, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var crd map[string]any
	if err := yaml.Unmarshal(raw, &crd); err != nil {
		return err
	}
	versions, _ := dig(crd, "spec", "versions").([]any)
	if len(versions) == 0 {
		return fmt.Errorf("%s: no versions", path)
	}
	for _, v := range versions {
		sel, ok := dig(v, "schema", "openAPIV3Schema", "properties", "spec", "properties", "namespaceSelector", "properties").(map[string]any)
		if !ok {
			return fmt.Errorf("%s: no spec.namespaceSelector", path)
		}
		exprs, ok1 := sel["matchExpressions"].(map[string]any)
		item, ok2 := dig(exprs, "items", "properties").(map[string]any)
		labels, ok3 := sel["matchLabels"].(map[string]any)
		if !ok1 || !ok2 || !ok3 {
			return fmt.Errorf("%s: namespaceSelector is not a LabelSelector's schema", path)
		}
		exprs["maxItems"] = maxExpressions
		set(item, "key", "maxLength", maxKeyLength)
		set(item, "operator", "maxLength", maxOperator)
		set(item, "values", "maxItems", maxValues)
		if values, ok := item["values"].(map[string]any); ok {
			set(values, "items", "maxLength", maxValueLength)
		}
		labels["maxProperties"] = maxMatchLabels
		set(labels, "additionalProperties", "maxLength", maxValueLength)
	}
	out, err := yaml.Marshal(crd)
	if err != nil {
		return err
	}
	out = append([]byte("---\n"), out...)
	if bytes.Equal(out, raw) {
		return nil
	}
	return os.WriteFile(path, out, 0o644)
}

func dig(v any, keys ...string) any {
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

// set sets m[child][key] when m[child] is an object.
func set(m map[string]any, child, key string, value int) {
	if c, ok := m[child].(map[string]any); ok {
		c[key] = value
	}
}
