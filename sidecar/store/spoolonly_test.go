package store

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/ronda-watch/ronda/analyzer/event"
	"github.com/ronda-watch/ronda/sidecar/spool"
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

// TestWriterSpoolLimitGauge: ronda_store_spool_limit_bytes is the spool's
// bound, the default when none is set, so that a rule can alert on the
// spool's fill ratio; a given spool's own bound; 0 without a spool.
func TestWriterSpoolLimitGauge(t *testing.T) {
	limit := func(o WriterOptions) float64 {
		t.Helper()
		reg := prometheus.NewPedanticRegistry()
		o.Registerer = reg
		w, err := NewWriter(o)
		if err != nil {
			t.Fatal(err)
		}
		defer w.Close(ctxT(t))
		fams, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range fams {
			if f.GetName() == "ronda_store_spool_limit_bytes" {
				return f.GetMetric()[0].GetGauge().GetValue()
			}
		}
		t.Fatal("ronda_store_spool_limit_bytes not registered")
		return 0
	}
	if got := limit(WriterOptions{SpoolDir: t.TempDir(), SpoolMaxBytes: 64 << 20}); got != 64<<20 {
		t.Errorf("limit with spool_max_bytes 64 MiB: %v", got)
	}
	if got := limit(WriterOptions{SpoolDir: t.TempDir()}); got != 1<<30 {
		t.Errorf("limit with the default bound: %v, want 1 GiB", got)
	}
	sp, err := spool.Open(spool.Options{Dir: t.TempDir(), MaxBytes: 32 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer sp.Close()
	if got := limit(WriterOptions{Spool: sp}); got != 32<<20 {
		t.Errorf("limit of a given spool of 32 MiB: %v", got)
	}
}

// droppedRows sums ronda_store_rows_dropped_total over its labels (every
// series is exported from the start at 0), but for not_kept: chat and
// heartbeats, never stored by design, are not a loss.
func droppedRows(t testing.TB, w *Writer) float64 {
	t.Helper()
	ch := make(chan prometheus.Metric, 64)
	go func() { w.m.dropped.Collect(ch); close(ch) }()
	var sum float64
	for m := range ch {
		var pb dto.Metric
		if err := m.Write(&pb); err != nil {
			t.Fatal(err)
		}
		if slices.ContainsFunc(pb.GetLabel(), func(l *dto.LabelPair) bool { return l.GetValue() == DropNotKept }) {
			continue
		}
		sum += pb.GetCounter().GetValue()
	}
	return sum
}
