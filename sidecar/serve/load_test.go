package serve

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestBoundedLoad: four senders push a world of events as fast as they can
// into a service whose queue holds a few batches, retrying when told busy.
// It stops by itself when every event is sent. Every event is analysed once,
// and the queue never held more than its bound.
func TestBoundedLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("load test")
	}
	cfg := baseConfig(t)
	cfg.Pipeline.QueueEvents = 4000
	r := startService(t, cfg)
	evs, _ := world(t, 6, 300, 4, 2)
	const batch, senders = 1000, 4
	var bodies [][]byte
	for i := 0; i < len(evs); i += batch {
		bodies = append(bodies, ndjson(t, evs[i:min(i+batch, len(evs))]))
	}

	var peak atomic.Int64
	stopSampling := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		for {
			if q := r.svc.pipe.queued.Load(); q > peak.Load() {
				peak.Store(q)
			}
			select {
			case <-stopSampling:
				return
			default:
				time.Sleep(100 * time.Microsecond)
			}
		}
	}()

	var accepted, busy atomic.Int64
	var wg sync.WaitGroup
	next := atomic.Int64{}
	start := time.Now()
	for s := 0; s < senders; s++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= len(bodies) {
					return
				}
				for {
					code, b := post(t, r.addr, bodies[i])
					if code == 503 {
						busy.Add(1)
						time.Sleep(5 * time.Millisecond)
						continue
					}
					if code != 200 {
						t.Errorf("batch %d: %d %s", i, code, b)
						return
					}
					var n int
					fmt.Sscanf(string(b), `{"accepted":%d`, &n)
					accepted.Add(int64(n))
					break
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	m := r.svc.pipe.m
	waitFor(t, 30*time.Second, "every event analysed", func() bool {
		return counter(t, m.events.WithLabelValues("analysed")) == float64(len(evs))
	})
	close(stopSampling)
	<-sampled
	if accepted.Load() != int64(len(evs)) {
		t.Errorf("accepted %d of %d", accepted.Load(), len(evs))
	}
	if p := peak.Load(); p > int64(cfg.Pipeline.QueueEvents) {
		t.Errorf("queue peaked at %d events, over its bound %d", p, cfg.Pipeline.QueueEvents)
	}
	t.Logf("%d events in %s (%.0f events/s), %d busy answers retried, queue peak %d of %d",
		len(evs), elapsed.Round(time.Millisecond), float64(len(evs))/elapsed.Seconds(), busy.Load(), peak.Load(), cfg.Pipeline.QueueEvents)
}
