package msgraph

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	abs "github.com/microsoft/kiota-abstractions-go"
	"github.com/microsoftgraph/msgraph-sdk-go/models/odataerrors"

	graph "github.com/partnerops/partner-operator/internal/graph"
)

// defaultRetryAfter applies when Graph throttles without saying for how long.
const defaultRetryAfter = 10 * time.Second

// classify turns an SDK error into a *graph.Error. It never calls ODataError.Error(), which panics
// when the body has no error.message.
func classify(op string, err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return &graph.Error{Kind: graph.KindTransient, Op: op, Err: err}
	}
	var token *tokenError
	if errors.As(err, &token) {
		// No token, no request: the credential is wrong, expired or missing. Counted as a 401,
		// which is what Graph answers a request without a valid token.
		return &graph.Error{Kind: graph.KindTransient, Op: op, StatusCode: graph.StatusUnauthenticated,
			Code: "TokenAcquisitionFailed", Message: token.summary(), Err: token.err}
	}
	var odata *odataerrors.ODataError
	if errors.As(err, &odata) {
		e := &graph.Error{Op: op, StatusCode: odata.GetStatusCode()}
		if main := odata.GetErrorEscaped(); main != nil {
			e.Code = deref(main.GetCode())
			e.Message = deref(main.GetMessage())
			if inner := main.GetInnerError(); inner != nil {
				e.RequestID = deref(inner.GetRequestId())
			}
		}
		if id := requestIDHeader(odata.GetResponseHeaders()); id != "" {
			e.RequestID = id
		}
		e.RetryAfter = retryAfterHeader(odata.GetResponseHeaders())
		e.Kind = kindFor(e.StatusCode, e.Code, e.Message)
		return fillThrottle(e)
	}
	var api *abs.ApiError
	if errors.As(err, &api) {
		e := &graph.Error{Op: op, StatusCode: api.ResponseStatusCode, Message: api.Message}
		e.RequestID = requestIDHeader(api.ResponseHeaders)
		e.RetryAfter = retryAfterHeader(api.ResponseHeaders)
		e.Kind = kindFor(e.StatusCode, "", e.Message)
		return fillThrottle(e)
	}
	// Network failures and non-JSON answers (an HTML 502 from a proxy) carry no status.
	return &graph.Error{Kind: graph.KindTransient, Op: op, Err: err}
}

func fillThrottle(e *graph.Error) *graph.Error {
	if e.Kind == graph.KindThrottled && e.RetryAfter <= 0 {
		e.RetryAfter = defaultRetryAfter
	}
	return e
}

// kindFor maps Graph's answers to what the caller should do. The 400s that name missing
// references are Graph's eventual consistency right after an invitation (graph.md), so they
// are transient; duplicates of group membership, sponsors or app role assignments mean
// "already done".
func kindFor(status int, code, message string) graph.Kind {
	msg := strings.ToLower(message)
	switch {
	case status == http.StatusNotFound:
		return graph.KindNotFound
	case status == http.StatusTooManyRequests:
		return graph.KindThrottled
	case status == http.StatusServiceUnavailable || status == http.StatusGatewayTimeout:
		return graph.KindThrottled
	case status >= 500 || status == 0:
		return graph.KindTransient
	case status == http.StatusBadRequest && (strings.Contains(msg, "already exist")):
		return graph.KindAlreadyExists
	case status == http.StatusBadRequest && (strings.Contains(msg, "do not exist") ||
		strings.Contains(msg, "does not exist") || strings.Contains(msg, "not a valid reference update")):
		return graph.KindTransient
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		// Missing consent or a role is fixed by an administrator, not by the spec: keep
		// retrying with backoff rather than stalling the object.
		return graph.KindTransient
	case status == http.StatusRequestTimeout:
		return graph.KindTransient
	default:
		return graph.KindTerminal
	}
}

// requestIDHeader is Graph's request-id, the identifier Microsoft support asks for.
func requestIDHeader(h *abs.ResponseHeaders) string {
	if h == nil {
		return ""
	}
	for _, v := range h.Get("request-id") {
		if v != "" {
			return v
		}
	}
	return ""
}

func retryAfterHeader(h *abs.ResponseHeaders) time.Duration {
	if h == nil {
		return 0
	}
	for _, v := range h.Get("Retry-After") {
		if d, ok := parseRetryAfter(v); ok {
			return d
		}
	}
	return 0
}
