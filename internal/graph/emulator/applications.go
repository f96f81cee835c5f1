package emulator

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"

	"github.com/microsoftgraph/msgraph-sdk-go/models"
)

// Applications and their directory extension properties
// (https://learn.microsoft.com/en-us/graph/api/resources/extensionproperty). An extension
// property registered on an application is a new property of every user, named
// extension_{appId without dashes}_{name}: PATCH sets it, $select reads it, $filter compares
// it (users_ext.go).
//
//	GET  /applications                                       list ($filter on id, appId, displayName)
//	GET  /applications/{objectId}, /applications(appId='x')  one application
//	GET  .../extensionProperties                             its extension properties ($filter name eq)
//	POST .../extensionProperties                             register one (String, on User)
//	GET  .../extensionProperties/{id}                        one extension property

// maxExtensionNameLength bounds the short name of an extension property. Graph's limit is not
// documented; the emulator's is its own.
const maxExtensionNameLength = 120

// maxExtensionValueLength is the extensionProperty page's limit for a String value.
const maxExtensionValueLength = 256

// Messages of the extension property routes. Graph's wording for these refusals is not
// documented, so all but msgUndeclaredExtension are the emulator's own.
const (
	msgExtensionExists      = "An extension property named '%s' already exists on the application."
	msgExtensionName        = "Invalid value specified for property 'name' of resource 'ExtensionProperty': use 1 to %d ASCII letters, digits or underscores."
	msgExtensionDataType    = "Invalid value specified for property 'dataType' of resource 'ExtensionProperty': '%s' is not one of Binary, Boolean, DateTime, Integer, LargeInteger, String."
	msgExtensionOnlyString  = "The emulator models String extension properties only, not '%s'."
	msgExtensionTarget      = "Invalid value specified for property 'targetObjects' of resource 'ExtensionProperty': '%s' is not one of User, Group, AdministrativeUnit, Application, Device, Organization."
	msgExtensionOnlyUser    = "The emulator models extension properties on User only; targetObjects must contain 'User'."
	msgExtensionMultiValued = "The emulator models single-valued extension properties only (isMultiValued false)."
	msgExtensionMissing     = "Missing required property: %s."
	// msgUndeclaredExtension is Graph's answer to a PATCH naming an extension property that
	// is not registered.
	msgUndeclaredExtension = "Property '%s' does not exist as a declared property or extension property."
)

var (
	extensionDataTypes = []string{"Binary", "Boolean", "DateTime", "Integer", "LargeInteger", "String"}
	extensionTargets   = []string{"User", "Group", "AdministrativeUnit", "Application", "Device", "Organization"}
)

type appRec struct {
	id, appID, displayName string
	ord                    int64
	props                  []*extPropRec // in registration order
}

type extPropRec struct {
	id, name, dataType string
	targetObjects      []string
	app                *appRec
}

// AddApplication seeds an application object for appID (a new GUID when empty) and returns
// its object id. It is idempotent: an application that exists for appID keeps its object id
// and display name.
func (e *Emulator) AddApplication(appID, displayName string) (objectID string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if appID == "" {
		appID = newUUID()
	}
	if a := e.dir.appByAppID(appID); a != nil {
		return a.id
	}
	return e.dir.addApp(appID, displayName).id
}

// RegisterExtensionProperty registers a String extension property for users on the
// application appID (created if missing, as AddApplication would) and returns its full name,
// extension_{appId without dashes}_{name}. It is idempotent. A name that is not 1 to 120
// ASCII letters, digits or underscores panics: it is a mistake in the test.
func (e *Emulator) RegisterExtensionProperty(appID, name string) string {
	if !validExtensionName(name) {
		panic(fmt.Sprintf("emulator: invalid extension property name %q", name))
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	a := e.dir.appByAppID(appID)
	if a == nil {
		a = e.dir.addApp(appID, e.appDisplayName(appID))
	}
	full := extensionName(a.appID, name)
	if p := e.dir.extProps[strings.ToLower(full)]; p != nil {
		return p.name
	}
	return e.dir.addExtProp(a, full, "String", []string{"User"}).name
}

// ExtensionProperty is a registered directory extension property, as ExtensionProperties
// reports it.
type ExtensionProperty struct {
	ID            string   `json:"id"`
	Name          string   `json:"name"` // extension_{appId without dashes}_{name}
	DataType      string   `json:"dataType"`
	TargetObjects []string `json:"targetObjects"`
	AppID         string   `json:"appId"` // the application it is registered on
}

// ExtensionProperties lists every registered extension property: by application, in the
// order the applications were created, and each application's in registration order.
func (e *Emulator) ExtensionProperties() []ExtensionProperty {
	e.mu.Lock()
	defer e.mu.Unlock()
	apps := make([]*appRec, 0, len(e.dir.apps))
	for _, a := range e.dir.apps {
		apps = append(apps, a)
	}
	sortByOrd(apps, func(a *appRec) int64 { return a.ord })
	var out []ExtensionProperty
	for _, a := range apps {
		for _, p := range a.props {
			out = append(out, ExtensionProperty{ID: p.id, Name: p.name, DataType: p.dataType,
				TargetObjects: slices.Clone(p.targetObjects), AppID: a.appID})
		}
	}
	return out
}

// extensionName is Graph's name for the extension property name of the application appID.
func extensionName(appID, name string) string {
	return "extension_" + strings.ToLower(strings.ReplaceAll(appID, "-", "")) + "_" + name
}

func validExtensionName(name string) bool {
	if name == "" || len(name) > maxExtensionNameLength {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if c != '_' && (c < '0' || c > '9') && (c < 'a' || c > 'z') && (c < 'A' || c > 'Z') {
			return false
		}
	}
	return true
}

func (d *directory) appByAppID(appID string) *appRec {
	for _, a := range d.apps {
		if strings.EqualFold(a.appID, appID) {
			return a
		}
	}
	return nil
}

func (d *directory) addApp(appID, displayName string) *appRec {
	a := &appRec{id: newUUID(), appID: appID, displayName: displayName, ord: d.nextOrd()}
	d.apps[a.id] = a
	return a
}

func (d *directory) addExtProp(a *appRec, full, dataType string, targets []string) *extPropRec {
	p := &extPropRec{id: newUUID(), name: full, dataType: dataType, targetObjects: slices.Clone(targets), app: a}
	a.props = append(a.props, p)
	d.extProps[strings.ToLower(full)] = p
	return p
}

// appDisplayName is the display name an application created on demand gets: its service
// principal's, or else its appId. The caller holds e.mu.
func (e *Emulator) appDisplayName(appID string) string {
	for _, sp := range e.dir.sps {
		if strings.EqualFold(sp.AppID, appID) && sp.DisplayName != "" {
			return sp.DisplayName
		}
	}
	return appID
}

// knownApp reports whether the tenant knows appID as an application although no application
// object was seeded for it: it is registered, a token was issued to it, or it has a service
// principal. The caller holds e.mu.
func (e *Emulator) knownApp(appID string) bool {
	if e.apps[strings.ToLower(appID)] != nil {
		return true
	}
	for _, t := range e.tokens {
		if t.clientID != "" && strings.EqualFold(t.clientID, appID) {
			return true
		}
	}
	for _, sp := range e.dir.sps {
		if strings.EqualFold(sp.AppID, appID) {
			return true
		}
	}
	return false
}

// resolveApp finds the application a path's key names: an object id, or "(appId='x')" (the
// alternate key), which creates the application on first use when the tenant knows the app
// (knownApp). The caller holds e.mu.
func (e *Emulator) resolveApp(key string) *appRec {
	if !strings.HasPrefix(key, "(") {
		return e.dir.apps[key]
	}
	appID, ok := parseAppIDKey("applications" + key)
	if !ok {
		return nil
	}
	if a := e.dir.appByAppID(appID); a != nil {
		return a
	}
	if !e.knownApp(appID) {
		return nil
	}
	return e.dir.addApp(appID, e.appDisplayName(appID))
}

// appIDOfPath is the appId of the application a path under /applications names, "" when
// there is none; for the Application.ReadWrite.OwnedBy check.
func (e *Emulator) appIDOfPath(segs []string) string {
	if len(segs) < 2 {
		return ""
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if strings.HasPrefix(segs[1], "(") {
		id, _ := parseAppIDKey("applications" + segs[1])
		return id
	}
	if a := e.dir.apps[segs[1]]; a != nil {
		return a.appID
	}
	return ""
}

// applicationSchema and applicationProps are the structural properties of
// microsoft.graph.application, from msgraph-sdk-go's model, for $select.
var (
	applicationSchema = sync.OnceValue(func() map[string]userProperty { return modelSchema(models.NewApplication()) })
	applicationProps  = sync.OnceValue(func() map[string]string { return schemaNames(applicationSchema()) })
)

// defaultApplicationSelect is what the emulator answers without $select. (Graph returns every
// property; the emulator keeps only those it models.)
var defaultApplicationSelect = []string{"id", "appId", "displayName"}

var applicationFilterSchema = filterSchema{scalars: canonicalNames("id", "appId", "displayName")}

func renderApp(a *appRec, sel []string) map[string]any {
	m := make(map[string]any, len(sel)+1)
	for _, p := range sel {
		switch p {
		case "id":
		case "appId":
			m[p] = a.appID
		case "displayName":
			m[p] = nullIfEmpty(a.displayName)
		default:
			if applicationSchema()[strings.ToLower(p)].collection {
				m[p] = []any{}
			} else {
				m[p] = nil
			}
		}
	}
	m["id"] = a.id
	return m
}

func appGetter(a *appRec) func(string) []string {
	return func(p string) []string {
		switch p {
		case "id":
			return []string{a.id}
		case "appId":
			return []string{a.appID}
		}
		return []string{a.displayName}
	}
}

// extPropProps are the properties of microsoft.graph.extensionProperty.
var extPropProps = canonicalNames("id", "deletedDateTime", "appDisplayName", "dataType",
	"isMultiValued", "isSyncedFromOnPremises", "name", "targetObjects")

var extPropFilterSchema = filterSchema{scalars: canonicalNames("name")}

func renderExtProp(p *extPropRec, sel []string) map[string]any {
	all := map[string]any{
		"id": p.id, "deletedDateTime": nil, "appDisplayName": p.app.displayName, "dataType": p.dataType,
		"isMultiValued": false, "isSyncedFromOnPremises": false, "name": p.name,
		"targetObjects": slices.Clone(p.targetObjects),
	}
	if sel == nil {
		return all
	}
	m := map[string]any{"id": p.id}
	for _, k := range sel {
		m[k] = all[k]
	}
	return m
}

// routeApplications serves /applications, /applications/{id} and /applications(appId='x')
// (key is "" for the collection, else the object id or the "(appId='x')" part).
func (e *Emulator) routeApplications(w http.ResponseWriter, r *http.Request, key string, segs []string, body []byte) {
	if key == "" && len(segs) == 0 {
		if r.Method != http.MethodGet {
			writeMethodNotAllowed(w, r)
			return
		}
		e.listApplications(w, r)
		return
	}
	if key == "" {
		key, segs = segs[0], segs[1:]
	}
	if strings.HasPrefix(key, "(") {
		if _, ok := parseAppIDKey("applications" + key); !ok {
			writeError(w, r, http.StatusBadRequest, codeRequestBadRequest,
				fmt.Sprintf("Invalid key in segment 'applications%s'.", key))
			return
		}
	}
	e.mu.Lock()
	a := e.resolveApp(key)
	e.mu.Unlock()
	if a == nil {
		id := key
		if appID, ok := parseAppIDKey("applications" + key); ok {
			id = appID
		}
		writeNotFound(w, r, id)
		return
	}
	ctx := baseURL(r) + "/v1.0/$metadata#applications('" + a.id + "')/extensionProperties"
	switch {
	case len(segs) == 0 && r.Method == http.MethodGet:
		sel, err := parseSelect(r.URL.Query().Get("$select"), applicationProps(), "application", defaultApplicationSelect)
		if err != nil {
			writeError(w, r, http.StatusBadRequest, codeBadRequest, err.Error())
			return
		}
		e.mu.Lock()
		out := renderApp(a, sel)
		e.mu.Unlock()
		out["@odata.context"] = applicationContext(r, sel) + "/$entity"
		writeJSON(w, http.StatusOK, out)
	case len(segs) == 1 && strings.EqualFold(segs[0], "extensionProperties") && r.Method == http.MethodGet:
		e.listExtensionProperties(w, r, a, ctx)
	case len(segs) == 1 && strings.EqualFold(segs[0], "extensionProperties") && r.Method == http.MethodPost:
		e.createExtensionProperty(w, r, a, body, ctx)
	case len(segs) == 2 && strings.EqualFold(segs[0], "extensionProperties") && r.Method == http.MethodGet:
		sel, err := parseSelect(r.URL.Query().Get("$select"), extPropProps, "extensionProperty", nil)
		if err != nil {
			writeError(w, r, http.StatusBadRequest, codeBadRequest, err.Error())
			return
		}
		e.mu.Lock()
		var out map[string]any
		for _, p := range a.props {
			if p.id == segs[1] {
				out = renderExtProp(p, sel)
			}
		}
		e.mu.Unlock()
		if out == nil {
			writeNotFound(w, r, segs[1])
			return
		}
		out["@odata.context"] = ctx + "/$entity"
		writeJSON(w, http.StatusOK, out)
	case len(segs) == 0 || (len(segs) <= 2 && strings.EqualFold(segs[0], "extensionProperties")):
		writeMethodNotAllowed(w, r)
	default:
		writeError(w, r, http.StatusNotFound, codeNotFound,
			fmt.Sprintf("Resource not found for the segment '%s'.", segs[0]))
	}
}

func applicationContext(r *http.Request, sel []string) string {
	c := baseURL(r) + "/v1.0/$metadata#applications"
	if strings.TrimSpace(r.URL.Query().Get("$select")) != "" {
		c += "(" + strings.Join(sel, ",") + ")"
	}
	return c
}

func (e *Emulator) listApplications(w http.ResponseWriter, r *http.Request) {
	sel, err := parseSelect(r.URL.Query().Get("$select"), applicationProps(), "application", defaultApplicationSelect)
	if err != nil {
		writeError(w, r, http.StatusBadRequest, codeBadRequest, err.Error())
		return
	}
	var filter filterNode
	if f := strings.TrimSpace(r.URL.Query().Get("$filter")); f != "" {
		if filter, err = parseFilter(f, applicationFilterSchema); err != nil {
			writeError(w, r, http.StatusBadRequest, codeUnsupportedQuery, "Unsupported Query. "+err.Error())
			return
		}
	}
	e.mu.Lock()
	recs := make([]*appRec, 0, len(e.dir.apps))
	for _, a := range e.dir.apps {
		recs = append(recs, a)
	}
	sortByOrd(recs, func(a *appRec) int64 { return a.ord })
	value := []map[string]any{}
	for _, a := range recs {
		if filter == nil || filter.match(appGetter(a)) {
			value = append(value, renderApp(a, sel))
		}
	}
	e.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"@odata.context": applicationContext(r, sel), "value": value})
}

func (e *Emulator) listExtensionProperties(w http.ResponseWriter, r *http.Request, a *appRec, ctx string) {
	sel, err := parseSelect(r.URL.Query().Get("$select"), extPropProps, "extensionProperty", nil)
	if err != nil {
		writeError(w, r, http.StatusBadRequest, codeBadRequest, err.Error())
		return
	}
	var filter filterNode
	if f := strings.TrimSpace(r.URL.Query().Get("$filter")); f != "" {
		if filter, err = parseFilter(f, extPropFilterSchema); err != nil {
			writeError(w, r, http.StatusBadRequest, codeUnsupportedQuery, "Unsupported Query. "+err.Error())
			return
		}
	}
	e.mu.Lock()
	value := []map[string]any{}
	for _, p := range a.props {
		if filter == nil || filter.match(func(string) []string { return []string{p.name} }) {
			value = append(value, renderExtProp(p, sel))
		}
	}
	e.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"@odata.context": ctx, "value": value})
}

// createExtensionProperty serves POST .../extensionProperties: the body is read with
// msgraph-sdk-go's extensionProperty model, strictly, and the new property is named
// extension_{appId without dashes}_{name}.
func (e *Emulator) createExtensionProperty(w http.ResponseWriter, r *http.Request, a *appRec, body []byte, ctx string) {
	p, _, ok := readEntity(w, r, body, models.CreateExtensionPropertyFromDiscriminatorValue, codeRequestBadRequest)
	if !ok {
		return
	}
	in := p.(models.ExtensionPropertyable)
	bad := func(format string, args ...any) {
		writeError(w, r, http.StatusBadRequest, codeRequestBadRequest, fmt.Sprintf(format, args...))
	}
	name, dataType, targets := deref(in.GetName()), deref(in.GetDataType()), in.GetTargetObjects()
	switch {
	case name == "":
		bad(msgExtensionMissing, "name")
		return
	case !validExtensionName(name):
		bad(msgExtensionName, maxExtensionNameLength)
		return
	case dataType == "":
		bad(msgExtensionMissing, "dataType")
		return
	case !slices.Contains(extensionDataTypes, dataType):
		bad(msgExtensionDataType, dataType)
		return
	case dataType != "String":
		bad(msgExtensionOnlyString, dataType)
		return
	case len(targets) == 0:
		bad(msgExtensionMissing, "targetObjects")
		return
	case deref(in.GetIsMultiValued()):
		bad(msgExtensionMultiValued)
		return
	}
	for _, t := range targets {
		if !slices.Contains(extensionTargets, t) {
			bad(msgExtensionTarget, t)
			return
		}
	}
	if !slices.Contains(targets, "User") {
		bad(msgExtensionOnlyUser)
		return
	}
	e.mu.Lock()
	full := extensionName(a.appID, name)
	if e.dir.extProps[strings.ToLower(full)] != nil {
		e.mu.Unlock()
		bad(msgExtensionExists, full)
		return
	}
	out := renderExtProp(e.dir.addExtProp(a, full, dataType, targets), nil)
	e.mu.Unlock()
	out["@odata.context"] = ctx + "/$entity"
	writeJSON(w, http.StatusCreated, out)
}
