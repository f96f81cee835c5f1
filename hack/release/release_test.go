package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/yaml"
)

const testVersion = "v0.0.0-releasetest"

// TestRelease runs make release's tool for this machine's platform (make release builds every
// platform) and checks what it wrote as a user of the release would: checksums, the chart's
// versions, the krew manifest against the archives, the plugin's --version.
func TestRelease(t *testing.T) {
	helm := os.Getenv("HELM")
	if helm == "" {
		t.Fatal("HELM is not set: run 'make test', which provides helm via hack/helm.sh")
	}
	platform := runtime.GOOS + "/" + runtime.GOARCH
	o := options{version: testVersion, dist: t.TempDir(), source: "https://github.com/partnerops/partner-operator",
		imagePlatforms: "linux/" + runtime.GOARCH, pluginPlatforms: platform, helm: helm}
	ctx := context.Background()
	if err := o.complete(ctx); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := o.release(ctx, &out); err != nil {
		t.Fatal(err)
	}
	t.Log(out.String())

	t.Run("checksums", func(t *testing.T) {
		raw, err := os.ReadFile(filepath.Join(o.dist, "checksums.txt"))
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for line := range strings.Lines(string(raw)) {
			sum, name, ok := strings.Cut(strings.TrimSpace(line), "  ")
			if !ok {
				t.Fatalf("checksums.txt line %q is not sha256sum's format", line)
			}
			if got, err := sha256File(filepath.Join(o.dist, name)); err != nil || got != sum {
				t.Errorf("%s: sha256 %s (%v), checksums.txt says %s", name, got, err, sum)
			}
			names = append(names, name)
		}
		for _, want := range []string{"partner-operator_" + testVersion + "_oci.tar", "partner-operator_" + testVersion + ".spdx.json",
			"partner-operator-0.0.0-releasetest.tgz", "krew/partner.yaml", o.pluginArchive(platform)} {
			if !strings.Contains(strings.Join(names, " "), want) {
				t.Errorf("checksums.txt lists %v, not %s", names, want)
			}
		}
	})
	t.Run("chart versions", func(t *testing.T) {
		raw, err := exec.Command(helm, "show", "chart", filepath.Join(o.dist, "partner-operator-0.0.0-releasetest.tgz")).Output()
		if err != nil {
			t.Fatal(err)
		}
		var chart struct{ Version, AppVersion string }
		if err := yaml.Unmarshal(raw, &chart); err != nil {
			t.Fatal(err)
		}
		if chart.Version != "0.0.0-releasetest" || chart.AppVersion != testVersion {
			t.Errorf("chart version %q appVersion %q, want 0.0.0-releasetest and %s", chart.Version, chart.AppVersion, testVersion)
		}
	})
	manifest := filepath.Join(o.dist, "krew", "partner.yaml")
	t.Run("krew manifest", func(t *testing.T) {
		if err := validateKrewManifest(manifest, o.dist); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("verify", func(t *testing.T) {
		if err := verify(o.dist, io.Discard); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("krew manifest refuses a changed archive", func(t *testing.T) {
		dir := t.TempDir()
		archive := o.pluginArchive(platform)
		raw, err := os.ReadFile(filepath.Join(o.dist, archive))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, archive), append(raw, 0), 0o644); err != nil {
			t.Fatal(err)
		}
		err = validateKrewManifest(manifest, dir)
		if err == nil || !strings.Contains(err.Error(), "the manifest says") {
			t.Fatalf("validate against a changed archive = %v, want a checksum mismatch", err)
		}
	})
	t.Run("plugin --version", func(t *testing.T) {
		bin := filepath.Join(t.TempDir(), "kubectl-partner")
		untar(t, filepath.Join(o.dist, o.pluginArchive(platform)), "kubectl-partner", bin)
		got, err := exec.Command(bin, "--version").CombinedOutput()
		if err != nil {
			t.Fatalf("%v: %s", err, got)
		}
		if want := "kubectl partner version " + testVersion + " (revision " + o.revision; !strings.HasPrefix(string(got), want) {
			t.Fatalf("--version printed %q, want %q...", got, want)
		}
		info, _ := os.Stat(bin)
		t.Logf("plugin binary: %.1f MB (stripped)", float64(info.Size())/1e6)
	})
}

func untar(t *testing.T, archive, name, to string) {
	t.Helper()
	f, err := os.Open(archive)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(gz)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			t.Fatalf("%s holds no %s", archive, name)
		}
		if err != nil {
			t.Fatal(err)
		}
		if hdr.Name != name {
			continue
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(to, data, 0o755); err != nil {
			t.Fatal(err)
		}
		return
	}
}

func TestKrewManifestRules(t *testing.T) {
	dir := t.TempDir()
	o := options{version: "v1.0.0", dist: dir, source: "https://example.test/p", created: time.Unix(0, 0)}
	archive := filepath.Join(dir, o.pluginArchive("windows/amd64"))
	if err := writeZip(archive, []archiveFile{{"kubectl-partner.exe", []byte("exe"), 0o755}, {"LICENSE", []byte("l"), 0o644}}, o.created); err != nil {
		t.Fatal(err)
	}
	manifest, err := o.krewManifest([]string{archive})
	if err != nil {
		t.Fatal(err)
	}
	if err := validateKrewManifest(manifest, dir); err != nil {
		t.Fatalf("a zip for windows: %v", err)
	}
	for _, tc := range []struct {
		name, from, to, want string
	}{
		{"version without v", "version: v1.0.0", "version: 1.0.0", "spec.version"},
		{"http download", "uri: https://", "uri: http://", "not an https URL"},
		{"binary not installed", "bin: kubectl-partner.exe", "bin: other.exe", "would not give other.exe"},
		{"path out of the plugin", "to: .", "to: ../..", "leaves the plugin's directory"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			raw, _ := os.ReadFile(manifest)
			bad := filepath.Join(t.TempDir(), "partner.yaml")
			if err := os.WriteFile(bad, []byte(strings.Replace(string(raw), tc.from, tc.to, 1)), 0o644); err != nil {
				t.Fatal(err)
			}
			if err := validateKrewManifest(bad, dir); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("validate = %v, want an error containing %q", err, tc.want)
			}
		})
	}
}
