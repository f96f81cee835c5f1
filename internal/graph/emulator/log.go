package emulator

import (
	"net/http"
	"strings"
	"time"
)

// Request is one Graph request as the emulator saw it. Control and token requests are not
// recorded: the log is what the operator did to Graph, nothing else.
type Request struct {
	Method   string
	Path     string // after "/v1.0", e.g. "/invitations", "/users/abc"
	RawQuery string
	Status   int
	Body     []byte      // decoded (gunzipped) body
	Header   http.Header // every request header, x-ms-throttle-priority included
	Time     time.Time
	// LowPriority is true when the request carried "x-ms-throttle-priority: low".
	LowPriority bool
}

func (e *Emulator) record(r Request) {
	e.logMu.Lock()
	defer e.logMu.Unlock()
	e.log = append(e.log, r)
}

// Requests returns a copy of the request log, in the order responses were decided.
func (e *Emulator) Requests() []Request {
	e.logMu.Lock()
	defer e.logMu.Unlock()
	out := make([]Request, len(e.log))
	for i, r := range e.log {
		r.Body = append([]byte(nil), r.Body...)
		r.Header = r.Header.Clone()
		out[i] = r
	}
	return out
}

// Count is the number of logged requests with the given method ("" = any) whose path starts
// with pathPrefix, faulted and unauthorised ones included: it measures load on Graph.
func (e *Emulator) Count(method, pathPrefix string) int {
	e.logMu.Lock()
	defer e.logMu.Unlock()
	n := 0
	for _, r := range e.log {
		if (method == "" || strings.EqualFold(method, r.Method)) && strings.HasPrefix(r.Path, pathPrefix) {
			n++
		}
	}
	return n
}

// ResetRequests empties the request log, typically between the phases of a test.
func (e *Emulator) ResetRequests() {
	e.logMu.Lock()
	defer e.logMu.Unlock()
	e.log = nil
}
