package msgraph

import (
	"context"
	"fmt"
	"net/http"

	"github.com/google/uuid"
	"github.com/microsoftgraph/msgraph-sdk-go/models"
	"github.com/microsoftgraph/msgraph-sdk-go/serviceprincipals"

	graph "github.com/partnerops/partner-operator/internal/graph"
)

// spSelect names the service principal properties the operator reads.
var spSelect = []string{"id", "appId", "displayName", "appRoles"}

func (c *Client) servicePrincipals() *serviceprincipals.ServicePrincipalsRequestBuilder {
	return serviceprincipals.NewServicePrincipalsRequestBuilderInternal(map[string]string{}, c.adapter)
}

// GetServicePrincipal sends GET /servicePrincipals/{id}?$select=id,appId,displayName,appRoles.
func (c *Client) GetServicePrincipal(ctx context.Context, id string) (*graph.ServicePrincipal, error) {
	resp, err := c.servicePrincipals().ByServicePrincipalId(id).Get(ctx,
		&serviceprincipals.ServicePrincipalItemRequestBuilderGetRequestConfiguration{
			QueryParameters: &serviceprincipals.ServicePrincipalItemRequestBuilderGetQueryParameters{Select: spSelect},
		})
	if err != nil {
		return nil, classify("get service principal", err)
	}
	sp := spFromModel(resp)
	return &sp, nil
}

// FindServicePrincipalByAppID sends GET /servicePrincipals?$filter=appId eq '<appId>'. An
// application without a service principal in the tenant is a NotFound error.
func (c *Client) FindServicePrincipalByAppID(ctx context.Context, appID string) (*graph.ServicePrincipal, error) {
	filter := fmt.Sprintf("appId eq '%s'", odataString(appID))
	resp, err := c.servicePrincipals().Get(ctx, &serviceprincipals.ServicePrincipalsRequestBuilderGetRequestConfiguration{
		QueryParameters: &serviceprincipals.ServicePrincipalsRequestBuilderGetQueryParameters{Filter: &filter, Select: spSelect},
	})
	if err != nil {
		return nil, classify("find service principal", err)
	}
	values := resp.GetValue()
	if len(values) == 0 {
		return nil, &graph.Error{
			Kind: graph.KindNotFound, Op: "find service principal", StatusCode: http.StatusNotFound,
			Code:    "Request_ResourceNotFound",
			Message: fmt.Sprintf("no service principal for application '%s' in the tenant", appID),
		}
	}
	// appId is unique per tenant: there is at most one.
	sp := spFromModel(values[0])
	return &sp, nil
}

// AssignAppRole sends POST /servicePrincipals/{resourceId}/appRoleAssignedTo and returns the
// assignment's id. A duplicate ("Permission being assigned already exists on the object") is
// KindAlreadyExists; "Not a valid reference update" for a guest not yet replicated is
// KindTransient.
func (c *Client) AssignAppRole(ctx context.Context, a graph.AppRoleAssignment) (string, error) {
	const op = "assign app role"
	principal, err := parseUUID(op, "principalId", a.PrincipalID)
	if err != nil {
		return "", err
	}
	resource, err := parseUUID(op, "resourceId", a.ResourceID)
	if err != nil {
		return "", err
	}
	role, err := parseUUID(op, "appRoleId", a.AppRoleID)
	if err != nil {
		return "", err
	}
	body := models.NewAppRoleAssignment()
	body.SetPrincipalId(&principal)
	body.SetResourceId(&resource)
	body.SetAppRoleId(&role)
	resp, err := c.servicePrincipals().ByServicePrincipalId(a.ResourceID).AppRoleAssignedTo().Post(ctx, body, nil)
	if err != nil {
		return "", classify(op, err)
	}
	id := deref(resp.GetId())
	if id == "" {
		return "", &graph.Error{Kind: graph.KindTransient, Op: op, StatusCode: http.StatusCreated, Message: "answer has no id"}
	}
	return id, nil
}

// RemoveAppRoleAssignment sends DELETE /servicePrincipals/{spID}/appRoleAssignedTo/{assignmentID}.
func (c *Client) RemoveAppRoleAssignment(ctx context.Context, servicePrincipalID, assignmentID string) error {
	err := c.servicePrincipals().ByServicePrincipalId(servicePrincipalID).AppRoleAssignedTo().
		ByAppRoleAssignmentId(assignmentID).Delete(ctx, nil)
	if err != nil {
		return classify("remove app role assignment", err)
	}
	return nil
}

// parseUUID checks an id before it is sent: the SDK model types these properties as UUIDs,
// and a malformed one can never succeed.
func parseUUID(op, name, s string) (uuid.UUID, error) {
	id, err := uuid.Parse(s)
	if err != nil {
		return uuid.UUID{}, &graph.Error{Kind: graph.KindTerminal, Op: op,
			Err: fmt.Errorf("%s %q is not a UUID: %w", name, s, err)}
	}
	return id, nil
}

func spFromModel(sp models.ServicePrincipalable) graph.ServicePrincipal {
	out := graph.ServicePrincipal{
		ID:          deref(sp.GetId()),
		AppID:       deref(sp.GetAppId()),
		DisplayName: deref(sp.GetDisplayName()),
	}
	for _, r := range sp.GetAppRoles() {
		role := graph.AppRole{Value: deref(r.GetValue())}
		if id := r.GetId(); id != nil {
			role.ID = id.String() // canonical lowercase form
		}
		out.AppRoles = append(out.AppRoles, role)
	}
	return out
}
