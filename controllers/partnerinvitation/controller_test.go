package partnerinvitation

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/events"
	clocktesting "k8s.io/utils/clock/testing"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	b2bv1alpha1 "github.com/partnerops/partner-operator/api/v1alpha1"
	"github.com/partnerops/partner-operator/internal/graph"
	"github.com/partnerops/partner-operator/internal/graph/graphtest"
	"github.com/partnerops/partner-operator/internal/organization"
	"github.com/partnerops/partner-operator/internal/policy"
)

var testNow = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)

const guestID = "11111111-1111-1111-1111-111111111111"

func invitation(mutate ...func(*b2bv1alpha1.PartnerInvitation)) *b2bv1alpha1.PartnerInvitation {
	p := &b2bv1alpha1.PartnerInvitation{
		ObjectMeta: metav1.ObjectMeta{
			Name: "anna", Namespace: "team-a", UID: "uid-anna", Generation: 1,
			Finalizers:        []string{b2bv1alpha1.Finalizer},
			CreationTimestamp: metav1.NewTime(testNow.Add(-time.Hour)),
		},
		Spec: b2bv1alpha1.PartnerInvitationSpec{Email: "anna@fabrikam.example", DisplayName: "Anna"},
	}
	for _, m := range mutate {
		m(p)
	}
	return p
}

func withAnnotation(k, v string) func(*b2bv1alpha1.PartnerInvitation) {
	return func(p *b2bv1alpha1.PartnerInvitation) {
		if p.Annotations == nil {
			p.Annotations = map[string]string{}
		}
		p.Annotations[k] = v
	}
}

func deleting(p *b2bv1alpha1.PartnerInvitation) {
	now := metav1.NewTime(testNow)
	p.DeletionTimestamp = &now
}

func pendingGuest(id string) *graph.User {
	return &graph.User{ID: id, DisplayName: "Anna", Mail: "anna@fabrikam.example", UserType: "Guest",
		CreationType: "Invitation", ExternalUserState: "PendingAcceptance"}
}

type harness struct {
	r      *Reconciler
	c      client.Client
	dir    *graphtest.Fake
	events *events.FakeRecorder
}

func newHarness(t *testing.T, dir *graphtest.Fake, funcs *interceptor.Funcs, objs ...client.Object) *harness {
	t.Helper()
	s := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(s); err != nil {
		t.Fatal(err)
	}
	if err := b2bv1alpha1.AddToScheme(s); err != nil {
		t.Fatal(err)
	}
	objs = append(objs, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "team-a"}})
	b := fake.NewClientBuilder().WithScheme(s).WithObjects(objs...).
		WithStatusSubresource(&b2bv1alpha1.PartnerInvitation{}).
		WithIndex(&b2bv1alpha1.PartnerInvitation{}, EmailIndex, indexEmail).
		WithIndex(&b2bv1alpha1.PartnerOrganization{}, organization.DomainIndex, organization.IndexOrganization)
	if funcs != nil {
		b = b.WithInterceptorFuncs(*funcs)
	}
	c := b.Build()
	rec := events.NewFakeRecorder(50)
	return &harness{
		r: &Reconciler{Client: c, Directory: dir, Recorder: rec,
			Clock: clocktesting.NewFakePassiveClock(testNow),
			// Posture Allow keeps these tests about reconcile logic; the policy cases add a policy.
			Options: Options{PendingPollInterval: time.Minute, CreateGracePeriod: 5 * time.Minute, PolicyPosture: policy.AllowUnselected}},
		c: c, dir: dir, events: rec,
	}
}

func (h *harness) reconcile(t *testing.T) (ctrl.Result, error) {
	t.Helper()
	return h.r.Reconcile(context.Background(), ctrl.Request{NamespacedName: client.ObjectKey{Namespace: "team-a", Name: "anna"}})
}

func (h *harness) get(t *testing.T) *b2bv1alpha1.PartnerInvitation {
	t.Helper()
	p := &b2bv1alpha1.PartnerInvitation{}
	if err := h.c.Get(context.Background(), client.ObjectKey{Namespace: "team-a", Name: "anna"}, p); err != nil {
		t.Fatalf("get: %v", err)
	}
	return p
}

func readyReason(p *b2bv1alpha1.PartnerInvitation) string {
	if c := meta.FindStatusCondition(p.Status.Conditions, b2bv1alpha1.ConditionReady); c != nil {
		return string(c.Status) + "/" + c.Reason
	}
	return ""
}

func TestReconcile(t *testing.T) {
	recent := testNow.Add(-time.Minute).Truncate(time.Second)
	stale := testNow.Add(-time.Hour)
	throttled := &graph.Error{Kind: graph.KindThrottled, StatusCode: 429, RetryAfter: 7 * time.Second}
	terminal := &graph.Error{Kind: graph.KindTerminal, StatusCode: 400, Code: "BadRequest", Message: "The invited user's domain is blocked"}

	cases := map[string]struct {
		reason     string
		obj        *b2bv1alpha1.PartnerInvitation
		dir        *graphtest.Fake
		funcs      *interceptor.Funcs
		wantCalls  []string
		wantResult ctrl.Result
		wantErr    func(error) bool
		check      func(t *testing.T, h *harness)
		// policy, when set, governs team-a (else no policy selects it and posture Allow applies).
		policy *b2bv1alpha1.PartnerAccessPolicySpec
		// claim, when set, is the record on anna's claim (held by anna).
		claim *guestRecord
	}{
		"FirstReconcileInvitesOnce": {
			reason: "No guest exists: one lookup, one invitation, recorded on the object.",
			obj:    invitation(),
			dir: &graphtest.Fake{
				FindUsersByEmailFn: func(context.Context, string) ([]graph.User, error) { return nil, nil },
				InviteFn: func(_ context.Context, req graph.InvitationRequest) (*graph.Invitation, error) {
					if !req.SendInvitationMessage || req.RedirectURL != "https://myapps.microsoft.com" || req.UserType != "Guest" {
						return nil, errors.New("unexpected defaults in request")
					}
					return &graph.Invitation{ID: "inv", UserID: guestID, Status: "PendingAcceptance", RedeemURL: "https://invitations.example/redeem?t=secret"}, nil
				},
			},
			wantCalls:  []string{"FindUsersByEmail", "Invite"},
			wantResult: ctrl.Result{RequeueAfter: time.Minute},
			check: func(t *testing.T, h *harness) {
				p := h.get(t)
				if rec := h.record(t); rec.UserID != guestID || rec.Origin != b2bv1alpha1.GuestOriginInvited || p.Status.UserID != guestID {
					t.Errorf("guest not recorded: %+v %q", rec, p.Status.UserID)
				}
				if !h.record(t).InvitePending.IsZero() {
					t.Error("pending mark left behind")
				}
				if len(p.Annotations) != 0 {
					t.Errorf("the operator's memory is on the claim, not the object: %v", p.Annotations)
				}
				if got := readyReason(p); got != "True/InSync" {
					t.Errorf("Ready = %s", got)
				}
			},
		},
		"CrashAfterInviteIsResolvedByLookup": {
			reason: "A pending mark without a recorded guest means Graph may have answered; the lookup finds the guest, and the lost redemption URL is recovered without a second mail.",
			obj:    invitation(),
			claim:  &guestRecord{InvitePending: recent},
			dir: &graphtest.Fake{
				FindUsersByEmailFn: func(context.Context, string) ([]graph.User, error) { return []graph.User{*pendingGuest(guestID)}, nil },
				InviteFn: func(_ context.Context, req graph.InvitationRequest) (*graph.Invitation, error) {
					if req.SendInvitationMessage {
						return nil, errors.New("the recovery must not mail the partner again")
					}
					return &graph.Invitation{UserID: guestID, RedeemURL: "https://redeem.example/recovered"}, nil
				},
			},
			wantCalls:  []string{"FindUsersByEmail", "Invite"},
			wantResult: ctrl.Result{RequeueAfter: time.Minute},
			check: func(t *testing.T, h *harness) {
				p := h.get(t)
				if rec := h.record(t); rec.UserID != guestID || rec.adopted() || p.Status.Adopted {
					t.Errorf("want own guest recorded, not adopted: %+v adopted=%v", rec, p.Status.Adopted)
				}
				if got := redeemURL(t, h); got != "https://redeem.example/recovered" {
					t.Errorf("Secret holds %q, want the recovered URL", got)
				}
			},
		},
		"LostAnswerToAReinvitationReplacesTheStaleURL": {
			reason: "The guest was deleted out of band and invited again, and that answer was lost: the Secret still holds the old guest's URL, so a fresh one is fetched without a mail (found by the soak).",
			obj:    invitation(withAnnotation("test/stale-secret", "old-guest")),
			claim:  &guestRecord{InvitePending: recent},
			dir: &graphtest.Fake{
				FindUsersByEmailFn: func(context.Context, string) ([]graph.User, error) { return []graph.User{*pendingGuest(guestID)}, nil },
				InviteFn: func(_ context.Context, req graph.InvitationRequest) (*graph.Invitation, error) {
					if req.SendInvitationMessage {
						return nil, errors.New("the recovery must not mail the partner again")
					}
					return &graph.Invitation{UserID: guestID, RedeemURL: "https://redeem.example/new"}, nil
				},
			},
			wantCalls:  []string{"FindUsersByEmail", "Invite"},
			wantResult: ctrl.Result{RequeueAfter: time.Minute},
			check: func(t *testing.T, h *harness) {
				if got := redeemURL(t, h); got != "https://redeem.example/new" {
					t.Errorf("Secret holds %q, want the new guest's URL", got)
				}
			},
		},
		"PendingWithinGraceWaitsInsteadOfReinviting": {
			reason: "Graph may not list a brand-new guest yet; inviting again would mail the partner twice.",
			obj:    invitation(),
			claim:  &guestRecord{InvitePending: recent},
			dir: &graphtest.Fake{
				FindUsersByEmailFn: func(context.Context, string) ([]graph.User, error) { return nil, nil },
			},
			wantCalls:  []string{"FindUsersByEmail"},
			wantResult: ctrl.Result{RequeueAfter: 5 * time.Second},
		},
		"PendingPastGraceInvites": {
			reason: "A pending mark long past the grace period means the invitation never happened.",
			obj:    invitation(),
			claim:  &guestRecord{InvitePending: stale},
			dir: &graphtest.Fake{
				FindUsersByEmailFn: func(context.Context, string) ([]graph.User, error) { return nil, nil },
				InviteFn: func(context.Context, graph.InvitationRequest) (*graph.Invitation, error) {
					return &graph.Invitation{UserID: guestID}, nil
				},
			},
			wantCalls:  []string{"FindUsersByEmail", "Invite"},
			wantResult: ctrl.Result{RequeueAfter: time.Minute},
		},
		"StaleCopyDoesNotInvite": {
			reason: "The pending mark creates the claim if absent: a reconcile that lost the race to another object gets a conflict, and no invitation goes out.",
			obj:    invitation(),
			dir: &graphtest.Fake{
				FindUsersByEmailFn: func(context.Context, string) ([]graph.User, error) { return nil, nil },
			},
			funcs: &interceptor.Funcs{Create: func(ctx context.Context, c client.WithWatch, o client.Object, opts ...client.CreateOption) error {
				if o.GetAnnotations()[recordInvitePending] != "" {
					return apierrors.NewAlreadyExists(schema.GroupResource{Group: "coordination.k8s.io", Resource: "leases"}, o.GetName())
				}
				return c.Create(ctx, o, opts...)
			}},
			wantCalls:  []string{"FindUsersByEmail"},
			wantResult: ctrl.Result{RequeueAfter: 200 * time.Millisecond},
		},
		"ResendFromAStaleCopyDoesNotResend": {
			reason: "The resend is marked handled on the claim, with its resourceVersion, before the POST: a stale reconcile gets a conflict, not a second mail.",
			obj:    invitation(withAnnotation(b2bv1alpha1.AnnotationResendRequestedAt, "2026-11-23T11:00:00Z")),
			claim:  &guestRecord{UserID: guestID, Origin: b2bv1alpha1.GuestOriginInvited},
			dir: &graphtest.Fake{
				GetUserFn: func(context.Context, string) (*graph.User, error) { return pendingGuest(guestID), nil },
			},
			funcs: &interceptor.Funcs{Update: func(ctx context.Context, c client.WithWatch, o client.Object, opts ...client.UpdateOption) error {
				if o.GetAnnotations()[recordResendHandled] != "" {
					return apierrors.NewConflict(schema.GroupResource{Group: "coordination.k8s.io", Resource: "leases"}, o.GetName(), errors.New("stale"))
				}
				return c.Update(ctx, o, opts...)
			}},
			wantCalls:  []string{"GetUser"},
			wantResult: ctrl.Result{RequeueAfter: 200 * time.Millisecond},
		},
		"ThrottledInviteRequeuesAfterRetryAfter": {
			reason: "A 429 waits for Graph's Retry-After, and clears the pending mark since nothing was created.",
			obj:    invitation(),
			dir: &graphtest.Fake{
				FindUsersByEmailFn: func(context.Context, string) ([]graph.User, error) { return nil, nil },
				InviteFn:           func(context.Context, graph.InvitationRequest) (*graph.Invitation, error) { return nil, throttled },
			},
			wantCalls:  []string{"FindUsersByEmail", "Invite"},
			wantResult: ctrl.Result{RequeueAfter: 7 * time.Second},
			check: func(t *testing.T, h *harness) {
				p := h.get(t)
				if got := readyReason(p); got != "False/Throttled" {
					t.Errorf("Ready = %s", got)
				}
				if !h.record(t).InvitePending.IsZero() {
					t.Error("pending mark must be cleared after a refused request")
				}
			},
		},
		"GatewayTimeoutKeepsThePendingMark": {
			reason: "A 504 to an invitation may come after Graph invited the partner: the pending mark stays, so the guest is looked up next time, not adopted or invited again (found by the fault soak).",
			obj:    invitation(),
			dir: &graphtest.Fake{
				FindUsersByEmailFn: func(context.Context, string) ([]graph.User, error) { return nil, nil },
				InviteFn: func(context.Context, graph.InvitationRequest) (*graph.Invitation, error) {
					// As the msgraph client reports it: throttled, with a default Retry-After.
					return nil, &graph.Error{Kind: graph.KindThrottled, StatusCode: 504, RetryAfter: 5 * time.Second}
				},
			},
			wantCalls:  []string{"FindUsersByEmail", "Invite"},
			wantResult: ctrl.Result{RequeueAfter: 5 * time.Second},
			check: func(t *testing.T, h *harness) {
				if h.record(t).InvitePending.IsZero() {
					t.Error("the pending mark must survive a 504")
				}
			},
		},
		"TerminalInviteErrorStalls": {
			reason: "A 4xx the spec must fix stalls the object and is not retried.",
			obj:    invitation(),
			dir: &graphtest.Fake{
				FindUsersByEmailFn: func(context.Context, string) ([]graph.User, error) { return nil, nil },
				InviteFn:           func(context.Context, graph.InvitationRequest) (*graph.Invitation, error) { return nil, terminal },
			},
			wantCalls: []string{"FindUsersByEmail", "Invite"},
			wantErr:   func(err error) bool { return errors.Is(err, reconcile.TerminalError(nil)) },
			check: func(t *testing.T, h *harness) {
				p := h.get(t)
				c := meta.FindStatusCondition(p.Status.Conditions, b2bv1alpha1.ConditionStalled)
				if c == nil || c.Status != metav1.ConditionTrue {
					t.Fatalf("Stalled not set: %+v", p.Status.Conditions)
				}
				if p.Status.ObservedGeneration != p.Generation {
					t.Error("a stalled generation is still observed")
				}
			},
		},
		"AdoptsExistingGuest": {
			reason: "A guest that already has the address is adopted without an invitation where a policy allows it.",
			obj:    invitation(),
			policy: &b2bv1alpha1.PartnerAccessPolicySpec{Adoption: b2bv1alpha1.AdoptionAdopt},
			dir: &graphtest.Fake{
				FindUsersByEmailFn: func(context.Context, string) ([]graph.User, error) { return []graph.User{*pendingGuest(guestID)}, nil },
			},
			wantCalls:  []string{"FindUsersByEmail"},
			wantResult: ctrl.Result{RequeueAfter: time.Minute},
			check: func(t *testing.T, h *harness) {
				if p := h.get(t); !p.Status.Adopted || p.Status.UserID != guestID {
					t.Errorf("want adopted %s, got %+v", guestID, p.Status)
				}
			},
		},
		"AdoptionDeniedWithoutPolicy": {
			reason: "Without a policy that grants adoption, an existing guest is left alone and nothing is written.",
			obj:    invitation(),
			dir: &graphtest.Fake{
				FindUsersByEmailFn: func(context.Context, string) ([]graph.User, error) { return []graph.User{*pendingGuest(guestID)}, nil },
			},
			wantCalls:  []string{"FindUsersByEmail"},
			wantResult: ctrl.Result{RequeueAfter: time.Minute},
			check: func(t *testing.T, h *harness) {
				p := h.get(t)
				if got := readyReason(p); got != "False/AdoptionDenied" {
					t.Errorf("Ready = %s", got)
				}
				if p.Status.UserID != "" || h.hasClaim(t) {
					t.Errorf("a refused adoption must record no guest and hold no claim: %+v", p.Status)
				}
				if c := meta.FindStatusCondition(p.Status.Conditions, b2bv1alpha1.ConditionStalled); c == nil || c.Status != metav1.ConditionTrue {
					t.Error("AdoptionDenied needs a person: want Stalled=True")
				}
			},
		},
		"PromotionOfAdoptedGuestDenied": {
			reason: "userType Member on an adopted guest is refused unless the policy allows promotion.",
			obj:    invitation(func(p *b2bv1alpha1.PartnerInvitation) { p.Spec.UserType = b2bv1alpha1.UserTypeMember }),
			claim:  &guestRecord{UserID: guestID, Origin: b2bv1alpha1.GuestOriginAdopted},
			policy: &b2bv1alpha1.PartnerAccessPolicySpec{Adoption: b2bv1alpha1.AdoptionAdopt, AllowMemberUserType: true},
			dir: &graphtest.Fake{
				GetUserFn: func(context.Context, string) (*graph.User, error) { return pendingGuest(guestID), nil },
			},
			wantCalls: []string{"GetUser"},
			check: func(t *testing.T, h *harness) {
				if got := readyReason(h.get(t)); got != "False/PromotionDenied" {
					t.Errorf("Ready = %s", got)
				}
			},
		},
		"SecretConflictStopsTheInvitation": {
			reason: "A Secret of the same name that is not ours stops the invitation before any Graph write.",
			obj: invitation(func(p *b2bv1alpha1.PartnerInvitation) {
				p.Annotations = map[string]string{"test/foreign-secret": "true"}
			}),
			dir: &graphtest.Fake{
				FindUsersByEmailFn: func(context.Context, string) ([]graph.User, error) { return nil, nil },
			},
			wantCalls:  []string{"FindUsersByEmail"},
			wantResult: ctrl.Result{RequeueAfter: time.Minute},
			check: func(t *testing.T, h *harness) {
				p := h.get(t)
				c := meta.FindStatusCondition(p.Status.Conditions, b2bv1alpha1.ConditionReady)
				if c == nil || c.Reason != b2bv1alpha1.ReasonSecretConflict || !strings.Contains(c.Message, "team-a/anna-invitation") {
					t.Errorf("want SecretConflict naming the Secret, got %+v", c)
				}
			},
		},
		"MemberAccountIsAConflict": {
			reason: "A member account with the address is never adopted, invited over, or touched.",
			obj:    invitation(),
			dir: &graphtest.Fake{
				FindUsersByEmailFn: func(context.Context, string) ([]graph.User, error) {
					return []graph.User{{ID: "member", Mail: "anna@fabrikam.example", UserType: "Member"}}, nil
				},
			},
			wantCalls:  []string{"FindUsersByEmail"},
			wantResult: ctrl.Result{RequeueAfter: time.Minute},
			check: func(t *testing.T, h *harness) {
				if got := readyReason(h.get(t)); got != "False/Conflict" {
					t.Errorf("Ready = %s", got)
				}
			},
		},
		"InvalidSpecStallsWithoutGraphCalls": {
			reason:  "Input the schema let through (an older CRD) stalls with the field named and never reaches Graph.",
			obj:     invitation(func(p *b2bv1alpha1.PartnerInvitation) { p.Spec.RedirectURL = "http://insecure.example" }),
			dir:     &graphtest.Fake{},
			wantErr: func(err error) bool { return errors.Is(err, reconcile.TerminalError(nil)) },
			check: func(t *testing.T, h *harness) {
				c := meta.FindStatusCondition(h.get(t).Status.Conditions, b2bv1alpha1.ConditionStalled)
				if c == nil || c.Reason != b2bv1alpha1.ReasonInvalidSpec || !strings.Contains(c.Message, "spec.redirectURL") {
					t.Errorf("want Stalled/InvalidSpec naming spec.redirectURL, got %+v", c)
				}
			},
		},
		"DeleteWaitsForAGuestInvitedMomentsAgo": {
			reason: "Right after an invitation Graph may not show the guest; deleting the object then must wait, not leave the guest behind (found by the soak).",
			obj:    invitation(deleting),
			claim:  &guestRecord{UserID: guestID, Origin: b2bv1alpha1.GuestOriginInvited, InvitedAt: recent},
			dir: &graphtest.Fake{
				GetUserFn: func(context.Context, string) (*graph.User, error) {
					return nil, &graph.Error{Kind: graph.KindNotFound, StatusCode: 404}
				},
			},
			wantCalls:  []string{"GetUser"},
			wantResult: ctrl.Result{RequeueAfter: 5 * time.Second},
			check: func(t *testing.T, h *harness) {
				if p := h.get(t); len(p.Finalizers) == 0 || readyReason(p) != "False/AwaitingGraph" {
					t.Errorf("want the finalizer kept and Ready False/AwaitingGraph, got %v %s", p.Finalizers, readyReason(p))
				}
			},
		},
		"DeleteWaitsForAPendingInvitation": {
			reason: "An invitation whose answer was lost may have created a guest Graph does not list yet; the object waits out the grace period before it goes.",
			obj:    invitation(deleting),
			claim:  &guestRecord{InvitePending: recent},
			dir: &graphtest.Fake{
				FindUsersByEmailFn: func(context.Context, string) ([]graph.User, error) { return nil, nil },
			},
			wantCalls:  []string{"FindUsersByEmail"},
			wantResult: ctrl.Result{RequeueAfter: 5 * time.Second},
			check: func(t *testing.T, h *harness) {
				if p := h.get(t); len(p.Finalizers) == 0 {
					t.Error("the finalizer must stay until the grace period has passed")
				}
			},
		},
		"DeleteCountsMissingGuestAsDeleted": {
			reason: "A guest already gone counts as deleted; the finalizer comes off.",
			obj:    invitation(deleting),
			claim:  &guestRecord{UserID: guestID, Origin: b2bv1alpha1.GuestOriginInvited},
			dir: &graphtest.Fake{
				GetUserFn: func(context.Context, string) (*graph.User, error) {
					return nil, &graph.Error{Kind: graph.KindNotFound, StatusCode: 404}
				},
			},
			wantCalls: []string{"GetUser"},
			check:     expectGone,
		},
		"DeleteRemovesGuest": {
			reason: "Policy Delete removes the guest, then the finalizer.",
			obj:    invitation(deleting),
			claim:  &guestRecord{UserID: guestID, Origin: b2bv1alpha1.GuestOriginInvited},
			dir: &graphtest.Fake{
				GetUserFn:    func(context.Context, string) (*graph.User, error) { return pendingGuest(guestID), nil },
				DeleteUserFn: func(context.Context, string) error { return &graph.Error{Kind: graph.KindNotFound, StatusCode: 404} },
			},
			wantCalls: []string{"GetUser", "DeleteUser"},
			check:     expectGone,
		},
		"DeleteNeverRemovesAMember": {
			reason: "An account turned into a member is no longer the operator's to delete.",
			obj:    invitation(deleting),
			claim:  &guestRecord{UserID: guestID, Origin: b2bv1alpha1.GuestOriginInvited},
			dir: &graphtest.Fake{
				GetUserFn: func(context.Context, string) (*graph.User, error) {
					return &graph.User{ID: guestID, UserType: "Member"}, nil
				},
			},
			wantCalls: []string{"GetUser"},
			check:     expectGone,
		},
		"OrphanMakesNoGraphCall": {
			reason: "Policy Orphan lets the object go and leaves the guest alone.",
			obj: invitation(deleting, func(p *b2bv1alpha1.PartnerInvitation) {
				p.Spec.DeletionPolicy = b2bv1alpha1.DeletionPolicyOrphan
			}),
			claim: &guestRecord{UserID: guestID, Origin: b2bv1alpha1.GuestOriginInvited},
			dir:   &graphtest.Fake{},
			check: expectGone,
		},
		"PausedMakesNoGraphCall": {
			reason: "The pause annotation stops all work.",
			obj:    invitation(withAnnotation(b2bv1alpha1.AnnotationPaused, "true")),
			dir:    &graphtest.Fake{},
		},
		"DriftIsPatchedInPlace": {
			reason: "A display name or user type that drifted is updated, not re-invited.",
			claim:  &guestRecord{UserID: guestID, Origin: b2bv1alpha1.GuestOriginInvited},
			obj: invitation(func(p *b2bv1alpha1.PartnerInvitation) {
				p.Spec.DisplayName = "Anna Schmidt"
				p.Spec.UserType = b2bv1alpha1.UserTypeMember
			}),
			dir: &graphtest.Fake{
				GetUserFn: func(context.Context, string) (*graph.User, error) { return pendingGuest(guestID), nil },
				UpdateUserFn: func(_ context.Context, _ string, u graph.UserUpdate) error {
					if u.DisplayName == nil || *u.DisplayName != "Anna Schmidt" || u.UserType == nil || *u.UserType != "Member" {
						return errors.New("unexpected update")
					}
					return nil
				},
			},
			wantCalls:  []string{"GetUser", "UpdateUser"},
			wantResult: ctrl.Result{RequeueAfter: time.Minute},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			objs := []client.Object{tc.obj}
			if tc.claim != nil {
				objs = append(objs, claimOf(tc.obj, *tc.claim))
			}
			if tc.policy != nil {
				objs = append(objs, &b2bv1alpha1.PartnerAccessPolicy{ObjectMeta: metav1.ObjectMeta{Name: "team-a"}, Spec: *tc.policy})
			}
			if old := tc.obj.Annotations["test/stale-secret"]; old != "" {
				objs = append(objs, &corev1.Secret{
					ObjectMeta: metav1.ObjectMeta{Namespace: "team-a", Name: "anna-invitation", OwnerReferences: []metav1.OwnerReference{{
						APIVersion: b2bv1alpha1.GroupVersion.String(), Kind: "PartnerInvitation", Name: "anna", UID: "uid-anna", Controller: ptr.To(true)}}},
					Data: map[string][]byte{redeemURLKey: []byte("https://redeem.example/old"), userIDKey: []byte(old)},
				})
			}
			if tc.obj.Annotations["test/foreign-secret"] != "" {
				objs = append(objs, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: "team-a", Name: "anna-invitation"}})
			}
			h := newHarness(t, tc.dir, tc.funcs, objs...)
			res, err := h.reconcile(t)
			if tc.wantErr != nil {
				if !tc.wantErr(err) {
					t.Fatalf("%s\nunexpected error: %v", tc.reason, err)
				}
			} else if err != nil {
				t.Fatalf("%s\nerror: %v", tc.reason, err)
			}
			// Poll intervals carry ±10% jitter.
			if tc.wantResult.RequeueAfter > 0 {
				lo, hi := tc.wantResult.RequeueAfter*9/10, tc.wantResult.RequeueAfter*11/10
				if res.RequeueAfter < lo || res.RequeueAfter > hi {
					t.Errorf("%s\nRequeueAfter = %v, want about %v", tc.reason, res.RequeueAfter, tc.wantResult.RequeueAfter)
				}
			} else if !res.IsZero() {
				t.Errorf("%s\nresult = %+v, want none", tc.reason, res)
			}
			if diff := cmp.Diff(tc.wantCalls, tc.dir.Calls()); diff != "" {
				t.Errorf("%s\nGraph calls (-want +got):\n%s", tc.reason, diff)
			}
			if tc.check != nil {
				tc.check(t, h)
			}
		})
	}
}

// claimOf is p's claim on its address, held by p, carrying rec.
func claimOf(p *b2bv1alpha1.PartnerInvitation, rec guestRecord) *coordinationv1.Lease {
	r := &Reconciler{}
	lease := r.newClaim(p)
	rec.writeTo(lease.Annotations)
	return lease
}

// record is the record on anna's claim; the zero record when there is no claim.
func (h *harness) record(t *testing.T) guestRecord {
	t.Helper()
	lease := &coordinationv1.Lease{}
	err := h.c.Get(context.Background(), client.ObjectKey{Namespace: DefaultClaimNamespace, Name: claimName("anna@fabrikam.example")}, lease)
	if apierrors.IsNotFound(err) {
		return guestRecord{}
	}
	if err != nil {
		t.Fatalf("get the claim: %v", err)
	}
	return readRecord(lease.Annotations)
}

func (h *harness) hasClaim(t *testing.T) bool {
	t.Helper()
	err := h.c.Get(context.Background(), client.ObjectKey{Namespace: DefaultClaimNamespace, Name: claimName("anna@fabrikam.example")}, &coordinationv1.Lease{})
	return err == nil
}

func redeemURL(t *testing.T, h *harness) string {
	t.Helper()
	secret := &corev1.Secret{}
	if err := h.c.Get(context.Background(), client.ObjectKey{Namespace: "team-a", Name: "anna-invitation"}, secret); err != nil {
		t.Fatalf("get the redemption Secret: %v", err)
	}
	return string(secret.Data[redeemURLKey])
}

func expectGone(t *testing.T, h *harness) {
	t.Helper()
	err := h.c.Get(context.Background(), client.ObjectKey{Namespace: "team-a", Name: "anna"}, &b2bv1alpha1.PartnerInvitation{})
	if !apierrors.IsNotFound(err) {
		t.Errorf("want the object gone once the finalizer is removed, got %v", err)
	}
}

func TestSecondObjectForAnAddressIsAConflict(t *testing.T) {
	holder := invitation(func(p *b2bv1alpha1.PartnerInvitation) {
		p.Name, p.Namespace, p.UID = "anna-first", "team-b", "uid-first"
		p.Status.UserID = guestID // from before claims: status only
		p.CreationTimestamp = metav1.NewTime(testNow.Add(-2 * time.Hour))
	})
	dir := &graphtest.Fake{}
	h := newHarness(t, dir, nil, holder, invitation(func(p *b2bv1alpha1.PartnerInvitation) { p.Spec.Email = "ANNA@fabrikam.example" }))
	if _, err := h.reconcile(t); err != nil {
		t.Fatal(err)
	}
	if len(dir.Calls()) != 0 {
		t.Errorf("a conflicting object must make no Graph call, made %v", dir.Calls())
	}
	c := meta.FindStatusCondition(h.get(t).Status.Conditions, b2bv1alpha1.ConditionReady)
	if c == nil || c.Reason != b2bv1alpha1.ReasonConflict || !strings.Contains(c.Message, "team-b/anna-first") {
		t.Errorf("want Conflict naming the holder, got %+v", c)
	}
}

func TestClaimHeldByALiveObjectIsAConflict(t *testing.T) {
	holder := invitation(func(p *b2bv1alpha1.PartnerInvitation) {
		p.Name, p.Namespace, p.UID = "anna-first", "team-b", "uid-first"
		// Younger than the loser: the API server's claim decides, not creation time.
		p.CreationTimestamp = metav1.NewTime(testNow)
	})
	claim := &coordinationv1.Lease{
		ObjectMeta: metav1.ObjectMeta{Namespace: DefaultClaimNamespace, Name: claimName("anna@fabrikam.example"),
			Annotations: map[string]string{b2bv1alpha1.AnnotationClaimHolderUID: "uid-first"}},
		Spec: coordinationv1.LeaseSpec{HolderIdentity: ptr.To("team-b/anna-first")},
	}
	dir := &graphtest.Fake{}
	h := newHarness(t, dir, nil, holder, claim, invitation())
	if _, err := h.reconcile(t); err != nil {
		t.Fatal(err)
	}
	if len(dir.Calls()) != 0 {
		t.Errorf("a conflicting object must make no Graph call, made %v", dir.Calls())
	}
	if got := readyReason(h.get(t)); got != "False/Conflict" {
		t.Errorf("Ready = %s", got)
	}

	// The holder is removed without handing over (its finalizer taken off by hand): the
	// claim is taken over.
	holder.Finalizers = nil
	if err := h.c.Update(context.Background(), holder); err != nil {
		t.Fatal(err)
	}
	if err := h.c.Delete(context.Background(), holder); err != nil {
		t.Fatal(err)
	}
	dir.FindUsersByEmailFn = func(context.Context, string) ([]graph.User, error) { return nil, nil }
	dir.InviteFn = func(context.Context, graph.InvitationRequest) (*graph.Invitation, error) {
		return &graph.Invitation{UserID: guestID, RedeemURL: "https://redeem.example/1"}, nil
	}
	if _, err := h.reconcile(t); err != nil {
		t.Fatal(err)
	}
	lease := &coordinationv1.Lease{}
	if err := h.c.Get(context.Background(), client.ObjectKeyFromObject(claim), lease); err != nil {
		t.Fatal(err)
	}
	if *lease.Spec.HolderIdentity != "team-a/anna" || lease.Annotations[b2bv1alpha1.AnnotationClaimHolderUID] != "uid-anna" {
		t.Errorf("claim not taken over: %+v", lease)
	}
	if got := readyReason(h.get(t)); got != "True/InSync" {
		t.Errorf("Ready = %s after taking the claim over", got)
	}
	if c := meta.FindStatusCondition(h.get(t).Status.Conditions, b2bv1alpha1.ConditionStalled); c != nil {
		t.Errorf("Stalled must be cleared, got %+v", c)
	}
}

func TestStatusIsNotWrittenWhenUnchanged(t *testing.T) {
	dir := &graphtest.Fake{GetUserFn: func(context.Context, string) (*graph.User, error) { return pendingGuest(guestID), nil }}
	writes := 0
	funcs := &interceptor.Funcs{SubResourcePatch: func(ctx context.Context, c client.Client, sub string, o client.Object, p client.Patch, opts ...client.SubResourcePatchOption) error {
		writes++
		return c.SubResource(sub).Patch(ctx, o, p, opts...)
	}}
	h := newHarness(t, dir, funcs, invitation(), claimOf(invitation(), guestRecord{UserID: guestID, Origin: b2bv1alpha1.GuestOriginInvited}))
	for range 3 {
		if _, err := h.reconcile(t); err != nil {
			t.Fatal(err)
		}
	}
	if writes != 1 {
		t.Errorf("status writes = %d over three identical reconciles, want 1", writes)
	}
}

// A status write that loses to a newer copy of the object is tried again soon: the newer copy's
// update may trigger no reconcile, and the status computed from the stale one was not written.
func TestStatusConflictLooksAgainSoon(t *testing.T) {
	dir := &graphtest.Fake{GetUserFn: func(context.Context, string) (*graph.User, error) { return pendingGuest(guestID), nil }}
	funcs := &interceptor.Funcs{SubResourcePatch: func(ctx context.Context, c client.Client, sub string, o client.Object, p client.Patch, opts ...client.SubResourcePatchOption) error {
		return apierrors.NewConflict(schema.GroupResource{Group: "b2b.partnerops.io", Resource: "partnerinvitations"}, o.GetName(), errors.New("stale"))
	}}
	h := newHarness(t, dir, funcs, invitation(), claimOf(invitation(), guestRecord{UserID: guestID, Origin: b2bv1alpha1.GuestOriginInvited}))
	res, err := h.reconcile(t)
	if err != nil {
		t.Fatalf("a status conflict is not an error to log: %v", err)
	}
	if res.RequeueAfter <= 0 || res.RequeueAfter > time.Second {
		t.Errorf("RequeueAfter = %v after a status conflict, want a prompt retry", res.RequeueAfter)
	}
}

func TestProfileDriftWritesOnlyTheFieldsTheSpecSets(t *testing.T) {
	have := graph.Profile{"companyName": "Old Co", "department": "Set by HR"}
	got := profileDrift(&b2bv1alpha1.GuestProfile{CompanyName: "Fabrikam", JobTitle: "Consultant"}, have)
	want := graph.Profile{"companyName": "Fabrikam", "jobTitle": "Consultant"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("drift (-want +got):\n%s", diff)
	}
	if got := profileDrift(nil, have); got != nil {
		t.Errorf("no spec.profile must write nothing, got %v", got)
	}
	if got := profileDrift(&b2bv1alpha1.GuestProfile{CompanyName: "Old Co"}, have); len(got) != 0 {
		t.Errorf("a profile in sync must write nothing, got %v", got)
	}
}
