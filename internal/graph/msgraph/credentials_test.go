package msgraph

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"

	"github.com/partnerops/partner-operator/internal/graph/emulator"
	"github.com/partnerops/partner-operator/internal/graph/msgraph/msgraphtest"
)

// fakeCloud stands for everything a credential could reach: the transport it returns dials the
// fake whatever the address (the authority, 169.254.169.254), and the managed identity
// endpoint variables point at it too. It counts connections, and answers managed identity
// token requests (App Service's protocol, which IDENTITY_ENDPOINT selects).
type fakeCloud struct {
	srv   *httptest.Server
	conns atomic.Int64
	mu    sync.Mutex
	miReq []url.Values
}

// cloudWith is a machine whose only credential variables are env, in a fake cloud.
func cloudWith(t *testing.T, env map[string]string) *fakeCloud {
	t.Helper()
	msgraphtest.ClearCredentials(t)
	cloud := newFakeCloud(t)
	for k, v := range env {
		t.Setenv(k, v)
	}
	return cloud
}

func newFakeCloud(t *testing.T) *fakeCloud {
	t.Helper()
	c := &fakeCloud{}
	c.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.mu.Lock()
		c.miReq = append(c.miReq, r.URL.Query())
		c.mu.Unlock()
		if r.Header.Get("X-IDENTITY-HEADER") != "fake-cloud" {
			http.Error(w, "not a managed identity request", http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"access_token": "mi-token", "expires_in": 3600, "token_type": "Bearer",
			"resource": r.URL.Query().Get("resource")})
	}))
	c.srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			c.conns.Add(1)
		}
	}
	c.srv.Start()
	t.Cleanup(c.srv.Close)
	t.Setenv("IDENTITY_ENDPOINT", c.srv.URL+"/msi/token")
	t.Setenv("IDENTITY_HEADER", "fake-cloud")
	return c
}

// transport sends every connection, to whatever address, to the fake.
func (c *fakeCloud) transport() *http.Client {
	addr := c.srv.Listener.Addr().String()
	return &http.Client{Transport: &http.Transport{DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, addr)
	}}}
}

func (c *fakeCloud) managedIdentityRequests() []url.Values {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]url.Values(nil), c.miReq...)
}

// Without a credential in the environment NewCredential fails at once, naming what to set,
// and nothing reaches the network: not the authority, not a managed identity endpoint.
func TestNewCredentialWithoutConfiguration(t *testing.T) {
	dir := t.TempDir()
	cert := writeCertificate(t, dir)
	tests := []struct {
		name string
		env  map[string]string
		want []string
	}{
		{"nothing", nil, []string{
			"no usable Azure credential is configured, and none was looked for on the network",
			"AZURE_TENANT_ID and AZURE_CLIENT_ID with either AZURE_CLIENT_SECRET", "or AZURE_CLIENT_CERTIFICATE_PATH",
			"AZURE_FEDERATED_TOKEN_FILE", "--managed-identity or AZURE_TOKEN_CREDENTIALS=ManagedIdentityCredential"}},
		// What azidentity's default chain took for a user-assigned managed identity.
		{"client ID alone", map[string]string{"AZURE_CLIENT_ID": "44444444-5555-6666-7777-888888888888"}, []string{
			"AZURE_TOKEN_CREDENTIALS=ManagedIdentityCredential", "AZURE_CLIENT_ID alone is not a credential"}},
		{"secret without IDs", map[string]string{"AZURE_CLIENT_SECRET": "s"}, []string{
			"AZURE_CLIENT_SECRET is set, but not AZURE_TENANT_ID nor AZURE_CLIENT_ID"}},
		{"certificate without tenant", map[string]string{"AZURE_CLIENT_CERTIFICATE_PATH": cert, "AZURE_CLIENT_ID": "app"}, []string{
			"AZURE_CLIENT_CERTIFICATE_PATH is set, but not AZURE_TENANT_ID"}},
		{"token file missing", map[string]string{"AZURE_TENANT_ID": "t", "AZURE_CLIENT_ID": "app",
			"AZURE_FEDERATED_TOKEN_FILE": filepath.Join(dir, "no-token")}, []string{"AZURE_FEDERATED_TOKEN_FILE: stat"}},
		{"a developer tool selected", map[string]string{"AZURE_TOKEN_CREDENTIALS": "dev"}, []string{
			"AZURE_TOKEN_CREDENTIALS=dev is not one partner-operator uses"}},
		{"environment selected, only workload identity set", map[string]string{"AZURE_TOKEN_CREDENTIALS": "EnvironmentCredential",
			"AZURE_TENANT_ID": "t", "AZURE_CLIENT_ID": "app", "AZURE_FEDERATED_TOKEN_FILE": cert}, []string{"AZURE_CLIENT_SECRET"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cloud := cloudWith(t, tc.env)
			cred, err := NewCredential(CredentialOptions{AuthorityHost: cloud.srv.URL + "/", Transport: cloud.transport(),
				ManagedIdentityFlag: "--managed-identity"})
			if !errors.Is(err, ErrNoCredential) || cred != nil {
				t.Fatalf("NewCredential: %v, %v; want ErrNoCredential and no credential", cred, err)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q\ndoes not say %q", err, w)
				}
			}
			if n := cloud.conns.Load(); n != 0 {
				t.Errorf("%d connections made", n)
			}
		})
	}
}

// A managed identity is used when asked for, and only then (the cases above are the "only").
func TestManagedIdentityWhenAsked(t *testing.T) {
	tests := []struct {
		name     string
		opts     CredentialOptions
		env      map[string]string
		clientID string
	}{
		{name: "option", opts: CredentialOptions{ManagedIdentity: true}},
		{name: "AZURE_TOKEN_CREDENTIALS, user-assigned", env: map[string]string{"AZURE_TOKEN_CREDENTIALS": "ManagedIdentityCredential",
			"AZURE_CLIENT_ID": "44444444-5555-6666-7777-888888888888"}, clientID: "44444444-5555-6666-7777-888888888888"},
		// azidentity's "prod" chain ends with a managed identity. (Another identity than the
		// first case's: MSAL caches managed identity tokens process-wide.)
		{name: "prod, nothing else", env: map[string]string{"AZURE_TOKEN_CREDENTIALS": "prod", "AZURE_CLIENT_ID": "prod-identity"},
			clientID: "prod-identity"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cloud := cloudWith(t, tc.env)
			tc.opts.Transport = cloud.transport()
			cred, err := NewCredential(tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			tok, err := cred.GetToken(testContext(t), policy.TokenRequestOptions{Scopes: []string{DefaultEndpoint + "/.default"}})
			if err != nil || tok.Token != "mi-token" {
				t.Fatalf("GetToken: %q, %v; want the managed identity's token", tok.Token, err)
			}
			reqs := cloud.managedIdentityRequests()
			if len(reqs) != 1 || reqs[0].Get("resource") != DefaultEndpoint || reqs[0].Get("client_id") != tc.clientID {
				t.Errorf("managed identity requests %v, want one for %s with client_id %q", reqs, DefaultEndpoint, tc.clientID)
			}
			// The fake sees what a credential sends: the zeros above are real.
			if cloud.conns.Load() == 0 {
				t.Error("no connection counted")
			}
		})
	}
}

// Each credential the environment configures gets its token from the (emulated) authority.
func TestCredentialFromEnvironment(t *testing.T) {
	dir := t.TempDir()
	token := filepath.Join(dir, "token")
	if err := os.WriteFile(token, []byte("a-service-account-token"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := map[string]map[string]string{
		"client secret":      {"AZURE_CLIENT_SECRET": "s"},
		"client certificate": {"AZURE_CLIENT_CERTIFICATE_PATH": writeCertificate(t, dir)},
		"workload identity":  {"AZURE_FEDERATED_TOKEN_FILE": token},
	}
	for name, env := range tests {
		t.Run(name, func(t *testing.T) {
			msgraphtest.ClearCredentials(t)
			emu := startEmulator(t)
			t.Setenv("AZURE_TENANT_ID", emu.TenantID())
			t.Setenv("AZURE_CLIENT_ID", "app")
			for k, v := range env {
				t.Setenv(k, v)
			}
			cred, err := NewCredential(CredentialOptions{AuthorityHost: emu.AuthorityURL(), Transport: emu.TLSClient()})
			if err != nil {
				t.Fatal(err)
			}
			c, err := NewClient(Config{Endpoint: emu.URL(), Credential: cred})
			if err != nil {
				t.Fatal(err)
			}
			u := emu.AddUser(emulator.User{Mail: "ann@fabrikam.example", UserType: "Guest"})
			if _, err := c.GetUser(testContext(t), u.ID); err != nil {
				t.Fatalf("GetUser with a %s: %v", name, err)
			}
		})
	}
}

// A credential the token endpoint refuses says what it tried and what to check, and says it
// the same way on every attempt (the message becomes a condition's).
func TestRefusedCredentialSaysWhatItTried(t *testing.T) {
	msgraphtest.ClearCredentials(t)
	emu := startEmulator(t)
	t.Setenv("AZURE_TENANT_ID", emu.TenantID())
	t.Setenv("AZURE_CLIENT_ID", "11111111-2222-3333-4444-555555555555")
	t.Setenv("AZURE_CLIENT_SECRET", "wrong-secret")
	tls := emu.TLSClient()
	tls.Transport = withoutSecret{tls.Transport}
	cred, err := NewCredential(CredentialOptions{AuthorityHost: emu.AuthorityURL(), Transport: tls})
	if err != nil {
		t.Fatal(err)
	}
	c, err := NewClient(Config{Endpoint: emu.URL(), Credential: cred})
	if err != nil {
		t.Fatal(err)
	}
	var msgs []string
	for range 2 {
		_, err := c.GetUser(testContext(t), "someone")
		msgs = append(msgs, graphErr(t, err).Error())
	}
	t.Logf("error: %s", msgs[0])
	for _, w := range []string{
		"the token endpoint refused the credential: 401 invalid_client (AADSTS7000215); tried client secret (AZURE_CLIENT_SECRET)",
		"client ID 11111111-2222-3333-4444-555555555555", "tenant " + emu.TenantID(), "authority host " + emu.AuthorityURL(),
		"check that the secret is a current one of the app registration", "--azure-authority-host",
	} {
		if !strings.Contains(msgs[0], w) {
			t.Errorf("message %q\ndoes not say %q", msgs[0], w)
		}
	}
	if msgs[0] != msgs[1] {
		t.Errorf("the message changes between attempts:\n%s\n%s", msgs[0], msgs[1])
	}

	// No answer at all names the same.
	cred, err = NewCredential(CredentialOptions{AuthorityHost: emu.AuthorityURL(), Transport: &http.Client{Transport: unreachable{}}})
	if err != nil {
		t.Fatal(err)
	}
	if c, err = NewClient(Config{Endpoint: emu.URL(), Credential: cred}); err != nil {
		t.Fatal(err)
	}
	_, err = c.GetUser(testContext(t), "someone")
	want := "no access token for client secret (AZURE_CLIENT_SECRET) for client ID 11111111-2222-3333-4444-555555555555 in tenant " + emu.TenantID()
	if msg := graphErr(t, err).Error(); !strings.Contains(msg, want) {
		t.Errorf("message %q\ndoes not say %q", msg, want)
	}
}

// unreachable fails every request at once, as not worth retrying (azcore's retry policy would
// wait seconds otherwise).
type unreachable struct{}

func (unreachable) RoundTrip(*http.Request) (*http.Response, error) { return nil, unreachableError{} }

type unreachableError struct{}

func (unreachableError) Error() string { return "dial tcp: connection refused" }
func (unreachableError) NonRetriable() {}

// writeCertificate writes a self-signed certificate and its RSA key in one PEM file, as
// AZURE_CLIENT_CERTIFICATE_PATH holds them.
func writeCertificate(t *testing.T, dir string) string {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "partner-operator-test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	out := append(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})...)
	path := filepath.Join(dir, "client.pem")
	if err := os.WriteFile(path, out, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func startEmulator(t *testing.T) *emulator.Emulator {
	t.Helper()
	emu := emulator.New(emulator.Options{RequireAuth: true})
	if err := emu.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(emu.Close)
	return emu
}
