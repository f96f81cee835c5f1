// Package msgraphtest holds what the tests of msgraph and of its users share about credentials.
package msgraphtest

import "testing"

// CredentialVariables are every variable azidentity (and MSAL's managed identity) reads to find
// or configure a credential.
var CredentialVariables = []string{
	"AZURE_TENANT_ID", "AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET", "AZURE_CLIENT_CERTIFICATE_PATH",
	"AZURE_CLIENT_CERTIFICATE_PASSWORD", "AZURE_FEDERATED_TOKEN_FILE", "AZURE_AUTHORITY_HOST",
	"AZURE_TOKEN_CREDENTIALS", "AZURE_USERNAME", "AZURE_PASSWORD", "AZURE_ADDITIONALLY_ALLOWED_TENANTS",
	"IDENTITY_ENDPOINT", "IDENTITY_HEADER", "IDENTITY_SERVER_THUMBPRINT", "IMDS_ENDPOINT", "MSI_ENDPOINT", "MSI_SECRET",
}

// ClearCredentials empties every credential variable for the test, so that it starts from a
// machine with none, whatever the developer's shell has.
func ClearCredentials(t testing.TB) {
	t.Helper()
	for _, name := range CredentialVariables {
		t.Setenv(name, "")
	}
}
