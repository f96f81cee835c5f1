package msgraph

import (
	"context"
	"fmt"
	"strings"

	"github.com/microsoftgraph/msgraph-sdk-go/groups"
	"github.com/microsoftgraph/msgraph-sdk-go/models"

	graph "github.com/partnerops/partner-operator/internal/graph"
)

// groupSelect names the group properties the operator reads.
var groupSelect = []string{"id", "displayName"}

// directoryObjectRef is the "@odata.id" a $ref write names. Graph wants its own public host
// here whatever endpoint the request itself went to.
const directoryObjectRef = DefaultEndpoint + "/v1.0/directoryObjects/"

func (c *Client) groups() *groups.GroupsRequestBuilder {
	return groups.NewGroupsRequestBuilderInternal(map[string]string{}, c.adapter)
}

// GetGroup sends GET /groups/{id}?$select=id,displayName.
func (c *Client) GetGroup(ctx context.Context, id string) (*graph.Group, error) {
	resp, err := c.groups().ByGroupId(id).Get(ctx, &groups.GroupItemRequestBuilderGetRequestConfiguration{
		QueryParameters: &groups.GroupItemRequestBuilderGetQueryParameters{Select: groupSelect},
	})
	if err != nil {
		return nil, classify("get group", err)
	}
	g := groupFromModel(resp)
	return &g, nil
}

// FindGroupsByName sends GET /groups?$filter=displayName eq '<name>'. Display names are not
// unique, so every match is returned.
func (c *Client) FindGroupsByName(ctx context.Context, name string) ([]graph.Group, error) {
	filter := fmt.Sprintf("displayName eq '%s'", odataString(name))
	resp, err := c.groups().Get(ctx, &groups.GroupsRequestBuilderGetRequestConfiguration{
		QueryParameters: &groups.GroupsRequestBuilderGetQueryParameters{Filter: &filter, Select: groupSelect},
	})
	if err != nil {
		return nil, classify("find groups", err)
	}
	var out []graph.Group
	for _, g := range resp.GetValue() {
		out = append(out, groupFromModel(g))
	}
	return out, nil
}

// AddGroupMember sends POST /groups/{id}/members/$ref. Graph answers an existing membership
// with 400 "...already exist..." (KindAlreadyExists) and a guest that has not replicated yet
// with 400 "...do not exist..." (KindTransient); classify maps both by message.
func (c *Client) AddGroupMember(ctx context.Context, groupID, userID string) error {
	ref := models.NewReferenceCreate()
	odataID := directoryObjectRef + userID
	ref.SetOdataId(&odataID)
	if err := c.groups().ByGroupId(groupID).Members().Ref().Post(ctx, ref, nil); err != nil {
		return classify("add group member", err)
	}
	return nil
}

// RemoveGroupMember sends DELETE /groups/{id}/members/{userId}/$ref (not the SDK's
// Members().Ref().Delete, which is the "$ref?@id=" form).
func (c *Client) RemoveGroupMember(ctx context.Context, groupID, userID string) error {
	if err := c.groups().ByGroupId(groupID).Members().ByDirectoryObjectId(userID).Ref().Delete(ctx, nil); err != nil {
		return classify("remove group member", err)
	}
	return nil
}

func groupFromModel(g models.Groupable) graph.Group {
	return graph.Group{ID: deref(g.GetId()), DisplayName: deref(g.GetDisplayName())}
}

// odataString escapes a value for a single-quoted OData string literal.
func odataString(s string) string { return strings.ReplaceAll(s, "'", "''") }
