package demo

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"sigs.k8s.io/yaml"

	"github.com/partnerops/partner-operator/internal/graph/emulator"
)

// Sandbox starts what the demo starts, sets the cluster up as a platform team would (the
// admission policy, the sample PartnerAccessPolicy, a namespace open to it), writes a shell
// environment into opts.StateDir and keeps everything running until ctx ends (Ctrl-C), for a
// newcomer to try the operator with kubectl.
func Sandbox(ctx context.Context, opts Options) error {
	if opts.StateDir == "" {
		return fmt.Errorf("sandbox: no state directory")
	}
	abs, err := filepath.Abs(opts.StateDir)
	if err != nil {
		return err
	}
	opts.StateDir = abs
	// A previous sandbox's files would point at ports that are gone.
	if err := os.RemoveAll(abs); err != nil {
		return fmt.Errorf("sandbox: %w", err)
	}
	d := &demo{opts: opts, out: opts.Out}
	st, err := d.start(ctx)
	if err != nil {
		return err
	}
	defer st.stop()
	defer os.RemoveAll(abs)

	// The group the sample policy allows, so that access to it can be tried.
	st.emu.AddGroup(emulator.Group{DisplayName: "Partner Portal Users"})
	steps := [][]string{
		{"apply", "-k", opts.PolicyDir},
		{"label", "--overwrite", "namespace", "default", "partner-access=enabled"},
		{"apply", "-f", filepath.Join(opts.SamplesDir, "b2b_v1alpha1_partneraccesspolicy.yaml")},
	}
	for _, args := range steps {
		if out, err := d.kubectl(args...); err != nil {
			return fmt.Errorf("kubectl %s: %w: %s", strings.Join(args, " "), err, out)
		}
	}
	if err := d.writeTools(ctx, st); err != nil {
		return err
	}
	sample, email, err := readSample(filepath.Join(opts.SamplesDir, "b2b_v1alpha1_partnerinvitation.yaml"))
	if err != nil {
		return err
	}
	rel := opts.StateDir
	if wd, err := os.Getwd(); err == nil {
		if r, err := filepath.Rel(wd, opts.StateDir); err == nil && !strings.HasPrefix(r, "..") {
			rel = r
		}
	}
	d.say(sandboxHelp, rel, opts.SamplesDir, sample, email)
	<-ctx.Done()
	d.say("\nStopping the sandbox")
	return nil
}

const sandboxHelp = `
The sandbox is up: a control plane, the Graph emulator and the operator (running under the
shipped RBAC). The namespace "default" is open to the sample PartnerAccessPolicy. In another
shell, from this directory:

  source %[1]s/env      # KUBECONFIG, and kubectl, kubectl-partner, emulator-accept on PATH

  kubectl explain partnerinvitation.spec
  kubectl apply -f %[2]s/b2b_v1alpha1_partnerinvitation.yaml
  kubectl wait partnerinvitation/%[3]s --for=condition=Invited --timeout=60s
  kubectl get partnerinvitations
  kubectl partner status
  emulator-accept %[3]s      # the partner accepts the invitation mail
  kubectl wait partnerinvitation/%[3]s --for=condition=Redeemed --timeout=60s

  # Refused by policy, before any Graph request. At admission (the sample policy denies
  # consumer mail domains):
  sed 's/%[4]s/someone@gmail.com/; s/name: %[3]s/name: someone-gmail/' %[2]s/b2b_v1alpha1_partnerinvitation.yaml | kubectl create -f -
  # By the operator, in status (no policy selects the namespace "closed"):
  kubectl create namespace closed
  sed 's/namespace: default/namespace: closed/' %[2]s/b2b_v1alpha1_partnerinvitation.yaml | kubectl apply -f -
  kubectl get partnerinvitation -n closed %[3]s -o jsonpath='{.status.conditions[?(@.type=="Ready")].message}'

Ctrl-C here stops everything.`

// writeTools puts kubectl, kubectl-partner and emulator-accept into StateDir/bin and the shell
// environment that finds them into StateDir/env.
func (d *demo) writeTools(ctx context.Context, st *stack) error {
	bin := filepath.Join(d.opts.StateDir, "bin")
	if err := os.MkdirAll(bin, 0o755); err != nil {
		return err
	}
	if err := os.Symlink(filepath.Join(d.opts.AssetsDir, "kubectl"), filepath.Join(bin, "kubectl")); err != nil {
		return err
	}
	root := d.opts.RepoRoot
	if root == "" {
		root = "."
	}
	d.say("Building kubectl-partner into %s", bin)
	build := exec.CommandContext(ctx, "go", "build", "-o", filepath.Join(bin, "kubectl-partner"), "./cmd/kubectl-partner")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		return fmt.Errorf("go build ./cmd/kubectl-partner: %w: %s", err, out)
	}
	ca := filepath.Join(d.opts.StateDir, "graph-ca.pem")
	if err := os.WriteFile(ca, st.emu.CACertPEM(), 0o644); err != nil {
		return err
	}
	// The partner's side of the mail: the emulator's control API redeems the invitation.
	accept := fmt.Sprintf(`#!/bin/sh
# emulator-accept NAME [-n NAMESPACE]: the partner of PartnerInvitation NAME accepts its invitation.
set -eu
[ $# -ge 1 ] || { echo "usage: emulator-accept NAME [-n NAMESPACE]" >&2; exit 2; }
name=$1; shift
id=$(kubectl get partnerinvitation "$name" "$@" -o jsonpath='{.status.userID}')
[ -n "$id" ] || { echo "emulator-accept: $name has no status.userID yet: is it Invited?" >&2; exit 1; }
curl -fsS --cacert %q -X POST %q/_emulator/users/"$id"/accept >/dev/null
echo "$name: the partner accepted the invitation (user $id)"
`, ca, st.emu.URL())
	if err := os.WriteFile(filepath.Join(bin, "emulator-accept"), []byte(accept), 0o755); err != nil {
		return err
	}
	env := fmt.Sprintf("export KUBECONFIG=%q\nexport PATH=%q:\"$PATH\"\n", st.kubeconfig, bin)
	return os.WriteFile(filepath.Join(d.opts.StateDir, "env"), []byte(env), 0o644)
}

// readSample returns the sample invitation's name and address, which the help's commands use.
func readSample(path string) (name, email string, err error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return "", "", err
	}
	var obj struct {
		Metadata struct{ Name string }  `json:"metadata"`
		Spec     struct{ Email string } `json:"spec"`
	}
	if err := yaml.Unmarshal(raw, &obj); err != nil || obj.Metadata.Name == "" || obj.Spec.Email == "" {
		return "", "", fmt.Errorf("sample %s: no metadata.name or spec.email (%v)", path, err)
	}
	return obj.Metadata.Name, obj.Spec.Email, nil
}
