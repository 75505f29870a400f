// Package metricsreg registers a Prometheus collector on a registry, or
// returns the one already registered under the same descriptors: several
// instances of one component (lists, pollers, endpoints, adapters) then share
// one set of metrics on the service's registry. It never touches the global
// registry.
package metricsreg

import (
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// Register registers c on reg and returns it, or returns the collector of the
// same type already registered in its place. Any other error (a clash of
// names with different help or labels, or an existing collector of another
// type) is returned with c.
func Register[C prometheus.Collector](reg prometheus.Registerer, c C) (C, error) {
	err := reg.Register(c)
	if err == nil {
		return c, nil
	}
	if are, ok := errors.AsType[prometheus.AlreadyRegisteredError](err); ok {
		if existing, ok := are.ExistingCollector.(C); ok {
			return existing, nil
		}
	}
	return c, err
}
