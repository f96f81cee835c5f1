// Package version says which build of partner-operator is running. Releases stamp Version with
// the linker (make release, make image); other builds fall back to what the Go toolchain
// recorded: the module version for `go install ...@vX`, the VCS revision for a build from a
// clone.
package version

import (
	"fmt"
	"runtime"
	"runtime/debug"
)

// Version is set at link time: -ldflags "-X github.com/partnerops/partner-operator/internal/version.Version=v0.1.0".
var Version = ""

// Revision is set at link time with Version; without it, the VCS revision the go command
// recorded (builds from a clone), if any.
var Revision = ""

// Info is what a binary reports about itself.
type Info struct {
	Version   string // release version, or "(devel)"
	Revision  string // VCS commit, with "-dirty" when the tree had changes
	GoVersion string
	Platform  string // GOOS/GOARCH
}

// Get reads the stamped version and the build information of the running binary.
func Get() Info {
	info := Info{Version: Version, Revision: Revision, GoVersion: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return info.withDefaults()
	}
	if info.Version == "" && bi.Main.Version != "" {
		info.Version = bi.Main.Version
	}
	if info.Revision != "" {
		return info.withDefaults()
	}
	var dirty bool
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			info.Revision = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if dirty && info.Revision != "" {
		info.Revision += "-dirty"
	}
	return info.withDefaults()
}

func (i Info) withDefaults() Info {
	if i.Version == "" {
		i.Version = "(devel)"
	}
	if i.Revision == "" {
		i.Revision = "unknown"
	}
	return i
}

// String is the one line that `--version` prints after the program's name.
func (i Info) String() string {
	return fmt.Sprintf("%s (revision %s, %s, %s)", i.Version, i.Revision, i.GoVersion, i.Platform)
}
