package store

import (
	"context"
	"errors"
	"fmt"
	json "github.com/goccy/go-json"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/sony/gobreaker/v2"

	"github.com/ronda-watch/ronda/analyzer"
	"github.com/ronda-watch/ronda/analyzer/event"
	"github.com/ronda-watch/ronda/sidecar/spool"
)

// WriterOptions configure a Writer. Zero values take the defaults.
type WriterOptions struct {
	// DSN of ClickHouse (clickhouse://user:pass@host:9000/db); the Writer opens
	// its own native LZ4 connection. Ignored when Conn is set. With neither DSN
	// nor Conn the Writer is spool-only: every batch goes to the spool (which
	// is then required), to be delivered by a later run that has ClickHouse.
	DSN string
	// Conn, when set, is used instead of opening DSN; the caller closes it.
	// Its inserts carry one block each (BatchRows rows at most): the Writer
	// bounds a block streamed within an insert by a write deadline on the
	// connections it dials itself, which it cannot set on a Conn from elsewhere.
	Conn driver.Conn
	// Schema names the database and cluster (the same Options as Migrate).
	Schema Options
	// Pseudonymizer holds the HMAC key for viewer ids and the coarsening of
	// places and addresses.
	Pseudonymizer Pseudonymizer
	// BatchRows flushes a table's buffer at this many rows. Default 50000
	// (fewer, larger inserts; FlushInterval still bounds the latency).
	BatchRows int
	// BlockRows is the most rows of one native block: what is taken from a
	// buffer is built and sent block by block, each block sent (batch.Flush)
	// while the next is being built. Default 10000, or BatchRows if fewer.
	BlockRows int
	// InsertRows is the most rows of one insert. An insert goes on with the
	// next block of its table while one is ready, up to this many rows, and is
	// then acknowledged by ClickHouse; every row of a failed insert goes to
	// the spool. Fewer, larger inserts mean fewer parts for ClickHouse to
	// write and merge; the rows of the insert being sent are held in memory
	// (for the spool) besides the buffers. Default 4 × BatchRows.
	InsertRows int
	// FlushInterval flushes a non-empty buffer at this age. Default 1s.
	FlushInterval time.Duration
	// BufferRows bounds each table's in-memory buffer; rows past it are
	// dropped (reason buffer_full). Default 200000, or 4 × BatchRows if more.
	// Rows taken from the buffer are held until written: the rows of the
	// insert being sent (InsertRows at most), one block queued, and the rest
	// of the last take being built.
	BufferRows int
	// Block makes the intake methods wait for room instead of dropping when a
	// buffer is full: back-pressure on the caller. Replay blocks its reader; the
	// live service blocks its analyzer, whose senders are answered busy while
	// Backlogged, so that intake never waits on ClickHouse and nothing it
	// accepted is dropped for want of room.
	Block bool
	// InsertTimeout bounds each step of an insert (preparing it with its
	// first block, each further block, the acknowledgment) and each write to
	// the connection; an insert takes no new block once it is this old.
	// Default 10s.
	InsertTimeout time.Duration
	// BreakerFailures consecutive failed inserts open the breaker. Default 3.
	BreakerFailures uint32
	// BreakerTimeout is how long the breaker stays open before one trial
	// insert. Default 5s.
	BreakerTimeout time.Duration
	// Spool receives batches that cannot be written; the caller opens and
	// closes it. Without Spool or SpoolDir such batches are dropped (reason
	// no_spool).
	Spool *spool.Spool
	// SpoolDir, when Spool is nil, is opened (and closed by Close) with
	// SpoolMaxBytes and the RejectNew policy: when full, new batches are dropped
	// with reason spool_full, counted and logged, and what is spooled is kept.
	SpoolDir      string
	SpoolMaxBytes int64
	// Registerer receives the metrics; nil registers none.
	Registerer prometheus.Registerer
	// Logger; nil discards.
	Logger *slog.Logger
	// Now is the clock for the ingested column; default time.Now.
	Now func() time.Time
}

func (o *WriterOptions) validate() error {
	if o.DSN == "" && o.Conn == nil && o.Spool == nil && o.SpoolDir == "" {
		return errors.New("writer: want DSN, Conn or a spool")
	}
	if err := o.Schema.validate(); err != nil {
		return err
	}
	if o.BatchRows <= 0 {
		o.BatchRows = 50000
	}
	if o.FlushInterval <= 0 {
		o.FlushInterval = time.Second
	}
	if o.BufferRows <= 0 {
		o.BufferRows = max(200000, 4*o.BatchRows)
	}
	if o.BufferRows < o.BatchRows {
		return fmt.Errorf("writer: BufferRows %d below BatchRows %d", o.BufferRows, o.BatchRows)
	}
	if o.BlockRows <= 0 {
		o.BlockRows = min(10000, o.BatchRows)
	}
	if o.BlockRows > o.BatchRows {
		return fmt.Errorf("writer: BlockRows %d above BatchRows %d", o.BlockRows, o.BatchRows)
	}
	if o.InsertRows <= 0 {
		o.InsertRows = 4 * o.BatchRows
	}
	if o.InsertRows < o.BlockRows {
		return fmt.Errorf("writer: InsertRows %d below BlockRows %d", o.InsertRows, o.BlockRows)
	}
	if o.InsertTimeout <= 0 {
		o.InsertTimeout = 10 * time.Second
	}
	if o.BreakerFailures == 0 {
		o.BreakerFailures = 3
	}
	if o.BreakerTimeout <= 0 {
		o.BreakerTimeout = 5 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return nil
}

// Drop reasons, the label of ronda_store_rows_dropped_total.
const (
	DropBufferFull  = "buffer_full" // the table's buffer was full (ClickHouse and spool too slow)
	DropSpoolFull   = "spool_full"  // a failed batch did not fit in the spool
	DropSpoolError  = "spool_error" // the spool refused the batch for another reason
	DropNoSpool     = "no_spool"    // a failed batch and no spool configured
	DropUndecodable = "undecodable" // a spooled record this version cannot read
	DropClosed      = "closed"      // a row offered after Close
	DropNotKept     = "not_kept"    // an event type the store does not keep (chat, heartbeat)
)

type tableBuf struct {
	rows  []Row
	since time.Time // when the oldest buffered row arrived
}

// Writer batches rows into ClickHouse. Its intake methods never block: rows go
// into bounded per-table buffers, flushed by size or age by Run. A failed insert,
// or any insert while the breaker is open or older batches wait in the spool,
// sends the batch to the spool, which Run drains in order once ClickHouse is back.
type Writer struct {
	opts     WriterOptions
	conn     driver.Conn
	ownConn  bool
	sp       *spool.Spool
	ownSpool bool
	cb       *gobreaker.CircuitBreaker[struct{}]
	m        *metrics
	log      *slog.Logger

	mu      sync.Mutex
	bufs    map[string]*tableBuf
	backlog atomic.Bool // some buffer holds half its bound or more (Backlogged)
	room    *sync.Cond  // signalled when take frees buffer space (Block)
	closed  bool
	kick    chan struct{}

	takeMu  sync.Mutex // one taker at a time: batches reach the sender in take order
	flushMu sync.Mutex // one insert or drain at a time: keeps batches in order
	colPool map[string]*sync.Pool
	// stream: inserts may carry several blocks (the Writer dialled its
	// connection and bounds each write; see deadlineConn).
	stream bool
	// afterBlock, when set (tests), runs after each block sent within an
	// insert, with the table and the block's number in the insert from 1.
	afterBlock func(table string, block int)
	// queuedRows counts rows handed to a sender, doneRows those written or
	// spooled: Sync waits for the ones taken before it (sync.go).
	queuedRows, doneRows atomic.Uint64

	runMu      sync.Mutex
	runCancel  func() // stops Run's loop
	sendCancel func() // ends the context of Run's inserts (Close's ctx ended)
	runDone    chan struct{}
	closeOnce  sync.Once
	closeErr   error
}

// NewWriter validates opts, opens the connection (lazily: ClickHouse may be away
// at start) and the spool.
func NewWriter(opts WriterOptions) (*Writer, error) {
	if err := opts.validate(); err != nil {
		return nil, err
	}
	w := &Writer{opts: opts, conn: opts.Conn, sp: opts.Spool, log: opts.Logger,
		bufs: map[string]*tableBuf{}, kick: make(chan struct{}, 1)}
	w.room = sync.NewCond(&w.mu)
	w.colPool = map[string]*sync.Pool{}
	for _, t := range tableOrder {
		w.colPool[t] = &sync.Pool{New: func() any { return newColBuf(t) }}
	}
	if w.conn == nil && opts.DSN != "" {
		o, err := clickhouse.ParseDSN(opts.DSN)
		if err != nil {
			return nil, fmt.Errorf("writer: clickhouse dsn: %w", err)
		}
		o.Protocol = clickhouse.Native
		o.Compression = &clickhouse.Compression{Method: clickhouse.CompressionLZ4}
		o.DialTimeout = min(opts.InsertTimeout, 5*time.Second)
		o.ReadTimeout = opts.InsertTimeout
		o.DialContext = dialBounded(o.DialTimeout, o.TLS, opts.InsertTimeout)
		if opts.Schema.Cluster != "" {
			if o.Settings == nil {
				o.Settings = clickhouse.Settings{}
			}
			// Acknowledge an insert only once every shard has it, not when it is
			// queued on the receiving node.
			o.Settings["insert_distributed_sync"] = 1
		}
		conn, err := clickhouse.Open(o)
		if err != nil {
			return nil, fmt.Errorf("writer: open clickhouse: %w", err)
		}
		w.conn, w.ownConn, w.stream = conn, true, true
	}
	if !w.stream {
		// One block per insert, as large as a batch (see Conn).
		w.opts.BlockRows, w.opts.InsertRows = w.opts.BatchRows, w.opts.BatchRows
	}
	if w.sp == nil && opts.SpoolDir != "" {
		sp, err := spool.Open(spool.Options{Dir: opts.SpoolDir, MaxBytes: opts.SpoolMaxBytes,
			Full: spool.RejectNew, Logger: opts.Logger})
		if err != nil {
			if w.ownConn {
				w.conn.Close()
			}
			return nil, fmt.Errorf("writer: %w", err)
		}
		w.sp, w.ownSpool = sp, true
	}
	w.m = newMetrics(opts.Registerer)
	if w.sp != nil {
		w.m.spoolLimit.Set(float64(w.sp.MaxBytes()))
	}
	w.cb = gobreaker.NewCircuitBreaker[struct{}](gobreaker.Settings{
		Name:        "clickhouse",
		MaxRequests: 1,
		Timeout:     opts.BreakerTimeout,
		ReadyToTrip: func(c gobreaker.Counts) bool { return c.ConsecutiveFailures >= opts.BreakerFailures },
		OnStateChange: func(_ string, from, to gobreaker.State) {
			w.m.breaker.Set(float64(to))
			w.log.Warn("clickhouse breaker", "from", from.String(), "to", to.String())
		},
	})
	return w, nil
}

// Event queues an event worth keeping (see Keep); others are counted as not_kept.
func (w *Writer) Event(ev *event.Event) {
	if !Keep(ev.Type) {
		w.m.dropped.WithLabelValues(TableEvents, DropNotKept).Inc()
		return
	}
	r := w.opts.Pseudonymizer.NewEventRow(ev, w.opts.Now())
	w.add(&r)
}

// Signal queues a detector's signal.
func (w *Writer) Signal(s analyzer.Signal) {
	r := NewSignalRow(s, w.opts.Now())
	w.add(&r)
}

// Session queues an ended broadcast.
func (w *Writer) Session(s analyzer.Session) {
	r := NewSessionRow(s, w.opts.Now())
	w.add(&r)
}

// Alert queues one alert version.
func (w *Writer) Alert(a analyzer.Alert) {
	r := NewAlertRow(a, w.opts.Now())
	w.add(&r)
}

// Action queues a moderator action.
func (w *Writer) Action(a ActionRow) {
	r := NewActionRow(a, w.opts.Now())
	w.add(&r)
}

func (w *Writer) add(r Row) {
	t := r.table()
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		w.m.dropped.WithLabelValues(t, DropClosed).Inc()
		return
	}
	b := w.bufs[t]
	if b == nil {
		b = &tableBuf{}
		w.bufs[t] = b
	}
	for w.opts.Block && len(b.rows) >= w.opts.BufferRows && !w.closed {
		select {
		case w.kick <- struct{}{}:
		default:
		}
		w.room.Wait()
	}
	if len(b.rows) >= w.opts.BufferRows || w.closed {
		w.mu.Unlock()
		w.m.dropped.WithLabelValues(t, DropBufferFull).Inc()
		return
	}
	if len(b.rows) == 0 {
		b.since = time.Now()
	}
	b.rows = append(b.rows, r)
	if len(b.rows) >= w.opts.BufferRows/2 {
		w.backlog.Store(true)
	}
	full := len(b.rows) >= w.opts.BatchRows
	w.mu.Unlock()
	if full {
		select {
		case w.kick <- struct{}{}:
		default:
		}
	}
}

// Run flushes buffers by size and age and drains the spool while ClickHouse
// answers, until ctx ends or Close is called. Close flushes what is left.
func (w *Writer) Run(ctx context.Context) error {
	w.runMu.Lock()
	if w.runDone != nil {
		w.runMu.Unlock()
		return errors.New("writer: Run called twice")
	}
	// Close stops the loop between batches, never in the middle of an insert:
	// inserts see sctx, which ends with ctx or, during Close, with Close's.
	stop := make(chan struct{})
	sctx, scancel := context.WithCancel(ctx)
	defer scancel()
	w.runCancel, w.runDone = sync.OnceFunc(func() { close(stop) }), make(chan struct{})
	w.sendCancel = scancel
	done := w.runDone
	w.runMu.Unlock()
	defer close(done)

	tick := time.NewTicker(min(w.opts.FlushInterval/2, 250*time.Millisecond))
	defer tick.Stop()
	// The sender writes what flush builds, in order, while the next block is
	// being taken and built. Stopped (queue written) before Run returns.
	s := w.startSender(sctx)
	defer s.stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-stop:
			// Close: the rest goes through this sender, so that the insert
			// under way can carry it.
			w.drain(sctx)
			w.flush(s, true)
			s.stop()
			return nil
		case <-w.kick:
		case <-tick.C:
		}
		w.flush(s, false)
		w.drain(ctx)
		w.updateSpoolGauge()
	}
}

// take removes up to BatchRows rows of each table that is due.
func (w *Writer) take(all bool) [][]Row {
	w.mu.Lock()
	defer w.mu.Unlock()
	defer w.room.Broadcast()
	var out [][]Row
	for _, t := range tableOrder {
		b := w.bufs[t]
		if b == nil {
			continue
		}
		took := false
		for len(b.rows) > 0 && (all || len(b.rows) >= w.opts.BatchRows || time.Since(b.since) >= w.opts.FlushInterval) {
			took = true
			n := min(len(b.rows), w.opts.BatchRows)
			batch := make([]Row, n)
			copy(batch, b.rows[:n])
			b.rows = append(b.rows[:0], b.rows[n:]...)
			out = append(out, batch)
			if len(b.rows) < w.opts.BatchRows && !all {
				break
			}
		}
		if took && len(b.rows) > 0 {
			b.since = time.Now() // the rest waits one more interval at most
		}
	}
	backlog := false
	for _, b := range w.bufs {
		backlog = backlog || len(b.rows) >= w.opts.BufferRows/2
	}
	w.backlog.Store(backlog)
	return out
}

// Backlogged says whether some table's buffer holds half its bound or more:
// ClickHouse (or the spool) is not keeping up. A live service answers its
// senders busy meanwhile, so that the buffers never reach their bound.
func (w *Writer) Backlogged() bool { return w.backlog.Load() }

// tableOrder writes alerts' inputs before alerts.
var tableOrder = []string{TableEvents, TableSignals, TableSessions, TableAlerts, TableActions}

// built is one block: its rows (for the spool) and the same rows as columns
// (for the insert).
type built struct {
	table string
	rows  []Row
	cols  colBuf
	// more: the block queued next continues this one (same table, same
	// take), so an insert waits for it rather than end.
	more bool
}

// build converts rows of table t into columns, in a buffer from the pool. A
// spool-only writer never inserts, so it keeps the rows alone.
func (w *Writer) build(t string, rows []Row, more bool) *built {
	if w.conn == nil {
		return &built{table: t, rows: rows, more: more}
	}
	c := w.colPool[t].Get().(colBuf)
	for _, r := range rows {
		c.add(r)
	}
	return &built{table: t, rows: rows, cols: c, more: more}
}

// release returns b's columns to the pool; safe twice.
func (w *Writer) release(b *built) {
	if b.cols == nil {
		return
	}
	b.cols.reset()
	w.colPool[b.table].Put(b.cols)
	b.cols = nil
}

// sender writes built blocks in the order they were queued, one insert at a
// time. The queue holds one block: with the one being sent and the one being
// built, at most three blocks exist as the Writer's columns (plus the
// driver's copy of the one being sent); the rest of a take waits as rows.
type sender struct {
	ch       chan *built
	done     chan struct{}
	stopOnce sync.Once
}

func (w *Writer) startSender(ctx context.Context) *sender {
	s := &sender{ch: make(chan *built, 1), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		var next *built // taken from the queue by the last insert, not part of it
		for {
			b := next
			if b == nil {
				var ok bool
				if b, ok = <-s.ch; !ok {
					return
				}
			}
			w.flushMu.Lock()
			next = w.write(ctx, b, s.ch)
			w.flushMu.Unlock()
		}
	}()
	return s
}

// stop waits until every queued block is written (or spooled); safe twice.
func (s *sender) stop() {
	s.stopOnce.Do(func() { close(s.ch) })
	<-s.done
}

// flush takes the due batches, builds each block by block and queues the
// blocks for s; building the next block overlaps with sending the previous.
func (w *Writer) flush(s *sender, all bool) {
	w.takeMu.Lock()
	defer w.takeMu.Unlock()
	batches := w.take(all)
	for i, batch := range batches {
		t := batch[0].table()
		for len(batch) > 0 {
			n := min(len(batch), w.opts.BlockRows)
			more := n < len(batch) || (i+1 < len(batches) && batches[i+1][0].table() == t)
			w.queuedRows.Add(uint64(n))
			s.ch <- w.build(t, batch[:n:n], more)
			batch = batch[n:]
		}
	}
}

// write inserts b, and the queued blocks that continue it, as one insert; or
// spools b when older batches wait in the spool (order) or there is no
// ClickHouse. A failed insert spools every row it carried, none of which is
// counted written. write returns the block it took from ch that starts the
// next insert, if any.
func (w *Writer) write(ctx context.Context, b *built, ch <-chan *built) *built {
	if w.conn == nil || (w.sp != nil && w.sp.Len() > 0) {
		w.release(b)
		w.spoolBatch(b.table, b.rows)
		w.doneRows.Add(uint64(len(b.rows)))
		return nil
	}
	t := b.table
	carried := [][]Row{b.rows} // every block this insert took, sent or not
	var next *built
	err := w.insert(t, func() (n int, err error) {
		next, n, err = w.insertBlocks(ctx, b, ch, &carried)
		return n, err
	})
	w.release(b) // not taken when the breaker is open
	rows := 0
	for _, c := range carried {
		rows += len(c)
	}
	if err != nil {
		w.log.Warn("clickhouse insert failed; spooling", "table", t, "rows", rows, "err", err)
		for _, c := range carried {
			w.spoolBatch(t, c)
		}
	}
	w.doneRows.Add(uint64(rows))
	return next
}

// spoolRecordRows is the most rows one spool record holds; a larger batch is
// spooled as several records, in order. Bounded records keep each encode,
// checksum and write short (a long memmove or checksum of tens of megabytes
// cannot be preempted and stalls every goroutine at the next collection) and
// keep what a crash can redeliver small. A drained record is one insert.
const spoolRecordRows = 5000

func (w *Writer) spoolBatch(t string, batch []Row) {
	if w.sp == nil {
		w.m.dropped.WithLabelValues(t, DropNoSpool).Add(float64(len(batch)))
		w.log.Error("batch dropped: no spool", "table", t, "rows", len(batch))
		return
	}
	for len(batch) > 0 {
		part := batch[:min(len(batch), spoolRecordRows)]
		batch = batch[len(part):]
		rec, err := encodeBatch(t, part)
		if err == nil {
			err = w.sp.Append(rec)
		}
		switch {
		case err == nil:
			w.m.spooled.WithLabelValues(t).Add(float64(len(part)))
		case errors.Is(err, spool.ErrFull):
			w.m.dropped.WithLabelValues(t, DropSpoolFull).Add(float64(len(part)))
			w.log.Error("batch dropped: spool full", "table", t, "rows", len(part))
		default:
			w.m.dropped.WithLabelValues(t, DropSpoolError).Add(float64(len(part)))
			w.log.Error("batch dropped: spool error", "table", t, "rows", len(part), "err", err)
		}
	}
}

// insertBlocks sends b and then each block of the same table that is ready
// (or announced by more) as one insert, until InsertRows, the insert's age
// reaches InsertTimeout, or the queue is empty; each block is appended to
// carried before it is sent. Each step (the prepare and first block, each
// further block, the acknowledgment) has InsertTimeout, so that a long insert
// on a slow but working server does not fail as a whole; the wait for the
// builder's next block is not a step. It returns the block it took that
// belongs to another insert and the rows sent.
func (w *Writer) insertBlocks(ctx context.Context, b *built, ch <-chan *built, carried *[][]Row) (next *built, n int, err error) {
	t := b.table
	start := time.Now()
	ictx, cancel := context.WithCancel(ctx)
	defer cancel()
	step := time.AfterFunc(w.opts.InsertTimeout, cancel)
	defer step.Stop()
	batch, err := w.conn.PrepareBatch(w.insertContext(ictx), w.insertQuery(t))
	if err != nil {
		return nil, 0, fmt.Errorf("prepare %s: %w", t, err)
	}
	for blocks := 1; ; blocks++ {
		err := appendCols(batch, t, b.cols)
		w.release(b)
		if err == nil && w.stream {
			err = batch.Flush() // an error leaves the connection unusable: Abort closes it
		}
		if err == nil {
			err = ictx.Err() // the step's time ran out, which the Flush does not see
		}
		if err != nil {
			batch.Abort()
			return nil, n, fmt.Errorf("block %d of %s: %w", blocks, t, err)
		}
		n += len(b.rows)
		if w.afterBlock != nil {
			w.afterBlock(t, blocks)
		}
		if !w.stream {
			break
		}
		if !step.Stop() {
			break // the step's time ran out just now: Send fails and the insert spools
		}
		var ok bool
		if b.more {
			select {
			case next, ok = <-ch:
			case <-ctx.Done():
			}
		} else {
			select {
			case next, ok = <-ch:
			default:
			}
		}
		step.Reset(w.opts.InsertTimeout)
		if !ok {
			next = nil
			break
		}
		if next.table != t || n+len(next.rows) > w.opts.InsertRows || time.Since(start) > w.opts.InsertTimeout {
			break
		}
		b, next = next, nil
		*carried = append(*carried, b.rows)
	}
	if err := batch.Send(); err != nil {
		return next, n, fmt.Errorf("send %s: %w", t, err)
	}
	return next, n, nil
}

// insert runs one insert through the breaker; fn returns the rows it sent.
func (w *Writer) insert(t string, fn func() (int, error)) error {
	var n int
	_, err := w.cb.Execute(func() (struct{}, error) {
		start := time.Now()
		var err error
		n, err = fn()
		res := "ok"
		if err != nil {
			res = "error"
		}
		w.m.latency.WithLabelValues(t, res).Observe(time.Since(start).Seconds())
		return struct{}{}, err
	})
	if err != nil {
		return err
	}
	w.m.batch.WithLabelValues(t).Observe(float64(n))
	w.m.written.WithLabelValues(t).Add(float64(n))
	return nil
}

// send inserts rows of table t at once, without breaker or spool (tests).
func (w *Writer) send(ctx context.Context, t string, batch []Row) error {
	b := w.build(t, batch, false)
	defer w.release(b)
	return w.sendCols(ctx, t, b.cols)
}

// sendCols inserts one block as one insert.
func (w *Writer) sendCols(ctx context.Context, t string, cols colBuf) error {
	b, err := w.conn.PrepareBatch(w.insertContext(ctx), w.insertQuery(t))
	if err != nil {
		return fmt.Errorf("prepare %s: %w", t, err)
	}
	if err := appendCols(b, t, cols); err != nil {
		b.Abort()
		return err
	}
	if err := b.Send(); err != nil {
		return fmt.Errorf("send %s: %w", t, err)
	}
	return nil
}

// insertContext asks, in cluster mode, for an acknowledgment only once every
// shard has the rows (an injected Conn too).
func (w *Writer) insertContext(ctx context.Context) context.Context {
	if w.opts.Schema.Cluster == "" {
		return ctx
	}
	return clickhouse.Context(ctx, clickhouse.WithSettings(clickhouse.Settings{"insert_distributed_sync": 1}))
}

func (w *Writer) insertQuery(t string) string {
	return "INSERT INTO " + w.opts.Schema.Qualified(t) + " (" + strings.Join(quoteAll(columnsOf[t]), ", ") + ")"
}

// appendCols appends each column of cols whole to the batch's block.
func appendCols(b driver.Batch, t string, cols colBuf) error {
	for i, c := range cols.columns() {
		if err := b.Column(i).Append(c); err != nil {
			return fmt.Errorf("append %s.%s: %w", t, columnsOf[t][i], err)
		}
	}
	return nil
}

func quoteAll(cols []string) []string {
	out := make([]string, len(cols))
	for i, c := range cols {
		out[i] = quoteIdent(c)
	}
	return out
}

// drain replays spooled batches in order while inserts succeed.
func (w *Writer) drain(ctx context.Context) {
	if w.conn == nil || w.sp == nil || w.sp.Len() == 0 || w.cb.State() == gobreaker.StateOpen {
		return
	}
	w.flushMu.Lock()
	defer w.flushMu.Unlock()
	err := w.sp.Drain(ctx, func(rec []byte) error {
		t, batch, err := decodeBatch(rec)
		if err != nil {
			w.m.dropped.WithLabelValues(t, DropUndecodable).Inc()
			w.log.Error("spooled batch undecodable; dropped", "err", err)
			return nil
		}
		b := w.build(t, batch, false)
		defer w.release(b)
		if err := w.insert(t, func() (int, error) {
			ictx, cancel := context.WithTimeout(ctx, w.opts.InsertTimeout)
			defer cancel()
			return len(batch), w.sendCols(ictx, t, b.cols)
		}); err != nil {
			return err
		}
		w.m.drained.WithLabelValues(t).Add(float64(len(batch)))
		return nil
	})
	if err != nil && ctx.Err() == nil {
		w.log.Warn("spool drain paused", "err", err)
	}
}

func (w *Writer) updateSpoolGauge() {
	if w.sp != nil {
		w.m.spoolBytes.Set(float64(w.sp.Stats().Bytes))
	}
}

// Close stops intake and Run, then writes what is buffered: to ClickHouse when it
// answers within ctx and nothing waits in the spool, to the spool otherwise.
// Safe twice and on nil.
func (w *Writer) Close(ctx context.Context) error {
	if w == nil {
		return nil
	}
	w.closeOnce.Do(func() {
		w.mu.Lock()
		w.closed = true
		w.room.Broadcast()
		w.mu.Unlock()
		w.runMu.Lock()
		cancel, done, sendCancel := w.runCancel, w.runDone, w.sendCancel
		w.runMu.Unlock()
		if cancel != nil {
			// Run writes what is buffered (unless its ctx ended first), its
			// inserts bounded by ctx too, even one already under way.
			unbind := context.AfterFunc(ctx, sendCancel)
			cancel()
			<-done
			unbind()
		}
		if ctx.Err() == nil {
			w.drain(ctx)
		}
		// Without Run, or if Run had ended: with ctx ended, inserts fail fast
		// and batches spool.
		s := w.startSender(ctx)
		w.flush(s, true)
		s.stop()
		w.updateSpoolGauge()
		if w.ownSpool {
			w.closeErr = errors.Join(w.closeErr, w.sp.Close())
		}
		if w.ownConn {
			w.closeErr = errors.Join(w.closeErr, w.conn.Close())
		}
	})
	return w.closeErr
}

// Spooled reports the records waiting in the spool.
func (w *Writer) Spooled() int {
	if w.sp == nil {
		return 0
	}
	return w.sp.Len()
}

// SpoolOnly says the Writer has no ClickHouse: every batch goes to the spool.
func (w *Writer) SpoolOnly() bool { return w.conn == nil }

// SpoolDir is the directory of the Writer's spool, "" without one.
func (w *Writer) SpoolDir() string {
	if w.sp == nil {
		return ""
	}
	return w.sp.Dir()
}

// BreakerState is the breaker's state: closed, half-open or open.
func (w *Writer) BreakerState() gobreaker.State { return w.cb.State() }

// Spool record format, version 1: one byte 0x01, then a JSON object
// {"table": name, "columns": [...], "rows": [{column: value, ...}, ...]}, each
// row the table's Row type as JSON (keys are column names). The column list
// documents what was written; decoding maps keys to the current Row type, so a
// later version can still read old records.
const spoolVersion = 1

type spoolBatch struct {
	Table   string          `json:"table"`
	Columns []string        `json:"columns"`
	Rows    json.RawMessage `json:"rows"`
}

// encodeBatch writes the record around the rows' JSON rather than through a
// json.RawMessage field, which would scan the rows a second time.
func encodeBatch(t string, batch []Row) ([]byte, error) {
	head, err := json.Marshal(struct {
		Table   string   `json:"table"`
		Columns []string `json:"columns"`
	}{t, columnsOf[t]})
	if err != nil {
		return nil, fmt.Errorf("encode %s batch: %w", t, err)
	}
	rows, err := json.Marshal(batch)
	if err != nil {
		return nil, fmt.Errorf("encode %s batch: %w", t, err)
	}
	const rowsKey = `,"rows":`
	b := make([]byte, 0, 1+len(head)+len(rowsKey)+len(rows))
	b = append(b, spoolVersion)
	b = append(b, head[:len(head)-1]...) // without its closing brace
	b = append(b, rowsKey...)
	b = append(b, rows...)
	return append(b, '}'), nil
}

func decodeBatch(rec []byte) (string, []Row, error) {
	if len(rec) == 0 || rec[0] != spoolVersion {
		return "", nil, fmt.Errorf("spool record version %v: want %d", rec[:min(1, len(rec))], spoolVersion)
	}
	var sb spoolBatch
	if err := json.Unmarshal(rec[1:], &sb); err != nil {
		return "", nil, fmt.Errorf("decode spool record: %w", err)
	}
	var out []Row
	switch sb.Table {
	case TableEvents:
		out, err := decodeRows[EventRow](sb.Rows)
		return sb.Table, out, err
	case TableSignals:
		out, err := decodeRows[SignalRow](sb.Rows)
		return sb.Table, out, err
	case TableSessions:
		out, err := decodeRows[SessionRow](sb.Rows)
		return sb.Table, out, err
	case TableAlerts:
		out, err := decodeRows[AlertRow](sb.Rows)
		return sb.Table, out, err
	case TableActions:
		out, err := decodeRows[ActionRow](sb.Rows)
		return sb.Table, out, err
	}
	return sb.Table, out, fmt.Errorf("spool record for unknown table %q", sb.Table)
}

func decodeRows[T any, P interface {
	*T
	Row
}](raw json.RawMessage) ([]Row, error) {
	var rows []T
	if err := json.Unmarshal(raw, &rows); err != nil {
		return nil, fmt.Errorf("decode spooled rows: %w", err)
	}
	if len(rows) == 0 {
		return nil, errors.New("empty spooled batch")
	}
	out := make([]Row, len(rows))
	for i := range rows {
		out[i] = P(&rows[i])
	}
	return out, nil
}

type metrics struct {
	batch      *prometheus.HistogramVec
	latency    *prometheus.HistogramVec
	breaker    prometheus.Gauge
	spoolBytes prometheus.Gauge
	spoolLimit prometheus.Gauge
	dropped    *prometheus.CounterVec
	written    *prometheus.CounterVec
	spooled    *prometheus.CounterVec
	drained    *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		batch: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "ronda_store_batch_rows", Help: "Rows per insert written to ClickHouse.",
			Buckets: prometheus.ExponentialBuckets(1, 4, 9)}, []string{"table"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "ronda_store_insert_seconds", Help: "Latency of one insert, by result.",
			Buckets: prometheus.ExponentialBuckets(0.001, 3, 10)}, []string{"table", "result"}),
		breaker: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "ronda_store_breaker_state", Help: "ClickHouse circuit breaker: 0 closed, 1 half-open, 2 open."}),
		spoolBytes: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "ronda_store_spool_bytes", Help: "Bytes of spool segments on disk."}),
		spoolLimit: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "ronda_store_spool_limit_bytes", Help: "The spool's bound (clickhouse.spool_max_bytes): at it new batches are dropped (reason spool_full). 0 without a spool."}),
		dropped: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ronda_store_rows_dropped_total", Help: "Rows not written and not spooled, by reason."},
			[]string{"table", "reason"}),
		written: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ronda_store_rows_written_total", Help: "Rows inserted into ClickHouse (drained ones included)."},
			[]string{"table"}),
		spooled: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ronda_store_rows_spooled_total", Help: "Rows written to the disk spool."}, []string{"table"}),
		drained: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ronda_store_rows_drained_total", Help: "Spooled rows inserted into ClickHouse."}, []string{"table"}),
	}
	// Every loss is exported from the start at 0, so that its first rows
	// show as an increase (Prometheus takes a series' first sample as its
	// start, not as a rise) and RondaRecordRowsDropped fires on them.
	for _, t := range []string{TableEvents, TableSignals, TableSessions, TableAlerts, TableActions} {
		for _, r := range []string{DropBufferFull, DropSpoolFull, DropSpoolError, DropNoSpool, DropUndecodable, DropClosed} {
			m.dropped.WithLabelValues(t, r)
		}
	}
	if reg != nil {
		reg.MustRegister(m.batch, m.latency, m.breaker, m.spoolBytes, m.spoolLimit, m.dropped, m.written, m.spooled, m.drained)
	}
	return m
}
