package v1alpha1_test

import (
	"context"
	"errors"
	"fmt"
	"github.com/partnerops/partner-operator/internal/testbed"
	"maps"
	"path/filepath"
	"slices"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	b2bv1alpha1 "github.com/partnerops/partner-operator/api/v1alpha1"
)

// TestValidateSpecAgreesWithAPIServer puts the cases of TestValidateSpec to a real
// kube-apiserver holding the generated CRD, with server-side dry-run creates: what ValidateSpec
// refuses for the schema's sake the API server refuses on the same field, what it accepts the
// API server accepts, and the controller's stricter rules are the only difference.
func TestValidateSpecAgreesWithAPIServer(t *testing.T) {
	c := startAPIServer(t)
	ctx := t.Context()
	for i, tc := range acceptedCases {
		t.Run("accepted/"+tc.name, func(t *testing.T) {
			if err := createDryRun(ctx, c, fmt.Sprintf("accepted-%d", i), tc.build()); err != nil {
				t.Errorf("the API server refused a spec ValidateSpec accepts: %v", err)
			}
		})
	}
	for i, tc := range rejectedCases {
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
		})
	}
	for i, tc := range stricterCases {
		t.Run("stricter/"+tc.name, func(t *testing.T) {
			if err := createDryRun(ctx, c, fmt.Sprintf("stricter-%d", i), tc.build()); err != nil {
				t.Errorf("the API server refuses this too, so it belongs in rejectedCases: %v", err)
			}
		})
	}
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
