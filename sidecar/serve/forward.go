package serve

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ronda-watch/ronda/analyzer/event"
	"github.com/ronda-watch/ronda/sidecar/forward"
)

// forwarder is an edge's link to its hub: the websocket intake's client, with
// the events the hub has not acknowledged kept in memory and then on disk.
type forwarder struct {
	f   *forward.Forwarder
	log *slog.Logger
}

func newForwarder(cfg Config, getenv func(string) string, reg prometheus.Registerer, log *slog.Logger) (*forwarder, error) {
	secret, err := cfg.Edge.Key.Secret(getenv)
	if err != nil {
		return nil, fmt.Errorf("edge.key: %w", err)
	}
	f, err := forward.New(forward.Options{URL: cfg.Edge.Hub, KeyID: cfg.Edge.Key.ID, Secret: secret,
		Sender: cfg.Node, SpoolDir: cfg.Edge.SpoolDir, BufferEvents: cfg.Edge.BufferEvents,
		Registerer: reg, Logger: log.With("component", "forwarder")})
	if err != nil {
		return nil, fmt.Errorf("edge forwarder: %w", err)
	}
	return &forwarder{f: f, log: log}, nil
}

// add hands a batch to the forwarder; an error means its buffer is full.
func (f *forwarder) add(evs []event.Event) error {
	ptrs := make([]*event.Event, len(evs))
	for i := range evs {
		ptrs[i] = &evs[i]
	}
	return f.f.Add(ptrs...)
}

func (f *forwarder) run(ctx context.Context) {
	if err := f.f.Run(ctx); err != nil && ctx.Err() == nil {
		f.log.Error("forwarder stopped", "err", err)
	}
}

func (f *forwarder) close(ctx context.Context) error { return f.f.Close(ctx) }

// state is the link as /readyz reports it.
func (f *forwarder) state() string {
	st := f.f.Stats()
	return fmt.Sprintf("connects %d, batches acked %d, events buffered %d, spooled batches %d, dropped %d",
		st.Connects, st.Acked, st.Buffered, st.SpoolRecords, st.Dropped)
}
