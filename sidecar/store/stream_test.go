package store

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/ronda-watch/ronda/sidecar/spool"
	"github.com/ronda-watch/ronda/sidecar/store/chtest"
)

// syncBuf is a bytes.Buffer safe for a logger shared by goroutines.
type syncBuf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuf) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuf) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// midInsert queues n event rows, then runs the Writer, whose first take is
// one insert of many blocks; after block `after` of it has been sent, fault
// breaks the server, and recover (on the test's goroutine) brings it back.
// Every row must then be in events FINAL exactly once, the failed insert's
// rows spooled and drained and none of them counted written twice. It
// returns the Writer's log.
func midInsert(t *testing.T, n int, opts WriterOptions, after int, fault func(*chtest.Server), recover func(*chtest.Server)) string {
	if testing.Short() {
		t.Skip("fault test: slow")
	}
	s := chtest.Start(t)
	conn := connect(t, s)
	o := Options{Database: "ronda"}
	if _, err := Migrate(ctxT(t), conn, o); err != nil {
		t.Fatal(err)
	}
	sp, err := spool.Open(spool.Options{Dir: t.TempDir(), MaxBytes: 1 << 30, NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer sp.Close()
	var logs syncBuf
	opts.DSN, opts.Schema, opts.Spool, opts.Block = s.DSN(), o, sp, true
	opts.BreakerFailures, opts.BreakerTimeout = 1, 300*time.Millisecond
	opts.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	w, err := NewWriter(opts)
	if err != nil {
		t.Fatal(err)
	}
	faulted := make(chan struct{})
	var once sync.Once
	w.afterBlock = func(table string, block int) {
		if block == after {
			once.Do(func() { fault(s); close(faulted) })
		}
	}
	rows := benchEventRows(n)
	for i := range rows {
		w.add(&rows[i])
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go w.Run(ctx)
	select {
	case <-faulted:
	case <-time.After(60 * time.Second):
		t.Fatalf("no insert reached the fault; log:\n%s", logs.String())
	}
	recover(s)

	deadline := time.Now().Add(90 * time.Second)
	for {
		w.mu.Lock()
		buffered := len(w.bufs[TableEvents].rows)
		w.mu.Unlock()
		if buffered == 0 && w.Spooled() == 0 && testutil.ToFloat64(w.m.written.WithLabelValues(TableEvents)) >= float64(n) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not delivered: %d buffered, %d spooled, %v written; log:\n%s", buffered, w.Spooled(),
				testutil.ToFloat64(w.m.written.WithLabelValues(TableEvents)), logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := w.Close(ctxT(t)); err != nil {
		t.Fatal(err)
	}

	written := testutil.ToFloat64(w.m.written.WithLabelValues(TableEvents))
	spooled := testutil.ToFloat64(w.m.spooled.WithLabelValues(TableEvents))
	drained := testutil.ToFloat64(w.m.drained.WithLabelValues(TableEvents))
	// The failed insert had sent `after` blocks: all of them were spooled, and
	// so was every row queued behind it (the spool keeps the order).
	if int(written) != n || spooled != drained || spooled < float64(after*opts.BlockRows) {
		t.Errorf("written %v (drained included), spooled %v, drained %v: want written %d, spooled = drained >= %d",
			written, spooled, drained, n, after*opts.BlockRows)
	}
	if d := droppedRows(t, w); d != 0 {
		t.Errorf("%v rows dropped, want none", d)
	}
	got := mustQuery(t, s, "SELECT count(), uniqExact(id) FROM ronda.events FINAL")
	if want := strconv.Itoa(n) + "\t" + strconv.Itoa(n); got != want {
		t.Errorf("events FINAL: count, distinct ids %q, want %q", got, want)
	}
	raw := mustQuery(t, s, "SELECT count() FROM ronda.events")
	t.Logf("%d rows: %v spooled and drained; rows before merge %s", n, spooled, raw)
	return logs.String()
}

// TestWriterStreamKilled: the server is killed between two blocks of one
// insert. The insert fails (the next block or the acknowledgment), every row
// it carried goes to the spool, and the spool delivers them once the server
// is back.
func TestWriterStreamKilled(t *testing.T) {
	log := midInsert(t, 20000, WriterOptions{BatchRows: 5000, BlockRows: 1000, InsertRows: 1 << 20, InsertTimeout: 3 * time.Second},
		3, func(s *chtest.Server) { s.Kill() },
		func(s *chtest.Server) {
			time.Sleep(time.Second)
			s.Restart(t)
		})
	if !strings.Contains(log, "clickhouse insert failed; spooling") {
		t.Errorf("no failed insert logged:\n%s", log)
	}
}

// TestWriterStreamFrozen: the server is frozen (SIGSTOP) between two blocks
// of one insert. The rest of the insert fits in the socket buffers, so the
// acknowledgment times out; the whole insert goes to the spool and is
// delivered exactly once after the server thaws, although the server, on
// thawing, also finishes the first insert from its socket (copies FINAL hides).
func TestWriterStreamFrozen(t *testing.T) {
	log := midInsert(t, 50000, WriterOptions{BatchRows: 10000, BlockRows: 2000, InsertRows: 1 << 20, InsertTimeout: 3 * time.Second},
		2, func(s *chtest.Server) { s.Freeze() },
		func(s *chtest.Server) {
			time.Sleep(6 * time.Second) // longer than InsertTimeout
			s.Thaw()
		})
	if !strings.Contains(log, "clickhouse insert failed; spooling") {
		t.Errorf("no failed insert logged:\n%s", log)
	}
}

// TestDeadlineConn: a peer that stops reading (a frozen server) fails a
// write once the socket buffers are full, after the Writer's timeout or the
// driver's own earlier deadline, instead of holding it for good.
func TestDeadlineConn(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			defer c.Close() // accepted, never read
		}
	}()
	block := make([]byte, 1<<20)
	for _, tc := range []struct {
		name    string
		timeout time.Duration
		asked   time.Duration // the driver's deadline, 0 for none
	}{{"writer's timeout", 200 * time.Millisecond, 0}, {"driver's earlier deadline", time.Hour, 200 * time.Millisecond}} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := dialBounded(time.Second, nil, tc.timeout)(context.Background(), l.Addr().String())
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if tc.asked > 0 {
				c.SetDeadline(time.Now().Add(tc.asked))
			}
			done := make(chan error, 1)
			go func() {
				for i := 0; i < 1024; i++ { // 1 GiB: far more than socket buffers
					if _, err := c.Write(block); err != nil {
						done <- err
						return
					}
				}
				done <- nil
			}()
			select {
			case err := <-done:
				if !errors.Is(err, os.ErrDeadlineExceeded) {
					t.Fatalf("write to a peer that does not read: %v, want a deadline error", err)
				}
			case <-time.After(30 * time.Second):
				t.Fatal("write to a peer that does not read still blocked after 30 s")
			}
		})
	}
}

// TestWriterCloseFrozen: Close's context bounds the inserts Run has under way
// when Close is called, not only those of the last flush. ClickHouse is frozen
// while Run waits on an insert whose InsertTimeout is a minute; Close with a
// 1 s context must return soon, every row spooled and none counted written,
// and a later Writer on the same spool delivers each row once after the thaw.
func TestWriterCloseFrozen(t *testing.T) {
	if testing.Short() {
		t.Skip("fault test: slow")
	}
	s := chtest.Start(t)
	o := Options{Database: "ronda"}
	if _, err := Migrate(ctxT(t), connect(t, s), o); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	opts := WriterOptions{DSN: s.DSN(), Schema: o, SpoolDir: dir, BatchRows: 5000, BlockRows: 1000,
		InsertTimeout: time.Minute, Block: true}
	w, err := NewWriter(opts)
	if err != nil {
		t.Fatal(err)
	}
	started := make(chan struct{})
	var once sync.Once
	w.afterBlock = func(_ string, block int) {
		if block == 2 {
			once.Do(func() { s.Freeze(); close(started) })
		}
	}
	const n = 20000
	rows := benchEventRows(n)
	for i := range rows {
		w.add(&rows[i])
	}
	thawed := false
	defer func() {
		if !thawed {
			s.Thaw()
		}
	}()
	go w.Run(context.Background())
	select { // blocks are in the socket, the insert waits on the frozen server
	case <-started:
	case <-time.After(30 * time.Second):
		t.Fatal("no block sent")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	closed := make(chan error, 1)
	go func() { closed <- w.Close(ctx) }()
	select {
	case err := <-closed:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Close with a 1 s context still waiting after 30 s on a frozen server")
	}
	written := testutil.ToFloat64(w.m.written.WithLabelValues(TableEvents))
	spooled := testutil.ToFloat64(w.m.spooled.WithLabelValues(TableEvents))
	if written != 0 || spooled != n {
		t.Errorf("written %v, spooled %v: want 0 and %d", written, spooled, n)
	}
	s.Thaw()
	thawed = true

	w2, err := NewWriter(WriterOptions{DSN: s.DSN(), Schema: o, SpoolDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	go w2.Run(context.Background())
	deadline := time.Now().Add(60 * time.Second)
	for w2.Spooled() > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%d records still spooled", w2.Spooled())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if err := w2.Close(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	got := mustQuery(t, s, "SELECT count(), uniqExact(id) FROM ronda.events FINAL")
	if want := strconv.Itoa(n) + "\t" + strconv.Itoa(n); got != want {
		t.Errorf("events FINAL: count, distinct ids %q, want %q", got, want)
	}
}
