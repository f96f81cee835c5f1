package partnerinvitation

import (
	"errors"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
	ctrl "sigs.k8s.io/controller-runtime"

	b2bv1alpha1 "github.com/partnerops/partner-operator/api/v1alpha1"
	"github.com/partnerops/partner-operator/internal/graph"
)

// TestEveryReasonTellsGitOpsTheTruth runs each outcome a reconcile can end in through the one
// place conditions are derived, and asks kstatus (Flux, kpt) and Argo CD's health script what
// they make of the object. A reason that needs a person must read Failed/Degraded, never
// Progressing forever; a retry must read InProgress/Progressing, never Failed.
func TestEveryReasonTellsGitOpsTheTruth(t *testing.T) {
	blocked := func(reason string, stalled bool) error {
		return &blockedError{reason: reason, message: "because " + reason, stalled: stalled}
	}
	sponsorProblem := func(reason string) *findings {
		return &findings{sponsors: &accessOutcome{problems: []accessProblem{{reason, "spec.sponsors[0]: " + reason}}}}
	}
	accessProblem := func(reason string) *findings {
		return &findings{access: &accessOutcome{problems: []accessProblem{{reason, "spec.access.groups[0]: " + reason}}}}
	}
	type want struct {
		reason  string
		kstatus status.Status
		argo    string
	}
	at := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	expired := func(action b2bv1alpha1.ExpiryAction) func(*b2bv1alpha1.PartnerInvitationStatus) {
		return func(st *b2bv1alpha1.PartnerInvitationStatus) {
			st.Expiry = &b2bv1alpha1.ExpiryStatus{Action: action, At: metav1.NewTime(at), Source: "spec.expiresAt"}
		}
	}
	expiring := &findings{expiry: &expiryFinding{expiry: expiry{at: at, source: "spec.expiresAt"}, soon: true}}
	ended := &findings{expiry: &expiryFinding{expiry: expiry{at: at, source: "spec.expiresAt"}}}
	failed := func(reason string) want { return want{reason, status.FailedStatus, "Degraded"} }
	progressing := func(reason string) want { return want{reason, status.InProgressStatus, "Progressing"} }
	cases := map[string]struct {
		f      *findings
		err    error
		want   want
		status func(*b2bv1alpha1.PartnerInvitationStatus)
	}{
		"InSync":            {&findings{}, nil, want{b2bv1alpha1.ReasonInSync, status.CurrentStatus, "Healthy"}, nil},
		"Throttled":         {&findings{}, &graph.Error{Kind: graph.KindThrottled, StatusCode: 429, RetryAfter: time.Second}, progressing(b2bv1alpha1.ReasonThrottled), nil},
		"GraphTransient":    {&findings{}, &graph.Error{Kind: graph.KindTransient, StatusCode: 503}, progressing(b2bv1alpha1.ReasonGraphError), nil},
		"GraphTerminal":     {&findings{}, &graph.Error{Kind: graph.KindTerminal, StatusCode: 400, Message: "blocked domain"}, failed(b2bv1alpha1.ReasonGraphError), nil},
		"KubernetesError":   {&findings{}, errors.New("etcd is unavailable"), progressing(b2bv1alpha1.ReasonKubernetesError), nil},
		"AwaitingGraph":     {&findings{}, awaitingGraph("x"), progressing(b2bv1alpha1.ReasonAwaitingGraph), nil},
		"AccessPending":     {&findings{}, &blockedError{reason: b2bv1alpha1.ReasonAccessPending, message: "not visible yet", backoff: true}, progressing(b2bv1alpha1.ReasonAccessPending), nil},
		"Conflict":          {&findings{}, blocked(b2bv1alpha1.ReasonConflict, true), failed(b2bv1alpha1.ReasonConflict), nil},
		"InvalidSpec":       {&findings{}, &blockedError{reason: b2bv1alpha1.ReasonInvalidSpec, message: "spec.email", stalled: true, terminal: true}, failed(b2bv1alpha1.ReasonInvalidSpec), nil},
		"PolicyDenied":      {&findings{}, blocked(b2bv1alpha1.ReasonPolicyDenied, true), failed(b2bv1alpha1.ReasonPolicyDenied), nil},
		"AdoptionDenied":    {&findings{}, blocked(b2bv1alpha1.ReasonAdoptionDenied, true), failed(b2bv1alpha1.ReasonAdoptionDenied), nil},
		"PromotionDenied":   {&findings{}, blocked(b2bv1alpha1.ReasonPromotionDenied, true), failed(b2bv1alpha1.ReasonPromotionDenied), nil},
		"SecretConflict":    {&findings{}, blocked(b2bv1alpha1.ReasonSecretConflict, true), failed(b2bv1alpha1.ReasonSecretConflict), nil},
		"ResetDenied":       {&findings{}, blocked(b2bv1alpha1.ReasonResetDenied, true), failed(b2bv1alpha1.ReasonResetDenied), nil},
		"PermissionDenied":  {&findings{}, &graph.Error{Kind: graph.KindTransient, Op: "invite", StatusCode: 403, Code: "Authorization_RequestDenied"}, failed(b2bv1alpha1.ReasonPermissionDenied), nil},
		"GroupNotFound":     {accessProblem(b2bv1alpha1.ReasonGroupNotFound), nil, failed(b2bv1alpha1.ReasonGroupNotFound), nil},
		"AmbiguousGroup":    {accessProblem(b2bv1alpha1.ReasonAmbiguousGroup), nil, failed(b2bv1alpha1.ReasonAmbiguousGroup), nil},
		"AppNotFound":       {accessProblem(b2bv1alpha1.ReasonAppNotFound), nil, failed(b2bv1alpha1.ReasonAppNotFound), nil},
		"RoleNotFound":      {accessProblem(b2bv1alpha1.ReasonRoleNotFound), nil, failed(b2bv1alpha1.ReasonRoleNotFound), nil},
		"GrantPolicyDenied": {accessProblem(b2bv1alpha1.ReasonPolicyDenied), nil, failed(b2bv1alpha1.ReasonPolicyDenied), nil},
		"Deleting":          {&findings{deleting: true}, nil, want{b2bv1alpha1.ReasonDeleting, status.TerminatingStatus, "Progressing"}, nil},
		"SponsorNotFound":   {sponsorProblem(b2bv1alpha1.ReasonSponsorNotFound), nil, failed(b2bv1alpha1.ReasonSponsorNotFound), nil},
		"SponsorNotMember":  {sponsorProblem(b2bv1alpha1.ReasonSponsorNotMember), nil, failed(b2bv1alpha1.ReasonSponsorNotMember), nil},
		"ExpiringSoon":      {expiring, nil, want{b2bv1alpha1.ReasonInSync, status.CurrentStatus, "Healthy"}, nil},
		// Access that ended as the spec asked is the desired state, whatever the action.
		"ExpiredRevoked":  {ended, nil, want{b2bv1alpha1.ReasonExpired, status.CurrentStatus, "Healthy"}, expired(b2bv1alpha1.ExpiryRevokeAccess)},
		"ExpiredDisabled": {ended, nil, want{b2bv1alpha1.ReasonExpired, status.CurrentStatus, "Healthy"}, expired(b2bv1alpha1.ExpiryDisable)},
		"ExpiredDeleted":  {ended, nil, want{b2bv1alpha1.ReasonExpired, status.CurrentStatus, "Healthy"}, expired(b2bv1alpha1.ExpiryDelete)},
	}
	r := &Reconciler{}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			// Every outcome is reached from a stalled object, so each must also clear Stalled.
			pinv := invitation(func(p *b2bv1alpha1.PartnerInvitation) { p.Status.UserID = guestID })
			if tc.f.deleting {
				deleting(pinv)
			}
			if tc.status != nil {
				tc.status(&pinv.Status)
			}
			reconcileOnce(r, pinv, &findings{}, blocked(b2bv1alpha1.ReasonConflict, true))
			reconcileOnce(r, pinv, tc.f, tc.err)

			ready := meta.FindStatusCondition(pinv.Status.Conditions, b2bv1alpha1.ConditionReady)
			if ready == nil || ready.Reason != tc.want.reason || ready.ObservedGeneration != pinv.Generation {
				t.Fatalf("Ready = %+v, want reason %s at generation %d", ready, tc.want.reason, pinv.Generation)
			}
			stalled := meta.IsStatusConditionTrue(pinv.Status.Conditions, b2bv1alpha1.ConditionStalled)
			if wantStalled := tc.want.kstatus == status.FailedStatus; stalled != wantStalled {
				t.Errorf("Stalled = %v, want %v", stalled, wantStalled)
			}
			if got := kstatusOf(t, pinv); got != tc.want.kstatus {
				t.Errorf("kstatus = %s, want %s", got, tc.want.kstatus)
			}
			got, msg := argoHealthOf(t, pinv)
			if got != tc.want.argo {
				t.Errorf("Argo CD health = %s (%q), want %s", got, msg, tc.want.argo)
			}
			if tc.status != nil && !strings.HasPrefix(msg, "Expired: Access ended at 2026-12-01T00:00:00Z") {
				t.Errorf("Argo CD message = %q, want it to say the access ended", msg)
			}
		})
	}
}

// reconcileOnce derives the conditions for an outcome and moves observedGeneration as
// patchStatus does.
func reconcileOnce(r *Reconciler, pinv *b2bv1alpha1.PartnerInvitation, f *findings, err error) {
	_, err = r.report(pinv, f, ctrl.Result{}, err)
	if err == nil || isTerminal(err) {
		pinv.Status.ObservedGeneration = pinv.Generation
	}
}

func TestInvitedConditionFollowsTheGuest(t *testing.T) {
	pinv := invitation()
	reconcileOnce(&Reconciler{}, pinv, &findings{}, &blockedError{reason: b2bv1alpha1.ReasonConflict, message: "held by team-b/x", stalled: true})
	if c := meta.FindStatusCondition(pinv.Status.Conditions, b2bv1alpha1.ConditionInvited); c == nil || c.Status != metav1.ConditionFalse || c.Reason != b2bv1alpha1.ReasonConflict {
		t.Errorf("Invited = %+v, want False/Conflict", c)
	}
	if meta.FindStatusCondition(pinv.Status.Conditions, b2bv1alpha1.ConditionRedeemed) != nil {
		t.Error("Redeemed must be absent before there is a guest")
	}
	pinv.Status.UserID, pinv.Status.State = guestID, b2bv1alpha1.StateAccepted
	reconcileOnce(&Reconciler{}, pinv, &findings{established: b2bv1alpha1.ReasonHandedOver, establishedMsg: "took over"}, nil)
	if c := meta.FindStatusCondition(pinv.Status.Conditions, b2bv1alpha1.ConditionInvited); c == nil || c.Reason != b2bv1alpha1.ReasonHandedOver {
		t.Errorf("Invited = %+v, want True/HandedOver", c)
	}
	if !meta.IsStatusConditionTrue(pinv.Status.Conditions, b2bv1alpha1.ConditionRedeemed) {
		t.Error("Redeemed must follow status.state Accepted")
	}
	// A later reconcile that learns nothing new keeps how the guest came to be managed.
	reconcileOnce(&Reconciler{}, pinv, &findings{}, nil)
	if c := meta.FindStatusCondition(pinv.Status.Conditions, b2bv1alpha1.ConditionInvited); c == nil || c.Reason != b2bv1alpha1.ReasonHandedOver {
		t.Errorf("Invited = %+v, want it kept as True/HandedOver", c)
	}
}
