package v1alpha1_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apimachinery/pkg/util/wait"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	b2bv1alpha1 "github.com/partnerops/partner-operator/api/v1alpha1"
	"github.com/partnerops/partner-operator/internal/testbed"
)

// warnings collects the API server's warnings (the Warning header kubectl prints).
type warnings struct {
	mu   sync.Mutex
	msgs []string
}

func (w *warnings) HandleWarningHeaderWithContext(_ context.Context, _ int, _ string, msg string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.msgs = append(w.msgs, msg)
}

func (w *warnings) take() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := w.msgs
	w.msgs = nil
	return out
}

// TestPolicyAdmission runs one API server with the CRDs and config/policy:
//   - a PartnerInvitation created while no PartnerAccessPolicy exists is refused with a message
//     that says what to create;
//   - every malformed PartnerAccessPolicy of policyCases is refused at creation, on the field
//     and in the words ValidatePolicySpec gives, and the valid ones are admitted;
//   - a punycode domain is admitted with a warning.
func TestPolicyAdmission(t *testing.T) {
	env, admin := testbed.StartAPIServer(t, filepath.Join("..", ".."))
	ctx := t.Context()
	warned := &warnings{}
	cfg := rest.CopyConfig(env.Config)
	cfg.WarningHandlerWithContext = warned
	c, err := client.New(cfg, client.Options{Scheme: admin.Scheme()})
	if err != nil {
		t.Fatal(err)
	}
	applyFile(ctx, t, c, filepath.Join("..", "..", "config", "policy", "admission_policy.yaml"))

	invitation := func(name, email string) *b2bv1alpha1.PartnerInvitation {
		return &b2bv1alpha1.PartnerInvitation{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "default"},
			Spec:       b2bv1alpha1.PartnerInvitationSpec{Email: email},
		}
	}

	t.Run("no policy", func(t *testing.T) {
		// The API server compiles the admission policies in the background: wait for the refusal.
		var refusal error
		if err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
			refusal = c.Create(ctx, invitation("first", "anna@fabrikam.example"), client.DryRunAll)
			return refusal != nil, nil
		}); err != nil {
			t.Fatalf("a PartnerInvitation was admitted while no PartnerAccessPolicy exists")
		}
		const want = `partnerinvitations.b2b.partnerops.io "first" is forbidden: ValidatingAdmissionPolicy 'partner-access-policy-required' with binding 'create-a-partneraccesspolicy-first' denied request: failed to configure binding: no params found for policy binding with ` + "`Deny`" + ` parameterNotFoundAction`
		if refusal.Error() != want {
			t.Errorf("the refusal reads\n  %v\nwant\n  %s", refusal, want)
		}
	})

	t.Run("malformed policies", func(t *testing.T) {
		for i, tc := range policyCases {
			p := &b2bv1alpha1.PartnerAccessPolicy{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("case-%d", i)}, Spec: tc.build()}
			err := c.Create(ctx, p, client.DryRunAll)
			if tc.field == "" {
				if err != nil {
					t.Errorf("%s: the API server refused a policy ValidatePolicySpec accepts: %v", tc.name, err)
				}
				continue
			}
			if !apierrors.IsInvalid(err) {
				t.Errorf("%s: want an Invalid answer, got %v", tc.name, err)
				continue
			}
			if fields := causeFields(err); !fields[tc.field] {
				t.Errorf("%s: the API server named %v, want %s: %v", tc.name, keys(fields), tc.field, err)
			}
			spec := tc.build()
			for _, e := range b2bv1alpha1.ValidatePolicySpec(&spec, field.NewPath("spec")) {
				if e.Type == field.ErrorTypeInvalid && !causeSays(err, e.Field, e.Detail) {
					t.Errorf("%s: the API server does not say %q on %s: %v", tc.name, e.Detail, e.Field, err)
				}
			}
		}
	})

	t.Run("punycode warning", func(t *testing.T) {
		open := &b2bv1alpha1.PartnerAccessPolicy{ObjectMeta: metav1.ObjectMeta{Name: "open"}}
		if err := c.Create(ctx, open); err != nil {
			t.Fatal(err)
		}
		// Admitted once the API server's parameter cache holds the policy.
		if err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
			return c.Create(ctx, invitation("plain", "anna@fabrikam.example"), client.DryRunAll) == nil, nil
		}); err != nil {
			t.Fatal("a PartnerInvitation is still refused with a policy in place")
		}
		if w := warned.take(); len(w) != 0 {
			t.Errorf("warnings for a plain address: %q", w)
		}
		if err := c.Create(ctx, invitation("lookalike", "anna@xn--pple-43d.com"), client.DryRunAll); err != nil {
			t.Fatal(err)
		}
		w := warned.take()
		if !slices.ContainsFunc(w, func(m string) bool {
			return strings.Contains(m, "the domain uses internationalised (punycode) labels; check it is the domain you mean")
		}) {
			t.Errorf("warnings %q, want the punycode warning", w)
		}
	})
}

// applyFile creates every object of a YAML stream.
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
