package msgraph

import (
	"errors"
	"testing"
	"time"

	graph "github.com/partnerops/partner-operator/internal/graph"
	"github.com/partnerops/partner-operator/internal/graph/emulator"
	"github.com/partnerops/partner-operator/internal/leader"
)

// A replica that is not sure it leads sends no write through the real SDK client, and the
// caller can tell why; reads still go out.
func TestFencedClientSendsNoWrites(t *testing.T) {
	t.Parallel()
	emu := emulator.New(emulator.Options{RequireAuth: true})
	if err := emu.Start(); err != nil {
		t.Fatalf("start emulator: %v", err)
	}
	t.Cleanup(emu.Close)
	cred, err := NewClientSecretCredential(emu.TenantID(), "id", "secret", emu.AuthorityURL(), emu.TLSClient())
	if err != nil {
		t.Fatal(err)
	}
	closed := leader.New(10 * time.Second) // never renewed: not leading
	c, err := NewClient(Config{Endpoint: emu.URL(), Credential: cred,
		Retry: RetryOptions{MaxRetries: 3, MaxInlineWait: 2 * time.Second}, WrapTransport: closed.Transport})
	if err != nil {
		t.Fatal(err)
	}
	ctx := testContext(t)

	_, err = c.Invite(ctx, graph.InvitationRequest{Email: "jane@fabrikam.com", RedirectURL: "https://myapps.microsoft.com",
		UserType: graph.UserTypeGuest, SendInvitationMessage: true})
	if !errors.Is(err, graph.ErrFenced) {
		t.Fatalf("Invite through a closed fence: %v, want ErrFenced", err)
	}
	if err := c.DeleteUser(ctx, "00000000-0000-0000-0000-000000000001"); !errors.Is(err, graph.ErrFenced) {
		t.Errorf("DeleteUser through a closed fence: %v, want ErrFenced", err)
	}
	if _, err := c.FindUsersByEmail(ctx, "jane@fabrikam.com"); err != nil {
		t.Errorf("a read through a closed fence: %v, want it sent", err)
	}
	for _, r := range emu.Requests() {
		if r.Method != "GET" {
			t.Errorf("the emulator received %s %s from a fenced client", r.Method, r.Path)
		}
	}
	if n := len(emu.Requests()); n == 0 {
		t.Error("the emulator received no request at all; the read did not go out")
	}
}
