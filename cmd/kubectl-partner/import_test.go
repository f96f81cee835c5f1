package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"k8s.io/cli-runtime/pkg/genericiooptions"
	"sigs.k8s.io/controller-runtime/pkg/client"

	b2bv1alpha1 "github.com/partnerops/partner-operator/api/v1alpha1"
)

// The seed document's CSV, as the classic portal took it in 2016.
const seedCSV = "Email,DisplayName,InviteAppID,InviteReplyUrl,InviteAppResources,InviteGroupResources,InviteContactUsUrl\n" +
	"andreas@contoso.com,Andreas,cd3ed3de-93ee-400b-8b19-b61ef44a0f29,,,,http://contoso.com\n"

// tenMistakes is the importer's fixture: ten rows with a different mistake each, on lines 3 to
// 12, and two good rows.
var tenMistakes = filepath.Join("..", "..", "internal", "importer", "testdata", "ten-mistakes.csv")

// noKubeconfig keeps the developer's kubeconfig out of a test that needs no cluster.
func noKubeconfig(t *testing.T) {
	t.Setenv("KUBECONFIG", filepath.Join(t.TempDir(), "no-kubeconfig"))
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestImportSeed(t *testing.T) {
	noKubeconfig(t)
	seed := writeFile(t, "seed.csv", seedCSV)
	stdout, stderr, err := runPlugin(t, "import", seed, "-n", "partners")
	if err != nil || stderr != "" {
		t.Fatalf("import: %v\n%s", err, stderr)
	}
	want := `apiVersion: b2b.partnerops.io/v1alpha1
kind: PartnerInvitation
metadata:
  name: andreas-contoso-com
  namespace: partners
spec:
  access:
    applications:
    - app: cd3ed3de-93ee-400b-8b19-b61ef44a0f29
  displayName: Andreas
  email: andreas@contoso.com
  message:
    body: 'Questions: http://contoso.com'
`
	if stdout != want {
		t.Errorf("stdout:\n%s\nwant\n%s", stdout, want)
	}

	// The namespace defaults as kubectl's does; -o json and -o name print the same object.
	stdout, _, err = runPlugin(t, "import", seed, "-o", "json")
	var list struct {
		Kind  string
		Items []b2bv1alpha1.PartnerInvitation
	}
	if err != nil || json.Unmarshal([]byte(stdout), &list) != nil || list.Kind != "List" || len(list.Items) != 1 ||
		list.Items[0].Namespace != "default" || list.Items[0].Spec.Message.Body != "Questions: http://contoso.com" {
		t.Errorf("-o json: %v\n%s", err, stdout)
	}
	if stdout, _, err = runPlugin(t, "import", seed, "-o", "name"); err != nil || stdout != "partnerinvitation.b2b.partnerops.io/andreas-contoso-com\n" {
		t.Errorf("-o name: %v %q", err, stdout)
	}
}

func TestImportTenMistakes(t *testing.T) {
	noKubeconfig(t)
	out := filepath.Join(t.TempDir(), "guests")
	stdout, stderr, err := runPlugin(t, "import", tenMistakes, "--out", out)
	if err == nil {
		t.Fatal("import of a file with mistakes succeeded")
	}
	if got := problemLines(t, stderr); !slices.Equal(got, []int{3, 4, 5, 6, 7, 8, 9, 10, 11, 12}) {
		t.Errorf("problems on lines %v, want 3 to 12:\n%s", got, stderr)
	}
	if _, err := os.Stat(out); !errors.Is(err, fs.ErrNotExist) || stdout != "" {
		t.Errorf("something was written (%v, stdout %q)", err, stdout)
	}
	if !strings.Contains(err.Error(), "10 problems; nothing written") {
		t.Errorf("error = %v", err)
	}

	// --skip-invalid writes the two good rows and still fails.
	_, stderr, err = runPlugin(t, "import", tenMistakes, "--out", out, "--skip-invalid")
	if err == nil || len(problemLines(t, stderr)) != 10 {
		t.Fatalf("--skip-invalid: %v\n%s", err, stderr)
	}
	files, _ := os.ReadDir(out)
	var names []string
	for _, f := range files {
		names = append(names, f.Name())
	}
	if want := []string{"andreas-contoso-com.yaml", "ida-fabrikam-example.yaml", "kustomization.yaml"}; !slices.Equal(names, want) {
		t.Errorf("--skip-invalid wrote %v, want %v", names, want)
	}
}

// problemLines returns the line numbers of the FILE:LINE: lines on stderr.
func problemLines(t *testing.T, stderr string) []int {
	t.Helper()
	re := regexp.MustCompile(`(?m)^\S*ten-mistakes\.csv:(\d+): \S+: `)
	var lines []int
	for _, m := range re.FindAllStringSubmatch(stderr, -1) {
		n, _ := strconv.Atoi(m[1])
		lines = append(lines, n)
	}
	return lines
}

func TestImportOverwrite(t *testing.T) {
	noKubeconfig(t)
	seed := writeFile(t, "seed.csv", seedCSV)
	out := filepath.Join(t.TempDir(), "guests")
	if _, stderr, err := runPlugin(t, "import", seed, "-n", "partners", "--out", out); err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	file := filepath.Join(out, "andreas-contoso-com.yaml")
	first, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}

	// Someone edited the file: a second import must not undo that silently.
	if err := os.WriteFile(file, []byte("# edited\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, _, err = runPlugin(t, "import", seed, "-n", "partners", "--out", out)
	if err == nil || !strings.Contains(err.Error(), "andreas-contoso-com.yaml") || !strings.Contains(err.Error(), "--overwrite") {
		t.Errorf("import over existing files: %v, want an error naming them", err)
	}
	if got, _ := os.ReadFile(file); string(got) != "# edited\n" {
		t.Errorf("the edited file was replaced without --overwrite:\n%s", got)
	}

	// With --overwrite the file is as the first run wrote it, byte for byte.
	if _, stderr, err := runPlugin(t, "import", seed, "-n", "partners", "--out", out, "--overwrite"); err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	if got, _ := os.ReadFile(file); !bytes.Equal(got, first) {
		t.Errorf("--overwrite wrote\n%s\nthe first run\n%s", got, first)
	}
}

func TestImportPolicy(t *testing.T) {
	noKubeconfig(t)
	seed := writeFile(t, "seed.csv", seedCSV)
	policy := writeFile(t, "policy.yaml", `apiVersion: b2b.partnerops.io/v1alpha1
kind: PartnerAccessPolicy
metadata:
  name: fabrikam-only
spec:
  namespaceSelector: {}
  allowedDomains: [fabrikam.example]
  allowedApplications:
  - app: "*"
  allowCustomMessage: true
`)
	stdout, stderr, err := runPlugin(t, "import", seed, "--policy", policy)
	want := "seed.csv:2: spec.email: PartnerAccessPolicy fabrikam-only: rule allowedDomains: @contoso.com is not an allowed domain\n"
	if err == nil || stdout != "" || !strings.HasSuffix(stderr, want) {
		t.Errorf("import --policy: %v\nstdout %q\nstderr %q\nwant it to end with %q", err, stdout, stderr, want)
	}

	bad := writeFile(t, "bad.yaml", "apiVersion: v1\nkind: ConfigMap\n")
	if _, _, err := runPlugin(t, "import", seed, "--policy", bad); err == nil || !strings.Contains(err.Error(), "--policy") {
		t.Errorf("a policy file without policies: %v", err)
	}
}

func TestImportFlagsAndInput(t *testing.T) {
	noKubeconfig(t)
	seed := writeFile(t, "seed.csv", seedCSV)
	for _, args := range [][]string{
		{"import"},
		{"import", seed, "-o", "wide"},
		{"import", seed, "--out", t.TempDir(), "-o", "json"},
		{"import", filepath.Join(t.TempDir(), "missing.csv")},
	} {
		if _, _, err := runPlugin(t, args...); err == nil {
			t.Errorf("%v succeeded", args)
		}
	}

	stdout, _, err := runPlugin(t, "import", "--help")
	if err != nil || !strings.Contains(stdout, "Examples:") || !strings.Contains(stdout, "--server-dry-run") {
		t.Errorf("--help: %v\n%s", err, stdout)
	}

	// "-" reads stdin, the way kubectl apply -f - does.
	var out, errOut bytes.Buffer
	cmd := newRootCommand(genericiooptions.IOStreams{In: strings.NewReader("\uFEFF" + strings.ReplaceAll(seedCSV, "\n", "\r\n")), Out: &out, ErrOut: &errOut})
	cmd.SetArgs([]string{"import", "-", "-o", "name"})
	if err := cmd.ExecuteContext(context.Background()); err != nil || out.String() != "partnerinvitation.b2b.partnerops.io/andreas-contoso-com\n" {
		t.Errorf("import -: %v %q %q", err, out.String(), errOut.String())
	}
}

// --server-dry-run asks the cluster about every valid row and creates nothing.
func TestImportServerDryRun(t *testing.T) {
	c := cluster(t)
	c.namespace(t, "import-dry-run")
	existing := c.invitation(t, "import-dry-run", "bob-fabrikam-example", nil)
	csv := writeFile(t, "guests.csv", "Email,DisplayName\n"+
		"anna@fabrikam.example,Anna\n"+
		"bob@fabrikam.example,Bob\n")

	stdout, stderr, err := c.kubectl(t, "import", csv, "-n", "import-dry-run", "--server-dry-run")
	want := `guests.csv:3: server: partnerinvitations.b2b.partnerops.io "bob-fabrikam-example" already exists`
	if err == nil || stdout != "" || !strings.Contains(stderr, want) {
		t.Errorf("import --server-dry-run: %v\nstdout %q\nstderr %q\nwant %s", err, stdout, stderr, want)
	}
	if err := c.client.Delete(context.Background(), existing); err != nil {
		t.Fatal(err)
	}
	if stdout, stderr, err = c.kubectl(t, "import", csv, "-n", "import-dry-run", "--server-dry-run", "-o", "name"); err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	if strings.Count(stdout, "\n") != 2 {
		t.Errorf("stdout = %q, want both names", stdout)
	}
	var list b2bv1alpha1.PartnerInvitationList
	if err := c.client.List(context.Background(), &list, client.InNamespace("import-dry-run")); err != nil {
		t.Fatal(err)
	}
	if len(list.Items) != 0 {
		t.Errorf("the dry run created %d objects", len(list.Items))
	}
}

// --organizations declares one PartnerOrganization per domain, beside the invitations, for the
// cluster owner to review; a namespace's GraphTenant cannot hold one.
func TestImportOrganizations(t *testing.T) {
	noKubeconfig(t)
	csv := writeFile(t, "two.csv", seedCSV+"maria@Contoso.com,Maria,,,,,\nli@fabrikam.example,Li,,,,,\n")
	stdout, stderr, err := runPlugin(t, "import", csv, "-n", "partners", "--organizations", "--tenant", "ClusterGraphTenant/prod", "-o", "name")
	if err != nil {
		t.Fatalf("import: %v\n%s", err, stderr)
	}
	for _, want := range []string{"partnerorganization.b2b.partnerops.io/contoso.com\n", "partnerorganization.b2b.partnerops.io/fabrikam.example\n"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("missing %q in\n%s", want, stdout)
		}
	}
	if n := strings.Count(stdout, "partnerorganization."); n != 2 {
		t.Errorf("%d organizations for two domains:\n%s", n, stdout)
	}
	out := filepath.Join(t.TempDir(), "partners")
	if _, stderr, err := runPlugin(t, "import", csv, "-n", "partners", "--organizations", "--tenant", "ClusterGraphTenant/prod", "--out", out); err != nil {
		t.Fatalf("import --out: %v\n%s", err, stderr)
	}
	raw, err := os.ReadFile(filepath.Join(out, "contoso.com.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	want := "apiVersion: b2b.partnerops.io/v1alpha1\nkind: PartnerOrganization\nmetadata:\n  name: contoso.com\nspec:\n  domains:\n  - contoso.com\n  tenantRef:\n    kind: ClusterGraphTenant\n    name: prod\n"
	if string(raw) != want {
		t.Errorf("contoso.com.yaml:\n%s\nwant\n%s", raw, want)
	}
	if _, _, err := runPlugin(t, "import", csv, "-n", "partners", "--organizations", "--tenant", "GraphTenant/own"); err == nil ||
		!strings.Contains(err.Error(), "ClusterGraphTenant") {
		t.Errorf("a GraphTenant for organizations: %v", err)
	}
}
