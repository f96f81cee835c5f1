package emulator

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

const (
	tenantA = "00000000-0000-0000-0000-0000000000aa"
	tenantB = "00000000-0000-0000-0000-0000000000ab"
)

func secretForm(clientID, secret string) url.Values {
	return url.Values{"grant_type": {"client_credentials"}, "client_id": {clientID}, "client_secret": {secret},
		"scope": {"https://graph.microsoft.com/.default"}}
}

// tokenFrom fetches a token over the token server and fails the test unless it gets one.
func tokenFrom(t *testing.T, e *Emulator, clientID, secret string) string {
	t.Helper()
	status, body := fetchToken(t, e, secretForm(clientID, secret))
	if status != http.StatusOK || str(body, "access_token") == "" {
		t.Fatalf("token from %s for %s: %d %v", e.TenantID(), clientID, status, body)
	}
	return str(body, "access_token")
}

// getWith sends GET /v1.0+path to a started emulator with the bearer token tok.
func getWith(t *testing.T, e *Emulator, path, tok string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, e.URL()+"/v1.0"+path, nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	status, _, body := getJSON(t, http.DefaultClient, req)
	return status, body
}

func statsOf(t *testing.T, e *Emulator) map[string]any {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, e.URL()+"/_emulator/stats", nil)
	_, _, body := getJSON(t, http.DefaultClient, req)
	return body
}

// A token of tenant A's emulator is refused by tenant B's as Graph refuses another tenant's
// token, and counted as foreign at B only.
func TestTokenOfAnotherTenantIsRefused(t *testing.T) {
	a := startEmulator(t, Options{TenantID: tenantA, RequireAuth: true})
	b := startEmulator(t, Options{TenantID: tenantB, TenantDomain: "tenant1.emulator.onmicrosoft.com", RequireAuth: true})
	fromA := tokenFrom(t, a, "operator", "s")
	fromB := tokenFrom(t, b, "operator", "s")

	status, body := getWith(t, b, "/users", fromA)
	if status != http.StatusUnauthorized || str(body, "error", "code") != codeInvalidToken ||
		str(body, "error", "message") != "Access token validation failure. Invalid audience." {
		t.Fatalf("A's token at B: %d %v", status, body)
	}
	if got := b.ForeignTokens(); got != 1 {
		t.Errorf("B.ForeignTokens() = %d, want 1", got)
	}
	if got := a.ForeignTokens(); got != 0 {
		t.Errorf("A.ForeignTokens() = %d, want 0", got)
	}
	if got := statsOf(t, b)["foreignTokens"]; got != float64(1) {
		t.Errorf("B's stats foreignTokens = %v, want 1", got)
	}
	if got := statsOf(t, a)["foreignTokens"]; got != float64(0) {
		t.Errorf("A's stats foreignTokens = %v, want 0", got)
	}
	// Each tenant's own token works at its own Graph.
	for name, tc := range map[string]struct {
		e   *Emulator
		tok string
	}{"A": {a, fromA}, "B": {b, fromB}} {
		if status, body := getWith(t, tc.e, "/users", tc.tok); status != http.StatusOK {
			t.Errorf("%s's own token: %d %v", name, status, body)
		}
	}
	if status, _ := getWith(t, a, "/users", fromB); status != http.StatusUnauthorized || a.ForeignTokens() != 1 {
		t.Errorf("B's token at A: %d, A.ForeignTokens() = %d", status, a.ForeignTokens())
	}
}

// A token naming this tenant but signed by another emulator, or altered, is refused as an
// unknown token: it is not foreign, it is forged.
func TestForgedTokenIsRefused(t *testing.T) {
	h := newHarness(t, Options{TenantID: tenantA, RequireAuth: true})
	twin := New(Options{TenantID: tenantA}) // same tenant ID, its own key
	good := h.e.IssueToken()

	parts := strings.Split(good, ".")
	var claims map[string]any
	raw, _ := base64.RawURLEncoding.DecodeString(parts[1])
	if err := json.Unmarshal(raw, &claims); err != nil {
		t.Fatal(err)
	}
	claims["roles"] = []string{"Directory.ReadWrite.All", "everything"}
	raw, _ = json.Marshal(claims)
	altered := parts[0] + "." + base64.RawURLEncoding.EncodeToString(raw) + "." + parts[2]

	for name, tok := range map[string]string{"twin's token": twin.IssueToken(), "altered claims": altered,
		"no signature": parts[0] + "." + parts[1] + "."} {
		wantError(t, h.graph(http.MethodGet, "/users", nil, "Authorization", "Bearer "+tok),
			http.StatusUnauthorized, codeInvalidToken, "Access token validation failure.")
		if h.e.ForeignTokens() != 0 {
			t.Errorf("%s counted as foreign", name)
		}
	}
	if rep := h.graph(http.MethodGet, "/users", nil, "Authorization", "Bearer "+good); rep.status != http.StatusOK {
		t.Errorf("the good token: %d", rep.status)
	}
}

// A token for another resource (aud) is refused as Graph refuses one, and counted foreign.
func TestTokenForAnotherAudienceIsRefused(t *testing.T) {
	other := New(Options{TenantID: tenantA, Audience: "https://graph.microsoft.us"})
	h := newHarness(t, Options{TenantID: tenantA, RequireAuth: true})
	tok := other.IssueToken()
	if c, err := ParseTokenClaims(tok); err != nil || c["aud"] != "https://graph.microsoft.us" {
		t.Fatalf("claims %v, %v", c, err)
	}
	wantError(t, h.graph(http.MethodGet, "/users", nil, "Authorization", "Bearer "+tok),
		http.StatusUnauthorized, codeInvalidToken, "Access token validation failure. Invalid audience.")
	if got := h.e.ForeignTokens(); got != 1 {
		t.Errorf("ForeignTokens() = %d, want 1", got)
	}

	// Without RequireAuth nothing is refused, so nothing counts as foreign either.
	open := newHarness(t, Options{TenantID: tenantA})
	if rep := open.graph(http.MethodGet, "/users", nil, "Authorization", "Bearer "+tok); rep.status != http.StatusOK || open.e.ForeignTokens() != 0 {
		t.Errorf("without RequireAuth: %d, ForeignTokens() = %d", rep.status, open.e.ForeignTokens())
	}
}

func TestTokenClaims(t *testing.T) {
	h := newHarness(t, Options{TenantID: tenantB, GrantedPermissions: []string{"User.Read.All", "User.Invite.All"}})
	tok := h.e.IssueTokenFor("client-1")
	parts := strings.Split(tok, ".")
	if len(parts) != 3 || strings.Contains(tok, "=") {
		t.Fatalf("token %q is not three unpadded base64url parts", tok)
	}
	var header map[string]any
	raw, err := base64.RawURLEncoding.DecodeString(parts[0])
	if err != nil || json.Unmarshal(raw, &header) != nil || header["alg"] != "HS256" || header["typ"] != "JWT" {
		t.Errorf("header %s (%v)", raw, err)
	}
	c, err := ParseTokenClaims(tok)
	if err != nil {
		t.Fatal(err)
	}
	now := h.clock.Now().Unix()
	for k, want := range map[string]any{
		"aud": "https://graph.microsoft.com", "iss": "https://sts.windows.net/" + tenantB + "/", "tid": tenantB,
		"appid": "client-1", "azp": "client-1", "idtyp": "app", "ver": "1.0",
		"iat": float64(now), "nbf": float64(now), "exp": float64(now + 3599),
	} {
		if c[k] != want {
			t.Errorf("claim %s = %v, want %v", k, c[k], want)
		}
	}
	roles, _ := c["roles"].([]any)
	if len(roles) != 2 || roles[0] != "User.Invite.All" || roles[1] != "User.Read.All" {
		t.Errorf("roles = %v, want the granted permissions, sorted", c["roles"])
	}
	// The app's object id is stable in its tenant and differs in another.
	again, _ := ParseTokenClaims(h.e.IssueTokenFor("client-1"))
	elsewhere, _ := ParseTokenClaims(New(Options{TenantID: tenantA}).IssueTokenFor("client-1"))
	if oid, _ := c["oid"].(string); len(oid) != 36 || again["oid"] != oid || elsewhere["oid"] == oid {
		t.Errorf("oid %v, again %v, in another tenant %v", c["oid"], again["oid"], elsewhere["oid"])
	}
	if again["uti"] == c["uti"] {
		t.Error("two tokens share a uti")
	}
	if _, err := ParseTokenClaims("opaque-token"); err == nil {
		t.Error("an opaque string parsed as a JWT")
	}
}

// roles are what the app held when the token was issued: later grants change new tokens only.
func TestTokenRolesAtIssueTime(t *testing.T) {
	e := New(Options{})
	roles := func(tok string) []string {
		t.Helper()
		c, err := ParseTokenClaims(tok)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, r := range c["roles"].([]any) {
			out = append(out, r.(string))
		}
		return out
	}
	all := roles(e.IssueToken())
	if !slices.IsSorted(all) || !slices.Contains(all, "User.Invite.All") || !slices.Contains(all, "Organization.Read.All") ||
		!slices.Contains(all, "Application.ReadWrite.OwnedBy") || !slices.Equal(all, knownPermissions) {
		t.Errorf("roles with everything granted = %v, want every permission of the table, sorted", all)
	}
	e.SetGrantedPermissions("User.Read.All")
	before := e.IssueToken()
	e.SetGrantedPermissions("User.Invite.All", "GroupMember.ReadWrite.All", "User.Invite.All")
	after := e.IssueToken()
	if got := roles(before); !slices.Equal(got, []string{"User.Read.All"}) {
		t.Errorf("roles of the earlier token = %v", got)
	}
	if got := roles(after); !slices.Equal(got, []string{"GroupMember.ReadWrite.All", "User.Invite.All"}) {
		t.Errorf("roles of the later token = %v", got)
	}
	e.SetGrantedPermissions()
	if got := roles(e.IssueToken()); !slices.Equal(got, knownPermissions) {
		t.Errorf("roles after granting everything again = %v", got)
	}
}

func TestAppRegistrations(t *testing.T) {
	e := startEmulator(t, Options{TenantID: tenantA, RequireAuth: true})
	// No app registered: any client id with a secret gets a token.
	tokenFrom(t, e, "anyone", "whatever")

	e.RegisterApp("operator", "s3cret")
	wantAAD := func(name string, form url.Values, status int, code, desc string, number float64) {
		t.Helper()
		got, body := fetchToken(t, e, form)
		codes, _ := body["error_codes"].([]any)
		if got != status || body["error"] != code || !strings.HasPrefix(str(body, "error_description"), desc) ||
			len(codes) != 1 || codes[0] != number {
			t.Errorf("%s: %d %v, want %d %s %q", name, got, body, status, code, desc)
		}
	}
	wantAAD("unknown app", secretForm("anyone", "whatever"), http.StatusBadRequest, "unauthorized_client",
		"AADSTS700016: Application with identifier 'anyone' was not found in the directory '"+tenantA+"'.", 700016)
	wantAAD("wrong secret", secretForm("operator", "guess"), http.StatusUnauthorized, "invalid_client",
		"AADSTS7000215: Invalid client secret provided.", 7000215)
	tok := tokenFrom(t, e, "operator", "s3cret")
	assertion := url.Values{"grant_type": {"client_credentials"}, "client_id": {"operator"},
		"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"}, "client_assertion": {"a.b.c"},
		"scope": {"https://graph.microsoft.com/.default"}}
	if status, body := fetchToken(t, e, assertion); status != http.StatusOK {
		t.Errorf("client assertion of a registered app: %d %v", status, body)
	}
	if status, _ := getWith(t, e, "/users", tok); status != http.StatusOK {
		t.Fatalf("the registered app's token: %d", status)
	}

	// Disabled: no new tokens, and the issued ones stop working (continuous access evaluation).
	e.DisableApp("OPERATOR")
	wantAAD("disabled app", secretForm("operator", "s3cret"), http.StatusBadRequest, "unauthorized_client",
		"AADSTS7000112: Application 'operator' is disabled.", 7000112)
	if status, body := getWith(t, e, "/users", tok); status != http.StatusUnauthorized || str(body, "error", "code") != codeInvalidToken {
		t.Errorf("a disabled app's token: %d %v", status, body)
	}
	if e.ForeignTokens() != 0 {
		t.Error("a disabled app's token counted as foreign")
	}
	if apps := e.Apps(); len(apps) != 1 || apps[0] != (AppRegistration{ClientID: "operator", Registered: true, Disabled: true}) {
		t.Errorf("Apps() = %+v", apps)
	}

	e.EnableApp("operator")
	if status, _ := getWith(t, e, "/users", tok); status != http.StatusOK {
		t.Errorf("the token after EnableApp: %d", status)
	}
	tokenFrom(t, e, "operator", "s3cret")
}

// An app can be disabled without registering any: the other apps keep working.
func TestDisableAppWithoutRegistrations(t *testing.T) {
	h := newHarness(t, Options{RequireAuth: true})
	mine, theirs := h.e.IssueTokenFor("mine"), h.e.IssueTokenFor("theirs")
	h.e.DisableApp("theirs")
	if rep := h.graph(http.MethodGet, "/users", nil, "Authorization", "Bearer "+mine); rep.status != http.StatusOK {
		t.Errorf("another app's token: %d", rep.status)
	}
	wantError(t, h.graph(http.MethodGet, "/users", nil, "Authorization", "Bearer "+theirs),
		http.StatusUnauthorized, codeInvalidToken, "'theirs' is disabled")
}

func TestAppControlAPI(t *testing.T) {
	e := startEmulator(t, Options{TenantID: tenantA, RequireAuth: true})
	post := func(path string, body string) int {
		t.Helper()
		resp, err := http.Post(e.URL()+"/_emulator/"+path, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := post("apps", `{"clientId":"operator","secret":"s3cret"}`); got != http.StatusNoContent {
		t.Fatalf("register: %d", got)
	}
	if got := post("apps", `{"secret":"s3cret"}`); got != http.StatusBadRequest {
		t.Errorf("register without a client id: %d", got)
	}
	tok := tokenFrom(t, e, "operator", "s3cret")
	if got := post("apps/operator:disable", ""); got != http.StatusNoContent {
		t.Fatalf("disable: %d", got)
	}
	if status, _ := getWith(t, e, "/users", tok); status != http.StatusUnauthorized {
		t.Errorf("token of the disabled app: %d", status)
	}
	resp, err := http.Get(e.URL() + "/_emulator/apps")
	if err != nil {
		t.Fatal(err)
	}
	var apps []AppRegistration
	err = json.NewDecoder(resp.Body).Decode(&apps)
	resp.Body.Close()
	if err != nil || len(apps) != 1 || !apps[0].Disabled || !apps[0].Registered || apps[0].ClientID != "operator" {
		t.Errorf("GET apps: %+v %v", apps, err)
	}
	if got := post("apps/operator:enable", ""); got != http.StatusNoContent {
		t.Fatalf("enable: %d", got)
	}
	if status, _ := getWith(t, e, "/users", tok); status != http.StatusOK {
		t.Errorf("token after enable: %d", status)
	}
	if got := post("apps/operator:explode", ""); got != http.StatusNotFound {
		t.Errorf("unknown action: %d", got)
	}
}

// The token server serves this tenant only: its ID, its domains, or the multi-tenant aliases.
func TestTokenEndpointTenantPath(t *testing.T) {
	a := startEmulator(t, Options{TenantID: tenantA, TenantDomain: "contoso.onmicrosoft.com", VerifiedDomains: []string{"contoso.com"}})
	host := strings.TrimSuffix(a.AuthorityURL(), "/")
	post := func(tenant string) (int, map[string]any) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, host+"/"+tenant+"/oauth2/v2.0/token", strings.NewReader(secretForm("app", "s").Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		status, _, body := getJSON(t, a.TLSClient(), req)
		return status, body
	}
	for _, tenant := range []string{tenantA, strings.ToUpper(tenantA), "contoso.onmicrosoft.com", "Contoso.com", "organizations", "common"} {
		if status, body := post(tenant); status != http.StatusOK {
			t.Errorf("tenant %s: %d %v", tenant, status, body)
		}
	}
	for _, tenant := range []string{tenantB, "some-other-tenant", "fabrikam.onmicrosoft.com"} {
		status, body := post(tenant)
		if status != http.StatusBadRequest || body["error"] != "invalid_request" ||
			!strings.HasPrefix(str(body, "error_description"), "AADSTS90002: Tenant '"+tenant+"' not found.") {
			t.Errorf("tenant %s: %d %v, want 400 invalid_request AADSTS90002", tenant, status, body)
		}
	}
}

func TestOrganization(t *testing.T) {
	h := newHarness(t, Options{TenantID: tenantB, TenantDomain: "contoso.onmicrosoft.com", DisplayName: "Contoso",
		VerifiedDomains: []string{"contoso.com", "", "CONTOSO.onmicrosoft.com"}, DefaultDomain: "contoso.com"})
	rep := h.graph(http.MethodGet, "/organization", nil)
	if rep.status != http.StatusOK || !strings.HasSuffix(str(rep.body, "@odata.context"), "/v1.0/$metadata#organization") {
		t.Fatalf("GET /organization: %d %s", rep.status, rep.raw)
	}
	orgs := values(t, rep)
	if len(orgs) != 1 || orgs[0]["id"] != tenantB || orgs[0]["displayName"] != "Contoso" || orgs[0]["tenantType"] != "AAD" {
		t.Fatalf("organizations %v", orgs)
	}
	domains, _ := orgs[0]["verifiedDomains"].([]any)
	want := []map[string]any{
		{"name": "contoso.onmicrosoft.com", "isDefault": false, "isInitial": true, "type": "Managed", "capabilities": "Email, OfficeCommunicationsOnline"},
		{"name": "contoso.com", "isDefault": true, "isInitial": false, "type": "Managed", "capabilities": "Email, OfficeCommunicationsOnline"},
	}
	if len(domains) != len(want) {
		t.Fatalf("verifiedDomains %v", domains)
	}
	for i, w := range want {
		d := domains[i].(map[string]any)
		for k, v := range w {
			if d[k] != v {
				t.Errorf("verifiedDomains[%d].%s = %v, want %v", i, k, d[k], v)
			}
		}
	}

	sel := h.graph(http.MethodGet, "/organization?$select=displayName", nil)
	if sel.status != http.StatusOK {
		t.Fatalf("$select: %d %s", sel.status, sel.raw)
	}
	if o := values(t, sel)[0]; len(o) != 2 || o["id"] != tenantB || o["displayName"] != "Contoso" {
		t.Errorf("$select=displayName: %v", o)
	}
	if !strings.HasSuffix(str(sel.body, "@odata.context"), "#organization(displayName)") {
		t.Errorf("context %v", sel.body["@odata.context"])
	}
	wantError(t, h.graph(http.MethodGet, "/organization?$select=nope", nil), http.StatusBadRequest, codeBadRequest, "Could not find a property named 'nope'")
	if one := h.graph(http.MethodGet, "/organization/"+tenantB+"?$select=id,verifiedDomains", nil); one.status != http.StatusOK ||
		one.body["id"] != tenantB || one.body["verifiedDomains"] == nil || !strings.HasSuffix(str(one.body, "@odata.context"), "/$entity") {
		t.Errorf("GET /organization/{id}: %d %s", one.status, one.raw)
	}
	wantError(t, h.graph(http.MethodGet, "/organization/"+tenantA, nil), http.StatusNotFound, codeNotFound, tenantA)
	wantError(t, h.graph(http.MethodPost, "/organization", map[string]any{}), http.StatusMethodNotAllowed, codeRequestBadRequest, "not allowed")

	// Guests of this tenant get its initial domain in their UPN; seeded members the default.
	id := h.inviteID("jane@fabrikam.com")
	if u, _ := h.e.User(id); u.UserPrincipalName != "jane_fabrikam.com#EXT#@contoso.onmicrosoft.com" {
		t.Errorf("guest UPN %q", u.UserPrincipalName)
	}
	if m := h.e.AddUser(User{Mail: "ann@contoso.com", UserType: "Member"}); m.UserPrincipalName != "ann@contoso.com" {
		t.Errorf("member UPN %q", m.UserPrincipalName)
	}
}

func TestOrganizationDefaults(t *testing.T) {
	h := newHarness(t, Options{})
	org := values(t, h.graph(http.MethodGet, "/organization", nil))[0]
	domains := org["verifiedDomains"].([]any)
	if org["id"] != DefaultTenantID || org["displayName"] != DefaultDisplayName || len(domains) != 1 {
		t.Fatalf("organization %v", org)
	}
	if d := domains[0].(map[string]any); d["name"] != TenantDomain || d["isDefault"] != true || d["isInitial"] != true {
		t.Errorf("domain %v", d)
	}
	if u := h.e.AddUser(User{Mail: "kim@fabrikam.com", UserType: "Guest"}); !strings.HasSuffix(u.UserPrincipalName, "#EXT#@"+TenantDomain) {
		t.Errorf("guest UPN %q", u.UserPrincipalName)
	}
}

// Reading the organization needs Organization.Read.All or one of the higher permissions.
func TestOrganizationPermission(t *testing.T) {
	h := newHarness(t, Options{GrantedPermissions: []string{"User.Read.All"}})
	wantError(t, h.graph(http.MethodGet, "/organization", nil), http.StatusForbidden, codeAuthorizationDenied, insufficientPrivileges)
	wantError(t, h.graph(http.MethodGet, "/organization/"+DefaultTenantID, nil), http.StatusForbidden, codeAuthorizationDenied, insufficientPrivileges)
	for _, p := range []string{"Organization.Read.All", "Directory.Read.All", "Organization.ReadWrite.All", "Directory.ReadWrite.All"} {
		h.e.SetGrantedPermissions(p)
		if rep := h.graph(http.MethodGet, "/organization", nil); rep.status != http.StatusOK {
			t.Errorf("with %s: %d", p, rep.status)
		}
	}
}

// Two emulators in one process share nothing: directory, grants, apps, logs and counters.
func TestTenantsAreIndependent(t *testing.T) {
	a := startEmulator(t, Options{TenantID: tenantA, RequireAuth: true})
	b := startEmulator(t, Options{TenantID: tenantB, RequireAuth: true})
	u := a.AddUser(User{Mail: "ann@fabrikam.com", UserType: "Guest"})
	a.SetGrantedPermissions("User.Read.All")
	a.RegisterApp("operator", "s3cret")
	a.InjectFault(Fault{Method: http.MethodGet, PathPrefix: "/organization", Status: http.StatusServiceUnavailable})

	tokB := tokenFrom(t, b, "someone-else", "x") // B has no registrations
	if status, _ := getWith(t, b, "/users/"+u.ID, tokB); status != http.StatusNotFound {
		t.Errorf("A's user at B: %d", status)
	}
	if status, _ := getWith(t, b, "/organization", tokB); status != http.StatusOK {
		t.Errorf("B's organization with A's grant and fault: %d", status)
	}
	tokA := tokenFrom(t, a, "operator", "s3cret")
	if status, _ := getWith(t, a, "/organization", tokA); status != http.StatusForbidden {
		t.Errorf("A's organization without Organization.Read.All: %d", status)
	}
	if a.Count("", "") != 1 || b.Count("", "") != 2 || len(b.Users()) != 0 || len(a.Users()) != 1 {
		t.Errorf("request counts A %d B %d, users A %d B %d", a.Count("", ""), b.Count("", ""), len(a.Users()), len(b.Users()))
	}
	if org := values(t, reply{body: getOrg(t, b, tokB)})[0]; org["id"] != tenantB {
		t.Errorf("B's organization id %v", org["id"])
	}
}

func getOrg(t *testing.T, e *Emulator, tok string) map[string]any {
	t.Helper()
	_, body := getWith(t, e, "/organization", tok)
	return body
}

func TestTenantOptions(t *testing.T) {
	var mu sync.Mutex
	var lines []string
	base := Options{Addr: "127.0.0.1:8443", AuthAddr: "127.0.0.1:8444", RequireAuth: true, CACertFile: "ca.pem",
		VerifiedDomains: []string{"contoso.com"}, Latency: time.Millisecond,
		Logf: func(format string, args ...any) { mu.Lock(); lines = append(lines, format); mu.Unlock() }}
	opts := TenantOptions(base, 3)
	if len(opts) != 3 {
		t.Fatalf("%d options", len(opts))
	}
	want := []struct{ id, domain, addr, auth, ca string }{
		{DefaultTenantID, TenantDomain, "127.0.0.1:8443", "127.0.0.1:8444", "ca.pem"},
		{"00000000-0000-0000-0000-0000000000ab", "tenant1.emulator.onmicrosoft.com", "127.0.0.1:0", "127.0.0.1:0", ""},
		{"00000000-0000-0000-0000-0000000000ac", "tenant2.emulator.onmicrosoft.com", "127.0.0.1:0", "127.0.0.1:0", ""},
	}
	for i, w := range want {
		o := opts[i]
		if o.TenantID != w.id || o.TenantDomain != w.domain || o.Addr != w.addr || o.AuthAddr != w.auth || o.CACertFile != w.ca ||
			!o.RequireAuth || o.Latency != time.Millisecond {
			t.Errorf("tenant %d: %+v", i, o)
		}
	}
	if len(opts[0].VerifiedDomains) != 1 || opts[1].VerifiedDomains != nil || opts[2].DisplayName != DefaultDisplayName+" 3" {
		t.Errorf("domains %v %v, name %q", opts[0].VerifiedDomains, opts[1].VerifiedDomains, opts[2].DisplayName)
	}
	opts[1].Logf("hello")
	mu.Lock()
	defer mu.Unlock()
	if len(lines) != 1 || lines[0] != opts[1].TenantID+": hello" {
		t.Errorf("log lines %q", lines)
	}
	if got := TenantOptions(Options{}, 0); len(got) != 1 || got[0].TenantID != DefaultTenantID {
		t.Errorf("TenantOptions(_, 0) = %+v", got)
	}
}

// notifyWriter collects output and closes ready once it holds every string of want.
type notifyWriter struct {
	mu    sync.Mutex
	b     strings.Builder
	want  []string
	ready chan struct{}
	done  bool
}

func (w *notifyWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.b.Write(p)
	if !w.done && strings.Count(w.b.String(), "\n") > 0 {
		all := true
		for _, s := range w.want {
			all = all && strings.Contains(w.b.String(), s)
		}
		if all {
			w.done = true
			close(w.ready)
		}
	}
	return len(p), nil
}

func (w *notifyWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}

func TestRunTenants(t *testing.T) {
	caFile := filepath.Join(t.TempDir(), "ca.pem")
	opts := TenantOptions(Options{CACertFile: caFile, RequireAuth: true}, 2)
	out := &notifyWriter{want: []string{"tenant " + opts[0].TenantID, "tenant " + opts[1].TenantID, "ca certs:"}, ready: make(chan struct{})}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- RunTenants(ctx, opts, out) }()
	select {
	case <-out.ready:
	case err := <-done:
		t.Fatalf("RunTenants returned early: %v\n%s", err, out.String())
	case <-time.After(10 * time.Second):
		t.Fatalf("RunTenants printed %q", out.String())
	}
	var tenantLines int
	for _, l := range strings.Split(out.String(), "\n") {
		if strings.HasPrefix(strings.TrimSpace(l), "tenant ") {
			tenantLines++
			for _, w := range []string{"graph http://127.0.0.1:", "/v1.0", "authority https://127.0.0.1:", "domain "} {
				if !strings.Contains(l, w) {
					t.Errorf("line %q lacks %q", l, w)
				}
			}
		}
	}
	if tenantLines != 2 {
		t.Errorf("%d tenant lines in %q", tenantLines, out.String())
	}
	pemBytes, err := os.ReadFile(caFile)
	if err != nil || strings.Count(string(pemBytes), "BEGIN CERTIFICATE") != 2 {
		t.Errorf("CA bundle: %v %q", err, pemBytes)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("RunTenants: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("RunTenants did not return after cancel")
	}
	if err := RunTenants(context.Background(), nil, out); err == nil {
		t.Error("RunTenants without tenants did not fail")
	}
}
