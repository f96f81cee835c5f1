package msgraph

import (
	"fmt"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"

	graph "github.com/partnerops/partner-operator/internal/graph"
	"github.com/partnerops/partner-operator/internal/graph/emulator"
)

func TestInviteWithSponsors(t *testing.T) {
	t.Parallel()
	c, emu := newTestClient(t, emulator.Options{})
	ctx := testContext(t)
	employee := emu.AddUser(emulator.User{DisplayName: "Sam Sponsor", Mail: "sam@contoso.com", UserType: "Member", AccountEnabled: true})
	team := emu.AddGroup(emulator.Group{DisplayName: "Partner managers"})

	inv, err := c.Invite(ctx, graph.InvitationRequest{
		Email: "jane@fabrikam.com", RedirectURL: "https://myapps.microsoft.com",
		Sponsors: []string{employee.ID, team.ID},
	})
	if err != nil {
		t.Fatalf("Invite: %v", err)
	}
	body := withoutODataType(decodeBody(t, onlyRequest(t, emu, "POST", "/invitations")))
	want := []any{map[string]any{"id": employee.ID}, map[string]any{"id": team.ID}}
	if diff := cmp.Diff(want, body["invitedUserSponsors"]); diff != "" {
		t.Errorf("invitedUserSponsors (-want +got):\n%s", diff)
	}
	if got := emu.Sponsors(inv.UserID); !slices.Equal(got, []string{employee.ID, team.ID}) {
		t.Errorf("sponsors of the new guest = %v, want [%s %s]", got, employee.ID, team.ID)
	}

	// An unknown sponsor refuses the whole invitation: a terminal 400, no user created.
	_, err = c.Invite(ctx, graph.InvitationRequest{
		Email: "nobody@fabrikam.com", RedirectURL: "https://myapps.microsoft.com",
		Sponsors: []string{"00000000-0000-0000-0000-00000000dead"},
	})
	if ge := graphErr(t, err); ge.Kind != graph.KindTerminal || ge.StatusCode != 400 || ge.Code != "Request_BadRequest" {
		t.Errorf("invite with an unknown sponsor: error = %+v, want a terminal 400 Request_BadRequest", ge)
	}
	if got, _ := c.FindUsersByEmail(ctx, "nobody@fabrikam.com"); len(got) != 0 {
		t.Errorf("a refused invitation created %v", got)
	}
}

func TestSponsors(t *testing.T) {
	t.Parallel()
	c, emu := newTestClient(t, emulator.Options{})
	ctx := testContext(t)
	guest := emu.AddUser(emulator.User{Mail: "jane@fabrikam.com", UserType: "Guest", AccountEnabled: true})
	employee := emu.AddUser(emulator.User{DisplayName: "Sam Sponsor", Mail: "sam@contoso.com", UserType: "Member", AccountEnabled: true})
	team := emu.AddGroup(emulator.Group{DisplayName: "Partner managers"})

	list := func() []graph.DirectoryObject {
		t.Helper()
		got, err := c.ListSponsors(ctx, guest.ID)
		if err != nil {
			t.Fatalf("ListSponsors: %v", err)
		}
		return got
	}
	if got := list(); len(got) != 0 {
		t.Errorf("sponsors of a fresh guest = %v, want none", got)
	}
	if sel := queryParam(t, onlyRequest(t, emu, "GET", "/users/"+guest.ID+"/sponsors"), "$select"); sel != "id,displayName" {
		t.Errorf("$select = %q, want id,displayName", sel)
	}

	// Add a user and a group; the reference names Graph's public directoryObjects URL.
	for _, id := range []string{employee.ID, team.ID} {
		if err := c.AddSponsor(ctx, guest.ID, id); err != nil {
			t.Fatalf("AddSponsor(%s): %v", id, err)
		}
	}
	adds := requests(emu, "POST", "/users/"+guest.ID+"/sponsors/$ref")
	if len(adds) != 2 {
		t.Fatalf("%d POSTs to sponsors/$ref, want 2: %v", len(adds), summarize(emu.Requests()))
	}
	if got, want := decodeBody(t, adds[0])["@odata.id"], "https://graph.microsoft.com/v1.0/directoryObjects/"+employee.ID; got != want {
		t.Errorf("@odata.id = %v, want %s", got, want)
	}
	want := []graph.DirectoryObject{
		{ID: employee.ID, Type: graph.ObjectTypeUser, DisplayName: "Sam Sponsor"},
		{ID: team.ID, Type: graph.ObjectTypeGroup, DisplayName: "Partner managers"},
	}
	if diff := cmp.Diff(want, list()); diff != "" {
		t.Errorf("sponsors (-want +got):\n%s", diff)
	}

	// Duplicate: Graph's 400 "...already exist..." is AlreadyExists.
	err := c.AddSponsor(ctx, guest.ID, employee.ID)
	if ge := graphErr(t, err); !graph.IsAlreadyExists(err) || ge.StatusCode != 400 || ge.Code != "Request_BadRequest" {
		t.Errorf("duplicate AddSponsor error = %+v, want AlreadyExists 400 Request_BadRequest", ge)
	}
	// A sponsor that does not exist, and a user that does not.
	if err := c.AddSponsor(ctx, guest.ID, "00000000-0000-0000-0000-00000000dead"); !graph.IsNotFound(err) {
		t.Errorf("AddSponsor(unknown sponsor) error = %v, want NotFound", err)
	}
	if err := c.AddSponsor(ctx, "00000000-0000-0000-0000-00000000dead", employee.ID); !graph.IsNotFound(err) {
		t.Errorf("AddSponsor(unknown user) error = %v, want NotFound", err)
	}

	// Remove, then remove again: the second is NotFound.
	if err := c.RemoveSponsor(ctx, guest.ID, employee.ID); err != nil {
		t.Fatalf("RemoveSponsor: %v", err)
	}
	onlyRequest(t, emu, "DELETE", "/users/"+guest.ID+"/sponsors/"+employee.ID+"/$ref")
	if got := emu.Sponsors(guest.ID); !slices.Equal(got, []string{team.ID}) {
		t.Errorf("sponsors after removal = %v, want [%s]", got, team.ID)
	}
	err = c.RemoveSponsor(ctx, guest.ID, employee.ID)
	if ge := graphErr(t, err); !graph.IsNotFound(err) || ge.StatusCode != 404 {
		t.Errorf("second RemoveSponsor error = %+v, want NotFound 404", ge)
	}
}

// ListSponsors follows @odata.nextLink: the emulator pages at Graph's default of 100.
func TestListSponsorsFollowsNextLink(t *testing.T) {
	t.Parallel()
	c, emu := newTestClient(t, emulator.Options{})
	ctx := testContext(t)
	guest := emu.AddUser(emulator.User{Mail: "jane@fabrikam.com", UserType: "Guest", AccountEnabled: true})
	var want []string
	for i := range 103 {
		g := emu.AddGroup(emulator.Group{DisplayName: fmt.Sprintf("Team %d", i)})
		if err := emu.AddSponsorOutOfBand(guest.ID, g.ID); err != nil {
			t.Fatal(err)
		}
		want = append(want, g.ID)
	}

	got, err := c.ListSponsors(ctx, guest.ID)
	if err != nil {
		t.Fatalf("ListSponsors: %v", err)
	}
	var ids []string
	for _, s := range got {
		ids = append(ids, s.ID)
	}
	if diff := cmp.Diff(want, ids); diff != "" {
		t.Errorf("sponsor ids (-want +got):\n%s", diff)
	}
	pages := requests(emu, "GET", "/users/"+guest.ID+"/sponsors")
	if len(pages) != 2 || queryParam(t, pages[1], "$skiptoken") == "" {
		t.Errorf("requests = %v, want the first page and its next link", summarize(pages))
	}
	if sel := queryParam(t, pages[len(pages)-1], "$select"); sel != "id,displayName" {
		t.Errorf("next page $select = %q, want the link to keep id,displayName", sel)
	}
}

// A 403 names the operation and the least-privileged permission it lacks; accountEnabled
// alone needs a different permission than other profile changes.
func TestMissingPermission(t *testing.T) {
	t.Parallel()
	c, emu := newTestClient(t, emulator.Options{})
	ctx := testContext(t)
	guest := emu.AddUser(emulator.User{Mail: "jane@fabrikam.com", UserType: "Guest", AccountEnabled: true})
	employee := emu.AddUser(emulator.User{Mail: "sam@contoso.com", UserType: "Member", AccountEnabled: true})
	if err := emu.AddSponsorOutOfBand(guest.ID, employee.ID); err != nil {
		t.Fatal(err)
	}
	disable, name := false, "Jane"

	tests := []struct {
		name     string
		granted  []string
		call     func() error
		wantOp   string
		wantPerm string // "" when the call must succeed
	}{
		{"disable with read only", []string{"User.Read.All"},
			func() error { return c.UpdateUser(ctx, guest.ID, graph.UserUpdate{AccountEnabled: &disable}) },
			"enable or disable user", "User.EnableDisableAccount.All"},
		{"disable with EnableDisableAccount", []string{"User.Read.All", "User.EnableDisableAccount.All"},
			func() error { return c.UpdateUser(ctx, guest.ID, graph.UserUpdate{AccountEnabled: &disable}) },
			"", ""},
		{"disable and rename with EnableDisableAccount", []string{"User.Read.All", "User.EnableDisableAccount.All"},
			func() error {
				return c.UpdateUser(ctx, guest.ID, graph.UserUpdate{AccountEnabled: &disable, DisplayName: &name})
			},
			"update user", "User.ReadWrite.All"},
		{"list sponsors with invite only", []string{"User.Invite.All"},
			func() error { _, err := c.ListSponsors(ctx, guest.ID); return err },
			"list sponsors", "User.Read.All"},
		{"add sponsor with read only", []string{"User.Read.All"},
			func() error { return c.AddSponsor(ctx, guest.ID, employee.ID) },
			"add sponsor", "User.ReadWrite.All"},
		{"remove sponsor with read only", []string{"User.Read.All"},
			func() error { return c.RemoveSponsor(ctx, guest.ID, employee.ID) },
			"remove sponsor", "User.ReadWrite.All"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			emu.SetGrantedPermissions(tc.granted...)
			emu.ResetRequests()
			err := tc.call()
			if tc.wantPerm == "" {
				if err != nil {
					t.Fatalf("call failed: %v", err)
				}
				return
			}
			op, perm, ok := graph.MissingPermission(err)
			if !ok || op != tc.wantOp || perm != tc.wantPerm {
				t.Errorf("MissingPermission(%v) = %q, %q, %t; want %q, %q", err, op, perm, ok, tc.wantOp, tc.wantPerm)
			}
			if ge := graphErr(t, err); ge.Code != "Authorization_RequestDenied" {
				t.Errorf("code = %q, want Authorization_RequestDenied", ge.Code)
			}
			if n := len(emu.Requests()); n != 1 {
				t.Errorf("%d requests, want 1: a 403 is not retried", n)
			}
		})
	}
	if got := emu.Sponsors(guest.ID); !slices.Equal(got, []string{employee.ID}) {
		t.Errorf("refused calls changed the sponsors: %v", got)
	}
	if u, _ := emu.User(guest.ID); u.DisplayName == name {
		t.Errorf("the refused rename went through: %+v", u)
	}
}
