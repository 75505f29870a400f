package store

import (
	"fmt"
	"testing"
	"time"

	"github.com/ronda-watch/ronda/analyzer/event"
)

// TestWriterSpoolOnly: a writer with no ClickHouse (the live service's default)
// spools every batch and inserts nothing; a later writer with ClickHouse and the
// same spool directory delivers every row once.
func TestWriterSpoolOnly(t *testing.T) {
	dir := t.TempDir()
	if _, err := NewWriter(WriterOptions{}); err == nil {
		t.Fatal("a writer with neither ClickHouse nor a spool was accepted")
	}
	w, err := NewWriter(WriterOptions{SpoolDir: dir, BatchRows: 100})
	if err != nil {
		t.Fatal(err)
	}
	if !w.SpoolOnly() || w.SpoolDir() != dir {
		t.Fatalf("SpoolOnly %v, SpoolDir %q", w.SpoolOnly(), w.SpoolDir())
	}
	go w.Run(ctxT(t))
	const n = 1000
	for i := 0; i < n; i++ {
		ev := event.Event{ID: fmt.Sprintf("so-%04d", i), Type: event.TypeGift, At: t0.Add(time.Duration(i) * time.Second),
			StreamID: "s1", HostID: "h1", SenderID: "v1", Coins: int64(i + 1)}
		w.Event(&ev)
	}
	if err := w.Close(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	if w.Spooled() < n/100 {
		t.Fatalf("%d batches spooled, want at least %d", w.Spooled(), n/100)
	}

	s := sharedServer(t)
	o := freshSchema(t, s)
	w2, err := NewWriter(WriterOptions{DSN: s.DSN(), Schema: o, SpoolDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if w2.SpoolOnly() {
		t.Fatal("a writer with a DSN says it is spool-only")
	}
	if err := w2.Close(ctxT(t)); err != nil { // drains the spool
		t.Fatal(err)
	}
	if got := mustQuery(t, s, "SELECT count(), uniqExact(id), sum(coins) FROM "+o.Qualified(TableEvents)); got != fmt.Sprintf("%d\t%d\t%d", n, n, n*(n+1)/2) {
		t.Errorf("events after the drain: %s, want %d rows once each", got, n)
	}
}
