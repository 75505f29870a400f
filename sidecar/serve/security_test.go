package serve

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/ronda-watch/ronda/sidecar/hub"
	"github.com/ronda-watch/ronda/sidecar/intake"
	"github.com/ronda-watch/ronda/sidecar/intake/wire"
)

// TestSecurityThroughTheService sends every kind of bad request the issue
// names to one running service, while a moderator is connected and a valid
// sender keeps sending: each is refused with a clear answer, and neither the
// moderator nor the sender notices.
func TestSecurityThroughTheService(t *testing.T) {
	cfg := baseConfig(t)
	cfg.Moderators.AllowedOrigins = []string{"https://console.example.org"}
	cfg.Intake.MaxBodyBytes = 1 << 20
	r := startService(t, cfg)
	base := "http://" + r.addr
	mod := dialModerator(t, r.addr, tokModA)
	mod.find(5*time.Second, "snapshot", func(m map[string]any) bool { return m["type"] == "snapshot" })

	evs, _ := smallWorld(t, 5)
	next := 0
	valid := func() {
		t.Helper()
		body := ndjson(t, evs[next:next+50])
		next += 50
		if a := postOK(t, r.addr, body); a.Accepted != 50 {
			t.Fatalf("valid batch after a refusal: %+v", a)
		}
	}
	good := ndjson(t, evs[len(evs)-10:])
	signed := func(body []byte, key string, secret []byte, at time.Time) *http.Request {
		req, _ := http.NewRequest(http.MethodPost, base+intake.Path, bytes.NewReader(body))
		wire.Sign(req, key, secret, body, at)
		return req
	}
	var replayed *http.Request
	{
		replayed = signed(good, keyID, []byte(keySecret), time.Now())
		// Sent once (accepted), then again below.
		resp, err := http.DefaultClient.Do(replayed.Clone(replayed.Context()))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}

	for _, tc := range []struct {
		name   string
		req    func() *http.Request
		status int
		says   string
	}{
		{"missing signature", func() *http.Request {
			req, _ := http.NewRequest(http.MethodPost, base+intake.Path, bytes.NewReader(good))
			return req
		}, 401, "X-Ronda-Key"},
		{"wrong signature", func() *http.Request {
			return signed(good, keyID, []byte("not-the-secret-0123456789abcdef"), time.Now())
		}, 401, "signature does not match"},
		{"unknown key", func() *http.Request { return signed(good, "nobody", []byte(keySecret), time.Now()) }, 401, "key"},
		{"expired signature", func() *http.Request { return signed(good, keyID, []byte(keySecret), time.Now().Add(-time.Hour)) }, 401, "timestamp"},
		{"replayed request", func() *http.Request {
			req, _ := http.NewRequest(http.MethodPost, base+intake.Path, bytes.NewReader(good))
			req.Header = replayed.Header.Clone()
			return req
		}, 401, "replayed"},
		{"oversize body", func() *http.Request {
			return signed(bytes.Repeat([]byte(" "), 2<<20), keyID, []byte(keySecret), time.Now())
		}, 413, "large"},
		{"wrong method", func() *http.Request {
			req, _ := http.NewRequest(http.MethodGet, base+intake.Path, nil)
			return req
		}, 405, "POST"},
		{"moderator socket without token", func() *http.Request { return wsUpgrade(base+hub.Path, "", "") }, 401, "token"},
		{"moderator socket with a wrong token", func() *http.Request { return wsUpgrade(base+hub.Path, "wrong-token", "") }, 401, "token"},
		{"cross-origin moderator socket", func() *http.Request {
			return wsUpgrade(base+hub.Path, tokModA, "https://evil.example.com")
		}, 403, "origin"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := http.DefaultClient.Do(tc.req())
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.status || !strings.Contains(strings.ToLower(string(b)), strings.ToLower(tc.says)) {
				t.Errorf("answer %d %q, want %d saying %q", resp.StatusCode, b, tc.status, tc.says)
			}
			valid()
		})
	}

	t.Run("malformed JSON lines are rejected alone", func(t *testing.T) {
		body := append([]byte("{not json\n"), ndjson(t, evs[next:next+3])...)
		next += 3
		body = append(body, []byte(`{"id":"x1","type":"gift","at":"2025-06-01T00:00:00Z"}`+"\n")...)
		a := postOK(t, r.addr, body)
		if a.Accepted != 3 || len(a.Rejected) != 2 || a.Rejected[0].Line != 1 || a.Rejected[1].Field == "" {
			t.Errorf("answer %+v: want 3 accepted and lines 1 and 5 rejected with a field", a)
		}
	})

	t.Run("wrong role", func(t *testing.T) {
		v := dialModerator(t, r.addr, tokViewer)
		v.find(5*time.Second, "snapshot", func(m map[string]any) bool { return m["type"] == "snapshot" })
		v.send(map[string]any{"type": "action", "request_id": "v1", "alert_id": "any", "action": "claim"})
		msg := v.find(5*time.Second, "refusal", func(m map[string]any) bool { return m["type"] == "error" && m["request_id"] == "v1" })
		if msg["code"] != "forbidden" || !strings.Contains(fmt.Sprint(msg["message"]), "needs moderator") {
			t.Errorf("viewer's claim refused with %v, want a role refusal", msg)
		}
	})

	t.Run("repeated bad tokens are rate limited", func(t *testing.T) {
		var last *http.Response
		for i := 0; i < 10; i++ {
			resp, err := http.DefaultClient.Do(wsUpgrade(base+hub.Path, "guess-"+strconv.Itoa(i), ""))
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			last = resp
		}
		if last.StatusCode != http.StatusTooManyRequests || last.Header.Get("Retry-After") == "" {
			t.Errorf("10th bad token: %d, Retry-After %q; want 429 with Retry-After", last.StatusCode, last.Header.Get("Retry-After"))
		}
		valid()
	})

	// The moderator connected at the start was never disturbed.
	if err := mod.conn.WriteControl(websocket.PingMessage, nil, time.Now().Add(time.Second)); err != nil {
		t.Errorf("the moderator's socket is gone: %v", err)
	}
}

// wsUpgrade is a websocket upgrade request as a browser or script sends it.
func wsUpgrade(url, token, origin string) *http.Request {
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Upgrade", "websocket")
	req.Header.Set("Sec-WebSocket-Version", "13")
	req.Header.Set("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if origin != "" {
		req.Header.Set("Origin", origin)
	}
	return req
}
