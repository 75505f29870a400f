package store

import (
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/ronda-watch/ronda/analyzer/event"
)

// orderEvents are n gifts with ids prefix-0..n-1, each of coins coins.
func orderEvents(w *Writer, prefix string, n int, coins int64) {
	for i := range n {
		ev := event.Event{ID: fmt.Sprintf("%s-%03d", prefix, i), Type: event.TypeGift, At: t0.Add(time.Duration(i) * time.Second),
			StreamID: "s1", HostID: "h1", SenderID: "v1", Coins: coins}
		w.Event(&ev)
	}
}

// TestWriterSpoolsBehindOlderBatches: while older batches wait in the spool, a
// new batch goes to the spool behind them even with ClickHouse up, so that
// ClickHouse receives batches in the order they were taken. The same ids are
// written twice with one ingested time, first with 1 coin (spooled) then with
// 2: ReplacingMergeTree keeps the row inserted last, so the 2s show the order.
func TestWriterSpoolsBehindOlderBatches(t *testing.T) {
	dir := t.TempDir()
	ingested := func() time.Time { return t0 }
	old, err := NewWriter(WriterOptions{SpoolDir: dir, BatchRows: 100, Now: ingested})
	if err != nil {
		t.Fatal(err)
	}
	orderEvents(old, "ord", 100, 1)
	if err := old.Close(ctxT(t)); err != nil {
		t.Fatal(err)
	}

	s := sharedServer(t)
	o := freshSchema(t, s)
	reg := prometheus.NewRegistry()
	w, err := NewWriter(WriterOptions{DSN: s.DSN(), Schema: o, SpoolDir: dir, BatchRows: 100, Now: ingested, Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	if w.Spooled() == 0 {
		t.Fatal("the older batch is not in the spool")
	}
	orderEvents(w, "ord", 100, 2)
	if err := w.Sync(ctxT(t)); err != nil { // writes the new batch now: behind the spooled one
		t.Fatal(err)
	}
	if got := testutil.ToFloat64(w.m.spooled.WithLabelValues(TableEvents)); got != 100 {
		t.Errorf("%v rows of the new batch spooled, want 100 (behind the older batch)", got)
	}
	if err := w.Close(ctxT(t)); err != nil { // drains both, in order
		t.Fatal(err)
	}
	if got := testutil.ToFloat64(w.m.drained.WithLabelValues(TableEvents)); got != 200 {
		t.Errorf("%v rows drained, want 200 (both batches)", got)
	}
	if got := mustQuery(t, s, "SELECT count(), sum(coins) FROM "+o.Qualified(TableEvents)+" FINAL"); got != "100\t200" {
		t.Errorf("events after both batches: %s, want 100 rows of the newer batch (coins 2)", got)
	}
}

// TestWriterBufferExactlyFull: a table's buffer takes exactly BufferRows rows;
// the next one is dropped and counted as buffer_full, and what was taken is
// kept.
func TestWriterBufferExactlyFull(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	w, err := NewWriter(WriterOptions{SpoolDir: t.TempDir(), BatchRows: 10, BufferRows: 40, FlushInterval: time.Hour, Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	orderEvents(w, "full", 40, 1) // Run is not started: nothing leaves the buffer
	if got := testutil.ToFloat64(w.m.dropped.WithLabelValues(TableEvents, DropBufferFull)); got != 0 {
		t.Fatalf("%v rows dropped with the buffer at its bound, want 0", got)
	}
	orderEvents(w, "over", 1, 1)
	if got := testutil.ToFloat64(w.m.dropped.WithLabelValues(TableEvents, DropBufferFull)); got != 1 {
		t.Fatalf("%v rows dropped past the bound, want 1", got)
	}
	if err := w.Close(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	if got := testutil.ToFloat64(w.m.spooled.WithLabelValues(TableEvents)); got != 40 {
		t.Errorf("%v rows spooled, want the 40 the buffer took", got)
	}
}
