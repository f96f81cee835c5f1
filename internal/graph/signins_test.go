package graph_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/partnerops/partner-operator/internal/graph"
	"github.com/partnerops/partner-operator/internal/graph/graphtest"
)

type countingSignIns struct{ pages, calls int }

func (c *countingSignIns) ListGuestSignIns(_ context.Context, page func([]graph.SignIn) error) error {
	c.calls++
	for i := 0; i < c.pages; i++ {
		if err := page([]graph.SignIn{{UserID: "u"}}); err != nil {
			return err
		}
	}
	return nil
}

// Sign-in pages draw from the tenant's own budget: once the directory's reads have used it,
// a sign-in read waits (here: is cancelled) instead of going out.
func TestSignInReadsShareTheDirectorysBudget(t *testing.T) {
	fake := &graphtest.Fake{GetUserFn: func(context.Context, string) (*graph.User, error) { return &graph.User{ID: "u"}, nil }}
	d := graph.Pace(fake, graph.Budget{ResourceUnits: graph.Quota{Limit: 4, Window: time.Hour}}, nil)
	signIns := &countingSignIns{pages: 2}
	paced := graph.PaceSignIns(signIns, d)

	// Two pages are charged three units: one before each request, and one held for a next page
	// until the listing ends.
	if err := paced.ListGuestSignIns(context.Background(), func([]graph.SignIn) error { return nil }); err != nil {
		t.Fatal(err)
	}
	guard, stop := context.WithTimeout(context.Background(), time.Minute) // a failure, not a hang
	defer stop()
	if _, err := d.GetUser(guard, "u"); err != nil {
		t.Fatalf("the directory's read within the budget left: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := paced.ListGuestSignIns(ctx, func([]graph.SignIn) error { return nil }); !errors.Is(err, context.Canceled) {
		t.Fatalf("a sign-in read over the shared budget: %v, want it held (context.Canceled)", err)
	}
	if signIns.calls != 1 {
		t.Errorf("%d sign-in listings reached Graph, want 1", signIns.calls)
	}
}

func TestPaceSignInsLeavesAnUnpacedDirectoryAlone(t *testing.T) {
	signIns := &countingSignIns{}
	if got := graph.PaceSignIns(signIns, &graphtest.Fake{}); got != graph.SignInReader(signIns) {
		t.Errorf("got %T, want the reader itself", got)
	}
}
