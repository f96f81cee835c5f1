package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	gocmp "github.com/google/go-cmp/cmp"
	authenticationv1 "k8s.io/api/authentication/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	b2bv1alpha1 "github.com/partnerops/partner-operator/api/v1alpha1"
)

// create creates p and, when it has a status, writes that as the operator would.
func (c *controlPlane) create(t *testing.T, p *b2bv1alpha1.PartnerInvitation) {
	t.Helper()
	ctx := context.Background()
	status := p.Status
	if err := c.client.Create(ctx, p); err != nil {
		t.Fatal(err)
	}
	if !gocmp.Equal(status, b2bv1alpha1.PartnerInvitationStatus{}) {
		p.Status = status
		if err := c.client.Status().Update(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
}

func TestRecertify(t *testing.T) {
	c := cluster(t)
	ctx := context.Background()
	ns := "recertify"
	c.scratchNamespace(t, ns)
	apollo := map[string]string{"project": "apollo"}
	for _, p := range []*b2bv1alpha1.PartnerInvitation{
		{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "jane", Labels: apollo, Annotations: map[string]string{"team": "supply"}},
			Spec: b2bv1alpha1.PartnerInvitationSpec{Email: "jane@fabrikam.com", DisplayName: "Jane", Sponsors: []string{"maria@contoso.com"},
				Access: &b2bv1alpha1.PartnerAccess{Groups: []string{"Partner Portal Users"}}}},
		{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "joe", Labels: apollo},
			Spec: b2bv1alpha1.PartnerInvitationSpec{Email: "joe@fabrikam.com"}},
		{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "ann"},
			Spec: b2bv1alpha1.PartnerInvitationSpec{Email: "ann@fabrikam.com"}},
	} {
		c.create(t, p)
	}
	get := func(t *testing.T, name string) *b2bv1alpha1.PartnerInvitation {
		t.Helper()
		var p b2bv1alpha1.PartnerInvitation
		if err := c.client.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &p); err != nil {
			t.Fatal(err)
		}
		return &p
	}
	before := get(t, "jane")

	start := time.Now().Truncate(time.Second)
	stdout, stderr, err := c.kubectl(t, "recertify", "jane", "-n", ns, "--reason", "  contract renewed until 2027 ")
	if err != nil {
		t.Fatalf("recertify: %v\n%s", err, stderr)
	}
	after := get(t, "jane")
	r := after.Spec.Recertification
	if r == nil {
		t.Fatal("spec.recertification is not set")
	}
	// Without --by, the user the kubeconfig authenticates (cluster_test.go's platform-admin).
	if r.By != "platform-admin" || r.Reason != "contract renewed until 2027" {
		t.Errorf("recertification by %q for %q; want platform-admin, the reason trimmed", r.By, r.Reason)
	}
	if r.At.Time.Before(start) || r.At.Time.After(time.Now()) || r.At.Nanosecond() != 0 {
		t.Errorf("recertified at %s, want the time of the command, in whole seconds", r.At)
	}
	if want := fmt.Sprintf("partnerinvitation recertify/jane recertified by platform-admin at %s\n", r.At.UTC().Format(time.RFC3339)); stdout != want {
		t.Errorf("output %q, want %q", stdout, want)
	}
	// The patch wrote that field only.
	after.Spec.Recertification = nil
	if diff := gocmp.Diff(before.Spec, after.Spec); diff != "" {
		t.Errorf("recertify changed more of the spec (-before +after):\n%s", diff)
	}
	if diff := gocmp.Diff(before.Labels, after.Labels); diff != "" || after.Annotations["team"] != "supply" {
		t.Errorf("recertify changed the metadata: labels %s, annotations %v", diff, after.Annotations)
	}

	t.Run("several, by someone else", func(t *testing.T) {
		stdout, _, err := c.kubectl(t, "recertify", "jane", "joe", "-n", ns, "--reason", "Q3 review", "--by", "maria@contoso.com")
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range []string{"jane", "joe"} {
			r := get(t, name).Spec.Recertification
			if r == nil || r.By != "maria@contoso.com" || r.Reason != "Q3 review" {
				t.Errorf("%s: recertification %+v", name, r)
				continue
			}
			if !strings.Contains(stdout, "partnerinvitation recertify/"+name+" recertified by maria@contoso.com at "+r.At.UTC().Format(time.RFC3339)+"\n") {
				t.Errorf("output %q lacks %s", stdout, name)
			}
		}
	})

	t.Run("--all with a selector", func(t *testing.T) {
		stdout, _, err := c.kubectl(t, "recertify", "--all", "-l", "project=apollo", "-n", ns, "--reason", "Apollo runs until 2027", "--by", "bob@contoso.com")
		if err != nil {
			t.Fatal(err)
		}
		if n := strings.Count(stdout, "recertified by bob@contoso.com"); n != 2 {
			t.Errorf("%d recertified, want jane and joe:\n%s", n, stdout)
		}
		if get(t, "joe").Spec.Recertification.Reason != "Apollo runs until 2027" || get(t, "ann").Spec.Recertification != nil {
			t.Error("--all -l project=apollo did not recertify exactly jane and joe")
		}
		if _, _, err := c.kubectl(t, "recertify", "--all", "-l", "project=gemini", "-n", ns, "--reason", "x", "--by", "bob"); err == nil ||
			!strings.Contains(err.Error(), "no PartnerInvitation in namespace recertify matches -l project=gemini") {
			t.Errorf("a selector that matches nothing: %v", err)
		}
	})

	t.Run("--all", func(t *testing.T) {
		stdout, _, err := c.kubectl(t, "recertify", "--all", "-n", ns, "--reason", "yearly review", "--by", "bob@contoso.com")
		if err != nil || strings.Count(stdout, "\n") != 3 || get(t, "ann").Spec.Recertification == nil {
			t.Errorf("--all: %v\n%s", err, stdout)
		}
	})

	t.Run("the longest reason, counted in characters", func(t *testing.T) {
		reason := strings.Repeat("é", 1024)
		if _, _, err := c.kubectl(t, "recertify", "ann", "-n", ns, "--reason", reason, "--by", "bob"); err != nil {
			t.Fatal(err)
		}
		if got := get(t, "ann").Spec.Recertification; got == nil || got.Reason != reason {
			t.Errorf("recertification %+v", got)
		}
	})

	t.Run("an object that does not exist", func(t *testing.T) {
		stdout, _, err := c.kubectl(t, "recertify", "nobody", "ann", "-n", ns, "--reason", "x", "--by", "bob")
		if err == nil || !strings.Contains(err.Error(), "partnerinvitation recertify/nobody") || !strings.Contains(err.Error(), "not found") {
			t.Errorf("error %v, want nobody not found", err)
		}
		if !strings.Contains(stdout, "partnerinvitation recertify/ann recertified by bob at ") {
			t.Errorf("the other name was not handled: %q", stdout)
		}
	})

	for name, tc := range map[string]struct {
		args []string
		want string
	}{
		"without --reason":       {[]string{"jane"}, "--reason is required"},
		"a blank reason":         {[]string{"jane", "--reason", "  "}, "--reason is required"},
		"a reason too long":      {[]string{"jane", "--reason", strings.Repeat("é", 1025)}, "is 1025 characters long; at most 1024"},
		"a by too long":          {[]string{"jane", "--reason", "x", "--by", strings.Repeat("x", 257)}, "at most 256"},
		"no name":                {[]string{"--reason", "x"}, "name a PartnerInvitation"},
		"names and --all":        {[]string{"jane", "--all", "--reason", "x"}, "not both"},
		"a selector, no --all":   {[]string{"-l", "project=apollo", "--reason", "x"}, "-l selects with --all"},
		"a selector that is bad": {[]string{"--all", "-l", "project in", "--reason", "x"}, "-l"},
	} {
		t.Run("refused "+name, func(t *testing.T) {
			before := get(t, "jane").Spec.Recertification
			_, _, err := c.kubectl(t, append([]string{"recertify", "-n", ns}, tc.args...)...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %v, want %q", err, tc.want)
			}
			if diff := gocmp.Diff(before, get(t, "jane").Spec.Recertification); diff != "" {
				t.Errorf("a refused recertify changed the object:\n%s", diff)
			}
		})
	}

	t.Run("help", func(t *testing.T) {
		stdout, _, err := c.kubectl(t, "recertify", "--help")
		if err != nil || !strings.Contains(stdout, "--reason") || !strings.Contains(stdout, "SelfSubjectReview") {
			t.Errorf("recertify --help: %v\n%s", err, stdout)
		}
		stdout, _, err = c.kubectl(t, "--help")
		if err != nil || !strings.Contains(stdout, "recertify  confirm that guests still need their access") ||
			!strings.Contains(stdout, "report     who has access to what") {
			t.Errorf("--help does not list recertify and report: %v\n%s", err, stdout)
		}
	})
}

// whoAmI's answers when the cluster cannot say who the caller is: each asks for --by.
func TestWhoAmI(t *testing.T) {
	scheme := runtime.NewScheme()
	if err := authenticationv1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	answering := func(name string, err error) client.Client {
		return fake.NewClientBuilder().WithScheme(scheme).WithInterceptorFuncs(interceptor.Funcs{
			Create: func(_ context.Context, _ client.WithWatch, obj client.Object, _ ...client.CreateOption) error {
				review, ok := obj.(*authenticationv1.SelfSubjectReview)
				if !ok {
					return fmt.Errorf("created a %T", obj)
				}
				review.Status.UserInfo.Username = name
				return err
			},
		}).Build()
	}
	ctx := context.Background()

	if name, err := whoAmI(ctx, answering("oidc:jane@contoso.com", nil)); err != nil || name != "oidc:jane@contoso.com" {
		t.Errorf("whoAmI: %q, %v", name, err)
	}
	forbidden := errors.New("selfsubjectreviews.authentication.k8s.io is forbidden")
	_, err := whoAmI(ctx, answering("", forbidden))
	if !errors.Is(err, forbidden) || !strings.Contains(err.Error(), "--by") {
		t.Errorf("a refused review: %v; want the cause wrapped and --by asked for", err)
	}
	for _, name := range []string{"", "  ", strings.Repeat("x", 257)} {
		if _, err := whoAmI(ctx, answering(name, nil)); err == nil || !strings.Contains(err.Error(), "--by") {
			t.Errorf("user name %q: %v; want --by asked for", name, err)
		}
	}
}
