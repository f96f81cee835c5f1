package emulator

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// The control API lets a shell script or a test in another process drive the emulator the
// way the Go methods do. It lives on the Graph listener under /_emulator/ and is neither
// logged as Graph traffic nor subject to auth, latency or faults.
//
//	GET    /_emulator/users               every user, all properties, plus "visible", "sponsors" and "extensions"
//	POST   /_emulator/users               seed a user (User JSON; accountEnabled defaults to true;
//	                                       "extensions":{"extension_..._x":"value"} as given, unchecked)
//	POST   /_emulator/users/{id}/accept   the partner redeems the invitation
//	DELETE /_emulator/users/{id}          delete out of band
//	GET    /_emulator/groups              groups with their members
//	POST   /_emulator/groups              seed a group
//	GET    /_emulator/servicePrincipals   service principals with their assignments
//	POST   /_emulator/servicePrincipals   seed a service principal
//	GET    /_emulator/faults              pending faults
//	POST   /_emulator/faults              inject a fault (retryAfter: seconds or "2s")
//	DELETE /_emulator/faults              clear faults
//	GET    /_emulator/requests            the request log (method, path, status, time)
//	DELETE /_emulator/requests            reset the request log
//	POST   /_emulator/settings            {"visibilityDelay":"30s","latency":"50ms","latencyJitter":"100ms",
//	                                       "quotas":"small"|"medium"|"large"|"off",
//	                                       "grantedPermissions":["User.Invite.All",...] ([] grants all)}
//	GET    /_emulator/stats               counters, throttling and quota usage included
//	GET    /_emulator/apps                registered and disabled apps (no secrets)
//	POST   /_emulator/apps                register an app: {"clientId":"...","secret":"..."}
//	POST   /_emulator/apps/{id}:disable   refuse the app's token requests and its issued tokens
//	POST   /_emulator/apps/{id}:enable    accept them again
//	POST   /_emulator/tenants             make an external tenant known (ExternalTenant JSON)
//	GET    /_emulator/partners            the partner configurations, as Graph returns them
//	PATCH  /_emulator/partners/{tenantId} change one as the portal would (creates it if absent)
func (e *Emulator) serveControl(w http.ResponseWriter, r *http.Request) {
	segs := strings.Split(strings.Trim(strings.TrimPrefix(r.URL.Path, "/_emulator/"), "/"), "/")
	body, err := readBody(r)
	if err != nil {
		writeError(w, r, http.StatusBadRequest, codeBadRequest, err.Error())
		return
	}
	route := r.Method + " " + segs[0]
	switch {
	case route == "GET users" && len(segs) == 1:
		e.controlListUsers(w)
	case route == "POST users" && len(segs) == 1:
		e.controlSeedUser(w, r, body)
	case route == "POST users" && len(segs) == 3 && segs[2] == "accept":
		controlResult(w, r, e.AcceptInvitation(segs[1]))
	case route == "DELETE users" && len(segs) == 2:
		controlResult(w, r, e.DeleteUserOutOfBand(segs[1]))
	case route == "GET groups" && len(segs) == 1:
		e.controlListGroups(w)
	case route == "POST groups" && len(segs) == 1:
		var g Group
		if controlDecode(w, r, body, &g) {
			writeJSON(w, http.StatusCreated, e.AddGroup(g))
		}
	case route == "GET servicePrincipals" && len(segs) == 1:
		e.controlListSPs(w)
	case route == "POST servicePrincipals" && len(segs) == 1:
		var sp ServicePrincipal
		if controlDecode(w, r, body, &sp) {
			writeJSON(w, http.StatusCreated, e.AddServicePrincipal(sp))
		}
	case route == "GET faults" && len(segs) == 1:
		e.controlListFaults(w)
	case route == "POST faults" && len(segs) == 1:
		e.controlInjectFault(w, r, body)
	case route == "DELETE faults" && len(segs) == 1:
		e.ClearFaults()
		writeNoContent(w)
	case route == "GET requests" && len(segs) == 1:
		e.controlListRequests(w)
	case route == "DELETE requests" && len(segs) == 1:
		e.ResetRequests()
		writeNoContent(w)
	case route == "POST settings" && len(segs) == 1:
		e.controlSettings(w, r, body)
	case route == "GET stats" && len(segs) == 1:
		writeJSON(w, http.StatusOK, e.stats())
	case segs[0] == "apps":
		e.controlApps(w, r, segs, body)
	case route == "POST tenants" && len(segs) == 1:
		var t ExternalTenant
		if controlDecode(w, r, body, &t) {
			writeJSON(w, http.StatusCreated, e.AddExternalTenant(t))
		}
	case route == "GET partners" && len(segs) == 1:
		out := []map[string]any{}
		for _, id := range e.Partners() {
			if p, ok := e.Partner(id); ok {
				out = append(out, p)
			}
		}
		writeJSON(w, http.StatusOK, out)
	case route == "PATCH partners" && len(segs) == 2:
		if err := e.PatchPartner(segs[1], string(body)); err != nil {
			writeError(w, r, http.StatusBadRequest, codeBadRequest, err.Error())
			return
		}
		writeNoContent(w)
	default:
		writeError(w, r, http.StatusNotFound, codeNotFound, "No control endpoint "+r.Method+" "+r.URL.Path+".")
	}
}

func controlResult(w http.ResponseWriter, r *http.Request, err error) {
	if err != nil {
		writeError(w, r, http.StatusNotFound, codeNotFound, err.Error())
		return
	}
	writeNoContent(w)
}

func controlDecode(w http.ResponseWriter, r *http.Request, body []byte, v any) bool {
	if err := json.Unmarshal(body, v); err != nil {
		writeError(w, r, http.StatusBadRequest, codeBadRequest, "Invalid JSON body: "+err.Error())
		return false
	}
	return true
}

func (e *Emulator) controlListUsers(w http.ResponseWriter) {
	e.mu.Lock()
	now := e.now()
	out := []map[string]any{}
	for _, u := range e.dir.sortedUsers() {
		m := controlUser(&u.User)
		m["visible"] = u.visible(now)
		m["sponsors"] = append([]string{}, u.sponsors...)
		out = append(out, m)
	}
	e.mu.Unlock()
	writeJSON(w, http.StatusOK, out)
}

func (e *Emulator) controlSeedUser(w http.ResponseWriter, r *http.Request, body []byte) {
	// accountEnabled is a pointer here so an omitted field means an enabled account, as
	// for every user a human would seed.
	var in struct {
		User
		AccountEnabled *bool `json:"accountEnabled"`
	}
	if !controlDecode(w, r, body, &in) {
		return
	}
	in.User.AccountEnabled = in.AccountEnabled == nil || *in.AccountEnabled
	u := e.AddUser(in.User)
	writeJSON(w, http.StatusCreated, controlUser(&u))
}

// controlUser is the control API's form of a user: every property, and the extension values
// under "extensions".
func controlUser(u *User) map[string]any {
	m := renderUser(u, allUserProps(u))
	if len(u.Extensions) > 0 {
		m["extensions"] = maps.Clone(u.Extensions)
	}
	return m
}

func (e *Emulator) controlListGroups(w http.ResponseWriter) {
	e.mu.Lock()
	recs := make([]*groupRec, 0, len(e.dir.groups))
	for _, g := range e.dir.groups {
		recs = append(recs, g)
	}
	sortByOrd(recs, func(g *groupRec) int64 { return g.ord })
	out := []map[string]any{}
	for _, g := range recs {
		m := renderGroup(&g.Group)
		m["members"] = append([]string{}, g.members...)
		out = append(out, m)
	}
	e.mu.Unlock()
	writeJSON(w, http.StatusOK, out)
}

func (e *Emulator) controlListSPs(w http.ResponseWriter) {
	e.mu.Lock()
	recs := make([]*spRec, 0, len(e.dir.sps))
	for _, sp := range e.dir.sps {
		recs = append(recs, sp)
	}
	sortByOrd(recs, func(s *spRec) int64 { return s.ord })
	out := []map[string]any{}
	for _, sp := range recs {
		m := renderSP(&sp.ServicePrincipal)
		as := []map[string]any{}
		for _, a := range e.dir.assignments {
			if a.ResourceID == sp.ID {
				as = append(as, e.renderAssignment(a))
			}
		}
		m["appRoleAssignedTo"] = as
		out = append(out, m)
	}
	e.mu.Unlock()
	writeJSON(w, http.StatusOK, out)
}

// faultWire is Fault's control-API form: retryAfter may be a number of seconds or a Go
// duration string, which a human at a shell finds easier than nanoseconds.
type faultWire struct {
	Method     string          `json:"method"`
	PathPrefix string          `json:"pathPrefix"`
	Status     int             `json:"status"`
	RetryAfter json.RawMessage `json:"retryAfter"`
	Times      int             `json:"times"`
	Code       string          `json:"code"`
	Message    string          `json:"message"`
}

func (e *Emulator) controlInjectFault(w http.ResponseWriter, r *http.Request, body []byte) {
	var in faultWire
	if !controlDecode(w, r, body, &in) {
		return
	}
	if in.Status != 0 && (in.Status < 400 || in.Status > 599) {
		writeError(w, r, http.StatusBadRequest, codeBadRequest, "status must be an HTTP error status (400-599)")
		return
	}
	ra, err := parseWireDuration(in.RetryAfter, time.Second)
	if err != nil {
		writeError(w, r, http.StatusBadRequest, codeBadRequest, "retryAfter: "+err.Error())
		return
	}
	e.InjectFault(Fault{
		Method: in.Method, PathPrefix: in.PathPrefix, Status: in.Status, RetryAfter: ra,
		Times: in.Times, Code: in.Code, Message: in.Message,
	})
	writeNoContent(w)
}

func (e *Emulator) controlListFaults(w http.ResponseWriter) {
	out := []map[string]any{}
	for _, f := range e.pendingFaults() {
		out = append(out, map[string]any{
			"method": f.Method, "pathPrefix": f.PathPrefix, "status": f.Status,
			"retryAfter": f.RetryAfter.Seconds(), "times": f.Times, "code": f.Code, "message": f.Message,
		})
	}
	writeJSON(w, http.StatusOK, out)
}

// parseWireDuration reads a JSON number (in units of unit) or a duration string.
func parseWireDuration(raw json.RawMessage, unit time.Duration) (time.Duration, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return 0, nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		if n, err := strconv.ParseFloat(s, 64); err == nil {
			return time.Duration(n * float64(unit)), nil
		}
		return time.ParseDuration(s)
	}
	var n float64
	if err := json.Unmarshal(raw, &n); err != nil {
		return 0, fmt.Errorf("want a number or a duration string, got %s", raw)
	}
	return time.Duration(n * float64(unit)), nil
}

func (e *Emulator) controlSettings(w http.ResponseWriter, r *http.Request, body []byte) {
	var in struct {
		VisibilityDelay json.RawMessage `json:"visibilityDelay"`
		Latency         json.RawMessage `json:"latency"`
		LatencyJitter   json.RawMessage `json:"latencyJitter"`
		Quotas          *string         `json:"quotas"`
		// A pointer, so that an absent field leaves the grant alone and [] grants everything.
		GrantedPermissions *[]string `json:"grantedPermissions"`
	}
	if !controlDecode(w, r, body, &in) {
		return
	}
	vd, err1 := parseWireDuration(in.VisibilityDelay, time.Second)
	lat, err2 := parseWireDuration(in.Latency, time.Millisecond)
	jit, err3 := parseWireDuration(in.LatencyJitter, time.Millisecond)
	if err1 != nil || err2 != nil || err3 != nil {
		writeError(w, r, http.StatusBadRequest, codeBadRequest, "durations must be numbers or duration strings")
		return
	}
	var quotas *Quotas
	if in.Quotas != nil {
		q, ok := quotasForSize(*in.Quotas)
		if !ok {
			writeError(w, r, http.StatusBadRequest, codeBadRequest,
				fmt.Sprintf("quotas must be small, medium, large or off, not %q", *in.Quotas))
			return
		}
		quotas = q
	}
	if len(in.VisibilityDelay) > 0 {
		e.SetVisibilityDelay(vd)
	}
	if len(in.Latency) > 0 {
		e.SetLatency(lat)
	}
	if len(in.LatencyJitter) > 0 {
		e.SetLatencyJitter(jit)
	}
	if in.Quotas != nil {
		e.SetQuotas(quotas)
	}
	if in.GrantedPermissions != nil {
		e.SetGrantedPermissions(*in.GrantedPermissions...)
	}
	writeNoContent(w)
}

func (e *Emulator) controlListRequests(w http.ResponseWriter) {
	out := []map[string]any{}
	for _, r := range e.Requests() {
		out = append(out, map[string]any{
			"method": r.Method, "path": r.Path, "query": r.RawQuery, "status": r.Status,
			"time": r.Time.UTC().Format(time.RFC3339Nano), "lowPriority": r.LowPriority,
		})
	}
	writeJSON(w, http.StatusOK, out)
}

// stats are the counters a demo prints and a benchmark reports.
func (e *Emulator) stats() map[string]any {
	byRoute := map[string]int{}
	reqs := e.Requests()
	lowPriority := 0
	for _, r := range reqs {
		byRoute[r.Method+" /"+firstSegment(r.Path)]++
		if r.LowPriority {
			lowPriority++
		}
	}
	pending := len(e.pendingFaults())
	quotas := e.quotaStats()
	e.mu.Lock()
	defer e.mu.Unlock()
	now := e.now()
	visible := 0
	for _, u := range e.dir.users {
		if u.visible(now) {
			visible++
		}
	}
	mails := map[string]int{}
	for k, v := range e.dir.mails {
		mails[k] = v
	}
	return map[string]any{
		"users":               len(e.dir.users),
		"visibleUsers":        visible,
		"deletedUsers":        len(e.dir.deleted),
		"groups":              len(e.dir.groups),
		"servicePrincipals":   len(e.dir.sps),
		"appRoleAssignments":  len(e.dir.assignments),
		"invitations":         e.dir.invitations,
		"mailsSent":           mails,
		"requests":            len(reqs),
		"requestsByRoute":     byRoute,
		"lowPriorityRequests": lowPriority,
		"pendingFaults":       pending,
		"throttled":           e.ThrottledCount(),
		"quotas":              quotas,
		"foreignTokens":       e.ForeignTokens(),
		"tenantId":            e.tenantID,
	}
}
