package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	gocmp "github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	b2bv1alpha1 "github.com/partnerops/partner-operator/api/v1alpha1"
)

// consoleExamples reads the ```console blocks of a document: each "$ command" line with the
// lines that follow it, up to the next command or the end of the block.
func consoleExamples(t *testing.T, doc string) map[string]string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "..", doc))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	in, cmd := false, ""
	for _, line := range strings.Split(string(raw), "\n") {
		switch {
		case !in:
			in = strings.TrimSpace(line) == "```console"
		case strings.TrimSpace(line) == "```":
			in, cmd = false, ""
		case strings.HasPrefix(line, "$ "):
			cmd = strings.TrimPrefix(line, "$ ")
			out[cmd] = ""
		case cmd != "":
			out[cmd] += line + "\n"
		}
	}
	return out
}

// docsInvitations are the guests of docs/migrating.md's examples, on 2026-06-01 at 09:30 UTC.
func docsInvitations(t *testing.T) ([]b2bv1alpha1.PartnerInvitation, time.Time) {
	ts := func(s string) *metav1.Time {
		v, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		m := metav1.NewTime(v)
		return &m
	}
	maria := []string{"maria.lopez@fabrikam.com"}
	app := "cd3ed3de-93ee-400b-8b19-b61ef44a0f29"
	return []b2bv1alpha1.PartnerInvitation{
		{ObjectMeta: metav1.ObjectMeta{Namespace: "partners", Name: "andreas-contoso-com"},
			Spec: b2bv1alpha1.PartnerInvitationSpec{Email: "andreas@contoso.com", Sponsors: maria,
				Recertification: &b2bv1alpha1.Recertification{At: *ts("2025-12-08T14:02:11Z"), By: "maria.lopez@fabrikam.com", Reason: "Portal pilot extended"}},
			Status: b2bv1alpha1.PartnerInvitationStatus{UserID: "3f0e7a52-6b1d-4c8e-9a27-5d1b0c9e4f10", State: b2bv1alpha1.StateAccepted,
				InvitedAt: ts("2025-09-01T08:15:00Z"), RedeemedAt: ts("2025-09-02T10:41:07Z"), LastSignInAt: ts("2026-05-28T07:12:44Z"),
				RecertificationDueAt: ts("2026-06-08T14:02:11Z"), ExpiresAt: ts("2027-03-31T17:00:00Z"),
				Access: &b2bv1alpha1.AccessStatus{Groups: []b2bv1alpha1.GroupGrant{{Ref: "Partner Portal Users"}},
					Applications: []b2bv1alpha1.AppRoleGrant{{App: app}}}}},
		{ObjectMeta: metav1.ObjectMeta{Namespace: "partners", Name: "jane-tailspin-com"},
			Spec: b2bv1alpha1.PartnerInvitationSpec{Email: "jane@tailspin.com", Sponsors: maria},
			Status: b2bv1alpha1.PartnerInvitationStatus{UserID: "9b4c1d2e-0f3a-4e5b-8c6d-7e8f9a0b1c2d", State: b2bv1alpha1.StateAccepted,
				InvitedAt: ts("2026-02-18T11:00:00Z"), RedeemedAt: ts("2026-02-19T09:03:52Z"), LastSignInAt: ts("2026-04-02T16:20:31Z"),
				RecertificationDueAt: ts("2026-05-20T09:03:52Z"), ExpiresAt: ts("2026-06-19T09:03:52Z"),
				Access: &b2bv1alpha1.AccessStatus{Applications: []b2bv1alpha1.AppRoleGrant{{App: app, Role: "Partner.Read"}}}}},
		{ObjectMeta: metav1.ObjectMeta{Namespace: "partners", Name: "joe-northwind-com"},
			Spec: b2bv1alpha1.PartnerInvitationSpec{Email: "joe@northwind.com"},
			Status: b2bv1alpha1.PartnerInvitationStatus{UserID: "1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d", State: b2bv1alpha1.StateAccepted,
				InvitedAt: ts("2025-06-10T12:00:00Z"), RedeemedAt: ts("2025-06-11T08:30:00Z"), LastSignInAt: ts("2025-12-01T10:00:00Z"),
				ExpiresAt: ts("2026-05-30T10:00:00Z"), ExpiryRule: b2bv1alpha1.RuleInactivity,
				Expiry: &b2bv1alpha1.ExpiryStatus{Action: b2bv1alpha1.ExpiryRevokeAccess, At: *ts("2026-05-30T10:00:00Z"),
					Source: "PartnerAccessPolicy business-partners", Rule: b2bv1alpha1.RuleInactivity}}},
	}, ts("2026-06-01T09:30:00Z").Time
}

// The output docs/migrating.md shows for status --due, report and recertify is what they print.
func TestDocsExamples(t *testing.T) {
	examples := consoleExamples(t, filepath.Join("docs", "migrating.md"))
	items, now := docsInvitations(t)
	example := func(t *testing.T, cmd string) string {
		t.Helper()
		want, ok := examples[cmd]
		if !ok {
			t.Fatalf("docs/migrating.md shows no %q", cmd)
		}
		return want
	}

	t.Run("status --due", func(t *testing.T) {
		want := example(t, "kubectl partner status --due -n partners")
		var out strings.Builder
		if err := dueFor(items, "partners", defaultDueWithin, now).printTables(&out); err != nil {
			t.Fatal(err)
		}
		if diff := gocmp.Diff(want, out.String()); diff != "" {
			t.Errorf("(-docs +printed):\n%s", diff)
		}
	})

	t.Run("report", func(t *testing.T) {
		want := example(t, "kubectl partner report -n partners -o csv")
		var out strings.Builder
		if err := writeAccessCSV(&out, accessRows(items)); err != nil {
			t.Fatal(err)
		}
		if diff := gocmp.Diff(want, out.String()); diff != "" {
			t.Errorf("(-docs +printed):\n%s", diff)
		}
	})

	t.Run("recertify", func(t *testing.T) {
		want := example(t, `kubectl partner recertify jane-tailspin-com -n partners --reason "Supplier contract renewed until 2027"`)
		scheme := runtime.NewScheme()
		if err := b2bv1alpha1.AddToScheme(scheme); err != nil {
			t.Fatal(err)
		}
		c := fake.NewClientBuilder().WithScheme(scheme).WithObjects(&items[1]).Build()
		var out bytes.Buffer
		p := &plugin{streams: genericiooptions.IOStreams{Out: &out, ErrOut: &out}}
		r := b2bv1alpha1.Recertification{At: metav1.NewTime(now.Add(65 * time.Second)), By: "maria.lopez@fabrikam.com",
			Reason: "Supplier contract renewed until 2027"}
		if err := recertify(context.Background(), p, c, "partners", []string{"jane-tailspin-com"}, r); err != nil {
			t.Fatal(err)
		}
		if diff := gocmp.Diff(want, out.String()); diff != "" {
			t.Errorf("(-docs +printed):\n%s", diff)
		}
		var got b2bv1alpha1.PartnerInvitation
		if err := c.Get(context.Background(), client.ObjectKey{Namespace: "partners", Name: "jane-tailspin-com"}, &got); err != nil {
			t.Fatal(err)
		}
		if got.Spec.Recertification == nil || !got.Spec.Recertification.At.Equal(&r.At) || got.Spec.Email != "jane@tailspin.com" {
			t.Errorf("after the patch: %+v", got.Spec)
		}
	})
}
