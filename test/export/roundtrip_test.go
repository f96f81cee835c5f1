// Package export checks the migration path of an existing tenant: kubectl partner export
// writes manifests for its guests, a person applies them, and the operator adopts every guest
// without sending a single invitation.
package export

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	"sigs.k8s.io/yaml"

	b2bv1alpha1 "github.com/partnerops/partner-operator/api/v1alpha1"
	"github.com/partnerops/partner-operator/controllers/partnerinvitation"
	"github.com/partnerops/partner-operator/internal/graph"
	"github.com/partnerops/partner-operator/internal/graph/emulator"
	"github.com/partnerops/partner-operator/internal/graph/msgraph"
	"github.com/partnerops/partner-operator/internal/manifest"
	"github.com/partnerops/partner-operator/internal/operator"
	"github.com/partnerops/partner-operator/internal/testbed"
	"github.com/partnerops/partner-operator/test/internal/operatorproc"
)

// defaultGuests is the tenant's size in the default run; EXPORT_GUESTS changes it.
const defaultGuests = 1000

const namespace = "migrated"

func TestExportAppliedAdoptsWithoutInvitations(t *testing.T) {
	n := defaultGuests
	if v := os.Getenv("EXPORT_GUESTS"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 1 {
			t.Fatalf("EXPORT_GUESTS=%q is not a positive number", v)
		}
	}
	logf.SetLogger(zap.New(zap.WriteTo(io.Discard)))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	root, err := testbed.FindRepoRoot(".")
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	cp := operatorproc.StartControlPlane(t, root)
	emu := operatorproc.StartEmulator(t, emulator.Options{RequireAuth: true})
	dir := t.TempDir()
	plugin := operatorproc.BuildCommand(t, root, dir, "./cmd/kubectl-partner", "kubectl-partner")
	seeded := seedTenant(t, emu, n)
	startOperator(t, ctx, cp, emu, root)
	admitAdoption(t, ctx, cp, root)
	t.Logf("control plane, emulator with %d guests, operator and policy ready in %s", n, time.Since(start).Round(time.Millisecond))

	// Export, as a person at a terminal would.
	start = time.Now()
	out := filepath.Join(dir, "manifests")
	stderr := runExport(t, plugin, emu, dir, "export", "-n", namespace, "--with-access", "--out", out)
	exportTook := time.Since(start)
	pages := 0
	for _, r := range emu.Requests() {
		if r.Method == "GET" && r.Path == "/users" {
			pages++
		}
	}
	if want := (n + 998) / 999; pages != want {
		t.Errorf("%d pages of users read, want %d", pages, want)
	}
	if !strings.Contains(stderr, fmt.Sprintf("export: %d guests exported", n)) {
		t.Fatalf("export did not export %d guests:\n%s", n, stderr)
	}

	// Apply what was exported, as a namespace editor (GitOps would), through the admission
	// policy.
	start = time.Now()
	objs := applyManifests(t, ctx, cp, out)
	applyTook := time.Since(start)
	if len(objs) != n {
		t.Fatalf("%d manifests, want %d", len(objs), n)
	}

	start = time.Now()
	adopted := waitAdopted(t, ctx, cp.Client, n)
	adoptTook := time.Since(start)
	t.Logf("%d guests: export %s, apply %s, all adopted %s after", n, exportTook.Round(time.Millisecond),
		applyTook.Round(time.Millisecond), adoptTook.Round(time.Millisecond))

	if posts := emu.Count("POST", "/invitations"); posts != 0 {
		t.Errorf("%d POST /invitations, want none: adopting sends nothing", posts)
	}
	for _, p := range adopted {
		want := seeded[strings.ToLower(p.Spec.Email)]
		if p.Status.UserID != want.id {
			t.Fatalf("%s: status.userID %q, want guest %s", p.Name, p.Status.UserID, want.id)
		}
		var groups []b2bv1alpha1.GroupGrant
		if p.Status.Access != nil {
			groups = p.Status.Access.Groups
		}
		if len(groups) != want.groups {
			t.Errorf("%s: %d groups in status.access, want %d", p.Name, len(groups), want.groups)
		}
		for _, g := range groups {
			if g.Managed {
				t.Errorf("%s: group %s marked managed; the guest was a member before", p.Name, g.ID)
			}
		}
	}
}

// guest is what the tenant holds for one address.
type guest struct {
	id     string
	groups int
}

// seedTenant gives the emulator n guests (every tenth in a group, every twentieth with an app
// role of its own) and a few members, which are never exported.
func seedTenant(t *testing.T, emu *emulator.Emulator, n int) map[string]guest {
	t.Helper()
	team := emu.AddGroup(emulator.Group{DisplayName: "Partners"})
	everyone := emu.AddGroup(emulator.Group{DisplayName: "All guests", Dynamic: true})
	app := emu.AddServicePrincipal(emulator.ServicePrincipal{DisplayName: "Partner portal", AppRoles: []emulator.AppRole{{Value: "Partner.Read"}}})
	out := make(map[string]guest, n)
	for i := range n {
		state := emulator.StateAccepted
		if i%3 == 0 {
			state = emulator.StatePendingAcceptance
		}
		mail := fmt.Sprintf("partner-%05d@supplier%d.example", i, i%7)
		u := emu.AddUser(emulator.User{DisplayName: fmt.Sprintf("Partner %05d", i), Mail: mail, UserType: "Guest",
			CreationType: "Invitation", ExternalUserState: state, AccountEnabled: true})
		g := guest{id: u.ID}
		if err := emu.AddGroupMemberOutOfBand(everyone.ID, u.ID); err != nil {
			t.Fatal(err)
		}
		if i%10 == 0 {
			if err := emu.AddGroupMemberOutOfBand(team.ID, u.ID); err != nil {
				t.Fatal(err)
			}
			g.groups = 1
		}
		if i%20 == 0 {
			emu.AssignAppRoleOutOfBand(emulator.AppRoleAssignment{PrincipalID: u.ID, ResourceID: app.ID, AppRoleID: app.AppRoles[0].ID})
		}
		out[mail] = g
		if i%250 == 0 {
			emu.AddUser(emulator.User{DisplayName: "Employee", Mail: fmt.Sprintf("employee-%d@supplier%d.example", i, i%7), UserType: "Member", AccountEnabled: true})
		}
	}
	return out
}

// runExport runs the plugin with the emulator's Graph flags and azidentity's AZURE_*
// variables, and no kubeconfig: export needs no cluster.
func runExport(t *testing.T, bin string, emu *emulator.Emulator, dir string, args ...string) string {
	t.Helper()
	ca := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(ca, emu.CACertPEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	args = append(args, "--graph-endpoint", emu.URL(), "--azure-authority-host", emu.AuthorityURL(), "--azure-authority-ca-file", ca)
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+filepath.Join(dir, "no-kubeconfig"),
		"AZURE_TENANT_ID="+emu.TenantID(), "AZURE_CLIENT_ID=kubectl-partner", "AZURE_CLIENT_SECRET=test-secret")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("kubectl-partner %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return stderr.String()
}

// startOperator runs the operator in this process as the shipped install's ServiceAccount,
// with the real Graph client on the emulator.
func startOperator(t *testing.T, ctx context.Context, cp *operatorproc.ControlPlane, emu *emulator.Emulator, root string) {
	t.Helper()
	kubectl, err := testbed.Kubectl()
	if err != nil {
		t.Fatal(err)
	}
	identity, err := testbed.InstallOperatorIdentity(ctx, cp.Env, cp.Client, kubectl, root)
	if err != nil {
		t.Fatal(err)
	}
	cred, err := msgraph.NewClientSecretCredential(emu.TenantID(), "partner-operator-test", "test-secret", emu.AuthorityURL(), emu.TLSClient())
	if err != nil {
		t.Fatal(err)
	}
	dir, err := msgraph.NewClient(msgraph.Config{Endpoint: emu.URL(), Credential: cred, Retry: msgraph.DefaultRetryOptions})
	if err != nil {
		t.Fatal(err)
	}
	budget := graph.BudgetFor(graph.TenantSmall)
	mgr, err := operator.NewManager(ctx, identity.Config(), operator.Config{
		Directory:              dir,
		MetricsBindAddress:     "0",
		HealthProbeBindAddress: "0",
		Controller:             partnerinvitation.Options{ClaimNamespace: testbed.OperatorNamespace},
		Budget:                 &budget,
	})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		if err := mgr.Start(ctx); err != nil {
			t.Errorf("operator: %v", err)
		}
	}()
	t.Cleanup(wg.Wait)
}

// admitAdoption installs the admission policy and a PartnerAccessPolicy that lets the
// namespace adopt guests and grant any group and application, and waits until the API server
// enforces it.
func admitAdoption(t *testing.T, ctx context.Context, cp *operatorproc.ControlPlane, root string) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(root, "config", "policy", "admission_policy.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	for _, doc := range strings.Split(string(raw), "\n---\n") {
		obj := &unstructured.Unstructured{}
		if err := yaml.Unmarshal([]byte(doc), &obj.Object); err != nil {
			t.Fatal(err)
		}
		if len(obj.Object) > 0 {
			if err := cp.Client.Create(ctx, obj); err != nil {
				t.Fatalf("create %s %s: %v", obj.GetKind(), obj.GetName(), err)
			}
		}
	}
	labels := map[string]string{"partnerops.io/test": "export"}
	if err := cp.Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: namespace, Labels: labels}}); err != nil {
		t.Fatal(err)
	}
	policy := &b2bv1alpha1.PartnerAccessPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: "migration"},
		Spec: b2bv1alpha1.PartnerAccessPolicySpec{
			NamespaceSelector:   metav1.LabelSelector{MatchLabels: labels},
			Adoption:            b2bv1alpha1.AdoptionAdopt,
			AllowedGroups:       []string{"*"},
			AllowedApplications: []b2bv1alpha1.ApplicationRule{{App: "*"}},
			DeniedDomains:       []string{"denied.example"},
		},
	}
	if err := cp.Client.Create(ctx, policy); err != nil {
		t.Fatal(err)
	}
	// The policy is in force once it refuses an address it denies.
	probe := &b2bv1alpha1.PartnerInvitation{ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: "probe"},
		Spec: b2bv1alpha1.PartnerInvitationSpec{Email: "probe@denied.example"}}
	err = wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		return cp.Client.Create(ctx, probe.DeepCopy(), client.DryRunAll) != nil, nil
	})
	if err != nil {
		t.Fatalf("the admission policy never refused a denied domain: %v", err)
	}
}

// applyManifests creates the kustomization's objects as a namespace editor, a few at a time.
func applyManifests(t *testing.T, ctx context.Context, cp *operatorproc.ControlPlane, dir string) []*unstructured.Unstructured {
	t.Helper()
	kubectl, err := testbed.Kubectl()
	if err != nil {
		t.Fatal(err)
	}
	objs, err := testbed.Kustomize(ctx, kubectl, dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, manifest.KustomizationFile)); err != nil {
		t.Fatal(err)
	}
	cfg, err := testbed.NamespaceEditorConfig(ctx, cp.Env, cp.Client, namespace, "migrator")
	if err != nil {
		t.Fatal(err)
	}
	cfg.QPS, cfg.Burst = 500, 1000
	editor, err := client.New(cfg, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	work := make(chan *unstructured.Unstructured)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var errs []string
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for obj := range work {
				if err := editor.Create(ctx, obj); err != nil {
					mu.Lock()
					errs = append(errs, fmt.Sprintf("%s: %v", obj.GetName(), err))
					mu.Unlock()
				}
			}
		}()
	}
	for _, obj := range objs {
		work <- obj
	}
	close(work)
	wg.Wait()
	if len(errs) > 0 {
		t.Fatalf("%d manifests refused, the first: %s", len(errs), errs[0])
	}
	return objs
}

// waitAdopted waits until all n objects are Ready with status.adopted and returns them.
func waitAdopted(t *testing.T, ctx context.Context, k8s client.Client, n int) []b2bv1alpha1.PartnerInvitation {
	t.Helper()
	var list b2bv1alpha1.PartnerInvitationList
	adopted := 0
	err := wait.PollUntilContextTimeout(ctx, time.Second, 10*time.Minute, true, func(ctx context.Context) (bool, error) {
		list = b2bv1alpha1.PartnerInvitationList{}
		if err := k8s.List(ctx, &list, client.InNamespace(namespace)); err != nil {
			return false, nil
		}
		adopted = 0
		for _, p := range list.Items {
			if p.Status.Adopted && meta.IsStatusConditionTrue(p.Status.Conditions, b2bv1alpha1.ConditionReady) {
				adopted++
			}
		}
		return adopted == n, nil
	})
	if err != nil {
		for _, p := range list.Items {
			if c := meta.FindStatusCondition(p.Status.Conditions, b2bv1alpha1.ConditionReady); c == nil || c.Status != metav1.ConditionTrue {
				t.Logf("%s not Ready: %+v", p.Name, c)
				break
			}
		}
		t.Fatalf("%d of %d adopted and Ready: %v", adopted, n, err)
	}
	return list.Items
}
