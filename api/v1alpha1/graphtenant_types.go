package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Tenant kinds, as spec.tenantRef.kind and a policy's allowedTenants name them.
const (
	// KindGraphTenant is a tenant configured in one namespace, usable from that namespace only.
	KindGraphTenant = "GraphTenant"
	// KindClusterGraphTenant is a tenant the cluster owner configures for every namespace a
	// PartnerAccessPolicy lets use it.
	KindClusterGraphTenant = "ClusterGraphTenant"
)

// Cloud names a national cloud: its Entra ID authority and its Microsoft Graph endpoint.
type Cloud string

// The clouds the operator knows; its --cloud flag adds others (a private endpoint, the emulator).
const (
	CloudAzurePublic       Cloud = "AzurePublic"
	CloudAzureUSGovernment Cloud = "AzureUSGovernment"
	CloudAzureChina        Cloud = "AzureChina"
)

// TenantSize is Microsoft Graph's throttling tier of a tenant (by its number of users), which
// sets the request budget the operator keeps below.
// +kubebuilder:validation:Enum=small;medium;large
type TenantSize string

// GraphTenantSpec says which Entra ID tenant, as which application, in which cloud.
// +kubebuilder:validation:XValidation:rule=`has(self.clientID) || has(self.credentials.managedIdentity)`,message=`clientID is required: the application (client) ID of the app registration the credentials belong to`,fieldPath=`.clientID`
type GraphTenantSpec struct {
	// tenantID is the directory (tenant) ID, a GUID. It cannot be changed: the guests this
	// tenant's objects manage live in that directory.
	// +kubebuilder:validation:XValidation:rule=`self.matches("^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")`,message=`must be the directory (tenant) ID, a GUID such as 72f988bf-86f1-41af-91ab-2d7cd011db47`
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="tenantID is immutable: the guests of this tenant's objects live in that directory; create another tenant object instead"
	// +required
	TenantID string `json:"tenantID"`

	// clientID is the application (client) ID of the app registration (or of the user-assigned
	// managed identity) the operator signs in as.
	// +kubebuilder:validation:XValidation:rule=`self.matches("^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")`,message=`must be the application (client) ID, a GUID`
	// +optional
	ClientID string `json:"clientID,omitempty"`

	// credentials say how the operator gets tokens for the tenant: exactly one kind.
	// +required
	Credentials TenantCredentials `json:"credentials"`

	// cloud is the tenant's cloud: AzurePublic (the default), AzureUSGovernment, AzureChina,
	// or a name the operator's --cloud flag registers.
	// +kubebuilder:validation:MaxLength=63
	// +kubebuilder:validation:Pattern=`^[A-Za-z][A-Za-z0-9-]*$`
	// +kubebuilder:default=AzurePublic
	// +optional
	Cloud Cloud `json:"cloud,omitempty"`

	// size is the tenant's Graph throttling tier (small: under 50 users, medium: 50 to 500,
	// large: more), which sets the request budget the operator keeps below. Default small, the
	// strictest.
	// +kubebuilder:default=small
	// +optional
	Size TenantSize `json:"size,omitempty"`
}

// TenantCredentials is one way of getting tokens.
// +kubebuilder:validation:XValidation:rule=`(has(self.clientSecret) ? 1 : 0) + (has(self.certificate) ? 1 : 0) + (has(self.workloadIdentity) ? 1 : 0) + (has(self.managedIdentity) ? 1 : 0) == 1`,message=`set exactly one of clientSecret, certificate, workloadIdentity and managedIdentity`
type TenantCredentials struct {
	// clientSecret is a client secret of the app registration, read from a Secret: for a
	// GraphTenant, in its own namespace; for a ClusterGraphTenant, in the operator's.
	// +optional
	ClientSecret *SecretKeyReference `json:"clientSecret,omitempty"`

	// certificate is a certificate of the app registration with its private key, from a
	// Secret (kubernetes.io/tls: the keys tls.crt and tls.key), in the same namespace as a
	// clientSecret's.
	// +optional
	Certificate *CertificateReference `json:"certificate,omitempty"`

	// workloadIdentity federates the operator's own ServiceAccount token with the app
	// registration (AKS workload identity): no secret is stored. It is the operator's identity,
	// so a GraphTenant may use it only where the operator allows ambient credentials for
	// namespaced tenants (--namespaced-tenant-ambient-credentials).
	// +optional
	WorkloadIdentity *WorkloadIdentityCredential `json:"workloadIdentity,omitempty"`

	// managedIdentity is the managed identity of the node or pod the operator runs on; with
	// clientID, a user-assigned one. As workloadIdentity, it is the operator's own identity.
	// +optional
	ManagedIdentity *ManagedIdentityCredential `json:"managedIdentity,omitempty"`
}

// SecretKeyReference names one key of a Secret.
type SecretKeyReference struct {
	// name of the Secret.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +required
	Name string `json:"name"`
	// key within the Secret; default client-secret.
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:default=client-secret
	// +optional
	Key string `json:"key,omitempty"`
}

// CertificateReference names a Secret that holds a certificate and its key.
type CertificateReference struct {
	// secretName is a Secret with tls.crt (the certificate, PEM, optionally with its chain) and
	// tls.key (its private key, PEM), as cert-manager writes them.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +required
	SecretName string `json:"secretName"`
	// sendCertificateChain sends the chain with each token request (subject name/issuer
	// authentication).
	// +optional
	SendCertificateChain bool `json:"sendCertificateChain,omitempty"`
}

// WorkloadIdentityCredential uses the ServiceAccount token the workload identity webhook
// mounts into the operator's pod.
type WorkloadIdentityCredential struct {
	// tokenFile is the projected ServiceAccount token; default $AZURE_FEDERATED_TOKEN_FILE.
	// +kubebuilder:validation:MaxLength=4096
	// +optional
	TokenFile string `json:"tokenFile,omitempty"`
}

// ManagedIdentityCredential uses the host's managed identity.
type ManagedIdentityCredential struct{}

// GraphTenantStatus is what the operator found when it signed in to the tenant.
type GraphTenantStatus struct {
	// observedGeneration is the generation the status reflects.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// conditions: Ready (a token was obtained and the tenant read), PermissionsGranted (the
	// token holds every application permission the objects using the tenant need).
	// +listType=map
	// +listMapKey=type
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// displayName is the tenant's name as Graph reports it.
	// +optional
	DisplayName string `json:"displayName,omitempty"`

	// defaultDomain is the tenant's default verified domain.
	// +optional
	DefaultDomain string `json:"defaultDomain,omitempty"`

	// verifiedDomains are the tenant's verified domains.
	// +listType=atomic
	// +optional
	VerifiedDomains []string `json:"verifiedDomains,omitempty"`

	// grantedPermissions are the application permissions the token holds (its roles claim).
	// +listType=atomic
	// +optional
	GrantedPermissions []string `json:"grantedPermissions,omitempty"`

	// lastVerifiedAt is when a token was last obtained and the tenant read.
	// +optional
	LastVerifiedAt *metav1.Time `json:"lastVerifiedAt,omitempty"`
}

// GraphTenant is an Entra ID tenant the PartnerInvitations of its namespace may use
// (spec.tenantRef.kind GraphTenant), with the credentials to reach it from a Secret in the
// same namespace.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=gtenant,categories=partnerops
// +kubebuilder:printcolumn:name="Tenant-ID",type=string,JSONPath=`.spec.tenantID`
// +kubebuilder:printcolumn:name="Cloud",type=string,JSONPath=`.spec.cloud`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Display-Name",type=string,JSONPath=`.status.displayName`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].reason`,priority=1
type GraphTenant struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   GraphTenantSpec   `json:"spec"`
	Status GraphTenantStatus `json:"status,omitempty"`
}

// +kubebuilder:object:root=true

// GraphTenantList is a list of GraphTenants.
type GraphTenantList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []GraphTenant `json:"items"`
}

// ClusterGraphTenant is an Entra ID tenant for the whole cluster: PartnerInvitations in the
// namespaces a PartnerAccessPolicy allows it use it (spec.tenantRef.kind ClusterGraphTenant).
// Its Secrets are read from the operator's namespace.
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Cluster,shortName=cgtenant,categories=partnerops
// +kubebuilder:printcolumn:name="Tenant-ID",type=string,JSONPath=`.spec.tenantID`
// +kubebuilder:printcolumn:name="Cloud",type=string,JSONPath=`.spec.cloud`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Display-Name",type=string,JSONPath=`.status.displayName`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].reason`,priority=1
type ClusterGraphTenant struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   GraphTenantSpec   `json:"spec"`
	Status GraphTenantStatus `json:"status,omitempty"`
}

// +kubebuilder:object:root=true

// ClusterGraphTenantList is a list of ClusterGraphTenants.
type ClusterGraphTenantList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []ClusterGraphTenant `json:"items"`
}

// TenantReference names the tenant a PartnerInvitation's guest lives in.
type TenantReference struct {
	// kind is GraphTenant (in the invitation's namespace, the default) or ClusterGraphTenant.
	// +kubebuilder:validation:Enum=GraphTenant;ClusterGraphTenant
	// +kubebuilder:default=GraphTenant
	// +optional
	Kind string `json:"kind,omitempty"`
	// name of the tenant object.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +required
	Name string `json:"name"`
}

// TenantRule is one entry of a policy's allowedTenants.
type TenantRule struct {
	// kind is GraphTenant (a tenant in the invitation's own namespace) or ClusterGraphTenant.
	// +kubebuilder:validation:Enum=GraphTenant;ClusterGraphTenant
	// +required
	Kind string `json:"kind"`
	// name of the tenant object, or * for any of that kind.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +required
	Name string `json:"name"`
}

// DefaultTenantRule says whether invitations without spec.tenantRef, which use the tenant the
// operator's flags configure, are allowed.
// +kubebuilder:validation:Enum=Allow;Deny
type DefaultTenantRule string

const (
	DefaultTenantAllow DefaultTenantRule = "Allow"
	DefaultTenantDeny  DefaultTenantRule = "Deny"
)

// Tenant conditions and reasons.
const (
	// ConditionPermissionsGranted is True when the tenant's token holds every application
	// permission its objects need.
	ConditionPermissionsGranted = "PermissionsGranted"

	ReasonSignedIn           = "SignedIn"
	ReasonCredentialsInvalid = "CredentialsInvalid"
	ReasonSecretNotFound     = "SecretNotFound"
	ReasonUnknownCloud       = "UnknownCloud"
	// ReasonAmbientNotAllowed: a GraphTenant asks for the operator's own identity (workload or
	// managed identity), which the operator allows only to ClusterGraphTenants by default.
	ReasonAmbientNotAllowed  = "AmbientCredentialsNotAllowed"
	ReasonTenantMismatch     = "TenantMismatch"
	ReasonPermissionsMissing = "PermissionsMissing"
	ReasonAllGranted         = "AllGranted"

	// Reasons of a PartnerInvitation whose tenant cannot be used.
	ReasonTenantNotFound = "TenantNotFound"
	ReasonTenantNotReady = "TenantNotReady"
)

func init() {
	SchemeBuilder.Register(&GraphTenant{}, &GraphTenantList{}, &ClusterGraphTenant{}, &ClusterGraphTenantList{})
}

// TenantObject is a GraphTenant or a ClusterGraphTenant, for code that handles both the same
// way (cert-manager's GenericIssuer).
// +kubebuilder:object:generate=false
type TenantObject interface {
	client.Object
	TenantSpec() *GraphTenantSpec
	TenantStatus() *GraphTenantStatus
	// TenantKind is KindGraphTenant or KindClusterGraphTenant.
	TenantKind() string
}

func (t *GraphTenant) TenantSpec() *GraphTenantSpec            { return &t.Spec }
func (t *GraphTenant) TenantStatus() *GraphTenantStatus        { return &t.Status }
func (t *GraphTenant) TenantKind() string                      { return KindGraphTenant }
func (t *ClusterGraphTenant) TenantSpec() *GraphTenantSpec     { return &t.Spec }
func (t *ClusterGraphTenant) TenantStatus() *GraphTenantStatus { return &t.Status }
func (t *ClusterGraphTenant) TenantKind() string               { return KindClusterGraphTenant }
