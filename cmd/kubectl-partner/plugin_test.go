package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/cli-runtime/pkg/genericiooptions"

	b2bv1alpha1 "github.com/partnerops/partner-operator/api/v1alpha1"
	"github.com/partnerops/partner-operator/internal/graph/emulator"
)

// runPlugin runs kubectl-partner with args, as the binary would, and returns what it wrote.
func runPlugin(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var out, errOut bytes.Buffer
	cmd := newRootCommand(genericiooptions.IOStreams{In: strings.NewReader(""), Out: &out, ErrOut: &errOut})
	cmd.SetArgs(args)
	err = cmd.ExecuteContext(ctx)
	return out.String(), errOut.String(), err
}

// graphEnv is an emulator that demands tokens, with the flags and AZURE_* variables that let
// the plugin's credential chain get them, as a real tenant's would.
type graphEnv struct {
	emu   *emulator.Emulator
	flags []string
}

func startGraph(t *testing.T) *graphEnv {
	t.Helper()
	emu := emulator.New(emulator.Options{RequireAuth: true})
	if err := emu.Start(); err != nil {
		t.Fatalf("start the Graph emulator: %v", err)
	}
	t.Cleanup(emu.Close)
	dir := t.TempDir()
	ca := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(ca, emu.CACertPEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("AZURE_TENANT_ID", emu.TenantID())
	t.Setenv("AZURE_CLIENT_ID", "kubectl-partner-test")
	t.Setenv("AZURE_CLIENT_SECRET", "test-secret")
	t.Setenv("AZURE_AUTHORITY_HOST", "")
	// Export needs no cluster: no kubeconfig at all.
	t.Setenv("KUBECONFIG", filepath.Join(dir, "no-kubeconfig"))
	return &graphEnv{emu: emu, flags: []string{
		"--graph-endpoint", emu.URL(),
		"--azure-authority-host", emu.AuthorityURL(),
		"--azure-authority-ca-file", ca,
	}}
}

// export runs "export" against the emulator with more args.
func (g *graphEnv) export(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	return runPlugin(t, append(append([]string{"export"}, g.flags...), args...)...)
}

// decodeInvitations reads a YAML (or JSON) stream of PartnerInvitations.
func decodeInvitations(t *testing.T, r io.Reader) []*b2bv1alpha1.PartnerInvitation {
	t.Helper()
	dec := utilyaml.NewYAMLOrJSONDecoder(r, 4096)
	var out []*b2bv1alpha1.PartnerInvitation
	for {
		p := &b2bv1alpha1.PartnerInvitation{}
		if err := dec.Decode(p); err != nil {
			if errors.Is(err, io.EOF) {
				return out
			}
			t.Fatalf("decode the manifests: %v", err)
		}
		if p.Kind != "" {
			out = append(out, p)
		}
	}
}

// emails lists the objects' spec.email.
func emails(objs []*b2bv1alpha1.PartnerInvitation) []string {
	out := make([]string, len(objs))
	for i, o := range objs {
		out[i] = o.Spec.Email
	}
	return out
}
