// Package image tests the container image as make image builds it: reproducible, labelled,
// non-root, and working — its entrypoint, taken from the image's own layers, runs the operator
// against a real API server and the Graph emulator.
package image

import (
	"archive/tar"
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"io"
	"log"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"

	b2bv1alpha1 "github.com/partnerops/partner-operator/api/v1alpha1"
	"github.com/partnerops/partner-operator/internal/graph/emulator"
	"github.com/partnerops/partner-operator/internal/image"
	"github.com/partnerops/partner-operator/test/internal/operatorproc"
)

const testVersion = "v0.0.0-imagetest"

var root = filepath.Join("..", "..")

// buildImage runs the release tool as make image does, for this machine's platform only (make
// image builds amd64 and arm64), into its own dist directory.
func buildImage(t *testing.T, dist string) v1.ImageIndex {
	t.Helper()
	cmd := exec.Command("go", "run", "./hack/release", "image", "--version", testVersion,
		"--image-platforms", "linux/"+goarch(t), "--dist", dist)
	cmd.Dir = root
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("go run ./hack/release image: %v", err)
	}
	idx, err := image.ReadLayout(filepath.Join(dist, "image"))
	if err != nil {
		t.Fatal(err)
	}
	return idx
}

func goarch(t *testing.T) string {
	out, err := exec.Command("go", "env", "GOARCH").Output()
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(out))
}

func digest(t *testing.T, d interface{ Digest() (v1.Hash, error) }) v1.Hash {
	t.Helper()
	h, err := d.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestImage(t *testing.T) {
	first := buildImage(t, t.TempDir())
	second := buildImage(t, t.TempDir())
	if a, b := digest(t, first), digest(t, second); a != b {
		t.Fatalf("two builds of the same commit gave different digests: %s and %s", a, b)
	}
	t.Logf("index digest %s, the same twice", digest(t, first))

	img := platformImage(t, first)
	cfg, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	t.Run("config", func(t *testing.T) { checkConfig(t, cfg) })
	rootfs := t.TempDir()
	extract(t, img, rootfs)
	t.Run("files", func(t *testing.T) { checkFiles(t, rootfs) })
	entrypoint := filepath.Join(rootfs, strings.TrimPrefix(cfg.Config.Entrypoint[0], "/"))
	t.Run("--version", func(t *testing.T) {
		out, err := exec.Command(entrypoint, "--version").CombinedOutput()
		if err != nil {
			t.Fatalf("%s --version: %v\n%s", cfg.Config.Entrypoint[0], err, out)
		}
		want := "partner-operator " + testVersion + " (revision " + cfg.Config.Labels["org.opencontainers.image.revision"]
		if !strings.HasPrefix(string(out), want) {
			t.Fatalf("--version printed %q, want it to start with %q", out, want)
		}
	})
	t.Run("runs the operator", func(t *testing.T) { runOperator(t, entrypoint) })
	t.Run("push", func(t *testing.T) { pushAndPull(t, first) })
}

func platformImage(t *testing.T, idx v1.ImageIndex) v1.Image {
	t.Helper()
	m, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if m.MediaType != "application/vnd.oci.image.index.v1+json" || len(m.Manifests) != 1 {
		t.Fatalf("index: media type %s with %d manifests, want one OCI manifest per requested platform", m.MediaType, len(m.Manifests))
	}
	d := m.Manifests[0]
	if d.Platform == nil || d.Platform.OS != "linux" || d.Platform.Architecture != goarch(t) {
		t.Fatalf("manifest platform %+v, want linux/%s", d.Platform, goarch(t))
	}
	img, err := idx.Image(d.Digest)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func checkConfig(t *testing.T, cfg *v1.ConfigFile) {
	if got := cfg.Config.User; got != "65532:65532" {
		t.Errorf("User = %q, want 65532:65532 (non-root, as the chart's securityContext runs it)", got)
	}
	if got := cfg.Config.Entrypoint; len(got) != 1 || got[0] != "/partner-operator" {
		t.Errorf("Entrypoint = %v", got)
	}
	for _, label := range []string{"source", "version", "revision", "created", "licenses"} {
		if cfg.Config.Labels["org.opencontainers.image."+label] == "" {
			t.Errorf("label org.opencontainers.image.%s is missing (labels: %v)", label, cfg.Config.Labels)
		}
	}
	if got := cfg.Config.Labels["org.opencontainers.image.version"]; got != testVersion {
		t.Errorf("version label %q, want %q", got, testVersion)
	}
	if cfg.Created.IsZero() || time.Since(cfg.Created.Time) < 0 {
		t.Errorf("created %v: want the commit's time", cfg.Created)
	}
}

// extract unpacks the image's filesystem, as a container runtime would, into dir.
func extract(t *testing.T, img v1.Image, dir string) {
	t.Helper()
	rc := mutate.Extract(img)
	defer rc.Close()
	tr := tar.NewReader(rc)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		target := filepath.Join(dir, filepath.Clean("/"+hdr.Name))
		switch hdr.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(target, 0o755); err != nil {
				t.Fatal(err)
			}
		case tar.TypeReg:
			if hdr.Uid != 0 {
				t.Errorf("%s belongs to uid %d: the image's files are root's, read-only to the operator", hdr.Name, hdr.Uid)
			}
			f, err := os.OpenFile(target, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, os.FileMode(hdr.Mode)&0o755)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := io.Copy(f, tr); err != nil {
				t.Fatal(err)
			}
			f.Close()
		default:
			t.Errorf("unexpected entry %s of type %c", hdr.Name, hdr.Typeflag)
		}
	}
}

func checkFiles(t *testing.T, rootfs string) {
	passwd, err := os.ReadFile(filepath.Join(rootfs, "etc", "passwd"))
	if err != nil || !strings.Contains(string(passwd), "nonroot:x:65532:65532:") {
		t.Errorf("/etc/passwd has no nonroot user 65532: %q %v", passwd, err)
	}
	raw, err := os.ReadFile(filepath.Join(rootfs, "etc", "ssl", "certs", "ca-certificates.crt"))
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for block, rest := pem.Decode(raw); block != nil; block, rest = pem.Decode(rest) {
		if _, err := x509.ParseCertificate(block.Bytes); err != nil {
			t.Fatalf("CA bundle entry %d: %v", n, err)
		}
		n++
	}
	if n < 100 {
		t.Errorf("CA bundle has %d certificates, want Mozilla's root store (over 100)", n)
	}
	t.Logf("CA bundle: %d roots", n)
}

// runOperator runs the image's entrypoint as the operator, under the shipped RBAC, against
// envtest and the emulator, and sees it invite a guest.
func runOperator(t *testing.T, entrypoint string) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cp := operatorproc.StartControlPlane(t, root)
	emu := operatorproc.StartEmulator(t, emulator.Options{RequireAuth: true})
	dir := t.TempDir()
	env := operatorproc.NewEnvironment(t, entrypoint, dir, cp.Env, emu)
	operatorproc.AllowInvitations(t, ctx, cp.Client)
	proc := env.Start(t, ctx, "operator.log")
	defer proc.Stop()
	pinv := &b2bv1alpha1.PartnerInvitation{
		ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "image-test"},
		Spec:       b2bv1alpha1.PartnerInvitationSpec{Email: "ina@image.example"},
	}
	if err := cp.Client.Create(ctx, pinv); err != nil {
		t.Fatal(err)
	}
	// Wait on what the operator writes to the API server: Invited, with the guest's ID; stop
	// early if the process exits.
	var got b2bv1alpha1.PartnerInvitation
	err := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		if proc.Exited() {
			return false, errors.New("the operator exited")
		}
		if err := cp.Client.Get(ctx, client.ObjectKeyFromObject(pinv), &got); err != nil {
			return false, err
		}
		return meta.IsStatusConditionTrue(got.Status.Conditions, b2bv1alpha1.ConditionInvited) && got.Status.UserID != "", nil
	})
	if err != nil {
		logs, _ := os.ReadFile(proc.LogPath)
		t.Fatalf("the image's operator did not invite within a minute: %v; conditions %+v\n%s", err, got.Status.Conditions, logs)
	}
	t.Logf("invited by the image's operator: user %s", got.Status.UserID)
}

// pushAndPull pushes the index to a registry on loopback and pulls it back by tag: what
// make image-push does, and the digest a cluster would pull.
func pushAndPull(t *testing.T, idx v1.ImageIndex) {
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	defer srv.Close()
	u, _ := url.Parse(srv.URL)
	ref := u.Host + "/partnerops/partner-operator:" + testVersion
	if err := image.Push(context.Background(), idx, ref, name.Insecure); err != nil {
		t.Fatal(err)
	}
	tag, err := name.ParseReference(ref, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	pulled, err := remote.Index(tag)
	if err != nil {
		t.Fatal(err)
	}
	if a, b := digest(t, pulled), digest(t, idx); a != b {
		t.Fatalf("pulled %s, pushed %s", a, b)
	}
}
