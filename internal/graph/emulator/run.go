package emulator

import (
	"context"
	"fmt"
	"io"
	"os"
)

// Run starts an emulator, prints where it listens, writes the token server's certificate to
// opts.CACertFile when set, and serves until ctx is done. It backs the development binary's
// `go run ./cmd/partner-dev emulator`, so a human can run the operator against it.
func Run(ctx context.Context, opts Options, out io.Writer) error {
	e := New(opts)
	if err := e.Start(); err != nil {
		return err
	}
	defer e.Close()
	if opts.CACertFile != "" {
		if err := os.WriteFile(opts.CACertFile, e.CACertPEM(), 0o644); err != nil {
			return fmt.Errorf("emulator: writing CA certificate: %w", err)
		}
	}
	fmt.Fprintf(out, "Graph emulator running\n")
	fmt.Fprintf(out, "  graph:     %s/v1.0\n", e.URL())
	fmt.Fprintf(out, "  authority: %s\n", e.AuthorityURL())
	fmt.Fprintf(out, "  tenant:    %s\n", e.TenantID())
	fmt.Fprintf(out, "  control:   %s/_emulator/\n", e.URL())
	if opts.CACertFile != "" {
		fmt.Fprintf(out, "  ca cert:   %s\n", opts.CACertFile)
	}
	<-ctx.Done()
	fmt.Fprintf(out, "Stopping the Graph emulator\n")
	return nil
}
