package emulator

import (
	"errors"
	"fmt"
	"net/http"
	"net/mail"
	"net/url"
	"slices"
	"strings"

	"github.com/microsoftgraph/msgraph-sdk-go/models"
)

// MailsSent is how many invitation mails Graph would have sent to email (case-insensitive):
// the number of invitations for it with sendInvitationMessage true, less those automatic
// redemption redeemed at once (no invitation mail then, partners.go). The operator's
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

// createInvitation serves POST /invitations. The body is read with msgraph-sdk-go's
// invitation model, so a property Graph does not define is refused. Validation happens before
// any state change so a rejected invitation leaves the directory untouched.
func (e *Emulator) createInvitation(w http.ResponseWriter, r *http.Request, body []byte) {
	p, v, ok := readEntity(w, r, body, models.CreateInvitationFromDiscriminatorValue, codeBadRequest)
	if !ok {
		return
	}
	req := p.(models.Invitationable)
	bad := func(msg string) { writeError(w, r, http.StatusBadRequest, codeBadRequest, msg) }
	email := strings.TrimSpace(deref(req.GetInvitedUserEmailAddress()))
	redirect := deref(req.GetInviteRedirectUrl())
	displayName := req.GetInvitedUserDisplayName()
	switch {
	case email == "":
		bad("Missing required property: invitedUserEmailAddress.")
		return
	case !validEmail(email):
		bad("The specified email address is invalid: invitedUserEmailAddress.")
		return
	case !permittedUserName(email):
		bad(forbiddenAddressMessage)
		return
	case strings.TrimSpace(redirect) == "":
		bad("Missing required property: inviteRedirectUrl.")
		return
	case !validRedirect(redirect):
		bad("The specified inviteRedirectUrl is not a valid absolute URL.")
		return
	case displayName != nil && tooLong("displayName", *displayName):
		// The invited user's displayName is limited like any user's.
		bad(invalidUserValue("displayName"))
		return
	}
	userType := "Guest"
	if t := deref(req.GetInvitedUserType()); t != "" {
		norm, ok := normalizeUserType(t)
		if !ok {
			bad("Invalid value specified for property 'invitedUserType': must be Guest or Member.")
			return
		}
		userType = norm
	}
	info := req.GetInvitedUserMessageInfo()
	if info != nil && len(info.GetCcRecipients()) > 1 {
		bad("Currently only one ccRecipient is supported in invitedUserMessageInfo.")
		return
	}
	reset := deref(req.GetResetRedemption())
	resetID := ""
	if reset {
		if u := req.GetInvitedUser(); u != nil {
			resetID = deref(u.GetId())
		}
		if resetID == "" {
			bad("invitedUser.id is required when resetRedemption is true.")
			return
		}
	}
	sponsorRefs, err := invitedSponsorRefs(req, v)
	if err != nil {
		writeError(w, r, http.StatusBadRequest, codeBadRequest, err.Error())
		return
	}
	send := deref(req.GetSendInvitationMessage())

	e.mu.Lock()
	now := e.now()
	sponsors, unknown, ok := e.dir.invitedSponsors(sponsorRefs)
	if !ok {
		e.mu.Unlock()
		// Graph's exact wording is undocumented; the code and status are what callers see.
		writeError(w, r, http.StatusBadRequest, codeRequestBadRequest, fmt.Sprintf(
			"Invalid value specified for property 'invitedUserSponsors': '%s' is not a user or group in this tenant.", unknown))
		return
	}
	var u *userRec
	autoRedeemed := false // automatic redemption: redeemed at once, no invitation mail
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
		// creates one, and it starts invisible for the replication delay. With automatic
		// redemption between the tenants it starts redeemed (partners.go).
		state := StatePendingAcceptance
		if autoRedeemed = e.automaticRedemption(email); autoRedeemed {
			state = StateAccepted
		}
		u = &userRec{User: User{
			ID:                              newUUID(),
			DisplayName:                     defaultDisplayName(displayName, email),
			Mail:                            email,
			OtherMails:                      []string{email},
			UserPrincipalName:               guestUPN(email, e.opts.TenantDomain),
			UserType:                        userType,
			CreationType:                    "Invitation",
			ExternalUserState:               state,
			ExternalUserStateChangeDateTime: now,
			CreatedDateTime:                 now,
			AccountEnabled:                  true,
		}, ord: e.dir.nextOrd(), visibleAt: now.Add(e.visibilityDelay), sponsors: sponsors}
		e.dir.touch(u)
		e.dir.users[u.ID] = u
	}
	if send && !autoRedeemed {
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
		"invitedUserDisplayName":  displayName,
		"invitedUserType":         userType,
		"invitedUserEmailAddress": email,
		"sendInvitationMessage":   send,
		"resetRedemption":         reset,
		"inviteRedirectUrl":       redirect,
		"status":                  status,
		"invitedUserMessageInfo":  renderMessageInfo(info),
		"invitedUser":             map[string]any{"id": userID},
	})
}

// invitedSponsorRefs collects the sponsors an invitation names, as directoryObjects in
// invitedUserSponsors or as URLs in invitedUserSponsors@odata.bind (Graph takes either).
func invitedSponsorRefs(req models.Invitationable, v *jsonValue) ([]string, error) {
	var ids []string
	for _, s := range req.GetInvitedUserSponsors() {
		if s == nil {
			continue
		}
		ids = append(ids, deref(s.GetId()))
	}
	bind, ok := v.members["invitedUserSponsors@odata.bind"]
	if !ok {
		return ids, nil
	}
	if bind.kind != '[' {
		return nil, bodyErrorf(msgUnexpectedNode, bind.nodeKind(), "invitedUserSponsors@odata.bind", "StartArray")
	}
	for _, ref := range bind.elems {
		if ref.kind != '"' {
			return nil, bodyErrorf(msgUnexpectedNode, ref.nodeKind(), "invitedUserSponsors@odata.bind", "PrimitiveValue")
		}
		ids = append(ids, refTarget(ref.literal()))
	}
	return ids, nil
}

// invitedSponsors resolves an invitation's invitedUserSponsors to object ids, without
// duplicates. Every one must be a user or group the directory holds, replicated or not; the
// first that is not is returned with ok false. Sponsors are recorded only for a user the
// invitation creates: a re-invitation leaves an existing user's sponsors alone.
func (d *directory) invitedSponsors(refs []string) (ids []string, unknown string, ok bool) {
	for _, ref := range refs {
		id := strings.TrimSpace(ref)
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

// forbiddenInUserName is what the invitation resource's page
// (https://learn.microsoft.com/graph/api/resources/invitation, invitedUserEmailAddress) says is
// not permitted in an invited address. Graph's wording of the refusal is not documented, so
// forbiddenAddressMessage is the emulator's own, a 400 BadRequest like any invalid address.
const (
	forbiddenInUserName     = `~!#$%^&*()+=[]{}\/|;:"<>?,`
	forbiddenAddressMessage = "The specified email address holds a character that is not permitted: invitedUserEmailAddress."
)

// permittedUserName applies that page's rule to the part before the @: none of those
// characters, and a period or hyphen anywhere but at its start or end (an underscore anywhere).
func permittedUserName(address string) bool {
	name := address[:strings.LastIndexByte(address, '@')]
	if strings.ContainsAny(name, forbiddenInUserName) {
		return false
	}
	return strings.Trim(name, ".-") == name
}

func validRedirect(s string) bool {
	u, err := url.Parse(strings.TrimSpace(s))
	return err == nil && u.Scheme != "" && u.Host != ""
}

// renderMessageInfo echoes the message info the way Graph does, with nulls for unset fields.
func renderMessageInfo(mi models.InvitedUserMessageInfoable) map[string]any {
	out := map[string]any{"customizedMessageBody": nil, "messageLanguage": nil, "ccRecipients": []any{}}
	if mi == nil {
		return out
	}
	out["customizedMessageBody"] = mi.GetCustomizedMessageBody()
	out["messageLanguage"] = mi.GetMessageLanguage()
	cc := make([]any, 0, len(mi.GetCcRecipients()))
	for _, c := range mi.GetCcRecipients() {
		if c == nil {
			continue
		}
		var addr, name *string
		if ea := c.GetEmailAddress(); ea != nil {
			addr, name = ea.GetAddress(), ea.GetName()
		}
		cc = append(cc, map[string]any{"emailAddress": map[string]any{"address": addr, "name": name}})
	}
	out["ccRecipients"] = cc
	return out
}

// deref is *p, or the zero value for nil.
func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}
