package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// ApplicationRule allows granting roles of one application.
type ApplicationRule struct {
	// app is the application's appId or service principal object ID, as written in
	// spec.access.applications[].app, or "*" for any application.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=36
	// +kubebuilder:validation:XValidation:rule=`self == "*" || self.matches("^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")`,message=`must be an application's appId or its service principal's object ID (a GUID), or * for any application`
	// +required
	App string `json:"app"`
	// roles that may be granted, by ID or value as written in spec.access.applications[].role;
	// omitted or "*" allows any role, including default access.
	// +listType=set
	// +optional
	Roles []string `json:"roles,omitempty"`
}

// SendLimits bound the sends a namespace's invitations may ask for after the first one.
type SendLimits struct {
	// minInterval is the least time between two sends for one PartnerInvitation, the first
	// invitation included; a request that comes sooner is refused and forgotten. Default 1h.
	// +optional
	MinInterval *metav1.Duration `json:"minInterval,omitempty"`

	// perNamespacePerDay caps the resends and resets of one namespace in 24 hours; a request
	// beyond it is refused and forgotten. Default 20; 0 allows none.
	// +kubebuilder:validation:Minimum=0
	// +kubebuilder:validation:Maximum=10000
	// +optional
	PerNamespacePerDay *int32 `json:"perNamespacePerDay,omitempty"`
}

// AdoptionMode says what the operator may do with a guest it did not invite.
// +kubebuilder:validation:Enum=Deny;Adopt;AdoptAndDelete
type AdoptionMode string

const (
	// AdoptionDeny leaves an existing guest alone: the object reports AdoptionDenied.
	AdoptionDeny AdoptionMode = "Deny"
	// AdoptionAdopt takes an existing guest over (access, display name) but never deletes it;
	// deleting the object removes only the grants it made.
	AdoptionAdopt AdoptionMode = "Adopt"
	// AdoptionAdoptAndDelete also deletes the adopted guest with its object (deletionPolicy
	// Delete), while it is still a guest.
	AdoptionAdoptAndDelete AdoptionMode = "AdoptAndDelete"
)

// ConditionSignInActivity, on a PartnerAccessPolicy with spec.inactivity, says whether the
// operator reads the guests' sign-ins in every tenant.
const ConditionSignInActivity = "SignInActivity"

// SignInActivity's reasons: Read (True), and, False, NoPremiumLicense (the tenant lacks a
// Microsoft Entra ID P1 or P2 licence), PermissionDenied (AuditLog.Read.All is missing),
// NotRead (not read yet, or the read failed) and Disabled (--sign-in-interval=0).
const (
	ReasonSignInsRead      = "Read"
	ReasonNoPremiumLicense = "NoPremiumLicense"
	ReasonSignInsNotRead   = "NotRead"
	ReasonSignInsDisabled  = "Disabled"
)

// InactivityRule ends the access of redeemed guests who stopped signing in. The clock starts
// at the latest of the redemption, the last successful sign-in Graph reports
// (signInActivity.lastSuccessfulSignInDateTime) and the last recertification.
// +kubebuilder:validation:XValidation:rule=`!has(self.warn) || duration(self.warn) < duration(self.after)`,message=`warn must be shorter than after`,fieldPath=`.warn`
type InactivityRule struct {
	// after is how long a guest may go without signing in, for example "2160h" (90 days).
	// +kubebuilder:validation:XValidation:rule=`duration(self) >= duration('1s')`,message=`must be a positive duration such as 2160h`
	// +required
	After metav1.Duration `json:"after"`

	// action is taken once after has passed: RevokeAccess (the default), Disable or Delete,
	// as for expiry (Disable and Delete only where deleting the object would delete the
	// guest). A later sign-in does not undo it; a recertification or a policy change does.
	// +kubebuilder:default=RevokeAccess
	// +optional
	Action ExpiryAction `json:"action,omitempty"`

	// warn is how long before the action the object warns (condition ExpiringSoon, an event, a
	// metric). Default: the operator's --expiry-warning (7 days).
	// +optional
	Warn *metav1.Duration `json:"warn,omitempty"`
}

// RecertificationRule requires someone to confirm, in the object's spec.recertification, that
// each guest still needs its access.
// +kubebuilder:validation:XValidation:rule=`!has(self.warn) || duration(self.warn) < duration(self.every)`,message=`warn must be shorter than every`,fieldPath=`.warn`
type RecertificationRule struct {
	// every is how long a recertification holds, for example "4320h" (180 days), counted from
	// spec.recertification.at, or from the invitation until the first one.
	// +kubebuilder:validation:XValidation:rule=`duration(self) >= duration('1s')`,message=`must be a positive duration such as 4320h`
	// +required
	Every metav1.Duration `json:"every"`

	// action is taken when a recertification is overdue: RevokeAccess (the default), Disable
	// or Delete, as for expiry. Recertifying undoes it (a deleted guest is invited again).
	// +kubebuilder:default=RevokeAccess
	// +optional
	Action ExpiryAction `json:"action,omitempty"`

	// warn is how long before the due date the object warns. Default: the operator's
	// --expiry-warning (7 days).
	// +optional
	Warn *metav1.Duration `json:"warn,omitempty"`
}

// PartnerAccessPolicySpec bounds what PartnerInvitations in the selected namespaces may ask for.
// Every policy that selects a namespace applies: an invitation must satisfy all of them.
// The namespaceSelector's rules are here, not on the field: metav1.LabelSelector's schema is
// generated from its own type (policy_validation.go has them in Go).
// +kubebuilder:validation:XValidation:rule=`!has(self.namespaceSelector.matchExpressions) || self.namespaceSelector.matchExpressions.all(e, e.operator in ["In", "NotIn", "Exists", "DoesNotExist"])`,message=`namespaceSelector.matchExpressions: the operator must be In, NotIn, Exists or DoesNotExist`,fieldPath=`.namespaceSelector.matchExpressions`
// +kubebuilder:validation:XValidation:rule=`!has(self.namespaceSelector.matchExpressions) || self.namespaceSelector.matchExpressions.all(e, e.operator in ["In", "NotIn"] ? has(e.values) && size(e.values) > 0 : !(e.operator in ["Exists", "DoesNotExist"]) || !has(e.values) || size(e.values) == 0)`,message=`namespaceSelector.matchExpressions: In and NotIn need at least one value; Exists and DoesNotExist take none`,fieldPath=`.namespaceSelector.matchExpressions`
// +kubebuilder:validation:XValidation:rule=`!has(self.namespaceSelector.matchExpressions) || self.namespaceSelector.matchExpressions.all(e, !format.qualifiedName().validate(e.key).hasValue())`,message=`namespaceSelector.matchExpressions: each key must be a label key such as team or example.com/team: up to 63 letters, digits, '-', '_' or '.', beginning and ending with a letter or digit, optionally after a DNS subdomain and a '/'`,fieldPath=`.namespaceSelector.matchExpressions`
// +kubebuilder:validation:XValidation:rule=`!has(self.namespaceSelector.matchExpressions) || self.namespaceSelector.matchExpressions.all(e, !has(e.values) || e.values.all(v, !format.labelValue().validate(v).hasValue()))`,message=`namespaceSelector.matchExpressions: each value must be a label value: up to 63 letters, digits, '-', '_' or '.', beginning and ending with a letter or digit`,fieldPath=`.namespaceSelector.matchExpressions`
// +kubebuilder:validation:XValidation:rule=`!has(self.namespaceSelector.matchLabels) || self.namespaceSelector.matchLabels.all(k, !format.qualifiedName().validate(k).hasValue())`,message=`namespaceSelector.matchLabels: each key must be a label key such as team or example.com/team: up to 63 letters, digits, '-', '_' or '.', beginning and ending with a letter or digit, optionally after a DNS subdomain and a '/'`,fieldPath=`.namespaceSelector.matchLabels`
// +kubebuilder:validation:XValidation:rule=`!has(self.namespaceSelector.matchLabels) || self.namespaceSelector.matchLabels.all(k, !format.labelValue().validate(self.namespaceSelector.matchLabels[k]).hasValue())`,message=`namespaceSelector.matchLabels: each value must be a label value: up to 63 letters, digits, '-', '_' or '.', beginning and ending with a letter or digit, or empty`,fieldPath=`.namespaceSelector.matchLabels`
type PartnerAccessPolicySpec struct {
	// namespaceSelector selects the namespaces the policy governs by label; an empty selector
	// selects every namespace.
	// +required
	NamespaceSelector metav1.LabelSelector `json:"namespaceSelector"`

	// allowedDomains lists the invitee email domains that may be invited: "contoso.com" (that
	// domain), "*.contoso.com" (its subdomains), or "*"; any case, without "@" or a trailing
	// dot, an international domain in punycode (xn--...). Omitted: any domain not denied.
	// +kubebuilder:validation:MaxItems=1000
	// +kubebuilder:validation:items:MaxLength=253
	// +kubebuilder:validation:items:XValidation:rule=`self.matches("^([*]|[*][.][A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?([.][A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*|[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?([.][A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+)$")`,messageExpression=`self.startsWith("@") && self.substring(1).matches("^([*]|[*][.][A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?([.][A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*|[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?([.][A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+)$") ? "write the domain without the @: " + self.substring(1) : "must be a domain such as contoso.com, *.contoso.com for its subdomains, or * for any: labels of letters, digits and hyphens joined by single dots, no @, no spaces, no dot at the end; an international domain in punycode (xn--...)"`
	// +listType=set
	// +optional
	AllowedDomains []string `json:"allowedDomains,omitempty"`

	// deniedDomains lists domains that may never be invited, in the same forms; a denial wins
	// over an allowance. A list of consumer mail domains is in config/samples.
	// +kubebuilder:validation:MaxItems=1000
	// +kubebuilder:validation:items:MaxLength=253
	// +kubebuilder:validation:items:XValidation:rule=`self.matches("^([*]|[*][.][A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?([.][A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*|[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?([.][A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+)$")`,messageExpression=`self.startsWith("@") && self.substring(1).matches("^([*]|[*][.][A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?([.][A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*|[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?([.][A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+)$") ? "write the domain without the @: " + self.substring(1) : "must be a domain such as contoso.com, *.contoso.com for its subdomains, or * for any: labels of letters, digits and hyphens joined by single dots, no @, no spaces, no dot at the end; an international domain in punycode (xn--...)"`
	// +listType=set
	// +optional
	DeniedDomains []string `json:"deniedDomains,omitempty"`

	// allowedGroups lists the groups that may be granted, as written in spec.access.groups (object
	// ID or display name), or "*". Groups not listed may not be granted.
	// +kubebuilder:validation:items:MinLength=1
	// +kubebuilder:validation:items:MaxLength=256
	// +listType=set
	// +optional
	AllowedGroups []string `json:"allowedGroups,omitempty"`

	// allowedApplications lists the applications, and their roles, that may be granted.
	// Applications not listed may not be granted.
	// +kubebuilder:validation:MaxItems=200
	// +listType=atomic
	// +optional
	AllowedApplications []ApplicationRule `json:"allowedApplications,omitempty"`

	// allowMemberUserType lets invitations ask for userType Member.
	// +optional
	AllowMemberUserType bool `json:"allowMemberUserType,omitempty"`

	// allowCustomMessage lets invitations set spec.message.body.
	// +optional
	AllowCustomMessage bool `json:"allowCustomMessage,omitempty"`

	// allowResetRedemption lets invitations ask, with the annotation
	// b2b.partnerops.io/reset-redemption-requested-at, for a redeemed guest's redemption to be
	// reset: the partner then redeems again, possibly with another account. It is a
	// security-sensitive act (whoever redeems the new link gets the guest's access).
	// +optional
	AllowResetRedemption bool `json:"allowResetRedemption,omitempty"`

	// adoption says whether a PartnerInvitation may take over a guest account the operator did
	// not invite (one that already holds the address): Deny (the default) refuses and touches
	// nothing; Adopt manages it but never deletes it; AdoptAndDelete also deletes it with its
	// object. Member accounts are never adopted, whatever this says.
	// +kubebuilder:default=Deny
	// +optional
	Adoption AdoptionMode `json:"adoption,omitempty"`

	// allowPromotion lets an invitation change the userType of an adopted account (for
	// example make a guest a Member). Without it an adopted account keeps its userType.
	// +optional
	AllowPromotion bool `json:"allowPromotion,omitempty"`

	// maxAccessDuration caps how long a guest invited from a selected namespace keeps access,
	// counted from the invitation (or, for an adopted guest, from the object's creation), for
	// example "2160h" for 90 days. The earlier of this and spec.expiresAt applies, with the
	// invitation's spec.expiryAction.
	// +optional
	MaxAccessDuration *metav1.Duration `json:"maxAccessDuration,omitempty"`

	// pendingTimeout expires an invitation not redeemed within this long after it was last
	// sent, with the invitation's spec.expiryAction. A resend starts the time again.
	// +optional
	PendingTimeout *metav1.Duration `json:"pendingTimeout,omitempty"`

	// inactivity ends the access of redeemed guests who have not signed in for a while. It
	// needs the application permission AuditLog.Read.All and a Microsoft Entra ID P1 or P2
	// licence in the tenant; without them it is not enforced, and the policy's SignInActivity
	// condition says why. Invitations never redeemed are pendingTimeout's.
	// +optional
	Inactivity *InactivityRule `json:"inactivity,omitempty"`

	// recertification requires each guest of the selected namespaces to be recertified
	// (spec.recertification of its PartnerInvitation, a reviewed commit or kubectl partner
	// recertify) at least this often.
	// +optional
	Recertification *RecertificationRule `json:"recertification,omitempty"`

	// sendLimits bound how often invitations of the selected namespaces may be sent again (the
	// resend and reset-redemption annotations). Without a policy, and for what a policy leaves
	// out, one send per object per hour and 20 per namespace per day apply; where several
	// policies select a namespace, the strictest limit wins.
	// +optional
	SendLimits *SendLimits `json:"sendLimits,omitempty"`

	// allowCrossNamespaceHandover lets a deleted invitation hand its guest over to an object in
	// another namespace that asks for the same address. The handover happens only when a policy
	// that selects both namespaces allows it; otherwise the waiting object stays in Conflict and
	// the holder's deletionPolicy applies.
	// +optional
	AllowCrossNamespaceHandover bool `json:"allowCrossNamespaceHandover,omitempty"`

	// requireOrganization lets invitations go only to addresses in the domains of a
	// PartnerOrganization: partners, not anyone with a mailbox. The cluster owner declares the
	// organizations; the operator lists their domains in this policy's status, which admission
	// reads.
	// +optional
	RequireOrganization bool `json:"requireOrganization,omitempty"`

	// maxInvitationsPerNamespace caps the PartnerInvitations of each selected namespace; the
	// oldest objects keep their place.
	// +kubebuilder:validation:Minimum=0
	// +optional
	MaxInvitationsPerNamespace *int32 `json:"maxInvitationsPerNamespace,omitempty"`

	// allowedTenants are the tenant objects invitations in the selected namespaces may name in
	// spec.tenantRef (name * for any of a kind; a GraphTenant is always the invitation's own
	// namespace's). Empty: none, only the default tenant.
	// +kubebuilder:validation:MaxItems=64
	// +listType=atomic
	// +optional
	AllowedTenants []TenantRule `json:"allowedTenants,omitempty"`

	// defaultTenant says whether invitations without spec.tenantRef, which use the tenant of the
	// operator's flags, are allowed: Allow (the default) or Deny.
	// +kubebuilder:default=Allow
	// +optional
	DefaultTenant DefaultTenantRule `json:"defaultTenant,omitempty"`
}

// PartnerAccessPolicyStatus says whether the operator applies the policy.
type PartnerAccessPolicyStatus struct {
	// observedGeneration is the generation the conditions describe.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// conditions: Ready is True (reason Valid) when the operator applies the policy, False
	// (reason Invalid, the message naming the field) when the spec breaks a rule the API server
	// enforces today but did not when the policy was written; the operator then ignores the
	// policy, so it affects no namespace, and a namespace only it would select is treated as
	// one no policy selects (denied by default). With spec.inactivity, SignInActivity says
	// whether the operator can read the guests' sign-ins in every tenant (True, reason Read)
	// or not (False, naming the tenants and the permission or licence they lack).
	// +listType=map
	// +listMapKey=type
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// organizationDomains are the domains of every PartnerOrganization, lower-cased and sorted,
	// when spec.requireOrganization is set: what admission checks invitations against. Only
	// the operator writes it.
	// +kubebuilder:validation:MaxItems=5000
	// +kubebuilder:validation:items:MaxLength=253
	// +listType=atomic
	// +optional
	OrganizationDomains []string `json:"organizationDomains,omitempty"`
}

// PartnerAccessPolicy bounds, for the namespaces it selects, which partners may be invited and
// which groups and applications they may be granted. It is enforced at admission (a
// ValidatingAdmissionPolicy with this kind as its parameter) and by the controller for objects
// admitted before the policy changed.
// +kubebuilder:object:root=true
// +kubebuilder:resource:scope=Cluster,shortName=pap,categories=partnerops
// +kubebuilder:subresource:status
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Max",type=integer,JSONPath=`.spec.maxInvitationsPerNamespace`
// +kubebuilder:printcolumn:name="Member",type=boolean,JSONPath=`.spec.allowMemberUserType`
// +kubebuilder:printcolumn:name="Adoption",type=string,JSONPath=`.spec.adoption`
// +kubebuilder:printcolumn:name="Inactivity",type=string,JSONPath=`.spec.inactivity.after`,priority=1
// +kubebuilder:printcolumn:name="Recertify",type=string,JSONPath=`.spec.recertification.every`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type PartnerAccessPolicy struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec is the bound.
	// +required
	Spec PartnerAccessPolicySpec `json:"spec"`

	// status says whether the operator applies the policy.
	// +optional
	Status PartnerAccessPolicyStatus `json:"status,omitempty"`
}

// PartnerAccessPolicyList is a list of PartnerAccessPolicies.
// +kubebuilder:object:root=true
type PartnerAccessPolicyList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []PartnerAccessPolicy `json:"items"`
}

func init() {
	SchemeBuilder.Register(&PartnerAccessPolicy{}, &PartnerAccessPolicyList{})
}
