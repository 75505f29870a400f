package hub

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// closeOf reads until the socket closes and gives the close frame's code and
// reason.
func closeOf(t *testing.T, c *websocket.Conn) (int, string) {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		_, _, err := c.ReadMessage()
		if err == nil {
			continue
		}
		var ce *websocket.CloseError
		if !errors.As(err, &ce) {
			t.Fatalf("read: %v, want a close frame", err)
		}
		return ce.Code, ce.Text
	}
}

func TestSetTokensAddsRemovesRotatesAndClosesSockets(t *testing.T) {
	th := newTestHub(t, nil)
	th.Publish(alert("a1", 0))
	ana, ben, lea, vic := th.dial(t, "tok-ana", ""), th.dial(t, "tok-ben", ""), th.dial(t, "tok-lea", ""), th.dial(t, "tok-vic", "")
	for _, c := range []*websocket.Conn{ana, ben, lea, vic} {
		readType(t, c, "snapshot")
	}
	before := th.Hub.tokens.Load()

	// All or nothing: a list that does not validate changes nothing.
	for _, bad := range [][]Token{
		nil,
		{{Name: "ana", Role: RoleModerator, SHA256: sum("tok-ana")}, {Name: "ana", Role: RoleLead, SHA256: sum("x")}},
		{{Name: "ana", Role: RoleModerator, SHA256: sum("tok-ana")}, {Name: "zoe", Role: "admin", SHA256: sum("z")}},
		{{Name: "ana", Role: RoleModerator, SHA256: sum("tok-ana")}, {Name: "zoe", Role: RoleLead, SHA256: "abc"}},
		{{Name: "ana", Role: RoleModerator, SHA256: sum("tok-ana")}, {Name: "zoe", Role: RoleLead, SHA256: sum("tok-ana")}},
	} {
		if err := th.SetTokens(bad); err == nil {
			t.Fatalf("took %+v", bad)
		}
	}
	if th.Hub.tokens.Load() != before || len(th.audited()) != 0 {
		t.Fatal("a refused list changed the tokens or was audited")
	}
	if n := testutil.ToFloat64(th.m.reloads.WithLabelValues("refused")); n != 5 {
		t.Fatalf("refused reloads counted %v", n)
	}

	// ana stays; ben is removed; lea rotates to a new secret; vic becomes a
	// moderator; zoe is added.
	err := th.SetTokens([]Token{
		{Name: "ana", Role: RoleModerator, SHA256: sum("tok-ana")},
		{Name: "lea", Role: RoleLead, SHA256: sum("tok-lea-2")},
		{Name: "vic", Role: RoleModerator, SHA256: sum("tok-vic")},
		{Name: "zoe", Role: RoleModerator, SHA256: sum("tok-zoe")},
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		c    *websocket.Conn
		code int
	}{{ben, CloseTokenRemoved}, {lea, CloseTokenRemoved}, {vic, CloseTokenChanged}} {
		if code, reason := closeOf(t, tc.c); code != tc.code || reason == "" {
			t.Fatalf("closed with %d %q, want %d", code, reason, tc.code)
		}
	}
	// ana's socket stays and still gets alerts.
	th.Publish(alert("a2", 0))
	if m := readType(t, ana, "alert"); m.Alert.ID != "a2" {
		t.Fatalf("ana got %+v", m)
	}
	for _, old := range []string{"tok-ben", "tok-lea"} {
		if _, resp, err := th.dialRaw("", http.Header{"Authorization": {"Bearer " + old}}); err == nil || resp.StatusCode != 401 {
			t.Fatalf("%s after reload: %v %v", old, err, resp)
		}
	}
	readType(t, th.dial(t, "tok-lea-2", ""), "snapshot")
	readType(t, th.dial(t, "tok-zoe", ""), "snapshot")
	v := th.dial(t, "tok-vic", "")
	readType(t, v, "snapshot")
	send(t, v, map[string]string{"request_id": "c", "alert_id": "a1", "action": "claim"})
	if a := readType(t, v, "ack"); a.State.ClaimedBy != "vic" {
		t.Fatalf("vic as moderator: %+v", a)
	}
	if n := testutil.ToFloat64(th.m.reloads.WithLabelValues("ok")); n != 1 {
		t.Fatalf("reloads counted %v", n)
	}
	rows := th.audited()
	if len(rows) != 2 || rows[0].Action != ActTokensReloaded || rows[0].AlertID != "" ||
		rows[0].Note != "4 tokens: 1 added, 1 removed, 1 rotated, 1 role changed; 3 sockets closed" {
		t.Fatalf("audit %+v", rows)
	}
	for _, s := range []string{"tok-", sum("tok-zoe")} {
		if strings.Contains(rows[0].Note, s) {
			t.Fatalf("audit names a token: %q", rows[0].Note)
		}
	}
	// Assign follows the new names: ben is gone.
	l := th.dial(t, "tok-lea-2", "")
	readType(t, l, "snapshot")
	send(t, l, map[string]string{"request_id": "as", "alert_id": "a2", "action": "assign", "target": "ben"})
	if e := readType(t, l, "error"); e.Code != "bad_target" {
		t.Fatalf("assign to a removed name: %+v", e)
	}
}

// 20 bad tokens from one client through a trusted proxy lock out that client
// only; another client behind the same proxy still gets in, even without a
// valid token's pass. An untrusted peer's X-Forwarded-For is not believed.
func TestTrustedProxyLocksOutTheClientNotTheProxy(t *testing.T) {
	th := newTestHub(t, func(o *Options) {
		o.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
		o.BadTokenLimit = 5
	})
	via := func(xff, token string) *http.Response {
		hdr := http.Header{"X-Forwarded-For": {xff}}
		if token != "" {
			hdr.Set("Authorization", "Bearer "+token)
		}
		c, resp, _ := th.dialRaw("", hdr)
		if c != nil {
			c.Close()
		}
		return resp
	}
	for range 20 {
		if r := via("203.0.113.7", "guess"); r.StatusCode != 401 && r.StatusCode != 429 {
			t.Fatalf("guess answered %d", r.StatusCode)
		}
	}
	if r := via("203.0.113.7", "guess"); r.StatusCode != 429 {
		t.Fatalf("the guesser: %d, want 429", r.StatusCode)
	}
	// Another client behind the same proxy: a mistyped token is a 401, not a
	// lockout, and its good token works.
	if r := via("198.51.100.9", "typo"); r.StatusCode != 401 {
		t.Fatalf("another client's typo: %d, want 401", r.StatusCode)
	}
	if r := via("198.51.100.9", "tok-ana"); r.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("another client: %d", r.StatusCode)
	}
	// A client that writes its own X-Forwarded-For before the proxy appends
	// the real address is counted by the real one.
	if r := via("198.51.100.9, 203.0.113.7", "guess"); r.StatusCode != 429 {
		t.Fatalf("forged entry: %d, want 429", r.StatusCode)
	}

	// Untrusted peer: its X-Forwarded-For is ignored, the peer is counted.
	un := newTestHub(t, func(o *Options) { o.BadTokenLimit = 3 })
	for i := range 3 {
		hdr := http.Header{"Authorization": {"Bearer guess"}, "X-Forwarded-For": {"192.0.2." + string(rune('1'+i))}}
		if _, resp, _ := un.dialRaw("", hdr); resp.StatusCode != 401 {
			t.Fatalf("guess %d: %d", i, resp.StatusCode)
		}
	}
	hdr := http.Header{"Authorization": {"Bearer guess"}, "X-Forwarded-For": {"192.0.2.99"}}
	if _, resp, _ := un.dialRaw("", hdr); resp.StatusCode != 429 {
		t.Fatalf("untrusted peer with a new X-Forwarded-For: %d, want 429", resp.StatusCode)
	}
}

// TestLockoutKey: bad tokens are counted against the client's address in
// string form, and against the peer as given when that is not an IP (so
// unreadable peers are not all one client).
func TestLockoutKey(t *testing.T) {
	t.Parallel()
	proxies := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}
	for _, c := range []struct {
		name, peer, xff, want string
	}{
		{"through a trusted proxy", "10.0.0.2:5000", "198.51.100.1", "198.51.100.1"},
		{"untrusted peer", "192.0.2.1:5000", "198.51.100.1", "192.0.2.1"},
		{"ipv6 peer", "[2001:db8::1]:5000", "", "2001:db8::1"},
		{"unreadable peer", "pipe", "198.51.100.1", "pipe"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			r := &http.Request{RemoteAddr: c.peer, Header: http.Header{}}
			if c.xff != "" {
				r.Header.Set("X-Forwarded-For", c.xff)
			}
			if got := lockoutKey(r, proxies); got != c.want {
				t.Errorf("%s: %q, want %q", c.peer, got, c.want)
			}
		})
	}
}

// An action a socket sent just before its token was removed, read after, is
// not carried out: the hub acts only for sockets it still holds.
func TestActionAfterTokenRemovalIsIgnored(t *testing.T) {
	th := newTestHub(t, nil)
	th.Publish(alert("a1", 0))
	ana := th.dial(t, "tok-ana", "")
	readType(t, ana, "snapshot")
	th.Hub.mu.Lock()
	var c *client
	for k := range th.clients {
		c = k
	}
	th.Hub.mu.Unlock()
	if err := th.SetTokens([]Token{{Name: "lea", Role: RoleLead, SHA256: sum("tok-lea")}}); err != nil {
		t.Fatal(err)
	}
	th.handle(c, []byte(`{"type":"action","request_id":"r","alert_id":"a1","action":"claim"}`))
	rows := th.audited()
	if len(rows) != 1 || rows[0].Action != ActTokensReloaded {
		t.Fatalf("audit %+v", rows)
	}
	if s := th.State(); s.Alerts[0].ClaimedBy != "" {
		t.Fatalf("claimed by %q after the token was removed", s.Alerts[0].ClaimedBy)
	}
}

// Authorize gives an endpoint beside the hub the socket's lock and a role:
// a token below the role is refused with 403, one at or above it passes,
// and a bad token is refused and counted as at the socket.
func TestAuthorize(t *testing.T) {
	th := newTestHub(t, func(o *Options) { o.BadTokenLimit = 100 })
	for _, tc := range []struct {
		name, token, role string
		want              int
	}{
		{"lead for a lead", "tok-lea", RoleLead, 200},
		{"moderator for a viewer", "tok-ana", RoleViewer, 200},
		{"viewer for a moderator", "tok-vic", RoleModerator, 403},
		{"bad token", "tok-eve", RoleViewer, 401},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := testutil.ToFloat64(th.m.auth.WithLabelValues(failBad))
			rec := httptest.NewRecorder()
			req := httptest.NewRequest("GET", "/v1/alerts/history", nil)
			req.Header.Set("Authorization", "Bearer "+tc.token)
			who, ok := th.Authorize(rec, req, tc.role)
			if code := map[bool]int{true: 200, false: rec.Code}[ok]; code != tc.want {
				t.Fatalf("answer %d (%s), want %d", code, rec.Body, tc.want)
			}
			if ok && who.Name == "" {
				t.Error("admitted without a name")
			}
			if got := testutil.ToFloat64(th.m.auth.WithLabelValues(failBad)) - before; (tc.want == 401) != (got == 1) {
				t.Errorf("bad tokens counted %v", got)
			}
		})
	}
}
