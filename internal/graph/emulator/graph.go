package emulator

import (
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"
)

// serveGraph is the pipeline every Graph request goes through, in the order Graph itself
// would apply it: latency, authentication, permissions, faults, quotas, then the resource. The
// request is logged whatever the outcome, so tests can count retries of faulted requests too.
func (e *Emulator) serveGraph(w http.ResponseWriter, r *http.Request) {
	arrived := e.now()
	// Graph answers every request with its own request-id and the caller's client-request-id,
	// making one up when the caller sent none; errors repeat both in innerError.
	w.Header().Set("request-id", newUUID())
	clientID := r.Header.Get("client-request-id")
	if clientID == "" {
		clientID = newUUID()
	}
	w.Header().Set("client-request-id", clientID)
	body, bodyErr := readBody(r)
	path := strings.TrimPrefix(r.URL.Path, "/v1.0")
	if path == "" {
		path = "/"
	}
	entry := Request{
		Method:   r.Method,
		Path:     path,
		RawQuery: r.URL.RawQuery,
		Body:     body,
		Header:   r.Header.Clone(),
		Time:     arrived,
		// Graph throttles low-priority requests first; the emulator only records the hint.
		LowPriority: strings.EqualFold(strings.TrimSpace(r.Header.Get("x-ms-throttle-priority")), "low"),
	}
	// The entry is appended when the status is known but before any byte reaches the client,
	// so a test that reads the log right after its call returns always finds the request.
	rec := &logWriter{ResponseWriter: w, commit: func(status int) {
		entry.Status = status
		e.record(entry)
		e.logf("graph: %s %s -> %d", r.Method, path, status)
	}}
	defer rec.finish()

	// Latency holds no lock: concurrent requests wait side by side, as they do on Graph.
	if latency := e.requestLatency(); latency > 0 {
		t := time.NewTimer(latency)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
		}
	}

	app := "" // the calling app, for per-app quotas; "" when auth is off
	if e.opts.RequireAuth {
		clientID, msg, ok := e.authorized(r, true)
		if !ok {
			rec.Header().Set("WWW-Authenticate", `Bearer realm="", authorization_uri="https://login.microsoftonline.com/common/oauth2/authorize", client_id="00000003-0000-0000-c000-000000000000"`)
			writeError(rec, r, http.StatusUnauthorized, codeInvalidToken, msg)
			return
		}
		app = clientID
	}
	caller := app // the app the token names, for Application.ReadWrite.OwnedBy
	if !e.opts.RequireAuth {
		if id, _, ok := e.authorized(r, false); ok {
			caller = id
		}
	}
	// Graph refuses a call the app has no permission for before it does or counts any work.
	if !e.permitted(r.Method, path, body, caller) {
		writeInsufficientPrivileges(rec, r)
		return
	}
	if f, ok := e.takeFault(r.Method, path); ok {
		if f.Status == http.StatusTooManyRequests {
			e.throttled.Add(1)
		}
		if f.AfterWrite && bodyErr == nil {
			e.route(&discardResponse{header: http.Header{}}, r, path, body)
		}
		writeFault(rec, r, f)
		return
	}
	if !e.enforceQuotas(rec, r, path, app) {
		return
	}
	if bodyErr != nil {
		writeError(rec, r, http.StatusBadRequest, codeBadRequest, bodyErr.Error())
		return
	}
	e.route(rec, r, path, body)
}

// route dispatches on the first path segment. Graph's segment names are case-insensitive.
func (e *Emulator) route(w http.ResponseWriter, r *http.Request, path string, body []byte) {
	segs := strings.Split(strings.Trim(path, "/"), "/")
	first, rest := segs[0], segs[1:]
	switch {
	case strings.EqualFold(first, "invitations") && len(rest) == 0:
		if r.Method != http.MethodPost {
			writeMethodNotAllowed(w, r)
			return
		}
		e.createInvitation(w, r, body)
	case strings.EqualFold(first, "users"):
		e.routeUsers(w, r, rest, body)
	case strings.EqualFold(first, "groups"):
		e.routeGroups(w, r, rest, body)
	case strings.EqualFold(first, "servicePrincipals"):
		e.routeServicePrincipals(w, r, "servicePrincipals", rest, body)
	case strings.HasPrefix(strings.ToLower(first), "serviceprincipals("):
		e.routeServicePrincipals(w, r, "servicePrincipals"+first[len("servicePrincipals"):], rest, body)
	case strings.EqualFold(first, "applications"):
		e.routeApplications(w, r, "", rest, body)
	case strings.HasPrefix(strings.ToLower(first), "applications("):
		e.routeApplications(w, r, first[len("applications"):], rest, body)
	case strings.EqualFold(first, "organization"):
		e.routeOrganization(w, r, rest)
	case strings.EqualFold(first, "directory") && len(rest) > 0 && strings.EqualFold(rest[0], "deletedItems"):
		e.routeDeletedItems(w, r, rest[1:])
	case strings.EqualFold(first, "tenantRelationships"):
		e.routeTenantRelationships(w, r, rest)
	case strings.EqualFold(first, "policies") && len(rest) > 1 && strings.EqualFold(rest[0], "crossTenantAccessPolicy") &&
		strings.EqualFold(rest[1], "partners"):
		e.routePartners(w, r, rest[2:], body)
	default:
		seg := first
		if seg == "" {
			seg = "v1.0"
		}
		writeError(w, r, http.StatusNotFound, codeNotFound,
			fmt.Sprintf("Resource not found for the segment '%s'.", seg))
	}
}

// logWriter captures the status code and commits the log entry exactly once, just before
// the response headers go out.
type logWriter struct {
	http.ResponseWriter
	once   sync.Once
	commit func(status int)
}

func (l *logWriter) WriteHeader(status int) {
	l.once.Do(func() { l.commit(status) })
	l.ResponseWriter.WriteHeader(status)
}

func (l *logWriter) Write(b []byte) (int, error) {
	l.once.Do(func() { l.commit(http.StatusOK) })
	return l.ResponseWriter.Write(b)
}

// finish logs a handler that wrote nothing (net/http then answers 200).
func (l *logWriter) finish() { l.once.Do(func() { l.commit(http.StatusOK) }) }
