package hub

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// readCase reads one message and wants it a case message.
func readCase(t *testing.T, c *websocket.Conn) (uint64, CaseUpdate) {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, b, err := c.ReadMessage()
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	var m struct {
		Type string      `json:"type"`
		Seq  uint64      `json:"seq"`
		Case *CaseUpdate `json:"case"`
	}
	if err := json.Unmarshal(b, &m); err != nil || m.Type != "case" || m.Case == nil {
		t.Fatalf("got %s (%v), want a case message", b, err)
	}
	return m.Seq, *m.Case
}

// TestCaseUpdatesReachEveryConsoleAndResume: a case change goes to every
// socket, a viewer's too, numbered in the same sequence as alerts and
// actions, and a console that was away gets it on resume.
func TestCaseUpdatesReachEveryConsoleAndResume(t *testing.T) {
	th := newTestHub(t, nil)
	th.Publish(alert("a1", 0))
	ana, vic := th.dial(t, "tok-ana", ""), th.dial(t, "tok-vic", "")
	for _, c := range []*websocket.Conn{ana, vic} {
		readType(t, c, "snapshot")
	}
	u := CaseUpdate{CaseID: "case-0123456789abcdef0123", AlertID: "a1", Change: "approve", Status: "approved",
		Version: 3, By: "lea", At: th.clk.Now()}
	th.PublishCase(u)
	for _, c := range []*websocket.Conn{ana, vic} {
		seq, got := readCase(t, c)
		if seq != 2 || got != u {
			t.Fatalf("case message seq %d %+v, want seq 2 %+v", seq, got, u)
		}
	}
	th.PublishCase(CaseUpdate{}) // names no case: not sent
	vic.Close()
	u2 := u
	u2.Change, u2.Status = "submit", "submitted"
	th.PublishCase(u2)
	if seq, got := readCase(t, ana); seq != 3 || got != u2 {
		t.Fatalf("case message seq %d %+v, want seq 3 %+v", seq, got, u2)
	}
	back := th.dial(t, "tok-vic", "since=2")
	if seq, got := readCase(t, back); seq != 3 || got != u2 {
		t.Fatalf("resumed with seq %d %+v, want seq 3 %+v", seq, got, u2)
	}
}

// TestLeverCaseUpdate: a lever's step on a case names the lever and leaves
// out the case's status and version (it does not change the case).
func TestLeverCaseUpdate(t *testing.T) {
	th := newTestHub(t, nil)
	c := th.dial(t, "tok-vic", "")
	readType(t, c, "snapshot")
	u := CaseUpdate{CaseID: "case-0123456789abcdef0123", AlertID: "a1", Change: "lever_lift", LeverID: "lv-0123456789abcdef",
		By: "lea", At: th.clk.Now()}
	th.PublishCase(u)
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, b, err := c.ReadMessage()
	if err != nil {
		t.Fatal(err)
	}
	var m struct {
		Case map[string]any `json:"case"`
	}
	if err := json.Unmarshal(b, &m); err != nil || m.Case["lever_id"] != u.LeverID || m.Case["change"] != "lever_lift" {
		t.Fatalf("got %s (%v), want the lever's step", b, err)
	}
	for _, k := range []string{"status", "version"} {
		if _, ok := m.Case[k]; ok {
			t.Errorf("a lever's step carries %s: %s", k, b)
		}
	}
}
