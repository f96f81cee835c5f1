package importer

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	b2bv1alpha1 "github.com/partnerops/partner-operator/api/v1alpha1"
)

// ReadPolicies reads a YAML stream of PartnerAccessPolicies (or PartnerAccessPolicyLists), as
// kubectl apply takes them. Unknown fields are errors: a misspelt rule must not pass silently.
func ReadPolicies(r io.Reader) ([]b2bv1alpha1.PartnerAccessPolicy, error) {
	var out []b2bv1alpha1.PartnerAccessPolicy
	docs := utilyaml.NewYAMLReader(bufio.NewReader(r))
	for n := 1; ; n++ {
		doc, err := docs.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("document %d: %w", n, err)
		}
		var tm metav1.TypeMeta
		if err := yaml.Unmarshal(doc, &tm); err != nil {
			return nil, fmt.Errorf("document %d: %w", n, err)
		}
		if tm == (metav1.TypeMeta{}) && isComment(doc) {
			continue
		}
		if tm.APIVersion != b2bv1alpha1.GroupVersion.String() {
			return nil, fmt.Errorf("document %d: apiVersion %q, want %s", n, tm.APIVersion, b2bv1alpha1.GroupVersion)
		}
		switch tm.Kind {
		case "PartnerAccessPolicy":
			var p b2bv1alpha1.PartnerAccessPolicy
			if err := yaml.UnmarshalStrict(doc, &p); err != nil {
				return nil, fmt.Errorf("document %d: %w", n, err)
			}
			out = append(out, p)
		case "PartnerAccessPolicyList":
			var l b2bv1alpha1.PartnerAccessPolicyList
			if err := yaml.UnmarshalStrict(doc, &l); err != nil {
				return nil, fmt.Errorf("document %d: %w", n, err)
			}
			out = append(out, l.Items...)
		default:
			return nil, fmt.Errorf("document %d: kind %q, want PartnerAccessPolicy", n, tm.Kind)
		}
	}
	if len(out) == 0 {
		return nil, errors.New("no PartnerAccessPolicy in it")
	}
	return out, nil
}

// isComment reports whether a YAML document holds nothing but comments and blank lines.
func isComment(doc []byte) bool {
	for line := range bytes.Lines(doc) {
		if line = bytes.TrimSpace(line); len(line) > 0 && line[0] != '#' {
			return false
		}
	}
	return true
}

// Creator creates objects; a controller-runtime client is one.
type Creator interface {
	Create(ctx context.Context, obj client.Object, opts ...client.CreateOption) error
}

// CheckWithServer creates every valid invitation with dry-run=All, so the API server judges it
// as it will judge the real create: the CRD schema, the admission policy, RBAC, and names
// already taken. Each refusal becomes a problem of the row. The error is for a cluster that
// cannot be asked at all (unreachable, or without the CRD).
func (r *Result) CheckWithServer(ctx context.Context, c Creator) error {
	lines := map[*b2bv1alpha1.PartnerInvitation]int{}
	for _, inv := range r.Invitations {
		lines[inv.Object] = inv.Line
	}
	for _, obj := range r.Valid() {
		err := c.Create(ctx, obj.DeepCopy(), client.DryRunAll)
		if err == nil {
			continue
		}
		var status apierrors.APIStatus
		if !errors.As(err, &status) {
			return fmt.Errorf("dry-run create of %s/%s: %w", obj.Namespace, obj.Name, err)
		}
		line := lines[obj]
		if d := status.Status().Details; d != nil && len(d.Causes) > 0 {
			for _, cause := range d.Causes {
				r.refuse(line, cmp.Or(cause.Field, "server"), cause.Message)
			}
			continue
		}
		r.refuse(line, "server", status.Status().Message)
	}
	return nil
}
