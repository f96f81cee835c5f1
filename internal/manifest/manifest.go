// Package manifest writes PartnerInvitations (and PartnerOrganizations) as files meant for Git: stable object names
// derived from the addresses, and byte-identical output for the same input, so that running an
// import or an export again shows no diff.
package manifest

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"unicode"

	"go.yaml.in/yaml/v2"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation"

	b2bv1alpha1 "github.com/partnerops/partner-operator/api/v1alpha1"
)

// Object is a kind this package writes.
type Object interface {
	GetName() string
	DeepCopyObject() runtime.Object
}

func kindOf(obj Object) string {
	if _, ok := obj.(*b2bv1alpha1.PartnerOrganization); ok {
		return b2bv1alpha1.KindPartnerOrganization
	}
	return "PartnerInvitation"
}

// KustomizationFile is the file WriteDir lists the manifests in.
const KustomizationFile = "kustomization.yaml"

// A hash suffix has 8 hex digits, and grows by 4 at each of the levels while names still
// collide. Eight tell apart any realistic set of addresses; more only answer crafted input.
const suffixLevels = 3

func suffixLength(level int) int { return 8 + 4*level }

// Names gives each address a stable DNS-1123 object name derived from it (lower-case, local
// part and domain joined by "-", invalid runs collapsed, at most 63 chars); two addresses that
// would get the same name are told apart deterministically (for example a short hash suffix of
// the lower-cased address), independent of input order. Case-insensitively equal addresses
// get the same name.
//
// Every address whose plain name is shared with a different address gets a suffix of the
// SHA-256 of its folded form, so that the result depends only on the set of addresses.
func Names(emails []string) []string {
	keys := make([]string, len(emails))
	level := map[string]int{} // folded address → suffix level, -1 for none
	for i, e := range emails {
		keys[i] = Fold(e)
		level[keys[i]] = -1
	}
	names := make(map[string]string, len(level))
	for {
		owners := map[string][]string{} // name → folded addresses that got it
		for k, l := range level {
			n := name(k, l)
			names[k] = n
			owners[n] = append(owners[n], k)
		}
		collided := false
		for _, ks := range owners {
			if len(ks) < 2 {
				continue
			}
			for _, k := range ks {
				if level[k] < suffixLevels-1 {
					level[k]++
					collided = true
				}
			}
		}
		if !collided {
			break
		}
	}
	out := make([]string, len(emails))
	for i, k := range keys {
		out[i] = names[k]
	}
	return out
}

// name is the object name of a folded address, with the hash suffix of the given level.
func name(key string, level int) string {
	base := slug(key)
	if base == "" {
		// Nothing of the address survives (it has no ASCII letters or digits): only the hash
		// tells such addresses apart.
		base, level = "guest", max(level, 0)
	}
	if level < 0 {
		return truncate(base, validation.DNS1123LabelMaxLength)
	}
	sum := sha256.Sum256([]byte(key))
	suffix := hex.EncodeToString(sum[:])[:suffixLength(level)]
	return truncate(base, validation.DNS1123LabelMaxLength-len(suffix)-1) + "-" + suffix
}

// slug keeps ASCII letters and digits of the lower-cased address; every other run, the "@"
// included, becomes one "-".
func slug(s string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(s) {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			if dash && b.Len() > 0 {
				b.WriteByte('-')
			}
			b.WriteRune(r)
			dash = false
			continue
		}
		dash = true
	}
	return b.String()
}

func truncate(s string, n int) string {
	if len(s) > n {
		s = s[:n]
	}
	return strings.TrimRight(s, "-")
}

// Fold returns the form of an address that every case-insensitively equal address shares
// (strings.EqualFold's sense of equal: Unicode simple case folding), lower-cased where the
// letter has a lower case. It is the key to find duplicate addresses by.
func Fold(email string) string {
	var b strings.Builder
	b.Grow(len(email))
	for _, r := range email {
		// The smallest member of the rune's folding orbit stands for the orbit.
		least := r
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			least = min(least, f)
		}
		b.WriteRune(unicode.ToLower(least))
	}
	return b.String()
}

// Encode writes the objects as one YAML stream ("---" between documents), apiVersion/kind
// set, no status, no empty fields, in the order given.
func Encode[T Object](w io.Writer, objs []T) error {
	var buf bytes.Buffer
	for i, obj := range objs {
		doc, err := encodeYAML(obj)
		if err != nil {
			return err
		}
		if i > 0 {
			buf.WriteString("---\n")
		}
		buf.Write(doc)
	}
	_, err := w.Write(buf.Bytes())
	return err
}

// EncodeJSON writes the objects as a v1 List, as kubectl get -o json does for several
// objects: apiVersion/kind set, no status, no empty fields, in the order given.
func EncodeJSON[T Object](w io.Writer, objs []T) error {
	items := make([]any, 0, len(objs))
	for _, obj := range objs {
		m, err := clean(obj)
		if err != nil {
			return err
		}
		items = append(items, m)
	}
	// encoding/json sorts map keys, so the output is stable; a URL keeps its "&" as it is.
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "    ")
	if err := enc.Encode(map[string]any{"apiVersion": "v1", "kind": "List", "items": items}); err != nil {
		return fmt.Errorf("encoding the list: %w", err)
	}
	_, err := w.Write(buf.Bytes())
	return err
}

// WriteDir writes one file per object (<name>.yaml) and a kustomization.yaml listing them
// (sorted), into dir (created if needed). Without overwrite, it refuses (and writes nothing)
// when any of those files exists, naming them.
func WriteDir[T Object](dir string, objs []T, overwrite bool) error {
	files := map[string][]byte{}
	var resources []string
	for _, obj := range objs {
		// The name becomes a path: only a valid object name may, so nothing escapes dir.
		if errs := validation.IsDNS1123Subdomain(obj.GetName()); len(errs) > 0 {
			return fmt.Errorf("object name %q: %s", obj.GetName(), strings.Join(errs, "; "))
		}
		file := obj.GetName() + ".yaml"
		if _, dup := files[file]; dup || file == KustomizationFile {
			return fmt.Errorf("two objects would be written to %s", filepath.Join(dir, file))
		}
		doc, err := encodeYAML(obj)
		if err != nil {
			return err
		}
		files[file] = doc
		resources = append(resources, file)
	}
	slices.Sort(resources)
	kustomization, err := yaml.Marshal(map[string]any{
		"apiVersion": "kustomize.config.k8s.io/v1beta1",
		"kind":       "Kustomization",
		"resources":  resources,
	})
	if err != nil {
		return fmt.Errorf("encoding %s: %w", KustomizationFile, err)
	}
	files[KustomizationFile] = kustomization

	names := slices.Sorted(maps.Keys(files))
	if !overwrite {
		var existing []string
		for _, f := range names {
			p := filepath.Join(dir, f)
			switch _, err := os.Lstat(p); {
			case err == nil:
				existing = append(existing, p)
			case !errors.Is(err, fs.ErrNotExist):
				return err
			}
		}
		if len(existing) > 0 {
			return fmt.Errorf("%w, not overwriting: %s", fs.ErrExist, strings.Join(existing, ", "))
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for _, f := range names {
		if err := os.WriteFile(filepath.Join(dir, f), files[f], 0o644); err != nil {
			return err
		}
	}
	return nil
}

func encodeYAML(obj Object) ([]byte, error) {
	m, err := clean(obj)
	if err != nil {
		return nil, err
	}
	// yaml.v2 writes map keys sorted, as sigs.k8s.io/yaml (which goes through it) does, and
	// escapes characters YAML cannot hold as they are (DEL, C1 controls) where going through
	// sigs.k8s.io/yaml fails on them.
	doc, err := yaml.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("encoding %s: %w", obj.GetName(), err)
	}
	return doc, nil
}

// clean is the object as a manifest carries it: apiVersion and kind set, no status, and no
// empty values (such as metadata.creationTimestamp: null).
func clean(obj Object) (map[string]any, error) {
	c := obj.DeepCopyObject()
	c.GetObjectKind().SetGroupVersionKind(b2bv1alpha1.GroupVersion.WithKind(kindOf(obj)))
	raw, err := json.Marshal(c)
	if err != nil {
		return nil, fmt.Errorf("encoding %s: %w", obj.GetName(), err)
	}
	var m map[string]any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("encoding %s: %w", obj.GetName(), err)
	}
	delete(m, "status")
	prune(m)
	return m, nil
}

// prune removes nulls, empty objects and empty lists, depth first, so that a parent left empty
// by its children goes too. false, 0 and "" stay: they can be meant. Numbers become int64 or
// float64, as YAML writes them.
func prune(v any) bool {
	switch v := v.(type) {
	case nil:
		return true
	case map[string]any:
		for k, child := range v {
			if n, ok := child.(json.Number); ok {
				v[k] = number(n)
			}
			if prune(child) {
				delete(v, k)
			}
		}
		return len(v) == 0
	case []any:
		for i, child := range v {
			if n, ok := child.(json.Number); ok {
				v[i] = number(n)
			}
			prune(child)
		}
		return len(v) == 0
	}
	return false
}

func number(n json.Number) any {
	if i, err := n.Int64(); err == nil {
		return i
	}
	f, _ := n.Float64()
	return f
}
