package msgraph

import (
	"bytes"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	graph "github.com/partnerops/partner-operator/internal/graph"
	"github.com/partnerops/partner-operator/internal/graph/emulator"
)

// withoutSecret drops client_secret from token requests, so the token endpoint answers as Entra
// ID does to a wrong or expired secret: 401 invalid_client, AADSTS7000215.
type withoutSecret struct{ next http.RoundTripper }

func (w withoutSecret) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Body != nil && strings.HasSuffix(req.URL.Path, "/oauth2/v2.0/token") {
		raw, err := io.ReadAll(req.Body)
		if err != nil {
			return nil, err
		}
		form, err := url.ParseQuery(string(raw))
		if err != nil {
			return nil, err
		}
		form.Del("client_secret")
		body := form.Encode()
		req = req.Clone(req.Context())
		req.Body, req.ContentLength = io.NopCloser(bytes.NewReader([]byte(body))), int64(len(body))
	}
	return w.next.RoundTrip(req)
}

// A credential the token endpoint refuses is an authentication failure, counted as a 401 in
// partner_operator_graph_requests_total (what the GraphAuthenticationFailing alert watches),
// with a message that stays the same from one attempt to the next.
func TestTokenRefusedIsA401(t *testing.T) {
	t.Parallel()
	emu := emulator.New(emulator.Options{RequireAuth: true})
	if err := emu.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(emu.Close)
	tls := emu.TLSClient()
	tls.Transport = withoutSecret{tls.Transport}
	cred, err := NewClientSecretCredential(emu.TenantID(), "id", "wrong-secret", emu.AuthorityURL(), tls)
	if err != nil {
		t.Fatal(err)
	}
	c, err := NewClient(Config{Endpoint: emu.URL(), Credential: cred, Retry: RetryOptions{MaxRetries: 1, MaxInlineWait: time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	m, err := graph.NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	dir := graph.Instrument(c, m)

	var msgs []string
	for range 2 {
		_, err = dir.GetUser(testContext(t), "someone")
		ge := graphErr(t, err)
		t.Logf("error: %v", ge)
		if ge.StatusCode != 401 || ge.Code != "TokenAcquisitionFailed" || ge.Kind != graph.KindTransient {
			t.Errorf("got status %d code %q kind %v, want 401 TokenAcquisitionFailed Transient", ge.StatusCode, ge.Code, ge.Kind)
		}
		msgs = append(msgs, ge.Error())
	}
	if !strings.Contains(msgs[0], "401 invalid_client (AADSTS7000215)") {
		t.Errorf("message %q does not say what the token endpoint answered", msgs[0])
	}
	if msgs[0] != msgs[1] {
		t.Errorf("the message changes between attempts (it becomes a condition message):\n%s\n%s", msgs[0], msgs[1])
	}
	if got := requestCount(t, reg, "get_user", "401"); got != 2 {
		t.Errorf(`partner_operator_graph_requests_total{operation="get_user",code="401"} = %v, want 2`, got)
	}
	if n := len(emu.Requests()); n != 0 {
		t.Errorf("%d requests reached Graph without a token", n)
	}
}

// Graph's request-id comes with every classified error that had an answer.
func TestErrorsCarryGraphRequestID(t *testing.T) {
	t.Parallel()
	c, emu := newTestClient(t, emulator.Options{})
	emu.InjectFault(emulator.Fault{Method: "GET", PathPrefix: "/users/", Status: 500})
	_, err := c.GetUser(testContext(t), "someone")
	ge := graphErr(t, err)
	if ge.RequestID == "" || graph.RequestID(err) != ge.RequestID {
		t.Fatalf("error %v has no request-id", err)
	}
	_, err = c.GetUser(testContext(t), "00000000-0000-0000-0000-000000000000")
	if ge := graphErr(t, err); ge.StatusCode != 404 || ge.RequestID == "" {
		t.Errorf("404 %v: request-id %q", err, ge.RequestID)
	}
}

func requestCount(t *testing.T, reg *prometheus.Registry, op, code string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "partner_operator_graph_requests_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, lp := range m.GetLabel() {
				labels[lp.GetName()] = lp.GetValue()
			}
			if labels["operation"] == op && labels["code"] == code {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}
