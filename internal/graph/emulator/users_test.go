package emulator

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"testing"
	"time"
)

func TestGetUserSelect(t *testing.T) {
	h := newHarness(t, Options{})
	id := h.inviteID("jane@fabrikam.com")

	t.Run("default set", func(t *testing.T) {
		rep := h.graph(http.MethodGet, "/users/"+id, nil)
		if rep.status != http.StatusOK {
			t.Fatalf("status %d: %s", rep.status, rep.raw)
		}
		for _, k := range defaultUserSelect {
			if _, ok := rep.body[k]; !ok {
				t.Errorf("default answer lacks %s", k)
			}
		}
		for _, k := range []string{"externalUserState", "userType", "creationType", "otherMails"} {
			if _, ok := rep.body[k]; ok {
				t.Errorf("default answer has %s, which Graph returns only when selected", k)
			}
		}
		if !strings.HasSuffix(str(rep.body, "@odata.context"), "$metadata#users/$entity") {
			t.Errorf("@odata.context = %q", str(rep.body, "@odata.context"))
		}
	})

	t.Run("selected", func(t *testing.T) {
		sel := url.QueryEscape("id,externalUserState,externalUserStateChangeDateTime,userType,creationType,otherMails,accountEnabled")
		rep := h.graph(http.MethodGet, "/users/"+id+"?$select="+sel, nil)
		if rep.status != http.StatusOK {
			t.Fatalf("status %d: %s", rep.status, rep.raw)
		}
		got := keys(rep.body)
		sort.Strings(got)
		want := []string{"@odata.context", "accountEnabled", "creationType", "externalUserState",
			"externalUserStateChangeDateTime", "id", "otherMails", "userType"}
		if strings.Join(got, ",") != strings.Join(want, ",") {
			t.Errorf("properties %v, want %v", got, want)
		}
		if rep.body["externalUserState"] != "PendingAcceptance" || rep.body["creationType"] != "Invitation" {
			t.Errorf("values: %s", rep.raw)
		}
		if _, err := time.Parse(time.RFC3339, str(rep.body, "externalUserStateChangeDateTime")); err != nil {
			t.Errorf("externalUserStateChangeDateTime not RFC3339: %v", err)
		}
		if !strings.Contains(str(rep.body, "@odata.context"), "users(id,externalUserState,") {
			t.Errorf("@odata.context = %q", str(rep.body, "@odata.context"))
		}
	})

	t.Run("unknown property", func(t *testing.T) {
		wantError(t, h.graph(http.MethodGet, "/users/"+id+"?$select=externalUserStat", nil),
			http.StatusBadRequest, codeBadRequest, "externalUserStat")
	})

	t.Run("absent", func(t *testing.T) {
		wantError(t, h.graph(http.MethodGet, "/users/missing-id", nil), http.StatusNotFound, codeNotFound,
			"Resource 'missing-id' does not exist or one of its queried reference-property objects are not present.")
	})
}

func TestFilterUsers(t *testing.T) {
	h := newHarness(t, Options{})
	jane := h.e.AddUser(User{Mail: "jane@fabrikam.com", OtherMails: []string{"jane@fabrikam.com"}, UserType: "Guest"})
	bob := h.e.AddUser(User{Mail: "bob@contoso.com", OtherMails: []string{"bobby@contoso.com"}})
	quote := h.e.AddUser(User{Mail: "o'neil@fabrikam.com"})

	tests := map[string]struct {
		filter string
		want   []string
	}{
		"mail":                  {"mail eq 'jane@fabrikam.com'", []string{jane.ID}},
		"mail case-insensitive": {"mail eq 'JANE@Fabrikam.COM'", []string{jane.ID}},
		"otherMails any":        {"otherMails/any(x:x eq 'bobby@contoso.com')", []string{bob.ID}},
		"lambda named freely":   {"otherMails/any(m: m eq 'BOBBY@contoso.com')", []string{bob.ID}},
		"or":                    {"mail eq 'bobby@contoso.com' or otherMails/any(x:x eq 'bobby@contoso.com')", []string{bob.ID}},
		"or two users":          {"mail eq 'jane@fabrikam.com' or mail eq 'bob@contoso.com'", []string{jane.ID, bob.ID}},
		"quote escape":          {"mail eq 'o''neil@fabrikam.com'", []string{quote.ID}},
		"no match":              {"mail eq 'nobody@fabrikam.com'", nil},
		"parentheses and":       {"(mail eq 'jane@fabrikam.com') and userType eq 'Guest'", []string{jane.ID}},
		"startswith":            {"startswith(mail,'J')", []string{jane.ID}},
		"startswith or":         {"startswith(mail, 'jane') or startswith(mail, 'bob@')", []string{jane.ID, bob.ID}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			rep := h.graph(http.MethodGet, "/users?$select=id,mail&$top=5&$filter="+url.QueryEscape(tc.filter), nil)
			if rep.status != http.StatusOK {
				t.Fatalf("status %d: %s", rep.status, rep.raw)
			}
			var got []string
			for _, v := range values(t, rep) {
				got = append(got, v["id"].(string))
				if _, ok := v["userPrincipalName"]; ok {
					t.Errorf("$select not applied: %v", v)
				}
			}
			if strings.Join(got, ",") != strings.Join(tc.want, ",") {
				t.Errorf("ids %v, want %v", got, tc.want)
			}
		})
	}

	for _, bad := range []string{"endswith(mail,'j')", "mail ne 'x'", "otherMails eq 'x'", "mail eq 'unterminated",
		"otherMails/any(x:y eq 'a')", "mobilePhone eq 'x'", "not(mail eq 'x')", "startswith(otherMails,'j')"} {
		t.Run("unsupported "+bad, func(t *testing.T) {
			wantError(t, h.graph(http.MethodGet, "/users?$filter="+url.QueryEscape(bad), nil),
				http.StatusBadRequest, codeUnsupportedQuery, "Unsupported")
		})
	}
}

func TestVisibilityDelay(t *testing.T) {
	h := newHarness(t, Options{VisibilityDelay: 30 * time.Second})
	id := h.inviteID("late@fabrikam.com")
	filter := "/users?$filter=" + url.QueryEscape("mail eq 'late@fabrikam.com'")

	wantError(t, h.graph(http.MethodGet, "/users/"+id, nil), http.StatusNotFound, codeNotFound, id)
	if n := len(values(t, h.graph(http.MethodGet, filter, nil))); n != 0 {
		t.Errorf("invisible user found by $filter (%d results)", n)
	}
	// The directory itself already knows the address: a second invitation does not duplicate.
	if again := h.inviteID("late@fabrikam.com"); again != id {
		t.Errorf("re-invitation during the delay created %s", again)
	}

	h.clock.Advance(30 * time.Second)
	if rep := h.graph(http.MethodGet, "/users/"+id, nil); rep.status != http.StatusOK {
		t.Fatalf("after the delay: %d %s", rep.status, rep.raw)
	}
	if n := len(values(t, h.graph(http.MethodGet, filter, nil))); n != 1 {
		t.Errorf("$filter after the delay found %d users, want 1", n)
	}

	// Seeded users are visible at once; the delay can be changed at run time.
	h.e.SetVisibilityDelay(0)
	id2 := h.inviteID("now@fabrikam.com")
	if rep := h.graph(http.MethodGet, "/users/"+id2, nil); rep.status != http.StatusOK {
		t.Errorf("with zero delay: %d", rep.status)
	}
}

func TestAcceptInvitation(t *testing.T) {
	h := newHarness(t, Options{})
	id := h.inviteID("jane@fabrikam.com")
	h.clock.Advance(time.Hour)
	if err := h.e.AcceptInvitation(id); err != nil {
		t.Fatal(err)
	}
	rep := h.graph(http.MethodGet, "/users/"+id+"?$select=externalUserState,externalUserStateChangeDateTime", nil)
	if rep.body["externalUserState"] != "Accepted" {
		t.Errorf("externalUserState = %v", rep.body["externalUserState"])
	}
	if got := str(rep.body, "externalUserStateChangeDateTime"); got != h.clock.Now().Format(time.RFC3339) {
		t.Errorf("change time %s, want %s", got, h.clock.Now().Format(time.RFC3339))
	}
	if err := h.e.AcceptInvitation("missing"); err == nil {
		t.Error("accepting for a missing user did not fail")
	}
}

func TestDeleteUser(t *testing.T) {
	h := newHarness(t, Options{})
	id := h.inviteID("jane@fabrikam.com")
	g := h.e.AddGroup(Group{DisplayName: "partners"})
	sp := h.e.AddServicePrincipal(ServicePrincipal{DisplayName: "app"})
	if err := h.e.AddGroupMemberOutOfBand(g.ID, id); err != nil {
		t.Fatal(err)
	}
	h.e.AssignAppRoleOutOfBand(AppRoleAssignment{PrincipalID: id, ResourceID: sp.ID, AppRoleID: DefaultAppRoleID})

	if rep := h.graph(http.MethodDelete, "/users/"+id, nil); rep.status != http.StatusNoContent {
		t.Fatalf("delete: %d %s", rep.status, rep.raw)
	}
	wantError(t, h.graph(http.MethodGet, "/users/"+id, nil), http.StatusNotFound, codeNotFound, id)
	wantError(t, h.graph(http.MethodDelete, "/users/"+id, nil), http.StatusNotFound, codeNotFound, id)
	if m := h.e.GroupMembers(g.ID); len(m) != 0 {
		t.Errorf("deleted user still in group: %v", m)
	}
	if a := h.e.AppRoleAssignments(sp.ID); len(a) != 0 {
		t.Errorf("deleted user still assigned: %v", a)
	}

	// Soft delete: the user sits in deletedItems and can be restored.
	del := h.graph(http.MethodGet, "/directory/deletedItems/"+id, nil)
	if del.status != http.StatusOK || str(del.body, "id") != id || str(del.body, "deletedDateTime") == "" {
		t.Fatalf("deletedItems: %d %s", del.status, del.raw)
	}
	if rep := h.graph(http.MethodPost, "/directory/deletedItems/"+id+"/restore", nil); rep.status != http.StatusOK {
		t.Fatalf("restore: %d %s", rep.status, rep.raw)
	}
	if rep := h.graph(http.MethodGet, "/users/"+id, nil); rep.status != http.StatusOK {
		t.Errorf("restored user: %d", rep.status)
	}
	wantError(t, h.graph(http.MethodGet, "/directory/deletedItems/"+id, nil), http.StatusNotFound, codeNotFound, id)

	if err := h.e.DeleteUserOutOfBand(id); err != nil {
		t.Fatal(err)
	}
	if _, ok := h.e.User(id); ok {
		t.Error("out-of-band delete left the user")
	}
	if err := h.e.DeleteUserOutOfBand(id); err == nil {
		t.Error("second out-of-band delete did not fail")
	}
}

func TestPatchUser(t *testing.T) {
	h := newHarness(t, Options{})
	id := h.inviteID("jane@fabrikam.com")

	rep := h.graph(http.MethodPatch, "/users/"+id, map[string]any{
		"@odata.type": "#microsoft.graph.user", "displayName": "Jane D.", "userType": "member",
	})
	if rep.status != http.StatusNoContent || len(rep.raw) != 0 {
		t.Fatalf("patch: %d %s", rep.status, rep.raw)
	}
	u, _ := h.e.User(id)
	if u.DisplayName != "Jane D." || u.UserType != "Member" {
		t.Errorf("after patch: %+v", u)
	}

	tests := map[string]struct {
		id     string
		body   any
		status int
		code   string
	}{
		"absent user":      {"missing", map[string]any{"displayName": "x"}, http.StatusNotFound, codeNotFound},
		"bad user type":    {id, map[string]any{"userType": "Admin"}, http.StatusBadRequest, codeRequestBadRequest},
		"empty name":       {id, map[string]any{"displayName": ""}, http.StatusBadRequest, codeRequestBadRequest},
		"undefined":        {id, map[string]any{"favouriteColour": "green"}, http.StatusBadRequest, codeRequestBadRequest},
		"wrong case":       {id, map[string]any{"DisplayName": "x"}, http.StatusBadRequest, codeRequestBadRequest},
		"read-only":        {id, map[string]any{"creationType": "Invitation"}, http.StatusBadRequest, codeRequestBadRequest},
		"name over 256":    {id, map[string]any{"displayName": strings.Repeat("n", 257)}, http.StatusBadRequest, codeRequestBadRequest},
		"two phones":       {id, map[string]any{"businessPhones": []string{"+1 1", "+1 2"}}, http.StatusBadRequest, codeRequestBadRequest},
		"one bad of two":   {id, map[string]any{"jobTitle": "CEO", "givenName": strings.Repeat("g", 65)}, http.StatusBadRequest, codeRequestBadRequest},
		"usage location":   {id, map[string]any{"usageLocation": "Germany"}, http.StatusBadRequest, codeRequestBadRequest},
		"too long":         {id, map[string]any{"department": strings.Repeat("d", 65)}, http.StatusBadRequest, codeRequestBadRequest},
		"enabled a string": {id, map[string]any{"accountEnabled": "false"}, http.StatusBadRequest, codeRequestBadRequest},
		"enabled null":     {id, map[string]any{"accountEnabled": nil}, http.StatusBadRequest, codeRequestBadRequest},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			rep := h.graph(http.MethodPatch, "/users/"+tc.id, tc.body)
			wantError(t, rep, tc.status, tc.code, "")
		})
	}
	if u2, _ := h.e.User(id); u2.DisplayName != "Jane D." || u2.UserType != "Member" || len(u2.Profile) != 0 || !u2.AccountEnabled {
		t.Errorf("a rejected patch changed the user: %+v", u2)
	}
	if rep := h.graph(http.MethodPatch, "/users/"+id, map[string]any{"jobTitle": "CEO", "companyName": "Fabrikam"}); rep.status != http.StatusNoContent {
		t.Fatalf("profile patch: status %d: %s", rep.status, rep.raw)
	}
	if rep := h.graph(http.MethodGet, "/users/"+id+"?$select=jobTitle,companyName,department", nil); str(rep.body, "jobTitle") != "CEO" ||
		str(rep.body, "companyName") != "Fabrikam" || rep.body["department"] != nil {
		t.Errorf("profile read back: %s", rep.raw)
	}
}

func TestPatchAccountEnabled(t *testing.T) {
	h := newHarness(t, Options{})
	id := h.inviteID("jane@fabrikam.com")
	sel := "/users/" + id + "?$select=accountEnabled"
	if rep := h.graph(http.MethodGet, sel, nil); rep.body["accountEnabled"] != true {
		t.Fatalf("an invited guest is not enabled: %s", rep.raw)
	}
	for _, enabled := range []bool{false, true} {
		if rep := h.graph(http.MethodPatch, "/users/"+id, map[string]any{"accountEnabled": enabled}); rep.status != http.StatusNoContent {
			t.Fatalf("patch accountEnabled=%t: %d %s", enabled, rep.status, rep.raw)
		}
		if rep := h.graph(http.MethodGet, sel, nil); rep.body["accountEnabled"] != enabled {
			t.Errorf("accountEnabled read back %v, want %t", rep.body["accountEnabled"], enabled)
		}
	}
}

// /users/{id-or-upn}: a user principal name works wherever an id does, in any case.
func TestUserByUPN(t *testing.T) {
	h := newHarness(t, Options{})
	id := h.inviteID("jane@fabrikam.com")
	upn := url.PathEscape("JANE_Fabrikam.com#EXT#@emulator.onmicrosoft.com")

	rep := h.graph(http.MethodGet, "/users/"+upn+"?$select=id,userPrincipalName", nil)
	if rep.status != http.StatusOK || str(rep.body, "id") != id ||
		str(rep.body, "userPrincipalName") != "jane_fabrikam.com#EXT#@emulator.onmicrosoft.com" {
		t.Fatalf("get by UPN: %d %s", rep.status, rep.raw)
	}
	if rep := h.graph(http.MethodPatch, "/users/"+upn, map[string]any{"jobTitle": "Partner"}); rep.status != http.StatusNoContent {
		t.Fatalf("patch by UPN: %d %s", rep.status, rep.raw)
	}
	if u, _ := h.e.User(id); u.Profile["jobTitle"] != "Partner" {
		t.Errorf("patch by UPN did not take: %+v", u)
	}
	if rep := h.graph(http.MethodDelete, "/users/"+upn, nil); rep.status != http.StatusNoContent {
		t.Fatalf("delete by UPN: %d %s", rep.status, rep.raw)
	}
	if _, ok := h.e.User(id); ok {
		t.Error("delete by UPN left the user")
	}
	wantError(t, h.graph(http.MethodGet, "/users/"+upn, nil), http.StatusNotFound, codeNotFound, "#EXT#")
	wantError(t, h.graph(http.MethodGet, "/users/nobody@emulator.onmicrosoft.com", nil), http.StatusNotFound, codeNotFound, "nobody")
}

func TestAddUserDefaults(t *testing.T) {
	e := New(Options{})
	guest := e.AddUser(User{Mail: "g@fabrikam.com", CreationType: "Invitation", ExternalUserState: StateAccepted})
	if guest.ID == "" || guest.UserType != "Guest" || guest.UserPrincipalName != "g_fabrikam.com#EXT#@emulator.onmicrosoft.com" || guest.CreatedDateTime.IsZero() {
		t.Errorf("guest defaults: %+v", guest)
	}
	member := e.AddUser(User{Mail: "m@emulator.onmicrosoft.com"})
	if member.UserType != "Member" || member.UserPrincipalName != "m@emulator.onmicrosoft.com" {
		t.Errorf("member defaults: %+v", member)
	}
	if got := e.Users(); len(got) != 2 || got[0].ID != guest.ID || got[1].ID != member.ID {
		t.Errorf("Users() not in creation order: %+v", got)
	}
}

func TestUnknownPaths(t *testing.T) {
	h := newHarness(t, Options{})
	for _, p := range []string{"/v1.0/devices", "/v1.0/users/x/manager", "/beta/users", "/v1.0"} {
		rep := h.call(http.MethodGet, p, nil)
		wantError(t, rep, http.StatusNotFound, codeNotFound, "")
	}
	wantError(t, h.graph(http.MethodPut, "/users/x", nil), http.StatusMethodNotAllowed, codeRequestBadRequest, "")
}

// Every structural property of microsoft.graph.user (from msgraph-sdk-go's model) can be
// selected, unset ones reading as null or []; every property the user-update page lists can
// be written, of any type, and reads back as written.
func TestUserSchemaProperties(t *testing.T) {
	h := newHarness(t, Options{})
	id := h.inviteID("jane@fabrikam.com")

	for _, p := range []string{"department", "companyName", "faxNumber", "employeeHireDate", "passwordPolicies", "onPremisesSyncEnabled"} {
		rep := h.graph(http.MethodGet, "/users/"+id+"?$select="+p, nil)
		if v, ok := rep.body[p]; rep.status != http.StatusOK || !ok || v != nil {
			t.Errorf("$select=%s on a user without it: %d %s, want the property as null", p, rep.status, rep.raw)
		}
	}
	for _, p := range []string{"imAddresses", "proxyAddresses", "businessPhones", "identities"} {
		rep := h.graph(http.MethodGet, "/users/"+id+"?$select="+p, nil)
		if v, ok := rep.body[p].([]any); rep.status != http.StatusOK || !ok || len(v) != 0 {
			t.Errorf("$select=%s on a user without it: %d %s, want []", p, rep.status, rep.raw)
		}
	}
	// Navigation properties are not values: $select of one is Graph's 400.
	wantError(t, h.graph(http.MethodGet, "/users/"+id+"?$select=manager", nil), http.StatusBadRequest, codeBadRequest, "manager")

	patch := map[string]any{
		"companyName": "Fabrikam", "department": "Audit", "city": "Zürich", "officeLocation": "B2",
		"mobilePhone": "+41 44 000 00 00", "businessPhones": []string{"+41 44 000 00 01"},
		"employeeHireDate": "2024-02-01T00:00:00Z", "employeeOrgData": map[string]any{"division": "Risk", "costCenter": "C-7"},
		"otherMails": []string{"jane@fabrikam.com", "jane.doe@fabrikam.com"}, "preferredLanguage": "de-CH",
	}
	if rep := h.graph(http.MethodPatch, "/users/"+id, patch); rep.status != http.StatusNoContent {
		t.Fatalf("patch: %d %s", rep.status, rep.raw)
	}
	sel := make([]string, 0, len(patch))
	for k := range patch {
		sel = append(sel, k)
	}
	rep := h.graph(http.MethodGet, "/users/"+id+"?$select="+strings.Join(sel, ","), nil)
	if rep.status != http.StatusOK {
		t.Fatalf("read back: %d %s", rep.status, rep.raw)
	}
	for k, want := range patch {
		if got, want := fmt.Sprint(rep.body[k]), fmt.Sprint(roundTrip(t, want)); got != want {
			t.Errorf("%s read back as %s, want %s", k, got, want)
		}
	}
	// null clears, of any type.
	if rep := h.graph(http.MethodPatch, "/users/"+id, map[string]any{"employeeOrgData": nil, "department": nil}); rep.status != http.StatusNoContent {
		t.Fatalf("patch nulls: %d %s", rep.status, rep.raw)
	}
	rep = h.graph(http.MethodGet, "/users/"+id+"?$select=employeeOrgData,department,companyName", nil)
	if rep.body["employeeOrgData"] != nil || rep.body["department"] != nil || rep.body["companyName"] != "Fabrikam" {
		t.Errorf("after clearing: %s", rep.raw)
	}
	// Documented limits, with Graph's message.
	for prop, v := range map[string]string{"companyName": strings.Repeat("c", 65), "jobTitle": strings.Repeat("j", 129),
		"mailNickname": strings.Repeat("m", 65), "employeeId": strings.Repeat("1", 17), "postalCode": strings.Repeat("9", 41)} {
		wantError(t, h.graph(http.MethodPatch, "/users/"+id, map[string]any{prop: v}), http.StatusBadRequest, codeRequestBadRequest,
			"Invalid value specified for property '"+prop+"' of resource 'User'.")
	}
	// A value of the wrong type, in the OData reader's words.
	wantError(t, h.graph(http.MethodPatch, "/users/"+id, map[string]any{"employeeHireDate": "last spring"}), http.StatusBadRequest,
		codeRequestBadRequest, "Cannot convert the literal 'last spring' to the expected type 'Edm.DateTimeOffset'.")
	wantError(t, h.graph(http.MethodPatch, "/users/"+id, map[string]any{"employeeOrgData": map[string]any{"team": "x"}}), http.StatusBadRequest,
		codeRequestBadRequest, "The property 'team' does not exist on type 'microsoft.graph.employeeOrgData'.")
}

// roundTrip is v as a JSON decoder sees it, for comparison with a decoded answer.
func roundTrip(t *testing.T, v any) any {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var out any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// A userPrincipalName another user holds is refused; the user keeps its own.
func TestPatchUserPrincipalName(t *testing.T) {
	h := newHarness(t, Options{})
	jane := h.inviteID("jane@fabrikam.com")
	h.inviteID("joe@fabrikam.com")
	wantError(t, h.graph(http.MethodPatch, "/users/"+jane, map[string]any{"userPrincipalName": "joe_fabrikam.com#EXT#@" + TenantDomain}),
		http.StatusBadRequest, codeRequestBadRequest, "Another object with the same value for property userPrincipalName already exists.")
	if rep := h.graph(http.MethodPatch, "/users/"+jane, map[string]any{"userPrincipalName": "jane@" + TenantDomain}); rep.status != http.StatusNoContent {
		t.Fatalf("patch UPN: %d %s", rep.status, rep.raw)
	}
	if rep := h.graph(http.MethodGet, "/users/jane@"+TenantDomain+"?$select=id", nil); str(rep.body, "id") != jane {
		t.Errorf("get by the new UPN: %d %s", rep.status, rep.raw)
	}
}
