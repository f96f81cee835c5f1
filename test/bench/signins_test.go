package bench

import (
	"context"
	"fmt"
	"testing"
	"time"

	graph "github.com/partnerops/partner-operator/internal/graph"
	"github.com/partnerops/partner-operator/internal/graph/emulator"
	"github.com/partnerops/partner-operator/internal/graph/msgraph"
)

// signInInterval is the operator's default --sign-in-interval: four reads of each tenant's
// sign-in activity a day.
const signInInterval = 6 * time.Hour

// BenchmarkSignInReads measures what the inactivity rule costs Graph: one full read of the
// guests' sign-in activity (GET /users?$select=id,signInActivity, 500 guests a page) through
// the real msgraph client, against the emulator with BENCH_SIGNIN_GUESTS guests (default
// 10,000), all of whom have signed in, with the same quotas and 50-150 ms latency as
// BenchmarkConverge. It needs no control plane: the read is the Graph client's alone.
func BenchmarkSignInReads(b *testing.B) {
	n := envInt("BENCH_SIGNIN_GUESTS", 10000)
	emu := emulator.New(emulator.Options{RequireAuth: true, Quotas: emulator.DefaultQuotas(),
		Latency: 50 * time.Millisecond, LatencyJitter: 100 * time.Millisecond})
	if err := emu.Start(); err != nil {
		b.Fatal(err)
	}
	defer emu.Close()
	base := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	for i := range n {
		u := emu.AddUser(emulator.User{Mail: fmt.Sprintf("guest-%05d@bench.example", i), UserType: "Guest", CreationType: "Invitation"})
		if err := emu.SetSignIn(u.ID, base.Add(time.Duration(i)*time.Minute)); err != nil {
			b.Fatal(err)
		}
	}
	// A few members, which the read's $filter leaves out.
	for i := range 10 {
		emu.AddUser(emulator.User{Mail: fmt.Sprintf("staff-%d@contoso.com", i), UserType: "Member"})
	}
	cred, err := msgraph.NewClientSecretCredential(emu.TenantID(), "partner-operator-bench", "bench-secret", emu.AuthorityURL(), emu.TLSClient())
	if err != nil {
		b.Fatal(err)
	}
	c, err := msgraph.NewClient(msgraph.Config{Endpoint: emu.URL(), Credential: cred,
		Retry: msgraph.DefaultRetryOptions, UserAgent: "partner-operator (bench)"})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()

	var requests, guests, throttled int
	var wall time.Duration
	b.ResetTimer()
	for range b.N {
		emu.ResetRequests()
		throttledBefore := emu.ThrottledCount()
		read, withSignIn := 0, 0
		start := time.Now()
		if err := c.ListGuestSignIns(ctx, func(page []graph.SignIn) error {
			for _, s := range page {
				read++
				if !s.LastSuccessfulSignIn.IsZero() {
					withSignIn++
				}
			}
			return nil
		}); err != nil {
			b.Fatalf("ListGuestSignIns: %v", err)
		}
		wall += time.Since(start)
		if read != n || withSignIn != n {
			b.Fatalf("read %d guests, %d with a sign-in; want %d and %d", read, withSignIn, n, n)
		}
		requests += len(emu.Requests())
		guests += read
		throttled += emu.ThrottledCount() - throttledBefore
	}
	b.StopTimer()
	rounds := float64(b.N)
	perRound := float64(requests) / rounds
	perDay := perRound * float64(24*time.Hour/signInInterval)
	b.ReportMetric(perRound, "requests/round")
	b.ReportMetric(float64(guests)/rounds, "guests")
	b.ReportMetric(perDay, "requests/day")
	b.ReportMetric(wall.Seconds()/rounds, "s/round")
	fmt.Printf("\nsign-in reads: %d guests, %.0f Graph requests a round (%.0f guests each), %.0f a day at one round every %s, %.2f s a round, %d answered 429 (emulator with small-tenant quotas and 50-150 ms latency)\n",
		n, perRound, float64(n)/perRound, perDay, signInInterval, wall.Seconds()/rounds, throttled)
}
