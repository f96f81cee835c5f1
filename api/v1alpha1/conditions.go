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
	// ConditionExpired is True once the guest's access has ended (status.expiresAt passed and
	// the expiry action taken). An expired object is in its desired state: Ready stays True.
	ConditionExpired = "Expired"
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
	// ReasonAutomaticRedemption: Graph redeemed the invitation as it was sent.
	ReasonAutomaticRedemption = "AutomaticRedemption"
	ReasonNotInvited          = "NotInvited"
	ReasonConflict            = "Conflict"
	ReasonGraphError          = "GraphError"
	ReasonThrottled           = "Throttled"
	ReasonInvalidSpec         = "InvalidSpec"
	ReasonDeleting            = "Deleting"
	ReasonPolicyDenied        = "PolicyDenied"
	ReasonGranted             = "Granted"
	ReasonAccessPending       = "AccessPending"
	ReasonGroupNotFound       = "GroupNotFound"
	ReasonAmbiguousGroup      = "AmbiguousGroup"
	ReasonAppNotFound         = "ApplicationNotFound"
	ReasonRoleNotFound        = "RoleNotFound"
	// ReasonAdoptionDenied: a guest the operator did not invite holds the address and no
	// PartnerAccessPolicy lets this namespace adopt it.
	ReasonAdoptionDenied = "AdoptionDenied"
	// ReasonPromotionDenied: spec.userType would change an adopted account's user type and
	// no PartnerAccessPolicy allows it.
	ReasonPromotionDenied = "PromotionDenied"
	// ReasonSecretConflict: the Secret for the redemption URL exists and is not this object's.
	ReasonSecretConflict = "SecretConflict"
	// ReasonHandedOver: the guest was handed over by the object that held the address before.
	ReasonHandedOver = "HandedOver"
	// ReasonReclaimed: the guest's ownership record in the directory names this installation
	// and this object (the cluster was rebuilt from Git); no invitation was sent.
	ReasonReclaimed = "Reclaimed"
	// ReasonRestored: the guest this installation deleted within Graph's 30-day retention was
	// restored instead of inviting the partner anew.
	ReasonRestored = "Restored"
	// ReasonDeletionHeld: the accidental-deletion brake holds this object's guest deletion
	// until an admin approves or cancels.
	ReasonDeletionHeld = "DeletionHeld"
	// ReasonPermissionDenied: Graph answered 403; the condition names the application
	// permission the operator's identity lacks.
	ReasonPermissionDenied = "PermissionDenied"
	// ReasonResetDenied: a reset of the guest's redemption was asked for and no
	// PartnerAccessPolicy allows it.
	ReasonResetDenied = "ResetDenied"
	// ReasonKubernetesError: a read or write of the API server failed; retried with backoff.
	ReasonKubernetesError = "KubernetesError"
	// ReasonNotReported: Graph reports no redemption state for the guest.
	ReasonNotReported = "NotReported"
	// ReasonAwaitingGraph: Graph does not list a guest invited moments ago yet.
	ReasonAwaitingGraph = "AwaitingGraph"
	// ReasonSponsorNotFound: an entry of spec.sponsors names no user or group (polled).
	ReasonSponsorNotFound = "SponsorNotFound"
	// ReasonSponsorNotMember: an entry of spec.sponsors names a guest; sponsors are members.
	ReasonSponsorNotMember = "SponsorNotMember"
	// Expired's reasons: the expiry is scheduled, near (the warning window), or passed with
	// the action taken.
	ReasonExpiryScheduled = "Scheduled"
	ReasonExpiringSoon    = "ExpiringSoon"
	ReasonAccessRevoked   = "AccessRevoked"
	ReasonAccountDisabled = "AccountDisabled"
	ReasonGuestDeleted    = "GuestDeleted"
	// ReasonExpiryActionPending: access ended, the action is recorded and not done yet.
	ReasonExpiryActionPending = "ActionPending"
	// ReasonExpired is Ready's reason (True) and AccessGranted's (False) once access ended.
	ReasonExpired = "Expired"
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
	// AnnotationGuestOrigin says how the object came to manage its guest: Invited (the
	// operator created it) or Adopted (it existed). Only an invited guest is the operator's to
	// delete without a policy's AdoptAndDelete.
	AnnotationGuestOrigin = "b2b.partnerops.io/guest-origin"
	// AnnotationClaimHolderUID, on an address claim (a Lease), is the UID of the holding object.
	AnnotationClaimHolderUID = "b2b.partnerops.io/holder-uid"
	// AnnotationClaimGuest, on an address claim being handed over, is the guest's user ID.
	AnnotationClaimGuest = "b2b.partnerops.io/guest-id"
	// AnnotationResendRequestedAt asks for the invitation to be sent again, once per value
	// (an RFC 3339 time, as Flux's reconcile.fluxcd.io/requestedAt).
	AnnotationResendRequestedAt = "b2b.partnerops.io/resend-requested-at"
	// AnnotationResetRequestedAt asks for a redeemed guest's redemption to be reset, once per
	// value; a PartnerAccessPolicy must allow it.
	AnnotationResetRequestedAt = "b2b.partnerops.io/reset-redemption-requested-at"
	// AnnotationResendHandled and AnnotationResetHandled record, before Graph is called, the
	// request value being handled, so a crash never sends one request's mail twice.
	AnnotationResendHandled = "b2b.partnerops.io/resend-handled"
	AnnotationResetHandled  = "b2b.partnerops.io/reset-redemption-handled"
	// LabelClaim marks the Leases that are address claims.
	LabelClaim = "b2b.partnerops.io/address-claim"
	// LabelInvitation marks Secrets that belong to a PartnerInvitation (also a cache selector).
	LabelInvitation = "b2b.partnerops.io/invitation"
)

// Guest origins, the values of AnnotationGuestOrigin.
const (
	GuestOriginInvited = "Invited"
	GuestOriginAdopted = "Adopted"
)
