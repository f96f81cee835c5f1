package emulator

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func startEmulator(t *testing.T, opts Options) *Emulator {
	t.Helper()
	e := New(opts)
	if err := e.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(e.Close)
	return e
}

func getJSON(t *testing.T, c *http.Client, req *http.Request) (int, http.Header, map[string]any) {
	t.Helper()
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var m map[string]any
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &m); err != nil {
			t.Fatalf("decode %q: %v", raw, err)
		}
	}
	return resp.StatusCode, resp.Header, m
}

func fetchToken(t *testing.T, e *Emulator, form url.Values) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, e.AuthorityURL()+e.TenantID()+"/oauth2/v2.0/token", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	status, _, body := getJSON(t, e.TLSClient(), req)
	return status, body
}

func TestStartAndURLs(t *testing.T) {
	e := startEmulator(t, Options{TenantID: "tenant-1"})
	if !strings.HasPrefix(e.URL(), "http://127.0.0.1:") || !strings.HasPrefix(e.AuthorityURL(), "https://127.0.0.1:") ||
		!strings.HasSuffix(e.AuthorityURL(), "/") || e.TenantID() != "tenant-1" {
		t.Fatalf("URL %q, AuthorityURL %q, TenantID %q", e.URL(), e.AuthorityURL(), e.TenantID())
	}
	if err := e.Start(); err == nil {
		t.Error("second Start did not fail")
	}
	if New(Options{}).TenantID() != DefaultTenantID {
		t.Error("default tenant not applied")
	}

	// The PEM is the certificate the TLS server presents, usable by an out-of-process client.
	block, _ := pem.Decode(e.CACertPEM())
	if block == nil {
		t.Fatal("CACertPEM is not PEM")
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	req, _ := http.NewRequest(http.MethodGet, e.AuthorityURL()+"tenant-1/v2.0/.well-known/openid-configuration", nil)
	if status, _, _ := getJSON(t, c, req); status != http.StatusOK {
		t.Errorf("PEM-trusting client: %d", status)
	}
	// An untrusting client is refused: the server really is TLS with its own certificate.
	if _, err := http.Get(e.AuthorityURL() + "tenant-1/v2.0/.well-known/openid-configuration"); err == nil {
		t.Error("default client trusted the emulator's self-signed certificate")
	}
}

func TestOpenIDConfiguration(t *testing.T) {
	e := startEmulator(t, Options{})
	host := strings.TrimSuffix(e.AuthorityURL(), "/")
	for _, tenant := range []string{e.TenantID(), "organizations", "some-other-tenant"} {
		req, _ := http.NewRequest(http.MethodGet, host+"/"+tenant+"/v2.0/.well-known/openid-configuration", nil)
		status, hdr, body := getJSON(t, e.TLSClient(), req)
		if tenant == "some-other-tenant" {
			// Every emulator is one tenant: another's ID is unknown here, as at Entra.
			if status != http.StatusBadRequest || body["error"] != "invalid_request" ||
				!strings.HasPrefix(str(body, "error_description"), "AADSTS90002: Tenant 'some-other-tenant' not found.") {
				t.Errorf("%s: %d %v, want 400 invalid_request AADSTS90002", tenant, status, body)
			}
			continue
		}
		if status != http.StatusOK || hdr.Get("Content-Type") != "application/json" {
			t.Fatalf("%s: %d %v", tenant, status, hdr)
		}
		for k, want := range map[string]string{
			"token_endpoint":         host + "/" + tenant + "/oauth2/v2.0/token",
			"authorization_endpoint": host + "/" + tenant + "/oauth2/v2.0/authorize",
			"issuer":                 host + "/" + tenant + "/v2.0",
		} {
			if body[k] != want {
				t.Errorf("%s: %s = %v, want %s", tenant, k, body[k], want)
			}
		}
		if _, ok := body["device_authorization_endpoint"]; !ok {
			t.Errorf("device_authorization_endpoint missing")
		}
	}
	req, _ := http.NewRequest(http.MethodGet, host+"/common/discovery/instance?api-version=1.1", nil)
	if status, _, body := getJSON(t, e.TLSClient(), req); status != http.StatusOK || body["tenant_discovery_endpoint"] == nil {
		t.Errorf("instance discovery: %d %v", status, body)
	}
}

func TestTokenEndpoint(t *testing.T) {
	e := startEmulator(t, Options{})
	good := url.Values{"grant_type": {"client_credentials"}, "client_id": {"app"}, "client_secret": {"s"},
		"scope": {"https://graph.microsoft.com/.default"}, "claims": {`{"access_token":{"xms_cc":{"values":["CP1"]}}}`}}
	status, body := fetchToken(t, e, good)
	if status != http.StatusOK || body["token_type"] != "Bearer" || body["expires_in"] != float64(3599) ||
		body["ext_expires_in"] != float64(3599) || str(body, "access_token") == "" {
		t.Fatalf("token: %d %v", status, body)
	}
	_, again := fetchToken(t, e, good)
	if str(again, "access_token") == str(body, "access_token") {
		t.Error("tokens are not unique")
	}
	assertion := url.Values{"grant_type": {"client_credentials"}, "client_id": {"app"},
		"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"}, "client_assertion": {"a.b.c"},
		"scope": {"https://graph.microsoft.com/.default"}}
	if status, _ := fetchToken(t, e, assertion); status != http.StatusOK {
		t.Errorf("client assertion: %d", status)
	}
	for name, tc := range map[string]struct {
		drop, set, val string
		want           string
	}{
		"no secret":       {drop: "client_secret", want: "invalid_client"},
		"no client id":    {drop: "client_id", want: "invalid_request"},
		"no scope":        {drop: "scope", want: "invalid_scope"},
		"other grant":     {set: "grant_type", val: "password", want: "unsupported_grant_type"},
		"no grant at all": {drop: "grant_type", want: "invalid_request"},
	} {
		form := url.Values{}
		for k, v := range good {
			form[k] = v
		}
		if tc.drop != "" {
			form.Del(tc.drop)
		}
		if tc.set != "" {
			form.Set(tc.set, tc.val)
		}
		status, body := fetchToken(t, e, form)
		if status < 400 || body["error"] != tc.want {
			t.Errorf("%s: %d %v, want error %s", name, status, body, tc.want)
		}
	}
}

func TestRequireAuth(t *testing.T) {
	e := startEmulator(t, Options{RequireAuth: true})
	u := e.AddUser(User{Mail: "a@fabrikam.com"})
	get := func(auth string) (int, http.Header, map[string]any) {
		req, _ := http.NewRequest(http.MethodGet, e.URL()+"/v1.0/users/"+u.ID, nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		return getJSON(t, http.DefaultClient, req)
	}

	for name, auth := range map[string]string{"no header": "", "unknown token": "Bearer forged", "wrong scheme": "Basic abc"} {
		status, hdr, body := get(auth)
		if status != http.StatusUnauthorized || str(body, "error", "code") != codeInvalidToken || hdr.Get("WWW-Authenticate") == "" {
			t.Errorf("%s: %d %v", name, status, body)
		}
	}
	_, tok := fetchToken(t, e, url.Values{"grant_type": {"client_credentials"}, "client_id": {"app"},
		"client_secret": {"s"}, "scope": {"https://graph.microsoft.com/.default"}})
	if status, _, body := get("Bearer " + str(tok, "access_token")); status != http.StatusOK || body["id"] != u.ID {
		t.Fatalf("with a token: %d %v", status, body)
	}
	if status, _, _ := get("Bearer " + e.IssueToken()); status != http.StatusOK {
		t.Errorf("IssueToken: %d", status)
	}
	if got := e.Count("GET", "/users/"); got != 5 {
		t.Errorf("Count = %d, want 5 (unauthorised requests are logged too)", got)
	}
	// The control API needs no token.
	resp, err := http.Get(e.URL() + "/_emulator/users")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("control API: %d", resp.StatusCode)
	}
}

func TestTokenExpiry(t *testing.T) {
	h := newHarness(t, Options{RequireAuth: true})
	u := h.e.AddUser(User{Mail: "a@fabrikam.com"})
	tok := h.e.IssueToken()
	if rep := h.graph(http.MethodGet, "/users/"+u.ID, nil, "Authorization", "Bearer "+tok); rep.status != http.StatusOK {
		t.Fatalf("fresh token: %d", rep.status)
	}
	h.clock.Advance(time.Hour)
	wantError(t, h.graph(http.MethodGet, "/users/"+u.ID, nil, "Authorization", "Bearer "+tok),
		http.StatusUnauthorized, codeInvalidToken, "expired")
}

func TestLatency(t *testing.T) {
	e := startEmulator(t, Options{Latency: 40 * time.Millisecond})
	start := time.Now()
	resp, err := http.Get(e.URL() + "/v1.0/users")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if d := time.Since(start); d < 40*time.Millisecond {
		t.Errorf("request took %v, want at least the 40ms latency", d)
	}
	e.SetLatency(0)
	if resp, err = http.Get(e.URL() + "/v1.0/users"); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("after SetLatency(0): %v", err)
	}
	resp.Body.Close()
}

func TestRun(t *testing.T) {
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	ctx, cancel := context.WithCancel(context.Background())
	var out syncBuffer
	done := make(chan error, 1)
	go func() { done <- Run(ctx, Options{CACertFile: caFile}, &out) }()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(out.String(), "control:") {
		if time.Now().After(deadline) {
			t.Fatalf("Run printed no URLs: %q", out.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	pemBytes, err := os.ReadFile(caFile)
	if err != nil || !bytes.Contains(pemBytes, []byte("BEGIN CERTIFICATE")) {
		t.Errorf("CA file: %v %q", err, pemBytes)
	}
	for _, want := range []string{"/v1.0", "https://127.0.0.1:", DefaultTenantID, caFile} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q: %s", want, out.String())
		}
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
}
