package msgraph

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	graph "github.com/partnerops/partner-operator/internal/graph"
	"github.com/partnerops/partner-operator/internal/graph/emulator"
)

// seedSP adds a service principal whose first role ID is upper-case on the wire, to check
// the client formats role IDs canonically.
func seedSP(emu *emulator.Emulator) (emulator.ServicePrincipal, *graph.ServicePrincipal) {
	sp := emu.AddServicePrincipal(emulator.ServicePrincipal{
		DisplayName: "Partner Portal",
		AppRoles: []emulator.AppRole{
			{ID: "6F1B5C3A-9D2E-4B7A-8C1D-0E2F3A4B5C6D", Value: "Reader", DisplayName: "Reader"},
			{Value: "Writer", DisplayName: "Writer"},
		},
	})
	want := &graph.ServicePrincipal{
		ID: sp.ID, AppID: sp.AppID, DisplayName: "Partner Portal",
		AppRoles: []graph.AppRole{
			{ID: "6f1b5c3a-9d2e-4b7a-8c1d-0e2f3a4b5c6d", Value: "Reader"},
			{ID: strings.ToLower(sp.AppRoles[1].ID), Value: "Writer"},
		},
	}
	return sp, want
}

func TestGetServicePrincipal(t *testing.T) {
	t.Parallel()
	c, emu := newTestClient(t, emulator.Options{})
	ctx := testContext(t)
	sp, want := seedSP(emu)

	got, err := c.GetServicePrincipal(ctx, sp.ID)
	if err != nil {
		t.Fatalf("GetServicePrincipal: %v", err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("service principal (-want +got):\n%s", diff)
	}
	req := onlyRequest(t, emu, "GET", "/servicePrincipals/"+sp.ID)
	if sel := queryParam(t, req, "$select"); sel != "id,appId,displayName,appRoles" {
		t.Errorf("$select = %q", sel)
	}

	_, err = c.GetServicePrincipal(ctx, "00000000-0000-0000-0000-00000000dead")
	if !graph.IsNotFound(err) {
		t.Errorf("GetServicePrincipal(unknown) error = %v, want NotFound", err)
	}
}

func TestFindServicePrincipalByAppID(t *testing.T) {
	t.Parallel()
	c, emu := newTestClient(t, emulator.Options{})
	ctx := testContext(t)
	sp, want := seedSP(emu)
	emu.AddServicePrincipal(emulator.ServicePrincipal{DisplayName: "Someone else"})

	got, err := c.FindServicePrincipalByAppID(ctx, sp.AppID)
	if err != nil {
		t.Fatalf("FindServicePrincipalByAppID: %v", err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("service principal (-want +got):\n%s", diff)
	}
	req := onlyRequest(t, emu, "GET", "/servicePrincipals")
	if f := queryParam(t, req, "$filter"); f != "appId eq '"+sp.AppID+"'" {
		t.Errorf("$filter = %q", f)
	}
	if sel := queryParam(t, req, "$select"); sel != "id,appId,displayName,appRoles" {
		t.Errorf("$select = %q", sel)
	}

	const unknown = "11111111-2222-3333-4444-555555555555"
	_, err = c.FindServicePrincipalByAppID(ctx, unknown)
	ge := graphErr(t, err)
	if ge.Kind != graph.KindNotFound || ge.StatusCode != 404 || !strings.Contains(ge.Error(), unknown) {
		t.Errorf("unknown appId error = %+v (%v), want NotFound 404 naming the appId", ge, ge)
	}
}

func TestAppRoleAssignment(t *testing.T) {
	t.Parallel()
	c, emu := newTestClient(t, emulator.Options{})
	ctx := testContext(t)
	sp, want := seedSP(emu)
	u := emu.AddUser(emulator.User{Mail: "jane@fabrikam.com", UserType: "Guest"})
	role := want.AppRoles[0].ID
	a := graph.AppRoleAssignment{PrincipalID: u.ID, ResourceID: sp.ID, AppRoleID: role}

	id, err := c.AssignAppRole(ctx, a)
	if err != nil {
		t.Fatalf("AssignAppRole: %v", err)
	}
	got := emu.AppRoleAssignments(sp.ID)
	if len(got) != 1 || got[0].ID != id || got[0].PrincipalID != u.ID || !strings.EqualFold(got[0].AppRoleID, role) {
		t.Fatalf("assignments = %+v, want one with id %q for %s", got, id, u.ID)
	}
	body := withoutODataType(decodeBody(t, onlyRequest(t, emu, "POST", "/servicePrincipals/"+sp.ID+"/appRoleAssignedTo")))
	wantBody := map[string]any{"principalId": u.ID, "resourceId": sp.ID, "appRoleId": role}
	if diff := cmp.Diff(wantBody, body); diff != "" {
		t.Errorf("assignment body (-want +got):\n%s", diff)
	}

	// Duplicate: "Permission being assigned already exists on the object".
	_, err = c.AssignAppRole(ctx, a)
	if ge := graphErr(t, err); ge.Kind != graph.KindAlreadyExists || ge.StatusCode != 400 {
		t.Errorf("duplicate AssignAppRole error = %+v, want AlreadyExists 400", ge)
	}

	// Default access works for any service principal.
	defID, err := c.AssignAppRole(ctx, graph.AppRoleAssignment{PrincipalID: u.ID, ResourceID: sp.ID, AppRoleID: graph.DefaultAppRoleID})
	if err != nil || defID == "" || defID == id {
		t.Errorf("default-access AssignAppRole = %q, %v; want a new id", defID, err)
	}

	// Remove, then remove again: the second is NotFound.
	if err := c.RemoveAppRoleAssignment(ctx, sp.ID, id); err != nil {
		t.Fatalf("RemoveAppRoleAssignment: %v", err)
	}
	for _, left := range emu.AppRoleAssignments(sp.ID) {
		if left.ID == id {
			t.Errorf("assignment %s still exists", id)
		}
	}
	onlyRequest(t, emu, "DELETE", "/servicePrincipals/"+sp.ID+"/appRoleAssignedTo/"+id)
	if err := c.RemoveAppRoleAssignment(ctx, sp.ID, id); !graph.IsNotFound(err) {
		t.Errorf("second RemoveAppRoleAssignment error = %v, want NotFound", err)
	}
}

func TestAssignAppRoleNotYetVisible(t *testing.T) {
	t.Parallel()
	c, emu := newTestClient(t, emulator.Options{})
	ctx := testContext(t)
	sp, want := seedSP(emu)
	emu.SetVisibilityDelay(time.Hour)
	inv, err := c.Invite(ctx, graph.InvitationRequest{Email: "new@fabrikam.com", RedirectURL: "https://myapps.microsoft.com"})
	if err != nil {
		t.Fatalf("Invite: %v", err)
	}

	_, err = c.AssignAppRole(ctx, graph.AppRoleAssignment{PrincipalID: inv.UserID, ResourceID: sp.ID, AppRoleID: want.AppRoles[1].ID})
	ge := graphErr(t, err)
	if ge.Kind != graph.KindTransient || ge.StatusCode != 400 || !strings.Contains(ge.Message, "Not a valid reference update") {
		t.Errorf("error = %+v, want Transient 400 'Not a valid reference update'", ge)
	}
	if n := len(emu.AppRoleAssignments(sp.ID)); n != 0 {
		t.Errorf("%d assignments exist, want none", n)
	}
}

func TestAssignAppRoleRejectsMalformedIDs(t *testing.T) {
	t.Parallel()
	c, emu := newTestClient(t, emulator.Options{})
	ctx := testContext(t)
	good := "6f1b5c3a-9d2e-4b7a-8c1d-0e2f3a4b5c6d"
	tests := []struct {
		name string
		a    graph.AppRoleAssignment
	}{
		{"principal", graph.AppRoleAssignment{PrincipalID: "jane", ResourceID: good, AppRoleID: good}},
		{"resource", graph.AppRoleAssignment{PrincipalID: good, ResourceID: "", AppRoleID: good}},
		{"role", graph.AppRoleAssignment{PrincipalID: good, ResourceID: good, AppRoleID: "Reader"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := c.AssignAppRole(ctx, tc.a)
			if !graph.IsTerminal(err) {
				t.Errorf("error = %v, want Terminal", err)
			}
		})
	}
	if rs := emu.Requests(); len(rs) != 0 {
		t.Errorf("malformed assignments reached Graph: %v", summarize(rs))
	}
}
