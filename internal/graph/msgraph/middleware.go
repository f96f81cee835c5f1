package msgraph

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	khttp "github.com/microsoft/kiota-http-go"

	"github.com/partnerops/partner-operator/internal/graph"
)

// RetryOptions bounds the retries the HTTP pipeline makes on its own. Longer waits are
// returned to the caller as a throttled Error, so a controller can requeue instead of
// holding a worker.
type RetryOptions struct {
	// MaxRetries per request; 0 means no in-process retry.
	MaxRetries int
	// MaxInlineWait is the longest Retry-After the pipeline sleeps through.
	MaxInlineWait time.Duration
}

// DefaultRetryOptions retries briefly in-process and hands longer throttling back.
var DefaultRetryOptions = RetryOptions{MaxRetries: 3, MaxInlineWait: 5 * time.Second}

// middlewareChain is the fixed, ordered pipeline: retry, redirect, query-name decoding,
// user agent. There is deliberately no compression handler (graph.md: a gzip-labelled POST
// retried after a 429 goes out uncompressed or empty).
func middlewareChain(opts RetryOptions, userAgent string) []khttp.Middleware {
	retry := khttp.NewRetryHandlerWithOptions(khttp.RetryHandlerOptions{
		MaxRetries:   max(opts.MaxRetries, 1),
		DelaySeconds: 1,
		// MaxRetries 0 does not disable the handler; ShouldRetry returning false does.
		ShouldRetry: func(_ time.Duration, attempt int, req *http.Request, resp *http.Response) bool {
			if attempt >= opts.MaxRetries || mayHaveSentMail(req, resp) {
				return false
			}
			wait, ok := parseRetryAfter(resp.Header.Get("Retry-After"))
			return !ok || wait <= opts.MaxInlineWait
		},
	})
	return []khttp.Middleware{
		retry,
		khttp.NewRedirectHandler(),
		khttp.NewParametersNameDecodingHandler(),
		khttp.NewUserAgentHandler(),
		productUserAgent(userAgent),
		lowPriority{},
	}
}

// productUserAgent adds the operator and its replica to the User-Agent, so Graph's sign-in and
// audit logs (and the emulator's log) tell which pod sent a request.
type productUserAgent string

func (ua productUserAgent) Intercept(p khttp.Pipeline, i int, req *http.Request) (*http.Response, error) {
	if ua != "" {
		req.Header.Set("User-Agent", strings.TrimSpace(req.Header.Get("User-Agent")+" "+string(ua)))
	}
	return p.Next(req, i)
}

// mayHaveSentMail is a 504 to an invitation: the gateway gave up, but Graph may have invited
// the partner. Sending it again would mail them twice; the controller resolves it instead, by
// looking the guest up (found by the fault soak).
func mayHaveSentMail(req *http.Request, resp *http.Response) bool {
	return resp != nil && resp.StatusCode == http.StatusGatewayTimeout &&
		req.Method == http.MethodPost && strings.HasSuffix(strings.TrimSuffix(req.URL.Path, "/"), "/invitations")
}

// lowPriority labels background calls (graph.WithLowPriority) so Graph serves them last when
// the tenant is under pressure.
type lowPriority struct{}

func (lowPriority) Intercept(p khttp.Pipeline, i int, req *http.Request) (*http.Response, error) {
	if graph.IsLowPriority(req.Context()) && req.Header.Get("x-ms-throttle-priority") == "" {
		req.Header.Set("x-ms-throttle-priority", "low")
	}
	return p.Next(req, i)
}

// parseRetryAfter reads Retry-After in seconds (Graph's form) or as an HTTP date.
func parseRetryAfter(v string) (time.Duration, bool) {
	if v == "" {
		return 0, false
	}
	if s, err := strconv.ParseFloat(v, 64); err == nil && s >= 0 {
		return time.Duration(s * float64(time.Second)), true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(time.Until(t), 0), true
	}
	return 0, false
}
