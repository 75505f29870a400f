// Package hub is the moderators' websocket hub, /v1/alerts/ws: it pushes every
// alert version to authenticated moderator consoles, lets them act on alerts
// (claim, ack, assign, escalate, dismiss, note), audits each action and tells the
// other moderators.
//
// Every message the hub sends carries a hub sequence number, so a console that
// reconnects with ?since=SEQ resumes exactly where it stopped, from a bounded
// ring of recent messages, or gets a fresh snapshot when it was away too long.
// The missed messages stream from the ring as fast as the console reads them,
// however many; one that falls out of the ring meanwhile gets the snapshot too.
// A console that cannot keep up with live messages is cut off; it never holds
// back the others or the publisher. A browser console asks WhoAmIPath first:
// it cannot see why a websocket handshake was refused, whoami tells it.
//
// The hub keeps only the open alerts and the recent messages in memory: it is not
// the record. Actions go to Options.Audit (the ClickHouse writer) and alerts to
// the writer by the caller. State and Restore carry the open alerts, what
// moderators did to them, the sequence numbers and the ring across a restart;
// StateFromRecord rebuilds the same from the record when nothing was saved. The
// hub neither reads nor writes files: the caller keeps the State. It does not score, store or log personal data, and it
// never blocks Publish on a socket.
package hub

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/ronda-watch/ronda/analyzer"
)

// Path is where the hub is served.
const Path = "/v1/alerts/ws"

// WhoAmIPath is where a console checks its token before it opens the socket
// (Hub.WhoAmI): a browser never shows a page why a websocket handshake was
// refused, so this is where a wrong token gets a readable answer.
const WhoAmIPath = "/v1/alerts/whoami"

// Roles, weakest first. A token has exactly one.
const (
	// RoleViewer reads alerts and what moderators do, and acts on nothing.
	RoleViewer = "viewer"
	// RoleModerator may also claim, ack, dismiss and note.
	RoleModerator = "moderator"
	// RoleLead may also assign an alert to a moderator and escalate it.
	RoleLead = "lead"
)

// Token is one bearer token, stored as the SHA-256 of the secret, never the
// secret itself: `printf %s "$SECRET" | sha256sum` gives the hex.
type Token struct {
	// Name is the person or console the token belongs to; it is the moderator
	// name in the audit trail and the target of assign. Unique.
	Name string `yaml:"name"`
	// Role is viewer, moderator or lead.
	Role string `yaml:"role"`
	// SHA256 is the lower- or upper-case hex SHA-256 of the token.
	SHA256 string `yaml:"sha256"`
}

// DefaultClaimTTL is Options.ClaimTTL when it is zero.
const DefaultClaimTTL = 15 * time.Minute

// Options configure a Hub. Zero values take the documented defaults.
type Options struct {
	// Tokens that may connect. At least one is required.
	Tokens []Token
	// AllowedOrigins are the exact Origin values (scheme://host[:port]) of the
	// consoles allowed to connect from a browser, e.g. "https://mod.example.org".
	// A page served by the hub's own host is always allowed: an Origin whose
	// host[:port] equals the request's Host (the console at /console/, as
	// gorilla/websocket's default same-origin check). A request with any other
	// Origin is refused (403). A request with no Origin (not a browser: a
	// script, another service) is accepted with a valid token.
	AllowedOrigins []string
	// Audit receives every accepted action, in hub order, with a unique ActionID,
	// the moderator's name and At from Now; the caller adapts it to its
	// record (serve writes it as the store's action row). It is called with
	// the hub's lock held and must return quickly. Nil: actions are not audited.
	Audit func(ActionRecord)
	// Journal makes an accepted action durable before it changes the alert
	// or anyone hears of it: it is called with the hub's lock held, after
	// the action's checks, and returns the record's position in the journal
	// (increasing; State reports the last as JournalPos, so that ReplayAction
	// skips what a saved State already holds). An error refuses the action
	// with code "not_saved" and changes nothing; an escalation the
	// destination already took is applied anyway (and the error logged), so
	// that it is not sent twice. Nil: actions are not journaled.
	Journal func(ActionRecord) (uint64, error)
	// Escalate hands an alert to the configured destination (a case system, a
	// hotline) with the lead's note; EscalatedBy(ctx) names the lead. Without
	// it escalate is refused. It runs outside the hub's lock with
	// EscalateTimeout; an error refuses the action.
	Escalate func(ctx context.Context, alert analyzer.Alert, note string) error
	// EscalateTimeout bounds one Escalate call. Default 10s.
	EscalateTimeout time.Duration
	// Now is the clock for claims, audit times and rate limits. Default time.Now.
	Now func() time.Time
	// ClaimTTL is how long a claim (or an assignment) holds an alert for one
	// moderator before others may claim it. Claiming again renews it. Default 15m.
	ClaimTTL time.Duration
	// SendQueue is how many live messages may wait for one socket. A socket
	// whose queue is full is cut off with close code 1008 "too slow"; it may
	// resume with ?since. What a resumed socket missed does not count: it
	// streams from the ring as the socket takes it. Default 256.
	SendQueue int
	// Ring is how many recent messages are kept for resuming with ?since. A
	// console further behind, when it comes back or while it catches up, gets
	// a fresh snapshot. Default 4096.
	Ring int
	// PingInterval is how often the hub pings each socket. A socket that sends
	// nothing, not even a pong, for two intervals is closed. Default 30s.
	PingInterval time.Duration
	// WriteTimeout bounds one write to a socket. Default 10s.
	WriteTimeout time.Duration
	// BadTokenLimit is how many missing or wrong tokens one address may present
	// within BadTokenWindow; past it every attempt from that address without a
	// valid token is answered 429 with Retry-After until the window has passed.
	// A valid token is still admitted: moderators behind one NAT or proxy are
	// not locked out by a guesser beside them. Default 5.
	BadTokenLimit int
	// BadTokenWindow is the window of BadTokenLimit. Default 1m.
	BadTokenWindow time.Duration
	// TrustedProxies are the reverse proxies in front of the hub. The address
	// a request comes from, for the bad-token limit, is its peer's, unless the
	// peer is in one of these prefixes: then it is the rightmost address of
	// X-Forwarded-For that is not (forwarded.ClientAddr). Empty: X-Forwarded-For is
	// ignored.
	TrustedProxies []netip.Prefix
	// MaxMessage is the largest message a client may send, in bytes. Default 16 KiB.
	MaxMessage int64
	// Registerer receives the hub's metrics (ronda_hub_*). Nil: not registered.
	Registerer prometheus.Registerer
	// Logger, default slog.Default(). Tokens and notes are never logged.
	Logger *slog.Logger
}

func (o *Options) validate() error {
	if err := validateTokens(o.Tokens); err != nil {
		return err
	}
	for _, p := range o.TrustedProxies {
		if !p.IsValid() {
			return fmt.Errorf("trusted proxy %v is not a valid prefix", p)
		}
	}
	for _, o := range o.AllowedOrigins {
		if o == "" || o == "null" {
			return fmt.Errorf("allowed origin %q", o)
		}
	}
	for name, d := range map[string]time.Duration{"escalate timeout": o.EscalateTimeout, "claim ttl": o.ClaimTTL,
		"ping interval": o.PingInterval, "write timeout": o.WriteTimeout, "bad token window": o.BadTokenWindow} {
		if d < 0 {
			return fmt.Errorf("%s %v is negative", name, d)
		}
	}
	if o.SendQueue < 0 || o.Ring < 0 || o.BadTokenLimit < 0 || o.MaxMessage < 0 {
		return errors.New("negative size or limit")
	}
	return nil
}

func (o *Options) defaults() {
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&o.EscalateTimeout, 10*time.Second)
	def(&o.ClaimTTL, DefaultClaimTTL)
	def(&o.PingInterval, 30*time.Second)
	def(&o.WriteTimeout, 10*time.Second)
	def(&o.BadTokenWindow, time.Minute)
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.SendQueue == 0 {
		o.SendQueue = 256
	}
	if o.Ring == 0 {
		o.Ring = 4096
	}
	if o.BadTokenLimit == 0 {
		o.BadTokenLimit = 5
	}
	if o.MaxMessage == 0 {
		o.MaxMessage = 16 << 10
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
}

// Hub is the moderators' websocket hub. Its methods are safe for concurrent use.
type Hub struct {
	opts     Options
	m        *metrics
	tokens   atomic.Pointer[tokenTable] // swapped whole by SetTokens
	origins  map[string]bool
	proxies  []netip.Prefix
	upgrader websocket.Upgrader
	limiter  *limiter
	instance string // prefix of action ids

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu      sync.Mutex
	closed  bool
	seq     uint64
	ring    ring
	alerts  map[string]*alertState
	clients map[*client]struct{}
	nextAct uint64
	// journalPos is the position of the last action journaled or replayed.
	journalPos uint64
}

// New validates opts and builds a Hub; serve it at Path.
func New(opts Options) (*Hub, error) {
	if err := opts.validate(); err != nil {
		return nil, fmt.Errorf("hub options: %w", err)
	}
	opts.defaults()
	var id [6]byte
	_, _ = rand.Read(id[:])
	h := &Hub{
		opts: opts, origins: map[string]bool{},
		limiter:  newLimiter(opts.BadTokenLimit, opts.BadTokenWindow),
		instance: hex.EncodeToString(id[:]),
		ring:     newRing(opts.Ring),
		alerts:   map[string]*alertState{},
		clients:  map[*client]struct{}{},
	}
	m, err := newMetrics(opts.Registerer, h.oldestUnclaimed)
	if err != nil {
		return nil, fmt.Errorf("hub metrics: %w", err)
	}
	h.m = m
	h.tokens.Store(newTokenTable(opts.Tokens))
	for _, o := range opts.AllowedOrigins {
		h.origins[o] = true
	}
	for _, p := range opts.TrustedProxies {
		h.proxies = append(h.proxies, p.Masked())
	}
	h.upgrader = websocket.Upgrader{
		HandshakeTimeout: 10 * time.Second,
		// Origin is checked before the upgrade, where the refusal can be counted.
		CheckOrigin:     func(*http.Request) bool { return true },
		WriteBufferPool: &sync.Pool{},
	}
	h.ctx, h.cancel = context.WithCancel(context.Background())
	return h, nil
}

// Publish sends one alert version to every socket and keeps it for those that
// connect later: the latest version of each open alert. A version with
// MergedInto closes its alert. It never blocks on a socket.
func (h *Hub) Publish(a analyzer.Alert) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed || a.ID == "" {
		return
	}
	st := h.alerts[a.ID]
	if a.MergedInto != "" {
		delete(h.alerts, a.ID)
		if st == nil {
			st = &alertState{}
		}
		st.status = statusMerged
	} else {
		// A dismissed alert left the open set: a new version reopens it.
		if st == nil {
			st = &alertState{status: statusOpen, since: h.opts.Now()}
			h.alerts[a.ID] = st
		}
	}
	if a.Updates >= st.alert.Updates {
		st.alert = a // the latest version; a late older one is still relayed
	}
	h.seq++
	msg := encode(outMsg{Type: "alert", Seq: h.seq, Alert: &a, State: st.view(h.opts.Now(), false)})
	h.broadcastLocked(msg, nil)
}

// broadcastLocked records a sequenced message in the ring and queues it for
// every live socket but skip; sockets catching up will pull it from the ring.
// A socket whose queue is full is cut off.
func (h *Hub) broadcastLocked(msg []byte, skip *client) {
	h.ring.add(h.seq, msg)
	for c := range h.clients {
		if c != skip && !c.catchingUp {
			h.queueLocked(c, msg)
		}
	}
}

// reply is a message for one socket only, held while the socket catches up.
type reply struct {
	seq uint64 // sent once the socket has everything up to seq
	ack bool   // sent instead of the ring's message seq: the sender's copy
	msg []byte
}

// replyLocked sends c a reply to its own request, an ack or an error, with
// sequence number seq. While c catches up the reply waits for its place in the
// stream, as many as its queue would hold, else c is cut off.
func (h *Hub) replyLocked(c *client, seq uint64, ack bool, msg []byte) {
	if _, ok := h.clients[c]; !ok {
		return
	}
	if !c.catchingUp {
		h.queueLocked(c, msg)
		return
	}
	if len(c.replies) >= cap(c.send) {
		h.m.slow.Inc()
		h.dropLocked(c, websocket.ClosePolicyViolation, "too slow")
		return
	}
	c.replies = append(c.replies, reply{seq: seq, ack: ack, msg: msg})
}

// queueLocked queues msg for c or, when c is behind, cuts it off.
func (h *Hub) queueLocked(c *client, msg []byte) {
	select {
	case c.send <- msg:
	default:
		h.m.slow.Inc()
		h.dropLocked(c, websocket.ClosePolicyViolation, "too slow")
	}
}

// dropLocked unregisters c and has it closed with code and reason.
func (h *Hub) dropLocked(c *client, code int, reason string) {
	if _, ok := h.clients[c]; !ok {
		return
	}
	delete(h.clients, c)
	h.m.sockets.Dec()
	c.kick(code, reason)
}

// Close closes every socket with a close frame (1001, "hub closing") and waits,
// bounded, for their goroutines. Publish and new connections are refused after.
// Safe twice and on nil.
func (h *Hub) Close() error {
	if h == nil {
		return nil
	}
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		return nil
	}
	h.closed = true
	for c := range h.clients {
		h.dropLocked(c, websocket.CloseGoingAway, "hub closing")
	}
	h.mu.Unlock()
	h.cancel()
	done := make(chan struct{})
	go func() { h.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-time.After(h.opts.WriteTimeout + 2*time.Second):
		return errors.New("hub close: sockets still open after the write timeout")
	}
}

// newActionID gives a unique action id: the hub instance and a counter.
func (h *Hub) newActionIDLocked() string {
	h.nextAct++
	return fmt.Sprintf("%s-%d", h.instance, h.nextAct)
}

func lowerHex(s string) string {
	b, err := hex.DecodeString(s)
	if err != nil {
		return s
	}
	return hex.EncodeToString(b)
}
