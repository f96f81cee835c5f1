// Package ownership runs the operator binary against real kube-apiservers and etcds (envtest)
// and one Graph emulator, for what only the directory can remember: a cluster rebuilt from Git,
// two clusters sharing a tenant, and the brake on mass deletion.
package ownership

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"

	b2bv1alpha1 "github.com/partnerops/partner-operator/api/v1alpha1"
	"github.com/partnerops/partner-operator/internal/graph/emulator"
	"github.com/partnerops/partner-operator/internal/graph/msgraph"
	"github.com/partnerops/partner-operator/test/internal/operatorproc"
)

const (
	root = "../.."
	// clientID is the operator's application in the emulator; its extension properties hold
	// the ownership records.
	clientID  = "partner-operator-test"
	namespace = "partners"
)

// ownerProperty is the full name of the record's owner property.
var ownerProperty = msgraph.ExtensionName(clientID, "partnerOwner")

// cluster is one control plane with the operator's identity installed, and its operator.
type cluster struct {
	name string
	cp   *operatorproc.ControlPlane
	env  *operatorproc.Environment
	op   *operatorproc.Process
	dir  string
}

type harness struct {
	ctx context.Context
	emu *emulator.Emulator
	bin string
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	emu := operatorproc.StartEmulator(t, emulator.Options{RequireAuth: true})
	return &harness{ctx: ctx, emu: emu, bin: operatorproc.Build(t, root, t.TempDir())}
}

// startCluster starts a fresh API server and etcd with the operator's CRDs, RBAC, a namespace
// for the partners and a PartnerAccessPolicy with the defaults (adoption Deny) that allows any
// group and application.
func (h *harness) startCluster(t *testing.T, name string) *cluster {
	t.Helper()
	cp := operatorproc.StartControlPlane(t, root)
	dir := t.TempDir()
	c := &cluster{name: name, cp: cp, dir: dir, env: operatorproc.NewEnvironment(t, h.bin, dir, cp.Env, h.emu)}
	if err := cp.Client.Create(h.ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: namespace}}); err != nil {
		t.Fatal(err)
	}
	policy := &b2bv1alpha1.PartnerAccessPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: "partners"},
		Spec: b2bv1alpha1.PartnerAccessPolicySpec{
			AllowedGroups:       []string{"*"},
			AllowedApplications: []b2bv1alpha1.ApplicationRule{{App: "*"}},
		},
	}
	if err := cp.Client.Create(h.ctx, policy); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			logs, _ := filepath.Glob(filepath.Join(dir, "*.log"))
			for _, l := range logs {
				raw, _ := os.ReadFile(l)
				if len(raw) > 6000 {
					raw = raw[len(raw)-6000:]
				}
				t.Logf("%s %s (last 6 KB):\n%s", name, filepath.Base(l), raw)
			}
		}
	})
	return c
}

// run starts the cluster's operator with its owner ID and extra flags.
func (h *harness) run(t *testing.T, c *cluster, ownerID string, flags ...string) {
	t.Helper()
	c.op = c.env.Start(t, h.ctx, c.name+"-operator.log", append([]string{"--owner-id", ownerID, "--redemption-watch-interval", "1s"}, flags...)...)
	t.Cleanup(c.op.Stop)
}

// manifests are what Git holds: the same objects for every cluster they are applied to.
type manifest struct {
	name, email string
	groups      []string
	apps        []b2bv1alpha1.ApplicationAccess
}

func (c *cluster) apply(t *testing.T, ctx context.Context, ms []manifest) {
	t.Helper()
	for _, m := range ms {
		p := &b2bv1alpha1.PartnerInvitation{
			ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: m.name},
			Spec:       b2bv1alpha1.PartnerInvitationSpec{Email: m.email},
		}
		if len(m.groups) > 0 || len(m.apps) > 0 {
			p.Spec.Access = &b2bv1alpha1.PartnerAccess{Groups: m.groups, Applications: m.apps}
		}
		if err := c.cp.Client.Create(ctx, p); err != nil {
			t.Fatalf("%s: create %s: %v", c.name, m.name, err)
		}
	}
}

func (c *cluster) list(t *testing.T, ctx context.Context) []b2bv1alpha1.PartnerInvitation {
	t.Helper()
	var l b2bv1alpha1.PartnerInvitationList
	if err := c.cp.Client.List(ctx, &l, client.InNamespace(namespace)); err != nil {
		t.Fatalf("%s: list: %v", c.name, err)
	}
	return l.Items
}

// waitAll waits until n objects are listed and every one satisfies ok.
func (c *cluster) waitAll(t *testing.T, ctx context.Context, what string, n int, timeout time.Duration, ok func(*b2bv1alpha1.PartnerInvitation) bool) []b2bv1alpha1.PartnerInvitation {
	t.Helper()
	var items []b2bv1alpha1.PartnerInvitation
	var good int
	err := wait.PollUntilContextTimeout(ctx, 250*time.Millisecond, timeout, true, func(context.Context) (bool, error) {
		items, good = c.list(t, ctx), 0
		for i := range items {
			if ok(&items[i]) {
				good++
			}
		}
		return len(items) == n && good == n, nil
	})
	if err != nil {
		t.Fatalf("%s: %s: %d of %d objects after %s (%d listed)", c.name, what, good, n, timeout, len(items))
	}
	return items
}

func ready(p *b2bv1alpha1.PartnerInvitation) bool {
	return meta.IsStatusConditionTrue(p.Status.Conditions, b2bv1alpha1.ConditionReady)
}

func readyReason(p *b2bv1alpha1.PartnerInvitation) (string, string) {
	c := meta.FindStatusCondition(p.Status.Conditions, b2bv1alpha1.ConditionReady)
	if c == nil {
		return "", ""
	}
	return c.Reason, c.Message
}

// waitRecords waits until n guests carry a record naming owner.
func (h *harness) waitRecords(t *testing.T, owner string, n int) {
	t.Helper()
	var got int
	err := wait.PollUntilContextTimeout(h.ctx, 250*time.Millisecond, 2*time.Minute, true, func(context.Context) (bool, error) {
		got = h.recordsOf(owner)
		return got == n, nil
	})
	if err != nil {
		t.Fatalf("%d of %d guests carry an ownership record naming %q", got, n, owner)
	}
}

func (h *harness) recordsOf(owner string) int {
	n := 0
	for _, u := range h.emu.Users() {
		if u.Extensions[ownerProperty] == owner {
			n++
		}
	}
	return n
}

func (h *harness) mails() int {
	n := 0
	for _, u := range h.emu.Users() {
		n += h.emu.MailsSent(u.Mail)
	}
	return n
}

// waitGone waits until the namespace holds no PartnerInvitation.
func (c *cluster) waitGone(t *testing.T, ctx context.Context, timeout time.Duration) {
	t.Helper()
	var left int
	err := wait.PollUntilContextTimeout(ctx, 250*time.Millisecond, timeout, true, func(context.Context) (bool, error) {
		left = len(c.list(t, ctx))
		return left == 0, nil
	})
	if err != nil {
		t.Fatalf("%s: %d PartnerInvitations still there after %s", c.name, left, timeout)
	}
}

func partners(prefix string, n int, access func(i int) ([]string, []b2bv1alpha1.ApplicationAccess)) []manifest {
	out := make([]manifest, n)
	for i := range out {
		out[i] = manifest{name: fmt.Sprintf("%s-%03d", prefix, i), email: fmt.Sprintf("%s-%03d@partner%d.example", prefix, i, i%7)}
		if access != nil {
			out[i].groups, out[i].apps = access(i)
		}
	}
	return out
}

func envInt(key string, fallback int) int {
	if v, err := strconv.Atoi(os.Getenv(key)); err == nil && v > 0 {
		return v
	}
	return fallback
}

func deleteAll(t *testing.T, ctx context.Context, c *cluster) {
	t.Helper()
	if err := c.cp.Client.DeleteAllOf(ctx, &b2bv1alpha1.PartnerInvitation{}, client.InNamespace(namespace)); err != nil {
		t.Fatalf("%s: delete all: %v", c.name, err)
	}
}
