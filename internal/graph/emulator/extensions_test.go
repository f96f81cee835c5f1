package emulator

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
)

const (
	opAppID    = "6a8b2c4d-1e3f-4a5b-8c7d-9e0f1a2b3c4d"
	otherAppID = "0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9"
)

var ownerExt = "extension_6a8b2c4d1e3f4a5b8c7d9e0f1a2b3c4d_partnerOwner"

func extBody(name string) map[string]any {
	return map[string]any{"name": name, "dataType": "String", "targetObjects": []string{"User"}}
}

func TestApplicationsAndExtensionProperties(t *testing.T) {
	h := newHarness(t, Options{RequireAuth: true})
	tok := "Bearer " + h.e.IssueTokenFor(opAppID)
	get := func(path string) reply {
		t.Helper()
		return h.graph(http.MethodGet, path, nil, "Authorization", tok)
	}
	post := func(path string, body any) reply {
		t.Helper()
		return h.graph(http.MethodPost, path, body, "Authorization", tok)
	}
	byAppID := "/applications(appId='" + opAppID + "')"

	// The token's app exists as an application on first use; an app the tenant does not know
	// does not.
	rep := get(byAppID)
	if rep.status != http.StatusOK || str(rep.body, "appId") != opAppID || str(rep.body, "id") == "" {
		t.Fatalf("application by appId: %d %s", rep.status, rep.raw)
	}
	objectID := str(rep.body, "id")
	if !strings.HasSuffix(str(rep.body, "@odata.context"), "$metadata#applications/$entity") {
		t.Errorf("context %q", str(rep.body, "@odata.context"))
	}
	if got := h.e.AddApplication(opAppID, "ignored"); got != objectID {
		t.Errorf("AddApplication of a known appId: %s, want %s", got, objectID)
	}
	wantError(t, get("/applications(appId='"+otherAppID+"')"), http.StatusNotFound, codeNotFound, otherAppID)
	wantError(t, get("/applications/"+otherAppID+"/extensionProperties"), http.StatusNotFound, codeNotFound, "")
	wantError(t, get("/applications(appid=x)"), http.StatusBadRequest, codeRequestBadRequest, "Invalid key")

	// A service principal makes its app known too; it lends its display name.
	h.e.AddServicePrincipal(ServicePrincipal{AppID: otherAppID, DisplayName: "Portal"})
	if rep := get("/applications(appId='" + otherAppID + "')?$select=displayName,signInAudience"); rep.status != http.StatusOK ||
		str(rep.body, "displayName") != "Portal" || rep.body["signInAudience"] != nil || rep.body["appId"] != nil {
		t.Errorf("application of a service principal with $select: %d %s", rep.status, rep.raw)
	}
	wantError(t, get(byAppID+"?$select=bogus"), http.StatusBadRequest, codeBadRequest, "Could not find a property named 'bogus' on type 'microsoft.graph.application'")
	if rep := get("/applications?$filter=" + url.QueryEscape("appId eq '"+opAppID+"'")); len(values(t, rep)) != 1 || values(t, rep)[0]["id"] != objectID {
		t.Errorf("applications filtered by appId: %s", rep.raw)
	}

	// Registration names the property after the app; both key forms address the same one.
	rep = post(byAppID+"/extensionProperties", extBody("partnerOwner"))
	if rep.status != http.StatusCreated {
		t.Fatalf("register: %d %s", rep.status, rep.raw)
	}
	if str(rep.body, "name") != ownerExt || str(rep.body, "dataType") != "String" || rep.body["isMultiValued"] != false ||
		rep.body["isSyncedFromOnPremises"] != false || str(rep.body, "appDisplayName") != opAppID || str(rep.body, "id") == "" {
		t.Errorf("registered property: %s", rep.raw)
	}
	propID := str(rep.body, "id")
	if rep := post("/applications/"+objectID+"/extensionProperties", map[string]any{"@odata.type": "#microsoft.graph.extensionProperty", "name": "partnerObject", "dataType": "String", "targetObjects": []string{"User", "Group"}}); rep.status != http.StatusCreated {
		t.Fatalf("register by object id: %d %s", rep.status, rep.raw)
	}
	list := values(t, get("/applications/"+objectID+"/extensionProperties"))
	if len(list) != 2 || list[0]["name"] != ownerExt {
		t.Errorf("list: %v", list)
	}
	for _, p := range list {
		for _, k := range []string{"id", "name", "dataType", "targetObjects", "appDisplayName", "isMultiValued", "isSyncedFromOnPremises"} {
			if _, ok := p[k]; !ok {
				t.Errorf("listed property lacks %s: %v", k, p)
			}
		}
	}
	filtered := values(t, get(byAppID+"/extensionProperties?$filter="+url.QueryEscape("name eq '"+strings.ToUpper(ownerExt)+"'")))
	if len(filtered) != 1 || filtered[0]["id"] != propID {
		t.Errorf("$filter name eq: %v", filtered)
	}
	if rep := get(byAppID + "/extensionProperties/" + propID); str(rep.body, "name") != ownerExt {
		t.Errorf("get one: %d %s", rep.status, rep.raw)
	}

	// Refusals.
	for _, tc := range []struct {
		body any
		msg  string
	}{
		{extBody("partnerOwner"), "already exists"},
		{extBody("PARTNEROWNER"), "already exists"},
		{extBody("partner-owner"), "ASCII letters"},
		{extBody(strings.Repeat("a", 121)), "ASCII letters"},
		{map[string]any{"dataType": "String", "targetObjects": []string{"User"}}, "Missing required property: name"},
		{map[string]any{"name": "n", "dataType": "Integer", "targetObjects": []string{"User"}}, "String extension properties only"},
		{map[string]any{"name": "n", "dataType": "Text", "targetObjects": []string{"User"}}, "'Text' is not one of"},
		{map[string]any{"name": "n", "dataType": "String", "targetObjects": []string{"Group"}}, "must contain 'User'"},
		{map[string]any{"name": "n", "dataType": "String", "targetObjects": []string{"user"}}, "'user' is not one of"},
		{map[string]any{"name": "n", "dataType": "String"}, "Missing required property: targetObjects"},
		{map[string]any{"name": "n", "dataType": "String", "targetObjects": []string{"User"}, "isMultiValued": true}, "single-valued"},
		{map[string]any{"name": "n", "dataType": "String", "targetObjects": []string{"User"}, "colour": "red"}, "The property 'colour' does not exist on type 'microsoft.graph.extensionProperty'"},
	} {
		wantError(t, post(byAppID+"/extensionProperties", tc.body), http.StatusBadRequest, codeRequestBadRequest, tc.msg)
	}
	if got := h.e.RegisterExtensionProperty(opAppID, "partnerOwner"); got != ownerExt {
		t.Errorf("RegisterExtensionProperty of a registered name: %s", got)
	}
	if n := len(values(t, get(byAppID+"/extensionProperties"))); n != 2 {
		t.Errorf("%d properties after the refusals, want 2", n)
	}
	wantError(t, h.graph(http.MethodDelete, byAppID, nil, "Authorization", tok), http.StatusMethodNotAllowed, codeRequestBadRequest, "")
}

func TestExtensionPropertyPermissions(t *testing.T) {
	h := newHarness(t, Options{RequireAuth: true})
	h.e.AddApplication(otherAppID, "Someone else's")
	mine := "Bearer " + h.e.IssueTokenFor(opAppID)
	try := func(method, appID string, body any) int {
		t.Helper()
		return h.graph(method, "/applications(appId='"+appID+"')/extensionProperties", body, "Authorization", mine).status
	}

	// The default grants everything.
	if s := try(http.MethodPost, otherAppID, extBody("a")); s != http.StatusCreated {
		t.Errorf("register with the default grant: %d", s)
	}

	// Application.ReadWrite.OwnedBy: only on the caller's own application.
	h.e.SetGrantedPermissions("User.Read.All", "Application.ReadWrite.OwnedBy")
	if s := try(http.MethodGet, otherAppID, nil); s != http.StatusOK {
		t.Errorf("list with OwnedBy: %d", s)
	}
	if s := try(http.MethodPost, opAppID, extBody("b")); s != http.StatusCreated {
		t.Errorf("register on its own application with OwnedBy: %d", s)
	}
	objectID := h.e.AddApplication(opAppID, "")
	if s := h.graph(http.MethodPost, "/applications/"+objectID+"/extensionProperties", extBody("c"), "Authorization", mine).status; s != http.StatusCreated {
		t.Errorf("register on its own application by object id with OwnedBy: %d", s)
	}
	rep := h.graph(http.MethodPost, "/applications(appId='"+otherAppID+"')/extensionProperties", extBody("d"), "Authorization", mine)
	wantError(t, rep, http.StatusForbidden, codeAuthorizationDenied, insufficientPrivileges)

	// Reading alone does not register.
	h.e.SetGrantedPermissions("Application.Read.All")
	if s := try(http.MethodGet, opAppID, nil); s != http.StatusOK {
		t.Errorf("list with Application.Read.All: %d", s)
	}
	if s := try(http.MethodPost, opAppID, extBody("e")); s != http.StatusForbidden {
		t.Errorf("register with Application.Read.All: %d, want 403", s)
	}
	h.e.SetGrantedPermissions("User.Read.All")
	if s := try(http.MethodGet, opAppID, nil); s != http.StatusForbidden {
		t.Errorf("list with User.Read.All: %d, want 403", s)
	}
	h.e.SetGrantedPermissions("Application.ReadWrite.All")
	if s := try(http.MethodPost, otherAppID, extBody("f")); s != http.StatusCreated {
		t.Errorf("register on another application with Application.ReadWrite.All: %d", s)
	}
}

func TestUserExtensionValues(t *testing.T) {
	h := newHarness(t, Options{})
	owner := h.e.RegisterExtensionProperty(opAppID, "partnerOwner")
	object := h.e.RegisterExtensionProperty(opAppID, "partnerObject")
	if owner != ownerExt || h.e.RegisterExtensionProperty(opAppID, "partnerOwner") != owner {
		t.Fatalf("RegisterExtensionProperty: %s", owner)
	}
	jane := h.e.AddUser(User{DisplayName: "Jane", Mail: "jane@fabrikam.com", UserType: "Guest"}).ID
	joe := h.e.AddUser(User{DisplayName: "Joe", Mail: "joe@fabrikam.com", UserType: "Guest"}).ID
	patch := func(id string, body any) reply {
		t.Helper()
		return h.graph(http.MethodPatch, "/users/"+id, body)
	}

	// Set, as the SDK sends it (its model's @odata.type, the value in AdditionalData).
	if rep := patch(jane, map[string]any{"@odata.type": "#microsoft.graph.user", owner: "ns/team-a", object: "ns/jane", "jobTitle": "Partner"}); rep.status != http.StatusNoContent {
		t.Fatalf("set: %d %s", rep.status, rep.raw)
	}
	if u, _ := h.e.User(jane); u.Extensions[owner] != "ns/team-a" || u.Extensions[object] != "ns/jane" || u.Profile["jobTitle"] != "Partner" {
		t.Errorf("after set: %+v", u)
	}

	// $select: case-insensitive, and omitted for a user without a value.
	sel := "?$select=id," + url.QueryEscape(strings.ToUpper(owner))
	rep := h.graph(http.MethodGet, "/users/"+jane+sel, nil)
	if rep.body[owner] != "ns/team-a" {
		t.Errorf("selected on jane: %s", rep.raw)
	}
	if rep := h.graph(http.MethodGet, "/users/"+joe+sel, nil); rep.status != http.StatusOK || slices.Contains(keys(rep.body), owner) {
		t.Errorf("unset extension must be omitted: %s", rep.raw)
	}
	if rep := h.graph(http.MethodGet, "/users/"+jane, nil); slices.Contains(keys(rep.body), owner) {
		t.Errorf("extension without $select: %s", rep.raw)
	}
	list := values(t, h.graph(http.MethodGet, "/users"+sel, nil))
	if len(list) != 2 || list[0][owner] != "ns/team-a" || slices.Contains(keys(list[1]), owner) {
		t.Errorf("list with the extension selected: %v", list)
	}
	unregistered := "extension_6a8b2c4d1e3f4a5b8c7d9e0f1a2b3c4d_nope"
	wantError(t, h.graph(http.MethodGet, "/users/"+jane+"?$select=id,"+unregistered, nil), http.StatusBadRequest, codeBadRequest,
		"Could not find a property named '"+unregistered+"' on type 'microsoft.graph.user'")

	// $filter eq, alone and combined; unset compares as null; startswith is not modelled.
	filter := func(f string) []string {
		t.Helper()
		rep := h.graph(http.MethodGet, "/users?$select=id&$filter="+url.QueryEscape(f), nil)
		if rep.status != http.StatusOK {
			t.Fatalf("$filter %s: %d %s", f, rep.status, rep.raw)
		}
		var out []string
		for _, v := range values(t, rep) {
			out = append(out, v["id"].(string))
		}
		return out
	}
	if got := filter(owner + " eq 'ns/team-a'"); !slices.Equal(got, []string{jane}) {
		t.Errorf("eq: %v", got)
	}
	if got := filter(owner + " eq 'ns/team-a' and mail eq 'joe@fabrikam.com'"); len(got) != 0 {
		t.Errorf("and: %v", got)
	}
	if got := filter("(" + owner + " eq 'ns/team-b' or mail eq 'joe@fabrikam.com')"); !slices.Equal(got, []string{joe}) {
		t.Errorf("or: %v", got)
	}
	if got := filter(owner + " eq ''"); len(got) != 0 {
		t.Errorf("unset matched '': %v", got)
	}
	wantError(t, h.graph(http.MethodGet, "/users?$filter="+url.QueryEscape("startswith("+owner+",'ns')"), nil), http.StatusBadRequest, codeUnsupportedQuery, "")
	wantError(t, h.graph(http.MethodGet, "/users?$filter="+url.QueryEscape(unregistered+" eq 'x'"), nil), http.StatusBadRequest, codeUnsupportedQuery, "")

	// Refusals change nothing.
	for _, tc := range []struct {
		body map[string]any
		msg  string
	}{
		{map[string]any{owner: strings.Repeat("x", 257)}, "Invalid value specified for property '" + owner + "' of resource 'User'."},
		{map[string]any{unregistered: "x"}, "Property '" + unregistered + "' does not exist as a declared property or extension property."},
		{map[string]any{strings.ToUpper(owner): "x"}, "does not exist as a declared property or extension property."},
		{map[string]any{owner: 5}, "Cannot convert the literal '5' to the expected type 'Edm.String'."},
		{map[string]any{owner: []string{"x"}}, "An unexpected 'StartArray' node"},
		{map[string]any{owner: "x", "companyname": "Fabrikam"}, "The property 'companyname' does not exist on type 'microsoft.graph.user'"},
	} {
		wantError(t, patch(jane, tc.body), http.StatusBadRequest, codeRequestBadRequest, tc.msg)
	}
	if u, _ := h.e.User(jane); u.Extensions[owner] != "ns/team-a" {
		t.Errorf("a refused PATCH changed the value: %v", u.Extensions)
	}
	if rep := patch(jane, map[string]any{owner: strings.Repeat("é", 256)}); rep.status != http.StatusNoContent {
		t.Errorf("256 characters: %d %s", rep.status, rep.raw)
	}

	// null removes; removing what is not there is fine.
	if rep := patch(jane, []byte(`{"`+owner+`":null,"`+object+`":null}`)); rep.status != http.StatusNoContent {
		t.Fatalf("clear: %d %s", rep.status, rep.raw)
	}
	if u, _ := h.e.User(jane); u.Extensions != nil {
		t.Errorf("after clear: %v", u.Extensions)
	}
	if rep := patch(joe, []byte(`{"`+owner+`":null}`)); rep.status != http.StatusNoContent {
		t.Errorf("clear an unset value: %d %s", rep.status, rep.raw)
	}

	// The Go helper.
	if err := h.e.SetUserExtension(joe, strings.ToUpper(owner), "forged"); err != nil {
		t.Fatal(err)
	}
	if u, _ := h.e.User(joe); u.Extensions[owner] != "forged" {
		t.Errorf("SetUserExtension: %v", u.Extensions)
	}
	if err := h.e.SetUserExtension(joe, owner, ""); err != nil {
		t.Fatal(err)
	}
	if u, _ := h.e.User(joe); len(u.Extensions) != 0 {
		t.Errorf("SetUserExtension to clear: %v", u.Extensions)
	}
	for _, err := range []error{
		h.e.SetUserExtension(joe, unregistered, "x"),
		h.e.SetUserExtension("nobody", owner, "x"),
		h.e.SetUserExtension(joe, owner, strings.Repeat("x", 257)),
	} {
		if err == nil {
			t.Error("SetUserExtension accepted a bad call")
		}
	}
}

func TestExtensionDelta(t *testing.T) {
	h := newHarness(t, Options{})
	owner := h.e.RegisterExtensionProperty(opAppID, "partnerOwner")
	jane := h.e.AddUser(User{Mail: "jane@fabrikam.com", UserType: "Guest"}).ID
	h.e.AddUser(User{Mail: "joe@fabrikam.com", UserType: "Guest"})

	_, link, _ := h.deltaRound(h.srv.URL + "/v1.0/users/delta()?$select=" + url.QueryEscape("id,mail,"+owner))
	if rep := h.graph(http.MethodPatch, "/users/"+jane, map[string]any{owner: "ns/team-a"}); rep.status != http.StatusNoContent {
		t.Fatalf("set: %d %s", rep.status, rep.raw)
	}
	changed, link, _ := h.deltaRound(link)
	if len(changed) != 1 || changed[0]["id"] != jane || changed[0][owner] != "ns/team-a" {
		t.Errorf("delta after set: %v", changed)
	}
	// The same value again is no change.
	h.graph(http.MethodPatch, "/users/"+jane, map[string]any{owner: "ns/team-a"})
	if changed, _, _ := h.deltaRound(link); len(changed) != 0 {
		t.Errorf("delta after a no-op: %v", changed)
	}
	// An out-of-band clear is reported, the property omitted.
	if err := h.e.SetUserExtension(jane, owner, ""); err != nil {
		t.Fatal(err)
	}
	changed, _, _ = h.deltaRound(link)
	if len(changed) != 1 || changed[0]["id"] != jane || slices.Contains(keys(changed[0]), owner) {
		t.Errorf("delta after clear: %v", changed)
	}
}

func TestExtensionsSurviveDeleteAndRestore(t *testing.T) {
	h := newHarness(t, Options{})
	owner := h.e.RegisterExtensionProperty(opAppID, "partnerOwner")
	jane := h.e.AddUser(User{Mail: "jane@fabrikam.com", UserType: "Guest", Extensions: map[string]string{owner: "ns/team-a"}}).ID
	gone := h.e.AddUser(User{Mail: "gone@fabrikam.com", UserType: "Guest"}).ID
	for _, id := range []string{jane, gone} {
		if rep := h.graph(http.MethodDelete, "/users/"+id, nil); rep.status != http.StatusNoContent {
			t.Fatalf("delete: %d %s", rep.status, rep.raw)
		}
	}
	sel := "$select=" + url.QueryEscape("id,"+owner)
	rep := h.graph(http.MethodGet, "/directory/deletedItems/"+jane+"/microsoft.graph.user?"+sel, nil)
	if rep.body[owner] != "ns/team-a" {
		t.Errorf("deleted user keeps its value: %d %s", rep.status, rep.raw)
	}
	list := values(t, h.graph(http.MethodGet, "/directory/deletedItems/microsoft.graph.user?"+sel+"&$filter="+url.QueryEscape(owner+" eq 'NS/TEAM-A'"), nil))
	if len(list) != 1 || list[0]["id"] != jane {
		t.Errorf("deletedItems filtered on the extension: %v", list)
	}
	if rep := h.graph(http.MethodPost, "/directory/deletedItems/"+jane+"/restore", nil); rep.status != http.StatusOK {
		t.Fatalf("restore: %d %s", rep.status, rep.raw)
	}
	if rep := h.graph(http.MethodGet, "/users/"+jane+"?"+sel, nil); rep.body[owner] != "ns/team-a" {
		t.Errorf("restored user: %s", rep.raw)
	}

	// The control API shows and seeds values.
	rep = h.call(http.MethodGet, "/_emulator/users", nil)
	if !strings.Contains(string(rep.raw), `"extensions":{"`+owner+`":"ns/team-a"}`) {
		t.Errorf("control list: %s", rep.raw)
	}
	rep = h.call(http.MethodPost, "/_emulator/users", []byte(`{"mail":"kim@fabrikam.com","extensions":{"`+owner+`":"ns/kim"}}`))
	if rep.status != http.StatusCreated {
		t.Fatalf("control seed: %d %s", rep.status, rep.raw)
	}
	if u, _ := h.e.User(str(rep.body, "id")); u.Extensions[owner] != "ns/kim" {
		t.Errorf("seeded user: %+v", u)
	}
}
