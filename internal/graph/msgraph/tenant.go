package msgraph

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	abs "github.com/microsoft/kiota-abstractions-go"

	graph "github.com/partnerops/partner-operator/internal/graph"
	"github.com/partnerops/partner-operator/internal/tenant"
)

// TenantCredential describes one tenant object's credential: the kind (one of the names
// NewCredential uses in messages) and what that kind needs.
type TenantCredential struct {
	Kind                   string
	TenantID, ClientID     string
	AuthorityHost          string
	Secret                 string
	CertificatePEM, KeyPEM []byte
	SendCertificateChain   bool
	TokenFile              string
	// Transport carries the token requests; nil is the default (system trust).
	Transport *http.Client
}

// NewTenantCredential builds the credential a GraphTenant or ClusterGraphTenant names, from
// what the operator read for it: never from the environment, so one tenant's object cannot
// sign in with another's variables.
func NewTenantCredential(tc TenantCredential) (azcore.TokenCredential, error) {
	var client azcore.ClientOptions
	client.Cloud = cloud.Configuration{ActiveDirectoryAuthorityHost: tc.AuthorityHost, Services: map[cloud.ServiceName]cloud.ServiceConfiguration{}}
	if tc.Transport != nil {
		client.Transport = tc.Transport
	}
	// Instance discovery would ask login.microsoftonline.com about every other host.
	disableDiscovery := tc.AuthorityHost != cloud.AzurePublic.ActiveDirectoryAuthorityHost
	info := credentialInfo{kind: tc.Kind, tenantID: tc.TenantID, clientID: tc.ClientID, authority: tc.AuthorityHost}
	var cred azcore.TokenCredential
	var err error
	switch tc.Kind {
	case kindClientSecret:
		cred, err = azidentity.NewClientSecretCredential(tc.TenantID, tc.ClientID, tc.Secret,
			&azidentity.ClientSecretCredentialOptions{ClientOptions: client, DisableInstanceDiscovery: disableDiscovery})
	case kindCertificate:
		certs, key, perr := azidentity.ParseCertificates(append(append([]byte{}, tc.CertificatePEM...), append([]byte("\n"), tc.KeyPEM...)...), nil)
		if perr != nil {
			return nil, fmt.Errorf("azure %s credential: %w", tc.Kind, perr)
		}
		cred, err = azidentity.NewClientCertificateCredential(tc.TenantID, tc.ClientID, certs, key,
			&azidentity.ClientCertificateCredentialOptions{ClientOptions: client, DisableInstanceDiscovery: disableDiscovery, SendCertificateChain: tc.SendCertificateChain})
	case kindWorkloadIdentity:
		cred, err = azidentity.NewWorkloadIdentityCredential(&azidentity.WorkloadIdentityCredentialOptions{ClientOptions: client,
			DisableInstanceDiscovery: disableDiscovery, TenantID: tc.TenantID, ClientID: tc.ClientID, TokenFilePath: tc.TokenFile})
	case kindManagedIdentity:
		cred, err = managedIdentity(client, &info)
	default:
		return nil, fmt.Errorf("credential kind %q is not one of %s, %s, %s, %s", tc.Kind, kindClientSecret, kindCertificate, kindWorkloadIdentity, kindManagedIdentity)
	}
	if err != nil {
		return nil, fmt.Errorf("azure %s credential: %w", tc.Kind, err)
	}
	return namedCredential{cred, info}, nil
}

// organizationTemplate is GET /organization; the v1.0 sub-packages the client imports have no
// builder for it, and one page of one object needs none.
const organizationTemplate = "{+baseurl}/organization?%24select=id,displayName,verifiedDomains"

// VerifyTenant signs in and reads the tenant (GET /organization, Organization.Read.All): the
// cheap read a tenant object's Ready condition rests on. It reports the application permissions
// the token holds, from its roles claim.
func (c *Client) VerifyTenant(ctx context.Context) (*graph.TenantInfo, error) {
	const op = "read organization"
	tok, err := tokenCredential{c.cred}.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{c.scope}})
	if err != nil {
		return nil, classify(op, err)
	}
	info := &graph.TenantInfo{}
	claims := tokenClaims(tok.Token)
	info.TenantID, info.Roles, info.RolesKnown = claims.TenantID, claims.Roles, claims.parsed
	slices.Sort(info.Roles)

	req := abs.NewRequestInformationWithMethodAndUrlTemplateAndPathParameters(abs.GET, organizationTemplate, map[string]string{})
	req.Headers.TryAdd("Accept", "application/json")
	raw, err := c.adapter.SendPrimitive(ctx, req, "[]byte", errorMapping)
	if err != nil {
		return nil, classify(op, err)
	}
	body, _ := raw.([]byte)
	var page struct {
		Value []struct {
			ID              string `json:"id"`
			DisplayName     string `json:"displayName"`
			VerifiedDomains []struct {
				Name      string `json:"name"`
				IsDefault bool   `json:"isDefault"`
			} `json:"verifiedDomains"`
		} `json:"value"`
	}
	if err := json.Unmarshal(body, &page); err != nil || len(page.Value) == 0 {
		return nil, &graph.Error{Kind: graph.KindTransient, Op: op, Message: fmt.Sprintf("the answer holds no organization (%v)", err)}
	}
	org := page.Value[0]
	if info.TenantID == "" {
		info.TenantID = org.ID
	}
	info.DisplayName = org.DisplayName
	for _, d := range org.VerifiedDomains {
		info.VerifiedDomains = append(info.VerifiedDomains, d.Name)
		if d.IsDefault {
			info.DefaultDomain = d.Name
		}
	}
	return info, nil
}

type accessTokenClaims struct {
	TenantID string   `json:"tid"`
	Roles    []string `json:"roles"`
	parsed   bool
}

// tokenClaims reads an access token's payload without checking its signature: the token came
// from the authority over TLS a moment ago, and the operator only reports what it says. An
// opaque token tells nothing.
func tokenClaims(token string) accessTokenClaims {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return accessTokenClaims{}
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return accessTokenClaims{}
	}
	var c accessTokenClaims
	if json.Unmarshal(payload, &c) != nil {
		return accessTokenClaims{}
	}
	c.parsed = true
	return c
}

// DialTenant builds the Graph client of a tenant object from the credentials the operator read
// for it, with base's settings for everything else (retry, user agent, fence, and the
// application of the ownership record when base names one; else the tenant's own). The cloud's CA
// file, when set, is trusted for its authority and Graph both.
func DialTenant(creds *tenant.Credentials, base Config) (*Client, error) {
	var trusting *http.Client
	if ca := creds.Endpoints.CAFile; ca != "" {
		var err error
		if trusting, err = NewHTTPClientTrusting(ca); err != nil {
			return nil, err
		}
	}
	cred, err := NewTenantCredential(TenantCredential{Kind: creds.Kind, TenantID: creds.TenantID, ClientID: creds.ClientID,
		AuthorityHost: creds.Endpoints.AuthorityHost, Secret: creds.Secret, CertificatePEM: creds.CertificatePEM, KeyPEM: creds.KeyPEM,
		SendCertificateChain: creds.SendCertificateChain, TokenFile: creds.TokenFile, Transport: trusting})
	if err != nil {
		return nil, err
	}
	cfg := base
	cfg.Endpoint, cfg.Scope, cfg.Credential = creds.Endpoints.GraphEndpoint, creds.Endpoints.Scope(), cred
	if cfg.ExtensionAppID == "" {
		// The tenant's own application holds the ownership record's properties.
		cfg.ExtensionAppID = creds.ClientID
	}
	if trusting != nil {
		cfg.HTTPClient = trusting
	}
	return NewClient(cfg)
}
