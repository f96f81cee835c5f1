package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/partnerops/partner-operator/internal/image"
)

type options struct {
	version, dist, source, helm, image string
	imagePlatforms, pluginPlatforms    string
	revision                           string
	created                            time.Time
	root                               string // the module's root, where go build runs
}

var semver = regexp.MustCompile(`^v(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(-[0-9A-Za-z.-]+)?$`)

// complete checks the version and reads the revision and the commit time from git: the time
// stamps every file, so that the artifacts depend on the commit, not on when they were built.
func (o *options) complete(ctx context.Context) error {
	if !semver.MatchString(o.version) {
		return fmt.Errorf("--version %q: want vMAJOR.MINOR.PATCH, such as v0.1.0", o.version)
	}
	root, err := git(ctx, "", "rev-parse", "--show-toplevel")
	if err != nil {
		return err
	}
	o.root = root
	if o.revision, err = git(ctx, root, "rev-parse", "HEAD"); err != nil {
		return err
	}
	if dirty, err := git(ctx, root, "status", "--porcelain", "--untracked-files=no"); err != nil {
		return err
	} else if dirty != "" {
		o.revision += "-dirty"
	}
	ct, err := git(ctx, root, "log", "-1", "--format=%ct")
	if err != nil {
		return err
	}
	sec, err := strconv.ParseInt(ct, 10, 64)
	if err != nil {
		return fmt.Errorf("commit time %q: %w", ct, err)
	}
	o.created = time.Unix(sec, 0).UTC()
	if !filepath.IsAbs(o.dist) {
		o.dist = filepath.Join(root, o.dist)
	}
	return nil
}

func git(ctx context.Context, dir string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "git", args...)
	cmd.Dir = dir
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("git %s: %w", strings.Join(args, " "), err)
	}
	return strings.TrimSpace(string(out)), nil
}

// goBuild compiles pkg for one platform as a release does: static, trimmed paths, stripped,
// the version stamped.
func (o *options) goBuild(ctx context.Context, pkg, platform, out string) error {
	goos, goarch, ok := strings.Cut(platform, "/")
	if !ok {
		return fmt.Errorf("platform %q: want os/arch", platform)
	}
	const pkgVersion = "github.com/partnerops/partner-operator/internal/version"
	ldflags := "-s -w -X " + pkgVersion + ".Version=" + o.version + " -X " + pkgVersion + ".Revision=" + o.revision
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags", ldflags, "-o", out, pkg)
	cmd.Dir = o.root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS="+goos, "GOARCH="+goarch)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go build %s for %s: %w", pkg, platform, err)
	}
	return nil
}

func platforms(list string) []string {
	var out []string
	for p := range strings.SplitSeq(list, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

type imageResult struct {
	digest, layout, sbom string
	platforms            []string
}

// buildImage builds the operator for each image platform and writes the OCI layout and the
// SBOM (of the first platform's binary: every platform links the same modules).
func (o *options) buildImage(ctx context.Context) (imageResult, error) {
	spec := image.Spec{Binaries: map[string]string{}, Version: o.version, Revision: o.revision, Source: o.source, Created: o.created}
	r := imageResult{platforms: platforms(o.imagePlatforms), layout: filepath.Join(o.dist, "image"),
		sbom: filepath.Join(o.dist, "partner-operator_"+o.version+".spdx.json")}
	if len(r.platforms) == 0 {
		return r, fmt.Errorf("no image platforms")
	}
	for _, p := range r.platforms {
		bin := filepath.Join(o.dist, "bin", strings.ReplaceAll(p, "/", "_"), "partner-operator")
		if err := o.goBuild(ctx, ".", p, bin); err != nil {
			return r, err
		}
		spec.Binaries[p] = bin
	}
	idx, err := image.Build(spec)
	if err != nil {
		return r, err
	}
	digest, err := image.WriteLayout(r.layout, idx, o.version)
	if err != nil {
		return r, err
	}
	r.digest = digest.String()
	sbom, err := image.SBOM(spec.Binaries[r.platforms[0]], o.version, o.created)
	if err != nil {
		return r, err
	}
	return r, os.WriteFile(r.sbom, sbom, 0o644)
}

func (o *options) push(ctx context.Context, to string) error {
	idx, err := image.ReadLayout(filepath.Join(o.dist, "image"))
	if err != nil {
		return fmt.Errorf("%w (run make image first)", err)
	}
	if err := image.Push(ctx, idx, to); err != nil {
		return err
	}
	d, _ := idx.Digest()
	fmt.Printf("pushed %s@%s\n", to, d)
	return nil
}
