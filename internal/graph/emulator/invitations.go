package emulator

import (
	"errors"
	"fmt"
	"net/http"
	"net/mail"
	"net/url"
	"slices"
	"strings"
)

// invitationRequest is the body of POST /invitations (Graph's invitation resource).
type invitationRequest struct {
	InvitedUserEmailAddress string       `json:"invitedUserEmailAddress"`
	InviteRedirectURL       string       `json:"inviteRedirectUrl"`
	InvitedUserDisplayName  *string      `json:"invitedUserDisplayName"`
	InvitedUserType         *string      `json:"invitedUserType"`
	SendInvitationMessage   *bool        `json:"sendInvitationMessage"`
	ResetRedemption         *bool        `json:"resetRedemption"`
	InvitedUserMessageInfo  *messageInfo `json:"invitedUserMessageInfo"`
	InvitedUser             *struct {
		ID string `json:"id"`
	} `json:"invitedUser"`
	// InvitedUserSponsors are directoryObjects of which only the id counts.
	InvitedUserSponsors []struct {
		ID string `json:"id"`
	} `json:"invitedUserSponsors"`
}

type messageInfo struct {
	CustomizedMessageBody *string       `json:"customizedMessageBody"`
	MessageLanguage       *string       `json:"messageLanguage"`
	CCRecipients          []ccRecipient `json:"ccRecipients"`
}

type ccRecipient struct {
	EmailAddress struct {
		Address *string `json:"address"`
		Name    *string `json:"name"`
	} `json:"emailAddress"`
}

// MailsSent is how many invitation mails Graph would have sent to email (case-insensitive):
// the number of invitations for it with sendInvitationMessage true. The operator's
// "no duplicate mail" invariant is asserted with it.
func (e *Emulator) MailsSent(email string) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.dir.mails[strings.ToLower(email)]
}

const redeemURLPrefix = "https://login.microsoftonline.com/redeem?rd="

// ErrAccountDisabled is Redeem's error for a user whose accountEnabled is false: Entra refuses
// the sign-in (AADSTS50057), so the invitation cannot be redeemed.
var ErrAccountDisabled = errors.New("the user account is disabled (AADSTS50057)")

// Redeem plays the partner opening a redemption URL: the user it was issued for accepts the
// invitation. A URL the emulator never issued, or whose user is gone or disabled, is an error.
// Like Graph, every URL issued for a user stays valid (a re-invitation adds one).
func (e *Emulator) Redeem(redeemURL string) (userID string, err error) {
	u, err := url.Parse(redeemURL)
	if err != nil || !strings.HasPrefix(redeemURL, redeemURLPrefix) {
		return "", fmt.Errorf("not a redemption URL of this emulator: %q", redeemURL)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	id, ok := e.dir.redeemTokens[u.Query().Get("rd")]
	if !ok {
		return "", errors.New("unknown redemption token")
	}
	user := e.dir.users[id]
	switch {
	case user == nil:
		return id, fmt.Errorf("emulator: user %q does not exist", id)
	case !user.AccountEnabled:
		return id, fmt.Errorf("emulator: user %q cannot redeem: %w", id, ErrAccountDisabled)
	}
	e.dir.accept(user, e.now())
	return id, nil
}

// RedeemURLUser says which user a redemption URL was issued for, without redeeming it (and so
// whether or not that user's account could redeem it now).
func (e *Emulator) RedeemURLUser(redeemURL string) (string, bool) {
	u, err := url.Parse(redeemURL)
	if err != nil || !strings.HasPrefix(redeemURL, redeemURLPrefix) {
		return "", false
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	id, ok := e.dir.redeemTokens[u.Query().Get("rd")]
	return id, ok
}

// createInvitation serves POST /invitations. Validation happens before any state change so
// a rejected invitation leaves the directory untouched.
func (e *Emulator) createInvitation(w http.ResponseWriter, r *http.Request, body []byte) {
	var req invitationRequest
	if !decodeJSONBody(w, r, body, &req, codeBadRequest) {
		return
	}
	bad := func(msg string) { writeError(w, r, http.StatusBadRequest, codeBadRequest, msg) }
	email := strings.TrimSpace(req.InvitedUserEmailAddress)
	switch {
	case email == "":
		bad("Missing required property: invitedUserEmailAddress.")
		return
	case !validEmail(email):
		bad("The specified email address is invalid: invitedUserEmailAddress.")
		return
	case strings.TrimSpace(req.InviteRedirectURL) == "":
		bad("Missing required property: inviteRedirectUrl.")
		return
	case !validRedirect(req.InviteRedirectURL):
		bad("The specified inviteRedirectUrl is not a valid absolute URL.")
		return
	}
	userType := "Guest"
	if req.InvitedUserType != nil && *req.InvitedUserType != "" {
		t, ok := normalizeUserType(*req.InvitedUserType)
		if !ok {
			bad("Invalid value specified for property 'invitedUserType': must be Guest or Member.")
			return
		}
		userType = t
	}
	if mi := req.InvitedUserMessageInfo; mi != nil && len(mi.CCRecipients) > 1 {
		bad("Currently only one ccRecipient is supported in invitedUserMessageInfo.")
		return
	}
	reset := req.ResetRedemption != nil && *req.ResetRedemption
	resetID := ""
	if reset {
		if req.InvitedUser == nil || req.InvitedUser.ID == "" {
			bad("invitedUser.id is required when resetRedemption is true.")
			return
		}
		resetID = req.InvitedUser.ID
	}
	send := req.SendInvitationMessage != nil && *req.SendInvitationMessage

	e.mu.Lock()
	now := e.now()
	sponsors, unknown, ok := e.dir.invitedSponsors(req)
	if !ok {
		e.mu.Unlock()
		// Graph's exact wording is undocumented; the code and status are what callers see.
		writeError(w, r, http.StatusBadRequest, codeRequestBadRequest, fmt.Sprintf(
			"Invalid value specified for property 'invitedUserSponsors': '%s' is not a user or group in this tenant.", unknown))
		return
	}
	var u *userRec
	if reset {
		if u = e.dir.visibleUser(resetID, now); u == nil {
			e.mu.Unlock()
			writeNotFound(w, r, resetID)
			return
		}
		// Reset redemption lets the partner redeem again, optionally at a new address,
		// while the object id (and so its access) stays.
		u.Mail = email
		if !containsFold(u.OtherMails, email) {
			u.OtherMails = append(u.OtherMails, email)
		}
		u.ExternalUserState = StatePendingAcceptance
		u.ExternalUserStateChangeDateTime = now
		e.dir.touch(u)
	} else if u = e.dir.userByAddress(email); u == nil {
		// A re-invitation of an existing address returns the same user; only a new address
		// creates one, and it starts invisible for the replication delay.
		u = &userRec{User: User{
			ID:                              newUUID(),
			DisplayName:                     defaultDisplayName(req.InvitedUserDisplayName, email),
			Mail:                            email,
			OtherMails:                      []string{email},
			UserPrincipalName:               guestUPN(email),
			UserType:                        userType,
			CreationType:                    "Invitation",
			ExternalUserState:               StatePendingAcceptance,
			ExternalUserStateChangeDateTime: now,
			CreatedDateTime:                 now,
			AccountEnabled:                  true,
		}, ord: e.dir.nextOrd(), visibleAt: now.Add(e.visibilityDelay), sponsors: sponsors}
		e.dir.touch(u)
		e.dir.users[u.ID] = u
	}
	if send {
		e.dir.mails[strings.ToLower(email)]++
	}
	e.dir.invitations++
	status := "PendingAcceptance"
	if u.ExternalUserState == StateAccepted {
		status = "Completed"
	}
	userID := u.ID
	token := randToken(24)
	e.dir.redeemTokens[token] = userID
	e.mu.Unlock()
	if hook := e.onInvite.Load(); hook != nil {
		(*hook)(email, userID)
	}

	writeJSON(w, http.StatusCreated, map[string]any{
		"@odata.context":          baseURL(r) + "/v1.0/$metadata#invitations/$entity",
		"id":                      newUUID(),
		"inviteRedeemUrl":         redeemURLPrefix + token + "&tenant=" + url.QueryEscape(e.tenantID),
		"invitedUserDisplayName":  req.InvitedUserDisplayName,
		"invitedUserType":         userType,
		"invitedUserEmailAddress": email,
		"sendInvitationMessage":   send,
		"resetRedemption":         reset,
		"inviteRedirectUrl":       req.InviteRedirectURL,
		"status":                  status,
		"invitedUserMessageInfo":  renderMessageInfo(req.InvitedUserMessageInfo),
		"invitedUser":             map[string]any{"id": userID},
	})
}

// invitedSponsors resolves an invitation's invitedUserSponsors to object ids, without
// duplicates. Every one must be a user or group the directory holds, replicated or not; the
// first that is not is returned with ok false. Sponsors are recorded only for a user the
// invitation creates: a re-invitation leaves an existing user's sponsors alone.
func (d *directory) invitedSponsors(req invitationRequest) (ids []string, unknown string, ok bool) {
	for _, s := range req.InvitedUserSponsors {
		id := strings.TrimSpace(s.ID)
		if id == "" || (d.users[id] == nil && d.groups[id] == nil) {
			return nil, id, false
		}
		if !slices.Contains(ids, id) {
			ids = append(ids, id)
		}
	}
	return ids, "", true
}

func containsFold(list []string, s string) bool {
	for _, v := range list {
		if strings.EqualFold(v, s) {
			return true
		}
	}
	return false
}

// defaultDisplayName follows Entra: without a display name the guest is named after the
// local part of the address.
func defaultDisplayName(given *string, email string) string {
	if given != nil && strings.TrimSpace(*given) != "" {
		return *given
	}
	if at := strings.IndexByte(email, '@'); at > 0 {
		return email[:at]
	}
	return email
}

func validEmail(s string) bool {
	a, err := mail.ParseAddress(s)
	if err != nil || a.Address != s {
		return false
	}
	at := strings.LastIndexByte(s, '@')
	return at > 0 && strings.Contains(s[at+1:], ".")
}

func validRedirect(s string) bool {
	u, err := url.Parse(strings.TrimSpace(s))
	return err == nil && u.Scheme != "" && u.Host != ""
}

// renderMessageInfo echoes the message info the way Graph does, with nulls for unset fields.
func renderMessageInfo(mi *messageInfo) map[string]any {
	out := map[string]any{"customizedMessageBody": nil, "messageLanguage": nil, "ccRecipients": []any{}}
	if mi == nil {
		return out
	}
	out["customizedMessageBody"] = mi.CustomizedMessageBody
	out["messageLanguage"] = mi.MessageLanguage
	cc := make([]any, 0, len(mi.CCRecipients))
	for _, c := range mi.CCRecipients {
		cc = append(cc, map[string]any{"emailAddress": map[string]any{
			"address": c.EmailAddress.Address, "name": c.EmailAddress.Name,
		}})
	}
	out["ccRecipients"] = cc
	return out
}
