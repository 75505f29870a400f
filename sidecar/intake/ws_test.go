package intake

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/ronda-watch/ronda/analyzer/event"
	"github.com/ronda-watch/ronda/sidecar/intake/intaketest"
	"github.com/ronda-watch/ronda/sidecar/intake/wire"
)

// wsServer is a Handler on an intaketest.Server, with its recording sink
// and its registry.
type wsServer struct {
	*intaketest.Server
	sink *intaketest.Sink
	reg  *prometheus.Registry
}

func newWSServer(t *testing.T, edit func(*Options)) *wsServer {
	t.Helper()
	s := &wsServer{sink: intaketest.NewSink(), reg: prometheus.NewRegistry()}
	opts := Options{
		Keys:       map[string][]byte{"k1": key1, "k2": key2},
		Sink:       s.sink.Take,
		Registerer: s.reg,
		RateEvents: -1,
		Logger:     intaketest.Logger(),
	}
	if edit != nil {
		edit(&opts)
	}
	h, err := NewHandler(opts)
	if err != nil {
		t.Fatal(err)
	}
	s.Server = intaketest.Start(t, h)
	return s
}

func (s *wsServer) handler() *Handler { return s.Handler().(*Handler) }

// handshakeURL is the handshake URL of a session with a fresh nonce.
func (s *wsServer) handshakeURL(sender, session string) *url.URL {
	u := &url.URL{Scheme: "ws", Host: s.Addr(), Path: WSPath}
	u.RawQuery = url.Values{"sender": {sender}, "session": {session}, "nonce": {wire.NewID()}}.Encode()
	return u
}

// dialRaw opens a websocket with a gorilla client; sign sets the headers
// for the request URI (nil: unsigned).
func (s *wsServer) dialRaw(u *url.URL, sign func(h http.Header, uri string)) (*websocket.Conn, *http.Response, error) {
	h := http.Header{}
	if sign != nil {
		sign(h, u.RequestURI())
	}
	d := websocket.Dialer{HandshakeTimeout: 30 * time.Second, EnableCompression: true}
	return d.Dial(u.String(), h)
}

func signK1(h http.Header, uri string) { wire.SignHandshake(h, "k1", key1, uri, time.Now()) }

// rawSession is a websocket opened by hand, for protocol tests.
type rawSession struct {
	t     *testing.T
	conn  *websocket.Conn
	hello wire.ServerMsg
}

// open connects a session with k1 and reads the hello.
func (s *wsServer) open(t *testing.T, sender, session string) *rawSession {
	t.Helper()
	conn, resp, err := s.dialRaw(s.handshakeURL(sender, session), signK1)
	if err != nil {
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		t.Fatalf("dial: %v (status %d)", err, status)
	}
	r := &rawSession{t: t, conn: conn}
	t.Cleanup(func() { conn.Close() })
	r.hello = r.read()
	if r.hello.Type != wire.MsgHello {
		t.Fatalf("first message %+v, want hello", r.hello)
	}
	return r
}

func (r *rawSession) send(msg string) {
	r.t.Helper()
	if err := r.conn.WriteMessage(websocket.TextMessage, []byte(msg)); err != nil {
		r.t.Fatal(err)
	}
}

func (r *rawSession) read() wire.ServerMsg {
	r.t.Helper()
	_ = r.conn.SetReadDeadline(time.Now().Add(time.Minute))
	_, data, err := r.conn.ReadMessage()
	if err != nil {
		r.t.Fatalf("read: %v", err)
	}
	m, err := wire.ParseServerMsg(data)
	if err != nil {
		r.t.Fatalf("%v: %s", err, data)
	}
	return m
}

// closed reads until the socket closes and returns the close code and text.
func (r *rawSession) closed() (int, string) {
	r.t.Helper()
	_ = r.conn.SetReadDeadline(time.Now().Add(time.Minute))
	for {
		_, _, err := r.conn.ReadMessage()
		if err == nil {
			continue
		}
		var ce *websocket.CloseError
		if !errors.As(err, &ce) {
			r.t.Fatalf("socket ended without a close frame: %v", err)
		}
		return ce.Code, ce.Text
	}
}

func wsBatch(seq uint64, lines ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "{\"seq\":%d}\n", seq)
	for _, l := range lines {
		b.WriteString(l)
		b.WriteByte('\n')
	}
	return b.String()
}

func TestWSBatchAcked(t *testing.T) {
	t.Parallel()
	s := newWSServer(t, nil)
	r := s.open(t, "edge-1", "s1")
	if r.hello.Acked != 0 || r.hello.MaxLines != DefaultMaxLines || r.hello.MaxBatchBytes != DefaultMaxBodyBytes {
		t.Errorf("hello %+v", r.hello)
	}
	r.send(wsBatch(1, chat("w1"), `{"id":"w2","type":"chat"}`, "", `{"id":"w3","type":"vote","at":"2025-06-02T13:05:00Z"}`, chat("w1"), chat("w4")))
	a := r.read()
	if a.Type != wire.MsgAck || a.Seq != 1 || a.Accepted != 2 || a.Unknown != 1 || len(a.Rejected) != 1 ||
		a.Rejected[0].Line != 2 || strings.Join(a.Duplicates, ",") != "w1" {
		t.Fatalf("ack %+v", a)
	}
	// The same id over POST is the same event.
	resp := postTo(t, "http://"+s.Addr(), batch(chat("w4"), chat("w5")))
	if resp.Accepted != 1 || strings.Join(resp.Duplicates, ",") != "w4" {
		t.Fatalf("POST after websocket: %+v", resp)
	}
	r.send(wsBatch(2)) // a header alone is an empty batch
	if a := r.read(); a.Type != wire.MsgAck || a.Seq != 2 || a.Accepted != 0 {
		t.Fatalf("empty batch: %+v", a)
	}
	s.sink.CheckOnce(t, []string{"w1", "w4", "w5"})
	if n := testutil.ToFloat64(s.handler().m.wsBatches.WithLabelValues("acked")); n != 2 {
		t.Errorf("acked batches %v", n)
	}
}

// postTo sends a signed POST batch and decodes the 200 answer.
func postTo(t *testing.T, base string, body []byte) Answer {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, base+Path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	signed(req, body)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("POST: %d %s", resp.StatusCode, raw)
	}
	var a Answer
	if err := json.Unmarshal(raw, &a); err != nil {
		t.Fatalf("%v: %s", err, raw)
	}
	return a
}

// TestWSAlreadyTaken is an ack lost after its batch was taken, seen from the
// server: the hello of the next socket says the batch was taken, and a
// sender that resends it anyway gets it acked again, not taken twice.
func TestWSAlreadyTaken(t *testing.T) {
	t.Parallel()
	s := newWSServer(t, nil)
	r := s.open(t, "edge-1", "s1")
	r.send(wsBatch(1, chat("a1"), chat("a2")))
	if a := r.read(); a.Type != wire.MsgAck || a.Accepted != 2 {
		t.Fatalf("%+v", a)
	}
	r.conn.Close()

	r = s.open(t, "edge-1", "s1")
	if r.hello.Acked != 1 {
		t.Fatalf("hello after a reconnect: acked %d, want 1", r.hello.Acked)
	}
	r.send(wsBatch(1, chat("a1"), chat("a2")))
	a := r.read()
	if a.Type != wire.MsgAck || a.Seq != 1 || !a.Already || a.Accepted != 0 {
		t.Fatalf("resent batch: %+v", a)
	}
	r.send(wsBatch(2, chat("a3")))
	if a := r.read(); a.Type != wire.MsgAck || a.Seq != 2 || a.Already || a.Accepted != 1 {
		t.Fatalf("next batch: %+v", a)
	}
	s.sink.CheckOnce(t, []string{"a1", "a2", "a3"})
	h := s.handler()
	if n := testutil.ToFloat64(h.m.wsBatches.WithLabelValues("already")); n != 1 {
		t.Errorf("already = %v", n)
	}
	if n := testutil.ToFloat64(h.m.wsResumes); n != 1 {
		t.Errorf("resumes = %v", n)
	}
	// Another key's session of the same name is another session.
	conn, _, err := s.dialRaw(s.handshakeURL("edge-1", "s1"), func(h http.Header, uri string) {
		wire.SignHandshake(h, "k2", key2, uri, time.Now())
	})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	other := &rawSession{t: t, conn: conn}
	if hello := other.read(); hello.Acked != 0 {
		t.Errorf("k2's session edge-1/s1 starts at %d", hello.Acked)
	}
}

func TestWSBusy(t *testing.T) {
	t.Parallel()
	s := newWSServer(t, func(o *Options) { o.BusyRetryAfter = 1500 * time.Millisecond })
	var busy atomic.Bool
	s.sink.SetHook(func(int64, []event.Event) error {
		if busy.Load() {
			return ErrBusy
		}
		return nil
	})
	r := s.open(t, "edge-1", "s1")
	busy.Store(true)
	r.send(wsBatch(1, chat("b1")))
	r.send(wsBatch(2, chat("b2"))) // in the window behind it
	a := r.read()
	if a.Type != wire.MsgBusy || a.Seq != 1 || a.RetryAfterMS != 1500 || a.Reason != "sink_busy" {
		t.Fatalf("busy sink: %+v", a)
	}
	if a := r.read(); a.Type != wire.MsgBusy || a.Seq != 2 || a.Reason != "after_busy" {
		t.Fatalf("batch after a busy one: %+v", a)
	}
	busy.Store(false)
	r.send(wsBatch(1, chat("b1")))
	r.send(wsBatch(2, chat("b2")))
	for seq := uint64(1); seq <= 2; seq++ {
		if a := r.read(); a.Type != wire.MsgAck || a.Seq != seq || a.Accepted != 1 || len(a.Duplicates) != 0 {
			t.Fatalf("resent %d: %+v", seq, a)
		}
	}
	s.sink.CheckOnce(t, []string{"b1", "b2"})
}

func TestWSRateLimited(t *testing.T) {
	t.Parallel()
	s := newWSServer(t, func(o *Options) {
		o.RateEvents = 10
		o.RateBurst = 20
		o.MaxLines = 20
	})
	r := s.open(t, "edge-1", "s1")
	if r.hello.RateBurst != 20 || r.hello.RateEvents != 10 {
		t.Fatalf("hello %+v", r.hello)
	}
	lines := func(prefix string, n int) []string {
		var l []string
		for i := range n {
			l = append(l, chat(fmt.Sprintf("%s%d", prefix, i)))
		}
		return l
	}
	r.send(wsBatch(1, lines("r", 20)...))
	if a := r.read(); a.Type != wire.MsgAck || a.Accepted != 20 {
		t.Fatalf("burst: %+v", a)
	}
	r.send(wsBatch(2, lines("q", 5)...))
	a := r.read()
	if a.Type != wire.MsgBusy || a.Reason != "rate_limited" || a.RetryAfterMS < 1 || a.RetryAfterMS > 1000 {
		t.Fatalf("over the rate: %+v", a)
	}
	// Larger than the burst: can never pass, refused and counted as taken.
	// (k2 has its own bucket, still full.)
	conn, _, err := s.dialRaw(s.handshakeURL("edge-1", "s1"), func(h http.Header, uri string) {
		wire.SignHandshake(h, "k2", key2, uri, time.Now())
	})
	if err != nil {
		t.Fatal(err)
	}
	r2 := &rawSession{t: t, conn: conn}
	defer conn.Close()
	r2.read()
	r2.send(wsBatch(1, lines("x", 21)...))
	if a := r2.read(); a.Type != wire.MsgRefused || a.Seq != 1 || a.Status != 413 || !strings.Contains(a.Error, "more than 20 lines") {
		t.Fatalf("over the burst: %+v", a)
	}
	r2.send(wsBatch(2, lines("y", 3)...))
	if a := r2.read(); a.Type != wire.MsgAck || a.Seq != 2 || a.Accepted != 3 {
		t.Fatalf("after a refused batch: %+v", a)
	}
}

// TestWSHandshakeRefused sends each bad handshake, checks its answer and
// metric, then that a valid socket still works.
func TestWSHandshakeRefused(t *testing.T) {
	t.Parallel()
	now := time.Now()
	signAt := func(keyID string, secret []byte, at time.Time) func(http.Header, string) {
		return func(h http.Header, uri string) { wire.SignHandshake(h, keyID, secret, uri, at) }
	}
	query := func(kv ...string) *url.URL {
		u := &url.URL{Path: WSPath}
		q := url.Values{}
		for i := 0; i < len(kv); i += 2 {
			q.Add(kv[i], kv[i+1])
		}
		u.RawQuery = q.Encode()
		return u
	}
	cases := []struct {
		name    string
		url     func(s *wsServer) *url.URL
		sign    func(http.Header, string)
		plain   bool // a plain GET, not an upgrade
		status  int
		reason  string
		message string
	}{
		{"missing signature", nil, nil, false, 401, "no_signature", "missing signature"},
		{"wrong secret", nil, signAt("k1", []byte("not-the-secret-at-all"), now), false, 401, "bad_signature", "does not match"},
		{"other key's secret", nil, signAt("k2", key1, now), false, 401, "bad_signature", "does not match"},
		{"unknown key", nil, signAt("k9", key1, now), false, 401, "bad_signature", "does not match"},
		{"expired", nil, signAt("k1", key1, now.Add(-10*time.Minute)), false, 401, "expired", "replay window"},
		{"from the future", nil, signAt("k1", key1, now.Add(10*time.Minute)), false, 401, "expired", "replay window"},
		{"tampered query", nil, func(h http.Header, uri string) {
			signK1(h, strings.Replace(uri, "sender=edge-1", "sender=edge-2", 1))
		}, false, 401, "bad_signature", "does not match"},
		{"bad sender", func(*wsServer) *url.URL {
			return query("sender", "edge 1/..", "session", "s1", "nonce", "n1234567")
		}, signK1, false, 400, "bad_param", "sender"},
		{"long session", func(*wsServer) *url.URL {
			return query("sender", "e", "session", strings.Repeat("s", 65), "nonce", "n1234567")
		}, signK1, false, 400, "bad_param", "session"},
		{"no nonce", func(*wsServer) *url.URL {
			return query("sender", "e", "session", "s1")
		}, signK1, false, 400, "bad_param", "nonce"},
		{"two senders", func(*wsServer) *url.URL {
			return query("sender", "a", "sender", "b", "session", "s1", "nonce", "n1234567")
		}, signK1, false, 400, "bad_param", "sender"},
		{"not an upgrade", nil, signK1, true, 400, "not_websocket", "websocket upgrade required"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			s := newWSServer(t, nil)
			u := s.handshakeURL("edge-1", "s1")
			if c.url != nil {
				u = c.url(s)
				u.Scheme, u.Host = "ws", s.Addr()
			}
			var status int
			var body []byte
			if c.plain {
				req, _ := http.NewRequest(http.MethodGet, "http://"+s.Addr()+u.RequestURI(), nil)
				c.sign(req.Header, u.RequestURI())
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				body, _ = io.ReadAll(resp.Body)
				resp.Body.Close()
				status = resp.StatusCode
			} else {
				conn, resp, err := s.dialRaw(u, c.sign)
				if err == nil {
					conn.Close()
					t.Fatal("handshake accepted")
				}
				if resp == nil {
					t.Fatalf("no HTTP answer: %v", err)
				}
				status = resp.StatusCode
				body, _ = io.ReadAll(resp.Body)
				if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
					t.Errorf("content type %q", ct)
				}
			}
			var m wire.ErrorBody
			err := json.Unmarshal(body, &m)
			if status != c.status || err != nil || !strings.Contains(m.Error, c.message) {
				t.Fatalf("got %d %s, want %d with %q", status, body, c.status, c.message)
			}
			if n := testutil.ToFloat64(s.handler().m.wsHandshakes.WithLabelValues(c.reason)); n != 1 {
				t.Errorf("ronda_intake_ws_handshakes_total{result=%q} = %v", c.reason, n)
			}
			r := s.open(t, "edge-1", "s1")
			r.send(wsBatch(1, chat("ok")))
			if a := r.read(); a.Type != wire.MsgAck || a.Accepted != 1 {
				t.Fatalf("valid socket after a refusal: %+v", a)
			}
		})
	}
}

func TestWSHandshakeReplayed(t *testing.T) {
	t.Parallel()
	s := newWSServer(t, nil)
	u := s.handshakeURL("edge-1", "s1")
	h := http.Header{}
	signK1(h, u.RequestURI())
	d := websocket.Dialer{}
	conn, _, err := d.Dial(u.String(), h)
	if err != nil {
		t.Fatal(err)
	}
	conn.Close()
	_, resp, err := d.Dial(u.String(), h) // the very same handshake again
	if err == nil || resp == nil || resp.StatusCode != 401 {
		t.Fatalf("replayed handshake: %v %v", err, resp)
	}
	body, _ := io.ReadAll(resp.Body)
	if !strings.Contains(string(body), "replayed") {
		t.Errorf("answer %s", body)
	}
	s.open(t, "edge-1", "s1") // a fresh nonce passes
}

// TestWSProtocolErrors sends each message that breaks the protocol: the
// socket gets an error message then a close with a reason; the session and
// the server go on.
func TestWSProtocolErrors(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		send    func(r *rawSession)
		code    int
		message string
	}{
		{"malformed header", func(r *rawSession) { r.send("seq=1\n" + chat("p1") + "\n") }, websocket.CloseProtocolError, "malformed batch header"},
		{"header without seq", func(r *rawSession) { r.send(`{"sequence":1}` + "\n") }, websocket.CloseProtocolError, "seq must be"},
		{"seq zero", func(r *rawSession) { r.send(`{"seq":0}` + "\n") }, websocket.CloseProtocolError, "seq must be"},
		{"negative seq", func(r *rawSession) { r.send(`{"seq":-1}` + "\n") }, websocket.CloseProtocolError, "malformed batch header"},
		{"long header", func(r *rawSession) { r.send(`{"seq":1,"x":"` + strings.Repeat("x", 2000) + `"}` + "\n") }, websocket.CloseProtocolError, "header longer"},
		{"seq gap", func(r *rawSession) { r.send(wsBatch(3, chat("p1"))) }, websocket.CloseProtocolError, "seq 3 after 0"},
		{"binary message", func(r *rawSession) {
			if err := r.conn.WriteMessage(websocket.BinaryMessage, []byte(wsBatch(1, chat("p1")))); err != nil {
				r.t.Fatal(err)
			}
		}, websocket.CloseUnsupportedData, "binary"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			s := newWSServer(t, nil)
			r := s.open(t, "edge-1", "s1")
			c.send(r)
			if m := r.read(); m.Type != wire.MsgError || !strings.Contains(m.Error, c.message) {
				t.Fatalf("error message %+v, want %q", m, c.message)
			}
			code, text := r.closed()
			if code != c.code || !strings.Contains(text, c.message) {
				t.Fatalf("closed with %d %q, want %d with %q", code, text, c.code, c.message)
			}
			if n := testutil.ToFloat64(s.handler().m.wsBatches.WithLabelValues("protocol_error")); n != 1 {
				t.Errorf("protocol errors %v", n)
			}
			r = s.open(t, "edge-1", "s1")
			r.send(wsBatch(1, chat("ok")))
			if a := r.read(); a.Type != wire.MsgAck || a.Accepted != 1 {
				t.Fatalf("valid batch after a protocol error: %+v", a)
			}
			if n := s.sink.Count(); n != 1 {
				t.Errorf("sink took %d events", n)
			}
		})
	}
}

// TestWSOversize: a batch over the limit once inflated is refused and
// counts as taken, so the stream goes on; a message far over it on the wire
// closes the socket with 1009.
func TestWSOversize(t *testing.T) {
	t.Parallel()
	s := newWSServer(t, func(o *Options) { o.MaxBodyBytes = 64 << 10 })
	r := s.open(t, "edge-1", "s1")
	big := strings.Repeat(chat("big")+"\n", (64<<10)/len(chat("big"))+10)
	r.send(wsBatch(1) + big)
	a := r.read()
	if a.Type != wire.MsgRefused || a.Seq != 1 || a.Status != 413 || !strings.Contains(a.Error, "larger than") {
		t.Fatalf("oversize batch: %+v", a)
	}
	r.send(wsBatch(2, chat("o2")))
	if a := r.read(); a.Type != wire.MsgAck || a.Seq != 2 || a.Accepted != 1 {
		t.Fatalf("batch after a refused one: %+v", a)
	}
	if n := testutil.ToFloat64(s.handler().m.wsRefusals.WithLabelValues("body_too_large")); n != 1 {
		t.Errorf("refusals %v", n)
	}

	// The rest of a refused message is skipped unread, up to twice the
	// bound; past that the socket is cut.
	r.conn.EnableWriteCompression(false)
	r.send(wsBatch(3) + strings.Repeat("x", 4*(64<<10)))
	if m := r.read(); m.Type != wire.MsgRefused || m.Seq != 3 {
		t.Fatalf("far oversize batch: %+v", m)
	}
	if code, _ := r.closed(); code != websocket.CloseMessageTooBig {
		t.Fatalf("closed with %d, want 1009", code)
	}
	r = s.open(t, "edge-1", "s1")
	if r.hello.Acked != 3 {
		t.Errorf("acked %d after a cut oversize message", r.hello.Acked)
	}
	s.sink.CheckOnce(t, []string{"o2"})
}

func TestWSTakeover(t *testing.T) {
	t.Parallel()
	s := newWSServer(t, nil)
	old := s.open(t, "edge-1", "s1")
	old.send(wsBatch(1, chat("t1")))
	old.read()
	r := s.open(t, "edge-1", "s1")
	if r.hello.Acked != 1 {
		t.Fatalf("acked %d", r.hello.Acked)
	}
	if code, text := old.closed(); code != websocket.ClosePolicyViolation || !strings.Contains(text, "taken over") {
		t.Fatalf("older socket closed with %d %q", code, text)
	}
	r.send(wsBatch(2, chat("t2")))
	if a := r.read(); a.Type != wire.MsgAck || a.Seq != 2 {
		t.Fatalf("%+v", a)
	}
}

func TestWSConnectionBound(t *testing.T) {
	t.Parallel()
	s := newWSServer(t, func(o *Options) { o.MaxWSConns = 1 })
	first := s.open(t, "edge-1", "s1")
	_, resp, err := s.dialRaw(s.handshakeURL("edge-2", "s1"), signK1)
	if err == nil || resp == nil || resp.StatusCode != 503 || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("second socket over a bound of 1: %v %v", err, resp)
	}
	first.conn.Close()
	intaketest.WaitFor(t, "the first socket to go", func() bool { return s.handler().ws.numConns() == 0 })
	intaketest.WaitFor(t, "a place", func() bool {
		conn, _, err := s.dialRaw(s.handshakeURL("edge-2", "s1"), signK1)
		if err == nil {
			conn.Close()
		}
		return err == nil
	})
}

func TestWSSessionEviction(t *testing.T) {
	t.Parallel()
	s := newWSServer(t, func(o *Options) { o.WSSessions = 2 })
	for i, session := range []string{"a", "b", "c"} {
		r := s.open(t, "edge-1", session)
		r.send(wsBatch(1, chat(fmt.Sprint("e", i))))
		r.read()
		r.conn.Close()
		intaketest.WaitFor(t, "the socket to go", func() bool { return s.handler().ws.numConns() == 0 })
	}
	h := s.handler()
	if n := testutil.ToFloat64(h.m.wsEvicted); n != 1 || h.ws.numSessions() != 2 {
		t.Fatalf("evicted %v, sessions %d", n, h.ws.numSessions())
	}
	if r := s.open(t, "edge-1", "a"); r.hello.Acked != 0 {
		t.Errorf("the oldest session was kept: acked %d", r.hello.Acked)
	}
	if r := s.open(t, "edge-1", "c"); r.hello.Acked != 1 {
		t.Errorf("the newest session was forgotten")
	}
}

func TestHandlerClose(t *testing.T) {
	t.Parallel()
	s := newWSServer(t, nil)
	r := s.open(t, "edge-1", "s1")
	done := make(chan error, 1)
	go func() { done <- s.handler().Close() }()
	if code, _ := r.closed(); code != websocket.CloseGoingAway {
		t.Errorf("closed with %d, want 1001", code)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if err := s.handler().Close(); err != nil {
		t.Fatal("second Close:", err)
	}
	var nilHandler *Handler
	if err := nilHandler.Close(); err != nil {
		t.Fatal(err)
	}
	_, resp, err := s.dialRaw(s.handshakeURL("edge-1", "s1"), signK1)
	if err == nil || resp == nil || resp.StatusCode != 503 {
		t.Fatalf("handshake after Close: %v %v", err, resp)
	}
	req, _ := http.NewRequest(http.MethodPost, "http://"+s.Addr()+Path, bytes.NewReader(batch(chat("c1"))))
	signed(req, batch(chat("c1")))
	pr, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	pr.Body.Close()
	if pr.StatusCode != 503 {
		t.Errorf("POST after Close: %d", pr.StatusCode)
	}
}
