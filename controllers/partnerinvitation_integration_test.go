package controllers_test

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	b2bv1alpha1 "github.com/partnerops/partner-operator/api/v1alpha1"
	"github.com/partnerops/partner-operator/internal/graph/emulator"
)

var nsCounter atomic.Int64

// openLabel marks the namespaces of tests that are not about policy; the suite's open policy
// selects them. The operator denies namespaces that no policy selects, as shipped.
const openLabel = "partnerops.test/open"

var openPolicyOnce sync.Once

// newNamespace returns a namespace the suite's open policy governs: anyone may be invited, any
// access granted, existing guests adopted and deleted.
func newNamespace() string {
	openPolicyOnce.Do(createOpenPolicy)
	name := fmt.Sprintf("pinv-test-%d", nsCounter.Add(1))
	Expect(k8s.Create(suiteCtx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name,
		Labels: map[string]string{openLabel: "true"}}})).To(Succeed())
	return name
}

func createOpenPolicy() {
	Expect(k8s.Create(suiteCtx, &b2bv1alpha1.PartnerAccessPolicy{
		ObjectMeta: metav1.ObjectMeta{Name: "suite-open"},
		Spec: b2bv1alpha1.PartnerAccessPolicySpec{
			NamespaceSelector:   metav1.LabelSelector{MatchLabels: map[string]string{openLabel: "true"}},
			AllowedGroups:       []string{"*"},
			AllowedApplications: []b2bv1alpha1.ApplicationRule{{App: "*"}},
			AllowMemberUserType: true, AllowCustomMessage: true,
			Adoption: b2bv1alpha1.AdoptionAdoptAndDelete, AllowPromotion: true,
			// The claim specs hand guests over between the namespaces this policy selects.
			AllowCrossNamespaceHandover: true,
		},
	})).To(Succeed())
	// The admission policy denies everything while it knows no PartnerAccessPolicy; wait until
	// the API server has picked this one up.
	ns := fmt.Sprintf("pinv-test-%d", nsCounter.Add(1))
	Expect(k8s.Create(suiteCtx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns, Labels: map[string]string{openLabel: "true"}}})).To(Succeed())
	Eventually(func() error {
		return k8s.Create(suiteCtx, newInvitation(ns, "probe", "probe@open.example"), client.DryRunAll)
	}).WithTimeout(timeout).WithPolling(200 * time.Millisecond).Should(Succeed())
}

func newInvitation(ns, name, email string, mutate ...func(*b2bv1alpha1.PartnerInvitation)) *b2bv1alpha1.PartnerInvitation {
	p := &b2bv1alpha1.PartnerInvitation{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec:       b2bv1alpha1.PartnerInvitationSpec{Email: email, DisplayName: "Partner " + name},
	}
	for _, m := range mutate {
		m(p)
	}
	return p
}

func fetch(p *b2bv1alpha1.PartnerInvitation) func(Gomega) *b2bv1alpha1.PartnerInvitation {
	return func(g Gomega) *b2bv1alpha1.PartnerInvitation {
		out := &b2bv1alpha1.PartnerInvitation{}
		g.Expect(k8s.Get(suiteCtx, client.ObjectKeyFromObject(p), out)).To(Succeed())
		return out
	}
}

func condition(p *b2bv1alpha1.PartnerInvitation, typ string) metav1.Condition {
	if c := meta.FindStatusCondition(p.Status.Conditions, typ); c != nil {
		return *c
	}
	return metav1.Condition{}
}

// haveCondition matches a PartnerInvitation whose condition has the status and reason.
func haveCondition(typ string, status metav1.ConditionStatus, reason string) OmegaMatcher {
	return WithTransform(func(p *b2bv1alpha1.PartnerInvitation) string {
		c := condition(p, typ)
		return string(c.Status) + "/" + c.Reason
	}, Equal(string(status)+"/"+reason))
}

// beStalled matches an object that waits on a person: Ready=False and Stalled=True, both
// with the reason.
func beStalled(reason string) OmegaMatcher {
	return SatisfyAll(
		haveCondition(b2bv1alpha1.ConditionReady, metav1.ConditionFalse, reason),
		haveCondition(b2bv1alpha1.ConditionStalled, metav1.ConditionTrue, reason))
}

// invitationsFor counts the invitations Graph accepted for the address.
func invitationsFor(email string) int {
	n := 0
	for _, r := range emu.Requests() {
		if r.Method == "POST" && r.Path == "/invitations" && r.Status == 201 && strings.Contains(string(r.Body), email) {
			n++
		}
	}
	return n
}

func guestByEmail(email string) (emulator.User, bool) {
	for _, u := range emu.Users() {
		if strings.EqualFold(u.Mail, email) {
			return u, true
		}
	}
	return emulator.User{}, false
}

// requestsMentioning counts Graph requests that name the address in their query or body.
func requestsMentioning(email string) int {
	n := 0
	for _, r := range emu.Requests() {
		query, _ := url.QueryUnescape(r.RawQuery)
		if strings.Contains(query, email) || strings.Contains(string(r.Body), email) {
			n++
		}
	}
	return n
}

// createReady creates the object and waits until it is Ready and in sync.
func createReady(p *b2bv1alpha1.PartnerInvitation) {
	Expect(k8s.Create(suiteCtx, p)).To(Succeed())
	Eventually(fetch(p)).WithTimeout(timeout).WithPolling(interval).Should(
		haveCondition(b2bv1alpha1.ConditionReady, metav1.ConditionTrue, b2bv1alpha1.ReasonInSync))
}

// eventuallyGone waits until the object has left the API server (its finalizer removed).
func eventuallyGone(p *b2bv1alpha1.PartnerInvitation) {
	Eventually(func() bool {
		return apierrors.IsNotFound(k8s.Get(suiteCtx, client.ObjectKeyFromObject(p), &b2bv1alpha1.PartnerInvitation{}))
	}).WithTimeout(timeout).WithPolling(interval).Should(BeTrue())
}

func requestsWithStatus(method, path string, status int) int {
	n := 0
	for _, r := range emu.Requests() {
		if r.Method == method && r.Path == path && r.Status == status {
			n++
		}
	}
	return n
}

func requestsTo(method, path string) int {
	n := 0
	for _, r := range emu.Requests() {
		if r.Method == method && r.Path == path {
			n++
		}
	}
	return n
}

const timeout, interval = 30 * time.Second, 100 * time.Millisecond

var _ = Describe("PartnerInvitation", func() {
	It("invites once, tracks redemption, and deletes the guest with the object", func() {
		ns := newNamespace()
		email := "anna@fabrikam.example"
		p := newInvitation(ns, "anna", email, func(p *b2bv1alpha1.PartnerInvitation) {
			p.Spec.RedirectURL = "https://apps.fabrikam.example/welcome"
			p.Spec.Message = &b2bv1alpha1.InvitationMessage{Body: "Welcome aboard", Language: "de-DE", CCRecipients: []string{"sponsor@contoso.example"}}
		})
		Expect(k8s.Create(suiteCtx, p)).To(Succeed())

		Eventually(fetch(p)).WithTimeout(timeout).WithPolling(interval).Should(SatisfyAll(
			haveCondition(b2bv1alpha1.ConditionReady, metav1.ConditionTrue, b2bv1alpha1.ReasonInSync),
			haveCondition(b2bv1alpha1.ConditionInvited, metav1.ConditionTrue, b2bv1alpha1.ReasonInvitationSent),
			haveCondition(b2bv1alpha1.ConditionRedeemed, metav1.ConditionFalse, b2bv1alpha1.ReasonPendingAcceptance),
		))
		got := fetch(p)(Default)
		Expect(got.Status.UserID).NotTo(BeEmpty())
		Expect(got.Status.State).To(Equal(b2bv1alpha1.StatePendingAcceptance))
		Expect(got.Status.InvitedAt).NotTo(BeNil())
		Expect(got.Status.ObservedGeneration).To(Equal(got.Generation))
		Expect(got.Finalizers).To(ContainElement(b2bv1alpha1.Finalizer))
		Expect(condition(got, b2bv1alpha1.ConditionReady).ObservedGeneration).To(Equal(got.Generation))

		By("sending exactly one invitation with the spec's fields")
		Expect(invitationsFor(email)).To(Equal(1))
		var body map[string]any
		for _, r := range emu.Requests() {
			if r.Method == "POST" && r.Path == "/invitations" && strings.Contains(string(r.Body), email) {
				Expect(json.Unmarshal(r.Body, &body)).To(Succeed())
			}
		}
		Expect(body).To(HaveKeyWithValue("invitedUserEmailAddress", email))
		Expect(body).To(HaveKeyWithValue("inviteRedirectUrl", "https://apps.fabrikam.example/welcome"))
		Expect(body).To(HaveKeyWithValue("sendInvitationMessage", true))
		Expect(body).To(HaveKeyWithValue("invitedUserDisplayName", "Partner anna"))
		Expect(body).To(HaveKeyWithValue("invitedUserType", "Guest"))
		Expect(body).To(HaveKey("invitedUserMessageInfo"))
		info := body["invitedUserMessageInfo"].(map[string]any)
		Expect(info).To(HaveKeyWithValue("customizedMessageBody", "Welcome aboard"))
		Expect(info).To(HaveKeyWithValue("messageLanguage", "de-DE"))
		Expect(emu.MailsSent(email)).To(Equal(1))

		By("keeping the redemption URL in an owned Secret, out of status")
		Expect(got.Status.RedeemURLSecretName).NotTo(BeEmpty())
		secret := &corev1.Secret{}
		Expect(k8s.Get(suiteCtx, client.ObjectKey{Namespace: ns, Name: got.Status.RedeemURLSecretName}, secret)).To(Succeed())
		Expect(string(secret.Data["redeemURL"])).To(HavePrefix("https://"))
		Expect(metav1.IsControlledBy(secret, got)).To(BeTrue())
		statusJSON, _ := json.Marshal(got.Status)
		Expect(string(statusJSON)).NotTo(ContainSubstring(string(secret.Data["redeemURL"])))

		By("reporting redemption once the partner accepts")
		Expect(emu.AcceptInvitation(got.Status.UserID)).To(Succeed())
		Eventually(fetch(p)).WithTimeout(timeout).WithPolling(interval).Should(
			haveCondition(b2bv1alpha1.ConditionRedeemed, metav1.ConditionTrue, b2bv1alpha1.ReasonAccepted))
		got = fetch(p)(Default)
		Expect(got.Status.State).To(Equal(b2bv1alpha1.StateAccepted))
		Expect(got.Status.RedeemedAt).NotTo(BeNil())
		Expect(invitationsFor(email)).To(Equal(1), "polling must never invite again")

		By("renaming the guest in place when the display name changes")
		got.Spec.DisplayName = "Anna Schmidt"
		Expect(k8s.Update(suiteCtx, got)).To(Succeed())
		Eventually(func() string { u, _ := emu.User(got.Status.UserID); return u.DisplayName }).
			WithTimeout(timeout).WithPolling(interval).Should(Equal("Anna Schmidt"))
		Expect(invitationsFor(email)).To(Equal(1))

		By("deleting the guest with the object")
		userID := got.Status.UserID
		Expect(k8s.Delete(suiteCtx, got)).To(Succeed())
		eventuallyGone(p)
		_, exists := emu.User(userID)
		Expect(exists).To(BeFalse(), "the guest must be gone from the directory")
	})

	It("leaves the guest in the directory with deletionPolicy Orphan", func() {
		ns := newNamespace()
		email := "otto@orphan.example"
		p := newInvitation(ns, "otto", email, func(p *b2bv1alpha1.PartnerInvitation) {
			p.Spec.DeletionPolicy = b2bv1alpha1.DeletionPolicyOrphan
		})
		Expect(k8s.Create(suiteCtx, p)).To(Succeed())
		Eventually(fetch(p)).WithTimeout(timeout).WithPolling(interval).Should(
			haveCondition(b2bv1alpha1.ConditionReady, metav1.ConditionTrue, b2bv1alpha1.ReasonInSync))
		userID := fetch(p)(Default).Status.UserID
		deletesBefore := requestsTo("DELETE", "/users/"+userID)

		Expect(k8s.Delete(suiteCtx, p)).To(Succeed())
		eventuallyGone(p)
		_, exists := emu.User(userID)
		Expect(exists).To(BeTrue())
		Expect(requestsTo("DELETE", "/users/"+userID)).To(Equal(deletesBefore))
	})

	It("adopts an existing guest without sending an invitation", func() {
		ns := newNamespace()
		email := "gina@existing.example"
		existing := emu.AddUser(emulator.User{DisplayName: "Partner gina", Mail: email, OtherMails: []string{email},
			UserType: "Guest", CreationType: "Invitation", ExternalUserState: "Accepted",
			ExternalUserStateChangeDateTime: time.Now().Add(-time.Hour), AccountEnabled: true})
		p := newInvitation(ns, "gina", email)
		Expect(k8s.Create(suiteCtx, p)).To(Succeed())

		Eventually(fetch(p)).WithTimeout(timeout).WithPolling(interval).Should(SatisfyAll(
			haveCondition(b2bv1alpha1.ConditionInvited, metav1.ConditionTrue, b2bv1alpha1.ReasonAdopted),
			haveCondition(b2bv1alpha1.ConditionReady, metav1.ConditionTrue, b2bv1alpha1.ReasonInSync),
			haveCondition(b2bv1alpha1.ConditionRedeemed, metav1.ConditionTrue, b2bv1alpha1.ReasonAccepted),
		))
		got := fetch(p)(Default)
		Expect(got.Status.UserID).To(Equal(existing.ID))
		Expect(got.Status.Adopted).To(BeTrue())
		Expect(invitationsFor(email)).To(BeZero())
	})

	It("never touches a member account with the same mail", func() {
		ns := newNamespace()
		email := "mia@contoso.example"
		member := emu.AddUser(emulator.User{DisplayName: "Mia (employee)", Mail: email, UserType: "Member", AccountEnabled: true})
		p := newInvitation(ns, "mia", email)
		Expect(k8s.Create(suiteCtx, p)).To(Succeed())

		Eventually(fetch(p)).WithTimeout(timeout).WithPolling(interval).Should(
			beStalled(b2bv1alpha1.ReasonConflict))
		Expect(condition(fetch(p)(Default), b2bv1alpha1.ConditionReady).Message).To(ContainSubstring("member account"))
		Expect(invitationsFor(email)).To(BeZero())
		Expect(requestsTo("PATCH", "/users/"+member.ID)).To(BeZero())

		By("deleting the object leaves the member alone")
		Expect(k8s.Delete(suiteCtx, p)).To(Succeed())
		eventuallyGone(p)
		u, exists := emu.User(member.ID)
		Expect(exists).To(BeTrue())
		Expect(u.DisplayName).To(Equal("Mia (employee)"))
		Expect(requestsTo("DELETE", "/users/"+member.ID)).To(BeZero())
	})

	It("lets one object claim an address cluster-wide", func() {
		email := "paul@twice.example"
		first := newInvitation(newNamespace(), "paul", email)
		Expect(k8s.Create(suiteCtx, first)).To(Succeed())
		Eventually(fetch(first)).WithTimeout(timeout).WithPolling(interval).Should(
			haveCondition(b2bv1alpha1.ConditionReady, metav1.ConditionTrue, b2bv1alpha1.ReasonInSync))

		second := newInvitation(newNamespace(), "paul-again", strings.ToUpper(email[:1])+email[1:])
		Expect(k8s.Create(suiteCtx, second)).To(Succeed())
		Eventually(fetch(second)).WithTimeout(timeout).WithPolling(interval).Should(
			haveCondition(b2bv1alpha1.ConditionReady, metav1.ConditionFalse, b2bv1alpha1.ReasonConflict))
		Expect(condition(fetch(second)(Default), b2bv1alpha1.ConditionReady).Message).To(ContainSubstring(first.Namespace + "/paul"))
		Consistently(func() int { return invitationsFor(email) + invitationsFor("Paul@twice.example") }).
			WithTimeout(2 * time.Second).WithPolling(200 * time.Millisecond).Should(Equal(1))

		By("deleting the conflicting object leaves the holder's guest alone")
		holderID := fetch(first)(Default).Status.UserID
		Expect(k8s.Delete(suiteCtx, second)).To(Succeed())
		eventuallyGone(second)
		_, exists := emu.User(holderID)
		Expect(exists).To(BeTrue())
	})

	It("waits out throttling and still sends one invitation", func() {
		ns := newNamespace()
		email := "theo@throttle.example"
		// Longer than the SDK's in-process retry allows, so the controller must requeue.
		emu.InjectFault(emulator.Fault{Method: "POST", PathPrefix: "/invitations", Status: 429, RetryAfter: 3 * time.Second, Times: 2})
		p := newInvitation(ns, "theo", email)
		Expect(k8s.Create(suiteCtx, p)).To(Succeed())
		Eventually(fetch(p)).WithTimeout(timeout).WithPolling(interval).Should(
			haveCondition(b2bv1alpha1.ConditionReady, metav1.ConditionFalse, b2bv1alpha1.ReasonThrottled))
		Eventually(fetch(p)).WithTimeout(timeout).WithPolling(interval).Should(
			haveCondition(b2bv1alpha1.ConditionReady, metav1.ConditionTrue, b2bv1alpha1.ReasonInSync))
		Expect(invitationsFor(email)).To(Equal(1))
		throttled := 0
		for _, r := range emu.Requests() {
			if r.Path == "/invitations" && r.Status == 429 {
				throttled++
			}
		}
		Expect(throttled).To(BeNumerically(">=", 2))
	})

	It("sends one invitation when Graph's answer to it is lost (test/e2e kills the process instead)", func() {
		ns := newNamespace()
		email := "carl@crash.example"
		crash.loseNextInviteAnswer.Store(true)
		p := newInvitation(ns, "carl", email)
		Expect(k8s.Create(suiteCtx, p)).To(Succeed())

		Eventually(fetch(p)).WithTimeout(timeout).WithPolling(interval).Should(
			haveCondition(b2bv1alpha1.ConditionReady, metav1.ConditionTrue, b2bv1alpha1.ReasonInSync))
		Expect(crash.loseNextInviteAnswer.Load()).To(BeFalse(), "the simulated crash must have happened")
		got := fetch(p)(Default)
		guest, ok := guestByEmail(email)
		Expect(ok).To(BeTrue())
		Expect(got.Status.UserID).To(Equal(guest.ID))
		Expect(got.Status.Adopted).To(BeFalse(), "the guest is the operator's own invitation, found again")
		Consistently(func() int { return emu.MailsSent(email) }).
			WithTimeout(2 * time.Second).WithPolling(200 * time.Millisecond).Should(Equal(1))

		By("recovering a working redemption URL without a second mail")
		Expect(invitationsFor(email)).To(Equal(2), "the lost invitation and one re-invitation without a mail")
		secret := &corev1.Secret{}
		Expect(k8s.Get(suiteCtx, client.ObjectKey{Namespace: ns, Name: "carl-invitation"}, secret)).To(Succeed())
		redeemed, err := emu.Redeem(string(secret.Data["redeemURL"]))
		Expect(err).NotTo(HaveOccurred())
		Expect(redeemed).To(Equal(guest.ID))
	})

	It("waits for a new guest to become visible instead of inviting again", func() {
		ns := newNamespace()
		email := "vera@visibility.example"
		emu.SetVisibilityDelay(2 * time.Second)
		defer emu.SetVisibilityDelay(0)
		p := newInvitation(ns, "vera", email)
		Expect(k8s.Create(suiteCtx, p)).To(Succeed())
		Eventually(fetch(p)).WithTimeout(timeout).WithPolling(interval).Should(
			haveCondition(b2bv1alpha1.ConditionRedeemed, metav1.ConditionFalse, b2bv1alpha1.ReasonPendingAcceptance))
		// A user's annotation change makes the operator look again inside the visibility
		// window: Graph answers 404 for the new guest, which must not become a second invitation.
		got := fetch(p)(Default)
		base := got.DeepCopy()
		if got.Annotations == nil {
			got.Annotations = map[string]string{}
		}
		got.Annotations["example.com/touched"] = "yes"
		Expect(k8s.Patch(suiteCtx, got, client.MergeFrom(base))).To(Succeed())
		Eventually(func() int { return requestsWithStatus("GET", "/users/"+got.Status.UserID, 404) }).
			WithTimeout(timeout).WithPolling(interval).Should(BeNumerically(">=", 1))
		Consistently(func() int { return invitationsFor(email) }).
			WithTimeout(3 * time.Second).WithPolling(200 * time.Millisecond).Should(Equal(1))
		Eventually(func() int { return requestsWithStatus("GET", "/users/"+got.Status.UserID, 200) }).
			WithTimeout(timeout).WithPolling(interval).Should(BeNumerically(">=", 1))
		// The ownership recorder reads the guest too; the reconcile's own read follows.
		Eventually(fetch(p)).WithTimeout(timeout).WithPolling(interval).Should(
			haveCondition(b2bv1alpha1.ConditionReady, metav1.ConditionTrue, b2bv1alpha1.ReasonInSync))
		Expect(invitationsFor(email)).To(Equal(1))
	})

	It("re-invites a guest deleted outside the operator and says so", func() {
		ns := newNamespace()
		email := "rosa@reinvite.example"
		p := newInvitation(ns, "rosa", email)
		createReady(p)
		oldID := fetch(p)(Default).Status.UserID

		Expect(emu.DeleteUserOutOfBand(oldID)).To(Succeed())
		Eventually(fetch(p)).WithTimeout(timeout).WithPolling(interval).Should(SatisfyAll(
			haveCondition(b2bv1alpha1.ConditionInvited, metav1.ConditionTrue, b2bv1alpha1.ReasonReinvited),
			WithTransform(func(p *b2bv1alpha1.PartnerInvitation) string { return p.Status.UserID }, SatisfyAll(Not(BeEmpty()), Not(Equal(oldID)))),
		))
		Expect(invitationsFor(email)).To(Equal(2))
		Eventually(func() []string {
			var list corev1.EventList
			_ = k8s.List(suiteCtx, &list, client.InNamespace(ns))
			var reasons []string
			for _, e := range list.Items {
				reasons = append(reasons, e.Reason)
			}
			return reasons
		}).WithTimeout(timeout).WithPolling(interval).Should(ContainElement("Reinvited"))
	})

	DescribeTable("rejects invalid manifests at admission with a clear message",
		func(mutate func(*b2bv1alpha1.PartnerInvitation), want string) {
			ns := newNamespace()
			email := fmt.Sprintf("bad-%s@input.example", ns)
			p := newInvitation(ns, "bad", email, mutate)
			err := k8s.Create(suiteCtx, p)
			Expect(err).To(HaveOccurred())
			Expect(apierrors.IsInvalid(err)).To(BeTrue(), err.Error())
			Expect(err.Error()).To(ContainSubstring(want))
			Expect(requestsMentioning(email)).To(BeZero(), "a rejected manifest causes no Graph call")
		},
		Entry("missing email", func(p *b2bv1alpha1.PartnerInvitation) { p.Spec.Email = "" }, "spec.email"),
		Entry("not an address", func(p *b2bv1alpha1.PartnerInvitation) { p.Spec.Email = "not-an-address" }, "spec.email"),
		Entry("plain http redirect", func(p *b2bv1alpha1.PartnerInvitation) { p.Spec.RedirectURL = "http://contoso.example" }, "redirectURL must be an https:// URL"),
		Entry("two cc recipients", func(p *b2bv1alpha1.PartnerInvitation) {
			p.Spec.Message = &b2bv1alpha1.InvitationMessage{CCRecipients: []string{"a@x.example", "b@x.example"}}
		}, "spec.message.ccRecipients"),
		Entry("unknown user type", func(p *b2bv1alpha1.PartnerInvitation) { p.Spec.UserType = "Admin" }, "spec.userType"),
		Entry("unknown deletion policy", func(p *b2bv1alpha1.PartnerInvitation) { p.Spec.DeletionPolicy = "Keep" }, "spec.deletionPolicy"),
	)

	It("refuses to change the email of an existing object", func() {
		ns := newNamespace()
		p := newInvitation(ns, "immutable", "ida@immutable.example", func(p *b2bv1alpha1.PartnerInvitation) {
			p.Annotations = map[string]string{b2bv1alpha1.AnnotationPaused: "true"}
		})
		Expect(k8s.Create(suiteCtx, p)).To(Succeed())
		p.Spec.Email = "someone-else@immutable.example"
		err := k8s.Update(suiteCtx, p)
		Expect(err).To(HaveOccurred())
		Expect(err.Error()).To(ContainSubstring("email is immutable"))
		Expect(invitationsFor("ida@immutable.example")).To(BeZero(), "a paused object makes no Graph call")
	})
})
