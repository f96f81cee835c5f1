package emulator

import (
	"encoding/base64"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// defaultPageSize is Graph's page size for users and directory-object collections without $top.
const defaultPageSize = 100

// maxPageSize is the largest $top Graph accepts on users and directory-object collections.
const maxPageSize = 999

// pageSize reads $top: def when absent, else 1 to maxPageSize. Out of range, it answers Graph's
// 400 itself and returns false.
func pageSize(w http.ResponseWriter, r *http.Request, def int) (int, bool) {
	raw := strings.TrimSpace(r.URL.Query().Get("$top"))
	if raw == "" {
		return def, true
	}
	n, err := strconv.Atoi(raw)
	if err != nil || n < 1 || n > maxPageSize {
		writeError(w, r, http.StatusBadRequest, codeRequestBadRequest,
			fmt.Sprintf("Invalid page size specified: '%s'. Must be between 1 and %d inclusive.", raw, maxPageSize))
		return 0, false
	}
	return n, true
}

// skipToken reads $skiptoken as a position (0 when absent). A token the emulator did not make
// is answered with a 400, and false.
func skipToken(w http.ResponseWriter, r *http.Request) (int, bool) {
	tok := r.URL.Query().Get("$skiptoken")
	if tok == "" {
		return 0, true
	}
	n, ok := parsePositionToken(tok)
	if !ok {
		writeError(w, r, http.StatusBadRequest, codeRequestBadRequest, "Invalid $skiptoken.")
	}
	return n, ok
}

// nextLink is the request's own URL, query included as Graph's links keep it, with a
// $skiptoken standing for pos.
func nextLink(r *http.Request, pos int) string {
	next := url.Values{}
	for k, v := range r.URL.Query() {
		next[k] = v
	}
	next.Set("$skiptoken", positionToken(pos))
	return baseURL(r) + r.URL.EscapedPath() + "?" + next.Encode()
}

// positionToken makes an opaque $skiptoken of a position in a listing: an offset, or for
// users the creation number of the last one listed.
func positionToken(pos int) string {
	return base64.RawURLEncoding.EncodeToString([]byte("offset:" + strconv.Itoa(pos)))
}

func parsePositionToken(tok string) (int, bool) {
	raw, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil {
		return 0, false
	}
	digits, ok := strings.CutPrefix(string(raw), "offset:")
	n, err := strconv.Atoi(digits)
	if !ok || err != nil || n < 0 {
		return 0, false
	}
	return n, true
}

// Messages Graph answers a $count without "ConsistencyLevel: eventual" with, as observed in
// microsoftgraph/microsoft-graph-docs-contrib#2716 and azurekid/ScEntra#17.
const (
	msgCountNeedsEventual    = "$count is not currently supported."
	msgRawCountNeedsEventual = "Raw count (/$count) is not supported because the 'ConsistencyLevel:eventual' header is missing. Refer to https://aka.ms/graph-docs/advanced-queries for more information"
)

// eventual reports whether the request opted into Graph's advanced queries with the
// "ConsistencyLevel: eventual" header, which $count on directory objects requires.
func eventual(r *http.Request) bool {
	return strings.EqualFold(strings.TrimSpace(r.Header.Get("ConsistencyLevel")), "eventual")
}

// countRequested reads $count=true|false. Without "ConsistencyLevel: eventual" a $count=true
// on directory objects is Graph's 400, answered here (and false returned).
func countRequested(w http.ResponseWriter, r *http.Request) (count, ok bool) {
	q := r.URL.Query()
	if !q.Has("$count") {
		return false, true
	}
	switch raw := q.Get("$count"); strings.ToLower(strings.TrimSpace(raw)) {
	case "false":
		return false, true
	case "true":
	default:
		writeError(w, r, http.StatusBadRequest, codeBadRequest,
			fmt.Sprintf("Invalid value '%s' for $count query option found. The $count query option requires a Boolean value.", raw))
		return false, false
	}
	if !eventual(r) {
		writeError(w, r, http.StatusBadRequest, codeRequestBadRequest, msgCountNeedsEventual)
		return false, false
	}
	return true, true
}

// listQuery is what a collection request asks for: $filter, $top, $skiptoken and $count.
type listQuery struct {
	filter filterNode
	top    int
	after  int // $skiptoken: the position of the last item already listed
	count  bool
}

// parseListQuery reads a collection request's query options; when one is invalid it answers
// Graph's 400 itself and returns false.
func parseListQuery(w http.ResponseWriter, r *http.Request, schema filterSchema) (listQuery, bool) {
	var q listQuery
	var ok bool
	if q.top, ok = pageSize(w, r, defaultPageSize); !ok {
		return q, false
	}
	if q.after, ok = skipToken(w, r); !ok {
		return q, false
	}
	if q.count, ok = countRequested(w, r); !ok {
		return q, false
	}
	if f := strings.TrimSpace(r.URL.Query().Get("$filter")); f != "" {
		var err error
		if q.filter, err = parseFilter(f, schema); err != nil {
			writeError(w, r, http.StatusBadRequest, codeUnsupportedQuery, "Unsupported Query. "+err.Error())
			return q, false
		}
		if msg := inLimit(r, q); msg != "" {
			writeError(w, r, http.StatusBadRequest, codeUnsupportedQuery, msg)
			return q, false
		}
	}
	return q, true
}

// Graph's limits on the `in` operator (known issues, "query parameters"): 15 values in the
// filter by default; with advanced query parameters, a URL of at most 2,048 characters.
const (
	maxInValues         = 15
	maxAdvancedQueryURL = 2048
	graphURLPrefix      = "https://graph.microsoft.com"
)

// inLimit returns the error message for a filter over Graph's `in` limits, or "".
func inLimit(r *http.Request, q listQuery) string {
	n := inValues(q.filter)
	if n == 0 {
		return ""
	}
	if eventual(r) && q.count {
		// The length Graph sees: its own host, then the path and query as sent.
		if l := len(graphURLPrefix) + len(r.URL.RequestURI()); l > maxAdvancedQueryURL {
			return fmt.Sprintf("Unsupported Query. The request URL is %d characters long; a query with the 'in' operator may have at most %d.", l, maxAdvancedQueryURL)
		}
		return ""
	}
	if n > maxInValues {
		return fmt.Sprintf("Unsupported Query. The 'in' operator allows at most %d values in a filter without advanced query parameters (ConsistencyLevel: eventual and $count=true); this filter has %d.", maxInValues, n)
	}
	return ""
}

func (q listQuery) matches(get func(string) []string) bool {
	return q.filter == nil || q.filter.match(get)
}

// listPage collects one page of a collection whose items have increasing positions. A
// page's $skiptoken stands for the last item it listed, so items created or deleted while a
// client pages through are neither listed twice nor make it skip anyone else.
type listPage struct {
	q     listQuery
	value []map[string]any
	last  int64
	more  bool
	total int // matching items on every page, for @odata.count
}

func newListPage(q listQuery) *listPage {
	return &listPage{q: q, value: []map[string]any{}, last: int64(q.after)}
}

// add offers a matching item at position pos; render runs only for items on the page.
func (p *listPage) add(pos int64, render func() map[string]any) {
	p.total++
	switch {
	case pos <= int64(p.q.after):
	case len(p.value) == p.q.top:
		p.more = true
	default:
		p.value = append(p.value, render())
		p.last = pos
	}
}

// write answers the page with its @odata.context, and @odata.count and @odata.nextLink when
// they apply.
func (p *listPage) write(w http.ResponseWriter, r *http.Request, context string) {
	out := map[string]any{"@odata.context": context, "value": p.value}
	if p.q.count {
		out["@odata.count"] = p.total
	}
	if p.more {
		out["@odata.nextLink"] = nextLink(r, int(p.last))
	}
	writeJSON(w, http.StatusOK, out)
}

// writeRawCount answers GET {collection}/$count: the number as text/plain, and only with
// "ConsistencyLevel: eventual".
func writeRawCount(w http.ResponseWriter, r *http.Request, n int) {
	if !eventual(r) {
		writeError(w, r, http.StatusBadRequest, codeUnsupportedQuery, msgRawCountNeedsEventual)
		return
	}
	w.Header().Set("Content-Type", "text/plain")
	w.WriteHeader(http.StatusOK)
	_, _ = fmt.Fprint(w, n)
}

// relationPage is the query of a paged relationship read (memberOf, sponsors,
// appRoleAssignments): its $select, $top and $skiptoken.
type relationPage struct {
	sel         []string
	top, offset int
}

// parseRelationPage reads a relationship read's $select (against props, for the named type),
// $top and $skiptoken; when one is invalid it answers 400 itself and returns false.
func parseRelationPage(w http.ResponseWriter, r *http.Request, props map[string]string, typ string, defaultTop int) (relationPage, bool) {
	var p relationPage
	var err error
	if p.sel, err = parseSelect(r.URL.Query().Get("$select"), props, typ, nil); err != nil {
		writeError(w, r, http.StatusBadRequest, codeBadRequest, err.Error())
		return p, false
	}
	var ok bool
	if p.top, ok = pageSize(w, r, defaultTop); !ok {
		return p, false
	}
	p.offset, ok = skipToken(w, r)
	return p, ok
}

// writeDirectoryObjectsPage answers a page of a directoryObject relationship (memberOf,
// sponsors), its context naming the selected properties, with a next link when more follows.
func writeDirectoryObjectsPage(w http.ResponseWriter, r *http.Request, p relationPage, value []map[string]any, more bool) {
	ctx := baseURL(r) + "/v1.0/$metadata#directoryObjects"
	if p.sel != nil {
		ctx += "(" + strings.Join(p.sel, ",") + ")"
	}
	out := map[string]any{"@odata.context": ctx, "value": value}
	if more {
		out["@odata.nextLink"] = nextLink(r, p.offset+p.top)
	}
	writeJSON(w, http.StatusOK, out)
}
