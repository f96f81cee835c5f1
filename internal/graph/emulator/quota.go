package emulator

import (
	"fmt"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Quotas are Graph's published throttling limits (graph.md, "Throttling"), enforced when set
// in Options.Quotas or with SetQuotas. A zero field takes its default; a negative count turns
// that one quota off.
//
// Every quota is a sliding window kept as an exact log of admitted requests: a request is
// admitted only if, counting it, no half-open interval [t, t+window) holds more than the
// limit. So the emulator never admits more than N in any window, however the requests are
// spread, the way a client pacing itself below the published figure must expect.
type Quotas struct {
	// Invitation manager: all POST /invitations of the tenant, all apps together.
	InvitationsPerWindow int           // default 150
	InvitationWindow     time.Duration // default 5s
	// Identity and access, per app (the token's client_id; "" when auth is off) and tenant:
	ResourceUnitsPerWindow int           // default 3500 (small tenant); medium 5000, large 8000
	ResourceUnitWindow     time.Duration // default 10s
	WritesPerWindow        int           // default 3000 per app and tenant
	WriteWindow            time.Duration // default 150s
	TenantWritesPerWindow  int           // default 18000, all apps together
	TenantWriteWindow      time.Duration // default 5m
}

// Resource-unit quotas per 10 s for Graph's identity-and-access tenant sizes.
const (
	smallTenantRU  = 3500
	mediumTenantRU = 5000
	largeTenantRU  = 8000
)

// DefaultQuotas returns Graph's figures for a small tenant (under 50 users).
func DefaultQuotas() *Quotas {
	return &Quotas{
		InvitationsPerWindow:   150,
		InvitationWindow:       5 * time.Second,
		ResourceUnitsPerWindow: smallTenantRU,
		ResourceUnitWindow:     10 * time.Second,
		WritesPerWindow:        3000,
		WriteWindow:            150 * time.Second,
		TenantWritesPerWindow:  18000,
		TenantWriteWindow:      5 * time.Minute,
	}
}

// quotasForSize maps the control API's tenant sizes to quotas; "off" is nil.
func quotasForSize(size string) (*Quotas, bool) {
	q := DefaultQuotas()
	switch strings.ToLower(strings.TrimSpace(size)) {
	case "small":
	case "medium":
		q.ResourceUnitsPerWindow = mediumTenantRU
	case "large":
		q.ResourceUnitsPerWindow = largeTenantRU
	case "off", "none":
		return nil, true
	default:
		return nil, false
	}
	return q, true
}

// withDefaults fills zero fields from DefaultQuotas.
func (q Quotas) withDefaults() Quotas {
	d := DefaultQuotas()
	fill := func(n *int, dn int, w *time.Duration, dw time.Duration) {
		if *n == 0 {
			*n = dn
		}
		if *w <= 0 {
			*w = dw
		}
	}
	fill(&q.InvitationsPerWindow, d.InvitationsPerWindow, &q.InvitationWindow, d.InvitationWindow)
	fill(&q.ResourceUnitsPerWindow, d.ResourceUnitsPerWindow, &q.ResourceUnitWindow, d.ResourceUnitWindow)
	fill(&q.WritesPerWindow, d.WritesPerWindow, &q.WriteWindow, d.WriteWindow)
	fill(&q.TenantWritesPerWindow, d.TenantWritesPerWindow, &q.TenantWriteWindow, d.TenantWriteWindow)
	return q
}

// SetQuotas turns quota enforcement on with q (zero fields take defaults) or off with nil.
// Usage starts from empty windows either way.
func (e *Emulator) SetQuotas(q *Quotas) {
	if q == nil {
		e.quotas.Store(nil)
		return
	}
	e.quotas.Store(newQuotaState(q.withDefaults()))
}

// ThrottledCount is how many Graph requests were answered 429, by a quota or an injected
// fault, since the emulator was created.
func (e *Emulator) ThrottledCount() int { return int(e.throttled.Load()) }

// slidingLog is one quota's window: the admitted requests still inside it, oldest first.
type slidingLog struct {
	limit  int
	window time.Duration
	times  []time.Time
	costs  []int
	head   int // entries before head have left the window
	used   int // sum of costs[head:]
	peak   int // the most used has ever been: the fullest window so far
}

func newSlidingLog(limit int, window time.Duration) *slidingLog {
	return &slidingLog{limit: limit, window: window}
}

// expire drops the entries whose window has passed at now.
func (l *slidingLog) expire(now time.Time) {
	cutoff := now.Add(-l.window)
	for l.head < len(l.times) && !l.times[l.head].After(cutoff) {
		l.used -= l.costs[l.head]
		l.head++
	}
	// Compact once the dead prefix dominates, so memory stays proportional to the limit.
	if l.head > 64 && l.head*2 >= len(l.times) {
		n := copy(l.times, l.times[l.head:])
		copy(l.costs, l.costs[l.head:])
		l.times, l.costs = l.times[:n], l.costs[:n]
		l.head = 0
	}
}

// fits reports whether cost more fits now (after expire). A request costing more than the
// whole limit fits an empty window, or it could never be admitted.
func (l *slidingLog) fits(cost int) bool { return l.used == 0 || l.used+cost <= l.limit }

// wait is how long until cost fits, assuming nothing else is admitted meanwhile.
func (l *slidingLog) wait(now time.Time, cost int) time.Duration {
	need := l.used + cost - l.limit
	freed := 0
	for i := l.head; i < len(l.times); i++ {
		freed += l.costs[i]
		if freed >= need || i == len(l.times)-1 {
			return l.times[i].Add(l.window).Sub(now)
		}
	}
	return 0
}

func (l *slidingLog) add(now time.Time, cost int) {
	l.times = append(l.times, now)
	l.costs = append(l.costs, cost)
	l.used += cost
	l.peak = max(l.peak, l.used)
}

// hundredths is the usage in hundredths of the limit, rounded up, so any usage above 80 %
// reads as more than 0.80.
func (l *slidingLog) hundredths() int { return (l.used*100 + l.limit - 1) / l.limit }

// quotaKind names each quota, for messages, the throttle scope and the stats.
type quotaKind int

const (
	quotaInvitations quotaKind = iota
	quotaResourceUnits
	quotaWrites
	quotaTenantWrites
)

func (k quotaKind) describe() string {
	switch k {
	case quotaInvitations:
		return "the invitation manager"
	case quotaResourceUnits:
		return "the application's resource unit quota"
	case quotaWrites:
		return "the application's write quota"
	default:
		return "the tenant's write quota"
	}
}

// scope is Graph's x-ms-throttle-scope, <Scope>/<Limit>/<ApplicationId>/<TenantId>.
func (k quotaKind) scope(app, tenant string) string {
	switch k {
	case quotaResourceUnits:
		return "Tenant_Application/ReadWrite/" + app + "/" + tenant
	case quotaWrites:
		return "Tenant_Application/Write/" + app + "/" + tenant
	case quotaTenantWrites:
		return "Tenant/Write/" + app + "/" + tenant
	default:
		return "" // the invitation manager's scope is not documented
	}
}

// quotaState is the live enforcement of one Quotas value. One mutex covers all its logs so a
// request is admitted against every quota it touches at once, or against none.
type quotaState struct {
	cfg Quotas

	mu           sync.Mutex
	invitations  *slidingLog
	tenantWrites *slidingLog
	units        map[string]*slidingLog // per app
	writes       map[string]*slidingLog // per app
	throttled    [4]int64               // 429s by quota
}

func newQuotaState(cfg Quotas) *quotaState {
	return &quotaState{
		cfg:          cfg,
		invitations:  newSlidingLog(cfg.InvitationsPerWindow, cfg.InvitationWindow),
		tenantWrites: newSlidingLog(cfg.TenantWritesPerWindow, cfg.TenantWriteWindow),
		units:        map[string]*slidingLog{},
		writes:       map[string]*slidingLog{},
	}
}

// requestCost is what one request costs against the quotas.
type requestCost struct {
	units  int  // resource units
	write  bool // counts against both write quotas
	invite bool // counts against the invitation manager
}

// costOf prices a request as graph.md says: a GET of one item 1 RU, a list, $filter or delta
// 2 RU, $select one less (minimum 1); any other method 1 RU and one write, except POST
// /invitations, which only the invitation manager's quota counts.
func costOf(method, path string, r *http.Request) requestCost {
	segs := strings.Split(strings.Trim(path, "/"), "/")
	switch method {
	case http.MethodGet, http.MethodHead:
		units := 1
		if isCollectionRead(segs) || r.URL.Query().Has("$filter") {
			units = 2
		}
		if r.URL.Query().Has("$select") {
			units = max(units-1, 1)
		}
		return requestCost{units: units}
	default:
		if method == http.MethodPost && len(segs) == 1 && strings.EqualFold(segs[0], "invitations") {
			// The invitation manager is its own service with its own limit (150 per 5 s per
			// tenant); identity-and-access units and writes do not apply to it. Otherwise
			// 10,000 invitations would be bound by 20 writes/s, not the documented 30/s.
			return requestCost{invite: true}
		}
		return requestCost{units: 1, write: true}
	}
}

// isCollectionRead tells a list (or a delta function) from a single item by the path's shape:
// collection/{id}/navigation/{id}..., where an alternate key such as
// servicePrincipals(appId='...') is a collection and an id in one segment.
func isCollectionRead(segs []string) bool {
	if len(segs) == 0 || segs[0] == "" {
		return false
	}
	if strings.EqualFold(segs[0], "directory") && len(segs) > 1 {
		segs = segs[1:] // directory/deletedItems is a collection like any other
	}
	if len(segs) > 1 && strings.HasPrefix(strings.ToLower(segs[len(segs)-1]), "microsoft.graph.") {
		segs = segs[:len(segs)-1] // a type cast narrows what it follows, a collection or an item
	}
	last := strings.ToLower(segs[len(segs)-1])
	if last == "delta" || last == "delta()" {
		return true
	}
	n := len(segs)
	if strings.Contains(segs[0], "(") {
		n++ // collection(key) stands for collection/{id}
	}
	return n%2 == 1
}

// quotaVerdict is the outcome of admit.
type quotaVerdict struct {
	ok         bool
	kind       quotaKind     // the binding quota when !ok
	retryAfter time.Duration // when !ok
	limit      int           // the binding quota's figures, for the message
	window     time.Duration
	hundredths int // highest usage after admission in hundredths of a limit, rounded up, when ok
}

// admit charges c against every quota it touches, or against none when one is exhausted.
func (q *quotaState) admit(now time.Time, app string, c requestCost) quotaVerdict {
	q.mu.Lock()
	defer q.mu.Unlock()
	type charge struct {
		kind quotaKind
		log  *slidingLog
		cost int
	}
	var charges [4]charge
	n := 0
	if c.invite && q.cfg.InvitationsPerWindow > 0 {
		charges[n] = charge{quotaInvitations, q.invitations, 1}
		n++
	}
	if c.units > 0 && q.cfg.ResourceUnitsPerWindow > 0 {
		charges[n] = charge{quotaResourceUnits, perApp(q.units, app, q.cfg.ResourceUnitsPerWindow, q.cfg.ResourceUnitWindow), c.units}
		n++
	}
	if c.write && q.cfg.WritesPerWindow > 0 {
		charges[n] = charge{quotaWrites, perApp(q.writes, app, q.cfg.WritesPerWindow, q.cfg.WriteWindow), 1}
		n++
	}
	if c.write && q.cfg.TenantWritesPerWindow > 0 {
		charges[n] = charge{quotaTenantWrites, q.tenantWrites, 1}
		n++
	}
	v := quotaVerdict{ok: true}
	for _, ch := range charges[:n] {
		ch.log.expire(now)
		if ch.log.fits(ch.cost) {
			continue
		}
		if w := ch.log.wait(now, ch.cost); v.ok || w > v.retryAfter {
			v = quotaVerdict{kind: ch.kind, retryAfter: w, limit: ch.log.limit, window: ch.log.window}
		}
	}
	if !v.ok {
		q.throttled[v.kind]++
		return v
	}
	for _, ch := range charges[:n] {
		ch.log.add(now, ch.cost)
		v.hundredths = max(v.hundredths, ch.log.hundredths())
	}
	return v
}

func perApp(m map[string]*slidingLog, app string, limit int, window time.Duration) *slidingLog {
	l := m[app]
	if l == nil {
		l = newSlidingLog(limit, window)
		m[app] = l
	}
	return l
}

// stats reports each quota's usage at now, for /_emulator/stats.
func (q *quotaState) stats(now time.Time) map[string]any {
	q.mu.Lock()
	defer q.mu.Unlock()
	usage := func(l *slidingLog, enabled bool) map[string]any {
		if !enabled {
			return map[string]any{"enabled": false}
		}
		l.expire(now)
		return map[string]any{"used": l.used, "peak": l.peak, "limit": l.limit, "window": l.window.String()}
	}
	perAppUsage := func(m map[string]*slidingLog, limit int, window time.Duration) map[string]any {
		out := map[string]any{}
		apps := make([]string, 0, len(m))
		for app := range m {
			apps = append(apps, app)
		}
		sort.Strings(apps)
		for _, app := range apps {
			out[app] = usage(m[app], limit > 0)
		}
		return map[string]any{"limit": limit, "window": window.String(), "apps": out}
	}
	return map[string]any{
		"enabled":           true,
		"invitationManager": usage(q.invitations, q.cfg.InvitationsPerWindow > 0),
		"resourceUnits":     perAppUsage(q.units, q.cfg.ResourceUnitsPerWindow, q.cfg.ResourceUnitWindow),
		"writes":            perAppUsage(q.writes, q.cfg.WritesPerWindow, q.cfg.WriteWindow),
		"tenantWrites":      usage(q.tenantWrites, q.cfg.TenantWritesPerWindow > 0),
		"throttled": map[string]int64{
			"invitationManager": q.throttled[quotaInvitations],
			"resourceUnits":     q.throttled[quotaResourceUnits],
			"writes":            q.throttled[quotaWrites],
			"tenantWrites":      q.throttled[quotaTenantWrites],
		},
	}
}

// QuotaPeak is the fullest any window of one quota has been: how close a client came to it.
type QuotaPeak struct {
	Used, Limit int
	Window      time.Duration
}

// QuotaPeaks reports, for each quota in force, the most it held in any window since quotas
// were set, keyed "invitationManager", "resourceUnits", "writes" and "tenantWrites" (the
// per-app quotas report their busiest app).
func (e *Emulator) QuotaPeaks() map[string]QuotaPeak {
	q := e.quotas.Load()
	if q == nil {
		return nil
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	out := map[string]QuotaPeak{}
	put := func(key string, l *slidingLog) {
		if p, ok := out[key]; !ok || l.peak > p.Used {
			out[key] = QuotaPeak{Used: l.peak, Limit: l.limit, Window: l.window}
		}
	}
	if q.cfg.InvitationsPerWindow > 0 {
		put("invitationManager", q.invitations)
	}
	if q.cfg.TenantWritesPerWindow > 0 {
		put("tenantWrites", q.tenantWrites)
	}
	for _, l := range q.units {
		put("resourceUnits", l)
	}
	for _, l := range q.writes {
		put("writes", l)
	}
	return out
}

// quotaStats is the "quotas" entry of /_emulator/stats.
func (e *Emulator) quotaStats() map[string]any {
	q := e.quotas.Load()
	if q == nil {
		return map[string]any{"enabled": false}
	}
	return q.stats(e.now())
}

// enforceQuotas admits the request or answers 429 itself (returning false). Admitted
// requests get x-ms-resource-unit, and x-ms-throttle-limit-percentage past 80 % of a quota.
func (e *Emulator) enforceQuotas(w http.ResponseWriter, r *http.Request, path, app string) bool {
	q := e.quotas.Load()
	if q == nil {
		return true
	}
	c := costOf(r.Method, path, r)
	v := q.admit(e.now(), app, c)
	if !v.ok {
		e.throttled.Add(1)
		secs := max(int((v.retryAfter+time.Second-1)/time.Second), 1)
		w.Header().Set("Retry-After", strconv.Itoa(secs))
		if s := v.kind.scope(app, e.tenantID); s != "" {
			w.Header().Set("x-ms-throttle-scope", s)
		}
		writeError(w, r, http.StatusTooManyRequests, codeTooManyRequests, fmt.Sprintf(
			"Too many requests for %s: at most %d per %s. Retry after %d seconds.",
			v.kind.describe(), v.limit, v.window, secs))
		return false
	}
	if c.units > 0 { // identity-and-access requests only, not the invitation manager's
		w.Header().Set("x-ms-resource-unit", strconv.Itoa(c.units))
	}
	if v.hundredths > throttleWarnHundredths {
		w.Header().Set("x-ms-throttle-limit-percentage", formatLimitFraction(v.hundredths))
	}
	return true
}

// throttleWarnHundredths is where Graph starts sending x-ms-throttle-limit-percentage: usage
// above 0.8 of a limit.
const throttleWarnHundredths = 80

// formatLimitFraction renders usage the way Graph documents x-ms-throttle-limit-percentage:
// the used fraction of the limit, 0.8 to 1.8 (despite the name, not a percentage), here with
// two decimals, e.g. "0.85". Throttled requests do not count as usage in the emulator, so it
// never exceeds "1.00".
func formatLimitFraction(hundredths int) string {
	hundredths = min(hundredths, 180)
	return fmt.Sprintf("%d.%02d", hundredths/100, hundredths%100)
}
