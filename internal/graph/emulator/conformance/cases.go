package conformance

import (
	"net/http"
	"strings"
	"time"

	"github.com/microsoftgraph/msgraph-sdk-go/models"
	"github.com/microsoftgraph/msgraph-sdk-go/users"

	"github.com/partnerops/partner-operator/internal/graph/emulator"
)

// Microsoft Learn pages the cases come from (v1.0).
const (
	learn             = "https://learn.microsoft.com/en-us/graph/"
	docInvitationPost = learn + "api/invitation-post?view=graph-rest-1.0"
	docInvitation     = learn + "api/resources/invitation?view=graph-rest-1.0"
	docResetRedeem    = "https://learn.microsoft.com/en-us/entra/external-id/reset-redemption-status"
	docUser           = learn + "api/resources/user?view=graph-rest-1.0"
	docUserGet        = learn + "api/user-get?view=graph-rest-1.0"
	docUserList       = learn + "api/user-list?view=graph-rest-1.0"
	docUserUpdate     = learn + "api/user-update?view=graph-rest-1.0"
	docUserDelete     = learn + "api/user-delete?view=graph-rest-1.0"
	docUserDelta      = learn + "api/user-delta?view=graph-rest-1.0"
	docSponsorsList   = learn + "api/user-list-sponsors?view=graph-rest-1.0"
	docSponsorsPost   = learn + "api/user-post-sponsors?view=graph-rest-1.0"
	docSponsorsDelete = learn + "api/user-delete-sponsors?view=graph-rest-1.0"
	docMemberOf       = learn + "api/user-list-memberof?view=graph-rest-1.0"
	docUserAppRoles   = learn + "api/user-list-approleassignments?view=graph-rest-1.0"
	docGroupList      = learn + "api/group-list?view=graph-rest-1.0"
	docGroupGet       = learn + "api/group-get?view=graph-rest-1.0"
	docMembersPost    = learn + "api/group-post-members?view=graph-rest-1.0"
	docMembersDelete  = learn + "api/group-delete-members?view=graph-rest-1.0"
	docSPList         = learn + "api/serviceprincipal-list?view=graph-rest-1.0"
	docSPGet          = learn + "api/serviceprincipal-get?view=graph-rest-1.0"
	docAssignedToList = learn + "api/serviceprincipal-list-approleassignedto?view=graph-rest-1.0"
	docAssignedToPost = learn + "api/serviceprincipal-post-approleassignedto?view=graph-rest-1.0"
	docAssignedToDel  = learn + "api/serviceprincipal-delete-approleassignedto?view=graph-rest-1.0"
	docDeletedList    = learn + "api/directory-deleteditems-list?view=graph-rest-1.0"
	docDeletedGet     = learn + "api/directory-deleteditems-get?view=graph-rest-1.0"
	docDeletedRestore = learn + "api/directory-deleteditems-restore?view=graph-rest-1.0"
	docDeletedDelete  = learn + "api/directory-deleteditems-delete?view=graph-rest-1.0"
	docAppGet         = learn + "api/application-get?view=graph-rest-1.0"
	docExtPropList    = learn + "api/application-list-extensionproperty?view=graph-rest-1.0"
	docExtPropPost    = learn + "api/application-post-extensionproperty?view=graph-rest-1.0"
	docExtProperty    = learn + "api/resources/extensionproperty?view=graph-rest-1.0"
	docExtensions     = learn + "extensibility-overview"
	docAdvanced       = learn + "aad-advanced-queries"
	docPaging         = learn + "paging"
	docThrottling     = learn + "throttling"
	docErrors         = learn + "errors"
	docPermissions    = learn + "permissions-reference"
	docFilter         = learn + "filter-query-parameter"
	docOrgList        = learn + "api/organization-list?view=graph-rest-1.0"
	docOrgGet         = learn + "api/organization-get?view=graph-rest-1.0"

	// Entra ID pages: the claims of an access token, continuous access evaluation for
	// workload identities (a disabled service principal's tokens are refused), the
	// client-credentials grant and the AADSTS error codes.
	entra           = "https://learn.microsoft.com/en-us/entra/"
	docTokenClaims  = entra + "identity-platform/access-token-claims-reference"
	docCAEWorkload  = entra + "identity/conditional-access/concept-continuous-access-evaluation-workload"
	docClientCreds  = entra + "identity-platform/v2-oauth2-client-creds-grant-flow"
	docAADSTSErrors = entra + "identity-platform/reference-error-codes"

	// Where Graph's exact wording of a message was seen, when Microsoft does not document it.
	seenUndeclared   = "https://github.com/microsoftgraph/msgraph-sdk-python/issues/440"
	seenCount        = "https://github.com/microsoftgraph/microsoft-graph-docs-contrib/issues/2716"
	seenUnsupported  = "https://github.com/microsoftgraph/microsoft-graph-docs/issues/10324"
	seenAlreadyExist = "https://learn.microsoft.com/en-us/graph/api/group-post-members?view=graph-rest-1.0"
)

const eventual = "eventual"

// otherTenant is a tenant ID no case's emulator has.
const otherTenant = "00000000-0000-0000-0000-0000000000ff"

// defaultUserProps is what GET /users/{id} returns without $select (user-get, "Optional
// query parameters": the default set in v1.0).
var defaultUserProps = []string{"businessPhones", "displayName", "givenName", "jobTitle", "mail",
	"mobilePhone", "officeLocation", "preferredLanguage", "surname", "userPrincipalName", "id"}

// Cases is the table: at least one case for every endpoint the operator and the plugin call.
var Cases = []Case{
	// POST /invitations
	{
		Name: "invite a guest", Doc: docInvitationPost,
		Method: http.MethodPost, Path: "/invitations",
		Body: `{"invitedUserEmailAddress":"kim@contoso.com","inviteRedirectUrl":"https://myapps.microsoft.com","invitedUserDisplayName":"Kim"}`,
		Want: Want{Status: http.StatusCreated, Model: models.CreateInvitationFromDiscriminatorValue,
			Has:   []string{"id", "inviteRedeemUrl", "invitedUser", "invitedUserEmailAddress", "inviteRedirectUrl", "invitedUserType", "status", "sendInvitationMessage"},
			Equal: map[string]string{"status": "PendingAcceptance", "sendInvitationMessage": "false", "invitedUserType": "Guest"}},
	},
	{
		Name: "invite with sponsors", Doc: docInvitationPost,
		Method: http.MethodPost, Path: "/invitations",
		Body: `{"invitedUserEmailAddress":"lee@contoso.com","inviteRedirectUrl":"https://myapps.microsoft.com","invitedUserSponsors":[{"id":"{sponsor}"},{"id":"{other}"}]}`,
		Want: Want{Status: http.StatusCreated, Model: models.CreateInvitationFromDiscriminatorValue, Has: []string{"invitedUser"}},
	},
	{
		Name: "reset redemption keeps the user", Doc: docResetRedeem,
		Method: http.MethodPost, Path: "/invitations",
		Body: `{"invitedUserEmailAddress":"jane.new@fabrikam.com","inviteRedirectUrl":"https://myapps.microsoft.com","resetRedemption":true,"invitedUser":{"id":"{guest}"}}`,
		Want: Want{Status: http.StatusCreated, Model: models.CreateInvitationFromDiscriminatorValue,
			Equal: map[string]string{"resetRedemption": "true", "status": "PendingAcceptance"}},
	},
	{
		Name: "invitation without the redirect URL", Doc: docInvitationPost,
		Method: http.MethodPost, Path: "/invitations",
		Body: `{"invitedUserEmailAddress":"kim@contoso.com"}`,
		Want: Want{Status: http.StatusBadRequest, Code: "BadRequest", Message: "inviteRedirectUrl"},
	},
	{
		Name: "invitation with a property Graph does not define", Doc: docInvitation, Observed: seenUndeclared,
		Method: http.MethodPost, Path: "/invitations",
		Body: `{"invitedUserEmailAddress":"kim@contoso.com","inviteRedirectUrl":"https://myapps.microsoft.com","sendEmail":true}`,
		Want: Want{Status: http.StatusBadRequest, Code: "BadRequest",
			Message: "The property 'sendEmail' does not exist on type 'microsoft.graph.invitation'."},
	},
	{
		Name: "invitation with a key in the wrong case", Doc: docInvitation, Observed: seenUndeclared,
		Method: http.MethodPost, Path: "/invitations",
		Body: `{"invitedUserEmailAddress":"kim@contoso.com","inviteRedirectUrl":"https://myapps.microsoft.com","InvitedUserEmailAddress":"eve@contoso.com"}`,
		Want: Want{Status: http.StatusBadRequest, Code: "BadRequest",
			Message: "The property 'InvitedUserEmailAddress' does not exist on type 'microsoft.graph.invitation'."},
	},
	{
		Name: "invitation with a display name over 256 characters", Doc: docUser,
		Method: http.MethodPost, Path: "/invitations",
		Body: `{"invitedUserEmailAddress":"kim@contoso.com","inviteRedirectUrl":"https://myapps.microsoft.com","invitedUserDisplayName":"` + strings.Repeat("K", 257) + `"}`,
		Want: Want{Status: http.StatusBadRequest, Code: "BadRequest", Message: "Invalid value specified for property 'displayName' of resource 'User'."},
	},

	{
		Name: "invitation of an address with a plus sign", Doc: docInvitation,
		Method: http.MethodPost, Path: "/invitations",
		Body: `{"invitedUserEmailAddress":"kim+news@contoso.com","inviteRedirectUrl":"https://myapps.microsoft.com"}`,
		Want: Want{Status: http.StatusBadRequest, Code: "BadRequest", Message: "invitedUserEmailAddress"},
	},
	{
		Name: "invitation of a user name ending in a hyphen", Doc: docInvitation,
		Method: http.MethodPost, Path: "/invitations",
		Body: `{"invitedUserEmailAddress":"kim-@contoso.com","inviteRedirectUrl":"https://myapps.microsoft.com"}`,
		Want: Want{Status: http.StatusBadRequest, Code: "BadRequest", Message: "invitedUserEmailAddress"},
	},
	{
		Name: "invitation of a user name starting with an underscore", Doc: docInvitation,
		Method: http.MethodPost, Path: "/invitations",
		Body: `{"invitedUserEmailAddress":"_kim@contoso.com","inviteRedirectUrl":"https://myapps.microsoft.com"}`,
		Want: Want{Status: http.StatusCreated, Model: models.CreateInvitationFromDiscriminatorValue,
			Equal: map[string]string{"status": "PendingAcceptance"}},
	},

	// GET /users/{id | userPrincipalName}
	{
		Name: "get a user: the default properties", Doc: docUserGet,
		Method: http.MethodGet, Path: "/users/{guest}",
		Want: Want{Status: http.StatusOK, Model: models.CreateUserFromDiscriminatorValue, Has: defaultUserProps,
			Lacks: []string{"externalUserState", "userType", "creationType", "accountEnabled"}, Equal: map[string]string{"id": "{guest}"}},
	},
	{
		Name: "get a user: redemption state only with $select", Doc: docUser,
		Method: http.MethodGet, Path: "/users/{guest}?$select=id,externalUserState,externalUserStateChangeDateTime,creationType,accountEnabled",
		Want: Want{Status: http.StatusOK, Model: models.CreateUserFromDiscriminatorValue,
			Equal: map[string]string{"externalUserState": "Accepted", "creationType": "Invitation", "accountEnabled": "true"},
			Has:   []string{"externalUserStateChangeDateTime"}, Lacks: []string{"displayName"}},
	},
	{
		Name: "get a user: an unset property selected reads as null", Doc: docUser,
		Method: http.MethodGet, Path: "/users/{guest}?$select=id,department,companyName",
		Want: Want{Status: http.StatusOK, Model: models.CreateUserFromDiscriminatorValue,
			Has: []string{"department", "companyName"}, Equal: map[string]string{"department": "<nil>"}},
	},
	{
		Name: "get a user by user principal name", Doc: docUserGet,
		Method: http.MethodGet, Path: "/users/{guestUPN}?$select=id,userPrincipalName",
		Want: Want{Status: http.StatusOK, Model: models.CreateUserFromDiscriminatorValue, Equal: map[string]string{"id": "{guest}"}},
	},
	{
		Name: "get a user that does not exist", Doc: docErrors,
		Method: http.MethodGet, Path: "/users/{missing}",
		Want: Want{Status: http.StatusNotFound, Code: "Request_ResourceNotFound", Message: "Resource '{missing}' does not exist"},
	},

	// GET /users
	{
		Name: "find a guest by mail", Doc: docUserList,
		Method: http.MethodGet, Path: "/users?$filter=mail eq '{guestMail}'&$select=id,mail",
		Want: Want{Status: http.StatusOK, Model: models.CreateUserCollectionResponseFromDiscriminatorValue, Items: []string{"{guest}"}},
	},
	{
		Name: "find a guest by otherMails", Doc: docUserList,
		Method: http.MethodGet, Path: "/users?$filter=otherMails/any(x:x eq 'jane.p@fabrikam.com')&$select=id",
		Want: Want{Status: http.StatusOK, Model: models.CreateUserCollectionResponseFromDiscriminatorValue, Items: []string{"{guest}"}},
	},
	{
		Name: "find users by many addresses at once (in, advanced query)", Doc: docFilter,
		Method: http.MethodGet, Path: "/users?$filter=mail in ('nobody@fabrikam.com','JANE.P@fabrikam.com') or otherMails/any(m:m in ('nobody@fabrikam.com','JANE.P@fabrikam.com'))&$count=true&$select=id",
		Header: map[string]string{"ConsistencyLevel": eventual},
		Want:   Want{Status: http.StatusOK, Model: models.CreateUserCollectionResponseFromDiscriminatorValue, Items: []string{"{guest}"}},
	},
	{
		Name: "in with more than 15 values needs the advanced query parameters", Doc: docFilter,
		Method: http.MethodGet, Path: "/users?$filter=mail in ('a1@x.com','a2@x.com','a3@x.com','a4@x.com','a5@x.com','a6@x.com','a7@x.com','a8@x.com','a9@x.com','a10@x.com','a11@x.com','a12@x.com','a13@x.com','a14@x.com','a15@x.com','a16@x.com')&$select=id",
		Want: Want{Status: http.StatusBadRequest, Code: "Request_UnsupportedQuery", Message: "at most 15 values"},
	},
	{
		Name: "list guests created since a date", Doc: docUserList,
		Method: http.MethodGet, Path: "/users?$filter=userType eq 'Guest' and createdDateTime ge 2024-01-01T00:00:00Z&$select=id,createdDateTime",
		Want: Want{Status: http.StatusOK, Model: models.CreateUserCollectionResponseFromDiscriminatorValue, Items: []string{"{guest}"}, ItemHas: []string{"createdDateTime"}},
	},
	{
		Name: "page users with $top and @odata.nextLink", Doc: docPaging,
		Method: http.MethodGet, Path: "/users?$top=1&$select=id",
		Want: Want{Status: http.StatusOK, Model: models.CreateUserCollectionResponseFromDiscriminatorValue,
			Items: []string{"{sponsor}"}, Has: []string{"@odata.nextLink"}},
	},
	{
		Name: "count users with ConsistencyLevel eventual", Doc: docAdvanced,
		Method: http.MethodGet, Path: "/users?$count=true&$filter=userType eq 'Guest'&$select=id",
		Header: map[string]string{"ConsistencyLevel": eventual},
		Want: Want{Status: http.StatusOK, Model: models.CreateUserCollectionResponseFromDiscriminatorValue,
			Items: []string{"{guest}"}, Equal: map[string]string{"@odata.count": "1"}},
	},
	{
		Name: "$count without ConsistencyLevel", Doc: docAdvanced, Observed: seenCount,
		Method: http.MethodGet, Path: "/users?$count=true",
		Want: Want{Status: http.StatusBadRequest, Code: "Request_BadRequest", Message: "$count is not currently supported."},
	},
	{
		Name: "raw count of users", Doc: docUserList,
		Method: http.MethodGet, Path: "/users/$count", Header: map[string]string{"ConsistencyLevel": eventual},
		Want: Want{Status: http.StatusOK, Text: "3"},
	},
	{
		Name: "endsWith needs the advanced query parameters", Doc: docAdvanced, Observed: seenUnsupported,
		Method: http.MethodGet, Path: "/users?$filter=endswith(mail,'@fabrikam.com')",
		Want: Want{Status: http.StatusBadRequest, Code: "Request_UnsupportedQuery", Message: "Unsupported Query."},
	},

	// PATCH /users/{id}
	{
		Name: "update profile properties", Doc: docUserUpdate,
		Method: http.MethodPatch, Path: "/users/{guest}",
		Body: `{"@odata.type":"#microsoft.graph.user","companyName":"Fabrikam","department":"Audit","jobTitle":"Partner","usageLocation":"CH"}`,
		Want: Want{Status: http.StatusNoContent},
	},
	{
		Name: "disable an account", Doc: docUserUpdate,
		Method: http.MethodPatch, Path: "/users/{guest}", Body: `{"accountEnabled":false}`,
		Want: Want{Status: http.StatusNoContent},
	},
	{
		Name: "update with a property Graph does not define", Doc: docUserUpdate, Observed: seenUndeclared,
		Method: http.MethodPatch, Path: "/users/{guest}", Body: `{"companyname":"Fabrikam"}`,
		Want: Want{Status: http.StatusBadRequest, Code: "Request_BadRequest",
			Message: "The property 'companyname' does not exist on type 'microsoft.graph.user'."},
	},
	{
		Name: "update with a company name over 64 characters", Doc: docUser,
		Method: http.MethodPatch, Path: "/users/{guest}", Body: `{"companyName":"` + strings.Repeat("c", 65) + `"}`,
		Want: Want{Status: http.StatusBadRequest, Code: "Request_BadRequest",
			Message: "Invalid value specified for property 'companyName' of resource 'User'."},
	},

	// DELETE /users/{id}
	{
		Name: "delete a user", Doc: docUserDelete,
		Method: http.MethodDelete, Path: "/users/{guest}",
		Want: Want{Status: http.StatusNoContent},
	},
	{
		Name: "delete a user that does not exist", Doc: docUserDelete,
		Method: http.MethodDelete, Path: "/users/{missing}",
		Want: Want{Status: http.StatusNotFound, Code: "Request_ResourceNotFound", Message: "{missing}"},
	},

	// GET /users/delta
	{
		Name: "users delta: a full round ends in a deltaLink", Doc: docUserDelta,
		Method: http.MethodGet, Path: "/users/delta?$select=id,externalUserState",
		Want: Want{Status: http.StatusOK, Model: users.CreateDeltaGetResponseFromDiscriminatorValue,
			Has: []string{"@odata.deltaLink", "value"}, Lacks: []string{"@odata.nextLink"},
			Items: []string{"{sponsor}", "{other}", "{guest}"}},
	},

	// sponsors
	{
		Name: "list a guest's sponsors", Doc: docSponsorsList,
		Method: http.MethodGet, Path: "/users/{guest}/sponsors?$select=id,displayName",
		Want: Want{Status: http.StatusOK, Model: models.CreateDirectoryObjectCollectionResponseFromDiscriminatorValue,
			Items: []string{"{sponsor}"}, ItemType: "#microsoft.graph.user"},
	},
	{
		Name: "add a sponsor", Doc: docSponsorsPost,
		Method: http.MethodPost, Path: "/users/{guest}/sponsors/$ref",
		Body: `{"@odata.id":"https://graph.microsoft.com/v1.0/users/{other}"}`,
		Want: Want{Status: http.StatusNoContent},
	},
	{
		Name: "remove a sponsor", Doc: docSponsorsDelete,
		Method: http.MethodDelete, Path: "/users/{guest}/sponsors/{sponsor}/$ref",
		Want: Want{Status: http.StatusNoContent},
	},

	// memberOf and appRoleAssignments
	{
		Name: "list a guest's groups", Doc: docMemberOf,
		Method: http.MethodGet, Path: "/users/{guest}/memberOf?$select=id,displayName",
		Want: Want{Status: http.StatusOK, Model: models.CreateDirectoryObjectCollectionResponseFromDiscriminatorValue,
			Items: []string{"{group}"}, ItemType: "#microsoft.graph.group"},
	},
	{
		Name: "list a guest's app role assignments", Doc: docUserAppRoles,
		Method: http.MethodGet, Path: "/users/{guest}/appRoleAssignments",
		Want: Want{Status: http.StatusOK, Model: models.CreateAppRoleAssignmentCollectionResponseFromDiscriminatorValue,
			Items: []string{"{assignment}"}, ItemHas: []string{"principalId", "resourceId", "appRoleId", "principalType"}},
	},

	// groups
	{
		Name: "find a group by display name", Doc: docGroupList,
		Method: http.MethodGet, Path: "/groups?$filter=displayName eq 'Partners'",
		Want: Want{Status: http.StatusOK, Model: models.CreateGroupCollectionResponseFromDiscriminatorValue, Items: []string{"{group}"}},
	},
	{
		Name: "get a group", Doc: docGroupGet,
		Method: http.MethodGet, Path: "/groups/{group}",
		Want: Want{Status: http.StatusOK, Model: models.CreateGroupFromDiscriminatorValue, Has: []string{"displayName", "groupTypes", "securityEnabled", "mailEnabled"}},
	},
	{
		Name: "add a group member", Doc: docMembersPost,
		Method: http.MethodPost, Path: "/groups/{group}/members/$ref",
		Body: `{"@odata.id":"https://graph.microsoft.com/v1.0/directoryObjects/{other}"}`,
		Want: Want{Status: http.StatusNoContent},
	},
	{
		Name: "add a member twice", Doc: docMembersPost, Observed: seenAlreadyExist,
		Method: http.MethodPost, Path: "/groups/{group}/members/$ref",
		Body: `{"@odata.id":"https://graph.microsoft.com/v1.0/directoryObjects/{guest}"}`,
		Want: Want{Status: http.StatusBadRequest, Code: "Request_BadRequest",
			Message: "One or more added object references already exist for the following modified properties: 'members'."},
	},
	{
		Name: "remove a group member", Doc: docMembersDelete,
		Method: http.MethodDelete, Path: "/groups/{group}/members/{guest}/$ref",
		Want: Want{Status: http.StatusNoContent},
	},

	// service principals and app role assignments
	{
		Name: "find a service principal by appId", Doc: docSPList,
		Method: http.MethodGet, Path: "/servicePrincipals?$filter=appId eq '{appId}'",
		Want: Want{Status: http.StatusOK, Model: models.CreateServicePrincipalCollectionResponseFromDiscriminatorValue, Items: []string{"{sp}"}},
	},
	{
		Name: "get a service principal by appId", Doc: docSPGet,
		Method: http.MethodGet, Path: "/servicePrincipals(appId='{appId}')",
		Want: Want{Status: http.StatusOK, Model: models.CreateServicePrincipalFromDiscriminatorValue,
			Has: []string{"appRoles"}, Equal: map[string]string{"id": "{sp}", "appId": "{appId}"}},
	},
	{
		Name: "list an application's assignments", Doc: docAssignedToList,
		Method: http.MethodGet, Path: "/servicePrincipals/{sp}/appRoleAssignedTo",
		Want: Want{Status: http.StatusOK, Model: models.CreateAppRoleAssignmentCollectionResponseFromDiscriminatorValue, Items: []string{"{assignment}"}},
	},
	{
		Name: "assign an app role", Doc: docAssignedToPost,
		Method: http.MethodPost, Path: "/servicePrincipals/{sp}/appRoleAssignedTo",
		Body: `{"@odata.type":"#microsoft.graph.appRoleAssignment","principalId":"{guest}","resourceId":"{sp}","appRoleId":"{role2}"}`,
		Want: Want{Status: http.StatusCreated, Model: models.CreateAppRoleAssignmentFromDiscriminatorValue,
			Has: []string{"id", "createdDateTime"}, Equal: map[string]string{"principalId": "{guest}", "resourceId": "{sp}", "appRoleId": "{role2}", "principalType": "User"}},
	},
	{
		Name: "assign an app role twice", Doc: docAssignedToPost,
		Method: http.MethodPost, Path: "/servicePrincipals/{sp}/appRoleAssignedTo",
		Body: `{"principalId":"{guest}","resourceId":"{sp}","appRoleId":"{role}"}`,
		Want: Want{Status: http.StatusBadRequest, Code: "Request_BadRequest", Message: "Permission being assigned already exists on the object"},
	},
	{
		Name: "remove an app role assignment", Doc: docAssignedToDel,
		Method: http.MethodDelete, Path: "/servicePrincipals/{sp}/appRoleAssignedTo/{assignment}",
		Want: Want{Status: http.StatusNoContent},
	},

	// directory/deletedItems
	{
		Name: "list deleted users", Doc: docDeletedList,
		Method: http.MethodGet, Path: "/directory/deletedItems/microsoft.graph.user?$select=id,displayName,deletedDateTime",
		Want: Want{Status: http.StatusOK, Model: models.CreateUserCollectionResponseFromDiscriminatorValue,
			Items: []string{"{deleted}"}, ItemHas: []string{"deletedDateTime"}},
	},
	{
		Name: "get a deleted user", Doc: docDeletedGet,
		Method: http.MethodGet, Path: "/directory/deletedItems/{deleted}",
		Want: Want{Status: http.StatusOK, Model: models.CreateDirectoryObjectFromDiscriminatorValue,
			Has: []string{"deletedDateTime"}, Equal: map[string]string{"id": "{deleted}", "@odata.type": "#microsoft.graph.user"}},
	},
	{
		Name: "restore a deleted user", Doc: docDeletedRestore,
		Method: http.MethodPost, Path: "/directory/deletedItems/{deleted}/restore",
		Want: Want{Status: http.StatusOK, Model: models.CreateDirectoryObjectFromDiscriminatorValue, Equal: map[string]string{"id": "{deleted}"}},
	},
	{
		Name: "delete a user for good", Doc: docDeletedDelete,
		Method: http.MethodDelete, Path: "/directory/deletedItems/{deleted}",
		Want: Want{Status: http.StatusNoContent},
	},

	// applications and directory extension properties
	{
		Name: "get an application by appId", Doc: docAppGet,
		Method: http.MethodGet, Path: "/applications(appId='{appId}')",
		Want: Want{Status: http.StatusOK, Model: models.CreateApplicationFromDiscriminatorValue,
			Equal: map[string]string{"id": "{appObject}", "appId": "{appId}", "displayName": "Partner Portal"}},
	},
	{
		Name: "get an application that does not exist", Doc: docAppGet,
		Method: http.MethodGet, Path: "/applications(appId='{missing}')",
		Want: Want{Status: http.StatusNotFound, Code: "Request_ResourceNotFound", Message: "{missing}"},
	},
	{
		Name: "find an extension property by name", Doc: docExtPropList,
		Method: http.MethodGet, Path: "/applications/{appObject}/extensionProperties?$filter=name eq '{ext}'",
		Want: Want{Status: http.StatusOK, Model: models.CreateExtensionPropertyCollectionResponseFromDiscriminatorValue,
			Items:   []string{"{extId}"},
			ItemHas: []string{"name", "dataType", "targetObjects", "appDisplayName", "isMultiValued", "isSyncedFromOnPremises"}},
	},
	{
		Name: "register a directory extension property", Doc: docExtPropPost,
		Method: http.MethodPost, Path: "/applications(appId='{appId}')/extensionProperties",
		Body: `{"@odata.type":"#microsoft.graph.extensionProperty","name":"partnerObject","dataType":"String","targetObjects":["User"]}`,
		Want: Want{Status: http.StatusCreated, Model: models.CreateExtensionPropertyFromDiscriminatorValue,
			Has:   []string{"id", "targetObjects", "appDisplayName", "isSyncedFromOnPremises"},
			Equal: map[string]string{"name": "extension_{appHex}_partnerObject", "dataType": "String", "isMultiValued": "false"}},
	},
	{
		Name: "register an extension property twice", Doc: docExtPropPost,
		Method: http.MethodPost, Path: "/applications/{appObject}/extensionProperties",
		Body: `{"name":"partnerOwner","dataType":"String","targetObjects":["User"]}`,
		Want: Want{Status: http.StatusBadRequest, Code: "Request_BadRequest", Message: "already exists"},
	},
	{
		Name: "register with Application.ReadWrite.OwnedBy on an application the app does not own", Doc: docExtPropPost,
		Setup: func(e *emulator.Emulator, _ Vars) error {
			e.SetGrantedPermissions("Application.ReadWrite.OwnedBy")
			return nil
		},
		Method: http.MethodPost, Path: "/applications(appId='{appId}')/extensionProperties",
		Body: `{"name":"partnerUID","dataType":"String","targetObjects":["User"]}`,
		Want: Want{Status: http.StatusForbidden, Code: "Authorization_RequestDenied", Message: "Insufficient privileges to complete the operation."},
	},
	{
		Name: "set a directory extension value", Doc: docExtensions,
		Method: http.MethodPatch, Path: "/users/{guest}", Body: `{"@odata.type":"#microsoft.graph.user","{ext}":"ns/team-b"}`,
		Want: Want{Status: http.StatusNoContent},
	},
	{
		Name: "remove a directory extension value", Doc: docExtensions,
		Method: http.MethodPatch, Path: "/users/{guest}", Body: `{"{ext}":null}`,
		Want: Want{Status: http.StatusNoContent},
	},
	{
		Name: "set an extension property that is not registered", Doc: docExtensions,
		Method: http.MethodPatch, Path: "/users/{guest}", Body: `{"extension_{appHex}_nope":"x"}`,
		Want: Want{Status: http.StatusBadRequest, Code: "Request_BadRequest",
			Message: "Property 'extension_{appHex}_nope' does not exist as a declared property or extension property."},
	},
	{
		Name: "a String extension value over 256 characters", Doc: docExtProperty,
		Method: http.MethodPatch, Path: "/users/{guest}", Body: `{"{ext}":"` + strings.Repeat("v", 257) + `"}`,
		Want: Want{Status: http.StatusBadRequest, Code: "Request_BadRequest", Message: "{ext}"},
	},
	{
		Name: "read a directory extension value with $select", Doc: docExtensions,
		Method: http.MethodGet, Path: "/users/{guest}?$select=id,{ext}",
		Want: Want{Status: http.StatusOK, Model: models.CreateUserFromDiscriminatorValue, Equal: map[string]string{"{ext}": "ns/team-a"}},
	},
	{
		Name: "a selected extension property the user has no value of is omitted", Doc: docExtensions,
		Method: http.MethodGet, Path: "/users/{other}?$select=id,{ext}",
		Want: Want{Status: http.StatusOK, Model: models.CreateUserFromDiscriminatorValue, Lacks: []string{"{ext}"}},
	},
	{
		Name: "select an extension property that is not registered", Doc: docUserGet,
		Method: http.MethodGet, Path: "/users/{guest}?$select=id,extension_{appHex}_nope",
		Want: Want{Status: http.StatusBadRequest, Code: "BadRequest", Message: "Could not find a property named 'extension_{appHex}_nope'"},
	},
	{
		Name: "find users by a directory extension value", Doc: docExtensions,
		Method: http.MethodGet, Path: "/users?$filter={ext} eq 'ns/team-a'&$select=id,{ext}",
		Want: Want{Status: http.StatusOK, Model: models.CreateUserCollectionResponseFromDiscriminatorValue, Items: []string{"{guest}"}, ItemHas: []string{"{ext}"}},
	},
	{
		Name: "a deleted user keeps its extension values", Doc: docDeletedGet,
		Method: http.MethodGet, Path: "/directory/deletedItems/{deleted}?$select=id,{ext}",
		Want: Want{Status: http.StatusOK, Model: models.CreateDirectoryObjectFromDiscriminatorValue,
			Equal: map[string]string{"{ext}": "ns/gone", "@odata.type": "#microsoft.graph.user"}},
	},

	// the organization (the tenant itself)
	{
		Name: "list the organization", Doc: docOrgList,
		Method: http.MethodGet, Path: "/organization",
		Want: Want{Status: http.StatusOK, Model: models.CreateOrganizationCollectionResponseFromDiscriminatorValue,
			Items: []string{"{tenant}"}, ItemHas: []string{"displayName", "verifiedDomains", "tenantType", "createdDateTime"}},
	},
	{
		Name: "list the organization's verified domains with $select", Doc: docOrgList,
		Method: http.MethodGet, Path: "/organization?$select=id,verifiedDomains",
		Want: Want{Status: http.StatusOK, Model: models.CreateOrganizationCollectionResponseFromDiscriminatorValue,
			Items: []string{"{tenant}"}, ItemHas: []string{"verifiedDomains"}},
	},
	{
		Name: "get the organization by id", Doc: docOrgGet,
		Method: http.MethodGet, Path: "/organization/{tenant}",
		Want: Want{Status: http.StatusOK, Model: models.CreateOrganizationFromDiscriminatorValue,
			Has: []string{"verifiedDomains"}, Equal: map[string]string{"id": "{tenant}"}},
	},
	{
		Name: "an app without Organization.Read.All reads the organization", Doc: docOrgList,
		Setup: func(e *emulator.Emulator, _ Vars) error {
			e.SetGrantedPermissions("User.Read.All")
			return nil
		},
		Method: http.MethodGet, Path: "/organization",
		Want: Want{Status: http.StatusForbidden, Code: "Authorization_RequestDenied", Message: "Insufficient privileges to complete the operation."},
	},

	// throttling, authentication and permissions
	{
		Name: "throttled: 429 with Retry-After", Doc: docThrottling,
		Setup: func(e *emulator.Emulator, _ Vars) error {
			e.InjectFault(emulator.Fault{Method: http.MethodGet, PathPrefix: "/users/", Status: http.StatusTooManyRequests, RetryAfter: 7 * time.Second})
			return nil
		},
		Method: http.MethodGet, Path: "/users/{guest}",
		Want: Want{Status: http.StatusTooManyRequests, Code: "TooManyRequests", Header: []string{"Retry-After"}},
	},
	{
		Name: "an access token the tenant did not issue", Doc: docErrors,
		Method: http.MethodGet, Path: "/users/{guest}", Header: map[string]string{"Authorization": "Bearer not-issued-by-this-tenant"},
		Want: Want{Status: http.StatusUnauthorized, Code: "InvalidAuthenticationToken", Header: []string{"WWW-Authenticate"}},
	},
	{
		Name: "an access token issued by another tenant", Doc: docTokenClaims,
		Setup: func(_ *emulator.Emulator, v Vars) error {
			v["foreignToken"] = emulator.New(emulator.Options{TenantID: otherTenant}).IssueToken()
			return nil
		},
		Method: http.MethodGet, Path: "/users/{guest}", Header: map[string]string{"Authorization": "Bearer {foreignToken}"},
		Want: Want{Status: http.StatusUnauthorized, Code: "InvalidAuthenticationToken",
			Message: "Access token validation failure. Invalid audience.", Header: []string{"WWW-Authenticate"}},
	},
	{
		Name: "an access token of a disabled application", Doc: docCAEWorkload,
		Setup: func(e *emulator.Emulator, v Vars) error {
			v["disabledToken"] = e.IssueTokenFor("disabled-app")
			e.DisableApp("disabled-app")
			return nil
		},
		Method: http.MethodGet, Path: "/users/{guest}", Header: map[string]string{"Authorization": "Bearer {disabledToken}"},
		Want: Want{Status: http.StatusUnauthorized, Code: "InvalidAuthenticationToken", Header: []string{"WWW-Authenticate"}},
	},
	{
		Name: "an app without User.Invite.All", Doc: docPermissions,
		Setup: func(e *emulator.Emulator, _ Vars) error {
			e.SetGrantedPermissions("User.Read.All")
			return nil
		},
		Method: http.MethodPost, Path: "/invitations",
		Body: `{"invitedUserEmailAddress":"kim@contoso.com","inviteRedirectUrl":"https://myapps.microsoft.com"}`,
		Want: Want{Status: http.StatusForbidden, Code: "Authorization_RequestDenied", Message: "Insufficient privileges to complete the operation."},
	},
}
