package serve

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ronda-watch/ronda/analyzer/event"
	"github.com/ronda-watch/ronda/sidecar/store/chtest"
)

// TestRecordBackpressure: ClickHouse stalls (SIGSTOP) while senders push more
// events than the writer's buffers hold. Intake answers busy rather than take
// what it could not keep; the senders retry; when ClickHouse is back every
// event is in the record exactly once and no row was dropped.
func TestRecordBackpressure(t *testing.T) {
	if testing.Short() {
		t.Skip("fault test: slow")
	}
	ch := chtest.Start(t)
	db := freshDB()
	cfg := baseConfig(t)
	cfg.ClickHouse.DSN = ch.DSN()
	cfg.ClickHouse.Database = db
	r := startService(t, cfg)
	waitFor(t, 30*time.Second, "the schema", func() bool {
		out, err := ch.Client(fmt.Sprintf("EXISTS TABLE %s.events", db))
		return err == nil && strings.TrimSpace(out) == "1"
	})

	// 150,000 gifts: the events buffer (200,000 rows) is backlogged at half.
	const n, batch = 150_000, 5000
	at := time.Now().UTC().Add(-time.Minute)
	var bodies [][]byte
	for i := 0; i < n; i += batch {
		evs := make([]event.Event, batch)
		for j := range evs {
			k := i + j
			evs[j] = event.Event{ID: fmt.Sprintf("bp-%06d", k), Type: event.TypeGift, At: at.Add(time.Duration(k) * time.Millisecond),
				StreamID: fmt.Sprintf("bp-s%d", k%40), HostID: fmt.Sprintf("bp-h%d", k%40), SenderID: fmt.Sprintf("bp-v%d", k%997), Coins: 1}
		}
		bodies = append(bodies, ndjson(t, evs))
	}

	ch.Freeze()
	thawed := false
	defer func() {
		if !thawed {
			ch.Thaw()
		}
	}()
	var refused [][]byte
	for _, body := range bodies {
		code, b := post(t, r.addr, body)
		switch code {
		case http.StatusOK:
		case http.StatusServiceUnavailable:
			refused = append(refused, body)
		default:
			t.Fatalf("intake answered %d: %s", code, b)
		}
	}
	m := r.svc.pipe.m
	if len(refused) == 0 || counter(t, m.events.WithLabelValues("record_busy")) == 0 {
		t.Fatalf("%d of %d batches refused while ClickHouse stalled (record_busy %v): want the record to push back",
			len(refused), len(bodies), counter(t, m.events.WithLabelValues("record_busy")))
	}
	t.Logf("%d of %d batches refused busy while ClickHouse was stalled", len(refused), len(bodies))

	ch.Thaw()
	thawed = true
	for _, body := range refused {
		postOK(t, r.addr, body) // retried as a sender does, until taken
	}
	waitFor(t, 90*time.Second, "every event once in the record", func() bool {
		out, err := ch.Client(fmt.Sprintf("SELECT count(), uniqExact(id) FROM %s.events FINAL WHERE id LIKE 'bp-%%'", db))
		return err == nil && strings.TrimSpace(out) == fmt.Sprintf("%d\t%d", n, n)
	})
	if d := metricSum(t, r.svc.reg, "ronda_store_rows_dropped_total") -
		metricSum(t, r.svc.reg, "ronda_store_rows_dropped_total", "reason", "not_kept"); d != 0 {
		t.Errorf("%v rows dropped, want none", d)
	}
}
