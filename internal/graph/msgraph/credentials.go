package msgraph

import (
	"fmt"
	"net/http"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
)

// CredentialOptions says where to get tokens. Zero values mean Azure's public cloud.
type CredentialOptions struct {
	// AuthorityHost overrides the Entra ID authority (AZURE_AUTHORITY_HOST works too), for
	// sovereign clouds or the project's Graph emulator.
	AuthorityHost string
	// AuthorityCAFile adds a PEM CA to trust for the authority (the emulator's self-signed one).
	AuthorityCAFile string
	// Transport, when set, carries the token requests (tests pass the emulator's TLS client).
	Transport *http.Client
}

// NewCredential returns azidentity's default chain: environment (client secret or
// certificate), workload identity (AKS federated tokens), then managed identity, read from
// the usual AZURE_* variables.
func NewCredential(opts CredentialOptions) (azcore.TokenCredential, error) {
	o := &azidentity.DefaultAzureCredentialOptions{}
	if opts.AuthorityHost != "" {
		o.Cloud = cloud.Configuration{ActiveDirectoryAuthorityHost: opts.AuthorityHost, Services: map[cloud.ServiceName]cloud.ServiceConfiguration{}}
		// Instance discovery would call login.microsoftonline.com about a host it does not know.
		o.DisableInstanceDiscovery = true
	}
	switch {
	case opts.Transport != nil:
		o.Transport = opts.Transport
	case opts.AuthorityCAFile != "":
		client, err := NewHTTPClientTrusting(opts.AuthorityCAFile)
		if err != nil {
			return nil, err
		}
		o.Transport = client
	}
	cred, err := azidentity.NewDefaultAzureCredential(o)
	if err != nil {
		return nil, fmt.Errorf("azure credential: %w", err)
	}
	return cred, nil
}

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
	return cred, nil
}
