package msgraph

import (
	"bytes"
	"net/http"
	"testing"
	"time"

	graph "github.com/partnerops/partner-operator/internal/graph"
	"github.com/partnerops/partner-operator/internal/graph/emulator"
)

var retryInvitation = graph.InvitationRequest{
	Email: "retry@fabrikam.com", RedirectURL: "https://myapps.microsoft.com", SendInvitationMessage: true,
}

// A short Retry-After is slept through in-process; the retried POST carries the same,
// uncompressed body (graph.md's retry bug) and exactly one invitation results.
func TestThrottledPostRetriedInProcess(t *testing.T) {
	t.Parallel()
	c, emu := newTestClient(t, emulator.Options{})
	emu.InjectFault(emulator.Fault{Method: http.MethodPost, PathPrefix: "/invitations", Status: http.StatusTooManyRequests, RetryAfter: time.Second})

	start := time.Now()
	inv, err := c.Invite(testContext(t), retryInvitation)
	if err != nil {
		t.Fatalf("Invite: %v", err)
	}
	if elapsed := time.Since(start); elapsed < time.Second {
		t.Errorf("Invite returned after %v; Retry-After 1s was not honoured", elapsed)
	}
	posts := requests(emu, http.MethodPost, "/invitations")
	if len(posts) != 2 || posts[0].Status != http.StatusTooManyRequests || posts[1].Status != http.StatusCreated {
		t.Fatalf("POST /invitations log = %v, want a 429 then a 201", statuses(posts))
	}
	if len(posts[1].Body) == 0 || !bytes.Equal(posts[0].Body, posts[1].Body) {
		t.Errorf("retried body %q differs from the original %q", posts[1].Body, posts[0].Body)
	}
	for i, p := range posts {
		if enc := p.Header.Get("Content-Encoding"); enc != "" {
			t.Errorf("attempt %d labelled Content-Encoding %q", i+1, enc)
		}
	}
	if users := emu.Users(); len(users) != 1 || users[0].ID != inv.UserID {
		t.Errorf("users = %+v, want exactly the invited one", users)
	}
	if got := emu.MailsSent(retryInvitation.Email); got != 1 {
		t.Errorf("MailsSent = %d, want 1", got)
	}
}

// A Retry-After beyond MaxInlineWait is handed back at once as a throttled error.
func TestLongThrottleReturned(t *testing.T) {
	t.Parallel()
	c, emu := newTestClient(t, emulator.Options{})
	emu.InjectFault(emulator.Fault{Method: http.MethodPost, PathPrefix: "/invitations", Status: http.StatusTooManyRequests, RetryAfter: 30 * time.Second})

	start := time.Now()
	_, err := c.Invite(testContext(t), retryInvitation)
	if elapsed := time.Since(start); elapsed > 10*time.Second {
		t.Errorf("Invite took %v; a 30s Retry-After must not be slept through", elapsed)
	}
	wait, throttled := graph.RetryAfter(err)
	if !throttled || wait != 30*time.Second {
		t.Fatalf("RetryAfter(%v) = %v, %v; want 30s, true", err, wait, throttled)
	}
	if ge := graphErr(t, err); ge.StatusCode != http.StatusTooManyRequests || ge.Code != "TooManyRequests" {
		t.Errorf("error = %+v, want 429 TooManyRequests", ge)
	}
	if n := len(requests(emu, http.MethodPost, "/invitations")); n != 1 {
		t.Errorf("POST /invitations sent %d times, want 1", n)
	}
	if users := emu.Users(); len(users) != 0 {
		t.Errorf("users = %+v, want none", users)
	}
}

func statuses(rs []emulator.Request) []int {
	out := make([]int, len(rs))
	for i, r := range rs {
		out[i] = r.Status
	}
	return out
}
