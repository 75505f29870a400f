package intake

import (
	"bufio"
	"bytes"
	"container/list"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"github.com/ronda-watch/ronda/sidecar/forwarded"
	"github.com/ronda-watch/ronda/sidecar/intake/wire"
)

// WSPath is where the handler returned by WebSocket is meant to be mounted.
const WSPath = wire.WSPath

// Limits of the websocket protocol (PROTOCOL.md).
const (
	// MaxWSHeaderBytes bounds the header line of a batch message, "\n"
	// included. A batch message is at most MaxWSHeaderBytes plus
	// Options.MaxBodyBytes once inflated.
	MaxWSHeaderBytes = 1024
)

// closeGrace is how long a socket being closed by the server waits for the
// peer's close frame before the connection is dropped.
const closeGrace = time.Second

// WebSocket returns the handler of the websocket intake, to mount at WSPath.
// It shares everything with the POST intake (keys, per-key rate limits,
// in-flight slots, dedup, Sink, metrics, logger), so that an event sent over
// both is one event.
//
// # Protocol
//
// PROTOCOL.md next to this file is the full description; in short:
//
//   - Handshake: GET WSPath?sender=NAME&session=ID&nonce=RANDOM, signed like
//     a POST (wire.SignHandshake: wire.HeaderKey, wire.HeaderTimestamp,
//     wire.HeaderSignature) with the request URI exactly as sent (path, "?",
//     raw query) as the body; the replay window applies, so the nonce makes
//     each connect unique. sender, session and nonce are 1 to
//     wire.MaxWSParamBytes of [A-Za-z0-9._-]. Refusals are HTTP answers with
//     the JSON error body of POST: 401 (signature), 400 (parameters, not a
//     websocket upgrade), 503 (closed, too many sockets, Retry-After).
//   - The server speaks first: {"type":"hello","acked":N,...limits}, N the
//     last batch sequence number taken for (key id, sender, session), 0 for
//     a new session.
//   - A batch is a text message: a header line {"seq":N} then NDJSON event
//     lines, at most MaxWSHeaderBytes plus Options.MaxBodyBytes once
//     inflated (permessage-deflate is offered). Each new batch has seq
//     acked+1.
//   - Every batch is answered, in order: an ack with the POST answer
//     (accepted, duplicates, rejected, unknown); an ack with "already":true
//     for seq <= acked, not processed again; busy with retry_after_ms when
//     the Sink is busy, the key is over its rate or no in-flight slot is
//     free (nothing taken; after a busy the batches that follow are answered
//     busy too until seq acked+1 comes again); refused with a status for a
//     batch that can never pass (too many lines or bytes, over the rate
//     burst, gzip), which counts as taken.
//   - A malformed header, a gap in seq or a binary message is a protocol
//     error: an error message, then close 1002 or 1003 with the reason.
//   - The server pings; a socket silent for twice WSPingInterval plus
//     WSWriteTimeout is closed. A newer socket on the same session takes it
//     over (the older one is closed with 1008). Close closes every socket
//     with 1001.
func (h *Handler) WebSocket() http.Handler { return http.HandlerFunc(h.serveWS) }

// Close makes both intakes refuse new requests and handshakes (503), closes
// every websocket with 1001 (going away) and waits for their goroutines: a
// batch being taken is finished and answered first. It does not close the
// Sink. http.Server.Shutdown does not wait for hijacked connections, so call
// Close before it. Safe twice and on nil.
func (h *Handler) Close() error {
	if h == nil || h.ws == nil {
		return nil
	}
	s := h.ws
	s.mu.Lock()
	if s.closed.Load() {
		s.mu.Unlock()
		s.wg.Wait()
		return nil
	}
	s.closed.Store(true)
	conns := make([]*wsConn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	for _, c := range conns {
		c.kick(websocket.CloseGoingAway, "server shutting down", "shutdown")
	}
	s.wg.Wait()
	s.cancel()
	return nil
}

// wsState is the websocket side of a Handler.
type wsState struct {
	h        *Handler
	upgrader websocket.Upgrader
	ctx      context.Context // the Sink's, canceled once Close has waited
	cancel   context.CancelFunc
	closed   atomic.Bool // set under mu

	mu       sync.Mutex
	open     int // sockets reserved or open, at most MaxWSConns
	conns    map[*wsConn]struct{}
	sessions map[wsSessionKey]*wsSession
	lru      list.List // of *wsSession, most recently used first
	wg       sync.WaitGroup
}

func newWSState(h *Handler) *wsState {
	s := &wsState{
		h:        h,
		conns:    make(map[*wsConn]struct{}),
		sessions: make(map[wsSessionKey]*wsSession),
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.upgrader = websocket.Upgrader{
		ReadBufferSize:    32 << 10,
		WriteBufferSize:   4 << 10,
		EnableCompression: true,
		// Senders are services, not browsers, and authenticate with signed
		// headers that a browser cannot set on a websocket: a cross-site page
		// can never pass the signature, so Origin proves nothing here.
		CheckOrigin: func(*http.Request) bool { return true },
		Error: func(w http.ResponseWriter, _ *http.Request, status int, reason error) {
			h.m.wsHandshakes.WithLabelValues("upgrade_failed").Inc()
			writeJSON(w, status, wire.ErrorBody{Error: "websocket handshake: " + reason.Error()})
		},
	}
	return s
}

func (s *wsState) isClosed() bool { return s.closed.Load() }

// reserve takes one of the MaxWSConns places and counts the socket's
// goroutines in wg, under the lock that Close takes before it waits.
func (s *wsState) reserve() *refusal {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed.Load() {
		return s.h.busy("closed", "intake closed")
	}
	if s.open >= s.h.opts.MaxWSConns {
		return s.h.busy("too_many_connections",
			fmt.Sprintf("too many websocket connections (%d)", s.h.opts.MaxWSConns))
	}
	s.open++
	s.wg.Add(1)
	return nil
}

func (s *wsState) unreserve() {
	s.mu.Lock()
	s.open--
	s.mu.Unlock()
	s.wg.Done()
}

// register adds a live socket; false when Close came first.
func (s *wsState) register(c *wsConn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed.Load() {
		return false
	}
	s.conns[c] = struct{}{}
	return true
}

func (s *wsState) unregister(c *wsConn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
}

func (s *wsState) numConns() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}

func (s *wsState) numSessions() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.sessions)
}

// wsSessionKey names a session: the same sender and session id under another
// key is another session, so one key cannot move another's sequence.
type wsSessionKey struct{ keyID, sender, session string }

// wsSession is what the server remembers of a session between sockets.
type wsSession struct {
	key  wsSessionKey
	elem *list.Element // under wsState.mu
	refs int           // sockets on it, under wsState.mu; a session in use is not evicted

	// mu is held while a batch is checked against acked, taken and acked
	// moved, so that two sockets on one session never take a batch twice.
	mu    sync.Mutex
	owner *wsConn       // the newest socket, under mu
	acked atomic.Uint64 // written under mu
}

// attach finds or creates the session and holds it; found says it existed.
func (s *wsState) attach(key wsSessionKey) (sess *wsSession, found bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if sess, found = s.sessions[key]; found {
		s.lru.MoveToFront(sess.elem)
	} else {
		sess = &wsSession{key: key}
		sess.elem = s.lru.PushFront(sess)
		s.sessions[key] = sess
		s.evictLocked()
	}
	sess.refs++
	return sess, found
}

// evictLocked forgets the least recently used idle sessions past WSSessions.
// Sessions with a socket are kept, so the map may exceed the bound by at most
// MaxWSConns.
func (s *wsState) evictLocked() {
	for e := s.lru.Back(); e != nil && len(s.sessions) > s.h.opts.WSSessions; {
		sess := e.Value.(*wsSession)
		prev := e.Prev()
		if sess.refs == 0 {
			s.lru.Remove(e)
			delete(s.sessions, sess.key)
			s.h.m.wsEvicted.Inc()
		}
		e = prev
	}
}

func (s *wsState) detach(sess *wsSession, c *wsConn) {
	sess.mu.Lock()
	if sess.owner == c {
		sess.owner = nil
	}
	sess.mu.Unlock()
	s.mu.Lock()
	sess.refs--
	s.mu.Unlock()
}

// wsParams are the query parameters of a handshake.
type wsParams struct {
	sender, session, nonce string
}

// signedURI is what a handshake signs: the request-target as sent.
func signedURI(r *http.Request) string {
	if r.RequestURI != "" {
		return r.RequestURI
	}
	return r.URL.RequestURI() // a request built in a test, never sent
}

// wsAccept runs every check of a handshake before any resource is reserved:
// method, upgrade, signature headers, signature over the URI, parameters,
// replay. The signature is remembered only when everything else passed.
func (h *Handler) wsAccept(r *http.Request, now time.Time) (k *liveKey, p wsParams, sig [32]byte, rf *refusal) {
	if h.ws.isClosed() {
		return nil, p, sig, h.busy("closed", "intake closed")
	}
	if r.Method != http.MethodGet {
		return nil, p, sig, refuse(http.StatusMethodNotAllowed, "method", "only GET (a websocket handshake) is allowed")
	}
	if !websocket.IsWebSocketUpgrade(r) {
		return nil, p, sig, refuse(http.StatusBadRequest, "not_websocket", "websocket upgrade required")
	}
	keyID, ts, sig, rf := h.authHeaders(r, now)
	if rf != nil {
		return nil, p, sig, rf
	}
	// An unknown id takes the path and the answer of a bad signature.
	k = h.lookup(keyID)
	if !verify(k.secret, ts, []byte(signedURI(r)), sig) || k == unknownKey {
		return nil, p, sig, refuse(http.StatusUnauthorized, "bad_signature",
			"signature does not match the request URI and timestamp for this key")
	}
	q := r.URL.Query()
	for _, name := range []string{"sender", "session", "nonce"} {
		v := q[name]
		if len(v) != 1 || !wire.ValidID(v[0]) {
			return nil, p, sig, refuse(http.StatusBadRequest, "bad_param",
				fmt.Sprintf("query parameter %s: once, 1 to %d bytes of A-Z a-z 0-9 . _ -", name, wire.MaxWSParamBytes))
		}
	}
	p = wsParams{sender: q.Get("sender"), session: q.Get("session"), nonce: q.Get("nonce")}
	if rf := h.allowRequest(k, now); rf != nil {
		return nil, p, sig, rf
	}
	switch h.replay.add(keyID, sig, now, time.Unix(ts, 0).Add(h.opts.MaxSkew)) {
	case replayed:
		return nil, p, sig, refuse(http.StatusUnauthorized, "replayed", "replayed handshake: this signature was already used")
	case replayFull:
		return nil, p, sig, h.busy("replay_memory_full", "too many recent requests to remember for this key")
	}
	return k, p, sig, nil
}

func (h *Handler) wsRefuse(w http.ResponseWriter, r *http.Request, rf *refusal) {
	h.m.wsHandshakes.WithLabelValues(rf.reason).Inc()
	h.opts.Logger.Debug("intake websocket refused", "status", rf.status, "reason", rf.reason,
		"key", r.Header.Get(wire.HeaderKey), "client", forwarded.ClientAddr(r, h.opts.TrustedProxies).String())
	if rf.retryAfter > 0 {
		secs := int64(math.Ceil(rf.retryAfter.Seconds()))
		w.Header().Set("Retry-After", strconv.FormatInt(max(secs, 1), 10))
	}
	writeJSON(w, rf.status, wire.ErrorBody{Error: rf.msg})
}

func (h *Handler) serveWS(w http.ResponseWriter, r *http.Request) {
	s := h.ws
	k, p, sig, rf := h.wsAccept(r, h.opts.Now())
	if rf == nil {
		if rf = s.reserve(); rf != nil {
			h.replay.forget(sig) // nothing was taken: the sender may retry it
		}
	}
	if rf != nil {
		h.wsRefuse(w, r, rf)
		return
	}
	defer s.unreserve()
	conn, err := s.upgrader.Upgrade(w, r, nil)
	if err != nil {
		return // the upgrader has answered and counted it
	}
	c := &wsConn{
		s:      s,
		conn:   conn,
		key:    k,
		keyID:  k.id,
		remote: forwarded.ClientAddr(r, h.opts.TrustedProxies).String(),
		done:   make(chan struct{}),
		kicked: make(chan struct{}),
	}
	c.hdr = bufio.NewReaderSize(nil, MaxWSHeaderBytes)
	if !s.register(c) {
		c.closeWith(websocket.CloseGoingAway, "server shutting down")
		h.m.wsHandshakes.WithLabelValues("closed").Inc()
		return
	}
	defer s.unregister(c)
	h.m.wsHandshakes.WithLabelValues("ok").Inc()
	if !h.keys.Load().has(k) {
		// SetKeys removed the key between the check and the registration,
		// and may have missed this socket.
		c.closeWith(websocket.ClosePolicyViolation, "intake key revoked")
		h.m.wsDisconnects.WithLabelValues("key_revoked").Inc()
		return
	}
	c.run(wsSessionKey{keyID: k.id, sender: p.sender, session: p.session})
}

// wsConn is one socket. Its handler goroutine reads, takes and answers
// batches in order; a second goroutine pings.
type wsConn struct {
	s      *wsState
	conn   *websocket.Conn
	key    *liveKey
	keyID  string
	remote string // the client's address (forwarded.ClientAddr)
	sess   *wsSession
	hdr    *bufio.Reader // reads the header line of each message

	busyMode  bool // a busy was answered and seq acked+1 has not come again
	inMessage bool // a message is being read: pongs do not extend the deadline

	done      chan struct{} // closed when the read loop ends
	kickOnce  sync.Once
	kicked    chan struct{}
	kickLabel string // metric reason of a kick, set before kicked is closed
}

func (h *Handler) wsReadTimeout() time.Duration {
	return 2*h.opts.WSPingInterval + h.opts.WSWriteTimeout
}

// maxWSMessage bounds a batch message once inflated.
func (h *Handler) maxWSMessage() int64 { return h.opts.MaxBodyBytes + MaxWSHeaderBytes }

func (c *wsConn) run(key wsSessionKey) {
	h := c.s.h
	defer close(c.done)
	defer c.conn.Close()

	// On the wire: a message larger than twice the inflated bound is cut
	// with 1009; one between the two is read to the bound, refused and
	// skipped, so that the stream is not stuck on it.
	c.conn.SetReadLimit(2 * h.maxWSMessage())
	c.conn.EnableWriteCompression(false) // answers are small; see write
	readTimeout := h.wsReadTimeout()
	extend := func(string) error {
		if !c.inMessage {
			_ = c.conn.SetReadDeadline(time.Now().Add(readTimeout))
		}
		return nil
	}
	c.conn.SetPongHandler(extend)
	c.conn.SetPingHandler(func(data string) error {
		_ = extend(data)
		err := c.conn.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(h.opts.WSWriteTimeout))
		if err == websocket.ErrCloseSent {
			return nil
		}
		return err
	})

	sess, found := c.s.attach(key)
	c.sess = sess
	defer c.s.detach(sess, c)
	sess.mu.Lock()
	old := sess.owner
	sess.owner = c
	acked := sess.acked.Load()
	sess.mu.Unlock()
	if old != nil {
		old.kick(websocket.ClosePolicyViolation, "session taken over by a newer connection", "superseded")
	}
	if found {
		h.m.wsResumes.Inc()
	}
	hello := wire.Hello{
		Type:           wire.MsgHello,
		Session:        key.session,
		Acked:          acked,
		MaxBatchBytes:  h.opts.MaxBodyBytes,
		MaxLines:       h.opts.MaxLines,
		PingIntervalMS: h.opts.WSPingInterval.Milliseconds(),
	}
	if c.key.events != nil {
		hello.RateEvents, hello.RateBurst = h.opts.RateEvents, h.opts.RateBurst
	}
	if err := c.write(hello); err != nil {
		h.m.wsDisconnects.WithLabelValues("write_error").Inc()
		return
	}
	go c.pinger()

	reason := c.readLoop(readTimeout)
	select {
	case <-c.kicked:
		reason = c.kickLabel
	default:
	}
	h.m.wsDisconnects.WithLabelValues(reason).Inc()
}

// readLoop takes batches until the socket ends and says why it ended.
func (c *wsConn) readLoop(readTimeout time.Duration) string {
	h := c.s.h
	for {
		select {
		case <-c.kicked:
			c.drain()
			return ""
		default:
		}
		c.inMessage = false
		_ = c.conn.SetReadDeadline(time.Now().Add(readTimeout))
		mt, rd, err := c.conn.NextReader()
		if err != nil {
			switch {
			case errors.Is(err, websocket.ErrReadLimit):
				// gorilla has sent 1009. Read on a moment, so that the
				// sender finishes its write and reads the close frame
				// instead of a reset.
				nc := c.conn.NetConn()
				_ = nc.SetReadDeadline(time.Now().Add(closeGrace))
				_, _ = io.Copy(io.Discard, io.LimitReader(nc, 2*h.maxWSMessage()))
				return "too_large"
			case websocket.IsCloseError(err, websocket.CloseNormalClosure, websocket.CloseGoingAway):
				return "client_closed"
			}
			return "read_error"
		}
		c.inMessage = true
		// The whole message within one read timeout, pongs or not: a slow
		// sender must not hold an in-flight slot for ever.
		_ = c.conn.SetReadDeadline(time.Now().Add(readTimeout))
		if mt != websocket.TextMessage {
			h.m.wsBatches.WithLabelValues("protocol_error").Inc()
			c.fail(websocket.CloseUnsupportedData, "binary messages are not supported: send each batch as a text message")
			return "protocol_error"
		}
		reply, fault, err := c.batch(rd)
		if err != nil {
			return "read_error"
		}
		if reply != nil {
			if err := c.write(reply); err != nil {
				return "write_error"
			}
		}
		if fault != "" {
			h.m.wsBatches.WithLabelValues("protocol_error").Inc()
			c.fail(websocket.CloseProtocolError, fault)
			return "protocol_error"
		}
	}
}

// batch reads one batch message and decides its answer. A protocol fault
// comes back as a reason to close with; err is a failed read of the socket.
// A nil reply without a fault means the socket lost its session.
func (c *wsConn) batch(rd io.Reader) (reply any, fault string, err error) {
	h := c.s.h
	c.hdr.Reset(rd)
	line, err := c.hdr.ReadSlice('\n')
	switch {
	case errors.Is(err, bufio.ErrBufferFull):
		return nil, fmt.Sprintf("batch header longer than %d bytes", MaxWSHeaderBytes), nil
	case err == io.EOF: // a header alone: an empty batch
	case err != nil:
		return nil, "", err
	}
	seq, perr := wire.ParseBatchHeader(line)
	if perr != nil {
		return nil, perr.Error(), nil
	}
	// acked only grows; the final check is under the session's lock.
	acked := c.sess.acked.Load()
	switch {
	case seq <= acked:
		h.m.wsBatches.WithLabelValues("already").Inc()
		return wire.Ack{Type: wire.MsgAck, Seq: seq, Already: true,
			Answer: Answer{Duplicates: []string{}, Rejected: []Rejected{}}}, "", nil
	case seq > acked+1 && c.busyMode:
		return c.busy(seq, "after_busy", h.opts.BusyRetryAfter), "", nil
	case seq > acked+1:
		return nil, fmt.Sprintf("batch seq %d after %d: each new batch must have seq acked+1", seq, acked), nil
	}

	// The message is read into its own room of the memory budget before an
	// in-flight slot is taken, so that a slow sender holds no slot. What the
	// header reader holds past the newline comes first, then the rest; the
	// socket's read deadline bounds the time.
	lenHdr := int64(len(line))
	mem := h.reserve(c.s.ctx)
	defer mem.release()
	body, rf := h.readBody(c.hdr, -1, mem, nil, time.Now())
	switch {
	case rf == nil:
		defer putBody(body, mem)
		h.m.wsBytes.Add(float64(lenHdr + int64(len(body))))
	case rf.reason == "body_too_large":
		h.m.wsBytes.Add(float64(lenHdr + h.opts.MaxBodyBytes + 1))
		rf = refuse(http.StatusRequestEntityTooLarge, "body_too_large",
			fmt.Sprintf("batch body larger than %d bytes", h.opts.MaxBodyBytes))
	case rf.status == http.StatusRequestEntityTooLarge: // can never pass: refused below
	case rf.status == http.StatusServiceUnavailable: // memory_full
		return c.busy(seq, rf.reason, h.opts.BusyRetryAfter), "", nil
	default:
		return nil, "", errors.New(rf.msg) // a failed read of the socket
	}
	if rf == nil && bytes.HasPrefix(body, []byte{0x1f, 0x8b}) { // event.Reader would inflate it unbounded
		rf = refuse(http.StatusBadRequest, "bad_encoding",
			"batch body is gzip: send plain NDJSON (permessage-deflate compresses the socket)")
	}

	if rf == nil {
		if brf := h.takeSlot(c.s.ctx, c.kicked); brf != nil {
			return c.busy(seq, "in_flight", h.opts.BusyRetryAfter), "", nil
		}
		defer h.releaseSlot()
		mem.until = time.Now().Add(h.opts.InFlightWait)
	}

	c.sess.mu.Lock()
	defer c.sess.mu.Unlock()
	if c.sess.owner != c || c.sess.acked.Load() != seq-1 {
		return nil, "", nil // taken over by a newer socket, which is kicking this one
	}
	var ans *Answer
	if rf == nil {
		ans, rf = h.process(c.s.ctx, c.key, body, false, h.opts.Now(), mem)
	}
	if rf != nil && rf.reason == "bad_signature" {
		// SetKeys removed this socket's key: nothing taken, the socket goes.
		c.kick(websocket.ClosePolicyViolation, "intake key revoked", "key_revoked")
		return nil, "", nil
	}
	if rf != nil {
		switch rf.status {
		case http.StatusServiceUnavailable, http.StatusTooManyRequests, http.StatusInternalServerError:
			// Nothing taken; may pass later. A Sink failure is retried
			// rather than lost: the Sink logged it.
			retry := rf.retryAfter
			if retry <= 0 {
				retry = h.opts.BusyRetryAfter
			}
			return c.busy(seq, rf.reason, retry), "", nil
		}
		c.sess.acked.Store(seq) // can never pass: taken, so the stream goes on
		c.busyMode = false
		h.m.wsBatches.WithLabelValues("refused").Inc()
		h.m.wsRefusals.WithLabelValues(rf.reason).Inc()
		h.opts.Logger.Debug("intake websocket batch refused", "status", rf.status, "reason", rf.reason,
			"key", c.keyID, "sender", c.sess.key.sender, "seq", seq)
		return wire.Refused{Type: wire.MsgRefused, Seq: seq, Status: rf.status, Error: rf.msg}, "", nil
	}
	c.sess.acked.Store(seq)
	c.busyMode = false
	h.m.wsBatches.WithLabelValues("acked").Inc()
	return wire.Ack{Type: wire.MsgAck, Seq: seq, Answer: *ans}, "", nil
}

func (c *wsConn) busy(seq uint64, reason string, retry time.Duration) wire.Busy {
	c.busyMode = true
	h := c.s.h
	h.m.wsBatches.WithLabelValues("busy").Inc()
	h.m.wsRefusals.WithLabelValues(reason).Inc()
	ms := max(int64((retry+time.Millisecond-1)/time.Millisecond), 1)
	return wire.Busy{Type: wire.MsgBusy, Seq: seq, RetryAfterMS: ms, Reason: reason}
}

// write sends one JSON message within the write timeout. Large answers (long
// rejected or duplicate lists) are compressed when the peer agreed to it.
func (c *wsConn) write(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	c.conn.EnableWriteCompression(len(b) > 4<<10)
	_ = c.conn.SetWriteDeadline(time.Now().Add(c.s.h.opts.WSWriteTimeout))
	return c.conn.WriteMessage(websocket.TextMessage, b)
}

func (c *wsConn) pinger() {
	h := c.s.h
	t := time.NewTicker(h.opts.WSPingInterval)
	defer t.Stop()
	for {
		select {
		case <-c.done:
			return
		case <-t.C:
			if err := c.conn.WriteControl(websocket.PingMessage, nil, time.Now().Add(h.opts.WSWriteTimeout)); err != nil {
				return // the read deadline ends the socket
			}
		}
	}
}

// kick closes the socket from another goroutine: a close frame now, the
// connection after closeGrace if the peer does not answer it.
func (c *wsConn) kick(code int, reason, label string) {
	c.kickOnce.Do(func() {
		c.kickLabel = label
		close(c.kicked)
		_ = c.conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, reason),
			time.Now().Add(closeGrace))
		netConn := c.conn.NetConn()
		time.AfterFunc(closeGrace, func() { _ = netConn.Close() })
	})
}

// fail tells the peer why, closes with code and waits briefly for the peer's
// close frame, so that the error reaches it before the connection drops.
func (c *wsConn) fail(code int, reason string) {
	c.s.h.opts.Logger.Debug("intake websocket protocol error", "key", c.keyID,
		"sender", c.sess.key.sender, "client", c.remote, "reason", reason)
	_ = c.write(wire.Error{Type: wire.MsgError, Error: reason})
	c.closeWith(code, reason)
	c.drain()
}

func (c *wsConn) closeWith(code int, reason string) {
	if len(reason) > 123 { // a close frame's reason fits in 123 bytes
		reason = reason[:120] + "..."
	}
	_ = c.conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, reason),
		time.Now().Add(closeGrace))
}

// drain reads until the peer's close frame, for at most closeGrace.
func (c *wsConn) drain() {
	_ = c.conn.SetReadDeadline(time.Now().Add(closeGrace))
	for {
		if _, _, err := c.conn.NextReader(); err != nil {
			return
		}
	}
}

var _ http.Handler = (*Handler)(nil)
