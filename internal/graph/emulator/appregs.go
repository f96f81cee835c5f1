package emulator

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
)

// appReg is an app registration the token server knows: the client credentials it accepts.
type appReg struct {
	clientID string // as registered
	secret   string
}

// msgInvalidSecret is Entra's description of a missing or wrong client secret.
const msgInvalidSecret = "AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '%s'."

// RegisterApp registers the app clientID with its client secret (registering it again
// replaces the secret). While no app is registered the token server issues tokens to any
// client id; from the first registration on it refuses unknown client ids (AADSTS700016) and
// wrong secrets (AADSTS7000215), as Entra does. A client assertion is accepted for a
// registered app without checking its signature.
func (e *Emulator) RegisterApp(clientID, secret string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.apps[strings.ToLower(clientID)] = &appReg{clientID: clientID, secret: secret}
}

// DisableApp disables the app clientID, registered or not: its token requests are refused
// (AADSTS7000112) and Graph refuses the tokens already issued to it with 401, as continuous
// access evaluation makes Graph do, until EnableApp.
func (e *Emulator) DisableApp(clientID string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.disabledApps[strings.ToLower(clientID)] = true
}

// EnableApp undoes DisableApp; the app's unexpired tokens are accepted again.
func (e *Emulator) EnableApp(clientID string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	delete(e.disabledApps, strings.ToLower(clientID))
}

// AppRegistration is what the control API shows of a registered or disabled app; the secret
// stays out of it.
type AppRegistration struct {
	ClientID   string `json:"clientId"`
	Registered bool   `json:"registered"`
	Disabled   bool   `json:"disabled"`
}

// Apps lists the registered and the disabled apps, by client id.
func (e *Emulator) Apps() []AppRegistration {
	e.mu.Lock()
	defer e.mu.Unlock()
	byID := map[string]*AppRegistration{}
	for k, a := range e.apps {
		byID[k] = &AppRegistration{ClientID: a.clientID, Registered: true}
	}
	for k := range e.disabledApps {
		if byID[k] == nil {
			byID[k] = &AppRegistration{ClientID: k}
		}
		byID[k].Disabled = true
	}
	out := make([]AppRegistration, 0, len(byID))
	for _, a := range byID {
		out = append(out, *a)
	}
	slices.SortFunc(out, func(a, b AppRegistration) int {
		return strings.Compare(strings.ToLower(a.ClientID), strings.ToLower(b.ClientID))
	})
	return out
}

// checkApp decides a token request of clientID that has passed the form checks: status 0
// lets it through, otherwise it is Entra's answer (status, OAuth error, description).
func (e *Emulator) checkApp(clientID, secret string, assertion bool) (status int, code, desc string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	key := strings.ToLower(clientID)
	reg := e.apps[key]
	switch {
	case len(e.apps) > 0 && reg == nil:
		return http.StatusBadRequest, "unauthorized_client", "AADSTS700016: Application with identifier '" + clientID +
			"' was not found in the directory '" + e.tenantID + "'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant."
	case e.disabledApps[key]:
		return http.StatusBadRequest, "unauthorized_client", "AADSTS7000112: Application '" + clientID + "' is disabled."
	case reg != nil && !assertion && secret != reg.secret:
		return http.StatusUnauthorized, "invalid_client", fmt.Sprintf(msgInvalidSecret, clientID)
	}
	return 0, "", ""
}

// controlApps serves /_emulator/apps:
//
//	GET  /_emulator/apps                 registered and disabled apps
//	POST /_emulator/apps                 {"clientId":"...","secret":"..."} registers an app
//	POST /_emulator/apps/{id}:disable    disables an app
//	POST /_emulator/apps/{id}:enable     enables it again
func (e *Emulator) controlApps(w http.ResponseWriter, r *http.Request, segs []string, body []byte) {
	switch {
	case len(segs) == 1 && r.Method == http.MethodGet:
		writeJSON(w, http.StatusOK, e.Apps())
	case len(segs) == 1 && r.Method == http.MethodPost:
		var in struct {
			ClientID string `json:"clientId"`
			Secret   string `json:"secret"`
		}
		if !controlDecode(w, r, body, &in) {
			return
		}
		if strings.TrimSpace(in.ClientID) == "" {
			writeError(w, r, http.StatusBadRequest, codeBadRequest, "clientId is required")
			return
		}
		e.RegisterApp(in.ClientID, in.Secret)
		writeNoContent(w)
	case len(segs) == 2 && r.Method == http.MethodPost:
		id, action, _ := strings.Cut(segs[1], ":")
		switch {
		case id != "" && action == "disable":
			e.DisableApp(id)
			writeNoContent(w)
		case id != "" && action == "enable":
			e.EnableApp(id)
			writeNoContent(w)
		default:
			writeError(w, r, http.StatusNotFound, codeNotFound, "No control endpoint "+r.Method+" "+r.URL.Path+".")
		}
	default:
		writeError(w, r, http.StatusNotFound, codeNotFound, "No control endpoint "+r.Method+" "+r.URL.Path+".")
	}
}
