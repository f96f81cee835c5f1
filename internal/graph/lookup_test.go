package graph_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/partnerops/partner-operator/internal/graph"
	"github.com/partnerops/partner-operator/internal/graph/graphtest"
)

// directoryOf answers lookups from a fixed set of users, recording each request.
type directoryOf struct {
	graphtest.Fake
	users []graph.User

	mu      sync.Mutex
	batches [][]string // addresses of each batched request
	singles int        // lookups of one address
	err     error      // the answer to batched requests, when set
}

func (d *directoryOf) FindUsersByEmails(_ context.Context, emails []string) ([]graph.User, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.batches = append(d.batches, slices.Clone(emails))
	if d.err != nil {
		return nil, d.err
	}
	return d.holding(emails), nil
}

func (d *directoryOf) FindUsersByEmail(_ context.Context, email string) ([]graph.User, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.singles++
	return d.holding([]string{email}), nil
}

// holding returns the users whose mail or otherMails is one of emails, in any case.
func (d *directoryOf) holding(emails []string) []graph.User {
	var out []graph.User
	for _, u := range d.users {
		addrs := append([]string{u.Mail}, u.OtherMails...)
		if slices.ContainsFunc(emails, func(e string) bool {
			return slices.ContainsFunc(addrs, func(a string) bool { return strings.EqualFold(a, e) })
		}) {
			out = append(out, u)
		}
	}
	return out
}

func lookupAll(t *testing.T, d graph.Directory, emails []string) map[string][]graph.User {
	t.Helper()
	var mu sync.Mutex
	got := map[string][]graph.User{}
	var wg sync.WaitGroup
	for _, e := range emails {
		wg.Add(1)
		go func() {
			defer wg.Done()
			u, err := d.FindUsersByEmail(context.Background(), e)
			if err != nil {
				t.Errorf("%s: %v", e, err)
				return
			}
			mu.Lock()
			got[e] = u
			mu.Unlock()
		}()
	}
	wg.Wait()
	return got
}

// Concurrent lookups share requests of up to 15 addresses, and each caller gets exactly the
// users that hold its own address, in mail or otherMails, in any case.
func TestCoalescedLookupsShareRequests(t *testing.T) {
	var emails []string
	dir := &directoryOf{}
	for i := range 45 {
		e := fmt.Sprintf("partner-%02d@fabrikam.com", i)
		emails = append(emails, e)
		if i%3 == 0 {
			dir.users = append(dir.users, graph.User{ID: fmt.Sprintf("guest-%02d", i), Mail: strings.ToUpper(e), UserType: graph.UserTypeGuest})
		}
	}
	// A member holding partner-01's address as an alternative one: a conflict its caller must see.
	dir.users = append(dir.users, graph.User{ID: "member", Mail: "someone@contoso.com", OtherMails: []string{"partner-01@fabrikam.com"}, UserType: graph.UserTypeMember})

	// A window far longer than the test: only full batches are sent.
	got := lookupAll(t, graph.Coalesce(dir, time.Hour), emails)

	if len(dir.batches) != 3 || dir.singles != 0 {
		t.Fatalf("%d requests for 45 addresses, want 3: %v", len(dir.batches), dir.batches)
	}
	asked := map[string]int{}
	for _, b := range dir.batches {
		if len(b) != graph.MaxLookupAddresses {
			t.Errorf("a request asked for %d addresses, want %d", len(b), graph.MaxLookupAddresses)
		}
		for _, e := range b {
			asked[e]++
		}
	}
	for i, e := range emails {
		if asked[e] != 1 {
			t.Errorf("%s asked for %d times, want once", e, asked[e])
		}
		var ids []string
		for _, u := range got[e] {
			ids = append(ids, u.ID)
		}
		var want []string
		switch {
		case i%3 == 0:
			want = []string{fmt.Sprintf("guest-%02d", i)}
		case i == 1:
			want = []string{"member"}
		}
		if !slices.Equal(ids, want) {
			t.Errorf("%s: got users %v, want %v", e, ids, want)
		}
	}
}

// A lookup alone is sent once the window has passed; the same address asked twice in one
// window is asked for once.
func TestCoalescedLookupWaitsOnlyForTheWindow(t *testing.T) {
	dir := &directoryOf{users: []graph.User{{ID: "g", Mail: "a@fabrikam.com"}}}
	got := lookupAll(t, graph.Coalesce(dir, 20*time.Millisecond), []string{"a@fabrikam.com", "A@fabrikam.com"})
	if len(dir.batches) != 1 || len(dir.batches[0]) != 1 {
		t.Fatalf("batches %v, want one with one address", dir.batches)
	}
	for e, users := range got {
		if len(users) != 1 || users[0].ID != "g" {
			t.Errorf("%s: %v, want guest g", e, users)
		}
	}
}

// One caller giving up does not fail the others' shared request.
func TestCoalescedLookupOutlivesACancelledCaller(t *testing.T) {
	dir := &directoryOf{users: []graph.User{{ID: "g", Mail: "b@fabrikam.com"}}}
	d := graph.Coalesce(dir, 50*time.Millisecond)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := d.FindUsersByEmail(ctx, "a@fabrikam.com"); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled caller: %v, want context.Canceled", err)
	}
	users, err := d.FindUsersByEmail(context.Background(), "b@fabrikam.com")
	if err != nil || len(users) != 1 {
		t.Fatalf("the other caller: %v, %v", users, err)
	}
}

// A failed shared request fails every caller in it; a 400 (a tenant that refuses the batched
// query) makes the coalescer look each address up on its own from then on.
func TestCoalescedLookupErrors(t *testing.T) {
	dir := &directoryOf{users: []graph.User{{ID: "g", Mail: "a@fabrikam.com"}},
		err: &graph.Error{Kind: graph.KindTransient, StatusCode: 503}}
	d := graph.Coalesce(dir, time.Millisecond)
	if _, err := d.FindUsersByEmail(context.Background(), "a@fabrikam.com"); graph.StatusCode(err) != 503 {
		t.Fatalf("a 503 on the shared request: %v", err)
	}

	dir.err = &graph.Error{Kind: graph.KindTerminal, StatusCode: 400, Message: "Unsupported Query."}
	for range 2 {
		users, err := d.FindUsersByEmail(context.Background(), "a@fabrikam.com")
		if err != nil || len(users) != 1 || users[0].ID != "g" {
			t.Fatalf("after a 400: %v, %v; want guest g from a lookup of its own", users, err)
		}
	}
	if len(dir.batches) != 2 || dir.singles != 2 {
		t.Errorf("%d batched requests and %d single lookups, want 2 and 2: none batched after the 400", len(dir.batches), dir.singles)
	}
}

func TestCoalesceOffWithoutAWindow(t *testing.T) {
	dir := &directoryOf{}
	if d := graph.Coalesce(dir, 0); d != graph.Directory(dir) {
		t.Error("Coalesce with a zero window wraps the directory")
	}
}
