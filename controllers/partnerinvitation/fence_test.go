package partnerinvitation

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/partnerops/partner-operator/internal/graph"
	"github.com/partnerops/partner-operator/internal/graph/graphtest"
)

// stubFence is a fence the test opens or closes.
type stubFence struct {
	closed bool
	since  time.Time
}

func (f stubFence) Check() error {
	if f.closed {
		return fmt.Errorf("test: %w", graph.ErrFenced)
	}
	return nil
}

func (f stubFence) LeaderSince() time.Time { return f.since }

func inviteOK(_ context.Context, _ graph.InvitationRequest) (*graph.Invitation, error) {
	return &graph.Invitation{ID: "inv", UserID: guestID, Status: "PendingAcceptance", RedeemURL: "https://redeem.example/x"}, nil
}

func noGuest(context.Context, string) ([]graph.User, error) { return nil, nil }

func TestFencedReplicaWritesNothing(t *testing.T) {
	dir := &graphtest.Fake{FindUsersByEmailFn: noGuest, InviteFn: inviteOK}
	h := newHarness(t, dir, nil, invitation())
	h.r.Fence = stubFence{closed: true}

	res, err := h.reconcile(t)
	if err != nil || res.RequeueAfter != time.Second {
		t.Fatalf("Reconcile() = %+v, %v; want a quiet requeue after 1s", res, err)
	}
	if slices.Contains(dir.Calls(), "Invite") {
		t.Errorf("a replica that may have lost the lease invited: calls %v", dir.Calls())
	}
	if p := h.get(t); len(p.Status.Conditions) != 0 || p.Status.UserID != "" {
		t.Errorf("a fenced reconcile wrote status: %+v", p.Status)
	}
	if rec := h.record(t); !rec.InvitePending.IsZero() || rec.UserID != "" {
		t.Errorf("a fenced reconcile wrote the claim's record: %+v", rec)
	}
}

// The fence closed while the invitation was on its way: the transport refused or abandoned it.
// Whether it left is unknown, so the mark stays and nothing reports the outcome.
func TestWriteFencedInFlightLeavesTheMark(t *testing.T) {
	dir := &graphtest.Fake{FindUsersByEmailFn: noGuest,
		InviteFn: func(context.Context, graph.InvitationRequest) (*graph.Invitation, error) {
			return nil, &graph.Error{Kind: graph.KindTransient, Op: "invite", Err: fmt.Errorf("POST /invitations: %w", graph.ErrFenced)}
		}}
	h := newHarness(t, dir, nil, invitation())
	h.r.Fence = stubFence{}

	res, err := h.reconcile(t)
	if err != nil || res.RequeueAfter != time.Second {
		t.Fatalf("Reconcile() = %+v, %v; want a quiet requeue after 1s", res, err)
	}
	if p := h.get(t); len(p.Status.Conditions) != 0 {
		t.Errorf("the outcome of a fenced write was reported: %+v", p.Status.Conditions)
	}
	if rec := h.record(t); rec.InvitePending.IsZero() {
		t.Error("the attempt mark is gone; the next leader cannot tell an invitation may have left")
	}
}

// A new leader waits out the create grace from when it took the lead, not from the mark: a
// deposed leader paused since it wrote the mark may have sent the invitation just before then.
func TestCreateGraceCountsFromTheLeadersTerm(t *testing.T) {
	oldMark := testNow.Add(-time.Hour) // far past the 5 min grace
	for name, tc := range map[string]struct {
		since      time.Time
		wantInvite bool
	}{
		"LeadingSinceBeforeTheMark": {since: testNow.Add(-2 * time.Hour), wantInvite: true},
		"LeadingForAMinute":         {since: testNow.Add(-time.Minute), wantInvite: false},
	} {
		t.Run(name, func(t *testing.T) {
			dir := &graphtest.Fake{FindUsersByEmailFn: noGuest, InviteFn: inviteOK}
			obj := invitation()
			h := newHarness(t, dir, nil, obj, claimOf(obj, guestRecord{InvitePending: oldMark}))
			h.r.Fence = stubFence{since: tc.since}
			if _, err := h.reconcile(t); err != nil {
				t.Fatalf("Reconcile: %v", err)
			}
			if got := slices.Contains(dir.Calls(), "Invite"); got != tc.wantInvite {
				t.Errorf("invited = %v, want %v (calls %v)", got, tc.wantInvite, dir.Calls())
			}
		})
	}
}
