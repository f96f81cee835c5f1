// Command release builds partner-operator's release artifacts without a Docker daemon:
//
//	go run ./hack/release image   [flags]   the multi-arch OCI image (dist/image) and its SBOM
//	go run ./hack/release push    [flags]   push dist/image to a registry
//	go run ./hack/release all     [flags]   the image, the Helm chart, the plugin archives,
//	                                        checksums and the krew manifest, in dist/
//	go run ./hack/release verify  [--dist]  check dist/'s checksums and its krew manifest
//	                                        against the archives
//
// make image and make release call it. Builds are reproducible: -trimpath, the version stamped
// by the linker, file times from the commit, so running it twice gives the same digests.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

const usage = `usage: go run ./hack/release <image|push|all|verify> [flags]  ('-h' after a command lists its flags)`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:]); err != nil && !errors.Is(err, flag.ErrHelp) {
		fmt.Fprintln(os.Stderr, "release:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string) error {
	if len(args) == 0 {
		return errors.New(usage)
	}
	cmd, args := args[0], args[1:]
	fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
	var o options
	fs.StringVar(&o.version, "version", "", "release version, vMAJOR.MINOR.PATCH (required)")
	fs.StringVar(&o.dist, "dist", "dist", "output directory")
	fs.StringVar(&o.source, "source", "https://github.com/partnerops/partner-operator", "repository URL for the image labels, the krew manifest and the download URLs")
	fs.StringVar(&o.imagePlatforms, "image-platforms", "linux/amd64,linux/arm64", "platforms of the image")
	fs.StringVar(&o.pluginPlatforms, "plugin-platforms", "linux/amd64,linux/arm64,darwin/amd64,darwin/arm64,windows/amd64", "platforms of the kubectl plugin archives")
	fs.StringVar(&o.helm, "helm", os.Getenv("HELM"), "helm binary, for the chart package (hack/helm.sh prints one)")
	fs.StringVar(&o.image, "image", "ghcr.io/partnerops/partner-operator", "image repository the chart points at")
	var to string
	fs.StringVar(&to, "to", "", "push: the image reference to push to, such as ghcr.io/partnerops/partner-operator:v0.1.0")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if cmd == "verify" {
		return verify(o.dist, os.Stdout)
	}
	if err := o.complete(ctx); err != nil {
		return err
	}
	switch cmd {
	case "image":
		r, err := o.buildImage(ctx)
		if err != nil {
			return err
		}
		fmt.Printf("image %s: %s (%s)\n", o.version, r.digest, strings.Join(r.platforms, ", "))
		fmt.Printf("  OCI layout: %s\n  SBOM: %s\n", r.layout, r.sbom)
		return nil
	case "push":
		if to == "" {
			return errors.New("push: --to is required")
		}
		return o.push(ctx, to)
	case "all":
		return o.release(ctx, os.Stdout)
	default:
		return fmt.Errorf("unknown command %q\n%s", cmd, usage)
	}
}
