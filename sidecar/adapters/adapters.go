// Package adapters turns the webhooks of real media servers into Ronda's
// contract events (../../shared/spec/EVENTS.md): stream.start when a
// broadcaster begins publishing and stream.end when it stops. There is one
// http.Handler per server, each verifying that server's own authentication:
//
//   - LiveKit webhooks (NewLiveKit): a JWT in Authorization carrying the body's
//     SHA-256;
//   - SRS HTTP callbacks on_publish / on_unpublish (NewSRS): a shared secret in
//     the callback URL;
//   - OvenMediaEngine admission webhooks (NewOME): X-OME-Signature, an HMAC-SHA1
//     of the body;
//   - nginx-rtmp on_publish / on_publish_done (NewNginxRTMP): a shared secret in
//     the notify URL.
//
// The events go to Options.Sink. Their ids are derived from the webhook's own
// fields, so a webhook the server retries gives the same id and the receiver
// takes it as a duplicate, not as a second broadcast. Secrets and keys can be
// replaced while requests are served (SetSecrets, SetKeys), for a reload.
//
// What it must not do: stop a broadcast by accident. The webhooks of SRS,
// OvenMediaEngine and nginx-rtmp gate a publish (the server refuses the
// broadcaster unless the answer allows it), so their handlers always answer
// allow, in each server's own form: to a missing or wrong secret or
// signature, a malformed or oversized body, a wrong method, a body that
// trickles, a Sink that fails (a full queue, a shutdown), is slow, ignores
// its context or panics. A request that fails authentication or cannot be
// read records nothing: it is only counted in
// ronda_adapter_webhooks_total{adapter,result} and logged, at most one line
// per adapter and result a minute, with the count of the lines held back.
// The answer is chosen in one place, decide: it allows, except an authentic
// stream.start that Options.Gate refuses on purpose (a lead's enforcement
// lever, sidecar/enforce; off by default). A refused start is recorded with
// an end at the same instant (reason refused_by_lever).
//
// Bounded answer time: every handler answers within Options.SinkTimeout
// (default 1s) of being called, headers read. Reading the body and handing
// the events to the Sink share that deadline: the body is read under a
// connection read deadline, and the Sink runs on a goroutine of its own that
// the handler stops waiting for at the deadline, so that not even a Sink that
// ignores its context can hold a media server's answer. At most 64 Sink
// calls (maxSinkCalls) run at once per adapter, those overrunning included;
// past that the Sink is not called (sink_stuck) rather than piling up
// goroutines behind a stuck one.
//
// LiveKit webhooks are not admission: LiveKit does not wait for them to let a
// participant publish, and it retries one that fails. Its handler keeps
// refusing what it cannot take (401, 403, 400, 405, 408, 413, 503), so that
// LiveKit retries instead of the events being lost.
package adapters

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"os"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ronda-watch/ronda/analyzer/event"
	"github.com/ronda-watch/ronda/sidecar/internal/eventid"
	"github.com/ronda-watch/ronda/sidecar/internal/metricsreg"
)

// Sink takes the events of one webhook. It is called with a context that
// ends at the answer's deadline (Options.SinkTimeout), on a goroutine of its
// own: a Sink that overruns is no longer waited for, and its events may be
// lost.
type Sink func(ctx context.Context, evs []event.Event) error

// Options are shared by every adapter.
type Options struct {
	// Sink receives the mapped events. Required.
	Sink Sink
	// Node names this ingest node in the events' node field. Empty: the node
	// the media server reports, when it reports one (SRS server_id).
	Node string
	// Now is the clock for servers whose webhook carries no time (SRS,
	// nginx-rtmp) and for throttling the log. Default time.Now. Deadlines on
	// the connection are on the wall clock whatever Now says.
	Now func() time.Time
	// Logger gets the lines about refused requests and lost events, at most
	// one a minute per adapter and result, with the number held back since
	// the last one. Never secrets, never the publisher's stream key or
	// params. Default: discard.
	Logger *slog.Logger
	// MaxBody bounds a webhook body in bytes; a larger one is not read (an
	// admission hook still answers allow; LiveKit 413). Default 1 MiB: the
	// documented payloads are well under 4 KiB.
	MaxBody int64
	// SinkTimeout bounds the answer: reading the body and handing the events
	// to the Sink together take at most this long from the handler's call,
	// then an admission hook answers allow and LiveKit 408 or 503. Default
	// 1s: OvenMediaEngine's default admission timeout is 3s, and SRS and
	// nginx-rtmp hold the publisher for as long as their callback takes.
	SinkTimeout time.Duration
	// MaxTokenLifetime bounds how long a signed webhook token may be valid
	// (LiveKit's JWT: exp minus nbf or iat); a longer one is refused as a
	// replay risk and counted as unauthorized. Default
	// DefaultMaxTokenLifetime (10m); LiveKit signs for 5m.
	MaxTokenLifetime time.Duration
	// Gate, when set, is asked about each authentic stream.start an
	// admission hook (SRS, OvenMediaEngine, nginx-rtmp) maps: true refuses
	// that publish, in the server's own form, counted as result "denied".
	// It must answer at once, from memory; a panic allows. Serve sets it to
	// the enforcement levers (sidecar/enforce) when deny_publish is on.
	Gate func(start *event.Event) bool
	// Registerer receives ronda_adapter_webhooks_total{adapter,result}. Nil:
	// the counters exist but are not exported. Adapters sharing a Registerer
	// share the counter.
	Registerer prometheus.Registerer
}

// Results counted in ronda_adapter_webhooks_total.
const (
	resultEmitted      = "emitted"      // events handed to the Sink
	resultIgnored      = "ignored"      // authentic, but not a broadcast start or end
	resultUnmappable   = "unmappable"   // a start or end whose names break the contract's limits
	resultSinkError    = "sink_error"   // the Sink failed or panicked: events lost (or, for LiveKit, left to its retry)
	resultSinkTimeout  = "sink_timeout" // the Sink overran the deadline: events may be lost (or retried)
	resultSinkStuck    = "sink_stuck"   // maxSinkCalls overrunning calls still run: the Sink was not called
	resultUnauthorized = "unauthorized" // missing or wrong credentials: nothing recorded
	resultBadRequest   = "bad_request"  // malformed or unreadable body: nothing recorded
	resultTooLarge     = "too_large"    // body over MaxBody: nothing recorded
	resultBadMethod    = "bad_method"   // not POST: nothing recorded
	resultSlowBody     = "slow_body"    // body not read by the deadline: nothing recorded
	resultPanic        = "panic"        // the handler itself panicked: nothing recorded
	resultDenied       = "denied"       // an authentic start refused by Options.Gate (a lead's lever)
)

// Errors a request can fail with; resultOf counts them, and LiveKit maps
// them to HTTP statuses.
var (
	errNoAuth    = errors.New("missing credentials")
	errBadAuth   = errors.New("credentials do not verify")
	errMalformed = errors.New("malformed body")
	errMethod    = errors.New("not POST")
	errTooLarge  = errors.New("body too large")
	errSlowBody  = errors.New("body not read by the deadline")
	errStuck     = errors.New("earlier sink calls still running")
)

// maxIDLen is the contract's limit on ids (EVENTS.md "Encoding").
const maxIDLen = event.MaxIDBytes

// maxSinkCalls bounds the Sink calls of one adapter running at once,
// including those overrunning the deadline that no request waits for any
// more: a Sink stuck for good costs at most this many goroutines.
const maxSinkCalls = 64

func (o *Options) validate() error {
	if o.Sink == nil {
		return errors.New("adapters: Options.Sink is required")
	}
	if o.MaxBody < 0 || o.SinkTimeout < 0 {
		return errors.New("adapters: MaxBody and SinkTimeout must not be negative")
	}
	if o.MaxBody == 0 {
		o.MaxBody = 1 << 20
	}
	if o.SinkTimeout == 0 {
		o.SinkTimeout = time.Second
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if len(o.Node) > maxIDLen {
		return fmt.Errorf("adapters: Node longer than %d bytes", maxIDLen)
	}
	return nil
}

// base is what every adapter shares: options, its name, its counters, its
// log throttle and the slots of its Sink calls.
type base struct {
	name    string
	opts    Options
	results *prometheus.CounterVec
	log     *logThrottle
	slots   chan struct{}
}

func newBase(name string, o Options) (*base, error) {
	if err := o.validate(); err != nil {
		return nil, err
	}
	cv := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "ronda_adapter_webhooks_total",
		Help: "Media server webhooks by adapter and result (emitted, ignored, unmappable, sink_error, sink_timeout, sink_stuck, unauthorized, bad_request, too_large, bad_method, slow_body, panic).",
	}, []string{"adapter", "result"})
	if o.Registerer != nil {
		var err error
		if cv, err = metricsreg.Register(o.Registerer, cv); err != nil {
			return nil, fmt.Errorf("adapters: register metrics: %w", err)
		}
	}
	return &base{name: name, opts: o, results: cv, log: newLogThrottle(o.Logger, logEvery, o.Now),
		slots: make(chan struct{}, maxSinkCalls)}, nil
}

func (b *base) count(result string) { b.results.WithLabelValues(b.name, result).Inc() }

// readBody reads a POST body of at most MaxBody bytes by deadline. The
// deadline is set on the connection (not possible on a ResponseWriter that
// does not reach one, such as httptest.ResponseRecorder: there only the size
// bounds the read) and lifted once the body is read, so that the server's
// own read of the next request is not cut short.
func (b *base) readBody(w http.ResponseWriter, r *http.Request, deadline time.Time) ([]byte, error) {
	if r.Method != http.MethodPost {
		return nil, errMethod
	}
	rc := http.NewResponseController(w)
	if rc.SetReadDeadline(deadline) == nil {
		defer rc.SetReadDeadline(time.Time{})
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, b.opts.MaxBody))
	switch {
	case err == nil:
		return body, nil
	case errors.Is(err, os.ErrDeadlineExceeded):
		return nil, errSlowBody
	}
	if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
		return nil, fmt.Errorf("%w: over %d bytes", errTooLarge, b.opts.MaxBody)
	}
	return nil, fmt.Errorf("%w: read: %w", errMalformed, err)
}

// resultOf is the counted result of a request refused with err.
func resultOf(err error) string {
	switch {
	case errors.Is(err, errNoAuth), errors.Is(err, errBadAuth):
		return resultUnauthorized
	case errors.Is(err, errMethod):
		return resultBadMethod
	case errors.Is(err, errTooLarge):
		return resultTooLarge
	case errors.Is(err, errSlowBody):
		return resultSlowBody
	}
	return resultBadRequest
}

// refused counts and logs (throttled) a request whose body is recorded
// nowhere, and returns its result.
func (b *base) refused(r *http.Request, err error, answer string) string {
	result := resultOf(err)
	b.count(result)
	b.log.warn(b.name+"/"+result, "webhook not recorded", "adapter", b.name, "result", result,
		"remote", r.RemoteAddr, "answer", answer, "err", err)
	return result
}

// emit hands evs to the Sink by deadline and counts the outcome. The caller
// decides what the media server is told.
func (b *base) emit(ctx context.Context, deadline time.Time, evs []event.Event, mapErr error) error {
	if mapErr != nil {
		b.count(resultUnmappable)
		b.log.warn(b.name+"/"+resultUnmappable, "webhook not mapped", "adapter", b.name, "err", mapErr)
		return nil
	}
	if len(evs) == 0 {
		b.count(resultIgnored)
		return nil
	}
	ctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	err := b.callSink(ctx, evs)
	if err == nil {
		b.count(resultEmitted)
		return nil
	}
	result := resultSinkError
	switch {
	case errors.Is(err, errStuck):
		result = resultSinkStuck
	case errors.Is(err, context.DeadlineExceeded) || ctx.Err() != nil:
		result = resultSinkTimeout
	}
	b.count(result)
	b.log.warn(b.name+"/"+result, "events not taken", "adapter", b.name, "events", len(evs), "id", evs[0].ID,
		"result", result, "err", err)
	return err
}

// callSink runs the Sink on a goroutine of its own and stops waiting when
// ctx ends, so that a Sink that ignores its context still cannot hold the
// answer. The goroutine ends when the Sink returns; while maxSinkCalls of
// them run, the Sink is not called.
func (b *base) callSink(ctx context.Context, evs []event.Event) error {
	select {
	case b.slots <- struct{}{}:
	default:
		return errStuck
	}
	done := make(chan error, 1)
	go func() {
		defer func() {
			if p := recover(); p != nil {
				done <- fmt.Errorf("sink panicked: %v", p)
			}
			<-b.slots
		}()
		done <- b.opts.Sink(ctx, evs)
	}()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return fmt.Errorf("sink overran: %w", ctx.Err())
	}
}

func (b *base) node(fromServer string) string {
	if b.opts.Node != "" {
		return b.opts.Node
	}
	if len(fromServer) <= maxIDLen && utf8.ValidString(fromServer) {
		return fromServer
	}
	return ""
}

// eventID derives an event id from the fields that identify one webhook: the
// same webhook retried gives the same id. Each part is length-prefixed so
// that no two lists of parts hash alike.
func eventID(adapter string, parts ...string) string {
	return eventid.Hash(adapter, append([]string{adapter}, parts...)...)
}

// checkID reports whether s can be an id of the contract.
func checkID(field, s string) error {
	switch {
	case s == "":
		return fmt.Errorf("empty %s", field)
	case len(s) > maxIDLen:
		return fmt.Errorf("%s longer than %d bytes", field, maxIDLen)
	case !utf8.ValidString(s):
		return fmt.Errorf("%s not UTF-8", field)
	}
	return nil
}

// cleanIP returns s when it is an IP address, else "" (the field is optional
// and a receiver would reject the whole event for a bad one).
func cleanIP(s string) string {
	a, err := netip.ParseAddr(s)
	if err != nil {
		return ""
	}
	return a.Unmap().String()
}

// newStreamEvent builds a stream.start or stream.end after checking the ids.
func newStreamEvent(t event.Type, id, node, streamID, hostID, ip string, at time.Time) (event.Event, error) {
	if err := checkID("stream_id", streamID); err != nil {
		return event.Event{}, err
	}
	if y := at.UTC().Year(); y < 1 || y > 9999 {
		return event.Event{}, fmt.Errorf("time %s outside RFC 3339", at.Format(time.RFC3339))
	}
	ev := event.Event{Type: t, TypeName: t.String(), ID: id, At: at.UTC(), Node: node, StreamID: streamID}
	if t == event.TypeStreamStart {
		if err := checkID("host_id", hostID); err != nil {
			return event.Event{}, err
		}
		ev.HostID = hostID
		ev.IP = cleanIP(ip)
	}
	return ev, nil
}

// secretsMatch compares got with every accepted secret in constant time, so
// that several can be live during a rotation.
func secretsMatch(got string, secrets []string) bool {
	ok := 0
	for _, s := range secrets {
		ok |= subtle.ConstantTimeCompare([]byte(got), []byte(s))
	}
	return ok == 1
}

// writeJSON answers 200 with a fixed JSON body.
func writeJSON(w http.ResponseWriter, body string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	io.WriteString(w, body)
}
