package store

import (
	"fmt"
	"testing"
	"time"

	"github.com/ronda-watch/ronda/analyzer/event"
)

// TestWriterSync: Sync returns only once every row added before it is in
// ClickHouse or the spool, while Run goes on beside it (it would otherwise
// hold the rows for its flush interval of an hour here).
func TestWriterSync(t *testing.T) {
	s := sharedServer(t)
	o := freshSchema(t, s)
	w, err := NewWriter(WriterOptions{DSN: s.DSN(), Schema: o, SpoolDir: t.TempDir(), BatchRows: 1000,
		FlushInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close(ctxT(t))
	go w.Run(ctxT(t))
	add := func(from, n int) {
		for i := from; i < from+n; i++ {
			ev := event.Event{ID: fmt.Sprintf("sy-%05d", i), Type: event.TypeGift, At: t0.Add(time.Duration(i) * time.Second),
				StreamID: "s1", HostID: "h1", SenderID: "v1", Coins: 1}
			w.Event(&ev)
		}
	}
	for round, n := range []int{10, 2500, 1} { // under, over and under a batch
		from := round * 10000
		add(from, n)
		if err := w.Sync(ctxT(t)); err != nil {
			t.Fatal(err)
		}
		q := fmt.Sprintf("SELECT count() FROM %s WHERE id LIKE 'sy-%%'", o.Qualified(TableEvents))
		want := 0
		for _, m := range []int{10, 2500, 1}[:round+1] {
			want += m
		}
		if got := mustQuery(t, s, q); got != fmt.Sprint(want) {
			t.Fatalf("round %d: %s rows in ClickHouse after Sync, want %d", round, got, want)
		}
	}
}
