package hub

import (
	"errors"
	"net/http"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// client is one moderator socket: a reader goroutine that handles actions and a
// writer goroutine that owns every data write.
type client struct {
	conn  *websocket.Conn
	name  string
	role  string
	hash  string      // the token's, to close the socket when SetTokens removes it
	send  chan []byte // live messages, bounded: full is too slow
	first []byte      // the snapshot, written before anything else

	// A resumed socket catches up before it goes live: its writer pulls the
	// backlog from the ring as fast as the socket takes it, and broadcasts
	// skip its queue meanwhile. Guarded by the hub's lock.
	catchingUp bool
	cursor     uint64  // the last sequence number pulled
	replies    []reply // its own acks and errors, held until the stream reaches them

	once   sync.Once
	kicked chan struct{}
	code   int
	reason string
}

// kick asks the writer to close the socket with code and reason. It never
// blocks: a writer stuck on a peer that does not read is unblocked by closing
// the connection after one write timeout.
func (c *client) kick(code int, reason string) {
	c.once.Do(func() {
		c.code, c.reason = code, reason
		close(c.kicked)
	})
}

// ServeHTTP upgrades an authenticated request at Path to a moderator socket.
// Refusals: 403 (Origin), 401 (token), 429 (too many bad tokens, Retry-After),
// 400 (since; a token subprotocol offered without Subprotocol), 503 (closed).
//
// The answer never echoes a token: a browser that sends its token as a
// ronda.token.* subprotocol must offer Subprotocol beside it, and gets that.
func (h *Hub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	who, ok := h.admit(w, r)
	if !ok {
		return
	}
	since, resume := uint64(0), false
	if s := r.URL.Query().Get("since"); s != "" {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			http.Error(w, "since must be a sequence number", http.StatusBadRequest)
			return
		}
		since, resume = v, true
	}
	var hdr http.Header
	switch {
	case offers(r, Subprotocol):
		hdr = http.Header{"Sec-Websocket-Protocol": {Subprotocol}}
	case who.viaProtocol:
		// A browser must get one of its offers back, and the only other one
		// is the token.
		http.Error(w, "offer the "+Subprotocol+" subprotocol beside "+tokenProtocolPrefix+"*", http.StatusBadRequest)
		return
	}
	h.mu.Lock()
	closed := h.closed
	h.mu.Unlock()
	if closed {
		http.Error(w, "hub closed", http.StatusServiceUnavailable)
		return
	}
	conn, err := h.upgrader.Upgrade(w, r, hdr)
	if err != nil {
		return // the upgrader has answered
	}
	c := &client{conn: conn, name: who.Name, role: who.Role, hash: who.SHA256,
		send: make(chan []byte, h.opts.SendQueue), kicked: make(chan struct{})}
	if code, reason := h.register(c, since, resume); code != 0 {
		_ = conn.WriteControl(websocket.CloseMessage,
			websocket.FormatCloseMessage(code, reason), time.Now().Add(time.Second))
		_ = conn.Close()
		return
	}
	go h.writeLoop(c)
	go h.readLoop(c)
}

// register adds c and fixes what it gets first, under the same lock that
// publishes, so that nothing is lost or sent twice between the two. It refuses,
// with a close code and reason, when the hub closed or SetTokens took the
// socket's token away since it was admitted.
func (h *Hub) register(c *client, since uint64, resume bool) (code int, reason string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return websocket.CloseGoingAway, "hub closing"
	}
	if code, reason := h.tokens.Load().still(c); code != 0 {
		return code, reason
	}
	switch {
	case resume && since == h.seq:
		// Nothing missed: live at once.
	case resume && since < h.seq && h.ring.holds(since+1):
		c.catchingUp, c.cursor = true, since
	default:
		// New, away too long, or from the future (a restarted hub).
		c.first = h.snapshotLocked()
	}
	h.clients[c] = struct{}{}
	h.m.sockets.Inc()
	h.wg.Add(2) // under the lock that Close takes before it waits
	return 0, ""
}

// snapshotLocked encodes the open alerts, oldest first, as of h.seq.
func (h *Hub) snapshotLocked() []byte {
	now := h.opts.Now()
	alerts := make([]snapAlert, 0, len(h.alerts))
	for _, st := range h.alerts {
		alerts = append(alerts, snapAlert{Alert: st.alert, State: st.view(now, true)})
	}
	sort.Slice(alerts, func(i, j int) bool {
		if !alerts[i].Alert.At.Equal(alerts[j].Alert.At) {
			return alerts[i].Alert.At.Before(alerts[j].Alert.At)
		}
		return alerts[i].Alert.ID < alerts[j].Alert.ID
	})
	b := encode(outMsg{Type: "snapshot", Seq: h.seq, Alerts: alerts})
	if len(alerts) == 0 {
		// Keep "alerts":[] so consoles need not special-case an empty hub.
		b = []byte(`{"type":"snapshot","seq":` + strconv.FormatUint(h.seq, 10) + `,"alerts":[]}`)
	}
	return b
}

// writeLoop owns the socket's writes: the snapshot or the backlog, then the
// live queue, pings, and the close frame when kicked.
func (h *Hub) writeLoop(c *client) {
	defer h.wg.Done()
	ping := time.NewTicker(h.opts.PingInterval)
	defer ping.Stop()
	// Unblock a write stuck on a peer that does not read, once kicked.
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		select {
		case <-c.kicked:
			t := time.NewTimer(time.Second)
			defer t.Stop()
			select {
			case <-t.C:
				_ = c.conn.Close()
			case <-stop:
			}
		case <-stop:
		}
	}()
	defer c.conn.Close()
	write := func(msg []byte) bool {
		_ = c.conn.SetWriteDeadline(time.Now().Add(h.opts.WriteTimeout))
		if err := c.conn.WriteMessage(websocket.TextMessage, msg); err != nil {
			h.leave(c)
			return false
		}
		h.m.sent.Inc()
		return true
	}
	pingPeer := func() bool {
		if err := c.conn.WriteControl(websocket.PingMessage, nil, time.Now().Add(h.opts.WriteTimeout)); err != nil {
			h.leave(c)
			return false
		}
		return true
	}
	// Set before this goroutine started; from here on only pull changes them.
	first, catchingUp := c.first, c.catchingUp
	c.first = nil
	if first != nil {
		select {
		case <-c.kicked:
			h.closeFrame(c)
			return
		default:
		}
		if !write(first) {
			return
		}
	}
	for catchingUp {
		select {
		case <-c.kicked:
			h.closeFrame(c)
			return
		case <-ping.C:
			if !pingPeer() {
				return
			}
		default:
		}
		msg, live := h.pull(c)
		catchingUp = !live
		if msg != nil && !write(msg) {
			return
		}
	}
	for {
		select {
		case <-c.kicked:
			h.closeFrame(c)
			return
		case msg := <-c.send:
			if !write(msg) {
				return
			}
		case <-ping.C:
			if !pingPeer() {
				return
			}
		}
	}
}

// pull gives the writer of a socket that is catching up its next message: a
// reply of its own that is due, else the next message from the ring. live is
// true when the socket has caught up: from then on its messages go through its
// queue, and msg, if any, is the last one pulled.
//
// If the ring has moved past the socket's cursor, the socket gets what one
// that was away too long gets: a fresh snapshot, and it is live after it, so a
// socket that cannot keep up meets the bound of its queue. Its held replies go
// just before the snapshot: their state is older than the snapshot's, and
// sequence numbers never go back.
func (h *Hub) pull(c *client) (msg []byte, live bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if r := c.replies; len(r) > 0 && r[0].seq <= c.cursor {
		c.replies = r[1:]
		return r[0].msg, false
	}
	if c.cursor == h.seq {
		// Every reply has a sequence number up to h.seq: none is left.
		c.catchingUp = false
		return nil, true
	}
	next := c.cursor + 1
	msg, ok := h.ring.at(next)
	if !ok {
		if r := c.replies; len(r) > 0 {
			c.replies = r[1:]
			return r[0].msg, false
		}
		c.catchingUp, c.cursor = false, h.seq
		return h.snapshotLocked(), true
	}
	c.cursor = next
	if r := c.replies; len(r) > 0 && r[0].seq == next && r[0].ack {
		// The sender's copy of its own action message.
		c.replies = r[1:]
		msg = r[0].msg
	}
	return msg, false
}

func (h *Hub) closeFrame(c *client) {
	_ = c.conn.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(c.code, c.reason),
		time.Now().Add(time.Second))
}

// leave unregisters a socket that failed or went away.
func (h *Hub) leave(c *client) {
	h.mu.Lock()
	h.dropLocked(c, websocket.CloseNormalClosure, "")
	h.mu.Unlock()
}

// readLoop reads actions until the socket fails, then makes the writer stop.
func (h *Hub) readLoop(c *client) {
	defer h.wg.Done()
	defer h.leave(c)
	wait := 2 * h.opts.PingInterval
	c.conn.SetReadLimit(h.opts.MaxMessage)
	_ = c.conn.SetReadDeadline(time.Now().Add(wait))
	c.conn.SetPongHandler(func(string) error {
		return c.conn.SetReadDeadline(time.Now().Add(wait))
	})
	for {
		typ, b, err := c.conn.ReadMessage()
		if err != nil {
			if errors.Is(err, websocket.ErrReadLimit) {
				c.kick(websocket.CloseMessageTooBig, "message too big")
			}
			return
		}
		_ = c.conn.SetReadDeadline(time.Now().Add(wait))
		if typ != websocket.TextMessage {
			h.refuse(c, "", "bad_message", "send text frames")
			continue
		}
		h.handle(c, b)
	}
}
