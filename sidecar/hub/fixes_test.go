package hub

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/gorilla/websocket"

	"github.com/ronda-watch/ronda/analyzer"
)

// Two leads who press escalate at once escalate the alert once: the check and
// the mark are one step under the hub's lock. Raced many times under -race.
func TestTwoLeadsEscalateOnce(t *testing.T) {
	var calls sync.Map // alert id -> *atomic.Int32
	th := newTestHub(t, func(o *Options) {
		o.Tokens = append(o.Tokens, Token{Name: "leo", Role: RoleLead, SHA256: sum("tok-leo")})
		o.Escalate = func(_ context.Context, a analyzer.Alert, _ string) error {
			n, _ := calls.LoadOrStore(a.ID, new(atomic.Int32))
			n.(*atomic.Int32).Add(1)
			return nil
		}
	})
	lea, leo := th.dial(t, "tok-lea", ""), th.dial(t, "tok-leo", "")
	readType(t, lea, "snapshot")
	readType(t, leo, "snapshot")
	const rounds = 200
	for i := range rounds {
		id := fmt.Sprintf("e%d", i)
		th.Publish(alert(id, 0))
		readType(t, lea, "alert")
		readType(t, leo, "alert")
		var wg sync.WaitGroup
		results := make([]msg, 2)
		sawAction := make([]bool, 2)
		for k, c := range []*websocket.Conn{lea, leo} {
			wg.Go(func() {
				if err := c.WriteJSON(map[string]string{"type": "action", "request_id": id, "alert_id": id,
					"action": "escalate", "note": "press"}); err != nil {
					t.Error(err)
				}
				// Its own answer; the other lead's action, if any, may come first.
				for {
					m := read(t, c)
					if m.RequestID == id {
						results[k] = m
						return
					}
					sawAction[k] = sawAction[k] || m.Type == "action"
				}
			})
		}
		wg.Wait()
		acks := 0
		for _, m := range results {
			switch {
			case m.Type == "ack":
				acks++
			case m.Type == "error" && (m.Code == "escalating" || m.Code == "bad_state"):
			default:
				t.Fatalf("round %d: %+v", i, m)
			}
		}
		n, _ := calls.Load(id)
		if acks != 1 || n == nil || n.(*atomic.Int32).Load() != 1 {
			t.Fatalf("round %d: %d acks, destination called %v times", i, acks, n)
		}
		// The loser's socket still has the winner's action message to read.
		for k, m := range results {
			if m.Type == "error" && !sawAction[k] {
				readType(t, []*websocket.Conn{lea, leo}[k], "action")
			}
		}
	}
}

// While the destination has the alert, a second escalate and a dismiss are
// refused; the deterministic half of the race above.
func TestEscalationUnderWayRefusesEscalateAndDismiss(t *testing.T) {
	entered, release := make(chan struct{}), make(chan struct{})
	th := newTestHub(t, func(o *Options) {
		o.Tokens = append(o.Tokens, Token{Name: "leo", Role: RoleLead, SHA256: sum("tok-leo")})
		o.Escalate = func(context.Context, analyzer.Alert, string) error {
			entered <- struct{}{}
			<-release
			return nil
		}
	})
	th.Publish(alert("a1", 0))
	lea, leo := th.dial(t, "tok-lea", ""), th.dial(t, "tok-leo", "")
	readType(t, lea, "snapshot")
	readType(t, leo, "snapshot")
	send(t, lea, map[string]string{"request_id": "e1", "alert_id": "a1", "action": "escalate", "note": "first"})
	<-entered
	send(t, leo, map[string]string{"request_id": "e2", "alert_id": "a1", "action": "escalate", "note": "second"})
	if e := readType(t, leo, "error"); e.Code != "escalating" || e.RequestID != "e2" {
		t.Fatalf("second escalate: %+v", e)
	}
	send(t, leo, map[string]string{"request_id": "d", "alert_id": "a1", "action": "dismiss", "reason": "benign"})
	if e := readType(t, leo, "error"); e.Code != "escalating" {
		t.Fatalf("dismiss during escalation: %+v", e)
	}
	close(release)
	if a := readType(t, lea, "ack"); a.State.Status != "escalated" || a.State.EscalatedBy != "lea" {
		t.Fatalf("escalate %+v", a)
	}
	readType(t, leo, "action")
	send(t, leo, map[string]string{"request_id": "d2", "alert_id": "a1", "action": "dismiss", "reason": "benign"})
	if e := readType(t, leo, "error"); e.Code != "escalated" || !strings.Contains(e.Message, "lea") {
		t.Fatalf("dismiss after escalation: %+v", e)
	}
	if rows := th.audited(); len(rows) != 1 || rows[0].Action != "escalate" {
		t.Fatalf("audit %+v", rows)
	}
}

// target, reason and note go only with the actions that take them; the
// others are refused, not audited with a field the action did not use.
func TestFieldsAnActionDoesNotTakeAreRefused(t *testing.T) {
	th := newTestHub(t, nil)
	th.Publish(alert("a1", 0))
	lea := th.dial(t, "tok-lea", "")
	readType(t, lea, "snapshot")
	for _, tc := range []struct{ action, field string }{
		{"claim", "target"}, {"claim", "reason"}, {"claim", "note"},
		{"ack", "reason"}, {"ack", "note"},
		{"assign", "reason"}, {"assign", "note"},
		{"dismiss", "target"}, {"dismiss", "note"},
		{"note", "target"}, {"note", "reason"},
		{"escalate", "target"}, {"escalate", "reason"},
	} {
		m := map[string]string{"request_id": tc.action + "/" + tc.field, "alert_id": "a1", "action": tc.action,
			tc.field: "x"}
		// The field the action needs, so that only the extra one is wrong.
		if f := fieldsOf[tc.action]; f != "" {
			m[f] = "ana"
		}
		send(t, lea, m)
		e := readType(t, lea, "error")
		if e.Code != "unexpected_field" || e.RequestID != m["request_id"] ||
			!strings.Contains(e.Message, tc.field) {
			t.Errorf("%s with %s: %+v", tc.action, tc.field, e)
		}
	}
	if rows := th.audited(); len(rows) != 0 {
		t.Fatalf("audited %+v", rows)
	}
}

// The handshake answer never carries the token: a browser that offers its
// token beside ronda.v1 gets ronda.v1; one that offers only its token is
// refused, since the only offer it could get back is the token.
func TestHandshakeNeverEchoesTheToken(t *testing.T) {
	th := newTestHub(t, nil)
	c, resp, err := th.dialRaw("", http.Header{"Origin": {consoleOrigin},
		"Sec-WebSocket-Protocol": {"ronda.token.tok-ana, " + Subprotocol}})
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	if got := resp.Header.Values("Sec-WebSocket-Protocol"); len(got) != 1 || got[0] != Subprotocol {
		t.Fatalf("answered subprotocol %q", got)
	}
	_, resp, err = th.dialRaw("", http.Header{"Origin": {consoleOrigin},
		"Sec-WebSocket-Protocol": {"ronda.token.tok-ana"}})
	if err == nil || resp == nil || resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("token only: %v %v", err, resp)
	}
	for k, vs := range resp.Header {
		for _, v := range vs {
			if strings.Contains(v, "tok-ana") {
				t.Fatalf("header %s echoes the token: %q", k, v)
			}
		}
	}
}

func TestIsExampleToken(t *testing.T) {
	if !IsExampleToken(Token{Name: "x", Role: RoleLead, SHA256: strings.ToUpper(sum("change-me"))}) {
		t.Fatal("the example token is not recognised")
	}
	if IsExampleToken(Token{Name: "x", Role: RoleLead, SHA256: sum("change-me-too")}) {
		t.Fatal("another token taken for the example")
	}
}
