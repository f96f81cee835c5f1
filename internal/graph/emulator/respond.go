package emulator

import (
	"bytes"
	"compress/gzip"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// Error codes Graph uses for the situations the emulator reproduces.
const (
	codeNotFound          = "Request_ResourceNotFound"
	codeRequestBadRequest = "Request_BadRequest"
	codeBadRequest        = "BadRequest"
	codeUnsupportedQuery  = "Request_UnsupportedQuery"
	codeInvalidToken      = "InvalidAuthenticationToken"
	codeTooManyRequests   = "TooManyRequests"
	codeServiceUnavail    = "serviceNotAvailable"
	codeGeneral           = "generalException"
)

// maxBody bounds request bodies; Graph's own limit is 4 MB.
const maxBody = 4 << 20

// jsonContentType is deliberately bare: the SDK picks its parser by content type, and without
// it the SDK loses the status code of an error (graph.md).
const jsonContentType = "application/json"

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		// Every value the emulator writes is built from plain maps and strings.
		panic(fmt.Sprintf("emulator: marshalling response: %v", err))
	}
	w.Header().Set("Content-Type", jsonContentType)
	w.WriteHeader(status)
	_, _ = w.Write(b)
}

// writeNoContent answers 204 the way Graph does: no body, no content type needed.
func writeNoContent(w http.ResponseWriter) { w.WriteHeader(http.StatusNoContent) }

// writeError writes Graph's error envelope
// (https://learn.microsoft.com/en-us/graph/errors). innerError carries the date and the
// request ids of the answer's headers, so a failure can be matched to the request log.
func writeError(w http.ResponseWriter, r *http.Request, status int, code, message string) {
	clientID := w.Header().Get("client-request-id")
	if clientID == "" {
		clientID = r.Header.Get("client-request-id")
	}
	writeJSON(w, status, map[string]any{
		"error": map[string]any{
			"code":    code,
			"message": message,
			"innerError": map[string]any{
				"date":              time.Now().UTC().Format("2006-01-02T15:04:05"),
				"request-id":        w.Header().Get("request-id"),
				"client-request-id": clientID,
			},
		},
	})
}

func notFoundMessage(id string) string {
	return fmt.Sprintf("Resource '%s' does not exist or one of its queried reference-property objects are not present.", id)
}

func writeNotFound(w http.ResponseWriter, r *http.Request, id string) {
	writeError(w, r, http.StatusNotFound, codeNotFound, notFoundMessage(id))
}

func writeMethodNotAllowed(w http.ResponseWriter, r *http.Request) {
	writeError(w, r, http.StatusMethodNotAllowed, codeRequestBadRequest,
		"Specified HTTP method is not allowed for the request target.")
}

// emptyPayload is Graph's own message for a write without a body.
const emptyPayload = "Empty Payload. JSON content expected."

// readBody returns the request body, gunzipped when the client says so. msgraph-sdk-go
// compresses request bodies by default, so this is the common path, not an edge case. When
// decompression fails it returns the raw bytes with the error.
func readBody(r *http.Request) ([]byte, error) {
	if r.Body == nil {
		return nil, nil
	}
	raw, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil {
		return nil, fmt.Errorf("reading request body: %w", err)
	}
	if len(raw) > maxBody {
		return nil, errors.New("request body exceeds 4 MB")
	}
	if !strings.EqualFold(strings.TrimSpace(r.Header.Get("Content-Encoding")), "gzip") || len(raw) == 0 {
		return raw, nil
	}
	zr, err := gzip.NewReader(bytes.NewReader(raw))
	if err != nil {
		// This is what the SDK's retry bug (graph.md) looks like on the wire. The raw bytes
		// are returned for the request log, where they explain the 400.
		return raw, fmt.Errorf("request body is labelled gzip but is not gzip: %w", err)
	}
	out, err := io.ReadAll(io.LimitReader(zr, maxBody+1))
	if err != nil {
		return raw, fmt.Errorf("decompressing request body: %w", err)
	}
	if len(out) > maxBody {
		return nil, errors.New("decompressed request body exceeds 4 MB")
	}
	return out, nil
}

// newUUID returns a random (version 4) UUID, the shape of every Entra object id.
func newUUID() string {
	var b [16]byte
	mustRand(b[:])
	b[6] = (b[6] & 0x0f) | 0x40
	b[8] = (b[8] & 0x3f) | 0x80
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// randToken returns n random bytes, base64url-encoded: opaque, URL-safe, unguessable.
func randToken(n int) string {
	b := make([]byte, n)
	mustRand(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

func mustRand(b []byte) {
	if _, err := rand.Read(b); err != nil {
		// crypto/rand does not fail on supported platforms (Go 1.24+ panics itself).
		panic(fmt.Sprintf("emulator: crypto/rand: %v", err))
	}
}

// baseURL is the scheme and host the client used, so links work whether the emulator runs
// behind Start or behind an httptest server.
func baseURL(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

func formatTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UTC().Format(time.RFC3339)
}

func nullIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}
