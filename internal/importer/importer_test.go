package importer_test

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"

	b2bv1alpha1 "github.com/partnerops/partner-operator/api/v1alpha1"
	"github.com/partnerops/partner-operator/internal/importer"
	"github.com/partnerops/partner-operator/internal/manifest"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden from the output")

// render is what the golden files hold: the report as YAML comments, then the manifests of
// the valid rows, so each golden file is itself a valid YAML stream.
func render(t *testing.T, res *importer.Result) []byte {
	t.Helper()
	var b bytes.Buffer
	fmt.Fprintf(&b, "# format: %s\n", res.Format)
	for _, n := range res.Notices {
		fmt.Fprintf(&b, "# warning: %s\n", n)
	}
	for _, p := range res.Problems {
		fmt.Fprintf(&b, "# %s\n", p)
	}
	if err := manifest.Encode(&b, res.Valid()); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func importFile(t *testing.T, path string, opts importer.Options) *importer.Result {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	res, err := importer.Import(f, path, opts)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func importString(t *testing.T, csv string) *importer.Result {
	t.Helper()
	res, err := importer.Import(strings.NewReader(csv), "in.csv", importer.Options{Namespace: "partners"})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func TestGolden(t *testing.T) {
	for _, name := range []string{"seed-2016", "portal-2016", "bulk-invite", "ten-mistakes"} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join("testdata", name+".csv")
			got := render(t, importFile(t, path, importer.Options{Namespace: "partners"}))
			// Running twice gives the same bytes: no map order, no clock.
			if again := render(t, importFile(t, path, importer.Options{Namespace: "partners"})); !bytes.Equal(got, again) {
				t.Fatalf("two runs differ:\n%s\n---\n%s", got, again)
			}
			golden := filepath.Join("testdata", name+".golden")
			if *update {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("output differs from %s (go test -update rewrites it):\n%s", golden, got)
			}
		})
	}
}

func TestSeedRow(t *testing.T) {
	res := importFile(t, filepath.Join("testdata", "seed-2016.csv"), importer.Options{Namespace: "partners"})
	if len(res.Problems) > 0 || res.Format != importer.FormatPortal2016 {
		t.Fatalf("format %s, problems %v", res.Format, res.Problems)
	}
	valid := res.Valid()
	if len(valid) != 1 {
		t.Fatalf("got %d objects, want 1", len(valid))
	}
	p := valid[0]
	if p.Name != "andreas-contoso-com" || p.Namespace != "partners" || p.Spec.Email != "andreas@contoso.com" || p.Spec.DisplayName != "Andreas" {
		t.Errorf("object = %s/%s %+v", p.Namespace, p.Name, p.Spec)
	}
	if a := p.Spec.Access; a == nil || len(a.Applications) != 1 || a.Applications[0].App != "cd3ed3de-93ee-400b-8b19-b61ef44a0f29" || len(a.Groups) != 0 {
		t.Errorf("access = %+v, want the seed's app only", a)
	}
	if m := p.Spec.Message; m == nil || m.Body != "Questions: http://contoso.com" {
		t.Errorf("message = %+v, want the contact line", m)
	}
	if p.Spec.RedirectURL != "" {
		t.Errorf("redirectURL = %q, want it left to the CRD's default", p.Spec.RedirectURL)
	}
}

// Every mistake is reported, one per line, by the line it is on; the good rows stay good.
func TestTenMistakes(t *testing.T) {
	res := importFile(t, filepath.Join("testdata", "ten-mistakes.csv"), importer.Options{Namespace: "partners"})
	var lines []int
	for _, p := range res.Problems {
		lines = append(lines, p.Line)
		if !strings.HasPrefix(p.String(), fmt.Sprintf("testdata/ten-mistakes.csv:%d: ", p.Line)) {
			t.Errorf("problem %q does not start with FILE:LINE", p)
		}
	}
	if want := []int{3, 4, 5, 6, 7, 8, 9, 10, 11, 12}; !slices.Equal(lines, want) {
		t.Errorf("problems on lines %v, want %v:\n%v", lines, want, res.Problems)
	}
	var names []string
	for _, p := range res.Valid() {
		names = append(names, p.Name)
	}
	if want := []string{"andreas-contoso-com", "ida-fabrikam-example"}; !slices.Equal(names, want) {
		t.Errorf("valid = %v, want %v", names, want)
	}
	for _, want := range []string{
		`:4: spec.redirectURL: Invalid value: "http://fabrikam.example/welcome": redirectURL must be an https:// URL with a host, such as https://myapps.microsoft.com`,
		`:6: spec.email: Duplicate value: "ANDREAS@Contoso.com": the same address as line 2`,
	} {
		if !slices.ContainsFunc(res.Problems, func(p importer.Problem) bool { return strings.HasSuffix(p.String(), want) }) {
			t.Errorf("no problem ends with %s", want)
		}
	}
}

// The same rows, however the file was saved, give the same objects.
func TestEncodings(t *testing.T) {
	plain := "Email,DisplayName,InviteAppID,InviteReplyUrl,InviteAppResources,InviteGroupResources,InviteContactUsUrl\n" +
		"anna@fabrikam.example,\"Berg, Anna\",,,,,\"https://contoso.example/contact\"\n" +
		"bob@fabrikam.example,Bob,,,,,\n"
	want := render(t, importString(t, plain))
	for name, in := range map[string]string{
		"BOM":              "\uFEFF" + plain,
		"CRLF":             strings.ReplaceAll(plain, "\n", "\r\n"),
		"BOM and CRLF":     "\uFEFF" + strings.ReplaceAll(plain, "\n", "\r\n"),
		"no final newline": strings.TrimSuffix(plain, "\n"),
		"blank lines":      strings.Replace(plain, "\n", "\n\n,,,,,,\n", 2),
		"header case":      strings.Replace(plain, "Email,DisplayName", "EMAIL, displayname", 1),
	} {
		got := render(t, importString(t, in))
		if !bytes.Equal(got, want) {
			t.Errorf("%s: got\n%s\nwant\n%s", name, got, want)
		}
	}
}

func TestQuotedNewlineKeepsLineNumbers(t *testing.T) {
	res := importString(t, "version:v1.0\r\n"+
		"Email address to invite [inviteeEmail] Required,Redirection url [inviteRedirectURL] Required,Customized invitation message [customizedMessageBody]\r\n"+
		"anna@fabrikam.example,,\"Hello Anna,\r\n\r\nwelcome, \"\"partner\"\".\"\r\n"+
		"bob@fabrikam,,\r\n")
	if len(res.Problems) != 1 || res.Problems[0].Line != 6 || res.Problems[0].Field != "spec.email" {
		t.Fatalf("problems = %v, want one on line 6 for spec.email", res.Problems)
	}
	valid := res.Valid()
	if len(valid) != 1 || valid[0].Spec.Message.Body != "Hello Anna,\n\nwelcome, \"partner\"." {
		t.Errorf("valid = %+v", valid)
	}
	if res.Invitations[0].Line != 3 {
		t.Errorf("first row on line %d, want 3", res.Invitations[0].Line)
	}
}

func TestBulkInvite(t *testing.T) {
	const header = "version:v1.0\nEmail address to invite [inviteeEmail] Required,Redirection url [inviteRedirectURL] Required,Send invitation message (true or false) [sendEmail]\n"
	for _, tc := range []struct {
		name     string
		in       string
		problems []string
		notices  []string
		valid    int
	}{
		{name: "sendEmail", in: header + "a@fabrikam.example,,TRUE\nb@fabrikam.example,,False\nc@fabrikam.example,,maybe\n",
			problems: []string{`in.csv:5: spec.sendInvitationMessage: Invalid value: "maybe": sendEmail must be true or false`}, valid: 2},
		{name: "example row first", in: header + "example@example.com,https://myapps.microsoft.com,TRUE\na@fabrikam.example,,\n",
			notices: []string{"in.csv:3: row: skipped the template's example row (example@example.com); delete it to silence this"}, valid: 1},
		{name: "example label", in: header + "Example:,https://myapps.microsoft.com,TRUE\n",
			notices: []string{"in.csv:3: row: skipped the template's example row (Example:); delete it to silence this"}},
		{name: "example address later is a mistake, not the template's", in: header + "a@fabrikam.example,,\nexample@example.com,,\n", valid: 2},
		{name: "no version line",
			in:      "[inviteeEmail],[inviteRedirectURL]\na@fabrikam.example,https://fabrikam.example\n",
			notices: []string{"in.csv:1: header: no version line (version:v1.0) before the bulk-invite header; reading it as the template"}, valid: 1},
		{name: "other version", in: "Version: v2.0\n[InviteeEmail]\na@fabrikam.example\n",
			notices: []string{`in.csv:1: header: template version "v2.0"; reading it as v1.0`}, valid: 1},
		{name: "unknown column",
			in:      "version:v1.0\n[inviteeEmail],Cost centre [costCentre],Notes\na@fabrikam.example,4711,VIP\n",
			notices: []string{`in.csv:2: header: column 2 "Cost centre [costCentre]" is not one the importer reads; ignored`, `in.csv:2: header: column 3 "Notes" is not one the importer reads; ignored`},
			valid:   1},
		{name: "redirect", in: header + "a@fabrikam.example,http://fabrikam.example,\n",
			problems: []string{`in.csv:3: spec.redirectURL: Invalid value: "http://fabrikam.example": redirectURL must be an https:// URL with a host, such as https://myapps.microsoft.com`}},
		{name: "no email column", in: "version:v1.0\n[inviteRedirectURL]\nhttps://fabrikam.example\n",
			problems: []string{"in.csv:2: header: no [inviteeEmail] column: every row needs the partner's address"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := importString(t, tc.in)
			if res.Format != importer.FormatBulkInvite {
				t.Errorf("format = %s", res.Format)
			}
			checkReport(t, res, tc.problems, tc.notices)
			if got := len(res.Valid()); got != tc.valid {
				t.Errorf("%d valid, want %d", got, tc.valid)
			}
		})
	}
}

func TestHeaders(t *testing.T) {
	for _, tc := range []struct {
		name, in string
		problems []string
	}{
		{"empty", "", []string{"in.csv:1: header: the file is empty; want the classic portal's header"}},
		{"only a BOM and blank lines", "\uFEFF\n\n", []string{"in.csv:1: header: the file is empty"}},
		{"version line only", "version:v1.0\n", []string{"in.csv:1: header: no header row after the version line"}},
		{"unrecognised", "Name,Mail\nAnna,anna@fabrikam.example\n", []string{"in.csv:1: header: unrecognised header; want"}},
		{"no Email column", "DisplayName,InviteAppID\nAnna,\n", []string{"in.csv:1: header: no Email column"}},
		{"semicolons", "Email;DisplayName\nanna@fabrikam.example;Anna\n", []string{`in.csv:1: header: unrecognised header: the file separates its columns with ";"`}},
		{"Email twice", "Email,DisplayName,email\na@fabrikam.example,A,b@fabrikam.example\n", []string{`in.csv:1: header: columns 1 and 3 are both "email"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := importString(t, tc.in)
			if len(res.Problems) != len(tc.problems) {
				t.Fatalf("problems = %v, want %q", res.Problems, tc.problems)
			}
			for i, p := range res.Problems {
				if !strings.HasPrefix(p.String(), tc.problems[i]) {
					t.Errorf("problem %q, want it to start with %q", p, tc.problems[i])
				}
			}
		})
	}
}

func TestRowMistakes(t *testing.T) {
	const header = "Email,DisplayName,InviteAppID,InviteReplyUrl,InviteAppResources,InviteGroupResources,InviteContactUsUrl\n"
	for _, tc := range []struct {
		name, row, want string
	}{
		{"latin-1 text", "anna@fabrikam.example,M\xfcller,,,,,", `in.csv:2: spec.displayName: Invalid value: "M\xfcller": not UTF-8 text; save the file as CSV UTF-8`},
		{"unterminated quote", "anna@fabrikam.example,\"Anna,,,,,", `in.csv:2: csv: extraneous or missing " in quoted-field`},
		{"too many fields", "anna@fabrikam.example,Berg, Anna,,,,,", "in.csv:2: csv: the row has 8 fields, the header 7: a comma in an unquoted field?"},
		{"app not a GUID", "anna@fabrikam.example,Anna,portal,,,,", `in.csv:2: spec.access.applications[0].app: Invalid value: "portal": must be an application's appId or its service principal's object ID (a GUID)`},
		{"51 groups", "anna@fabrikam.example,Anna,,,," + groups(51) + ",", "in.csv:2: spec.access.groups: Too many: 51: must have at most 50 items"},
		{"group twice", "anna@fabrikam.example,Anna,,,,Partners Partners,", `in.csv:2: spec.access.groups[1]: Duplicate value: "Partners"`},
		{"display name only", ",Anna,,,,,", "in.csv:2: spec.email: Required value"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := importString(t, header+tc.row+"\n")
			if len(res.Problems) == 0 || !strings.HasPrefix(res.Problems[0].String(), tc.want) {
				t.Errorf("problems = %q, want the first to start with %q", res.Problems, tc.want)
			}
			if len(res.Valid()) != 0 {
				t.Errorf("a bad row is valid")
			}
		})
	}
}

// A look-alike (mixed-script punycode) domain is a notice, not a refusal: the row stays valid.
func TestLookAlikeDomainNotice(t *testing.T) {
	res := importString(t, "Email,DisplayName\nanna@xn--pple-43d.com,Anna\n")
	checkReport(t, res, nil, []string{"in.csv:2: spec.email: the domain has a punycode label that mixes Cyrillic and Latin letters, as look-alike domains do; check it is the domain you mean"})
	if len(res.Valid()) != 1 {
		t.Errorf("the row is not valid")
	}
}

func groups(n int) string {
	var gs []string
	for i := range n {
		gs = append(gs, fmt.Sprintf("group-%d", i))
	}
	return strings.Join(gs, " ")
}

func TestPortal2016Mapping(t *testing.T) {
	res := importFile(t, filepath.Join("testdata", "portal-2016.csv"), importer.Options{Namespace: "partners"})
	if len(res.Problems) > 0 {
		t.Fatal(res.Problems)
	}
	anna := res.Valid()[0]
	var apps []string
	for _, a := range anna.Spec.Access.Applications {
		apps = append(apps, a.App)
	}
	// InviteAppID and InviteAppResources, each app once however it is spelt.
	if want := []string{"cd3ed3de-93ee-400b-8b19-b61ef44a0f29", "5b1c9f2e-0d7a-4f63-9a0e-3c2b7d8e1f40"}; !slices.Equal(apps, want) {
		t.Errorf("applications = %v, want %v", apps, want)
	}
	if len(anna.Spec.Access.Groups) != 2 || anna.Spec.RedirectURL != "https://portal.contoso.example/welcome" || anna.Spec.DisplayName != "Berg, Anna" {
		t.Errorf("spec = %+v", anna.Spec)
	}
	for _, obj := range res.Valid() {
		if errs := b2bv1alpha1.ValidateSpec(&obj.Spec, field.NewPath("spec")); len(errs) > 0 {
			t.Errorf("%s: %v", obj.Name, errs)
		}
	}
}

func TestPolicies(t *testing.T) {
	f, err := os.Open(filepath.Join("testdata", "policies.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	policies, err := importer.ReadPolicies(f)
	if err != nil {
		t.Fatal(err)
	}
	if len(policies) != 2 {
		t.Fatalf("read %d policies, want 2", len(policies))
	}
	res, err := importer.Import(strings.NewReader(
		"Email,InviteAppID,InviteGroupResources,InviteContactUsUrl\n"+
			"anna@fabrikam.example,cd3ed3de-93ee-400b-8b19-b61ef44a0f29,Partners,\n"+
			"andreas@contoso.com,,,\n"+
			"bob@fabrikam.example,,Admins,\n"+
			"carl@fabrikam.example,5b1c9f2e-0d7a-4f63-9a0e-3c2b7d8e1f40,,\n"+
			"dora@fabrikam.example,,,https://fabrikam.example/contact\n"+
			"emil@fabrikam.example,,,\n"+
			"fritz@fabrikam.example,,,\n"),
		"in.csv", importer.Options{Namespace: "partners", Policies: policies})
	if err != nil {
		t.Fatal(err)
	}
	checkReport(t, res, []string{
		"in.csv:3: spec.email: PartnerAccessPolicy business-partners: rule allowedDomains: @contoso.com is not an allowed domain",
		"in.csv:4: spec.access.groups[0]: PartnerAccessPolicy business-partners: rule allowedGroups: group Admins may not be granted",
		"in.csv:5: spec.access.applications[0]: PartnerAccessPolicy business-partners: rule allowedApplications: application 5b1c9f2e-0d7a-4f63-9a0e-3c2b7d8e1f40 (default access) may not be granted",
		"in.csv:6: spec.message.body: PartnerAccessPolicy quiet: rule allowCustomMessage: a customised invitation message is not allowed",
		// Rows 2 and 7 are the two the namespace may hold; the refused rows do not count.
		"in.csv:8: metadata.namespace: PartnerAccessPolicy business-partners: rule maxInvitationsPerNamespace: namespace partners may hold at most 2 invitations",
	}, nil)
}

func TestReadPoliciesRefuses(t *testing.T) {
	for name, in := range map[string]string{
		"nothing":       "# just a comment\n---\n",
		"another kind":  "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n",
		"unknown field": "apiVersion: b2b.partnerops.io/v1alpha1\nkind: PartnerAccessPolicy\nmetadata:\n  name: x\nspec:\n  namespaceSelector: {}\n  allowedDomain: [x.example]\n",
		"not YAML":      "apiVersion: [\n",
	} {
		if _, err := importer.ReadPolicies(strings.NewReader(in)); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func checkReport(t *testing.T, res *importer.Result, problems, notices []string) {
	t.Helper()
	for _, c := range []struct {
		what      string
		got       []importer.Problem
		wantLines []string
	}{{"problems", res.Problems, problems}, {"notices", res.Notices, notices}} {
		var got []string
		for _, p := range c.got {
			got = append(got, p.String())
		}
		if !slices.Equal(got, c.wantLines) {
			t.Errorf("%s:\n  %s\nwant\n  %s", c.what, strings.Join(got, "\n  "), strings.Join(c.wantLines, "\n  "))
		}
	}
}

// With a tenant, every object names it, and the policies judge the rows with it.
func TestTenantRef(t *testing.T) {
	ref := &b2bv1alpha1.TenantReference{Kind: b2bv1alpha1.KindClusterGraphTenant, Name: "fabrikam-prod"}
	res := importFile(t, filepath.Join("testdata", "seed-2016.csv"), importer.Options{Namespace: "partners", TenantRef: ref})
	valid := res.Valid()
	if len(valid) != 1 || valid[0].Spec.TenantRef == nil || *valid[0].Spec.TenantRef != *ref || valid[0].Spec.TenantRef == ref {
		t.Fatalf("tenantRef of the imported objects: %+v", valid)
	}
	onlyDefault := b2bv1alpha1.PartnerAccessPolicy{ObjectMeta: metav1.ObjectMeta{Name: "default-only"},
		Spec: b2bv1alpha1.PartnerAccessPolicySpec{AllowedApplications: []b2bv1alpha1.ApplicationRule{{App: "*"}}, AllowCustomMessage: true}}
	res = importFile(t, filepath.Join("testdata", "seed-2016.csv"), importer.Options{Namespace: "partners", TenantRef: ref,
		Policies: []b2bv1alpha1.PartnerAccessPolicy{onlyDefault}})
	if len(res.Valid()) != 0 || len(res.Problems) == 0 || !strings.Contains(res.Problems[0].Message, "allowedTenants") {
		t.Fatalf("a policy without the tenant: valid %d, problems %v", len(res.Valid()), res.Problems)
	}
}
