package emulator

import (
	"net/http"
	"slices"
	"testing"
)

func TestRequiredPermissions(t *testing.T) {
	tests := []struct {
		method, path, body string
		want               []string // nil: the route needs none
	}{
		{"POST", "/invitations", "", permsInvite},
		{"GET", "/users", "", permsUserRead},
		{"GET", "/users/abc", "", permsUserRead},
		{"GET", "/users/jane_fabrikam.com#EXT#@emulator.onmicrosoft.com", "", permsUserRead},
		{"GET", "/users/delta()", "", permsUserRead},
		{"PATCH", "/users/abc", `{"accountEnabled":false}`, permsEnableDisable},
		{"PATCH", "/users/abc", `{"@odata.type":"#microsoft.graph.user","accountEnabled":true}`, permsEnableDisable},
		{"PATCH", "/users/abc", `{"accountEnabled":false,"displayName":"x"}`, permsUserWrite},
		{"PATCH", "/users/abc", `{"jobTitle":"x"}`, permsUserWrite},
		{"PATCH", "/users/abc", `{}`, permsUserWrite},
		{"PATCH", "/users/abc", `not json`, permsUserWrite},
		{"DELETE", "/users/abc", "", permsUserDelete},
		{"GET", "/users/abc/sponsors", "", permsSponsorRead},
		{"GET", "/Users/abc/Sponsors", "", permsSponsorRead},
		{"POST", "/users/abc/sponsors/$ref", "", permsUserWrite},
		{"DELETE", "/users/abc/sponsors/def/$ref", "", permsUserWrite},
		{"GET", "/users/abc/memberOf", "", permsMemberOfRead},
		{"GET", "/users/abc/appRoleAssignments", "", permsUserAssignmentRead},
		{"POST", "/users/abc/appRoleAssignments", "", nil},
		{"GET", "/directory/deletedItems/abc", "", permsUserRead},
		{"POST", "/directory/deletedItems/abc/restore", "", permsUserDelete},
		{"DELETE", "/directory/deletedItems/abc", "", permsUserDelete},
		{"GET", "/groups", "", permsGroupRead},
		{"GET", "/groups/abc", "", permsGroupRead},
		{"POST", "/groups/abc/members/$ref", "", permsGroupMember},
		{"DELETE", "/groups/abc/members/def/$ref", "", permsGroupMember},
		{"GET", "/servicePrincipals", "", permsAppRead},
		{"GET", "/servicePrincipals/abc", "", permsAppRead},
		{"GET", "/servicePrincipals(appId='abc')", "", permsAppRead},
		{"GET", "/servicePrincipals/abc/appRoleAssignedTo", "", permsAppRead},
		{"POST", "/servicePrincipals/abc/appRoleAssignedTo", "", permsAppRoleAssign},
		{"POST", "/servicePrincipals(appId='abc')/appRoleAssignedTo", "", permsAppRoleAssign},
		{"DELETE", "/servicePrincipals/abc/appRoleAssignedTo/def", "", permsAppRoleAssign},
		{"GET", "/applications", "", permsApplicationRead},
		{"GET", "/applications/abc", "", permsApplicationRead},
		{"GET", "/applications(appId='abc')", "", permsApplicationRead},
		{"GET", "/applications(appId='abc')/extensionProperties", "", permsApplicationRead},
		{"GET", "/applications/abc/extensionProperties/def", "", permsApplicationRead},
		{"POST", "/applications/abc/extensionProperties", "", permsExtensionWrite},
		{"POST", "/applications(appId='abc')/extensionProperties", "", permsExtensionWrite},
		{"PATCH", "/users/abc", `{"extension_abc_x":"v"}`, permsUserWrite},
		// Routes Graph does not have here answer 404 or 405 on their own.
		{"GET", "/devices", "", nil},
		{"PUT", "/users/abc", "", nil},
		{"GET", "/users/abc/manager", "", nil},
		{"GET", "/", "", nil},
	}
	for _, tc := range tests {
		if got := requiredPermissions(tc.method, tc.path, []byte(tc.body)); !slices.Equal(got, tc.want) {
			t.Errorf("%s %s %s: %v, want %v", tc.method, tc.path, tc.body, got, tc.want)
		}
	}
}

// Every set starts with Microsoft's least-privileged permission, the one an operator's error
// message names; the higher ones are all alternatives, never requirements.
func TestPermissionSetsLeastPrivilegedFirst(t *testing.T) {
	want := map[string]string{
		"POST invitations":                              "User.Invite.All",
		"GET users/{id}":                                "User.Read.All",
		"DELETE users/{id}":                             "User.DeleteRestore.All",
		"GET users/{id}/sponsors":                       "User.Read.All",
		"POST users/{id}/sponsors/$ref":                 "User.ReadWrite.All",
		"POST groups/{id}/members/$ref":                 "GroupMember.ReadWrite.All",
		"GET groups/{id}":                               "GroupMember.Read.All",
		"GET servicePrincipals/{id}":                    "Application.Read.All",
		"GET applications/{id}":                         "Application.Read.All",
		"GET applications/{id}/extensionProperties":     "Application.Read.All",
		"POST servicePrincipals/{id}/appRoleAssignedTo": "AppRoleAssignment.ReadWrite.All",
		"GET users/{id}/memberOf":                       "Directory.Read.All",
		"GET users/{id}/appRoleAssignments":             "Directory.Read.All",
	}
	for _, rule := range permissionRules {
		if least, ok := want[rule.method+" "+rule.path]; ok && rule.when == nil && rule.perms[0] != least {
			t.Errorf("%s %s: least privileged %s, want %s", rule.method, rule.path, rule.perms[0], least)
		}
	}
	if permsEnableDisable[0] != "User.EnableDisableAccount.All" {
		t.Errorf("accountEnabled alone: least privileged %s", permsEnableDisable[0])
	}
}

func TestGrantedPermissions(t *testing.T) {
	h := newHarness(t, Options{GrantedPermissions: []string{"User.Invite.All"}})
	denied := func(rep reply) {
		t.Helper()
		wantError(t, rep, http.StatusForbidden, codeAuthorizationDenied, "Insufficient privileges to complete the operation.")
	}

	id := h.inviteID("jane@fabrikam.com")
	denied(h.graph(http.MethodGet, "/users/"+id, nil))

	// Names compare case-insensitively; the grant changes at run time.
	h.e.SetGrantedPermissions("user.read.all", "User.EnableDisableAccount.All")
	if rep := h.graph(http.MethodGet, "/users/"+id, nil); rep.status != http.StatusOK {
		t.Fatalf("read with User.Read.All: %d %s", rep.status, rep.raw)
	}
	denied(h.invite("joe@fabrikam.com", nil))
	if rep := h.graph(http.MethodPatch, "/users/"+id, map[string]any{"accountEnabled": false}); rep.status != http.StatusNoContent {
		t.Fatalf("disable with User.EnableDisableAccount.All: %d %s", rep.status, rep.raw)
	}
	denied(h.graph(http.MethodPatch, "/users/"+id, map[string]any{"accountEnabled": true, "displayName": "Jane"}))
	denied(h.graph(http.MethodPost, "/users/"+id+"/sponsors/$ref", sponsorRef("users", id)))
	if u, _ := h.e.User(id); u.AccountEnabled || u.DisplayName == "Jane" || len(h.e.Sponsors(id)) != 0 {
		t.Errorf("a refused write changed the user: %+v, sponsors %v", u, h.e.Sponsors(id))
	}

	// The check comes before faults: a refused request does not use one up.
	h.e.InjectFault(Fault{Method: http.MethodDelete, PathPrefix: "/users", Status: http.StatusServiceUnavailable})
	denied(h.graph(http.MethodDelete, "/users/"+id, nil))
	if n := len(h.e.pendingFaults()); n != 1 {
		t.Errorf("%d pending faults after a refused request, want 1", n)
	}
	h.e.ClearFaults()

	// Unknown routes keep their own answer.
	wantError(t, h.graph(http.MethodGet, "/devices", nil), http.StatusNotFound, codeNotFound, "")

	// No permissions at all means everything is allowed again.
	h.e.SetGrantedPermissions()
	if rep := h.graph(http.MethodDelete, "/users/"+id, nil); rep.status != http.StatusNoContent {
		t.Errorf("delete with every permission: %d %s", rep.status, rep.raw)
	}
	var statuses []int
	for _, r := range h.e.Requests() {
		if r.Method == http.MethodDelete {
			statuses = append(statuses, r.Status)
		}
	}
	if !slices.Equal(statuses, []int{http.StatusForbidden, http.StatusNoContent}) {
		t.Errorf("DELETEs logged with statuses %v, want [403 204]", statuses)
	}
}

func TestControlGrantedPermissions(t *testing.T) {
	h := newHarness(t, Options{})
	set := func(body string) {
		t.Helper()
		if rep := h.call(http.MethodPost, "/_emulator/settings", []byte(body)); rep.status != http.StatusNoContent {
			t.Fatalf("settings %s: %d %s", body, rep.status, rep.raw)
		}
	}
	set(`{"grantedPermissions":["User.Read.All"]}`)
	wantError(t, h.invite("jane@fabrikam.com", nil), http.StatusForbidden, codeAuthorizationDenied, "Insufficient privileges")
	set(`{"latency":"0ms"}`) // other settings leave the grant alone
	wantError(t, h.invite("jane@fabrikam.com", nil), http.StatusForbidden, codeAuthorizationDenied, "")
	set(`{"grantedPermissions":[]}`)
	if rep := h.invite("jane@fabrikam.com", nil); rep.status != http.StatusCreated {
		t.Errorf("invite with every permission: %d %s", rep.status, rep.raw)
	}
}
