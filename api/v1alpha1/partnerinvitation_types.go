package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// DeletionPolicy says what happens to the guest account when its PartnerInvitation is deleted.
// +kubebuilder:validation:Enum=Delete;Orphan
type DeletionPolicy string

const (
	// DeletionPolicyDelete removes the guest user from the directory.
	DeletionPolicyDelete DeletionPolicy = "Delete"
	// DeletionPolicyOrphan leaves the guest user in the directory.
	DeletionPolicyOrphan DeletionPolicy = "Orphan"
)

// UserType is the Entra ID user type of the invited account.
// +kubebuilder:validation:Enum=Guest;Member
type UserType string

const (
	UserTypeGuest  UserType = "Guest"
	UserTypeMember UserType = "Member"
)

// ExpiryRule is the kind of limit that ended a guest's access.
type ExpiryRule string

const (
	RuleExpiresAt         ExpiryRule = "ExpiresAt"
	RuleMaxAccessDuration ExpiryRule = "MaxAccessDuration"
	RulePendingTimeout    ExpiryRule = "PendingTimeout"
	// RuleInactivity: no sign-in for a policy's inactivity.after.
	RuleInactivity ExpiryRule = "Inactivity"
	// RuleRecertification: not recertified within a policy's recertification.every.
	RuleRecertification ExpiryRule = "Recertification"
)

// ExpiryAction is what the operator does when the guest's access ends.
// +kubebuilder:validation:Enum=RevokeAccess;Disable;Delete
type ExpiryAction string

const (
	// ExpiryRevokeAccess removes every grant this object made; the account stays.
	ExpiryRevokeAccess ExpiryAction = "RevokeAccess"
	// ExpiryDisable blocks sign-in (accountEnabled false); reversible.
	ExpiryDisable ExpiryAction = "Disable"
	// ExpiryDelete removes the guest account, under the same rules as deleting the object.
	ExpiryDelete ExpiryAction = "Delete"
)

// InvitationState is the redemption state Graph reports for the guest (externalUserState).
type InvitationState string

const (
	StatePendingAcceptance InvitationState = "PendingAcceptance"
	StateAccepted          InvitationState = "Accepted"
)

// InvitationMessage customises the invitation mail.
type InvitationMessage struct {
	// body is a plain-text message added to the invitation mail. Graph drops it when the
	// operator runs with application (app-only) credentials.
	// +kubebuilder:validation:MaxLength=2000
	// +optional
	Body string `json:"body,omitempty"`

	// language of the invitation mail as a BCP 47 tag such as "en-US" or "de-DE";
	// the default is en-US.
	// +kubebuilder:validation:XValidation:rule=`self.matches("^[a-zA-Z]{2,3}(-[a-zA-Z0-9]{2,8})*$")`,message=`must be a BCP 47 language tag such as en-US`
	// +kubebuilder:validation:MaxLength=35
	// +optional
	Language string `json:"language,omitempty"`

	// ccRecipients receive a copy of the invitation mail, written as spec.email is. Graph
	// accepts at most one.
	// +kubebuilder:validation:MaxItems=1
	// +kubebuilder:validation:items:MaxLength=254
	// +kubebuilder:validation:items:XValidation:rule=`self.matches("^[A-Za-z0-9_'](([.]?[A-Za-z0-9_'-])*[.]?[A-Za-z0-9_'])?@[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?([.][A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$") && self.matches("^[^@]{1,64}@")`,messageExpression=`!self.matches("^[^@<>[:space:]]+@[^@<>[:space:]]+$") ? "must be one bare mail address such as partner@fabrikam.com: a name, one @ and a domain, with no spaces, display name or angle brackets" : !(self.matches("^[A-Za-z0-9_'](([.]?[A-Za-z0-9_'-])*[.]?[A-Za-z0-9_'])?@") && self.matches("^[^@]{1,64}@")) ? "the name before the @ may hold only ASCII letters, digits and the characters . - _ ' (Microsoft Graph refuses + and other special characters in invited addresses); it must not start or end with a dot or a hyphen, hold two dots in a row, or be longer than 64 characters" : "the domain after the @ must be at least two labels of ASCII letters, digits and hyphens joined by single dots, such as fabrikam.com: no empty label, none longer than 63 characters or starting or ending with a hyphen, no dot at the end; write an international domain in punycode (xn--...)"`
	// +listType=atomic
	// +optional
	CCRecipients []string `json:"ccRecipients,omitempty"`
}

// PartnerAccess is what the partner is invited to.
type PartnerAccess struct {
	// groups the guest becomes a member of: group object IDs, or display names that resolve to
	// exactly one group.
	// +kubebuilder:validation:MaxItems=50
	// +kubebuilder:validation:items:MinLength=1
	// +kubebuilder:validation:items:MaxLength=256
	// +listType=set
	// +optional
	Groups []string `json:"groups,omitempty"`

	// applications the guest is assigned to, with an app role.
	// +kubebuilder:validation:MaxItems=50
	// +listType=atomic
	// +optional
	Applications []ApplicationAccess `json:"applications,omitempty"`
}

// ApplicationAccess assigns the guest an app role of an application.
type ApplicationAccess struct {
	// app is the application's appId (client ID) or its service principal's object ID.
	// +kubebuilder:validation:MaxLength=36
	// +kubebuilder:validation:XValidation:rule=`self.matches("^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")`,message=`must be an application's appId or its service principal's object ID (a GUID)`
	// +required
	App string `json:"app"`

	// role is the app role's ID or its value (for example "Partner.Read"). Leave it empty for
	// default access to an application that defines no roles.
	// +kubebuilder:validation:MaxLength=256
	// +optional
	Role string `json:"role,omitempty"`
}

// GuestProfile is the guest's directory profile. Only the fields set here are managed (patched
// in place when they drift); the others are left as the directory has them.
type GuestProfile struct {
	// givenName is the guest's first name.
	// +kubebuilder:validation:MaxLength=64
	// +optional
	GivenName string `json:"givenName,omitempty"`
	// surname is the guest's last name.
	// +kubebuilder:validation:MaxLength=64
	// +optional
	Surname string `json:"surname,omitempty"`
	// companyName is the partner's company.
	// +kubebuilder:validation:MaxLength=64
	// +optional
	CompanyName string `json:"companyName,omitempty"`
	// department within the partner's company.
	// +kubebuilder:validation:MaxLength=64
	// +optional
	Department string `json:"department,omitempty"`
	// jobTitle of the guest.
	// +kubebuilder:validation:MaxLength=128
	// +optional
	JobTitle string `json:"jobTitle,omitempty"`
	// usageLocation is a two-letter country code (ISO 3166), needed to assign licenses.
	// +kubebuilder:validation:XValidation:rule=`self.matches("^[A-Z]{2}$")`,message=`must be a two-letter country code in capitals, such as DE`
	// +optional
	UsageLocation string `json:"usageLocation,omitempty"`
	// employeeType, for example "Contractor" or "Consultant".
	// +kubebuilder:validation:MaxLength=64
	// +optional
	EmployeeType string `json:"employeeType,omitempty"`
}

// PartnerInvitationSpec is the partner to invite and how.
type PartnerInvitationSpec struct {
	// email is the partner's mail address: the invitation goes there, and it identifies the
	// guest account in the directory. It cannot be changed; create a new object instead. It is a
	// bare address Microsoft Graph accepts: ASCII letters, digits and . - _ ' before the @ (no +
	// or other special characters), a domain such as fabrikam.com after it; an international
	// domain is written in punycode (xn--...).
	// +kubebuilder:validation:MinLength=3
	// +kubebuilder:validation:MaxLength=254
	// +kubebuilder:validation:XValidation:rule="self == oldSelf",message="email is immutable; create a new PartnerInvitation to invite another address"
	// +kubebuilder:validation:XValidation:rule=`self.matches("^[A-Za-z0-9_'](([.]?[A-Za-z0-9_'-])*[.]?[A-Za-z0-9_'])?@[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?([.][A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$") && self.matches("^[^@]{1,64}@")`,messageExpression=`!self.matches("^[^@<>[:space:]]+@[^@<>[:space:]]+$") ? "must be one bare mail address such as partner@fabrikam.com: a name, one @ and a domain, with no spaces, display name or angle brackets" : !(self.matches("^[A-Za-z0-9_'](([.]?[A-Za-z0-9_'-])*[.]?[A-Za-z0-9_'])?@") && self.matches("^[^@]{1,64}@")) ? "the name before the @ may hold only ASCII letters, digits and the characters . - _ ' (Microsoft Graph refuses + and other special characters in invited addresses); it must not start or end with a dot or a hyphen, hold two dots in a row, or be longer than 64 characters" : "the domain after the @ must be at least two labels of ASCII letters, digits and hyphens joined by single dots, such as fabrikam.com: no empty label, none longer than 63 characters or starting or ending with a hyphen, no dot at the end; write an international domain in punycode (xn--...)"`
	// +required
	Email string `json:"email"`

	// displayName of the guest account. When empty, Graph derives one from the address.
	// Changing it renames the guest in place.
	// +kubebuilder:validation:MaxLength=256
	// +optional
	DisplayName string `json:"displayName,omitempty"`

	// redirectURL is where the partner lands after redeeming the invitation.
	// +kubebuilder:validation:MaxLength=2048
	// +kubebuilder:validation:XValidation:rule=`self.startsWith("https://") && isURL(self) && url(self).getHostname() != ""`,message=`redirectURL must be an https:// URL with a host, such as https://myapps.microsoft.com`
	// +kubebuilder:default="https://myapps.microsoft.com"
	// +optional
	RedirectURL string `json:"redirectURL,omitempty"`

	// userType of the account: Guest (the default) or Member. Inviting as Member needs an
	// administrator role for the operator's identity. Changing it updates the account in place.
	// +kubebuilder:default=Guest
	// +optional
	UserType UserType `json:"userType,omitempty"`

	// sendInvitationMessage mails the invitation to the partner. It defaults to true here,
	// although Graph's own default is false.
	// +kubebuilder:default=true
	// +optional
	SendInvitationMessage *bool `json:"sendInvitationMessage,omitempty"`

	// message customises the invitation mail.
	// +optional
	Message *InvitationMessage `json:"message,omitempty"`

	// profile sets the guest's profile fields (company, department, job title, names, usage
	// location, employee type), patched in place when they drift, never by inviting again.
	// +optional
	Profile *GuestProfile `json:"profile,omitempty"`

	// sponsors are the people responsible for the guest: object IDs or user principal names of
	// member users, or object IDs of groups. They are sent with the invitation and kept in sync
	// afterwards; sponsors someone else added are left alone.
	// +kubebuilder:validation:MaxItems=5
	// +kubebuilder:validation:items:MaxLength=256
	// +kubebuilder:validation:items:XValidation:rule=`self.matches("^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$") || self.matches("^[^@[:space:]/]+@[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?([.][A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$")`,message=`must be an object ID (a GUID) or a user principal name such as jane@contoso.com, whose domain is dot-separated labels of letters, digits and hyphens`
	// +listType=set
	// +optional
	Sponsors []string `json:"sponsors,omitempty"`

	// expiresAt ends the guest's access at this time (RFC 3339). A PartnerAccessPolicy's
	// maxAccessDuration or pendingTimeout may end it earlier; status.expiresAt shows the
	// effective time. Moving it later restores what the expiry removed or disabled.
	// +optional
	ExpiresAt *metav1.Time `json:"expiresAt,omitempty"`

	// expiryAction is what happens at expiry: RevokeAccess (the default) removes every grant
	// this object made, Disable blocks sign-in, Delete removes the guest account (only where
	// deleting the object would).
	// +kubebuilder:default=RevokeAccess
	// +optional
	ExpiryAction ExpiryAction `json:"expiryAction,omitempty"`

	// recertification is the latest confirmation that the guest still needs its access, for a
	// PartnerAccessPolicy's recertification rule: a reviewed commit, or kubectl partner
	// recertify. A newer at restarts the policy's clock, and undoes what an overdue
	// recertification or inactivity did. A time in the future is not accepted as a
	// recertification.
	// +optional
	Recertification *Recertification `json:"recertification,omitempty"`

	// access lists the groups and applications the guest is granted. The operator grants them
	// after the invitation, without waiting for redemption, and revokes what it granted when an
	// entry leaves this list.
	// +optional
	Access *PartnerAccess `json:"access,omitempty"`

	// deletionPolicy says what happens to the guest account when this object is deleted:
	// Delete (the default) removes it from the directory, Orphan leaves it there.
	// +kubebuilder:default=Delete
	// +optional
	DeletionPolicy DeletionPolicy `json:"deletionPolicy,omitempty"`

	// tenantRef names the GraphTenant (in this namespace) or ClusterGraphTenant whose
	// directory the guest lives in; without it, the tenant the operator's flags configure. A
	// PartnerAccessPolicy must allow the namespace the tenant. Once the guest exists, the
	// reference may change only to another object for the same tenant ID.
	// +optional
	TenantRef *TenantReference `json:"tenantRef,omitempty"`
}

// Recertification records who confirmed that a guest still needs its access, when and why.
type Recertification struct {
	// at is when the access was confirmed (RFC 3339).
	// +required
	At metav1.Time `json:"at"`
	// by names who confirmed it, for example a mail address.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=256
	// +required
	By string `json:"by"`
	// reason says why the access is still needed.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=1024
	// +required
	Reason string `json:"reason"`
}

// PartnerInvitationStatus is the observed state of the invitation and the guest account.
type PartnerInvitationStatus struct {
	// observedGeneration is the generation the status reflects, set after a reconcile succeeds.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// conditions: Ready (the invitation exists and matches the spec), Invited, Redeemed, and
	// Stalled (a terminal error that needs a change to the spec).
	// +listType=map
	// +listMapKey=type
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// userID is the object ID of the guest account in Entra ID.
	// +optional
	UserID string `json:"userID,omitempty"`

	// state is the redemption state: PendingAcceptance until the partner redeems, then Accepted.
	// +optional
	State InvitationState `json:"state,omitempty"`

	// invitedAt is when the operator sent the invitation.
	// +optional
	InvitedAt *metav1.Time `json:"invitedAt,omitempty"`

	// redeemedAt is when the partner accepted the invitation, as Graph reports it.
	// +optional
	RedeemedAt *metav1.Time `json:"redeemedAt,omitempty"`

	// adopted is true when the guest already existed and was taken over without a new invitation.
	// +optional
	Adopted bool `json:"adopted,omitempty"`

	// access lists the grants in effect for the guest.
	// +optional
	Access *AccessStatus `json:"access,omitempty"`

	// redeemURLSecretName names the Secret, owned by this object, that holds the redemption URL
	// under the key "redeemURL". Graph returns the URL only once, when it creates the invitation.
	// +optional
	RedeemURLSecretName string `json:"redeemURLSecretName,omitempty"`

	// lastSentAt is when the invitation was last sent: the first time, a resend, or a reset.
	// +optional
	LastSentAt *metav1.Time `json:"lastSentAt,omitempty"`

	// lastHandledResendAt is the value of the b2b.partnerops.io/resend-requested-at annotation
	// the operator last handled; a new value asks for another resend.
	// +optional
	LastHandledResendAt string `json:"lastHandledResendAt,omitempty"`

	// sponsors lists the guest's sponsors that spec.sponsors asks for.
	// +listType=atomic
	// +optional
	Sponsors []SponsorGrant `json:"sponsors,omitempty"`

	// expiresAt is when the guest's access ends: the earliest of spec.expiresAt and the limits
	// of the PartnerAccessPolicies that select the namespace.
	// +optional
	ExpiresAt *metav1.Time `json:"expiresAt,omitempty"`

	// expiryRule is the kind of limit that sets expiresAt: ExpiresAt, MaxAccessDuration,
	// PendingTimeout, Inactivity or Recertification.
	// +optional
	ExpiryRule ExpiryRule `json:"expiryRule,omitempty"`

	// expiry records what the operator did when access ended, written before it acts, so that
	// it can be undone when the expiry moves later.
	// +optional
	Expiry *ExpiryStatus `json:"expiry,omitempty"`

	// lastHandledResetAt is the value of the b2b.partnerops.io/reset-redemption-requested-at
	// annotation the operator last handled.
	// +optional
	LastHandledResetAt string `json:"lastHandledResetAt,omitempty"`

	// tenantID is the directory (tenant) ID the guest lives in, recorded with the invitation.
	// +optional
	TenantID string `json:"tenantID,omitempty"`

	// organization is the PartnerOrganization whose domains hold the address; empty when none
	// declares it.
	// +optional
	Organization string `json:"organization,omitempty"`

	// lastSignInAt is the guest's last successful sign-in, as Graph's signInActivity reports
	// it (read for the whole tenant every few hours, not per object); absent when Graph has no
	// record or the operator cannot read it (see the PartnerAccessPolicy's SignInActivity).
	// +optional
	LastSignInAt *metav1.Time `json:"lastSignInAt,omitempty"`

	// recertificationDueAt is when the guest must next be recertified, when a selecting
	// PartnerAccessPolicy requires recertification.
	// +optional
	RecertificationDueAt *metav1.Time `json:"recertificationDueAt,omitempty"`

	// automaticallyRedeemed is true when Graph redeemed the invitation as it was sent (automatic
	// redemption, allowed by both organizations' cross-tenant access settings): no mail, no
	// consent prompt.
	// +optional
	AutomaticallyRedeemed bool `json:"automaticallyRedeemed,omitempty"`
}

// AccessStatus lists the grants in effect for the guest.
type AccessStatus struct {
	// groups the guest is a member of because the spec asks for it.
	// +listType=atomic
	// +optional
	Groups []GroupGrant `json:"groups,omitempty"`
	// applications the guest is assigned to because the spec asks for it.
	// +listType=atomic
	// +optional
	Applications []AppRoleGrant `json:"applications,omitempty"`
}

// SponsorGrant is one sponsor of the guest.
type SponsorGrant struct {
	// ref is the entry of spec.sponsors this sponsor satisfies.
	Ref string `json:"ref"`
	// id is the sponsor's object ID.
	ID string `json:"id"`
	// type is "user" or "group".
	Type string `json:"type"`
	// managed is true when this object made the sponsorship (and so removes it when the entry
	// leaves the spec); false when someone else had.
	Managed bool `json:"managed"`
}

// ExpiryStatus is what the operator did when the guest's access ended.
type ExpiryStatus struct {
	// action taken: RevokeAccess, Disable or Delete.
	Action ExpiryAction `json:"action"`
	// at is the expiry time the action answered.
	At metav1.Time `json:"at"`
	// source names what set that time (spec.expiresAt, or a policy's limit).
	Source string `json:"source"`
	// rule is the kind of limit: ExpiresAt, MaxAccessDuration, PendingTimeout, Inactivity or
	// Recertification.
	// +optional
	Rule ExpiryRule `json:"rule,omitempty"`
	// note says why the action differs from spec.expiryAction, when it does (for example a
	// Delete the deletion rules do not allow).
	// +optional
	Note string `json:"note,omitempty"`
}

// GroupGrant is one group membership.
type GroupGrant struct {
	// ref is the entry of spec.access.groups this grant satisfies.
	Ref string `json:"ref"`
	// id is the group's object ID.
	ID string `json:"id"`
	// managed is true when this object added the membership (and so removes it when the entry
	// leaves the spec); false when the guest was already a member.
	Managed bool `json:"managed"`
}

// AppRoleGrant is one app role assignment.
type AppRoleGrant struct {
	// app is the entry's app as written in the spec.
	App string `json:"app"`
	// role is the entry's role as written in the spec (empty for default access).
	// +optional
	Role string `json:"role,omitempty"`
	// servicePrincipalID is the application's service principal.
	ServicePrincipalID string `json:"servicePrincipalID"`
	// appRoleID is the resolved role ID.
	AppRoleID string `json:"appRoleID"`
	// assignmentID is the app role assignment's ID, when this object created it.
	// +optional
	AssignmentID string `json:"assignmentID,omitempty"`
	// managed is true when this object created the assignment (and so removes it when the
	// entry leaves the spec); false when it already existed.
	Managed bool `json:"managed"`
}

// PartnerInvitation invites an external partner into the Entra ID tenant as a B2B guest and
// tracks the invitation until the partner redeems it. Deleting it removes the guest account
// (see spec.deletionPolicy).
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=pinv,categories=partnerops
// +kubebuilder:printcolumn:name="Email",type=string,JSONPath=`.spec.email`
// +kubebuilder:printcolumn:name="Organization",type=string,JSONPath=`.status.organization`
// +kubebuilder:printcolumn:name="State",type=string,JSONPath=`.status.state`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Expires",type=date,JSONPath=`.status.expiresAt`
// +kubebuilder:printcolumn:name="Last-Sign-In",type=date,JSONPath=`.status.lastSignInAt`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
// +kubebuilder:printcolumn:name="User-ID",type=string,JSONPath=`.status.userID`,priority=1
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].reason`,priority=1
// +kubebuilder:printcolumn:name="Tenant",type=string,JSONPath=`.spec.tenantRef.name`,priority=1
// +kubebuilder:printcolumn:name="Recertify-By",type=date,JSONPath=`.status.recertificationDueAt`,priority=1
type PartnerInvitation struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// spec is the partner to invite.
	// +required
	Spec PartnerInvitationSpec `json:"spec"`

	// status is what the operator observed.
	// +optional
	Status PartnerInvitationStatus `json:"status,omitempty"`
}

// PartnerInvitationList is a list of PartnerInvitations.
// +kubebuilder:object:root=true
type PartnerInvitationList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []PartnerInvitation `json:"items"`
}

func init() {
	SchemeBuilder.Register(&PartnerInvitation{}, &PartnerInvitationList{})
}
