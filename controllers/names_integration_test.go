package controllers_test

import (
	"fmt"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"sigs.k8s.io/controller-runtime/pkg/client"

	b2bv1alpha1 "github.com/partnerops/partner-operator/api/v1alpha1"
)

// Every name the API server admits works: the redemption URL's Secret gets a valid name and
// label, whatever the object's length (a label value holds 63 characters, a Secret name 253).
var _ = Describe("Long PartnerInvitation names", func() {
	// A valid DNS subdomain of n characters, with dots and dashes where a cut may fall.
	longName := func(prefix string, n int) string {
		s := prefix
		for len(s) < n {
			s += ".partner-invitation"
		}
		return s[:n-1] + "z"
	}

	for _, length := range []int{64, 250} {
		It(fmt.Sprintf("invites once, keeps the URL and reads Ready with a name of %d characters", length), func() {
			ns := newNamespace()
			email := fmt.Sprintf("long%d@names.example", length)
			name := longName(fmt.Sprintf("long-%d", length), length)
			Expect(name).To(HaveLen(length))
			Expect(validation.IsDNS1123Subdomain(name)).To(BeEmpty())

			p := newInvitation(ns, name, email, func(p *b2bv1alpha1.PartnerInvitation) { p.Spec.DisplayName = "Partner with a long name" })
			createReady(p)
			got := fetch(p)(Default)
			Expect(got).To(haveCondition(b2bv1alpha1.ConditionInvited, metav1.ConditionTrue, b2bv1alpha1.ReasonInvitationSent))

			By("keeping the redemption URL in an owned Secret with a valid name and label")
			Expect(got.Status.RedeemURLSecretName).NotTo(BeEmpty())
			secret := &corev1.Secret{}
			Expect(k8s.Get(suiteCtx, client.ObjectKey{Namespace: ns, Name: got.Status.RedeemURLSecretName}, secret)).To(Succeed())
			Expect(string(secret.Data["redeemURL"])).To(HavePrefix("https://"))
			Expect(string(secret.Data["userID"])).To(Equal(got.Status.UserID))
			Expect(metav1.IsControlledBy(secret, got)).To(BeTrue())
			label, ok := secret.Labels[b2bv1alpha1.LabelInvitation]
			Expect(ok).To(BeTrue())
			Expect(validation.IsValidLabelValue(label)).To(BeEmpty())
			var labelled corev1.SecretList
			Expect(k8s.List(suiteCtx, &labelled, client.InNamespace(ns), client.MatchingLabels{b2bv1alpha1.LabelInvitation: label})).To(Succeed())
			Expect(labelled.Items).To(HaveLen(1))

			By("sending exactly one invitation, then none again")
			Expect(invitationAttemptsFor(email)).To(Equal(1))
			Expect(emu.MailsSent(email)).To(Equal(1))
			Consistently(func() int { return invitationAttemptsFor(email) }).
				WithTimeout(createGrace + time.Second).WithPolling(200 * time.Millisecond).Should(Equal(1))
			Expect(fetch(p)(Default)).To(haveCondition(b2bv1alpha1.ConditionReady, metav1.ConditionTrue, b2bv1alpha1.ReasonInSync))

			By("deleting the guest with the object")
			Expect(k8s.Delete(suiteCtx, got)).To(Succeed())
			eventuallyGone(p)
			_, exists := emu.User(got.Status.UserID)
			Expect(exists).To(BeFalse(), "the guest must be gone from the directory")
		})
	}
})
