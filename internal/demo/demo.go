// Package demo runs the operator's whole lifecycle on one machine with no Azure account: a
// local kube-apiserver and etcd (envtest), the Graph emulator and the operator, driven with
// kubectl as a user would.
package demo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	b2bv1alpha1 "github.com/partnerops/partner-operator/api/v1alpha1"
	"github.com/partnerops/partner-operator/controllers/partnerinvitation"
	"github.com/partnerops/partner-operator/internal/graph/emulator"
	"github.com/partnerops/partner-operator/internal/graph/msgraph"
	"github.com/partnerops/partner-operator/internal/operator"
	"github.com/partnerops/partner-operator/internal/testbed"
)

// Options for Run.
type Options struct {
	AssetsDir  string // kube-apiserver, etcd, kubectl
	CRDDir     string
	SamplesDir string
	PolicyDir  string
	Step       time.Duration
	Verbose    bool
	Out        io.Writer

	// RepoRoot holds config/default, whose ServiceAccount and RBAC the operator runs with;
	// "" is the current directory (make demo runs from the repository's root).
	RepoRoot string

	// StateDir is where the sandbox keeps its kubeconfig and tools while it runs; "" (the
	// demo) is a temporary directory removed at the end.
	StateDir string
}

// Run starts everything, shows the lifecycle, and stops what it started.
func Run(ctx context.Context, opts Options) error {
	d := &demo{opts: opts, out: opts.Out}
	st, err := d.start(ctx)
	if err != nil {
		return err
	}
	defer st.stop()
	return d.lifecycle(ctx, st.client, st.emu, st.spID)
}

// stack is what the demo and the sandbox run: a control plane, the emulator, the operator.
type stack struct {
	env        *envtest.Environment
	emu        *emulator.Emulator
	client     client.Client // the operator's, from its cache
	kubeconfig string        // the platform team's (cluster admin)
	spID       string        // the seed's application in the emulator
	stops      []func()
}

func (st *stack) stop() {
	for i := len(st.stops) - 1; i >= 0; i-- {
		st.stops[i]()
	}
}

// start brings the stack up; on error it stops what it had started.
func (d *demo) start(ctx context.Context) (_ *stack, err error) {
	opts := d.opts
	if opts.AssetsDir == "" {
		return nil, errors.New("no envtest binaries: run hack/envtest.sh, or use 'make demo'")
	}
	if opts.Verbose {
		ctrl.SetLogger(zap.New(zap.UseDevMode(true)))
	} else {
		ctrl.SetLogger(logr.Discard())
	}
	st := &stack{}
	defer func() {
		if err != nil {
			st.stop()
		}
	}()

	d.say("Starting a local control plane (kube-apiserver and etcd from %s)", opts.AssetsDir)
	st.env = &envtest.Environment{
		CRDDirectoryPaths:     []string{opts.CRDDir},
		ErrorIfCRDPathMissing: true,
		BinaryAssetsDirectory: opts.AssetsDir,
	}
	restCfg, err := st.env.Start()
	if err != nil {
		return nil, fmt.Errorf("start control plane: %w", err)
	}
	st.stops = append(st.stops, func() {
		d.say("Stopping the control plane")
		_ = st.env.Stop()
	})
	// kubectl plays the platform team (cluster admin); the operator does not.
	if st.kubeconfig, err = d.writeKubeconfig(st.env); err != nil {
		return nil, err
	}
	if opts.StateDir == "" {
		st.stops = append(st.stops, func() { _ = os.RemoveAll(filepath.Dir(st.kubeconfig)) })
	}
	d.kubectl = func(args ...string) ([]byte, error) {
		cmd := exec.CommandContext(ctx, filepath.Join(opts.AssetsDir, "kubectl"), append([]string{"--kubeconfig", st.kubeconfig}, args...)...)
		return cmd.CombinedOutput()
	}

	d.say("Starting the Graph emulator")
	// Graph over TLS, as in production: the operator trusts the emulator's CA.
	st.emu = emulator.New(emulator.Options{RequireAuth: true, GraphTLS: true})
	if err := st.emu.Start(); err != nil {
		return nil, fmt.Errorf("start emulator: %w", err)
	}
	st.stops = append(st.stops, st.emu.Close)
	d.say("  Graph at %s/v1.0, token endpoint at %s", st.emu.URL(), st.emu.AuthorityURL())
	// The application the seed's CSV row invites the partner to.
	sp := st.emu.AddServicePrincipal(emulator.ServicePrincipal{AppID: "cd3ed3de-93ee-400b-8b19-b61ef44a0f29", DisplayName: "Contoso Partner Portal"})
	st.spID = sp.ID
	d.say("  tenant has application %q (appId %s)", sp.DisplayName, sp.AppID)

	cred, err := msgraph.NewClientSecretCredential(st.emu.TenantID(), demoClientID, "demo-secret", st.emu.AuthorityURL(), st.emu.TLSClient())
	if err != nil {
		return nil, err
	}
	dir, err := msgraph.NewClient(msgraph.Config{Endpoint: st.emu.URL(), Credential: cred, HTTPClient: st.emu.TLSClient(), Retry: msgraph.DefaultRetryOptions,
		ExtensionAppID: demoClientID})
	if err != nil {
		return nil, err
	}
	operatorCfg, err := d.installOperatorIdentity(ctx, st.env, restCfg)
	if err != nil {
		return nil, err
	}
	mgr, err := operator.NewManager(ctx, operatorCfg, operator.Config{
		Directory:              dir,
		MetricsBindAddress:     "0",
		HealthProbeBindAddress: "0",
		LookupBatchWindow:      operator.DefaultLookupBatchWindow,
		// Redemption is learned from the users delta, as in production, read every second here.
		// Address claims go to the operator's namespace, where its Role lets it write Leases.
		// The guests carry an ownership record naming this installation (--owner-id).
		Controller: partnerinvitation.Options{DeltaInterval: time.Second, ClaimNamespace: testbed.OperatorNamespace,
			OwnerID: demoOwnerID},
		OwnershipSchema: dir,
	})
	if err != nil {
		return nil, err
	}
	mgrCtx, stopMgr := context.WithCancel(ctx)
	mgrDone := make(chan error, 1)
	go func() { mgrDone <- mgr.Start(mgrCtx) }()
	st.stops = append(st.stops, func() {
		stopMgr()
		<-mgrDone
	})
	st.client = mgr.GetClient()
	d.say("Operator started as %s", testbed.OperatorUser)
	return st, nil
}

type demo struct {
	opts    Options
	out     io.Writer
	kubectl func(args ...string) ([]byte, error)
}

func (d *demo) lifecycle(ctx context.Context, c client.Client, emu *emulator.Emulator, spID string) error {
	d.say("\n$ kubectl apply -k %s   # the admission policy for PartnerAccessPolicy", d.opts.PolicyDir)
	if err := d.run("apply", "-k", d.opts.PolicyDir); err != nil {
		return err
	}
	// The operator and the admission policy deny invitations from namespaces no
	// PartnerAccessPolicy selects; the sample policy selects partner-access=enabled.
	d.say("\n$ kubectl label namespace default partner-access=enabled   # the platform team opens the namespace to the sample policy")
	if err := d.run("label", "--overwrite", "namespace", "default", "partner-access=enabled"); err != nil {
		return err
	}
	if err := d.applySamples(ctx); err != nil {
		return err
	}
	d.say("\nThe operator sends one invitation per object and records it:")
	if err := d.waitFor(ctx, c, "Invited", func(p *b2bv1alpha1.PartnerInvitation) bool {
		return p.Status.UserID != "" && condTrue(p, b2bv1alpha1.ConditionReady)
	}); err != nil {
		return err
	}
	if err := d.get(); err != nil {
		return err
	}
	d.say("\nGraph received %d invitation request(s) and %d app role assignment(s); the redemption URL is in a Secret, not in status:",
		emu.Count("POST", "/invitations"), len(emu.AppRoleAssignments(spID)))
	_ = d.run("get", "secrets", "-l", b2bv1alpha1.LabelInvitation)
	d.pause(ctx)

	d.say("\nThe partner opens the mail and accepts (in the emulator):")
	var list b2bv1alpha1.PartnerInvitationList
	if err := c.List(ctx, &list); err != nil {
		return err
	}
	for _, p := range list.Items {
		if err := emu.AcceptInvitation(p.Status.UserID); err != nil {
			return err
		}
		d.say("  %s accepted the invitation", p.Spec.Email)
	}
	if err := d.waitFor(ctx, c, "Accepted", func(p *b2bv1alpha1.PartnerInvitation) bool {
		return p.Status.State == b2bv1alpha1.StateAccepted && condTrue(p, b2bv1alpha1.ConditionRedeemed)
	}); err != nil {
		return err
	}
	if err := d.get(); err != nil {
		return err
	}
	_ = d.run("get", "partnerinvitations", "-A", "-o", "custom-columns=NAME:.metadata.name,REDEEMED:.status.conditions[?(@.type==\"Redeemed\")].status,REDEEMED-AT:.status.redeemedAt")
	d.say("Guests in the directory: %d", len(emu.Users()))
	owner := msgraph.ExtensionName(demoClientID, "partnerOwner")
	object := msgraph.ExtensionName(demoClientID, "partnerObject")
	if err := waitUntil(ctx, func() bool {
		for _, u := range emu.Users() {
			if u.Extensions[owner] == "" {
				return false
			}
		}
		return true
	}); err != nil {
		return err
	}
	for _, u := range emu.Users() {
		d.say("  guest %s carries its ownership record: owner %q, object %s", u.ID, u.Extensions[owner], u.Extensions[object])
	}
	d.pause(ctx)

	// The policy goes with the invitation, as a GitOps prune would: the operator still removes
	// its finalizer (admission only requires a policy to create invitations).
	d.say("\n$ kubectl delete -k %s --wait", d.opts.SamplesDir)
	if err := d.run("delete", "-k", d.opts.SamplesDir, "--wait", "--timeout=60s"); err != nil {
		return err
	}
	if err := d.get(); err != nil {
		return err
	}
	d.say("Guests in the directory after the deletion: %d (DELETE /users calls: %d)", len(emu.Users()), emu.Count("DELETE", "/users/"))
	if n := len(emu.Users()); n != 0 {
		return fmt.Errorf("%d guest(s) left behind", n)
	}
	d.say("\nDone: invited, accepted, recorded, deleted, guest removed.")
	return nil
}

// applySamples applies the samples (a PartnerAccessPolicy and a PartnerInvitation). The
// admission policy refuses invitations until the API server has seen a PartnerAccessPolicy,
// so a refusal right after the policy was created is retried for a while.
func (d *demo) applySamples(ctx context.Context) error {
	d.say("\n$ kubectl apply -k %s", d.opts.SamplesDir)
	deadline := time.Now().Add(30 * time.Second)
	for {
		out, err := d.kubectl("apply", "-k", d.opts.SamplesDir)
		if err == nil || time.Now().After(deadline) || !strings.Contains(string(out), "PartnerAccessPolicy") {
			fmt.Fprint(d.out, indent(string(out)))
			if err != nil {
				return fmt.Errorf("kubectl apply -k %s: %w", d.opts.SamplesDir, err)
			}
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// installOperatorIdentity creates the ServiceAccount and RBAC of config/default, as a cluster
// install would, and returns a config that authenticates as that ServiceAccount.
func (d *demo) installOperatorIdentity(ctx context.Context, env *envtest.Environment, adminCfg *rest.Config) (*rest.Config, error) {
	root := d.opts.RepoRoot
	if root == "" {
		root = "."
	}
	d.say("Installing the operator's ServiceAccount and RBAC from %s", filepath.Join(root, "config", "default"))
	scheme, err := operator.NewScheme()
	if err != nil {
		return nil, err
	}
	admin, err := client.New(adminCfg, client.Options{Scheme: scheme})
	if err != nil {
		return nil, err
	}
	identity, err := testbed.InstallOperatorIdentity(ctx, env, admin, filepath.Join(d.opts.AssetsDir, "kubectl"), root)
	if err != nil {
		return nil, fmt.Errorf("install the operator's identity: %w", err)
	}
	d.say("  the operator runs as %s, not as cluster admin", testbed.OperatorUser)
	return identity.Config(), nil
}

func (d *demo) waitFor(ctx context.Context, c client.Client, what string, done func(*b2bv1alpha1.PartnerInvitation) bool) error {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	for {
		var list b2bv1alpha1.PartnerInvitationList
		if err := c.List(ctx, &list); err == nil && len(list.Items) > 0 {
			all := true
			for i := range list.Items {
				all = all && done(&list.Items[i])
			}
			if all {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			_ = d.get()
			return fmt.Errorf("waiting for %s: %w", what, ctx.Err())
		case <-time.After(250 * time.Millisecond):
		}
	}
}

func (d *demo) get() error {
	d.say("$ kubectl get partnerinvitations -A -o wide")
	return d.run("get", "partnerinvitations", "-A", "-o", "wide")
}

func (d *demo) run(args ...string) error {
	out, err := d.kubectl(args...)
	fmt.Fprint(d.out, indent(string(out)))
	if err != nil {
		return fmt.Errorf("kubectl %s: %w", strings.Join(args, " "), err)
	}
	return nil
}

func (d *demo) pause(ctx context.Context) {
	select {
	case <-ctx.Done():
	case <-time.After(d.opts.Step):
	}
}

func (d *demo) say(format string, args ...any) { fmt.Fprintf(d.out, format+"\n", args...) }

func (d *demo) writeKubeconfig(env *envtest.Environment) (string, error) {
	dir := d.opts.StateDir
	if dir == "" {
		var err error
		if dir, err = os.MkdirTemp("", "partner-operator-demo-"); err != nil {
			return "", err
		}
	} else if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	path := filepath.Join(dir, "kubeconfig")
	return path, testbed.WriteAdminKubeconfig(env, "platform-team", path)
}

func condTrue(p *b2bv1alpha1.PartnerInvitation, typ string) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == typ {
			return c.Status == "True"
		}
	}
	return false
}

func indent(s string) string {
	if s == "" {
		return s
	}
	return "  " + strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n  ") + "\n"
}

// The demo's installation: its application in the emulator, and its owner ID.
const (
	demoClientID = "partner-operator-demo"
	demoOwnerID  = "demo-cluster"
)

// waitUntil polls done for up to a minute.
func waitUntil(ctx context.Context, done func() bool) error {
	return wait.PollUntilContextTimeout(ctx, 250*time.Millisecond, time.Minute, true, func(context.Context) (bool, error) {
		return done(), nil
	})
}
