package operator

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/go-logr/logr"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	utilerrors "k8s.io/apimachinery/pkg/util/errors"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/apiserver/pkg/apis/apiserver"
	"k8s.io/apiserver/pkg/authentication/authenticatorfactory"
	"k8s.io/apiserver/pkg/authorization/authorizer"
	"k8s.io/apiserver/pkg/authorization/authorizerfactory"
	authenticationv1 "k8s.io/client-go/kubernetes/typed/authentication/v1"
	authorizationv1 "k8s.io/client-go/kubernetes/typed/authorization/v1"
	"k8s.io/client-go/rest"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
)

// metricsAuthFilter is controller-runtime's filters.WithAuthenticationAndAuthorization (the same
// TokenReview and SubjectAccessReview, the same caches and retries) with one difference in
// what a caller sees: a token the API server does not accept, or one that is not a bearer token
// at all, is 401 Unauthorized. controller-runtime answers those with 500 and logs each at error
// level, with a stack trace: anyone who can reach the port could fill the log. A malformed
// token is refused before the API server is asked. Only a review that could not be made (the
// API server unreachable or failing) is a 500, with a short body.
func metricsAuthFilter(config *rest.Config, httpClient *http.Client) (metricsserver.Filter, error) {
	authnClient, err := authenticationv1.NewForConfigAndClient(config, httpClient)
	if err != nil {
		return nil, err
	}
	authzClient, err := authorizationv1.NewForConfigAndClient(config, httpClient)
	if err != nil {
		return nil, err
	}
	// Copied from controller-runtime, which copies it from k8s.io/apiserver's options.
	backoff := wait.Backoff{Duration: 500 * time.Millisecond, Factor: 1.5, Jitter: 0.2, Steps: 5}
	authn, _, err := authenticatorfactory.DelegatingAuthenticatorConfig{
		Anonymous:                &apiserver.AnonymousAuthConfig{Enabled: false},
		CacheTTL:                 time.Minute,
		TokenAccessReviewClient:  authnClient,
		TokenAccessReviewTimeout: 10 * time.Second,
		WebhookRetryBackoff:      &backoff,
	}.New()
	if err != nil {
		return nil, fmt.Errorf("metrics authenticator: %w", err)
	}
	authz, err := authorizerfactory.DelegatingAuthorizerConfig{
		SubjectAccessReviewClient: authzClient,
		AllowCacheTTL:             5 * time.Minute,
		DenyCacheTTL:              30 * time.Second,
		WebhookRetryBackoff:       &backoff,
	}.New()
	if err != nil {
		return nil, fmt.Errorf("metrics authorizer: %w", err)
	}
	return func(log logr.Logger, handler http.Handler) (http.Handler, error) {
		return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
			if why := malformedAuthorization(req.Header.Values("Authorization")); why != "" {
				log.V(4).Info("Metrics request refused", "reason", why)
				unauthorized(w)
				return
			}
			res, ok, err := authn.AuthenticateRequest(req)
			switch {
			case err != nil && reviewFailed(err):
				log.Info("Metrics request: the TokenReview failed", "error", err.Error())
				http.Error(w, "Authentication unavailable", http.StatusInternalServerError)
				return
			case err != nil || !ok:
				if err != nil {
					log.V(4).Info("Metrics request refused", "reason", err.Error())
				}
				unauthorized(w)
				return
			}
			attributes := authorizer.AttributesRecord{User: res.User, Verb: strings.ToLower(req.Method), Path: req.URL.Path}
			decision, reason, err := authz.Authorize(req.Context(), attributes)
			if err != nil {
				log.Info("Metrics request: the SubjectAccessReview failed", "user", res.User.GetName(), "error", err.Error())
				http.Error(w, "Authorization unavailable", http.StatusInternalServerError)
				return
			}
			if decision != authorizer.DecisionAllow {
				log.V(4).Info("Metrics request forbidden", "user", res.User.GetName(), "reason", reason)
				http.Error(w, "Forbidden: "+res.User.GetName()+" may not get "+req.URL.Path, http.StatusForbidden)
				return
			}
			handler.ServeHTTP(w, req)
		}), nil
	}, nil
}

func unauthorized(w http.ResponseWriter) {
	w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
	http.Error(w, "Unauthorized", http.StatusUnauthorized)
}

// malformedAuthorization says why the Authorization header cannot carry a bearer token the API
// server would accept; empty when it is absent (401 follows anyway, as anonymous access is off)
// or well formed. A bearer token is one RFC 6750 b64token: letters, digits and -._~+/, then
// padding '='; service account tokens (JWTs), bootstrap tokens and OIDC tokens all are.
func malformedAuthorization(values []string) string {
	switch len(values) {
	case 0:
		return ""
	case 1:
	default:
		return "more than one Authorization header"
	}
	scheme, token, _ := strings.Cut(strings.TrimSpace(values[0]), " ")
	if !strings.EqualFold(scheme, "Bearer") {
		return "not a bearer token"
	}
	token = strings.TrimLeft(token, " ")
	if token == "" {
		return "an empty bearer token"
	}
	body := strings.TrimRight(token, "=")
	if body == "" {
		return "a bearer token of padding only"
	}
	for _, c := range body {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.ContainsRune("-._~+/", c)) {
			return "a bearer token with characters a token cannot hold"
		}
	}
	return ""
}

// reviewFailed tells an error from a review that could not be made (transport, the API
// server's own error status, a timeout) from the API server's answer that the token is not
// valid, which k8s.io/apiserver also returns as an error, a plain one. What cannot be told
// apart is refused as unauthenticated: nothing is served either way.
func reviewFailed(err error) bool {
	var agg utilerrors.Aggregate // the chain of authenticators returns all it got
	if errors.As(err, &agg) {
		return slices.ContainsFunc(agg.Errors(), reviewFailed)
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return true
	}
	var status apierrors.APIStatus
	var urlErr *url.Error
	var netErr net.Error
	return errors.As(err, &status) || errors.As(err, &urlErr) || errors.As(err, &netErr) ||
		strings.HasPrefix(err.Error(), "webhook call failed")
}
