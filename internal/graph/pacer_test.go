package graph_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/partnerops/partner-operator/internal/graph"
	"github.com/partnerops/partner-operator/internal/graph/graphtest"
)

func TestBudgetStaysUnderGraphQuotas(t *testing.T) {
	for _, size := range []string{graph.TenantSmall, graph.TenantMedium, graph.TenantLarge} {
		b := graph.BudgetFor(size)
		// In any 5 s window a token bucket admits at most burst + rate*5.
		if got := float64(b.Burst) + b.InvitationsPerSecond*5; got > 150 {
			t.Errorf("%s: up to %.0f invitations per 5 s, quota is 150", size, got)
		}
		if got := float64(b.Burst) + b.WritesPerSecond*150; got > 3000 {
			t.Errorf("%s: up to %.0f writes per 150 s, quota is 3000", size, got)
		}
	}
	if graph.BudgetFor(graph.TenantLarge).ResourceUnitsPerSecond <= graph.BudgetFor(graph.TenantSmall).ResourceUnitsPerSecond {
		t.Error("a large tenant gets more resource units than a small one")
	}
}

func TestThrottledAnswerPausesEveryCaller(t *testing.T) {
	var mu sync.Mutex
	var calls []time.Time
	first := true
	fake := &graphtest.Fake{GetUserFn: func(context.Context, string) (*graph.User, error) {
		mu.Lock()
		defer mu.Unlock()
		calls = append(calls, time.Now())
		if first {
			first = false
			return nil, &graph.Error{Kind: graph.KindThrottled, StatusCode: 429, RetryAfter: 300 * time.Millisecond}
		}
		return &graph.User{ID: "u"}, nil
	}}
	d := graph.Pace(fake, graph.Budget{InvitationsPerSecond: 1000, WritesPerSecond: 1000, ResourceUnitsPerSecond: 1000, Burst: 10}, nil)
	if _, err := d.GetUser(context.Background(), "u"); err == nil {
		t.Fatal("want the throttled error passed through")
	}
	var wg sync.WaitGroup
	for range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := d.GetUser(context.Background(), "u"); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if len(calls) != 4 {
		t.Fatalf("calls = %d, want 4", len(calls))
	}
	for _, c := range calls[1:] {
		if gap := c.Sub(calls[0]); gap < 280*time.Millisecond {
			t.Errorf("a call went out %v after the 429; Retry-After was 300ms", gap)
		}
	}
}

func TestInvitationsArePacedToTheBudget(t *testing.T) {
	fake := &graphtest.Fake{InviteFn: func(context.Context, graph.InvitationRequest) (*graph.Invitation, error) {
		return &graph.Invitation{UserID: "u"}, nil
	}}
	d := graph.Pace(fake, graph.Budget{InvitationsPerSecond: 50, WritesPerSecond: 1000, ResourceUnitsPerSecond: 1000, Burst: 1}, nil)
	start := time.Now()
	for range 11 {
		if _, err := d.Invite(context.Background(), graph.InvitationRequest{}); err != nil {
			t.Fatal(err)
		}
	}
	// 11 invitations at 50/s with a burst of 1 need at least 10 intervals of 20 ms.
	if elapsed := time.Since(start); elapsed < 190*time.Millisecond {
		t.Errorf("11 invitations took %v; the budget allows no faster than 200ms", elapsed)
	}
}

// Every paced call's wait is observed by class; the waits of calls held back by the budget add
// up to the time the budget imposed.
func TestPacerWaitIsObserved(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := graph.NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	fake := &graphtest.Fake{
		InviteFn: func(context.Context, graph.InvitationRequest) (*graph.Invitation, error) {
			return &graph.Invitation{UserID: "u"}, nil
		},
		GetUserFn: func(context.Context, string) (*graph.User, error) { return &graph.User{ID: "u"}, nil },
	}
	d := graph.Pace(fake, graph.Budget{InvitationsPerSecond: 50, WritesPerSecond: 1000, ResourceUnitsPerSecond: 1000, Burst: 1}, m)
	for range 11 {
		if _, err := d.Invite(context.Background(), graph.InvitationRequest{}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := d.GetUser(context.Background(), "u"); err != nil {
		t.Fatal(err)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]*dto.Histogram{}
	for _, mf := range mfs {
		if mf.GetName() != "partner_operator_graph_pacer_wait_seconds" {
			continue
		}
		for _, metric := range mf.GetMetric() {
			got[metric.GetLabel()[0].GetValue()] = metric.GetHistogram()
		}
	}
	inv, read := got[graph.PaceClassInvitation], got[graph.PaceClassRead]
	if inv.GetSampleCount() != 11 || read.GetSampleCount() != 1 {
		t.Fatalf("observed %d invitation and %d read waits, want 11 and 1", inv.GetSampleCount(), read.GetSampleCount())
	}
	// 11 invitations at 50/s with a burst of 1 wait about 10 × 20 ms in all.
	if sum := inv.GetSampleSum(); sum < 0.15 || sum > 1 {
		t.Errorf("invitation waits add up to %.3fs, want about 0.2s", sum)
	}
	t.Logf("invitation waits: %d, %.3fs in all", inv.GetSampleCount(), inv.GetSampleSum())
}
