package v1alpha1_test

import (
	"context"
	"errors"
	"fmt"
	"github.com/partnerops/partner-operator/internal/testbed"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"sigs.k8s.io/controller-runtime/pkg/client"

	b2bv1alpha1 "github.com/partnerops/partner-operator/api/v1alpha1"
)

// TestValidateSpecAgreesWithAPIServer puts the cases of TestValidateSpec, the shared address
// corpus among them, to a real kube-apiserver holding the generated CRD, with server-side
// dry-run creates: what ValidateSpec refuses the API server refuses on the same field, in the
// same words, and what it accepts the API server accepts.
func TestValidateSpecAgreesWithAPIServer(t *testing.T) {
	c := startAPIServer(t)
	ctx := t.Context()
	for i, tc := range allAccepted() {
		t.Run("accepted/"+tc.name, func(t *testing.T) {
			if err := createDryRun(ctx, c, fmt.Sprintf("accepted-%d", i), tc.build()); err != nil {
				t.Errorf("the API server refused a spec ValidateSpec accepts: %v", err)
			}
		})
	}
	for i, tc := range allRejected() {
		t.Run("rejected/"+tc.name, func(t *testing.T) {
			err := createDryRun(ctx, c, fmt.Sprintf("rejected-%d", i), tc.build())
			if err == nil {
				t.Fatalf("the API server accepted a spec ValidateSpec refuses on %s", tc.field)
			}
			if !apierrors.IsInvalid(err) {
				t.Fatalf("want an Invalid answer, got %v", err)
			}
			if fields := causeFields(err); !fields[tc.field] {
				t.Errorf("the API server named %v, want %s: %v", keys(fields), tc.field, err)
			}
			// A rule's refusal reads the same from both: the CRD's message is ValidateSpec's.
			spec := tc.build()
			for _, e := range b2bv1alpha1.ValidateSpec(&spec, field.NewPath("spec")) {
				if e.Type == field.ErrorTypeInvalid && !causeSays(err, e.Field, e.Detail) {
					t.Errorf("the API server does not say %q on %s: %v", e.Detail, e.Field, err)
				}
			}
		})
	}
}

// causeSays reports whether one of the error's causes on path carries msg.
func causeSays(err error, path, msg string) bool {
	var status apierrors.APIStatus
	if !errors.As(err, &status) || status.Status().Details == nil {
		return false
	}
	for _, c := range status.Status().Details.Causes {
		if c.Field == path && strings.HasSuffix(c.Message, ": "+msg) {
			return true
		}
	}
	return false
}

// startAPIServer starts kube-apiserver and etcd with this repository's CRDs.
func startAPIServer(t *testing.T) client.Client {
	t.Helper()
	_, c := testbed.StartAPIServer(t, filepath.Join("..", ".."))
	return c
}

func createDryRun(ctx context.Context, c client.Client, name string, spec b2bv1alpha1.PartnerInvitationSpec) error {
	obj := &b2bv1alpha1.PartnerInvitation{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
		Spec:       spec,
	}
	return c.Create(ctx, obj, client.DryRunAll)
}

func causeFields(err error) map[string]bool {
	fields := map[string]bool{}
	var status apierrors.APIStatus
	if errors.As(err, &status) && status.Status().Details != nil {
		for _, c := range status.Status().Details.Causes {
			fields[c.Field] = true
		}
	}
	return fields
}

func keys(m map[string]bool) []string {
	return slices.Sorted(maps.Keys(m))
}
