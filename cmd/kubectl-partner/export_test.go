package main

import (
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	b2bv1alpha1 "github.com/partnerops/partner-operator/api/v1alpha1"
	"github.com/partnerops/partner-operator/internal/graph/emulator"
	"github.com/partnerops/partner-operator/internal/manifest"
)

func TestExportThousandGuests(t *testing.T) {
	g := startGraph(t)
	created := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	var want []string
	for i := range 1000 {
		mail := fmt.Sprintf("guest-%04d@partner%d.example", i, i%4)
		state := emulator.StateAccepted
		if i%5 == 0 {
			state = emulator.StatePendingAcceptance
		}
		g.emu.AddUser(emulator.User{DisplayName: fmt.Sprintf("Guest %04d", i), Mail: mail, UserType: "Guest",
			CreationType: "Invitation", ExternalUserState: state, CreatedDateTime: created.Add(time.Duration(i) * time.Hour)})
		want = append(want, mail)
		if i%200 == 0 {
			// Members in between, some at a partner's domain: never exported.
			g.emu.AddUser(emulator.User{DisplayName: "Staff", Mail: fmt.Sprintf("staff-%d@partner%d.example", i, i%4), UserType: "Member"})
		}
	}
	dir := filepath.Join(t.TempDir(), "guests")

	_, stderr, err := g.export(t, "-n", "partners", "--out", dir)
	if err != nil {
		t.Fatalf("export: %v\n%s", err, stderr)
	}
	pages := 0
	for _, r := range g.emu.Requests() {
		if r.Method == "GET" && r.Path == "/users" {
			pages++
			q, _ := url.ParseQuery(r.RawQuery)
			if q.Get("$filter") != "userType eq 'Guest'" || q.Get("$top") != "999" {
				t.Errorf("GET /users?%s: want $filter userType eq 'Guest' and $top 999", r.RawQuery)
			}
		}
	}
	if pages < 2 {
		t.Errorf("%d pages of users read from Graph, want more than one", pages)
	}
	for _, line := range []string{"export: 999 guests read (page 1)", "export: 1000 guests read (page 2)", "export: 1000 guests exported to " + dir + ", namespace partners"} {
		if !strings.Contains(stderr, line+"\n") {
			t.Errorf("stderr lacks %q:\n%s", line, stderr)
		}
	}

	files, err := filepath.Glob(filepath.Join(dir, "*.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if len(files) != 1001 {
		t.Fatalf("%d files, want 1000 manifests and a kustomization.yaml", len(files))
	}
	var got []*b2bv1alpha1.PartnerInvitation
	for _, f := range files {
		if filepath.Base(f) == manifest.KustomizationFile {
			continue
		}
		raw, err := os.Open(f)
		if err != nil {
			t.Fatal(err)
		}
		objs := decodeInvitations(t, raw)
		raw.Close()
		if len(objs) != 1 || objs[0].Name+".yaml" != filepath.Base(f) {
			t.Fatalf("%s holds %d objects, want its own one", f, len(objs))
		}
		got = append(got, objs[0])
	}
	gotEmails := emails(got)
	slices.Sort(gotEmails)
	if !slices.Equal(gotEmails, want) {
		t.Errorf("exported addresses differ from the guests' (%d exported, %d guests)", len(gotEmails), len(want))
	}
	wantNames := manifest.Names(want)
	slices.Sort(wantNames)
	for i, p := range got {
		if p.Name != wantNames[i] {
			t.Fatalf("object %d is named %q, want manifest.Names' %q", i, p.Name, wantNames[i])
		}
		if p.Namespace != "partners" || p.Spec.DeletionPolicy != b2bv1alpha1.DeletionPolicyOrphan ||
			p.Spec.SendInvitationMessage == nil || *p.Spec.SendInvitationMessage || p.Spec.Access != nil ||
			!strings.HasPrefix(p.Spec.DisplayName, "Guest ") {
			t.Fatalf("manifest %s: %+v, want namespace partners, deletionPolicy Orphan, no invitation message, a display name and no access", p.Name, p.Spec)
		}
	}

	t.Run("import of the same addresses names the same objects", func(t *testing.T) {
		var csv strings.Builder
		csv.WriteString("version:v1.0\nEmail address to invite [inviteeEmail] Required,Redirection url [inviteRedirectURL] Required\n")
		for i := len(want) - 1; i >= 0; i-- { // another order: names depend on the addresses only
			fmt.Fprintf(&csv, "%s,https://myapps.microsoft.com\n", strings.ToUpper(want[i][:1])+want[i][1:])
		}
		file := filepath.Join(t.TempDir(), "bulk-invite.csv")
		if err := os.WriteFile(file, []byte(csv.String()), 0o600); err != nil {
			t.Fatal(err)
		}
		imported := filepath.Join(t.TempDir(), "imported")
		if _, stderr, err := runPlugin(t, "import", file, "-n", "partners", "--out", imported); err != nil {
			t.Fatalf("import: %v\n%s", err, stderr)
		}
		exportedFiles, importedFiles := fileNames(t, dir), fileNames(t, imported)
		if !slices.Equal(exportedFiles, importedFiles) {
			t.Errorf("import wrote %d files, export %d; the names differ", len(importedFiles), len(exportedFiles))
		}
	})

	t.Run("again: nothing overwritten without --overwrite, the same bytes with it", func(t *testing.T) {
		before := snapshot(t, dir)
		if _, _, err := g.export(t, "-n", "partners", "--out", dir); err == nil || !strings.Contains(err.Error(), "not overwriting") {
			t.Errorf("second export without --overwrite: error %v, want a refusal", err)
		}
		if _, stderr, err := g.export(t, "-n", "partners", "--out", dir, "--overwrite"); err != nil {
			t.Fatalf("export --overwrite: %v\n%s", err, stderr)
		}
		if diff := cmp.Diff(before, snapshot(t, dir)); diff != "" {
			t.Errorf("a second export changed the files (-first +second):\n%s", diff)
		}
	})
}

// fileNames lists dir's files, sorted.
func fileNames(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		out = append(out, e.Name())
	}
	return out
}

// snapshot reads every file of dir.
func snapshot(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		out[path] = string(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestExportFilters(t *testing.T) {
	g := startGraph(t)
	day := func(d int) time.Time { return time.Date(2025, 1, d, 9, 0, 0, 0, time.UTC) }
	for _, u := range []emulator.User{
		{Mail: "ann@fabrikam.com", ExternalUserState: emulator.StateAccepted, CreatedDateTime: day(2)},
		{Mail: "bob@fabrikam.com", ExternalUserState: emulator.StatePendingAcceptance, CreatedDateTime: day(10)},
		{Mail: "cy@Fabrikam.COM", ExternalUserState: emulator.StateAccepted, CreatedDateTime: day(20)},
		{Mail: "dee@contoso.com", OtherMails: []string{"dee@fabrikam.com"}, ExternalUserState: emulator.StatePendingAcceptance, CreatedDateTime: day(21)},
		{Mail: "eve@eu.fabrikam.com", ExternalUserState: emulator.StateAccepted, CreatedDateTime: day(22)},
	} {
		u.UserType, u.CreationType = "Guest", "Invitation"
		g.emu.AddUser(u)
	}
	g.emu.AddUser(emulator.User{Mail: "boss@fabrikam.com", UserType: "Member", CreatedDateTime: day(15)})

	tests := []struct {
		args       []string
		want       []string
		wantFilter string
	}{
		{nil, []string{"ann@fabrikam.com", "bob@fabrikam.com", "cy@Fabrikam.COM", "dee@contoso.com", "eve@eu.fabrikam.com"}, "userType eq 'Guest'"},
		{[]string{"--domain", "fabrikam.com"}, []string{"ann@fabrikam.com", "bob@fabrikam.com", "cy@Fabrikam.COM", "dee@contoso.com"}, "userType eq 'Guest'"},
		{[]string{"--state", "accepted"}, []string{"ann@fabrikam.com", "cy@Fabrikam.COM", "eve@eu.fabrikam.com"},
			"userType eq 'Guest' and externalUserState eq 'Accepted'"},
		{[]string{"--created-after", "2025-01-10"}, []string{"bob@fabrikam.com", "cy@Fabrikam.COM", "dee@contoso.com", "eve@eu.fabrikam.com"},
			"userType eq 'Guest' and createdDateTime ge 2025-01-10T00:00:00Z"},
		{[]string{"--created-after", "2025-01-10T10:00:00+01:00", "--state", "PendingAcceptance", "--domain", "@FABRIKAM.com"},
			[]string{"bob@fabrikam.com", "dee@contoso.com"},
			"userType eq 'Guest' and externalUserState eq 'PendingAcceptance' and createdDateTime ge 2025-01-10T09:00:00Z"},
	}
	for _, tc := range tests {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			g.emu.ResetRequests()
			stdout, stderr, err := g.export(t, tc.args...)
			if err != nil {
				t.Fatalf("export: %v\n%s", err, stderr)
			}
			got := emails(decodeInvitations(t, strings.NewReader(stdout)))
			slices.Sort(got)
			if !slices.Equal(got, tc.want) {
				t.Errorf("exported %v, want %v", got, tc.want)
			}
			for _, r := range g.emu.Requests() {
				if q, _ := url.ParseQuery(r.RawQuery); q.Get("$filter") != tc.wantFilter {
					t.Errorf("$filter %q, want %q", q.Get("$filter"), tc.wantFilter)
				}
			}
		})
	}

	t.Run("namespace default and output formats", func(t *testing.T) {
		stdout, _, err := g.export(t, "--domain", "contoso.com")
		if objs := decodeInvitations(t, strings.NewReader(stdout)); err != nil || len(objs) != 1 || objs[0].Namespace != "default" {
			t.Errorf("without -n or a kubeconfig: %v, %+v; want one object in namespace default", err, objs)
		}
		stdout, _, err = g.export(t, "--domain", "contoso.com", "-o", "name")
		if want := "partnerinvitation.b2b.partnerops.io/" + manifest.Names([]string{"dee@contoso.com"})[0] + "\n"; err != nil || stdout != want {
			t.Errorf("-o name: %q, %v; want %q", stdout, err, want)
		}
		stdout, _, err = g.export(t, "--domain", "contoso.com", "-o", "json", "-n", "x")
		if err != nil || !strings.Contains(stdout, `"kind": "List"`) || !strings.Contains(stdout, `"email": "dee@contoso.com"`) {
			t.Errorf("-o json: %v\n%s", err, stdout)
		}
	})

	for _, bad := range [][]string{
		{"--state", "Pending"},
		{"--created-after", "yesterday"},
		{"--domain", "a@b.com"},
		{"-o", "table"},
		{"--out", t.TempDir(), "-o", "json"},
		{"--tenant-size", "huge"},
	} {
		t.Run("refused "+strings.Join(bad, " "), func(t *testing.T) {
			g.emu.ResetRequests()
			if _, _, err := g.export(t, bad...); err == nil {
				t.Error("export accepted it")
			}
			if n := len(g.emu.Requests()); n != 0 {
				t.Errorf("%d Graph requests before the flags were checked", n)
			}
		})
	}
}

func TestExportEdgeCases(t *testing.T) {
	g := startGraph(t)
	first := g.emu.AddUser(emulator.User{Mail: "jane@fabrikam.com", UserType: "Guest"})
	again := g.emu.AddUser(emulator.User{OtherMails: []string{"JANE@fabrikam.com"}, UserType: "Guest"})
	g.emu.AddUser(emulator.User{DisplayName: "Only other mails", OtherMails: []string{"", "joe@fabrikam.com"}, UserType: "Guest"})
	none := g.emu.AddUser(emulator.User{DisplayName: "No address", UserType: "Guest"})
	bad := g.emu.AddUser(emulator.User{Mail: "not-an-address", UserType: "Guest"})

	stdout, stderr, err := g.export(t)
	if err == nil || !strings.Contains(err.Error(), "1 guests could not be exported") {
		t.Errorf("error %v, want the invalid guest counted", err)
	}
	objs := decodeInvitations(t, strings.NewReader(stdout))
	if got := emails(objs); !slices.Equal(got, []string{"jane@fabrikam.com", "joe@fabrikam.com"}) {
		t.Errorf("exported %v, want jane (once) and joe (from otherMails)", got)
	}
	for _, want := range []string{
		"export: 1 guests skipped, they have no mail address: " + none.ID,
		fmt.Sprintf("export: duplicate address JANE@fabrikam.com: guest %s exported, guest %s not", first.ID, again.ID),
		"export: not exported: guest " + bad.ID + " (not-an-address): spec.email",
	} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
}

func TestExportWithAccess(t *testing.T) {
	g := startGraph(t)
	jane := g.emu.AddUser(emulator.User{Mail: "jane@fabrikam.com", UserType: "Guest"})
	joe := g.emu.AddUser(emulator.User{Mail: "joe@fabrikam.com", UserType: "Guest"})
	partners := g.emu.AddGroup(emulator.Group{DisplayName: "Partners"})
	project := g.emu.AddGroup(emulator.Group{DisplayName: "Project X", Kind: emulator.GroupMicrosoft365})
	dynamic := g.emu.AddGroup(emulator.Group{DisplayName: "All guests", Dynamic: true})
	synced := g.emu.AddGroup(emulator.Group{DisplayName: "From AD", OnPremises: true})
	list := g.emu.AddGroup(emulator.Group{DisplayName: "Newsletter", Kind: emulator.GroupDistribution})
	for _, m := range []struct{ group, user string }{
		{project.ID, jane.ID}, {partners.ID, jane.ID}, {dynamic.ID, jane.ID}, {dynamic.ID, joe.ID}, {synced.ID, jane.ID}, {list.ID, joe.ID},
	} {
		if err := g.emu.AddGroupMemberOutOfBand(m.group, m.user); err != nil {
			t.Fatal(err)
		}
	}
	portal := g.emu.AddServicePrincipal(emulator.ServicePrincipal{DisplayName: "Portal", AppRoles: []emulator.AppRole{{Value: "Partner.Read"}}})
	wiki := g.emu.AddServicePrincipal(emulator.ServicePrincipal{DisplayName: "Wiki"})
	g.emu.AssignAppRoleOutOfBand(emulator.AppRoleAssignment{PrincipalID: jane.ID, ResourceID: portal.ID, AppRoleID: portal.AppRoles[0].ID})
	g.emu.AssignAppRoleOutOfBand(emulator.AppRoleAssignment{PrincipalID: jane.ID, ResourceID: wiki.ID, AppRoleID: emulator.DefaultAppRoleID})
	g.emu.AssignAppRoleOutOfBand(emulator.AppRoleAssignment{PrincipalID: partners.ID, ResourceID: wiki.ID, AppRoleID: emulator.DefaultAppRoleID})

	stdout, stderr, err := g.export(t, "--with-access", "-n", "fabrikam")
	if err != nil {
		t.Fatalf("export: %v\n%s", err, stderr)
	}
	objs := decodeInvitations(t, strings.NewReader(stdout))
	if len(objs) != 2 {
		t.Fatalf("%d objects, want 2", len(objs))
	}
	byEmail := map[string]*b2bv1alpha1.PartnerInvitation{}
	for _, o := range objs {
		byEmail[o.Spec.Email] = o
	}
	wantGroups := []string{partners.ID, project.ID}
	slices.Sort(wantGroups)
	wantApps := []b2bv1alpha1.ApplicationAccess{{App: portal.ID, Role: portal.AppRoles[0].ID}, {App: wiki.ID}}
	slices.SortFunc(wantApps, func(a, b b2bv1alpha1.ApplicationAccess) int { return strings.Compare(a.App, b.App) })
	want := &b2bv1alpha1.PartnerAccess{Groups: wantGroups, Applications: wantApps}
	if diff := cmp.Diff(want, byEmail["jane@fabrikam.com"].Spec.Access); diff != "" {
		t.Errorf("jane's access (-want +got):\n%s", diff)
	}
	if a := byEmail["joe@fabrikam.com"].Spec.Access; a != nil {
		t.Errorf("joe's access = %+v, want none (dynamic and distribution groups only)", a)
	}
	for _, line := range []string{
		"export: group " + dynamic.ID + " (All guests) left out, dynamic membership: 2 guests are members",
		"export: group " + synced.ID + " (From AD) left out, synchronised from on-premises: 1 guests are members",
		"export: group " + list.ID + " (Newsletter) left out, distribution list (managed in Exchange): 1 guests are members",
		"export: 1 app role assignments held through a group left out",
		"must allow the 2 groups (allowedGroups) and 2 applications (allowedApplications)",
	} {
		if !strings.Contains(stderr, line) {
			t.Errorf("stderr lacks %q:\n%s", line, stderr)
		}
	}
	for _, id := range []string{jane.ID, joe.ID} {
		for _, path := range []string{"/users/" + id + "/memberOf", "/users/" + id + "/appRoleAssignments"} {
			if n := g.emu.Count("GET", path); n != 1 {
				t.Errorf("GET %s sent %d times, want 1", path, n)
			}
		}
	}

	t.Run("a permission missing", func(t *testing.T) {
		g.emu.SetGrantedPermissions("User.Read.All")
		defer g.emu.SetGrantedPermissions()
		_, _, err := g.export(t, "--with-access")
		if err == nil || !strings.Contains(err.Error(), "403") || !strings.Contains(err.Error(), "list memberships") {
			t.Errorf("error %v, want the 403 of list memberships", err)
		}
	})
}

// With the operator's application, the export shows whose each guest is; --hand-over-to
// rewrites the records on purpose, so the named installation takes the guests as its own.
func TestExportOwnershipAndHandOver(t *testing.T) {
	g := startGraph(t)
	const operatorApp = "partner-operator-prod"
	owner := g.emu.RegisterExtensionProperty(operatorApp, "partnerOwner")
	object := g.emu.RegisterExtensionProperty(operatorApp, "partnerObject")
	origin := g.emu.RegisterExtensionProperty(operatorApp, "partnerOrigin")
	g.emu.RegisterExtensionProperty(operatorApp, "partnerObjectUID")
	staging := g.emu.AddUser(emulator.User{Mail: "sam@fabrikam.com", UserType: "Guest", CreationType: "Invitation"})
	for name, value := range map[string]string{owner: "staging", object: "team-a/sam", origin: "Invited"} {
		if err := g.emu.SetUserExtension(staging.ID, name, value); err != nil {
			t.Fatal(err)
		}
	}
	unowned := g.emu.AddUser(emulator.User{Mail: "una@fabrikam.com", UserType: "Guest"})

	stdout, stderr, err := g.export(t, "-n", "partners", "--operator-app-id", operatorApp)
	if err != nil {
		t.Fatalf("export: %v\n%s", err, stderr)
	}
	objs := decodeInvitations(t, strings.NewReader(stdout))
	annotations := map[string]string{}
	for _, o := range objs {
		annotations[o.Spec.Email] = o.Annotations[annotationRecordedOwner]
	}
	if annotations["sam@fabrikam.com"] != "staging" || annotations["una@fabrikam.com"] != "" {
		t.Errorf("recorded owners %v, want sam's staging and none for una", annotations)
	}
	if !strings.Contains(stderr, `1 of them recorded as owned by partner-operator installation "staging"`) {
		t.Errorf("stderr does not name the owner:\n%s", stderr)
	}
	if u, _ := g.emu.User(staging.ID); u.Extensions[owner] != "staging" {
		t.Error("an export without --hand-over-to changed a record")
	}

	if _, _, err := g.export(t, "--hand-over-to", "production"); err == nil || !strings.Contains(err.Error(), "--operator-app-id") {
		t.Errorf("--hand-over-to without the application: %v", err)
	}
	stdout, stderr, err = g.export(t, "-n", "partners", "--operator-app-id", operatorApp, "--hand-over-to", "production")
	if err != nil {
		t.Fatalf("hand over: %v\n%s", err, stderr)
	}
	objs = decodeInvitations(t, strings.NewReader(stdout))
	for _, o := range objs {
		u, _ := g.emu.User(map[string]string{"sam@fabrikam.com": staging.ID, "una@fabrikam.com": unowned.ID}[o.Spec.Email])
		if u.Extensions[owner] != "production" || u.Extensions[object] != "partners/"+o.Name {
			t.Errorf("%s: record %v after the hand-over, want production and partners/%s", o.Spec.Email, u.Extensions, o.Name)
		}
	}
	if u, _ := g.emu.User(staging.ID); u.Extensions[origin] != "Invited" {
		t.Errorf("sam's origin %q, want Invited kept", u.Extensions[origin])
	}
	if u, _ := g.emu.User(unowned.ID); u.Extensions[origin] != "Adopted" {
		t.Errorf("una's origin %q, want Adopted (the operator never invited her)", u.Extensions[origin])
	}
	if !strings.Contains(stderr, "2 guests' ownership records handed over") {
		t.Errorf("stderr:\n%s", stderr)
	}
}

// --organizations reads the partner configurations made in the portal into PartnerOrganizations
// that adopt them as they are and orphan them on deletion, so applying one changes nothing.
func TestExportOrganizations(t *testing.T) {
	g := startGraph(t)
	fabrikam := g.emu.AddExternalTenant(emulator.ExternalTenant{TenantID: "9C5D131D-B1C3-4FC4-9E3F-C6557947D551",
		DisplayName: "Fabrikam", DefaultDomain: "Fabrikam.com"})
	if err := g.emu.PatchPartner(fabrikam.TenantID, `{"inboundTrust":{"isMfaAccepted":true}}`); err != nil {
		t.Fatal(err)
	}
	stdout, stderr, err := g.export(t, "--organizations")
	if err != nil {
		t.Fatalf("export: %v\n%s", err, stderr)
	}
	want := `apiVersion: b2b.partnerops.io/v1alpha1
kind: PartnerOrganization
metadata:
  name: fabrikam.com
spec:
  adoption: Adopt
  deletionPolicy: Orphan
  domains:
  - fabrikam.com
  inboundTrust:
    mfaAccepted: true
  tenantID: 9c5d131d-b1c3-4fc4-9e3f-c6557947d551
`
	if stdout != want {
		t.Errorf("stdout:\n%s\nwant\n%s", stdout, want)
	}
	if !strings.Contains(stderr, "1 partner configurations exported as PartnerOrganizations") {
		t.Errorf("stderr: %s", stderr)
	}
}
