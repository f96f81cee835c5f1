package main

import (
	"strings"
	"testing"

	"github.com/partnerops/partner-operator/internal/version"
)

func TestVersionFlag(t *testing.T) {
	old := version.Version
	t.Cleanup(func() { version.Version = old })
	version.Version = "v1.2.3"
	out, _, err := runPlugin(t, "--version")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out, "kubectl partner version v1.2.3 (revision ") {
		t.Fatalf("--version printed %q", out)
	}
}
