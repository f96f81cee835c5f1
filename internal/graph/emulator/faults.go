package emulator

import (
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Fault makes matching Graph requests fail before they reach the resource, so a faulted
// request never changes state, exactly like a throttled or failed call to Graph.
type Fault struct {
	Method     string        // "" = any
	PathPrefix string        // matched against the path after "/v1.0", e.g. "/invitations"; "" = any
	Status     int           // e.g. 429, 500, 502, 503; 0 means 500
	RetryAfter time.Duration // Retry-After header (whole seconds, at least 1) for 429 and 503
	Times      int           // matching requests that fail before the fault is spent; 0 means 1, negative means until ClearFaults
	Code       string        // error code; defaults by status (TooManyRequests, serviceNotAvailable, generalException, ...)
	// AfterWrite lets the request reach the resource and change state; only its answer is
	// replaced by the fault, as when a gateway times out after Graph did the work.
	AfterWrite bool
	// Rate, between 0 and 1, makes the fault hit only that share of matching requests, at
	// random (0 means every one); a request it spares goes on to the next fault.
	Rate    float64
	Message string // error message; a default by status when empty
}

type faultRec struct {
	Fault
	left int // remaining failures; negative = unlimited
}

// InjectFault adds a fault. Faults are checked in the order they were injected; the first
// live match fails the request and uses up one of its Times.
func (e *Emulator) InjectFault(f Fault) {
	if f.Status == 0 {
		f.Status = http.StatusInternalServerError
	}
	if f.Times == 0 {
		f.Times = 1
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.faults = append(e.faults, &faultRec{Fault: f, left: f.Times})
}

// ClearFaults removes every pending fault.
func (e *Emulator) ClearFaults() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.faults = nil
}

// pendingFaults reports faults not yet spent, for the control API's stats.
func (e *Emulator) pendingFaults() []Fault {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make([]Fault, 0, len(e.faults))
	for _, f := range e.faults {
		g := f.Fault
		g.Times = f.left
		out = append(out, g)
	}
	return out
}

// takeFault consumes one failure from the first matching fault.
func (e *Emulator) takeFault(method, path string) (Fault, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for i, f := range e.faults {
		if f.Method != "" && !strings.EqualFold(f.Method, method) {
			continue
		}
		if !strings.HasPrefix(path, f.PathPrefix) {
			continue
		}
		if f.Rate > 0 && rand.Float64() >= f.Rate {
			continue
		}
		if f.left > 0 {
			f.left--
			if f.left == 0 {
				e.faults = append(e.faults[:i], e.faults[i+1:]...)
			}
		}
		return f.Fault, true
	}
	return Fault{}, false
}

// discardResponse swallows the answer of a request served under an AfterWrite fault.
type discardResponse struct{ header http.Header }

func (d *discardResponse) Header() http.Header         { return d.header }
func (d *discardResponse) Write(b []byte) (int, error) { return len(b), nil }
func (d *discardResponse) WriteHeader(int)             {}

func writeFault(w http.ResponseWriter, r *http.Request, f Fault) {
	if f.RetryAfter > 0 && (f.Status == http.StatusTooManyRequests || f.Status == http.StatusServiceUnavailable) {
		secs := int((f.RetryAfter + time.Second - 1) / time.Second)
		w.Header().Set("Retry-After", strconv.Itoa(max(secs, 1)))
	}
	code, msg := defaultFaultError(f.Status)
	if f.Code != "" {
		code = f.Code
	}
	if f.Message != "" {
		msg = f.Message
	}
	writeError(w, r, f.Status, code, msg)
}

// defaultFaultError picks the code and message Graph uses for a status.
func defaultFaultError(status int) (string, string) {
	switch {
	case status == http.StatusTooManyRequests:
		return codeTooManyRequests, "Too many requests."
	case status == http.StatusServiceUnavailable:
		return codeServiceUnavail, "Service unavailable. Please try again later."
	case status >= 500:
		return codeGeneral, "An unexpected error occurred. Please try again later."
	case status == http.StatusUnauthorized:
		return codeInvalidToken, "Access token validation failure."
	case status == http.StatusForbidden:
		return "Authorization_RequestDenied", "Insufficient privileges to complete the operation."
	case status == http.StatusNotFound:
		return codeNotFound, "The requested resource does not exist."
	default:
		return codeBadRequest, http.StatusText(status)
	}
}
