package intaketest

import (
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ronda-watch/ronda/sidecar/intake/wire"
)

// Handler is what a Server serves: an intake.Handler's POST intake, its
// websocket intake, and its Close.
type Handler interface {
	http.Handler
	WebSocket() http.Handler
	Close() error
}

// Server serves a Handler's two intakes (wire.Path, wire.WSPath) on a
// loopback address that survives Down and Up, so that a client finds it
// again, and can cut every connection, hijacked websockets included.
type Server struct {
	t    testing.TB
	h    atomic.Pointer[Handler]
	addr string

	mu  sync.Mutex
	ln  *trackListener
	srv *http.Server
}

// Start serves h on a free loopback port until the test ends; then the
// Handler served last is closed and the server is taken down.
func Start(t testing.TB, h Handler) *Server {
	t.Helper()
	s := &Server{t: t}
	s.h.Store(&h)
	s.Up()
	t.Cleanup(func() {
		s.Handler().Close()
		s.Down()
	})
	return s
}

// Handler is the Handler served now.
func (s *Server) Handler() Handler { return *s.h.Load() }

// Swap serves h from the next request on: a restarted intake on the same
// address. The Handler it replaces is not closed.
func (s *Server) Swap(h Handler) { s.h.Store(&h) }

// Addr is the host:port served.
func (s *Server) Addr() string { return s.addr }

// URL is the base of a websocket client's URL: ws://host:port.
func (s *Server) URL() string { return "ws://" + s.addr }

// Up listens again on the same address (any port the first time).
func (s *Server) Up() {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	addr := s.addr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	var ln net.Listener
	var err error
	for range 100 { // the port may linger a moment after Down
		if ln, err = net.Listen("tcp", addr); err == nil {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err != nil {
		s.t.Fatal(err)
	}
	s.addr = ln.Addr().String()
	s.ln = &trackListener{Listener: ln, conns: make(map[*trackedConn]struct{})}
	mux := http.NewServeMux()
	mux.HandleFunc(wire.Path, func(w http.ResponseWriter, r *http.Request) { s.Handler().ServeHTTP(w, r) })
	mux.HandleFunc(wire.WSPath, func(w http.ResponseWriter, r *http.Request) { s.Handler().WebSocket().ServeHTTP(w, r) })
	s.srv = &http.Server{Handler: mux}
	go s.srv.Serve(s.ln)
}

// Down stops listening and cuts every connection.
func (s *Server) Down() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.srv == nil {
		return
	}
	s.srv.Close()
	s.ln.cut()
	s.srv, s.ln = nil, nil
}

// Cut drops every open connection; the listener stays. It returns how many
// there were.
func (s *Server) Cut() int {
	s.mu.Lock()
	ln := s.ln
	s.mu.Unlock()
	if ln == nil {
		return 0
	}
	return ln.cut()
}

// trackListener remembers the server side of every connection, so that a
// test can cut them all (hijacked websockets included).
type trackListener struct {
	net.Listener
	mu    sync.Mutex
	conns map[*trackedConn]struct{}
}

type trackedConn struct {
	net.Conn
	l *trackListener
}

func (c *trackedConn) Close() error {
	c.l.mu.Lock()
	delete(c.l.conns, c)
	c.l.mu.Unlock()
	return c.Conn.Close()
}

func (l *trackListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	tc := &trackedConn{Conn: c, l: l}
	l.mu.Lock()
	l.conns[tc] = struct{}{}
	l.mu.Unlock()
	return tc, nil
}

func (l *trackListener) cut() int {
	l.mu.Lock()
	conns := make([]*trackedConn, 0, len(l.conns))
	for c := range l.conns {
		conns = append(conns, c)
	}
	l.mu.Unlock()
	for _, c := range conns {
		c.Close()
	}
	return len(conns)
}
