//go:build !wsintake

package serve

import (
	"context"
	"errors"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ronda-watch/ronda/analyzer/event"
)

type forwarder struct{}

func newForwarder(Config, func(string) string, prometheus.Registerer, *slog.Logger) (*forwarder, error) {
	return nil, errors.New("edge role: not built yet")
}
func (f *forwarder) add([]event.Event) error     { return nil }
func (f *forwarder) run(context.Context)         {}
func (f *forwarder) close(context.Context) error { return nil }
func (f *forwarder) state() string               { return "" }
