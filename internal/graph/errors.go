package graph

import (
	"errors"
	"fmt"
	"time"
)

// Kind classifies a Graph failure by what the caller should do about it.
type Kind int

const (
	// KindTransient: retry with backoff (5xx, network errors, eventual consistency).
	KindTransient Kind = iota
	// KindNotFound: the object does not exist (or is not visible yet).
	KindNotFound
	// KindAlreadyExists: the write was already applied (duplicate member or assignment).
	KindAlreadyExists
	// KindThrottled: wait RetryAfter before the next call.
	KindThrottled
	// KindTerminal: retrying the same request cannot succeed (4xx other than the above).
	KindTerminal
)

func (k Kind) String() string {
	switch k {
	case KindNotFound:
		return "NotFound"
	case KindAlreadyExists:
		return "AlreadyExists"
	case KindThrottled:
		return "Throttled"
	case KindTerminal:
		return "Terminal"
	default:
		return "Transient"
	}
}

// Error is a classified Graph failure. Message is Graph's own text; it never carries tokens.
type Error struct {
	Kind       Kind
	Op         string
	StatusCode int
	Code       string
	Message    string
	RetryAfter time.Duration
	// RequestID is Graph's request-id response header (or the error body's innerError), which
	// Microsoft support asks for; empty when no answer came back.
	RequestID string
	Err       error
}

// StatusUnauthenticated is the StatusCode of a call that never reached Graph because no
// access token could be had (the token endpoint refused the credential, or none is
// configured): for what to do about it, the same as Graph's own 401.
const StatusUnauthenticated = 401

// Error leaves RequestID out: the text becomes condition messages and events, which would
// change (and be written and recorded again) on every retry. Logs carry it as a key instead.
func (e *Error) Error() string {
	switch {
	case e.Code != "" || e.Message != "":
		return fmt.Sprintf("graph %s: %d %s: %s", e.Op, e.StatusCode, e.Code, e.Message)
	case e.Err != nil:
		return fmt.Sprintf("graph %s: %v", e.Op, e.Err)
	default:
		return fmt.Sprintf("graph %s: status %d", e.Op, e.StatusCode)
	}
}

func (e *Error) Unwrap() error { return e.Err }

func kindOf(err error) (Kind, bool) {
	var ge *Error
	if errors.As(err, &ge) {
		return ge.Kind, true
	}
	return KindTransient, false
}

// IsNotFound reports whether err says the object does not exist.
func IsNotFound(err error) bool { k, ok := kindOf(err); return ok && k == KindNotFound }

// IsAlreadyExists reports whether err says the write had already been applied.
func IsAlreadyExists(err error) bool { k, ok := kindOf(err); return ok && k == KindAlreadyExists }

// IsTerminal reports whether retrying the same request cannot succeed.
func IsTerminal(err error) bool { k, ok := kindOf(err); return ok && k == KindTerminal }

// RetryAfter returns how long Graph asked the caller to wait, and whether err is throttling.
func RetryAfter(err error) (time.Duration, bool) {
	var ge *Error
	if errors.As(err, &ge) && ge.Kind == KindThrottled {
		return ge.RetryAfter, true
	}
	return 0, false
}

// RequestID returns Graph's request-id of a failed call, or "" when there is none.
func RequestID(err error) string {
	var ge *Error
	if errors.As(err, &ge) {
		return ge.RequestID
	}
	return ""
}

// StatusCode returns the HTTP status of a Graph error, or 0 when there was none.
func StatusCode(err error) int {
	var ge *Error
	if errors.As(err, &ge) {
		return ge.StatusCode
	}
	return 0
}

// ErrFenced is the answer to a write this replica may no longer send: it is not sure it still
// holds the leader lease (see internal/leader). Whether or not the request left, the reconcile
// that made it ends without writing anything else; the leader, whoever it is now, decides.
var ErrFenced = errors.New("not sent: this replica is not sure it still holds the leader lease")
