package emulator

import (
	"bytes"
	"encoding/json"
	"net/http"
	"sync"
	"testing"
	"time"
)

// syncBuffer is a bytes.Buffer safe for Run's goroutine and the test to share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func decodeArray(t *testing.T, rep reply) []map[string]any {
	t.Helper()
	var out []map[string]any
	if err := json.Unmarshal(rep.raw, &out); err != nil {
		t.Fatalf("decode %s: %v", rep.raw, err)
	}
	return out
}

func TestControlUsers(t *testing.T) {
	h := newHarness(t, Options{VisibilityDelay: time.Minute})
	seeded := h.call(http.MethodPost, "/_emulator/users", map[string]any{
		"mail": "old@fabrikam.com", "userType": "Guest", "creationType": "Invitation", "externalUserState": "Accepted",
	})
	if seeded.status != http.StatusCreated || seeded.body["accountEnabled"] != true || str(seeded.body, "id") == "" {
		t.Fatalf("seed: %d %s", seeded.status, seeded.raw)
	}
	id := h.inviteID("new@fabrikam.com")

	list := decodeArray(t, h.call(http.MethodGet, "/_emulator/users", nil))
	if len(list) != 2 || list[0]["visible"] != true || list[1]["visible"] != false || list[1]["externalUserState"] != "PendingAcceptance" {
		t.Fatalf("list: %v", list)
	}
	if rep := h.call(http.MethodPost, "/_emulator/users/"+id+"/accept", nil); rep.status != http.StatusNoContent {
		t.Fatalf("accept: %d %s", rep.status, rep.raw)
	}
	if u, _ := h.e.User(id); u.ExternalUserState != StateAccepted {
		t.Errorf("accept did not take: %+v", u)
	}
	wantError(t, h.call(http.MethodPost, "/_emulator/users/ghost/accept", nil), http.StatusNotFound, codeNotFound, "ghost")
	if rep := h.call(http.MethodDelete, "/_emulator/users/"+id, nil); rep.status != http.StatusNoContent {
		t.Fatalf("delete: %d", rep.status)
	}
	if _, ok := h.e.User(id); ok {
		t.Error("control delete left the user")
	}
	wantError(t, h.call(http.MethodPost, "/_emulator/users", []byte("{")), http.StatusBadRequest, codeBadRequest, "JSON")
	wantError(t, h.call(http.MethodGet, "/_emulator/nothing", nil), http.StatusNotFound, codeNotFound, "")
	if n := len(h.e.Requests()); n != 1 {
		t.Errorf("control requests were logged as Graph traffic: %d entries", n)
	}
}

func TestControlFaultsSettingsStats(t *testing.T) {
	h := newHarness(t, Options{})
	rep := h.call(http.MethodPost, "/_emulator/faults", map[string]any{
		"method": "POST", "pathPrefix": "/invitations", "status": 429, "retryAfter": "3s", "times": 1,
	})
	if rep.status != http.StatusNoContent {
		t.Fatalf("inject: %d %s", rep.status, rep.raw)
	}
	pending := decodeArray(t, h.call(http.MethodGet, "/_emulator/faults", nil))
	if len(pending) != 1 || pending[0]["retryAfter"] != float64(3) {
		t.Fatalf("pending: %v", pending)
	}
	inv := h.invite("a@fabrikam.com", map[string]any{"sendInvitationMessage": true})
	if inv.status != 429 || inv.header.Get("Retry-After") != "3" {
		t.Fatalf("fault via control API: %d %v", inv.status, inv.header)
	}
	h.call(http.MethodPost, "/_emulator/faults", map[string]any{"status": 503, "retryAfter": 2, "times": -1})
	if rep := h.call(http.MethodDelete, "/_emulator/faults", nil); rep.status != http.StatusNoContent {
		t.Fatalf("clear: %d", rep.status)
	}
	wantError(t, h.call(http.MethodPost, "/_emulator/faults", map[string]any{"status": 200}), http.StatusBadRequest, codeBadRequest, "status")
	wantError(t, h.call(http.MethodPost, "/_emulator/faults", map[string]any{"status": 500, "retryAfter": "soon"}), http.StatusBadRequest, codeBadRequest, "retryAfter")

	if rep := h.call(http.MethodPost, "/_emulator/settings", map[string]any{"visibilityDelay": "1m"}); rep.status != http.StatusNoContent {
		t.Fatalf("settings: %d %s", rep.status, rep.raw)
	}
	id := h.inviteID("a@fabrikam.com")
	if rep := h.graph(http.MethodGet, "/users/"+id, nil); rep.status != http.StatusNotFound {
		t.Errorf("visibilityDelay setting not applied: %d", rep.status)
	}

	h.call(http.MethodPost, "/_emulator/groups", map[string]any{"displayName": "g"})
	h.call(http.MethodPost, "/_emulator/servicePrincipals", map[string]any{"displayName": "app", "appRoles": []any{map[string]any{"value": "R"}}})
	stats := h.call(http.MethodGet, "/_emulator/stats", nil).body
	for k, want := range map[string]float64{
		"users": 1, "visibleUsers": 0, "groups": 1, "servicePrincipals": 1, "invitations": 1, "requests": 3, "pendingFaults": 0,
	} {
		if stats[k] != want {
			t.Errorf("stats[%s] = %v, want %v", k, stats[k], want)
		}
	}
	if byRoute := stats["requestsByRoute"].(map[string]any); byRoute["POST /invitations"] != float64(2) {
		t.Errorf("requestsByRoute: %v", byRoute)
	}
	if mails := stats["mailsSent"].(map[string]any); len(mails) != 0 {
		t.Errorf("faulted invitation counted a mail: %v", mails)
	}
	if gs := decodeArray(t, h.call(http.MethodGet, "/_emulator/groups", nil)); len(gs) != 1 || gs[0]["displayName"] != "g" {
		t.Errorf("groups: %v", gs)
	}
	if sps := decodeArray(t, h.call(http.MethodGet, "/_emulator/servicePrincipals", nil)); len(sps) != 1 || len(sps[0]["appRoles"].([]any)) != 1 {
		t.Errorf("service principals: %v", sps)
	}
	if reqs := decodeArray(t, h.call(http.MethodGet, "/_emulator/requests", nil)); len(reqs) != 3 || reqs[0]["status"] != float64(429) {
		t.Errorf("requests: %v", reqs)
	}
	if rep := h.call(http.MethodDelete, "/_emulator/requests", nil); rep.status != http.StatusNoContent || h.e.Count("", "") != 0 {
		t.Errorf("reset requests: %d", rep.status)
	}
}

func TestParseWireDuration(t *testing.T) {
	tests := map[string]time.Duration{`2`: 2 * time.Second, `"1.5"`: 1500 * time.Millisecond, `"250ms"`: 250 * time.Millisecond, `null`: 0, ``: 0}
	for in, want := range tests {
		got, err := parseWireDuration(json.RawMessage(in), time.Second)
		if err != nil || got != want {
			t.Errorf("parseWireDuration(%s) = %v, %v; want %v", in, got, err, want)
		}
	}
	if _, err := parseWireDuration(json.RawMessage(`true`), time.Second); err == nil {
		t.Error("a boolean parsed as a duration")
	}
}
