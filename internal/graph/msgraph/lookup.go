package msgraph

import (
	"context"
	"fmt"
	"net/url"
	"strings"

	abs "github.com/microsoft/kiota-abstractions-go"
	"github.com/microsoftgraph/msgraph-sdk-go/users"

	graph "github.com/partnerops/partner-operator/internal/graph"
)

// MaxAdvancedQueryURL is Graph's limit on the URL of a query that uses the `in` operator with
// advanced query parameters (ConsistencyLevel: eventual and $count=true).
const MaxAdvancedQueryURL = 2048

// FindUsersByEmails looks up to graph.MaxLookupAddresses addresses up at once:
//
//	GET /users?$filter=mail in ('a','b') or otherMails/any(m:m in ('a','b'))&$count=true
//	ConsistencyLevel: eventual
//
// Graph limits an `in` clause to 15 values by default; with the advanced query parameters
// the limit is the URL's 2,048 characters instead, so addresses are sent in as many requests
// as keep each URL within it (one, unless the addresses are very long).
func (c *Client) FindUsersByEmails(ctx context.Context, emails []string) ([]graph.User, error) {
	var out []graph.User
	seen := map[string]bool{}
	for _, chunk := range LookupChunks(emails) {
		users, err := c.findUsersIn(ctx, chunk)
		if err != nil {
			return nil, err
		}
		for _, u := range users {
			if !seen[u.ID] {
				seen[u.ID] = true
				out = append(out, u)
			}
		}
	}
	return out, nil
}

func (c *Client) findUsersIn(ctx context.Context, emails []string) ([]graph.User, error) {
	const op = "find users"
	filter, count, top := LookupFilter(emails), true, maxPageSize
	headers := abs.NewRequestHeaders()
	headers.Add("ConsistencyLevel", "eventual")
	resp, err := c.users().Get(ctx, &users.UsersRequestBuilderGetRequestConfiguration{
		Headers: headers,
		QueryParameters: &users.UsersRequestBuilderGetQueryParameters{
			Filter: &filter, Select: c.userSelect, Count: &count, Top: &top,
		},
	})
	var out []graph.User
	for {
		if err != nil {
			return nil, classify(op, err)
		}
		for _, u := range resp.GetValue() {
			out = append(out, c.userFromModel(u))
		}
		next := deref(resp.GetOdataNextLink())
		if next == "" {
			return out, nil
		}
		// The link carries the query itself; WithUrl ignores QueryParameters.
		resp, err = c.users().WithUrl(next).Get(ctx, &users.UsersRequestBuilderGetRequestConfiguration{Headers: headers})
	}
}

// LookupFilter is the $filter of a batched lookup.
func LookupFilter(emails []string) string {
	lits := make([]string, len(emails))
	for i, e := range emails {
		lits[i] = "'" + odataString(e) + "'"
	}
	list := strings.Join(lits, ",")
	return fmt.Sprintf("mail in (%s) or otherMails/any(m:m in (%s))", list, list)
}

// sampleAppID stands for any application ID: all have the same length.
const sampleAppID = "00000000-0000-0000-0000-000000000000"

// LookupURLLength is the length of the URL Graph receives for a batched lookup of emails.
func LookupURLLength(emails []string) int {
	q := url.Values{}
	q.Set("$filter", LookupFilter(emails))
	// The longest select a client sends: with the ownership record's four properties.
	q.Set("$select", strings.Join(append(append([]string{}, userSelect...), newOwnershipNames(sampleAppID).all()...), ","))
	q.Set("$count", "true")
	q.Set("$top", fmt.Sprint(maxPageSize))
	// Spaces travel as %20, which url.Values writes as the shorter "+".
	encoded := strings.ReplaceAll(q.Encode(), "+", "%20")
	return len(DefaultEndpoint + "/v1.0/users?" + encoded)
}

// LookupChunks splits emails into batches of at most graph.MaxLookupAddresses whose URLs stay
// within MaxAdvancedQueryURL. An address too long to fit even alone goes in a batch of its own.
func LookupChunks(emails []string) [][]string {
	var chunks [][]string
	var cur []string
	for _, e := range emails {
		next := append(cur[:len(cur):len(cur)], e)
		if len(cur) > 0 && (len(next) > graph.MaxLookupAddresses || LookupURLLength(next) > MaxAdvancedQueryURL) {
			chunks = append(chunks, cur)
			next = []string{e}
		}
		cur = next
	}
	if len(cur) > 0 {
		chunks = append(chunks, cur)
	}
	return chunks
}
