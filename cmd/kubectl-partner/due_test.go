package main

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	gocmp "github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	b2bv1alpha1 "github.com/partnerops/partner-operator/api/v1alpha1"
)

// dueNow is the fixed clock of the --due and report unit tests.
func dueNow() time.Time { return time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC) }

func at(t time.Time) *metav1.Time {
	m := metav1.NewTime(t)
	return &m
}

// dueFixture is one guest of each kind --due sorts out, relative to dueNow.
func dueFixture() []b2bv1alpha1.PartnerInvitation {
	day := 24 * time.Hour
	inv := func(name string, sponsors []string, status b2bv1alpha1.PartnerInvitationStatus) b2bv1alpha1.PartnerInvitation {
		return b2bv1alpha1.PartnerInvitation{ObjectMeta: metav1.ObjectMeta{Namespace: "partners", Name: name},
			Spec:   b2bv1alpha1.PartnerInvitationSpec{Email: name + "@fabrikam.com", Sponsors: sponsors},
			Status: status}
	}
	soon := inv("soon", []string{"maria@contoso.com", "bob@contoso.com"}, b2bv1alpha1.PartnerInvitationStatus{
		RecertificationDueAt: at(dueNow().Add(3 * day)), LastSignInAt: at(dueNow().Add(-2 * day))})
	soon.Spec.Recertification = &b2bv1alpha1.Recertification{At: metav1.NewTime(dueNow().Add(-87 * day)), By: "maria@contoso.com", Reason: "renewed"}
	return []b2bv1alpha1.PartnerInvitation{
		soon,
		inv("late", []string{"maria@contoso.com"}, b2bv1alpha1.PartnerInvitationStatus{RecertificationDueAt: at(dueNow().Add(-2 * day))}),
		inv("later", []string{"maria@contoso.com"}, b2bv1alpha1.PartnerInvitationStatus{RecertificationDueAt: at(dueNow().Add(20 * day))}),
		inv("revoked", nil, b2bv1alpha1.PartnerInvitationStatus{RecertificationDueAt: at(dueNow().Add(-10 * day)),
			Expiry: &b2bv1alpha1.ExpiryStatus{Action: b2bv1alpha1.ExpiryRevokeAccess, At: metav1.NewTime(dueNow().Add(-10 * day)),
				Source: "PartnerAccessPolicy quarterly", Rule: b2bv1alpha1.RuleRecertification}}),
		inv("idle", []string{"bob@contoso.com"}, b2bv1alpha1.PartnerInvitationStatus{LastSignInAt: at(dueNow().Add(-100 * day)),
			Expiry: &b2bv1alpha1.ExpiryStatus{Action: b2bv1alpha1.ExpiryDisable, At: metav1.NewTime(dueNow().Add(-5 * day)),
				Source: "PartnerAccessPolicy quarterly", Rule: b2bv1alpha1.RuleInactivity}}),
		// An expiry of spec.expiresAt is not a recertification's business.
		inv("ended", []string{"bob@contoso.com"}, b2bv1alpha1.PartnerInvitationStatus{
			Expiry: &b2bv1alpha1.ExpiryStatus{Action: b2bv1alpha1.ExpiryRevokeAccess, At: metav1.NewTime(dueNow().Add(-1 * day)),
				Source: "spec.expiresAt", Rule: b2bv1alpha1.RuleExpiresAt}}),
		inv("unpoliced", nil, b2bv1alpha1.PartnerInvitationStatus{}),
	}
}

// dueNames is the report as "SPONSOR: name DUE, ...".
func dueNames(r *dueReport) []string {
	var out []string
	for _, g := range r.Sponsors {
		var names []string
		for _, e := range g.Invitations {
			names = append(names, e.Name+" "+e.Due)
		}
		out = append(out, g.Sponsor+": "+strings.Join(names, ", "))
	}
	return out
}

func TestDueFor(t *testing.T) {
	r := dueFor(dueFixture(), "partners", defaultDueWithin, dueNow())
	want := []string{
		"bob@contoso.com: idle acted: Disable, soon 2026-06-04T12:00:00Z",
		"maria@contoso.com: late overdue, soon 2026-06-04T12:00:00Z",
		"(no sponsor): revoked acted: RevokeAccess",
	}
	if diff := gocmp.Diff(want, dueNames(r)); diff != "" {
		t.Errorf("due within 14d (-want +got):\n%s", diff)
	}
	if r.Total != 4 || r.Within != "14d" {
		t.Errorf("total %d within %q; want 4 (soon once, for both its sponsors), 14d", r.Total, r.Within)
	}

	t.Run("a longer horizon", func(t *testing.T) {
		r := dueFor(dueFixture(), "partners", 30*24*time.Hour, dueNow())
		if got := dueNames(r)[1]; got != "maria@contoso.com: late overdue, soon 2026-06-04T12:00:00Z, later 2026-06-21T12:00:00Z" {
			t.Errorf("maria's: %s", got)
		}
	})

	t.Run("due this very moment is overdue", func(t *testing.T) {
		r := dueFor(dueFixture()[1:2], "", 0, dueNow().Add(-2*24*time.Hour))
		if got := dueNames(r); len(got) != 1 || got[0] != "maria@contoso.com: late overdue" {
			t.Errorf("%v", got)
		}
	})

	t.Run("nothing due", func(t *testing.T) {
		r := dueFor(dueFixture()[6:], "", defaultDueWithin, dueNow())
		if r.Total != 0 || len(r.Sponsors) != 0 {
			t.Errorf("%+v", r)
		}
		var out strings.Builder
		if err := r.printTables(&out); err != nil {
			t.Fatal(err)
		}
		if want := "0 PartnerInvitations in all namespaces due for recertification within 14d, or acted on\n"; out.String() != want {
			t.Errorf("printed %q, want %q", out.String(), want)
		}
	})
}

func TestDueTables(t *testing.T) {
	var out strings.Builder
	if err := dueFor(dueFixture(), "partners", defaultDueWithin, dueNow()).printTables(&out); err != nil {
		t.Fatal(err)
	}
	want := `4 PartnerInvitations in namespace partners due for recertification within 14d, or acted on

SPONSOR bob@contoso.com: 2
NAMESPACE  NAME  EMAIL              DUE                   LAST-SIGN-IN          RECERTIFIED
partners   idle  idle@fabrikam.com  acted: Disable        2026-02-21T12:00:00Z  never
partners   soon  soon@fabrikam.com  2026-06-04T12:00:00Z  2026-05-30T12:00:00Z  maria@contoso.com, 2026-03-06T12:00:00Z

SPONSOR maria@contoso.com: 2
NAMESPACE  NAME  EMAIL              DUE                   LAST-SIGN-IN          RECERTIFIED
partners   late  late@fabrikam.com  overdue               -                     never
partners   soon  soon@fabrikam.com  2026-06-04T12:00:00Z  2026-05-30T12:00:00Z  maria@contoso.com, 2026-03-06T12:00:00Z

SPONSOR (no sponsor): 1
NAMESPACE  NAME     EMAIL                 DUE                  LAST-SIGN-IN  RECERTIFIED
partners   revoked  revoked@fabrikam.com  acted: RevokeAccess  -             never
`
	if diff := gocmp.Diff(want, out.String()); diff != "" {
		t.Errorf("tables (-want +got):\n%s", diff)
	}
}

// status --due against an API server: the flags, the namespace, and -o json.
func TestStatusDue(t *testing.T) {
	c := cluster(t)
	ns := "status-due"
	c.scratchNamespace(t, ns)
	now := time.Now().Truncate(time.Second)
	day := 24 * time.Hour
	for _, p := range dueFixture() {
		p.Namespace = ns
		// The fixture's times, moved from dueNow to now.
		for _, tm := range []*metav1.Time{p.Status.RecertificationDueAt, p.Status.LastSignInAt} {
			if tm != nil {
				tm.Time = now.Add(tm.Sub(dueNow()))
			}
		}
		if x := p.Status.Expiry; x != nil {
			x.At.Time = now.Add(x.At.Sub(dueNow()))
		}
		if r := p.Spec.Recertification; r != nil {
			r.At.Time = now.Add(r.At.Sub(dueNow()))
		}
		c.create(t, &p)
	}

	stdout, stderr, err := c.kubectl(t, "status", "--due", "-n", ns)
	if err != nil {
		t.Fatalf("status --due: %v\n%s", err, stderr)
	}
	for _, want := range []string{
		"4 PartnerInvitations in namespace status-due due for recertification within 14d, or acted on\n",
		"\nSPONSOR bob@contoso.com: 2\n",
		"status-due  late  late@fabrikam.com",
		"overdue",
		"\nSPONSOR (no sponsor): 1\n",
		"acted: RevokeAccess",
		"soon@fabrikam.com  " + now.Add(3*day).UTC().Format(time.RFC3339),
	} {
		if !strings.Contains(stdout, want) {
			t.Errorf("status --due lacks %q:\n%s", want, stdout)
		}
	}
	if strings.Contains(stdout, "later") || strings.Contains(stdout, "ended") || strings.Contains(stdout, "unpoliced") {
		t.Errorf("status --due lists what is not due:\n%s", stdout)
	}

	t.Run("-o json, --within in days", func(t *testing.T) {
		stdout, _, err := c.kubectl(t, "status", "--due", "--within", "30d", "-n", ns, "-o", "json")
		if err != nil {
			t.Fatal(err)
		}
		var r dueReport
		if err := json.Unmarshal([]byte(stdout), &r); err != nil {
			t.Fatalf("-o json: %v\n%s", err, stdout)
		}
		want := []string{
			"bob@contoso.com: idle acted: Disable, soon " + now.Add(3*day).UTC().Format(time.RFC3339),
			"maria@contoso.com: late overdue, soon " + now.Add(3*day).UTC().Format(time.RFC3339) + ", later " + now.Add(20*day).UTC().Format(time.RFC3339),
			"(no sponsor): revoked acted: RevokeAccess",
		}
		if diff := gocmp.Diff(want, dueNames(&r)); diff != "" {
			t.Errorf("due within 30d (-want +got):\n%s", diff)
		}
		if r.Total != 5 || r.Namespace != ns || r.Within != "30d" {
			t.Errorf("total %d, namespace %q, within %q", r.Total, r.Namespace, r.Within)
		}
		soon := r.Sponsors[0].Invitations[1]
		if soon.Recertification == nil || soon.Recertification.By != "maria@contoso.com" || soon.LastSignInAt == nil || soon.DueAt == nil {
			t.Errorf("soon: %+v", soon)
		}
	})

	t.Run("a Go duration", func(t *testing.T) {
		stdout, _, err := c.kubectl(t, "status", "--due", "--within", "1h", "-n", ns)
		if err != nil || !strings.HasPrefix(stdout, "3 PartnerInvitations in namespace status-due due for recertification within 1h0m0s") {
			t.Errorf("--within 1h: %v\n%s", err, stdout)
		}
	})

	for _, bad := range [][]string{{"--within", "7d"}, {"--due", "--pending-for", "7d"}, {"--due", "--within", "soon"}, {"--due", "-o", "csv"}} {
		t.Run("refused "+strings.Join(bad, " "), func(t *testing.T) {
			if _, _, err := c.kubectl(t, append([]string{"status", "-n", ns}, bad...)...); err == nil {
				t.Error("status accepted it")
			}
		})
	}
}
