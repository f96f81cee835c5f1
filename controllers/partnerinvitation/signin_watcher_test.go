package partnerinvitation

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/go-logr/logr"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/event"

	b2bv1alpha1 "github.com/partnerops/partner-operator/api/v1alpha1"
	"github.com/partnerops/partner-operator/internal/graph"
	"github.com/partnerops/partner-operator/internal/signin"
	"github.com/partnerops/partner-operator/internal/tenant"
)

// signInPages is a SignInReader that returns fixed pages, or an error.
type signInPages struct {
	pages [][]graph.SignIn
	err   error
}

func (s *signInPages) ListGuestSignIns(_ context.Context, page func([]graph.SignIn) error) error {
	if s.err != nil {
		return s.err
	}
	for _, p := range s.pages {
		if err := page(p); err != nil {
			return err
		}
	}
	return nil
}

func guestObject(name, userID string, lastSignIn *time.Time, mutate ...func(*b2bv1alpha1.PartnerInvitation)) *b2bv1alpha1.PartnerInvitation {
	p := &b2bv1alpha1.PartnerInvitation{ObjectMeta: metav1.ObjectMeta{Namespace: "team-a", Name: name},
		Spec: b2bv1alpha1.PartnerInvitationSpec{Email: name + "@contoso.example"}}
	p.Status.UserID = userID
	if lastSignIn != nil {
		p.Status.LastSignInAt = ptr.To(metav1.NewTime(*lastSignIn))
	}
	for _, m := range mutate {
		m(p)
	}
	return p
}

func TestSignInWatcherWritesOnlyNewerSignInsOfItsTenant(t *testing.T) {
	s := runtime.NewScheme()
	if err := b2bv1alpha1.AddToScheme(s); err != nil {
		t.Fatal(err)
	}
	older, newer := testNow.Add(-48*time.Hour), testNow.Add(-time.Hour)
	otherTenant := func(p *b2bv1alpha1.PartnerInvitation) {
		p.Spec.TenantRef = &b2bv1alpha1.TenantReference{Kind: b2bv1alpha1.KindClusterGraphTenant, Name: "subsidiary"}
	}
	warned := func(p *b2bv1alpha1.PartnerInvitation) {
		p.Status.Conditions = []metav1.Condition{{Type: b2bv1alpha1.ConditionExpired, Status: metav1.ConditionFalse, Reason: b2bv1alpha1.ReasonExpiringSoon}}
	}
	c := fake.NewClientBuilder().WithScheme(s).
		WithObjects(
			guestObject("stale", "u1", &older, warned),
			guestObject("current", "u2", &newer),
			guestObject("never", "u3", nil),
			guestObject("elsewhere", "u4", nil, otherTenant),
		).
		WithStatusSubresource(&b2bv1alpha1.PartnerInvitation{}).
		WithIndex(&b2bv1alpha1.PartnerInvitation{}, GuestIndex, indexGuest).Build()
	events := make(chan event.GenericEvent, 10)
	activity := signin.NewRegistry().Add("default")
	w := &SignInWatcher{Client: c, Activity: activity, Events: events, Log: logr.Discard(), SignIns: &signInPages{pages: [][]graph.SignIn{
		{{UserID: "u1", LastSuccessfulSignIn: newer}, {UserID: "u2", LastSuccessfulSignIn: older}},
		{{UserID: "u3", LastSignIn: newer /* a failed attempt only */}, {UserID: "u4", LastSuccessfulSignIn: newer}, {UserID: "unknown", LastSuccessfulSignIn: newer}},
	}}}
	started := testNow
	w.record(w.round(context.Background()), started)

	want := map[string]*time.Time{"stale": &newer, "current": &newer, "never": nil, "elsewhere": nil}
	for name, at := range want {
		got := &b2bv1alpha1.PartnerInvitation{}
		if err := c.Get(context.Background(), client.ObjectKey{Namespace: "team-a", Name: name}, got); err != nil {
			t.Fatal(err)
		}
		switch {
		case at == nil && got.Status.LastSignInAt != nil:
			t.Errorf("%s: lastSignInAt %v, want none", name, got.Status.LastSignInAt)
		case at != nil && (got.Status.LastSignInAt == nil || !got.Status.LastSignInAt.Time.Equal(at.Truncate(time.Second))):
			t.Errorf("%s: lastSignInAt %v, want %v", name, got.Status.LastSignInAt, *at)
		}
	}
	if len(events) != 1 {
		t.Errorf("%d objects enqueued, want 1 (the warned one whose sign-in is new)", len(events))
	}
	if !activity.ReadSince(started) || activity.State().Reason != b2bv1alpha1.ReasonSignInsRead {
		t.Errorf("state %+v after a complete read, want Read since %v", activity.State(), started)
	}
}

func TestSignInWatcherStatesNameWhatIsMissing(t *testing.T) {
	forbidden := func(code string) error {
		return &graph.Error{Op: "list sign-ins", StatusCode: http.StatusForbidden, Code: code}
	}
	for _, tc := range []struct {
		name    string
		err     error
		reason  string
		mention string
		enforce bool
	}{
		{"no licence", forbidden(graph.CodeNoPremiumLicense), b2bv1alpha1.ReasonNoPremiumLicense, "P1 or P2", false},
		{"no permission", forbidden("Authentication_MSGraphPermissionMissing"), b2bv1alpha1.ReasonPermissionDenied, "AuditLog.Read.All", false},
		{"a failure", errors.New("connection reset"), b2bv1alpha1.ReasonSignInsNotRead, "connection reset", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			reg := signin.NewRegistry()
			activity := reg.Add(tenant.Ref{}.Label())
			w := &SignInWatcher{Activity: activity, Log: logr.Discard()}
			w.record(tc.err, testNow)
			st := activity.State()
			if st.Reason != tc.reason || !strings.Contains(st.Message, tc.mention) {
				t.Errorf("state %+v, want reason %s naming %q", st, tc.reason, tc.mention)
			}
			if activity.Enforced() != tc.enforce || activity.ReadSince(time.Time{}) {
				t.Errorf("enforced %v, read %v; want enforced %v and not read", activity.Enforced(), activity.ReadSince(time.Time{}), tc.enforce)
			}
		})
	}
}
