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
// takes it as a duplicate, not as a second broadcast.
//
// What it must not do: break publishing. Three of these webhooks gate a publish
// (the server refuses the broadcaster unless the answer allows it), so a slow or
// failing Sink is bounded by Options.SinkTimeout and the publish is still
// allowed; the loss is counted in ronda_adapter_webhooks_total and logged. Only
// a request that fails the server's authentication or cannot be read is
// refused. It holds no state between requests and starts no goroutines.
package adapters

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ronda-watch/ronda/analyzer/event"
)

// Sink takes the events of one webhook. It is called on the request's
// goroutine with a context bounded by Options.SinkTimeout.
type Sink func(ctx context.Context, evs []event.Event) error

// Options are shared by every adapter.
type Options struct {
	// Sink receives the mapped events. Required.
	Sink Sink
	// Node names this ingest node in the events' node field. Empty: the node
	// the media server reports, when it reports one (SRS server_id).
	Node string
	// Now is the clock for servers whose webhook carries no time (SRS,
	// nginx-rtmp). Default time.Now.
	Now func() time.Time
	// Logger gets one line per refused request and per lost batch. Never
	// secrets, never the publisher's stream key or params. Default: discard.
	Logger *slog.Logger
	// MaxBody bounds a webhook body in bytes; larger ones are answered 413.
	// Default 1 MiB: the documented payloads are well under 4 KiB.
	MaxBody int64
	// SinkTimeout bounds how long a media server waits on the Sink. Default
	// 1s: OvenMediaEngine's default admission timeout is 3s and SRS blocks the
	// publisher for as long as its callback takes.
	SinkTimeout time.Duration
	// MaxTokenLifetime bounds how long a signed webhook token may be valid
	// (LiveKit's JWT: exp minus nbf or iat); a longer one is refused as a
	// replay risk and counted as unauthorized. Default
	// DefaultMaxTokenLifetime (10m); LiveKit signs for 5m.
	MaxTokenLifetime time.Duration
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
	resultSinkError    = "sink_error"   // the Sink failed: events lost (or, for LiveKit, left to its retry)
	resultSinkTimeout  = "sink_timeout" // the Sink overran SinkTimeout: events lost (or retried)
	resultUnauthorized = "unauthorized" // missing or wrong credentials
	resultBadRequest   = "bad_request"  // malformed body
	resultTooLarge     = "too_large"    // body over MaxBody
	resultBadMethod    = "bad_method"   // not POST
)

// Errors a request can fail with, mapped to HTTP statuses by fail.
var (
	errNoAuth    = errors.New("missing credentials")
	errBadAuth   = errors.New("credentials do not verify")
	errMalformed = errors.New("malformed body")
)

// maxIDLen is the contract's limit on ids (EVENTS.md "Encoding").
const maxIDLen = event.MaxIDBytes

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

// base is what every adapter shares: options, its name and its counters.
type base struct {
	name    string
	opts    Options
	results *prometheus.CounterVec
}

func newBase(name string, o Options) (base, error) {
	if err := o.validate(); err != nil {
		return base{}, err
	}
	cv := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "ronda_adapter_webhooks_total",
		Help: "Media server webhooks by adapter and result (emitted, ignored, unmappable, sink_error, sink_timeout, unauthorized, bad_request, too_large, bad_method).",
	}, []string{"adapter", "result"})
	if o.Registerer != nil {
		if err := o.Registerer.Register(cv); err != nil {
			are, ok := errors.AsType[prometheus.AlreadyRegisteredError](err)
			if !ok {
				return base{}, fmt.Errorf("adapters: register metrics: %w", err)
			}
			existing, ok := are.ExistingCollector.(*prometheus.CounterVec)
			if !ok {
				return base{}, fmt.Errorf("adapters: register metrics: %w", err)
			}
			cv = existing
		}
	}
	return base{name: name, opts: o, results: cv}, nil
}

func (b *base) count(result string) { b.results.WithLabelValues(b.name, result).Inc() }

// readBody reads a POST body of at most MaxBody bytes, answering the request
// itself when it cannot.
func (b *base) readBody(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	if r.Method != http.MethodPost {
		b.count(resultBadMethod)
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "POST only", http.StatusMethodNotAllowed)
		return nil, false
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, b.opts.MaxBody))
	if err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			b.count(resultTooLarge)
			http.Error(w, fmt.Sprintf("body over %d bytes", b.opts.MaxBody), http.StatusRequestEntityTooLarge)
			return nil, false
		}
		b.count(resultBadRequest)
		http.Error(w, "read body", http.StatusBadRequest)
		return nil, false
	}
	return body, true
}

// fail answers a request that is refused: 401 without credentials, 403 with
// wrong ones, 400 for a body that cannot be read.
func (b *base) fail(w http.ResponseWriter, r *http.Request, err error) {
	status, result := http.StatusBadRequest, resultBadRequest
	switch {
	case errors.Is(err, errNoAuth):
		status, result = http.StatusUnauthorized, resultUnauthorized
	case errors.Is(err, errBadAuth):
		status, result = http.StatusForbidden, resultUnauthorized
	}
	b.count(result)
	b.opts.Logger.Warn("webhook refused", "adapter", b.name, "remote", r.RemoteAddr, "status", status, "err", err)
	http.Error(w, err.Error(), status)
}

// emit hands evs to the Sink within SinkTimeout and counts the outcome. The
// caller decides what the media server is told.
func (b *base) emit(ctx context.Context, evs []event.Event, mapErr error) error {
	if mapErr != nil {
		b.count(resultUnmappable)
		b.opts.Logger.Warn("webhook not mapped", "adapter", b.name, "err", mapErr)
		return nil
	}
	if len(evs) == 0 {
		b.count(resultIgnored)
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, b.opts.SinkTimeout)
	defer cancel()
	err := b.opts.Sink(ctx, evs)
	if err == nil {
		b.count(resultEmitted)
		return nil
	}
	result := resultSinkError
	if errors.Is(err, context.DeadlineExceeded) || ctx.Err() != nil {
		result = resultSinkTimeout
	}
	b.count(result)
	b.opts.Logger.Warn("events not taken", "adapter", b.name, "events", len(evs), "id", evs[0].ID, "result", result, "err", err)
	return err
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
	h := sha256.New()
	var n [8]byte
	for _, p := range append([]string{adapter}, parts...) {
		binary.BigEndian.PutUint64(n[:], uint64(len(p)))
		h.Write(n[:])
		h.Write([]byte(p))
	}
	return adapter + "-" + hex.EncodeToString(h.Sum(nil)[:16])
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
