package emulator_test

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/partnerops/partner-operator/internal/graph/emulator"
	"github.com/partnerops/partner-operator/internal/graph/emulator/conformance"
)

// TestConformance sends every documented behaviour of the conformance table to the emulator
// over plain HTTP, as curl would, and checks the answer Microsoft documents. The same table
// runs through msgraph-sdk-go in internal/graph/msgraph.
func TestConformance(t *testing.T) {
	runHTTPCases(t, conformance.Cases)
}

// runHTTPCases sends each case to a new emulator over plain HTTP and checks the answer.
func runHTTPCases(t *testing.T, cases []conformance.Case) {
	seen := map[string]bool{}
	for _, c := range cases {
		if seen[c.Name] {
			t.Fatalf("two cases are named %q", c.Name)
		}
		seen[c.Name] = true
		t.Run(c.Name, func(t *testing.T) {
			t.Parallel()
			if !strings.HasPrefix(c.Doc, "https://learn.microsoft.com/") {
				t.Errorf("case names no Microsoft Learn page: %q", c.Doc)
			}
			e := emulator.New(emulator.Options{RequireAuth: true})
			srv := httptest.NewServer(e.Handler())
			t.Cleanup(srv.Close)
			req, vars, err := c.Prepare(e)
			if err != nil {
				t.Fatal(err)
			}
			var body io.Reader
			if req.Body != nil {
				body = bytes.NewReader(req.Body)
			}
			hr, err := http.NewRequest(req.Method, srv.URL+"/v1.0"+req.Target, body)
			if err != nil {
				t.Fatal(err)
			}
			hr.Header.Set("Authorization", "Bearer "+e.IssueToken())
			if req.Body != nil {
				hr.Header.Set("Content-Type", "application/json")
			}
			for k, v := range req.Header {
				hr.Header.Set(k, v)
			}
			resp, err := srv.Client().Do(hr)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			raw, err := io.ReadAll(resp.Body)
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range c.CheckResponse(vars, resp.StatusCode, resp.Header, raw) {
				t.Errorf("%s %s: %s (source: %s)", req.Method, req.Target, p, c.Doc)
			}
			if t.Failed() {
				t.Logf("answer: %d %s", resp.StatusCode, raw)
			}
		})
	}
}

// TestTokenConformance sends every case of the token endpoint's table to the emulator's TLS
// token server and checks the answer Entra ID documents.
func TestTokenConformance(t *testing.T) {
	for _, c := range conformance.TokenCases {
		t.Run(c.Name, func(t *testing.T) {
			t.Parallel()
			e := emulator.New(emulator.Options{})
			if err := e.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(e.Close)
			if c.Setup != nil {
				if err := c.Setup(e); err != nil {
					t.Fatal(err)
				}
			}
			u := strings.TrimSuffix(e.AuthorityURL(), "/") + c.Path(e)
			resp, err := e.TLSClient().Post(u, "application/x-www-form-urlencoded", strings.NewReader(c.Body()))
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			raw, err := io.ReadAll(resp.Body)
			if err != nil {
				t.Fatal(err)
			}
			if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
				t.Errorf("Content-Type %q", ct)
			}
			for _, p := range c.Check(e, resp.StatusCode, raw) {
				t.Errorf("POST %s: %s (source: %s)", u, p, c.Doc)
			}
			if t.Failed() {
				t.Logf("answer: %d %s", resp.StatusCode, raw)
			}
		})
	}
}
