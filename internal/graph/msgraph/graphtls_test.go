package msgraph

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/partnerops/partner-operator/internal/graph/emulator"
)

// The client talks to Graph over TLS the way it does in production: the emulator serves
// HTTPS with its own CA, which the client trusts through a CA file (the operator's flag) and
// nothing else; the bearer token still goes out, as the host is allowed.
func TestClientOverTLS(t *testing.T) {
	emu := emulator.New(emulator.Options{RequireAuth: true, GraphTLS: true})
	if err := emu.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(emu.Close)
	if !strings.HasPrefix(emu.URL(), "https://") {
		t.Fatalf("emulator URL %q is not https", emu.URL())
	}
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(caFile, emu.CACertPEM(), 0o600); err != nil {
		t.Fatal(err)
	}
	httpClient, err := NewHTTPClientTrusting(caFile)
	if err != nil {
		t.Fatal(err)
	}
	cred, err := NewClientSecretCredential(emu.TenantID(), "id", "secret", emu.AuthorityURL(), emu.TLSClient())
	if err != nil {
		t.Fatal(err)
	}
	newClient := func(cfg Config) *Client {
		c, err := NewClient(cfg)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	cfg := Config{Endpoint: emu.URL(), Credential: cred, HTTPClient: httpClient, Retry: RetryOptions{MaxRetries: 1, MaxInlineWait: time.Second}}
	u := emu.AddUser(emulator.User{Mail: "jane@fabrikam.com", UserType: "Guest", CreationType: "Invitation"})
	got, err := newClient(cfg).GetUser(testContext(t), u.ID)
	if err != nil || got.ID != u.ID {
		t.Fatalf("GetUser over TLS: %+v, %v", got, err)
	}
	assertAuthorized(t, emu)

	// Without the CA the handshake fails and the call with it.
	cfg.HTTPClient = nil
	if _, err := newClient(cfg).GetUser(testContext(t), u.ID); err == nil {
		t.Error("a client that does not trust the emulator's CA reached it")
	}
	if _, err := NewHTTPClientTrusting(filepath.Join(t.TempDir(), "missing.pem")); err == nil {
		t.Error("a missing CA file is not an error")
	}
}
