package partnerinvitation

import (
	"context"
	"testing"

	"github.com/go-logr/logr"

	"github.com/partnerops/partner-operator/internal/graph"
	"github.com/partnerops/partner-operator/internal/graph/graphtest"
)

// The recorder reads the account before writing: only a guest holding the object's address,
// whose record is absent or this installation's, is written to.
func TestRecorderWritesOnlyWhatIsItsOwn(t *testing.T) {
	const email = "rita@record.example"
	want := graph.Ownership{Owner: "here", Object: "team-a/rita", UID: "uid-1", Origin: "Invited"}
	guest := func(mutate func(*graph.User)) *graph.User {
		u := &graph.User{ID: "u-1", Mail: email, UserType: graph.UserTypeGuest}
		mutate(u)
		return u
	}
	cases := map[string]struct {
		user    *graph.User
		outcome string
		writes  int
	}{
		"no record yet":              {guest(func(*graph.User) {}), "written", 1},
		"this installation's, stale": {guest(func(u *graph.User) { u.Ownership = graph.Ownership{Owner: "here", Object: "team-a/old"} }), "written", 1},
		"already right":              {guest(func(u *graph.User) { u.Ownership = want }), "current", 0},
		"another installation's":     {guest(func(u *graph.User) { u.Ownership = graph.Ownership{Owner: "elsewhere"} }), "refused", 0},
		"a member account":           {guest(func(u *graph.User) { u.UserType = graph.UserTypeMember }), "refused", 0},
		"another address":            {guest(func(u *graph.User) { u.Mail = "someone@else.example" }), "refused", 0},
	}
	for name, c := range cases {
		writes := 0
		fake := &graphtest.Fake{
			GetUserFn: func(context.Context, string) (*graph.User, error) { return c.user, nil },
			UpdateUserFn: func(_ context.Context, _ string, u graph.UserUpdate) error {
				if u.Ownership == nil || *u.Ownership != want || u.DisplayName != nil || len(u.Profile) > 0 {
					t.Errorf("%s: update %+v, want the record only", name, u)
				}
				writes++
				return nil
			},
		}
		w := &OwnershipRecorder{Directory: fake, Log: logr.Discard()}
		outcome, err := w.write(context.Background(), "u-1", pendingRecord{email: email, ownership: want})
		if err != nil || outcome != c.outcome || writes != c.writes {
			t.Errorf("%s: outcome %q, %d writes, %v; want %q and %d", name, outcome, writes, err, c.outcome, c.writes)
		}
	}
}

// A queued record of a guest deleted meanwhile is dropped, not retried against a 404.
func TestRecorderForgetsDeletedGuests(t *testing.T) {
	var read []string
	fake := &graphtest.Fake{GetUserFn: func(_ context.Context, id string) (*graph.User, error) {
		read = append(read, id)
		return &graph.User{ID: id, Mail: "c@d.example", UserType: graph.UserTypeGuest, Ownership: graph.Ownership{Owner: "here"}}, nil
	}}
	w := &OwnershipRecorder{Directory: fake, Log: logr.Discard()}
	w.Record("u-1", "a@b.example", graph.Ownership{Owner: "here"})
	w.Record("u-2", "c@d.example", graph.Ownership{Owner: "here"})
	w.Forget("u-1")
	if got := w.Pending(); got != 1 {
		t.Errorf("%d pending, want 1", got)
	}
	w.queue.ShutDown() // Get still hands out what is queued, then reports the end
	for w.next(context.Background()) {
	}
	if len(read) != 1 || read[0] != "u-2" {
		t.Errorf("read %v, want only u-2: the forgotten record is not worked on", read)
	}
	if got := w.Pending(); got != 0 {
		t.Errorf("%d pending after the queue drained, want 0", got)
	}
}
