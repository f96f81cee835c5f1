package emulator

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

func memberRef(userID string) map[string]any {
	return map[string]any{"@odata.id": "https://graph.microsoft.com/v1.0/directoryObjects/" + userID}
}

func TestGroupMembers(t *testing.T) {
	h := newHarness(t, Options{VisibilityDelay: time.Minute})
	g := h.e.AddGroup(Group{DisplayName: "Partners"})
	id := h.inviteID("jane@fabrikam.com")
	add := "/groups/" + g.ID + "/members/$ref"

	steps := []struct {
		name    string
		advance time.Duration
		method  string
		path    string
		body    any
		status  int
		msgPart string
		members int
	}{
		{"not yet visible", 0, http.MethodPost, add, memberRef(id), 400, "do not exist", 0},
		{"group absent", time.Minute, http.MethodPost, "/groups/nope/members/$ref", memberRef(id), 404, "'nope'", 0},
		{"user absent", 0, http.MethodPost, add, memberRef("ghost"), 400, "do not exist", 0},
		{"no reference", 0, http.MethodPost, add, map[string]any{}, 400, "@odata.id", 0},
		{"added", 0, http.MethodPost, add, memberRef(id), 204, "", 1},
		{"duplicate", 0, http.MethodPost, add, map[string]any{"@odata.id": "http://127.0.0.1/v1.0/users/" + id}, 400, "already exist", 1},
		{"remove absent member", 0, http.MethodDelete, "/groups/" + g.ID + "/members/ghost/$ref", nil, 404, "ghost", 1},
		{"removed", 0, http.MethodDelete, "/groups/" + g.ID + "/members/" + id + "/$ref", nil, 204, "", 0},
		{"remove again", 0, http.MethodDelete, "/groups/" + g.ID + "/members/" + id + "/$ref", nil, 404, id, 0},
		{"remove from absent group", 0, http.MethodDelete, "/groups/nope/members/" + id + "/$ref", nil, 404, "nope", 0},
	}
	for _, s := range steps {
		h.clock.Advance(s.advance)
		rep := h.graph(s.method, s.path, s.body)
		if s.status == http.StatusNoContent {
			if rep.status != s.status {
				t.Fatalf("%s: status %d: %s", s.name, rep.status, rep.raw)
			}
		} else {
			code := codeRequestBadRequest
			if s.status == http.StatusNotFound {
				code = codeNotFound
			}
			wantError(t, rep, s.status, code, s.msgPart)
		}
		if n := len(h.e.GroupMembers(g.ID)); n != s.members {
			t.Fatalf("%s: %d members, want %d", s.name, n, s.members)
		}
	}
}

func TestGetGroups(t *testing.T) {
	h := newHarness(t, Options{})
	g := h.e.AddGroup(Group{DisplayName: "O'Brien partners"})
	h.e.AddGroup(Group{DisplayName: "Other"})

	rep := h.graph(http.MethodGet, "/groups/"+g.ID, nil)
	if rep.status != http.StatusOK || str(rep.body, "displayName") != g.DisplayName || str(rep.body, "id") != g.ID {
		t.Fatalf("get group: %d %s", rep.status, rep.raw)
	}
	wantError(t, h.graph(http.MethodGet, "/groups/nope", nil), http.StatusNotFound, codeNotFound, "nope")

	list := values(t, h.graph(http.MethodGet, "/groups?$filter="+url.QueryEscape("displayName eq 'o''brien PARTNERS'"), nil))
	if len(list) != 1 || list[0]["id"] != g.ID {
		t.Errorf("filter by displayName: %v", list)
	}
	if all := values(t, h.graph(http.MethodGet, "/groups", nil)); len(all) != 2 {
		t.Errorf("list: %d groups, want 2", len(all))
	}
	wantError(t, h.graph(http.MethodGet, "/groups?$filter="+url.QueryEscape("mail eq 'x'"), nil),
		http.StatusBadRequest, codeUnsupportedQuery, "")
}

func TestAddGroupMemberOutOfBand(t *testing.T) {
	e := New(Options{})
	g := e.AddGroup(Group{DisplayName: "g"})
	u := e.AddUser(User{Mail: "a@b.example"})
	if err := e.AddGroupMemberOutOfBand(g.ID, u.ID); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ g, u, want string }{
		{g.ID, u.ID, "already"}, {"nope", u.ID, "group"}, {g.ID, "nope", "user"},
	} {
		if err := e.AddGroupMemberOutOfBand(tc.g, tc.u); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("AddGroupMemberOutOfBand(%s,%s) = %v, want error about %s", tc.g, tc.u, err, tc.want)
		}
	}
	if m := e.GroupMembers(g.ID); len(m) != 1 || m[0] != u.ID {
		t.Errorf("members %v", m)
	}
	if e.GroupMembers("nope") != nil {
		t.Error("GroupMembers of an absent group is not nil")
	}
}

func TestRefTarget(t *testing.T) {
	tests := map[string]string{
		"https://graph.microsoft.com/v1.0/directoryObjects/abc":    "abc",
		"http://127.0.0.1:1234/v1.0/users/abc/":                    "abc",
		"https://graph.microsoft.com/v1.0/directoryObjects('abc')": "abc",
		"abc": "abc",
		"":    "",
	}
	for in, want := range tests {
		if got := refTarget(in); got != want {
			t.Errorf("refTarget(%q) = %q, want %q", in, got, want)
		}
	}
}

// A $ref body is an entity reference: "@odata.id" and nothing else, names case-sensitive.
func TestRefBodyStrict(t *testing.T) {
	h := newHarness(t, Options{})
	g := h.e.AddGroup(Group{DisplayName: "g"})
	u := h.e.AddUser(User{Mail: "a@b.example"})
	path := "/groups/" + g.ID + "/members/$ref"
	ref := "https://graph.microsoft.com/v1.0/directoryObjects/" + u.ID
	for name, body := range map[string]string{
		"extra member":  `{"@odata.id":"` + ref + `","roles":["owner"]}`,
		"wrong case":    `{"@odata.ID":"` + ref + `"}`,
		"duplicate key": `{"@odata.id":"` + ref + `","@odata.id":"` + ref + `"}`,
		"not a string":  `{"@odata.id":42}`,
	} {
		t.Run(name, func(t *testing.T) {
			wantError(t, h.graph(http.MethodPost, path, []byte(body)), http.StatusBadRequest, codeRequestBadRequest, "")
			if m := h.e.GroupMembers(g.ID); len(m) != 0 {
				t.Errorf("a refused reference added %v", m)
			}
		})
	}
	if rep := h.graph(http.MethodPost, path, []byte(`{"@odata.id":"`+ref+`"}`)); rep.status != http.StatusNoContent {
		t.Errorf("a well-formed reference: %d %s", rep.status, rep.raw)
	}
}
