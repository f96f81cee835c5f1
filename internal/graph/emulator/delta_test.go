package emulator

import (
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"testing"
)

// deltaRound follows nextLinks from the first URL until a deltaLink, returning every entry
// and the deltaLink, and checking every link stays on the emulator's own host.
func (h *harness) deltaRound(first string) ([]map[string]any, string, int) {
	h.t.Helper()
	var all []map[string]any
	link, pages := first, 0
	for {
		u, err := url.Parse(link)
		if err != nil || u.Scheme+"://"+u.Host != h.srv.URL {
			h.t.Fatalf("link %q is not on the emulator's host %s", link, h.srv.URL)
		}
		rep := h.call(http.MethodGet, u.RequestURI(), nil)
		if rep.status != http.StatusOK {
			h.t.Fatalf("delta page: %d %s", rep.status, rep.raw)
		}
		pages++
		all = append(all, values(h.t, rep)...)
		next, delta := str(rep.body, "@odata.nextLink"), str(rep.body, "@odata.deltaLink")
		if (next == "") == (delta == "") {
			h.t.Fatalf("page must carry exactly one of nextLink/deltaLink: %s", rep.raw)
		}
		if delta != "" {
			return all, delta, pages
		}
		link = next
	}
}

func ids(entries []map[string]any) []string {
	var out []string
	for _, e := range entries {
		out = append(out, e["id"].(string))
	}
	sort.Strings(out)
	return out
}

func TestDelta(t *testing.T) {
	h := newHarness(t, Options{DeltaPageSize: 2})
	var users []string
	for i := range 5 {
		users = append(users, h.e.AddUser(User{Mail: fmt.Sprintf("u%d@fabrikam.com", i), UserType: "Guest"}).ID)
	}
	sort.Strings(users)

	first := h.srv.URL + "/v1.0/users/delta()?$select=" + url.QueryEscape("id,mail,externalUserState")
	all, deltaLink, pages := h.deltaRound(first)
	if pages != 3 {
		t.Errorf("%d pages for 5 users at page size 2, want 3", pages)
	}
	if got := ids(all); strings.Join(got, ",") != strings.Join(users, ",") {
		t.Fatalf("initial round ids %v, want %v", got, users)
	}
	if _, ok := all[0]["userPrincipalName"]; ok {
		t.Errorf("$select not applied: %v", all[0])
	}
	if !strings.Contains(deltaLink, "$deltatoken=") {
		t.Errorf("deltaLink %q has no $deltatoken", deltaLink)
	}

	// Nothing changed: an empty round with a fresh deltaLink.
	none, deltaLink, _ := h.deltaRound(deltaLink)
	if len(none) != 0 {
		t.Errorf("unchanged directory reported %d entries", len(none))
	}

	// Change one, delete one, create one (by invitation).
	if err := h.e.AcceptInvitation(users[0]); err != nil {
		t.Fatal(err)
	}
	if err := h.e.DeleteUserOutOfBand(users[1]); err != nil {
		t.Fatal(err)
	}
	newID := h.inviteID("new@fabrikam.com")

	changes, deltaLink2, _ := h.deltaRound(deltaLink)
	if len(changes) != 3 {
		t.Fatalf("replay returned %d entries, want 3: %v", len(changes), changes)
	}
	byID := map[string]map[string]any{}
	for _, c := range changes {
		byID[c["id"].(string)] = c
	}
	if byID[users[0]]["externalUserState"] != "Accepted" {
		t.Errorf("changed user: %v", byID[users[0]])
	}
	if rm, _ := byID[users[1]]["@removed"].(map[string]any); rm["reason"] != "deleted" {
		t.Errorf("deleted user: %v", byID[users[1]])
	}
	if byID[newID]["mail"] != "new@fabrikam.com" {
		t.Errorf("new user: %v (the token must remember $select)", byID[newID])
	}

	// The older deltaLink still works (tokens are not single-use) and the new one is quiet.
	if again, _, _ := h.deltaRound(deltaLink); len(again) != 3 {
		t.Errorf("replaying an older deltaLink returned %d entries", len(again))
	}
	if quiet, _, _ := h.deltaRound(deltaLink2); len(quiet) != 0 {
		t.Errorf("latest deltaLink returned %d entries", len(quiet))
	}
}

func TestDeltaChangeDuringPaging(t *testing.T) {
	h := newHarness(t, Options{DeltaPageSize: 1})
	a := h.e.AddUser(User{Mail: "a@fabrikam.com"})
	b := h.e.AddUser(User{Mail: "b@fabrikam.com"})
	rep := h.graph(http.MethodGet, "/users/delta", nil)
	next := str(rep.body, "@odata.nextLink")
	if next == "" || len(values(t, rep)) != 1 {
		t.Fatalf("first page: %s", rep.raw)
	}
	// A change made while the round is paged shows up in the next round, not lost.
	c := h.e.AddUser(User{Mail: "c@fabrikam.com"})
	rest, deltaLink, _ := h.deltaRound(next)
	if got := ids(rest); len(got) != 1 || got[0] != b.ID {
		t.Errorf("rest of round: %v, want [%s]", got, b.ID)
	}
	later, _, _ := h.deltaRound(deltaLink)
	if got := ids(later); len(got) != 1 || got[0] != c.ID {
		t.Errorf("next round: %v, want [%s]", got, c.ID)
	}
	_ = a
}

func TestDeltaTokens(t *testing.T) {
	h := newHarness(t, Options{})
	h.e.AddUser(User{Mail: "a@fabrikam.com"})
	for name, q := range map[string]string{
		"garbage deltatoken": "?$deltatoken=garbage",
		"garbage skiptoken":  "?$skiptoken=garbage",
	} {
		t.Run(name, func(t *testing.T) {
			wantError(t, h.graph(http.MethodGet, "/users/delta()"+q, nil), http.StatusBadRequest, codeRequestBadRequest, "Invalid")
		})
	}
	t.Run("latest", func(t *testing.T) {
		rep := h.graph(http.MethodGet, "/users/delta()?$deltatoken=latest", nil)
		if rep.status != http.StatusOK || len(values(t, rep)) != 0 || str(rep.body, "@odata.deltaLink") == "" {
			t.Fatalf("latest: %d %s", rep.status, rep.raw)
		}
		u := h.e.AddUser(User{Mail: "b@fabrikam.com"})
		got, _, _ := h.deltaRound(str(rep.body, "@odata.deltaLink"))
		if len(got) != 1 || got[0]["id"] != u.ID {
			t.Errorf("after latest: %v", got)
		}
	})
}
