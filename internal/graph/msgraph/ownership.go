package msgraph

import (
	"context"
	"fmt"
	"net/url"
	"strings"

	abs "github.com/microsoft/kiota-abstractions-go"
	"github.com/microsoftgraph/msgraph-sdk-go/models"

	graph "github.com/partnerops/partner-operator/internal/graph"
)

// The ownership record is four directory extension properties registered on one application
// (the operator's own, by default). Directory extensions, unlike open extensions, come back in
// $select, so the lookups and the users delta the operator already makes carry the record at no
// extra request, and they can be filtered (`$filter=extension_..._partnerOwner eq '...'`);
// writing one is an ordinary PATCH of the user. Schema extensions would need a lifecycle of
// their own and an owner app's verified domain for the same result.
const (
	extOwner  = "partnerOwner"
	extObject = "partnerObject"
	extUID    = "partnerObjectUID"
	extOrigin = "partnerOrigin"
)

// OwnershipProperties are the extension properties' short names, in registration order.
var OwnershipProperties = []string{extOwner, extObject, extUID, extOrigin}

// ExtensionName is the name Graph gives a directory extension property of the application
// appID: extension_{appId without dashes}_{name}.
func ExtensionName(appID, name string) string {
	return "extension_" + strings.ReplaceAll(strings.ToLower(appID), "-", "") + "_" + name
}

// ownershipNames are the full names of the record's properties for one application.
type ownershipNames struct {
	appID                      string
	owner, object, uid, origin string
}

func newOwnershipNames(appID string) *ownershipNames {
	if appID == "" {
		return nil
	}
	return &ownershipNames{appID: appID, owner: ExtensionName(appID, extOwner), object: ExtensionName(appID, extObject),
		uid: ExtensionName(appID, extUID), origin: ExtensionName(appID, extOrigin)}
}

func (n *ownershipNames) all() []string {
	if n == nil {
		return nil
	}
	return []string{n.owner, n.object, n.uid, n.origin}
}

// read takes the record from a user's additional data, where the SDK puts properties its
// model does not define.
func (n *ownershipNames) read(u models.Userable) graph.Ownership {
	if n == nil {
		return graph.Ownership{}
	}
	data := u.GetAdditionalData()
	str := func(key string) string {
		switch v := data[key].(type) {
		case *string:
			return deref(v)
		case string:
			return v
		}
		return ""
	}
	return graph.Ownership{Owner: str(n.owner), Object: str(n.object), UID: str(n.uid), Origin: str(n.origin)}
}

// write puts the whole record on a PATCH body; an empty field is written as null, which
// removes the value.
func (n *ownershipNames) write(body models.Userable, o graph.Ownership) {
	data := body.GetAdditionalData()
	if data == nil {
		data = map[string]any{}
	}
	for key, value := range map[string]string{n.owner: o.Owner, n.object: o.Object, n.uid: o.UID, n.origin: o.Origin} {
		if value == "" {
			data[key] = nil
			continue
		}
		v := value
		data[key] = &v
	}
	body.SetAdditionalData(data)
}

// EnsureOwnershipProperties registers the record's extension properties on the application
// unless they exist. Listing needs Application.Read.All, which the operator holds for app
// access; registering needs Application.ReadWrite.OwnedBy (the application owning itself) once.
func (c *Client) EnsureOwnershipProperties(ctx context.Context) error {
	const op = "register ownership properties"
	if c.ownership == nil {
		return fmt.Errorf("%s: no application is configured for the directory extension properties", op)
	}
	base, err := url.Parse(c.adapter.GetBaseUrl() + "/applications(appId='" + url.PathEscape(c.ownership.appID) + "')/extensionProperties")
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	list := abs.NewRequestInformation()
	list.Method = abs.GET
	list.SetUri(*base)
	list.Headers.TryAdd("Accept", "application/json")
	resp, err := c.adapter.Send(ctx, list, models.CreateExtensionPropertyCollectionResponseFromDiscriminatorValue, errorMapping)
	if err != nil {
		return classify("list extension properties", err)
	}
	have := map[string]bool{}
	if page, ok := resp.(models.ExtensionPropertyCollectionResponseable); ok {
		for _, p := range page.GetValue() {
			have[strings.ToLower(deref(p.GetName()))] = true
		}
	}
	for _, short := range OwnershipProperties {
		if have[strings.ToLower(ExtensionName(c.ownership.appID, short))] {
			continue
		}
		body := models.NewExtensionProperty()
		name, dataType := short, "String"
		body.SetName(&name)
		body.SetDataType(&dataType)
		body.SetTargetObjects([]string{"User"})
		create := abs.NewRequestInformation()
		create.Method = abs.POST
		create.SetUri(*base)
		create.Headers.TryAdd("Accept", "application/json")
		if err := create.SetContentFromParsable(ctx, c.adapter, "application/json", body); err != nil {
			return fmt.Errorf("%s: %w", op, err)
		}
		if _, err := c.adapter.Send(ctx, create, models.CreateExtensionPropertyFromDiscriminatorValue, errorMapping); err != nil {
			return classify(op, err)
		}
	}
	return nil
}

// deletedUserTemplate and restoreTemplate address one deleted user; the v1.0 sub-packages the
// client imports have no builder for /directory.
const (
	deletedUserTemplate = "{+baseurl}/directory/deletedItems/{directoryObject%2Did}/microsoft.graph.user{?%24select}"
	restoreTemplate     = "{+baseurl}/directory/deletedItems/{directoryObject%2Did}/restore"
)

// GetDeletedUser sends GET /directory/deletedItems/{id}/microsoft.graph.user?$select=..., the
// same properties GetUser reads.
func (c *Client) GetDeletedUser(ctx context.Context, id string) (*graph.User, error) {
	info := abs.NewRequestInformationWithMethodAndUrlTemplateAndPathParameters(abs.GET, deletedUserTemplate,
		map[string]string{"directoryObject%2Did": id})
	info.QueryParameters["%24select"] = strings.Join(c.userSelect, ",")
	info.Headers.TryAdd("Accept", "application/json")
	resp, err := c.adapter.Send(ctx, info, models.CreateUserFromDiscriminatorValue, errorMapping)
	if err != nil {
		return nil, classify("get deleted user", err)
	}
	u, ok := resp.(models.Userable)
	if !ok {
		return nil, &graph.Error{Kind: graph.KindTransient, Op: "get deleted user", Message: fmt.Sprintf("answer is a %T, not a user", resp)}
	}
	out := c.userFromModel(u)
	return &out, nil
}

// RestoreDeletedUser sends POST /directory/deletedItems/{id}/restore (User.DeleteRestore.All).
func (c *Client) RestoreDeletedUser(ctx context.Context, id string) error {
	info := abs.NewRequestInformationWithMethodAndUrlTemplateAndPathParameters(abs.POST, restoreTemplate,
		map[string]string{"directoryObject%2Did": id})
	info.Headers.TryAdd("Accept", "application/json")
	return classify("restore user", c.adapter.SendNoContent(ctx, info, errorMapping))
}
