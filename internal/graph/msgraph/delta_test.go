package msgraph

import (
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	graph "github.com/partnerops/partner-operator/internal/graph"
	"github.com/partnerops/partner-operator/internal/graph/emulator"
)

func TestUserChanges(t *testing.T) {
	t.Parallel()
	c, emu := newTestClient(t, emulator.Options{DeltaPageSize: 2})
	ctx := testContext(t)
	var seeded []emulator.User
	for _, mail := range []string{"a@fabrikam.com", "b@fabrikam.com", "c@fabrikam.com", "d@fabrikam.com", "e@fabrikam.com"} {
		seeded = append(seeded, emu.AddUser(emulator.User{
			Mail: mail, UserType: "Guest", CreationType: "Invitation", ExternalUserState: emulator.StatePendingAcceptance,
		}))
	}

	// Initial round: 5 users in pages of 2 means 3 requests, all entries, a delta link.
	changes, link, err := c.UserChanges(ctx, "")
	if err != nil {
		t.Fatalf("initial UserChanges: %v", err)
	}
	var ids []string
	for _, ch := range changes {
		if ch.Removed {
			t.Errorf("initial round reports %s removed", ch.ID)
		}
		if ch.ExternalUserState != "PendingAcceptance" || ch.CreationType != "Invitation" {
			t.Errorf("entry %+v lacks the selected properties", ch.User)
		}
		ids = append(ids, ch.ID)
	}
	var want []string
	for _, u := range seeded {
		want = append(want, u.ID)
	}
	slices.Sort(ids)
	slices.Sort(want)
	if diff := cmp.Diff(want, ids); diff != "" {
		t.Errorf("initial ids (-want +got):\n%s", diff)
	}
	if !strings.Contains(link, "$deltatoken=") {
		t.Errorf("delta link = %q, want a $deltatoken link", link)
	}
	pages := deltaRequests(emu)
	if len(pages) != 3 {
		t.Fatalf("initial round took %d requests, want 3: %v", len(pages), summarize(pages))
	}
	if sel := queryParam(t, pages[0], "$select"); sel != strings.Join(userSelect, ",") {
		t.Errorf("first page $select = %q, want %q", sel, strings.Join(userSelect, ","))
	}
	for i, p := range pages[1:] {
		if queryParam(t, p, "$skiptoken") == "" {
			t.Errorf("page %d did not follow @odata.nextLink: %s?%s", i+2, p.Path, p.RawQuery)
		}
	}
	assertLowPriority(t, pages)

	// Replay after one acceptance and one deletion: exactly those two changes.
	accepted, deleted := seeded[1], seeded[3]
	if err := emu.AcceptInvitation(accepted.ID); err != nil {
		t.Fatal(err)
	}
	if err := emu.DeleteUserOutOfBand(deleted.ID); err != nil {
		t.Fatal(err)
	}
	emu.ResetRequests()
	changes, link2, err := c.UserChanges(ctx, link)
	if err != nil {
		t.Fatalf("replayed UserChanges: %v", err)
	}
	slices.SortFunc(changes, func(a, b graph.UserChange) int { return strings.Compare(a.ID, b.ID) })
	wantChanges := []graph.UserChange{
		{User: graph.User{
			ID: accepted.ID, UserPrincipalName: accepted.UserPrincipalName, Mail: accepted.Mail, OtherMails: []string{},
			UserType: "Guest", CreationType: "Invitation", DisplayName: accepted.DisplayName,
			ExternalUserState: "Accepted", AccountEnabled: new(false), // seeded without accountEnabled
		}},
		{User: graph.User{ID: deleted.ID}, Removed: true},
	}
	slices.SortFunc(wantChanges, func(a, b graph.UserChange) int { return strings.Compare(a.ID, b.ID) })
	ignoreTime := cmp.FilterPath(func(p cmp.Path) bool { return p.Last().String() == ".ExternalUserStateChangedAt" }, cmp.Ignore())
	if diff := cmp.Diff(wantChanges, changes, ignoreTime); diff != "" {
		t.Errorf("replayed changes (-want +got):\n%s", diff)
	}
	for _, ch := range changes {
		if ch.ID == accepted.ID && ch.ExternalUserStateChangedAt.IsZero() {
			t.Errorf("accepted user has no externalUserStateChangeDateTime")
		}
	}
	replay := deltaRequests(emu)
	if len(replay) != 1 || queryParam(t, replay[0], "$deltatoken") == "" {
		t.Errorf("replay requests = %v, want the delta link once", summarize(replay))
	}
	assertLowPriority(t, replay)
	if link2 == "" || link2 == link {
		t.Errorf("replay returned delta link %q, want a new one", link2)
	}

	// Nothing changed since: an empty round with a fresh link.
	changes, link3, err := c.UserChanges(ctx, link2)
	if err != nil || len(changes) != 0 || link3 == "" {
		t.Errorf("quiet replay = %v, %q, %v; want no changes and a link", changes, link3, err)
	}
}

func TestUserChangesBadLink(t *testing.T) {
	t.Parallel()
	c, emu := newTestClient(t, emulator.Options{})
	_, _, err := c.UserChanges(testContext(t), emu.URL()+"/v1.0/users/delta()?$deltatoken=forgotten")
	if ge := graphErr(t, err); ge.Kind != graph.KindTerminal || ge.StatusCode != 400 {
		t.Errorf("error = %+v, want a terminal 400", ge)
	}
}

func deltaRequests(emu *emulator.Emulator) []emulator.Request {
	var out []emulator.Request
	for _, r := range emu.Requests() {
		if r.Method == "GET" && strings.HasPrefix(r.Path, "/users/delta") {
			out = append(out, r)
		}
	}
	return out
}

func assertLowPriority(t *testing.T, rs []emulator.Request) {
	t.Helper()
	for _, r := range rs {
		if got := r.Header.Get("x-ms-throttle-priority"); got != "low" {
			t.Errorf("%s?%s sent x-ms-throttle-priority %q, want low", r.Path, r.RawQuery, got)
		}
	}
}
