package emulator

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/google/uuid"
)

// Cross-tenant access: other organizations' tenants, found by domain or tenant ID
// (tenantRelationships/findTenantInformationBy...), and the tenant's partner-specific
// configurations (policies/crossTenantAccessPolicy/partners), with their one effect on
// invitations the emulator reproduces: automatic redemption.
//
// Microsoft Learn pages this file follows:
//   - https://learn.microsoft.com/en-us/graph/api/tenantrelationship-findtenantinformationbydomainname?view=graph-rest-1.0
//   - https://learn.microsoft.com/en-us/graph/api/tenantrelationship-findtenantinformationbytenantid?view=graph-rest-1.0
//   - https://learn.microsoft.com/en-us/graph/api/resources/crosstenantaccesspolicyconfigurationpartner?view=graph-rest-1.0
//   - https://learn.microsoft.com/en-us/graph/api/crosstenantaccesspolicy-post-partners?view=graph-rest-1.0
//   - https://learn.microsoft.com/en-us/graph/api/crosstenantaccesspolicyconfigurationpartner-update?view=graph-rest-1.0
//   - https://learn.microsoft.com/en-us/entra/external-id/cross-tenant-access-overview#automatic-redemption-setting

// ExternalTenant is another organization's Microsoft Entra tenant, as the emulator's
// findTenantInformation functions know it and as invitations to its domains see it.
type ExternalTenant struct {
	TenantID      string `json:"tenantId"`
	DisplayName   string `json:"displayName"`
	DefaultDomain string `json:"defaultDomain"`
	// Domains are the tenant's verified domains; DefaultDomain counts as one too.
	Domains []string `json:"domains"`
	// AutomaticRedemptionOutbound is the partner's own half of automatic redemption: its
	// outbound setting for this tenant ("Automatically redeem invitations with the tenant").
	AutomaticRedemptionOutbound bool `json:"automaticRedemptionOutbound"`
}

// codePartnerConflict answers a POST of a partner configuration that exists already.
// ASSUMED: Microsoft documents no answer for the duplicate. The emulator answers 409 with the
// directory's duplicate-key code and an "already exists" message, so a client that keys on
// either the status or the message treats it as a duplicate.
const codePartnerConflict = "Request_MultipleObjectsWithSameKeyValue"

// msgInvalidProperty is how the cross-tenant access service refuses a property its type does
// not define (code Request_BadRequest), as observed in
// https://github.com/Microsoft365DSC/Microsoft365DSC/issues/6065 ("Invalid property
// 'b2BCollaborationInbound'"). The wording of the other 400s below is the emulator's own.
const msgInvalidProperty = "Invalid property '%s'."

type partnerRec struct {
	tenantID string
	ord      int64
	// props holds the settings the configuration sets, by property name, as validated JSON
	// values (maps, slices, strings, booleans); an absent or nil one is inherited from the
	// default configuration and rendered as null.
	props map[string]any
}

// partnerState is the emulator's cross-tenant access state; Emulator.mu guards it.
type partnerState struct {
	external []ExternalTenant
	partners map[string]*partnerRec // by lower-cased tenant ID
	ord      int64
}

func newPartnerState(tenants []ExternalTenant) partnerState {
	s := partnerState{partners: map[string]*partnerRec{}}
	for _, t := range tenants {
		s.addTenant(t)
	}
	return s
}

func (s *partnerState) addTenant(t ExternalTenant) ExternalTenant {
	if t.TenantID == "" {
		t.TenantID = newUUID()
	}
	if t.DefaultDomain == "" && len(t.Domains) > 0 {
		t.DefaultDomain = t.Domains[0]
	}
	t.Domains = slices.Clone(t.Domains)
	for i, old := range s.external {
		if strings.EqualFold(old.TenantID, t.TenantID) {
			s.external[i] = t
			return t
		}
	}
	s.external = append(s.external, t)
	return t
}

// AddExternalTenant makes another organization's tenant known (replacing one with the same
// tenant ID) and returns it; an empty TenantID is generated, an empty DefaultDomain is the
// first of Domains. Not logged, like the other out-of-band changes.
func (e *Emulator) AddExternalTenant(t ExternalTenant) ExternalTenant {
	e.mu.Lock()
	defer e.mu.Unlock()
	t = e.cta.addTenant(t)
	t.Domains = slices.Clone(t.Domains)
	return t
}

// tenantInfo is a tenant as tenantInformation describes it.
type tenantInfo struct{ id, displayName, defaultDomain string }

// findTenant looks a tenant up by domain or by ID, the emulator's own included. The caller
// holds e.mu.
func (e *Emulator) findTenant(domain, id string) (tenantInfo, bool) {
	own := tenantInfo{e.tenantID, e.opts.DisplayName, e.opts.DefaultDomain}
	if id != "" {
		if strings.EqualFold(id, e.tenantID) {
			return own, true
		}
		for _, t := range e.cta.external {
			if strings.EqualFold(t.TenantID, id) {
				return tenantInfo{t.TenantID, t.DisplayName, t.DefaultDomain}, true
			}
		}
		return tenantInfo{}, false
	}
	if containsFold(e.Domains(), domain) {
		return own, true
	}
	if t, ok := e.externalByDomain(domain); ok {
		return tenantInfo{t.TenantID, t.DisplayName, t.DefaultDomain}, true
	}
	return tenantInfo{}, false
}

func (e *Emulator) externalByDomain(domain string) (ExternalTenant, bool) {
	for _, t := range e.cta.external {
		if strings.EqualFold(t.DefaultDomain, domain) || containsFold(t.Domains, domain) {
			return t, true
		}
	}
	return ExternalTenant{}, false
}

// routeTenantRelationships serves GET /tenantRelationships/findTenantInformationByDomainName(domainName='...')
// and GET /tenantRelationships/findTenantInformationByTenantId(tenantId='...').
func (e *Emulator) routeTenantRelationships(w http.ResponseWriter, r *http.Request, segs []string) {
	if len(segs) != 1 {
		seg := "tenantRelationships"
		if len(segs) > 1 {
			seg = segs[1]
		}
		writeError(w, r, http.StatusNotFound, codeNotFound, fmt.Sprintf("Resource not found for the segment '%s'.", seg))
		return
	}
	var domain, id string
	var found bool
	var err error
	if domain, found, err = functionArg(segs[0], "findTenantInformationByDomainName", "domainName"); !found {
		id, found, err = functionArg(segs[0], "findTenantInformationByTenantId", "tenantId")
	}
	switch {
	case !found:
		writeError(w, r, http.StatusNotFound, codeNotFound, fmt.Sprintf("Resource not found for the segment '%s'.", segs[0]))
		return
	case r.Method != http.MethodGet:
		writeMethodNotAllowed(w, r)
		return
	case err != nil:
		writeError(w, r, http.StatusBadRequest, codeBadRequest, err.Error())
		return
	}
	e.mu.Lock()
	t, ok := e.findTenant(domain, id)
	e.mu.Unlock()
	if !ok {
		// ASSUMED: the function's page documents only the 200. An unknown domain or tenant
		// ID is answered as any missing resource: 404 Request_ResourceNotFound.
		key := domain
		if key == "" {
			key = id
		}
		writeError(w, r, http.StatusNotFound, codeNotFound, fmt.Sprintf("No tenant was found for '%s'.", key))
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"@odata.context":      baseURL(r) + "/v1.0/$metadata#microsoft.graph.tenantInformation",
		"tenantId":            t.id,
		"federationBrandName": nil,
		"displayName":         t.displayName,
		"defaultDomainName":   t.defaultDomain,
	})
}

// functionArg reads the one string parameter of a function segment such as
// findTenantInformationByDomainName(domainName='contoso.com'); names compare
// case-insensitively, as Graph's segments do. found says whether seg calls fn at all.
func functionArg(seg, fn, param string) (value string, found bool, err error) {
	lower := strings.ToLower(seg)
	if !strings.HasPrefix(lower, strings.ToLower(fn)+"(") || !strings.HasSuffix(seg, ")") {
		return "", false, nil
	}
	inner := seg[len(fn)+1 : len(seg)-1]
	bad := fmt.Errorf("The function '%s' needs the parameter %s='...' as a string literal.", fn, param)
	name, lit, ok := strings.Cut(inner, "=")
	if !ok || !strings.EqualFold(strings.TrimSpace(name), param) {
		return "", true, bad
	}
	lit = strings.TrimSpace(lit)
	if len(lit) < 2 || lit[0] != '\'' || lit[len(lit)-1] != '\'' {
		return "", true, bad
	}
	value = lit[1 : len(lit)-1]
	if strings.Count(value, "'")%2 != 0 {
		return "", true, bad
	}
	value = strings.ReplaceAll(value, "''", "'")
	if strings.TrimSpace(value) == "" {
		return "", true, bad
	}
	return value, true, nil
}

// Partner-specific configurations.

// partnerDefaults is every property of crossTenantAccessPolicyConfigurationPartner the
// emulator returns, with what an unset one reads as. automaticUserConsentSettings reads as an
// object of nulls, as in Microsoft's example on crosstenantaccesspolicyconfigurationpartner-get;
// isInMultiTenantOrganization is read-only and false (no multitenant organizations).
func partnerDefaults(tenantID string) map[string]any {
	return map[string]any{
		"tenantId":                     tenantID,
		"isServiceProvider":            nil,
		"isInMultiTenantOrganization":  false,
		"inboundTrust":                 nil,
		"automaticUserConsentSettings": map[string]any{"inboundAllowed": nil, "outboundAllowed": nil},
		"b2bCollaborationInbound":      nil,
		"b2bCollaborationOutbound":     nil,
		"b2bDirectConnectInbound":      nil,
		"b2bDirectConnectOutbound":     nil,
		"tenantRestrictions":           nil,
	}
}

func renderPartner(p *partnerRec) map[string]any {
	m := partnerDefaults(p.tenantID)
	for k, v := range p.props {
		if v != nil {
			m[k] = cloneJSON(v)
		}
	}
	return m
}

// cloneJSON deep-copies a value built from maps, slices and primitives.
func cloneJSON(v any) any {
	switch t := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, x := range t {
			out[k] = cloneJSON(x)
		}
		return out
	case []any:
		out := make([]any, len(t))
		for i, x := range t {
			out[i] = cloneJSON(x)
		}
		return out
	}
	return v
}

// reader validates one JSON value of a partner configuration and returns what is stored.
type reader func(name string, v *jsonValue) (any, error)

func partnerBadRequest(format string, args ...any) error { return bodyErrorf(format, args...) }

func readBool(name string, v *jsonValue) (any, error) {
	switch v.kind {
	case 'n':
		return nil, nil
	case 'b':
		return string(v.raw) == "true", nil
	}
	return nil, partnerBadRequest("Invalid value %s for property '%s': a Boolean is expected.", v.raw, name)
}

func readString(name string, v *jsonValue) (string, bool, error) {
	switch v.kind {
	case 'n':
		return "", false, nil
	case '"':
		return v.literal(), true, nil
	}
	return "", false, partnerBadRequest("Invalid value %s for property '%s': a String is expected.", v.raw, name)
}

// objectOrNull reports a null value, and refuses one that is neither null nor an object.
func objectOrNull(name string, v *jsonValue) (bool, error) {
	switch v.kind {
	case 'n':
		return true, nil
	case '{':
		return false, nil
	}
	return false, partnerBadRequest("Invalid value for property '%s': an object is expected.", name)
}

// readObject reads a complex value with the given members; every member is present in the
// result (nil for one not given), so a complex property is replaced whole.
func readObject(fields map[string]reader) reader {
	return func(name string, v *jsonValue) (any, error) {
		if null, err := objectOrNull(name, v); null || err != nil {
			return nil, err
		}
		out := make(map[string]any, len(fields))
		for k := range fields {
			out[k] = nil
		}
		for _, k := range v.keys {
			if strings.Contains(k, "@") {
				continue // instance and property annotations, e.g. the SDK's @odata.type
			}
			read, ok := fields[k]
			if !ok {
				return nil, partnerBadRequest(msgInvalidProperty, k)
			}
			val, err := read(k, v.members[k])
			if err != nil {
				return nil, err
			}
			out[k] = val
		}
		return out, nil
	}
}

// accessTypes and targetTypes are the values Graph defines for
// crossTenantAccessPolicyTargetConfiguration.accessType and crossTenantAccessPolicyTarget.targetType
// (unknownFutureValue is a sentinel, not a value a client sends).
var (
	accessTypes = []string{"allowed", "blocked"}
	targetTypes = []string{"user", "group", "application"}
)

// readTargetConfiguration reads a crossTenantAccessPolicyTargetConfiguration whose targets
// may be of the given types: users and groups under usersAndGroups, applications under
// applications. ASSUMED: Graph refuses a target of the other kind (the portal reports
// "Found invalid target for Applications", MicrosoftDocs/entra-docs#111); its wording is not
// documented.
func readTargetConfiguration(allowed ...string) reader {
	return func(name string, v *jsonValue) (any, error) {
		if null, err := objectOrNull(name, v); null || err != nil {
			return nil, err
		}
		out := map[string]any{"accessType": nil, "targets": []any{}}
		for _, k := range v.keys {
			m := v.members[k]
			switch {
			case strings.Contains(k, "@"):
			case k == "accessType":
				s, ok, err := readString(k, m)
				if err != nil {
					return nil, err
				}
				if ok && !slices.Contains(accessTypes, s) {
					return nil, partnerBadRequest("Invalid value '%s' for property 'accessType': must be allowed or blocked.", s)
				}
				if ok {
					out["accessType"] = s
				}
			case k == "targets":
				targets, err := readTargets(name, m, allowed)
				if err != nil {
					return nil, err
				}
				out["targets"] = targets
			default:
				return nil, partnerBadRequest(msgInvalidProperty, k)
			}
		}
		return out, nil
	}
}

func readTargets(owner string, v *jsonValue, allowed []string) ([]any, error) {
	switch v.kind {
	case 'n':
		return []any{}, nil
	case '[':
	default:
		return nil, partnerBadRequest("Invalid value for property 'targets': an array is expected.")
	}
	out := make([]any, 0, len(v.elems))
	for _, el := range v.elems {
		if el.kind != '{' {
			return nil, partnerBadRequest("Invalid value for property 'targets': an array of objects is expected.")
		}
		t := map[string]any{"target": nil, "targetType": nil}
		for _, k := range el.keys {
			if strings.Contains(k, "@") {
				continue
			}
			if k != "target" && k != "targetType" {
				return nil, partnerBadRequest(msgInvalidProperty, k)
			}
			s, ok, err := readString(k, el.members[k])
			if err != nil {
				return nil, err
			}
			if ok {
				t[k] = s
			}
		}
		tt, _ := t["targetType"].(string)
		switch {
		case tt != "" && !slices.Contains(targetTypes, tt):
			return nil, partnerBadRequest("Invalid value '%s' for property 'targetType': must be user, group or application.", tt)
		case tt != "" && !slices.Contains(allowed, tt):
			return nil, partnerBadRequest("Invalid target of type '%s' in '%s'.", tt, owner)
		case t["target"] == nil || strings.TrimSpace(t["target"].(string)) == "":
			return nil, partnerBadRequest("Missing required property 'target' in '%s'.", owner)
		}
		out = append(out, t)
	}
	return out, nil
}

// readB2BSetting reads a crossTenantAccessPolicyB2BSetting. Either member may be given
// alone: Microsoft's example on crosstenantaccesspolicy-post-partners creates a
// configuration whose b2bDirectConnectOutbound has usersAndGroups only and whose
// b2bDirectConnectInbound has applications only, and the answer echoes them.
var readB2BSetting = readObject(map[string]reader{
	"usersAndGroups": readTargetConfiguration("user", "group"),
	"applications":   readTargetConfiguration("application"),
})

// partnerReaders are the settable properties of crossTenantAccessPolicyConfigurationPartner.
var partnerReaders = map[string]reader{
	"isServiceProvider": readBool,
	"inboundTrust": readObject(map[string]reader{
		"isMfaAccepted": readBool, "isCompliantDeviceAccepted": readBool, "isHybridAzureADJoinedDeviceAccepted": readBool,
	}),
	"automaticUserConsentSettings": readObject(map[string]reader{"inboundAllowed": readBool, "outboundAllowed": readBool}),
	"b2bCollaborationInbound":      readB2BSetting,
	"b2bCollaborationOutbound":     readB2BSetting,
	"b2bDirectConnectInbound":      readB2BSetting,
	"b2bDirectConnectOutbound":     readB2BSetting,
}

// partnerIgnored are properties of the type the emulator accepts and does not keep: tenant
// restrictions, the read-only multitenant organization flag and the identity
// synchronization navigation.
var partnerIgnored = []string{"tenantRestrictions", "isInMultiTenantOrganization", "identitySynchronization"}

// readPartner validates a partner configuration body. It returns the settings the body
// gives (a property present replaces that property whole; null resets it to the default)
// and the tenantId when the body names one.
func readPartner(body []byte) (props map[string]any, tenantID string, hasTenantID bool, err error) {
	if len(strings.TrimSpace(string(body))) == 0 {
		return nil, "", false, errors.New(emptyPayload)
	}
	if !json.Valid(body) {
		return nil, "", false, errors.New(msgInvalidJSON)
	}
	v, err := parseJSON(body)
	if err != nil {
		var be *bodyError
		if errors.As(err, &be) {
			return nil, "", false, be
		}
		return nil, "", false, errors.New(msgInvalidJSON)
	}
	if v.kind != '{' {
		return nil, "", false, errors.New(msgInvalidJSON)
	}
	props = map[string]any{}
	for _, k := range v.keys {
		m := v.members[k]
		switch {
		case strings.Contains(k, "@"):
			continue
		case k == "tenantId":
			s, ok, err := readString(k, m)
			if err != nil {
				return nil, "", false, err
			}
			tenantID, hasTenantID = s, ok
			continue
		case slices.Contains(partnerIgnored, k):
			continue
		}
		read, ok := partnerReaders[k]
		if !ok {
			return nil, "", false, partnerBadRequest(msgInvalidProperty, k)
		}
		val, err := read(k, m)
		if err != nil {
			return nil, "", false, err
		}
		props[k] = val
	}
	return props, tenantID, hasTenantID, nil
}

func validTenantID(s string) bool {
	_, err := uuid.Parse(s)
	return err == nil && len(s) == 36
}

// routePartners serves /policies/crossTenantAccessPolicy/partners and
// /policies/crossTenantAccessPolicy/partners/{tenantId}; segs is what follows "partners".
func (e *Emulator) routePartners(w http.ResponseWriter, r *http.Request, segs []string, body []byte) {
	switch {
	case len(segs) == 0 && r.Method == http.MethodGet:
		e.listPartners(w, r)
	case len(segs) == 0 && r.Method == http.MethodPost:
		e.createPartner(w, r, body)
	case len(segs) == 1 && r.Method == http.MethodGet:
		e.getPartner(w, r, segs[0])
	case len(segs) == 1 && r.Method == http.MethodPatch:
		e.patchPartner(w, r, segs[0], body)
	case len(segs) == 1 && r.Method == http.MethodDelete:
		e.deletePartner(w, r, segs[0])
	case len(segs) > 1:
		writeError(w, r, http.StatusNotFound, codeNotFound, fmt.Sprintf("Resource not found for the segment '%s'.", segs[1]))
	default:
		writeMethodNotAllowed(w, r)
	}
}

const partnersContext = "/v1.0/$metadata#policies/crossTenantAccessPolicy/partners"

func (e *Emulator) listPartners(w http.ResponseWriter, r *http.Request) {
	e.mu.Lock()
	recs := make([]*partnerRec, 0, len(e.cta.partners))
	for _, p := range e.cta.partners {
		recs = append(recs, p)
	}
	sortByOrd(recs, func(p *partnerRec) int64 { return p.ord })
	out := make([]map[string]any, len(recs))
	for i, p := range recs {
		out[i] = renderPartner(p)
	}
	e.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"@odata.context": baseURL(r) + partnersContext, "value": out})
}

func (e *Emulator) getPartner(w http.ResponseWriter, r *http.Request, key string) {
	e.mu.Lock()
	p := e.cta.partners[strings.ToLower(key)]
	var m map[string]any
	if p != nil {
		m = renderPartner(p)
	}
	e.mu.Unlock()
	if m == nil {
		// ASSUMED: the get page documents only the 200; a tenant without a configuration is
		// answered as any missing resource.
		writeNotFound(w, r, key)
		return
	}
	m["@odata.context"] = baseURL(r) + partnersContext + "/$entity"
	writeJSON(w, http.StatusOK, m)
}

// createPartner serves POST .../partners: 201 with the configuration
// (crosstenantaccesspolicy-post-partners).
func (e *Emulator) createPartner(w http.ResponseWriter, r *http.Request, body []byte) {
	props, tenantID, _, err := readPartner(body)
	switch {
	case err != nil:
		writeError(w, r, http.StatusBadRequest, codeRequestBadRequest, err.Error())
		return
	case strings.TrimSpace(tenantID) == "":
		writeError(w, r, http.StatusBadRequest, codeRequestBadRequest, "Missing required property: tenantId.")
		return
	case !validTenantID(tenantID):
		writeError(w, r, http.StatusBadRequest, codeRequestBadRequest,
			fmt.Sprintf("Invalid value '%s' for property 'tenantId': a tenant ID (GUID) is expected.", tenantID))
		return
	}
	tenantID = strings.ToLower(tenantID)
	e.mu.Lock()
	if e.cta.partners[tenantID] != nil {
		e.mu.Unlock()
		writeError(w, r, http.StatusConflict, codePartnerConflict,
			fmt.Sprintf("Another object with the same value for property tenantId already exists: a partner configuration for tenant '%s'.", tenantID))
		return
	}
	e.cta.ord++
	p := &partnerRec{tenantID: tenantID, ord: e.cta.ord, props: props}
	e.cta.partners[tenantID] = p
	m := renderPartner(p)
	e.mu.Unlock()
	m["@odata.context"] = baseURL(r) + partnersContext + "/$entity"
	writeJSON(w, http.StatusCreated, m)
}

// patchPartner serves PATCH .../partners/{tenantId}: 204; the properties the body gives
// replace the stored ones whole, the others stay (crosstenantaccesspolicyconfigurationpartner-update).
func (e *Emulator) patchPartner(w http.ResponseWriter, r *http.Request, key string, body []byte) {
	props, tenantID, hasTenantID, err := readPartner(body)
	if err == nil && hasTenantID && !strings.EqualFold(tenantID, key) {
		// ASSUMED: tenantId is the key and read-only; the emulator refuses to change it.
		err = partnerBadRequest("Property 'tenantId' is read-only and cannot be changed.")
	}
	if err != nil {
		writeError(w, r, http.StatusBadRequest, codeRequestBadRequest, err.Error())
		return
	}
	e.mu.Lock()
	p := e.cta.partners[strings.ToLower(key)]
	if p != nil {
		for k, v := range props {
			p.props[k] = v
		}
	}
	e.mu.Unlock()
	if p == nil {
		writeNotFound(w, r, key)
		return
	}
	writeNoContent(w)
}

func (e *Emulator) deletePartner(w http.ResponseWriter, r *http.Request, key string) {
	e.mu.Lock()
	p := e.cta.partners[strings.ToLower(key)]
	delete(e.cta.partners, strings.ToLower(key))
	e.mu.Unlock()
	if p == nil {
		writeNotFound(w, r, key)
		return
	}
	writeNoContent(w)
}

// Partner returns the stored partner configuration for a tenant as GET would return it
// (without @odata.context), regardless of permissions; false when there is none. The map is
// a copy.
func (e *Emulator) Partner(tenantID string) (map[string]any, bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	p := e.cta.partners[strings.ToLower(tenantID)]
	if p == nil {
		return nil, false
	}
	return renderPartner(p), true
}

// Partners returns the tenant IDs that have a partner configuration, in creation order.
func (e *Emulator) Partners() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	recs := make([]*partnerRec, 0, len(e.cta.partners))
	for _, p := range e.cta.partners {
		recs = append(recs, p)
	}
	sortByOrd(recs, func(p *partnerRec) int64 { return p.ord })
	out := make([]string, len(recs))
	for i, p := range recs {
		out[i] = p.tenantID
	}
	return out
}

// PatchPartner changes a partner configuration as an administrator in the portal would:
// jsonPatch is a PATCH body, validated as Graph validates one, applied without a permission
// check and without showing up in the request log. A configuration that does not exist yet
// is created, as adding the organization in the portal does.
func (e *Emulator) PatchPartner(tenantID, jsonPatch string) error {
	if !validTenantID(tenantID) {
		return fmt.Errorf("emulator: %q is not a tenant ID", tenantID)
	}
	props, bodyTenant, has, err := readPartner([]byte(jsonPatch))
	if err != nil {
		return fmt.Errorf("emulator: partner patch: %w", err)
	}
	if has && !strings.EqualFold(bodyTenant, tenantID) {
		return fmt.Errorf("emulator: partner patch names tenant %q, not %q", bodyTenant, tenantID)
	}
	key := strings.ToLower(tenantID)
	e.mu.Lock()
	defer e.mu.Unlock()
	p := e.cta.partners[key]
	if p == nil {
		e.cta.ord++
		p = &partnerRec{tenantID: key, ord: e.cta.ord, props: map[string]any{}}
		e.cta.partners[key] = p
	}
	for k, v := range props {
		p.props[k] = v
	}
	return nil
}

// DeletePartnerOutOfBand removes a partner configuration as a portal administrator would.
func (e *Emulator) DeletePartnerOutOfBand(tenantID string) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	key := strings.ToLower(tenantID)
	if e.cta.partners[key] == nil {
		return fmt.Errorf("emulator: no partner configuration for tenant %q", tenantID)
	}
	delete(e.cta.partners, key)
	return nil
}

// automaticRedemption reports whether an invitation of address is redeemed at once: the
// address's domain belongs to a known tenant whose outbound automatic redemption is on, and
// this tenant's partner configuration for it allows it inbound. Microsoft documents that the
// setting suppresses the consent prompt and the invitation mail only when both tenants check
// it (https://learn.microsoft.com/en-us/entra/external-id/cross-tenant-access-overview#automatic-redemption-setting).
// The caller holds e.mu.
func (e *Emulator) automaticRedemption(address string) bool {
	at := strings.LastIndexByte(address, '@')
	if at < 0 {
		return false
	}
	t, ok := e.externalByDomain(address[at+1:])
	if !ok || !t.AutomaticRedemptionOutbound {
		return false
	}
	p := e.cta.partners[strings.ToLower(t.TenantID)]
	if p == nil {
		return false
	}
	consent, _ := p.props["automaticUserConsentSettings"].(map[string]any)
	inbound, _ := consent["inboundAllowed"].(bool)
	return inbound
}
