package main

import (
	"encoding/csv"
	"regexp"
	"strings"
	"testing"
	"time"

	gocmp "github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	b2bv1alpha1 "github.com/partnerops/partner-operator/api/v1alpha1"
)

// reportFixture is guests of two namespaces, in no order, relative to dueNow.
func reportFixture() []b2bv1alpha1.PartnerInvitation {
	day := 24 * time.Hour
	inv := func(ns, email string, sponsors []string, status b2bv1alpha1.PartnerInvitationStatus) b2bv1alpha1.PartnerInvitation {
		name := strings.NewReplacer("@", "-", ".", "-").Replace(strings.ToLower(email))
		return b2bv1alpha1.PartnerInvitation{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
			Spec:   b2bv1alpha1.PartnerInvitationSpec{Email: email, Sponsors: sponsors},
			Status: status}
	}
	access := &b2bv1alpha1.AccessStatus{
		Groups: []b2bv1alpha1.GroupGrant{{Ref: "Partner Portal Users", ID: "6a1c0000-0000-0000-0000-000000000001", Managed: true}},
		Applications: []b2bv1alpha1.AppRoleGrant{
			{App: "cd3ed3de-93ee-400b-8b19-b61ef44a0f29", Role: "Partner.Read", ServicePrincipalID: "5b1c0000-0000-0000-0000-000000000001",
				AppRoleID: "7c1c0000-0000-0000-0000-000000000001", Managed: true},
			{App: "0f1c0000-0000-0000-0000-000000000002", ServicePrincipalID: "5b1c0000-0000-0000-0000-000000000002",
				AppRoleID: "00000000-0000-0000-0000-000000000000", Managed: false},
		},
	}
	andreas := inv("partners", "andreas@contoso.com", []string{"maria@contoso.com"}, b2bv1alpha1.PartnerInvitationStatus{
		UserID: "8f1c0000-0000-0000-0000-000000000001", State: b2bv1alpha1.StateAccepted, Access: access,
		InvitedAt: at(dueNow().Add(-200 * day)), RedeemedAt: at(dueNow().Add(-199 * day)), LastSignInAt: at(dueNow().Add(-3 * day)),
		RecertificationDueAt: at(dueNow().Add(60 * day)), ExpiresAt: at(dueNow().Add(60 * day))})
	andreas.Spec.Recertification = &b2bv1alpha1.Recertification{At: metav1.NewTime(dueNow().Add(-30 * day)), By: "maria@contoso.com", Reason: "renewed"}
	return []b2bv1alpha1.PartnerInvitation{
		inv("partners", "zoe@fabrikam.com", nil, b2bv1alpha1.PartnerInvitationStatus{State: b2bv1alpha1.StatePendingAcceptance,
			UserID: "8f1c0000-0000-0000-0000-000000000003", InvitedAt: at(dueNow().Add(-2 * day))}),
		inv("suppliers", "ann@tailspin.com", []string{"bob@contoso.com"}, b2bv1alpha1.PartnerInvitationStatus{}),
		inv("partners", "Carl@fabrikam.com", []string{"maria@contoso.com"}, b2bv1alpha1.PartnerInvitationStatus{
			UserID: "8f1c0000-0000-0000-0000-000000000002", State: b2bv1alpha1.StateAccepted, InvitedAt: at(dueNow().Add(-400 * day)),
			RedeemedAt: at(dueNow().Add(-390 * day)), LastSignInAt: at(dueNow().Add(-120 * day)), RecertificationDueAt: at(dueNow().Add(-5 * day)),
			Expiry: &b2bv1alpha1.ExpiryStatus{Action: b2bv1alpha1.ExpiryDisable, At: metav1.NewTime(dueNow().Add(-5 * day)),
				Source: "PartnerAccessPolicy quarterly", Rule: b2bv1alpha1.RuleRecertification}}),
		andreas,
		// Two sponsors, written in another order: sorted in the cell.
		inv("partners", "bea@fabrikam.com", []string{"maria@contoso.com", "bob@contoso.com"}, b2bv1alpha1.PartnerInvitationStatus{
			State: b2bv1alpha1.StateAccepted, InvitedAt: at(dueNow().Add(-10 * day))}),
	}
}

func TestAccessRows(t *testing.T) {
	rows := accessRows(reportFixture())
	var got []string
	for _, r := range rows {
		got = append(got, r.Namespace+" "+r.sponsorsCell(noSponsor)+" "+r.Email)
	}
	want := []string{
		"partners bob@contoso.com;maria@contoso.com bea@fabrikam.com",
		"partners maria@contoso.com andreas@contoso.com",
		"partners maria@contoso.com Carl@fabrikam.com", // addresses compare without case
		"partners (no sponsor) zoe@fabrikam.com",       // the guests without a sponsor last
		"suppliers bob@contoso.com ann@tailspin.com",
	}
	if diff := gocmp.Diff(want, got); diff != "" {
		t.Fatalf("order (-want +got):\n%s", diff)
	}
	andreas := rows[1]
	if diff := gocmp.Diff([]string{"group:Partner Portal Users", "app:cd3ed3de-93ee-400b-8b19-b61ef44a0f29/Partner.Read",
		"app:0f1c0000-0000-0000-0000-000000000002"}, andreas.Access); diff != "" {
		t.Errorf("access (-want +got):\n%s", diff)
	}
	if !andreas.Since.Equal(at(dueNow().Add(-199*24*time.Hour))) || !rows[3].Since.Equal(at(dueNow().Add(-2*24*time.Hour))) || rows[4].Since != nil {
		t.Errorf("since: redeemedAt %v, else invitedAt %v, else nothing %v", andreas.Since, rows[3].Since, rows[4].Since)
	}
	if rows[2].State != "Accepted (expired: Disable)" || rows[4].State != "None" {
		t.Errorf("states %q, %q", rows[2].State, rows[4].State)
	}
}

func TestAccessTable(t *testing.T) {
	var out strings.Builder
	if err := writeAccessTable(&out, accessRows(reportFixture())); err != nil {
		t.Fatal(err)
	}
	want := `NAMESPACE  SPONSORS                           EMAIL                USER-ID                               STATE                        ACCESS                                                                                                                     SINCE                 LAST-SIGN-IN          RECERTIFIED-AT        RECERTIFIED-BY     DUE                   EXPIRES
partners   bob@contoso.com;maria@contoso.com  bea@fabrikam.com     -                                     Accepted                     -                                                                                                                          2026-05-22T12:00:00Z  -                     -                     -                  -                     -
partners   maria@contoso.com                  andreas@contoso.com  8f1c0000-0000-0000-0000-000000000001  Accepted                     group:Partner Portal Users;app:cd3ed3de-93ee-400b-8b19-b61ef44a0f29/Partner.Read;app:0f1c0000-0000-0000-0000-000000000002  2025-11-14T12:00:00Z  2026-05-29T12:00:00Z  2026-05-02T12:00:00Z  maria@contoso.com  2026-07-31T12:00:00Z  2026-07-31T12:00:00Z
partners   maria@contoso.com                  Carl@fabrikam.com    8f1c0000-0000-0000-0000-000000000002  Accepted (expired: Disable)  -                                                                                                                          2025-05-07T12:00:00Z  2026-02-01T12:00:00Z  -                     -                  2026-05-27T12:00:00Z  -
partners   (no sponsor)                       zoe@fabrikam.com     8f1c0000-0000-0000-0000-000000000003  PendingAcceptance            -                                                                                                                          2026-05-30T12:00:00Z  -                     -                     -                  -                     -
suppliers  bob@contoso.com                    ann@tailspin.com     -                                     None                         -                                                                                                                          -                     -                     -                     -                  -                     -
`
	if diff := gocmp.Diff(want, out.String()); diff != "" {
		t.Errorf("table (-want +got):\n%s", diff)
	}
}

func TestAccessCSV(t *testing.T) {
	var out strings.Builder
	if err := writeAccessCSV(&out, accessRows(reportFixture())); err != nil {
		t.Fatal(err)
	}
	records, err := csv.NewReader(strings.NewReader(out.String())).ReadAll()
	if err != nil {
		t.Fatalf("not CSV: %v\n%s", err, out.String())
	}
	if len(records) != 6 {
		t.Fatalf("%d records, want a header and 5 rows:\n%s", len(records), out.String())
	}
	if diff := gocmp.Diff(accessHeader(), records[0]); diff != "" {
		t.Errorf("header (-want +got):\n%s", diff)
	}
	want := []string{"partners", "maria@contoso.com", "andreas@contoso.com", "8f1c0000-0000-0000-0000-000000000001", "Accepted",
		"group:Partner Portal Users;app:cd3ed3de-93ee-400b-8b19-b61ef44a0f29/Partner.Read;app:0f1c0000-0000-0000-0000-000000000002",
		"2025-11-14T12:00:00Z", "2026-05-29T12:00:00Z", "2026-05-02T12:00:00Z", "maria@contoso.com", "2026-07-31T12:00:00Z", "2026-07-31T12:00:00Z"}
	if diff := gocmp.Diff(want, records[2]); diff != "" {
		t.Errorf("andreas (-want +got):\n%s", diff)
	}
	// What is not known is an empty cell, a guest without a sponsor too.
	want = []string{"partners", "", "zoe@fabrikam.com", "8f1c0000-0000-0000-0000-000000000003", "PendingAcceptance", "",
		"2026-05-30T12:00:00Z", "", "", "", "", ""}
	if diff := gocmp.Diff(want, records[4]); diff != "" {
		t.Errorf("zoe (-want +got):\n%s", diff)
	}
}

// report against an API server: the namespace, -A, and the formats.
func TestReport(t *testing.T) {
	c := cluster(t)
	for _, ns := range []string{"report-a", "report-b"} {
		c.scratchNamespace(t, ns)
	}
	for _, p := range reportFixture() {
		p.Namespace = map[string]string{"partners": "report-a", "suppliers": "report-b"}[p.Namespace]
		c.create(t, &p)
	}

	stdout, stderr, err := c.kubectl(t, "report", "-n", "report-a", "-o", "csv")
	if err != nil {
		t.Fatalf("report: %v\n%s", err, stderr)
	}
	records, err := csv.NewReader(strings.NewReader(stdout)).ReadAll()
	if err != nil {
		t.Fatalf("-o csv is not CSV: %v\n%s", err, stdout)
	}
	var emails []string
	for _, r := range records[1:] {
		emails = append(emails, r[0]+" "+r[2])
	}
	if diff := gocmp.Diff([]string{"report-a bea@fabrikam.com", "report-a andreas@contoso.com", "report-a Carl@fabrikam.com",
		"report-a zoe@fabrikam.com"}, emails); diff != "" {
		t.Errorf("rows of report-a (-want +got):\n%s", diff)
	}
	if diff := gocmp.Diff(accessHeader(), records[0]); diff != "" {
		t.Errorf("header (-want +got):\n%s", diff)
	}
	if got := records[2]; got[5] != "group:Partner Portal Users;app:cd3ed3de-93ee-400b-8b19-b61ef44a0f29/Partner.Read;app:0f1c0000-0000-0000-0000-000000000002" ||
		got[9] != "maria@contoso.com" || got[6] != "2025-11-14T12:00:00Z" {
		t.Errorf("andreas: %q", got)
	}

	t.Run("text, every namespace", func(t *testing.T) {
		stdout, _, err := c.kubectl(t, "report", "-A")
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(stdout, "NAMESPACE  ") {
			t.Errorf("no header:\n%s", stdout)
		}
		// Other tests' namespaces share the cluster and widen the columns: compare the cells
		// (a cell holds no two spaces in a row).
		columnGap := regexp.MustCompile(`  +`)
		var rows []string
		for _, line := range strings.Split(stdout, "\n") {
			if f := columnGap.Split(line, -1); len(f) > 3 && strings.HasPrefix(f[0], "report-") {
				rows = append(rows, strings.Join(f[:3], " "))
			}
		}
		want := []string{"report-a bob@contoso.com;maria@contoso.com bea@fabrikam.com", "report-a maria@contoso.com andreas@contoso.com",
			"report-a maria@contoso.com Carl@fabrikam.com", "report-a (no sponsor) zoe@fabrikam.com", "report-b bob@contoso.com ann@tailspin.com"}
		if diff := gocmp.Diff(want, rows); diff != "" {
			t.Errorf("-A, the rows of report-a and report-b (-want +got):\n%s", diff)
		}
	})

	t.Run("an empty namespace", func(t *testing.T) {
		c.namespace(t, "report-empty")
		stdout, stderr, err := c.kubectl(t, "report", "-n", "report-empty")
		if err != nil || stdout != "" || stderr != "No PartnerInvitations in namespace report-empty.\n" {
			t.Errorf("report of an empty namespace: %v, stdout %q, stderr %q", err, stdout, stderr)
		}
		stdout, _, err = c.kubectl(t, "report", "-n", "report-empty", "-o", "csv")
		if err != nil || stdout != strings.Join(accessHeader(), ",")+"\n" {
			t.Errorf("-o csv of an empty namespace: %v, %q; want the header", err, stdout)
		}
	})

	for _, bad := range [][]string{{"-o", "json"}, {"extra-arg"}} {
		t.Run("refused "+strings.Join(bad, " "), func(t *testing.T) {
			if _, _, err := c.kubectl(t, append([]string{"report"}, bad...)...); err == nil {
				t.Error("report accepted it")
			}
		})
	}
}
