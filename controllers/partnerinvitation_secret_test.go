package controllers

import (
	"context"
	"errors"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	b2bv1alpha1 "github.com/partnerops/partner-operator/api/v1alpha1"
	"github.com/partnerops/partner-operator/internal/graph/graphtest"
)

// The Secret's name is checked before the invitation and the Secret is created after it. If a
// Secret of that name appears in between, the URL goes into it only when this object owns it;
// someone else's is a SecretConflict, and nothing is written into it.
func TestRedeemURLSecretCreatedMeanwhile(t *testing.T) {
	for _, owned := range []bool{true, false} {
		pinv := &b2bv1alpha1.PartnerInvitation{ObjectMeta: metav1.ObjectMeta{Name: "anna", Namespace: "team-a", UID: "uid-anna"},
			Spec: b2bv1alpha1.PartnerInvitationSpec{Email: "anna@fabrikam.com"}}
		funcs := &interceptor.Funcs{Create: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.CreateOption) error {
			s, ok := obj.(*corev1.Secret)
			if !ok {
				return c.Create(ctx, obj, opts...)
			}
			early := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: s.Name, Namespace: s.Namespace}}
			if owned {
				if err := controllerutil.SetControllerReference(pinv, early, c.Scheme()); err != nil {
					return err
				}
			}
			if err := c.Create(ctx, early); err != nil {
				return err
			}
			return apierrors.NewAlreadyExists(corev1.Resource("secrets"), s.Name)
		}}
		h := newHarness(t, &graphtest.Fake{}, funcs, pinv)

		err := h.r.storeRedeemURL(context.Background(), pinv, nil, "https://login.example/redeem?x", "guest-1")

		var stored corev1.Secret
		if gerr := h.c.Get(context.Background(), client.ObjectKey{Namespace: "team-a", Name: "anna-invitation"}, &stored); gerr != nil {
			t.Fatal(gerr)
		}
		url := string(stored.Data[redeemURLKey])
		var blocked *blockedError
		switch {
		case owned && (err != nil || url != "https://login.example/redeem?x" || pinv.Status.RedeemURLSecretName != "anna-invitation"):
			t.Errorf("own Secret created meanwhile: err %v, stored URL %q, status names %q", err, url, pinv.Status.RedeemURLSecretName)
		case !owned && (!errors.As(err, &blocked) || blocked.reason != b2bv1alpha1.ReasonSecretConflict || url != ""):
			t.Errorf("someone else's Secret created meanwhile: err %v, stored URL %q; want a SecretConflict and nothing written", err, url)
		}
	}
}

// A create that fails without creating is tried again, not taken for a Secret that exists.
func TestRedeemURLSecretCreateRetried(t *testing.T) {
	pinv := &b2bv1alpha1.PartnerInvitation{ObjectMeta: metav1.ObjectMeta{Name: "anna", Namespace: "team-a", UID: "uid-anna"},
		Spec: b2bv1alpha1.PartnerInvitationSpec{Email: "anna@fabrikam.com"}}
	failures := 1
	funcs := &interceptor.Funcs{Create: func(ctx context.Context, c client.WithWatch, obj client.Object, opts ...client.CreateOption) error {
		if _, ok := obj.(*corev1.Secret); ok && failures > 0 {
			failures--
			return apierrors.NewInternalError(errors.New("etcd leader changed"))
		}
		return c.Create(ctx, obj, opts...)
	}}
	h := newHarness(t, &graphtest.Fake{}, funcs, pinv)
	if err := h.r.storeRedeemURL(context.Background(), pinv, nil, "https://login.example/redeem?x", "guest-1"); err != nil {
		t.Fatalf("storeRedeemURL after one failed create: %v", err)
	}
	var stored corev1.Secret
	if err := h.c.Get(context.Background(), client.ObjectKey{Namespace: "team-a", Name: "anna-invitation"}, &stored); err != nil {
		t.Fatal(err)
	}
	if got := string(stored.Data[redeemURLKey]); got != "https://login.example/redeem?x" || !metav1.IsControlledBy(&stored, pinv) {
		t.Errorf("stored URL %q, owned %v", got, metav1.IsControlledBy(&stored, pinv))
	}
}
