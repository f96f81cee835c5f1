package emulator

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"slices"
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

// NthTenantID is the tenant ID TenantOptions gives the i-th tenant (from 0):
// DefaultTenantID for the first, then ...0000ab, ...0000ac and so on, so a demo's tenants
// have the same IDs on every run.
func NthTenantID(i int) string {
	return fmt.Sprintf("00000000-0000-0000-0000-%012x", 0xaa+i)
}

// NthTenantDomain is the initial domain TenantOptions gives the i-th tenant (from 0):
// TenantDomain for the first, then tenant1.emulator.onmicrosoft.com, tenant2... .
func NthTenantDomain(i int) string {
	if i == 0 {
		return TenantDomain
	}
	return fmt.Sprintf("tenant%d.%s", i, TenantDomain)
}

// TenantOptions derives the options of n tenants served by one process from base. The first
// is base itself (with the default tenant ID and domain where base has none); every other
// gets NthTenantID and NthTenantDomain, a display name numbered after base's, and
// listeners on base's hosts with port 0, since a fixed address can serve only one tenant.
// Its verified domains are its initial domain only (a domain is verified in one tenant) and
// its log lines, when base.Logf is set, start with its tenant ID. Everything else (auth,
// TLS, delays, quotas, permissions) applies to every tenant alike; CACertFile stays on the
// first, and RunTenants writes all tenants' certificates there.
func TenantOptions(base Options, n int) []Options {
	out := make([]Options, 0, max(n, 1))
	first := base
	if first.TenantID == "" {
		first.TenantID = NthTenantID(0)
	}
	if first.TenantDomain == "" {
		first.TenantDomain = NthTenantDomain(0)
	}
	out = append(out, first)
	name := base.DisplayName
	if name == "" {
		name = DefaultDisplayName
	}
	for i := 1; i < n; i++ {
		o := base
		o.TenantID, o.TenantDomain = NthTenantID(i), NthTenantDomain(i)
		o.DisplayName = fmt.Sprintf("%s %d", name, i+1)
		o.VerifiedDomains, o.DefaultDomain = nil, ""
		o.Addr, o.AuthAddr = anyPort(base.Addr), anyPort(base.AuthAddr)
		o.CACertFile = ""
		o.GrantedPermissions = slices.Clone(base.GrantedPermissions)
		if base.Logf != nil {
			prefix, logf := o.TenantID+": ", base.Logf
			o.Logf = func(format string, args ...any) { logf(prefix+format, args...) }
		}
		out = append(out, o)
	}
	return out
}

// anyPort keeps addr's host and lets the system choose the port.
func anyPort(addr string) string {
	host, _, err := net.SplitHostPort(addr)
	if err != nil || host == "" {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, "0")
}

// RunTenants is Run for several tenants in one process, each an Emulator of its own (its own
// listeners, directory, quotas and token signing key), typically from TenantOptions. It
// prints one line per tenant with its tenant ID, domain, Graph, authority and control URLs,
// writes every tenant's certificate into opts[0].CACertFile when set (a PEM bundle a client
// can trust all of them from), and serves until ctx is done, then stops them all.
func RunTenants(ctx context.Context, opts []Options, out io.Writer) error {
	if len(opts) == 0 {
		return errors.New("emulator: no tenants to run")
	}
	emus := make([]*Emulator, 0, len(opts))
	defer func() {
		for _, e := range emus {
			e.Close()
		}
	}()
	var bundle []byte
	for i, o := range opts {
		e := New(o)
		if err := e.Start(); err != nil {
			return fmt.Errorf("emulator: starting tenant %d (%s): %w", i+1, e.TenantID(), err)
		}
		emus = append(emus, e)
		bundle = append(bundle, e.CACertPEM()...)
	}
	caFile := opts[0].CACertFile
	if caFile != "" {
		if err := os.WriteFile(caFile, bundle, 0o644); err != nil {
			return fmt.Errorf("emulator: writing CA certificates: %w", err)
		}
	}
	fmt.Fprintf(out, "Graph emulator running with %d tenants\n", len(emus))
	for _, e := range emus {
		fmt.Fprintf(out, "  tenant %s  domain %s  graph %s/v1.0  authority %s  control %s/_emulator/\n",
			e.TenantID(), e.Domain(), e.URL(), e.AuthorityURL(), e.URL())
	}
	if caFile != "" {
		fmt.Fprintf(out, "  ca certs:  %s\n", caFile)
	}
	<-ctx.Done()
	fmt.Fprintf(out, "Stopping the Graph emulator\n")
	return nil
}
