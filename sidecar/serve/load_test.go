package serve

import (
	"bytes"
	"encoding/json"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ronda-watch/ronda/sidecar/intake"
	"github.com/ronda-watch/ronda/sidecar/intake/wire"
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
	const batch = 1000
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

	start := time.Now()
	accepted, busy := sendAll(t, "http://"+r.addr+intake.Path, bodies)
	elapsed := time.Since(start)
	m := r.svc.pipe.m
	waitFor(t, 30*time.Second, "every event analysed", func() bool {
		return counter(t, m.events.WithLabelValues("analysed")) == float64(len(evs))
	})
	close(stopSampling)
	<-sampled
	if accepted != int64(len(evs)) {
		t.Errorf("accepted %d of %d", accepted, len(evs))
	}
	if p := peak.Load(); p > int64(cfg.Pipeline.QueueEvents) {
		t.Errorf("queue peaked at %d events, over its bound %d", p, cfg.Pipeline.QueueEvents)
	}
	t.Logf("%d events in %s (%.0f events/s), %d busy answers retried, queue peak %d of %d",
		len(evs), elapsed.Round(time.Millisecond), float64(len(evs))/elapsed.Seconds(), busy, peak.Load(), cfg.Pipeline.QueueEvents)
}

// sendAll posts signed bodies from benchSenders goroutines, retrying busy
// answers as a sender does, and returns the events accepted and the busy
// answers met.
func sendAll(tb testing.TB, url string, bodies [][]byte) (accepted, busy int64) {
	var next, acc, bsy atomic.Int64
	var wg sync.WaitGroup
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: benchSenders}}
	for s := 0; s < benchSenders; s++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= len(bodies) {
					return
				}
				for {
					req, _ := http.NewRequest(http.MethodPost, url, bytes.NewReader(bodies[i]))
					wire.Sign(req, keyID, []byte(keySecret), bodies[i], time.Now())
					resp, err := client.Do(req)
					if err != nil {
						tb.Error(err)
						return
					}
					var a intake.Answer
					err = json.NewDecoder(resp.Body).Decode(&a)
					resp.Body.Close()
					if resp.StatusCode == http.StatusServiceUnavailable {
						bsy.Add(1)
						time.Sleep(2 * time.Millisecond)
						continue
					}
					if resp.StatusCode != http.StatusOK || err != nil {
						tb.Errorf("batch %d: status %d, %v", i, resp.StatusCode, err)
						return
					}
					acc.Add(int64(a.Accepted))
					break
				}
			}
		}()
	}
	wg.Wait()
	return acc.Load(), bsy.Load()
}
