package tenant

import (
	"fmt"
	"slices"
	"strings"

	b2bv1alpha1 "github.com/partnerops/partner-operator/api/v1alpha1"
)

// Feature is one thing the operator does in a tenant and the application permissions it
// needs, after the permission table of docs/operations/credentials.md.
type Feature struct {
	Name  string
	Needs []string
	// used says whether an invitation uses it; nil: every tenant needs it.
	used func(*b2bv1alpha1.PartnerInvitation) bool
}

// Features are the operator's, in the order the permission table lists them.
var Features = []Feature{
	{Name: "invitations", Needs: []string{"User.Invite.All", "User.Read.All"}},
	{Name: "tenant status", Needs: []string{"Organization.Read.All"}},
	{Name: "guest deletion", Needs: []string{"User.DeleteRestore.All"}, used: func(p *b2bv1alpha1.PartnerInvitation) bool {
		return p.Spec.DeletionPolicy != b2bv1alpha1.DeletionPolicyOrphan || p.Spec.ExpiryAction == b2bv1alpha1.ExpiryDelete
	}},
	{Name: "profile, sponsors and renames", Needs: []string{"User.ReadWrite.All"}, used: func(p *b2bv1alpha1.PartnerInvitation) bool {
		return p.Spec.Profile != nil || len(p.Spec.Sponsors) > 0 || p.Spec.DisplayName != ""
	}},
	{Name: "expiryAction Disable", Needs: []string{"User.EnableDisableAccount.All"}, used: func(p *b2bv1alpha1.PartnerInvitation) bool {
		return p.Spec.ExpiryAction == b2bv1alpha1.ExpiryDisable
	}},
	{Name: "group access", Needs: []string{"GroupMember.ReadWrite.All"}, used: func(p *b2bv1alpha1.PartnerInvitation) bool {
		return p.Spec.Access != nil && len(p.Spec.Access.Groups) > 0
	}},
	{Name: "application access", Needs: []string{"AppRoleAssignment.ReadWrite.All", "Application.Read.All"}, used: func(p *b2bv1alpha1.PartnerInvitation) bool {
		return p.Spec.Access != nil && len(p.Spec.Access.Applications) > 0
	}},
}

// organizationsFeature is needed by a tenant PartnerOrganizations are configured in.
var organizationsFeature = Feature{Name: "partner organizations", Needs: []string{"CrossTenantInformation.ReadBasic.All", "Policy.ReadWrite.CrossTenantAccess"}}

// ownershipFeature is needed wherever the operator writes ownership records (--owner-id).
var ownershipFeature = Feature{Name: "ownership records", Needs: []string{"User.ReadWrite.All", "Application.Read.All"}}

// covers lists, for a permission, the broader ones that include it.
var covers = map[string][]string{
	"User.Read.All":                 {"User.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All"},
	"User.ReadWrite.All":            {"Directory.ReadWrite.All"},
	"User.EnableDisableAccount.All": {"User.ReadWrite.All", "Directory.ReadWrite.All"},
	"GroupMember.ReadWrite.All":     {"Group.ReadWrite.All", "Directory.ReadWrite.All"},
	"Application.Read.All":          {"Application.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All"},
	"Organization.Read.All":         {"Organization.ReadWrite.All", "Directory.Read.All", "Directory.ReadWrite.All"},
}

// Missing is what the tenant's token lacks for one feature its objects use.
type Missing struct {
	Feature     string
	Permissions []string
}

// MissingPermissions compares the token's roles with what the objects using the tenant need,
// feature by feature: its invitations, its organizations (organizations: whether any
// PartnerOrganization is configured in it), and the ownership records where they are written.
func MissingPermissions(roles []string, invitations []b2bv1alpha1.PartnerInvitation, organizations, ownership bool) []Missing {
	held := func(p string) bool {
		return slices.ContainsFunc(append([]string{p}, covers[p]...), func(c string) bool {
			return slices.ContainsFunc(roles, func(r string) bool { return strings.EqualFold(r, c) })
		})
	}
	features := Features
	if organizations {
		features = append(slices.Clip(features), organizationsFeature)
	}
	if ownership {
		features = append(slices.Clip(features), ownershipFeature)
	}
	var out []Missing
	for _, f := range features {
		if f.used != nil && !slices.ContainsFunc(invitations, func(p b2bv1alpha1.PartnerInvitation) bool { return f.used(&p) }) {
			continue
		}
		var lack []string
		for _, p := range f.Needs {
			if !held(p) {
				lack = append(lack, p)
			}
		}
		if len(lack) > 0 {
			out = append(out, Missing{Feature: f.Name, Permissions: lack})
		}
	}
	return out
}

// Describe is the PermissionsGranted condition's message for what is missing.
func Describe(missing []Missing) string {
	parts := make([]string, len(missing))
	for i, m := range missing {
		parts[i] = fmt.Sprintf("%s needs %s", m.Feature, strings.Join(m.Permissions, ", "))
	}
	return "The token lacks application permissions the objects using this tenant need: " + strings.Join(parts, "; ") +
		" (grant them to the application, with admin consent)"
}
