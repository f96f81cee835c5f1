package emulator

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"
)

func sponsorRef(collection, id string) map[string]any {
	return map[string]any{"@odata.id": "https://graph.microsoft.com/v1.0/" + collection + "/" + id}
}

func TestSponsorRefs(t *testing.T) {
	h := newHarness(t, Options{VisibilityDelay: time.Minute})
	employee := h.e.AddUser(User{DisplayName: "Sam", Mail: "sam@contoso.com", UserType: "Member", AccountEnabled: true})
	team := h.e.AddGroup(Group{DisplayName: "Partner managers"})
	id := h.inviteID("jane@fabrikam.com")
	add := "/users/" + id + "/sponsors/$ref"
	remove := func(sponsorID string) string { return "/users/" + id + "/sponsors/" + sponsorID + "/$ref" }

	steps := []struct {
		name     string
		advance  time.Duration
		method   string
		path     string
		body     any
		status   int
		msgPart  string
		sponsors []string
	}{
		{"user not yet visible", 0, http.MethodPost, add, sponsorRef("directoryObjects", employee.ID), 400, "do not exist", nil},
		{"remove while not yet visible", 0, http.MethodDelete, remove(employee.ID), nil, 400, "do not exist", nil},
		{"user absent", time.Minute, http.MethodPost, "/users/ghost/sponsors/$ref", sponsorRef("users", employee.ID), 404, "'ghost'", nil},
		{"sponsor absent", 0, http.MethodPost, add, sponsorRef("directoryObjects", "ghost"), 404,
			"Resource 'ghost' does not exist or one of its queried reference-property objects are not present.", nil},
		{"group named as a user", 0, http.MethodPost, add, sponsorRef("users", team.ID), 404, team.ID, nil},
		{"no reference", 0, http.MethodPost, add, map[string]any{}, 400, "@odata.id", nil},
		{"not JSON", 0, http.MethodPost, add, []byte("sponsor please"), 400, "JSON", nil},
		{"empty body", 0, http.MethodPost, add, []byte(""), 400, emptyPayload, nil},
		{"user added", 0, http.MethodPost, add, sponsorRef("directoryObjects", employee.ID), 204, "", []string{employee.ID}},
		{"group added", 0, http.MethodPost, add, sponsorRef("groups", team.ID), 204, "", []string{employee.ID, team.ID}},
		{"duplicate", 0, http.MethodPost, add, map[string]any{"@odata.id": "http://127.0.0.1/v1.0/users/" + employee.ID}, 400,
			"One or more added object references already exist for the following modified properties: 'sponsors'.", []string{employee.ID, team.ID}},
		{"duplicate by UPN", 0, http.MethodPost, add, sponsorRef("users", strings.ToUpper(employee.UserPrincipalName)), 400,
			"already exist", []string{employee.ID, team.ID}},
		{"remove absent sponsor", 0, http.MethodDelete, remove("ghost"), nil, 404, "ghost", []string{employee.ID, team.ID}},
		{"removed", 0, http.MethodDelete, remove(employee.ID), nil, 204, "", []string{team.ID}},
		{"remove again", 0, http.MethodDelete, remove(employee.ID), nil, 404, employee.ID, []string{team.ID}},
		{"remove for absent user", 0, http.MethodDelete, "/users/ghost/sponsors/" + team.ID + "/$ref", nil, 404, "ghost", []string{team.ID}},
		{"wrong method", 0, http.MethodGet, add, nil, 405, "", []string{team.ID}},
	}
	for _, s := range steps {
		h.clock.Advance(s.advance)
		rep := h.graph(s.method, s.path, s.body)
		switch s.status {
		case http.StatusNoContent:
			if rep.status != s.status {
				t.Fatalf("%s: status %d: %s", s.name, rep.status, rep.raw)
			}
		case http.StatusNotFound:
			wantError(t, rep, s.status, codeNotFound, s.msgPart)
		default:
			wantError(t, rep, s.status, codeRequestBadRequest, s.msgPart)
		}
		if got := h.e.Sponsors(id); !slices.Equal(got, s.sponsors) {
			t.Fatalf("%s: sponsors %v, want %v", s.name, got, s.sponsors)
		}
	}
}

// A sponsor that exists but has not replicated yet gets the eventual-consistency 400, not a
// 404 that would make the caller give up.
func TestAddSponsorNotYetVisible(t *testing.T) {
	h := newHarness(t, Options{})
	guest := h.inviteID("jane@fabrikam.com")
	h.e.SetVisibilityDelay(time.Minute)
	fresh := h.inviteID("new-colleague@fabrikam.com")
	wantError(t, h.graph(http.MethodPost, "/users/"+guest+"/sponsors/$ref", sponsorRef("users", fresh)),
		http.StatusBadRequest, codeRequestBadRequest, "do not exist")
	h.clock.Advance(time.Minute)
	if rep := h.graph(http.MethodPost, "/users/"+guest+"/sponsors/$ref", sponsorRef("users", fresh)); rep.status != http.StatusNoContent {
		t.Fatalf("after the delay: %d %s", rep.status, rep.raw)
	}
}

func TestListSponsors(t *testing.T) {
	h := newHarness(t, Options{})
	employee := h.e.AddUser(User{DisplayName: "Sam", Mail: "sam@contoso.com", UserType: "Member", AccountEnabled: true})
	team := h.e.AddGroup(Group{DisplayName: "Partner managers"})
	guest := h.e.AddUser(User{Mail: "jane@fabrikam.com", UserType: "Guest", AccountEnabled: true})
	for _, s := range []string{employee.ID, team.ID} {
		if err := h.e.AddSponsorOutOfBand(guest.ID, s); err != nil {
			t.Fatal(err)
		}
	}
	list := "/users/" + guest.ID + "/sponsors"

	t.Run("default properties", func(t *testing.T) {
		rep := h.graph(http.MethodGet, list, nil)
		if rep.status != http.StatusOK {
			t.Fatalf("status %d: %s", rep.status, rep.raw)
		}
		if !strings.HasSuffix(str(rep.body, "@odata.context"), "/v1.0/$metadata#directoryObjects") {
			t.Errorf("@odata.context = %q", str(rep.body, "@odata.context"))
		}
		v := values(t, rep)
		if len(v) != 2 {
			t.Fatalf("%d sponsors, want 2: %s", len(v), rep.raw)
		}
		if v[0]["@odata.type"] != "#microsoft.graph.user" || v[0]["id"] != employee.ID || v[0]["displayName"] != "Sam" ||
			v[0]["userPrincipalName"] != employee.UserPrincipalName {
			t.Errorf("user sponsor = %v", v[0])
		}
		if v[1]["@odata.type"] != "#microsoft.graph.group" || v[1]["id"] != team.ID || v[1]["displayName"] != "Partner managers" {
			t.Errorf("group sponsor = %v", v[1])
		}
		if _, ok := rep.body["@odata.nextLink"]; ok {
			t.Errorf("one page has a next link: %s", rep.raw)
		}
	})

	t.Run("selected", func(t *testing.T) {
		rep := h.graph(http.MethodGet, list+"?$select=id,displayName,mail", nil)
		if !strings.HasSuffix(str(rep.body, "@odata.context"), "#directoryObjects(id,displayName,mail)") {
			t.Errorf("@odata.context = %q", str(rep.body, "@odata.context"))
		}
		v := values(t, rep)
		if got := strings.Join(sortedKeys(v[0]), ","); got != "@odata.type,displayName,id,mail" {
			t.Errorf("user sponsor properties %s", got)
		}
		// A group has no mail in the emulator: the property is left out, not null.
		if got := strings.Join(sortedKeys(v[1]), ","); got != "@odata.type,displayName,id" {
			t.Errorf("group sponsor properties %s", got)
		}
	})

	t.Run("by UPN", func(t *testing.T) {
		rep := h.graph(http.MethodGet, "/users/"+url.PathEscape(strings.ToUpper(guest.UserPrincipalName))+"/sponsors", nil)
		if rep.status != http.StatusOK || len(values(t, rep)) != 2 {
			t.Errorf("by UPN: %d %s", rep.status, rep.raw)
		}
	})

	t.Run("paged", func(t *testing.T) {
		first := h.graph(http.MethodGet, list+"?$select=id&$top=1", nil)
		next := str(first.body, "@odata.nextLink")
		if len(values(t, first)) != 1 || !strings.HasPrefix(next, h.srv.URL+"/v1.0"+list+"?") {
			t.Fatalf("first page: %s", first.raw)
		}
		second := h.call(http.MethodGet, strings.TrimPrefix(next, h.srv.URL), nil)
		v := values(t, second)
		if len(v) != 1 || v[0]["id"] != team.ID {
			t.Errorf("second page: %s", second.raw)
		}
		if _, ok := v[0]["displayName"]; ok {
			t.Errorf("the next link lost $select: %v", v[0])
		}
		if _, ok := second.body["@odata.nextLink"]; ok {
			t.Errorf("last page has a next link: %s", second.raw)
		}
	})

	t.Run("control listing", func(t *testing.T) {
		for _, u := range decodeArray(t, h.call(http.MethodGet, "/_emulator/users", nil)) {
			if u["id"] == guest.ID {
				if got, _ := u["sponsors"].([]any); len(got) != 2 || got[0] != employee.ID || got[1] != team.ID {
					t.Errorf("control listing sponsors = %v", u["sponsors"])
				}
			}
		}
	})

	t.Run("refused", func(t *testing.T) {
		wantError(t, h.graph(http.MethodGet, list+"?$select=manager", nil), http.StatusBadRequest, codeBadRequest, "manager")
		wantError(t, h.graph(http.MethodGet, list+"?$top=0", nil), http.StatusBadRequest, codeRequestBadRequest, "page size")
		wantError(t, h.graph(http.MethodGet, list+"?$skiptoken=forged", nil), http.StatusBadRequest, codeRequestBadRequest, "skiptoken")
		wantError(t, h.graph(http.MethodGet, "/users/ghost/sponsors", nil), http.StatusNotFound, codeNotFound, "ghost")
	})
}

func TestListSponsorsOfUserNotYetVisible(t *testing.T) {
	h := newHarness(t, Options{VisibilityDelay: time.Minute})
	id := h.inviteID("jane@fabrikam.com")
	wantError(t, h.graph(http.MethodGet, "/users/"+id+"/sponsors", nil), http.StatusNotFound, codeNotFound, id)
}

// Deleting a user ends its sponsorships: it disappears from the sponsor sets of others.
func TestDeleteUserDropsSponsorships(t *testing.T) {
	h := newHarness(t, Options{})
	employee := h.e.AddUser(User{Mail: "sam@contoso.com", UserType: "Member", AccountEnabled: true})
	team := h.e.AddGroup(Group{DisplayName: "Partner managers"})
	guest := h.inviteID("jane@fabrikam.com")
	for _, s := range []string{employee.ID, team.ID} {
		if err := h.e.AddSponsorOutOfBand(guest, s); err != nil {
			t.Fatal(err)
		}
	}
	if rep := h.graph(http.MethodDelete, "/users/"+employee.ID, nil); rep.status != http.StatusNoContent {
		t.Fatalf("delete: %d %s", rep.status, rep.raw)
	}
	if got := h.e.Sponsors(guest); !slices.Equal(got, []string{team.ID}) {
		t.Errorf("sponsors after the sponsor's deletion = %v, want [%s]", got, team.ID)
	}
}

func TestSponsorsOutOfBand(t *testing.T) {
	e := New(Options{})
	guest := e.AddUser(User{Mail: "jane@fabrikam.com", UserType: "Guest"})
	team := e.AddGroup(Group{DisplayName: "g"})
	if err := e.AddSponsorOutOfBand(guest.ID, team.ID); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ user, sponsor, want string }{
		{guest.ID, team.ID, "already"}, {"nope", team.ID, "user"}, {guest.ID, "nope", "neither"},
	} {
		if err := e.AddSponsorOutOfBand(tc.user, tc.sponsor); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("AddSponsorOutOfBand(%s,%s) = %v, want an error about %s", tc.user, tc.sponsor, err, tc.want)
		}
	}
	if got := e.Sponsors(guest.ID); !slices.Equal(got, []string{team.ID}) {
		t.Errorf("sponsors %v", got)
	}
	if err := e.RemoveSponsorOutOfBand(guest.ID, team.ID); err != nil {
		t.Fatal(err)
	}
	if err := e.RemoveSponsorOutOfBand(guest.ID, team.ID); err == nil {
		t.Error("removing a sponsor twice did not fail")
	}
	if e.Sponsors("nope") != nil {
		t.Error("Sponsors of an absent user is not nil")
	}
}

func TestRefCollection(t *testing.T) {
	tests := map[string]string{
		"https://graph.microsoft.com/v1.0/directoryObjects/abc":    "directoryObjects",
		"http://127.0.0.1:1234/v1.0/users/abc/":                    "users",
		"https://graph.microsoft.com/v1.0/groups/abc?x=1":          "groups",
		"https://graph.microsoft.com/v1.0/directoryObjects('abc')": "directoryObjects",
		"abc": "",
		"":    "",
	}
	for in, want := range tests {
		if got := refCollection(in); got != want {
			t.Errorf("refCollection(%q) = %q, want %q", in, got, want)
		}
	}
}

func sortedKeys(m map[string]any) []string {
	out := keys(m)
	slices.Sort(out)
	return out
}
