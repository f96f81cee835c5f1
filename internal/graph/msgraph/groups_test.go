package msgraph

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	graph "github.com/partnerops/partner-operator/internal/graph"
	"github.com/partnerops/partner-operator/internal/graph/emulator"
)

func TestGetGroup(t *testing.T) {
	t.Parallel()
	c, emu := newTestClient(t, emulator.Options{})
	ctx := testContext(t)
	g := emu.AddGroup(emulator.Group{DisplayName: "Partners"})

	got, err := c.GetGroup(ctx, g.ID)
	if err != nil {
		t.Fatalf("GetGroup: %v", err)
	}
	if diff := cmp.Diff(&graph.Group{ID: g.ID, DisplayName: "Partners"}, got); diff != "" {
		t.Errorf("group (-want +got):\n%s", diff)
	}
	if sel := queryParam(t, onlyRequest(t, emu, "GET", "/groups/"+g.ID), "$select"); sel != "id,displayName" {
		t.Errorf("$select = %q, want id,displayName", sel)
	}

	_, err = c.GetGroup(ctx, "00000000-0000-0000-0000-00000000dead")
	if !graph.IsNotFound(err) || graph.StatusCode(err) != 404 {
		t.Errorf("GetGroup(unknown) error = %v, want NotFound 404", err)
	}
}

func TestFindGroupsByName(t *testing.T) {
	t.Parallel()
	c, emu := newTestClient(t, emulator.Options{})
	ctx := testContext(t)
	partners := emu.AddGroup(emulator.Group{DisplayName: "Partners"})
	quoted := emu.AddGroup(emulator.Group{DisplayName: "O'Neil's group"})
	dup1 := emu.AddGroup(emulator.Group{DisplayName: "Twice"})
	dup2 := emu.AddGroup(emulator.Group{DisplayName: "Twice"})

	tests := []struct {
		name string
		want []graph.Group
	}{
		{"Partners", []graph.Group{{ID: partners.ID, DisplayName: "Partners"}}},
		{"O'Neil's group", []graph.Group{{ID: quoted.ID, DisplayName: "O'Neil's group"}}},
		{"Twice", []graph.Group{{ID: dup1.ID, DisplayName: "Twice"}, {ID: dup2.ID, DisplayName: "Twice"}}},
		{"Nobody", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := c.FindGroupsByName(ctx, tc.name)
			if err != nil {
				t.Fatalf("FindGroupsByName: %v", err)
			}
			byID := func(a, b graph.Group) int { return strings.Compare(a.ID, b.ID) }
			slices.SortFunc(got, byID)
			want := slices.Clone(tc.want)
			slices.SortFunc(want, byID)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("groups (-want +got):\n%s", diff)
			}
		})
	}

	var filters []string
	for _, r := range requests(emu, "GET", "/groups") {
		filters = append(filters, queryParam(t, r, "$filter"))
	}
	if !slices.Contains(filters, "displayName eq 'O''Neil''s group'") {
		t.Errorf("filters sent = %q, want the quotes doubled", filters)
	}
}

func TestGroupMembership(t *testing.T) {
	t.Parallel()
	c, emu := newTestClient(t, emulator.Options{})
	ctx := testContext(t)
	g := emu.AddGroup(emulator.Group{DisplayName: "Partners"})
	u := emu.AddUser(emulator.User{Mail: "jane@fabrikam.com", UserType: "Guest"})

	// Add: the reference names Graph's public directoryObjects URL whatever the endpoint.
	if err := c.AddGroupMember(ctx, g.ID, u.ID); err != nil {
		t.Fatalf("AddGroupMember: %v", err)
	}
	if got := emu.GroupMembers(g.ID); !slices.Equal(got, []string{u.ID}) {
		t.Errorf("members = %v, want [%s]", got, u.ID)
	}
	body := decodeBody(t, onlyRequest(t, emu, "POST", "/groups/"+g.ID+"/members/$ref"))
	if want := "https://graph.microsoft.com/v1.0/directoryObjects/" + u.ID; body["@odata.id"] != want {
		t.Errorf("@odata.id = %v, want %s", body["@odata.id"], want)
	}

	// Duplicate: Graph's 400 "...already exist..." is AlreadyExists.
	err := c.AddGroupMember(ctx, g.ID, u.ID)
	ge := graphErr(t, err)
	if !graph.IsAlreadyExists(err) || ge.StatusCode != 400 || ge.Code != "Request_BadRequest" {
		t.Errorf("duplicate AddGroupMember error = %+v, want AlreadyExists 400", ge)
	}

	// Remove, then remove again: the second is NotFound.
	if err := c.RemoveGroupMember(ctx, g.ID, u.ID); err != nil {
		t.Fatalf("RemoveGroupMember: %v", err)
	}
	if got := emu.GroupMembers(g.ID); len(got) != 0 {
		t.Errorf("members after removal = %v, want none", got)
	}
	onlyRequest(t, emu, "DELETE", "/groups/"+g.ID+"/members/"+u.ID+"/$ref")
	if err := c.RemoveGroupMember(ctx, g.ID, u.ID); !graph.IsNotFound(err) {
		t.Errorf("second RemoveGroupMember error = %v, want NotFound", err)
	}

	// Unknown group.
	if err := c.AddGroupMember(ctx, "00000000-0000-0000-0000-00000000dead", u.ID); !graph.IsNotFound(err) {
		t.Errorf("AddGroupMember(unknown group) error = %v, want NotFound", err)
	}
}

// TestAddGroupMemberNotYetVisible: right after an invitation Graph answers 400 "...do not
// exist..." for the new guest. That is eventual consistency: transient, neither
// AlreadyExists nor NotFound (which would make the caller give up or skip the write).
func TestAddGroupMemberNotYetVisible(t *testing.T) {
	t.Parallel()
	c, emu := newTestClient(t, emulator.Options{})
	ctx := testContext(t)
	g := emu.AddGroup(emulator.Group{DisplayName: "Partners"})
	emu.SetVisibilityDelay(time.Hour)
	inv, err := c.Invite(ctx, graph.InvitationRequest{Email: "new@fabrikam.com", RedirectURL: "https://myapps.microsoft.com"})
	if err != nil {
		t.Fatalf("Invite: %v", err)
	}

	err = c.AddGroupMember(ctx, g.ID, inv.UserID)
	ge := graphErr(t, err)
	if ge.Kind != graph.KindTransient || ge.StatusCode != 400 {
		t.Errorf("error = %+v, want Transient 400", ge)
	}
	if graph.IsAlreadyExists(err) || graph.IsNotFound(err) || graph.IsTerminal(err) {
		t.Errorf("error %v must not be AlreadyExists, NotFound or Terminal", err)
	}
	if _, throttled := graph.RetryAfter(err); throttled {
		t.Errorf("error %v must not be throttling", err)
	}
	if got := emu.GroupMembers(g.ID); len(got) != 0 {
		t.Errorf("members = %v, want none", got)
	}
}
