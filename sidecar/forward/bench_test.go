package forward

import (
	"context"
	"errors"
	"log/slog"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ronda-watch/ronda/analyzer/event"
	"github.com/ronda-watch/ronda/sidecar/intake"
	"github.com/ronda-watch/ronda/sidecar/intake/intaketest"
)

// BenchmarkWebSocketIntake streams the same sample lines (each id unique)
// through a real Forwarder over loopback into a Handler whose Sink
// discards: the edge-to-hub path, reported as events/s. One op is one
// event. Compare with BenchmarkIntake (POST batches of 1,000):
//
//	go test -run '^$' -bench 'BenchmarkIntake|BenchmarkWebSocketIntake' -count 3 ./sidecar/intake/ ./sidecar/forward/
func BenchmarkWebSocketIntake(b *testing.B) {
	for _, bc := range []struct {
		name  string
		plain bool
	}{{"deflate", false}, {"plain", true}} {
		b.Run(bc.name, func(b *testing.B) {
			var taken atomic.Int64
			h, err := intake.NewHandler(intake.Options{
				Keys:       map[string][]byte{"k1": intaketest.Key1},
				Sink:       func(_ context.Context, evs []event.Event) error { taken.Add(int64(len(evs))); return nil },
				Registerer: prometheus.NewRegistry(),
				RateEvents: -1,
				Logger:     slog.New(slog.DiscardHandler),
			})
			if err != nil {
				b.Fatal(err)
			}
			srv := httptest.NewServer(h.WebSocket())
			defer srv.Close()
			defer h.Close()
			f, err := New(Options{
				URL: srv.URL, KeyID: "k1", Secret: intaketest.Key1, Sender: "bench",
				DisableCompression: bc.plain,
				Logger:             slog.New(slog.DiscardHandler),
			})
			if err != nil {
				b.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			go f.Run(ctx)

			m := intaketest.NewSample(b)
			var line []byte
			b.SetBytes(m.LineBytes())
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				line = m.Line(line, i)
				for {
					err := f.AddLine(line)
					if err == nil {
						break
					}
					if !errors.Is(err, ErrBufferFull) {
						b.Fatal(err)
					}
					time.Sleep(100 * time.Microsecond) // the caller's part: wait for room
				}
			}
			for taken.Load() < int64(b.N) {
				time.Sleep(100 * time.Microsecond)
			}
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
			cctx, ccancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer ccancel()
			if err := f.Close(cctx); err != nil {
				b.Error(err)
			}
			if st := f.Stats(); st.Accepted != int64(b.N) {
				b.Errorf("accepted %d of %d", st.Accepted, b.N)
			}
		})
	}
}
