package main

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"sigs.k8s.io/yaml"
)

// release writes every artifact of a release into dist/ and a checksums file over them.
func (o *options) release(ctx context.Context, w io.Writer) error {
	if o.helm == "" {
		return fmt.Errorf("--helm (or $HELM) is required for the chart package: hack/helm.sh prints one")
	}
	if err := os.RemoveAll(o.dist); err != nil {
		return err
	}
	img, err := o.buildImage(ctx)
	if err != nil {
		return err
	}
	layoutTar := filepath.Join(o.dist, "partner-operator_"+o.version+"_oci.tar")
	if err := o.tarDir(img.layout, layoutTar); err != nil {
		return err
	}
	chart, err := o.packageChart(ctx)
	if err != nil {
		return err
	}
	archives, err := o.pluginArchives(ctx)
	if err != nil {
		return err
	}
	krew, err := o.krewManifest(archives)
	if err != nil {
		return err
	}
	artifacts := append([]string{layoutTar, img.sbom, chart, krew}, archives...)
	sums, err := writeChecksums(o.dist, artifacts)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "release %s (revision %s)\n  image %s (%s)\n", o.version, o.revision, img.digest, strings.Join(img.platforms, ", "))
	for _, a := range artifacts {
		rel, _ := filepath.Rel(o.dist, a)
		fmt.Fprintf(w, "  %s  %s\n", sums[rel][:12], rel)
	}
	fmt.Fprintf(w, "  checksums: %s\n", filepath.Join(o.dist, "checksums.txt"))
	return nil
}

// packageChart packages the chart with the release's versions: the chart's version is the
// release without its v, appVersion the image tag the chart installs by default.
func (o *options) packageChart(ctx context.Context) (string, error) {
	cmd := exec.CommandContext(ctx, o.helm, "package", filepath.Join(o.root, "charts", "partner-operator"),
		"--version", strings.TrimPrefix(o.version, "v"), "--app-version", o.version, "--destination", o.dist)
	cmd.Stderr = os.Stderr
	if out, err := cmd.Output(); err != nil {
		return "", fmt.Errorf("helm package: %w: %s", err, out)
	}
	return filepath.Join(o.dist, "partner-operator-"+strings.TrimPrefix(o.version, "v")+".tgz"), nil
}

// pluginArchive is the name of the plugin's archive for one platform.
func (o *options) pluginArchive(platform string) string {
	ext := ".tar.gz"
	if strings.HasPrefix(platform, "windows/") {
		ext = ".zip"
	}
	return "kubectl-partner_" + o.version + "_" + strings.ReplaceAll(platform, "/", "_") + ext
}

func pluginBinary(platform string) string {
	if strings.HasPrefix(platform, "windows/") {
		return "kubectl-partner.exe"
	}
	return "kubectl-partner"
}

// pluginArchives builds the plugin per platform and packs it with the LICENSE, as krew
// installs it.
func (o *options) pluginArchives(ctx context.Context) ([]string, error) {
	license, err := os.ReadFile(filepath.Join(o.root, "LICENSE"))
	if err != nil {
		return nil, fmt.Errorf("plugin archive: %w", err)
	}
	var out []string
	for _, p := range platforms(o.pluginPlatforms) {
		bin := filepath.Join(o.dist, "bin", strings.ReplaceAll(p, "/", "_"), pluginBinary(p))
		if err := o.goBuild(ctx, "./cmd/kubectl-partner", p, bin); err != nil {
			return nil, err
		}
		exe, err := os.ReadFile(bin)
		if err != nil {
			return nil, err
		}
		files := []archiveFile{{pluginBinary(p), exe, 0o755}, {"LICENSE", license, 0o644}}
		path := filepath.Join(o.dist, o.pluginArchive(p))
		if strings.HasSuffix(path, ".zip") {
			err = writeZip(path, files, o.created)
		} else {
			err = writeTarGz(path, files, o.created)
		}
		if err != nil {
			return nil, fmt.Errorf("plugin archive %s: %w", p, err)
		}
		out = append(out, path)
	}
	return out, nil
}

type archiveFile struct {
	name string
	data []byte
	mode int64
}

func writeTarGz(path string, files []archiveFile, mtime time.Time) error {
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for _, f := range files {
		hdr := &tar.Header{Name: f.name, Mode: f.mode, Size: int64(len(f.data)), ModTime: mtime, Typeflag: tar.TypeReg, Format: tar.FormatPAX}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if _, err := tw.Write(f.data); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	if err := gz.Close(); err != nil {
		return err
	}
	return os.WriteFile(path, buf.Bytes(), 0o644)
}

func writeZip(path string, files []archiveFile, mtime time.Time) error {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, f := range files {
		hdr := &zip.FileHeader{Name: f.name, Method: zip.Deflate, Modified: mtime}
		hdr.SetMode(fs.FileMode(f.mode))
		fw, err := zw.CreateHeader(hdr)
		if err != nil {
			return err
		}
		if _, err := fw.Write(f.data); err != nil {
			return err
		}
	}
	if err := zw.Close(); err != nil {
		return err
	}
	return os.WriteFile(path, buf.Bytes(), 0o644)
}

// tarDir packs a directory (the OCI layout) into one tar, entries sorted, times fixed.
func (o *options) tarDir(dir, path string) error {
	var names []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		names = append(names, p)
		return nil
	})
	if err != nil {
		return err
	}
	slices.Sort(names)
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	tw := tar.NewWriter(f)
	for _, p := range names {
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		hdr := &tar.Header{Name: filepath.ToSlash(rel), Mode: 0o644, Size: int64(len(data)), ModTime: o.created, Typeflag: tar.TypeReg, Format: tar.FormatPAX}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if _, err := tw.Write(data); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	return f.Close()
}

func sha256File(path string) (string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:]), nil
}

// writeChecksums writes dist/checksums.txt in sha256sum's format ("<hex>  <path>", paths
// relative to dist), which `sha256sum -c checksums.txt` checks from dist.
func writeChecksums(dist string, files []string) (map[string]string, error) {
	sums := map[string]string{}
	var b strings.Builder
	for _, f := range files {
		s, err := sha256File(f)
		if err != nil {
			return nil, err
		}
		rel, err := filepath.Rel(dist, f)
		if err != nil {
			return nil, err
		}
		sums[rel] = s
		fmt.Fprintf(&b, "%s  %s\n", s, filepath.ToSlash(rel))
	}
	return sums, os.WriteFile(filepath.Join(dist, "checksums.txt"), []byte(b.String()), 0o644)
}

// krewManifest writes the krew plugin manifest for the archives, as it will be published
// (download URLs on the release page of --source).
func (o *options) krewManifest(archives []string) (string, error) {
	m := krewPlugin{APIVersion: krewAPIVersion, Kind: "Plugin"}
	m.Metadata.Name = "partner"
	m.Spec.Version = o.version
	m.Spec.Homepage = o.source
	m.Spec.ShortDescription = "Manage Entra ID B2B guests as PartnerInvitations"
	m.Spec.Description = "Imports the portal's bulk-invite CSV files and a tenant's existing guests as PartnerInvitation\n" +
		"manifests for partner-operator, and shows, resends and resets the invitations in a cluster.\n"
	for _, a := range archives {
		sum, err := sha256File(a)
		if err != nil {
			return "", err
		}
		name := filepath.Base(a)
		platform := strings.TrimSuffix(strings.TrimSuffix(strings.TrimPrefix(name, "kubectl-partner_"+o.version+"_"), ".tar.gz"), ".zip")
		goos, goarch, _ := strings.Cut(platform, "_")
		bin := pluginBinary(goos + "/" + goarch)
		m.Spec.Platforms = append(m.Spec.Platforms, krewPlatform{
			Selector: krewSelector{MatchLabels: map[string]string{"os": goos, "arch": goarch}},
			URI:      o.source + "/releases/download/" + o.version + "/" + name,
			Sha256:   sum,
			Bin:      bin,
			Files:    []krewFile{{From: bin, To: "."}, {From: "LICENSE", To: "."}},
		})
	}
	out, err := yaml.Marshal(m)
	if err != nil {
		return "", err
	}
	path := filepath.Join(o.dist, "krew", "partner.yaml")
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return "", err
	}
	return path, os.WriteFile(path, out, 0o644)
}

// verify checks a release directory as a user of it would: every file against checksums.txt,
// then the krew manifest against the archives.
func verify(dist string, w io.Writer) error {
	raw, err := os.ReadFile(filepath.Join(dist, "checksums.txt"))
	if err != nil {
		return err
	}
	n := 0
	for line := range strings.Lines(string(raw)) {
		want, name, ok := strings.Cut(strings.TrimSpace(line), "  ")
		if !ok {
			return fmt.Errorf("checksums.txt: %q is not sha256sum's format", line)
		}
		got, err := sha256File(filepath.Join(dist, filepath.FromSlash(name)))
		if err != nil {
			return err
		}
		if got != want {
			return fmt.Errorf("%s: sha256 %s, checksums.txt says %s", name, got, want)
		}
		n++
	}
	if err := validateKrewManifest(filepath.Join(dist, "krew", "partner.yaml"), dist); err != nil {
		return err
	}
	fmt.Fprintf(w, "%s: %d checksums match; the krew manifest is valid for its archives\n", dist, n)
	return nil
}
