// Package image assembles partner-operator's container image without a Docker daemon: the
// static operator binary, a CA bundle and a non-root user on an empty base, one image per
// platform under an OCI image index. Everything that goes in is fixed by its inputs (file
// times, owners and the config's creation time come from Spec.Created), so the same binaries
// give the same digest on any machine.
package image

import (
	"archive/tar"
	"bytes"
	"encoding/pem"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"golang.org/x/crypto/x509roots/fallback/bundle"
)

// Paths and identity inside the image.
const (
	Entrypoint = "/partner-operator"
	CABundle   = "/etc/ssl/certs/ca-certificates.crt"
	// NonRootUID is distroless's "nonroot", which the chart's securityContext also names.
	NonRootUID = 65532
)

// Spec is what an image is made of.
type Spec struct {
	// Binaries maps a platform ("linux/amd64") to the path of a static operator binary built
	// for it.
	Binaries map[string]string
	Version  string // release version, such as v0.1.0
	Revision string // VCS commit the binaries were built from
	Source   string // repository URL
	// Created stamps file times and the config; the commit's time keeps builds reproducible.
	Created time.Time
}

// Labels are the OCI annotations every image config and manifest carries.
func (s Spec) Labels() map[string]string {
	return map[string]string{
		"org.opencontainers.image.title":       "partner-operator",
		"org.opencontainers.image.description": "Kubernetes operator for Microsoft Entra ID B2B guest users",
		"org.opencontainers.image.source":      s.Source,
		"org.opencontainers.image.version":     s.Version,
		"org.opencontainers.image.revision":    s.Revision,
		"org.opencontainers.image.created":     s.Created.UTC().Format(time.RFC3339),
		"org.opencontainers.image.licenses":    "Apache-2.0",
	}
}

// Build returns the multi-platform index, platforms in a fixed order.
func Build(s Spec) (v1.ImageIndex, error) {
	if len(s.Binaries) == 0 {
		return nil, fmt.Errorf("image: no binaries")
	}
	if s.Version == "" || s.Revision == "" || s.Created.IsZero() {
		return nil, fmt.Errorf("image: version, revision and creation time are required")
	}
	platforms := make([]string, 0, len(s.Binaries))
	for p := range s.Binaries {
		platforms = append(platforms, p)
	}
	slices.Sort(platforms)
	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	idx = mutate.Annotations(idx, s.Labels()).(v1.ImageIndex)
	for _, p := range platforms {
		platform, err := v1.ParsePlatform(p)
		if err != nil {
			return nil, fmt.Errorf("image: platform %q: %w", p, err)
		}
		img, err := platformImage(s, *platform, s.Binaries[p])
		if err != nil {
			return nil, fmt.Errorf("image: %s: %w", p, err)
		}
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: platform}})
	}
	return idx, nil
}

func platformImage(s Spec, platform v1.Platform, binary string) (v1.Image, error) {
	exe, err := os.ReadFile(binary)
	if err != nil {
		return nil, fmt.Errorf("read binary: %w", err)
	}
	rootfs, err := rootFS(exe, s.Created)
	if err != nil {
		return nil, err
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(rootfs)), nil
	}, tarball.WithMediaType(types.OCILayer))
	if err != nil {
		return nil, fmt.Errorf("layer: %w", err)
	}
	img := mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
	img, err = mutate.Append(img, mutate.Addendum{Layer: layer, History: v1.History{
		Created:   v1.Time{Time: s.Created},
		CreatedBy: "partner-operator internal/image",
		Comment:   "operator binary, CA bundle, non-root user",
	}})
	if err != nil {
		return nil, fmt.Errorf("append layer: %w", err)
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cfg = cfg.DeepCopy()
	cfg.Created = v1.Time{Time: s.Created}
	cfg.OS, cfg.Architecture, cfg.Variant = platform.OS, platform.Architecture, platform.Variant
	cfg.Config.Entrypoint = []string{Entrypoint}
	cfg.Config.User = fmt.Sprintf("%d:%d", NonRootUID, NonRootUID)
	cfg.Config.WorkingDir = "/"
	cfg.Config.Env = []string{"PATH=/", "SSL_CERT_FILE=" + CABundle}
	cfg.Config.Labels = s.Labels()
	img, err = mutate.ConfigFile(img, cfg)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return mutate.Annotations(img, s.Labels()).(v1.Image), nil
}

// rootFS is the image's only layer, as an uncompressed tar with fixed times and owners.
func rootFS(exe []byte, created time.Time) ([]byte, error) {
	ca, err := caBundle()
	if err != nil {
		return nil, err
	}
	uid := NonRootUID
	entries := []struct {
		name     string
		mode     int64
		uid      int
		content  []byte
		typeflag byte
	}{
		{"etc/", 0o755, 0, nil, tar.TypeDir},
		{"etc/group", 0o644, 0, fmt.Appendf(nil, "root:x:0:\nnonroot:x:%d:\n", uid), tar.TypeReg},
		{"etc/passwd", 0o644, 0, fmt.Appendf(nil, "root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:%d:%d:nonroot:/home/nonroot:/sbin/nologin\n", uid, uid), tar.TypeReg},
		{"etc/ssl/", 0o755, 0, nil, tar.TypeDir},
		{"etc/ssl/certs/", 0o755, 0, nil, tar.TypeDir},
		{strings.TrimPrefix(CABundle, "/"), 0o644, 0, ca, tar.TypeReg},
		{"home/", 0o755, 0, nil, tar.TypeDir},
		{"home/nonroot/", 0o700, uid, nil, tar.TypeDir},
		{strings.TrimPrefix(Entrypoint, "/"), 0o755, 0, exe, tar.TypeReg},
		{"tmp/", 0o1777, 0, nil, tar.TypeDir},
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		hdr := &tar.Header{
			Typeflag: e.typeflag, Name: e.name, Mode: e.mode, Uid: e.uid, Gid: e.uid,
			Size: int64(len(e.content)), ModTime: created.UTC().Truncate(time.Second), Format: tar.FormatPAX,
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return nil, fmt.Errorf("tar %s: %w", e.name, err)
		}
		if _, err := tw.Write(e.content); err != nil {
			return nil, fmt.Errorf("tar %s: %w", e.name, err)
		}
	}
	if err := tw.Close(); err != nil {
		return nil, fmt.Errorf("tar: %w", err)
	}
	return buf.Bytes(), nil
}

// caBundle is Mozilla's root store as the Go team ships it (x509roots/fallback, pinned by
// go.sum), so the bundle does not depend on the build machine. Roots that carry a constraint
// PEM cannot express (a distrust-after date) are left out rather than trusted without it.
func caBundle() ([]byte, error) {
	var out bytes.Buffer
	for root := range bundle.Roots() {
		if root.Constraint != nil {
			continue
		}
		if err := pem.Encode(&out, &pem.Block{Type: "CERTIFICATE", Bytes: root.Certificate}); err != nil {
			return nil, fmt.Errorf("CA bundle: %w", err)
		}
	}
	if out.Len() == 0 {
		return nil, fmt.Errorf("CA bundle: no roots")
	}
	return out.Bytes(), nil
}
