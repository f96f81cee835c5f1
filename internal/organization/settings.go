package organization

import (
	"slices"
	"strings"

	"k8s.io/utils/ptr"

	b2bv1alpha1 "github.com/partnerops/partner-operator/api/v1alpha1"
	"github.com/partnerops/partner-operator/internal/graph"
)

// Desired is the configuration the spec asks for: only the settings it sets.
func Desired(tenantID string, s b2bv1alpha1.PartnerSettings) graph.PartnerConfiguration {
	p := graph.PartnerConfiguration{TenantID: tenantID,
		B2BCollaborationInbound: toB2B(s.B2BCollaborationInbound),
		B2BDirectConnectInbound: toB2B(s.B2BDirectConnectInbound),
	}
	if t := s.InboundTrust; t != nil {
		p.InboundTrust = &graph.InboundTrust{IsMfaAccepted: t.MFAAccepted, IsCompliantDeviceAccepted: t.CompliantDeviceAccepted,
			IsHybridAzureADJoinedDeviceAccepted: t.HybridJoinedDeviceAccepted}
	}
	if s.AutomaticRedemption != nil {
		p.AutomaticUserConsentSettings = &graph.AutomaticUserConsent{InboundAllowed: s.AutomaticRedemption}
	}
	return p
}

func toB2B(in *b2bv1alpha1.B2BInbound) *graph.B2BSetting {
	if in == nil {
		return nil
	}
	var who []graph.AccessTarget
	for _, u := range in.UsersAndGroups.Users {
		who = append(who, graph.AccessTarget{Target: u, TargetType: graph.TargetTypeUser})
	}
	for _, g := range in.UsersAndGroups.Groups {
		who = append(who, graph.AccessTarget{Target: g, TargetType: graph.TargetTypeGroup})
	}
	var apps []graph.AccessTarget
	for _, a := range in.Applications.Applications {
		apps = append(apps, graph.AccessTarget{Target: a, TargetType: graph.TargetTypeApplication})
	}
	return &graph.B2BSetting{
		UsersAndGroups: &graph.AccessTargets{AccessType: strings.ToLower(string(in.UsersAndGroups.Access)), Targets: who},
		Applications:   &graph.AccessTargets{AccessType: strings.ToLower(string(in.Applications.Access)), Targets: apps},
	}
}

// Observed is the configuration as status shows it.
func Observed(p *graph.PartnerConfiguration) *b2bv1alpha1.PartnerSettings {
	s := &b2bv1alpha1.PartnerSettings{
		B2BCollaborationInbound: fromB2B(p.B2BCollaborationInbound),
		B2BDirectConnectInbound: fromB2B(p.B2BDirectConnectInbound),
	}
	if t := p.InboundTrust; t != nil {
		s.InboundTrust = &b2bv1alpha1.InboundTrust{MFAAccepted: t.IsMfaAccepted, CompliantDeviceAccepted: t.IsCompliantDeviceAccepted,
			HybridJoinedDeviceAccepted: t.IsHybridAzureADJoinedDeviceAccepted}
	}
	if c := p.AutomaticUserConsentSettings; c != nil {
		s.AutomaticRedemption = c.InboundAllowed
	}
	return s
}

func fromB2B(b *graph.B2BSetting) *b2bv1alpha1.B2BInbound {
	if b == nil || b.UsersAndGroups == nil || b.Applications == nil {
		return nil
	}
	in := &b2bv1alpha1.B2BInbound{
		UsersAndGroups: b2bv1alpha1.PartnerUsersAndGroups{Access: access(b.UsersAndGroups.AccessType), Users: []string{}, Groups: []string{}},
		Applications:   b2bv1alpha1.OurApplications{Access: access(b.Applications.AccessType)},
	}
	for _, t := range b.UsersAndGroups.Targets {
		if strings.EqualFold(t.TargetType, graph.TargetTypeGroup) {
			in.UsersAndGroups.Groups = append(in.UsersAndGroups.Groups, t.Target)
		} else {
			in.UsersAndGroups.Users = append(in.UsersAndGroups.Users, t.Target)
		}
	}
	for _, t := range b.Applications.Targets {
		in.Applications.Applications = append(in.Applications.Applications, t.Target)
	}
	return in
}

func access(graphAccess string) b2bv1alpha1.Access {
	if strings.EqualFold(graphAccess, graph.AccessBlocked) {
		return b2bv1alpha1.AccessBlocked
	}
	return b2bv1alpha1.AccessAllowed
}

// Drift is the update that brings actual to want, and the names of the settings it changes.
// Graph replaces a complex property whole, so a partly specified one (inboundTrust, the
// consent settings) is sent with the tenant's values for the parts the spec leaves out.
func Drift(want, actual graph.PartnerConfiguration) (graph.PartnerConfiguration, []string) {
	patch := graph.PartnerConfiguration{}
	var changed []string
	if want.B2BCollaborationInbound != nil && !sameB2B(want.B2BCollaborationInbound, actual.B2BCollaborationInbound) {
		patch.B2BCollaborationInbound = want.B2BCollaborationInbound
		changed = append(changed, "b2bCollaborationInbound")
	}
	if want.B2BDirectConnectInbound != nil && !sameB2B(want.B2BDirectConnectInbound, actual.B2BDirectConnectInbound) {
		patch.B2BDirectConnectInbound = want.B2BDirectConnectInbound
		changed = append(changed, "b2bDirectConnectInbound")
	}
	if w := want.InboundTrust; w != nil {
		a := ptr.Deref(actual.InboundTrust, graph.InboundTrust{})
		merged := graph.InboundTrust{
			IsMfaAccepted:                       pick(w.IsMfaAccepted, a.IsMfaAccepted),
			IsCompliantDeviceAccepted:           pick(w.IsCompliantDeviceAccepted, a.IsCompliantDeviceAccepted),
			IsHybridAzureADJoinedDeviceAccepted: pick(w.IsHybridAzureADJoinedDeviceAccepted, a.IsHybridAzureADJoinedDeviceAccepted),
		}
		if !sameBool(merged.IsMfaAccepted, a.IsMfaAccepted) || !sameBool(merged.IsCompliantDeviceAccepted, a.IsCompliantDeviceAccepted) ||
			!sameBool(merged.IsHybridAzureADJoinedDeviceAccepted, a.IsHybridAzureADJoinedDeviceAccepted) {
			patch.InboundTrust = &merged
			changed = append(changed, "inboundTrust")
		}
	}
	if w := want.AutomaticUserConsentSettings; w != nil {
		a := ptr.Deref(actual.AutomaticUserConsentSettings, graph.AutomaticUserConsent{})
		if !sameBool(w.InboundAllowed, a.InboundAllowed) {
			patch.AutomaticUserConsentSettings = &graph.AutomaticUserConsent{InboundAllowed: w.InboundAllowed, OutboundAllowed: a.OutboundAllowed}
			changed = append(changed, "automaticRedemption")
		}
	}
	return patch, changed
}

// pick is the wanted value where the spec sets one, else the tenant's.
func pick(want, actual *bool) *bool {
	if want != nil {
		return want
	}
	return actual
}

// sameBool treats an unreported boolean as false, as Graph's default configuration does.
func sameBool(a, b *bool) bool { return ptr.Deref(a, false) == ptr.Deref(b, false) }

func sameB2B(want, actual *graph.B2BSetting) bool {
	if actual == nil {
		return false
	}
	return sameTargets(want.UsersAndGroups, actual.UsersAndGroups) && sameTargets(want.Applications, actual.Applications)
}

func sameTargets(want, actual *graph.AccessTargets) bool {
	if want == nil || actual == nil {
		return want == actual
	}
	return strings.EqualFold(want.AccessType, actual.AccessType) && slices.Equal(targetKeys(want.Targets), targetKeys(actual.Targets))
}

// targetKeys are the targets as a sorted list; IDs compare case-insensitively, as Graph's do.
func targetKeys(ts []graph.AccessTarget) []string {
	keys := make([]string, 0, len(ts))
	for _, t := range ts {
		keys = append(keys, strings.ToLower(t.TargetType+"/"+t.Target))
	}
	slices.Sort(keys)
	return keys
}
