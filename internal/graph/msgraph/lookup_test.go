package msgraph

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	graph "github.com/partnerops/partner-operator/internal/graph"
	"github.com/partnerops/partner-operator/internal/graph/emulator"
)

// userIDs returns the users' ids, sorted, failing on a user listed twice.
func userIDs(t *testing.T, users []graph.User) []string {
	t.Helper()
	ids := make([]string, 0, len(users))
	for _, u := range users {
		if slices.Contains(ids, u.ID) {
			t.Errorf("user %s is listed twice", u.ID)
		}
		ids = append(ids, u.ID)
	}
	slices.Sort(ids)
	return ids
}

func sorted(ids ...string) []string {
	out := slices.Clone(ids)
	slices.Sort(out)
	return out
}

// Fifteen addresses go out in one advanced query, and every kind of match comes back.
func TestFindUsersByEmails(t *testing.T) {
	t.Parallel()
	c, emu := newTestClient(t, emulator.Options{})
	ctx := testContext(t)
	quoted := emu.AddUser(emulator.User{Mail: "o'brien@fabrikam.com", UserType: "Guest", CreationType: "Invitation"})
	byOther := emu.AddUser(emulator.User{Mail: "primary@contoso.com", OtherMails: []string{"alias@fabrikam.com"}, UserType: "Guest"})
	mixed := emu.AddUser(emulator.User{Mail: "Mixed.Case@Fabrikam.com", UserType: "Guest"})
	member := emu.AddUser(emulator.User{Mail: "shared@fabrikam.com", UserType: "Member"})
	guest := emu.AddUser(emulator.User{Mail: "other@contoso.com", OtherMails: []string{"shared@fabrikam.com"}, UserType: "Guest"})
	want := []string{quoted.ID, byOther.ID, mixed.ID, member.ID, guest.ID}
	emails := []string{"o'brien@fabrikam.com", "alias@fabrikam.com", "mixed.case@FABRIKAM.COM", "shared@fabrikam.com"}
	for i := range 4 {
		a := fmt.Sprintf("plain%d@fabrikam.com", i)
		want = append(want, emu.AddUser(emulator.User{Mail: a, UserType: "Guest"}).ID)
		emails = append(emails, a)
	}
	for i := 0; len(emails) < graph.MaxLookupAddresses; i++ {
		emails = append(emails, fmt.Sprintf("nobody%d@fabrikam.com", i))
	}
	// Users no address names: neither a primary address given only through otherMails
	// (primary@contoso.com is not asked for), nor a bystander.
	emu.AddUser(emulator.User{Mail: "bystander@fabrikam.com", UserType: "Guest"})
	emu.AddUser(emulator.User{Mail: "plain0@contoso.com", OtherMails: []string{"plain1@contoso.com"}, UserType: "Guest"})
	if len(emails) != 15 {
		t.Fatalf("%d addresses, want 15", len(emails))
	}

	got, err := c.FindUsersByEmails(ctx, emails)
	if err != nil {
		t.Fatalf("FindUsersByEmails: %v", err)
	}
	if diff := cmp.Diff(sorted(want...), userIDs(t, got)); diff != "" {
		t.Errorf("ids (-want +got):\n%s", diff)
	}
	for _, u := range got {
		if u.ID == quoted.ID && (!u.IsGuest() || u.Mail != "o'brien@fabrikam.com") {
			t.Errorf("user = %+v, want the guest with its mail", u)
		}
	}

	r := onlyRequest(t, emu, "GET", "/users")
	if r.Status != 200 {
		t.Errorf("GET /users answered %d", r.Status)
	}
	if h := r.Header.Get("ConsistencyLevel"); h != "eventual" {
		t.Errorf("ConsistencyLevel = %q, want eventual", h)
	}
	if v := queryParam(t, r, "$count"); v != "true" {
		t.Errorf("$count = %q, want true (query %q)", v, r.RawQuery)
	}
	f := queryParam(t, r, "$filter")
	if !strings.Contains(f, "'o''brien@fabrikam.com'") || !strings.HasPrefix(f, "mail in (") || !strings.Contains(f, "otherMails/any(m:m in (") {
		t.Errorf("$filter = %q", f)
	}
	if f != LookupFilter(emails) {
		t.Errorf("$filter = %q, want %q", f, LookupFilter(emails))
	}
	if sel := queryParam(t, r, "$select"); sel != strings.Join(userSelect, ",") {
		t.Errorf("$select = %q, want %q", sel, strings.Join(userSelect, ","))
	}
}

// longAddress is an address of exactly n characters.
func longAddress(i, n int) string {
	const domain = "@a-rather-long-partner-domain.example.com"
	prefix := fmt.Sprintf("guest%02d.", i)
	return prefix + strings.Repeat("x", n-len(prefix)-len(domain)) + domain
}

// Long addresses take more than one request to keep each URL within 2,048 characters, and the
// client's estimate of a URL's length is not below what Graph (the emulator) measures.
func TestFindUsersByEmailsLongAddresses(t *testing.T) {
	t.Parallel()
	c, emu := newTestClient(t, emulator.Options{})
	ctx := testContext(t)
	var emails, want []string
	for i := range graph.MaxLookupAddresses {
		a := longAddress(i, 120)
		emails = append(emails, a)
		u := emulator.User{Mail: a, UserType: "Guest"}
		if i%3 == 1 {
			u = emulator.User{Mail: fmt.Sprintf("primary%d@contoso.com", i), OtherMails: []string{strings.ToUpper(a)}, UserType: "Guest"}
		}
		want = append(want, emu.AddUser(u).ID)
	}

	chunks := LookupChunks(emails)
	if len(chunks) < 2 {
		t.Fatalf("%d chunk(s), want more than one: %d characters for all", len(chunks), LookupURLLength(emails))
	}
	if diff := cmp.Diff(emails, slices.Concat(chunks...)); diff != "" {
		t.Errorf("chunks do not hold the addresses in order (-want +got):\n%s", diff)
	}
	for i, ch := range chunks {
		if len(ch) == 0 || len(ch) > graph.MaxLookupAddresses {
			t.Errorf("chunk %d has %d addresses", i, len(ch))
		}
		if l := LookupURLLength(ch); l > MaxAdvancedQueryURL {
			t.Errorf("chunk %d: URL of %d characters", i, l)
		}
		// The chunks are as full as the limit allows.
		if i+1 < len(chunks) {
			if l := LookupURLLength(append(slices.Clone(ch), chunks[i+1][0])); l <= MaxAdvancedQueryURL {
				t.Errorf("chunk %d could have taken the next address: %d characters", i, l)
			}
		}
	}

	got, err := c.FindUsersByEmails(ctx, emails)
	if err != nil {
		t.Fatalf("FindUsersByEmails: %v", err)
	}
	if diff := cmp.Diff(sorted(want...), userIDs(t, got)); diff != "" {
		t.Errorf("ids (-want +got):\n%s", diff)
	}
	rs := requests(emu, "GET", "/users")
	if len(rs) != len(chunks) {
		t.Fatalf("%d GET /users, want %d (one per chunk); log: %v", len(rs), len(chunks), summarize(emu.Requests()))
	}
	for i, r := range rs {
		if r.Status != 200 {
			t.Errorf("request %d answered %d: %s", i, r.Status, r.RawQuery)
		}
		if h := r.Header.Get("ConsistencyLevel"); h != "eventual" || queryParam(t, r, "$count") != "true" {
			t.Errorf("request %d: ConsistencyLevel %q, query %q", i, h, r.RawQuery)
		}
		// What the emulator measures, as Graph would: its host, then the path and query.
		measured := len(DefaultEndpoint + "/v1.0" + r.Path + "?" + r.RawQuery)
		if est := LookupURLLength(chunks[i]); measured > est {
			t.Errorf("request %d: URL of %d characters, estimated %d", i, measured, est)
		} else {
			t.Logf("request %d: %d addresses, URL of %d characters, estimated %d", i, len(chunks[i]), measured, est)
		}
		if f := queryParam(t, r, "$filter"); f != LookupFilter(chunks[i]) {
			t.Errorf("request %d: $filter = %q, want %q", i, f, LookupFilter(chunks[i]))
		}
	}
}

func TestLookupChunks(t *testing.T) {
	t.Parallel()
	if got := LookupChunks(nil); len(got) != 0 {
		t.Errorf("LookupChunks(nil) = %q", got)
	}
	if got := LookupChunks([]string{}); len(got) != 0 {
		t.Errorf("LookupChunks([]) = %q", got)
	}

	// Short addresses: fifteen to a chunk.
	var short []string
	for i := range 40 {
		short = append(short, fmt.Sprintf("u%d@fabrikam.com", i))
	}
	got := LookupChunks(short)
	var lens []int
	for _, ch := range got {
		lens = append(lens, len(ch))
	}
	if !slices.Equal(lens, []int{15, 15, 10}) {
		t.Errorf("40 short addresses: chunks of %v addresses", lens)
	}
	if diff := cmp.Diff(short, slices.Concat(got...)); diff != "" {
		t.Errorf("chunks (-want +got):\n%s", diff)
	}

	// An address too long to fit even alone goes in a chunk of its own.
	huge := longAddress(99, 1100)
	got = LookupChunks([]string{"a@fabrikam.com", huge, "b@fabrikam.com"})
	if diff := cmp.Diff([][]string{{"a@fabrikam.com"}, {huge}, {"b@fabrikam.com"}}, got); diff != "" {
		t.Errorf("huge address (-want +got):\n%s", diff)
	}

	// Quotes are doubled in both lists.
	if f := LookupFilter([]string{"o'brien@x.com", "b@x.com"}); f != "mail in ('o''brien@x.com','b@x.com') or otherMails/any(m:m in ('o''brien@x.com','b@x.com'))" {
		t.Errorf("LookupFilter = %q", f)
	}
}

// A user matched by several addresses, in one batch or in different ones, is listed once; no
// addresses, no request.
func TestFindUsersByEmailsDeduplicates(t *testing.T) {
	t.Parallel()
	c, emu := newTestClient(t, emulator.Options{})
	ctx := testContext(t)

	got, err := c.FindUsersByEmails(ctx, nil)
	if err != nil || len(got) != 0 {
		t.Fatalf("FindUsersByEmails(nil) = %v, %v", got, err)
	}
	if rs := requests(emu, "GET", "/users"); len(rs) != 0 {
		t.Errorf("no addresses sent %d GET /users", len(rs))
	}

	both := emu.AddUser(emulator.User{Mail: "a@fabrikam.com", OtherMails: []string{"b@fabrikam.com", "c@fabrikam.com"}, UserType: "Guest"})
	single := emu.AddUser(emulator.User{Mail: "d@fabrikam.com", UserType: "Guest"})
	got, err = c.FindUsersByEmails(ctx, []string{"a@fabrikam.com", "b@fabrikam.com", "C@fabrikam.com", "d@fabrikam.com", "d@fabrikam.com"})
	if err != nil {
		t.Fatalf("FindUsersByEmails: %v", err)
	}
	if diff := cmp.Diff(sorted(both.ID, single.ID), userIDs(t, got)); diff != "" {
		t.Errorf("one batch: ids (-want +got):\n%s", diff)
	}

	// Across batches: the first and last of fifteen long addresses belong to one user.
	var emails []string
	for i := range graph.MaxLookupAddresses {
		emails = append(emails, longAddress(i, 120))
	}
	if n := len(LookupChunks(emails)); n < 2 {
		t.Fatalf("%d chunk(s), want more than one", n)
	}
	across := emu.AddUser(emulator.User{Mail: emails[0], OtherMails: []string{emails[len(emails)-1]}, UserType: "Guest"})
	before := len(requests(emu, "GET", "/users"))
	got, err = c.FindUsersByEmails(ctx, emails)
	if err != nil {
		t.Fatalf("FindUsersByEmails: %v", err)
	}
	if diff := cmp.Diff([]string{across.ID}, userIDs(t, got)); diff != "" {
		t.Errorf("across batches: ids (-want +got):\n%s", diff)
	}
	if n := len(requests(emu, "GET", "/users")) - before; n != len(LookupChunks(emails)) {
		t.Errorf("%d GET /users, want %d", n, len(LookupChunks(emails)))
	}
}
