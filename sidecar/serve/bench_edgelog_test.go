package serve

import (
	"testing"
	"time"
)

// BenchmarkEdgeIntakeLog is an edge's intake throughput (events/s answered
// 200 by signed HTTP intake, benchSenders senders, 1,000-event batches) with
// its intake log off and on, side by side: two edges forwarding to one hub,
// fed the same rounds in turn (the order alternating). Each round is timed
// until its last answer; the hub's acknowledgement of the round is awaited
// untimed before the next, so a backlog of one does not slow the other.
//
//	go test -run '^$' -bench EdgeIntakeLog -benchtime 3x -count 5 ./sidecar/serve/
func BenchmarkEdgeIntakeLog(b *testing.B) {
	bb := loadBenchBodies(b)
	hubCfg := baseConfig(b)
	hubCfg.Role = RoleHub
	hub := startService(b, hubCfg)
	var edges [2]*running
	for i, on := range []bool{false, true} {
		cfg := edgeConfig(b, []string{"edge-off", "edge-on"}[i], hub.addr)
		cfg.State.Log = &on
		edges[i] = startService(b, cfg)
	}
	var took [2]time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for k := 0; k < 2; k++ {
			j := (i + k) % 2
			r := edges[j]
			before := r.svc.fwd.f.Stats().AckedEvents
			start := time.Now()
			sendAll(b, "http://"+r.addr+"/v1/events", bb.round(2*i+j))
			took[j] += time.Since(start)
			b.StopTimer()
			waitFor(b, 2*time.Minute, "the round at the hub", func() bool {
				return r.svc.fwd.f.Stats().AckedEvents >= before+int64(bb.events)
			})
			b.StartTimer()
		}
	}
	b.StopTimer()
	reportLogOffOn(b, bb, took, edges)
}
