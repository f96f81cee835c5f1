package partnerinvitation

import (
	"github.com/partnerops/partner-operator/internal/metrics"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	b2bv1alpha1 "github.com/partnerops/partner-operator/api/v1alpha1"
)

// Metrics counts what the reconciler does on request. Labels never name an object or a user.
type Metrics struct {
	sentAgain, expired *prometheus.CounterVec
	expiryWarnings     prometheus.Counter
	timeToRedemption   prometheus.Histogram
	// watcherLastSuccess has no labels but is a vector, so that it is absent until the
	// watcher runs: only on the leader, and not at all with --redemption-watch-interval=0.
	watcherLastSuccess *prometheus.GaugeVec
	// ownershipRecords counts the recorder's outcomes; guestDeletions the brake's verdicts.
	ownershipRecords, guestDeletions *prometheus.CounterVec
}

// NewMetrics creates the collectors and registers them with reg, reusing ones already there.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	sentAgain, err := metrics.Register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "partner_operator_invitations_sent_again_total",
		Help: "Invitations sent again on request, by kind: resend (a pending guest) or reset (a redeemed guest's redemption).",
	}, []string{"kind"}))
	if err != nil {
		return nil, err
	}
	expired, err := metrics.Register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "partner_operator_expirations_total",
		Help: "Guests whose access ended, by the action taken (Expired condition reason): AccessRevoked, AccountDisabled or GuestDeleted.",
	}, []string{"action"}))
	if err != nil {
		return nil, err
	}
	warnings, err := metrics.Register(reg, prometheus.NewCounter(prometheus.CounterOpts{
		Name: "partner_operator_expiry_warnings_total",
		Help: "Warnings that a guest's access ends within the expiry warning window (--expiry-warning).",
	}))
	if err != nil {
		return nil, err
	}
	redemption, err := metrics.Register(reg, prometheus.NewHistogram(prometheus.HistogramOpts{
		Name: "partner_operator_time_to_redemption_seconds",
		Help: "Time from sending an invitation (or resetting a redemption) to the partner redeeming it, observed once per redemption.",
		// One minute to 30 days.
		Buckets: []float64{60, 300, 900, 1800, 3600, 3 * 3600, 6 * 3600, 12 * 3600, 86400, 2 * 86400, 4 * 86400, 7 * 86400, 14 * 86400, 30 * 86400},
	}))
	if err != nil {
		return nil, err
	}
	watcher, err := metrics.Register(reg, prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "partner_operator_redemption_watcher_last_success_timestamp_seconds",
		Help: "Unix time of the users-delta watcher's last successful round (its start until the first); exported by the leader only.",
	}, nil))
	if err != nil {
		return nil, err
	}
	records, err := metrics.Register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "partner_operator_ownership_records_total",
		Help: "Ownership records in the directory handled by the recorder, by outcome: written, current (already right), refused (another installation owns the guest), failed.",
	}, []string{"outcome"}))
	if err != nil {
		return nil, err
	}
	deletions, err := metrics.Register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "partner_operator_guest_deletions_total",
		Help: "Guest deletions the accidental-deletion brake decided on, by verdict: admitted (within the threshold), approved (released by an admin), held, cancelled (the guest was kept).",
	}, []string{"verdict"}))
	if err != nil {
		return nil, err
	}
	for _, v := range []string{"admitted", "approved", "held", "cancelled"} {
		deletions.WithLabelValues(v)
	}
	return &Metrics{sentAgain: sentAgain, expired: expired, expiryWarnings: warnings, timeToRedemption: redemption, watcherLastSuccess: watcher,
		ownershipRecords: records, guestDeletions: deletions}, nil
}

func (m *Metrics) countOwnershipRecord(outcome string) {
	if m != nil {
		m.ownershipRecords.WithLabelValues(outcome).Inc()
	}
}

func (m *Metrics) countGuestDeletion(verdict string) {
	if m != nil {
		m.guestDeletions.WithLabelValues(verdict).Inc()
	}
}

func (m *Metrics) countSentAgain(kind string) {
	if m != nil {
		m.sentAgain.WithLabelValues(kind).Inc()
	}
}

func (m *Metrics) countExpired(action string) {
	if m != nil {
		m.expired.WithLabelValues(action).Inc()
	}
}

func (m *Metrics) countExpiryWarning() {
	if m != nil {
		m.expiryWarnings.Inc()
	}
}

// observeRedemption records how long the partner took to redeem: from the invitation, or from
// the last send when the redemption was reset. Guests the object adopted or took over were
// not invited by it and are not observed.
func (m *Metrics) observeRedemption(pinv *b2bv1alpha1.PartnerInvitation) {
	st := &pinv.Status
	if m == nil || st.RedeemedAt == nil {
		return
	}
	start := st.InvitedAt
	if st.LastHandledResetAt != "" && st.LastSentAt != nil {
		start = st.LastSentAt
	}
	if start == nil {
		return
	}
	if d := st.RedeemedAt.Sub(start.Time); d >= 0 {
		m.timeToRedemption.Observe(d.Seconds())
	}
}

// watcherSucceeded records a successful users-delta round (or the watcher's start).
func (m *Metrics) watcherSucceeded(t time.Time) {
	if m != nil {
		m.watcherLastSuccess.WithLabelValues().Set(float64(t.UnixNano()) / 1e9)
	}
}
