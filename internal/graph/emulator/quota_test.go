package emulator

import (
	"bytes"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// inviteN sends n invitations to distinct addresses and fails unless all are created.
func (h *harness) inviteN(prefix string, n int) {
	h.t.Helper()
	for i := range n {
		if rep := h.invite(fmt.Sprintf("%s%d@fabrikam.com", prefix, i), nil); rep.status != http.StatusCreated {
			h.t.Fatalf("invitation %d of %d: %d %s", i+1, n, rep.status, rep.raw)
		}
	}
}

func wantThrottled(t *testing.T, rep reply, quotaPart, retryAfter string) {
	t.Helper()
	wantError(t, rep, http.StatusTooManyRequests, codeTooManyRequests, quotaPart)
	if got := rep.header.Get("Retry-After"); got != retryAfter {
		t.Errorf("Retry-After %q, want %q", got, retryAfter)
	}
	if rep.header.Get("x-ms-resource-unit") != "" {
		t.Errorf("a throttled response carries x-ms-resource-unit %q", rep.header.Get("x-ms-resource-unit"))
	}
}

func TestQuotaInvitationManager(t *testing.T) {
	h := newHarness(t, Options{Quotas: DefaultQuotas()})
	h.inviteN("a", 150)

	rep := h.invite("late@fabrikam.com", map[string]any{"sendInvitationMessage": true})
	wantThrottled(t, rep, "invitation manager", "5")
	if n := len(h.e.Users()); n != 150 {
		t.Fatalf("%d users after a throttled invitation, want 150", n)
	}
	if n := h.e.MailsSent("late@fabrikam.com"); n != 0 {
		t.Fatalf("a throttled invitation sent %d mails", n)
	}

	h.clock.Advance(4*time.Second + 500*time.Millisecond)
	wantThrottled(t, h.invite("late@fabrikam.com", nil), "invitation manager", "1") // 0.5 s rounds up
	h.clock.Advance(500 * time.Millisecond)
	if rep := h.invite("late@fabrikam.com", nil); rep.status != http.StatusCreated {
		t.Fatalf("after the window: %d %s", rep.status, rep.raw)
	}
	if n := len(h.e.Users()); n != 151 {
		t.Errorf("%d users, want 151", n)
	}
	if got := h.e.ThrottledCount(); got != 2 {
		t.Errorf("ThrottledCount = %d, want 2", got)
	}
	if got := h.e.Count(http.MethodPost, "/invitations"); got != 153 {
		t.Errorf("Count = %d, want 153 (throttled requests are logged)", got)
	}
}

// The window slides: capacity comes back as old requests age out, not all at once at a
// fixed boundary, and never more than the limit fits in any 5 s.
func TestQuotaInvitationWindowSlides(t *testing.T) {
	h := newHarness(t, Options{Quotas: DefaultQuotas()})
	h.inviteN("a", 100)
	h.clock.Advance(3 * time.Second)
	h.inviteN("b", 50)
	wantThrottled(t, h.invite("c@fabrikam.com", nil), "invitation manager", "2")

	h.clock.Advance(2 * time.Second) // the first 100 leave the window; the 50 stay until +8 s
	h.inviteN("d", 100)
	wantThrottled(t, h.invite("e@fabrikam.com", nil), "invitation manager", "3")
	h.clock.Advance(3 * time.Second)
	h.inviteN("f", 50)
	wantThrottled(t, h.invite("g@fabrikam.com", nil), "invitation manager", "2")

	// The fullest window held the limit exactly, and the throttled requests never counted.
	if got, want := h.e.QuotaPeaks()["invitationManager"], (QuotaPeak{Used: 150, Limit: 150, Window: 5 * time.Second}); got != want {
		t.Errorf("QuotaPeaks()[invitationManager] = %+v, want %+v", got, want)
	}
}

func TestQuotaPeaksFollowTheFullestWindow(t *testing.T) {
	h := newHarness(t, Options{Quotas: DefaultQuotas()})
	h.inviteN("a", 40)
	h.clock.Advance(6 * time.Second)
	h.inviteN("b", 25)
	if got := h.e.QuotaPeaks()["invitationManager"].Used; got != 40 {
		t.Errorf("peak %d after windows of 40 and 25, want 40", got)
	}
	if peaks := newHarness(t, Options{}).e.QuotaPeaks(); peaks != nil {
		t.Errorf("QuotaPeaks without quotas = %v, want nil", peaks)
	}
}

func TestQuotaResourceUnitCosts(t *testing.T) {
	h := newHarness(t, Options{Quotas: DefaultQuotas()})
	u := h.e.AddUser(User{Mail: "a@fabrikam.com", DisplayName: "A"})
	g := h.e.AddGroup(Group{DisplayName: "g"})
	sp := h.e.AddServicePrincipal(ServicePrincipal{AppID: "app-1", DisplayName: "app"})
	tests := []struct {
		method, path string
		body         any
		units        string
	}{
		{"GET", "/users/" + u.ID, nil, "1"},
		{"GET", "/users/" + u.ID + "?$select=id,mail", nil, "1"}, // minus 1, minimum 1
		{"GET", "/users", nil, "2"},
		{"GET", "/users?$select=id", nil, "1"},
		{"GET", "/users?$filter=" + url.QueryEscape("mail eq 'a@fabrikam.com'"), nil, "2"},
		{"GET", "/users?$filter=" + url.QueryEscape("mail eq 'a@fabrikam.com'") + "&$select=id", nil, "1"},
		{"GET", "/users/delta()?$select=id", nil, "1"},
		{"GET", "/users/delta()", nil, "2"},
		{"GET", "/users/missing", nil, "1"}, // a 404 still costs
		{"GET", "/groups/" + g.ID, nil, "1"},
		{"GET", "/servicePrincipals(appId='app-1')", nil, "1"},
		{"GET", "/servicePrincipals/" + sp.ID + "/appRoleAssignedTo", nil, "2"},
		{"PATCH", "/users/" + u.ID, map[string]any{"displayName": "B"}, "1"},
		// The invitation manager has its own quota: no resource units, no identity write.
		{"POST", "/invitations", map[string]any{"invitedUserEmailAddress": "b@fabrikam.com", "inviteRedirectUrl": "https://myapps.microsoft.com"}, ""},
		{"DELETE", "/users/" + u.ID, nil, "1"},
	}
	total := 0
	for _, tc := range tests {
		rep := h.graph(tc.method, tc.path, tc.body)
		if rep.status >= 500 || rep.status == http.StatusTooManyRequests {
			t.Fatalf("%s %s: %d %s", tc.method, tc.path, rep.status, rep.raw)
		}
		if got := rep.header.Get("x-ms-resource-unit"); got != tc.units {
			t.Errorf("%s %s: x-ms-resource-unit %q, want %q", tc.method, tc.path, got, tc.units)
		}
		if p := rep.header.Get("x-ms-throttle-limit-percentage"); p != "" {
			t.Errorf("%s %s: x-ms-throttle-limit-percentage %q far below the limit", tc.method, tc.path, p)
		}
		if tc.units != "" {
			total += int(tc.units[0] - '0')
		}
	}
	q := h.call(http.MethodGet, "/_emulator/stats", nil).body["quotas"].(map[string]any)
	ru := q["resourceUnits"].(map[string]any)["apps"].(map[string]any)[""].(map[string]any)
	if ru["used"] != float64(total) || ru["limit"] != float64(3500) {
		t.Errorf("resource units in stats: %v, want used %d of 3500", ru, total)
	}
	if w := q["writes"].(map[string]any)["apps"].(map[string]any)[""].(map[string]any); w["used"] != float64(2) {
		t.Errorf("writes in stats: %v, want 2 (PATCH and DELETE; invitations are not identity writes)", w)
	}
	if inv := q["invitationManager"].(map[string]any); inv["used"] != float64(1) || inv["limit"] != float64(150) {
		t.Errorf("invitation manager in stats: %v", inv)
	}
}

func TestQuotaResourceUnits(t *testing.T) {
	h := newHarness(t, Options{Quotas: &Quotas{ResourceUnitsPerWindow: 10}})
	for i := range 5 {
		if rep := h.graph(http.MethodGet, "/users", nil); rep.status != http.StatusOK {
			t.Fatalf("list %d: %d", i, rep.status)
		}
	}
	rep := h.graph(http.MethodGet, "/users", nil)
	wantThrottled(t, rep, "resource unit", "10")
	if got := rep.header.Get("x-ms-throttle-scope"); got != "Tenant_Application/ReadWrite//"+h.e.TenantID() {
		t.Errorf("x-ms-throttle-scope %q", got)
	}
	u := h.e.AddUser(User{Mail: "a@fabrikam.com", DisplayName: "A"})
	wantThrottled(t, h.graph(http.MethodPatch, "/users/"+u.ID, map[string]any{"displayName": "B"}), "resource unit", "10")
	if got, _ := h.e.User(u.ID); got.DisplayName != "A" {
		t.Fatalf("a throttled PATCH changed the user: %+v", got)
	}

	// Throttled requests consume nothing: hammering at +5 s does not push the window out.
	h.clock.Advance(5 * time.Second)
	for range 20 {
		wantThrottled(t, h.graph(http.MethodGet, "/users/"+u.ID, nil), "resource unit", "5")
	}
	h.clock.Advance(5 * time.Second)
	for i := range 10 {
		if rep := h.graph(http.MethodGet, "/users/"+u.ID, nil); rep.status != http.StatusOK {
			t.Fatalf("read %d after the window: %d %s", i, rep.status, rep.raw)
		}
	}
	wantThrottled(t, h.graph(http.MethodGet, "/users/"+u.ID, nil), "resource unit", "10")
	if got := h.e.ThrottledCount(); got != 23 {
		t.Errorf("ThrottledCount = %d, want 23", got)
	}
}

// Resource units and writes are per app: one app's exhaustion leaves another untouched, but
// the tenant-wide write quota is shared.
func TestQuotaPerApp(t *testing.T) {
	h := newHarness(t, Options{RequireAuth: true, Quotas: &Quotas{ResourceUnitsPerWindow: 4, TenantWritesPerWindow: 3}})
	a, b := h.e.IssueTokenFor("app-a"), h.e.IssueTokenFor("app-b")
	u := h.e.AddUser(User{Mail: "a@fabrikam.com"})
	get := func(tok string) reply {
		return h.graph(http.MethodGet, "/users/"+u.ID, nil, "Authorization", "Bearer "+tok)
	}
	patch := func(tok string) reply {
		return h.graph(http.MethodPatch, "/users/"+u.ID, map[string]any{"displayName": "x"}, "Authorization", "Bearer "+tok)
	}
	for range 4 {
		if rep := get(a); rep.status != http.StatusOK {
			t.Fatalf("app a: %d", rep.status)
		}
	}
	rep := get(a)
	wantThrottled(t, rep, "resource unit", "10")
	if got := rep.header.Get("x-ms-throttle-scope"); got != "Tenant_Application/ReadWrite/app-a/"+h.e.TenantID() {
		t.Errorf("x-ms-throttle-scope %q", got)
	}
	for range 3 {
		if rep := patch(b); rep.status != http.StatusNoContent {
			t.Fatalf("app b: %d %s", rep.status, rep.raw)
		}
	}
	h.clock.Advance(10 * time.Second) // resource units are back; the tenant's writes are not
	rep = patch(a)
	wantThrottled(t, rep, "tenant's write quota", "290")
	if got := rep.header.Get("x-ms-throttle-scope"); !strings.HasPrefix(got, "Tenant/Write/") {
		t.Errorf("x-ms-throttle-scope %q", got)
	}
	if rep := get(a); rep.status != http.StatusOK {
		t.Errorf("a read was refused by a write quota: %d", rep.status)
	}
	apps := h.call(http.MethodGet, "/_emulator/stats", nil).body["quotas"].(map[string]any)["resourceUnits"].(map[string]any)["apps"].(map[string]any)
	if len(apps) != 2 || apps["app-a"] == nil || apps["app-b"] == nil {
		t.Errorf("per-app usage: %v", apps)
	}
}

func TestQuotaWrites(t *testing.T) {
	h := newHarness(t, Options{Quotas: &Quotas{WritesPerWindow: 3, WriteWindow: time.Minute}})
	u := h.e.AddUser(User{Mail: "a@fabrikam.com", DisplayName: "A"})
	for i := range 3 {
		if rep := h.graph(http.MethodPatch, "/users/"+u.ID, map[string]any{"displayName": fmt.Sprint(i)}); rep.status != http.StatusNoContent {
			t.Fatalf("write %d: %d %s", i, rep.status, rep.raw)
		}
	}
	wantThrottled(t, h.graph(http.MethodPatch, "/users/"+u.ID, map[string]any{"displayName": "late"}), "application's write quota", "60")
	// The invitation manager's quota is separate: an invitation still goes through.
	if rep := h.invite("b@fabrikam.com", nil); rep.status != http.StatusCreated {
		t.Fatalf("invitation refused by the identity write quota: %d", rep.status)
	}
	wantThrottled(t, h.graph(http.MethodDelete, "/users/"+u.ID, nil), "write quota", "60")
	if got, ok := h.e.User(u.ID); !ok || got.DisplayName != "2" {
		t.Fatalf("throttled writes changed state: %+v %v", got, ok)
	}
	if len(h.e.Users()) != 2 {
		t.Fatalf("users = %d, want the seeded one and the invited one", len(h.e.Users()))
	}
	if rep := h.graph(http.MethodGet, "/users/"+u.ID, nil); rep.status != http.StatusOK {
		t.Fatalf("reads must pass while writes are throttled: %d", rep.status)
	}
	h.clock.Advance(time.Minute)
	if rep := h.graph(http.MethodDelete, "/users/"+u.ID, nil); rep.status != http.StatusNoContent {
		t.Fatalf("after the window: %d %s", rep.status, rep.raw)
	}
}

func TestQuotaLimitPercentageHeader(t *testing.T) {
	h := newHarness(t, Options{Quotas: &Quotas{ResourceUnitsPerWindow: 20, InvitationsPerWindow: 10}})
	u := h.e.AddUser(User{Mail: "a@fabrikam.com"})
	for i := 1; i <= 20; i++ {
		rep := h.graph(http.MethodGet, "/users/"+u.ID, nil)
		want := ""
		switch i {
		case 17:
			want = "0.85"
		case 18:
			want = "0.90"
		case 20:
			want = "1.00"
		}
		if got := rep.header.Get("x-ms-throttle-limit-percentage"); (want != "" && got != want) || (i <= 16 && got != "") {
			t.Errorf("read %d (usage %d/20): x-ms-throttle-limit-percentage %q, want %q", i, i, got, want)
		}
	}
	h.clock.Advance(10 * time.Second)
	for i := 1; i <= 10; i++ {
		rep := h.invite(fmt.Sprintf("g%d@fabrikam.com", i), nil)
		got := rep.header.Get("x-ms-throttle-limit-percentage")
		switch {
		case rep.status != http.StatusCreated:
			t.Fatalf("invitation %d: %d", i, rep.status)
		case i <= 8 && got != "":
			t.Errorf("invitation %d: percentage %q at %d/10", i, got, i)
		case i == 9 && got != "0.90", i == 10 && got != "1.00":
			t.Errorf("invitation %d: percentage %q", i, got)
		}
	}
}

func TestFormatLimitFraction(t *testing.T) {
	l := newSlidingLog(3500, time.Second)
	l.used = 2801 // just above 80 %: rounds up, never reads as 0.80
	if got := formatLimitFraction(l.hundredths()); got != "0.81" {
		t.Errorf("2801/3500 = %q, want 0.81", got)
	}
	for in, want := range map[int]string{85: "0.85", 100: "1.00", 123: "1.23", 250: "1.80"} {
		if got := formatLimitFraction(in); got != want {
			t.Errorf("formatLimitFraction(%d) = %q, want %q", in, got, want)
		}
	}
}

func TestQuotasOffByDefault(t *testing.T) {
	h := newHarness(t, Options{})
	for i := range 200 {
		rep := h.invite(fmt.Sprintf("a%d@fabrikam.com", i), nil)
		if rep.status != http.StatusCreated {
			t.Fatalf("invitation %d: %d", i, rep.status)
		}
		if rep.header.Get("x-ms-resource-unit") != "" || rep.header.Get("x-ms-throttle-limit-percentage") != "" {
			t.Fatalf("quota headers without quotas: %v", rep.header)
		}
	}
	stats := h.call(http.MethodGet, "/_emulator/stats", nil).body
	if q := stats["quotas"].(map[string]any); q["enabled"] != false {
		t.Errorf("stats quotas: %v", q)
	}
	if stats["throttled"] != float64(0) || h.e.ThrottledCount() != 0 {
		t.Errorf("throttled: %v", stats["throttled"])
	}

	// SetQuotas turns enforcement on and off at run time.
	h.e.SetQuotas(&Quotas{InvitationsPerWindow: 1})
	h.inviteN("b", 1)
	wantThrottled(t, h.invite("c@fabrikam.com", nil), "invitation manager", "5")
	h.e.SetQuotas(nil)
	h.inviteN("c", 3)
}

// A negative count switches that one quota off.
func TestQuotaNegativeDisables(t *testing.T) {
	h := newHarness(t, Options{Quotas: &Quotas{InvitationsPerWindow: -1, ResourceUnitsPerWindow: -1}})
	h.inviteN("a", 200)
	rep := h.graph(http.MethodGet, "/users", nil)
	if rep.status != http.StatusOK || rep.header.Get("x-ms-resource-unit") != "2" {
		t.Fatalf("GET /users: %d %v", rep.status, rep.header)
	}
	if q := h.e.quotaStats(); q["invitationManager"].(map[string]any)["enabled"] != false {
		t.Errorf("stats: %v", q)
	}
}

// Tens of clients racing for the invitation manager: with the clock standing still, exactly
// the quota gets through, and no throttled request leaves a trace in the directory.
func TestQuotaConcurrentInvitations(t *testing.T) {
	h := newHarness(t, Options{Quotas: DefaultQuotas()})
	const clients = 400
	statuses := make([]int, clients)
	errs := make([]error, clients)
	var wg sync.WaitGroup
	for i := range clients {
		wg.Go(func() {
			body := fmt.Sprintf(`{"invitedUserEmailAddress":"p%d@fabrikam.com","inviteRedirectUrl":"https://myapps.microsoft.com"}`, i)
			resp, err := h.srv.Client().Post(h.srv.URL+"/v1.0/invitations", "application/json", bytes.NewReader([]byte(body)))
			if err != nil {
				errs[i] = err
				return
			}
			resp.Body.Close()
			statuses[i] = resp.StatusCode
		})
	}
	wg.Wait()
	created, throttled := 0, 0
	for i, s := range statuses {
		switch {
		case errs[i] != nil:
			t.Fatalf("client %d: %v", i, errs[i])
		case s == http.StatusCreated:
			created++
		case s == http.StatusTooManyRequests:
			throttled++
		default:
			t.Fatalf("client %d: status %d", i, s)
		}
	}
	if created != 150 || throttled != clients-150 {
		t.Fatalf("%d created, %d throttled; want 150 and %d", created, throttled, clients-150)
	}
	if n := len(h.e.Users()); n != 150 {
		t.Errorf("%d users, want 150", n)
	}
	if got := h.e.ThrottledCount(); got != clients-150 {
		t.Errorf("ThrottledCount = %d, want %d", got, clients-150)
	}
}

func TestThrottledCountIncludesFaults(t *testing.T) {
	h := newHarness(t, Options{})
	h.e.InjectFault(Fault{Status: 429, Times: 2})
	h.e.InjectFault(Fault{Status: 503})
	for range 3 {
		h.graph(http.MethodGet, "/users", nil)
	}
	if got := h.e.ThrottledCount(); got != 2 {
		t.Errorf("ThrottledCount = %d, want 2 (503s are not throttling)", got)
	}
}

func TestLowPriorityLogged(t *testing.T) {
	h := newHarness(t, Options{})
	h.graph(http.MethodGet, "/users", nil, "x-ms-throttle-priority", "Low")
	h.graph(http.MethodGet, "/users", nil, "x-ms-throttle-priority", "high")
	h.graph(http.MethodGet, "/users", nil)
	reqs := h.e.Requests()
	if len(reqs) != 3 || !reqs[0].LowPriority || reqs[1].LowPriority || reqs[2].LowPriority {
		t.Fatalf("LowPriority: %+v", reqs)
	}
	if reqs[0].Header.Get("x-ms-throttle-priority") != "Low" {
		t.Errorf("header not logged: %v", reqs[0].Header)
	}
	if got := h.call(http.MethodGet, "/_emulator/stats", nil).body["lowPriorityRequests"]; got != float64(1) {
		t.Errorf("lowPriorityRequests = %v", got)
	}
	if list := decodeArray(t, h.call(http.MethodGet, "/_emulator/requests", nil)); list[0]["lowPriority"] != true {
		t.Errorf("control request log: %v", list[0])
	}
}

func TestControlQuotaSettings(t *testing.T) {
	h := newHarness(t, Options{})
	quotas := func() map[string]any {
		return h.call(http.MethodGet, "/_emulator/stats", nil).body["quotas"].(map[string]any)
	}
	for size, ru := range map[string]float64{"small": 3500, "medium": 5000, "Large": 8000} {
		if rep := h.call(http.MethodPost, "/_emulator/settings", map[string]any{"quotas": size}); rep.status != http.StatusNoContent {
			t.Fatalf("settings %s: %d %s", size, rep.status, rep.raw)
		}
		q := quotas()
		if q["enabled"] != true || q["resourceUnits"].(map[string]any)["limit"] != ru {
			t.Errorf("%s: %v", size, q)
		}
	}
	h.inviteN("a", 150)
	wantThrottled(t, h.invite("b@fabrikam.com", nil), "invitation manager", "5")
	if got := h.call(http.MethodGet, "/_emulator/stats", nil).body["throttled"]; got != float64(1) {
		t.Errorf("stats throttled = %v", got)
	}
	if rep := h.call(http.MethodPost, "/_emulator/settings", map[string]any{"quotas": "off", "latencyJitter": "5ms"}); rep.status != http.StatusNoContent {
		t.Fatalf("settings off: %d %s", rep.status, rep.raw)
	}
	if q := quotas(); q["enabled"] != false {
		t.Errorf("off: %v", q)
	}
	if d := time.Duration(h.e.jitter.Load()); d != 5*time.Millisecond {
		t.Errorf("latencyJitter = %v", d)
	}
	h.inviteN("c", 1)
	wantError(t, h.call(http.MethodPost, "/_emulator/settings", map[string]any{"quotas": "huge"}), http.StatusBadRequest, codeBadRequest, "quotas")
	wantError(t, h.call(http.MethodPost, "/_emulator/settings", map[string]any{"latencyJitter": "lots"}), http.StatusBadRequest, codeBadRequest, "duration")
}

func TestLatencyJitter(t *testing.T) {
	e := New(Options{Latency: 50 * time.Millisecond, LatencyJitter: 100 * time.Millisecond})
	lo, hi := time.Hour, time.Duration(0)
	for range 2000 {
		d := e.requestLatency()
		lo, hi = min(lo, d), max(hi, d)
	}
	if lo < 50*time.Millisecond || hi >= 150*time.Millisecond || hi-lo < 80*time.Millisecond {
		t.Errorf("latency spread [%v, %v], want within [50ms, 150ms) and spread out", lo, hi)
	}
	e.SetLatencyJitter(0)
	if d := e.requestLatency(); d != 50*time.Millisecond {
		t.Errorf("without jitter: %v", d)
	}
}

// Latency is served concurrently: ten requests with 100 ms each take about 100 ms together.
func TestLatencyConcurrent(t *testing.T) {
	e := startEmulator(t, Options{Latency: 100 * time.Millisecond, Quotas: DefaultQuotas()})
	start := time.Now()
	var wg sync.WaitGroup
	for range 10 {
		wg.Go(func() {
			resp, err := http.Get(e.URL() + "/v1.0/users")
			if err != nil {
				t.Error(err)
				return
			}
			resp.Body.Close()
		})
	}
	wg.Wait()
	if d := time.Since(start); d > 600*time.Millisecond {
		t.Errorf("10 concurrent requests with 100ms latency took %v: latency is serialised", d)
	}
}

func TestSlidingLogWait(t *testing.T) {
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	l := newSlidingLog(5, 10*time.Second)
	l.add(t0, 2)
	l.add(t0.Add(time.Second), 1)
	l.add(t0.Add(2*time.Second), 2)
	now := t0.Add(3 * time.Second)
	l.expire(now)
	if l.fits(1) {
		t.Fatal("a full window admitted more")
	}
	if w := l.wait(now, 1); w != 7*time.Second {
		t.Errorf("wait for 1 = %v, want 7s (the oldest entry frees 2)", w)
	}
	if w := l.wait(now, 3); w != 8*time.Second {
		t.Errorf("wait for 3 = %v, want 8s", w)
	}
	l.expire(t0.Add(11 * time.Second))
	if l.used != 2 || !l.fits(3) || l.fits(4) {
		t.Errorf("after expiry: used %d", l.used)
	}
	// Memory stays bounded under a long steady stream.
	for i := range 10000 {
		now := t0.Add(time.Minute + time.Duration(i)*2*time.Second)
		l.expire(now)
		if !l.fits(1) {
			t.Fatalf("step %d: steady 0.5/s refused by a 5/10s quota", i)
		}
		l.add(now, 1)
	}
	if len(l.times) > 200 {
		t.Errorf("log holds %d entries for a window of 5", len(l.times))
	}
}

func TestIsCollectionRead(t *testing.T) {
	for path, want := range map[string]bool{
		"/users": true, "/users/x": false, "/users/delta()": true, "/users/delta": true,
		"/groups/g/members": true, "/servicePrincipals(appId='a')": false,
		"/servicePrincipals(appId='a')/appRoleAssignedTo": true, "/servicePrincipals/s/appRoleAssignedTo": true,
		"/directory/deletedItems": true, "/directory/deletedItems/x": false, "/": false,
		"/directory/deletedItems/microsoft.graph.user": true, "/directory/deletedItems/x/microsoft.graph.user": false,
	} {
		if got := isCollectionRead(strings.Split(strings.Trim(path, "/"), "/")); got != want {
			t.Errorf("isCollectionRead(%s) = %v, want %v", path, got, want)
		}
	}
}

// Tokens from the token endpoint carry their client_id into the per-app quotas.
func TestQuotaAppFromToken(t *testing.T) {
	e := startEmulator(t, Options{RequireAuth: true, Quotas: DefaultQuotas()})
	_, tok := fetchToken(t, e, url.Values{"grant_type": {"client_credentials"}, "client_id": {"partner-operator"},
		"client_secret": {"s"}, "scope": {"https://graph.microsoft.com/.default"}})
	req, _ := http.NewRequest(http.MethodGet, e.URL()+"/v1.0/users", nil)
	req.Header.Set("Authorization", "Bearer "+tok["access_token"].(string))
	status, hdr, _ := getJSON(t, http.DefaultClient, req)
	if status != http.StatusOK || hdr.Get("x-ms-resource-unit") != "2" {
		t.Fatalf("GET /users: %d %v", status, hdr)
	}
	apps := e.quotaStats()["resourceUnits"].(map[string]any)["apps"].(map[string]any)
	if _, ok := apps["partner-operator"]; !ok || len(apps) != 1 {
		t.Errorf("per-app usage: %v", apps)
	}
}
