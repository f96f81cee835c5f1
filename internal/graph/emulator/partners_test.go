package emulator_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/microsoftgraph/msgraph-sdk-go/models"

	"github.com/partnerops/partner-operator/internal/graph/emulator"
	"github.com/partnerops/partner-operator/internal/graph/emulator/conformance"
)

// Microsoft Learn pages of the cross-tenant access cases (v1.0).
const (
	learnAPI          = "https://learn.microsoft.com/en-us/graph/api/"
	docFindByDomain   = learnAPI + "tenantrelationship-findtenantinformationbydomainname?view=graph-rest-1.0"
	docFindByTenantID = learnAPI + "tenantrelationship-findtenantinformationbytenantid?view=graph-rest-1.0"
	docPartner        = learnAPI + "resources/crosstenantaccesspolicyconfigurationpartner?view=graph-rest-1.0"
	docPartnerPost    = learnAPI + "crosstenantaccesspolicy-post-partners?view=graph-rest-1.0"
	docPartnerList    = learnAPI + "crosstenantaccesspolicy-list-partners?view=graph-rest-1.0"
	docPartnerGet     = learnAPI + "crosstenantaccesspolicyconfigurationpartner-get?view=graph-rest-1.0"
	docPartnerUpdate  = learnAPI + "crosstenantaccesspolicyconfigurationpartner-update?view=graph-rest-1.0"
	docPartnerDelete  = learnAPI + "crosstenantaccesspolicyconfigurationpartner-delete?view=graph-rest-1.0"
	docTargetConfig   = learnAPI + "resources/crosstenantaccesspolicytargetconfiguration?view=graph-rest-1.0"
	docTarget         = learnAPI + "resources/crosstenantaccesspolicytarget?view=graph-rest-1.0"
	docAutoRedemption = "https://learn.microsoft.com/en-us/entra/external-id/cross-tenant-access-overview#automatic-redemption-setting"

	// Where this service's "Invalid property" answer was seen (Microsoft does not document it).
	seenInvalidProperty = "https://github.com/Microsoft365DSC/Microsoft365DSC/issues/6065"
)

// The partner organization of the cases: Contoso's tenant (Microsoft's example tenant ID on
// crosstenantaccesspolicy-post-partners) and a second one without a configuration.
const (
	contosoTenant  = "3d0f5dec-5d3d-455c-8016-e2af1ae4d31a"
	woodgroveID    = "9c5d131d-b1c3-4fc4-9e3f-c6557947d551"
	fabrikamTenant = "90e29127-71ad-49c7-9ce8-db3f41ea06f1"
	partnersPath   = "/policies/crossTenantAccessPolicy/partners"
	contosoPartner = partnersPath + "/" + contosoTenant
)

var contoso = emulator.ExternalTenant{
	TenantID: contosoTenant, DisplayName: "Contoso, Ltd", DefaultDomain: "contoso.onmicrosoft.com",
	Domains: []string{"contoso.com", "contoso.onmicrosoft.com"}, AutomaticRedemptionOutbound: true,
}

// withContoso makes Contoso known and gives it a partner configuration; with grant, the app
// holds only those permissions.
func withContoso(grant ...string) func(*emulator.Emulator, conformance.Vars) error {
	return func(e *emulator.Emulator, v conformance.Vars) error {
		e.AddExternalTenant(contoso)
		e.AddExternalTenant(emulator.ExternalTenant{TenantID: woodgroveID, DisplayName: "Woodgrove", Domains: []string{"woodgrove.com"}})
		v["contoso"], v["woodgrove"] = contosoTenant, woodgroveID
		if err := e.PatchPartner(contosoTenant, `{"inboundTrust":{"isMfaAccepted":true},"automaticUserConsentSettings":{"inboundAllowed":true}}`); err != nil {
			return err
		}
		if len(grant) > 0 {
			e.SetGrantedPermissions(grant...)
		}
		return nil
	}
}

const exampleTargets = `"b2bDirectConnectOutbound":{"usersAndGroups":{"accessType":"blocked","targets":[{"target":"6f546279-4da5-4b53-a095-09ea0cef9971","targetType":"group"}]}},` +
	`"b2bDirectConnectInbound":{"applications":{"accessType":"allowed","targets":[{"target":"Office365","targetType":"application"}]}}`

var partnerProps = []string{"tenantId", "inboundTrust", "automaticUserConsentSettings", "b2bCollaborationInbound",
	"b2bCollaborationOutbound", "b2bDirectConnectInbound", "b2bDirectConnectOutbound", "isServiceProvider"}

// partnerCases are the cross-tenant access behaviours, in the conformance table's form; each
// names the page it comes from (a case marked ASSUMED follows no page but the emulator's own
// choice, which partners.go explains).
var partnerCases = []conformance.Case{
	// GET /tenantRelationships/findTenantInformationByDomainName(domainName='...')
	{
		Name: "find a tenant by domain", Doc: docFindByDomain, Setup: withContoso(),
		Method: http.MethodGet, Path: "/tenantRelationships/findTenantInformationByDomainName(domainName='contoso.com')",
		Want: conformance.Want{Status: http.StatusOK, Model: models.CreateTenantInformationFromDiscriminatorValue,
			Has: []string{"@odata.context", "federationBrandName"},
			Equal: map[string]string{"tenantId": "{contoso}", "displayName": "Contoso, Ltd",
				"defaultDomainName": "contoso.onmicrosoft.com"}},
	},
	{
		Name: "find a tenant by a domain in another case", Doc: docFindByDomain, Setup: withContoso(),
		Method: http.MethodGet, Path: "/tenantRelationships/findTenantInformationByDomainName(domainName='CONTOSO.com')",
		Want: conformance.Want{Status: http.StatusOK, Equal: map[string]string{"tenantId": "{contoso}"}},
	},
	{
		Name: "find the tenant itself by its domain", Doc: docFindByDomain,
		Method: http.MethodGet, Path: "/tenantRelationships/findTenantInformationByDomainName(domainName='" + emulator.TenantDomain + "')",
		Want: conformance.Want{Status: http.StatusOK, Model: models.CreateTenantInformationFromDiscriminatorValue,
			Equal: map[string]string{"tenantId": "{tenant}"}},
	},
	{
		// ASSUMED: the page documents only the 200.
		Name: "find a tenant by an unknown domain", Doc: docFindByDomain, Setup: withContoso(),
		Method: http.MethodGet, Path: "/tenantRelationships/findTenantInformationByDomainName(domainName='nowhere.example')",
		Want: conformance.Want{Status: http.StatusNotFound, Code: "Request_ResourceNotFound", Message: "nowhere.example"},
	},
	{
		Name: "find a tenant by tenant ID", Doc: docFindByTenantID, Setup: withContoso(),
		Method: http.MethodGet, Path: "/tenantRelationships/findTenantInformationByTenantId(tenantId='{woodgrove}')",
		Want: conformance.Want{Status: http.StatusOK, Model: models.CreateTenantInformationFromDiscriminatorValue,
			Equal: map[string]string{"tenantId": "{woodgrove}", "defaultDomainName": "woodgrove.com"}},
	},
	{
		Name: "find a tenant without CrossTenantInformation.ReadBasic.All", Doc: docFindByDomain,
		Setup:  withContoso("Policy.ReadWrite.CrossTenantAccess", "Directory.Read.All"),
		Method: http.MethodGet, Path: "/tenantRelationships/findTenantInformationByDomainName(domainName='contoso.com')",
		Want: conformance.Want{Status: http.StatusForbidden, Code: "Authorization_RequestDenied", Message: "Insufficient privileges"},
	},

	// POST /policies/crossTenantAccessPolicy/partners
	{
		Name: "create a partner configuration", Doc: docPartnerPost, Setup: withContoso(),
		Method: http.MethodPost, Path: partnersPath,
		Body: `{"tenantId":"{woodgrove}",` + exampleTargets + `}`,
		Want: conformance.Want{Status: http.StatusCreated, Model: models.CreateCrossTenantAccessPolicyConfigurationPartnerFromDiscriminatorValue,
			Has: partnerProps, Equal: map[string]string{"tenantId": "{woodgrove}", "inboundTrust": "<nil>", "b2bCollaborationInbound": "<nil>"}},
	},
	{
		// ASSUMED: Microsoft documents no answer for a duplicate.
		Name: "create a partner configuration that exists", Doc: docPartnerPost, Setup: withContoso(),
		Method: http.MethodPost, Path: partnersPath, Body: `{"tenantId":"{contoso}"}`,
		Want: conformance.Want{Status: http.StatusConflict, Code: "Request_MultipleObjectsWithSameKeyValue", Message: "already exists"},
	},
	{
		Name: "create a partner configuration without tenantId", Doc: docPartnerPost,
		Method: http.MethodPost, Path: partnersPath, Body: `{"inboundTrust":{"isMfaAccepted":true}}`,
		Want: conformance.Want{Status: http.StatusBadRequest, Code: "Request_BadRequest", Message: "tenantId"},
	},
	{
		Name: "create a partner configuration whose tenantId is no GUID", Doc: docPartner,
		Method: http.MethodPost, Path: partnersPath, Body: `{"tenantId":"contoso.com"}`,
		Want: conformance.Want{Status: http.StatusBadRequest, Code: "Request_BadRequest", Message: "tenantId"},
	},
	{
		Name: "create a partner configuration with an unknown accessType", Doc: docTargetConfig,
		Method: http.MethodPost, Path: partnersPath,
		Body: `{"tenantId":"{missing}","b2bCollaborationInbound":{"usersAndGroups":{"accessType":"maybe","targets":[{"target":"AllUsers","targetType":"user"}]}}}`,
		Want: conformance.Want{Status: http.StatusBadRequest, Code: "Request_BadRequest", Message: "accessType"},
	},
	{
		Name: "create a partner configuration with an unknown targetType", Doc: docTarget,
		Method: http.MethodPost, Path: partnersPath,
		Body: `{"tenantId":"{missing}","b2bCollaborationInbound":{"usersAndGroups":{"accessType":"allowed","targets":[{"target":"AllUsers","targetType":"device"}]}}}`,
		Want: conformance.Want{Status: http.StatusBadRequest, Code: "Request_BadRequest", Message: "targetType"},
	},
	{
		Name: "create a partner configuration with a property Graph does not define", Doc: docPartner, Observed: seenInvalidProperty,
		Method: http.MethodPost, Path: partnersPath, Body: `{"tenantId":"{missing}","b2BCollaborationInbound":null}`,
		Want: conformance.Want{Status: http.StatusBadRequest, Code: "Request_BadRequest", Message: "Invalid property 'b2BCollaborationInbound'"},
	},
	{
		Name: "create a partner configuration without Policy.ReadWrite.CrossTenantAccess", Doc: docPartnerPost,
		Setup:  withContoso("Policy.Read.All", "CrossTenantInformation.ReadBasic.All"),
		Method: http.MethodPost, Path: partnersPath, Body: `{"tenantId":"{woodgrove}"}`,
		Want: conformance.Want{Status: http.StatusForbidden, Code: "Authorization_RequestDenied", Message: "Insufficient privileges"},
	},

	// GET /policies/crossTenantAccessPolicy/partners[/{tenantId}]
	{
		Name: "list partner configurations", Doc: docPartnerList, Setup: withContoso(),
		Method: http.MethodGet, Path: partnersPath,
		Want: conformance.Want{Status: http.StatusOK, Model: models.CreateCrossTenantAccessPolicyConfigurationPartnerCollectionResponseFromDiscriminatorValue,
			ItemHas: partnerProps},
	},
	{
		Name: "get a partner configuration", Doc: docPartnerGet, Setup: withContoso(),
		Method: http.MethodGet, Path: partnersPath + "/{contoso}",
		Want: conformance.Want{Status: http.StatusOK, Model: models.CreateCrossTenantAccessPolicyConfigurationPartnerFromDiscriminatorValue,
			Has: partnerProps, Equal: map[string]string{"tenantId": "{contoso}", "b2bDirectConnectInbound": "<nil>"}},
	},
	{
		Name: "get a partner configuration with the higher-privileged permission", Doc: docPartnerGet,
		Setup:  withContoso("Policy.ReadWrite.CrossTenantAccess"),
		Method: http.MethodGet, Path: partnersPath + "/{contoso}",
		Want: conformance.Want{Status: http.StatusOK, Equal: map[string]string{"tenantId": "{contoso}"}},
	},
	{
		Name: "get a partner configuration without Policy.Read.All", Doc: docPartnerGet,
		Setup:  withContoso("CrossTenantInformation.ReadBasic.All"),
		Method: http.MethodGet, Path: partnersPath + "/{contoso}",
		Want: conformance.Want{Status: http.StatusForbidden, Code: "Authorization_RequestDenied", Message: "Insufficient privileges"},
	},
	{
		// ASSUMED: the page documents only the 200.
		Name: "get a partner configuration that does not exist", Doc: docPartnerGet, Setup: withContoso(),
		Method: http.MethodGet, Path: partnersPath + "/{woodgrove}",
		Want: conformance.Want{Status: http.StatusNotFound, Code: "Request_ResourceNotFound", Message: "{woodgrove}"},
	},

	// PATCH and DELETE /policies/crossTenantAccessPolicy/partners/{tenantId}
	{
		Name: "update a partner configuration", Doc: docPartnerUpdate, Setup: withContoso(),
		Method: http.MethodPatch, Path: partnersPath + "/{contoso}",
		Body: `{"automaticUserConsentSettings":{"inboundAllowed":true,"outboundAllowed":true}}`,
		Want: conformance.Want{Status: http.StatusNoContent},
	},
	{
		Name: "update a partner configuration that does not exist", Doc: docPartnerUpdate, Setup: withContoso(),
		Method: http.MethodPatch, Path: partnersPath + "/{woodgrove}", Body: `{"inboundTrust":null}`,
		Want: conformance.Want{Status: http.StatusNotFound, Code: "Request_ResourceNotFound"},
	},
	{
		Name: "delete a partner configuration", Doc: docPartnerDelete, Setup: withContoso(),
		Method: http.MethodDelete, Path: partnersPath + "/{contoso}",
		Want: conformance.Want{Status: http.StatusNoContent},
	},
	{
		Name: "delete a partner configuration that does not exist", Doc: docPartnerDelete, Setup: withContoso(),
		Method: http.MethodDelete, Path: partnersPath + "/{woodgrove}",
		Want: conformance.Want{Status: http.StatusNotFound, Code: "Request_ResourceNotFound"},
	},

	// Automatic redemption: both tenants check it, the guest is redeemed at once.
	{
		Name: "invite a guest of a partner with automatic redemption", Doc: docAutoRedemption, Setup: withContoso(),
		Method: http.MethodPost, Path: "/invitations",
		Body: `{"invitedUserEmailAddress":"kim@contoso.com","inviteRedirectUrl":"https://myapps.microsoft.com"}`,
		Want: conformance.Want{Status: http.StatusCreated, Model: models.CreateInvitationFromDiscriminatorValue,
			Equal: map[string]string{"status": "Completed"}},
	},
	{
		Name: "invite a guest of a partner without automatic redemption", Doc: docAutoRedemption, Setup: withContoso(),
		Method: http.MethodPost, Path: "/invitations",
		Body: `{"invitedUserEmailAddress":"kim@woodgrove.com","inviteRedirectUrl":"https://myapps.microsoft.com"}`,
		Want: conformance.Want{Status: http.StatusCreated, Equal: map[string]string{"status": "PendingAcceptance"}},
	},
}

// TestPartnerConformance runs the cross-tenant access cases over plain HTTP the way
// TestConformance runs the shared table; each error case names Graph's code.
func TestPartnerConformance(t *testing.T) {
	for _, c := range partnerCases {
		if c.Want.Status >= 400 && c.Want.Code == "" {
			t.Errorf("case %q is incomplete: no code", c.Name)
		}
	}
	runHTTPCases(t, partnerCases)
}

// partnerHarness is an emulator behind an httptest server with a fixed clock.
type partnerHarness struct {
	t   *testing.T
	e   *emulator.Emulator
	srv *httptest.Server
	now time.Time
}

func newPartnerHarness(t *testing.T, opts emulator.Options) *partnerHarness {
	t.Helper()
	h := &partnerHarness{t: t, now: time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)}
	opts.Now = func() time.Time { return h.now }
	h.e = emulator.New(opts)
	h.srv = httptest.NewServer(h.e.Handler())
	t.Cleanup(h.srv.Close)
	return h
}

// do sends a request to path (after the server root) and decodes a JSON object answer.
func (h *partnerHarness) do(method, path, body string) (int, map[string]any) {
	h.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, h.srv.URL+path, rd)
	if err != nil {
		h.t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := h.srv.Client().Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var m map[string]any
	if len(raw) > 0 && raw[0] == '{' {
		if err := json.Unmarshal(raw, &m); err != nil {
			h.t.Fatalf("%s %s: %v in %s", method, path, err, raw)
		}
	}
	return resp.StatusCode, m
}

func (h *partnerHarness) graph(method, path, body string) (int, map[string]any) {
	h.t.Helper()
	return h.do(method, "/v1.0"+path, body)
}

func (h *partnerHarness) mustPartner(id string) map[string]any {
	h.t.Helper()
	p, ok := h.e.Partner(id)
	if !ok {
		h.t.Fatalf("no partner configuration for %s", id)
	}
	return p
}

func jsonOf(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// A PATCH replaces the complex properties it names, whole, and leaves the others.
func TestPartnerPatchMergesProperties(t *testing.T) {
	h := newPartnerHarness(t, emulator.Options{ExternalTenants: []emulator.ExternalTenant{contoso}})
	status, _ := h.graph(http.MethodPost, partnersPath, `{"tenantId":"`+strings.ToUpper(contosoTenant)+`",`+
		`"inboundTrust":{"isMfaAccepted":true,"isCompliantDeviceAccepted":true},`+
		`"b2bCollaborationInbound":{"usersAndGroups":{"accessType":"allowed","targets":[{"target":"AllUsers","targetType":"user"}]},`+
		`"applications":{"accessType":"allowed","targets":[{"target":"AllApplications","targetType":"application"}]}}}`)
	if status != http.StatusCreated {
		t.Fatalf("create: %d", status)
	}
	before := h.mustPartner(contosoTenant)
	if before["tenantId"] != contosoTenant {
		t.Errorf("tenantId %v, want the lower-case %s", before["tenantId"], contosoTenant)
	}

	if status, _ := h.graph(http.MethodPatch, contosoPartner, `{"automaticUserConsentSettings":{"inboundAllowed":true}}`); status != http.StatusNoContent {
		t.Fatalf("patch: %d", status)
	}
	after := h.mustPartner(contosoTenant)
	if jsonOf(after["inboundTrust"]) != jsonOf(before["inboundTrust"]) || jsonOf(after["b2bCollaborationInbound"]) != jsonOf(before["b2bCollaborationInbound"]) {
		t.Errorf("the PATCH changed properties it did not name: %v", after)
	}
	if got := jsonOf(after["automaticUserConsentSettings"]); got != `{"inboundAllowed":true,"outboundAllowed":null}` {
		t.Errorf("automaticUserConsentSettings %s", got)
	}

	// A complex property is replaced whole: the booleans the body leaves out become null.
	h.graph(http.MethodPatch, contosoPartner, `{"inboundTrust":{"isMfaAccepted":false}}`)
	if got := jsonOf(h.mustPartner(contosoTenant)["inboundTrust"]); got != `{"isCompliantDeviceAccepted":null,"isHybridAzureADJoinedDeviceAccepted":null,"isMfaAccepted":false}` {
		t.Errorf("inboundTrust after a partial PATCH %s", got)
	}
	// null resets a setting to the default's.
	h.graph(http.MethodPatch, contosoPartner, `{"b2bCollaborationInbound":null}`)
	if got := h.mustPartner(contosoTenant)["b2bCollaborationInbound"]; got != nil {
		t.Errorf("b2bCollaborationInbound after null: %v", got)
	}

	// Refused PATCHes change nothing.
	snapshot := jsonOf(h.mustPartner(contosoTenant))
	for _, body := range []string{
		`{"inboundTrust":{"isMfaAccepted":"yes"}}`,
		`{"b2bCollaborationOutbound":{"applications":{"accessType":"allowed","targets":[{"target":"AllUsers","targetType":"user"}]}}}`,
		`{"tenantId":"` + woodgroveID + `"}`,
		`{"inboundTrust":{"isMfaAccepted":true,"isMFAAccepted":true}}`,
	} {
		status, rep := h.graph(http.MethodPatch, contosoPartner, body)
		if status != http.StatusBadRequest || rep["error"].(map[string]any)["code"] != "Request_BadRequest" {
			t.Errorf("PATCH %s: %d %v, want 400 Request_BadRequest", body, status, rep)
		}
	}
	if got := jsonOf(h.mustPartner(contosoTenant)); got != snapshot {
		t.Errorf("refused PATCHes changed the configuration: %s, was %s", got, snapshot)
	}

	// Segments are case-insensitive; the key too.
	if status, rep := h.graph(http.MethodGet, "/POLICIES/crossTenantAccessPolicy/Partners/"+strings.ToUpper(contosoTenant), ""); status != http.StatusOK || rep["tenantId"] != contosoTenant {
		t.Errorf("GET in other cases: %d %v", status, rep)
	}
}

// The helpers a test drives drift with: PatchPartner creates or changes a configuration
// without a permission check or a request log entry, and Partner returns a copy.
func TestPartnerHelpers(t *testing.T) {
	h := newPartnerHarness(t, emulator.Options{GrantedPermissions: []string{"User.Invite.All"}})
	if _, ok := h.e.Partner(contosoTenant); ok {
		t.Fatal("a configuration exists before any was made")
	}
	if err := h.e.PatchPartner(contosoTenant, `{"inboundTrust":{"isMfaAccepted":true}}`); err != nil {
		t.Fatal(err)
	}
	if err := h.e.PatchPartner(contosoTenant, `{"isServiceProvider":true}`); err != nil {
		t.Fatal(err)
	}
	p := h.mustPartner(contosoTenant)
	if p["isServiceProvider"] != true || jsonOf(p["inboundTrust"]) == "null" {
		t.Errorf("after two patches: %v", p)
	}
	p["inboundTrust"].(map[string]any)["isMfaAccepted"] = false
	if h.mustPartner(contosoTenant)["inboundTrust"].(map[string]any)["isMfaAccepted"] != true {
		t.Error("Partner returned the stored map, not a copy")
	}
	if err := h.e.PatchPartner(contosoTenant, `{"inboundTrust":{"isMfaAccepted":1}}`); err == nil {
		t.Error("PatchPartner accepted a number for a Boolean")
	}
	if err := h.e.PatchPartner("contoso", `{}`); err == nil {
		t.Error("PatchPartner accepted a tenant ID that is no GUID")
	}
	if got := h.e.Partners(); len(got) != 1 || got[0] != contosoTenant {
		t.Errorf("Partners() = %v", got)
	}
	if n := len(h.e.Requests()); n != 0 {
		t.Errorf("%d requests logged, want none", n)
	}
	if err := h.e.DeletePartnerOutOfBand(contosoTenant); err != nil {
		t.Fatal(err)
	}
	if err := h.e.DeletePartnerOutOfBand(contosoTenant); err == nil {
		t.Error("a second DeletePartnerOutOfBand succeeded")
	}

	// The control API does the same for a script.
	if status, _ := h.do(http.MethodPost, "/_emulator/tenants", jsonOf(contoso)); status != http.StatusCreated {
		t.Fatalf("POST /_emulator/tenants: %d", status)
	}
	if status, _ := h.do(http.MethodPatch, "/_emulator/partners/"+contosoTenant, `{"automaticUserConsentSettings":{"inboundAllowed":true}}`); status != http.StatusNoContent {
		t.Fatalf("PATCH /_emulator/partners: %d", status)
	}
	if status, _ := h.do(http.MethodPatch, "/_emulator/partners/"+contosoTenant, `{"nope":1}`); status != http.StatusBadRequest {
		t.Errorf("PATCH /_emulator/partners with a bad body: %d", status)
	}
	h.e.SetGrantedPermissions() // all
	if status, rep := h.graph(http.MethodGet, "/tenantRelationships/findTenantInformationByDomainName(domainName='contoso.com')", ""); status != http.StatusOK || rep["tenantId"] != contosoTenant {
		t.Errorf("the tenant added through the control API: %d %v", status, rep)
	}
}

// Automatic redemption needs both halves: the partner's outbound setting and this tenant's
// inbound one; then the guest is created redeemed and no invitation mail goes out.
func TestAutomaticRedemption(t *testing.T) {
	fabrikam := emulator.ExternalTenant{TenantID: fabrikamTenant, DisplayName: "Fabrikam", Domains: []string{"fabrikam.com"}}
	h := newPartnerHarness(t, emulator.Options{ExternalTenants: []emulator.ExternalTenant{fabrikam}})
	invite := func(email string) (string, string) {
		t.Helper()
		status, rep := h.graph(http.MethodPost, "/invitations", `{"invitedUserEmailAddress":"`+email+`","inviteRedirectUrl":"https://myapps.microsoft.com","sendInvitationMessage":true}`)
		if status != http.StatusCreated {
			t.Fatalf("invite %s: %d %v", email, status, rep)
		}
		u, ok := h.e.User(rep["invitedUser"].(map[string]any)["id"].(string))
		if !ok {
			t.Fatalf("invite %s: no user", email)
		}
		return rep["status"].(string), u.ExternalUserState
	}
	check := func(name, email, wantStatus, wantState string, wantMails int) {
		t.Helper()
		status, state := invite(email)
		if status != wantStatus || state != wantState || h.e.MailsSent(email) != wantMails {
			t.Errorf("%s: status %s, state %s, %d mails; want %s, %s, %d", name, status, state, h.e.MailsSent(email), wantStatus, wantState, wantMails)
		}
	}

	check("a tenant without configuration", "a@contoso.com", "PendingAcceptance", emulator.StatePendingAcceptance, 1)
	if err := h.e.PatchPartner(fabrikamTenant, `{"automaticUserConsentSettings":{"inboundAllowed":true}}`); err != nil {
		t.Fatal(err)
	}
	check("inbound only", "b@fabrikam.com", "PendingAcceptance", emulator.StatePendingAcceptance, 1)

	fabrikam.AutomaticRedemptionOutbound = true
	h.e.AddExternalTenant(fabrikam) // replaces the tenant with the same ID
	h.now = h.now.Add(time.Hour)
	check("both halves", "c@FABRIKAM.com", "Completed", emulator.StateAccepted, 0)
	for _, u := range h.e.Users() {
		if u.Mail == "c@FABRIKAM.com" && !u.ExternalUserStateChangeDateTime.Equal(h.now) {
			t.Errorf("externalUserStateChangeDateTime %v, want %v", u.ExternalUserStateChangeDateTime, h.now)
		}
	}

	if err := h.e.PatchPartner(fabrikamTenant, `{"automaticUserConsentSettings":{"inboundAllowed":false,"outboundAllowed":true}}`); err != nil {
		t.Fatal(err)
	}
	check("outbound only", "d@fabrikam.com", "PendingAcceptance", emulator.StatePendingAcceptance, 1)
}
