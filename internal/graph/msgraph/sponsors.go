package msgraph

import (
	"context"
	"strings"

	abs "github.com/microsoft/kiota-abstractions-go"
	"github.com/microsoftgraph/msgraph-sdk-go/models"
	"github.com/microsoftgraph/msgraph-sdk-go/models/odataerrors"
	"github.com/microsoftgraph/msgraph-sdk-go/users"

	graph "github.com/partnerops/partner-operator/internal/graph"
)

// sponsorSelect names the sponsor properties the operator reads; @odata.type always comes.
var sponsorSelect = []string{"id", "displayName"}

// URL templates of the sponsor $ref calls, relative to the adapter's base URL as the SDK's
// generated builders write them. The v1.0 SDK has no builder for either.
const (
	sponsorsRefTemplate = "{+baseurl}/users/{user%2Did}/sponsors/$ref"
	sponsorRefTemplate  = "{+baseurl}/users/{user%2Did}/sponsors/{directoryObject%2Did}/$ref"
)

// errorMapping turns every 4xx and 5xx answer into an *odataerrors.ODataError, as the
// generated builders do, so classify sees these calls' errors like any other.
var errorMapping = abs.ErrorMappings{"XXX": odataerrors.CreateODataErrorFromDiscriminatorValue}

// ListSponsors sends GET /users/{id}/sponsors?$select=id,displayName and follows every
// @odata.nextLink.
func (c *Client) ListSponsors(ctx context.Context, userID string) ([]graph.DirectoryObject, error) {
	const op = "list sponsors"
	sponsors := c.users().ByUserId(userID).Sponsors()
	page, err := sponsors.Get(ctx, &users.ItemSponsorsRequestBuilderGetRequestConfiguration{
		QueryParameters: &users.ItemSponsorsRequestBuilderGetQueryParameters{Select: sponsorSelect},
	})
	var out []graph.DirectoryObject
	for {
		if err != nil {
			return nil, classify(op, err)
		}
		if page == nil {
			return out, nil
		}
		for _, o := range page.GetValue() {
			out = append(out, directoryObjectFromModel(o))
		}
		next := deref(page.GetOdataNextLink())
		if next == "" {
			return out, nil
		}
		// The link carries the query (and $select) itself; WithUrl ignores QueryParameters.
		page, err = sponsors.WithUrl(next).Get(ctx, nil)
	}
}

// directoryObjectFromModel maps a sponsor. The SDK returns a models.Userable or
// models.Groupable when the entry carries that @odata.type; any other type keeps its name.
func directoryObjectFromModel(o models.DirectoryObjectable) graph.DirectoryObject {
	out := graph.DirectoryObject{ID: deref(o.GetId())}
	switch v := o.(type) {
	case models.Userable:
		out.Type, out.DisplayName = graph.ObjectTypeUser, deref(v.GetDisplayName())
	case models.Groupable:
		out.Type, out.DisplayName = graph.ObjectTypeGroup, deref(v.GetDisplayName())
	default:
		out.Type = strings.TrimPrefix(deref(o.GetOdataType()), "#microsoft.graph.")
		if name, ok := o.GetAdditionalData()["displayName"].(*string); ok {
			out.DisplayName = deref(name)
		}
	}
	return out
}

// AddSponsor sends POST /users/{id}/sponsors/$ref naming the sponsor by its directoryObjects
// URL. Graph answers an existing sponsor with 400 "...already exist..." (AlreadyExists) and a
// sponsor that does not exist with 404 (NotFound); classify maps both.
func (c *Client) AddSponsor(ctx context.Context, userID, sponsorID string) error {
	const op = "add sponsor"
	info := abs.NewRequestInformationWithMethodAndUrlTemplateAndPathParameters(abs.POST, sponsorsRefTemplate,
		map[string]string{"user%2Did": userID})
	info.Headers.TryAdd("Accept", "application/json")
	ref := models.NewReferenceCreate()
	odataID := directoryObjectRef + sponsorID
	ref.SetOdataId(&odataID)
	if err := info.SetContentFromParsable(ctx, c.adapter, "application/json", ref); err != nil {
		return classify(op, err)
	}
	return classify(op, c.adapter.SendNoContent(ctx, info, errorMapping))
}

// RemoveSponsor sends DELETE /users/{id}/sponsors/{sponsorId}/$ref; a sponsor already gone is
// a 404 (NotFound).
func (c *Client) RemoveSponsor(ctx context.Context, userID, sponsorID string) error {
	info := abs.NewRequestInformationWithMethodAndUrlTemplateAndPathParameters(abs.DELETE, sponsorRefTemplate,
		map[string]string{"user%2Did": userID, "directoryObject%2Did": sponsorID})
	info.Headers.TryAdd("Accept", "application/json")
	return classify("remove sponsor", c.adapter.SendNoContent(ctx, info, errorMapping))
}
