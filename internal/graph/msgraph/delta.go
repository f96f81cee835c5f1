package msgraph

import (
	"context"
	"net/http"

	abs "github.com/microsoft/kiota-abstractions-go"
	"github.com/microsoftgraph/msgraph-sdk-go/users"

	graph "github.com/partnerops/partner-operator/internal/graph"
)

// throttlePriorityHeader marks background requests; Graph serves them last under pressure.
const throttlePriorityHeader = "x-ms-throttle-priority"

// UserChanges runs one users delta round: GET /users/delta()?$select=... when deltaLink is
// empty, the link itself otherwise; then every @odata.nextLink until a page carries the
// @odata.deltaLink to use next time. Deleted users (an "@removed" annotation) come back with
// only their ID and Removed set. The requests carry x-ms-throttle-priority: low.
func (c *Client) UserChanges(ctx context.Context, deltaLink string) ([]graph.UserChange, string, error) {
	const op = "user changes"
	headers := abs.NewRequestHeaders()
	headers.Add(throttlePriorityHeader, "low")
	// Links carry their own query ($skiptoken/$deltatoken, and Graph keeps the round's
	// $select in them): WithUrl ignores QueryParameters, so only the first request has any.
	linkCfg := &users.DeltaRequestBuilderGetRequestConfiguration{Headers: headers}

	delta := c.users().Delta()
	var (
		page users.DeltaGetResponseable
		err  error
	)
	if deltaLink == "" {
		page, err = delta.GetAsDeltaGetResponse(ctx, &users.DeltaRequestBuilderGetRequestConfiguration{
			Headers:         headers,
			QueryParameters: &users.DeltaRequestBuilderGetQueryParameters{Select: c.userSelect},
		})
	} else {
		page, err = delta.WithUrl(deltaLink).GetAsDeltaGetResponse(ctx, linkCfg)
	}

	var out []graph.UserChange
	for {
		if err != nil {
			return nil, "", classify(op, err)
		}
		if page == nil {
			return nil, "", &graph.Error{Kind: graph.KindTransient, Op: op, StatusCode: http.StatusOK, Message: "empty delta page"}
		}
		for _, u := range page.GetValue() {
			if _, removed := u.GetAdditionalData()["@removed"]; removed {
				out = append(out, graph.UserChange{User: graph.User{ID: deref(u.GetId())}, Removed: true})
				continue
			}
			out = append(out, graph.UserChange{User: c.userFromModel(u)})
		}
		if link := deref(page.GetOdataDeltaLink()); link != "" {
			return out, link, nil
		}
		next := deref(page.GetOdataNextLink())
		if next == "" {
			return nil, "", &graph.Error{Kind: graph.KindTransient, Op: op, StatusCode: http.StatusOK,
				Message: "delta page has neither @odata.nextLink nor @odata.deltaLink"}
		}
		page, err = delta.WithUrl(next).GetAsDeltaGetResponse(ctx, linkCfg)
	}
}
