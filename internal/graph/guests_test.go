package graph_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/partnerops/partner-operator/internal/graph"
)

func TestGuestQueryMatches(t *testing.T) {
	jan := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	guest := graph.User{UserType: "Guest", Mail: "jane@Fabrikam.com", ExternalUserState: "Accepted", CreatedAt: jan}
	tests := []struct {
		name string
		q    graph.GuestQuery
		u    graph.User
		want bool
	}{
		{"no filter", graph.GuestQuery{}, guest, true},
		{"member", graph.GuestQuery{}, graph.User{UserType: "Member", Mail: "m@contoso.com"}, false},
		{"invited, converted to member", graph.GuestQuery{}, graph.User{UserType: "Member", CreationType: "Invitation"}, false},
		{"domain of mail, any case", graph.GuestQuery{Domain: "FABRIKAM.com"}, guest, true},
		{"domain with @", graph.GuestQuery{Domain: "@fabrikam.com"}, guest, true},
		{"other domain", graph.GuestQuery{Domain: "contoso.com"}, guest, false},
		{"subdomain is another domain", graph.GuestQuery{Domain: "fabrikam.com"}, graph.User{UserType: "Guest", Mail: "a@eu.fabrikam.com"}, false},
		{"domain of otherMails", graph.GuestQuery{Domain: "contoso.com"},
			graph.User{UserType: "Guest", OtherMails: []string{"x@example.org", "jane@contoso.com"}}, true},
		{"state", graph.GuestQuery{State: "PendingAcceptance"}, guest, false},
		{"state any case", graph.GuestQuery{State: "accepted"}, guest, true},
		{"created at the bound", graph.GuestQuery{CreatedAfter: jan}, guest, true},
		{"created before", graph.GuestQuery{CreatedAfter: jan.Add(time.Second)}, guest, false},
	}
	for _, tc := range tests {
		if got := tc.q.Matches(&tc.u); got != tc.want {
			t.Errorf("%s: Matches = %t, want %t", tc.name, got, tc.want)
		}
	}
}

func TestMemberGroupManageable(t *testing.T) {
	tests := []struct {
		name string
		g    graph.MemberGroup
		want bool
	}{
		{"security group", graph.MemberGroup{SecurityEnabled: true}, true},
		{"Microsoft 365 group", graph.MemberGroup{GroupTypes: []string{"Unified"}, MailEnabled: true}, true},
		{"dynamic", graph.MemberGroup{GroupTypes: []string{"DynamicMembership"}, SecurityEnabled: true}, false},
		{"dynamic Microsoft 365", graph.MemberGroup{GroupTypes: []string{"Unified", "DynamicMembership"}, MailEnabled: true}, false},
		{"on premises", graph.MemberGroup{SecurityEnabled: true, OnPremisesSync: true}, false},
		{"mail-enabled security", graph.MemberGroup{SecurityEnabled: true, MailEnabled: true}, false},
		{"distribution list", graph.MemberGroup{MailEnabled: true}, false},
	}
	for _, tc := range tests {
		got, why := tc.g.Manageable()
		if got != tc.want || (got == (why != "")) {
			t.Errorf("%s: Manageable = %t, %q; want %t with a reason when false", tc.name, got, why, tc.want)
		}
	}
}

// fakeReader serves ListGuests in pages and records when each call arrived.
type fakeReader struct {
	pages [][]graph.User
	calls []time.Time
	err   error
}

func (f *fakeReader) ListGuests(_ context.Context, _ graph.GuestQuery, page func([]graph.User) error) error {
	for _, p := range f.pages {
		f.calls = append(f.calls, time.Now())
		if err := page(p); err != nil {
			return err
		}
	}
	return f.err
}

func (f *fakeReader) MemberOf(context.Context, string) ([]graph.MemberGroup, error) {
	f.calls = append(f.calls, time.Now())
	return nil, f.err
}

func (f *fakeReader) AppRoleAssignments(context.Context, string) ([]graph.AssignedAppRole, error) {
	f.calls = append(f.calls, time.Now())
	return nil, f.err
}

func TestPaceReader(t *testing.T) {
	fake := &fakeReader{pages: make([][]graph.User, 6)}
	r := graph.PaceReader(fake, graph.Budget{ResourceUnits: graph.Quota{Limit: 2, Window: 50 * time.Millisecond}})
	ctx := context.Background()
	start := time.Now()
	pages := 0
	if err := r.ListGuests(ctx, graph.GuestQuery{}, func([]graph.User) error { pages++; return nil }); err != nil {
		t.Fatal(err)
	}
	for range 4 {
		if _, err := r.MemberOf(ctx, "u"); err != nil {
			t.Fatal(err)
		}
	}
	// Eleven units (one before the first page, one after each page for the next, one per
	// membership list) at 2 per 50 ms need at least five windows after the first two.
	if elapsed := time.Since(start); pages != 6 || elapsed < 250*time.Millisecond {
		t.Errorf("%d pages and 4 memberships in %v; the budget allows no faster than 250ms", pages, elapsed)
	}

	// A page callback's error is returned as it is; a throttled answer holds the next call.
	stop := errors.New("stop")
	if err := r.ListGuests(ctx, graph.GuestQuery{}, func([]graph.User) error { return stop }); err != stop {
		t.Errorf("ListGuests error = %v, want the callback's", err)
	}
	fake.err = &graph.Error{Kind: graph.KindThrottled, StatusCode: 429, RetryAfter: 300 * time.Millisecond}
	if _, err := r.AppRoleAssignments(ctx, "u"); graph.StatusCode(err) != 429 {
		t.Fatalf("AppRoleAssignments error = %v, want the 429", err)
	}
	fake.err = nil
	throttledAt := fake.calls[len(fake.calls)-1]
	if _, err := r.MemberOf(ctx, "u"); err != nil {
		t.Fatal(err)
	}
	if gap := fake.calls[len(fake.calls)-1].Sub(throttledAt); gap < 280*time.Millisecond {
		t.Errorf("the next call went out %v after the 429; Retry-After was 300ms", gap)
	}
}
