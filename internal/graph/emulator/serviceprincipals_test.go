package emulator

import (
	"net/http"
	"net/url"
	"testing"
	"time"
)

func TestServicePrincipalReads(t *testing.T) {
	h := newHarness(t, Options{})
	sp := h.e.AddServicePrincipal(ServicePrincipal{
		DisplayName: "Partner portal",
		AppRoles:    []AppRole{{Value: "Reader", DisplayName: "Reader"}},
	})
	if sp.ID == "" || sp.AppID == "" || sp.AppRoles[0].ID == "" {
		t.Fatalf("defaults not filled: %+v", sp)
	}
	for name, path := range map[string]string{
		"by id":         "/servicePrincipals/" + sp.ID,
		"by appId key":  "/servicePrincipals(appId='" + sp.AppID + "')",
		"by appId list": "/servicePrincipals?$filter=" + url.QueryEscape("appId eq '"+sp.AppID+"'"),
	} {
		t.Run(name, func(t *testing.T) {
			rep := h.graph(http.MethodGet, path, nil)
			if rep.status != http.StatusOK {
				t.Fatalf("status %d: %s", rep.status, rep.raw)
			}
			obj := rep.body
			if _, ok := obj["value"]; ok {
				vs := values(t, rep)
				if len(vs) != 1 {
					t.Fatalf("%d results", len(vs))
				}
				obj = vs[0]
			}
			if obj["id"] != sp.ID || obj["appId"] != sp.AppID || obj["displayName"] != "Partner portal" {
				t.Errorf("service principal: %v", obj)
			}
			roles, _ := obj["appRoles"].([]any)
			if len(roles) != 1 {
				t.Fatalf("appRoles: %v", obj["appRoles"])
			}
			r := roles[0].(map[string]any)
			if r["id"] != sp.AppRoles[0].ID || r["value"] != "Reader" || r["isEnabled"] != true {
				t.Errorf("role: %v", r)
			}
			if mt, _ := r["allowedMemberTypes"].([]any); len(mt) != 1 || mt[0] != "User" {
				t.Errorf("allowedMemberTypes: %v", r["allowedMemberTypes"])
			}
		})
	}
	wantError(t, h.graph(http.MethodGet, "/servicePrincipals/nope", nil), http.StatusNotFound, codeNotFound, "nope")
	wantError(t, h.graph(http.MethodGet, "/servicePrincipals(appId='nope')", nil), http.StatusNotFound, codeNotFound, "nope")
	wantError(t, h.graph(http.MethodGet, "/servicePrincipals(displayName='x')", nil), http.StatusBadRequest, codeRequestBadRequest, "")
}

func TestAppRoleAssignments(t *testing.T) {
	h := newHarness(t, Options{VisibilityDelay: time.Minute})
	sp := h.e.AddServicePrincipal(ServicePrincipal{DisplayName: "app", AppRoles: []AppRole{{Value: "Reader"}}})
	roleID := sp.AppRoles[0].ID
	id := h.inviteID("jane@fabrikam.com")
	path := "/servicePrincipals/" + sp.ID + "/appRoleAssignedTo"
	body := func(principal, role string) map[string]any {
		return map[string]any{
			"@odata.type": "#microsoft.graph.appRoleAssignment",
			"principalId": principal, "resourceId": sp.ID, "appRoleId": role,
		}
	}

	wantError(t, h.graph(http.MethodPost, path, body(id, roleID)), http.StatusBadRequest, codeRequestBadRequest, "Not a valid reference update.")
	h.clock.Advance(time.Minute)

	rep := h.graph(http.MethodPost, path, body(id, roleID))
	if rep.status != http.StatusCreated {
		t.Fatalf("create: %d %s", rep.status, rep.raw)
	}
	for k, want := range map[string]any{"principalId": id, "resourceId": sp.ID, "appRoleId": roleID, "principalType": "User"} {
		if rep.body[k] != want {
			t.Errorf("%s = %v, want %v", k, rep.body[k], want)
		}
	}
	assignmentID := str(rep.body, "id")
	if assignmentID == "" || str(rep.body, "createdDateTime") == "" {
		t.Errorf("answer lacks id or createdDateTime: %s", rep.raw)
	}

	tests := map[string]struct {
		path    string
		body    any
		status  int
		msgPart string
	}{
		"duplicate":        {path, body(id, roleID), 400, "Permission being assigned already exists on the object"},
		"unknown role":     {path, body(id, "11111111-1111-1111-1111-111111111111"), 400, "Permission being assigned was not found on application"},
		"principal absent": {path, body(newUUID(), roleID), 400, "Not a valid reference update."},
		"wrong resource":   {path, map[string]any{"principalId": id, "resourceId": newUUID(), "appRoleId": roleID}, 400, "resourceId"},
		"not a guid":       {path, body("ghost", roleID), 400, "Cannot convert the literal 'ghost' to the expected type 'Edm.Guid'."},
		"undefined":        {path, map[string]any{"principalId": id, "appRoleId": roleID, "role": "Reader"}, 400, "'role' does not exist on type 'microsoft.graph.appRoleAssignment'"},
		"missing role":     {path, map[string]any{"principalId": id}, 400, "appRoleId"},
		"sp absent":        {"/servicePrincipals/nope/appRoleAssignedTo", body(id, roleID), 404, "nope"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			code := codeRequestBadRequest
			if tc.status == http.StatusNotFound {
				code = codeNotFound
			}
			wantError(t, h.graph(http.MethodPost, tc.path, tc.body), tc.status, code, tc.msgPart)
		})
	}

	// Default access works for any application.
	if rep := h.graph(http.MethodPost, path, body(id, DefaultAppRoleID)); rep.status != http.StatusCreated {
		t.Errorf("default role: %d %s", rep.status, rep.raw)
	}
	list := values(t, h.graph(http.MethodGet, path, nil))
	if len(list) != 2 || len(h.e.AppRoleAssignments(sp.ID)) != 2 {
		t.Fatalf("list: %v", list)
	}

	if rep := h.graph(http.MethodDelete, path+"/"+assignmentID, nil); rep.status != http.StatusNoContent {
		t.Fatalf("delete: %d %s", rep.status, rep.raw)
	}
	wantError(t, h.graph(http.MethodDelete, path+"/"+assignmentID, nil), http.StatusNotFound, codeNotFound, assignmentID)
	if got := h.e.AppRoleAssignments(sp.ID); len(got) != 1 || got[0].AppRoleID != DefaultAppRoleID {
		t.Errorf("after delete: %+v", got)
	}

	// The alternate key reaches the same collection.
	alt := values(t, h.graph(http.MethodGet, "/servicePrincipals(appId='"+sp.AppID+"')/appRoleAssignedTo", nil))
	if len(alt) != 1 {
		t.Errorf("via appId key: %v", alt)
	}
}

func TestAssignAppRoleOutOfBand(t *testing.T) {
	e := New(Options{})
	sp := e.AddServicePrincipal(ServicePrincipal{DisplayName: "app"})
	a := e.AssignAppRoleOutOfBand(AppRoleAssignment{PrincipalID: "p", ResourceID: sp.ID, AppRoleID: DefaultAppRoleID})
	if a.ID == "" {
		t.Fatal("no id generated")
	}
	if got := e.AppRoleAssignments(sp.ID); len(got) != 1 || got[0] != a {
		t.Errorf("AppRoleAssignments = %+v", got)
	}
}
