package hub

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/ronda-watch/ronda/analyzer"
)

// clock is an injected Now that tests move by hand.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func sum(secret string) string {
	s := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(s[:])
}

const consoleOrigin = "https://mod.example.org"

// testHub is a hub behind a real HTTP server on loopback, with its audit trail.
type testHub struct {
	*Hub
	srv   *httptest.Server
	clk   *clock
	reg   *prometheus.Registry
	lis   *trackingListener
	mu    sync.Mutex
	audit []ActionRecord
}

func newTestHub(t testing.TB, tweak func(*Options)) *testHub {
	t.Helper()
	th := &testHub{clk: &clock{t: time.Date(2026, 3, 1, 21, 0, 0, 0, time.UTC)}, reg: prometheus.NewRegistry()}
	opts := Options{
		Tokens: []Token{
			{Name: "ana", Role: RoleModerator, SHA256: sum("tok-ana")},
			{Name: "ben", Role: RoleModerator, SHA256: strings.ToUpper(sum("tok-ben"))},
			{Name: "lea", Role: RoleLead, SHA256: sum("tok-lea")},
			{Name: "vic", Role: RoleViewer, SHA256: sum("tok-vic")},
		},
		AllowedOrigins: []string{consoleOrigin},
		Audit: func(r ActionRecord) {
			th.mu.Lock()
			th.audit = append(th.audit, r)
			th.mu.Unlock()
		},
		Now:        th.clk.Now,
		Registerer: th.reg,
	}
	if tweak != nil {
		tweak(&opts)
	}
	h, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	th.Hub = h
	mux := http.NewServeMux()
	mux.Handle(Path, h)
	mux.HandleFunc(WhoAmIPath, h.WhoAmI)
	th.srv = httptest.NewUnstartedServer(mux)
	th.lis = &trackingListener{Listener: th.srv.Listener, closed: map[string]chan struct{}{}}
	th.srv.Listener = th.lis
	th.srv.Start()
	t.Cleanup(func() {
		_ = h.Close()
		th.srv.Close()
	})
	return th
}

// trackingListener tells when the server side closes a connection, by the
// client's address, which a client that does not read cannot see soon. It can
// also make the next connection's peer look slow to the hub (holdNext,
// smallBuffers).
type trackingListener struct {
	net.Listener
	mu     sync.Mutex
	closed map[string]chan struct{}
	hold   chan struct{} // for the next connection: its writes wait for this
	small  bool          // for the next connection: a small send buffer
}

func (l *trackingListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	ch := make(chan struct{})
	l.mu.Lock()
	l.closed[c.RemoteAddr().String()] = ch
	hold, small := l.hold, l.small
	l.hold, l.small = nil, false
	l.mu.Unlock()
	if tc, ok := c.(*net.TCPConn); ok && small {
		_ = tc.SetWriteBuffer(4 << 10)
	}
	return &trackedConn{Conn: c, closed: ch, hold: hold}, nil
}

// closedChan is closed when the server closes the connection from addr.
func (l *trackingListener) closedChan(addr string) chan struct{} {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.closed[addr]
}

// holdNext stalls every write the hub makes to the next connection, after the
// handshake, until release is called: a peer that does not read, without
// waiting for kernel buffers to fill.
func (l *trackingListener) holdNext() (release func()) {
	hold := make(chan struct{})
	l.mu.Lock()
	l.hold = hold
	l.mu.Unlock()
	return sync.OnceFunc(func() { close(hold) })
}

// smallBuffers gives the next connection a small send buffer on the hub's
// side; with dialSmall on the client's, a few messages fill the path between.
func (l *trackingListener) smallBuffers() {
	l.mu.Lock()
	l.small = true
	l.mu.Unlock()
}

type trackedConn struct {
	net.Conn
	once   sync.Once
	closed chan struct{}
	hold   chan struct{}
}

func (c *trackedConn) Write(p []byte) (int, error) {
	if c.hold != nil && !bytes.HasPrefix(p, []byte("HTTP/")) {
		select {
		case <-c.hold:
		case <-c.closed:
			return 0, net.ErrClosed
		}
	}
	return c.Conn.Write(p)
}

func (c *trackedConn) Close() error {
	c.once.Do(func() { close(c.closed) })
	return c.Conn.Close()
}

func (th *testHub) audited() []ActionRecord {
	th.mu.Lock()
	defer th.mu.Unlock()
	return append([]ActionRecord(nil), th.audit...)
}

func (th *testHub) url(query string) string {
	u := "ws" + strings.TrimPrefix(th.srv.URL, "http") + Path
	if query != "" {
		u += "?" + query
	}
	return u
}

// dialRaw dials with the given headers and returns the handshake answer.
func (th *testHub) dialRaw(query string, hdr http.Header) (*websocket.Conn, *http.Response, error) {
	d := websocket.Dialer{HandshakeTimeout: 5 * time.Second}
	return d.Dial(th.url(query), hdr)
}

// dial connects with a bearer token and fails the test otherwise.
func (th *testHub) dial(t testing.TB, token, query string) *websocket.Conn {
	t.Helper()
	return th.dialWith(t, websocket.Dialer{HandshakeTimeout: 5 * time.Second}, token, query)
}

// dialSmall is dial with a small receive buffer, so that a client that reads
// little soon stops the hub's writes.
func (th *testHub) dialSmall(t testing.TB, token, query string) *websocket.Conn {
	t.Helper()
	d := websocket.Dialer{HandshakeTimeout: 5 * time.Second,
		NetDialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := (&net.Dialer{}).DialContext(ctx, network, addr)
			if tc, ok := c.(*net.TCPConn); ok {
				// Not less: below the loopback MSS, window updates stall.
				_ = tc.SetReadBuffer(32 << 10)
			}
			return c, err
		}}
	return th.dialWith(t, d, token, query)
}

func (th *testHub) dialWith(t testing.TB, d websocket.Dialer, token, query string) *websocket.Conn {
	t.Helper()
	c, resp, err := d.Dial(th.url(query), http.Header{"Authorization": {"Bearer " + token}})
	if err != nil {
		status := 0
		if resp != nil {
			status = resp.StatusCode
		}
		t.Fatalf("dial as %s: %v (status %d)", token, err, status)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// msg is any message the hub sends, decoded for tests.
type msg struct {
	Type      string         `json:"type"`
	Seq       uint64         `json:"seq"`
	RequestID string         `json:"request_id"`
	Alert     analyzer.Alert `json:"alert"`
	Alerts    []struct {
		Alert analyzer.Alert `json:"alert"`
		State stateView      `json:"state"`
	} `json:"alerts"`
	Action  actionView `json:"action"`
	State   stateView  `json:"state"`
	Code    string     `json:"code"`
	Message string     `json:"message"`
}

func read(t testing.TB, c *websocket.Conn) msg {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, b, err := c.ReadMessage()
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	var m msg
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("decode %s: %v", b, err)
	}
	return m
}

// readType reads one message and wants its type.
func readType(t testing.TB, c *websocket.Conn, typ string) msg {
	t.Helper()
	m := read(t, c)
	if m.Type != typ {
		t.Fatalf("got %s message (%s %s), want %s", m.Type, m.Code, m.Message, typ)
	}
	return m
}

func send(t testing.TB, c *websocket.Conn, v map[string]string) {
	t.Helper()
	v["type"] = "action"
	if err := c.WriteJSON(v); err != nil {
		t.Fatal(err)
	}
}

func alert(id string, updates int) analyzer.Alert {
	return analyzer.Alert{
		ID: id, At: time.Date(2026, 3, 1, 20, 0, updates, 0, time.UTC), Severity: analyzer.SeverityHigh,
		Score: 0.8, Subject: analyzer.EntityRef{Kind: analyzer.KindHost, ID: "h-" + id},
		Entities: []analyzer.EntityRef{{Kind: analyzer.KindHost, ID: "h-" + id}},
		Reasons:  []analyzer.Reason{{Detector: "schedule", Score: 0.7, Summary: "Broadcasts at night.", Evidence: map[string]any{"nights": 5}}},
		Updates:  updates,
	}
}

func TestTwoModeratorsSeeAlertsAndEachOthersActions(t *testing.T) {
	th := newTestHub(t, nil)
	th.Publish(alert("a0", 0))
	ana, ben := th.dial(t, "tok-ana", ""), th.dial(t, "tok-ben", "")
	for _, c := range []*websocket.Conn{ana, ben} {
		s := readType(t, c, "snapshot")
		if s.Seq != 1 || len(s.Alerts) != 1 || s.Alerts[0].Alert.ID != "a0" || s.Alerts[0].State.Status != "open" {
			t.Fatalf("snapshot %+v", s)
		}
	}
	th.Publish(alert("a1", 0))
	for _, c := range []*websocket.Conn{ana, ben} {
		if m := readType(t, c, "alert"); m.Alert.ID != "a1" || m.Seq != 2 || m.Alert.Reasons[0].Summary == "" {
			t.Fatalf("alert %+v", m)
		}
	}
	send(t, ana, map[string]string{"request_id": "r1", "alert_id": "a1", "action": "claim"})
	ack := readType(t, ana, "ack")
	if ack.RequestID != "r1" || ack.Seq != 3 || ack.State.ClaimedBy != "ana" || ack.Action.ActionID == "" {
		t.Fatalf("ack %+v", ack)
	}
	seen := readType(t, ben, "action")
	if seen.Action != ack.Action || seen.Seq != 3 || seen.State.ClaimedBy != "ana" {
		t.Fatalf("ben saw %+v, ana's ack %+v", seen, ack)
	}
	send(t, ana, map[string]string{"request_id": "r2", "alert_id": "a1", "action": "note", "note": "same phone as a0"})
	ack2 := readType(t, ana, "ack")
	if n := readType(t, ben, "action"); n.Action.Note != "same phone as a0" || n.Action.Moderator != "ana" {
		t.Fatalf("ben saw %+v", n)
	}
	rows := th.audited()
	if len(rows) != 2 {
		t.Fatalf("audited %d rows, want 2", len(rows))
	}
	want := ActionRecord{At: th.clk.Now(), ActionID: ack.Action.ActionID, AlertID: "a1", Moderator: "ana", Action: "claim"}
	if rows[0] != want {
		t.Fatalf("audit row %+v, want %+v", rows[0], want)
	}
	if rows[1].ActionID == rows[0].ActionID || rows[1].ActionID != ack2.Action.ActionID || rows[1].Note != "same phone as a0" {
		t.Fatalf("second audit row %+v", rows[1])
	}
	if got := testutil.ToFloat64(th.m.actions.WithLabelValues("claim", "ok")); got != 1 {
		t.Fatalf("claims counted %v", got)
	}
	if got := testutil.ToFloat64(th.m.sockets); got != 2 {
		t.Fatalf("sockets gauge %v", got)
	}
}

func TestClaimIsExclusiveUntilItExpires(t *testing.T) {
	th := newTestHub(t, func(o *Options) { o.ClaimTTL = 10 * time.Minute })
	th.Publish(alert("a1", 0))
	ana, ben := th.dial(t, "tok-ana", ""), th.dial(t, "tok-ben", "")
	readType(t, ana, "snapshot")
	readType(t, ben, "snapshot")

	send(t, ana, map[string]string{"request_id": "1", "alert_id": "a1", "action": "claim"})
	ack := readType(t, ana, "ack")
	if ack.State.ClaimExpires == nil || !ack.State.ClaimExpires.Equal(th.clk.Now().Add(10*time.Minute)) {
		t.Fatalf("claim expiry %v", ack.State.ClaimExpires)
	}
	readType(t, ben, "action")

	th.clk.Add(9 * time.Minute)
	for _, act := range []string{"claim", "ack", "dismiss"} {
		m := map[string]string{"request_id": act, "alert_id": "a1", "action": act}
		if act == "dismiss" {
			m["reason"] = "benign"
		}
		send(t, ben, m)
		if e := readType(t, ben, "error"); e.Code != "claimed" || e.RequestID != act || !strings.Contains(e.Message, "ana") {
			t.Fatalf("%s while held: %+v", act, e)
		}
	}
	// Notes are not exclusive.
	send(t, ben, map[string]string{"request_id": "n", "alert_id": "a1", "action": "note", "note": "seen"})
	readType(t, ben, "ack")
	readType(t, ana, "action")

	th.clk.Add(time.Minute) // exactly at expiry: released
	send(t, ben, map[string]string{"request_id": "2", "alert_id": "a1", "action": "claim"})
	if a := readType(t, ben, "ack"); a.State.ClaimedBy != "ben" {
		t.Fatalf("claim after expiry %+v", a)
	}
	if m := readType(t, ana, "action"); m.Action.Moderator != "ben" || m.State.ClaimedBy != "ben" {
		t.Fatalf("ana saw %+v", m)
	}
	send(t, ana, map[string]string{"request_id": "3", "alert_id": "a1", "action": "claim"})
	readType(t, ana, "error")
	if n := len(th.audited()); n != 3 {
		t.Fatalf("audited %d, want 3 (claim, note, claim)", n)
	}
}

func TestActionsRefusedByRoleAndState(t *testing.T) {
	var escalated []string
	var emu sync.Mutex
	th := newTestHub(t, func(o *Options) {
		o.Escalate = func(_ context.Context, a analyzer.Alert, note string) error {
			emu.Lock()
			defer emu.Unlock()
			if note == "fail" {
				return errors.New("destination down")
			}
			escalated = append(escalated, a.ID+": "+note)
			return nil
		}
	})
	th.Publish(alert("a1", 0))
	conns := map[string]*websocket.Conn{}
	for _, n := range []string{"ana", "lea", "vic"} {
		conns[n] = th.dial(t, "tok-"+n, "")
		readType(t, conns[n], "snapshot")
	}
	cases := []struct {
		name, who, action, target, reason, note, alertID, wantCode string
	}{
		{"viewer cannot claim", "vic", "claim", "", "", "", "a1", "forbidden"},
		{"viewer cannot note", "vic", "note", "", "", "hi", "a1", "forbidden"},
		{"moderator cannot assign", "ana", "assign", "ana", "", "", "a1", "forbidden"},
		{"moderator cannot escalate", "ana", "escalate", "", "", "police", "a1", "forbidden"},
		{"dismiss needs a reason", "ana", "dismiss", "", "", "", "a1", "reason_required"},
		{"note needs a note", "ana", "note", "", "", "", "a1", "note_required"},
		{"escalate needs a note", "lea", "escalate", "", "", "", "a1", "note_required"},
		{"assign to a viewer", "lea", "assign", "vic", "", "", "a1", "bad_target"},
		{"assign to nobody", "lea", "assign", "zed", "", "", "a1", "bad_target"},
		{"unknown alert", "ana", "ack", "", "", "", "nope", "unknown_alert"},
		{"unknown action", "ana", "delete", "", "", "", "a1", "bad_action"},
		{"destination fails", "lea", "escalate", "", "", "fail", "a1", "escalation_failed"},
	}
	for _, tc := range cases {
		c := conns[tc.who]
		send(t, c, map[string]string{"request_id": tc.name, "alert_id": tc.alertID, "action": tc.action,
			"target": tc.target, "reason": tc.reason, "note": tc.note})
		e := readType(t, c, "error")
		if e.Code != tc.wantCode || e.RequestID != tc.name {
			t.Errorf("%s: got %s (%s), want %s", tc.name, e.Code, e.Message, tc.wantCode)
		}
	}
	if err := conns["ana"].WriteMessage(websocket.TextMessage, []byte(`{"type":"action","oops":1}`)); err != nil {
		t.Fatal(err)
	}
	if e := readType(t, conns["ana"], "error"); e.Code != "bad_message" {
		t.Errorf("unknown field: %+v", e)
	}
	if n := len(th.audited()); n != 0 {
		t.Fatalf("refused actions audited: %d", n)
	}

	// What a lead may do, in order: assign, escalate; then ack by the assignee, dismiss.
	send(t, conns["lea"], map[string]string{"request_id": "as", "alert_id": "a1", "action": "assign", "target": "ana"})
	if a := readType(t, conns["lea"], "ack"); a.State.ClaimedBy != "ana" {
		t.Fatalf("assign %+v", a)
	}
	if m := readType(t, conns["vic"], "action"); m.Action.Action != "assign" || m.Action.Target != "ana" {
		t.Fatalf("viewer saw %+v", m)
	}
	readType(t, conns["ana"], "action")
	send(t, conns["lea"], map[string]string{"request_id": "es", "alert_id": "a1", "action": "escalate", "note": "minor on camera"})
	if a := readType(t, conns["lea"], "ack"); a.State.Status != "escalated" {
		t.Fatalf("escalate %+v", a)
	}
	readType(t, conns["ana"], "action")
	readType(t, conns["vic"], "action")
	emu.Lock()
	if len(escalated) != 1 || escalated[0] != "a1: minor on camera" {
		t.Fatalf("destination got %v", escalated)
	}
	emu.Unlock()
	send(t, conns["ana"], map[string]string{"request_id": "ack", "alert_id": "a1", "action": "ack"})
	if e := readType(t, conns["ana"], "error"); e.Code != "bad_state" {
		t.Fatalf("ack of an escalated alert: %+v", e)
	}
	// An escalated alert is not dismissed: it is someone else's case now.
	send(t, conns["ana"], map[string]string{"request_id": "dm", "alert_id": "a1", "action": "dismiss", "reason": "handed to police"})
	if e := readType(t, conns["ana"], "error"); e.Code != "escalated" || e.RequestID != "dm" {
		t.Fatalf("dismiss of an escalated alert: %+v", e)
	}
	th.Publish(alert("a2", 0))
	for _, c := range conns {
		readType(t, c, "alert")
	}
	send(t, conns["ana"], map[string]string{"request_id": "dm2", "alert_id": "a2", "action": "dismiss", "reason": "a family"})
	if a := readType(t, conns["ana"], "ack"); a.State.Status != "dismissed" {
		t.Fatalf("dismiss %+v", a)
	}
	readType(t, conns["lea"], "action")
	// Dismissed alerts leave the open set: not in a new snapshot.
	late := th.dial(t, "tok-vic", "")
	if s := readType(t, late, "snapshot"); len(s.Alerts) != 1 || s.Alerts[0].Alert.ID != "a1" {
		t.Fatalf("snapshot after dismiss %+v", s.Alerts)
	}
	rows := th.audited()
	if len(rows) != 3 || rows[0].Action != "assign" || rows[0].Target != "ana" || rows[1].Note != "minor on camera" ||
		rows[2].Reason != "a family" || rows[2].AlertID != "a2" {
		t.Fatalf("audit %+v", rows)
	}
	if got := testutil.ToFloat64(th.m.actions.WithLabelValues("assign", "refused")); got != 3 {
		t.Fatalf("refused assigns counted %v", got)
	}
}

func TestSnapshotHoldsLatestOpenVersionsOnly(t *testing.T) {
	th := newTestHub(t, nil)
	th.Publish(alert("a1", 0))
	th.Publish(alert("a2", 0))
	th.Publish(alert("a1", 1))
	merged := alert("a2", 1)
	merged.MergedInto = "a1"
	th.Publish(merged)
	c := th.dial(t, "tok-vic", "")
	s := readType(t, c, "snapshot")
	if s.Seq != 4 || len(s.Alerts) != 1 || s.Alerts[0].Alert.ID != "a1" || s.Alerts[0].Alert.Updates != 1 {
		t.Fatalf("snapshot %+v", s)
	}
}

func TestAuthRefusals(t *testing.T) {
	th := newTestHub(t, func(o *Options) { o.BadTokenLimit = 100 })
	cases := []struct {
		name       string
		hdr        http.Header
		wantStatus int
		reason     string
	}{
		{"missing token", http.Header{}, 401, failMissing},
		{"wrong token", http.Header{"Authorization": {"Bearer tok-eve"}}, 401, failBad},
		{"not bearer", http.Header{"Authorization": {"Basic dG9rLWFuYQ=="}}, 401, failMissing},
		{"hash as token", http.Header{"Authorization": {"Bearer " + sum("tok-ana")}}, 401, failBad},
		{"cross origin", http.Header{"Authorization": {"Bearer tok-ana"}, "Origin": {"https://evil.example"}}, 403, failOrigin},
		{"origin prefix", http.Header{"Authorization": {"Bearer tok-ana"}, "Origin": {consoleOrigin + ".evil.example"}}, 403, failOrigin},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := testutil.ToFloat64(th.m.auth.WithLabelValues(tc.reason))
			c, resp, err := th.dialRaw("", tc.hdr)
			if err == nil {
				c.Close()
				t.Fatal("connected")
			}
			if resp == nil || resp.StatusCode != tc.wantStatus {
				t.Fatalf("answer %v, want %d", resp, tc.wantStatus)
			}
			if got := testutil.ToFloat64(th.m.auth.WithLabelValues(tc.reason)) - before; got != 1 {
				t.Fatalf("%s counted %v", tc.reason, got)
			}
		})
	}
	t.Run("browser with token subprotocol", func(t *testing.T) {
		c, resp, err := th.dialRaw("", http.Header{"Origin": {consoleOrigin},
			"Sec-WebSocket-Protocol": {Subprotocol + ", ronda.token.tok-ana"}})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if c.Subprotocol() != Subprotocol || strings.Contains(resp.Header.Get("Sec-WebSocket-Protocol"), "tok-ana") {
			t.Fatalf("subprotocol %q", c.Subprotocol())
		}
		readType(t, c, "snapshot")
	})
	t.Run("browser with a bad token subprotocol", func(t *testing.T) {
		_, resp, err := th.dialRaw("", http.Header{"Origin": {consoleOrigin}, "Sec-WebSocket-Protocol": {"ronda.token.nope"}})
		if err == nil || resp.StatusCode != 401 {
			t.Fatalf("err %v, resp %v", err, resp)
		}
	})
	t.Run("bad since", func(t *testing.T) {
		_, resp, err := th.dialRaw("since=-1", http.Header{"Authorization": {"Bearer tok-ana"}})
		if err == nil || resp.StatusCode != 400 {
			t.Fatalf("err %v, resp %v", err, resp)
		}
	})
}

func TestRepeatedBadTokensAreRateLimited(t *testing.T) {
	th := newTestHub(t, func(o *Options) { o.BadTokenLimit = 3; o.BadTokenWindow = time.Minute })
	bad := http.Header{"Authorization": {"Bearer guess"}}
	for i := range 3 {
		if _, resp, _ := th.dialRaw("", bad); resp == nil || resp.StatusCode != 401 {
			t.Fatalf("attempt %d: %v", i, resp)
		}
	}
	// Over the limit, bad and missing tokens wait.
	for _, hdr := range []http.Header{bad, {}} {
		_, resp, err := th.dialRaw("", hdr)
		if err == nil || resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") != "60" {
			t.Fatalf("over the limit: %v %v", err, resp)
		}
	}
	// A moderator behind the same address (a NAT, a proxy) is not locked out.
	readType(t, th.dial(t, "tok-ana", ""), "snapshot")
	if resp, _ := th.whoami(t, "GET", http.Header{"Authorization": {"Bearer tok-ben"}}); resp.StatusCode != 200 {
		t.Fatalf("whoami with a valid token over the limit: %d", resp.StatusCode)
	}
	if got := testutil.ToFloat64(th.m.auth.WithLabelValues(failRateLimited)); got != 2 {
		t.Fatalf("rate limited counted %v", got)
	}
	if got := testutil.ToFloat64(th.m.auth.WithLabelValues(failBad)); got != 3 {
		t.Fatalf("bad tokens counted %v", got)
	}
	th.clk.Add(time.Minute)
	readType(t, th.dial(t, "tok-ana", ""), "snapshot")
}

// whoami asks WhoAmIPath with the headers and returns the status and body.
func (th *testHub) whoami(t testing.TB, method string, hdr http.Header) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, th.srv.URL+WhoAmIPath, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header = hdr
	resp, err := th.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	b.ReadFrom(resp.Body)
	return resp, b.String()
}

// A console asks whoami before it opens the socket: a good token gets its name
// and role, a missing or wrong one a 401 that says which, counted as the
// socket counts it.
func TestWhoAmI(t *testing.T) {
	th := newTestHub(t, func(o *Options) { o.BadTokenLimit = 100 })
	cases := []struct {
		name       string
		method     string
		hdr        http.Header
		wantStatus int
		wantBody   string
		reason     string // the auth failure counted, if any
	}{
		{"moderator", "GET", http.Header{"Authorization": {"Bearer tok-ana"}}, 200, `{"name":"ana","role":"moderator"}` + "\n", ""},
		{"lead", "GET", http.Header{"Authorization": {"bearer tok-lea"}}, 200, `{"name":"lea","role":"lead"}` + "\n", ""},
		{"viewer from its console", "GET", http.Header{"Authorization": {"Bearer tok-vic"}, "Origin": {consoleOrigin}}, 200,
			`{"name":"vic","role":"viewer"}` + "\n", ""},
		{"wrong token", "GET", http.Header{"Authorization": {"Bearer tok-eve"}}, 401, "invalid token\n", failBad},
		{"missing token", "GET", http.Header{}, 401, "missing bearer token\n", failMissing},
		{"cross origin", "GET", http.Header{"Authorization": {"Bearer tok-ana"}, "Origin": {"https://evil.example"}}, 403,
			"origin not allowed\n", failOrigin},
		{"not GET", "POST", http.Header{"Authorization": {"Bearer tok-ana"}}, 405, "use GET\n", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var before float64
			if tc.reason != "" {
				before = testutil.ToFloat64(th.m.auth.WithLabelValues(tc.reason))
			}
			resp, body := th.whoami(t, tc.method, tc.hdr)
			if resp.StatusCode != tc.wantStatus || body != tc.wantBody {
				t.Fatalf("answer %d %q, want %d %q", resp.StatusCode, body, tc.wantStatus, tc.wantBody)
			}
			if tc.wantStatus == 401 && resp.Header.Get("WWW-Authenticate") == "" {
				t.Error("401 without WWW-Authenticate")
			}
			if tc.reason != "" {
				if got := testutil.ToFloat64(th.m.auth.WithLabelValues(tc.reason)) - before; got != 1 {
					t.Errorf("%s counted %v", tc.reason, got)
				}
			}
		})
	}
}

// Bad tokens at whoami and at the socket count against one limit: a guesser
// gains nothing by switching between them.
func TestWhoAmISharesTheSocketsBadTokenLimit(t *testing.T) {
	th := newTestHub(t, func(o *Options) { o.BadTokenLimit = 3; o.BadTokenWindow = time.Minute })
	bad := http.Header{"Authorization": {"Bearer guess"}}
	th.whoami(t, "GET", bad)
	th.dialRaw("", bad)
	th.whoami(t, "GET", bad)
	if _, resp, _ := th.dialRaw("", bad); resp == nil || resp.StatusCode != 429 {
		t.Fatalf("socket after 3 bad tokens: %v, want 429", resp)
	}
	resp, body := th.whoami(t, "GET", bad)
	if resp.StatusCode != 429 || resp.Header.Get("Retry-After") != "60" || body != "too many bad tokens\n" {
		t.Fatalf("whoami after 3 bad tokens: %d %q Retry-After %q", resp.StatusCode, body, resp.Header.Get("Retry-After"))
	}
	th.clk.Add(time.Minute)
	if resp, _ := th.whoami(t, "GET", bad); resp.StatusCode != 401 {
		t.Fatalf("whoami after the window: %d", resp.StatusCode)
	}
}

// The console the service serves connects from the hub's own origin without
// being listed in AllowedOrigins; any other host or port is still refused.
func TestSameOriginConsoleIsAccepted(t *testing.T) {
	th := newTestHub(t, func(o *Options) { o.BadTokenLimit = 100 })
	host := th.srv.Listener.Addr().String() // what the dialer sends as Host
	_, port, _ := net.SplitHostPort(host)
	other := "127.0.0.1:1"
	if port == "1" {
		other = "127.0.0.1:2"
	}
	for _, tc := range []struct {
		name, origin string
		ok           bool
	}{
		{"same host and port", "http://" + host, true},
		{"same host behind TLS termination", "https://" + host, true},
		{"same host, other port", "http://" + other, false},
		{"host as a prefix", "http://" + host + ".evil.example", false},
		{"no host", "null", false},
		{"not a web page", "file://" + host, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, resp, err := th.dialRaw("", http.Header{"Origin": {tc.origin},
				"Sec-WebSocket-Protocol": {Subprotocol + ", ronda.token.tok-ana"}})
			if !tc.ok {
				if err == nil {
					c.Close()
				}
				if resp == nil || resp.StatusCode != http.StatusForbidden {
					t.Fatalf("Origin %s: answer %v, want 403", tc.origin, resp)
				}
				return
			}
			if err != nil {
				t.Fatalf("Origin %s: %v (answer %v)", tc.origin, err, resp)
			}
			defer c.Close()
			readType(t, c, "snapshot")
		})
	}
}

// readUntil reads the alert messages from+1 … last, each a<seq>, in order.
func readUntil(t testing.TB, c *websocket.Conn, from, last uint64) {
	t.Helper()
	for want := from + 1; want <= last; want++ {
		m := readType(t, c, "alert")
		if m.Seq != want || m.Alert.ID != fmt.Sprintf("a%d", want) {
			t.Fatalf("got seq %d (%s), want %d", m.Seq, m.Alert.ID, want)
		}
	}
}

func TestResumeSinceGetsExactlyTheMissedMessages(t *testing.T) {
	th := newTestHub(t, func(o *Options) { o.Ring = 64 })
	pub := func(from, to int) {
		for i := from; i <= to; i++ {
			th.Publish(alert(fmt.Sprintf("a%d", i), 0))
		}
	}
	pub(1, 10)
	c := th.dial(t, "tok-ana", "")
	if s := readType(t, c, "snapshot"); s.Seq != 10 || len(s.Alerts) != 10 {
		t.Fatalf("snapshot seq %d with %d alerts", s.Seq, len(s.Alerts))
	}
	c.Close()
	pub(11, 15)
	c = th.dial(t, "tok-ana", "since=10")
	readUntil(t, c, 10, 15)
	c.Close()

	// Nothing missed: nothing sent until the next message.
	c = th.dial(t, "tok-ana", "since=15")
	pub(16, 16)
	readUntil(t, c, 15, 16)
	c.Close()

	// Out of the ring: a fresh snapshot, then live messages again.
	pub(17, 100)
	c = th.dial(t, "tok-ana", "since=16")
	if s := readType(t, c, "snapshot"); s.Seq != 100 || len(s.Alerts) != 100 {
		t.Fatalf("stale resume: snapshot seq %d with %d alerts", s.Seq, len(s.Alerts))
	}
	pub(101, 101)
	readUntil(t, c, 100, 101)
	c.Close()
	// From the future (a restarted hub): a snapshot.
	c = th.dial(t, "tok-ana", "since=5000")
	readType(t, c, "snapshot")
}

// pacer keeps a test's publisher from outrunning a client that reads, which
// the hub would rightly cut as too slow, while letting it run far ahead of a
// client that is away: that lead is the backlog under test. Once the client is
// back, the publisher may be near ahead, or publish one message for every four
// the client reads: the client catches up while Publish runs, and never meets
// a burst it was not ahead of. With near 1 the publisher waits for the client
// to have everything, so the hub's writer catches up and the socket goes live.
// With dialSmall and bulky messages, whatever the scheduling, a live socket's
// queue never holds more than a quarter of what fits in the path to the client.
type pacer struct {
	far, near uint64

	mu        sync.Mutex
	moved     *sync.Cond // on each change below
	read      uint64     // the last seq the client read
	published uint64     // the last seq published
	gone      bool       // the client is away
	paid      uint64     // what the client had read at the last publish beyond near
}

func newPacer(far, near int) *pacer {
	p := &pacer{far: uint64(far), near: uint64(near)}
	p.moved = sync.NewCond(&p.mu)
	return p
}

// wait blocks until seq may be published.
func (p *pacer) wait(seq int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for {
		lead := uint64(seq) - p.read
		if lead <= p.near || p.gone && lead <= p.far {
			return
		}
		if !p.gone && p.read >= p.paid+4 {
			p.paid = p.read
			return
		}
		p.moved.Wait()
	}
}

// publish publishes bulky(from) … bulky(to), with those sequence numbers, at
// the pace.
func (p *pacer) publish(h *Hub, from, to int) {
	for i := from; i <= to; i++ {
		p.wait(i)
		h.Publish(bulky(i))
		p.set(func() { p.published = uint64(i) })
	}
}

// awaitPublished blocks until seq has been published.
func (p *pacer) awaitPublished(seq uint64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for p.published < seq {
		p.moved.Wait()
	}
}

func (p *pacer) set(f func()) {
	p.mu.Lock()
	f()
	p.moved.Broadcast()
	p.mu.Unlock()
}

func (p *pacer) away()          { p.set(func() { p.gone = true }) }
func (p *pacer) back()          { p.set(func() { p.gone = false }) }
func (p *pacer) got(seq uint64) { p.set(func() { p.read = seq }) }

// bulky is alert a<i> with a 4 KiB summary: about twenty fill the path between
// the hub and a dialSmall client, so the hub's writes wait for its reads.
func bulky(i int) analyzer.Alert {
	a := alert(fmt.Sprintf("a%d", i), 0)
	a.Reasons[0].Summary = strings.Repeat("x", 4<<10)
	return a
}

// catchingUp counts the sockets still streaming a backlog from the ring.
func (th *testHub) catchingUp() int {
	th.Hub.mu.Lock()
	defer th.Hub.mu.Unlock()
	n := 0
	for c := range th.clients {
		if c.catchingUp {
			n++
		}
	}
	return n
}

func TestResumeFromFarBehindStreamsTheBacklog(t *testing.T) {
	const queue = 32
	const backlog, total = 3 * queue, 400
	th := newTestHub(t, func(o *Options) { o.SendQueue = queue })
	c := th.dial(t, "tok-ana", "")
	readType(t, c, "snapshot")
	c.Close()
	for i := 1; i <= backlog; i++ {
		th.Publish(bulky(i))
	}

	// Small buffers both ways: the backlog does not fit between hub and client,
	// so the hub can only send it as fast as the client reads. A cut (1008 too
	// slow) fails readType.
	th.lis.smallBuffers()
	c = th.dialSmall(t, "tok-ana", "since=0")
	p := newPacer(0, 1) // the client is back: far does not apply
	var streaming, live atomic.Int64
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := backlog + 1; i <= total; i++ {
			p.publish(th.Hub, i, i)
			if th.catchingUp() > 0 {
				streaming.Add(1)
			} else {
				live.Add(1)
			}
		}
	}()
	for last := uint64(0); last < total; {
		m := readType(t, c, "alert")
		if m.Seq != last+1 || m.Alert.ID != fmt.Sprintf("a%d", m.Seq) {
			t.Fatalf("after seq %d got %d (%s)", last, m.Seq, m.Alert.ID)
		}
		last = m.Seq
		p.got(last)
	}
	<-done
	// Both sides of the switch from the ring to the queue ran under Publish.
	if streaming.Load() == 0 || live.Load() == 0 {
		t.Fatalf("published %d while the backlog streamed and %d once live: want both", streaming.Load(), live.Load())
	}
	if n := th.catchingUp(); n != 0 {
		t.Fatalf("%d sockets still catching up after reading everything", n)
	}
}

func TestResumeAcrossReconnectsWhilePublishing(t *testing.T) {
	const total, queue = 1000, 16
	th := newTestHub(t, func(o *Options) { o.Ring = 128; o.SendQueue = queue })
	c := th.dial(t, "tok-ana", "")
	readType(t, c, "snapshot")
	// Away, the publisher stays within half the ring, so every resume streams.
	p := newPacer(64, 1)
	done := make(chan struct{})
	go func() { defer close(done); p.publish(th.Hub, 1, total) }()
	var last uint64
	reconnects := 0
	for last < total {
		m := readType(t, c, "alert")
		if m.Seq != last+1 || m.Alert.ID != fmt.Sprintf("a%d", m.Seq) {
			t.Fatalf("after seq %d got %d (%s)", last, m.Seq, m.Alert.ID)
		}
		last = m.Seq
		p.got(last)
		if last%90 == 0 && last < total {
			c.Close()
			// Away until the hub holds more for it than its send queue.
			p.away()
			p.awaitPublished(min(last+3*queue, total))
			th.lis.smallBuffers()
			c = th.dialSmall(t, "tok-ana", fmt.Sprintf("since=%d", last))
			p.back()
			reconnects++
		}
	}
	<-done
	if reconnects < 10 {
		t.Fatalf("only %d reconnects", reconnects)
	}
}

func TestRepliesWhileCatchingUpComeInSequence(t *testing.T) {
	th := newTestHub(t, func(o *Options) { o.SendQueue = 4 })
	for i := 1; i <= 10; i++ {
		th.Publish(alert(fmt.Sprintf("a%d", i), 0))
	}
	ben := th.dial(t, "tok-ben", "") // to see when ana's actions are done
	readType(t, ben, "snapshot")
	release := th.lis.holdNext()
	ana := th.dial(t, "tok-ana", "since=0") // 10 behind, and the hub cannot write to it yet
	send(t, ana, map[string]string{"request_id": "r1", "alert_id": "nope", "action": "claim"})
	send(t, ana, map[string]string{"request_id": "r2", "alert_id": "a3", "action": "claim"})
	if m := readType(t, ben, "action"); m.Seq != 11 {
		t.Fatalf("ben saw %+v", m)
	}
	th.Publish(alert("a12", 0))
	release()
	// The refusal after what the hub had sent when it was made, the ack in
	// place of the action message, then on.
	readUntil(t, ana, 0, 10)
	if e := readType(t, ana, "error"); e.Seq != 10 || e.RequestID != "r1" || e.Code != "unknown_alert" {
		t.Fatalf("error %+v", e)
	}
	if a := readType(t, ana, "ack"); a.Seq != 11 || a.RequestID != "r2" || a.State.ClaimedBy != "ana" {
		t.Fatalf("ack %+v", a)
	}
	readUntil(t, ana, 11, 12)
	th.Publish(alert("a13", 0))
	readUntil(t, ana, 12, 13)
}

func TestFallingOutOfTheRingWhileCatchingUpGetsASnapshot(t *testing.T) {
	th := newTestHub(t, func(o *Options) { o.Ring = 16; o.SendQueue = 4 })
	for i := 1; i <= 10; i++ {
		th.Publish(alert(fmt.Sprintf("a%d", i), 0))
	}
	ben := th.dial(t, "tok-ben", "") // to see when ana's claim is done
	readType(t, ben, "snapshot")
	release := th.lis.holdNext()
	ana := th.dial(t, "tok-ana", "since=0") // all 10 in the ring, but the hub cannot write to it yet
	send(t, ana, map[string]string{"request_id": "r1", "alert_id": "a3", "action": "claim"})
	if m := readType(t, ben, "action"); m.Seq != 11 {
		t.Fatalf("ben saw %+v", m)
	}
	ben.Close()
	for i := 12; i <= 40; i++ { // the ring moves past everything ana has been sent
		th.Publish(alert(fmt.Sprintf("a%d", i), 0))
	}
	release()
	m := read(t, ana)
	if m.Type == "alert" { // the one the hub was writing when it stalled
		if m.Seq != 1 {
			t.Fatalf("first alert seq %d", m.Seq)
		}
		m = read(t, ana)
	}
	// Its own reply first, then the snapshot that supersedes everything before.
	if m.Type != "ack" || m.Seq != 11 || m.RequestID != "r1" {
		t.Fatalf("got %+v, want the ack of seq 11", m)
	}
	s := readType(t, ana, "snapshot")
	if s.Seq != 40 || len(s.Alerts) != 39 {
		t.Fatalf("snapshot seq %d with %d alerts, want 40 with 39", s.Seq, len(s.Alerts))
	}
	for _, a := range s.Alerts {
		if a.Alert.ID == "a3" && a.State.ClaimedBy != "ana" {
			t.Fatalf("a3 in the snapshot: %+v", a.State)
		}
	}
	th.Publish(alert("a41", 0))
	readUntil(t, ana, 40, 41)
}

func TestSlowClientIsCutOffWithoutHoldingOthersBack(t *testing.T) {
	th := newTestHub(t, func(o *Options) { o.SendQueue = 16; o.WriteTimeout = 2 * time.Second })
	// The slow client never reads, with a small receive buffer so its socket fills soon.
	slow := th.dialSmall(t, "tok-ben", "")
	fast := th.dial(t, "tok-ana", "")
	readType(t, fast, "snapshot")
	big := strings.Repeat("x", 8<<10)
	cutAt := 0
	for i := 1; i <= 5000 && (cutAt == 0 || i <= cutAt+100); i++ {
		a := alert(fmt.Sprintf("a%d", i), 0)
		a.Reasons[0].Summary = big
		th.Publish(a)
		if m := readType(t, fast, "alert"); m.Seq != uint64(i) {
			t.Fatalf("fast client got seq %d, want %d", m.Seq, i)
		}
		if cutAt == 0 && testutil.ToFloat64(th.m.slow) == 1 {
			cutAt = i
		}
	}
	if cutAt == 0 {
		t.Fatal("slow client never cut off")
	}
	t.Logf("slow client cut after %d messages of 8 KiB", cutAt)
	if got := testutil.ToFloat64(th.m.slow); got != 1 {
		t.Fatalf("slow clients cut %v, want 1", got)
	}
	if got := testutil.ToFloat64(th.m.sockets); got != 1 {
		t.Fatalf("sockets %v, want 1", got)
	}
	// The server closed the slow socket: with 1008 "too slow" when the close
	// frame still fitted, else the connection is dropped after what is in flight.
	select {
	case <-th.lis.closedChan(slow.LocalAddr().String()):
	case <-time.After(10 * time.Second):
		t.Fatal("the server did not close the slow socket")
	}
}

func TestCloseClosesEverySocketWithACloseFrame(t *testing.T) {
	th := newTestHub(t, nil)
	conns := []*websocket.Conn{th.dial(t, "tok-ana", ""), th.dial(t, "tok-lea", "")}
	for _, c := range conns {
		readType(t, c, "snapshot")
	}
	if err := th.Close(); err != nil {
		t.Fatal(err)
	}
	if err := th.Close(); err != nil {
		t.Fatalf("second close: %v", err)
	}
	var nilHub *Hub
	if err := nilHub.Close(); err != nil {
		t.Fatal(err)
	}
	for _, c := range conns {
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, _, err := c.ReadMessage()
		if !websocket.IsCloseError(err, websocket.CloseGoingAway) {
			t.Fatalf("after Close: %v", err)
		}
	}
	th.Publish(alert("late", 0)) // dropped, not a panic
	if _, resp, err := th.dialRaw("", http.Header{"Authorization": {"Bearer tok-ana"}}); err == nil || resp.StatusCode != 503 {
		t.Fatalf("dial after close: %v %v", err, resp)
	}
	if got := testutil.ToFloat64(th.m.sockets); got != 0 {
		t.Fatalf("sockets %v after close", got)
	}
}

func TestPingKeepsQuietSocketsAndDropsDeadOnes(t *testing.T) {
	th := newTestHub(t, func(o *Options) { o.PingInterval = 50 * time.Millisecond })
	c := th.dial(t, "tok-ana", "")
	readType(t, c, "snapshot")
	// Reading answers pings; the socket stays well past two intervals.
	pings := make(chan struct{}, 100)
	c.SetPingHandler(func(s string) error {
		pings <- struct{}{}
		return c.WriteControl(websocket.PongMessage, []byte(s), time.Now().Add(time.Second))
	})
	go func() {
		for {
			if _, _, err := c.ReadMessage(); err != nil {
				return
			}
		}
	}()
	for range 5 {
		select {
		case <-pings:
		case <-time.After(5 * time.Second):
			t.Fatal("no ping")
		}
	}
	if got := testutil.ToFloat64(th.m.sockets); got != 1 {
		t.Fatalf("sockets %v", got)
	}
	// A peer that never answers pings is dropped after two intervals.
	dead := th.dial(t, "tok-ben", "")
	dead.SetPingHandler(func(string) error { return nil })
	readType(t, dead, "snapshot")
	_ = dead.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, _, err := dead.ReadMessage()
	if err == nil || websocket.IsCloseError(err, websocket.ClosePolicyViolation) {
		t.Fatalf("silent socket: %v", err)
	}
	if ne := (interface{ Timeout() bool })(nil); errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("silent socket not dropped: %v", err)
	}
}

func TestOptionsValidated(t *testing.T) {
	good := Token{Name: "a", Role: RoleModerator, SHA256: sum("x")}
	cases := map[string]Options{
		"no tokens":     {},
		"bad role":      {Tokens: []Token{{Name: "a", Role: "admin", SHA256: sum("x")}}},
		"bad hash":      {Tokens: []Token{{Name: "a", Role: RoleViewer, SHA256: "abc"}}},
		"repeated name": {Tokens: []Token{good, good}},
		"null origin":   {Tokens: []Token{good}, AllowedOrigins: []string{"null"}},
		"negative ttl":  {Tokens: []Token{good}, ClaimTTL: -time.Second},
	}
	for name, o := range cases {
		if _, err := New(o); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	reg := prometheus.NewRegistry()
	if _, err := New(Options{Tokens: []Token{good}, Registerer: reg}); err != nil {
		t.Fatal(err)
	}
	if _, err := New(Options{Tokens: []Token{good}, Registerer: reg}); err == nil {
		t.Fatal("registered twice")
	}
}

func TestCutClientGetsTooSlowCloseFrame(t *testing.T) {
	th := newTestHub(t, func(o *Options) { o.SendQueue = 1 })
	// Small buffers: with the kernel's, all 1000 could fit and no cut come.
	th.lis.smallBuffers()
	c := th.dialSmall(t, "tok-ana", "")
	for i := 1; i <= 1000 && testutil.ToFloat64(th.m.slow) == 0; i++ {
		th.Publish(alert(fmt.Sprintf("a%d", i), 0))
	}
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	var err error
	for err == nil {
		_, _, err = c.ReadMessage()
	}
	var ce *websocket.CloseError
	if !errors.As(err, &ce) || ce.Code != websocket.ClosePolicyViolation || ce.Text != "too slow" {
		t.Fatalf("got %v, want close 1008 too slow", err)
	}
	// It may come back from where it was.
	readType(t, th.dial(t, "tok-ana", "since=0"), "alert")
}
