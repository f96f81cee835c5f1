package controllers_test

import (
	"fmt"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	b2bv1alpha1 "github.com/partnerops/partner-operator/api/v1alpha1"
)

var _ = Describe("PartnerAccessPolicy status", func() {
	It("reports Ready for the generation it read, under the shipped RBAC", func() {
		p := createPolicy(fmt.Sprintf("policy-status-%d", nsCounter.Add(1)), map[string]string{"status-test": "nothing"},
			b2bv1alpha1.PartnerAccessPolicySpec{AllowedDomains: []string{"contoso.com"}})
		readyAt := func(gen int64) func(g Gomega) {
			return func(g Gomega) {
				var got b2bv1alpha1.PartnerAccessPolicy
				g.Expect(k8s.Get(suiteCtx, client.ObjectKeyFromObject(p), &got)).To(Succeed())
				g.Expect(got.Generation).To(Equal(gen))
				g.Expect(got.Status.ObservedGeneration).To(Equal(gen))
				ready := meta.FindStatusCondition(got.Status.Conditions, b2bv1alpha1.ConditionReady)
				g.Expect(ready).NotTo(BeNil())
				g.Expect(ready.Status).To(Equal(metav1.ConditionTrue))
				g.Expect(ready.Reason).To(Equal(b2bv1alpha1.ReasonValid))
				g.Expect(ready.ObservedGeneration).To(Equal(gen))
			}
		}
		Eventually(readyAt(1)).WithTimeout(timeout).WithPolling(interval).Should(Succeed())

		patch := client.MergeFrom(p.DeepCopy())
		p.Spec.AllowedDomains = append(p.Spec.AllowedDomains, "fabrikam.com")
		Expect(k8s.Patch(suiteCtx, p, patch)).To(Succeed())
		Eventually(readyAt(2)).WithTimeout(timeout).WithPolling(interval).Should(Succeed())
	})
})

var _ = Describe("Look-alike domains", func() {
	It("warn with an event before the first mail, and the invitation still goes out", func() {
		p := newInvitation(newNamespace(), "lookalike", "anna@xn--pple-43d.com")
		createReady(p)
		Expect(eventReasons(p)).To(ContainElement("SpecWarning"))
	})
})
