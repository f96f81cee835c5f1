package partnerinvitation

import (
	"context"
	"errors"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
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

// Every valid object name gets a valid Secret name and label value: names that fit keep what they
// always had, longer ones are cut and take a hash of the whole name.
func TestRedeemSecretNamesForEveryValidName(t *testing.T) {
	long := func(n int) string { // a valid DNS subdomain of n characters, with dots and dashes
		const pattern = "partner-invitation.team-a.contoso-"
		s := ""
		for len(s) < n {
			s += pattern
		}
		s = s[:n-1] + "z"
		return s
	}
	cases := []struct {
		name       string
		sameSecret bool // the Secret is <name>-invitation
		sameLabel  bool // the label's value is the name
	}{
		{"anna", true, true},
		{long(63), true, true},
		{long(64), true, false},
		{long(200), true, false},
		{long(242), true, false},
		{long(243), false, false},
		{long(250), false, false},
		{long(253), false, false},
		{strings.Repeat("a", 253), false, false},
		{strings.Repeat("a", 230) + "." + strings.Repeat("b", 22), false, false},  // cut right after a dot
		{strings.Repeat("a", 229) + "--" + strings.Repeat("b", 22), false, false}, // cut right after dashes
		{strings.Repeat("a", 51) + "." + strings.Repeat("b", 20), true, false},
		{strings.Repeat("a", 51) + "-" + strings.Repeat("b", 20), true, false},
	}
	seenSecret, seenLabel := map[string]string{}, map[string]string{}
	for _, c := range cases {
		if errs := validation.IsDNS1123Subdomain(c.name); len(errs) > 0 {
			t.Fatalf("test name of %d characters is not valid: %v", len(c.name), errs)
		}
		pinv := &b2bv1alpha1.PartnerInvitation{ObjectMeta: metav1.ObjectMeta{Name: c.name, Namespace: "team-a"}}
		secret, label := redeemSecretName(pinv), invitationLabelValue(pinv)
		if errs := validation.IsDNS1123Subdomain(secret); len(errs) > 0 {
			t.Errorf("name of %d characters: Secret name %q is invalid: %v", len(c.name), secret, errs)
		}
		if errs := validation.IsValidLabelValue(label); len(errs) > 0 {
			t.Errorf("name of %d characters: label value %q is invalid: %v", len(c.name), label, errs)
		}
		if why := redeemSecretNamesInvalid(pinv); why != "" {
			t.Errorf("name of %d characters: %s", len(c.name), why)
		}
		if got := secret == c.name+"-invitation"; got != c.sameSecret {
			t.Errorf("name of %d characters: Secret name %q, want <name>-invitation: %v", len(c.name), secret, c.sameSecret)
		}
		if got := label == c.name; got != c.sameLabel {
			t.Errorf("name of %d characters: label value %q, want the name: %v", len(c.name), label, c.sameLabel)
		}
		if !strings.HasSuffix(secret, "-invitation") {
			t.Errorf("Secret name %q does not end in -invitation", secret)
		}
		if again := redeemSecretName(pinv.DeepCopy()); again != secret || invitationLabelValue(pinv.DeepCopy()) != label {
			t.Errorf("name of %d characters: not stable", len(c.name))
		}
		if other, ok := seenSecret[secret]; ok && other != c.name {
			t.Errorf("names %q and %q share the Secret name %q", other, c.name, secret)
		}
		if other, ok := seenLabel[label]; ok && other != c.name {
			t.Errorf("names %q and %q share the label value %q", other, c.name, label)
		}
		seenSecret[secret], seenLabel[label] = c.name, label
	}
	// Two long names that differ only at the end still get different Secrets and labels.
	a, b := long(252)+"a", long(252)+"b"
	if secretNameFor(a) == secretNameFor(b) || labelValueFor(a) == labelValueFor(b) {
		t.Errorf("long names that differ only at the end collide")
	}
}

// A name the API server would refuse never reaches Graph: checkRedeemSecret stops it first,
// as a terminal InvalidSpec, and reads nothing.
func TestCheckRedeemSecretRefusesInvalidNames(t *testing.T) {
	for _, name := range []string{"Anna", "anna_b", strings.Repeat("a", 254)} {
		pinv := &b2bv1alpha1.PartnerInvitation{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "team-a", UID: "uid-x"}}
		gets := 0
		h := newHarness(t, &graphtest.Fake{}, &interceptor.Funcs{Get: func(ctx context.Context, c client.WithWatch, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
			if _, ok := obj.(*corev1.Secret); ok {
				gets++
			}
			return c.Get(ctx, key, obj, opts...)
		}})
		secret, err := h.r.checkRedeemSecret(context.Background(), pinv)
		var blocked *blockedError
		if secret != nil || !errors.As(err, &blocked) || blocked.reason != b2bv1alpha1.ReasonInvalidSpec || !blocked.terminal || gets != 0 {
			t.Errorf("name %.20q…: secret %v, err %v, %d Secret reads; want a terminal InvalidSpec and no read", name, secret, err, gets)
		}
	}
}

// A 250-character name's Secret is created with a valid name and label and holds the URL.
func TestRedeemURLStoredForLongName(t *testing.T) {
	name := strings.Repeat("p", 120) + "." + strings.Repeat("q", 129)
	pinv := &b2bv1alpha1.PartnerInvitation{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "team-a", UID: "uid-long"},
		Spec: b2bv1alpha1.PartnerInvitationSpec{Email: "anna@fabrikam.com"}}
	h := newHarness(t, &graphtest.Fake{}, nil, pinv)
	secret, err := h.r.checkRedeemSecret(context.Background(), pinv)
	if err != nil || secret != nil {
		t.Fatalf("check: %v, %v", secret, err)
	}
	if err := h.r.storeRedeemURL(context.Background(), pinv, nil, "https://login.example/redeem?long", "guest-1"); err != nil {
		t.Fatal(err)
	}
	var stored corev1.Secret
	if err := h.c.Get(context.Background(), client.ObjectKey{Namespace: "team-a", Name: pinv.Status.RedeemURLSecretName}, &stored); err != nil {
		t.Fatal(err)
	}
	if string(stored.Data[redeemURLKey]) != "https://login.example/redeem?long" || stored.Name != redeemSecretName(pinv) ||
		stored.Labels[b2bv1alpha1.LabelInvitation] != invitationLabelValue(pinv) || !metav1.IsControlledBy(&stored, pinv) {
		t.Errorf("stored Secret %s labels %v data %q", stored.Name, stored.Labels, stored.Data[redeemURLKey])
	}
}
