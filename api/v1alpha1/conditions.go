package v1alpha1

// Condition types reported in status.conditions.
const (
	// ConditionReady is True when the invitation exists and the guest matches the spec.
	// It does not wait for redemption, which is a person's act and may take days.
	ConditionReady = "Ready"
	// ConditionInvited is True once Graph has an invitation (or an adopted guest) for the email.
	ConditionInvited = "Invited"
	// ConditionRedeemed is True once the partner has accepted the invitation.
	ConditionRedeemed = "Redeemed"
	// ConditionAccessGranted is True when every group and app role in spec.access is granted.
	ConditionAccessGranted = "AccessGranted"
	// ConditionStalled is True when reconciling hit an error that retrying cannot fix.
	ConditionStalled = "Stalled"
)

// Condition reasons. They are part of the API: tools and alerts may match on them.
const (
	ReasonInvitationSent    = "InvitationSent"
	ReasonAdopted           = "Adopted"
	ReasonReinvited         = "Reinvited"
	ReasonInSync            = "InSync"
	ReasonPendingAcceptance = "PendingAcceptance"
	ReasonAccepted          = "Accepted"
	ReasonNotInvited        = "NotInvited"
	ReasonConflict          = "Conflict"
	ReasonGraphError        = "GraphError"
	ReasonThrottled         = "Throttled"
	ReasonInvalidSpec       = "InvalidSpec"
	ReasonDeleting          = "Deleting"
	ReasonPolicyDenied      = "PolicyDenied"
	ReasonGranted           = "Granted"
	ReasonAccessPending     = "AccessPending"
	ReasonGroupNotFound     = "GroupNotFound"
	ReasonAmbiguousGroup    = "AmbiguousGroup"
	ReasonAppNotFound       = "ApplicationNotFound"
	ReasonRoleNotFound      = "RoleNotFound"
)

// Annotations and finalizer owned by the operator.
const (
	// Finalizer keeps the object until the guest has been removed (or orphaned).
	Finalizer = "b2b.partnerops.io/guest-cleanup"
	// AnnotationPaused stops reconciliation while set to "true".
	AnnotationPaused = "b2b.partnerops.io/paused"
	// AnnotationCreatePending is written, with an optimistic lock, before the invitation is sent.
	AnnotationCreatePending = "b2b.partnerops.io/external-create-pending"
	// AnnotationCreateSucceeded is written after Graph accepted the invitation.
	AnnotationCreateSucceeded = "b2b.partnerops.io/external-create-succeeded"
	// AnnotationExternalName holds the guest's user ID, the fact that cannot be recomputed.
	AnnotationExternalName = "b2b.partnerops.io/external-name"
	// LabelInvitation marks Secrets that belong to a PartnerInvitation (also a cache selector).
	LabelInvitation = "b2b.partnerops.io/invitation"
)
