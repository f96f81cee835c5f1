package msgraph

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
)

// tokenCredential marks every failure to get an access token, so that classify can tell "no
// token" from "no answer": both carry no HTTP status from Graph, but the first is an
// authentication failure an administrator has to fix.
type tokenCredential struct{ azcore.TokenCredential }

func (c tokenCredential) GetToken(ctx context.Context, opts policy.TokenRequestOptions) (azcore.AccessToken, error) {
	tok, err := c.TokenCredential.GetToken(ctx, opts)
	if err != nil && ctx.Err() == nil {
		return tok, &tokenError{err: err}
	}
	return tok, err
}

type tokenError struct{ err error }

func (e *tokenError) Error() string { return "get an access token: " + e.err.Error() }
func (e *tokenError) Unwrap() error { return e.err }

// summary says why there is no token in a line that stays the same from one attempt to the
// next (it becomes a condition message): the token endpoint's status, OAuth error and AADSTS
// code, without its trace and correlation IDs and timestamps; then, for a credential from
// NewCredential or NewClientSecretCredential, what it tried (tenant, client ID, authority
// host) and what to check, since a bare 401 tells an administrator nothing to fix.
func (e *tokenError) summary() string {
	var named *credentialError // nil for a credential from elsewhere
	errors.As(e.err, &named)
	var failed *azidentity.AuthenticationFailedError
	if errors.As(e.err, &failed) && failed.RawResponse != nil {
		msg := fmt.Sprintf("the token endpoint refused the credential: %d", failed.RawResponse.StatusCode)
		var body struct {
			Error       string `json:"error"`
			Description string `json:"error_description"`
			Codes       []int  `json:"error_codes"`
		}
		if raw, err := runtime.Payload(failed.RawResponse); err == nil && json.Unmarshal(raw, &body) == nil {
			if body.Error != "" {
				msg += " " + body.Error
			}
			if code, _, ok := strings.Cut(body.Description, ":"); ok && strings.HasPrefix(code, "AADSTS") {
				msg += " (" + code + ")"
			}
		}
		if named != nil {
			msg += "; tried " + named.info.String() + "; " + named.info.check()
		}
		return msg
	}
	cause := e.err
	if named != nil {
		cause = named.err
	}
	first, _, _ := strings.Cut(cause.Error(), "\n")
	if len(first) > 300 {
		first = first[:300] + "..."
	}
	if named != nil {
		// No answer from the token endpoint (unreachable, untrusted, a file unreadable): what
		// was tried still says where to look.
		return "no access token for " + named.info.String() + ": " + first
	}
	return "no access token: " + first
}
