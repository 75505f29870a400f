package intake

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ronda-watch/ronda/analyzer/event"
)

// benchBatch is the number of events per request in the benchmarks.
const benchBatch = 1000

// batchMaker builds request bodies of benchBatch lines from the analyzer's
// sample of real lines (mostly chat, gift and heartbeat, ~147 bytes each),
// each id made unique so that nothing is a duplicate.
type batchMaker struct {
	heads, tails [][]byte // each line split around its id's value
	next         atomic.Int64
}

func newBatchMaker(tb testing.TB) *batchMaker {
	data, err := os.ReadFile("../../analyzer/event/testdata/real.ndjson")
	if err != nil {
		tb.Fatal(err)
	}
	m := &batchMaker{}
	for line := range bytes.Lines(data) {
		i := bytes.Index(line, []byte(`"id":"`))
		if i < 0 {
			tb.Fatalf("no id in %s", line)
		}
		i += len(`"id":"`)
		j := i + bytes.IndexByte(line[i:], '"')
		m.heads = append(m.heads, line[:i])
		m.tails = append(m.tails, bytes.TrimRight(line[j:], "\n"))
	}
	return m
}

func (m *batchMaker) body(buf []byte) []byte {
	n := m.next.Add(1)
	buf = buf[:0]
	for i := range benchBatch {
		k := i % len(m.heads)
		buf = append(buf, m.heads[k]...)
		buf = append(buf, 'b')
		buf = strconv.AppendInt(buf, n, 10)
		buf = append(buf, '-')
		buf = strconv.AppendInt(buf, int64(i), 10)
		buf = append(buf, m.tails[k]...)
		buf = append(buf, '\n')
	}
	return buf
}

// benchPost sends batches from parallel clients over a real loopback server.
func benchPost(b *testing.B, h http.Handler, sign bool) {
	m := newBatchMaker(b)
	srv := httptest.NewServer(h)
	defer srv.Close()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	defer client.CloseIdleConnections()
	b.SetBytes(int64(len(m.body(nil))))
	b.ReportAllocs()
	b.SetParallelism(2)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		var buf []byte
		for pb.Next() {
			buf = m.body(buf)
			req, err := http.NewRequest(http.MethodPost, srv.URL+Path, bytes.NewReader(buf))
			if err != nil {
				b.Error(err)
				return
			}
			if sign {
				Sign(req, "k1", key1, buf, time.Now())
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

// BenchmarkWebSocketIntake streams the same sample lines (each id unique)
// through a real Forwarder over loopback into a Handler whose Sink
// discards: the edge-to-hub path, reported as events/s. One op is one
// event. Compare with BenchmarkIntake (POST batches of 1,000):
//
//	go test -run '^$' -bench 'BenchmarkIntake|BenchmarkWebSocketIntake' -count 3 ./sidecar/intake/
func BenchmarkWebSocketIntake(b *testing.B) {
	for _, bc := range []struct {
		name  string
		plain bool
	}{{"deflate", false}, {"plain", true}} {
		b.Run(bc.name, func(b *testing.B) {
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
			srv := httptest.NewServer(h.WebSocket())
			defer srv.Close()
			defer h.Close()
			f, err := NewForwarder(ForwarderOptions{
				URL: srv.URL, KeyID: "k1", Secret: key1, Sender: "bench",
				DisableCompression: bc.plain,
				Logger:             slog.New(slog.DiscardHandler),
			})
			if err != nil {
				b.Fatal(err)
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			go f.Run(ctx)

			m := newBatchMaker(b)
			var line []byte
			var size int64
			for i := range len(m.heads) {
				size += int64(len(m.heads[i]) + len(m.tails[i]) + 8)
			}
			b.SetBytes(size / int64(len(m.heads)))
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				k := i % len(m.heads)
				line = append(line[:0], m.heads[k]...)
				line = append(line, 'w')
				line = strconv.AppendInt(line, int64(i), 10)
				line = append(line, m.tails[k]...)
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
		run := runMaxRequests(b, h, bodies)
		heap, live = max(heap, run.heapPeak), max(live, run.livePeak)
		budget, busy = max(budget, run.budgetPeak), busy+run.busy
	}
	b.ReportMetric(mib(heap), "heap-peak-MiB")
	b.ReportMetric(mib(live), "live-peak-MiB")
	b.ReportMetric(mib(budget), "budget-peak-MiB")
	b.ReportMetric(float64(busy)/float64(b.N), "503s/op")
}
