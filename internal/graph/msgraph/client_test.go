package msgraph

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	graph "github.com/partnerops/partner-operator/internal/graph"
	"github.com/partnerops/partner-operator/internal/graph/emulator"
)

func TestInvite(t *testing.T) {
	t.Parallel()
	c, emu := newTestClient(t, emulator.Options{})
	ctx := testContext(t)

	inv, err := c.Invite(ctx, graph.InvitationRequest{
		Email:                 "jane@fabrikam.com",
		DisplayName:           "Jane Doe",
		RedirectURL:           "https://myapps.microsoft.com",
		UserType:              graph.UserTypeGuest,
		SendInvitationMessage: true,
		MessageBody:           "Welcome aboard",
		MessageLanguage:       "de-DE",
		CCRecipients:          []string{"sponsor@contoso.com"},
	})
	if err != nil {
		t.Fatalf("Invite: %v", err)
	}
	if inv.ID == "" || inv.RedeemURL == "" || inv.Status != "PendingAcceptance" {
		t.Errorf("invitation = %+v, want an id, a redeem URL and PendingAcceptance", inv)
	}
	u, ok := emu.User(inv.UserID)
	if !ok {
		t.Fatalf("invited user %q does not exist in the emulator", inv.UserID)
	}
	if u.Mail != "jane@fabrikam.com" || u.DisplayName != "Jane Doe" || u.CreationType != "Invitation" {
		t.Errorf("created user = %+v", u)
	}
	if got := emu.MailsSent("jane@fabrikam.com"); got != 1 {
		t.Errorf("MailsSent = %d, want 1", got)
	}

	req := onlyRequest(t, emu, "POST", "/invitations")
	if enc := req.Header.Get("Content-Encoding"); enc != "" {
		t.Errorf("invitation was sent with Content-Encoding %q; the client must not compress bodies", enc)
	}
	want := map[string]any{
		"invitedUserEmailAddress": "jane@fabrikam.com",
		"invitedUserDisplayName":  "Jane Doe",
		"inviteRedirectUrl":       "https://myapps.microsoft.com",
		"invitedUserType":         "Guest",
		"sendInvitationMessage":   true,
		"invitedUserMessageInfo": map[string]any{
			"customizedMessageBody": "Welcome aboard",
			"messageLanguage":       "de-DE",
			"ccRecipients": []any{
				map[string]any{"emailAddress": map[string]any{"address": "sponsor@contoso.com"}},
			},
		},
	}
	if diff := cmp.Diff(want, withoutODataType(decodeBody(t, req))); diff != "" {
		t.Errorf("invitation body (-want +got):\n%s", diff)
	}

	// Re-invitation with reset: the same user, resetRedemption and invitedUser.id in the body.
	emu.ResetRequests()
	again, err := c.Invite(ctx, graph.InvitationRequest{
		Email:                    "jane@fabrikam.com",
		RedirectURL:              "https://myapps.microsoft.com",
		ResetRedemptionForUserID: inv.UserID,
	})
	if err != nil {
		t.Fatalf("Invite with reset: %v", err)
	}
	if again.UserID != inv.UserID {
		t.Errorf("reset invitation user = %q, want %q", again.UserID, inv.UserID)
	}
	body := withoutODataType(decodeBody(t, onlyRequest(t, emu, "POST", "/invitations")))
	wantReset := map[string]any{
		"invitedUserEmailAddress": "jane@fabrikam.com",
		"inviteRedirectUrl":       "https://myapps.microsoft.com",
		"sendInvitationMessage":   false, // always sent: Graph's default is false anyway
		"resetRedemption":         true,
		"invitedUser":             map[string]any{"id": inv.UserID},
	}
	if diff := cmp.Diff(wantReset, body); diff != "" {
		t.Errorf("reset invitation body (-want +got):\n%s", diff)
	}
	if got := emu.MailsSent("jane@fabrikam.com"); got != 1 {
		t.Errorf("MailsSent after a silent re-invitation = %d, want still 1", got)
	}
}

// withoutODataType drops the "@odata.type" annotations the SDK adds to every object.
func withoutODataType(v map[string]any) map[string]any {
	out := make(map[string]any, len(v))
	for k, x := range v {
		if k == "@odata.type" {
			continue
		}
		switch y := x.(type) {
		case map[string]any:
			x = withoutODataType(y)
		case []any:
			items := make([]any, len(y))
			for i, it := range y {
				if m, ok := it.(map[string]any); ok {
					it = withoutODataType(m)
				}
				items[i] = it
			}
			x = items
		}
		out[k] = x
	}
	return out
}

func TestInviteRejected(t *testing.T) {
	t.Parallel()
	c, _ := newTestClient(t, emulator.Options{})
	_, err := c.Invite(testContext(t), graph.InvitationRequest{Email: "not-an-address", RedirectURL: "https://x.example"})
	ge := graphErr(t, err)
	if ge.Kind != graph.KindTerminal || ge.StatusCode != 400 || ge.Code != "BadRequest" {
		t.Errorf("error = %+v, want a terminal 400 BadRequest", ge)
	}
}

func TestFindUsersByEmail(t *testing.T) {
	t.Parallel()
	c, emu := newTestClient(t, emulator.Options{})
	ctx := testContext(t)
	quoted := emu.AddUser(emulator.User{Mail: "o'brien@fabrikam.com", UserType: "Guest", CreationType: "Invitation"})
	byOther := emu.AddUser(emulator.User{Mail: "primary@contoso.com", OtherMails: []string{"alias@fabrikam.com"}, UserType: "Guest"})
	member := emu.AddUser(emulator.User{Mail: "shared@fabrikam.com", UserType: "Member"})
	guest := emu.AddUser(emulator.User{Mail: "other@contoso.com", OtherMails: []string{"shared@fabrikam.com"}, UserType: "Guest"})

	tests := []struct {
		email string
		want  []string
	}{
		{"o'brien@fabrikam.com", []string{quoted.ID}},
		{"O'Brien@Fabrikam.com", []string{quoted.ID}},
		{"alias@fabrikam.com", []string{byOther.ID}},
		{"shared@fabrikam.com", []string{member.ID, guest.ID}},
		{"nobody@fabrikam.com", nil},
	}
	for _, tc := range tests {
		t.Run(tc.email, func(t *testing.T) {
			got, err := c.FindUsersByEmail(ctx, tc.email)
			if err != nil {
				t.Fatalf("FindUsersByEmail: %v", err)
			}
			var ids []string
			for _, u := range got {
				ids = append(ids, u.ID)
			}
			slices.Sort(ids)
			want := slices.Clone(tc.want)
			slices.Sort(want)
			if diff := cmp.Diff(want, ids); diff != "" {
				t.Errorf("ids (-want +got):\n%s", diff)
			}
		})
	}

	// The quote is doubled in the OData literal, and the redemption properties are selected.
	var sawQuoted bool
	for _, r := range requests(emu, "GET", "/users") {
		if strings.Contains(queryParam(t, r, "$filter"), "mail eq 'o''brien@fabrikam.com'") {
			sawQuoted = true
			if sel := queryParam(t, r, "$select"); !strings.Contains(sel, "externalUserState") {
				t.Errorf("$select = %q, want externalUserState in it", sel)
			}
		}
	}
	if !sawQuoted {
		t.Errorf("no request filtered on the escaped literal; log: %v", summarize(emu.Requests()))
	}

	// The properties come back too (type, creation type), so callers can tell guests apart.
	got, err := c.FindUsersByEmail(ctx, "o'brien@fabrikam.com")
	if err != nil || len(got) != 1 {
		t.Fatalf("FindUsersByEmail = %v, %v", got, err)
	}
	if !got[0].IsGuest() || got[0].Mail != "o'brien@fabrikam.com" {
		t.Errorf("user = %+v, want the guest with its mail", got[0])
	}
}

func TestGetUser(t *testing.T) {
	t.Parallel()
	c, emu := newTestClient(t, emulator.Options{})
	ctx := testContext(t)
	changed := time.Date(2025, 2, 3, 4, 5, 6, 0, time.UTC)
	seeded := emu.AddUser(emulator.User{
		DisplayName: "Jane", Mail: "jane@fabrikam.com", OtherMails: []string{"jane@fabrikam.com"},
		UserType: "Guest", CreationType: "Invitation", AccountEnabled: true,
		ExternalUserState: emulator.StateAccepted, ExternalUserStateChangeDateTime: changed,
	})
	want := &graph.User{
		ID: seeded.ID, UserPrincipalName: "jane_fabrikam.com#EXT#@emulator.onmicrosoft.com",
		DisplayName: "Jane", Mail: "jane@fabrikam.com", OtherMails: []string{"jane@fabrikam.com"},
		UserType: "Guest", CreationType: "Invitation",
		ExternalUserState: "Accepted", ExternalUserStateChangedAt: changed, AccountEnabled: new(true),
	}

	got, err := c.GetUser(ctx, seeded.ID)
	if err != nil {
		t.Fatalf("GetUser: %v", err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("user (-want +got):\n%s", diff)
	}

	// By UPN, in another case: the SDK must carry "#EXT#" and "@" in the path segment intact.
	upn := strings.ToUpper(seeded.UserPrincipalName)
	got, err = c.GetUser(ctx, upn)
	if err != nil {
		t.Fatalf("GetUser(%q): %v", upn, err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("user by UPN (-want +got):\n%s", diff)
	}
	onlyRequest(t, emu, "GET", "/users/"+upn)

	_, err = c.GetUser(ctx, "00000000-0000-0000-0000-00000000dead")
	if !graph.IsNotFound(err) || graph.StatusCode(err) != 404 {
		t.Errorf("GetUser(unknown) error = %v, want NotFound 404", err)
	}
}

func TestUpdateUser(t *testing.T) {
	t.Parallel()
	c, emu := newTestClient(t, emulator.Options{})
	ctx := testContext(t)
	seeded := emu.AddUser(emulator.User{DisplayName: "Old", Mail: "x@fabrikam.com", UserType: "Guest"})
	name, member := "New Name", "Member"

	tests := []struct {
		name     string
		update   graph.UserUpdate
		wantBody map[string]any
		wantName string
		wantType string
	}{
		{"display name only", graph.UserUpdate{DisplayName: &name},
			map[string]any{"displayName": "New Name"}, "New Name", "Guest"},
		{"user type only", graph.UserUpdate{UserType: &member},
			map[string]any{"userType": "Member"}, "New Name", "Member"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			emu.ResetRequests()
			if err := c.UpdateUser(ctx, seeded.ID, tc.update); err != nil {
				t.Fatalf("UpdateUser: %v", err)
			}
			body := withoutODataType(decodeBody(t, onlyRequest(t, emu, "PATCH", "/users/"+seeded.ID)))
			if diff := cmp.Diff(tc.wantBody, body); diff != "" {
				t.Errorf("PATCH body (-want +got):\n%s", diff)
			}
			u, _ := emu.User(seeded.ID)
			if u.DisplayName != tc.wantName || u.UserType != tc.wantType {
				t.Errorf("user = %q/%q, want %q/%q", u.DisplayName, u.UserType, tc.wantName, tc.wantType)
			}
		})
	}

	err := c.UpdateUser(ctx, "00000000-0000-0000-0000-00000000dead", graph.UserUpdate{DisplayName: &name})
	if !graph.IsNotFound(err) {
		t.Errorf("UpdateUser(unknown) error = %v, want NotFound", err)
	}
}

// accountEnabled goes out alone when only it changes, and reads back through GetUser.
func TestUpdateUserAccountEnabled(t *testing.T) {
	t.Parallel()
	c, emu := newTestClient(t, emulator.Options{})
	ctx := testContext(t)
	seeded := emu.AddUser(emulator.User{Mail: "x@fabrikam.com", UserType: "Guest", AccountEnabled: true})

	for _, enabled := range []bool{false, true} {
		emu.ResetRequests()
		if err := c.UpdateUser(ctx, seeded.ID, graph.UserUpdate{AccountEnabled: &enabled}); err != nil {
			t.Fatalf("UpdateUser(accountEnabled=%t): %v", enabled, err)
		}
		body := withoutODataType(decodeBody(t, onlyRequest(t, emu, "PATCH", "/users/"+seeded.ID)))
		if diff := cmp.Diff(map[string]any{"accountEnabled": enabled}, body); diff != "" {
			t.Errorf("PATCH body (-want +got):\n%s", diff)
		}
		if u, _ := emu.User(seeded.ID); u.AccountEnabled != enabled {
			t.Errorf("emulator accountEnabled = %t, want %t", u.AccountEnabled, enabled)
		}
		got, err := c.GetUser(ctx, seeded.ID)
		if err != nil {
			t.Fatalf("GetUser: %v", err)
		}
		if got.AccountEnabled == nil || *got.AccountEnabled != enabled {
			t.Errorf("GetUser AccountEnabled = %v, want %t", got.AccountEnabled, enabled)
		}
	}
}

func TestDeleteUser(t *testing.T) {
	t.Parallel()
	c, emu := newTestClient(t, emulator.Options{})
	ctx := testContext(t)
	seeded := emu.AddUser(emulator.User{Mail: "gone@fabrikam.com", UserType: "Guest"})

	if err := c.DeleteUser(ctx, seeded.ID); err != nil {
		t.Fatalf("first DeleteUser: %v", err)
	}
	if _, ok := emu.User(seeded.ID); ok {
		t.Errorf("user still exists after DeleteUser")
	}
	err := c.DeleteUser(ctx, seeded.ID)
	ge := graphErr(t, err)
	if ge.Kind != graph.KindNotFound || ge.StatusCode != 404 || ge.Code != "Request_ResourceNotFound" {
		t.Errorf("second DeleteUser error = %+v, want NotFound 404 Request_ResourceNotFound", ge)
	}
	if n := len(requests(emu, "DELETE", "/users/"+seeded.ID)); n != 2 {
		t.Errorf("DELETE sent %d times, want 2 (a 404 is not retried)", n)
	}
}

// A 504 to an invitation may come after Graph invited the partner: retrying it in the HTTP
// pipeline would mail them twice. Found by the fault soak.
func TestInviteIsNotRetriedAfterAGatewayTimeout(t *testing.T) {
	c, emu := newTestClient(t, emulator.Options{})
	emu.InjectFault(emulator.Fault{Method: "POST", PathPrefix: "/invitations", Status: 504, AfterWrite: true})
	_, err := c.Invite(testContext(t), graph.InvitationRequest{Email: "late@fabrikam.com", RedirectURL: "https://myapps.microsoft.com", SendInvitationMessage: true})
	if err == nil || graph.IsTerminal(err) {
		t.Fatalf("want a transient error the controller resolves by lookup, got %v", err)
	}
	if n := emu.Count("POST", "/invitations"); n != 1 {
		t.Errorf("%d invitation POSTs, want 1: the pipeline must not resend", n)
	}
	if n := emu.MailsSent("late@fabrikam.com"); n != 1 {
		t.Errorf("%d mails, want 1", n)
	}

	// Other 5xx answers to reads are still retried in the pipeline.
	emu.InjectFault(emulator.Fault{Method: "GET", PathPrefix: "/users", Status: 504})
	if _, err := c.FindUsersByEmail(testContext(t), "late@fabrikam.com"); err != nil {
		t.Errorf("a GET after one 504 must succeed on retry: %v", err)
	}
}
