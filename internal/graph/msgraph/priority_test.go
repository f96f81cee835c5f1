package msgraph

import (
	"testing"

	graph "github.com/partnerops/partner-operator/internal/graph"
	"github.com/partnerops/partner-operator/internal/graph/emulator"
)

func TestLowPriorityContextLabelsRequests(t *testing.T) {
	c, emu := newTestClient(t, emulator.Options{})
	u := emu.AddUser(emulator.User{Mail: "bg@prio.example", UserType: "Guest", CreationType: "Invitation"})
	ctx := testContext(t)
	if _, err := c.GetUser(ctx, u.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetUser(graph.WithLowPriority(ctx), u.ID); err != nil {
		t.Fatal(err)
	}
	reqs := emu.Requests()
	if len(reqs) != 2 {
		t.Fatalf("requests = %d, want 2", len(reqs))
	}
	if got := reqs[0].Header.Get("x-ms-throttle-priority"); got != "" {
		t.Errorf("foreground request sent priority %q", got)
	}
	if got := reqs[1].Header.Get("x-ms-throttle-priority"); got != "low" {
		t.Errorf("background request sent priority %q, want low", got)
	}
}
