package controllers

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics counts what the reconciler does on request. Labels never name an object or a user.
type Metrics struct {
	sentAgain *prometheus.CounterVec
}

// NewMetrics creates the collectors and registers them with reg, reusing ones already there.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	sentAgain := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "partner_operator_invitations_sent_again_total",
		Help: "Invitations sent again on request, by kind: resend (a pending guest) or reset (a redeemed guest's redemption).",
	}, []string{"kind"})
	if err := reg.Register(sentAgain); err != nil {
		var already prometheus.AlreadyRegisteredError
		if !errors.As(err, &already) {
			return nil, err
		}
		existing, ok := already.ExistingCollector.(*prometheus.CounterVec)
		if !ok {
			return nil, err
		}
		sentAgain = existing
	}
	return &Metrics{sentAgain: sentAgain}, nil
}

func (m *Metrics) countSentAgain(kind string) {
	if m != nil {
		m.sentAgain.WithLabelValues(kind).Inc()
	}
}
