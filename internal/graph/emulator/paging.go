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
