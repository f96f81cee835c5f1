package emulator

import (
	"bytes"
	"errors"
	"net/http"
	"slices"
	"strings"
	"testing"
)

func TestInvitationCreatesGuest(t *testing.T) {
	h := newHarness(t, Options{})
	rep := h.invite("jane@fabrikam.com", map[string]any{
		"invitedUserDisplayName": "Jane Doe",
		"sendInvitationMessage":  true,
		"invitedUserMessageInfo": map[string]any{
			"customizedMessageBody": "Welcome",
			"ccRecipients":          []any{map[string]any{"emailAddress": map[string]any{"address": "boss@contoso.com"}}},
		},
	})
	if rep.status != http.StatusCreated {
		t.Fatalf("status %d: %s", rep.status, rep.raw)
	}
	b := rep.body
	for k, want := range map[string]any{
		"invitedUserDisplayName":  "Jane Doe",
		"invitedUserType":         "Guest",
		"invitedUserEmailAddress": "jane@fabrikam.com",
		"sendInvitationMessage":   true,
		"resetRedemption":         false,
		"inviteRedirectUrl":       "https://myapps.microsoft.com",
		"status":                  "PendingAcceptance",
	} {
		if b[k] != want {
			t.Errorf("%s = %v, want %v", k, b[k], want)
		}
	}
	if !strings.HasSuffix(str(b, "@odata.context"), "/v1.0/$metadata#invitations/$entity") {
		t.Errorf("@odata.context = %q", str(b, "@odata.context"))
	}
	if len(str(b, "id")) != 36 {
		t.Errorf("invitation id %q is not a UUID", str(b, "id"))
	}
	if !strings.HasPrefix(str(b, "inviteRedeemUrl"), "https://") {
		t.Errorf("inviteRedeemUrl %q is not https", str(b, "inviteRedeemUrl"))
	}
	if str(b, "invitedUserMessageInfo", "customizedMessageBody") != "Welcome" {
		t.Errorf("message info not echoed: %v", b["invitedUserMessageInfo"])
	}

	id := str(b, "invitedUser", "id")
	u, ok := h.e.User(id)
	if !ok {
		t.Fatalf("user %s not created", id)
	}
	want := User{
		ID: id, DisplayName: "Jane Doe", Mail: "jane@fabrikam.com",
		UserPrincipalName: "jane_fabrikam.com#EXT#@emulator.onmicrosoft.com",
		UserType:          "Guest", CreationType: "Invitation", ExternalUserState: "PendingAcceptance",
		AccountEnabled: true,
	}
	if u.ID != want.ID || u.DisplayName != want.DisplayName || u.Mail != want.Mail ||
		u.UserPrincipalName != want.UserPrincipalName || u.UserType != want.UserType ||
		u.CreationType != want.CreationType || u.ExternalUserState != want.ExternalUserState ||
		u.AccountEnabled != want.AccountEnabled {
		t.Errorf("user = %+v, want %+v", u, want)
	}
	if len(u.OtherMails) != 1 || u.OtherMails[0] != "jane@fabrikam.com" {
		t.Errorf("otherMails = %v", u.OtherMails)
	}
	if u.CreatedDateTime.IsZero() || u.ExternalUserStateChangeDateTime.IsZero() {
		t.Errorf("times not set: %+v", u)
	}
	if n := h.e.MailsSent("JANE@fabrikam.com"); n != 1 {
		t.Errorf("MailsSent = %d, want 1", n)
	}
}

func TestInvitationRedeemURLsAreUnique(t *testing.T) {
	h := newHarness(t, Options{})
	a := str(h.invite("a@fabrikam.com", nil).body, "inviteRedeemUrl")
	b := str(h.invite("b@fabrikam.com", nil).body, "inviteRedeemUrl")
	if a == "" || a == b {
		t.Fatalf("redeem URLs not unique: %q %q", a, b)
	}
}

func TestInvitationGzipBody(t *testing.T) {
	h := newHarness(t, Options{})
	body := []byte(`{"invitedUserEmailAddress":"zip@fabrikam.com","inviteRedirectUrl":"https://example.com","invitedUserType":"member"}`)
	req, _ := http.NewRequest(http.MethodPost, h.srv.URL+"/v1.0/invitations", bytes.NewReader(gzipBytes(t, body)))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Content-Encoding", "gzip")
	rep := h.send(req)
	if rep.status != http.StatusCreated {
		t.Fatalf("status %d: %s", rep.status, rep.raw)
	}
	if rep.body["invitedUserType"] != "Member" {
		t.Errorf("invitedUserType = %v, want Member", rep.body["invitedUserType"])
	}
	if n := h.e.MailsSent("zip@fabrikam.com"); n != 0 {
		t.Errorf("sendInvitationMessage defaults to false, but %d mails counted", n)
	}
	reqs := h.e.Requests()
	if len(reqs) != 1 || !bytes.Equal(reqs[0].Body, body) {
		t.Errorf("logged body is not the decoded body: %q", reqs[0].Body)
	}

	// A body labelled gzip that is not (the SDK retry bug) is refused without state change.
	req, _ = http.NewRequest(http.MethodPost, h.srv.URL+"/v1.0/invitations", bytes.NewReader(body))
	req.Header.Set("Content-Encoding", "gzip")
	wantError(t, h.send(req), http.StatusBadRequest, codeBadRequest, "gzip")
	if last := h.e.Requests()[1]; !bytes.Equal(last.Body, body) || last.Status != http.StatusBadRequest {
		t.Errorf("a broken gzip body is logged raw: %d %q", last.Status, last.Body)
	}
	if n := len(h.e.Users()); n != 1 {
		t.Errorf("%d users after a broken request, want 1", n)
	}
}

func TestInvitationValidation(t *testing.T) {
	two := []any{
		map[string]any{"emailAddress": map[string]any{"address": "a@contoso.com"}},
		map[string]any{"emailAddress": map[string]any{"address": "b@contoso.com"}},
	}
	tests := map[string]struct {
		body    any
		wantMsg string
	}{
		"missing email":        {map[string]any{"inviteRedirectUrl": "https://x.example"}, "invitedUserEmailAddress"},
		"invalid email":        {map[string]any{"invitedUserEmailAddress": "not-an-address", "inviteRedirectUrl": "https://x.example"}, "invitedUserEmailAddress"},
		"missing redirect":     {map[string]any{"invitedUserEmailAddress": "a@fabrikam.com"}, "inviteRedirectUrl"},
		"relative redirect":    {map[string]any{"invitedUserEmailAddress": "a@fabrikam.com", "inviteRedirectUrl": "/home"}, "inviteRedirectUrl"},
		"bad user type":        {map[string]any{"invitedUserEmailAddress": "a@fabrikam.com", "inviteRedirectUrl": "https://x.example", "invitedUserType": "Admin"}, "invitedUserType"},
		"two cc recipients":    {map[string]any{"invitedUserEmailAddress": "a@fabrikam.com", "inviteRedirectUrl": "https://x.example", "invitedUserMessageInfo": map[string]any{"ccRecipients": two}}, "ccRecipient"},
		"reset without user":   {map[string]any{"invitedUserEmailAddress": "a@fabrikam.com", "inviteRedirectUrl": "https://x.example", "resetRedemption": true}, "invitedUser"},
		"empty body":           {[]byte{}, "Empty Payload"},
		"malformed JSON":       {[]byte(`{"invitedUserEmailAddress":`), "JSON"},
		"wrong type for field": {[]byte(`{"invitedUserEmailAddress":42,"inviteRedirectUrl":"https://x.example"}`), "Cannot convert the literal '42' to the expected type 'Edm.String'."},
		// Graph reads bodies against its schema: property names are case-sensitive, a name may
		// appear once, and a property the type does not define is an error, nested ones too.
		"undefined property": {map[string]any{"invitedUserEmailAddress": "a@fabrikam.com", "inviteRedirectUrl": "https://x.example", "sendMail": true},
			"The property 'sendMail' does not exist on type 'microsoft.graph.invitation'."},
		"key differing in case": {[]byte(`{"invitedUserEmailAddress":"a@fabrikam.com","InvitedUserEmailAddress":"b@fabrikam.com","inviteRedirectUrl":"https://x.example"}`),
			"The property 'InvitedUserEmailAddress' does not exist on type 'microsoft.graph.invitation'."},
		"duplicate key": {[]byte(`{"invitedUserEmailAddress":"a@fabrikam.com","invitedUserEmailAddress":"b@fabrikam.com","inviteRedirectUrl":"https://x.example"}`),
			"Multiple properties with the name 'invitedUserEmailAddress'"},
		"undefined nested property": {map[string]any{"invitedUserEmailAddress": "a@fabrikam.com", "inviteRedirectUrl": "https://x.example",
			"invitedUserMessageInfo": map[string]any{"customisedMessageBody": "hi"}}, "'customisedMessageBody' does not exist on type 'microsoft.graph.invitedUserMessageInfo'"},
		"undefined property in a collection": {map[string]any{"invitedUserEmailAddress": "a@fabrikam.com", "inviteRedirectUrl": "https://x.example",
			"invitedUserMessageInfo": map[string]any{"ccRecipients": []any{map[string]any{"address": "a@contoso.com"}}}}, "'address' does not exist on type 'microsoft.graph.recipient'"},
		"object for a string": {map[string]any{"invitedUserEmailAddress": map[string]any{"address": "a@fabrikam.com"}, "inviteRedirectUrl": "https://x.example"},
			"An unexpected 'StartObject' node was found for property named 'invitedUserEmailAddress'"},
		"string for an object": {map[string]any{"invitedUserEmailAddress": "a@fabrikam.com", "inviteRedirectUrl": "https://x.example", "invitedUser": "abc"},
			"An unexpected 'PrimitiveValue' node was found for property named 'invitedUser'"},
		"display name over 256": {map[string]any{"invitedUserEmailAddress": "a@fabrikam.com", "inviteRedirectUrl": "https://x.example", "invitedUserDisplayName": strings.Repeat("n", 257)},
			"Invalid value specified for property 'displayName' of resource 'User'."},
		"not an object": {[]byte(`["a@fabrikam.com"]`), "JSON"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			h := newHarness(t, Options{})
			wantError(t, h.graph(http.MethodPost, "/invitations", tc.body), http.StatusBadRequest, codeBadRequest, tc.wantMsg)
			if n := len(h.e.Users()); n != 0 {
				t.Errorf("a rejected invitation created %d users", n)
			}
		})
	}
}

func TestReinvitationReturnsSameUser(t *testing.T) {
	h := newHarness(t, Options{})
	first := h.invite("jane@fabrikam.com", map[string]any{"sendInvitationMessage": true})
	second := h.invite("Jane@Fabrikam.com", map[string]any{"sendInvitationMessage": true})
	if second.status != http.StatusCreated {
		t.Fatalf("status %d", second.status)
	}
	if a, b := str(first.body, "invitedUser", "id"), str(second.body, "invitedUser", "id"); a != b {
		t.Fatalf("re-invitation created a second user: %s vs %s", a, b)
	}
	if n := len(h.e.Users()); n != 1 {
		t.Errorf("%d users, want 1", n)
	}
	if n := h.e.MailsSent("jane@fabrikam.com"); n != 2 {
		t.Errorf("MailsSent = %d, want 2 (Graph mails again)", n)
	}
	if err := h.e.AcceptInvitation(str(first.body, "invitedUser", "id")); err != nil {
		t.Fatal(err)
	}
	if got := h.invite("jane@fabrikam.com", nil).body["status"]; got != "Completed" {
		t.Errorf("status after acceptance = %v, want Completed", got)
	}
}

func TestResetRedemption(t *testing.T) {
	h := newHarness(t, Options{})
	id := h.inviteID("jane@fabrikam.com")
	if err := h.e.AcceptInvitation(id); err != nil {
		t.Fatal(err)
	}
	rep := h.invite("jane@newdomain.com", map[string]any{"resetRedemption": true, "invitedUser": map[string]any{"id": id}})
	if rep.status != http.StatusCreated || str(rep.body, "invitedUser", "id") != id {
		t.Fatalf("reset: %d %s", rep.status, rep.raw)
	}
	if rep.body["resetRedemption"] != true || rep.body["status"] != "PendingAcceptance" {
		t.Errorf("reset answer: %s", rep.raw)
	}
	u, _ := h.e.User(id)
	if u.ExternalUserState != StatePendingAcceptance || u.Mail != "jane@newdomain.com" {
		t.Errorf("after reset: %+v", u)
	}
	missing := h.invite("x@fabrikam.com", map[string]any{"resetRedemption": true, "invitedUser": map[string]any{"id": "nope"}})
	wantError(t, missing, http.StatusNotFound, codeNotFound, "'nope'")
}

func TestInvitationsMethodNotAllowed(t *testing.T) {
	h := newHarness(t, Options{})
	wantError(t, h.graph(http.MethodGet, "/invitations", nil), http.StatusMethodNotAllowed, codeRequestBadRequest, "not allowed")
}

func TestInvitationHookRunsAfterTheDirectoryChanged(t *testing.T) {
	h := newHarness(t, Options{})
	var hooked []string
	h.e.SetInvitationHook(func(email, userID string) {
		// The guest exists before the caller hears Graph's answer.
		if _, ok := h.e.User(userID); !ok {
			t.Errorf("hook for %s ran before user %s existed", email, userID)
		}
		hooked = append(hooked, email)
	})
	rep := h.invite("jane@fabrikam.com", nil)
	h.invite("bad address", nil)
	h.e.SetInvitationHook(nil)
	h.invite("joe@fabrikam.com", nil)
	if rep.status != http.StatusCreated {
		t.Fatalf("status %d: %s", rep.status, rep.raw)
	}
	if len(hooked) != 1 || hooked[0] != "jane@fabrikam.com" {
		t.Errorf("hook saw %v, want only the valid invitation made while it was set", hooked)
	}
}

func TestReinvitationWithoutMailReturnsAWorkingURL(t *testing.T) {
	h := newHarness(t, Options{})
	first := h.invite("jane@fabrikam.com", map[string]any{"sendInvitationMessage": true})
	again := h.invite("jane@fabrikam.com", map[string]any{"sendInvitationMessage": false})
	if n := h.e.MailsSent("jane@fabrikam.com"); n != 1 {
		t.Errorf("MailsSent = %d, want 1: a re-invitation without a message sends no mail", n)
	}
	url := str(again.body, "inviteRedeemUrl")
	if url == "" || url == str(first.body, "inviteRedeemUrl") {
		t.Fatalf("want a fresh redemption URL, got %q", url)
	}
	id, err := h.e.Redeem(url)
	if err != nil || id != str(first.body, "invitedUser", "id") {
		t.Fatalf("Redeem = %q, %v; want the invited user", id, err)
	}
	if u, _ := h.e.User(id); u.ExternalUserState != StateAccepted {
		t.Errorf("externalUserState = %q after redeeming, want Accepted", u.ExternalUserState)
	}
	if _, err := h.e.Redeem("https://login.microsoftonline.com/redeem?rd=forged"); err == nil {
		t.Error("a URL the emulator never issued must not redeem")
	}
}

func TestInvitationSponsors(t *testing.T) {
	h := newHarness(t, Options{})
	employee := h.e.AddUser(User{Mail: "sam@contoso.com", UserType: "Member", AccountEnabled: true})
	team := h.e.AddGroup(Group{DisplayName: "Partner managers"})
	sponsors := []any{
		map[string]any{"@odata.type": "#microsoft.graph.directoryObject", "id": employee.ID},
		map[string]any{"id": team.ID},
		map[string]any{"id": employee.ID}, // a repeat is one sponsor
	}
	rep := h.invite("jane@fabrikam.com", map[string]any{"invitedUserSponsors": sponsors})
	if rep.status != http.StatusCreated {
		t.Fatalf("status %d: %s", rep.status, rep.raw)
	}
	id := str(rep.body, "invitedUser", "id")
	if got := h.e.Sponsors(id); !slices.Equal(got, []string{employee.ID, team.ID}) {
		t.Errorf("sponsors = %v, want [%s %s]", got, employee.ID, team.ID)
	}

	// A re-invitation leaves the existing guest's sponsors alone.
	if again := h.invite("jane@fabrikam.com", map[string]any{"invitedUserSponsors": []any{}}); again.status != http.StatusCreated {
		t.Fatalf("re-invitation: %d %s", again.status, again.raw)
	}
	if got := h.e.Sponsors(id); len(got) != 2 {
		t.Errorf("sponsors after a re-invitation = %v", got)
	}

	// An unknown sponsor refuses the invitation before anything changes.
	users := len(h.e.Users())
	for _, bad := range []any{map[string]any{"id": "ghost"}, map[string]any{}} {
		rep := h.invite("joe@fabrikam.com", map[string]any{"sendInvitationMessage": true, "invitedUserSponsors": []any{bad}})
		wantError(t, rep, http.StatusBadRequest, codeRequestBadRequest, "invitedUserSponsors")
	}
	if n := len(h.e.Users()); n != users {
		t.Errorf("a refused invitation created a user: %d users, want %d", n, users)
	}
	if n := h.e.MailsSent("joe@fabrikam.com"); n != 0 {
		t.Errorf("a refused invitation sent %d mails", n)
	}
}

// A disabled account cannot sign in, so its redemption URL does not redeem.
func TestRedeemDisabledAccount(t *testing.T) {
	h := newHarness(t, Options{})
	rep := h.invite("jane@fabrikam.com", nil)
	id, redeemURL := str(rep.body, "invitedUser", "id"), str(rep.body, "inviteRedeemUrl")
	if r := h.graph(http.MethodPatch, "/users/"+id, map[string]any{"accountEnabled": false}); r.status != http.StatusNoContent {
		t.Fatalf("disable: %d %s", r.status, r.raw)
	}
	if got, err := h.e.Redeem(redeemURL); !errors.Is(err, ErrAccountDisabled) || got != id {
		t.Errorf("Redeem of a disabled account = %q, %v; want %q and ErrAccountDisabled", got, err, id)
	}
	if u, _ := h.e.User(id); u.ExternalUserState != StatePendingAcceptance {
		t.Errorf("externalUserState = %q after a refused redemption, want PendingAcceptance", u.ExternalUserState)
	}
	if r := h.graph(http.MethodPatch, "/users/"+id, map[string]any{"accountEnabled": true}); r.status != http.StatusNoContent {
		t.Fatalf("enable: %d %s", r.status, r.raw)
	}
	if got, err := h.e.Redeem(redeemURL); err != nil || got != id {
		t.Errorf("Redeem after enabling = %q, %v", got, err)
	}
}
