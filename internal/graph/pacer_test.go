package graph_test

import (
	"context"
	"errors"
	"math/rand/v2"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/partnerops/partner-operator/internal/graph"
	"github.com/partnerops/partner-operator/internal/graph/graphtest"
)

// The budget spends Graph's published quotas to within a few percent, never more.
func TestBudgetStaysUnderGraphQuotas(t *testing.T) {
	published := map[string]graph.Budget{
		graph.TenantSmall:  {Invitations: graph.Quota{Limit: 150, Window: 5 * time.Second}, Writes: graph.Quota{Limit: 3000, Window: 150 * time.Second}, ResourceUnits: graph.Quota{Limit: 3500, Window: 10 * time.Second}},
		graph.TenantMedium: {Invitations: graph.Quota{Limit: 150, Window: 5 * time.Second}, Writes: graph.Quota{Limit: 3000, Window: 150 * time.Second}, ResourceUnits: graph.Quota{Limit: 5000, Window: 10 * time.Second}},
		graph.TenantLarge:  {Invitations: graph.Quota{Limit: 150, Window: 5 * time.Second}, Writes: graph.Quota{Limit: 3000, Window: 150 * time.Second}, ResourceUnits: graph.Quota{Limit: 8000, Window: 10 * time.Second}},
	}
	for size, quota := range published {
		b := graph.BudgetFor(size)
		for name, pair := range map[string][2]graph.Quota{
			"invitations": {b.Invitations, quota.Invitations}, "writes": {b.Writes, quota.Writes}, "resource units": {b.ResourceUnits, quota.ResourceUnits},
		} {
			got, limit := pair[0], pair[1]
			if got.Window != limit.Window || got.Limit > limit.Limit || float64(got.Limit) < 0.97*float64(limit.Limit) {
				t.Errorf("%s %s: budget %d per %s, published %d per %s", size, name, got.Limit, got.Window, limit.Limit, limit.Window)
			}
		}
	}
}

// Graph counts a request somewhere between its sending and its answer. Whatever the latency,
// no interval of the window's length may hold more counted requests than the quota, and the
// budget still lets the quota's worth through each window.
func TestNoWindowOnGraphsSideExceedsTheQuota(t *testing.T) {
	const limit, window, workers, total = 8, 100 * time.Millisecond, 16, 64
	var mu sync.Mutex
	var counted []time.Time
	fake := &graphtest.Fake{InviteFn: func(context.Context, graph.InvitationRequest) (*graph.Invitation, error) {
		time.Sleep(rand.N(15 * time.Millisecond)) // on the way to Graph
		mu.Lock()
		counted = append(counted, time.Now())
		mu.Unlock()
		time.Sleep(rand.N(15 * time.Millisecond)) // on the way back
		return &graph.Invitation{UserID: "u"}, nil
	}}
	d := graph.Pace(fake, graph.Budget{Invitations: graph.Quota{Limit: limit, Window: window}}, nil)
	start := time.Now()
	var wg sync.WaitGroup
	var next atomic.Int64
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= total {
				if _, err := d.Invite(context.Background(), graph.InvitationRequest{}); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	sort.Slice(counted, func(i, j int) bool { return counted[i].Before(counted[j]) })
	for i := range counted {
		in := sort.Search(len(counted), func(j int) bool { return !counted[j].Before(counted[i].Add(window)) }) - i
		if in > limit {
			t.Fatalf("%d requests counted within %v of %v; the quota is %d", in, window, counted[i].Sub(start), limit)
		}
	}
	// 64 requests at 8 per window need at least 7 windows after the first.
	if elapsed := time.Since(start); elapsed < 7*window {
		t.Errorf("%d requests went out in %v; %d per %v allows no faster than %v", total, elapsed, limit, window, 7*window)
	}
}

// A caller that gives up while waiting takes nothing from the budget.
func TestCancelledWaitHoldsNothing(t *testing.T) {
	fake := &graphtest.Fake{GetUserFn: func(context.Context, string) (*graph.User, error) { return &graph.User{ID: "u"}, nil }}
	d := graph.Pace(fake, graph.Budget{ResourceUnits: graph.Quota{Limit: 1, Window: time.Hour}}, nil)
	if _, err := d.GetUser(context.Background(), "u"); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := d.GetUser(ctx, "u"); !errors.Is(err, context.Canceled) {
		t.Fatalf("a call over the budget with a cancelled context: %v, want context.Canceled", err)
	}
	if got := len(fake.Calls()); got != 1 {
		t.Errorf("%d calls reached Graph, want 1", got)
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
	d := graph.Pace(fake, graph.Budget{ResourceUnits: graph.Quota{Limit: 1000, Window: time.Second}}, nil)
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
	d := graph.Pace(fake, graph.Budget{Invitations: graph.Quota{Limit: 5, Window: 100 * time.Millisecond}}, nil)
	start := time.Now()
	for range 11 {
		if _, err := d.Invite(context.Background(), graph.InvitationRequest{}); err != nil {
			t.Fatal(err)
		}
	}
	// 11 invitations at 5 per 100 ms need at least two windows after the first five.
	if elapsed := time.Since(start); elapsed < 200*time.Millisecond {
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
	d := graph.Pace(fake, graph.Budget{Invitations: graph.Quota{Limit: 5, Window: 100 * time.Millisecond}}, m)
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
	// At 5 per 100 ms, one after the other, the sixth waits for the first five to leave the
	// window and the eleventh for the sixth: about 0.2 s in all.
	if sum := inv.GetSampleSum(); sum < 0.18 || sum > 1 {
		t.Errorf("invitation waits add up to %.3fs, want about 0.2s", sum)
	}
	t.Logf("invitation waits: %d, %.3fs in all", inv.GetSampleCount(), inv.GetSampleSum())
}
