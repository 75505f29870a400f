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
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/ronda-watch/ronda/analyzer/event"
	"github.com/ronda-watch/ronda/sidecar/intake/wire"
	"github.com/ronda-watch/ronda/sidecar/spool"
)

// Defaults of Options.
const (
	DefaultMaxBatchLines    = 5_000
	DefaultMaxBatchBytes    = 1 << 20
	DefaultFlushInterval    = 100 * time.Millisecond
	DefaultWindow           = 4
	DefaultBufferEvents     = 200_000
	DefaultBufferBytes      = 64 << 20
	DefaultMinBackoff       = 100 * time.Millisecond
	DefaultMaxBackoff       = 10 * time.Second
	DefaultHandshakeTimeout = 10 * time.Second
	DefaultWriteTimeout     = 10 * time.Second
	// MaxAnswerBytes bounds a message from the server: an ack of a batch of
	// 50,000 rejected lines fits.
	MaxAnswerBytes = 32 << 20
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

// Options configure a Forwarder. Zero values take the documented
// defaults.
type Options struct {
	// URL is the base of the receiving Ronda: wss:// (https is taken as
	// wss), or ws:// (http) to a loopback host only (localhost, 127.0.0.0/8,
	// ::1): only the handshake is signed, so over plain ws:// across a
	// network the batches that follow could be altered or injected on the
	// path (PROTOCOL.md, "Transport"). wire.WSPath is appended to its path
	// unless it ends with it already. Required.
	URL string
	// KeyID and Secret sign every handshake: a key of the receiver's
	// keys (intake.Options.Keys). Required; Secret at least wire.MinKeyBytes.
	KeyID  string
	Secret []byte
	// Sender names this forwarder to the receiver, which keeps one sequence
	// per key, sender and session: 1 to wire.MaxWSParamBytes of
	// [A-Za-z0-9._-]. Required. A fresh session id is made by New.
	Sender string

	// MaxBatchLines and MaxBatchBytes bound one batch; each is also lowered
	// to the receiver's limits (max_lines, rate burst, max_batch_bytes) from
	// its hello. Defaults 5,000 lines and 1 MiB.
	MaxBatchLines int
	MaxBatchBytes int
	// FlushInterval is the age at which a partial batch goes out. Default
	// 100 ms.
	FlushInterval time.Duration
	// Window is the number of batches sent and not yet answered. Default 4.
	Window int

	// BufferEvents and BufferBytes bound the events held in memory:
	// waiting, in flight and not yet acknowledged. Past either Add returns
	// ErrBufferFull. With a SpoolDir, batches move to disk once memory is
	// half full, so that only a spool that cannot keep up (or is full) makes
	// Add fail. Defaults 200,000 events and 64 MiB.
	BufferEvents int
	BufferBytes  int64

	// SpoolDir, when set, is a sidecar/spool directory (one Forwarder per
	// directory) that holds batches while the receiver is away longer than
	// memory allows, and what Close could not deliver; the next Forwarder on
	// the same directory sends it first. Empty: memory only.
	SpoolDir string
	// SpoolMaxBytes bounds the spool on disk. Default 1 GiB; past it new
	// batches stay in memory and Add may return ErrBufferFull.
	SpoolMaxBytes int64
	// SpoolNoSync skips fsync in the spool. For tests only.
	SpoolNoSync bool

	// MinBackoff and MaxBackoff bound the jittered exponential wait between
	// connection attempts. Defaults 100 ms and 10 s.
	MinBackoff time.Duration
	MaxBackoff time.Duration
	// HandshakeTimeout bounds a connect up to the server's hello. Default 10 s.
	HandshakeTimeout time.Duration
	// WriteTimeout bounds each write to the socket. Default 10 s.
	WriteTimeout time.Duration
	// TLSConfig is used for wss://. Nil: the system roots.
	TLSConfig *tls.Config
	// NetDialContext dials the TCP connection. Nil: net.Dialer.
	NetDialContext func(ctx context.Context, network, addr string) (net.Conn, error)
	// DisableCompression does not offer permessage-deflate.
	DisableCompression bool

	// Logger gets connects at info, losses and refusals at warn; never the
	// secret, a signature or event contents. Default slog.Default().
	Logger *slog.Logger
	// Registerer receives the ronda_forwarder_* metrics. Nil registers
	// nothing.
	Registerer prometheus.Registerer
}

// CheckURL says whether raw may be an Options.URL, with the error New gives
// (a configuration check can report it first).
func CheckURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("url: %w", err)
	}
	switch u.Scheme {
	case "ws", "wss", "http", "https":
	default:
		return fmt.Errorf("url %q: scheme must be ws or wss", raw)
	}
	if u.Host == "" {
		return fmt.Errorf("url %q: no host", raw)
	}
	if (u.Scheme == "ws" || u.Scheme == "http") && !isLoopbackHost(u.Hostname()) {
		return fmt.Errorf("url %q: plain %s:// is allowed to a loopback host only; use wss:// (batches after the signed handshake are not authenticated, so TLS must protect them on a network)",
			raw, u.Scheme)
	}
	return nil
}

func (o *Options) validate() error {
	if err := CheckURL(o.URL); err != nil {
		return err
	}
	if o.KeyID == "" || len(o.KeyID) > event.MaxIDBytes {
		return fmt.Errorf("key id: must be 1 to %d bytes", event.MaxIDBytes)
	}
	if len(o.Secret) < wire.MinKeyBytes {
		return fmt.Errorf("secret shorter than %d bytes", wire.MinKeyBytes)
	}
	if !wire.ValidID(o.Sender) {
		return fmt.Errorf("sender %.80q: 1 to %d bytes of A-Z a-z 0-9 . _ -", o.Sender, wire.MaxWSParamBytes)
	}
	for _, c := range []struct {
		name string
		bad  bool
	}{
		{"max batch lines", o.MaxBatchLines < 0},
		{"max batch bytes", o.MaxBatchBytes < 0},
		{"flush interval", o.FlushInterval < 0},
		{"window", o.Window < 0},
		{"max buffer events", o.BufferEvents < 0},
		{"max buffer bytes", o.BufferBytes < 0},
		{"spool max bytes", o.SpoolMaxBytes < 0},
		{"min backoff", o.MinBackoff < 0},
		{"max backoff", o.MaxBackoff < 0},
		{"handshake timeout", o.HandshakeTimeout < 0},
		{"write timeout", o.WriteTimeout < 0},
	} {
		if c.bad {
			return fmt.Errorf("%s: must not be negative", c.name)
		}
	}
	if o.MaxBatchBytes != 0 && o.MaxBatchBytes <= event.MaxEventBytes {
		return fmt.Errorf("max batch bytes %d: must hold an event of %d bytes", o.MaxBatchBytes, event.MaxEventBytes)
	}
	return nil
}

// orDefault sets an unset (zero) option to its default.
func orDefault[T comparable](v *T, d T) {
	var zero T
	if *v == zero {
		*v = d
	}
}

func (o *Options) setDefaults() {
	orDefault(&o.MaxBatchLines, DefaultMaxBatchLines)
	orDefault(&o.MaxBatchBytes, DefaultMaxBatchBytes)
	orDefault(&o.FlushInterval, DefaultFlushInterval)
	orDefault(&o.Window, DefaultWindow)
	orDefault(&o.BufferEvents, DefaultBufferEvents)
	if o.BufferBytes == 0 {
		o.BufferBytes = DefaultBufferBytes
	}
	orDefault(&o.MinBackoff, DefaultMinBackoff)
	orDefault(&o.MaxBackoff, DefaultMaxBackoff)
	o.MaxBackoff = max(o.MaxBackoff, o.MinBackoff)
	orDefault(&o.HandshakeTimeout, DefaultHandshakeTimeout)
	orDefault(&o.WriteTimeout, DefaultWriteTimeout)
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
}

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

// isLoopbackHost says whether host (a URL's Hostname) is this machine.
func isLoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	a, err := netip.ParseAddr(host)
	return err == nil && a.Unmap().IsLoopback()
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

// Run connects, sends and reconnects (jittered backoff between MinBackoff
// and MaxBackoff, each handshake signed afresh) until ctx ends or Close. It
// returns ctx.Err() or, after Close, nil. One Run at a time.
func (f *Forwarder) Run(ctx context.Context) error {
	f.mu.Lock()
	switch {
	case f.closing:
		f.mu.Unlock()
		return ErrClosed
	case f.running:
		f.mu.Unlock()
		return errors.New("forwarder already running")
	}
	f.running = true
	done := make(chan struct{})
	f.runDone = done
	f.mu.Unlock()
	defer func() {
		f.mu.Lock()
		f.running = false
		f.mu.Unlock()
		close(done)
	}()

	outer := ctx
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-f.stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	attempt := 0
	for {
		conn, hello, err := f.connect(ctx)
		if err == nil {
			again, progress := f.serve(ctx, conn, hello)
			if progress {
				attempt = 0
			}
			if again && ctx.Err() == nil {
				continue // a new session: connect at once
			}
		} else if ctx.Err() == nil {
			f.mu.Lock()
			f.st.ConnectFails++
			f.mu.Unlock()
			lvl := slog.LevelWarn
			if attempt == 0 {
				lvl = slog.LevelInfo
			}
			f.log.Log(ctx, lvl, "forwarder connect failed", "url", f.base.Redacted(), "attempt", attempt+1, "err", err)
		}
		if ctx.Err() != nil {
			if outer.Err() != nil {
				return outer.Err()
			}
			return nil
		}
		t := time.NewTimer(backoff(attempt, f.opts.MinBackoff, f.opts.MaxBackoff))
		attempt++
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
		}
	}
}

// backoff is the wait before attempt n (from 0): MinBackoff doubled n
// times, at most MaxBackoff, then uniformly in its upper half.
func backoff(n int, lo, hi time.Duration) time.Duration {
	d := hi
	if n < 40 && lo<<n < hi && lo<<n > 0 {
		d = lo << n
	}
	return d/2 + mrand.N(d/2+1)
}

// HandshakeError is a handshake the server refused with an HTTP answer.
type HandshakeError struct {
	Status int
	Msg    string // the server's error message
}

func (e *HandshakeError) Error() string {
	return fmt.Sprintf("handshake refused: %d %s", e.Status, e.Msg)
}

// connect dials, signs and reads the hello.
func (f *Forwarder) connect(ctx context.Context) (*websocket.Conn, wire.ServerMsg, error) {
	f.mu.Lock()
	session := f.session
	f.mu.Unlock()
	u := *f.base
	if u.Path = trimSlash(u.Path); !strings.HasSuffix(u.Path, wire.WSPath) {
		u.Path += wire.WSPath // a base URL; the full one is taken as it is
	}
	u.RawPath = ""
	u.RawQuery = url.Values{"sender": {f.opts.Sender}, "session": {session}, "nonce": {wire.NewID()}}.Encode()
	h := http.Header{}
	wire.SignHandshake(h, f.opts.KeyID, f.opts.Secret, u.RequestURI(), time.Now())
	ctx, cancel := context.WithTimeout(ctx, f.opts.HandshakeTimeout)
	defer cancel()
	conn, resp, err := f.dialer.DialContext(ctx, u.String(), h)
	if err != nil {
		f.m.connects.WithLabelValues("failed").Inc()
		if resp != nil && errors.Is(err, websocket.ErrBadHandshake) {
			var body wire.ErrorBody
			if json.NewDecoder(resp.Body).Decode(&body) != nil || body.Error == "" {
				body.Error = http.StatusText(resp.StatusCode)
			}
			return nil, wire.ServerMsg{}, &HandshakeError{Status: resp.StatusCode, Msg: body.Error}
		}
		return nil, wire.ServerMsg{}, err
	}
	conn.SetReadLimit(MaxAnswerBytes)
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetReadDeadline(dl)
	}
	_, data, err := conn.ReadMessage()
	if err != nil {
		conn.Close()
		f.m.connects.WithLabelValues("failed").Inc()
		return nil, wire.ServerMsg{}, fmt.Errorf("read hello: %w", err)
	}
	msg, err := wire.ParseServerMsg(data)
	if err == nil && msg.Type != wire.MsgHello {
		err = fmt.Errorf("first message is %q, not hello", msg.Type)
	}
	if err != nil {
		conn.Close()
		f.m.connects.WithLabelValues("failed").Inc()
		return nil, wire.ServerMsg{}, fmt.Errorf("hello: %w", err)
	}
	f.m.connects.WithLabelValues("ok").Inc()
	return conn, msg, nil
}

func trimSlash(p string) string {
	for len(p) > 0 && p[len(p)-1] == '/' {
		p = p[:len(p)-1]
	}
	return p
}

// outEntry is a batch message written and not yet answered. epoch tells the
// answers to copies sent before a busy rewind, already scheduled again.
type outEntry struct {
	seq   uint64
	epoch int
}

// serve runs one connection until it fails or ctx ends. again says to
// reconnect at once (a new session); progress that the server took batches.
func (f *Forwarder) serve(ctx context.Context, conn *websocket.Conn, hello wire.ServerMsg) (again, progress bool) {
	defer conn.Close()
	f.mu.Lock()
	reset, resent := f.resumeLocked(hello)
	session, acked := f.session, f.acked
	f.st.Connects++
	f.mu.Unlock()
	if reset {
		f.m.sessionResets.Inc()
		f.log.Warn("forwarder session forgotten by the server, starting a new one",
			"url", f.base.Redacted(), "server_acked", hello.Acked, "unacked_batches", resent)
		_ = conn.WriteControl(websocket.CloseMessage,
			websocket.FormatCloseMessage(websocket.CloseNormalClosure, "new session"), time.Now().Add(time.Second))
		return true, false
	}
	f.log.Info("forwarder connected", "url", f.base.Redacted(), "session", session,
		"acked", acked, "unacked_batches", resent)

	readTimeout := 2*time.Duration(hello.PingIntervalMS)*time.Millisecond + f.opts.WriteTimeout
	if hello.PingIntervalMS <= 0 {
		readTimeout = 2*wire.DefaultPingInterval + f.opts.WriteTimeout
	}
	answers := make(chan wire.ServerMsg, f.opts.Window+1)
	readErr := make(chan error, 1)
	quit := make(chan struct{})
	defer close(quit)
	conn.SetPingHandler(func(data string) error {
		_ = conn.SetReadDeadline(time.Now().Add(readTimeout))
		err := conn.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(f.opts.WriteTimeout))
		if err == websocket.ErrCloseSent {
			return nil
		}
		return err
	})
	go func() {
		for {
			_ = conn.SetReadDeadline(time.Now().Add(readTimeout))
			_, data, err := conn.ReadMessage()
			if err == nil {
				var msg wire.ServerMsg
				if msg, err = wire.ParseServerMsg(data); err == nil {
					if msg.Type == wire.MsgError {
						err = fmt.Errorf("server: %s", msg.Error)
					} else {
						select {
						case answers <- msg:
							continue
						case <-quit:
							return
						}
					}
				}
			}
			readErr <- err
			return
		}
	}()

	var (
		out        []outEntry
		epoch      int
		next       = acked + 1
		pauseUntil time.Time
		timer      = time.NewTimer(time.Hour)
		hdr        []byte
	)
	defer timer.Stop()
	for {
		// Send what the window allows.
		now := time.Now()
		for len(out) < f.opts.Window && !now.Before(pauseUntil) {
			b, err := f.nextBatch(next, now)
			if err != nil {
				f.log.Error("forwarder spool read failed, retrying in a second", "err", err)
				pauseUntil = now.Add(time.Second)
				break
			}
			if b == nil {
				break
			}
			hdr = strconv.AppendUint(append(hdr[:0], `{"seq":`...), b.seq, 10)
			hdr = append(hdr, "}\n"...)
			if err := f.writeBatch(conn, hdr, b.body); err != nil {
				f.log.Warn("forwarder connection lost", "url", f.base.Redacted(), "err", err)
				return false, progress
			}
			f.mu.Lock()
			f.st.Sent++
			if b.sent > 0 {
				f.st.Resent++
				f.m.batches.WithLabelValues("resent").Inc()
			}
			b.sent++
			f.mu.Unlock()
			f.m.batches.WithLabelValues("sent").Inc()
			out = append(out, outEntry{seq: b.seq, epoch: epoch})
			next++
		}
		wait := f.nextWake(now, len(out) < f.opts.Window, pauseUntil)
		timer.Reset(wait)

		select {
		case <-ctx.Done():
			_ = conn.WriteControl(websocket.CloseMessage,
				websocket.FormatCloseMessage(websocket.CloseNormalClosure, "forwarder stopping"), time.Now().Add(time.Second))
			return false, progress
		case err := <-readErr:
			f.log.Warn("forwarder connection lost", "url", f.base.Redacted(), "err", err)
			return false, progress
		case <-f.wake:
		case <-timer.C:
		case msg := <-answers:
			if len(out) == 0 || msg.Seq != out[0].seq {
				f.log.Warn("forwarder: answer out of order, reconnecting", "seq", msg.Seq, "type", msg.Type)
				return false, progress
			}
			e := out[0]
			out = out[1:]
			switch msg.Type {
			case wire.MsgAck, wire.MsgRefused:
				progress = true
				f.answered(msg)
			case wire.MsgBusy:
				f.mu.Lock()
				f.st.Busy++
				f.mu.Unlock()
				f.m.batches.WithLabelValues("busy").Inc()
				if e.epoch == epoch { // not a copy already scheduled again
					epoch++
					next = msg.Seq
					retry := time.Duration(min(msg.RetryAfterMS, 60_000)) * time.Millisecond
					pauseUntil = time.Now().Add(retry)
				}
			}
		}
	}
}

// nextWake is how long the run loop may sleep: until a partial batch is due,
// or a busy pause ends.
func (f *Forwarder) nextWake(now time.Time, room bool, pauseUntil time.Time) time.Duration {
	wait := time.Hour
	if now.Before(pauseUntil) {
		return pauseUntil.Sub(now)
	}
	if room {
		f.mu.Lock()
		if f.cur.n > 0 {
			wait = max(f.cur.since.Add(f.opts.FlushInterval).Sub(now), time.Millisecond)
		}
		f.mu.Unlock()
	}
	return wait
}

func (f *Forwarder) writeBatch(conn *websocket.Conn, hdr, body []byte) error {
	_ = conn.SetWriteDeadline(time.Now().Add(f.opts.WriteTimeout))
	w, err := conn.NextWriter(websocket.TextMessage)
	if err != nil {
		return err
	}
	if _, err := w.Write(hdr); err != nil {
		return err
	}
	if _, err := w.Write(body); err != nil {
		return err
	}
	return w.Close()
}

// resumeLocked applies a hello: drops the batches it says were taken, takes
// its limits and re-packs what no longer fits them. reset says the server
// does not know this session's past: a new session id is made and every
// batch renumbered from 1.
func (f *Forwarder) resumeLocked(hello wire.ServerMsg) (reset bool, unacked int) {
	if hello.Acked < f.acked || hello.Acked > f.lastSeq {
		f.session = wire.NewID()
		f.acked, f.lastSeq = 0, 0
		for _, b := range f.pending {
			f.lastSeq++
			b.seq = f.lastSeq
		}
		f.st.SessionResets++
		return true, len(f.pending)
	}
	if hello.Acked > f.acked {
		// Taken, but the acks were lost with the connection.
		f.st.AckedByHello += int64(hello.Acked - f.acked)
		f.ackThroughLocked(hello.Acked)
	}
	f.lim = batchLimits{lines: f.opts.MaxBatchLines, bytes: f.opts.MaxBatchBytes}
	f.lim.lines = min(f.lim.lines, hello.MaxLines)
	if hello.RateBurst > 0 {
		f.lim.lines = min(f.lim.lines, hello.RateBurst)
	}
	f.lim.bytes = int(min(int64(f.lim.bytes), hello.MaxBatchBytes))
	// Every batch left is above hello.Acked, never taken: free to re-pack.
	var repacked []*fwdBatch
	split := false
	for _, b := range f.pending {
		body, n := b.body, b.n
		for n > f.lim.lines || len(body) > f.lim.bytes {
			head, headN, rest, restN := splitBody(body, n, f.lim)
			repacked = append(repacked, &fwdBatch{body: head, n: headN, sent: b.sent})
			body, n, split = rest, restN, true
		}
		repacked = append(repacked, &fwdBatch{body: body, n: n, sent: b.sent})
	}
	if split {
		f.lastSeq = f.acked
		for _, b := range repacked {
			f.lastSeq++
			b.seq = f.lastSeq
		}
		f.pending = repacked
	}
	return false, len(f.pending)
}

// splitBody cuts the first batch that fits lim off body (n lines). A single
// line longer than lim.bytes goes alone: the server rejects it, not the
// stream.
func splitBody(body []byte, n int, lim batchLimits) (head []byte, headN int, rest []byte, restN int) {
	end := 0
	for headN < n && headN < lim.lines {
		i := bytes.IndexByte(body[end:], '\n')
		if i < 0 {
			i = len(body) - end - 1
		}
		if headN > 0 && end+i+1 > lim.bytes {
			break
		}
		end += i + 1
		headN++
	}
	return body[:end:end], headN, body[end:], n - headN
}

// ackThroughLocked drops the pending batches up to seq.
func (f *Forwarder) ackThroughLocked(seq uint64) {
	for len(f.pending) > 0 && f.pending[0].seq <= seq {
		b := f.pending[0]
		f.pending[0] = nil
		f.pending = f.pending[1:]
		f.memEvents -= b.n
		f.memBytes -= int64(len(b.body))
		f.st.Acked++
		f.st.AckedEvents += int64(b.n)
		f.m.batches.WithLabelValues("acked").Inc()
	}
	f.acked = max(f.acked, seq)
	f.checkDrainedLocked()
}

// answered applies an ack or a refusal, which both move acked.
func (f *Forwarder) answered(msg wire.ServerMsg) {
	f.mu.Lock()
	var refusedN int
	if msg.Type == wire.MsgRefused && len(f.pending) > 0 && f.pending[0].seq == msg.Seq {
		refusedN = f.pending[0].n
	}
	fresh := msg.Seq > f.acked
	f.ackThroughLocked(msg.Seq)
	if fresh && msg.Type == wire.MsgAck && !msg.Already {
		f.st.Accepted += int64(msg.Accepted)
		f.st.Duplicates += int64(len(msg.Duplicates))
		f.st.Rejected += int64(len(msg.Rejected))
		f.st.Unknown += int64(msg.Unknown)
	}
	if fresh && msg.Type == wire.MsgRefused {
		f.st.Refused++
		f.st.RefusedEvents += int64(refusedN)
	}
	f.mu.Unlock()
	if !fresh {
		return
	}
	switch {
	case msg.Type == wire.MsgRefused:
		f.m.batches.WithLabelValues("refused").Inc()
		f.m.events.WithLabelValues("refused").Add(float64(refusedN))
		f.log.Error("forwarder batch refused by the server, its events are lost",
			"seq", msg.Seq, "events", refusedN, "status", msg.Status, "error", msg.Error)
	case msg.Already:
	default:
		f.m.events.WithLabelValues("accepted").Add(float64(msg.Accepted))
		f.m.events.WithLabelValues("duplicate").Add(float64(len(msg.Duplicates)))
		f.m.events.WithLabelValues("rejected").Add(float64(len(msg.Rejected)))
		f.m.events.WithLabelValues("unknown").Add(float64(msg.Unknown))
		if len(msg.Rejected) > 0 {
			r := msg.Rejected[0]
			f.log.Warn("forwarder lines rejected by the server", "seq", msg.Seq, "rejected", len(msg.Rejected),
				"first_line", r.Line, "first_field", r.Field, "first_reason", r.Reason)
		}
	}
}

// nextBatch returns the batch with seq next: one already sealed (a resend or
// the rest of a split), else a new one sealed from the spool, the full
// chunks or a partial chunk that is due. Nil when there is nothing to send.
func (f *Forwarder) nextBatch(next uint64, now time.Time) (*fwdBatch, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if next <= f.lastSeq {
		if len(f.pending) == 0 || next < f.pending[0].seq {
			return nil, nil // cannot happen: next > acked
		}
		return f.pending[next-f.pending[0].seq], nil
	}
	if f.spool != nil && (f.spilling || f.spool.Len() > 0) {
		// Spooled batches are older than the chunks in memory.
		if f.spilling {
			return nil, nil // the spiller signals when it is done
		}
		for next > f.lastSeq {
			f.mu.Unlock()
			rec, err := f.takeSpooled()
			f.mu.Lock()
			if err != nil || rec == nil {
				return nil, err
			}
			n := bytes.Count(rec, []byte{'\n'})
			if len(rec) > 0 && rec[len(rec)-1] != '\n' {
				n++
			}
			f.memEvents += n
			f.memBytes += int64(len(rec))
			for n > 0 { // a record larger than the server's limits is split
				head, headN, rest, restN := splitBody(rec, n, f.lim)
				f.sealLocked(head, headN)
				rec, n = rest, restN
			}
		}
		return f.pending[next-f.pending[0].seq], nil
	}
	if len(f.chunks) == 0 {
		if f.cur.n == 0 || (!f.closing && now.Sub(f.cur.since) < f.opts.FlushInterval) {
			return nil, nil
		}
		f.chunks = append(f.chunks, f.cur)
		f.cur = fwdChunk{}
	}
	c := &f.chunks[0]
	head, headN, rest, restN := splitBody(c.body, c.n, f.lim)
	if restN == 0 {
		f.chunks[0] = fwdChunk{}
		f.chunks = f.chunks[1:]
	} else {
		c.body, c.n = rest, restN
	}
	return f.sealLocked(head, headN), nil
}

func (f *Forwarder) sealLocked(body []byte, n int) *fwdBatch {
	f.lastSeq++
	b := &fwdBatch{seq: f.lastSeq, body: body, n: n}
	f.pending = append(f.pending, b)
	return b
}

// takeSpooled moves the oldest spooled record into memory. The spool's
// cursor moves past it at once: from here the batch is in memory like any
// other, and Close spools it again if it is not acknowledged by then.
func (f *Forwarder) takeSpooled() ([]byte, error) {
	var rec []byte
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	err := f.spool.Drain(ctx, func(r []byte) error {
		rec = bytes.Clone(r)
		cancel() // one record at a time
		return nil
	})
	if err != nil && !errors.Is(err, context.Canceled) {
		return nil, err
	}
	return rec, nil
}

// TakeSpool hands every record in the spool to fn (a batch's NDJSON lines),
// oldest first, and moves the spool past each one fn returned nil for.
// Before Run only: an owner that keeps its own log of what it added (an
// edge's intake log) takes back or discards what an earlier process
// spooled, so that nothing is sent twice. Nil spool: nothing to take.
func (f *Forwarder) TakeSpool(fn func(rec []byte) error) error {
	f.mu.Lock()
	running := f.running
	f.mu.Unlock()
	if running {
		return errors.New("forwarder: TakeSpool while running")
	}
	if f.spool == nil {
		return nil
	}
	return f.spool.Drain(context.Background(), fn)
}

// spiller moves the oldest chunks to the spool while memory is more than a
// quarter full, once kicked at half full.
func (f *Forwarder) spiller() {
	defer f.wg.Done()
	for {
		select {
		case <-f.stop:
			return
		case <-f.spillKick:
		}
		for f.spillOne() {
		}
	}
}

func (f *Forwarder) spillOne() bool {
	f.mu.Lock()
	if f.memEvents <= f.opts.BufferEvents/4 && f.memBytes <= f.opts.BufferBytes/4 {
		f.mu.Unlock()
		return false
	}
	if len(f.chunks) == 0 {
		if f.cur.n == 0 {
			f.mu.Unlock()
			return false
		}
		f.chunks = append(f.chunks, f.cur)
		f.cur = fwdChunk{}
	}
	c := f.chunks[0]
	f.chunks[0] = fwdChunk{}
	f.chunks = f.chunks[1:]
	f.spilling = true
	f.mu.Unlock()

	err := f.spool.Append(c.body)

	f.mu.Lock()
	f.spilling = false
	if err != nil {
		f.chunks = append([]fwdChunk{c}, f.chunks...)
		logIt := time.Since(f.spillErrLog) > 10*time.Second
		if logIt {
			f.spillErrLog = time.Now()
		}
		f.mu.Unlock()
		f.signal() // the chunk is back: the run loop may send it
		if logIt {
			f.log.Error("forwarder spool append failed, events stay in memory", "err", err)
		}
		return false
	}
	f.memEvents -= c.n
	f.memBytes -= int64(len(c.body))
	f.st.Spooled += int64(c.n)
	f.mu.Unlock()
	f.m.events.WithLabelValues("spooled").Add(float64(c.n))
	f.signal()
	return true
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

// fwdMetrics carry no per-sender label: one forwarder per process is the
// rule, and several would register twice.
type fwdMetrics struct {
	events        *prometheus.CounterVec // status
	batches       *prometheus.CounterVec // outcome
	connects      *prometheus.CounterVec // result
	sessionResets prometheus.Counter
}

func newFwdMetrics(reg prometheus.Registerer, f *Forwarder) (*fwdMetrics, error) {
	m := &fwdMetrics{
		events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ronda_forwarder_events_total",
			Help: "Forwarder events by status: added, dropped (buffer full), spooled, accepted, duplicate, rejected, unknown (as the receiver answered), refused (in batches the receiver refused), undelivered (left at Close without a spool).",
		}, []string{"status"}),
		batches: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ronda_forwarder_batches_total",
			Help: "Forwarder batch messages by outcome: sent, resent (also counted in sent), acked, busy, refused.",
		}, []string{"outcome"}),
		connects: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ronda_forwarder_connects_total",
			Help: "Forwarder connection attempts by result: ok (hello received) or failed.",
		}, []string{"result"}),
		sessionResets: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "ronda_forwarder_session_resets_total",
			Help: "Sessions the receiver had forgotten (restart, eviction): a new one was started and the unacknowledged batches renumbered.",
		}),
	}
	buffered := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "ronda_forwarder_buffered_events",
		Help: "Events held in memory: waiting, in flight or unacknowledged.",
	}, func() float64 { return float64(f.Stats().Buffered) })
	spooled := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "ronda_forwarder_spool_records",
		Help: "Batches waiting in the spool.",
	}, func() float64 { return float64(f.Stats().SpoolRecords) })
	if reg == nil {
		return m, nil
	}
	all := []prometheus.Collector{m.events, m.batches, m.connects, m.sessionResets, buffered, spooled}
	for i, c := range all {
		if err := reg.Register(c); err != nil {
			for _, done := range all[:i] {
				reg.Unregister(done)
			}
			return nil, err
		}
	}
	return m, nil
}
