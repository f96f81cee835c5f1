package emulator

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"
)

// signInQuery is the operator's read of the guests' sign-in activity.
func signInQuery(top int) string {
	q := url.Values{"$select": {"id,signInActivity"}, "$filter": {"userType eq 'Guest'"}}
	if top > 0 {
		q.Set("$top", fmt.Sprint(top))
	}
	return "/users?" + q.Encode()
}

// byID indexes a page of users by id.
func byID(objs []map[string]any) map[string]map[string]any {
	out := make(map[string]map[string]any, len(objs))
	for _, o := range objs {
		out[o["id"].(string)] = o
	}
	return out
}

func TestSignInActivitySelected(t *testing.T) {
	h := newHarness(t, Options{})
	at := time.Date(2025, 2, 3, 4, 5, 6, 0, time.UTC)
	active := h.e.AddUser(User{Mail: "active@fabrikam.com", UserType: "Guest"})
	background := h.e.AddUser(User{Mail: "background@fabrikam.com", UserType: "Guest"})
	never := h.e.AddUser(User{Mail: "never@fabrikam.com", UserType: "Guest"})
	if err := h.e.SetSignIn(active.ID, at); err != nil {
		t.Fatal(err)
	}
	if err := h.e.SetSignInActivity(background.ID, SignInActivity{LastNonInteractiveSignIn: at.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if err := h.e.SetSignIn("no-such-user", at); err == nil {
		t.Error("SetSignIn of an unknown user: no error")
	}

	rep := h.graph(http.MethodGet, signInQuery(0), nil)
	if rep.status != http.StatusOK {
		t.Fatalf("list: %d %s", rep.status, rep.raw)
	}
	if ctx := str(rep.body, "@odata.context"); ctx != h.srv.URL+"/v1.0/$metadata#users(id,signInActivity)" {
		t.Errorf("@odata.context %q", ctx)
	}
	users := byID(values(t, rep))
	sa, ok := users[active.ID]["signInActivity"].(map[string]any)
	if !ok {
		t.Fatalf("active guest has no signInActivity object: %v", users[active.ID])
	}
	if sa["lastSignInDateTime"] != "2025-02-03T04:05:06Z" || sa["lastSuccessfulSignInDateTime"] != "2025-02-03T04:05:06Z" {
		t.Errorf("active guest's dates: %v", sa)
	}
	if v, ok := sa["lastNonInteractiveSignInDateTime"]; !ok || v != nil {
		t.Errorf("lastNonInteractiveSignInDateTime %v (present %t), want null", v, ok)
	}
	if v, ok := sa["lastNonInteractiveSignInRequestId"]; !ok || v != nil {
		t.Errorf("lastNonInteractiveSignInRequestId %v (present %t), want null", v, ok)
	}
	for _, k := range []string{"lastSignInRequestId", "lastSuccessfulSignInRequestId"} {
		if _, err := uuid.Parse(str(sa, k)); err != nil {
			t.Errorf("%s %q is not a request id", k, str(sa, k))
		}
	}
	bg, _ := users[background.ID]["signInActivity"].(map[string]any)
	if bg["lastSignInDateTime"] != nil || bg["lastNonInteractiveSignInDateTime"] != "2025-02-03T05:05:06Z" {
		t.Errorf("background guest's signInActivity: %v", bg)
	}
	if _, ok := users[never.ID]["signInActivity"]; ok {
		t.Errorf("a guest who never signed in has signInActivity: %v", users[never.ID])
	}

	t.Run("one user by id", func(t *testing.T) {
		rep := h.graph(http.MethodGet, "/users/"+active.ID+"?$select=displayName,signInActivity", nil)
		if rep.status != http.StatusOK {
			t.Fatalf("get: %d %s", rep.status, rep.raw)
		}
		if got := str(rep.body, "signInActivity", "lastSuccessfulSignInDateTime"); got != "2025-02-03T04:05:06Z" {
			t.Errorf("lastSuccessfulSignInDateTime %q", got)
		}
		// The request ids are those of the sign-ins, the same on every read.
		if got, want := str(rep.body, "signInActivity", "lastSignInRequestId"), str(sa, "lastSignInRequestId"); got != want {
			t.Errorf("request id %q on a second read, was %q", got, want)
		}
	})

	t.Run("a new sign-in gets a new request id", func(t *testing.T) {
		if err := h.e.SetSignIn(active.ID, at.Add(24*time.Hour)); err != nil {
			t.Fatal(err)
		}
		rep := h.graph(http.MethodGet, "/users/"+active.ID+"?$select=signInActivity", nil)
		if str(rep.body, "signInActivity", "lastSignInDateTime") != "2025-02-04T04:05:06Z" ||
			str(rep.body, "signInActivity", "lastSignInRequestId") == str(sa, "lastSignInRequestId") {
			t.Errorf("after a new sign-in: %s", rep.raw)
		}
		if got := h.e.UserSignInActivity(active.ID); !got.LastSignIn.Equal(at.Add(24 * time.Hour)) {
			t.Errorf("UserSignInActivity %+v", got)
		}
	})

	t.Run("not by user principal name", func(t *testing.T) {
		rep := h.graph(http.MethodGet, "/users/"+url.PathEscape(active.UserPrincipalName)+"?$select=signInActivity", nil)
		wantError(t, rep, http.StatusBadRequest, codeRequestBadRequest, "object id")
		if rep := h.graph(http.MethodGet, "/users/"+url.PathEscape(active.UserPrincipalName)+"?$select=id", nil); rep.status != http.StatusOK {
			t.Errorf("by UPN without signInActivity: %d %s", rep.status, rep.raw)
		}
	})

	t.Run("filter on the last sign-in", func(t *testing.T) {
		q := url.Values{"$select": {"id"}, "$filter": {"signInActivity/lastSuccessfulSignInDateTime ge 2025-02-01T00:00:00Z"}}
		rep := h.graph(http.MethodGet, "/users?"+q.Encode(), nil)
		if rep.status != http.StatusOK {
			t.Fatalf("filter: %d %s", rep.status, rep.raw)
		}
		if got := idsInOrder(values(t, rep)); !slices.Equal(got, []string{active.ID}) {
			t.Errorf("filtered %v, want only the active guest %s", got, active.ID)
		}
		q.Set("$filter", "signInActivity/lastSignInDateTime le 2025-01-01T00:00:00Z and userType eq 'Guest'")
		wantError(t, h.graph(http.MethodGet, "/users?"+q.Encode(), nil), http.StatusBadRequest, codeUnsupportedQuery,
			"not with any other filterable properties")
	})

	t.Run("resource units as any users read", func(t *testing.T) {
		h.e.SetQuotas(DefaultQuotas())
		defer h.e.SetQuotas(nil)
		rep := h.graph(http.MethodGet, signInQuery(0), nil)
		if rep.status != http.StatusOK || rep.header.Get("x-ms-resource-unit") != "1" {
			t.Errorf("status %d, x-ms-resource-unit %q, want 200 and 1 (a list with $select)", rep.status, rep.header.Get("x-ms-resource-unit"))
		}
	})
}

func TestSignInActivityNotSelected(t *testing.T) {
	h := newHarness(t, Options{})
	u := h.e.AddUser(User{Mail: "active@fabrikam.com", UserType: "Guest"})
	if err := h.e.SetSignIn(u.ID, time.Date(2025, 2, 3, 4, 5, 6, 0, time.UTC)); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{
		"/users", "/users?$select=id,displayName,userType", "/users?$filter=userType%20eq%20'Guest'",
	} {
		rep := h.graph(http.MethodGet, path, nil)
		for _, obj := range values(t, rep) {
			if _, ok := obj["signInActivity"]; ok {
				t.Errorf("GET %s returned signInActivity unasked: %v", path, obj)
			}
		}
	}
	for _, path := range []string{"/users/" + u.ID, "/users/" + u.ID + "?$select=id,mail"} {
		rep := h.graph(http.MethodGet, path, nil)
		if _, ok := rep.body["signInActivity"]; ok || rep.status != http.StatusOK {
			t.Errorf("GET %s: %d, signInActivity returned unasked: %s", path, rep.status, rep.raw)
		}
	}
}

func TestSignInActivityNeedsAuditLogPermission(t *testing.T) {
	h := newHarness(t, Options{GrantedPermissions: []string{"User.Read.All"}})
	u := h.e.AddUser(User{Mail: "active@fabrikam.com", UserType: "Guest"})

	wantError(t, h.graph(http.MethodGet, signInQuery(0), nil), http.StatusForbidden, codePermissionMissing, "AuditLog.Read.All")
	wantError(t, h.graph(http.MethodGet, "/users/"+u.ID+"?$select=signInActivity", nil), http.StatusForbidden, codePermissionMissing, "AuditLog.Read.All")
	q := url.Values{"$filter": {"signInActivity/lastSignInDateTime le 2025-01-01T00:00:00Z"}}
	wantError(t, h.graph(http.MethodGet, "/users?"+q.Encode(), nil), http.StatusForbidden, codePermissionMissing, "AuditLog.Read.All")
	if rep := h.graph(http.MethodGet, "/users?$select=id,userType", nil); rep.status != http.StatusOK {
		t.Errorf("a read without signInActivity needs no AuditLog.Read.All: %d %s", rep.status, rep.raw)
	}

	// AuditLog.Read.All alone is not a users read: the route's own permission is refused first.
	h.e.SetGrantedPermissions("AuditLog.Read.All")
	wantError(t, h.graph(http.MethodGet, signInQuery(0), nil), http.StatusForbidden, codeAuthorizationDenied, insufficientPrivileges)

	h.e.SetGrantedPermissions("User.Read.All", "auditlog.read.all")
	if rep := h.graph(http.MethodGet, signInQuery(0), nil); rep.status != http.StatusOK {
		t.Errorf("with both permissions: %d %s", rep.status, rep.raw)
	}
	if !slices.Contains(knownPermissions, "AuditLog.Read.All") {
		t.Errorf("tokens issued while everything is granted lack AuditLog.Read.All: %v", knownPermissions)
	}
}

func TestSignInActivityNeedsPremiumLicense(t *testing.T) {
	h := newHarness(t, Options{NoPremiumLicense: true})
	u := h.e.AddUser(User{Mail: "active@fabrikam.com", UserType: "Guest"})

	wantError(t, h.graph(http.MethodGet, signInQuery(0), nil), http.StatusForbidden, codeNoPremiumLicense, msgNoPremiumLicense)
	wantError(t, h.graph(http.MethodGet, "/users/"+u.ID+"?$select=signInActivity", nil), http.StatusForbidden, codeNoPremiumLicense, "premium license")
	if rep := h.graph(http.MethodGet, "/users?$filter=userType%20eq%20'Guest'", nil); rep.status != http.StatusOK {
		t.Errorf("a guest list without signInActivity needs no licence: %d %s", rep.status, rep.raw)
	}

	h.e.SetPremiumLicense(true)
	if rep := h.graph(http.MethodGet, signInQuery(0), nil); rep.status != http.StatusOK {
		t.Errorf("after SetPremiumLicense(true): %d %s", rep.status, rep.raw)
	}
	h.e.SetPremiumLicense(false)
	wantError(t, h.graph(http.MethodGet, signInQuery(0), nil), http.StatusForbidden, codeNoPremiumLicense, msgNoPremiumLicense)
}

func TestSignInActivityPaging(t *testing.T) {
	h := newHarness(t, Options{})
	base := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	var guests []string
	signedIn := map[string]string{}
	for i := range 1200 {
		id := h.e.AddUser(User{Mail: fmt.Sprintf("g%04d@fabrikam.com", i), UserType: "Guest"}).ID
		guests = append(guests, id)
		if i%7 == 0 {
			at := base.Add(time.Duration(i) * time.Minute)
			if err := h.e.SetSignIn(id, at); err != nil {
				t.Fatal(err)
			}
			signedIn[id] = at.Format(time.RFC3339)
		}
		if i%100 == 0 {
			h.e.AddUser(User{Mail: fmt.Sprintf("m%04d@contoso.com", i)}) // members in between
		}
	}

	for _, tc := range []struct {
		top  int
		want []int
	}{
		{999, []int{500, 500, 200}}, // capped, not refused
		{500, []int{500, 500, 200}},
		{300, []int{300, 300, 300, 300}},
		{0, slices.Repeat([]int{100}, 12)}, // the default page size stays 100
	} {
		t.Run(fmt.Sprintf("$top=%d", tc.top), func(t *testing.T) {
			pages := h.pageThrough(signInQuery(tc.top))
			if got := pageSizes(pages); !slices.Equal(got, tc.want) {
				t.Errorf("page sizes %v, want %v", got, tc.want)
			}
			var got []string
			for _, p := range pages {
				for _, u := range p {
					id := u["id"].(string)
					got = append(got, id)
					want, signed := signedIn[id]
					if at := str(u, "signInActivity", "lastSignInDateTime"); at != want {
						t.Fatalf("guest %s: lastSignInDateTime %q, want %q (signed in: %t)", id, at, want, signed)
					}
				}
			}
			if !slices.Equal(got, guests) {
				t.Errorf("listed %d guests, want each of the %d once, in creation order", len(got), len(guests))
			}
		})
	}

	t.Run("$top above 999 is still refused", func(t *testing.T) {
		wantError(t, h.graph(http.MethodGet, signInQuery(1000), nil), http.StatusBadRequest, codeRequestBadRequest, "Invalid page size")
	})
	t.Run("without signInActivity pages stay up to 999", func(t *testing.T) {
		q := url.Values{"$select": {"id"}, "$filter": {"userType eq 'Guest'"}, "$top": {"999"}}
		if got := pageSizes(h.pageThrough("/users?" + q.Encode())); !slices.Equal(got, []int{999, 201}) {
			t.Errorf("page sizes %v, want [999 201]", got)
		}
	})
}
