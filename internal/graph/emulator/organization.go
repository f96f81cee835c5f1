package emulator

import (
	"fmt"
	"net/http"
	"strings"
)

// orgPropNames are the organization properties the emulator serves, in the order of
// Microsoft's example (organization-list), all of them without $select as on Graph.
var orgPropNames = []string{
	"id", "deletedDateTime", "businessPhones", "city", "country", "countryLetterCode",
	"createdDateTime", "defaultUsageLocation", "displayName", "marketingNotificationEmails",
	"onPremisesLastSyncDateTime", "onPremisesSyncEnabled", "partnerTenantType", "postalCode",
	"preferredLanguage", "securityComplianceNotificationMails",
	"securityComplianceNotificationPhones", "state", "street", "technicalNotificationMails",
	"tenantType", "assignedPlans", "privacyProfile", "provisionedPlans", "verifiedDomains",
}

var orgProps = canonicalNames(orgPropNames...)

// renderOrganization renders the tenant's organization object with the properties sel names;
// id always, as Graph returns a directory object's key whatever $select says.
func (e *Emulator) renderOrganization(sel []string) map[string]any {
	m := make(map[string]any, len(sel)+1)
	for _, p := range sel {
		switch p {
		case "displayName":
			m[p] = e.opts.DisplayName
		case "createdDateTime":
			m[p] = formatTime(e.created)
		case "preferredLanguage":
			m[p] = "en"
		case "tenantType":
			m[p] = "AAD"
		case "verifiedDomains":
			m[p] = e.renderVerifiedDomains()
		case "businessPhones", "marketingNotificationEmails", "securityComplianceNotificationMails",
			"securityComplianceNotificationPhones", "technicalNotificationMails", "assignedPlans", "provisionedPlans":
			m[p] = []any{}
		default:
			m[p] = nil
		}
	}
	m["id"] = e.tenantID
	return m
}

// renderVerifiedDomains lists the initial domain first, then the others; the default one is
// Options.DefaultDomain.
func (e *Emulator) renderVerifiedDomains() []map[string]any {
	out := []map[string]any{}
	for i, d := range e.Domains() {
		out = append(out, map[string]any{
			"name":         d,
			"isDefault":    strings.EqualFold(d, e.opts.DefaultDomain),
			"isInitial":    i == 0,
			"type":         "Managed",
			"capabilities": "Email, OfficeCommunicationsOnline",
		})
	}
	return out
}

// routeOrganization serves GET /organization (a collection of the one tenant) and
// GET /organization/{id}. Updating the organization is not emulated.
func (e *Emulator) routeOrganization(w http.ResponseWriter, r *http.Request, segs []string) {
	switch {
	case len(segs) > 1:
		writeError(w, r, http.StatusNotFound, codeNotFound,
			fmt.Sprintf("Resource not found for the segment '%s'.", segs[1]))
		return
	case r.Method != http.MethodGet:
		writeMethodNotAllowed(w, r)
		return
	case len(segs) == 1 && !strings.EqualFold(segs[0], e.tenantID):
		writeNotFound(w, r, segs[0])
		return
	}
	sel, err := parseSelect(r.URL.Query().Get("$select"), orgProps, "organization", orgPropNames)
	if err != nil {
		writeError(w, r, http.StatusBadRequest, codeBadRequest, err.Error())
		return
	}
	ctx := baseURL(r) + "/v1.0/$metadata#organization"
	if strings.TrimSpace(r.URL.Query().Get("$select")) != "" {
		ctx += "(" + strings.Join(sel, ",") + ")"
	}
	org := e.renderOrganization(sel)
	if len(segs) == 1 {
		org["@odata.context"] = ctx + "/$entity"
		writeJSON(w, http.StatusOK, org)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"@odata.context": ctx, "value": []map[string]any{org}})
}
