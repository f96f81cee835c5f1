package emulator

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// tokenClaims are the claims of an app-only access token, as Entra's v1.0 tokens for Graph
// carry them. The emulator signs them with HS256 and its own random key: Entra signs with
// RS256 and publishes its keys, but nothing the emulator serves checks a token it did not
// issue itself, and the claims are what the operator's tests look at.
type tokenClaims struct {
	Aud   string   `json:"aud"`
	Iss   string   `json:"iss"`
	Iat   int64    `json:"iat"`
	Nbf   int64    `json:"nbf"`
	Exp   int64    `json:"exp"`
	AppID string   `json:"appid"`
	Azp   string   `json:"azp"`
	Idtyp string   `json:"idtyp"`
	Oid   string   `json:"oid"`
	Sub   string   `json:"sub"`
	Roles []string `json:"roles"`
	Tid   string   `json:"tid"`
	Uti   string   `json:"uti"` // unique per token, so two tokens of one second differ
	Ver   string   `json:"ver"`
}

// jwtHeader is the fixed header of the emulator's tokens.
var jwtHeader = base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`))

// issuerFor is the iss claim of a v1.0 token of tenantID.
func issuerFor(tenantID string) string { return "https://sts.windows.net/" + tenantID + "/" }

// newClaims are the claims of a token issued now to clientID.
func (e *Emulator) newClaims(clientID string, now time.Time) tokenClaims {
	oid := appObjectID(e.tenantID, clientID)
	return tokenClaims{
		Aud: e.opts.Audience, Iss: issuerFor(e.tenantID),
		Iat: now.Unix(), Nbf: now.Unix(), Exp: now.Add(tokenLifetime).Unix(),
		AppID: clientID, Azp: clientID, Idtyp: "app", Oid: oid, Sub: oid,
		Roles: e.grantedRoles(), Tid: e.tenantID, Uti: randToken(16), Ver: "1.0",
	}
}

// signToken encodes claims as a JWT signed with the emulator's key.
func (e *Emulator) signToken(c tokenClaims) string {
	payload, err := json.Marshal(c)
	if err != nil {
		// tokenClaims holds strings and numbers only.
		panic(fmt.Sprintf("emulator: marshalling token claims: %v", err))
	}
	unsigned := jwtHeader + "." + base64.RawURLEncoding.EncodeToString(payload)
	return unsigned + "." + base64.RawURLEncoding.EncodeToString(e.mac(unsigned))
}

func (e *Emulator) mac(unsigned string) []byte {
	m := hmac.New(sha256.New, e.signingKey)
	m.Write([]byte(unsigned))
	return m.Sum(nil)
}

// validSignature reports whether tok carries this emulator's signature.
func (e *Emulator) validSignature(tok string) bool {
	i := strings.LastIndexByte(tok, '.')
	if i < 0 {
		return false
	}
	sig, err := base64.RawURLEncoding.DecodeString(tok[i+1:])
	return err == nil && hmac.Equal(sig, e.mac(tok[:i]))
}

var errNotJWT = errors.New("not a JWT")

// ParseTokenClaims decodes the claims of a JWT-shaped access token without checking its
// signature, for tests that look at what a token says (tid, aud, roles). It fails for a
// string that is not three base64url parts with JSON objects for header and payload.
func ParseTokenClaims(tok string) (map[string]any, error) {
	var m map[string]any
	if err := decodeJWT(tok, &m); err != nil {
		return nil, err
	}
	return m, nil
}

// decodeJWT decodes tok's payload into v after checking that tok is shaped as a JWT.
func decodeJWT(tok string, v any) error {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return errNotJWT
	}
	var header map[string]any
	if err := decodeSegment(parts[0], &header); err != nil {
		return fmt.Errorf("%w: header: %w", errNotJWT, err)
	}
	if _, ok := header["alg"]; !ok {
		return fmt.Errorf("%w: header has no alg", errNotJWT)
	}
	if err := decodeSegment(parts[1], v); err != nil {
		return fmt.Errorf("%w: payload: %w", errNotJWT, err)
	}
	return nil
}

func decodeSegment(seg string, v any) error {
	raw, err := base64.RawURLEncoding.DecodeString(seg)
	if err != nil {
		return fmt.Errorf("base64url: %w", err)
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return fmt.Errorf("json: %w", err)
	}
	return nil
}

// appObjectID is the object id of clientID's service principal in tenantID, the oid of its
// tokens: stable for the pair, as Entra's is, and different in every tenant.
func appObjectID(tenantID, clientID string) string {
	sum := sha256.Sum256([]byte(strings.ToLower(tenantID) + "/" + strings.ToLower(clientID)))
	b := sum[:16]
	b[6] = (b[6] & 0x0f) | 0x80 // version 8: a name-derived UUID of our own scheme
	b[8] = (b[8] & 0x3f) | 0x80
	h := hex.EncodeToString(b)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}
