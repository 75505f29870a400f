package store

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/sony/gobreaker/v2"

	"github.com/ronda-watch/ronda/analyzer/event"
	"github.com/ronda-watch/ronda/sidecar/spool"
	"github.com/ronda-watch/ronda/sidecar/store/chtest"
)

// faultRun streams n gift events through a Writer into its own server; fault
// runs once a third of them are queued, and the stream goes on meanwhile.
// Afterwards every id must be in events exactly once.
func faultRun(t *testing.T, n int, fault func(s *chtest.Server)) {
	if testing.Short() {
		t.Skip("fault test: slow")
	}
	s := chtest.Start(t)
	conn := connect(t, s)
	o := Options{Database: "ronda"}
	if _, err := Migrate(ctxT(t), conn, o); err != nil {
		t.Fatal(err)
	}
	sp, err := spool.Open(spool.Options{Dir: t.TempDir(), SegmentBytes: 1 << 20, MaxBytes: 256 << 20, NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer sp.Close()
	reg := prometheus.NewRegistry()
	w, err := NewWriter(WriterOptions{DSN: s.DSN(), Schema: o, BatchRows: 100, FlushInterval: 100 * time.Millisecond,
		InsertTimeout: time.Second, BreakerFailures: 2, BreakerTimeout: 300 * time.Millisecond,
		Spool: sp, Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go w.Run(ctx)

	var opened atomic.Bool
	watchDone := make(chan struct{})
	go func() {
		defer close(watchDone)
		for ctx.Err() == nil {
			if w.BreakerState() == gobreaker.StateOpen {
				opened.Store(true)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}()

	faultDone := make(chan struct{})
	for i := 0; i < n; i++ {
		w.Event(&event.Event{Type: event.TypeGift, TypeName: "gift", ID: fmt.Sprintf("g%06d", i),
			At: t0.Add(time.Duration(i) * time.Second), StreamID: "s1", HostID: "h1", SenderID: "v", Coins: int64(i)})
		if i == n/3 {
			go func() { fault(s); close(faultDone) }()
		}
		time.Sleep(time.Millisecond)
	}
	<-faultDone
	// Wait until the buffers are empty and the spool is drained.
	deadline := time.Now().Add(60 * time.Second)
	for {
		w.mu.Lock()
		buffered := 0
		for _, b := range w.bufs {
			buffered += len(b.rows)
		}
		w.mu.Unlock()
		if buffered == 0 && w.Spooled() == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not drained: %d buffered, %d spooled", buffered, w.Spooled())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := w.Close(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	cancel()
	<-watchDone

	if !opened.Load() {
		t.Error("breaker never opened")
	}
	spooled := testutil.ToFloat64(w.m.spooled.WithLabelValues(TableEvents))
	drained := testutil.ToFloat64(w.m.drained.WithLabelValues(TableEvents))
	if spooled == 0 || drained != spooled {
		t.Errorf("spooled %v rows, drained %v: want the same, above 0", spooled, drained)
	}
	if d := droppedRows(t, w); d != 0 {
		t.Errorf("%v rows dropped, want none", d)
	}
	t.Logf("%d events, %v spooled and drained, %v written, spool stats %+v", n, spooled,
		testutil.ToFloat64(w.m.written.WithLabelValues(TableEvents)), sp.Stats())

	// Row by row: every id once, with its coins.
	out, err := s.Client("SELECT id, coins FROM ronda.events FINAL ORDER BY id FORMAT TSV")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != n {
		t.Errorf("%d rows, want %d", len(lines), n)
	}
	sort.Strings(lines)
	for i := 0; i < n && i < len(lines); i++ {
		if want := fmt.Sprintf("g%06d\t%d", i, i); lines[i] != want {
			t.Fatalf("row %d: %q, want %q", i, lines[i], want)
		}
	}
	raw, _ := s.Client("SELECT count() FROM ronda.events")
	t.Logf("rows before merge (copies FINAL hides): %s", strings.TrimSpace(raw))
}

func TestWriterServerKilled(t *testing.T) {
	faultRun(t, 3000, func(s *chtest.Server) {
		s.Kill()
		time.Sleep(1500 * time.Millisecond) // the outage: events keep coming
		s.Restart(t)
	})
}

func TestWriterServerFrozen(t *testing.T) {
	faultRun(t, 3000, func(s *chtest.Server) {
		s.Freeze()
		time.Sleep(2500 * time.Millisecond) // longer than InsertTimeout
		s.Thaw()
	})
}
