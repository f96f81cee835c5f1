package partnerinvitation

import (
	"context"
	"fmt"
	"regexp"
	"strings"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	b2bv1alpha1 "github.com/partnerops/partner-operator/api/v1alpha1"
	"github.com/partnerops/partner-operator/internal/graph"
	"github.com/partnerops/partner-operator/internal/policy"
)

var objectIDPattern = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

// accessProblem is a spec.access entry that cannot be granted until something outside the
// operator changes (a group is created, a policy allows it). It is a condition, not an error,
// so it does not hot-loop.
type accessProblem struct {
	reason  string
	message string
}

// accessOutcome summarises a pass over spec.access.
type accessOutcome struct {
	problems []accessProblem
	// pending is the last eventual-consistency answer (the new guest not visible yet): retried
	// with backoff.
	pending error
}

func (o accessOutcome) ok() bool { return len(o.problems) == 0 && o.pending == nil }

// reconcileAccess grants what spec.access asks for and the policies allow, and revokes what
// this object granted that is no longer asked for or allowed. Grants made by anyone else are
// recorded as unmanaged and never revoked.
func (r *Reconciler) reconcileAccess(ctx context.Context, pinv *b2bv1alpha1.PartnerInvitation, userID string, selecting []*b2bv1alpha1.PartnerAccessPolicy) (accessOutcome, error) {
	if pinv.Spec.Access == nil && pinv.Status.Access == nil {
		meta.RemoveStatusCondition(&pinv.Status.Conditions, b2bv1alpha1.ConditionAccessGranted)
		return accessOutcome{}, nil
	}
	var out accessOutcome
	groups, problems, err := r.resolveGroups(ctx, pinv)
	if err != nil {
		return out, err
	}
	out.problems = append(out.problems, problems...)
	apps, problems, err := r.resolveApps(ctx, pinv)
	if err != nil {
		return out, err
	}
	out.problems = append(out.problems, problems...)
	groups, apps, problems = allowedGrants(selecting, groups, apps)
	out.problems = append(out.problems, problems...)

	if err := r.syncGroups(ctx, pinv, userID, groups, &out); err != nil {
		return out, err
	}
	if err := r.syncApps(ctx, pinv, userID, apps, &out); err != nil {
		return out, err
	}
	return out, nil
}

// revokeAllAccess removes every grant this object made; used when a policy no longer allows
// the invitation at all.
func (r *Reconciler) revokeAllAccess(ctx context.Context, pinv *b2bv1alpha1.PartnerInvitation) error {
	if pinv.Status.Access == nil || managedUserID(pinv) == "" {
		return nil
	}
	var out accessOutcome
	if err := r.syncGroups(ctx, pinv, managedUserID(pinv), nil, &out); err != nil {
		return err
	}
	return r.syncApps(ctx, pinv, managedUserID(pinv), nil, &out)
}

func (r *Reconciler) resolveGroups(ctx context.Context, pinv *b2bv1alpha1.PartnerInvitation) ([]b2bv1alpha1.GroupGrant, []accessProblem, error) {
	if pinv.Spec.Access == nil {
		return nil, nil, nil
	}
	known := map[string]string{}
	if pinv.Status.Access != nil {
		for _, g := range pinv.Status.Access.Groups {
			known[g.Ref] = g.ID
		}
	}
	var out []b2bv1alpha1.GroupGrant
	var problems []accessProblem
	for i, ref := range pinv.Spec.Access.Groups {
		if id, ok := known[ref]; ok {
			out = append(out, b2bv1alpha1.GroupGrant{Ref: ref, ID: id})
			continue
		}
		field := fmt.Sprintf("spec.access.groups[%d]", i)
		if objectIDPattern.MatchString(ref) {
			g, err := r.Directory.GetGroup(ctx, ref)
			if graph.IsNotFound(err) {
				problems = append(problems, accessProblem{b2bv1alpha1.ReasonGroupNotFound, fmt.Sprintf("%s: group %s does not exist", field, ref)})
				continue
			}
			if err != nil {
				return nil, nil, err
			}
			out = append(out, b2bv1alpha1.GroupGrant{Ref: ref, ID: g.ID})
			continue
		}
		found, err := r.Directory.FindGroupsByName(ctx, ref)
		if err != nil {
			return nil, nil, err
		}
		switch len(found) {
		case 1:
			out = append(out, b2bv1alpha1.GroupGrant{Ref: ref, ID: found[0].ID})
		case 0:
			problems = append(problems, accessProblem{b2bv1alpha1.ReasonGroupNotFound, fmt.Sprintf("%s: no group is named %q", field, ref)})
		default:
			problems = append(problems, accessProblem{b2bv1alpha1.ReasonAmbiguousGroup, fmt.Sprintf("%s: %d groups are named %q; use the group's object ID", field, len(found), ref)})
		}
	}
	return out, problems, nil
}

func (r *Reconciler) resolveApps(ctx context.Context, pinv *b2bv1alpha1.PartnerInvitation) ([]b2bv1alpha1.AppRoleGrant, []accessProblem, error) {
	if pinv.Spec.Access == nil {
		return nil, nil, nil
	}
	key := func(app, role string) string { return strings.ToLower(app) + "\x00" + role }
	known := map[string]b2bv1alpha1.AppRoleGrant{}
	if pinv.Status.Access != nil {
		for _, a := range pinv.Status.Access.Applications {
			known[key(a.App, a.Role)] = a
		}
	}
	sps := map[string]*graph.ServicePrincipal{}
	var out []b2bv1alpha1.AppRoleGrant
	var problems []accessProblem
	for i, entry := range pinv.Spec.Access.Applications {
		if k, ok := known[key(entry.App, entry.Role)]; ok {
			out = append(out, b2bv1alpha1.AppRoleGrant{App: entry.App, Role: entry.Role, ServicePrincipalID: k.ServicePrincipalID, AppRoleID: k.AppRoleID})
			continue
		}
		field := fmt.Sprintf("spec.access.applications[%d]", i)
		sp, ok := sps[strings.ToLower(entry.App)]
		if !ok {
			var err error
			if sp, err = r.servicePrincipal(ctx, entry.App); err != nil {
				return nil, nil, err
			}
			sps[strings.ToLower(entry.App)] = sp
		}
		if sp == nil {
			problems = append(problems, accessProblem{b2bv1alpha1.ReasonAppNotFound, fmt.Sprintf("%s: no application or service principal %s in the tenant", field, entry.App)})
			continue
		}
		roleID, problem := appRoleID(field, sp, entry.Role)
		if problem != nil {
			problems = append(problems, *problem)
			continue
		}
		out = append(out, b2bv1alpha1.AppRoleGrant{App: entry.App, Role: entry.Role, ServicePrincipalID: sp.ID, AppRoleID: roleID})
	}
	return out, problems, nil
}

// servicePrincipal finds an application's service principal by appId, then by object ID; nil
// when neither exists.
func (r *Reconciler) servicePrincipal(ctx context.Context, ref string) (*graph.ServicePrincipal, error) {
	sp, err := r.Directory.FindServicePrincipalByAppID(ctx, ref)
	if err == nil {
		return sp, nil
	}
	if !graph.IsNotFound(err) {
		return nil, err
	}
	sp, err = r.Directory.GetServicePrincipal(ctx, ref)
	if graph.IsNotFound(err) {
		return nil, nil
	}
	return sp, err
}

// appRoleID resolves a role by ID or value; an empty role means default access, which exists
// only for applications that define no roles.
func appRoleID(field string, sp *graph.ServicePrincipal, role string) (string, *accessProblem) {
	var names []string
	for _, r := range sp.AppRoles {
		if role != "" && (strings.EqualFold(r.ID, role) || r.Value == role) {
			return r.ID, nil
		}
		names = append(names, r.Value)
	}
	if role == "" {
		if len(sp.AppRoles) == 0 {
			return graph.DefaultAppRoleID, nil
		}
		return "", &accessProblem{b2bv1alpha1.ReasonRoleNotFound, fmt.Sprintf("%s: %s defines roles (%s); name one in role", field, sp.DisplayName, strings.Join(names, ", "))}
	}
	return "", &accessProblem{b2bv1alpha1.ReasonRoleNotFound, fmt.Sprintf("%s: %s has no role %q (roles: %s)", field, sp.DisplayName, role, strings.Join(names, ", "))}
}

// allowedGrants drops the grants a selecting policy does not allow, and says which.
func allowedGrants(selecting []*b2bv1alpha1.PartnerAccessPolicy, groups []b2bv1alpha1.GroupGrant, apps []b2bv1alpha1.AppRoleGrant) ([]b2bv1alpha1.GroupGrant, []b2bv1alpha1.AppRoleGrant, []accessProblem) {
	if len(selecting) == 0 {
		return groups, apps, nil
	}
	var problems []accessProblem
	var okGroups []b2bv1alpha1.GroupGrant
	for _, g := range groups {
		if v := policy.Group(selecting, g.Ref, g.ID); v != nil {
			problems = append(problems, accessProblem{b2bv1alpha1.ReasonPolicyDenied, v.String()})
			continue
		}
		okGroups = append(okGroups, g)
	}
	var okApps []b2bv1alpha1.AppRoleGrant
	for _, a := range apps {
		if v := policy.Application(selecting, a.App, a.Role, a.ServicePrincipalID, a.AppRoleID); v != nil {
			problems = append(problems, accessProblem{b2bv1alpha1.ReasonPolicyDenied, v.String()})
			continue
		}
		okApps = append(okApps, a)
	}
	return okGroups, okApps, problems
}

// grantOps is how one kind of grant (group membership, app role assignment) is keyed, made and
// taken back.
type grantOps[G any] struct {
	key     func(G) string
	managed func(G) bool
	revoke  func(G) error
	// grant makes the grant and returns it as recorded: managed when this object made it,
	// unmanaged when someone else already had (never revoked then).
	grant func(G) (G, error)
}

// syncGrants revokes the managed grants that are not wanted, then makes the missing ones. It
// returns the grants in effect even when it stops at an error, so status never forgets one.
func syncGrants[G any](have, want []G, ops grantOps[G], out *accessOutcome) ([]G, error) {
	wanted := map[string]bool{}
	for _, g := range want {
		wanted[ops.key(g)] = true
	}
	var kept []G
	present := map[string]bool{}
	for i, g := range have {
		if wanted[ops.key(g)] {
			kept = append(kept, g)
			present[ops.key(g)] = true
			continue
		}
		if ops.managed(g) {
			if err := ops.revoke(g); err != nil && !graph.IsNotFound(err) {
				return append(kept, have[i:]...), err
			}
		}
	}
	for _, g := range want {
		if present[ops.key(g)] {
			continue
		}
		made, err := ops.grant(g)
		switch {
		case err == nil:
		case isPendingVisibility(err):
			out.pending = err
			continue
		default:
			return kept, err
		}
		kept = append(kept, made)
		present[ops.key(g)] = true
	}
	return kept, nil
}

// syncGroups brings the guest's group memberships to want.
func (r *Reconciler) syncGroups(ctx context.Context, pinv *b2bv1alpha1.PartnerInvitation, userID string, want []b2bv1alpha1.GroupGrant, out *accessOutcome) error {
	access := ensureAccessStatus(pinv)
	var err error
	access.Groups, err = syncGrants(access.Groups, want, grantOps[b2bv1alpha1.GroupGrant]{
		key:     func(g b2bv1alpha1.GroupGrant) string { return g.ID },
		managed: func(g b2bv1alpha1.GroupGrant) bool { return g.Managed },
		revoke:  func(g b2bv1alpha1.GroupGrant) error { return r.Directory.RemoveGroupMember(ctx, g.ID, userID) },
		grant: func(g b2bv1alpha1.GroupGrant) (b2bv1alpha1.GroupGrant, error) {
			err := r.Directory.AddGroupMember(ctx, g.ID, userID)
			g.Managed = err == nil
			if graph.IsAlreadyExists(err) {
				err = nil
			}
			return g, err
		},
	}, out)
	return err
}

// syncApps brings the guest's app role assignments to want.
func (r *Reconciler) syncApps(ctx context.Context, pinv *b2bv1alpha1.PartnerInvitation, userID string, want []b2bv1alpha1.AppRoleGrant, out *accessOutcome) error {
	access := ensureAccessStatus(pinv)
	var err error
	access.Applications, err = syncGrants(access.Applications, want, grantOps[b2bv1alpha1.AppRoleGrant]{
		key: func(a b2bv1alpha1.AppRoleGrant) string {
			return a.ServicePrincipalID + "/" + strings.ToLower(a.AppRoleID)
		},
		managed: func(a b2bv1alpha1.AppRoleGrant) bool { return a.Managed && a.AssignmentID != "" },
		revoke: func(a b2bv1alpha1.AppRoleGrant) error {
			return r.Directory.RemoveAppRoleAssignment(ctx, a.ServicePrincipalID, a.AssignmentID)
		},
		grant: func(a b2bv1alpha1.AppRoleGrant) (b2bv1alpha1.AppRoleGrant, error) {
			id, err := r.Directory.AssignAppRole(ctx, graph.AppRoleAssignment{PrincipalID: userID, ResourceID: a.ServicePrincipalID, AppRoleID: a.AppRoleID})
			a.Managed, a.AssignmentID = err == nil, id
			if graph.IsAlreadyExists(err) {
				err = nil
			}
			return a, err
		},
	}, out)
	return err
}

// reportAccess sets AccessGranted from the outcome.
func reportAccess(pinv *b2bv1alpha1.PartnerInvitation, out accessOutcome) {
	access := ensureAccessStatus(pinv)
	switch {
	case len(out.problems) > 0:
		setCondition(pinv, b2bv1alpha1.ConditionAccessGranted, metav1.ConditionFalse, out.problems[0].reason, problemList(out.problems))
	case out.pending != nil:
		setCondition(pinv, b2bv1alpha1.ConditionAccessGranted, metav1.ConditionFalse, b2bv1alpha1.ReasonAccessPending,
			"Waiting for Microsoft Graph to make the new guest visible to groups and applications")
	default:
		setCondition(pinv, b2bv1alpha1.ConditionAccessGranted, metav1.ConditionTrue, b2bv1alpha1.ReasonGranted,
			fmt.Sprintf("%d group(s) and %d app role(s) granted", len(access.Groups), len(access.Applications)))
	}
	if len(access.Groups) == 0 && len(access.Applications) == 0 && pinv.Spec.Access == nil {
		pinv.Status.Access = nil
		meta.RemoveStatusCondition(&pinv.Status.Conditions, b2bv1alpha1.ConditionAccessGranted)
	}
}

// problemList joins the problems' messages.
func problemList(problems []accessProblem) string {
	msgs := make([]string, 0, len(problems))
	for _, p := range problems {
		msgs = append(msgs, p.message)
	}
	return strings.Join(msgs, "; ")
}

// isPendingVisibility: right after an invitation, Graph answers group and app role writes for
// the new guest with "does not exist" or "not a valid reference" for a few minutes (graph.md).
func isPendingVisibility(err error) bool {
	if graph.IsTerminal(err) || graph.IsAlreadyExists(err) {
		return false
	}
	if _, throttled := graph.RetryAfter(err); throttled {
		return false
	}
	return graph.StatusCode(err) == 400 || graph.StatusCode(err) == 404
}

func ensureAccessStatus(pinv *b2bv1alpha1.PartnerInvitation) *b2bv1alpha1.AccessStatus {
	if pinv.Status.Access == nil {
		pinv.Status.Access = &b2bv1alpha1.AccessStatus{}
	}
	return pinv.Status.Access
}
