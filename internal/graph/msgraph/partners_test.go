package msgraph

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	graph "github.com/partnerops/partner-operator/internal/graph"
	"github.com/partnerops/partner-operator/internal/graph/emulator"
)

const (
	contosoTenantID = "3d0f5dec-5d3d-455c-8016-e2af1ae4d31a"
	partnersPath    = "/policies/crossTenantAccessPolicy/partners"
)

var contosoTenant = emulator.ExternalTenant{
	TenantID: contosoTenantID, DisplayName: "Contoso, Ltd", DefaultDomain: "contoso.onmicrosoft.com",
	Domains: []string{"contoso.com", "contoso.onmicrosoft.com"}, AutomaticRedemptionOutbound: true,
}

func boolPtr(b bool) *bool { return &b }

// examplePartner sets every setting the interface knows.
func examplePartner() graph.PartnerConfiguration {
	return graph.PartnerConfiguration{
		TenantID: contosoTenantID,
		B2BCollaborationInbound: &graph.B2BSetting{
			UsersAndGroups: &graph.AccessTargets{AccessType: graph.AccessAllowed, Targets: []graph.AccessTarget{
				{Target: "6f546279-4da5-4b53-a095-09ea0cef9971", TargetType: graph.TargetTypeGroup}}},
			Applications: &graph.AccessTargets{AccessType: graph.AccessAllowed, Targets: []graph.AccessTarget{
				{Target: graph.TargetOffice365, TargetType: graph.TargetTypeApplication}}},
		},
		B2BDirectConnectInbound: &graph.B2BSetting{
			UsersAndGroups: &graph.AccessTargets{AccessType: graph.AccessBlocked, Targets: []graph.AccessTarget{
				{Target: graph.TargetAllUsers, TargetType: graph.TargetTypeUser}}},
		},
		InboundTrust:                 &graph.InboundTrust{IsMfaAccepted: boolPtr(true), IsCompliantDeviceAccepted: boolPtr(false)},
		AutomaticUserConsentSettings: &graph.AutomaticUserConsent{InboundAllowed: boolPtr(true)},
	}
}

func TestFindTenantByDomain(t *testing.T) {
	t.Parallel()
	c, emu := newTestClient(t, emulator.Options{ExternalTenants: []emulator.ExternalTenant{contosoTenant}})
	ctx := testContext(t)

	got, err := c.FindTenantByDomain(ctx, "Contoso.com")
	if err != nil {
		t.Fatalf("FindTenantByDomain: %v", err)
	}
	want := &graph.TenantInformation{TenantID: contosoTenantID, DisplayName: "Contoso, Ltd", DefaultDomainName: "contoso.onmicrosoft.com"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("tenant (-want +got):\n%s", diff)
	}
	onlyRequest(t, emu, "GET", "/tenantRelationships/findTenantInformationByDomainName(domainName='Contoso.com')")

	_, err = c.FindTenantByDomain(ctx, "nowhere.example")
	if ge := graphErr(t, err); ge.Kind != graph.KindNotFound || ge.StatusCode != 404 || ge.Op != "find tenant by domain" {
		t.Errorf("unknown domain: %+v, want NotFound 404", ge)
	}

	emu.ResetRequests()
	for _, bad := range []string{"", "jane@contoso.com", "contoso.com/x"} {
		if _, err := c.FindTenantByDomain(ctx, bad); !graph.IsTerminal(err) {
			t.Errorf("FindTenantByDomain(%q) = %v, want Terminal", bad, err)
		}
	}
	if rs := emu.Requests(); len(rs) != 0 {
		t.Errorf("malformed domains reached Graph: %v", summarize(rs))
	}
}

func TestPartnerRoundTrip(t *testing.T) {
	t.Parallel()
	c, emu := newTestClient(t, emulator.Options{})
	ctx := testContext(t)
	p := examplePartner()

	if err := c.CreatePartner(ctx, p); err != nil {
		t.Fatalf("CreatePartner: %v", err)
	}
	// The body names what p sets and nothing else: no nulls for the settings left out.
	body := withoutODataType(decodeBody(t, onlyRequest(t, emu, "POST", partnersPath)))
	wantBody := map[string]any{
		"tenantId":                     contosoTenantID,
		"inboundTrust":                 map[string]any{"isMfaAccepted": true, "isCompliantDeviceAccepted": false},
		"automaticUserConsentSettings": map[string]any{"inboundAllowed": true},
		"b2bCollaborationInbound": map[string]any{
			"usersAndGroups": map[string]any{"accessType": "allowed", "targets": []any{map[string]any{"target": "6f546279-4da5-4b53-a095-09ea0cef9971", "targetType": "group"}}},
			"applications":   map[string]any{"accessType": "allowed", "targets": []any{map[string]any{"target": "Office365", "targetType": "application"}}},
		},
		"b2bDirectConnectInbound": map[string]any{
			"usersAndGroups": map[string]any{"accessType": "blocked", "targets": []any{map[string]any{"target": "AllUsers", "targetType": "user"}}},
		},
	}
	if diff := cmp.Diff(wantBody, body); diff != "" {
		t.Errorf("POST body (-want +got):\n%s", diff)
	}

	got, err := c.GetPartner(ctx, strings.ToUpper(contosoTenantID))
	if err != nil {
		t.Fatalf("GetPartner: %v", err)
	}
	if diff := cmp.Diff(&p, got); diff != "" {
		t.Errorf("partner read back (-want +got):\n%s", diff)
	}

	// A second create is a duplicate; nothing changes.
	err = c.CreatePartner(ctx, graph.PartnerConfiguration{TenantID: contosoTenantID})
	if ge := graphErr(t, err); ge.Kind != graph.KindAlreadyExists || ge.StatusCode != 409 {
		t.Errorf("duplicate CreatePartner: %+v, want AlreadyExists 409", ge)
	}
	if again, _ := c.GetPartner(ctx, contosoTenantID); !cmp.Equal(&p, again) {
		t.Errorf("the duplicate changed the configuration: %+v", again)
	}

	// A tenant without a configuration; a configuration of nothing reads as all-nil.
	const other = "9c5d131d-b1c3-4fc4-9e3f-c6557947d551"
	if _, err := c.GetPartner(ctx, other); !graph.IsNotFound(err) {
		t.Errorf("GetPartner(absent) = %v, want NotFound", err)
	}
	if err := c.CreatePartner(ctx, graph.PartnerConfiguration{TenantID: other}); err != nil {
		t.Fatalf("CreatePartner(empty): %v", err)
	}
	if got, err := c.GetPartner(ctx, other); err != nil || !cmp.Equal(&graph.PartnerConfiguration{TenantID: other}, got) {
		t.Errorf("empty configuration = %+v, %v; want only the tenant ID (the rest inherited)", got, err)
	}
}

// UpdatePartner sends only the settings it is given; Graph keeps the others.
func TestUpdatePartner(t *testing.T) {
	t.Parallel()
	c, emu := newTestClient(t, emulator.Options{})
	ctx := testContext(t)
	p := examplePartner()
	if err := c.CreatePartner(ctx, p); err != nil {
		t.Fatal(err)
	}

	trust := &graph.InboundTrust{IsMfaAccepted: boolPtr(false), IsHybridAzureADJoinedDeviceAccepted: boolPtr(true)}
	if err := c.UpdatePartner(ctx, contosoTenantID, graph.PartnerConfiguration{InboundTrust: trust}); err != nil {
		t.Fatalf("UpdatePartner: %v", err)
	}
	body := withoutODataType(decodeBody(t, onlyRequest(t, emu, "PATCH", partnersPath+"/"+contosoTenantID)))
	if diff := cmp.Diff(map[string]any{"inboundTrust": map[string]any{"isMfaAccepted": false, "isHybridAzureADJoinedDeviceAccepted": true}}, body); diff != "" {
		t.Errorf("PATCH body (-want +got):\n%s", diff)
	}
	got, err := c.GetPartner(ctx, contosoTenantID)
	if err != nil {
		t.Fatal(err)
	}
	want := p
	// inboundTrust is replaced whole: isCompliantDeviceAccepted, left out, is null now.
	want.InboundTrust = trust
	if diff := cmp.Diff(&want, got); diff != "" {
		t.Errorf("after the update (-want +got):\n%s", diff)
	}

	// Drift made in the portal is what a later read shows; an update puts back what it names.
	if err := emu.PatchPartner(contosoTenantID, `{"automaticUserConsentSettings":{"inboundAllowed":false}}`); err != nil {
		t.Fatal(err)
	}
	if got, _ := c.GetPartner(ctx, contosoTenantID); got.AutomaticUserConsentSettings == nil || *got.AutomaticUserConsentSettings.InboundAllowed {
		t.Fatalf("drift not seen: %+v", got.AutomaticUserConsentSettings)
	}
	if err := c.UpdatePartner(ctx, contosoTenantID, graph.PartnerConfiguration{AutomaticUserConsentSettings: p.AutomaticUserConsentSettings}); err != nil {
		t.Fatal(err)
	}
	if stored, _ := emu.Partner(contosoTenantID); stored["automaticUserConsentSettings"].(map[string]any)["inboundAllowed"] != true {
		t.Errorf("stored after the repair: %v", stored["automaticUserConsentSettings"])
	}

	// Nothing to change, nothing sent; an absent configuration is NotFound.
	emu.ResetRequests()
	if err := c.UpdatePartner(ctx, contosoTenantID, graph.PartnerConfiguration{TenantID: contosoTenantID}); err != nil {
		t.Errorf("empty UpdatePartner: %v", err)
	}
	if rs := emu.Requests(); len(rs) != 0 {
		t.Errorf("an empty update was sent: %v", summarize(rs))
	}
	err = c.UpdatePartner(ctx, "9c5d131d-b1c3-4fc4-9e3f-c6557947d551", graph.PartnerConfiguration{InboundTrust: trust})
	if !graph.IsNotFound(err) {
		t.Errorf("UpdatePartner(absent) = %v, want NotFound", err)
	}
}

func TestDeletePartner(t *testing.T) {
	t.Parallel()
	c, emu := newTestClient(t, emulator.Options{})
	ctx := testContext(t)
	if err := c.CreatePartner(ctx, examplePartner()); err != nil {
		t.Fatal(err)
	}
	if err := c.DeletePartner(ctx, contosoTenantID); err != nil {
		t.Fatalf("DeletePartner: %v", err)
	}
	if _, ok := emu.Partner(contosoTenantID); ok {
		t.Error("the configuration is still stored")
	}
	if _, err := c.GetPartner(ctx, contosoTenantID); !graph.IsNotFound(err) {
		t.Errorf("GetPartner after delete = %v, want NotFound", err)
	}
	if err := c.DeletePartner(ctx, contosoTenantID); !graph.IsNotFound(err) {
		t.Errorf("second DeletePartner = %v, want NotFound", err)
	}
}

// Values Graph can never accept are refused before anything is sent.
func TestPartnerRejectsMalformedInput(t *testing.T) {
	t.Parallel()
	c, emu := newTestClient(t, emulator.Options{})
	ctx := testContext(t)
	badAccess := examplePartner()
	badAccess.B2BCollaborationInbound.Applications.AccessType = "maybe"
	badTarget := examplePartner()
	badTarget.B2BDirectConnectInbound.UsersAndGroups.Targets[0].TargetType = "device"
	noID := examplePartner()
	noID.TenantID = ""
	for name, call := range map[string]func() error{
		"access type":     func() error { return c.CreatePartner(ctx, badAccess) },
		"target type":     func() error { return c.UpdatePartner(ctx, contosoTenantID, badTarget) },
		"no tenant ID":    func() error { return c.CreatePartner(ctx, noID) },
		"get by name":     func() error { _, err := c.GetPartner(ctx, "contoso.com"); return err },
		"delete by empty": func() error { return c.DeletePartner(ctx, "") },
	} {
		if err := call(); !graph.IsTerminal(err) {
			t.Errorf("%s: error = %v, want Terminal", name, err)
		}
	}
	if rs := emu.Requests(); len(rs) != 0 {
		t.Errorf("malformed input reached Graph: %v", summarize(rs))
	}
}

// A 403 carries Graph's code and message and names the operation. The shared classifier
// (classify.go) files every 403 as Transient: an administrator's consent fixes it, not the
// spec, so the call is retried with backoff rather than stalled.
func TestPartnerMissingPermission(t *testing.T) {
	t.Parallel()
	c, emu := newTestClient(t, emulator.Options{ExternalTenants: []emulator.ExternalTenant{contosoTenant}})
	ctx := testContext(t)
	emu.SetGrantedPermissions("Policy.Read.All")

	if _, err := c.GetPartner(ctx, contosoTenantID); !graph.IsNotFound(err) {
		t.Errorf("GetPartner with Policy.Read.All = %v, want NotFound (permitted)", err)
	}
	for op, call := range map[string]func() error{
		"create partner":        func() error { return c.CreatePartner(ctx, examplePartner()) },
		"find tenant by domain": func() error { _, err := c.FindTenantByDomain(ctx, "contoso.com"); return err },
	} {
		emu.ResetRequests()
		err := call()
		ge := graphErr(t, err)
		if ge.StatusCode != 403 || ge.Code != "Authorization_RequestDenied" || !strings.Contains(ge.Message, "Insufficient privileges") ||
			ge.Kind != graph.KindTransient || ge.Op != op {
			t.Errorf("%s: %+v, want a Transient 403 Authorization_RequestDenied", op, ge)
		}
		if gotOp, _, ok := graph.MissingPermission(err); !ok || gotOp != op {
			t.Errorf("%s: MissingPermission = %q, %t", op, gotOp, ok)
		}
		if n := len(emu.Requests()); n != 1 {
			t.Errorf("%s: %d requests, want 1: a 403 is not retried", op, n)
		}
	}
	if _, ok := emu.Partner(contosoTenantID); ok {
		t.Error("the refused create stored a configuration")
	}
}

// Automatic redemption end to end: with the partner's outbound setting (the emulator's
// ExternalTenant) and this tenant's inbound one (CreatePartner), an invitation to the
// partner's domain comes back redeemed.
func TestAutomaticRedemptionEndToEnd(t *testing.T) {
	t.Parallel()
	c, emu := newTestClient(t, emulator.Options{ExternalTenants: []emulator.ExternalTenant{contosoTenant}})
	ctx := testContext(t)
	invite := func(email string) (*graph.Invitation, *graph.User) {
		t.Helper()
		inv, err := c.Invite(ctx, graph.InvitationRequest{Email: email, RedirectURL: "https://myapps.microsoft.com", SendInvitationMessage: true})
		if err != nil {
			t.Fatalf("Invite(%s): %v", email, err)
		}
		u, err := c.GetUser(ctx, inv.UserID)
		if err != nil {
			t.Fatalf("GetUser: %v", err)
		}
		return inv, u
	}

	inv, u := invite("ann@contoso.com")
	if inv.Status != "PendingAcceptance" || u.ExternalUserState != "PendingAcceptance" || emu.MailsSent("ann@contoso.com") != 1 {
		t.Errorf("without a partner configuration: %s, %s, %d mails", inv.Status, u.ExternalUserState, emu.MailsSent("ann@contoso.com"))
	}

	tenant, err := c.FindTenantByDomain(ctx, "contoso.com")
	if err != nil {
		t.Fatal(err)
	}
	if err := c.CreatePartner(ctx, graph.PartnerConfiguration{TenantID: tenant.TenantID,
		AutomaticUserConsentSettings: &graph.AutomaticUserConsent{InboundAllowed: boolPtr(true)}}); err != nil {
		t.Fatal(err)
	}
	inv, u = invite("kim@contoso.com")
	if inv.Status != "Completed" || u.ExternalUserState != "Accepted" || u.ExternalUserStateChangedAt.IsZero() {
		t.Errorf("with automatic redemption: invitation %s, guest %s at %v; want Completed, Accepted", inv.Status, u.ExternalUserState, u.ExternalUserStateChangedAt)
	}
	if n := emu.MailsSent("kim@contoso.com"); n != 0 {
		t.Errorf("%d invitation mails, want none (automatic redemption suppresses it)", n)
	}
}

// An export reads every configuration and names each partner by its tenant ID.
func TestListPartnersAndFindTenantByID(t *testing.T) {
	t.Parallel()
	c, _ := newTestClient(t, emulator.Options{ExternalTenants: []emulator.ExternalTenant{contosoTenant}})
	ctx := testContext(t)
	if got, err := c.ListPartners(ctx); err != nil || len(got) != 0 {
		t.Fatalf("ListPartners on a new tenant = %v, %v", got, err)
	}
	if err := c.CreatePartner(ctx, examplePartner()); err != nil {
		t.Fatal(err)
	}
	got, err := c.ListPartners(ctx)
	if err != nil || len(got) != 1 {
		t.Fatalf("ListPartners = %v, %v", got, err)
	}
	if diff := cmp.Diff(examplePartner().InboundTrust, got[0].InboundTrust); got[0].TenantID != contosoTenantID || diff != "" {
		t.Errorf("listed %s, inboundTrust (-want +got):\n%s", got[0].TenantID, diff)
	}
	info, err := c.FindTenantByID(ctx, contosoTenantID)
	if err != nil || info.DefaultDomainName != "contoso.onmicrosoft.com" || info.DisplayName != "Contoso, Ltd" {
		t.Fatalf("FindTenantByID = %+v, %v", info, err)
	}
	if _, err := c.FindTenantByID(ctx, "00000000-0000-4000-8000-000000000999"); !graph.IsNotFound(err) {
		t.Errorf("unknown tenant ID: %v, want NotFound", err)
	}
}
