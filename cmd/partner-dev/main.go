// Command partner-dev runs the operator's development tools. It is never built into the image:
// it links envtest and the Graph emulator, which the operator binary must not.
//
//	partner-dev demo [flags]       a local control plane, the Graph emulator and the operator
//	partner-dev sandbox [flags]    the same, kept running for kubectl until Ctrl-C
//	partner-dev emulator [flags]   the Graph emulator on its own
//
// Run it from the repository's root (make demo does): the demo's defaults are paths under config/.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/partnerops/partner-operator/internal/demo"
	"github.com/partnerops/partner-operator/internal/graph/emulator"
)

const usage = `usage: go run ./cmd/partner-dev <command> [flags]

  demo       a local control plane, the Graph emulator and the operator: invite, accept, delete
  sandbox    the same, set up and kept running for you to try with kubectl; Ctrl-C stops it
  emulator   the Graph emulator on its own

'go run ./cmd/partner-dev <command> -h' lists a command's flags.`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:]); err != nil && !errors.Is(err, context.Canceled) && !errors.Is(err, flag.ErrHelp) {
		fmt.Fprintln(os.Stderr, "partner-dev:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return errors.New("no command\n" + usage)
	}
	switch cmd, args := args[0], args[1:]; cmd {
	case "demo":
		return runDemo(ctx, args, false)
	case "sandbox":
		return runDemo(ctx, args, true)
	case "emulator":
		return runEmulator(ctx, args)
	case "help", "-h", "-help", "--help":
		fmt.Println(usage)
		return nil
	default:
		return fmt.Errorf("unknown command %q\n%s", cmd, usage)
	}
}

func runDemo(ctx context.Context, args []string, sandbox bool) error {
	name := "demo"
	if sandbox {
		name = "sandbox"
	}
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	var opts demo.Options
	fs.StringVar(&opts.AssetsDir, "assets", os.Getenv("KUBEBUILDER_ASSETS"), "directory with kube-apiserver, etcd and kubectl (hack/envtest.sh prints one)")
	fs.StringVar(&opts.SamplesDir, "samples", "config/samples", "manifests to apply")
	fs.StringVar(&opts.CRDDir, "crds", "config/crd/bases", "CRDs to install")
	fs.StringVar(&opts.PolicyDir, "policy", "config/policy", "admission policy to apply")
	fs.DurationVar(&opts.Step, "step", 2*time.Second, "pause between the demo's steps")
	fs.BoolVar(&opts.Verbose, "v", false, "show the operator's logs")
	if sandbox {
		fs.StringVar(&opts.StateDir, "dir", "bin/sandbox", "where the sandbox writes its kubeconfig, tools and env file (removed when it stops)")
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	opts.Out = os.Stdout
	if sandbox {
		return demo.Sandbox(ctx, opts)
	}
	return demo.Run(ctx, opts)
}

func runEmulator(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("emulator", flag.ContinueOnError)
	var opts emulator.Options
	fs.StringVar(&opts.Addr, "addr", "127.0.0.1:8443", "Graph listen address (loopback)")
	fs.BoolVar(&opts.GraphTLS, "graph-tls", false, "serve Graph over HTTPS with the certificate written to --ca-file (the operator then needs --graph-ca-file)")
	fs.StringVar(&opts.AuthAddr, "auth-addr", "127.0.0.1:8444", "token endpoint listen address (TLS)")
	fs.StringVar(&opts.CACertFile, "ca-file", "", "write the token endpoint's CA certificate here")
	fs.BoolVar(&opts.RequireAuth, "require-auth", true, "answer 401 to requests without a token it issued")
	fs.DurationVar(&opts.VisibilityDelay, "visibility-delay", 0, "how long a new guest stays invisible (Graph's eventual consistency)")
	fs.DurationVar(&opts.Latency, "latency", 0, "added latency per Graph request")
	tenants := fs.Int("tenants", 1, "how many tenants to emulate, each with its own listeners, directory and tokens; "+
		"the first takes --addr and --auth-addr, the others a free port on the same hosts, and --ca-file gets all their certificates")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *tenants < 1 {
		return fmt.Errorf("--tenants must be at least 1, not %d", *tenants)
	}
	if *tenants == 1 {
		return emulator.Run(ctx, opts, os.Stdout)
	}
	return emulator.RunTenants(ctx, emulator.TenantOptions(opts, *tenants), os.Stdout)
}
