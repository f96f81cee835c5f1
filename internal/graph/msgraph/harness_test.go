package msgraph

import (
	"context"
	"encoding/json"
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	graph "github.com/partnerops/partner-operator/internal/graph"
	"github.com/partnerops/partner-operator/internal/graph/emulator"
)

// newTestClient starts an emulator that demands a bearer token and returns the real SDK
// client talking to it over HTTP, authenticated through the emulator's TLS token endpoint.
// At cleanup it asserts that every Graph request the test made carried a token.
func newTestClient(t *testing.T, opts emulator.Options) (*Client, *emulator.Emulator) {
	t.Helper()
	opts.RequireAuth = true
	emu := emulator.New(opts)
	if err := emu.Start(); err != nil {
		t.Fatalf("start emulator: %v", err)
	}
	t.Cleanup(emu.Close)
	cred, err := NewClientSecretCredential(emu.TenantID(), "id", "secret", emu.AuthorityURL(), emu.TLSClient())
	if err != nil {
		t.Fatalf("credential: %v", err)
	}
	c, err := NewClient(Config{
		Endpoint:   emu.URL(),
		Credential: cred,
		Retry:      RetryOptions{MaxRetries: 3, MaxInlineWait: 2 * time.Second},
	})
	if err != nil {
		t.Fatalf("new client: %v", err)
	}
	t.Cleanup(func() { assertAuthorized(t, emu) })
	return c, emu
}

// assertAuthorized checks the request log: with RequireAuth, a request without a valid token
// would have been answered 401.
func assertAuthorized(t *testing.T, emu *emulator.Emulator) {
	t.Helper()
	for _, r := range emu.Requests() {
		if !strings.HasPrefix(r.Header.Get("Authorization"), "Bearer ") {
			t.Errorf("%s %s was sent without a bearer token", r.Method, r.Path)
		}
		if r.Status == 401 {
			t.Errorf("%s %s was refused: 401", r.Method, r.Path)
		}
	}
}

func testContext(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// graphErr asserts that err is a classified *graph.Error and returns it.
func graphErr(t *testing.T, err error) *graph.Error {
	t.Helper()
	var ge *graph.Error
	if !errors.As(err, &ge) {
		t.Fatalf("error %v (%T) is not a *graph.Error", err, err)
	}
	return ge
}

// requests returns the logged requests with the method whose path is exactly path.
func requests(emu *emulator.Emulator, method, path string) []emulator.Request {
	var out []emulator.Request
	for _, r := range emu.Requests() {
		if r.Method == method && r.Path == path {
			out = append(out, r)
		}
	}
	return out
}

// onlyRequest returns the only logged request with the method and path, failing otherwise.
func onlyRequest(t *testing.T, emu *emulator.Emulator, method, path string) emulator.Request {
	t.Helper()
	rs := requests(emu, method, path)
	if len(rs) != 1 {
		t.Fatalf("%s %s was sent %d times, want 1 (log: %v)", method, path, len(rs), summarize(emu.Requests()))
	}
	return rs[0]
}

func summarize(rs []emulator.Request) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.Method + " " + r.Path + "?" + r.RawQuery
	}
	return out
}

func decodeBody(t *testing.T, r emulator.Request) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.Body, &m); err != nil {
		t.Fatalf("%s %s body %q is not JSON: %v", r.Method, r.Path, r.Body, err)
	}
	return m
}

// queryParam reads one (decoded) query parameter of a logged request.
func queryParam(t *testing.T, r emulator.Request, name string) string {
	t.Helper()
	q, err := url.ParseQuery(r.RawQuery)
	if err != nil {
		t.Fatalf("query %q: %v", r.RawQuery, err)
	}
	return q.Get(name)
}
