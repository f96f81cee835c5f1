package controllers

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics counts what the reconciler does on request. Labels never name an object or a user.
type Metrics struct {
	sentAgain, expired *prometheus.CounterVec
	expiryWarnings     prometheus.Counter
}

// NewMetrics creates the collectors and registers them with reg, reusing ones already there.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	sentAgain, err := register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "partner_operator_invitations_sent_again_total",
		Help: "Invitations sent again on request, by kind: resend (a pending guest) or reset (a redeemed guest's redemption).",
	}, []string{"kind"}))
	if err != nil {
		return nil, err
	}
	expired, err := register(reg, prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "partner_operator_expirations_total",
		Help: "Guests whose access ended, by the action taken (Expired condition reason): AccessRevoked, AccountDisabled or GuestDeleted.",
	}, []string{"action"}))
	if err != nil {
		return nil, err
	}
	warnings, err := register(reg, prometheus.NewCounter(prometheus.CounterOpts{
		Name: "partner_operator_expiry_warnings_total",
		Help: "Warnings that a guest's access ends within the expiry warning window (--expiry-warning).",
	}))
	if err != nil {
		return nil, err
	}
	return &Metrics{sentAgain: sentAgain, expired: expired, expiryWarnings: warnings}, nil
}

// register adds c to reg, or returns the collector of that name already there (a second
// manager in the same process, as in tests).
func register[C prometheus.Collector](reg prometheus.Registerer, c C) (C, error) {
	err := reg.Register(c)
	if err == nil {
		return c, nil
	}
	var already prometheus.AlreadyRegisteredError
	if errors.As(err, &already) {
		if existing, ok := already.ExistingCollector.(C); ok {
			return existing, nil
		}
	}
	return c, err
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
