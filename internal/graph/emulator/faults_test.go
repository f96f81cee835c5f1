package emulator

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

func TestFaultThrottleThenSuccess(t *testing.T) {
	h := newHarness(t, Options{})
	h.e.InjectFault(Fault{Method: "POST", PathPrefix: "/invitations", Status: 429, RetryAfter: 1500 * time.Millisecond, Times: 2})

	for i := range 2 {
		rep := h.invite("jane@fabrikam.com", nil)
		wantError(t, rep, http.StatusTooManyRequests, codeTooManyRequests, "")
		if ra := rep.header.Get("Retry-After"); ra != "2" {
			t.Errorf("attempt %d: Retry-After %q, want 2 (rounded up)", i, ra)
		}
	}
	if n := len(h.e.Users()); n != 0 {
		t.Fatalf("faulted invitations created %d users", n)
	}
	if n := h.e.MailsSent("jane@fabrikam.com"); n != 0 {
		t.Fatalf("faulted invitations counted %d mails", n)
	}
	// Other routes were never affected, and the fault is spent after Times.
	if rep := h.graph(http.MethodGet, "/users", nil); rep.status != http.StatusOK {
		t.Errorf("unrelated route faulted: %d", rep.status)
	}
	if rep := h.invite("jane@fabrikam.com", nil); rep.status != http.StatusCreated {
		t.Fatalf("after the fault: %d %s", rep.status, rep.raw)
	}
	if got := h.e.Count("POST", "/invitations"); got != 3 {
		t.Errorf("Count(POST /invitations) = %d, want 3 (faulted requests count)", got)
	}
}

func TestFaultDefaults(t *testing.T) {
	tests := []struct {
		fault      Fault
		status     int
		code       string
		retryAfter string
	}{
		{Fault{Status: 503, RetryAfter: 100 * time.Millisecond}, 503, "serviceNotAvailable", "1"},
		{Fault{Status: 500, RetryAfter: 5 * time.Second}, 500, "generalException", ""},
		{Fault{Status: 502}, 502, "generalException", ""},
		{Fault{Status: 429}, 429, "TooManyRequests", ""},
		{Fault{}, 500, "generalException", ""},
		{Fault{Status: 403, Code: "Authorization_RequestDenied", Message: "nope"}, 403, "Authorization_RequestDenied", ""},
	}
	for _, tc := range tests {
		h := newHarness(t, Options{})
		h.e.InjectFault(tc.fault)
		rep := h.graph(http.MethodGet, "/users", nil)
		wantError(t, rep, tc.status, tc.code, tc.fault.Message)
		if got := rep.header.Get("Retry-After"); got != tc.retryAfter {
			t.Errorf("%+v: Retry-After %q, want %q", tc.fault, got, tc.retryAfter)
		}
		if rep := h.graph(http.MethodGet, "/users", nil); rep.status != http.StatusOK {
			t.Errorf("%+v: Times 0 should mean one failure; second request got %d", tc.fault, rep.status)
		}
	}
}

func TestFaultMatchingAndClear(t *testing.T) {
	h := newHarness(t, Options{})
	h.e.InjectFault(Fault{Method: "DELETE", PathPrefix: "/users/", Status: 500, Times: -1})
	u := h.e.AddUser(User{Mail: "a@fabrikam.com"})
	for range 3 {
		wantError(t, h.graph(http.MethodDelete, "/users/"+u.ID, nil), 500, codeGeneral, "")
	}
	if rep := h.graph(http.MethodGet, "/users/"+u.ID, nil); rep.status != http.StatusOK {
		t.Fatalf("GET matched a DELETE fault: %d", rep.status)
	}
	if _, ok := h.e.User(u.ID); !ok {
		t.Fatal("faulted DELETE removed the user")
	}
	h.e.ClearFaults()
	if rep := h.graph(http.MethodDelete, "/users/"+u.ID, nil); rep.status != http.StatusNoContent {
		t.Fatalf("after ClearFaults: %d", rep.status)
	}
}

func TestRequestLog(t *testing.T) {
	h := newHarness(t, Options{})
	id := h.inviteID("jane@fabrikam.com")
	h.graph(http.MethodGet, "/users/"+id+"?$select=id", nil, "client-request-id", "abc-123")
	h.graph(http.MethodGet, "/users/missing", nil)
	h.call(http.MethodGet, "/_emulator/stats", nil) // control traffic is not Graph traffic

	reqs := h.e.Requests()
	if len(reqs) != 3 {
		t.Fatalf("%d requests logged, want 3: %+v", len(reqs), reqs)
	}
	want := []struct {
		method, path, query string
		status              int
	}{
		{"POST", "/invitations", "", 201},
		{"GET", "/users/" + id, "$select=id", 200},
		{"GET", "/users/missing", "", 404},
	}
	for i, w := range want {
		r := reqs[i]
		if r.Method != w.method || r.Path != w.path || r.RawQuery != w.query || r.Status != w.status {
			t.Errorf("request %d = %s %s ?%s %d, want %+v", i, r.Method, r.Path, r.RawQuery, r.Status, w)
		}
		if r.Time.IsZero() {
			t.Errorf("request %d has no time", i)
		}
	}
	if !strings.Contains(string(reqs[0].Body), "jane@fabrikam.com") {
		t.Errorf("body not logged: %q", reqs[0].Body)
	}
	if reqs[1].Header.Get("client-request-id") != "abc-123" {
		t.Errorf("headers not logged: %v", reqs[1].Header)
	}
	counts := map[[2]string]int{
		{"", ""}: 3, {"GET", "/users"}: 2, {"get", "/users/missing"}: 1, {"POST", ""}: 1, {"DELETE", ""}: 0,
	}
	for k, n := range counts {
		if got := h.e.Count(k[0], k[1]); got != n {
			t.Errorf("Count(%q,%q) = %d, want %d", k[0], k[1], got, n)
		}
	}
	// Mutating the copy does not touch the log.
	reqs[0].Body[0] = 'X'
	if h.e.Requests()[0].Body[0] == 'X' {
		t.Error("Requests returned the log's own slices")
	}
	h.e.ResetRequests()
	if n := len(h.e.Requests()); n != 0 || h.e.Count("", "") != 0 {
		t.Errorf("after ResetRequests: %d", n)
	}
}

func TestResponseHeaders(t *testing.T) {
	h := newHarness(t, Options{})
	rep := h.graph(http.MethodGet, "/users/missing", nil, "client-request-id", "cid-1")
	if rep.header.Get("client-request-id") != "cid-1" || rep.header.Get("request-id") == "" {
		t.Errorf("ids not echoed: %v", rep.header)
	}
	inner := rep.body["error"].(map[string]any)["innerError"].(map[string]any)
	if inner["client-request-id"] != "cid-1" || inner["request-id"] != rep.header.Get("request-id") || inner["date"] == "" {
		t.Errorf("innerError: %v", inner)
	}
}

func TestFaultRateHitsAShare(t *testing.T) {
	e := New(Options{})
	e.InjectFault(Fault{Status: 503, Rate: 0.25, Times: -1})
	hits := 0
	for range 4000 {
		if _, ok := e.takeFault("GET", "/users"); ok {
			hits++
		}
	}
	if hits < 800 || hits > 1200 {
		t.Errorf("a 25 %% fault hit %d of 4000 requests", hits)
	}
}

func TestFaultAfterWriteChangesStateAndLosesTheAnswer(t *testing.T) {
	h := newHarness(t, Options{})
	h.e.InjectFault(Fault{Method: "POST", PathPrefix: "/invitations", Status: 504, AfterWrite: true})
	rep := h.invite("late@fabrikam.com", map[string]any{"sendInvitationMessage": true})
	if rep.status != 504 {
		t.Fatalf("status %d, want the fault's 504", rep.status)
	}
	if n := len(h.e.Users()); n != 1 {
		t.Errorf("%d users, want the guest the lost invitation created", n)
	}
	if n := h.e.MailsSent("late@fabrikam.com"); n != 1 {
		t.Errorf("MailsSent = %d, want 1", n)
	}
}
