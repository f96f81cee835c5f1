package emulator

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeClock lets tests step through the visibility delay without sleeping.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// harness is an emulator behind an httptest server with a fake clock.
type harness struct {
	t     *testing.T
	e     *Emulator
	srv   *httptest.Server
	clock *fakeClock
}

func newHarness(t *testing.T, opts Options) *harness {
	t.Helper()
	clock := &fakeClock{t: time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)}
	opts.Now = clock.Now
	e := New(opts)
	srv := httptest.NewServer(e.Handler())
	t.Cleanup(srv.Close)
	return &harness{t: t, e: e, srv: srv, clock: clock}
}

// reply is a decoded response.
type reply struct {
	status int
	header http.Header
	body   map[string]any
	raw    []byte
}

// call sends a request to path (relative to the server root) with an optional JSON body.
func (h *harness) call(method, path string, body any, hdr ...string) reply {
	h.t.Helper()
	var rd io.Reader
	if body != nil {
		b, ok := body.([]byte)
		if !ok {
			var err error
			if b, err = json.Marshal(body); err != nil {
				h.t.Fatalf("marshal: %v", err)
			}
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, h.srv.URL+path, rd)
	if err != nil {
		h.t.Fatalf("new request: %v", err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	return h.send(req)
}

func (h *harness) send(req *http.Request) reply {
	h.t.Helper()
	resp, err := h.srv.Client().Do(req)
	if err != nil {
		h.t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		h.t.Fatalf("read body: %v", err)
	}
	rep := reply{status: resp.StatusCode, header: resp.Header, raw: raw}
	if len(raw) > 0 {
		if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
			h.t.Fatalf("%s %s: Content-Type %q, want application/json", req.Method, req.URL, ct)
		}
		if raw[0] == '{' {
			if err := json.Unmarshal(raw, &rep.body); err != nil {
				h.t.Fatalf("decode %s: %v", raw, err)
			}
		}
	}
	return rep
}

// graph sends to /v1.0+path.
func (h *harness) graph(method, path string, body any, hdr ...string) reply {
	h.t.Helper()
	return h.call(method, "/v1.0"+path, body, hdr...)
}

func (h *harness) invite(email string, extra map[string]any) reply {
	h.t.Helper()
	body := map[string]any{"invitedUserEmailAddress": email, "inviteRedirectUrl": "https://myapps.microsoft.com"}
	for k, v := range extra {
		body[k] = v
	}
	return h.graph(http.MethodPost, "/invitations", body)
}

// inviteID invites and returns the new user's id.
func (h *harness) inviteID(email string) string {
	h.t.Helper()
	rep := h.invite(email, nil)
	if rep.status != http.StatusCreated {
		h.t.Fatalf("invite %s: %d %s", email, rep.status, rep.raw)
	}
	return str(rep.body, "invitedUser", "id")
}

func gzipBytes(t *testing.T, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// str digs a string out of nested JSON objects ("" when absent).
func str(m map[string]any, keys ...string) string {
	var v any = m
	for _, k := range keys {
		obj, ok := v.(map[string]any)
		if !ok {
			return ""
		}
		v = obj[k]
	}
	s, _ := v.(string)
	return s
}

// values returns the "value" array of a collection answer.
func values(t *testing.T, rep reply) []map[string]any {
	t.Helper()
	arr, ok := rep.body["value"].([]any)
	if !ok {
		t.Fatalf("no value array in %s", rep.raw)
	}
	out := make([]map[string]any, len(arr))
	for i, v := range arr {
		out[i] = v.(map[string]any)
	}
	return out
}

// wantError checks Graph's error envelope.
func wantError(t *testing.T, rep reply, status int, code, msgPart string) {
	t.Helper()
	if rep.status != status {
		t.Fatalf("status %d, want %d: %s", rep.status, status, rep.raw)
	}
	if got := str(rep.body, "error", "code"); got != code {
		t.Errorf("error code %q, want %q", got, code)
	}
	if got := str(rep.body, "error", "message"); !strings.Contains(got, msgPart) {
		t.Errorf("error message %q does not contain %q", got, msgPart)
	}
	if _, ok := rep.body["error"].(map[string]any)["innerError"].(map[string]any); !ok {
		t.Errorf("error has no innerError: %s", rep.raw)
	}
}

func keys(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}
