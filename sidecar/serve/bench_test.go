package serve

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/ronda-watch/ronda/analyzer"
	"github.com/ronda-watch/ronda/analyzer/event"
	"github.com/ronda-watch/ronda/sidecar/intake/wire"
)

// Benchmarks of the live service on loopback. Run them together, so that the
// ratios compare runs on the same machine under the same load:
//
//	go test -run '^$' -bench . -benchtime 3x ./sidecar/serve/
//
// BenchmarkServeIntake and BenchmarkBareHandler send the same signed bodies
// from the same four senders; the ratio of their events/s is what the intake,
// the analyzer and the record cost over reading the bytes. BenchmarkAlertLatency
// measures intake-to-moderator-socket latency at 50% and 90% of the rate the
// service sustains. BenchmarkMemory reports the heap with 200 moderator
// sockets and 10,000 live streams.

const benchSenders = 4

// benchBodies are a world's events as 1,000-event signed bodies; round r
// rewrites every id with a prefix so that each round is new to dedup.
type benchBodies struct {
	bodies [][]byte
	events int
}

var benchWorld struct {
	once sync.Once
	b    benchBodies
}

func loadBenchBodies(b *testing.B) benchBodies {
	benchWorld.once.Do(func() {
		evs, _ := world(b, 9, 300, 4, 2)
		for i := 0; i < len(evs); i += 1000 {
			benchWorld.b.bodies = append(benchWorld.b.bodies, ndjson(b, evs[i:min(i+1000, len(evs))]))
		}
		benchWorld.b.events = len(evs)
	})
	return benchWorld.b
}

func (bb benchBodies) round(r int) [][]byte {
	prefix := []byte(`,"id":"r` + strconv.Itoa(r) + `-`)
	out := make([][]byte, len(bb.bodies))
	for i, body := range bb.bodies {
		out[i] = bytes.ReplaceAll(body, []byte(`,"id":"`), prefix)
	}
	return out
}

// BenchmarkServeIntake: sustained events/s into the whole service (intake,
// analyzer, record), counted when the analyzer has taken them. record=spool is
// the spool-only writer of a service without ClickHouse; record=clickhouse
// writes to a real ClickHouse server, and reports the rows it dropped (none
// may be: the writer must keep up or push back).
func BenchmarkServeIntake(b *testing.B) {
	bb := loadBenchBodies(b)
	for _, record := range []string{"spool", "clickhouse"} {
		b.Run("record="+record, func(b *testing.B) {
			cfg := baseConfig(b)
			if record == "clickhouse" {
				cfg.ClickHouse.DSN = clickhouse(b).DSN()
				cfg.ClickHouse.Database = freshDB()
			}
			r := startService(b, cfg)
			m := r.svc.pipe.m
			b.ResetTimer()
			start := time.Now()
			for i := 0; i < b.N; i++ {
				sendAll(b, "http://"+r.addr+"/v1/events", bb.round(i))
			}
			want := float64(b.N * bb.events)
			waitFor(b, 2*time.Minute, "every event analysed", func() bool {
				return counter(b, m.events.WithLabelValues("analysed")) >= want
			})
			el := time.Since(start)
			b.StopTimer()
			b.ReportMetric(want/el.Seconds(), "events/s")
			b.ReportMetric(0, "ns/op")
			r.stop(b)
			b.ReportMetric(metricSum(b, r.svc.reg, "ronda_store_rows_dropped_total")-
				metricSum(b, r.svc.reg, "ronda_store_rows_dropped_total", "reason", "not_kept"), "rows-dropped")
		})
	}
}

// BenchmarkBareHandler: the same senders and bodies into a net/http handler
// that reads and discards the body: the limit of this machine's loopback HTTP.
func BenchmarkBareHandler(b *testing.B) {
	bb := loadBenchBodies(b)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Write([]byte(`{"accepted":1000}`))
	})}
	go srv.Serve(ln)
	defer srv.Close()
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		sendAll(b, "http://"+ln.Addr().String()+"/v1/events", bb.round(i))
	}
	el := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(b.N*bb.events)/el.Seconds(), "events/s")
	b.ReportMetric(0, "ns/op")
}

// BenchmarkAlertLatency: background load paced at a share of the sustained
// rate (measured first, in the same process), and every 50 ms a trigger
// batch (a new host starts a stream and a hash match arrives for it) whose
// alert is timed from the POST to its arrival at a moderator's socket. Each
// b.N is triggersPerOp triggers, so that even -benchtime 3x gives p99 over
// hundreds of samples.
func BenchmarkAlertLatency(b *testing.B) {
	bb := loadBenchBodies(b)
	// The sustained rate of this process, as BenchmarkServeIntake measures it.
	rate := func() float64 {
		r := startService(b, baseConfig(b))
		defer r.stop(b)
		start := time.Now()
		rounds := 3
		for i := 0; i < rounds; i++ {
			sendAll(b, "http://"+r.addr+"/v1/events", bb.round(1000+i))
		}
		want := float64(rounds * bb.events)
		waitFor(b, 2*time.Minute, "every event analysed", func() bool {
			return counter(b, r.svc.pipe.m.events.WithLabelValues("analysed")) >= want
		})
		return want / time.Since(start).Seconds()
	}()
	for _, share := range []float64{0.5, 0.9} {
		b.Run(fmt.Sprintf("load=%.0f%%", share*100), func(b *testing.B) {
			latencyAt(b, bb, share*rate)
			b.ReportMetric(share*rate, "load-events/s")
		})
	}
}

const (
	triggersPerOp = 100
	// loadSenders pace the background load; more of them than benchSenders,
	// so that one slow answer does not cost the load its rate.
	loadSenders = 8
)

func latencyAt(b *testing.B, bb benchBodies, rate float64) {
	latencyAtWith(b, bb, rate, baseConfig(b), nil)
}

// latencyAtWith is latencyAt on cfg, with during running beside the load
// until it is told to stop (bench_durable_test.go writes checkpoints).
func latencyAtWith(b *testing.B, bb benchBodies, rate float64, cfg Config, during func(r *running, stop <-chan struct{})) {
	r := startService(b, cfg)
	mod := dialModerator(b, r.addr, tokModA)
	url := "http://" + r.addr + "/v1/events"

	// Background: bodies of 1,000 events paced to rate from loadSenders.
	stop := make(chan struct{})
	var bg sync.WaitGroup
	var sentBG atomic.Int64
	interval := time.Duration(float64(time.Second) * 1000 / rate * loadSenders)
	for s := 0; s < loadSenders; s++ {
		bg.Add(1)
		go func() {
			defer bg.Done()
			client := &http.Client{}
			t := time.NewTicker(interval)
			defer t.Stop()
			for round := 0; ; round++ {
				for i := s; i < len(bb.bodies); i += loadSenders {
					select {
					case <-stop:
						return
					case <-t.C:
					}
					body := bytes.ReplaceAll(bb.bodies[i], []byte(`,"id":"`), []byte(fmt.Sprintf(`,"id":"l%d-`, round)))
					req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
					wire.Sign(req, keyID, []byte(keySecret), body, time.Now())
					resp, err := client.Do(req)
					if err != nil {
						return
					}
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode == http.StatusOK {
						sentBG.Add(1000)
					}
				}
			}
		}()
	}

	duringDone := make(chan struct{})
	go func() {
		defer close(duringDone)
		if during != nil {
			during(r, stop)
		}
	}()
	lat := make([]time.Duration, 0, b.N*triggersPerOp)
	posted := make([]time.Duration, 0, b.N*triggersPerOp) // until the intake's answer
	began, cpuBegan := time.Now(), cpuTime(b)
	b.ResetTimer()
	for i := 0; i < b.N*triggersPerOp; i++ {
		host := fmt.Sprintf("bench-host-%d-%d", time.Now().UnixNano(), i)
		now := time.Now().UTC()
		evs := []event.Event{
			{ID: host + "-start", Type: event.TypeStreamStart, At: now, StreamID: host + "-s", HostID: host, DeviceID: host + "-d"},
			{ID: host + "-hash", Type: event.TypeSignal, At: now, HostID: host, Source: "bench", Label: "csam_hash_match", Score: 0.99},
		}
		body := ndjson(b, evs)
		sent := time.Now()
		// The alert is timed from the POST, not from its answer: with the
		// intake log the answer waits for the fsync, the analysis does not.
		answered := make(chan time.Duration, 1)
		go func() { postOK(b, r.addr, body); answered <- time.Since(sent) }()
		mod.find(30*time.Second, "trigger alert", alertMsg(analyzer.SeverityHigh, host))
		lat = append(lat, time.Since(sent))
		posted = append(posted, <-answered)
		time.Sleep(50 * time.Millisecond)
	}
	b.StopTimer()
	close(stop)
	bg.Wait()
	<-duringDone
	wall := time.Since(began)
	achieved := float64(sentBG.Load()) / wall.Seconds()
	// Cores busy in this process (service and load generator together).
	b.ReportMetric((cpuTime(b)-cpuBegan).Seconds()/wall.Seconds(), "cpu-cores")
	pct := func(d []time.Duration, p float64) float64 {
		sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
		return float64(d[min(len(d)-1, int(p*float64(len(d))))].Microseconds()) / 1000
	}
	b.ReportMetric(pct(lat, 0.5), "p50-ms")
	b.ReportMetric(pct(lat, 0.99), "p99-ms")
	b.ReportMetric(pct(posted, 0.99), "accepted-p99-ms")
	b.ReportMetric(achieved, "achieved-events/s")
	b.ReportMetric(0, "ns/op")
}

// cpuTime is the CPU time this process has used, user and system.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkMemory: the heap of a service holding 10,000 live streams with 200
// moderator sockets connected (both ends of each socket are in this process).
func BenchmarkMemory(b *testing.B) {
	for i := 0; i < b.N; i++ {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		goBefore := runtime.NumGoroutine()
		r := startService(b, baseConfig(b))
		for s := 0; s < 200; s++ {
			dialModerator(b, r.addr, tokModA)
		}
		const streams = 10_000
		now := time.Now().UTC()
		var evs []event.Event
		for s := 0; s < streams; s++ {
			id := fmt.Sprintf("mem-%d-%d", i, s)
			evs = append(evs,
				event.Event{ID: id + "-start", Type: event.TypeStreamStart, At: now, StreamID: id, HostID: "h" + id,
					DeviceID: "d" + id, IP: fmt.Sprintf("10.%d.%d.%d", s>>16&255, s>>8&255, s&255),
					Geo: &event.Geo{Lat: -6.2 + float64(s%100)/1000, Lon: 106.8 + float64(s/100)/1000, AccuracyM: 20}},
				event.Event{ID: id + "-hb", Type: event.TypeStreamHeartbeat, At: now, StreamID: id, Viewers: 12})
		}
		for j := 0; j < len(evs); j += 5000 {
			postOK(b, r.addr, ndjson(b, evs[j:min(j+5000, len(evs))]))
		}
		waitFor(b, 30*time.Second, "streams analysed", func() bool {
			return counter(b, r.svc.pipe.m.events.WithLabelValues("analysed")) == float64(len(evs))
		})
		evs = nil
		var live int
		r.svc.pipe.do(b.Context(), func(e *analyzer.Engine) { live = e.Stats().Streams })
		if live != streams {
			b.Fatalf("%d live streams, want %d", live, streams)
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		heap := float64(after.HeapInuse+after.StackInuse) - float64(before.HeapInuse+before.StackInuse)
		b.ReportMetric(heap/(1<<20), "MiB-heap+stacks")
		b.ReportMetric(float64(runtime.NumGoroutine()-goBefore), "goroutines")
		b.ReportMetric(0, "ns/op")
		r.stop(b)
	}
}

// reportLogOffOn reports the events/s of two services fed the same rounds,
// the log off (took[0], svcs[0]) and on, their ratio and the batches per
// fsync of the one with the log on; then it stops both.
func reportLogOffOn(b *testing.B, bb benchBodies, took [2]time.Duration, svcs [2]*running) {
	n := float64(b.N * bb.events)
	off, on := n/took[0].Seconds(), n/took[1].Seconds()
	b.ReportMetric(off, "off-events/s")
	b.ReportMetric(on, "on-events/s")
	b.ReportMetric(on/off, "on/off")
	fs := metricSum(b, svcs[1].svc.reg, "ronda_wal_fsyncs_total")
	b.ReportMetric(float64(b.N*len(bb.bodies))/max(fs, 1), "batches/fsync")
	b.ReportMetric(0, "ns/op")
	for _, r := range svcs {
		r.stop(b)
	}
}
