package main

import (
	"bytes"
	"encoding/json"
	"encoding/pem"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/partnerops/partner-operator/internal/graph/emulator"
	"github.com/partnerops/partner-operator/internal/graph/msgraph/msgraphtest"
)

// countingListener accepts connections on loopback, counts them and closes them.
func countingListener(t *testing.T) (addr string, conns *atomic.Int64) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	conns = &atomic.Int64{}
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			conns.Add(1)
			c.Close()
		}
	}()
	return l.Addr().String(), conns
}

// Without credentials, export stops before any connection, naming what to set. Graph, the
// authority and the managed identity endpoint all point at a listener that counts.
func TestExportWithoutCredential(t *testing.T) {
	msgraphtest.ClearCredentials(t)
	t.Setenv("KUBECONFIG", filepath.Join(t.TempDir(), "no-kubeconfig"))
	addr, conns := countingListener(t)
	// A managed identity, were one created, would ask here rather than at 169.254.169.254.
	t.Setenv("IDENTITY_ENDPOINT", "http://"+addr+"/msi/token")
	t.Setenv("IDENTITY_HEADER", "h")

	_, _, err := runPlugin(t, "export", "-n", "partners", "--graph-endpoint", "http://"+addr, "--azure-authority-host", "https://"+addr+"/")
	if err == nil {
		t.Fatal("export without a credential succeeded")
	}
	for _, w := range []string{"no usable Azure credential is configured", "AZURE_TENANT_ID", "AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET",
		"AZURE_CLIENT_CERTIFICATE_PATH", "AZURE_FEDERATED_TOKEN_FILE", "--managed-identity or AZURE_TOKEN_CREDENTIALS=ManagedIdentityCredential"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q\ndoes not name %q", err, w)
		}
	}
	if n := conns.Load(); n != 0 {
		t.Errorf("%d connections made without a credential", n)
	}
}

// A secret the token endpoint refuses is reported with the tenant, client ID and authority
// host tried, and what to check. A proxy in front of the emulator's authority plays Entra ID
// checking the secret (the emulator takes any): a wrong one reaches the emulator as none,
// which it refuses as Entra ID refuses a wrong secret, 401 invalid_client AADSTS7000215.
func TestExportWrongSecret(t *testing.T) {
	g := startGraph(t)
	authority, ca := secretCheckingAuthority(t, g.emu, "test-secret")
	t.Setenv("AZURE_CLIENT_SECRET", "wrong-secret")

	_, _, err := runPlugin(t, "export", "-n", "partners", "--graph-endpoint", g.emu.URL(),
		"--azure-authority-host", authority, "--azure-authority-ca-file", ca)
	if err == nil {
		t.Fatal("export with a wrong secret succeeded")
	}
	t.Logf("error: %v", err)
	for _, w := range []string{
		"the token endpoint refused the credential: 401 invalid_client (AADSTS7000215)",
		"client secret (AZURE_CLIENT_SECRET) for client ID kubectl-partner-test in tenant " + g.emu.TenantID() + " at authority host " + authority,
		"check that the secret is a current one of the app registration", "--azure-authority-host",
	} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q\ndoes not say %q", err, w)
		}
	}
	if n := len(g.emu.Requests()); n != 0 {
		t.Errorf("%d requests reached Graph without a token", n)
	}

	// The right secret through the same proxy works: the refusal was the secret's.
	t.Setenv("AZURE_CLIENT_SECRET", "test-secret")
	if _, stderr, err := runPlugin(t, "export", "-n", "partners", "--graph-endpoint", g.emu.URL(),
		"--azure-authority-host", authority, "--azure-authority-ca-file", ca); err != nil {
		t.Fatalf("export with the right secret: %v\n%s", err, stderr)
	}
}

// secretCheckingAuthority is a TLS proxy to the emulator's authority that drops a
// client_secret other than secret. It returns the proxy's authority host and CA file.
func secretCheckingAuthority(t *testing.T, emu *emulator.Emulator, secret string) (authority, caFile string) {
	t.Helper()
	upstream, err := url.Parse(emu.AuthorityURL())
	if err != nil {
		t.Fatal(err)
	}
	client := emu.TLSClient()
	proxy := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		if form, err := url.ParseQuery(string(body)); err == nil && form.Has("client_secret") && form.Get("client_secret") != secret {
			form.Del("client_secret")
			body = []byte(form.Encode())
		}
		out, err := http.NewRequestWithContext(r.Context(), r.Method, upstream.ResolveReference(&url.URL{Path: r.URL.Path, RawQuery: r.URL.RawQuery}).String(), bytes.NewReader(body))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		// The emulator names its endpoints after the Host it is asked at: the proxy's.
		out.Header, out.Host = r.Header.Clone(), r.Host
		resp, err := client.Do(out)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		for k, v := range resp.Header {
			w.Header()[k] = v
		}
		w.WriteHeader(resp.StatusCode)
		_, _ = io.Copy(w, resp.Body)
	}))
	t.Cleanup(proxy.Close)
	caFile = filepath.Join(t.TempDir(), "proxy-ca.pem")
	if err := os.WriteFile(caFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: proxy.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	return proxy.URL + "/", caFile
}

// --managed-identity asks the host's managed identity for the token (here an App Service
// style endpoint that hands out one of the emulator's tokens), even with no AZURE_* set.
func TestExportManagedIdentity(t *testing.T) {
	g := startGraph(t)
	msgraphtest.ClearCredentials(t)
	var asked atomic.Int64
	mi := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		asked.Add(1)
		if r.Header.Get("X-IDENTITY-HEADER") != "h" {
			http.Error(w, "no identity header", http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"access_token": g.emu.IssueToken(), "expires_in": 3600, "token_type": "Bearer",
			"resource": r.URL.Query().Get("resource")})
	}))
	t.Cleanup(mi.Close)
	t.Setenv("IDENTITY_ENDPOINT", mi.URL+"/msi/token")
	t.Setenv("IDENTITY_HEADER", "h")
	g.emu.AddUser(emulator.User{Mail: "ann@fabrikam.example", UserType: "Guest", CreationType: "Invitation"})

	stdout, stderr, err := g.export(t, "-n", "partners", "--managed-identity", "-o", "name")
	if err != nil {
		t.Fatalf("export --managed-identity: %v\n%s", err, stderr)
	}
	if stdout != "partnerinvitation.b2b.partnerops.io/ann-fabrikam-example\n" {
		t.Errorf("stdout %q", stdout)
	}
	if asked.Load() == 0 {
		t.Error("the managed identity endpoint was not asked")
	}
}
