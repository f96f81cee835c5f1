package partnerinvitation

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	b2bv1alpha1 "github.com/partnerops/partner-operator/api/v1alpha1"
)

// Time to redemption is observed once per redemption: on the transition to Redeemed=True, not
// on later reconciles that find it True, and from the last send after a reset.
func TestTimeToRedemptionObservedOnce(t *testing.T) {
	m, err := NewMetrics(prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	r := &Reconciler{Metrics: m}
	t0 := time.Date(2027, 3, 1, 12, 0, 0, 0, time.UTC)
	ts := func(d time.Duration) *metav1.Time { v := metav1.NewTime(t0.Add(d)); return &v }
	redeemed := func(status metav1.ConditionStatus) []metav1.Condition {
		return []metav1.Condition{{Type: b2bv1alpha1.ConditionRedeemed, Status: status, Reason: "x", Message: "m"}}
	}
	pinv := &b2bv1alpha1.PartnerInvitation{Status: b2bv1alpha1.PartnerInvitationStatus{InvitedAt: ts(0), RedeemedAt: ts(2 * time.Hour)}}
	r.emitTransitions(pinv, redeemed(metav1.ConditionFalse), redeemed(metav1.ConditionTrue))
	r.emitTransitions(pinv, redeemed(metav1.ConditionTrue), redeemed(metav1.ConditionTrue))
	r.emitTransitions(pinv, nil, nil)
	// A reset: measured from the new send, not the first invitation.
	pinv.Status.LastHandledResetAt, pinv.Status.LastSentAt, pinv.Status.RedeemedAt = "2027-03-05T00:00:00Z", ts(96*time.Hour), ts(97*time.Hour)
	r.emitTransitions(pinv, redeemed(metav1.ConditionFalse), redeemed(metav1.ConditionTrue))
	// An adopted guest was not invited by the object: nothing to measure.
	r.emitTransitions(&b2bv1alpha1.PartnerInvitation{Status: b2bv1alpha1.PartnerInvitationStatus{RedeemedAt: ts(time.Hour)}}, nil, redeemed(metav1.ConditionTrue))

	count, sum := histogram(t, m.timeToRedemption)
	if count != 2 || sum != 3*3600 {
		t.Errorf("observed %d redemptions taking %vs in all, want 2 taking 10800s (2h + 1h)", count, sum)
	}
}

func histogram(t *testing.T, h prometheus.Histogram) (uint64, float64) {
	t.Helper()
	var out dto.Metric
	if err := h.Write(&out); err != nil {
		t.Fatal(err)
	}
	return out.GetHistogram().GetSampleCount(), out.GetHistogram().GetSampleSum()
}
