package operator

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/go-logr/logr/funcr"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime/schema"
	utilerrors "k8s.io/apimachinery/pkg/util/errors"
	"k8s.io/client-go/rest"
)

func TestMalformedAuthorization(t *testing.T) {
	jwt := "eyJhbGciOiJSUzI1NiIsImtpZCI6IjEifQ.eyJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQ6YTpiIn0.c2lnbmF0dXJl"
	for _, c := range []struct {
		header    []string
		malformed bool
	}{
		{nil, false},
		{[]string{"Bearer " + jwt}, false},
		{[]string{"bearer " + jwt}, false},
		{[]string{"Bearer abcdef.0123456789abcdef"}, false}, // a bootstrap token
		{[]string{"Bearer dG9rZW4="}, false},
		{[]string{"Bearer a-b_c~d+e/f=="}, false},
		{[]string{"Bearer"}, true},
		{[]string{"Bearer "}, true},
		{[]string{"Bearer %%%"}, true},
		{[]string{"Bearer abc def"}, true},
		{[]string{"Bearer ab=c"}, true},
		{[]string{"Bearer ==="}, true},
		{[]string{"Bearer tökén"}, true},
		{[]string{"Bearer a\tb"}, true},
		{[]string{"Bearer <script>"}, true},
		{[]string{"Basic Zm9vOmJhcg=="}, true},
		{[]string{"Bearer " + jwt, "Bearer " + jwt}, true},
	} {
		if got := malformedAuthorization(c.header) != ""; got != c.malformed {
			t.Errorf("Authorization %q: malformed %v, want %v (%s)", c.header, got, c.malformed, malformedAuthorization(c.header))
		}
	}
}

func TestReviewFailed(t *testing.T) {
	for _, c := range []struct {
		err    error
		failed bool
	}{
		{errors.New("invalid bearer token"), false},
		{errors.New("[invalid bearer token, square/go-jose: error in cryptographic primitive]"), false},
		{&url.Error{Op: "Post", URL: "https://127.0.0.1:1/apis", Err: &net.OpError{Op: "dial", Err: errors.New("connection refused")}}, true},
		{apierrors.NewForbidden(schema.GroupResource{Group: "authentication.k8s.io", Resource: "tokenreviews"}, "", errors.New("no")), true},
		{apierrors.NewInternalError(errors.New("etcd")), true},
		{fmt.Errorf("webhook call failed: %s", "context deadline exceeded"), true},
		{context.DeadlineExceeded, true},
		{utilerrors.NewAggregate([]error{errors.New("invalid bearer token")}), false},
		{utilerrors.NewAggregate([]error{errors.New("x509: unknown authority"), &url.Error{Op: "Post", Err: errors.New("refused")}}), true},
	} {
		if got := reviewFailed(c.err); got != c.failed {
			t.Errorf("%v: review failed %v, want %v", c.err, got, c.failed)
		}
	}
}

// Every refusal is a short body and no error-level log line; only a review that could not be
// made is a 500. Here the API server is unreachable, so a well-formed token gets the 500 and a
// malformed one never leaves the process. (With a real API server: TestMetricsEndpointAuth.)
func TestMetricsAuthFilterWithoutAPIServer(t *testing.T) {
	dead, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := dead.Addr().String()
	dead.Close()
	cfg := &rest.Config{Host: "http://" + addr}
	httpClient, err := rest.HTTPClientFor(cfg)
	if err != nil {
		t.Fatal(err)
	}
	filter, err := metricsAuthFilter(cfg, httpClient)
	if err != nil {
		t.Fatal(err)
	}
	var logged []string
	log := funcr.New(func(prefix, args string) { logged = append(logged, prefix+" "+args) }, funcr.Options{Verbosity: 10})
	served := 0
	handler, err := filter(log, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { served++; _, _ = io.WriteString(w, "metrics") }))
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(handler)
	defer srv.Close()

	for _, c := range []struct {
		authorization string
		code          int
	}{
		{"", http.StatusUnauthorized},
		{"Bearer", http.StatusUnauthorized},
		{"Bearer %%%", http.StatusUnauthorized},
		{"Bearer a b", http.StatusUnauthorized},
		{"Basic Zm9vOmJhcg==", http.StatusUnauthorized},
		{"Bearer well-formed.but.unreviewed", http.StatusInternalServerError},
	} {
		logged = nil
		req, _ := http.NewRequest(http.MethodGet, srv.URL+"/metrics", nil)
		if c.authorization != "" {
			req.Header.Set("Authorization", c.authorization)
		}
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		t.Logf("Authorization %q: %d %q", c.authorization, resp.StatusCode, strings.TrimSpace(string(body)))
		if resp.StatusCode != c.code || len(body) > 40 || strings.Contains(string(body), "goroutine") {
			t.Errorf("Authorization %q: %d %q, want %d and a short body", c.authorization, resp.StatusCode, body, c.code)
		}
		if c.code == http.StatusUnauthorized && resp.Header.Get("WWW-Authenticate") == "" {
			t.Errorf("Authorization %q: 401 without WWW-Authenticate", c.authorization)
		}
		for _, l := range logged {
			if strings.Contains(l, `"error"`) && c.code == http.StatusUnauthorized || strings.Contains(l, "stacktrace") {
				t.Errorf("Authorization %q logged %s", c.authorization, l)
			}
		}
	}
	if served != 0 {
		t.Errorf("served metrics %d times without authentication", served)
	}
}
