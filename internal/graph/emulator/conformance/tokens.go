package conformance

import (
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/partnerops/partner-operator/internal/graph/emulator"
)

// TokenCase is one documented behaviour of Entra ID's token endpoint for the
// client-credentials grant: a token request and the answer Entra documents for it.
type TokenCase struct {
	Name string
	Doc  string
	// Setup prepares the tenant, e.g. registers or disables an app.
	Setup func(e *emulator.Emulator) error
	// Tenant is the path segment before /oauth2/v2.0/token; "{tenant}" and "{domain}" are
	// the emulator's tenant ID and initial domain.
	Tenant string
	// Form is the request body; nil is a valid client-secret request of app "operator".
	Form url.Values
	Want TokenWant
}

// TokenWant is the documented answer: a token, or an OAuth error.
type TokenWant struct {
	Status int
	Error  string // the OAuth error ("invalid_client"), "" for a token
	AADSTS int    // the AADSTS number error_description starts with and error_codes holds
}

// clientCredentials is a client-secret token request of clientID for Graph.
func clientCredentials(clientID, secret string) url.Values {
	return url.Values{"grant_type": {"client_credentials"}, "client_id": {clientID}, "client_secret": {secret},
		"scope": {"https://graph.microsoft.com/.default"}}
}

// TokenCases is the token endpoint's table; internal/graph/emulator runs it over TLS.
var TokenCases = []TokenCase{
	{
		Name: "a token for the tenant's ID", Doc: docClientCreds, Tenant: "{tenant}",
		Want: TokenWant{Status: 200},
	},
	{
		Name: "a token for the tenant's domain", Doc: docClientCreds, Tenant: "{domain}",
		Want: TokenWant{Status: 200},
	},
	{
		Name: "a tenant that does not exist", Doc: docAADSTSErrors, Tenant: otherTenant,
		Want: TokenWant{Status: 400, Error: "invalid_request", AADSTS: 90002},
	},
	{
		Name: "an application the tenant does not have", Doc: docAADSTSErrors, Tenant: "{tenant}",
		Setup: func(e *emulator.Emulator) error {
			e.RegisterApp("operator", "s3cret")
			return nil
		},
		Form: clientCredentials("someone-else", "s3cret"),
		Want: TokenWant{Status: 400, Error: "unauthorized_client", AADSTS: 700016},
	},
	{
		Name: "a wrong client secret", Doc: docAADSTSErrors, Tenant: "{tenant}",
		Setup: func(e *emulator.Emulator) error {
			e.RegisterApp("operator", "s3cret")
			return nil
		},
		Form: clientCredentials("operator", "not-the-secret"),
		Want: TokenWant{Status: 401, Error: "invalid_client", AADSTS: 7000215},
	},
	{
		Name: "a disabled application", Doc: docAADSTSErrors, Tenant: "{tenant}",
		Setup: func(e *emulator.Emulator) error {
			e.RegisterApp("operator", "s3cret")
			e.DisableApp("operator")
			return nil
		},
		Want: TokenWant{Status: 400, Error: "unauthorized_client", AADSTS: 7000112},
	},
	{
		Name: "a grant other than client credentials", Doc: docAADSTSErrors, Tenant: "{tenant}",
		Form: url.Values{"grant_type": {"password"}, "client_id": {"operator"}, "scope": {"https://graph.microsoft.com/.default"}},
		Want: TokenWant{Status: 400, Error: "unsupported_grant_type", AADSTS: 70003},
	},
}

// Path is the request path on the authority host, e.g. "/{tenantID}/oauth2/v2.0/token".
func (c TokenCase) Path(e *emulator.Emulator) string {
	t := strings.NewReplacer("{tenant}", e.TenantID(), "{domain}", e.Domain()).Replace(c.Tenant)
	return "/" + url.PathEscape(t) + "/oauth2/v2.0/token"
}

// Body is the form the case sends.
func (c TokenCase) Body() string {
	if c.Form == nil {
		return clientCredentials("operator", "s3cret").Encode()
	}
	return c.Form.Encode()
}

// Check compares the token endpoint's answer with the case's. A token must be a JWT of the
// tenant for Graph; an error must carry Entra's OAuth error shape.
func (c TokenCase) Check(e *emulator.Emulator, status int, body []byte) []string {
	var probs []string
	if status != c.Want.Status {
		probs = append(probs, fmt.Sprintf("status %d, want %d", status, c.Want.Status))
	}
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		return append(probs, fmt.Sprintf("body %s: %v", body, err))
	}
	if c.Want.Error == "" {
		tok, _ := m["access_token"].(string)
		claims, err := emulator.ParseTokenClaims(tok)
		if err != nil {
			return append(probs, fmt.Sprintf("access_token %q: %v", tok, err))
		}
		if m["token_type"] != "Bearer" || m["expires_in"] == nil {
			probs = append(probs, fmt.Sprintf("token_type %v, expires_in %v", m["token_type"], m["expires_in"]))
		}
		if claims["tid"] != e.TenantID() || claims["aud"] != emulator.DefaultAudience {
			probs = append(probs, fmt.Sprintf("tid %v, aud %v, want %s and %s", claims["tid"], claims["aud"], e.TenantID(), emulator.DefaultAudience))
		}
		return probs
	}
	if m["error"] != c.Want.Error {
		probs = append(probs, fmt.Sprintf("error %v, want %s", m["error"], c.Want.Error))
	}
	number := strconv.Itoa(c.Want.AADSTS)
	if desc, _ := m["error_description"].(string); !strings.HasPrefix(desc, "AADSTS"+number+":") {
		probs = append(probs, fmt.Sprintf("error_description %q does not start with AADSTS%s", desc, number))
	}
	// JSON numbers decode as float64; AADSTS numbers are well inside its exact range.
	if codes, _ := m["error_codes"].([]any); !slices.Contains(codes, any(float64(c.Want.AADSTS))) {
		probs = append(probs, fmt.Sprintf("error_codes %v lack %s", m["error_codes"], number))
	}
	for _, k := range []string{"timestamp", "trace_id", "correlation_id"} {
		if s, _ := m[k].(string); s == "" {
			probs = append(probs, "no "+k)
		}
	}
	return probs
}
