// Package intake is how events enter Ronda: the HTTP intake, POST /v1/events,
// and the websocket intake, /v1/events/ws (WebSocket, PROTOCOL.md), both
// served by one Handler, and the websocket's client, Forwarder, with which
// streaming ingest nodes and edges send to a hub.
//
// POST takes signed NDJSON batches (plain or gzip) from ingest nodes and app
// backends; the socket takes a stream of sequenced batches, each acknowledged,
// resumed after a reconnect without loss or duplicates. Both decode with the
// strict decoder of analyzer/event, deduplicate by event id and hand the
// events to the pipeline through a Sink, with a per-event answer to the
// sender, through one code path: an event sent over both is one event.
//
// It authenticates every request and handshake (HMAC-SHA256 over timestamp
// and body or request URI, several keys for rotation, a replay window) before
// it decodes anything, and every resource a sender can make it spend is
// bounded: body and decompressed size, lines per batch, batches in flight,
// events per second per key, sockets, remembered sessions, the memory of seen
// signatures. It must not buffer without a bound, block the sender on a full
// pipeline (the Sink says ErrBusy and the sender gets 503 or a busy answer),
// log secrets or event contents, or put per-sender or per-stream labels on
// metrics. Errors become HTTP statuses and protocol answers here and nowhere
// else. The Forwarder, likewise, never blocks its caller for long, holds a
// bounded buffer in memory (then its spool) and logs no secret.
package intake

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/klauspost/compress/gzip"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/time/rate"

	"github.com/ronda-watch/ronda/analyzer/event"
)

// Path is where the handler is meant to be mounted.
const Path = "/v1/events"

// ErrBusy is returned by a Sink whose queue is full. The handler answers 503
// with Retry-After and forgets the batch's ids, so that the sender's retry is
// not taken for duplicates.
var ErrBusy = errors.New("pipeline busy")

// Sink takes a batch of decoded, deduplicated events into the pipeline. It
// must not block for long: a full queue returns ErrBusy at once. The slice
// and the events are the Sink's to keep. Any other error is answered 500.
type Sink func(ctx context.Context, evs []event.Event) error

// Defaults of Options.
const (
	DefaultMaxSkew         = 5 * time.Minute
	DefaultMaxBodyBytes    = 8 << 20
	DefaultMaxDecodedBytes = 64 << 20
	DefaultMaxLines        = 50_000
	DefaultMaxInFlight     = 8
	DefaultInFlightWait    = time.Second
	DefaultRateEvents      = 20_000
	DefaultRateBurst       = 40_000
	DefaultReplayMemory    = 200_000
	DefaultBusyRetryAfter  = time.Second
	DefaultDedupWindow     = 24 * time.Hour
	DefaultDedupCapacity   = 1_000_000
	DefaultDedupMaxFuture  = 10 * time.Minute
	DefaultMaxWSConns      = 64
	DefaultWSSessions      = 10_000
	DefaultWSPingInterval  = 20 * time.Second
	DefaultWSWriteTimeout  = 10 * time.Second
	// MinKeyBytes is the shortest secret accepted: shorter keys can be guessed.
	MinKeyBytes = 16
)

// Options configure a Handler. Zero values take the documented defaults.
type Options struct {
	// Keys maps a key id (the X-Ronda-Key header) to its HMAC-SHA256 secret, at
	// least MinKeyBytes long. Several keys may be live at once: to rotate, add
	// the new key, move senders over, then remove the old one. Required.
	Keys map[string][]byte

	// Sink receives each request's accepted events. Required.
	Sink Sink

	// Registerer receives the ronda_intake_* metrics. Nil registers nothing.
	Registerer prometheus.Registerer

	// Dedup drops repeated event ids. The handler owns it from NewHandler on
	// and guards it with its own mutex: nothing else may call it. Nil creates
	// one with a window of 24 h of event time and at most 1,000,000 ids.
	Dedup *event.Deduper

	// DedupMaxFuture bounds how far ahead of the handler's clock an event's
	// time may move the deduper's window: a later event is remembered as if
	// dated now + DedupMaxFuture, so one sender's wrong clock cannot make
	// every resent id look new. Default 10 m (the service passes its
	// pipeline.max_future).
	DedupMaxFuture time.Duration

	// MaxSkew is the replay window: a request whose X-Ronda-Timestamp is
	// further than this from the handler's clock is refused (401), and a
	// signature seen within it is refused as replayed (401). Default 5 m.
	MaxSkew time.Duration

	// MaxBodyBytes bounds the body as sent, compressed or not; larger bodies
	// get 413 before anything else is read. Default 8 MiB.
	MaxBodyBytes int64

	// MaxDecodedBytes bounds a gzip body once inflated, so that a gzip bomb
	// gets 413. Default 64 MiB.
	MaxDecodedBytes int64

	// MaxLines bounds the non-blank lines of one request (events, rejected
	// and unknown lines alike); a larger batch gets 413 and nothing of it is
	// taken. With MaxInFlight it bounds the memory of decoded events.
	// Default 50,000.
	MaxLines int

	// MaxInFlight bounds the requests being read and decoded at once; a
	// request waits up to InFlightWait for a slot, then gets 503 with
	// Retry-After. Memory is at most about MaxInFlight × (MaxBodyBytes +
	// MaxLines × 1 KiB). Default 8.
	MaxInFlight int

	// InFlightWait is how long a request waits for an in-flight slot.
	// Default 1 s.
	InFlightWait time.Duration

	// RateEvents is each key's sustained rate in events (non-blank lines) per
	// second, a token bucket of RateBurst events. A batch over the rate gets
	// 429 with Retry-After in seconds and nothing of it is taken; a batch
	// larger than the burst can never pass and gets 413. Defaults 20,000/s and
	// 40,000. A negative RateEvents disables the limit.
	RateEvents float64
	RateBurst  int

	// ReplayMemory bounds the signatures remembered for replay detection (an
	// entry lives for MaxSkew past its timestamp, about 100 bytes). When it is
	// full of live signatures, new requests get 503 with Retry-After rather
	// than open a replay hole. Default 200,000 (over 300 requests/s).
	ReplayMemory int

	// BusyRetryAfter is the Retry-After given with 503. Default 1 s.
	BusyRetryAfter time.Duration

	// Now is the clock for the replay window and the rate limit. Default
	// time.Now.
	Now func() time.Time

	// Logger gets refusals at debug level and pipeline failures at error
	// level; never a secret, a signature or event contents. Default
	// slog.Default().
	Logger *slog.Logger

	// MaxWSConns bounds the websocket connections open at once (WSPath); a
	// handshake past it gets 503 with Retry-After. Each socket holds about
	// 100 KiB of buffers; the batches it sends are read within the
	// MaxInFlight slots, so the memory bound above holds for both intakes.
	// Default 64.
	MaxWSConns int

	// WSSessions bounds the websocket sessions whose last taken batch is
	// remembered (about 400 bytes each), so that a sender that reconnects
	// resumes without loss or duplicates. Past it the least recently used
	// session without a socket is forgotten (ronda_intake_ws_sessions_evicted_total);
	// its sender then starts a new session and resends what it had not seen
	// acknowledged, and the event-id dedup keeps any of it from being taken
	// twice. Default 10,000.
	WSSessions int

	// WSPingInterval is how often the server pings each socket. A socket from
	// which nothing (message or pong) arrives for twice this plus
	// WSWriteTimeout is closed. Default 20 s.
	WSPingInterval time.Duration

	// WSWriteTimeout bounds each write to a socket; a sender that does not
	// read its answers is cut off. Default 10 s.
	WSWriteTimeout time.Duration
}

func (o *Options) validate() error {
	if len(o.Keys) == 0 {
		return errors.New("no keys")
	}
	for id, k := range o.Keys {
		if id == "" || len(id) > event.MaxIDBytes {
			return fmt.Errorf("key id %.32q: must be 1 to %d bytes", id, event.MaxIDBytes)
		}
		if len(k) < MinKeyBytes {
			return fmt.Errorf("key %q: secret shorter than %d bytes", id, MinKeyBytes)
		}
	}
	if o.Sink == nil {
		return errors.New("no sink")
	}
	for _, c := range []struct {
		name string
		bad  bool
	}{
		{"max skew", o.MaxSkew < 0},
		{"dedup max future", o.DedupMaxFuture < 0},
		{"max body bytes", o.MaxBodyBytes < 0},
		{"max decoded bytes", o.MaxDecodedBytes < 0},
		{"max lines", o.MaxLines < 0},
		{"max in flight", o.MaxInFlight < 0},
		{"in-flight wait", o.InFlightWait < 0},
		{"rate burst", o.RateBurst < 0},
		{"replay memory", o.ReplayMemory < 0},
		{"busy retry-after", o.BusyRetryAfter < 0},
		{"max websocket connections", o.MaxWSConns < 0},
		{"websocket sessions", o.WSSessions < 0},
		{"websocket ping interval", o.WSPingInterval < 0},
		{"websocket write timeout", o.WSWriteTimeout < 0},
	} {
		if c.bad {
			return fmt.Errorf("%s: must not be negative", c.name)
		}
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
	orDefault(&o.MaxSkew, DefaultMaxSkew)
	orDefault(&o.DedupMaxFuture, DefaultDedupMaxFuture)
	orDefault(&o.MaxBodyBytes, DefaultMaxBodyBytes)
	orDefault(&o.MaxDecodedBytes, DefaultMaxDecodedBytes)
	orDefault(&o.MaxLines, DefaultMaxLines)
	orDefault(&o.MaxInFlight, DefaultMaxInFlight)
	orDefault(&o.InFlightWait, DefaultInFlightWait)
	if o.RateEvents == 0 {
		o.RateEvents = DefaultRateEvents
	}
	orDefault(&o.RateBurst, DefaultRateBurst)
	orDefault(&o.ReplayMemory, DefaultReplayMemory)
	orDefault(&o.BusyRetryAfter, DefaultBusyRetryAfter)
	orDefault(&o.MaxWSConns, DefaultMaxWSConns)
	orDefault(&o.WSSessions, DefaultWSSessions)
	orDefault(&o.WSPingInterval, DefaultWSPingInterval)
	orDefault(&o.WSWriteTimeout, DefaultWSWriteTimeout)
	if o.Dedup == nil {
		o.Dedup = event.NewDeduper(DefaultDedupWindow, DefaultDedupCapacity)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
}

// Handler serves POST /v1/events and, through WebSocket, the websocket
// intake. Safe for concurrent use.
type Handler struct {
	opts     Options
	keys     map[string][]byte
	limiters map[string]*rate.Limiter // per key id; nil map when unlimited
	slots    chan struct{}
	replay   *replayGuard
	m        *metrics
	ws       *wsState

	dedupMu sync.Mutex
	dedup   *event.Deduper
	undo    undoSet // under dedupMu

	bufs sync.Pool // *bytes.Buffer for raw bodies
}

// NewHandler validates opts, applies the defaults and registers the metrics.
func NewHandler(opts Options) (*Handler, error) {
	if err := opts.validate(); err != nil {
		return nil, fmt.Errorf("intake options: %w", err)
	}
	opts.setDefaults()
	h := &Handler{
		opts:   opts,
		keys:   make(map[string][]byte, len(opts.Keys)),
		slots:  make(chan struct{}, opts.MaxInFlight),
		replay: newReplayGuard(opts.ReplayMemory),
		dedup:  opts.Dedup,
		undo:   undoSet{max: 4 * opts.MaxLines},
	}
	h.ws = newWSState(h)
	for id, k := range opts.Keys {
		h.keys[id] = bytes.Clone(k) // the caller's map may change later
	}
	if opts.RateEvents > 0 {
		h.limiters = make(map[string]*rate.Limiter, len(opts.Keys))
		for id := range opts.Keys {
			h.limiters[id] = rate.NewLimiter(rate.Limit(opts.RateEvents), opts.RateBurst)
		}
	}
	m, err := newMetrics(opts.Registerer, h.replay, h.ws)
	if err != nil {
		return nil, fmt.Errorf("intake metrics: %w", err)
	}
	h.m = m
	return h, nil
}

// Answer is the body of a 200 response: what became of each line.
type Answer struct {
	Accepted   int        `json:"accepted"`
	Duplicates []string   `json:"duplicates"`
	Rejected   []Rejected `json:"rejected"`
	Unknown    int        `json:"unknown"`
}

// Rejected is one line that gave no event.
type Rejected struct {
	Line   int    `json:"line"`
	ID     string `json:"id,omitempty"`
	Field  string `json:"field,omitempty"`
	Reason string `json:"reason"`
}

// errorBody is the body of every non-200 response.
type errorBody struct {
	Error string `json:"error"`
}

// refusal is a request refused as a whole, with the metric reason.
type refusal struct {
	status     int
	reason     string // metric label
	msg        string // for the sender
	retryAfter time.Duration
}

func (r *refusal) Error() string { return r.msg }

func refuse(status int, reason, msg string) *refusal {
	return &refusal{status: status, reason: reason, msg: msg}
}

// ServeHTTP handles one batch. The steps run in order and each can refuse the
// request before the next spends anything: method and headers, the signature
// headers and timestamp, a slot, the body, the signature, replay, decoding,
// the rate limit, then dedup and the Sink.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := h.opts.Now()
	ans, rf := h.serve(r, start)
	if rf != nil {
		h.m.refused.WithLabelValues(rf.reason).Inc()
		h.opts.Logger.Debug("intake refused", "status", rf.status, "reason", rf.reason,
			"key", r.Header.Get(HeaderKey), "remote", r.RemoteAddr)
		if rf.retryAfter > 0 {
			secs := int64(math.Ceil(rf.retryAfter.Seconds()))
			w.Header().Set("Retry-After", strconv.FormatInt(max(secs, 1), 10))
		}
		writeJSON(w, rf.status, errorBody{Error: rf.msg})
		h.m.requests.WithLabelValues(strconv.Itoa(rf.status)).Inc()
		return
	}
	writeJSON(w, http.StatusOK, ans)
	h.m.requests.WithLabelValues("200").Inc()
	h.m.seconds.Observe(time.Since(start).Seconds())
}

func (h *Handler) serve(r *http.Request, now time.Time) (*Answer, *refusal) {
	if r.Method != http.MethodPost {
		return nil, refuse(http.StatusMethodNotAllowed, "method", "only POST is allowed")
	}
	if h.ws.isClosed() {
		return nil, h.busy("closed", "intake closed")
	}
	gz, rf := contentEncoding(r.Header.Get("Content-Encoding"))
	if rf != nil {
		return nil, rf
	}
	if r.ContentLength > h.opts.MaxBodyBytes {
		return nil, h.tooLarge()
	}
	keyID, ts, sig, rf := h.authHeaders(r, now)
	if rf != nil {
		return nil, rf
	}

	select {
	case h.slots <- struct{}{}:
	default:
		t := time.NewTimer(h.opts.InFlightWait)
		select {
		case h.slots <- struct{}{}:
			t.Stop()
		case <-t.C:
			return nil, h.busy("in_flight", "too many requests in flight")
		case <-r.Context().Done():
			t.Stop()
			return nil, refuse(http.StatusServiceUnavailable, "canceled", "request canceled")
		}
	}
	defer func() { <-h.slots }()

	buf := h.getBuf()
	defer h.bufs.Put(buf)
	n, err := buf.ReadFrom(io.LimitReader(r.Body, h.opts.MaxBodyBytes+1))
	if n > h.opts.MaxBodyBytes {
		return nil, h.tooLarge()
	}
	if err != nil {
		return nil, refuse(http.StatusBadRequest, "read", "read body: "+err.Error())
	}
	body := buf.Bytes()
	h.m.bodyBytes.Add(float64(len(body)))

	if !verify(h.keys[keyID], ts, body, sig) {
		return nil, refuse(http.StatusUnauthorized, "bad_signature",
			"signature does not match the body and timestamp for this key")
	}
	switch h.replay.add(sig, now, time.Unix(ts, 0).Add(h.opts.MaxSkew)) {
	case replayed:
		return nil, refuse(http.StatusUnauthorized, "replayed", "replayed request: this signature was already used")
	case replayFull:
		return nil, h.busy("replay_memory_full", "too many recent requests to remember")
	}
	ans, rf := h.process(r.Context(), keyID, body, gz, now)
	if rf != nil {
		// Nothing of the request was taken: let the sender retry it as is.
		h.replay.forget(sig)
	}
	return ans, rf
}

// process decodes, rate-limits, deduplicates and sinks an authenticated body:
// the one path of both intakes, POST and websocket, so that an event sent
// over both is one event. A refusal means nothing of the body was taken.
func (h *Handler) process(ctx context.Context, keyID string, body []byte, gz bool, now time.Time) (*Answer, *refusal) {
	// Refuse an exhausted key before decoding: the cheap way out under a burst.
	if lim := h.limiters[keyID]; lim != nil {
		if tokens := lim.TokensAt(now); tokens < 1 {
			return nil, h.rateLimited(time.Duration((1 - tokens) / h.opts.RateEvents * float64(time.Second)))
		}
	}
	evs, ans, rf := h.decode(body, gz)
	if rf != nil {
		return nil, rf
	}
	if lim := h.limiters[keyID]; lim != nil {
		n := len(evs) + len(ans.Rejected) + ans.Unknown
		res := lim.ReserveN(now, n)
		if !res.OK() {
			return nil, refuse(http.StatusRequestEntityTooLarge, "over_burst",
				fmt.Sprintf("batch of %d events is larger than the rate burst of %d", n, h.opts.RateBurst))
		}
		if d := res.DelayFrom(now); d > 0 {
			res.CancelAt(now)
			return nil, h.rateLimited(d)
		}
	}

	fresh := h.dedupe(evs, ans, now)
	if len(fresh) > 0 {
		if err := h.opts.Sink(ctx, fresh); err != nil {
			h.forgetIDs(fresh)
			if errors.Is(err, ErrBusy) {
				return nil, h.busy("sink_busy", "pipeline busy, retry later")
			}
			h.opts.Logger.Error("intake sink failed", "events", len(fresh), "err", err)
			return nil, refuse(http.StatusInternalServerError, "sink_error", "pipeline failed to take the batch")
		}
	}
	ans.Accepted = len(fresh)
	h.m.events.WithLabelValues("accepted").Add(float64(ans.Accepted))
	h.m.events.WithLabelValues("duplicate").Add(float64(len(ans.Duplicates)))
	h.m.events.WithLabelValues("rejected").Add(float64(len(ans.Rejected)))
	h.m.events.WithLabelValues("unknown").Add(float64(ans.Unknown))
	return ans, nil
}

// decode reads every line of the body. Lines are numbered from 1, blank lines
// included, as the sender wrote them (after gunzip).
func (h *Handler) decode(body []byte, gz bool) ([]event.Event, *Answer, *refusal) {
	var in io.Reader = bytes.NewReader(body)
	if gz {
		zr, err := gzip.NewReader(in)
		if err != nil {
			return nil, nil, refuse(http.StatusBadRequest, "bad_gzip", "body is not valid gzip: "+err.Error())
		}
		in = zr
	} else if len(body) >= 2 && body[0] == 0x1f && body[1] == 0x8b {
		// event.Reader would inflate it without our bound.
		return nil, nil, refuse(http.StatusBadRequest, "bad_encoding",
			"body is gzip: send it with Content-Encoding: gzip")
	}
	lim := &limitReader{r: in, left: h.opts.MaxDecodedBytes}
	rd, err := event.NewReader(bufio.NewReaderSize(lim, 32<<10))
	if err != nil {
		return nil, nil, h.decodeFault(err)
	}
	ans := &Answer{Duplicates: []string{}, Rejected: []Rejected{}}
	// Sized from the body so that the events are not copied as the slice grows.
	guess := 1024
	if !gz {
		guess = bytes.Count(body, []byte{'\n'}) + 1
	}
	evs := make([]event.Event, 0, min(guess, h.opts.MaxLines))
	lines := 0
	for {
		ev, err := rd.Next()
		if err == io.EOF {
			break
		}
		var le *event.LineError
		switch {
		case err == nil:
			evs = append(evs, *ev)
		case errors.As(err, &le) && le.Unknown:
			ans.Unknown++
		case errors.As(err, &le):
			ans.Rejected = append(ans.Rejected, Rejected{Line: le.Line, ID: le.ID, Field: le.Field, Reason: le.Reason})
		default:
			return nil, nil, h.decodeFault(err)
		}
		if lines++; lines > h.opts.MaxLines {
			return nil, nil, refuse(http.StatusRequestEntityTooLarge, "too_many_lines",
				fmt.Sprintf("batch has more than %d lines", h.opts.MaxLines))
		}
	}
	return evs, ans, nil
}

func (h *Handler) decodeFault(err error) *refusal {
	if errors.Is(err, errDecodedTooLarge) {
		return refuse(http.StatusRequestEntityTooLarge, "decoded_too_large",
			fmt.Sprintf("body inflates to more than %d bytes", h.opts.MaxDecodedBytes))
	}
	return refuse(http.StatusBadRequest, "bad_gzip", "body is not valid gzip: "+err.Error())
}

// dedupe returns the events whose ids are new and lists the others in ans.
func (h *Handler) dedupe(evs []event.Event, ans *Answer, now time.Time) []event.Event {
	fresh := evs[:0]
	lim := now.Add(h.opts.DedupMaxFuture)
	h.dedupMu.Lock()
	defer h.dedupMu.Unlock()
	for i := range evs {
		ev := &evs[i]
		if h.dedup.Seen(ev.ID, dedupTime(ev.At, lim)) && !h.undo.take(ev.ID) {
			ans.Duplicates = append(ans.Duplicates, ev.ID)
			continue
		}
		if len(fresh) != i {
			fresh = append(fresh, *ev)
		} else {
			fresh = fresh[:i+1] // in place already
		}
	}
	clear(evs[len(fresh):]) // let the strings of dropped events go
	return fresh
}

// forgetIDs undoes dedupe for a batch the Sink did not take. A Deduper cannot
// forget an id, so the ids are remembered apart and let through once more.
func (h *Handler) forgetIDs(evs []event.Event) {
	h.dedupMu.Lock()
	defer h.dedupMu.Unlock()
	for i := range evs {
		h.m.undoDropped.Add(float64(h.undo.add(evs[i].ID)))
	}
}

func (h *Handler) tooLarge() *refusal {
	return refuse(http.StatusRequestEntityTooLarge, "body_too_large",
		fmt.Sprintf("body larger than %d bytes", h.opts.MaxBodyBytes))
}

func (h *Handler) busy(reason, msg string) *refusal {
	rf := refuse(http.StatusServiceUnavailable, reason, msg)
	rf.retryAfter = h.opts.BusyRetryAfter
	return rf
}

func (h *Handler) rateLimited(d time.Duration) *refusal {
	rf := refuse(http.StatusTooManyRequests, "rate_limited",
		fmt.Sprintf("over the rate of %g events/s for this key", h.opts.RateEvents))
	// Exact for the websocket; POST rounds it up to whole seconds, at least 1.
	rf.retryAfter = max(d, time.Millisecond)
	return rf
}

func (h *Handler) getBuf() *bytes.Buffer {
	if b, ok := h.bufs.Get().(*bytes.Buffer); ok {
		b.Reset()
		return b
	}
	return new(bytes.Buffer)
}

func contentEncoding(ce string) (gz bool, rf *refusal) {
	switch ce {
	case "", "identity":
		return false, nil
	case "gzip", "x-gzip":
		return true, nil
	}
	return false, refuse(http.StatusUnsupportedMediaType, "bad_encoding",
		"unsupported Content-Encoding: only gzip or none")
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil { // cannot happen for our types; answer something valid
		status, b = http.StatusInternalServerError, []byte(`{"error":"encode answer"}`)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)+1))
	w.WriteHeader(status)
	w.Write(append(b, '\n'))
}

var errDecodedTooLarge = errors.New("decoded body too large")

// limitReader fails with errDecodedTooLarge past left bytes.
type limitReader struct {
	r    io.Reader
	left int64
}

func (l *limitReader) Read(p []byte) (int, error) {
	if l.left < 0 {
		return 0, errDecodedTooLarge
	}
	if int64(len(p)) > l.left+1 {
		p = p[:l.left+1]
	}
	n, err := l.r.Read(p)
	l.left -= int64(n)
	if l.left < 0 {
		return n, errDecodedTooLarge
	}
	return n, err
}

// undoSet holds ids that the Deduper remembers but the pipeline never took.
// Bounded: when full it is emptied, and the retries of those ids would be
// answered as duplicates (counted in ronda_intake_dedup_undo_dropped_total).
type undoSet struct {
	ids map[string]struct{}
	max int
}

// add remembers id and returns how many ids it dropped to make room.
func (u *undoSet) add(id string) (dropped int) {
	if u.ids == nil {
		u.ids = make(map[string]struct{})
	}
	if _, ok := u.ids[id]; !ok && len(u.ids) >= u.max {
		dropped = len(u.ids)
		clear(u.ids)
	}
	u.ids[id] = struct{}{}
	return dropped
}

func (u *undoSet) take(id string) bool {
	if _, ok := u.ids[id]; ok {
		delete(u.ids, id)
		return true
	}
	return false
}
