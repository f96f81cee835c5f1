// Package metrics holds what the operator's collectors share.
package metrics

import (
	"errors"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// Register adds c to reg, or returns the collector of that name already there: a second
// manager in the same process (as in tests) shares the first one's series.
func Register[C prometheus.Collector](reg prometheus.Registerer, c C) (C, error) {
	err := reg.Register(c)
	if err == nil {
		return c, nil
	}
	var already prometheus.AlreadyRegisteredError
	if !errors.As(err, &already) {
		return c, err
	}
	existing, ok := already.ExistingCollector.(C)
	if !ok {
		return c, fmt.Errorf("%w: registered as %T", err, already.ExistingCollector)
	}
	return existing, nil
}
