package emulator

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
)

// codeAuthorizationDenied is Graph's code for a token that lacks the permission a call needs.
const codeAuthorizationDenied = "Authorization_RequestDenied"

// insufficientPrivileges is Graph's message for that 403.
const insufficientPrivileges = "Insufficient privileges to complete the operation."

// Application permissions, as Microsoft's permission reference spells them. Each set lists
// the least-privileged permission first, then the higher ones Microsoft documents as enough.
var (
	permsInvite        = []string{"User.Invite.All", "User.ReadWrite.All", "Directory.ReadWrite.All"}
	permsUserRead      = []string{"User.Read.All", "User.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All"}
	permsUserWrite     = []string{"User.ReadWrite.All", "Directory.ReadWrite.All"}
	permsEnableDisable = []string{"User.EnableDisableAccount.All", "User.ReadWrite.All", "Directory.ReadWrite.All"}
	permsUserDelete    = []string{"User.DeleteRestore.All", "User.ReadWrite.All"} // Directory.ReadWrite.All cannot delete users
	permsSponsorRead   = []string{"User.Read.All", "User.ReadWrite.All"}
	permsGroupRead     = []string{"GroupMember.Read.All", "Group.Read.All", "Group.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All"}
	permsGroupMember   = []string{"GroupMember.ReadWrite.All", "Group.ReadWrite.All", "Directory.ReadWrite.All"}
	permsAppRead       = []string{"Application.Read.All", "Application.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All"}
	permsAppRoleAssign = []string{"AppRoleAssignment.ReadWrite.All"}
	// Applications and their extension properties (application-get,
	// application-list-extensionproperty).
	permsApplicationRead = []string{"Application.Read.All", "Application.ReadWrite.OwnedBy", "Application.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All"}
	// Registering an extension property (application-post-extensionproperty). The
	// least-privileged permission, Application.ReadWrite.OwnedBy, is enough only for an
	// application the caller owns (ownedRules); these are enough for any.
	permsExtensionWrite = []string{"Application.ReadWrite.All", "Directory.ReadWrite.All"}
	// Another user's memberOf and appRoleAssignments: Microsoft documents Directory.Read.All
	// as the least-privileged application permission for both.
	permsMemberOfRead       = []string{"Directory.Read.All", "Directory.ReadWrite.All"}
	permsUserAssignmentRead = []string{"Directory.Read.All", "AppRoleAssignment.ReadWrite.All", "Directory.ReadWrite.All"}
	// The tenant's organization object (organization-list, organization-get).
	permsOrgRead = []string{"Organization.Read.All", "Directory.Read.All", "Organization.ReadWrite.All", "Directory.ReadWrite.All"}
	// Another tenant's basic information (tenantrelationship-findtenantinformationbydomainname,
	// -bytenantid): Microsoft documents no higher-privileged permission.
	permsTenantInfo = []string{"CrossTenantInformation.ReadBasic.All"}
	// Partner-specific cross-tenant access settings: reads (crosstenantaccesspolicy-list-partners,
	// crosstenantaccesspolicyconfigurationpartner-get) and writes (crosstenantaccesspolicy-post-partners,
	// crosstenantaccesspolicyconfigurationpartner-update, -delete).
	permsPolicyRead        = []string{"Policy.Read.All", "Policy.ReadWrite.CrossTenantAccess"}
	permsCrossTenantAccess = []string{"Policy.ReadWrite.CrossTenantAccess"}
	// Users' signInActivity, needed on top of the route's own permission when a users read
	// selects or filters on it (user-list, example "Get users including their last sign-in
	// time"). The table below keys on the route and body, not the query, so signins.go
	// checks it.
	permsSignInActivity = []string{"AuditLog.Read.All"}
)

// permissionRule says which permissions (any one of them) a Graph route needs. path is the
// route's segments after /v1.0 with "{id}" for a key; literal segments match
// case-insensitively, as Graph's do. when, if set, narrows the rule to some bodies.
type permissionRule struct {
	method string
	path   string
	when   func(body []byte) bool
	perms  []string
}

// permissionRules is the emulator's one table of required permissions; the first matching
// rule decides. Routes it does not list need none (they answer 404 or 405 anyway).
//
// Microsoft documents accountEnabled as needing User.EnableDisableAccount.All together with
// User.Read.All; the emulator checks only the first, the one that tells this PATCH apart.
var permissionRules = []permissionRule{
	{http.MethodPost, "invitations", nil, permsInvite},

	{http.MethodGet, "users", nil, permsUserRead},
	{http.MethodGet, "users/{id}", nil, permsUserRead}, // users/delta() too
	{http.MethodPatch, "users/{id}", onlyAccountEnabled, permsEnableDisable},
	{http.MethodPatch, "users/{id}", nil, permsUserWrite},
	{http.MethodDelete, "users/{id}", nil, permsUserDelete},
	{http.MethodGet, "users/{id}/sponsors", nil, permsSponsorRead},
	{http.MethodPost, "users/{id}/sponsors/$ref", nil, permsUserWrite},
	{http.MethodDelete, "users/{id}/sponsors/{id}/$ref", nil, permsUserWrite},
	{http.MethodGet, "users/{id}/memberOf", nil, permsMemberOfRead},
	{http.MethodGet, "users/{id}/appRoleAssignments", nil, permsUserAssignmentRead},

	{http.MethodGet, "directory/deletedItems/{id}", nil, permsUserRead},
	{http.MethodGet, "directory/deletedItems/{id}/microsoft.graph.user", nil, permsUserRead},
	{http.MethodDelete, "directory/deletedItems/{id}", nil, permsUserDelete},
	{http.MethodPost, "directory/deletedItems/{id}/restore", nil, permsUserDelete},

	{http.MethodGet, "groups", nil, permsGroupRead},
	{http.MethodGet, "groups/{id}", nil, permsGroupRead},
	{http.MethodPost, "groups/{id}/members/$ref", nil, permsGroupMember},
	{http.MethodDelete, "groups/{id}/members/{id}/$ref", nil, permsGroupMember},

	{http.MethodGet, "servicePrincipals", nil, permsAppRead},
	{http.MethodGet, "servicePrincipals/{id}", nil, permsAppRead},
	{http.MethodGet, "servicePrincipals/{id}/appRoleAssignedTo", nil, permsAppRead},
	{http.MethodPost, "servicePrincipals/{id}/appRoleAssignedTo", nil, permsAppRoleAssign},
	{http.MethodDelete, "servicePrincipals/{id}/appRoleAssignedTo/{id}", nil, permsAppRoleAssign},

	{http.MethodGet, "applications", nil, permsApplicationRead},
	{http.MethodGet, "applications/{id}", nil, permsApplicationRead},
	{http.MethodGet, "applications/{id}/extensionProperties", nil, permsApplicationRead},
	{http.MethodGet, "applications/{id}/extensionProperties/{id}", nil, permsApplicationRead},
	{http.MethodPost, "applications/{id}/extensionProperties", nil, permsExtensionWrite},

	{http.MethodGet, "organization", nil, permsOrgRead},
	{http.MethodGet, "organization/{id}", nil, permsOrgRead},

	// Both findTenantInformationBy... functions: the function segment takes the {id} place.
	{http.MethodGet, "tenantRelationships/{id}", nil, permsTenantInfo},
	{http.MethodGet, "policies/crossTenantAccessPolicy/partners", nil, permsPolicyRead},
	{http.MethodPost, "policies/crossTenantAccessPolicy/partners", nil, permsCrossTenantAccess},
	{http.MethodGet, "policies/crossTenantAccessPolicy/partners/{id}", nil, permsPolicyRead},
	{http.MethodPatch, "policies/crossTenantAccessPolicy/partners/{id}", nil, permsCrossTenantAccess},
	{http.MethodDelete, "policies/crossTenantAccessPolicy/partners/{id}", nil, permsCrossTenantAccess},
}

// knownPermissions is every permission name the table above uses, sorted: the roles of a
// token issued while the emulator grants everything.
var knownPermissions = func() []string {
	var out []string
	for _, rule := range permissionRules {
		for _, p := range rule.perms {
			if !slices.Contains(out, p) {
				out = append(out, p)
			}
		}
	}
	for _, p := range append([]string{permOwnedBy}, permsSignInActivity...) {
		if !slices.Contains(out, p) {
			out = append(out, p)
		}
	}
	slices.Sort(out)
	return out
}()

// grantSet is the permissions an app holds: lower-cased for matching, as given for the roles
// claim of the tokens issued while it holds them.
type grantSet struct {
	set   map[string]bool
	names []string // sorted, duplicates dropped
}

// permOwnedBy is the permission that lets an app change only the applications it owns. The
// emulator has no owners: an application owns itself, so the permission covers the
// application whose appId is the calling app's client id.
const permOwnedBy = "Application.ReadWrite.OwnedBy"

// ownedRules are the routes under applications/{id} where permOwnedBy is enough when the
// application is the caller's own.
var ownedRules = []struct{ method, path string }{
	{http.MethodPost, "applications/{id}/extensionProperties"},
}

// onlyAccountEnabled reports whether a PATCH body sets accountEnabled and nothing else
// (annotations such as the SDK's "@odata.type" aside). A body that is not a JSON object is
// judged as a general update; its 400 comes later, from the resource.
func onlyAccountEnabled(body []byte) bool {
	var patch map[string]json.RawMessage
	if err := json.Unmarshal(body, &patch); err != nil {
		return false
	}
	found := false
	for k := range patch {
		switch {
		case strings.HasPrefix(k, "@odata."):
		case k == "accountEnabled":
			found = true
		default:
			return false
		}
	}
	return found
}

// requiredPermissions returns the permissions of which a request needs one, or nil when the
// route needs none.
func requiredPermissions(method, path string, body []byte) []string {
	segs := routeSegments(path)
	for _, rule := range permissionRules {
		if rule.method == method && matchRoute(rule.path, segs) && (rule.when == nil || rule.when(body)) {
			return rule.perms
		}
	}
	return nil
}

// routeSegments splits a path after /v1.0 and turns the alternate key form
// servicePrincipals(appId='x') into servicePrincipals/{key}.
func routeSegments(path string) []string {
	segs := strings.Split(strings.Trim(path, "/"), "/")
	if i := strings.IndexByte(segs[0], '('); i > 0 {
		segs = append([]string{segs[0][:i], segs[0][i:]}, segs[1:]...)
	}
	return segs
}

func matchRoute(pattern string, segs []string) bool {
	want := strings.Split(pattern, "/")
	if len(want) != len(segs) {
		return false
	}
	for i, w := range want {
		if w == "{id}" {
			if segs[i] == "" {
				return false
			}
			continue
		}
		if !strings.EqualFold(w, segs[i]) {
			return false
		}
	}
	return true
}

// SetGrantedPermissions sets the application permissions the calling app holds; with none,
// every call is allowed (the default). A call whose route needs a permission the set lacks is
// answered 403 Authorization_RequestDenied, as Graph answers an app without consent.
func (e *Emulator) SetGrantedPermissions(perms ...string) {
	if len(perms) == 0 {
		e.granted.Store(nil)
		return
	}
	g := &grantSet{set: make(map[string]bool, len(perms))}
	for _, p := range perms {
		p = strings.TrimSpace(p)
		if p == "" || g.set[strings.ToLower(p)] {
			continue
		}
		g.set[strings.ToLower(p)] = true
		g.names = append(g.names, p)
	}
	slices.Sort(g.names)
	e.granted.Store(g)
}

// grantedRoles is the roles claim of a token issued now: the granted permissions, or every
// permission the emulator knows when it grants everything.
func (e *Emulator) grantedRoles() []string {
	if g := e.granted.Load(); g != nil {
		return slices.Clone(g.names)
	}
	return slices.Clone(knownPermissions)
}

// permitted reports whether the granted permissions allow the request of the app caller (its
// client id, "" when unknown).
func (e *Emulator) permitted(method, path string, body []byte, caller string) bool {
	granted := e.granted.Load()
	if granted == nil {
		return true
	}
	need := requiredPermissions(method, path, body)
	if need == nil {
		return true
	}
	for _, p := range need {
		if granted.set[strings.ToLower(p)] {
			return true
		}
	}
	if !granted.set[strings.ToLower(permOwnedBy)] || caller == "" {
		return false
	}
	segs := routeSegments(path)
	for _, rule := range ownedRules {
		if rule.method == method && matchRoute(rule.path, segs) {
			return strings.EqualFold(e.appIDOfPath(segs), caller)
		}
	}
	return false
}

func writeInsufficientPrivileges(w http.ResponseWriter, r *http.Request) {
	writeError(w, r, http.StatusForbidden, codeAuthorizationDenied, insufficientPrivileges)
}
