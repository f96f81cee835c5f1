package msgraph

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
)

// The variables NewCredential reads: azidentity's own names, so a configuration that worked
// with azidentity's default chain keeps working.
const (
	envTenantID          = "AZURE_TENANT_ID"
	envClientID          = "AZURE_CLIENT_ID"
	envClientSecret      = "AZURE_CLIENT_SECRET"
	envCertificatePath   = "AZURE_CLIENT_CERTIFICATE_PATH"
	envFederatedToken    = "AZURE_FEDERATED_TOKEN_FILE"
	envAuthorityHost     = "AZURE_AUTHORITY_HOST"
	envAdditionalTenants = "AZURE_ADDITIONALLY_ALLOWED_TENANTS"

	// EnvTokenCredentials is azidentity's selector of a credential type. NewCredential honours
	// the values that need no developer tool: ManagedIdentityCredential (the opt-in to a
	// managed identity), EnvironmentCredential, WorkloadIdentityCredential and "prod".
	EnvTokenCredentials = "AZURE_TOKEN_CREDENTIALS"
	// ManagedIdentitySelector is the EnvTokenCredentials value that asks for a managed identity.
	ManagedIdentitySelector = "ManagedIdentityCredential"
)

// ErrNoCredential is returned, before anything is sent anywhere, when the environment holds no
// complete credential and none was asked for.
var ErrNoCredential = errors.New("no usable Azure credential is configured")

// CredentialOptions says where to get tokens. Zero values mean Azure's public cloud.
type CredentialOptions struct {
	// AuthorityHost overrides the Entra ID authority (AZURE_AUTHORITY_HOST works too), for
	// sovereign clouds or the project's Graph emulator.
	AuthorityHost string
	// AuthorityCAFile adds a PEM CA to trust for the authority (the emulator's self-signed one).
	AuthorityCAFile string
	// Transport, when set, carries the token requests (tests pass the emulator's TLS client).
	Transport *http.Client
	// ManagedIdentity asks for the host's managed identity (user-assigned when AZURE_CLIENT_ID
	// is set), as AZURE_TOKEN_CREDENTIALS=ManagedIdentityCredential does. It is never implied:
	// trying one off Azure means waiting on 169.254.169.254 for an answer that never comes.
	ManagedIdentity bool
	// ManagedIdentityFlag names the caller's flag for ManagedIdentity ("--managed-identity"),
	// for the error that lists what to configure; empty, only the variable is named.
	ManagedIdentityFlag string
}

// NewCredential chooses one credential from the AZURE_* variables, explicitly rather than
// azidentity's default chain, which tries each in turn and ends up probing the managed
// identity endpoint when nothing is configured:
//   - a managed identity, when asked for (ManagedIdentity or AZURE_TOKEN_CREDENTIALS);
//   - AZURE_CLIENT_SECRET or AZURE_CLIENT_CERTIFICATE_PATH, with AZURE_TENANT_ID and
//     AZURE_CLIENT_ID: a client secret or certificate (the default chain's first choice too);
//   - AZURE_FEDERATED_TOKEN_FILE, with AZURE_TENANT_ID and AZURE_CLIENT_ID: workload identity
//     (AKS's webhook sets the three);
//   - otherwise ErrNoCredential, naming the variables, with no network call.
//
// A token request the credential then makes that fails names the credential, tenant, client
// ID and authority host it tried (see tokenError.summary).
func NewCredential(opts CredentialOptions) (azcore.TokenCredential, error) {
	var client azcore.ClientOptions
	disableDiscovery := false
	if opts.AuthorityHost != "" {
		client.Cloud = cloud.Configuration{ActiveDirectoryAuthorityHost: opts.AuthorityHost, Services: map[cloud.ServiceName]cloud.ServiceConfiguration{}}
		// Instance discovery would call login.microsoftonline.com about a host it does not know.
		disableDiscovery = true
	}
	switch {
	case opts.Transport != nil:
		client.Transport = opts.Transport
	case opts.AuthorityCAFile != "":
		c, err := NewHTTPClientTrusting(opts.AuthorityCAFile)
		if err != nil {
			return nil, err
		}
		client.Transport = c
	}

	kind, err := chooseCredential(opts)
	if err != nil {
		return nil, err
	}
	info := credentialInfo{kind: kind, from: sourceOf[kind], tenantID: env(envTenantID), clientID: env(envClientID), authority: authorityOf(opts.AuthorityHost)}
	var cred azcore.TokenCredential
	switch kind {
	case kindManagedIdentity:
		cred, err = managedIdentity(client, &info)
	case kindClientSecret, kindCertificate:
		// EnvironmentCredential reads the same variables (the certificate's password and
		// AZURE_CLIENT_SEND_CERTIFICATE_CHAIN too) and loads the certificate, from disk only.
		cred, err = azidentity.NewEnvironmentCredential(&azidentity.EnvironmentCredentialOptions{ClientOptions: client, DisableInstanceDiscovery: disableDiscovery})
	case kindWorkloadIdentity:
		o := &azidentity.WorkloadIdentityCredentialOptions{ClientOptions: client, DisableInstanceDiscovery: disableDiscovery,
			TenantID: info.tenantID, ClientID: info.clientID, TokenFilePath: env(envFederatedToken)}
		if tenants := env(envAdditionalTenants); tenants != "" {
			o.AdditionallyAllowedTenants = strings.Split(tenants, ";")
		}
		cred, err = azidentity.NewWorkloadIdentityCredential(o)
	}
	if err != nil {
		return nil, fmt.Errorf("azure %s credential: %w", kind, err)
	}
	return namedCredential{cred, info}, nil
}

// managedIdentity is the host's managed identity, user-assigned when info names a client ID. It
// asks the host, not an authority, which info then no longer names.
func managedIdentity(client azcore.ClientOptions, info *credentialInfo) (azcore.TokenCredential, error) {
	o := &azidentity.ManagedIdentityCredentialOptions{ClientOptions: client}
	if info.clientID != "" {
		o.ID = azidentity.ClientID(info.clientID)
	}
	info.tenantID, info.authority = "", ""
	return azidentity.NewManagedIdentityCredential(o)
}

// The credentials NewCredential chooses from, as they are named in messages.
const (
	kindClientSecret     = "client secret"
	kindCertificate      = "client certificate"
	kindWorkloadIdentity = "workload identity"
	kindManagedIdentity  = "managed identity"
)

// sourceOf is the variable each kind's secret comes from.
var sourceOf = map[string]string{kindClientSecret: envClientSecret, kindCertificate: envCertificatePath, kindWorkloadIdentity: envFederatedToken}

// chooseCredential decides from the options and the environment alone: no file but the
// federated token's is looked at, nothing is sent.
func chooseCredential(opts CredentialOptions) (string, error) {
	selector := env(EnvTokenCredentials)
	if opts.ManagedIdentity || strings.EqualFold(selector, ManagedIdentitySelector) {
		return kindManagedIdentity, nil
	}
	environment := selector == "" || selector == "prod" || strings.EqualFold(selector, "EnvironmentCredential")
	workload := selector == "" || selector == "prod" || strings.EqualFold(selector, "WorkloadIdentityCredential")
	if !environment && !workload {
		return "", fmt.Errorf("%w: %s=%s is not one partner-operator uses; set ManagedIdentityCredential, EnvironmentCredential, WorkloadIdentityCredential or prod, or unset it",
			ErrNoCredential, EnvTokenCredentials, selector)
	}
	switch {
	case environment && env(envClientSecret) != "":
		return kindClientSecret, needIDs(envClientSecret, "a client secret")
	case environment && env(envCertificatePath) != "":
		return kindCertificate, needIDs(envCertificatePath, "a client certificate")
	case workload && env(envFederatedToken) != "":
		if err := needIDs(envFederatedToken, "workload identity"); err != nil {
			return "", err
		}
		if _, err := os.Stat(env(envFederatedToken)); err != nil {
			return "", fmt.Errorf("%w: %s: %w (the ServiceAccount token that AKS's workload identity webhook mounts)", ErrNoCredential, envFederatedToken, err)
		}
		return kindWorkloadIdentity, nil
	case selector == "prod":
		// azidentity's "prod" chain ends with a managed identity: asked for, then.
		return kindManagedIdentity, nil
	}
	return "", noCredential(opts.ManagedIdentityFlag)
}

// needIDs checks that a secret, certificate or token file comes with the IDs it is for.
func needIDs(have, what string) error {
	var missing []string
	for _, name := range []string{envTenantID, envClientID} {
		if env(name) == "" {
			missing = append(missing, name)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	return fmt.Errorf("%w: %s is set, but not %s: %s also needs %s and %s, the app registration's directory (tenant) ID and application (client) ID",
		ErrNoCredential, have, strings.Join(missing, " nor "), what, envTenantID, envClientID)
}

func noCredential(flag string) error {
	optIn := envTokenCredentialsMI
	if flag != "" {
		optIn = flag + " or " + optIn
	}
	hint := ""
	if env(envClientID) != "" {
		// What the default chain took for a user-assigned managed identity.
		hint = "; " + envClientID + " alone is not a credential"
	}
	return fmt.Errorf("%w, and none was looked for on the network: set %s and %s with either %s (a client secret) or %s (a PEM or PKCS#12 certificate with its key); "+
		"or, for workload identity, %s, %s and %s (AKS's workload identity webhook sets them); "+
		"or opt in to this host's managed identity with %s (%s then selects a user-assigned one)%s",
		ErrNoCredential, envTenantID, envClientID, envClientSecret, envCertificatePath,
		envTenantID, envClientID, envFederatedToken, optIn, envClientID, hint)
}

const envTokenCredentialsMI = EnvTokenCredentials + "=" + ManagedIdentitySelector

func env(name string) string { return strings.TrimSpace(os.Getenv(name)) }

// authorityOf is the authority host azidentity will use: the option, AZURE_AUTHORITY_HOST, or
// Azure's public cloud.
func authorityOf(host string) string {
	switch {
	case host != "":
		return host
	case env(envAuthorityHost) != "":
		return env(envAuthorityHost)
	default:
		return cloud.AzurePublic.ActiveDirectoryAuthorityHost
	}
}

// credentialInfo says which credential asks for tokens, and for whom, so that a refusal names
// what was tried and what to check rather than a bare status.
type credentialInfo struct {
	kind      string
	from      string // the variable the secret comes from; "" when passed in
	tenantID  string
	clientID  string
	authority string // "" for a managed identity, which asks the host
}

func (i credentialInfo) String() string {
	if i.kind == kindManagedIdentity {
		if i.clientID == "" {
			return "the system-assigned managed identity"
		}
		return "the user-assigned managed identity with client ID " + i.clientID
	}
	kind := i.kind
	if i.from != "" {
		kind += " (" + i.from + ")"
	}
	return fmt.Sprintf("%s for client ID %s in tenant %s at authority host %s", kind, i.clientID, i.tenantID, i.authority)
}

// check says what to look at when the token endpoint refuses the credential.
func (i credentialInfo) check() string {
	ids := "that the tenant and client ID are the app registration's, and that the authority host (--azure-authority-host, " + envAuthorityHost + ") is the tenant's cloud"
	switch i.kind {
	case kindClientSecret:
		return "check that the secret is a current one of the app registration (secrets expire), " + ids
	case kindCertificate:
		return "check that the certificate is one of the app registration's and has not expired, " + ids
	case kindWorkloadIdentity:
		return "check the app registration's (or identity's) federated credential: issuer the cluster's OIDC issuer URL, subject system:serviceaccount:<namespace>:<serviceaccount>, audience api://AzureADTokenExchange; and " + ids
	default:
		return "check that the identity is assigned to this VM or node pool, and that " + envClientID + " (if set) is its client ID"
	}
}

// namedCredential marks its errors with what it is, for tokenError.summary.
type namedCredential struct {
	azcore.TokenCredential
	info credentialInfo
}

func (c namedCredential) GetToken(ctx context.Context, opts policy.TokenRequestOptions) (azcore.AccessToken, error) {
	tok, err := c.TokenCredential.GetToken(ctx, opts)
	if err != nil {
		return tok, &credentialError{info: c.info, err: err}
	}
	return tok, nil
}

type credentialError struct {
	info credentialInfo
	err  error
}

func (e *credentialError) Error() string { return e.info.String() + ": " + e.err.Error() }
func (e *credentialError) Unwrap() error { return e.err }

// NewClientSecretCredential is the explicit client-secret credential, for the demo and tests
// that talk to the emulator.
func NewClientSecretCredential(tenantID, clientID, secret, authorityHost string, transport *http.Client) (azcore.TokenCredential, error) {
	o := &azidentity.ClientSecretCredentialOptions{DisableInstanceDiscovery: true}
	o.Cloud = cloud.Configuration{ActiveDirectoryAuthorityHost: authorityHost, Services: map[cloud.ServiceName]cloud.ServiceConfiguration{}}
	if transport != nil {
		o.Transport = transport
	}
	cred, err := azidentity.NewClientSecretCredential(tenantID, clientID, secret, o)
	if err != nil {
		return nil, fmt.Errorf("client secret credential: %w", err)
	}
	return namedCredential{cred, credentialInfo{kind: kindClientSecret, tenantID: tenantID, clientID: clientID, authority: authorityOf(authorityHost)}}, nil
}
