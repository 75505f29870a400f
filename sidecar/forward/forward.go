// Package forward is the client of Ronda's websocket intake
// (sidecar/intake, PROTOCOL.md there): a Forwarder streams events to a hub
// in sequenced batches, each acknowledged, resumed after every reconnect
// without loss or duplicates, with a bounded buffer in memory and then a
// spool on disk while the hub is away. Streaming ingest nodes and Ronda's
// edges use it.
//
// It speaks the protocol through sidecar/intake/wire only and must not
// import the server. It never blocks its caller for long, holds a bounded
// buffer, and logs no secret, signature or event contents.
package forward

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"github.com/ronda-watch/ronda/analyzer/event"
	"github.com/ronda-watch/ronda/sidecar/intake/wire"
	"github.com/ronda-watch/ronda/sidecar/spool"
)

var (
	// ErrBufferFull is returned by Add and AddLine when the events would take
	// the memory buffer past BufferEvents or BufferBytes: the server has
	// been away or slow for that long and the spool (if any) cannot keep up.
	// Nothing of the call was taken; ronda_forwarder_events_total{status="dropped"}
	// counts it.
	ErrBufferFull = errors.New("forwarder buffer full")
	// ErrClosed is returned by Add, AddLine and Run after Close.
	ErrClosed = errors.New("forwarder closed")
	// ErrBadLine is returned by AddLine for a line that cannot be an event:
	// blank, with a newline inside, or longer than event.MaxEventBytes.
	ErrBadLine = errors.New("bad event line")
	// ErrUndelivered is wrapped by Close when events were neither delivered
	// nor spooled.
	ErrUndelivered = errors.New("events undelivered")
)

// Stats count what a Forwarder did since New; Buffered, BufferedBytes and
// SpoolRecords describe it now.
type Stats struct {
	Added         int64 // events taken by Add and AddLine
	Dropped       int64 // events refused with ErrBufferFull
	Buffered      int   // events in memory: waiting, in flight or unacknowledged
	BufferedBytes int64
	Spooled       int64 // events written to the spool
	SpoolRecords  int   // batches in the spool now

	Sent   int64 // batch messages written, resends included
	Resent int64 // batch messages written again (after a reconnect or a busy)
	Acked  int64 // batches acknowledged as taken (by an ack or by a hello)
	// AckedEvents counts the events of acknowledged (or refused) batches:
	// the server is done with the first AckedEvents events taken by Add and
	// AddLine in this Forwarder's life, in their order (batches are sent
	// and acknowledged in the order their events were added). An edge's
	// intake log is truncated by it.
	AckedEvents int64
	// AckedByHello counts batches the server had taken whose ack was lost
	// with a connection: the next hello said so and they were not resent.
	AckedByHello int64
	Busy         int64 // busy answers
	Refused      int64 // batches the server refused as never passing: lost, logged

	Accepted      int64 // events the server took
	Duplicates    int64 // events the server had already
	Rejected      int64 // lines the server rejected (logged)
	Unknown       int64 // lines of a type the server does not know
	RefusedEvents int64 // events in refused batches

	Connects      int64 // handshakes that got a hello
	ConnectFails  int64 // attempts that did not
	SessionResets int64 // sessions the server had forgotten, started afresh
	Undelivered   int64 // events Close could neither deliver nor spool
}

// Forwarder streams events to a Ronda websocket intake (wire.WSPath):
// batches of NDJSON with sequence numbers, a window of unacknowledged
// batches, resumed after every reconnect from the server's count so that
// nothing is lost or taken twice. Add never blocks for long; Run keeps the connection. Safe for
// concurrent use.
type Forwarder struct {
	opts   Options
	base   *url.URL
	log    *slog.Logger
	m      *fwdMetrics
	spool  *spool.Spool
	dialer websocket.Dialer

	wake      chan struct{} // to the run loop: something to send, or closing
	spillKick chan struct{} // to the spiller: memory is half full
	stop      chan struct{} // closed by Close: Run and the spiller end
	drained   chan struct{} // closed by the run loop once closing and empty
	wg        sync.WaitGroup

	closeOnce sync.Once
	closeErr  error

	mu          sync.Mutex
	running     bool
	runDone     chan struct{}
	closing     bool
	drainedSent bool
	lim         batchLimits
	session     string
	acked       uint64
	lastSeq     uint64
	pending     []*fwdBatch // sealed, seq acked+1 ... lastSeq
	chunks      []fwdChunk  // full, not sealed, oldest first
	cur         fwdChunk    // being filled
	memEvents   int
	memBytes    int64
	spilling    bool // a chunk is being written to the spool
	spillErrLog time.Time
	st          Stats
}

type batchLimits struct {
	lines int
	bytes int
}

// fwdChunk is NDJSON lines not yet given a sequence number.
type fwdChunk struct {
	body  []byte
	n     int
	since time.Time // when the first line came
}

// fwdBatch is a sealed batch: resent with the same seq until answered.
type fwdBatch struct {
	seq  uint64
	body []byte
	n    int
	sent int
}

// New validates opts and opens the spool, if any. Nothing runs
// until Run.
func New(opts Options) (*Forwarder, error) {
	if err := opts.validate(); err != nil {
		return nil, fmt.Errorf("forwarder options: %w", err)
	}
	opts.setDefaults()
	base, _ := url.Parse(opts.URL)
	switch base.Scheme {
	case "http":
		base.Scheme = "ws"
	case "https":
		base.Scheme = "wss"
	}
	f := &Forwarder{
		opts:      opts,
		base:      base,
		log:       opts.Logger,
		wake:      make(chan struct{}, 1),
		spillKick: make(chan struct{}, 1),
		stop:      make(chan struct{}),
		drained:   make(chan struct{}),
		runDone:   make(chan struct{}),
		lim:       batchLimits{lines: opts.MaxBatchLines, bytes: opts.MaxBatchBytes},
		session:   wire.NewID(),
	}
	f.dialer = websocket.Dialer{
		NetDialContext:    opts.NetDialContext,
		TLSClientConfig:   opts.TLSConfig,
		HandshakeTimeout:  opts.HandshakeTimeout,
		ReadBufferSize:    16 << 10,
		WriteBufferSize:   64 << 10,
		EnableCompression: !opts.DisableCompression,
		Proxy:             http.ProxyFromEnvironment,
	}
	if opts.SpoolDir != "" {
		sp, err := spool.Open(spool.Options{
			Dir:      opts.SpoolDir,
			MaxBytes: opts.SpoolMaxBytes,
			NoSync:   opts.SpoolNoSync,
			Logger:   opts.Logger,
		})
		if err != nil {
			return nil, fmt.Errorf("forwarder spool: %w", err)
		}
		f.spool = sp
	}
	m, err := newFwdMetrics(opts.Registerer, f)
	if err != nil {
		f.spool.Close()
		return nil, fmt.Errorf("forwarder metrics: %w", err)
	}
	f.m = m
	if f.spool != nil {
		f.wg.Add(1)
		go f.spiller()
	}
	return f, nil
}

// Add queues events in order; they are encoded with event.Event's
// MarshalJSON. It takes all of them or none: ErrBufferFull when they do not
// fit, ErrClosed after Close, an encoding error for an event that
// cannot be a line.
func (f *Forwarder) Add(evs ...*event.Event) error {
	buf := make([]byte, 0, 256*len(evs))
	ends := make([]int, 0, len(evs))
	for _, ev := range evs {
		if ev == nil {
			return errors.New("nil event")
		}
		e := *ev
		// An event built in code may carry only one of the two type fields.
		if e.TypeName == "" && e.Type != event.TypeUnknown {
			e.TypeName = e.Type.String()
		} else if e.Type == event.TypeUnknown {
			e.Type = event.ParseType(e.TypeName)
		}
		b, err := e.MarshalJSON()
		if err != nil {
			return fmt.Errorf("encode event: %w", err)
		}
		if len(b) > event.MaxEventBytes {
			return fmt.Errorf("event %.40q: %w: %d bytes, at most %d", ev.ID, ErrBadLine, len(b), event.MaxEventBytes)
		}
		buf = append(append(buf, b...), '\n')
		ends = append(ends, len(buf))
	}
	return f.put(buf, ends)
}

// AddLine queues one NDJSON event line as it is (a trailing newline is
// dropped); the server decodes it and rejects it in its answer if it is not
// a valid event. See Add for the errors.
func (f *Forwarder) AddLine(line []byte) error {
	line = bytes.TrimSuffix(line, []byte{'\n'})
	line = bytes.TrimSuffix(line, []byte{'\r'})
	switch {
	case len(bytes.TrimSpace(line)) == 0:
		return fmt.Errorf("%w: blank", ErrBadLine)
	case len(line) > event.MaxEventBytes:
		return fmt.Errorf("%w: %d bytes, at most %d", ErrBadLine, len(line), event.MaxEventBytes)
	case bytes.IndexByte(line, '\n') >= 0:
		return fmt.Errorf("%w: newline inside", ErrBadLine)
	}
	buf := make([]byte, len(line)+1)
	copy(buf, line)
	buf[len(line)] = '\n'
	return f.put(buf, []int{len(buf)})
}

// put appends lines (each ending at ends[i], "\n" included) to the chunks.
func (f *Forwarder) put(buf []byte, ends []int) error {
	if len(ends) == 0 {
		return nil
	}
	n := len(ends)
	f.mu.Lock()
	if f.closing {
		f.mu.Unlock()
		return ErrClosed
	}
	if f.memEvents+n > f.opts.BufferEvents || f.memBytes+int64(len(buf)) > f.opts.BufferBytes {
		f.st.Dropped += int64(n)
		f.mu.Unlock()
		f.m.events.WithLabelValues("dropped").Add(float64(n))
		f.kickSpiller()
		return fmt.Errorf("%w: %d events held", ErrBufferFull, f.opts.BufferEvents)
	}
	wake := f.cur.n == 0
	now := time.Now()
	start := 0
	for _, end := range ends {
		line := buf[start:end]
		start = end
		if f.cur.n > 0 && (f.cur.n >= f.lim.lines || len(f.cur.body)+len(line) > f.lim.bytes) {
			f.chunks = append(f.chunks, f.cur)
			f.cur = fwdChunk{}
			wake = true
		}
		if f.cur.n == 0 {
			f.cur = fwdChunk{body: make([]byte, 0, min(max(16<<10, 2*len(buf)), f.lim.bytes)), since: now}
		}
		f.cur.body = append(f.cur.body, line...)
		f.cur.n++
	}
	f.memEvents += n
	f.memBytes += int64(len(buf))
	f.st.Added += int64(n)
	spill := f.spool != nil && (f.memEvents >= f.opts.BufferEvents/2 || f.memBytes >= f.opts.BufferBytes/2)
	f.mu.Unlock()
	f.m.events.WithLabelValues("added").Add(float64(n))
	if wake {
		f.signal()
	}
	if spill {
		f.kickSpiller()
	}
	return nil
}

func (f *Forwarder) signal() {
	select {
	case f.wake <- struct{}{}:
	default:
	}
}

func (f *Forwarder) kickSpiller() {
	if f.spool == nil {
		return
	}
	select {
	case f.spillKick <- struct{}{}:
	default:
	}
}

// Stats returns the counters, for tests and status pages.
func (f *Forwarder) Stats() Stats {
	f.mu.Lock()
	st := f.st
	st.Buffered, st.BufferedBytes = f.memEvents, f.memBytes
	f.mu.Unlock()
	if f.spool != nil {
		st.SpoolRecords = f.spool.Len()
	}
	return st
}

// checkDrainedLocked tells Close that everything is delivered.
func (f *Forwarder) checkDrainedLocked() {
	if f.closing && !f.drainedSent && f.memEvents == 0 && !f.spilling &&
		(f.spool == nil || f.spool.Len() == 0) {
		f.drainedSent = true
		close(f.drained)
	}
}

// Close stops taking events, sends what is buffered (the spool too) while
// ctx allows and Run is running, then stops Run. What is left is spooled,
// when there is a spool, in order: the unacknowledged batches first (some
// may have been taken: the receiver's event-id dedup drops them), then the
// rest. It returns an error wrapping ErrUndelivered with the number of
// events neither delivered nor spooled. Safe twice and on nil.
func (f *Forwarder) Close(ctx context.Context) error {
	if f == nil {
		return nil
	}
	f.closeOnce.Do(func() { f.closeErr = f.close(ctx) })
	return f.closeErr
}

func (f *Forwarder) close(ctx context.Context) error {
	f.mu.Lock()
	f.closing = true
	running, runDone := f.running, f.runDone
	f.checkDrainedLocked()
	f.mu.Unlock()
	f.signal()
	if running {
		select {
		case <-f.drained:
		case <-ctx.Done():
		case <-runDone:
		}
	}
	close(f.stop)
	if running {
		<-runDone
	}
	f.wg.Wait()

	f.mu.Lock()
	var left []fwdChunk
	for _, b := range f.pending {
		left = append(left, fwdChunk{body: b.body, n: b.n})
	}
	left = append(left, f.chunks...)
	if f.cur.n > 0 {
		left = append(left, f.cur)
	}
	f.pending, f.chunks, f.cur = nil, nil, fwdChunk{}
	f.memEvents, f.memBytes = 0, 0
	f.mu.Unlock()

	var spooled, lost int
	var spoolErr error
	for _, c := range left {
		if f.spool != nil && spoolErr == nil {
			if spoolErr = f.spool.Append(c.body); spoolErr == nil {
				spooled += c.n
				continue
			}
		}
		lost += c.n
	}
	var closeErr error
	if f.spool != nil {
		closeErr = f.spool.Close()
	}
	f.mu.Lock()
	f.st.Spooled += int64(spooled)
	f.st.Undelivered += int64(lost)
	f.mu.Unlock()
	f.m.events.WithLabelValues("spooled").Add(float64(spooled))
	f.m.events.WithLabelValues("undelivered").Add(float64(lost))
	if spooled > 0 {
		f.log.Info("forwarder closed with events spooled", "events", spooled, "dir", f.opts.SpoolDir)
	}
	if lost > 0 {
		f.log.Warn("forwarder closed with events undelivered", "events", lost, "spool_err", spoolErr)
		err := fmt.Errorf("forwarder closed with %d events undelivered: %w", lost, ErrUndelivered)
		if spoolErr != nil {
			err = fmt.Errorf("%w (spool: %w)", err, spoolErr)
		}
		return err
	}
	if closeErr != nil {
		return fmt.Errorf("close spool: %w", closeErr)
	}
	return nil
}
