// Package msgraph implements graph.Directory with msgraph-sdk-go. Only this package compiles the
// SDK, which takes minutes on a cold cache; the rest of the operator sees the interface.
package msgraph

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	abs "github.com/microsoft/kiota-abstractions-go"
	absser "github.com/microsoft/kiota-abstractions-go/serialization"
	kiotaauth "github.com/microsoft/kiota-authentication-azure-go"
	khttp "github.com/microsoft/kiota-http-go"
	jsonser "github.com/microsoft/kiota-serialization-json-go"
	textser "github.com/microsoft/kiota-serialization-text-go"
	"github.com/microsoftgraph/msgraph-sdk-go/invitations"
	"github.com/microsoftgraph/msgraph-sdk-go/models"
	"github.com/microsoftgraph/msgraph-sdk-go/users"

	graph "github.com/partnerops/partner-operator/internal/graph"
)

// DefaultEndpoint is Microsoft Graph's global endpoint, without the version segment.
const DefaultEndpoint = "https://graph.microsoft.com"

// userSelect names the properties the operator reads. externalUserState, its change time and
// accountEnabled are returned only when $select names them.
var userSelect = []string{
	"id", "userPrincipalName", "displayName", "mail", "otherMails", "userType", "creationType",
	"externalUserState", "externalUserStateChangeDateTime", "accountEnabled",
	"givenName", "surname", "companyName", "department", "jobTitle", "usageLocation", "employeeType",
}

// Config says where Graph is and how to authenticate to it.
type Config struct {
	// Endpoint is Graph's base URL without "/v1.0"; DefaultEndpoint when empty.
	Endpoint string
	// Credential obtains tokens (azidentity: workload identity, client secret, managed identity).
	Credential azcore.TokenCredential
	// HTTPClient carries the requests; its Transport is wrapped with the middleware chain.
	HTTPClient *http.Client
	// Retry bounds the SDK's in-process retries of 429/503/504.
	Retry RetryOptions
	// UserAgent is added to the SDK's User-Agent, e.g. "partner-operator (pod-name)".
	UserAgent string
	// WrapTransport, when set, wraps the transport under the middleware chain, so it sees each
	// attempt as it is sent (leader.Fence.Transport).
	WrapTransport func(http.RoundTripper) http.RoundTripper
	// ExtensionAppID is the application whose directory extension properties hold the
	// ownership record (see ownership.go); empty, records are neither read nor written.
	ExtensionAppID string
	// Scope is the token scope: the cloud's Graph endpoint's /.default; default Microsoft's
	// global Graph (the emulator's tokens are for it too).
	Scope string
}

// Client is the msgraph-sdk-go implementation of Directory.
type Client struct {
	adapter   *khttp.NetHttpRequestAdapter
	cred      azcore.TokenCredential
	scope     string
	ownership *ownershipNames
	// userSelect is what every read of a user selects: userSelect and the record's properties.
	userSelect []string
}

var _ graph.Directory = (*Client)(nil)

// NewClient builds a Graph client from only the SDK sub-packages it calls, with its own
// middleware chain: the default chain's order is random and its request compression breaks
// retried POSTs (see graph.md).
func NewClient(cfg Config) (*Client, error) {
	endpoint := strings.TrimSuffix(cfg.Endpoint, "/")
	if endpoint == "" {
		endpoint = DefaultEndpoint
	}
	u, err := url.Parse(endpoint)
	if err != nil || u.Host == "" {
		return nil, fmt.Errorf("graph endpoint %q is not a URL", cfg.Endpoint)
	}
	if cfg.Credential == nil {
		return nil, errors.New("graph client needs a credential")
	}
	// The scope is the cloud's Graph (graph.microsoft.com for the public cloud and the
	// emulator); the allowed host is the one we call, otherwise the provider silently sends no
	// Authorization header.
	scope := cfg.Scope
	if scope == "" {
		scope = DefaultEndpoint + "/.default"
	}
	auth, err := kiotaauth.NewAzureIdentityAuthenticationProviderWithScopesAndValidHosts(
		tokenCredential{cfg.Credential}, []string{scope}, []string{u.Hostname()})
	if err != nil {
		return nil, fmt.Errorf("graph authentication provider: %w", err)
	}

	httpClient := &http.Client{}
	if cfg.HTTPClient != nil {
		*httpClient = *cfg.HTTPClient
	}
	base := httpClient.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	if cfg.WrapTransport != nil {
		base = cfg.WrapTransport(base)
	}
	httpClient.Transport = khttp.NewCustomTransportWithParentTransport(base, middlewareChain(cfg.Retry, cfg.UserAgent)...)

	parsers := absser.NewParseNodeFactoryRegistry()
	parsers.ContentTypeAssociatedFactories["application/json"] = jsonser.NewJsonParseNodeFactory()
	parsers.ContentTypeAssociatedFactories["text/plain"] = textser.NewTextParseNodeFactory()
	writers := absser.NewSerializationWriterFactoryRegistry()
	writers.ContentTypeAssociatedFactories["application/json"] = jsonser.NewJsonSerializationWriterFactory()
	writers.ContentTypeAssociatedFactories["text/plain"] = textser.NewTextSerializationWriterFactory()

	adapter, err := khttp.NewNetHttpRequestAdapterWithParseNodeFactoryAndSerializationWriterFactoryAndHttpClient(auth, parsers, writers, httpClient)
	if err != nil {
		return nil, fmt.Errorf("graph request adapter: %w", err)
	}
	adapter.SetBaseUrl(endpoint + "/v1.0")
	c := &Client{adapter: adapter, cred: cfg.Credential, scope: scope, ownership: newOwnershipNames(cfg.ExtensionAppID)}
	c.userSelect = append(append([]string{}, userSelect...), c.ownership.all()...)
	return c, nil
}

func (c *Client) users() *users.UsersRequestBuilder {
	return users.NewUsersRequestBuilderInternal(map[string]string{}, c.adapter)
}

// FindUsersByEmail looks the address up in mail and otherMails: a guest's UPN is rewritten
// (name_domain#EXT#@tenant), so it cannot be used.
func (c *Client) FindUsersByEmail(ctx context.Context, email string) ([]graph.User, error) {
	lit := strings.ReplaceAll(email, "'", "''")
	filter := fmt.Sprintf("mail eq '%s' or otherMails/any(m:m eq '%s')", lit, lit)
	resp, err := c.users().Get(ctx, &users.UsersRequestBuilderGetRequestConfiguration{
		QueryParameters: &users.UsersRequestBuilderGetQueryParameters{Filter: &filter, Select: c.userSelect},
	})
	if err != nil {
		return nil, classify("find users", err)
	}
	var out []graph.User
	for _, u := range resp.GetValue() {
		out = append(out, c.userFromModel(u))
	}
	return out, nil
}

// GetUser reads one user with the redemption properties selected. id may be an object ID or a
// user principal name: the SDK percent-encodes the key, so a guest's "#EXT#" UPN reaches Graph
// intact.
func (c *Client) GetUser(ctx context.Context, id string) (*graph.User, error) {
	resp, err := c.users().ByUserId(id).Get(ctx, &users.UserItemRequestBuilderGetRequestConfiguration{
		QueryParameters: &users.UserItemRequestBuilderGetQueryParameters{Select: c.userSelect},
	})
	if err != nil {
		return nil, classify("get user", err)
	}
	u := c.userFromModel(resp)
	return &u, nil
}

// Invite sends POST /invitations.
func (c *Client) Invite(ctx context.Context, req graph.InvitationRequest) (*graph.Invitation, error) {
	body := models.NewInvitation()
	body.SetInvitedUserEmailAddress(&req.Email)
	body.SetInviteRedirectUrl(&req.RedirectURL)
	body.SetSendInvitationMessage(&req.SendInvitationMessage)
	if req.DisplayName != "" {
		body.SetInvitedUserDisplayName(&req.DisplayName)
	}
	if req.UserType != "" {
		body.SetInvitedUserType(&req.UserType)
	}
	if req.MessageBody != "" || req.MessageLanguage != "" || len(req.CCRecipients) > 0 {
		info := models.NewInvitedUserMessageInfo()
		if req.MessageBody != "" {
			info.SetCustomizedMessageBody(&req.MessageBody)
		}
		if req.MessageLanguage != "" {
			info.SetMessageLanguage(&req.MessageLanguage)
		}
		var cc []models.Recipientable
		for _, addr := range req.CCRecipients {
			ea := models.NewEmailAddress()
			ea.SetAddress(&addr)
			r := models.NewRecipient()
			r.SetEmailAddress(ea)
			cc = append(cc, r)
		}
		if len(cc) > 0 {
			info.SetCcRecipients(cc)
		}
		body.SetInvitedUserMessageInfo(info)
	}
	if len(req.Sponsors) > 0 {
		sponsors := make([]models.DirectoryObjectable, len(req.Sponsors))
		for i, id := range req.Sponsors {
			o := models.NewDirectoryObject()
			o.SetId(&id)
			sponsors[i] = o
		}
		body.SetInvitedUserSponsors(sponsors)
	}
	if req.ResetRedemptionForUserID != "" {
		reset := true
		body.SetResetRedemption(&reset)
		u := models.NewUser()
		u.SetId(&req.ResetRedemptionForUserID)
		body.SetInvitedUser(u)
	}
	resp, err := invitations.NewInvitationsRequestBuilderInternal(map[string]string{}, c.adapter).Post(ctx, body, nil)
	if err != nil {
		return nil, classify("invite", err)
	}
	inv := &graph.Invitation{ID: deref(resp.GetId()), Status: deref(resp.GetStatus()), RedeemURL: deref(resp.GetInviteRedeemUrl())}
	if u := resp.GetInvitedUser(); u != nil {
		inv.UserID = deref(u.GetId())
	}
	if inv.UserID == "" {
		return nil, &graph.Error{Kind: graph.KindTransient, Op: "invite", StatusCode: http.StatusCreated, Message: "answer has no invitedUser.id"}
	}
	return inv, nil
}

// UpdateUser sends PATCH /users/{id} with the changed properties only. A PATCH of
// accountEnabled alone needs a permission of its own (User.EnableDisableAccount.All), so its
// errors carry the op "enable or disable user" and a 403 names that permission.
func (c *Client) UpdateUser(ctx context.Context, id string, update graph.UserUpdate) error {
	body := models.NewUser()
	others := false // whether anything but accountEnabled is set
	if update.DisplayName != nil {
		body.SetDisplayName(update.DisplayName)
		others = true
	}
	if update.UserType != nil {
		body.SetUserType(update.UserType)
		others = true
	}
	for prop, value := range update.Profile {
		if set, ok := profileSetters(body)[prop]; ok {
			set(&value)
			others = true
		}
	}
	if update.Ownership != nil {
		if c.ownership == nil {
			return &graph.Error{Kind: graph.KindTerminal, Op: "record ownership", Message: "no application is configured for the ownership record's extension properties"}
		}
		c.ownership.write(body, *update.Ownership)
		others = true
	}
	op := "update user"
	if update.Ownership != nil && update.DisplayName == nil && update.UserType == nil && len(update.Profile) == 0 {
		op = "record ownership"
	}
	if update.AccountEnabled != nil {
		body.SetAccountEnabled(update.AccountEnabled)
		if !others {
			op = "enable or disable user"
		}
	}
	if _, err := c.users().ByUserId(id).Patch(ctx, body, nil); err != nil {
		return classify(op, err)
	}
	return nil
}

// DeleteUser sends DELETE /users/{id}. Graph keeps the user restorable for 30 days.
func (c *Client) DeleteUser(ctx context.Context, id string) error {
	if err := c.users().ByUserId(id).Delete(ctx, nil); err != nil {
		return classify("delete user", err)
	}
	return nil
}

// userFromModel maps a user, with the ownership record when the client reads one.
func (c *Client) userFromModel(u models.Userable) graph.User {
	out := userFromModel(u)
	out.Ownership = c.ownership.read(u)
	return out
}

func userFromModel(u models.Userable) graph.User {
	out := graph.User{
		ID:                deref(u.GetId()),
		UserPrincipalName: deref(u.GetUserPrincipalName()),
		DisplayName:       deref(u.GetDisplayName()),
		Mail:              deref(u.GetMail()),
		OtherMails:        u.GetOtherMails(),
		UserType:          deref(u.GetUserType()),
		CreationType:      deref(u.GetCreationType()),
		ExternalUserState: deref(u.GetExternalUserState()),
	}
	if t := u.GetExternalUserStateChangeDateTime(); t != nil {
		out.ExternalUserStateChangedAt = *t
	}
	if t := u.GetCreatedDateTime(); t != nil {
		out.CreatedAt = *t
	}
	if enabled := u.GetAccountEnabled(); enabled != nil {
		v := *enabled // a copy: the model is not ours to alias
		out.AccountEnabled = &v
	}
	for prop, value := range map[string]*string{
		"givenName": u.GetGivenName(), "surname": u.GetSurname(), "companyName": u.GetCompanyName(),
		"department": u.GetDepartment(), "jobTitle": u.GetJobTitle(), "usageLocation": u.GetUsageLocation(),
		"employeeType": u.GetEmployeeType(),
	} {
		if value != nil {
			if out.Profile == nil {
				out.Profile = graph.Profile{}
			}
			out.Profile[prop] = *value
		}
	}
	return out
}

// profileSetters maps graph.ProfileProperties to the model's setters.
func profileSetters(u models.Userable) map[string]func(*string) {
	return map[string]func(*string){
		"givenName": u.SetGivenName, "surname": u.SetSurname, "companyName": u.SetCompanyName,
		"department": u.SetDepartment, "jobTitle": u.SetJobTitle, "usageLocation": u.SetUsageLocation,
		"employeeType": u.SetEmployeeType,
	}
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

// compile-time check that the abstractions version matches what the adapter expects.
var _ abs.RequestAdapter = (*khttp.NetHttpRequestAdapter)(nil)
