package partnerinvitation

import (
	"context"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/event"

	b2bv1alpha1 "github.com/partnerops/partner-operator/api/v1alpha1"
	"github.com/partnerops/partner-operator/internal/graph"
	"github.com/partnerops/partner-operator/internal/graph/graphtest"
)

func TestStale(t *testing.T) {
	pending := invitation(func(p *b2bv1alpha1.PartnerInvitation) { p.Status.State = b2bv1alpha1.StatePendingAcceptance })
	change := func(mutate func(*graph.UserChange)) *graph.UserChange {
		c := &graph.UserChange{User: graph.User{ID: guestID, DisplayName: "Anna", UserType: "Guest", ExternalUserState: "PendingAcceptance"}}
		mutate(c)
		return c
	}
	cases := map[string]struct {
		change *graph.UserChange
		want   bool
	}{
		"NothingNew":      {change(func(*graph.UserChange) {}), false},
		"Accepted":        {change(func(c *graph.UserChange) { c.ExternalUserState = "Accepted" }), true},
		"Removed":         {&graph.UserChange{User: graph.User{ID: guestID}, Removed: true}, true},
		"Renamed":         {change(func(c *graph.UserChange) { c.DisplayName = "Someone" }), true},
		"MadeMember":      {change(func(c *graph.UserChange) { c.UserType = "Member" }), true},
		"StateNotInDelta": {change(func(c *graph.UserChange) { c.ExternalUserState = "" }), false},
		// The recorder writes the record after the invitation: its absence is not news.
		"NoRecordYet": {change(func(c *graph.UserChange) { c.Ownership = graph.Ownership{} }), false},
		"RecordOfThisObject": {change(func(c *graph.UserChange) {
			c.Ownership = graph.Ownership{Owner: "here", Object: graph.ObjectRef(pending.Namespace, pending.Name)}
		}), false},
		"RecordOfAnotherOwner": {change(func(c *graph.UserChange) {
			c.Ownership = graph.Ownership{Owner: "elsewhere", Object: graph.ObjectRef(pending.Namespace, pending.Name)}
		}), true},
		"RecordOfAnotherObject": {change(func(c *graph.UserChange) { c.Ownership = graph.Ownership{Owner: "here", Object: "team-x/other"} }), true},
	}
	for name, c := range cases {
		if got := stale(pending, c.change, "here"); got != c.want {
			t.Errorf("%s: stale = %v, want %v", name, got, c.want)
		}
	}
}

// A profile field the spec sets, changed in the portal, is news within one delta round; one
// the spec leaves alone is not.
func TestStaleProfile(t *testing.T) {
	p := invitation(func(p *b2bv1alpha1.PartnerInvitation) {
		p.Status.State = b2bv1alpha1.StatePendingAcceptance
		p.Spec.Profile = &b2bv1alpha1.GuestProfile{Department: "Research"}
	})
	change := func(profile graph.Profile) *graph.UserChange {
		return &graph.UserChange{User: graph.User{ID: guestID, UserType: "Guest", ExternalUserState: "PendingAcceptance", Profile: profile}}
	}
	if stale(p, change(graph.Profile{"department": "Research", "jobTitle": "Anything"}), "") {
		t.Error("a change to a field the spec does not set made the object stale")
	}
	if !stale(p, change(graph.Profile{"department": "Sales"}), "") {
		t.Error("a department changed in the portal is not news")
	}
	if !stale(p, change(nil), "") {
		t.Error("a department cleared in the portal is not news")
	}
}

// The watcher enqueues only objects whose guest changed in a way their status does not show,
// so its cost follows the number of changes, not the number of guests.
func TestWatcherEnqueuesOnlyChangedGuests(t *testing.T) {
	s := runtime.NewScheme()
	_ = clientgoscheme.AddToScheme(s)
	_ = b2bv1alpha1.AddToScheme(s)
	objs := []*b2bv1alpha1.PartnerInvitation{}
	for _, id := range []string{"u-accepted", "u-unchanged", "u-removed"} {
		objs = append(objs, invitation(func(p *b2bv1alpha1.PartnerInvitation) {
			p.Name, p.UID = id, types.UID("uid-"+id)
			p.Status.UserID = id
			p.Status.State = b2bv1alpha1.StatePendingAcceptance
		}))
	}
	b := fake.NewClientBuilder().WithScheme(s).WithIndex(&b2bv1alpha1.PartnerInvitation{}, GuestIndex, indexGuest)
	for _, o := range objs {
		b = b.WithObjects(o)
	}
	calls := 0
	dir := &graphtest.Fake{UserChangesFn: func(ctx context.Context, link string) ([]graph.UserChange, string, error) {
		calls++
		if !graph.IsLowPriority(ctx) {
			t.Error("the watcher's reads must be marked low priority")
		}
		if calls == 1 {
			if link != "" {
				t.Errorf("first round link = %q, want a full round", link)
			}
			return nil, "delta-1", nil
		}
		if link != "delta-1" {
			t.Errorf("replayed link = %q, want delta-1", link)
		}
		return []graph.UserChange{
			{User: graph.User{ID: "u-accepted", ExternalUserState: "Accepted"}},
			{User: graph.User{ID: "u-unchanged", ExternalUserState: "PendingAcceptance"}},
			{User: graph.User{ID: "u-removed"}, Removed: true},
			{User: graph.User{ID: "someone-else", ExternalUserState: "Accepted"}},
		}, "delta-2", nil
	}}
	events := make(chan event.GenericEvent, 10)
	w := &RedemptionWatcher{Reader: b.Build(), Directory: dir, Interval: 10 * time.Millisecond, Events: events}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- w.Start(ctx) }()
	var got []string
	for len(got) < 2 {
		select {
		case e := <-events:
			got = append(got, e.Object.GetName())
		case <-time.After(5 * time.Second):
			t.Fatalf("enqueued %v, want u-accepted and u-removed", got)
		}
	}
	cancel()
	<-done
	if got[0] != "u-accepted" || got[1] != "u-removed" {
		t.Errorf("enqueued %v, want [u-accepted u-removed]", got)
	}
	for len(events) > 0 {
		if e := <-events; e.Object.GetName() == "u-unchanged" {
			t.Error("an unchanged guest was enqueued")
		}
	}
}
