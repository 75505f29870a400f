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
	send  chan []byte
	first [][]byte // written before anything queued: the snapshot or the backlog

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
// 400 (since), 503 (closed).
func (h *Hub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	now := h.opts.Now()
	if origin := r.Header.Get("Origin"); origin != "" && !h.origins[origin] {
		h.m.auth.WithLabelValues(failOrigin).Inc()
		http.Error(w, "origin not allowed", http.StatusForbidden)
		return
	}
	addr := remoteHost(r)
	if wait, blocked := h.limiter.blocked(addr, now); blocked {
		h.m.auth.WithLabelValues(failRateLimited).Inc()
		w.Header().Set("Retry-After", strconv.Itoa(int(wait.Seconds()+0.999)))
		http.Error(w, "too many bad tokens", http.StatusTooManyRequests)
		return
	}
	secret, viaProtocol := presented(r)
	if secret == "" {
		h.m.auth.WithLabelValues(failMissing).Inc()
		h.limiter.strike(addr, now)
		w.Header().Set("WWW-Authenticate", `Bearer realm="ronda"`)
		http.Error(w, "missing bearer token", http.StatusUnauthorized)
		return
	}
	tok, ok := h.lookup(secret)
	if !ok {
		h.m.auth.WithLabelValues(failBad).Inc()
		h.limiter.strike(addr, now)
		w.Header().Set("WWW-Authenticate", `Bearer realm="ronda", error="invalid_token"`)
		http.Error(w, "invalid token", http.StatusUnauthorized)
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
	case viaProtocol:
		// A browser that offered only its token must get one of its offers back.
		hdr = http.Header{"Sec-Websocket-Protocol": {tokenProtocolPrefix + secret}}
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
	c := &client{conn: conn, name: tok.Name, role: tok.Role,
		send: make(chan []byte, h.opts.SendQueue), kicked: make(chan struct{})}
	if !h.register(c, since, resume) {
		_ = conn.WriteControl(websocket.CloseMessage,
			websocket.FormatCloseMessage(websocket.CloseGoingAway, "hub closing"), time.Now().Add(time.Second))
		_ = conn.Close()
		return
	}
	go h.writeLoop(c)
	go h.readLoop(c)
}

// register adds c and fixes what it gets first, under the same lock that
// publishes, so that nothing is lost or sent twice between the two.
func (h *Hub) register(c *client, since uint64, resume bool) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return false
	}
	resumed := false
	if resume {
		c.first, resumed = h.ring.since(since, h.seq)
	}
	if !resumed {
		c.first = [][]byte{h.snapshotLocked()}
	}
	h.clients[c] = struct{}{}
	h.m.sockets.Inc()
	h.wg.Add(2) // under the lock that Close takes before it waits
	return true
}

// snapshotLocked encodes the open alerts, oldest first, as of h.seq.
func (h *Hub) snapshotLocked() []byte {
	now := h.opts.Now()
	alerts := make([]snapAlert, 0, len(h.alerts))
	for _, st := range h.alerts {
		alerts = append(alerts, snapAlert{Alert: st.alert, State: st.view(now)})
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

// writeLoop owns the socket's writes: what comes first, then the queue, pings,
// and the close frame when kicked.
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
	for _, msg := range c.first {
		select {
		case <-c.kicked:
			h.closeFrame(c)
			return
		default:
		}
		if !write(msg) {
			return
		}
	}
	c.first = nil
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
			if err := c.conn.WriteControl(websocket.PingMessage, nil, time.Now().Add(h.opts.WriteTimeout)); err != nil {
				h.leave(c)
				return
			}
		}
	}
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
