package serve

import (
	"context"
	"testing"
	"time"
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
	for _, on := range []bool{false, true} {
		name := "log=off"
		if on {
			name = "log=on"
		}
		b.Run(name, func(b *testing.B) {
			cfg := baseConfig(b)
			cfg.State.Log = &on
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
			if on {
				fs := metricSum(b, r.svc.reg, "ronda_wal_fsyncs_total")
				b.ReportMetric(float64(b.N*len(bb.bodies))/max(fs, 1), "batches/fsync")
			}
			r.stop(b)
		})
	}
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
