package intake

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ronda-watch/ronda/analyzer/event"
	"github.com/ronda-watch/ronda/sidecar/intake/intaketest"
	"github.com/ronda-watch/ronda/sidecar/intake/wire"
)

// benchBatch is the number of events per request in the benchmarks.
const benchBatch = 1000

// benchPost sends batches from parallel clients over a real loopback server.
func benchPost(b *testing.B, h http.Handler, sign bool) {
	m := intaketest.NewSample(b)
	srv := httptest.NewServer(h)
	defer srv.Close()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	defer client.CloseIdleConnections()
	b.SetBytes(int64(len(m.Body(nil, benchBatch))))
	b.ReportAllocs()
	b.SetParallelism(2)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		var buf []byte
		for pb.Next() {
			buf = m.Body(buf, benchBatch)
			req, err := http.NewRequest(http.MethodPost, srv.URL+Path, bytes.NewReader(buf))
			if err != nil {
				b.Error(err)
				return
			}
			if sign {
				wire.Sign(req, "k1", key1, buf, time.Now())
			}
			resp, err := client.Do(req)
			if err != nil {
				b.Error(err)
				return
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				b.Errorf("status %d", resp.StatusCode)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N*benchBatch)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkIntake is the whole handler: signature, replay check, decoding,
// rate limit, dedup, answer, into a Sink that discards. Compare with
// BenchmarkBareHandler in the same run:
//
//	go test -run '^$' -bench 'BenchmarkIntake|BenchmarkBareHandler' -count 3 ./sidecar/intake/
func BenchmarkIntake(b *testing.B) {
	var taken atomic.Int64
	h, err := NewHandler(Options{
		Keys:       map[string][]byte{"k1": key1},
		Sink:       func(_ context.Context, evs []event.Event) error { taken.Add(int64(len(evs))); return nil },
		Registerer: prometheus.NewRegistry(),
		RateEvents: -1,
		Logger:     slog.New(slog.DiscardHandler),
	})
	if err != nil {
		b.Fatal(err)
	}
	benchPost(b, h, true)
	if taken.Load() != int64(b.N*benchBatch) {
		b.Errorf("sink took %d events of %d", taken.Load(), b.N*benchBatch)
	}
}

// BenchmarkBareHandler is the limit: a net/http handler that reads and
// discards the same bodies.
func BenchmarkBareHandler(b *testing.B) {
	benchPost(b, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte("{}\n"))
	}), false)
}

// BenchmarkParallelMaxRequests sends 16 largest requests (8 MiB, 50,000
// lines each) at once over loopback, each retried on 503 until taken, and
// reports the heap above the baseline (objects, live and not yet collected,
// as RSS follows them; and the live heap after each GC) next to the memory
// budget's accounted peak. One op is the 16 requests.
//
//	go test -run '^$' -bench ParallelMaxRequests -count 3 ./sidecar/intake/
func BenchmarkParallelMaxRequests(b *testing.B) {
	bodies := make([][]byte, 16)
	for i := range bodies {
		bodies[i] = maxBody(i)
	}
	var heap, live, budget, busy int64
	b.ResetTimer()
	for range b.N {
		b.StopTimer()
		h := newMemoryHandler(b) // a fresh dedup: the same bodies are new again
		b.StartTimer()
		run := runMaxRequests(b, h, bodies, false)
		heap, live = max(heap, run.heapPeak), max(live, run.livePeak)
		budget, busy = max(budget, run.budgetPeak), busy+run.busy
	}
	b.ReportMetric(mib(heap), "heap-peak-MiB")
	b.ReportMetric(mib(live), "live-peak-MiB")
	b.ReportMetric(mib(budget), "budget-peak-MiB")
	b.ReportMetric(float64(busy)/float64(b.N), "503s/op")
}
