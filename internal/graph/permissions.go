package graph

import (
	"errors"
	"net/http"
)

// leastPermission is the least-privileged Microsoft Graph application permission each
// operation needs, after Microsoft's permission reference, so that a 403 can say what to grant.
// The keys are the op names the msgraph client gives its errors.
var leastPermission = map[string]string{
	"invite":                 "User.Invite.All",
	"find users":             "User.Read.All",
	"get user":               "User.Read.All",
	"user changes":           "User.Read.All",
	"update user":            "User.ReadWrite.All",
	"enable or disable user": "User.EnableDisableAccount.All", // with User.Read.All, which reads need anyway
	"delete user":            "User.DeleteRestore.All",
	"get deleted user":       "User.Read.All",
	"restore user":           "User.DeleteRestore.All",
	// The ownership record: directory extension values are written with a user PATCH.
	"record ownership":              "User.ReadWrite.All",
	"list extension properties":     "Application.Read.All",
	"register ownership properties": "Application.ReadWrite.OwnedBy",
	"get group":                     "GroupMember.Read.All",
	"find groups":                   "GroupMember.Read.All",
	"add group member":              "GroupMember.ReadWrite.All",
	"remove group member":           "GroupMember.ReadWrite.All",
	"get service principal":         "Application.Read.All",
	"find service principal":        "Application.Read.All",
	"assign app role":               "AppRoleAssignment.ReadWrite.All",
	"remove app role assignment":    "AppRoleAssignment.ReadWrite.All",
	"list sponsors":                 "User.Read.All",
	"add sponsor":                   "User.ReadWrite.All",
	"remove sponsor":                "User.ReadWrite.All",
	// The export's reads. Microsoft documents Directory.Read.All as the least-privileged
	// application permission for another user's memberOf and appRoleAssignments.
	"list guests":               "User.Read.All",
	"list memberships":          "Directory.Read.All",
	"list app role assignments": "Directory.Read.All",
	"list sign-ins":             "AuditLog.Read.All", // with User.Read.All, which reads need anyway
	// A tenant object's Ready check: its name and verified domains.
	"read organization": "Organization.Read.All",
	// PartnerOrganizations: the partner's tenant by domain, and its cross-tenant access
	// configuration.
	"find tenant by domain": "CrossTenantInformation.ReadBasic.All",
	"find tenant by ID":     "CrossTenantInformation.ReadBasic.All",
	"list partners":         "Policy.Read.All",
	"get partner":           "Policy.Read.All",
	"create partner":        "Policy.ReadWrite.CrossTenantAccess",
	"update partner":        "Policy.ReadWrite.CrossTenantAccess",
	"delete partner":        "Policy.ReadWrite.CrossTenantAccess",
}

// LeastPermission returns the least-privileged application permission the operation needs,
// or "" for an operation the table does not know.
func LeastPermission(op string) string { return leastPermission[op] }

// MissingPermission reports, for a 403 from Graph, the operation refused and the permission
// the operator's application lacks for it.
func MissingPermission(err error) (op, permission string, ok bool) {
	var e *Error
	if !errors.As(err, &e) || e.StatusCode != http.StatusForbidden {
		return "", "", false
	}
	permission = LeastPermission(e.Op)
	if permission == "" {
		permission = "the permission this call needs"
	}
	return e.Op, permission, true
}
