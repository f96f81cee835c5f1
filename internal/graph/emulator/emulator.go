// Package emulator is an in-memory Microsoft Graph (v1.0) emulator for tests, benchmarks and
// the local demo. It speaks Graph's wire format on loopback so the operator runs the real
// msgraph-sdk-go client and the real HTTP pipeline against it, the way Azurite or LocalStack
// stand in for their clouds. It also serves the two Entra ID endpoints azidentity needs (OpenID
// configuration and client-credentials token) over TLS, because azidentity refuses plain http.
//
// The emulator is faithful to the behaviour documented in docs/graph.md (shapes, error codes,
// eventual consistency), controllable (accept an invitation, inject faults, delay visibility)
// and observable (request log and counters). It holds no global state: every Emulator is
// independent, so parallel tests can each run their own.
package emulator

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// DefaultTenantID is the tenant used when Options.TenantID is empty. A fixed value keeps
// demo output and test expectations stable.
const DefaultTenantID = "00000000-0000-0000-0000-0000000000aa"

// TenantDomain is the default tenant's initial domain (Options.TenantDomain when that is
// empty); guest UPNs end in "#EXT#@" + the emulator's initial domain.
const TenantDomain = "emulator.onmicrosoft.com"

// DefaultDisplayName is the organization's display name when Options.DisplayName is empty.
const DefaultDisplayName = "Emulated Tenant"

// DefaultAudience is the resource Graph's access tokens are issued for; it is what Graph
// checks a token's aud claim against.
const DefaultAudience = "https://graph.microsoft.com"

// defaultDeltaPageSize matches Graph's usual page size for users delta.
const defaultDeltaPageSize = 100

// Options configure an Emulator. The zero value is usable.
type Options struct {
	// TenantID is reported by TenantID(), put in the tid claim of every token and used in
	// the authority paths; the token server accepts it, the tenant's domains, "organizations"
	// and "common" as the tenant path segment and refuses any other (AADSTS90002).
	TenantID string
	// TenantDomain is the tenant's initial domain (the *.onmicrosoft.com one); default
	// TenantDomain. Guest UPNs end in "#EXT#@" + it.
	TenantDomain string
	// VerifiedDomains are the tenant's verified domains besides the initial one, as
	// GET /organization lists them.
	VerifiedDomains []string
	// DefaultDomain is the verified domain marked isDefault (the one seeded members' UPNs
	// get); default the initial domain. A domain not otherwise listed is added to
	// VerifiedDomains.
	DefaultDomain string
	// DisplayName is the organization's display name; default DefaultDisplayName.
	DisplayName string
	// Audience is the aud claim of the tokens the emulator issues and the one Graph accepts;
	// default DefaultAudience. A token for another audience is refused as one of another
	// tenant is.
	Audience string
	// RequireAuth makes Graph endpoints answer 401 InvalidAuthenticationToken unless the
	// request carries "Authorization: Bearer <token issued by this emulator>".
	RequireAuth bool
	// Addr is the Graph listen address; default "127.0.0.1:0".
	Addr string
	// GraphTLS serves Graph over HTTPS with the same self-signed certificate as the token
	// server (CACertPEM, TLSClient), valid for localhost, 127.0.0.1 and ::1, so the client's
	// TLS set-up is exercised as against graph.microsoft.com. URL then starts with https.
	GraphTLS bool
	// AuthAddr is the TLS token server's listen address; default "127.0.0.1:0".
	AuthAddr string
	// VisibilityDelay emulates Entra's replication lag: users created by an invitation are
	// invisible to reads, $filter lookups and reference writes for this long.
	VisibilityDelay time.Duration
	// Latency is added to every Graph request (0 = none), to make timing-sensitive code
	// paths (timeouts, concurrency) observable.
	Latency time.Duration
	// LatencyJitter adds a uniformly random [0, LatencyJitter) on top of Latency to each
	// request, e.g. Latency 50ms + LatencyJitter 100ms for Graph's usual 50-150 ms.
	LatencyJitter time.Duration
	// GrantedPermissions are the application permissions the calling app holds, e.g.
	// "User.Invite.All"; a request whose route needs one it lacks is answered 403. Nil or
	// empty allows everything. SetGrantedPermissions changes it at run time.
	GrantedPermissions []string
	// Quotas, when set, enforces Graph's published throttling limits (see Quotas and
	// DefaultQuotas); nil means no throttling beyond injected faults.
	Quotas *Quotas
	// DeltaPageSize is the maximum number of entries per users/delta page; default 100.
	DeltaPageSize int
	// CACertFile, when set, is where Run writes the TLS certificate (PEM) so out-of-process
	// clients can trust the token server, and Graph with GraphTLS.
	CACertFile string
	// Now is the emulator's clock; default time.Now. Tests set it to step through the
	// visibility delay without sleeping. Latency always uses real time.
	Now func() time.Time
	// Logf, when set, receives one line per Graph request and lifecycle messages.
	Logf func(format string, args ...any)
	// ExternalTenants are other organizations' tenants the emulator knows: what
	// findTenantInformationByDomainName finds, and whose domains automatic redemption applies
	// to (see partners.go). AddExternalTenant adds one at run time.
	ExternalTenants []ExternalTenant
	// NoPremiumLicense makes the tenant one without a Microsoft Entra ID P1 or P2 licence:
	// reading users' signInActivity is then answered 403 (see signins.go).
	// SetPremiumLicense changes it at run time.
	NoPremiumLicense bool
}

// Emulator is an in-memory Graph tenant with an HTTP front end. Create it with New.
type Emulator struct {
	opts     Options
	tenantID string
	now      func() time.Time

	// Lock-free knobs and counters, read on every Graph request.
	latency   atomic.Int64 // time.Duration
	jitter    atomic.Int64 // time.Duration
	quotas    atomic.Pointer[quotaState]
	throttled atomic.Int64 // 429s from quotas and faults
	onInvite  atomic.Pointer[func(email, userID string)]
	granted   atomic.Pointer[grantSet] // nil = all
	foreign   atomic.Int64             // tokens refused as another tenant's or resource's
	noPremium atomic.Bool              // no Entra ID P1/P2 licence: no signInActivity

	// signingKey signs the emulator's access tokens (HS256). It is random per Emulator, so a
	// token of one emulator never verifies at another, even with the same tenant ID.
	signingKey []byte
	created    time.Time // the organization's createdDateTime

	// mu guards the directory state and the knobs below it.
	mu              sync.Mutex
	visibilityDelay time.Duration
	dir             directory
	faults          []*faultRec
	tokens          map[string]tokenRec   // access token -> expiry and app
	apps            map[string]*appReg    // registered apps by lower-cased client id
	disabledApps    map[string]bool       // lower-cased client ids of disabled apps
	cta             partnerState          // known external tenants and partner configurations
	signIns         map[string]*signInRec // users' sign-in activity by user id (signins.go)

	// logMu guards the request log separately so logging never waits on a slow handler.
	logMu sync.Mutex
	log   []Request

	handler http.Handler

	// Listener state, set by Start.
	started  bool
	graphSrv *http.Server
	authSrv  *http.Server
	graphURL string
	authURL  string
	tls      *tlsMaterial
}

// New returns an emulator configured by opts. It does not listen until Start; Handler can be
// used without Start (for httptest servers).
func New(opts Options) *Emulator {
	if opts.TenantID == "" {
		opts.TenantID = DefaultTenantID
	}
	if opts.TenantDomain == "" {
		opts.TenantDomain = TenantDomain
	}
	if opts.DefaultDomain == "" {
		opts.DefaultDomain = opts.TenantDomain
	}
	if opts.DisplayName == "" {
		opts.DisplayName = DefaultDisplayName
	}
	if opts.Audience == "" {
		opts.Audience = DefaultAudience
	}
	opts.VerifiedDomains = verifiedDomains(opts.TenantDomain, append(slices.Clone(opts.VerifiedDomains), opts.DefaultDomain))
	if opts.Addr == "" {
		opts.Addr = "127.0.0.1:0"
	}
	if opts.AuthAddr == "" {
		opts.AuthAddr = "127.0.0.1:0"
	}
	if opts.DeltaPageSize <= 0 {
		opts.DeltaPageSize = defaultDeltaPageSize
	}
	now := opts.Now
	if now == nil {
		now = time.Now
	}
	e := &Emulator{
		opts:            opts,
		tenantID:        opts.TenantID,
		now:             now,
		visibilityDelay: opts.VisibilityDelay,
		dir:             newDirectory(),
		tokens:          map[string]tokenRec{},
		apps:            map[string]*appReg{},
		disabledApps:    map[string]bool{},
		cta:             newPartnerState(opts.ExternalTenants),
		signingKey:      make([]byte, 32),
		created:         now().UTC().Truncate(time.Second),
	}
	mustRand(e.signingKey)
	e.latency.Store(int64(opts.Latency))
	e.jitter.Store(int64(opts.LatencyJitter))
	e.SetQuotas(opts.Quotas)
	e.SetGrantedPermissions(opts.GrantedPermissions...)
	e.noPremium.Store(opts.NoPremiumLicense)
	e.handler = e.buildHandler()
	return e
}

// Start opens the Graph listener and the TLS token server. It is an error to start twice.
func (e *Emulator) Start() error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.started {
		return errors.New("emulator: already started")
	}
	tm, err := newTLSMaterial()
	if err != nil {
		return fmt.Errorf("emulator: generating TLS certificate: %w", err)
	}
	gl, err := net.Listen("tcp", e.opts.Addr)
	if err != nil {
		return fmt.Errorf("emulator: listening for Graph on %s: %w", e.opts.Addr, err)
	}
	al, err := net.Listen("tcp", e.opts.AuthAddr)
	if err != nil {
		_ = gl.Close()
		return fmt.Errorf("emulator: listening for auth on %s: %w", e.opts.AuthAddr, err)
	}
	e.tls = tm
	e.graphURL = "http://" + gl.Addr().String()
	if e.opts.GraphTLS {
		e.graphURL = "https://" + gl.Addr().String()
		gl = tlsListener(gl, tm)
	}
	e.authURL = "https://" + al.Addr().String() + "/"
	e.graphSrv = &http.Server{Handler: e.handler, ReadHeaderTimeout: 10 * time.Second}
	e.authSrv = &http.Server{Handler: e.authHandler(), ReadHeaderTimeout: 10 * time.Second}
	go e.serve(e.graphSrv, gl, "graph")
	go e.serve(e.authSrv, tlsListener(al, tm), "auth")
	e.started = true
	e.logf("emulator: graph at %s/v1.0, authority at %s, tenant %s", e.graphURL, e.authURL, e.tenantID)
	return nil
}

func (e *Emulator) serve(s *http.Server, l net.Listener, name string) {
	if err := s.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
		e.logf("emulator: %s server stopped: %v", name, err)
	}
}

// Close stops both listeners. In-flight requests are cut off; the emulator is test equipment.
func (e *Emulator) Close() {
	e.mu.Lock()
	g, a := e.graphSrv, e.authSrv
	e.graphSrv, e.authSrv = nil, nil
	e.mu.Unlock()
	if g != nil {
		_ = g.Close()
	}
	if a != nil {
		_ = a.Close()
	}
}

// URL is the Graph listener's base, e.g. "http://127.0.0.1:43123" (https with
// Options.GraphTLS); Graph lives under
// URL()+"/v1.0" and the control API under URL()+"/_emulator/". Empty before Start.
func (e *Emulator) URL() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.graphURL
}

// AuthorityURL is the azidentity authority host, e.g. "https://127.0.0.1:43124/". Empty
// before Start.
func (e *Emulator) AuthorityURL() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.authURL
}

// TenantID is the emulated tenant's ID.
func (e *Emulator) TenantID() string { return e.tenantID }

// Domain is the tenant's initial domain, e.g. "emulator.onmicrosoft.com".
func (e *Emulator) Domain() string { return e.opts.TenantDomain }

// Domains are the tenant's verified domains, the initial one first.
func (e *Emulator) Domains() []string {
	return append([]string{e.opts.TenantDomain}, e.opts.VerifiedDomains...)
}

// verifiedDomains drops empty entries, duplicates and the initial domain from extra, so the
// organization lists each domain once.
func verifiedDomains(initial string, extra []string) []string {
	seen := map[string]bool{strings.ToLower(initial): true}
	var out []string
	for _, d := range extra {
		d = strings.TrimSpace(d)
		if d == "" || seen[strings.ToLower(d)] {
			continue
		}
		seen[strings.ToLower(d)] = true
		out = append(out, d)
	}
	return out
}

// TLSClient returns an HTTP client that trusts the emulator's certificate: azidentity's
// transport for the token server, and the Graph client's with Options.GraphTLS. Before Start
// it returns a client trusting nothing extra.
func (e *Emulator) TLSClient() *http.Client {
	e.mu.Lock()
	tm := e.tls
	e.mu.Unlock()
	if tm == nil {
		return &http.Client{Timeout: 30 * time.Second}
	}
	return tm.client()
}

// CACertPEM is the self-signed certificate of the token server (and of Graph with
// Options.GraphTLS) in PEM form, nil before Start.
func (e *Emulator) CACertPEM() []byte {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.tls == nil {
		return nil
	}
	return append([]byte(nil), e.tls.certPEM...)
}

// Handler serves Graph under /v1.0 and the control API under /_emulator/, for tests that
// prefer httptest.NewServer over Start. Tokens for RequireAuth then come from IssueToken.
func (e *Emulator) Handler() http.Handler { return e.handler }

// SetVisibilityDelay changes the replication lag applied to users created from now on.
func (e *Emulator) SetVisibilityDelay(d time.Duration) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.visibilityDelay = d
}

// SetInvitationHook sets a func called after an invitation has changed the directory and
// before Graph's answer is written, or removes it (nil). Tests use it to kill the operator at
// the one moment that matters for "invite once": Graph has acted, the caller has not heard.
func (e *Emulator) SetInvitationHook(hook func(email, userID string)) {
	if hook == nil {
		e.onInvite.Store(nil)
		return
	}
	e.onInvite.Store(&hook)
}

// SetLatency changes the latency added to every subsequent Graph request.
func (e *Emulator) SetLatency(d time.Duration) { e.latency.Store(int64(d)) }

// SetLatencyJitter changes the random extra latency, uniform in [0, d), of every subsequent
// Graph request.
func (e *Emulator) SetLatencyJitter(d time.Duration) { e.jitter.Store(int64(d)) }

// requestLatency is how long the next request waits: Latency + uniform[0, LatencyJitter).
func (e *Emulator) requestLatency() time.Duration {
	d := time.Duration(e.latency.Load())
	if j := e.jitter.Load(); j > 0 {
		d += time.Duration(rand.Int64N(j))
	}
	return d
}

func (e *Emulator) logf(format string, args ...any) {
	if e.opts.Logf != nil {
		e.opts.Logf(format, args...)
	}
}

// buildHandler routes the three families of paths. Graph requests go through the logging,
// latency, auth and fault pipeline; control requests do not, so a test's own setup never
// shows up in its request counts.
func (e *Emulator) buildHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/v1.0" || strings.HasPrefix(r.URL.Path, "/v1.0/"):
			e.serveGraph(w, r)
		case strings.HasPrefix(r.URL.Path, "/_emulator/"):
			e.serveControl(w, r)
		default:
			writeError(w, r, http.StatusNotFound, codeNotFound,
				fmt.Sprintf("Resource not found for the segment '%s'.", firstSegment(r.URL.Path)))
		}
	})
}

func firstSegment(p string) string {
	p = strings.TrimPrefix(p, "/")
	if i := strings.IndexByte(p, '/'); i >= 0 {
		return p[:i]
	}
	return p
}
