package main

import (
	"archive/tar"
	"archive/zip"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"

	"sigs.k8s.io/yaml"
)

const krewAPIVersion = "krew.googlecontainertools.github.com/v1alpha2"

// The krew plugin manifest, as krew's index documents it.
type krewPlugin struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Metadata   struct {
		Name string `json:"name"`
	} `json:"metadata"`
	Spec struct {
		Version          string         `json:"version"`
		Homepage         string         `json:"homepage,omitempty"`
		ShortDescription string         `json:"shortDescription"`
		Description      string         `json:"description,omitempty"`
		Platforms        []krewPlatform `json:"platforms"`
	} `json:"spec"`
}

type krewPlatform struct {
	Selector krewSelector `json:"selector"`
	URI      string       `json:"uri"`
	Sha256   string       `json:"sha256"`
	Bin      string       `json:"bin"`
	Files    []krewFile   `json:"files"`
}

type krewSelector struct {
	MatchLabels map[string]string `json:"matchLabels"`
}

type krewFile struct {
	From string `json:"from"`
	To   string `json:"to"`
}

var (
	krewName = regexp.MustCompile(`^[a-z0-9]+(-[a-z0-9]+)*$`)
	sha256Re = regexp.MustCompile(`^[a-f0-9]{64}$`)
)

// validateKrewManifest checks the manifest as krew does before installing (name, version,
// platforms, checksums, paths) and then against the archives in dir: each platform's archive
// is there under the URI's base name, has the checksum, and holds the files and the binary
// the manifest names.
func validateKrewManifest(manifestPath, dir string) error {
	raw, err := os.ReadFile(manifestPath)
	if err != nil {
		return err
	}
	var m krewPlugin
	if err := yaml.UnmarshalStrict(raw, &m); err != nil {
		return fmt.Errorf("krew manifest: %w", err)
	}
	var errs []error
	fail := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if m.APIVersion != krewAPIVersion || m.Kind != "Plugin" {
		fail("apiVersion/kind = %s/%s, want %s/Plugin", m.APIVersion, m.Kind, krewAPIVersion)
	}
	if !krewName.MatchString(m.Metadata.Name) || strings.HasPrefix(m.Metadata.Name, "kubectl") {
		fail("metadata.name %q is not a krew plugin name", m.Metadata.Name)
	}
	if want := m.Metadata.Name + ".yaml"; filepath.Base(manifestPath) != want {
		fail("manifest file %s: krew's index wants it named %s", filepath.Base(manifestPath), want)
	}
	if !semver.MatchString(m.Spec.Version) {
		fail("spec.version %q is not a v-prefixed semantic version", m.Spec.Version)
	}
	if m.Spec.ShortDescription == "" || strings.Contains(m.Spec.ShortDescription, "\n") {
		fail("spec.shortDescription must be one non-empty line")
	}
	if len(m.Spec.Platforms) == 0 {
		fail("spec.platforms is empty")
	}
	seen := map[string]bool{}
	for i, p := range m.Spec.Platforms {
		at := fmt.Sprintf("spec.platforms[%d]", i)
		key := p.Selector.MatchLabels["os"] + "/" + p.Selector.MatchLabels["arch"]
		if p.Selector.MatchLabels["os"] == "" || p.Selector.MatchLabels["arch"] == "" {
			fail("%s.selector must match os and arch", at)
		} else if seen[key] {
			fail("%s: a second platform for %s", at, key)
		}
		seen[key] = true
		u, err := url.Parse(p.URI)
		if err != nil || u.Scheme != "https" || u.Host == "" {
			fail("%s.uri %q is not an https URL", at, p.URI)
			continue
		}
		if !sha256Re.MatchString(p.Sha256) {
			fail("%s.sha256 %q is not a lowercase hex SHA-256", at, p.Sha256)
		}
		if p.Bin == "" || !localPath(p.Bin) {
			fail("%s.bin %q must be a path inside the plugin's directory", at, p.Bin)
		}
		if len(p.Files) == 0 {
			fail("%s.files is empty", at)
		}
		for _, f := range p.Files {
			if !localPath(f.From) || !localPath(f.To) {
				fail("%s.files: %s → %s leaves the plugin's directory", at, f.From, f.To)
			}
		}
		if err := checkArchive(filepath.Join(dir, path.Base(u.Path)), p); err != nil {
			fail("%s (%s): %w", at, key, err)
		}
	}
	return errors.Join(errs...)
}

func localPath(p string) bool {
	return p != "" && !path.IsAbs(p) && !strings.HasPrefix(path.Clean(p), "..")
}

// checkArchive verifies one archive: its checksum, and that installing it as krew does
// (copying files[].from to files[].to) puts the binary at bin.
func checkArchive(archive string, p krewPlatform) error {
	sum, err := sha256File(archive)
	if err != nil {
		return err
	}
	if sum != p.Sha256 {
		return fmt.Errorf("%s has sha256 %s, the manifest says %s", filepath.Base(archive), sum, p.Sha256)
	}
	names, err := archiveEntries(archive)
	if err != nil {
		return err
	}
	installed := map[string]bool{}
	for _, f := range p.Files {
		if !names[f.From] {
			return fmt.Errorf("%s holds no %s", filepath.Base(archive), f.From)
		}
		to := path.Clean(f.To)
		if to == "." {
			to = path.Base(f.From)
		}
		installed[to] = true
	}
	if !installed[path.Clean(p.Bin)] {
		return fmt.Errorf("installing %s would not give %s", filepath.Base(archive), p.Bin)
	}
	return nil
}

func archiveEntries(archive string) (map[string]bool, error) {
	names := map[string]bool{}
	if strings.HasSuffix(archive, ".zip") {
		zr, err := zip.OpenReader(archive)
		if err != nil {
			return nil, err
		}
		defer zr.Close()
		for _, f := range zr.File {
			names[f.Name] = true
		}
		return names, nil
	}
	f, err := os.Open(archive)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Base(archive), err)
	}
	tr := tar.NewReader(gz)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return names, nil
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", filepath.Base(archive), err)
		}
		names[hdr.Name] = true
	}
}
