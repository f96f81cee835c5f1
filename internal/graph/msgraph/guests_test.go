package msgraph

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	graph "github.com/partnerops/partner-operator/internal/graph"
	"github.com/partnerops/partner-operator/internal/graph/emulator"
)

func TestListGuests(t *testing.T) {
	t.Parallel()
	c, emu := newTestClient(t, emulator.Options{})
	ctx := testContext(t)
	created := time.Date(2024, 6, 1, 0, 0, 0, 0, time.UTC)
	var want []string
	for i := range 1200 {
		state := emulator.StateAccepted
		if i%3 == 0 {
			state = emulator.StatePendingAcceptance
		}
		u := emu.AddUser(emulator.User{
			DisplayName: fmt.Sprintf("Guest %d", i), Mail: fmt.Sprintf("g%04d@fabrikam.com", i), UserType: "Guest",
			CreationType: "Invitation", ExternalUserState: state, CreatedDateTime: created.Add(time.Duration(i) * time.Hour),
		})
		want = append(want, u.ID)
		if i%100 == 0 {
			emu.AddUser(emulator.User{Mail: fmt.Sprintf("staff%d@contoso.com", i), UserType: "Member"})
		}
	}

	var got []string
	var pages int
	err := c.ListGuests(ctx, graph.GuestQuery{}, func(users []graph.User) error {
		pages++
		for _, u := range users {
			got = append(got, u.ID)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("ListGuests: %v", err)
	}
	if pages != 2 || !slices.Equal(got, want) {
		t.Errorf("%d guests in %d pages, want the %d guests in 2 pages of at most 999", len(got), pages, len(want))
	}
	reqs := requests(emu, "GET", "/users")
	if len(reqs) != 2 {
		t.Fatalf("%d GET /users, want 2: %v", len(reqs), summarize(emu.Requests()))
	}
	for _, r := range reqs {
		if top, filter := queryParam(t, r, "$top"), queryParam(t, r, "$filter"); top != "999" || filter != "userType eq 'Guest'" {
			t.Errorf("request %s: $top %q, $filter %q", r.RawQuery, top, filter)
		}
		if sel := queryParam(t, r, "$select"); !strings.Contains(sel, "externalUserState") || !strings.Contains(sel, "createdDateTime") {
			t.Errorf("$select %q lacks externalUserState or createdDateTime", sel)
		}
	}

	t.Run("a guest as the client sees it", func(t *testing.T) {
		var first graph.User
		_ = c.ListGuests(ctx, graph.GuestQuery{}, func(users []graph.User) error {
			first = users[0]
			return errors.New("enough")
		})
		wantFirst := graph.User{ID: want[0], DisplayName: "Guest 0", Mail: "g0000@fabrikam.com", UserType: "Guest",
			CreationType: "Invitation", ExternalUserState: "PendingAcceptance", CreatedAt: created}
		if diff := cmp.Diff(wantFirst, first, cmpopts.EquateEmpty()); diff != "" {
			t.Errorf("first guest (-want +got):\n%s", diff)
		}
	})

	t.Run("filters", func(t *testing.T) {
		emu.ResetRequests()
		emu.AddUser(emulator.User{Mail: "ann@contoso.com", OtherMails: []string{"ann@northwind.example"}, UserType: "Guest",
			ExternalUserState: emulator.StateAccepted, CreatedDateTime: created.Add(2000 * time.Hour)})
		q := graph.GuestQuery{Domain: "northwind.example", State: "Accepted", CreatedAfter: created.Add(1000 * time.Hour)}
		var got []string
		err := c.ListGuests(ctx, q, func(users []graph.User) error {
			for _, u := range users {
				got = append(got, u.Mail)
			}
			return nil
		})
		if err != nil || !slices.Equal(got, []string{"ann@contoso.com"}) {
			t.Errorf("ListGuests(%+v) = %v, %v; want ann only (matched on otherMails)", q, got, err)
		}
		r := onlyRequest(t, emu, "GET", "/users")
		want := "userType eq 'Guest' and externalUserState eq 'Accepted' and createdDateTime ge 2024-07-12T16:00:00Z"
		if f := queryParam(t, r, "$filter"); f != want {
			t.Errorf("$filter %q, want %q", f, want)
		}
	})

	t.Run("the callback stops the listing", func(t *testing.T) {
		emu.ResetRequests()
		stop := errors.New("stop")
		if err := c.ListGuests(ctx, graph.GuestQuery{}, func([]graph.User) error { return stop }); err != stop {
			t.Errorf("error = %v, want the callback's", err)
		}
		if n := len(requests(emu, "GET", "/users")); n != 1 {
			t.Errorf("%d pages read after the callback stopped, want 1", n)
		}
	})

	t.Run("permission", func(t *testing.T) {
		emu.SetGrantedPermissions("GroupMember.Read.All")
		defer emu.SetGrantedPermissions()
		err := c.ListGuests(ctx, graph.GuestQuery{}, func([]graph.User) error { return nil })
		if op, perm, ok := graph.MissingPermission(err); !ok || op != "list guests" || perm != "User.Read.All" {
			t.Errorf("403: MissingPermission = %q, %q, %t; want list guests, User.Read.All", op, perm, ok)
		}
	})
}

func TestMemberOfAndAppRoleAssignments(t *testing.T) {
	t.Parallel()
	c, emu := newTestClient(t, emulator.Options{})
	ctx := testContext(t)
	jane := emu.AddUser(emulator.User{Mail: "jane@fabrikam.com", UserType: "Guest"})
	partners := emu.AddGroup(emulator.Group{DisplayName: "Partners"})
	project := emu.AddGroup(emulator.Group{DisplayName: "Project X", Kind: emulator.GroupMicrosoft365})
	dynamic := emu.AddGroup(emulator.Group{DisplayName: "All guests", Dynamic: true})
	list := emu.AddGroup(emulator.Group{DisplayName: "Newsletter", Kind: emulator.GroupDistribution})
	for _, g := range []emulator.Group{partners, project, dynamic, list} {
		if err := emu.AddGroupMemberOutOfBand(g.ID, jane.ID); err != nil {
			t.Fatal(err)
		}
	}
	app := emu.AddServicePrincipal(emulator.ServicePrincipal{DisplayName: "Portal", AppRoles: []emulator.AppRole{{Value: "Partner.Read"}}})
	direct := emu.AssignAppRoleOutOfBand(emulator.AppRoleAssignment{PrincipalID: jane.ID, ResourceID: app.ID, AppRoleID: app.AppRoles[0].ID})
	viaGroup := emu.AssignAppRoleOutOfBand(emulator.AppRoleAssignment{PrincipalID: partners.ID, ResourceID: app.ID, AppRoleID: emulator.DefaultAppRoleID})

	groups, err := c.MemberOf(ctx, jane.ID)
	if err != nil {
		t.Fatalf("MemberOf: %v", err)
	}
	wantGroups := []graph.MemberGroup{
		{Group: graph.Group{ID: partners.ID, DisplayName: "Partners"}, GroupTypes: []string{}, SecurityEnabled: true},
		{Group: graph.Group{ID: project.ID, DisplayName: "Project X"}, GroupTypes: []string{"Unified"}, MailEnabled: true},
		{Group: graph.Group{ID: dynamic.ID, DisplayName: "All guests"}, GroupTypes: []string{"DynamicMembership"}, SecurityEnabled: true},
		{Group: graph.Group{ID: list.ID, DisplayName: "Newsletter"}, GroupTypes: []string{}, MailEnabled: true},
	}
	if diff := cmp.Diff(wantGroups, groups, cmpopts.EquateEmpty()); diff != "" {
		t.Errorf("MemberOf (-want +got):\n%s", diff)
	}
	r := onlyRequest(t, emu, "GET", "/users/"+jane.ID+"/memberOf")
	if top, sel := queryParam(t, r, "$top"), queryParam(t, r, "$select"); top != "999" || !strings.Contains(sel, "groupTypes") {
		t.Errorf("memberOf query %s", r.RawQuery)
	}

	assignments, err := c.AppRoleAssignments(ctx, jane.ID)
	if err != nil {
		t.Fatalf("AppRoleAssignments: %v", err)
	}
	wantAssignments := []graph.AssignedAppRole{
		{ID: direct.ID, PrincipalID: jane.ID, PrincipalType: "User", ResourceID: app.ID, ResourceDisplayName: "Portal", AppRoleID: app.AppRoles[0].ID},
		{ID: viaGroup.ID, PrincipalID: partners.ID, PrincipalType: "Group", ResourceID: app.ID, ResourceDisplayName: "Portal", AppRoleID: graph.DefaultAppRoleID},
	}
	if diff := cmp.Diff(wantAssignments, assignments); diff != "" {
		t.Errorf("AppRoleAssignments (-want +got):\n%s", diff)
	}

	t.Run("pages", func(t *testing.T) {
		bob := emu.AddUser(emulator.User{Mail: "bob@fabrikam.com", UserType: "Guest"})
		for i := range 120 {
			emu.AssignAppRoleOutOfBand(emulator.AppRoleAssignment{PrincipalID: bob.ID, ResourceID: app.ID, AppRoleID: fmt.Sprintf("00000000-0000-0000-0000-%012d", i)})
		}
		got, err := c.AppRoleAssignments(ctx, bob.ID)
		if err != nil || len(got) != 120 {
			t.Errorf("AppRoleAssignments = %d assignments, %v; want 120 across two pages", len(got), err)
		}
		if n := len(requests(emu, "GET", "/users/"+bob.ID+"/appRoleAssignments")); n != 2 {
			t.Errorf("%d requests, want 2 (Graph's page of 100, then the link)", n)
		}
	})

	t.Run("errors", func(t *testing.T) {
		if _, err := c.MemberOf(ctx, "00000000-0000-0000-0000-00000000dead"); !graph.IsNotFound(err) {
			t.Errorf("MemberOf(unknown) error = %v, want NotFound", err)
		}
		emu.SetGrantedPermissions("User.Read.All", "GroupMember.Read.All", "Application.Read.All")
		defer emu.SetGrantedPermissions()
		_, err := c.MemberOf(ctx, jane.ID)
		if op, perm, ok := graph.MissingPermission(err); !ok || op != "list memberships" || perm != "Directory.Read.All" {
			t.Errorf("MemberOf 403: %q, %q, %t", op, perm, ok)
		}
		_, err = c.AppRoleAssignments(ctx, jane.ID)
		if op, perm, ok := graph.MissingPermission(err); !ok || op != "list app role assignments" || perm != "Directory.Read.All" {
			t.Errorf("AppRoleAssignments 403: %q, %q, %t", op, perm, ok)
		}
	})
}

func TestGuestFilter(t *testing.T) {
	tests := map[string]graph.GuestQuery{
		"userType eq 'Guest'": {Domain: "fabrikam.com"},
		"userType eq 'Guest' and externalUserState eq 'PendingAcceptance'": {State: "PendingAcceptance"},
		"userType eq 'Guest' and createdDateTime ge 2024-01-31T23:00:00Z": {
			CreatedAfter: time.Date(2024, 2, 1, 0, 0, 0, 0, time.FixedZone("CET", 3600))},
		"userType eq 'Guest' and externalUserState eq 'x''y'": {State: "x'y"},
	}
	for want, q := range tests {
		if got := GuestFilter(q); got != want {
			t.Errorf("GuestFilter(%+v) = %q, want %q", q, got, want)
		}
	}
}
