package msgraph

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/google/uuid"
	"github.com/microsoftgraph/msgraph-sdk-go/models"
	"github.com/microsoftgraph/msgraph-sdk-go/policies"
	"github.com/microsoftgraph/msgraph-sdk-go/tenantrelationships"

	graph "github.com/partnerops/partner-operator/internal/graph"
)

var (
	_ graph.CrossTenantAccess = (*Client)(nil)
	_ graph.PartnerReader     = (*Client)(nil)
)

// Op names of the cross-tenant access calls, for errors (and graph.LeastPermission).
const (
	opFindTenant    = "find tenant by domain"
	opGetPartner    = "get partner"
	opCreatePartner = "create partner"
	opUpdatePartner = "update partner"
	opDeletePartner = "delete partner"
	opListPartners  = "list partners"
	opFindTenantID  = "find tenant by ID"
)

func (c *Client) partners() *policies.CrossTenantAccessPolicyPartnersRequestBuilder {
	return policies.NewCrossTenantAccessPolicyPartnersRequestBuilderInternal(map[string]string{}, c.adapter)
}

// FindTenantByDomain sends GET /tenantRelationships/findTenantInformationByDomainName(domainName='...')
// (CrossTenantInformation.ReadBasic.All). An unknown domain is Graph's 404, a NotFound error.
func (c *Client) FindTenantByDomain(ctx context.Context, domain string) (*graph.TenantInformation, error) {
	domain = strings.TrimSpace(domain)
	if domain == "" || strings.ContainsAny(domain, "/@ ") {
		return nil, &graph.Error{Kind: graph.KindTerminal, Op: opFindTenant, Err: fmt.Errorf("%q is not a domain name", domain)}
	}
	// The parameter is an OData string literal inside the URL template's quotes.
	lit := odataString(domain)
	resp, err := tenantrelationships.NewTenantRelationshipsRequestBuilderInternal(map[string]string{}, c.adapter).
		FindTenantInformationByDomainNameWithDomainName(&lit).Get(ctx, nil)
	if err != nil {
		return nil, classify(opFindTenant, err)
	}
	if resp == nil || deref(resp.GetTenantId()) == "" {
		return nil, &graph.Error{Kind: graph.KindTransient, Op: opFindTenant, StatusCode: http.StatusOK, Message: "answer has no tenantId"}
	}
	return &graph.TenantInformation{
		TenantID:          deref(resp.GetTenantId()),
		DisplayName:       deref(resp.GetDisplayName()),
		DefaultDomainName: deref(resp.GetDefaultDomainName()),
	}, nil
}

// FindTenantByID sends GET /tenantRelationships/findTenantInformationByTenantId(tenantId='...')
// (CrossTenantInformation.ReadBasic.All).
func (c *Client) FindTenantByID(ctx context.Context, tenantID string) (*graph.TenantInformation, error) {
	if err := checkTenantID(opFindTenantID, tenantID); err != nil {
		return nil, err
	}
	lit := odataString(tenantID)
	resp, err := tenantrelationships.NewTenantRelationshipsRequestBuilderInternal(map[string]string{}, c.adapter).
		FindTenantInformationByTenantIdWithTenantId(&lit).Get(ctx, nil)
	if err != nil {
		return nil, classify(opFindTenantID, err)
	}
	if resp == nil || deref(resp.GetTenantId()) == "" {
		return nil, &graph.Error{Kind: graph.KindTransient, Op: opFindTenantID, StatusCode: http.StatusOK, Message: "answer has no tenantId"}
	}
	return &graph.TenantInformation{TenantID: deref(resp.GetTenantId()), DisplayName: deref(resp.GetDisplayName()),
		DefaultDomainName: deref(resp.GetDefaultDomainName())}, nil
}

// ListPartners sends GET /policies/crossTenantAccessPolicy/partners (Policy.Read.All) and
// follows every @odata.nextLink.
func (c *Client) ListPartners(ctx context.Context) ([]graph.PartnerConfiguration, error) {
	var out []graph.PartnerConfiguration
	resp, err := c.partners().Get(ctx, nil)
	for {
		if err != nil {
			return nil, classify(opListPartners, err)
		}
		if resp == nil {
			return out, nil
		}
		for _, m := range resp.GetValue() {
			out = append(out, partnerFromModel(m))
		}
		next := deref(resp.GetOdataNextLink())
		if next == "" {
			return out, nil
		}
		resp, err = c.partners().WithUrl(next).Get(ctx, nil)
	}
}

// GetPartner sends GET /policies/crossTenantAccessPolicy/partners/{tenantId} (Policy.Read.All).
func (c *Client) GetPartner(ctx context.Context, tenantID string) (*graph.PartnerConfiguration, error) {
	if err := checkTenantID(opGetPartner, tenantID); err != nil {
		return nil, err
	}
	resp, err := c.partners().ByCrossTenantAccessPolicyConfigurationPartnerTenantId(tenantID).Get(ctx, nil)
	if err != nil {
		return nil, classify(opGetPartner, err)
	}
	if resp == nil {
		return nil, &graph.Error{Kind: graph.KindTransient, Op: opGetPartner, StatusCode: http.StatusOK, Message: "answer has no partner configuration"}
	}
	p := partnerFromModel(resp)
	return &p, nil
}

// CreatePartner sends POST /policies/crossTenantAccessPolicy/partners with p.TenantID and the
// settings p sets (Policy.ReadWrite.CrossTenantAccess). A configuration that exists already
// is an AlreadyExists error: Microsoft documents no answer for the duplicate, so both a 409
// and a 400 saying "already exists" count as one.
func (c *Client) CreatePartner(ctx context.Context, p graph.PartnerConfiguration) error {
	if err := checkTenantID(opCreatePartner, p.TenantID); err != nil {
		return err
	}
	body, err := partnerModel(opCreatePartner, p)
	if err != nil {
		return err
	}
	tenantID := p.TenantID
	body.SetTenantId(&tenantID)
	if _, err := c.partners().Post(ctx, body, nil); err != nil {
		err = classify(opCreatePartner, err)
		var ge *graph.Error
		if errors.As(err, &ge) && ge.StatusCode == http.StatusConflict {
			ge.Kind = graph.KindAlreadyExists
		}
		return err
	}
	return nil
}

// UpdatePartner sends PATCH /policies/crossTenantAccessPolicy/partners/{tenantId} with only
// the settings p sets (non-nil); Graph leaves the others as they are. p.TenantID is ignored
// (the key is tenantID). An update that sets nothing sends nothing.
//
// Graph replaces a complex property whole: a non-nil setting is sent as a whole object, and
// what it leaves nil inside becomes null (inherited from the default configuration). So a
// non-nil InboundTrust sends the booleans it sets and resets the ones it leaves nil; the same
// for AutomaticUserConsentSettings, and for a B2BSetting's UsersAndGroups and Applications.
// The SDK cannot send an explicit null for a setting (it omits nil properties), so an update
// cannot reset a whole setting to the default; delete and create the configuration for that.
func (c *Client) UpdatePartner(ctx context.Context, tenantID string, p graph.PartnerConfiguration) error {
	if err := checkTenantID(opUpdatePartner, tenantID); err != nil {
		return err
	}
	if p.B2BCollaborationInbound == nil && p.B2BDirectConnectInbound == nil && p.InboundTrust == nil && p.AutomaticUserConsentSettings == nil {
		return nil
	}
	body, err := partnerModel(opUpdatePartner, p)
	if err != nil {
		return err
	}
	if _, err := c.partners().ByCrossTenantAccessPolicyConfigurationPartnerTenantId(tenantID).Patch(ctx, body, nil); err != nil {
		return classify(opUpdatePartner, err)
	}
	return nil
}

// DeletePartner sends DELETE /policies/crossTenantAccessPolicy/partners/{tenantId}
// (Policy.ReadWrite.CrossTenantAccess); one already gone is a NotFound error.
func (c *Client) DeletePartner(ctx context.Context, tenantID string) error {
	if err := checkTenantID(opDeletePartner, tenantID); err != nil {
		return err
	}
	if err := c.partners().ByCrossTenantAccessPolicyConfigurationPartnerTenantId(tenantID).Delete(ctx, nil); err != nil {
		return classify(opDeletePartner, err)
	}
	return nil
}

// checkTenantID refuses what can never be a partner's key before anything is sent: an empty
// one would make the SDK address the whole collection.
func checkTenantID(op, tenantID string) error {
	if _, err := uuid.Parse(tenantID); err != nil || len(tenantID) != 36 {
		return &graph.Error{Kind: graph.KindTerminal, Op: op, Err: fmt.Errorf("tenant ID %q is not a GUID", tenantID)}
	}
	return nil
}

// partnerModel builds the SDK model of the settings p sets; nil ones are left unset, and the
// SDK's serializer omits unset properties (it writes no null for them).
func partnerModel(op string, p graph.PartnerConfiguration) (*models.CrossTenantAccessPolicyConfigurationPartner, error) {
	body := models.NewCrossTenantAccessPolicyConfigurationPartner()
	if p.B2BCollaborationInbound != nil {
		s, err := b2bSettingModel(op, "b2bCollaborationInbound", p.B2BCollaborationInbound)
		if err != nil {
			return nil, err
		}
		body.SetB2bCollaborationInbound(s)
	}
	if p.B2BDirectConnectInbound != nil {
		s, err := b2bSettingModel(op, "b2bDirectConnectInbound", p.B2BDirectConnectInbound)
		if err != nil {
			return nil, err
		}
		body.SetB2bDirectConnectInbound(s)
	}
	if t := p.InboundTrust; t != nil {
		m := models.NewCrossTenantAccessPolicyInboundTrust()
		m.SetIsMfaAccepted(copyBool(t.IsMfaAccepted))
		m.SetIsCompliantDeviceAccepted(copyBool(t.IsCompliantDeviceAccepted))
		m.SetIsHybridAzureADJoinedDeviceAccepted(copyBool(t.IsHybridAzureADJoinedDeviceAccepted))
		body.SetInboundTrust(m)
	}
	if a := p.AutomaticUserConsentSettings; a != nil {
		m := models.NewInboundOutboundPolicyConfiguration()
		m.SetInboundAllowed(copyBool(a.InboundAllowed))
		m.SetOutboundAllowed(copyBool(a.OutboundAllowed))
		body.SetAutomaticUserConsentSettings(m)
	}
	return body, nil
}

func b2bSettingModel(op, name string, s *graph.B2BSetting) (models.CrossTenantAccessPolicyB2BSettingable, error) {
	m := models.NewCrossTenantAccessPolicyB2BSetting()
	if s.UsersAndGroups != nil {
		t, err := targetsModel(op, name+".usersAndGroups", s.UsersAndGroups)
		if err != nil {
			return nil, err
		}
		m.SetUsersAndGroups(t)
	}
	if s.Applications != nil {
		t, err := targetsModel(op, name+".applications", s.Applications)
		if err != nil {
			return nil, err
		}
		m.SetApplications(t)
	}
	return m, nil
}

// targetsModel builds a target configuration. The SDK's enum parsers turn a value they do not
// know into nil, which the serializer then silently omits, so unknown values are refused here.
func targetsModel(op, name string, a *graph.AccessTargets) (models.CrossTenantAccessPolicyTargetConfigurationable, error) {
	m := models.NewCrossTenantAccessPolicyTargetConfiguration()
	if a.AccessType != "" {
		v, _ := models.ParseCrossTenantAccessPolicyTargetConfigurationAccessType(a.AccessType)
		at, ok := v.(*models.CrossTenantAccessPolicyTargetConfigurationAccessType)
		if !ok || a.AccessType == "unknownFutureValue" {
			return nil, &graph.Error{Kind: graph.KindTerminal, Op: op,
				Err: fmt.Errorf("%s: access type %q is not %s or %s", name, a.AccessType, graph.AccessAllowed, graph.AccessBlocked)}
		}
		m.SetAccessType(at)
	}
	// Always a collection, empty included: an unset one would not be sent at all.
	targets := make([]models.CrossTenantAccessPolicyTargetable, 0, len(a.Targets))
	for _, t := range a.Targets {
		v, _ := models.ParseCrossTenantAccessPolicyTargetType(t.TargetType)
		tt, ok := v.(*models.CrossTenantAccessPolicyTargetType)
		if !ok || t.TargetType == "unknownFutureValue" {
			return nil, &graph.Error{Kind: graph.KindTerminal, Op: op,
				Err: fmt.Errorf("%s: target %q has type %q, not %s, %s or %s", name, t.Target, t.TargetType,
					graph.TargetTypeUser, graph.TargetTypeGroup, graph.TargetTypeApplication)}
		}
		target := t.Target
		tm := models.NewCrossTenantAccessPolicyTarget()
		tm.SetTarget(&target)
		tm.SetTargetType(tt)
		targets = append(targets, tm)
	}
	m.SetTargets(targets)
	return m, nil
}

// partnerFromModel maps Graph's answer. A complex setting whose members are all null is the
// default's, the same as a null setting, and reads as nil.
func partnerFromModel(m models.CrossTenantAccessPolicyConfigurationPartnerable) graph.PartnerConfiguration {
	out := graph.PartnerConfiguration{
		TenantID:                strings.ToLower(deref(m.GetTenantId())),
		B2BCollaborationInbound: b2bSettingFromModel(m.GetB2bCollaborationInbound()),
		B2BDirectConnectInbound: b2bSettingFromModel(m.GetB2bDirectConnectInbound()),
	}
	if t := m.GetInboundTrust(); t != nil {
		it := graph.InboundTrust{
			IsMfaAccepted:                       copyBool(t.GetIsMfaAccepted()),
			IsCompliantDeviceAccepted:           copyBool(t.GetIsCompliantDeviceAccepted()),
			IsHybridAzureADJoinedDeviceAccepted: copyBool(t.GetIsHybridAzureADJoinedDeviceAccepted()),
		}
		if it != (graph.InboundTrust{}) {
			out.InboundTrust = &it
		}
	}
	if a := m.GetAutomaticUserConsentSettings(); a != nil {
		ac := graph.AutomaticUserConsent{InboundAllowed: copyBool(a.GetInboundAllowed()), OutboundAllowed: copyBool(a.GetOutboundAllowed())}
		if ac != (graph.AutomaticUserConsent{}) {
			out.AutomaticUserConsentSettings = &ac
		}
	}
	return out
}

func b2bSettingFromModel(m models.CrossTenantAccessPolicyB2BSettingable) *graph.B2BSetting {
	if m == nil {
		return nil
	}
	s := graph.B2BSetting{UsersAndGroups: targetsFromModel(m.GetUsersAndGroups()), Applications: targetsFromModel(m.GetApplications())}
	if s.UsersAndGroups == nil && s.Applications == nil {
		return nil
	}
	return &s
}

func targetsFromModel(m models.CrossTenantAccessPolicyTargetConfigurationable) *graph.AccessTargets {
	if m == nil {
		return nil
	}
	out := &graph.AccessTargets{}
	if at := m.GetAccessType(); at != nil {
		out.AccessType = at.String()
	}
	for _, t := range m.GetTargets() {
		if t == nil {
			continue
		}
		target := graph.AccessTarget{Target: deref(t.GetTarget())}
		if tt := t.GetTargetType(); tt != nil {
			target.TargetType = tt.String()
		}
		out.Targets = append(out.Targets, target)
	}
	return out
}

// copyBool copies a *bool, so neither the caller's value nor the SDK model's is aliased.
func copyBool(b *bool) *bool {
	if b == nil {
		return nil
	}
	v := *b
	return &v
}
