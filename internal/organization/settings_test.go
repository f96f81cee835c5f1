package organization

import (
	"reflect"
	"testing"

	"k8s.io/utils/ptr"

	b2bv1alpha1 "github.com/partnerops/partner-operator/api/v1alpha1"
	"github.com/partnerops/partner-operator/internal/graph"
)

func allUsersToAllApps() *b2bv1alpha1.B2BInbound {
	return &b2bv1alpha1.B2BInbound{
		UsersAndGroups: b2bv1alpha1.PartnerUsersAndGroups{Access: b2bv1alpha1.AccessAllowed, Users: []string{"AllUsers"}},
		Applications:   b2bv1alpha1.OurApplications{Access: b2bv1alpha1.AccessAllowed, Applications: []string{"AllApplications"}},
	}
}

// The spec's settings become Graph's, and what Graph holds reads back as the same spec.
func TestDesiredRoundTrip(t *testing.T) {
	spec := b2bv1alpha1.PartnerSettings{
		B2BCollaborationInbound: &b2bv1alpha1.B2BInbound{
			UsersAndGroups: b2bv1alpha1.PartnerUsersAndGroups{Access: b2bv1alpha1.AccessBlocked,
				Users: []string{"11111111-1111-4111-8111-111111111111"}, Groups: []string{"22222222-2222-4222-8222-222222222222"}},
			Applications: b2bv1alpha1.OurApplications{Access: b2bv1alpha1.AccessAllowed, Applications: []string{"Office365"}},
		},
		InboundTrust:        &b2bv1alpha1.InboundTrust{MFAAccepted: ptr.To(true)},
		AutomaticRedemption: ptr.To(true),
	}
	want := Desired("t", spec)
	b := want.B2BCollaborationInbound
	if b.UsersAndGroups.AccessType != "blocked" || b.Applications.AccessType != "allowed" {
		t.Fatalf("access types: %+v %+v", b.UsersAndGroups, b.Applications)
	}
	if got := targetKeys(b.UsersAndGroups.Targets); !reflect.DeepEqual(got, []string{"group/22222222-2222-4222-8222-222222222222", "user/11111111-1111-4111-8111-111111111111"}) {
		t.Fatalf("targets: %v", got)
	}
	if want.B2BDirectConnectInbound != nil {
		t.Fatal("a setting the spec omits is sent")
	}
	back := Observed(&want)
	if !reflect.DeepEqual(back.B2BCollaborationInbound, spec.B2BCollaborationInbound) || *back.AutomaticRedemption != true ||
		*back.InboundTrust.MFAAccepted != true {
		t.Fatalf("read back: %+v", back)
	}
}

func TestDrift(t *testing.T) {
	want := Desired("t", b2bv1alpha1.PartnerSettings{
		B2BCollaborationInbound: allUsersToAllApps(),
		InboundTrust:            &b2bv1alpha1.InboundTrust{MFAAccepted: ptr.To(true)},
		AutomaticRedemption:     ptr.To(false),
	})
	inSync := graph.PartnerConfiguration{TenantID: "t",
		B2BCollaborationInbound: &graph.B2BSetting{
			// Graph's order and case are not the spec's
			UsersAndGroups: &graph.AccessTargets{AccessType: "Allowed", Targets: []graph.AccessTarget{{Target: "allusers", TargetType: "User"}}},
			Applications:   &graph.AccessTargets{AccessType: "allowed", Targets: []graph.AccessTarget{{Target: "AllApplications", TargetType: "application"}}},
		},
		InboundTrust: &graph.InboundTrust{IsMfaAccepted: ptr.To(true), IsCompliantDeviceAccepted: ptr.To(true)},
		// unreported counts as off, as Graph's default
		AutomaticUserConsentSettings: &graph.AutomaticUserConsent{},
		B2BDirectConnectInbound:      &graph.B2BSetting{UsersAndGroups: &graph.AccessTargets{AccessType: "blocked"}},
	}
	if patch, changed := Drift(want, inSync); len(changed) != 0 {
		t.Fatalf("in sync, yet %v changed: %+v", changed, patch)
	}

	drifted := inSync
	drifted.InboundTrust = &graph.InboundTrust{IsMfaAccepted: ptr.To(false), IsCompliantDeviceAccepted: ptr.To(true)}
	drifted.AutomaticUserConsentSettings = &graph.AutomaticUserConsent{InboundAllowed: ptr.To(true), OutboundAllowed: ptr.To(true)}
	drifted.B2BCollaborationInbound = nil // inherited from the default: not what the spec says
	patch, changed := Drift(want, drifted)
	if !reflect.DeepEqual(changed, []string{"b2bCollaborationInbound", "inboundTrust", "automaticRedemption"}) {
		t.Fatalf("changed = %v", changed)
	}
	// Graph replaces a complex property whole: the parts the spec omits keep the tenant's values.
	if got := patch.InboundTrust; *got.IsMfaAccepted != true || *got.IsCompliantDeviceAccepted != true || got.IsHybridAzureADJoinedDeviceAccepted != nil {
		t.Fatalf("inboundTrust patch: %+v", got)
	}
	if got := patch.AutomaticUserConsentSettings; *got.InboundAllowed != false || *got.OutboundAllowed != true {
		t.Fatalf("consent patch: %+v", got)
	}
	if patch.B2BDirectConnectInbound != nil {
		t.Fatal("a setting the spec omits is patched")
	}
}
