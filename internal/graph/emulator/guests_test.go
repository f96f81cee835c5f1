package emulator

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"
)

// pageThrough follows @odata.nextLink from path (relative to /v1.0) and returns every page.
func (h *harness) pageThrough(path string) [][]map[string]any {
	h.t.Helper()
	var pages [][]map[string]any
	next := h.srv.URL + "/v1.0" + path
	for next != "" {
		if !strings.HasPrefix(next, h.srv.URL+"/") {
			h.t.Fatalf("nextLink %q is not on the emulator's host", next)
		}
		rep := h.call(http.MethodGet, strings.TrimPrefix(next, h.srv.URL), nil)
		if rep.status != http.StatusOK {
			h.t.Fatalf("GET %s: %d %s", next, rep.status, rep.raw)
		}
		pages = append(pages, values(h.t, rep))
		next = str(rep.body, "@odata.nextLink")
		if len(pages) > 100 {
			h.t.Fatal("more than 100 pages: the links loop")
		}
	}
	return pages
}

// idsInOrder returns the objects' ids in the order listed.
func idsInOrder(objs []map[string]any) []string {
	out := make([]string, len(objs))
	for i, o := range objs {
		out[i], _ = o["id"].(string)
	}
	return out
}

func TestListUsersPages(t *testing.T) {
	h := newHarness(t, Options{})
	var guests []string
	for i := range 250 {
		guests = append(guests, h.e.AddUser(User{Mail: fmt.Sprintf("g%03d@fabrikam.com", i), UserType: "Guest"}).ID)
		if i%50 == 0 {
			h.e.AddUser(User{Mail: fmt.Sprintf("m%03d@contoso.com", i)}) // a member in between
		}
	}

	t.Run("default page size", func(t *testing.T) {
		pages := h.pageThrough("/users")
		if len(pages) != 3 || len(pages[0]) != 100 || len(pages[2]) != 55 {
			t.Errorf("pages of %v users, want 100, 100, 55", pageSizes(pages))
		}
	})

	t.Run("$top, $filter and $select kept in the links", func(t *testing.T) {
		q := url.Values{"$top": {"120"}, "$select": {"id,mail"}, "$filter": {"userType eq 'Guest'"}}
		pages := h.pageThrough("/users?" + q.Encode())
		if got := pageSizes(pages); !slices.Equal(got, []int{120, 120, 10}) {
			t.Errorf("page sizes %v, want [120 120 10]", got)
		}
		var got []string
		for _, p := range pages {
			got = append(got, idsInOrder(p)...)
			for _, u := range p {
				if _, ok := u["userPrincipalName"]; ok {
					t.Fatalf("$select lost on a later page: %v", u)
				}
			}
		}
		if !slices.Equal(got, guests) {
			t.Errorf("listed %d guests, want the %d in creation order", len(got), len(guests))
		}
	})

	t.Run("changes between pages", func(t *testing.T) {
		rep := h.graph(http.MethodGet, "/users?$top=100&$filter="+url.QueryEscape("userType eq 'Guest'"), nil)
		first := idsInOrder(values(t, rep))
		// A user of the first page goes, one of the second goes, one arrives: nobody else is
		// skipped or listed twice.
		if err := h.e.DeleteUserOutOfBand(guests[10]); err != nil {
			t.Fatal(err)
		}
		if err := h.e.DeleteUserOutOfBand(guests[150]); err != nil {
			t.Fatal(err)
		}
		late := h.e.AddUser(User{Mail: "late@fabrikam.com", UserType: "Guest"}).ID
		next := str(rep.body, "@odata.nextLink")
		rest := h.pageThrough(strings.TrimPrefix(next, h.srv.URL+"/v1.0"))
		got := first
		for _, p := range rest {
			got = append(got, idsInOrder(p)...)
		}
		want := slices.Concat(guests[:150], guests[151:], []string{late})
		if !slices.Equal(got, want) {
			t.Errorf("listed %d users across the changes, want %d", len(got), len(want))
		}
	})

	for _, top := range []string{"1000", "0", "-1", "ten"} {
		t.Run("$top "+top, func(t *testing.T) {
			wantError(t, h.graph(http.MethodGet, "/users?$top="+top, nil), http.StatusBadRequest, codeRequestBadRequest,
				"Invalid page size specified: '"+top+"'. Must be between 1 and 999 inclusive.")
		})
	}
	t.Run("$top 999", func(t *testing.T) {
		if rep := h.graph(http.MethodGet, "/users?$top=999", nil); rep.status != http.StatusOK || rep.body["@odata.nextLink"] != nil {
			t.Errorf("$top=999: %d, nextLink %v", rep.status, rep.body["@odata.nextLink"])
		}
	})
	t.Run("foreign $skiptoken", func(t *testing.T) {
		wantError(t, h.graph(http.MethodGet, "/users?$skiptoken=X'4453',", nil), http.StatusBadRequest, codeRequestBadRequest, "$skiptoken")
	})
}

func pageSizes(pages [][]map[string]any) []int {
	out := make([]int, len(pages))
	for i, p := range pages {
		out[i] = len(p)
	}
	return out
}

func TestFilterUsersByCreatedDateTime(t *testing.T) {
	h := newHarness(t, Options{})
	day := func(d int) time.Time { return time.Date(2024, 1, d, 12, 0, 0, 0, time.UTC) }
	early := h.e.AddUser(User{Mail: "early@fabrikam.com", UserType: "Guest", ExternalUserState: StateAccepted, CreatedDateTime: day(1)})
	mid := h.e.AddUser(User{Mail: "mid@fabrikam.com", UserType: "Guest", ExternalUserState: StatePendingAcceptance, CreatedDateTime: day(15)})
	late := h.e.AddUser(User{Mail: "late@fabrikam.com", UserType: "Guest", ExternalUserState: StateAccepted, CreatedDateTime: day(31)})
	member := h.e.AddUser(User{Mail: "member@contoso.com", UserType: "Member", CreatedDateTime: day(20)})

	tests := map[string][]string{
		"createdDateTime ge 2024-01-15T12:00:00Z":                                                               {mid.ID, late.ID, member.ID},
		"createdDateTime le 2024-01-15T12:00:00Z":                                                               {early.ID, mid.ID},
		"createdDateTime eq 2024-01-01T12:00:00Z":                                                               {early.ID},
		"createdDateTime ge 2024-01-15T13:00:00+01:00":                                                          {mid.ID, late.ID, member.ID},
		"userType eq 'Guest' and createdDateTime ge 2024-01-10T00:00:00Z":                                       {mid.ID, late.ID},
		"userType eq 'Guest' and externalUserState eq 'Accepted'":                                               {early.ID, late.ID},
		"userType eq 'Guest' and externalUserState eq 'Accepted' and createdDateTime ge 2024-01-02T00:00:00.5Z": {late.ID},
	}
	for filter, want := range tests {
		t.Run(filter, func(t *testing.T) {
			rep := h.graph(http.MethodGet, "/users?$select=id,createdDateTime&$filter="+url.QueryEscape(filter), nil)
			if rep.status != http.StatusOK {
				t.Fatalf("status %d: %s", rep.status, rep.raw)
			}
			if got := idsInOrder(values(t, rep)); !slices.Equal(got, want) {
				t.Errorf("ids %v, want %v", got, want)
			}
		})
	}

	for filter, msg := range map[string]string{
		"createdDateTime ge '2024-01-01T00:00:00Z'": "incompatible types",
		"createdDateTime gt 2024-01-01T00:00:00Z":   "not supported",
		"createdDateTime ge 2024-13-01":             "not a valid DateTimeOffset",
		"createdDateTime ge":                        "DateTimeOffset literal",
	} {
		t.Run("refused "+filter, func(t *testing.T) {
			wantError(t, h.graph(http.MethodGet, "/users?$filter="+url.QueryEscape(filter), nil),
				http.StatusBadRequest, codeUnsupportedQuery, msg)
		})
	}
}

func TestMemberOf(t *testing.T) {
	h := newHarness(t, Options{})
	jane := h.e.AddUser(User{Mail: "jane@fabrikam.com", UserType: "Guest"})
	other := h.e.AddUser(User{Mail: "joe@fabrikam.com", UserType: "Guest"})
	security := h.e.AddGroup(Group{DisplayName: "Partners"})
	m365 := h.e.AddGroup(Group{DisplayName: "Project X", Kind: GroupMicrosoft365})
	dynamic := h.e.AddGroup(Group{DisplayName: "All guests", Dynamic: true})
	synced := h.e.AddGroup(Group{DisplayName: "From AD", OnPremises: true, Kind: GroupMailEnabledSecurity})
	notHers := h.e.AddGroup(Group{DisplayName: "Staff"})
	for _, g := range []Group{dynamic, security, m365, synced} {
		if err := h.e.AddGroupMemberOutOfBand(g.ID, jane.ID); err != nil {
			t.Fatal(err)
		}
	}
	if err := h.e.AddGroupMemberOutOfBand(notHers.ID, other.ID); err != nil {
		t.Fatal(err)
	}

	sel := "id,displayName,groupTypes,mailEnabled,securityEnabled,onPremisesSyncEnabled"
	rep := h.graph(http.MethodGet, "/users/"+jane.ID+"/memberOf?$select="+sel, nil)
	if rep.status != http.StatusOK {
		t.Fatalf("status %d: %s", rep.status, rep.raw)
	}
	if got, want := str(rep.body, "@odata.context"), "/v1.0/$metadata#directoryObjects("+sel+")"; !strings.HasSuffix(got, want) {
		t.Errorf("@odata.context = %q, want …%s", got, want)
	}
	groups := values(t, rep)
	if got, want := idsInOrder(groups), []string{security.ID, m365.ID, dynamic.ID, synced.ID}; !slices.Equal(got, want) {
		t.Fatalf("memberOf ids %v, want %v (creation order)", got, want)
	}
	wantGroup := []struct {
		types          string
		mail, security bool
		onPremises     any
	}{
		{"", false, true, nil},
		{"Unified", true, false, nil},
		{"DynamicMembership", false, true, nil},
		{"", true, true, true},
	}
	for i, w := range wantGroup {
		g := groups[i]
		var types []string
		for _, gt := range g["groupTypes"].([]any) {
			types = append(types, gt.(string))
		}
		if g["@odata.type"] != "#microsoft.graph.group" || strings.Join(types, ",") != w.types ||
			g["mailEnabled"] != w.mail || g["securityEnabled"] != w.security || g["onPremisesSyncEnabled"] != w.onPremises {
			t.Errorf("group %d: %v, want groupTypes %q mailEnabled %t securityEnabled %t onPremisesSyncEnabled %v",
				i, g, w.types, w.mail, w.security, w.onPremises)
		}
	}

	t.Run("pages", func(t *testing.T) {
		pages := h.pageThrough("/users/" + jane.ID + "/memberOf?$top=3&$select=id")
		if got := pageSizes(pages); !slices.Equal(got, []int{3, 1}) {
			t.Errorf("page sizes %v, want [3 1]", got)
		}
		if got := sortedKeys(pages[1][0]); strings.Join(got, ",") != "@odata.type,id" {
			t.Errorf("$select=id on a later page: properties %v", got)
		}
	})
	t.Run("by user principal name", func(t *testing.T) {
		if rep := h.graph(http.MethodGet, "/users/"+url.PathEscape(jane.UserPrincipalName)+"/memberOf", nil); len(values(t, rep)) != 4 {
			t.Errorf("memberOf by UPN: %s", rep.raw)
		}
	})
	t.Run("errors", func(t *testing.T) {
		wantError(t, h.graph(http.MethodGet, "/users/missing/memberOf", nil), http.StatusNotFound, codeNotFound, "missing")
		wantError(t, h.graph(http.MethodGet, "/users/"+jane.ID+"/memberOf?$select=colour", nil), http.StatusBadRequest, codeBadRequest, "colour")
		wantError(t, h.graph(http.MethodGet, "/users/"+jane.ID+"/memberOf?$top=1000", nil), http.StatusBadRequest, codeRequestBadRequest, "Invalid page size")
		wantError(t, h.graph(http.MethodPost, "/users/"+jane.ID+"/memberOf", map[string]any{}), http.StatusMethodNotAllowed, codeRequestBadRequest, "")
	})
}

func TestUserAppRoleAssignments(t *testing.T) {
	h := newHarness(t, Options{})
	jane := h.e.AddUser(User{DisplayName: "Jane", Mail: "jane@fabrikam.com", UserType: "Guest"})
	joe := h.e.AddUser(User{Mail: "joe@fabrikam.com", UserType: "Guest"})
	team := h.e.AddGroup(Group{DisplayName: "Partners"})
	if err := h.e.AddGroupMemberOutOfBand(team.ID, jane.ID); err != nil {
		t.Fatal(err)
	}
	app := h.e.AddServicePrincipal(ServicePrincipal{DisplayName: "Portal", AppRoles: []AppRole{{Value: "Partner.Read"}}})
	direct := h.e.AssignAppRoleOutOfBand(AppRoleAssignment{PrincipalID: jane.ID, ResourceID: app.ID, AppRoleID: app.AppRoles[0].ID})
	viaGroup := h.e.AssignAppRoleOutOfBand(AppRoleAssignment{PrincipalID: team.ID, ResourceID: app.ID, AppRoleID: DefaultAppRoleID})
	h.e.AssignAppRoleOutOfBand(AppRoleAssignment{PrincipalID: joe.ID, ResourceID: app.ID, AppRoleID: DefaultAppRoleID})

	rep := h.graph(http.MethodGet, "/users/"+jane.ID+"/appRoleAssignments", nil)
	if rep.status != http.StatusOK {
		t.Fatalf("status %d: %s", rep.status, rep.raw)
	}
	got := values(t, rep)
	if !slices.Equal(idsInOrder(got), []string{direct.ID, viaGroup.ID}) {
		t.Fatalf("assignments %v, want jane's own and her group's", idsInOrder(got))
	}
	if got[0]["principalType"] != "User" || got[0]["principalId"] != jane.ID || got[0]["principalDisplayName"] != "Jane" ||
		got[0]["resourceId"] != app.ID || got[0]["resourceDisplayName"] != "Portal" || got[0]["appRoleId"] != app.AppRoles[0].ID {
		t.Errorf("direct assignment %v", got[0])
	}
	if got[1]["principalType"] != "Group" || got[1]["principalId"] != team.ID || got[1]["appRoleId"] != DefaultAppRoleID {
		t.Errorf("group assignment %v", got[1])
	}
	if !strings.HasSuffix(str(rep.body, "@odata.context"), "/v1.0/$metadata#users('"+jane.ID+"')/appRoleAssignments") {
		t.Errorf("@odata.context = %q", str(rep.body, "@odata.context"))
	}

	t.Run("select and pages", func(t *testing.T) {
		pages := h.pageThrough("/users/" + jane.ID + "/appRoleAssignments?$top=1&$select=resourceId,appRoleId")
		if gotSizes := pageSizes(pages); !slices.Equal(gotSizes, []int{1, 1}) {
			t.Errorf("page sizes %v, want [1 1]", gotSizes)
		}
		if keys := sortedKeys(pages[1][0]); strings.Join(keys, ",") != "appRoleId,id,resourceId" {
			t.Errorf("selected properties %v", keys)
		}
	})
	t.Run("errors", func(t *testing.T) {
		wantError(t, h.graph(http.MethodGet, "/users/missing/appRoleAssignments", nil), http.StatusNotFound, codeNotFound, "missing")
		wantError(t, h.graph(http.MethodGet, "/users/"+jane.ID+"/appRoleAssignments?$select=role", nil), http.StatusBadRequest, codeBadRequest, "role")
	})
	t.Run("needs Directory.Read.All or AppRoleAssignment.ReadWrite.All", func(t *testing.T) {
		h.e.SetGrantedPermissions("User.Read.All", "Application.Read.All")
		defer h.e.SetGrantedPermissions()
		wantError(t, h.graph(http.MethodGet, "/users/"+jane.ID+"/appRoleAssignments", nil), http.StatusForbidden, codeAuthorizationDenied, "")
		wantError(t, h.graph(http.MethodGet, "/users/"+jane.ID+"/memberOf", nil), http.StatusForbidden, codeAuthorizationDenied, "")
		h.e.SetGrantedPermissions("User.Read.All", "AppRoleAssignment.ReadWrite.All")
		if rep := h.graph(http.MethodGet, "/users/"+jane.ID+"/appRoleAssignments", nil); rep.status != http.StatusOK {
			t.Errorf("with AppRoleAssignment.ReadWrite.All: %d %s", rep.status, rep.raw)
		}
	})
}
