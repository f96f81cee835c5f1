// Package logging keeps guests' personal data and redemption URLs out of the operator's logs.
//
// The operator's own log lines, conditions and events never carry a guest's mail address or a
// redemption URL (the integration suite scans its log for both). Redact is the safety net for
// what the operator does not write itself: Graph's error messages, which may quote an address,
// and the lines of libraries (controller-runtime's "Reconciler error", its event recorder).
package logging

import (
	"encoding/json"
	"fmt"
	"regexp"

	"github.com/go-logr/logr"
)

var (
	// MailAddress matches a mail address. The top-level domain must be letters, so Go module
	// paths in stack traces (controller-runtime@v0.25.2) are not taken for one.
	MailAddress = regexp.MustCompile(`[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}\b`)
	// RedemptionURL matches an invitation's redemption URL, Graph's
	// (https://login.microsoftonline.com/redeem?rd=...) and the emulator's alike.
	RedemptionURL = regexp.MustCompile(`https?://[^\s"'<>]*/redeem\?[^\s"'<>]*`)
)

// What replaces them.
const (
	RedactedAddress = "[address redacted]"
	RedactedURL     = "[redemption URL redacted]"
)

// Scrub removes redemption URLs from s and, unless personalData, mail addresses.
func Scrub(s string, personalData bool) string {
	s = RedemptionURL.ReplaceAllLiteralString(s, RedactedURL)
	if !personalData {
		s = MailAddress.ReplaceAllLiteralString(s, RedactedAddress)
	}
	return s
}

// Redact returns a logger that scrubs every message, value and error of l's lines with Scrub:
// redemption URLs always, mail addresses unless personalData (--log-personal-data).
func Redact(l logr.Logger, personalData bool) logr.Logger {
	if l.GetSink() == nil {
		return l
	}
	return logr.New(&sink{next: l.GetSink(), personalData: personalData})
}

type sink struct {
	next         logr.LogSink
	personalData bool
}

var _ logr.CallDepthLogSink = (*sink)(nil)

func (s *sink) Init(info logr.RuntimeInfo) {
	// One more frame, this sink's, between the caller and the next sink.
	info.CallDepth++
	s.next.Init(info)
}

func (s *sink) Enabled(level int) bool { return s.next.Enabled(level) }

func (s *sink) Info(level int, msg string, kv ...any) {
	s.next.Info(level, Scrub(msg, s.personalData), s.values(kv)...)
}

func (s *sink) Error(err error, msg string, kv ...any) {
	if err != nil {
		err = &scrubbedError{msg: Scrub(err.Error(), s.personalData), err: err}
	}
	s.next.Error(err, Scrub(msg, s.personalData), s.values(kv)...)
}

func (s *sink) WithValues(kv ...any) logr.LogSink {
	return &sink{next: s.next.WithValues(s.values(kv)...), personalData: s.personalData}
}

func (s *sink) WithName(name string) logr.LogSink {
	return &sink{next: s.next.WithName(name), personalData: s.personalData}
}

func (s *sink) WithCallDepth(depth int) logr.LogSink {
	if cd, ok := s.next.(logr.CallDepthLogSink); ok {
		return &sink{next: cd.WithCallDepth(depth), personalData: s.personalData}
	}
	return s
}

// values scrubs the values of key/value pairs; keys are the code's own.
func (s *sink) values(kv []any) []any {
	out := make([]any, len(kv))
	copy(out, kv)
	for i := 1; i < len(out); i += 2 {
		out[i] = s.value(out[i])
	}
	return out
}

func (s *sink) value(v any) any {
	switch v := v.(type) {
	case nil, bool, int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64, float32, float64:
		return v
	case string:
		return Scrub(v, s.personalData)
	case error:
		return &scrubbedError{msg: Scrub(v.Error(), s.personalData), err: v}
	case fmt.Stringer:
		if str := v.String(); Scrub(str, s.personalData) != str {
			return Scrub(str, s.personalData)
		}
		return v
	case []string:
		out := make([]string, len(v))
		for i := range v {
			out[i] = Scrub(v[i], s.personalData)
		}
		return out
	}
	// Structs, maps and slices are logged as JSON; a value holding an address or a URL is
	// replaced by its scrubbed JSON text, anything else is left as it is.
	raw, err := json.Marshal(v)
	if err != nil {
		return v
	}
	if scrubbed := Scrub(string(raw), s.personalData); scrubbed != string(raw) {
		return json.RawMessage(scrubbed)
	}
	return v
}

// scrubbedError prints the scrubbed text of err and still unwraps to it.
type scrubbedError struct {
	msg string
	err error
}

func (e *scrubbedError) Error() string { return e.msg }
func (e *scrubbedError) Unwrap() error { return e.err }
