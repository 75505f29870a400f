package serve

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"os"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ronda-watch/ronda/analyzer"
	"github.com/ronda-watch/ronda/analyzer/event"
	"github.com/ronda-watch/ronda/sidecar/hub"
)

// Benchmarks of durability, side by side in one run:
//
//	go test -run '^$' -bench 'IntakeLog|AlertLatencyCheckpointing|CheckpointState' -benchtime 3x -count 3 ./sidecar/serve/
//
// BenchmarkIntakeLog is BenchmarkServeIntake's sustained events/s with the
// intake log off and on (every batch fsynced before its answer, fsyncs shared
// by concurrent batches); the ratio on/off is the log's cost.
// BenchmarkAlertLatencyCheckpointing is BenchmarkAlertLatency's p99
// intake-to-moderator latency at 50% load with checkpoints written back to
// back, and without.

func BenchmarkIntakeLog(b *testing.B) {
	bb := loadBenchBodies(b)
	// Two services, the log off and on, fed the same rounds in turn (the order
	// alternating), so that both see the same moments of a shared machine.
	var svcs [2]*running
	for i, on := range []bool{false, true} {
		cfg := baseConfig(b)
		cfg.State.Log = &on
		svcs[i] = startService(b, cfg)
	}
	var took [2]time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for k := 0; k < 2; k++ {
			j := (i + k) % 2
			r := svcs[j]
			m := r.svc.pipe.m
			before := counter(b, m.events.WithLabelValues("analysed"))
			start := time.Now()
			sendAll(b, "http://"+r.addr+"/v1/events", bb.round(2*i+j))
			waitFor(b, 2*time.Minute, "every event analysed", func() bool {
				return counter(b, m.events.WithLabelValues("analysed")) >= before+float64(bb.events)
			})
			took[j] += time.Since(start)
		}
	}
	b.StopTimer()
	reportLogOffOn(b, bb, took, svcs)
}

func BenchmarkAlertLatencyCheckpointing(b *testing.B) {
	bb := loadBenchBodies(b)
	r := startService(b, baseConfig(b))
	start := time.Now()
	for i := 0; i < 3; i++ {
		sendAll(b, "http://"+r.addr+"/v1/events", bb.round(1000+i))
	}
	want := float64(3 * bb.events)
	waitFor(b, 2*time.Minute, "every event analysed", func() bool {
		return counter(b, r.svc.pipe.m.events.WithLabelValues("analysed")) >= want
	})
	rate := want / time.Since(start).Seconds()
	r.stop(b)
	for _, ckpt := range []bool{false, true} {
		name := "checkpoints=off"
		var during func(*running, <-chan struct{})
		if ckpt {
			name = "checkpoints=continuous"
			during = func(r *running, stop <-chan struct{}) {
				n := 0
				defer func() { b.ReportMetric(float64(n), "checkpoints") }()
				for {
					select {
					case <-stop:
						return
					default:
					}
					if err := r.svc.Checkpoint(context.Background()); err != nil {
						b.Errorf("checkpoint: %v", err)
						return
					}
					n++
				}
			}
		}
		b.Run(name, func(b *testing.B) {
			latencyAtWith(b, bb, 0.5*rate, baseConfig(b), during)
			b.ReportMetric(0.5*rate, "load-events/s")
		})
	}
}

// BenchmarkServiceCheckpoint: the service state of public-twoweeks (fed
// through intake): how long a checkpoint's snapshot holds the analyzer, how
// long the whole checkpoint takes (record synced, file written and fsynced,
// log truncated), its size, the time to read it back into an engine, deduper
// and hub, and, for reference, the time to rebuild the engine by replaying
// the world's history instead.
func BenchmarkServiceCheckpoint(b *testing.B) {
	lines := scenarioLines(b, "../../../shared/scenarios/public-twoweeks/events.ndjson.gz")
	var bodies [][]byte
	for i := 0; i < len(lines); i += 2000 {
		bodies = append(bodies, bytes.Join(lines[i:min(i+2000, len(lines))], nil))
	}
	r := startService(b, baseConfig(b))
	sendAll(b, "http://"+r.addr+"/v1/events", bodies)
	waitFor(b, 5*time.Minute, "the world analysed", func() bool {
		return counter(b, r.svc.pipe.m.events.WithLabelValues("analysed"))+
			counter(b, r.svc.pipe.m.events.WithLabelValues("future")) >= float64(len(lines))-100
	})
	var st analyzer.Stats
	r.svc.pipe.do(context.Background(), func(e *analyzer.Engine) { st = e.Stats() })
	live := float64(st.Streams + st.Hosts + st.Accounts + st.Places)

	b.Run("write", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			if err := r.svc.Checkpoint(context.Background()); err != nil {
				b.Fatal(err)
			}
		}
		files := checkpointFiles(r.svc.cfg.State.Dir)
		fi, _ := os.Stat(files[0])
		b.ReportMetric(float64(fi.Size()), "bytes")
		b.ReportMetric(float64(fi.Size())/live, "bytes/entity")
		b.ReportMetric(live, "live-entities")
		b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/checkpoint")
		b.ReportMetric(histMean(b, r.svc.reg, "ronda_state_snapshot_seconds")*1000, "snapshot-ms")
	})
	b.Run("restore", func(b *testing.B) {
		if err := r.svc.Checkpoint(context.Background()); err != nil {
			b.Fatal(err)
		}
		f := checkpointFiles(r.svc.cfg.State.Dir)[0]
		acfg := analyzer.DefaultConfig()
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			snap, _, _, err := r.svc.readCheckpoint(f, acfg)
			if err != nil {
				b.Fatal(err)
			}
			h, err := hub.New(hub.Options{Tokens: []hub.Token{{Name: "x", Role: hub.RoleLead, SHA256: sha(tokLead)}}})
			if err != nil {
				b.Fatal(err)
			}
			if err := restoreHub(h, snap.hubB); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/restore")
	})
	b.Run("replay-history", func(b *testing.B) {
		evs := decodeLines(b, lines)
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			e, err := analyzer.New(analyzer.DefaultConfig())
			if err != nil {
				b.Fatal(err)
			}
			for j := range evs {
				e.Apply(&evs[j])
			}
		}
		b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms/replay")
	})
	r.stop(b)
}

func scenarioLines(b *testing.B, path string) [][]byte {
	f, err := os.Open(path)
	if err != nil {
		b.Skipf("scenario: %v", err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		b.Fatal(err)
	}
	sc := bufio.NewScanner(zr)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	var lines [][]byte
	for sc.Scan() {
		lines = append(lines, append(bytes.Clone(sc.Bytes()), '\n'))
	}
	return lines
}

func decodeLines(b *testing.B, lines [][]byte) []event.Event {
	rd, err := event.NewReader(bytes.NewReader(bytes.Join(lines, nil)))
	if err != nil {
		b.Fatal(err)
	}
	var evs []event.Event
	for {
		ev, err := rd.Next()
		if err == io.EOF {
			return evs
		}
		if err == nil {
			evs = append(evs, *ev)
		}
	}
}

// histMean is a histogram's sum over its count.
func histMean(b *testing.B, reg prometheus.Gatherer, name string) float64 {
	mfs, err := reg.Gather()
	if err != nil {
		b.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == name && len(mf.GetMetric()) > 0 {
			h := mf.GetMetric()[0].GetHistogram()
			return h.GetSampleSum() / max(float64(h.GetSampleCount()), 1)
		}
	}
	return 0
}
