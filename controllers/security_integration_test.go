package controllers_test

import (
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	b2bv1alpha1 "github.com/partnerops/partner-operator/api/v1alpha1"
	"github.com/partnerops/partner-operator/internal/graph/emulator"
	"github.com/partnerops/partner-operator/internal/testbed"
)

// A namespace editor (the shipped editor role, bound in one namespace) writes spec, metadata,
// labels, annotations and finalizers. None of it may make the operator act on an account that
// is not its own objects': another namespace's guest, a guest nobody manages, a pending guest,
// or a member account.
var _ = Describe("What a namespace editor can make the operator do", func() {
	It("writes nothing to other accounts and gets no redemption URL for them, whatever the annotations say", func() {
		ns, labels := labelledNamespace()
		// The cluster owner's policy for this namespace: invitations, no adoption.
		createPolicy("editor-"+ns, labels, b2bv1alpha1.PartnerAccessPolicySpec{})
		editorCfg, err := testbed.NamespaceEditorConfig(suiteCtx, testEnv, k8s, ns, "security-editor-"+ns)
		Expect(err).NotTo(HaveOccurred())
		editor, err := client.New(editorCfg, client.Options{Scheme: k8s.Scheme()})
		Expect(err).NotTo(HaveOccurred())

		By("the accounts an editor must never reach")
		member := emu.AddUser(emulator.User{DisplayName: "Internal Member", Mail: "member@tenant.example", UserType: "Member", AccountEnabled: true})
		unowned := emu.AddUser(emulator.User{DisplayName: "Unowned Guest", Mail: "unowned@elsewhere.example", UserType: "Guest",
			CreationType: "Invitation", ExternalUserState: emulator.StateAccepted, AccountEnabled: true})
		pending := emu.AddUser(emulator.User{DisplayName: "Pending Guest", Mail: "pending@elsewhere.example", UserType: "Guest",
			CreationType: "Invitation", ExternalUserState: emulator.StatePendingAcceptance, AccountEnabled: true})
		other := newInvitation(newNamespace(), "theirs", "theirs@other-team.example")
		createReady(other)
		othersGuest := userID(other)
		victims := []string{member.ID, unowned.ID, pending.ID, othersGuest}
		writesBefore := map[string]int{}
		for _, id := range victims {
			writesBefore[id] = graphWritesFor(id)
		}

		forged := func(id string) map[string]string {
			return map[string]string{
				b2bv1alpha1.AnnotationExternalName:      id,
				b2bv1alpha1.AnnotationGuestOrigin:       b2bv1alpha1.GuestOriginInvited,
				b2bv1alpha1.AnnotationCreateSucceeded:   time.Now().UTC().Format(time.RFC3339),
				b2bv1alpha1.AnnotationResendRequestedAt: "2026-12-01T00:00:00Z",
				b2bv1alpha1.AnnotationResetRequestedAt:  "2026-12-01T00:00:00Z",
				b2bv1alpha1.AnnotationClaimGuest:        id,
				b2bv1alpha1.AnnotationClaimHolderUID:    "forged",
			}
		}
		var mine []*b2bv1alpha1.PartnerInvitation
		for name, id := range map[string]string{"forge-member": member.ID, "forge-unowned": unowned.ID, "forge-theirs": othersGuest} {
			p := newInvitation(ns, name, name+"@editor-own.example", func(p *b2bv1alpha1.PartnerInvitation) {
				p.Annotations = forged(id)
				p.Labels = map[string]string{b2bv1alpha1.LabelInvitation: "theirs", b2bv1alpha1.LabelClaim: "true"}
				p.Finalizers = []string{b2bv1alpha1.Finalizer}
				p.Spec.DisplayName = "Renamed By Editor"
			})
			mine = append(mine, p)
		}
		// Objects for the addresses of the other accounts, claiming an invitation in flight.
		for name, email := range map[string]string{"steal-pending": pending.Mail, "steal-unowned": unowned.Mail, "steal-member": member.Mail, "steal-theirs": other.Spec.Email} {
			mine = append(mine, newInvitation(ns, name, email, func(p *b2bv1alpha1.PartnerInvitation) {
				p.Annotations = map[string]string{
					b2bv1alpha1.AnnotationCreatePending:     time.Now().UTC().Format(time.RFC3339),
					b2bv1alpha1.AnnotationResendRequestedAt: "2026-12-01T00:00:00Z",
				}
			}))
		}
		for _, p := range mine {
			Expect(editor.Create(suiteCtx, p.DeepCopy())).To(Succeed(), "the editor creates %s", p.Name)
		}

		By("every object settles: its own guest invited, or refused without a write")
		for _, p := range mine {
			Eventually(func() metav1.ConditionStatus { return condition(fetch(p)(Default), b2bv1alpha1.ConditionReady).Status }).
				WithTimeout(timeout).WithPolling(interval).ShouldNot(BeEmpty(), p.Name)
		}
		for _, name := range []string{"steal-pending", "steal-unowned", "steal-member", "steal-theirs"} {
			Expect(condition(fetch(&b2bv1alpha1.PartnerInvitation{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}})(Default), b2bv1alpha1.ConditionReady).Status).
				To(Equal(metav1.ConditionFalse), name)
		}

		By("the editor cannot write status, where the operator mirrors its record")
		p := fetch(mine[0])(Default)
		base := p.DeepCopy()
		p.Status.UserID = othersGuest
		Expect(editor.Status().Patch(suiteCtx, p, client.MergeFrom(base))).NotTo(Succeed())

		By("changing the annotations of a settled object, then deleting everything")
		for _, p := range mine {
			cur := &b2bv1alpha1.PartnerInvitation{}
			Expect(editor.Get(suiteCtx, client.ObjectKeyFromObject(p), cur)).To(Succeed())
			patch := client.MergeFrom(cur.DeepCopy())
			if cur.Annotations == nil {
				cur.Annotations = map[string]string{}
			}
			cur.Annotations[b2bv1alpha1.AnnotationExternalName] = othersGuest
			cur.Annotations[b2bv1alpha1.AnnotationResendRequestedAt] = "2026-12-02T00:00:00Z"
			Expect(editor.Patch(suiteCtx, cur, patch)).To(Succeed())
		}
		for _, p := range mine {
			Expect(editor.Delete(suiteCtx, p.DeepCopy())).To(Succeed())
		}
		for _, p := range mine {
			eventuallyGone(p)
		}

		By("no Graph write reached another account, and every redemption URL left is the object's own")
		for _, id := range victims {
			Expect(graphWritesFor(id)).To(Equal(writesBefore[id]), "writes naming %s", id)
			_, ok := emu.User(id)
			Expect(ok).To(BeTrue(), "account %s still exists", id)
		}
		var secrets corev1.SecretList
		Expect(k8s.List(suiteCtx, &secrets, client.InNamespace(ns))).To(Succeed())
		for _, s := range secrets.Items {
			if url := string(s.Data["redeemURL"]); url != "" {
				user, _ := emu.RedeemURLUser(url)
				Expect(victims).NotTo(ContainElement(user), "Secret %s holds a URL for another account", s.Name)
			}
		}
		Expect(fetch(other)(Default).Status.UserID).To(Equal(othersGuest))
	})

	It("sends at most what the limits allow, however often the resend annotation changes", func() {
		ns, labels := labelledNamespace()
		createPolicy("limits-"+ns, labels, b2bv1alpha1.PartnerAccessPolicySpec{SendLimits: &b2bv1alpha1.SendLimits{
			MinInterval: &metav1.Duration{Duration: time.Minute}, PerNamespacePerDay: ptrInt32(3)}})
		email := "often@limits.example"
		p := newInvitation(ns, "often", email)
		Eventually(func() error { return k8s.Create(suiteCtx, p.DeepCopy()) }).
			WithTimeout(timeout).WithPolling(200 * time.Millisecond).Should(Succeed())
		Eventually(fetch(p)).WithTimeout(timeout).WithPolling(interval).Should(
			haveCondition(b2bv1alpha1.ConditionReady, metav1.ConditionTrue, b2bv1alpha1.ReasonInSync))

		By("20 resend requests, each after the clock moved on by the minimum interval")
		for i := range 20 {
			operatorClock.Step(time.Minute)
			want := time.Date(2026, 12, 2, 0, 0, i, 0, time.UTC).Format(time.RFC3339)
			annotate(p, map[string]string{b2bv1alpha1.AnnotationResendRequestedAt: want})
			Eventually(func() string { return fetch(p)(Default).Status.LastHandledResendAt }).
				WithTimeout(timeout).WithPolling(interval).Should(Equal(want))
		}
		Expect(emu.MailsSent(email)).To(Equal(1+3), "the first invitation and the namespace's 3 sends of the day")
		Expect(eventReasons(p)).To(ContainElement("SendRateLimited"))
	})
})

var _ = Describe("Handover between namespaces", func() {
	It("does not pass a guest to another namespace unless a policy that selects both allows it", func() {
		nsB, labels := labelledNamespace()
		createPolicy("handover-"+nsB, labels, b2bv1alpha1.PartnerAccessPolicySpec{})
		nsA := nsB + "-a"
		Expect(k8s.Create(suiteCtx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: nsA, Labels: labels}})).To(Succeed())
		email := "handover@teams.example"
		holder := newInvitation(nsB, "holder", email)
		Eventually(func() error { return k8s.Create(suiteCtx, holder.DeepCopy()) }).
			WithTimeout(timeout).WithPolling(200 * time.Millisecond).Should(Succeed())
		Eventually(fetch(holder)).WithTimeout(timeout).WithPolling(interval).Should(
			haveCondition(b2bv1alpha1.ConditionReady, metav1.ConditionTrue, b2bv1alpha1.ReasonInSync))
		guest := userID(holder)
		waiting := newInvitation(nsA, "waiting", email)
		Expect(k8s.Create(suiteCtx, waiting.DeepCopy())).To(Succeed())
		Eventually(fetch(waiting)).WithTimeout(timeout).WithPolling(interval).Should(beStalled(b2bv1alpha1.ReasonConflict))

		By("the holder goes: its deletionPolicy applies, and the waiting object starts afresh")
		Expect(k8s.Delete(suiteCtx, holder)).To(Succeed())
		eventuallyGone(holder)
		_, exists := emu.User(guest)
		Expect(exists).To(BeFalse(), "deletionPolicy Delete removed the holder's guest")
		Eventually(fetch(waiting)).WithTimeout(timeout).WithPolling(interval).Should(
			haveCondition(b2bv1alpha1.ConditionReady, metav1.ConditionTrue, b2bv1alpha1.ReasonInSync))
		got := fetch(waiting)(Default)
		Expect(got.Status.UserID).NotTo(Equal(guest))
		Expect(condition(got, b2bv1alpha1.ConditionInvited).Reason).NotTo(Equal(b2bv1alpha1.ReasonHandedOver))
	})
})

func ptrInt32(v int32) *int32 { return &v }
