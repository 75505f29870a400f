// Package intake is how events enter Ronda: the HTTP intake, POST /v1/events,
// and the websocket intake, /v1/events/ws (WebSocket, PROTOCOL.md), both
// served by one Handler. The websocket's client, with which streaming ingest
// nodes and edges send to a hub, is sidecar/forward; what both ends agree on
// (messages, limits, the signature) is sidecar/intake/wire.
//
// POST takes signed NDJSON batches (plain or gzip) from ingest nodes and app
// backends; the socket takes a stream of sequenced batches, each acknowledged,
// resumed after a reconnect without loss or duplicates. Both decode with the
// strict decoder of analyzer/event, deduplicate by event id and hand the
// events to the pipeline through a Sink, with a per-event answer to the
// sender, through one code path: an event sent over both is one event.
//
// It authenticates every request and handshake (HMAC-SHA256 over timestamp
// and body or request URI, several keys for rotation and reload, a replay
// window) before it decodes anything or takes a shared slot, answers an
// unknown key id exactly as a bad signature, and every resource a sender can
// make it spend is bounded: body and decompressed size, the time and pace of
// a body, the bytes of requests in memory, lines per batch, batches in
// flight, events and requests per second per key, sockets, remembered
// sessions, each key's share of the memory of seen signatures. It must not buffer without a bound, block the sender on a full
// pipeline (the Sink says ErrBusy and the sender gets 503 or a busy answer),
// log secrets or event contents, or put per-sender or per-stream labels on
// metrics. Errors become HTTP statuses and protocol answers here and nowhere
// else.
package intake

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net/http"
	"net/netip"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/klauspost/compress/gzip"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/ronda-watch/ronda/analyzer/event"
	"github.com/ronda-watch/ronda/sidecar/forwarded"
	"github.com/ronda-watch/ronda/sidecar/intake/wire"
)

// Path is where the handler is meant to be mounted.
const Path = wire.Path

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
	DefaultMaxFutureSkew   = 30 * time.Second
	DefaultBodyTimeout     = time.Minute
	DefaultMinBodyRate     = 32 << 10
	DefaultMaxMemoryBytes  = 256 << 20
	DefaultRateRequests    = 1000
	DefaultRequestBurst    = 2000
	DefaultMaxBodyBytes    = 8 << 20
	DefaultMaxDecodedBytes = 64 << 20
	DefaultMaxLines        = 50_000
	DefaultMaxInFlight     = 8
	DefaultInFlightWait    = time.Second
	DefaultRateEvents      = 20_000
	DefaultRateBurst       = 100_000
	DefaultReplayMemory    = 200_000
	DefaultBusyRetryAfter  = time.Second
	DefaultDedupWindow     = 24 * time.Hour
	DefaultDedupCapacity   = 1_000_000
	DefaultDedupMaxFuture  = 10 * time.Minute
	DefaultMaxWSConns      = 64
	DefaultWSSessions      = 10_000
	DefaultWSPingInterval  = wire.DefaultPingInterval
	DefaultWSWriteTimeout  = 10 * time.Second
)

// Options configure a Handler. Zero values take the documented defaults.
type Options struct {
	// Keys maps a key id (the X-Ronda-Key header) to its HMAC-SHA256 secret,
	// at least wire.MinKeyBytes long. Several keys may be live at once: to
	// rotate, add the new key, move senders over, then remove the old one.
	// Required.
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
	// older than this by the handler's clock is refused (401), and a
	// signature seen within it is refused as replayed (401). Default 5 m.
	MaxSkew time.Duration

	// MaxFutureSkew is how far ahead of the handler's clock a timestamp may
	// be: only clock error, since a sender signs just before it sends. Kept
	// narrow because a signature is remembered until its timestamp plus
	// MaxSkew: a wide future side would let each request hold replay memory
	// longer. Default 30 s.
	MaxFutureSkew time.Duration

	// BodyTimeout bounds the time to read a body, and MinBodyRate (bytes/s)
	// the pace: after a grace of 2 s the sender must have sent MinBodyRate
	// bytes for every second since the headers, else the request gets 408 and
	// the connection is closed. A body is read before its signature can be
	// checked, so these bound what a sender that knows only a key id (not
	// its secret) can hold. Defaults 1 m and 32 KiB/s (an 8 MiB body then
	// needs about 140 KiB/s to fit in the minute). A negative MinBodyRate
	// checks only BodyTimeout.
	BodyTimeout time.Duration
	MinBodyRate int64

	// MaxMemoryBytes bounds the bytes that requests hold at once, POST and
	// websocket together: bodies as they are read (reserved as they grow, so
	// a slow body holds about what it has sent), then what decoding makes of
	// them (inflated text twice over for the event strings, 552 bytes per
	// decoded event, the answer's lists), until the answer is written. A
	// request that finds no room within InFlightWait gets 503 with
	// Retry-After (reason memory_full); nothing of it is taken. Must fit the
	// largest request (MaxRequestBytes); a batch that alone needs more (long
	// lists of tiny tags cost more than their text) gets 413
	// (too_large_to_decode). Default 256 MiB. Counted in
	// ronda_intake_memory_bytes against ronda_intake_memory_limit_bytes.
	// The Go heap holds more than this: the deduper, sockets, the pipeline's
	// queue, and garbage not yet collected (with GOGC=100 the heap may grow to
	// twice what is live: set GOMEMLIMIT to hold the process to a figure).
	MaxMemoryBytes int64

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

	// MaxInFlight bounds the requests being decoded at once (CPU: a body is
	// read, and its signature, rate and replay checked, before it takes a
	// slot, so unauthenticated bytes never hold one); a request waits up to
	// InFlightWait for a slot, then gets 503 with Retry-After. Memory is
	// bounded by MaxMemoryBytes. Default 8.
	MaxInFlight int

	// InFlightWait is how long a request waits for an in-flight slot, and
	// for room in MaxMemoryBytes. Default 1 s.
	InFlightWait time.Duration

	// RateEvents is each key's sustained rate in events (non-blank lines,
	// at least one per request, so that empty batches are not free) per
	// second, a token bucket of RateBurst events. A batch over the rate gets
	// 429 with Retry-After in seconds and nothing of it is taken; a batch
	// larger than the burst can never pass and gets 413, so RateBurst must
	// be at least MaxLines. Defaults 20,000/s and 100,000 (two largest
	// batches back to back). A negative RateEvents disables the limit.
	RateEvents float64
	RateBurst  int

	// RateRequests is each key's sustained rate of requests and websocket
	// handshakes per second, a token bucket of RequestBurst, counted once
	// the signature is checked; past it 429 with Retry-After (reason
	// request_rate_limited). Defaults 1,000/s and 2,000. A negative
	// RateRequests disables the limit.
	RateRequests float64
	RequestBurst int

	// ReplayMemory bounds the signatures remembered for replay detection (an
	// entry lives until its timestamp plus MaxSkew, at most MaxSkew +
	// MaxFutureSkew; about 100 bytes). Each key may hold an equal share
	// (ReplayMemory / number of keys), so one key holder cannot lock the
	// others out. When a key's share, or the whole, is full of live
	// signatures, its new requests get 503 with Retry-After (reason
	// replay_memory_full) rather than open a replay hole. Default 200,000: a
	// share of one key of four holds 50,000, 150 requests/s for 5.5 m.
	ReplayMemory int

	// BusyRetryAfter is the Retry-After given with 503. Default 1 s.
	BusyRetryAfter time.Duration

	// Now is the clock for the replay window and the rate limit. Default
	// time.Now. (Body deadlines use the wall clock.)
	Now func() time.Time

	// TrustedProxies are the peers (CIDRs) whose X-Forwarded-For is
	// believed: the client address in logs is then the right-most address
	// of X-Forwarded-For that is not itself trusted (forwarded.ClientAddr). Empty:
	// the peer's address, X-Forwarded-For ignored.
	TrustedProxies []netip.Prefix

	// Logger gets refusals at debug level and pipeline failures at error
	// level; never a secret, a signature or event contents. Default
	// slog.Default().
	Logger *slog.Logger

	// MaxWSConns bounds the websocket connections open at once (WSPath); a
	// handshake past it gets 503 with Retry-After. Each socket holds about
	// 100 KiB of buffers outside MaxMemoryBytes; the batches it sends are
	// read within MaxMemoryBytes and decoded within the MaxInFlight slots.
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

// validate checks the options as given, before the defaults.
func (o *Options) validate() error {
	if err := validateKeys(o.Keys); err != nil {
		return err
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
		{"max future skew", o.MaxFutureSkew < 0},
		{"body timeout", o.BodyTimeout < 0},
		{"max memory bytes", o.MaxMemoryBytes < 0},
		{"request burst", o.RequestBurst < 0},
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

// checkLimits checks the combinations of limits, once the defaults are set.
func (o *Options) checkLimits() error {
	if o.RateEvents > 0 && o.RateBurst < o.MaxLines {
		return fmt.Errorf("rate burst %d is below max lines %d: a batch of max lines could never pass; raise the burst or lower max lines",
			o.RateBurst, o.MaxLines)
	}
	if need := o.MaxRequestBytes(); o.MaxMemoryBytes < need {
		return fmt.Errorf("max memory bytes %d is below the %d that the largest request may need (max body bytes, max decoded bytes, max lines): raise it or lower those",
			o.MaxMemoryBytes, need)
	}
	return nil
}

// MaxRequestBytes is what the largest ordinary request may reserve of
// MaxMemoryBytes, by the accounting of the handler: its body, twice its
// inflated text (at most MaxDecodedBytes for gzip, the body itself
// otherwise), eventBytes per line and answerBytes per line for the answer's
// lists (lists of tags and links are counted on top, as decoded). Call it on
// options with the defaults applied (as NewHandler does).
func (o *Options) MaxRequestBytes() int64 {
	return o.MaxBodyBytes + 2*max(o.MaxDecodedBytes, o.MaxBodyBytes) + int64(o.MaxLines+1)*(eventBytes+answerBytes) + decodeChunk
}

func (o *Options) setDefaults() {
	orDefault(&o.MaxSkew, DefaultMaxSkew)
	orDefault(&o.DedupMaxFuture, DefaultDedupMaxFuture)
	orDefault(&o.MaxFutureSkew, DefaultMaxFutureSkew)
	orDefault(&o.BodyTimeout, DefaultBodyTimeout)
	orDefault(&o.MinBodyRate, DefaultMinBodyRate)
	orDefault(&o.MaxMemoryBytes, DefaultMaxMemoryBytes)
	if o.RateRequests == 0 {
		o.RateRequests = DefaultRateRequests
	}
	orDefault(&o.RequestBurst, DefaultRequestBurst)
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
	opts   Options
	keyMu  sync.RWMutex // held for reading from a request's last key check to the end of its Sink
	keys   atomic.Pointer[keySet]
	slots  chan struct{}
	mem    *memBudget
	replay *replayGuard
	m      *metrics
	ws     *wsState

	dedupMu sync.Mutex
	dedup   *event.Deduper
	undo    undoSet // under dedupMu
}

// NewHandler validates opts, applies the defaults and registers the metrics.
func NewHandler(opts Options) (*Handler, error) {
	if err := opts.validate(); err != nil {
		return nil, fmt.Errorf("intake options: %w", err)
	}
	opts.setDefaults()
	if err := opts.checkLimits(); err != nil {
		return nil, fmt.Errorf("intake options: %w", err)
	}
	opts.TrustedProxies = slices.Clone(opts.TrustedProxies)
	h := &Handler{
		opts:   opts,
		slots:  make(chan struct{}, opts.MaxInFlight),
		mem:    newMemBudget(opts.MaxMemoryBytes),
		replay: newReplayGuard(opts.ReplayMemory, len(opts.Keys)),
		dedup:  opts.Dedup,
		undo:   undoSet{max: 4 * opts.MaxLines},
	}
	h.ws = newWSState(h)
	h.keys.Store(h.newKeySet(opts.Keys, nil))
	m, err := newMetrics(opts.Registerer, h)
	if err != nil {
		return nil, fmt.Errorf("intake metrics: %w", err)
	}
	h.m = m
	h.m.keys.Set(float64(len(opts.Keys)))
	return h, nil
}

// Answer is the body of a 200 response: what became of each line. It is
// the wire's, shared with the websocket client.
type Answer = wire.Answer

// Rejected is one line that gave no event.
type Rejected = wire.Rejected

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
// headers and timestamp, the body (within its time and the memory budget),
// the signature, the key's request rate, replay, an in-flight slot, then
// decoding, the event rate, dedup and the Sink.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := h.opts.Now()
	mem := h.reserve(r.Context())
	defer mem.release() // once the answer is written
	ans, rf := h.serve(w, r, start, mem)
	if rf != nil {
		h.m.refused.WithLabelValues(rf.reason).Inc()
		h.opts.Logger.Debug("intake refused", "status", rf.status, "reason", rf.reason,
			"key", r.Header.Get(wire.HeaderKey), "client", forwarded.ClientAddr(r, h.opts.TrustedProxies).String())
		if rf.retryAfter > 0 {
			secs := int64(math.Ceil(rf.retryAfter.Seconds()))
			w.Header().Set("Retry-After", strconv.FormatInt(max(secs, 1), 10))
		}
		if rf.status == http.StatusRequestTimeout {
			w.Header().Set("Connection", "close") // the rest of the body is not read
		}
		writeJSON(w, rf.status, wire.ErrorBody{Error: rf.msg})
		h.m.requests.WithLabelValues(strconv.Itoa(rf.status)).Inc()
		return
	}
	writeJSON(w, http.StatusOK, ans)
	h.m.requests.WithLabelValues("200").Inc()
	h.m.seconds.Observe(time.Since(start).Seconds())
}

// reserve starts a request's share of the memory budget.
func (h *Handler) reserve(ctx context.Context) *reservation {
	return &reservation{b: h.mem, ctx: ctx, until: time.Now().Add(h.opts.InFlightWait)}
}

func (h *Handler) serve(w http.ResponseWriter, r *http.Request, now time.Time, mem *reservation) (*Answer, *refusal) {
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

	// The body is read before anything shared is held: its bytes are not
	// authenticated until the signature is checked, so they take only their
	// own room in the memory budget, within the body's time bounds.
	rc := http.NewResponseController(w)
	body, rf := h.readBody(r.Body, r.ContentLength, mem, rc.SetReadDeadline, time.Now())
	if rf != nil {
		return nil, rf
	}
	defer putBody(body, mem)
	h.m.bodyBytes.Add(float64(len(body)))

	k := h.lookup(keyID)
	// An unknown id is verified against a random secret: the same path, time
	// and answer as a bad signature.
	if !verify(k.secret, ts, body, sig) || k == unknownKey {
		return nil, h.badSignature()
	}
	if rf := h.allowRequest(k, now); rf != nil {
		return nil, rf
	}
	switch h.replay.add(keyID, sig, now, time.Unix(ts, 0).Add(h.opts.MaxSkew)) {
	case replayed:
		return nil, refuse(http.StatusUnauthorized, "replayed", "replayed request: this signature was already used")
	case replayFull:
		return nil, h.busy("replay_memory_full", "too many recent requests to remember for this key")
	}
	if rf := h.takeSlot(r.Context(), nil); rf != nil {
		h.replay.forget(sig)
		return nil, rf
	}
	defer h.releaseSlot()
	mem.until = time.Now().Add(h.opts.InFlightWait)
	ans, rf := h.process(r.Context(), k, body, gz, now, mem)
	if rf != nil {
		// Nothing of the request was taken: let the sender retry it as is.
		h.replay.forget(sig)
	}
	return ans, rf
}

// allowRequest counts one request or handshake against k's request rate.
func (h *Handler) allowRequest(k *liveKey, now time.Time) *refusal {
	if k.requests == nil {
		return nil
	}
	res := k.requests.ReserveN(now, 1)
	if d := res.DelayFrom(now); d > 0 {
		res.CancelAt(now)
		rf := refuse(http.StatusTooManyRequests, "request_rate_limited",
			fmt.Sprintf("over the rate of %g requests/s for this key", h.opts.RateRequests))
		rf.retryAfter = max(d, time.Millisecond)
		return rf
	}
	return nil
}

// takeSlot waits up to InFlightWait for an in-flight slot (or for ctx or
// cancel); the caller gives it back with releaseSlot.
func (h *Handler) takeSlot(ctx context.Context, cancel <-chan struct{}) *refusal {
	select {
	case h.slots <- struct{}{}:
		return nil
	default:
	}
	t := time.NewTimer(h.opts.InFlightWait)
	defer t.Stop()
	select {
	case h.slots <- struct{}{}:
		return nil
	case <-t.C:
	case <-ctx.Done():
		return refuse(http.StatusServiceUnavailable, "canceled", "request canceled")
	case <-cancel:
	}
	return h.busy("in_flight", "too many requests in flight")
}

func (h *Handler) releaseSlot() { <-h.slots }

// process decodes, rate-limits, deduplicates and sinks an authenticated body:
// the one path of both intakes, POST and websocket, so that an event sent
// over both is one event. A refusal means nothing of the body was taken.
func (h *Handler) process(ctx context.Context, k *liveKey, body []byte, gz bool, now time.Time, mem *reservation) (*Answer, *refusal) {
	// Refuse an exhausted key before decoding: the cheap way out under a burst.
	if lim := k.events; lim != nil {
		if tokens := lim.TokensAt(now); tokens < 1 {
			return nil, h.rateLimited(time.Duration((1 - tokens) / h.opts.RateEvents * float64(time.Second)))
		}
	}
	evs, ans, rf := h.decode(body, gz, mem)
	if rf != nil {
		return nil, rf
	}
	if lim := k.events; lim != nil {
		// An empty batch costs one: requests are not free.
		n := max(len(evs)+len(ans.Rejected)+ans.Unknown, 1)
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
	// Room for the duplicates' list of the answer, should every id be one.
	var dupBytes int64
	for i := range evs {
		dupBytes += dupCost(evs[i].ID)
	}
	if !mem.grow(dupBytes) {
		return nil, h.memoryFull(mem)
	}

	rf = h.accept(k, func() *refusal {
		fresh := h.dedupe(evs, ans, now)
		if len(fresh) > 0 {
			if err := h.opts.Sink(ctx, fresh); err != nil {
				h.forgetIDs(fresh)
				if errors.Is(err, ErrBusy) {
					return h.busy("sink_busy", "pipeline busy, retry later")
				}
				h.opts.Logger.Error("intake sink failed", "events", len(fresh), "err", err)
				return refuse(http.StatusInternalServerError, "sink_error", "pipeline failed to take the batch")
			}
		}
		ans.Accepted = len(fresh)
		return nil
	})
	if rf != nil {
		return nil, rf
	}
	h.m.events.WithLabelValues("accepted").Add(float64(ans.Accepted))
	h.m.events.WithLabelValues("duplicate").Add(float64(len(ans.Duplicates)))
	h.m.events.WithLabelValues("rejected").Add(float64(len(ans.Rejected)))
	h.m.events.WithLabelValues("unknown").Add(float64(ans.Unknown))
	return ans, nil
}

// The accounting of decoded batches in MaxMemoryBytes (see MaxRequestBytes).
const (
	// eventBytes is one decoded event in the batch's slice.
	eventBytes = int64(unsafe.Sizeof(event.Event{}))
	// answerBytes bounds one line's entry in the answer's lists, as a
	// struct and as JSON: a Rejected with its id (at most MaxIDBytes, longer
	// ones are cut), field and reason, or a duplicate's id.
	answerBytes = int64(unsafe.Sizeof(Rejected{})) + 2*(event.MaxIDBytes+maxReasonBytes+32) + 64
	// decodeChunk is how much inflated text is reserved at a time.
	decodeChunk = 64 << 10
	// maxReasonBytes cuts a rejection's reason in the answer.
	maxReasonBytes = 128
)

// extraBytes is what a decoded event holds beyond eventBytes and its text:
// the headers of its string lists (a tag of one byte costs a 16-byte header)
// and the structs behind its pointers.
func extraBytes(ev *event.Event) int64 {
	n := int64(len(ev.Tags)+len(ev.Links)) * (int64(unsafe.Sizeof("")) + 8)
	if ev.Geo != nil {
		n += int64(unsafe.Sizeof(*ev.Geo))
	}
	if ev.Host != nil {
		n += int64(unsafe.Sizeof(*ev.Host)) + 8
	}
	return n
}

func dupCost(id string) int64 { return int64(unsafe.Sizeof("")) + 2*int64(len(id)) + 8 }

func rejectedCost(r Rejected) int64 {
	return int64(unsafe.Sizeof(Rejected{})) + 2*int64(len(r.ID)+len(r.Field)+len(r.Reason)) + 64
}

// decode reads every line of the body. Lines are numbered from 1, blank lines
// included, as the sender wrote them (after gunzip).
func (h *Handler) decode(body []byte, gz bool, mem *reservation) ([]event.Event, *Answer, *refusal) {
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
	// Reserve what decoding is expected to need at once (see prepay); the
	// growths below draw on it, and past it reserve as they go.
	if !mem.prepay(h.decodeEstimate(body, gz)) {
		return nil, nil, h.memoryFull(mem)
	}
	defer mem.refund()
	lim := &limitReader{r: in, left: h.opts.MaxDecodedBytes, mem: mem}
	rd, err := event.NewReader(bufio.NewReaderSize(lim, 32<<10))
	if err != nil {
		return nil, nil, h.decodeFault(err, mem)
	}
	ans := &Answer{Duplicates: []string{}, Rejected: []Rejected{}}
	// Sized from the body so that the events are not copied as the slice grows.
	guess := 1024
	if !gz {
		guess = bytes.Count(body, []byte{'\n'}) + 1
	}
	size := min(guess, h.opts.MaxLines)
	if !mem.grow(int64(size) * eventBytes) {
		return nil, nil, h.memoryFull(mem)
	}
	evs := make([]event.Event, 0, size)
	lines := 0
	for {
		ev, err := rd.Next()
		if err == io.EOF {
			break
		}
		var le *event.LineError
		switch {
		case err == nil:
			if len(evs) == cap(evs) {
				old := cap(evs)
				if !mem.grow(int64(old) * eventBytes) {
					return nil, nil, h.memoryFull(mem)
				}
				evs = slices.Grow(evs, old)
				mem.grow(int64(cap(evs)-2*old) * eventBytes) // size-class rounding, a few bytes
				mem.shrink(int64(old) * eventBytes)          // the old array is garbage now
			}
			// The text is reserved as it is read; what hangs on the event
			// beyond its strings is reserved here.
			if x := extraBytes(ev); x > 0 && !mem.grow(x) {
				return nil, nil, h.memoryFull(mem)
			}
			evs = append(evs, *ev)
		case errors.As(err, &le) && le.Unknown:
			ans.Unknown++
		case errors.As(err, &le):
			rj := Rejected{Line: le.Line, ID: cut(le.ID, event.MaxIDBytes), Field: cut(le.Field, 32), Reason: cut(le.Reason, maxReasonBytes)}
			if !mem.grow(rejectedCost(rj)) {
				return nil, nil, h.memoryFull(mem)
			}
			ans.Rejected = append(ans.Rejected, rj)
		default:
			return nil, nil, h.decodeFault(err, mem)
		}
		if lines++; lines > h.opts.MaxLines {
			return nil, nil, refuse(http.StatusRequestEntityTooLarge, "too_many_lines",
				fmt.Sprintf("batch has more than %d lines", h.opts.MaxLines))
		}
	}
	return evs, ans, nil
}

// decodeEstimate is what decoding body is expected to reserve: twice its
// text and a slice of events for its lines. The text of a gzip body is
// taken from its trailer (ISIZE, the inflated size of the last member),
// bounded by MaxDecodedBytes; a wrong trailer only moves reservations from
// this estimate to the growths as they come.
func (h *Handler) decodeEstimate(body []byte, gz bool) int64 {
	text := int64(len(body))
	if gz {
		text = 0
		if len(body) >= 18 {
			text = min(int64(binary.LittleEndian.Uint32(body[len(body)-4:])), h.opts.MaxDecodedBytes)
		}
	}
	lines := min(int64(h.opts.MaxLines), text/64+1)
	if !gz {
		lines = min(int64(h.opts.MaxLines), int64(bytes.Count(body, []byte{'\n'}))+1)
	}
	return 2*(text+decodeChunk) + lines*eventBytes
}

func (h *Handler) decodeFault(err error, mem *reservation) *refusal {
	if errors.Is(err, errMemoryFull) {
		return h.memoryFull(mem)
	}
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

// memoryFull answers a request that found no room in the memory budget:
// busy, or 413 when it alone needs more than the whole budget.
func (h *Handler) memoryFull(mem *reservation) *refusal {
	if mem.never {
		return refuse(http.StatusRequestEntityTooLarge, "too_large_to_decode",
			fmt.Sprintf("batch needs more than the %d bytes of memory the intake has: send smaller batches", h.opts.MaxMemoryBytes))
	}
	return h.busy("memory_full", "too many bytes of requests in memory")
}

// cut shortens s to at most n bytes, for the answer.
func cut(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
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

var (
	errDecodedTooLarge = errors.New("decoded body too large")
	errMemoryFull      = errors.New("memory budget full")
)

// limitReader fails with errDecodedTooLarge past left bytes, and reserves
// twice the text it lets through (the decoded events' strings and what
// hangs on them) from mem, decodeChunk at a time.
type limitReader struct {
	r        io.Reader
	left     int64
	mem      *reservation
	reserved int64 // bytes of text reserved for
	read     int64
}

func (l *limitReader) Read(p []byte) (int, error) {
	if l.left < 0 {
		return 0, errDecodedTooLarge
	}
	if int64(len(p)) > l.left+1 {
		p = p[:l.left+1]
	}
	if room := l.reserved - l.read; int64(len(p)) > room {
		want := max(int64(len(p))-room, decodeChunk)
		if !l.mem.grow(2 * want) {
			return 0, errMemoryFull
		}
		l.reserved += want
	}
	n, err := l.r.Read(p)
	l.left -= int64(n)
	l.read += int64(n)
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
