package msgraph

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"testing"
	"time"

	graph "github.com/partnerops/partner-operator/internal/graph"
	"github.com/partnerops/partner-operator/internal/graph/emulator"
)

func TestListGuestSignIns(t *testing.T) {
	t.Parallel()
	c, emu := newTestClient(t, emulator.Options{})
	ctx := testContext(t)
	base := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	const guests = 1200
	var want []graph.SignIn
	for i := range guests {
		u := emu.AddUser(emulator.User{Mail: fmt.Sprintf("g%04d@fabrikam.com", i), UserType: "Guest", CreationType: "Invitation"})
		s := graph.SignIn{UserID: u.ID}
		switch {
		case i%5 == 0:
			s.LastSignIn = base.Add(time.Duration(i) * time.Minute)
			s.LastSuccessfulSignIn = s.LastSignIn
			if err := emu.SetSignIn(u.ID, s.LastSignIn); err != nil {
				t.Fatal(err)
			}
		case i%5 == 1:
			// A failed interactive attempt after a successful non-interactive sign-in.
			s.LastSignIn = base.Add(time.Duration(i) * time.Hour)
			s.LastSuccessfulSignIn = base
			if err := emu.SetSignInActivity(u.ID, emulator.SignInActivity{
				LastSignIn: s.LastSignIn, LastSuccessfulSignIn: base, LastNonInteractiveSignIn: base,
			}); err != nil {
				t.Fatal(err)
			}
		}
		want = append(want, s)
		if i%100 == 0 {
			emu.AddUser(emulator.User{Mail: fmt.Sprintf("staff%d@contoso.com", i), UserType: "Member"})
		}
	}

	var got []graph.SignIn
	pages := 0
	if err := c.ListGuestSignIns(ctx, func(p []graph.SignIn) error {
		pages++
		got = append(got, p...)
		return nil
	}); err != nil {
		t.Fatalf("ListGuestSignIns: %v", err)
	}
	wantPages := (guests + int(signInPageSize) - 1) / int(signInPageSize)
	if pages != wantPages {
		t.Errorf("%d pages, want %d (ceil(%d/%d))", pages, wantPages, guests, signInPageSize)
	}
	if !slices.Equal(got, want) {
		t.Errorf("read %d sign-ins, want the %d guests' in creation order", len(got), len(want))
		for i := range min(len(got), len(want)) {
			if got[i] != want[i] {
				t.Fatalf("first difference at %d: got %+v, want %+v", i, got[i], want[i])
			}
		}
	}
	reqs := requests(emu, http.MethodGet, "/users")
	if len(reqs) != wantPages {
		t.Fatalf("%d GET /users for %d pages: %v", len(reqs), wantPages, summarize(emu.Requests()))
	}
	for _, r := range reqs {
		if top, filter, sel := queryParam(t, r, "$top"), queryParam(t, r, "$filter"), queryParam(t, r, "$select"); top != "500" ||
			filter != "userType eq 'Guest'" || sel != "id,signInActivity" {
			t.Errorf("request %s: $top %q, $filter %q, $select %q", r.RawQuery, top, filter, sel)
		}
	}

	t.Run("an error from page stops the listing", func(t *testing.T) {
		before := len(emu.Requests())
		stop := errors.New("stop")
		if err := c.ListGuestSignIns(ctx, func([]graph.SignIn) error { return stop }); err != stop {
			t.Errorf("error %v, want the page's own", err)
		}
		if n := len(emu.Requests()) - before; n != 1 {
			t.Errorf("%d requests after the page failed, want 1", n)
		}
	})
}

func TestListGuestSignInsMissingPermission(t *testing.T) {
	t.Parallel()
	c, emu := newTestClient(t, emulator.Options{GrantedPermissions: []string{"User.Read.All"}})
	emu.AddUser(emulator.User{Mail: "g@fabrikam.com", UserType: "Guest"})

	err := c.ListGuestSignIns(testContext(t), func([]graph.SignIn) error {
		t.Error("page called despite the 403")
		return nil
	})
	ge := graphErr(t, err)
	if ge.StatusCode != http.StatusForbidden || ge.Op != "list sign-ins" || ge.Code != "Authentication_MSGraphPermissionMissing" {
		t.Errorf("error %+v, want a 403 of list sign-ins with Graph's code", ge)
	}
	op, perm, ok := graph.MissingPermission(err)
	if !ok || op != "list sign-ins" || perm != "AuditLog.Read.All" {
		t.Errorf("MissingPermission = %q, %q, %t; want list sign-ins, AuditLog.Read.All", op, perm, ok)
	}
	if graph.IsNoPremiumLicense(err) {
		t.Error("a missing permission was taken for a missing licence")
	}
	onlyRequest(t, emu, http.MethodGet, "/users") // a 403 is not retried in-process

	// With the permission granted the same read succeeds.
	emu.SetGrantedPermissions("User.Read.All", "AuditLog.Read.All")
	n := 0
	if err := c.ListGuestSignIns(testContext(t), func(p []graph.SignIn) error { n += len(p); return nil }); err != nil || n != 1 {
		t.Errorf("with AuditLog.Read.All: %d sign-ins, error %v", n, err)
	}
}

func TestListGuestSignInsNoPremiumLicense(t *testing.T) {
	t.Parallel()
	c, emu := newTestClient(t, emulator.Options{NoPremiumLicense: true})
	emu.AddUser(emulator.User{Mail: "g@fabrikam.com", UserType: "Guest"})

	err := c.ListGuestSignIns(testContext(t), func([]graph.SignIn) error { return nil })
	if !graph.IsNoPremiumLicense(err) {
		t.Fatalf("IsNoPremiumLicense(%v) = false", err)
	}
	ge := graphErr(t, err)
	if ge.StatusCode != http.StatusForbidden || ge.Code != graph.CodeNoPremiumLicense || ge.Op != "list sign-ins" {
		t.Errorf("error %+v, want 403 %s of list sign-ins", ge, graph.CodeNoPremiumLicense)
	}
	// Guests can still be listed without signInActivity.
	if err := c.ListGuests(testContext(t), graph.GuestQuery{}, func([]graph.User) error { return nil }); err != nil {
		t.Errorf("ListGuests without the licence: %v", err)
	}
	if graph.IsNoPremiumLicense(&graph.Error{StatusCode: http.StatusForbidden, Code: "Authorization_RequestDenied"}) ||
		graph.IsNoPremiumLicense(errors.New(graph.CodeNoPremiumLicense)) {
		t.Error("IsNoPremiumLicense is true of another error")
	}
}
