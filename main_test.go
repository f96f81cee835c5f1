package main

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
)

// forbiddenDeps are packages the production image must not link: the fake Graph, the demo and
// API-server test beds. They belong to cmd/partner-dev and the tests. An entry ending in "/"
// forbids everything under it.
var forbiddenDeps = []string{
	"github.com/partnerops/partner-operator/internal/graph/emulator",
	"github.com/partnerops/partner-operator/internal/demo",
	"github.com/partnerops/partner-operator/internal/testbed",
	"sigs.k8s.io/controller-runtime/pkg/envtest",
	"github.com/onsi/",
	// Only the tests of the alerts and the dashboard (test/observability) use Prometheus itself.
	"github.com/prometheus/prometheus/",
}

func forbidden(pkg string) bool {
	for _, f := range forbiddenDeps {
		if pkg == f || strings.HasPrefix(pkg, strings.TrimSuffix(f, "/")+"/") {
			return true
		}
	}
	return false
}

func TestOperatorLinksNoEmulatorOrTestBed(t *testing.T) {
	// The go command of the toolchain running the test, so that the answer is for that
	// toolchain even when another go comes first in PATH.
	goTool := filepath.Join(runtime.GOROOT(), "bin", "go")
	if _, err := os.Stat(goTool); err != nil {
		if goTool, err = exec.LookPath("go"); err != nil {
			t.Fatal("no go command to list the operator's dependencies:", err)
		}
	}
	// Each line: a package the operator links, then its imports, to name who pulls in a
	// forbidden one.
	cmd := exec.Command(goTool, "list", "-deps", "-f", "{{.ImportPath}} {{join .Imports \" \"}}", ".")
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list -deps .: %v", err)
	}
	importers := map[string][]string{}
	var deps []string
	for line := range strings.Lines(string(out)) {
		fields := strings.Fields(line)
		if len(fields) == 0 {
			continue
		}
		deps = append(deps, fields[0])
		for _, imp := range fields[1:] {
			importers[imp] = append(importers[imp], fields[0])
		}
	}
	if !slices.Contains(deps, "sigs.k8s.io/controller-runtime") {
		t.Fatalf("go list -deps . printed no controller-runtime, so it did not list the operator:\n%s", out)
	}
	for _, pkg := range deps {
		if forbidden(pkg) {
			t.Errorf("the operator binary links %s (imported by %s); the demo, the emulator and test beds belong in cmd/partner-dev",
				pkg, strings.Join(importers[pkg], ", "))
		}
	}
}

func TestDevCommandsPointToPartnerDev(t *testing.T) {
	for _, cmd := range []string{"demo", "emulator"} {
		err := run(context.Background(), []string{cmd})
		if want := "go run ./cmd/partner-dev " + cmd; err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("run(%q) = %v, want an error naming %q", cmd, err, want)
		}
	}
}
