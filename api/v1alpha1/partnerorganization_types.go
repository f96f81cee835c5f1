package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// KindPartnerOrganization is the kind's name, as events and references spell it.
const KindPartnerOrganization = "PartnerOrganization"

// OrganizationAdoption says whether a PartnerOrganization may take over a partner configuration
// that exists in the tenant already (one set in the portal, or by another tool).
// +kubebuilder:validation:Enum=Deny;Adopt
type OrganizationAdoption string

const (
	// OrganizationAdoptionDeny refuses an existing configuration and writes nothing.
	OrganizationAdoptionDeny OrganizationAdoption = "Deny"
	// OrganizationAdoptionAdopt manages an existing configuration as if the operator had made it.
	OrganizationAdoptionAdopt OrganizationAdoption = "Adopt"
)

// Access allows or blocks the targets it lists.
// +kubebuilder:validation:Enum=Allowed;Blocked
type Access string

const (
	AccessAllowed Access = "Allowed"
	AccessBlocked Access = "Blocked"
)

// Special targets, as Graph spells them.
const (
	// TargetAllUsers stands for every user and group of the partner.
	TargetAllUsers = "AllUsers"
	// TargetAllApplications stands for every application of ours.
	TargetAllApplications = "AllApplications"
	// TargetOffice365 stands for the Office 365 applications.
	TargetOffice365 = "Office365"
)

// PartnerUsersAndGroups are the partner's users and groups a B2B setting allows or blocks.
// +kubebuilder:validation:XValidation:rule="size(self.users) + size(self.groups) > 0",message="list at least one of users (AllUsers or object IDs) and groups (object IDs)"
type PartnerUsersAndGroups struct {
	// access is Allowed (only the listed users and groups come in) or Blocked (all but them).
	// +required
	Access Access `json:"access"`
	// users are the partner's user object IDs, or AllUsers.
	// +kubebuilder:validation:MaxItems=100
	// +kubebuilder:validation:items:XValidation:rule=`self == "AllUsers" || self.matches("^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")`,message="must be AllUsers or a user's object ID (a GUID) in the partner's tenant"
	// +kubebuilder:validation:items:MaxLength=36
	// +listType=set
	// +kubebuilder:default={}
	// +optional
	Users []string `json:"users"`
	// groups are the partner's group object IDs.
	// +kubebuilder:validation:MaxItems=100
	// +kubebuilder:validation:items:XValidation:rule=`self.matches("^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")`,message="must be a group's object ID (a GUID) in the partner's tenant"
	// +kubebuilder:validation:items:MaxLength=36
	// +listType=set
	// +kubebuilder:default={}
	// +optional
	Groups []string `json:"groups"`
}

// OurApplications are the applications of our tenant a B2B setting allows or blocks.
type OurApplications struct {
	// access is Allowed (only the listed applications) or Blocked (all but them).
	// +required
	Access Access `json:"access"`
	// applications are application (client) IDs, AllApplications or Office365.
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=100
	// +kubebuilder:validation:items:XValidation:rule=`self == "AllApplications" || self == "Office365" || self.matches("^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")`,message="must be AllApplications, Office365 or an application (client) ID"
	// +kubebuilder:validation:items:MaxLength=36
	// +listType=set
	// +required
	Applications []string `json:"applications"`
}

// B2BInbound says who of the partner may come in, and to what. Graph takes both halves
// together.
type B2BInbound struct {
	// usersAndGroups of the partner this setting applies to.
	// +required
	UsersAndGroups PartnerUsersAndGroups `json:"usersAndGroups"`
	// applications of ours this setting applies to.
	// +required
	Applications OurApplications `json:"applications"`
}

// InboundTrust says which of the partner's claims our Conditional Access accepts, so that its
// guests are not asked again for what their home tenant checked. An omitted field is left as
// the tenant has it.
type InboundTrust struct {
	// mfaAccepted trusts multifactor authentication done in the partner's tenant.
	// +optional
	MFAAccepted *bool `json:"mfaAccepted,omitempty"`
	// compliantDeviceAccepted trusts the partner's compliant-device claims.
	// +optional
	CompliantDeviceAccepted *bool `json:"compliantDeviceAccepted,omitempty"`
	// hybridJoinedDeviceAccepted trusts the partner's hybrid Entra-joined-device claims.
	// +optional
	HybridJoinedDeviceAccepted *bool `json:"hybridJoinedDeviceAccepted,omitempty"`
}

// PartnerSettings are the partner-specific cross-tenant access settings. A setting left out is
// left as the tenant has it (inherited from its default configuration, or as set in the
// portal).
type PartnerSettings struct {
	// b2bCollaborationInbound: which of the partner's users may be invited as guests, to which
	// of our applications.
	// +optional
	B2BCollaborationInbound *B2BInbound `json:"b2bCollaborationInbound,omitempty"`
	// b2bDirectConnectInbound: which of the partner's users may reach our Teams shared channels
	// without a guest account, to which applications.
	// +optional
	B2BDirectConnectInbound *B2BInbound `json:"b2bDirectConnectInbound,omitempty"`
	// inboundTrust: the partner's claims our Conditional Access accepts.
	// +optional
	InboundTrust *InboundTrust `json:"inboundTrust,omitempty"`
	// automaticRedemption (automaticUserConsentSettings.inboundAllowed): guests from the
	// partner skip the consent prompt, and are redeemed without the invitation mail's link,
	// where the partner's tenant allows it outbound too.
	// +optional
	AutomaticRedemption *bool `json:"automaticRedemption,omitempty"`
}

// OrganizationTenantReference names the ClusterGraphTenant a PartnerOrganization is configured
// in; a cluster-scoped object cannot use a namespace's GraphTenant.
type OrganizationTenantReference struct {
	// kind is ClusterGraphTenant.
	// +kubebuilder:validation:Enum=ClusterGraphTenant
	// +kubebuilder:default=ClusterGraphTenant
	// +optional
	Kind string `json:"kind,omitempty"`
	// name of the ClusterGraphTenant.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +required
	Name string `json:"name"`
}

// PartnerOrganizationSpec declares a partner organization and its cross-tenant access
// settings in one of our tenants.
type PartnerOrganizationSpec struct {
	// domains are the partner's mail domains. Each is resolved to a tenant through Graph, and
	// all must resolve to the same one. Invitations to an address in one of them belong to the
	// organization.
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=50
	// +kubebuilder:validation:items:MaxLength=253
	// +kubebuilder:validation:items:XValidation:rule=`self.matches("^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?([.][A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$")`,message="must be a domain such as contoso.com: labels of letters, digits and hyphens joined by single dots, no @, no wildcard, no dot at the end; an international domain in punycode (xn--...)"
	// +listType=set
	// +required
	Domains []string `json:"domains"`

	// tenantID is the partner's tenant ID, when known; the domains must resolve to it.
	// +kubebuilder:validation:Pattern=`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`
	// +optional
	TenantID string `json:"tenantID,omitempty"`

	// tenantRef is our tenant the settings are made in; omitted: the operator's default tenant.
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="tenantRef cannot be changed: the settings live in the tenant they were made in; delete this object and create one for the other tenant"
	// +optional
	TenantRef *OrganizationTenantReference `json:"tenantRef,omitempty"`

	PartnerSettings `json:",inline"`

	// adoption says whether a partner configuration that exists already for the partner's
	// tenant (made in the portal, or by another tool) may be taken over: Deny (the default)
	// reports it and writes nothing; Adopt manages it from now on.
	// +kubebuilder:default=Deny
	// +optional
	Adoption OrganizationAdoption `json:"adoption,omitempty"`

	// deletionPolicy says what happens to the partner configuration when this object is
	// deleted: Delete (the default) removes it, so the partner falls back to the tenant's
	// default settings; Orphan leaves it as it is.
	// +kubebuilder:validation:Enum=Delete;Orphan
	// +kubebuilder:default=Delete
	// +optional
	DeletionPolicy DeletionPolicy `json:"deletionPolicy,omitempty"`
}

// ConfigurationOrigin says how the partner configuration came to be managed.
type ConfigurationOrigin string

const (
	// ConfigurationCreating: the operator is creating the configuration (set before the create,
	// so that one found after a crash is known to be the operator's own).
	ConfigurationCreating ConfigurationOrigin = "Creating"
	// ConfigurationCreated: the operator created it.
	ConfigurationCreated ConfigurationOrigin = "Created"
	// ConfigurationAdopted: it existed and was adopted (spec.adoption Adopt).
	ConfigurationAdopted ConfigurationOrigin = "Adopted"
)

// PartnerOrganizationStatus is what the operator found and did.
type PartnerOrganizationStatus struct {
	// observedGeneration is the generation the status reflects.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// conditions: Ready (the partner configuration exists and matches the spec), Stalled (a
	// problem that needs a change to the spec, the tenant or its permissions).
	// +listType=map
	// +listMapKey=type
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// tenantID is the partner's tenant, as Graph resolved the domains.
	// +optional
	TenantID string `json:"tenantID,omitempty"`
	// displayName is the partner's name, as Graph reports it.
	// +optional
	DisplayName string `json:"displayName,omitempty"`
	// defaultDomain is the partner's default domain, as Graph reports it.
	// +optional
	DefaultDomain string `json:"defaultDomain,omitempty"`
	// configuredIn is our tenant the configuration lives in (its tenant ID).
	// +optional
	ConfiguredIn string `json:"configuredIn,omitempty"`

	// configuration is how the partner configuration came to be managed: Creating, Created or
	// Adopted; empty while there is none of the operator's.
	// +optional
	Configuration ConfigurationOrigin `json:"configuration,omitempty"`

	// settings are the partner-specific settings in effect, as last read from Graph; a setting
	// absent is inherited from the tenant's default configuration.
	// +optional
	Settings *PartnerSettings `json:"settings,omitempty"`

	// lastSyncedAt is when the configuration was last read from Graph and corrected.
	// +optional
	LastSyncedAt *metav1.Time `json:"lastSyncedAt,omitempty"`

	// invitations is how many PartnerInvitations are to addresses in the domains.
	// +optional
	Invitations int32 `json:"invitations"`
	// acceptedInvitations is how many of them the partner has redeemed.
	// +optional
	AcceptedInvitations int32 `json:"acceptedInvitations"`
}

// PartnerOrganization is a partner organization, known by its domains, and the cross-tenant
// access settings our tenant keeps for it (Entra ID's partner-specific configuration). It is
// the cluster owner's: namespaces cannot create one.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Cluster,shortName=porg,categories=partnerops
// +kubebuilder:printcolumn:name="Domain",type=string,JSONPath=`.spec.domains[0]`
// +kubebuilder:printcolumn:name="Tenant-ID",type=string,JSONPath=`.status.tenantID`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Invitations",type=integer,JSONPath=`.status.invitations`
// +kubebuilder:printcolumn:name="Accepted",type=integer,JSONPath=`.status.acceptedInvitations`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
// +kubebuilder:printcolumn:name="Display-Name",type=string,JSONPath=`.status.displayName`,priority=1
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].reason`,priority=1
type PartnerOrganization struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// +required
	Spec PartnerOrganizationSpec `json:"spec"`
	// +optional
	Status PartnerOrganizationStatus `json:"status,omitempty"`
}

// +kubebuilder:object:root=true

// PartnerOrganizationList is a list of PartnerOrganizations.
type PartnerOrganizationList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []PartnerOrganization `json:"items"`
}

// Reasons of a PartnerOrganization's conditions, besides the shared ones (TenantNotFound,
// TenantNotReady, PermissionDenied, AdoptionDenied, TenantMismatch, GraphError, Throttled).
const (
	// ReasonDomainMismatch: the domains resolve to different tenants, or not to spec.tenantID.
	ReasonDomainMismatch = "DomainMismatch"
	// ReasonConfigured: the partner configuration matches the spec.
	ReasonConfigured = "Configured"
	// ReasonDriftCorrected: a setting had been changed outside the operator and was set back.
	ReasonDriftCorrected = "DriftCorrected"
	// ReasonConfigurationDeleted: deleting removed the partner configuration.
	ReasonConfigurationDeleted = "ConfigurationDeleted"
)

func init() {
	SchemeBuilder.Register(&PartnerOrganization{}, &PartnerOrganizationList{})
}
