package msgraph

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sync"
	"testing"

	abs "github.com/microsoft/kiota-abstractions-go"
	"github.com/microsoftgraph/msgraph-sdk-go/models/odataerrors"

	"github.com/partnerops/partner-operator/internal/graph/emulator"
	"github.com/partnerops/partner-operator/internal/graph/emulator/conformance"
)

// TestConformance sends every documented behaviour of the conformance table through
// msgraph-sdk-go's request adapter, as this package builds it for the operator (token from the
// emulator's authority, fixed middleware chain, no in-process retry so a 429 surfaces), and
// checks the SDK sees the answer Microsoft documents: the status, an ODataError with Graph's
// code, message and ids, and bodies its models read without a property they do not define.
// internal/graph/emulator runs the same table over plain HTTP.
func TestConformance(t *testing.T) {
	for _, c := range conformance.Cases {
		t.Run(c.Name, func(t *testing.T) {
			t.Parallel()
			emu := emulator.New(emulator.Options{RequireAuth: true})
			if err := emu.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(emu.Close)
			req, vars, err := c.Prepare(emu)
			if err != nil {
				t.Fatal(err)
			}
			cred, err := NewClientSecretCredential(emu.TenantID(), "conformance", "secret", emu.AuthorityURL(), emu.TLSClient())
			if err != nil {
				t.Fatal(err)
			}
			rec := &lastResponse{base: http.DefaultTransport}
			client, err := NewClient(Config{Endpoint: emu.URL(), Credential: cred, HTTPClient: &http.Client{Transport: rec}})
			if err != nil {
				t.Fatal(err)
			}
			info, err := requestInfo(emu.URL()+"/v1.0", req)
			if err != nil {
				t.Fatal(err)
			}
			res, err := client.adapter.SendPrimitive(testContext(t), info, "[]byte",
				abs.ErrorMappings{"XXX": odataerrors.CreateODataErrorFromDiscriminatorValue})
			status, header := rec.get()

			var probs []string
			switch {
			case c.Want.Status >= 400:
				probs = odataErrorProblems(c, vars, err, status, header)
			case err != nil:
				probs = []string{fmt.Sprintf("the SDK failed: %v", err)}
			default:
				body, _ := res.([]byte)
				probs = c.CheckResponse(vars, status, header, body)
			}
			if _, own := req.Header["Authorization"]; !own {
				// The SDK authenticated every request with the emulator's token.
				for _, r := range emu.Requests() {
					if r.Status == http.StatusUnauthorized {
						probs = append(probs, "the SDK's request was not authenticated")
					}
				}
			}
			for _, p := range probs {
				t.Errorf("%s %s: %s (source: %s)", req.Method, req.Target, p, c.Doc)
			}
		})
	}
}

// requestInfo turns a conformance request into kiota's, with the URL as written (the SDK's
// request builders would build the same) and the headers and body the case names.
func requestInfo(base string, req conformance.Request) (*abs.RequestInformation, error) {
	methods := map[string]abs.HttpMethod{http.MethodGet: abs.GET, http.MethodPost: abs.POST,
		http.MethodPatch: abs.PATCH, http.MethodDelete: abs.DELETE}
	m, ok := methods[req.Method]
	if !ok {
		return nil, fmt.Errorf("method %s", req.Method)
	}
	u, err := url.Parse(base + req.Target)
	if err != nil {
		return nil, fmt.Errorf("request URL: %w", err)
	}
	info := abs.NewRequestInformation()
	info.Method = m
	info.SetUri(*u)
	info.Headers.Add("Accept", "application/json")
	for k, v := range req.Header {
		info.Headers.Add(k, v)
	}
	if req.Body != nil {
		info.SetStreamContentAndContentType(req.Body, "application/json")
	}
	return info, nil
}

// odataErrorProblems checks that an error answer reached the caller as the SDK's ODataError
// with Graph's status, code, message and innerError ids.
func odataErrorProblems(c conformance.Case, vars conformance.Vars, err error, status int, header http.Header) []string {
	var oe *odataerrors.ODataError
	if !errors.As(err, &oe) {
		return []string{fmt.Sprintf("got %T %v, want an *odataerrors.ODataError", err, err)}
	}
	probs := c.CheckHeaders(header)
	if oe.GetStatusCode() != c.Want.Status || status != c.Want.Status {
		probs = append(probs, fmt.Sprintf("status %d (on the wire %d), want %d", oe.GetStatusCode(), status, c.Want.Status))
	}
	main := oe.GetErrorEscaped()
	if main == nil {
		return append(probs, "the ODataError has no error object")
	}
	probs = append(probs, c.CheckError(vars, deref(main.GetCode()), deref(main.GetMessage()))...)
	inner := main.GetInnerError()
	if inner == nil || deref(inner.GetRequestId()) == "" || deref(inner.GetClientRequestId()) == "" || inner.GetDate() == nil {
		probs = append(probs, "innerError lacks the date or a request id")
	}
	return probs
}

// lastResponse is the base transport under the SDK's middleware; it remembers the status and
// headers of the last answer on the wire.
type lastResponse struct {
	base   http.RoundTripper
	mu     sync.Mutex
	status int
	header http.Header
}

func (l *lastResponse) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := l.base.RoundTrip(r)
	if err == nil {
		l.mu.Lock()
		l.status, l.header = resp.StatusCode, resp.Header.Clone()
		l.mu.Unlock()
	}
	return resp, err
}

func (l *lastResponse) get() (int, http.Header) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.status, l.header
}
