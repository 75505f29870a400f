package serve

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/ronda-watch/ronda/analyzer/event"
	"github.com/ronda-watch/ronda/sidecar/forward"
)

func counter(t testing.TB, c prometheus.Collector) float64 { return testutil.ToFloat64(c) }

// eventsWS is a streaming sender on the websocket intake: the real client,
// forward.Forwarder.
type eventsWS struct {
	f *forward.Forwarder
}

func dialEventsWS(t testing.TB, addr, sender string) *eventsWS {
	t.Helper()
	f, err := forward.New(forward.Options{URL: "ws://" + addr, KeyID: keyID, Secret: []byte(keySecret),
		Sender: sender, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); f.Run(ctx) }()
	t.Cleanup(func() {
		cctx, ccancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer ccancel()
		f.Close(cctx)
		cancel()
		<-done
	})
	return &eventsWS{f: f}
}

// sendOK streams evs and waits until the receiver has answered for all of
// them; it returns how many it accepted.
func (w *eventsWS) sendOK(t testing.TB, evs []event.Event) int {
	t.Helper()
	before := w.f.Stats()
	ptrs := make([]*event.Event, len(evs))
	for i := range evs {
		ptrs[i] = &evs[i]
	}
	if err := w.f.Add(ptrs...); err != nil {
		t.Fatal(err)
	}
	var st forward.Stats
	waitFor(t, 30*time.Second, "websocket batches answered", func() bool {
		st = w.f.Stats()
		return st.Accepted+st.Duplicates+st.Rejected+st.Unknown-
			(before.Accepted+before.Duplicates+before.Rejected+before.Unknown) >= int64(len(evs))
	})
	return int(st.Accepted - before.Accepted)
}

// metricSum adds up every series of the metric named name in reg; with a
// label name and value, only the series that carry it.
func metricSum(t testing.TB, reg prometheus.Gatherer, name string, label ...string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	sum := 0.0
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	series:
		for _, m := range mf.GetMetric() {
			if len(label) == 2 {
				for _, lp := range m.GetLabel() {
					if lp.GetName() == label[0] && lp.GetValue() != label[1] {
						continue series
					}
				}
			}
			switch {
			case m.Counter != nil:
				sum += m.Counter.GetValue()
			case m.Gauge != nil:
				sum += m.Gauge.GetValue()
			}
		}
	}
	return sum
}
