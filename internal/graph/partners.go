package graph

import "context"

// CrossTenantAccess is what the operator needs of a tenant's cross-tenant access settings:
// finding another organization's tenant by one of its domains, and the partner-specific
// configuration kept for it (policies/crossTenantAccessPolicy/partners/{tenantId}).
type CrossTenantAccess interface {
	// FindTenantByDomain looks a tenant up by one of its domain names
	// (tenantRelationships/findTenantInformationByDomainName); an unknown domain is a NotFound
	// error.
	FindTenantByDomain(ctx context.Context, domain string) (*TenantInformation, error)
	// GetPartner reads the partner configuration for a tenant; NotFound when there is none.
	GetPartner(ctx context.Context, tenantID string) (*PartnerConfiguration, error)
	// CreatePartner creates the partner configuration (p.TenantID required); one that exists
	// already is an AlreadyExists error.
	CreatePartner(ctx context.Context, p PartnerConfiguration) error
	// UpdatePartner changes the settings p sets (non-nil) and leaves the others as they are.
	UpdatePartner(ctx context.Context, tenantID string, p PartnerConfiguration) error
	// DeletePartner removes the partner configuration; one already gone is a NotFound error.
	DeletePartner(ctx context.Context, tenantID string) error
}

// PartnerReader reads every partner configuration of a tenant, and names another tenant by
// its ID: what an export of the existing configurations needs.
type PartnerReader interface {
	// ListPartners returns every partner configuration, following every page.
	ListPartners(ctx context.Context) ([]PartnerConfiguration, error)
	// FindTenantByID looks a tenant up by its ID
	// (tenantRelationships/findTenantInformationByTenantId); an unknown one is NotFound.
	FindTenantByID(ctx context.Context, tenantID string) (*TenantInformation, error)
}

// TenantInformation is what Graph tells about another organization's tenant.
type TenantInformation struct {
	TenantID          string
	DisplayName       string
	DefaultDomainName string
}

// PartnerConfiguration is a partner-specific cross-tenant access configuration. A nil setting
// is one Graph inherits from the default configuration (on reads), or one an update leaves as
// it is (on writes).
type PartnerConfiguration struct {
	TenantID                     string
	B2BCollaborationInbound      *B2BSetting
	B2BDirectConnectInbound      *B2BSetting
	InboundTrust                 *InboundTrust
	AutomaticUserConsentSettings *AutomaticUserConsent
}

// B2BSetting says which of the partner's users and groups may reach which of our applications.
type B2BSetting struct {
	UsersAndGroups *AccessTargets
	Applications   *AccessTargets
}

// AccessTargets allows or blocks a list of targets.
type AccessTargets struct {
	// AccessType is "allowed" or "blocked".
	AccessType string
	Targets    []AccessTarget
}

// AccessTarget is one user, group or application, or a keyword (AllUsers, AllApplications,
// Office365).
type AccessTarget struct {
	Target string
	// TargetType is "user", "group" or "application".
	TargetType string
}

// InboundTrust says which of the partner's claims the tenant's Conditional Access accepts.
// A nil field is one Graph did not report (or an update leaves).
type InboundTrust struct {
	IsMfaAccepted                       *bool
	IsCompliantDeviceAccepted           *bool
	IsHybridAzureADJoinedDeviceAccepted *bool
}

// AutomaticUserConsent is automatic redemption: guests from the partner skip the consent
// prompt (inbound), or our users skip it in the partner's tenant (outbound).
type AutomaticUserConsent struct {
	InboundAllowed  *bool
	OutboundAllowed *bool
}

// Cross-tenant access values as Graph spells them.
const (
	AccessAllowed = "allowed"
	AccessBlocked = "blocked"

	TargetTypeUser        = "user"
	TargetTypeGroup       = "group"
	TargetTypeApplication = "application"

	TargetAllUsers        = "AllUsers"
	TargetAllApplications = "AllApplications"
	TargetOffice365       = "Office365"
)
