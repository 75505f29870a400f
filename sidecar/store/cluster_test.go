package store

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ronda-watch/ronda/analyzer/event"
	"github.com/ronda-watch/ronda/sidecar/store/chtest"
)

// Two local servers as two shards of cluster "ronda": rows written through the
// Distributed tables land on both shards and read back whole, once each.
func TestClusterTwoShards(t *testing.T) {
	srv, o := startCluster(t)
	w, err := NewWriter(WriterOptions{DSN: srv[0].DSN(), Schema: o, BatchRows: 250, FlushInterval: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	go w.Run(context.Background())
	const n = 1000
	for i := 0; i < n; i++ {
		w.Event(&event.Event{Type: event.TypeGift, ID: fmt.Sprintf("c%05d", i), At: t0.Add(time.Duration(i) * time.Minute),
			StreamID: "s", HostID: "h", Coins: 1})
	}
	if err := w.Close(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	// Twice more, straight into the Distributed table: must not double.
	insertDirect(t, newTestWriter(t, connect(t, srv[1]), o), func() []Row {
		var rows []Row
		for i := 0; i < n; i += 3 {
			r := Pseudonymizer{}.NewEventRow(&event.Event{Type: event.TypeGift, ID: fmt.Sprintf("c%05d", i),
				At: t0.Add(time.Duration(i) * time.Minute), StreamID: "s", HostID: "h", Coins: 1}, t0)
			rows = append(rows, &r)
		}
		return rows
	}())
	raw, _ := srv[0].Client("SELECT count() FROM ronda.events")
	t.Logf("rows through Distributed without FINAL: %s", strings.TrimSpace(raw))
	for i, s := range srv {
		out, err := s.Client("SELECT count() FROM ronda.events_local FINAL")
		if err != nil {
			t.Fatal(err)
		}
		k := strings.TrimSpace(out)
		if k == "0" || k == fmt.Sprint(n) {
			t.Errorf("shard %d holds %s of %d rows: want a share", i, k, n)
		}
		t.Logf("shard %d: %s rows", i, k)
	}
	for i, s := range srv {
		out, err := s.Client("SELECT count(), uniqExact(id) FROM ronda.events FINAL")
		if err != nil {
			t.Fatal(err)
		}
		if want := fmt.Sprintf("%d\t%d\n", n, n); out != want {
			t.Errorf("through the Distributed table on server %d: %q, want %q", i, out, want)
		}
	}
}

// The daily aggregates on two shards: the same world written through the
// Distributed tables (its rows spread over both shards) aggregates to the
// same figures as on one server, from either server, once.
func TestAggregateCluster(t *testing.T) {
	srv, o := startCluster(t)
	writeAggWorld(t, srv[0].DSN(), o)
	for i, s := range srv {
		out, err := s.Client("SELECT count() FROM ronda.events_local")
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("shard %d: %s events", i, strings.TrimSpace(out))
	}
	now := aggDay.AddDate(0, 0, 10)
	n, err := Aggregate(ctxT(t), connect(t, srv[0]), o, now)
	if err != nil {
		t.Fatal(err)
	}
	if n != len(aggTables) {
		t.Errorf("aggregated %d table-days, want %d", n, len(aggTables))
	}
	// The other server (migrate runs on every shard) finds the day done.
	if n, err := Aggregate(ctxT(t), connect(t, srv[1]), o, now); err != nil || n != 0 {
		t.Errorf("second server aggregated %d table-days (%v), want 0", n, err)
	}
	for _, s := range srv {
		checkAggDay(t, connect(t, s), o)
	}
}

// startCluster starts two local servers as the two shards of cluster
// "ronda", migrated; slow, so skipped under -short.
func startCluster(t *testing.T) ([2]*chtest.Server, Options) {
	t.Helper()
	if testing.Short() {
		t.Skip("cluster test: slow")
	}
	if !chtest.Available() {
		chtest.SkipOrFail(t)
	}
	var ports [2]int
	for i := range ports {
		ports[i] = chtest.FreePort(t)
	}
	remote := fmt.Sprintf(`<remote_servers><ronda>
  <shard><replica><host>127.0.0.1</host><port>%d</port></replica></shard>
  <shard><replica><host>127.0.0.1</host><port>%d</port></replica></shard>
</ronda></remote_servers>`, ports[0], ports[1])
	var srv [2]*chtest.Server
	for i := range srv {
		srv[i] = chtest.StartWith(t, chtest.Config{NativePort: ports[i], Extra: remote})
	}
	o := Options{Database: "ronda", Cluster: "ronda"}
	for _, s := range srv {
		if _, err := Migrate(ctxT(t), connect(t, s), o); err != nil {
			t.Fatal(err)
		}
	}
	return srv, o
}
