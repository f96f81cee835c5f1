package emulator

import (
	"crypto/x509"
	"encoding/pem"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// With GraphTLS, Graph is served over HTTPS with the emulator's own certificate: clients that
// trust it (TLSClient, or CACertPEM) get through, others fail the handshake, and the links
// Graph hands out are https too.
func TestGraphTLS(t *testing.T) {
	e := startEmulator(t, Options{GraphTLS: true})
	if !strings.HasPrefix(e.URL(), "https://127.0.0.1:") {
		t.Fatalf("URL %q, want https", e.URL())
	}
	for range 3 {
		e.AddUser(User{Mail: "p" + newUUID()[:4] + "@fabrikam.com"})
	}
	req, _ := http.NewRequest(http.MethodGet, e.URL()+"/v1.0/users?$top=2", nil)
	status, _, body := getJSON(t, e.TLSClient(), req)
	if status != http.StatusOK {
		t.Fatalf("GET /users over TLS: %d %v", status, body)
	}
	next, _ := body["@odata.nextLink"].(string)
	if u, err := url.Parse(next); err != nil || u.Scheme != "https" || "https://"+u.Host != e.URL() {
		t.Errorf("nextLink %q is not on the emulator's https host", next)
	}

	if _, err := http.DefaultClient.Get(e.URL() + "/v1.0/users"); err == nil {
		t.Error("a client that does not trust the emulator's certificate got through")
	}
	plain := "http://" + strings.TrimPrefix(e.URL(), "https://")
	if resp, err := http.Get(plain + "/v1.0/users"); err == nil {
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			t.Error("plain HTTP is still served")
		}
	}

	// The PEM is a certificate for the loopback names the listener uses.
	block, _ := pem.Decode(e.CACertPEM())
	if block == nil {
		t.Fatal("CACertPEM holds no PEM block")
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if err := cert.VerifyHostname("127.0.0.1"); err != nil {
		t.Errorf("certificate: %v", err)
	}
}
