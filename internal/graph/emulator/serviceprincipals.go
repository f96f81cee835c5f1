package emulator

import (
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/microsoftgraph/msgraph-sdk-go/models"
)

// AppRole is an application role a service principal exposes.
type AppRole struct {
	ID          string `json:"id,omitempty"`
	Value       string `json:"value,omitempty"`
	DisplayName string `json:"displayName,omitempty"`
}

// ServicePrincipal is an enterprise application guests are granted access to.
type ServicePrincipal struct {
	ID          string    `json:"id,omitempty"`
	AppID       string    `json:"appId,omitempty"`
	DisplayName string    `json:"displayName,omitempty"`
	AppRoles    []AppRole `json:"appRoles,omitempty"`
}

// AppRoleAssignment grants a principal (a user here) a role on a resource service principal.
type AppRoleAssignment struct {
	ID          string `json:"id,omitempty"`
	PrincipalID string `json:"principalId,omitempty"`
	ResourceID  string `json:"resourceId,omitempty"`
	AppRoleID   string `json:"appRoleId,omitempty"`
}

// DefaultAppRoleID is the role id for "default access" to an application without roles.
const DefaultAppRoleID = "00000000-0000-0000-0000-000000000000"

type spRec struct {
	ServicePrincipal
	ord int64
}

type assignmentRec struct {
	AppRoleAssignment
	principalType string
	created       time.Time
}

// AddServicePrincipal seeds a service principal; empty ID, AppID and role IDs are generated.
func (e *Emulator) AddServicePrincipal(sp ServicePrincipal) ServicePrincipal {
	e.mu.Lock()
	defer e.mu.Unlock()
	if sp.ID == "" {
		sp.ID = newUUID()
	}
	if sp.AppID == "" {
		sp.AppID = newUUID()
	}
	roles := make([]AppRole, len(sp.AppRoles))
	for i, ar := range sp.AppRoles {
		if ar.ID == "" {
			ar.ID = newUUID()
		}
		roles[i] = ar
	}
	sp.AppRoles = roles
	e.dir.sps[sp.ID] = &spRec{ServicePrincipal: sp, ord: e.dir.nextOrd()}
	return cloneSP(sp)
}

func cloneSP(sp ServicePrincipal) ServicePrincipal {
	sp.AppRoles = append([]AppRole(nil), sp.AppRoles...)
	return sp
}

// AppRoleAssignments lists the assignments granted on the resource service principal spID.
func (e *Emulator) AppRoleAssignments(spID string) []AppRoleAssignment {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []AppRoleAssignment
	for _, a := range e.dir.assignments {
		if a.ResourceID == spID {
			out = append(out, a.AppRoleAssignment)
		}
	}
	return out
}

// AssignAppRoleOutOfBand records an assignment as a portal administrator would: no
// validation, not logged. An empty ID is generated.
func (e *Emulator) AssignAppRoleOutOfBand(a AppRoleAssignment) AppRoleAssignment {
	e.mu.Lock()
	defer e.mu.Unlock()
	if a.ID == "" {
		a.ID = newAssignmentID()
	}
	ptype := "User"
	if e.dir.groups[a.PrincipalID] != nil {
		ptype = "Group"
	}
	e.dir.assignments = append(e.dir.assignments,
		&assignmentRec{AppRoleAssignment: a, principalType: ptype, created: e.now()})
	return a
}

// newAssignmentID mimics Graph's assignment ids, which are base64url strings, not UUIDs.
func newAssignmentID() string { return randToken(32) }

var spProps = canonicalNames("id", "appId", "displayName")

var spFilterSchema = filterSchema{scalars: spProps}

func renderSP(sp *ServicePrincipal) map[string]any {
	roles := make([]map[string]any, 0, len(sp.AppRoles))
	for _, ar := range sp.AppRoles {
		roles = append(roles, map[string]any{
			"id": ar.ID, "value": nullIfEmpty(ar.Value), "displayName": nullIfEmpty(ar.DisplayName),
			"isEnabled": true, "allowedMemberTypes": []string{"User"}, "description": nil, "origin": "Application",
		})
	}
	return map[string]any{"id": sp.ID, "appId": sp.AppID, "displayName": sp.DisplayName, "appRoles": roles}
}

func (e *Emulator) renderAssignment(a *assignmentRec) map[string]any {
	m := map[string]any{
		"id": a.ID, "principalId": a.PrincipalID, "resourceId": a.ResourceID, "appRoleId": a.AppRoleID,
		"principalType": a.principalType, "createdDateTime": formatTime(a.created), "deletedDateTime": nil,
		"principalDisplayName": nil, "resourceDisplayName": nil,
	}
	if u := e.dir.users[a.PrincipalID]; u != nil {
		m["principalDisplayName"] = nullIfEmpty(u.DisplayName)
	} else if g := e.dir.groups[a.PrincipalID]; g != nil {
		m["principalDisplayName"] = nullIfEmpty(g.DisplayName)
	}
	if sp := e.dir.sps[a.ResourceID]; sp != nil {
		m["resourceDisplayName"] = nullIfEmpty(sp.DisplayName)
	}
	return m
}

// routeServicePrincipals serves /servicePrincipals, /servicePrincipals/{id},
// /servicePrincipals(appId='x') and the appRoleAssignedTo collection under either key.
func (e *Emulator) routeServicePrincipals(w http.ResponseWriter, r *http.Request, first string, segs []string, body []byte) {
	if first != "servicePrincipals" {
		// The alternate key form names the application, not the object: resolve it.
		appID, ok := parseAppIDKey(first)
		if !ok {
			writeError(w, r, http.StatusBadRequest, codeRequestBadRequest,
				fmt.Sprintf("Invalid key in segment '%s'.", first))
			return
		}
		e.mu.Lock()
		id := ""
		for _, sp := range e.dir.sps {
			if strings.EqualFold(sp.AppID, appID) {
				id = sp.ID
			}
		}
		e.mu.Unlock()
		if id == "" {
			writeNotFound(w, r, appID)
			return
		}
		segs = append([]string{id}, segs...)
	}
	switch {
	case len(segs) == 0 && r.Method == http.MethodGet:
		e.listServicePrincipals(w, r)
	case len(segs) == 1 && r.Method == http.MethodGet:
		e.mu.Lock()
		sp := e.dir.sps[segs[0]]
		var out map[string]any
		if sp != nil {
			out = renderSP(&sp.ServicePrincipal)
		}
		e.mu.Unlock()
		if out == nil {
			writeNotFound(w, r, segs[0])
			return
		}
		out["@odata.context"] = baseURL(r) + "/v1.0/$metadata#servicePrincipals/$entity"
		writeJSON(w, http.StatusOK, out)
	case len(segs) == 2 && segs[1] == "appRoleAssignedTo" && r.Method == http.MethodGet:
		e.listAssignments(w, r, segs[0])
	case len(segs) == 2 && segs[1] == "appRoleAssignedTo" && r.Method == http.MethodPost:
		e.createAssignment(w, r, segs[0], body)
	case len(segs) == 3 && segs[1] == "appRoleAssignedTo" && r.Method == http.MethodDelete:
		e.deleteAssignment(w, r, segs[0], segs[2])
	case len(segs) <= 1 || (len(segs) <= 3 && segs[1] == "appRoleAssignedTo"):
		writeMethodNotAllowed(w, r)
	default:
		writeError(w, r, http.StatusNotFound, codeNotFound,
			fmt.Sprintf("Resource not found for the segment '%s'.", segs[1]))
	}
}

// parseAppIDKey parses the alternate key "servicePrincipals(appId='x')" or
// "applications(appId='x')".
func parseAppIDKey(seg string) (string, bool) {
	i := strings.IndexByte(seg, '(')
	if i <= 0 || !strings.HasSuffix(seg, ")") {
		return "", false
	}
	inner := strings.TrimSuffix(seg[i+1:], ")")
	k, v, ok := strings.Cut(inner, "=")
	if !ok || !strings.EqualFold(strings.TrimSpace(k), "appId") {
		return "", false
	}
	v = strings.TrimSpace(v)
	if len(v) < 2 || v[0] != '\'' || v[len(v)-1] != '\'' {
		return "", false
	}
	return strings.ReplaceAll(v[1:len(v)-1], "''", "'"), true
}

func (e *Emulator) listServicePrincipals(w http.ResponseWriter, r *http.Request) {
	var filter filterNode
	if f := strings.TrimSpace(r.URL.Query().Get("$filter")); f != "" {
		var err error
		if filter, err = parseFilter(f, spFilterSchema); err != nil {
			writeError(w, r, http.StatusBadRequest, codeUnsupportedQuery, "Unsupported Query. "+err.Error())
			return
		}
	}
	e.mu.Lock()
	recs := make([]*spRec, 0, len(e.dir.sps))
	for _, sp := range e.dir.sps {
		recs = append(recs, sp)
	}
	sortByOrd(recs, func(s *spRec) int64 { return s.ord })
	value := []map[string]any{}
	for _, sp := range recs {
		get := func(p string) []string {
			switch p {
			case "id":
				return []string{sp.ID}
			case "appId":
				return []string{sp.AppID}
			}
			return []string{sp.DisplayName}
		}
		if filter == nil || filter.match(get) {
			value = append(value, renderSP(&sp.ServicePrincipal))
		}
	}
	e.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{
		"@odata.context": baseURL(r) + "/v1.0/$metadata#servicePrincipals",
		"value":          value,
	})
}

func (e *Emulator) listAssignments(w http.ResponseWriter, r *http.Request, spID string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.dir.sps[spID] == nil {
		writeNotFound(w, r, spID)
		return
	}
	value := []map[string]any{}
	for _, a := range e.dir.assignments {
		if a.ResourceID == spID {
			value = append(value, e.renderAssignment(a))
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"@odata.context": baseURL(r) + "/v1.0/$metadata#servicePrincipals('" + spID + "')/appRoleAssignedTo",
		"value":          value,
	})
}

// createAssignment serves POST /servicePrincipals/{id}/appRoleAssignedTo with Graph's
// documented refusals, including the eventual-consistency one for a fresh guest.
func (e *Emulator) createAssignment(w http.ResponseWriter, r *http.Request, spID string, body []byte) {
	p, _, ok := readEntity(w, r, body, models.CreateAppRoleAssignmentFromDiscriminatorValue, codeRequestBadRequest)
	if !ok {
		return
	}
	in := p.(models.AppRoleAssignmentable)
	req := AppRoleAssignment{
		PrincipalID: uuidString(in.GetPrincipalId()),
		ResourceID:  uuidString(in.GetResourceId()),
		AppRoleID:   uuidString(in.GetAppRoleId()),
	}
	bad := func(msg string) { writeError(w, r, http.StatusBadRequest, codeRequestBadRequest, msg) }
	e.mu.Lock()
	defer e.mu.Unlock()
	sp := e.dir.sps[spID]
	if sp == nil {
		writeNotFound(w, r, spID)
		return
	}
	switch {
	case req.PrincipalID == "":
		bad("Missing required property: principalId.")
		return
	case req.AppRoleID == "":
		bad("Missing required property: appRoleId.")
		return
	case req.ResourceID != "" && !strings.EqualFold(req.ResourceID, spID):
		bad("resourceId must be the id of the service principal in the request URL.")
		return
	}
	req.ResourceID = spID
	ptype := "User"
	if e.dir.visibleUser(req.PrincipalID, e.now()) == nil {
		if e.dir.groups[req.PrincipalID] == nil {
			bad("Not a valid reference update.")
			return
		}
		ptype = "Group"
	}
	if !hasRole(&sp.ServicePrincipal, req.AppRoleID) {
		bad(fmt.Sprintf("Permission being assigned was not found on application '%s'.", sp.AppID))
		return
	}
	for _, a := range e.dir.assignments {
		if a.ResourceID == spID && a.PrincipalID == req.PrincipalID && strings.EqualFold(a.AppRoleID, req.AppRoleID) {
			bad("Permission being assigned already exists on the object")
			return
		}
	}
	req.ID = newAssignmentID()
	rec := &assignmentRec{AppRoleAssignment: req, principalType: ptype, created: e.now()}
	e.dir.assignments = append(e.dir.assignments, rec)
	out := e.renderAssignment(rec)
	out["@odata.context"] = baseURL(r) + "/v1.0/$metadata#servicePrincipals('" + spID + "')/appRoleAssignedTo/$entity"
	writeJSON(w, http.StatusCreated, out)
}

// uuidString renders a Guid property as Graph does (lower case), "" when unset.
func uuidString(u *uuid.UUID) string {
	if u == nil {
		return ""
	}
	return u.String()
}

// hasRole accepts the SP's own roles and the all-zero "default access" role.
func hasRole(sp *ServicePrincipal, roleID string) bool {
	if roleID == DefaultAppRoleID {
		return true
	}
	for _, ar := range sp.AppRoles {
		if strings.EqualFold(ar.ID, roleID) {
			return true
		}
	}
	return false
}

func (e *Emulator) deleteAssignment(w http.ResponseWriter, r *http.Request, spID, assignmentID string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.dir.sps[spID] == nil {
		writeNotFound(w, r, spID)
		return
	}
	for i, a := range e.dir.assignments {
		if a.ResourceID == spID && a.ID == assignmentID {
			e.dir.assignments = append(e.dir.assignments[:i], e.dir.assignments[i+1:]...)
			writeNoContent(w)
			return
		}
	}
	writeNotFound(w, r, assignmentID)
}
