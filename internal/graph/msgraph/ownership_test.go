package msgraph

import (
	"encoding/json"
	"testing"
	"time"

	graph "github.com/partnerops/partner-operator/internal/graph"
	"github.com/partnerops/partner-operator/internal/graph/emulator"
)

const ownerApp = "5f0c1d2e-3a4b-4c5d-8e9f-0a1b2c3d4e5f"

// newOwnershipClient is newTestClient with the record's properties on ownerApp, the client's
// own application.
func newOwnershipClient(t *testing.T) (*Client, *emulator.Emulator) {
	t.Helper()
	emu := emulator.New(emulator.Options{RequireAuth: true})
	if err := emu.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(emu.Close)
	cred, err := NewClientSecretCredential(emu.TenantID(), ownerApp, "secret", emu.AuthorityURL(), emu.TLSClient())
	if err != nil {
		t.Fatal(err)
	}
	c, err := NewClient(Config{Endpoint: emu.URL(), Credential: cred, ExtensionAppID: ownerApp,
		Retry: RetryOptions{MaxRetries: 3, MaxInlineWait: 2 * time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	return c, emu
}

// The properties are registered once, on the operator's own application: a second start
// finds them and registers nothing.
func TestEnsureOwnershipPropertiesRegistersOnce(t *testing.T) {
	c, emu := newOwnershipClient(t)
	ctx := testContext(t)
	if err := c.EnsureOwnershipProperties(ctx); err != nil {
		t.Fatal(err)
	}
	if err := c.EnsureOwnershipProperties(ctx); err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, p := range emu.ExtensionProperties() {
		got[p.Name] = true
	}
	for _, short := range OwnershipProperties {
		if !got[ExtensionName(ownerApp, short)] {
			t.Errorf("%s is not registered; registered: %v", ExtensionName(ownerApp, short), got)
		}
	}
	if n := len(requests(emu, "POST", "/applications(appId='"+ownerApp+"')/extensionProperties")); n != len(OwnershipProperties) {
		t.Errorf("%d registrations, want %d (the second start registers nothing)", n, len(OwnershipProperties))
	}
}

// Without the permission to register, the error names what is missing.
func TestEnsureOwnershipPropertiesWithoutPermission(t *testing.T) {
	c, emu := newOwnershipClient(t)
	emu.SetGrantedPermissions("User.ReadWrite.All", "Application.Read.All")
	err := c.EnsureOwnershipProperties(testContext(t))
	if ge := graphErr(t, err); ge.StatusCode != 403 {
		t.Fatalf("error %v, want a 403", err)
	}
}

// The record is written with one PATCH and comes back in every read the operator makes: a
// lookup by address, a read by ID, the users delta, and the deleted item; null removes it.
func TestOwnershipRecordRoundTrip(t *testing.T) {
	c, emu := newOwnershipClient(t)
	ctx := testContext(t)
	if err := c.EnsureOwnershipProperties(ctx); err != nil {
		t.Fatal(err)
	}
	inv, err := c.Invite(ctx, graph.InvitationRequest{Email: "owen@record.example", RedirectURL: "https://myapps.microsoft.com"})
	if err != nil {
		t.Fatal(err)
	}
	want := graph.Ownership{Owner: "prod-eu", Object: "team-a/owen", UID: "0c3e8a2b-uid", Origin: "Invited"}
	if err := c.UpdateUser(ctx, inv.UserID, graph.UserUpdate{Ownership: &want}); err != nil {
		t.Fatal(err)
	}
	patches := requests(emu, "PATCH", "/users/"+inv.UserID)
	if len(patches) != 1 {
		t.Fatalf("%d PATCHes for one record, want 1", len(patches))
	}
	var body map[string]any
	if err := json.Unmarshal(patches[0].Body, &body); err != nil {
		t.Fatal(err)
	}
	delete(body, "@odata.type")
	if len(body) != len(OwnershipProperties) {
		t.Errorf("the record's PATCH sets %v, want only the %d record properties", body, len(OwnershipProperties))
	}
	u, err := c.GetUser(ctx, inv.UserID)
	if err != nil || u.Ownership != want {
		t.Fatalf("GetUser: record %+v, %v; want %+v", u.Ownership, err, want)
	}
	found, err := c.FindUsersByEmails(ctx, []string{"owen@record.example", "nobody@record.example"})
	if err != nil || len(found) != 1 || found[0].Ownership != want {
		t.Fatalf("lookup: %+v, %v", found, err)
	}
	changes, _, err := c.UserChanges(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	var inDelta graph.Ownership
	for _, ch := range changes {
		if ch.ID == inv.UserID {
			inDelta = ch.Ownership
		}
	}
	if inDelta != want {
		t.Errorf("users delta: record %+v, want %+v", inDelta, want)
	}

	if err := c.DeleteUser(ctx, inv.UserID); err != nil {
		t.Fatal(err)
	}
	deleted, err := c.GetDeletedUser(ctx, inv.UserID)
	if err != nil || deleted.Ownership != want || deleted.Mail != "owen@record.example" {
		t.Fatalf("GetDeletedUser: %+v, %v", deleted, err)
	}
	if err := c.RestoreDeletedUser(ctx, inv.UserID); err != nil {
		t.Fatal(err)
	}
	if _, err := c.GetDeletedUser(ctx, inv.UserID); !graph.IsNotFound(err) {
		t.Errorf("the restored user is still in deleted items: %v", err)
	}
	if err := c.RestoreDeletedUser(ctx, inv.UserID); !graph.IsNotFound(err) {
		t.Errorf("restoring it again: %v, want NotFound", err)
	}

	if err := c.UpdateUser(ctx, inv.UserID, graph.UserUpdate{Ownership: &graph.Ownership{}}); err != nil {
		t.Fatal(err)
	}
	if u, ok := emu.User(inv.UserID); !ok || len(u.Extensions) != 0 {
		t.Errorf("an empty record left %v", u.Extensions)
	}
}

func TestObjectRefFitsAnExtensionValue(t *testing.T) {
	long := make([]byte, 253)
	for i := range long {
		long[i] = 'a'
	}
	ns := "a-namespace-of-sixty-three-characters-aaaaaaaaaaaaaaaaaaaaaaaaa"
	ref := graph.ObjectRef(ns, string(long))
	if len(ref) > graph.MaxExtensionValue {
		t.Errorf("ObjectRef is %d characters, over %d", len(ref), graph.MaxExtensionValue)
	}
	if ref == graph.ObjectRef(ns, string(long[:252])+"b") {
		t.Error("two long names share a reference")
	}
	if got := graph.ObjectRef("team-a", "owen"); got != "team-a/owen" {
		t.Errorf("short reference %q", got)
	}
}
