package intake

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"runtime"
	rtmetrics "runtime/metrics"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ronda-watch/ronda/analyzer/event"
	"github.com/ronda-watch/ronda/sidecar/intake/wire"
)

// maxBody is a body of exactly DefaultMaxLines chat lines, padded to just
// under DefaultMaxBodyBytes: the largest request the defaults allow.
func maxBody(tag int) []byte {
	const lines = DefaultMaxLines
	per := DefaultMaxBodyBytes/lines - 1 // bytes per line, newline excluded
	var b bytes.Buffer
	b.Grow(DefaultMaxBodyBytes)
	for i := range lines {
		l := fmt.Sprintf(`{"id":"m%d-%d","type":"chat","at":"2025-06-02T13:05:00Z","stream_id":"s1","sender_id":"v1","text":"`, tag, i)
		b.WriteString(l)
		b.WriteString(strings.Repeat("x", per-len(l)-2))
		b.WriteString("\"}\n")
	}
	return b.Bytes()
}

// maxGzipBody is DefaultMaxLines chat lines that inflate to just under
// DefaultMaxDecodedBytes, gzipped: the largest a gzip request may inflate to.
func maxGzipBody(tb testing.TB, tag int) []byte {
	const lines = DefaultMaxLines
	per := DefaultMaxDecodedBytes/lines - 1
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	for i := range lines {
		l := fmt.Sprintf(`{"id":"g%d-%d","type":"chat","at":"2025-06-02T13:05:00Z","stream_id":"s1","sender_id":"v1","text":"`, tag, i)
		zw.Write([]byte(l))
		zw.Write(bytes.Repeat([]byte("x"), per-len(l)-2))
		zw.Write([]byte("\"}\n"))
	}
	if err := zw.Close(); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

// memoryRun is what runMaxRequests measured.
type memoryRun struct {
	heapPeak, livePeak int64 // heap objects (live and not yet collected), live heap after a GC: above the baseline
	budgetPeak, limit  int64
	busy               int64 // 503s retried
}

// runMaxRequests sends 16 maximal requests at once to h over a real
// loopback server, each retried on 503 until taken, while a sampler reads
// the heap every millisecond.
func runMaxRequests(tb testing.TB, h *Handler, bodies [][]byte, gz bool) memoryRun {
	srv := httptest.NewServer(h)
	defer srv.Close()
	samples := []rtmetrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}, {Name: "/gc/heap/live:bytes"}}
	runtime.GC()
	rtmetrics.Read(samples)
	baseHeap, baseLive := int64(samples[0].Value.Uint64()), int64(samples[1].Value.Uint64())

	var run memoryRun
	run.limit = h.opts.MaxMemoryBytes
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		t := time.NewTicker(time.Millisecond)
		defer t.Stop()
		s := make([]rtmetrics.Sample, len(samples))
		copy(s, samples)
		for {
			rtmetrics.Read(s)
			run.heapPeak = max(run.heapPeak, int64(s[0].Value.Uint64())-baseHeap)
			run.livePeak = max(run.livePeak, int64(s[1].Value.Uint64())-baseLive)
			select {
			case <-stop:
				return
			case <-t.C:
			}
		}
	}()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: len(bodies)}}
	defer client.CloseIdleConnections()
	var busy atomic.Int64
	var wg sync.WaitGroup
	for _, body := range bodies {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				req, _ := http.NewRequest(http.MethodPost, srv.URL+Path, bytes.NewReader(body))
				wire.Sign(req, "k1", key1, body, time.Now())
				if gz {
					req.Header.Set("Content-Encoding", "gzip")
				}
				resp, err := client.Do(req)
				if err != nil {
					tb.Error(err)
					return
				}
				var ans Answer
				err = json.NewDecoder(resp.Body).Decode(&ans)
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				switch {
				case resp.StatusCode == http.StatusServiceUnavailable:
					busy.Add(1)
					time.Sleep(20 * time.Millisecond) // the sender's back-off, shortened
					continue
				case resp.StatusCode != http.StatusOK || err != nil:
					tb.Errorf("status %d: %v", resp.StatusCode, err)
				case ans.Accepted+len(ans.Duplicates) != DefaultMaxLines:
					tb.Errorf("answer %d accepted, %d duplicates", ans.Accepted, len(ans.Duplicates))
				}
				return
			}
		}()
	}
	wg.Wait()
	close(stop)
	<-sampled
	_, run.budgetPeak = h.mem.stats()
	run.busy = busy.Load()
	return run
}

func newMemoryHandler(tb testing.TB) *Handler {
	h, err := NewHandler(Options{
		Keys:       map[string][]byte{"k1": key1},
		Sink:       func(context.Context, []event.Event) error { return nil },
		Registerer: prometheus.NewRegistry(),
		Logger:     slog.New(slog.DiscardHandler),
		RateEvents: -1,
		Dedup:      event.NewDeduper(time.Hour, 2_000_000),
		// The pace of bodies is not what this measures: a loaded machine
		// must not turn a stall into a 408.
		MinBodyRate: -1,
	})
	if err != nil {
		tb.Fatal(err)
	}
	return h
}

// TestMemoryBudgetHolds sends the largest requests at once, 16 plain (8 MiB,
// 50,000 lines) and 8 gzip (inflating to 64 MiB), and checks the accounting:
// the bytes counted never pass MaxMemoryBytes, and every request is taken
// in the end (some after a 503). The heap it measured is logged, not
// asserted (BenchmarkParallelMaxRequests reports it).
func TestMemoryBudgetHolds(t *testing.T) {
	if testing.Short() {
		t.Skip("16 largest requests at once")
	}
	for _, gz := range []bool{false, true} {
		name := map[bool]string{false: "plain", true: "gzip"}[gz]
		t.Run(name, func(t *testing.T) {
			h := newMemoryHandler(t)
			bodies := make([][]byte, map[bool]int{false: 16, true: 8}[gz])
			for i := range bodies {
				if gz {
					bodies[i] = maxGzipBody(t, i)
				} else {
					bodies[i] = maxBody(i)
				}
			}
			run := runMaxRequests(t, h, bodies, gz)
			if run.budgetPeak > run.limit || run.budgetPeak == 0 {
				t.Fatalf("accounted peak %d bytes, limit %d", run.budgetPeak, run.limit)
			}
			if used, _ := h.mem.stats(); used != 0 {
				t.Errorf("%d bytes still accounted after every request ended", used)
			}
			t.Logf("%d × largest %s: accounted peak %.0f MiB of %.0f; heap objects peak +%.0f MiB, live heap peak +%.0f MiB; %d answered 503 and retried",
				len(bodies), name, mib(run.budgetPeak), mib(run.limit), mib(run.heapPeak), mib(run.livePeak), run.busy)
		})
	}
}

func mib(n int64) float64 { return float64(n) / (1 << 20) }

// TestTooLargeToDecode: a batch that alone needs more than the whole memory
// budget (here a list of empty tags, 3 bytes of text and 24 bytes of heap
// each) gets 413, not a 503 that no retry could pass.
func TestTooLargeToDecode(t *testing.T) {
	t.Parallel()
	o := Options{MaxBodyBytes: 64 << 10, MaxDecodedBytes: 64 << 10, MaxLines: 100}
	o.setDefaults()
	f := start(t, func(opts *Options) {
		opts.MaxBodyBytes, opts.MaxDecodedBytes, opts.MaxLines = o.MaxBodyBytes, o.MaxDecodedBytes, o.MaxLines
		opts.MaxMemoryBytes = o.MaxRequestBytes()
	})
	tags := strings.TrimSuffix(strings.Repeat(`"",`, 20_000), ",")
	line := `{"id":"t1","type":"stream.start","at":"2025-06-02T13:05:00Z","stream_id":"s1","host_id":"h1","tags":[` + tags + `]}`
	r := f.post([]byte(line + "\n"))
	if r.status != http.StatusRequestEntityTooLarge || !strings.Contains(r.err, "bytes of memory") {
		t.Fatalf("%d %s", r.status, r.raw)
	}
	f.stillWorks()
}
