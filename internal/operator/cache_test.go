package operator

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	b2bv1alpha1 "github.com/partnerops/partner-operator/api/v1alpha1"
)

// The cache keeps every field the controller reads and drops the copies it never reads.
func TestTrimInvitation(t *testing.T) {
	in := &b2bv1alpha1.PartnerInvitation{
		ObjectMeta: metav1.ObjectMeta{Name: "p", Namespace: "ns", Finalizers: []string{b2bv1alpha1.Finalizer},
			Annotations:   map[string]string{lastApplied: `{"spec":{"email":"a@fabrikam.com"}}`, b2bv1alpha1.AnnotationExternalName: "guest"},
			ManagedFields: []metav1.ManagedFieldsEntry{{Manager: "kubectl"}}},
		Spec:   b2bv1alpha1.PartnerInvitationSpec{Email: "a@fabrikam.com"},
		Status: b2bv1alpha1.PartnerInvitationStatus{UserID: "guest"},
	}
	want := in.DeepCopy()
	want.ManagedFields = nil
	delete(want.Annotations, lastApplied)

	out, err := trimInvitation(in)
	if err != nil {
		t.Fatal(err)
	}
	if !equality.Semantic.DeepEqual(out, want) {
		t.Errorf("trimmed %+v, want %+v", out, want)
	}
}

func TestTrimNamespace(t *testing.T) {
	now := metav1.Now()
	in := &corev1.Namespace{
		ObjectMeta: metav1.ObjectMeta{Name: "team-a", UID: "u", ResourceVersion: "7", Labels: map[string]string{"partners": "allowed"},
			Annotations: map[string]string{"big": "note"}, DeletionTimestamp: &now, Finalizers: []string{"kubernetes"},
			ManagedFields: []metav1.ManagedFieldsEntry{{Manager: "kubectl"}}},
		Spec:   corev1.NamespaceSpec{Finalizers: []corev1.FinalizerName{"kubernetes"}},
		Status: corev1.NamespaceStatus{Phase: corev1.NamespaceTerminating},
	}
	out, err := trimNamespace(in)
	if err != nil {
		t.Fatal(err)
	}
	want := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "team-a", UID: "u", ResourceVersion: "7",
		Labels: map[string]string{"partners": "allowed"}, DeletionTimestamp: &now}}
	if !equality.Semantic.DeepEqual(out, want) {
		t.Errorf("trimmed %+v, want %+v", out, want)
	}
}
