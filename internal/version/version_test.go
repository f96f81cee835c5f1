package version

import (
	"strings"
	"testing"
)

func TestStampedVersionWins(t *testing.T) {
	old := Version
	t.Cleanup(func() { Version = old })
	Version = "v9.8.7"
	got := Get()
	if got.Version != "v9.8.7" {
		t.Fatalf("Version = %q, want the stamped v9.8.7", got.Version)
	}
	if !strings.HasPrefix(got.String(), "v9.8.7 (revision ") || !strings.Contains(got.String(), got.Platform) {
		t.Fatalf("String() = %q", got.String())
	}
}

func TestUnstampedBuildSaysDevel(t *testing.T) {
	old := Version
	t.Cleanup(func() { Version = old })
	Version = ""
	// A test binary has no module version of its own: it must not claim a release.
	if got := Get(); got.Version != "(devel)" {
		t.Fatalf("Version = %q, want (devel)", got.Version)
	}
}
