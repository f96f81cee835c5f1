package emulator

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// tokenLifetime matches what Entra reports for app-only tokens (expires_in 3599).
const tokenLifetime = 3599 * time.Second

// tlsMaterial is the token server's self-signed certificate. azidentity only talks to an
// https authority, so the emulator must present one its client trusts.
type tlsMaterial struct {
	cert    tls.Certificate
	certPEM []byte
	pool    *x509.CertPool
}

func newTLSMaterial() (*tlsMaterial, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	if err != nil {
		return nil, err
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "partner-operator graph emulator", Organization: []string{"partnerops"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(365 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true, // self-signed: it is its own trust anchor
		DNSNames:              []string{"localhost"},
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, err
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	pool.AddCert(leaf)
	return &tlsMaterial{
		cert:    tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf},
		certPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pool:    pool,
	}, nil
}

func tlsListener(l net.Listener, t *tlsMaterial) net.Listener {
	return tls.NewListener(l, &tls.Config{
		Certificates: []tls.Certificate{t.cert},
		MinVersion:   tls.VersionTLS12,
		NextProtos:   []string{"http/1.1"},
	})
}

func (t *tlsMaterial) client() *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.Proxy = nil // loopback only; never send the token exchange through a proxy
	tr.TLSClientConfig = &tls.Config{RootCAs: t.pool, MinVersion: tls.VersionTLS12}
	return &http.Client{Transport: tr, Timeout: 30 * time.Second}
}

// tokenRec is what the emulator remembers about an access token it issued.
type tokenRec struct {
	expiry   time.Time
	clientID string // the app the token was issued to; per-app quotas are keyed on it
}

// IssueToken mints an access token the Graph endpoints accept when RequireAuth is on, for
// tests that use Handler directly and have no token server. Its app (for quotas) is "".
func (e *Emulator) IssueToken() string { return e.IssueTokenFor("") }

// IssueTokenFor is IssueToken for the app clientID, whose per-app quotas the token's
// requests draw on. It does not check the app registrations: it is the test's back door.
// The token is a JWT (see tokenClaims) whose roles are the permissions granted now.
func (e *Emulator) IssueTokenFor(clientID string) string {
	now := e.now()
	tok := e.signToken(e.newClaims(clientID, now))
	e.mu.Lock()
	defer e.mu.Unlock()
	e.tokens[tok] = tokenRec{expiry: now.Add(tokenLifetime), clientID: clientID}
	return tok
}

// Graph's messages for the 401s the emulator answers.
const (
	msgEmptyToken      = "Access token is empty."
	msgInvalidAudience = "Access token validation failure. Invalid audience."
	msgExpiredToken    = "Lifetime validation failed, the token is expired."
)

// ForeignTokens is how many Graph requests carried a token of another tenant (its tid is not
// this emulator's) or of another resource (its aud is not Options.Audience), each refused
// 401. Tests of several tenants use it to prove a client sent the wrong tenant's token.
func (e *Emulator) ForeignTokens() int64 { return e.foreign.Load() }

// authorized checks the bearer token and returns the app it was issued to; the message is
// Graph's for the failure. A JWT naming another tenant or audience is refused before its
// signature is looked at, so that it is counted as foreign whoever signed it. count says
// whether the request is refused on failure (RequireAuth), and so whether a foreign token
// counts.
func (e *Emulator) authorized(r *http.Request, count bool) (clientID, msg string, ok bool) {
	h := r.Header.Get("Authorization")
	scheme, tok, _ := strings.Cut(h, " ")
	tok = strings.TrimSpace(tok)
	if h == "" || !strings.EqualFold(scheme, "Bearer") || tok == "" {
		return "", msgEmptyToken, false
	}
	var c tokenClaims
	if err := decodeJWT(tok, &c); err == nil {
		if !strings.EqualFold(c.Tid, e.tenantID) || c.Aud != e.opts.Audience {
			if count {
				e.foreign.Add(1)
			}
			return "", msgInvalidAudience, false
		}
	}
	if !e.validSignature(tok) {
		return "", msgInvalidAudience, false
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	rec, found := e.tokens[tok]
	if !found {
		return "", msgInvalidAudience, false
	}
	if !e.now().Before(rec.expiry) {
		return "", msgExpiredToken, false
	}
	if rec.clientID != "" && e.disabledApps[strings.ToLower(rec.clientID)] {
		// Continuous access evaluation: Graph stops honouring the tokens of a disabled app
		// before they expire. Graph does not document the wording of this 401.
		return "", fmt.Sprintf("Access token validation failure. The application '%s' is disabled.", rec.clientID), false
	}
	return rec.clientID, "", true
}

// authHandler serves the Entra ID endpoints MSAL (inside azidentity) calls for a
// client-credentials flow with instance discovery disabled.
func (e *Emulator) authHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		segs := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
		switch {
		case len(segs) == 3 && segs[1] == "discovery" && segs[2] == "instance":
			e.instanceDiscovery(w, r)
		case len(segs) >= 3 && strings.Join(segs[len(segs)-2:], "/") == ".well-known/openid-configuration":
			if e.knownTenant(w, segs[0]) {
				e.openIDConfiguration(w, r, segs[0])
			}
		case len(segs) == 4 && segs[1] == "oauth2" && segs[2] == "v2.0" && segs[3] == "token":
			if r.Method != http.MethodPost {
				aadError(w, http.StatusMethodNotAllowed, "invalid_request", "AADSTS900561: The endpoint only accepts POST requests.")
				return
			}
			if e.knownTenant(w, segs[0]) {
				e.token(w, r)
			}
		default:
			aadError(w, http.StatusNotFound, "invalid_request", "AADSTS90002: The requested endpoint was not found.")
		}
	})
}

// knownTenant answers Entra's 400 for a tenant path segment that names neither this tenant
// (its ID or one of its domains) nor one of the multi-tenant aliases, and reports whether the
// request may go on. Each emulator is one tenant: a client configured with another tenant's ID
// must fail here, as it would at login.microsoftonline.com, not get this tenant's tokens.
func (e *Emulator) knownTenant(w http.ResponseWriter, tenant string) bool {
	switch t := strings.ToLower(tenant); {
	case t == "organizations" || t == "common" || t == strings.ToLower(e.tenantID):
		return true
	default:
		for _, d := range e.Domains() {
			if t == strings.ToLower(d) {
				return true
			}
		}
	}
	aadError(w, http.StatusBadRequest, "invalid_request", "AADSTS90002: Tenant '"+tenant+"' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud. Check with your subscription administrator, this may happen if there are no active subscriptions for the tenant.")
	return false
}

func (e *Emulator) openIDConfiguration(w http.ResponseWriter, r *http.Request, tenant string) {
	base := "https://" + r.Host + "/" + tenant
	writeJSON(w, http.StatusOK, map[string]any{
		"token_endpoint":                        base + "/oauth2/v2.0/token",
		"authorization_endpoint":                base + "/oauth2/v2.0/authorize",
		"device_authorization_endpoint":         base + "/oauth2/v2.0/devicecode",
		"end_session_endpoint":                  base + "/oauth2/v2.0/logout",
		"jwks_uri":                              "https://" + r.Host + "/" + tenant + "/discovery/v2.0/keys",
		"issuer":                                base + "/v2.0",
		"token_endpoint_auth_methods_supported": []string{"client_secret_post", "private_key_jwt", "client_secret_basic"},
		"response_types_supported":              []string{"code", "id_token", "code id_token", "id_token token"},
		"response_modes_supported":              []string{"query", "fragment", "form_post"},
		"subject_types_supported":               []string{"pairwise"},
		"id_token_signing_alg_values_supported": []string{"RS256"},
		"scopes_supported":                      []string{"openid", "profile", "email", "offline_access"},
		"tenant_region_scope":                   "EU",
		"cloud_instance_name":                   "microsoftonline.com",
	})
}

func (e *Emulator) instanceDiscovery(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, map[string]any{
		"tenant_discovery_endpoint": "https://" + r.Host + "/" + e.tenantID + "/v2.0/.well-known/openid-configuration",
		"api-version":               "1.1",
		"metadata": []map[string]any{{
			"preferred_network": r.Host, "preferred_cache": r.Host, "aliases": []string{r.Host},
		}},
	})
}

// token implements the client-credentials grant. With no app registered, any client id with
// a secret or an assertion gets a fresh token; once apps are registered (RegisterApp), only
// they do, with their secret. Assertions are not verified: the emulator tests the operator,
// not Entra's policy.
func (e *Emulator) token(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		aadError(w, http.StatusBadRequest, "invalid_request", "AADSTS900144: The request body must contain a valid form.")
		return
	}
	f := r.PostForm
	clientID := f.Get("client_id")
	switch {
	case f.Get("grant_type") == "":
		aadError(w, http.StatusBadRequest, "invalid_request", "AADSTS900144: The request body must contain the following parameter: 'grant_type'.")
	case f.Get("grant_type") != "client_credentials":
		aadError(w, http.StatusBadRequest, "unsupported_grant_type", "AADSTS70003: The app requested an unsupported grant type '"+f.Get("grant_type")+"'.")
	case clientID == "":
		aadError(w, http.StatusBadRequest, "invalid_request", "AADSTS900144: The request body must contain the following parameter: 'client_id'.")
	case f.Get("client_secret") == "" && f.Get("client_assertion") == "":
		aadError(w, http.StatusUnauthorized, "invalid_client", fmt.Sprintf(msgInvalidSecret, clientID))
	case f.Get("scope") == "":
		aadError(w, http.StatusBadRequest, "invalid_scope", "AADSTS1002012: The provided value for scope is not valid.")
	default:
		if status, code, desc := e.checkApp(clientID, f.Get("client_secret"), f.Get("client_assertion") != ""); status != 0 {
			aadError(w, status, code, desc)
			return
		}
		writeJSON(w, http.StatusOK, map[string]any{
			"token_type":     "Bearer",
			"expires_in":     int(tokenLifetime / time.Second),
			"ext_expires_in": int(tokenLifetime / time.Second),
			"access_token":   e.IssueTokenFor(clientID),
		})
	}
}

// aadError writes Entra's OAuth error shape, which MSAL parses (not Graph's envelope).
// error_codes repeats the AADSTS number desc starts with, as Entra's answers do.
func aadError(w http.ResponseWriter, status int, code, desc string) {
	codes := []int{}
	if rest, ok := strings.CutPrefix(desc, "AADSTS"); ok {
		digits, _, _ := strings.Cut(rest, ":")
		if n, err := strconv.Atoi(digits); err == nil {
			codes = append(codes, n)
		}
	}
	writeJSON(w, status, map[string]any{
		"error":             code,
		"error_description": desc,
		"error_codes":       codes,
		"timestamp":         time.Now().UTC().Format("2006-01-02 15:04:05Z"),
		"trace_id":          newUUID(),
		"correlation_id":    newUUID(),
	})
}
