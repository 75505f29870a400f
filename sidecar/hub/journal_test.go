package hub

import (
	"encoding/json"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"
)

// journal is an Options.Journal that keeps what it is given, or fails.
type journal struct {
	mu   sync.Mutex
	recs []ActionRecord
	fail error
}

func (j *journal) add(a ActionRecord) (uint64, error) {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.fail != nil {
		return 0, j.fail
	}
	j.recs = append(j.recs, a)
	return uint64(len(j.recs)), nil
}

func stateJSON(t *testing.T, h *Hub) string {
	t.Helper()
	s := h.State()
	b, err := json.Marshal(s.Alerts)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestJournalReplayRebuildsTheState: the actions a hub journaled, replayed
// into a hub restored from its state taken before them, give the same
// alerts' states (claims with their expiry, assignment, ack, notes,
// dismissal); replayed again, nothing changes; a state that holds them
// skips them.
func TestJournalReplayRebuildsTheState(t *testing.T) {
	j := &journal{}
	a := newTestHub(t, func(o *Options) { o.Journal = j.add })
	for _, id := range []string{"a1", "a2", "a3", "a4"} {
		a.Publish(alert(id, 0))
	}
	st := a.State()
	ana, lea := a.dial(t, "tok-ana", ""), a.dial(t, "tok-lea", "")
	readType(t, ana, "snapshot")
	readType(t, lea, "snapshot")
	act(t, ana, map[string]string{"action": ActClaim, "alert_id": "a1"})
	a.clk.Add(90e9)
	act(t, ana, map[string]string{"action": ActNote, "alert_id": "a1", "note": "watching"})
	act(t, lea, map[string]string{"action": ActAssign, "alert_id": "a2", "target": "ben"})
	act(t, ana, map[string]string{"action": ActAck, "alert_id": "a4"})
	act(t, ana, map[string]string{"action": ActDismiss, "alert_id": "a3", "reason": "a game"})
	if len(j.recs) != 5 {
		t.Fatalf("%d actions journaled, want 5", len(j.recs))
	}
	want := stateJSON(t, a.Hub)

	b := newTestHub(t, nil)
	b.clk.Add(3600e9) // replay uses the recorded times, not the clock
	if err := b.Restore(st); err != nil {
		t.Fatal(err)
	}
	for i, r := range j.recs {
		if err := b.ReplayAction(r, uint64(i+1)); err != nil {
			t.Fatal(err)
		}
	}
	if got := stateJSON(t, b.Hub); got != want {
		t.Fatalf("replayed state:\n got %s\nwant %s", got, want)
	}
	for i, r := range j.recs[:4] { // again: skipped by position
		if err := b.ReplayAction(r, uint64(i+1)); err != nil {
			t.Fatal(err)
		}
	}
	if got := stateJSON(t, b.Hub); got != want {
		t.Fatalf("replayed twice:\n got %s\nwant %s", got, want)
	}
	// A state that holds them carries their position.
	c := newTestHub(t, nil)
	if err := c.Restore(a.State()); err != nil {
		t.Fatal(err)
	}
	if c.State().JournalPos != 5 {
		t.Fatalf("restored JournalPos %d, want 5", c.State().JournalPos)
	}
	if err := c.ReplayAction(j.recs[1], 2); err != nil || stateJSON(t, c.Hub) != want {
		t.Fatalf("an action the state holds was applied again: %v", err)
	}
}

// TestReplayActionRefusals: what a moderator could not have done is
// refused and changes nothing.
func TestReplayActionRefusals(t *testing.T) {
	h := newTestHub(t, nil)
	h.Publish(alert("a1", 0))
	before := stateJSON(t, h.Hub)
	ok := ActionRecord{At: h.clk.Now(), ActionID: "x-1", AlertID: "a1", Moderator: "ana", Action: ActClaim}
	for name, mut := range map[string]func(*ActionRecord){
		"unknown action": func(a *ActionRecord) { a.Action = ActTokensReloaded },
		"no time":        func(a *ActionRecord) { a.At = time.Time{} },
		"no moderator":   func(a *ActionRecord) { a.Moderator = "" },
		"long note":      func(a *ActionRecord) { a.Action, a.Note = ActNote, strings.Repeat("n", maxNote+1) },
		"assign nobody":  func(a *ActionRecord) { a.Action = ActAssign },
		"alert not open": func(a *ActionRecord) { a.AlertID = "a9" },
	} {
		r := ok
		mut(&r)
		err := h.ReplayAction(r, 0)
		if err == nil {
			t.Fatalf("%s: replayed", name)
		}
		if name == "alert not open" && !errors.Is(err, ErrReplayNotOpen) {
			t.Fatalf("%s: %v, want ErrReplayNotOpen", name, err)
		}
		if got := stateJSON(t, h.Hub); got != before {
			t.Fatalf("%s changed the state: %s", name, got)
		}
	}
}

// TestActionRefusedWhenJournalFails: not_saved, nothing changed, nothing
// audited or broadcast.
func TestActionRefusedWhenJournalFails(t *testing.T) {
	j := &journal{fail: errors.New("disk full")}
	h := newTestHub(t, func(o *Options) { o.Journal = j.add })
	h.Publish(alert("a1", 0))
	before := stateJSON(t, h.Hub)
	ana, ben := h.dial(t, "tok-ana", ""), h.dial(t, "tok-ben", "")
	readType(t, ana, "snapshot")
	readType(t, ben, "snapshot")
	send(t, ana, map[string]string{"type": "action", "request_id": "r1", "action": ActClaim, "alert_id": "a1"})
	if m := readType(t, ana, "error"); m.Code != codeNotSaved || m.RequestID != "r1" {
		t.Fatalf("claim with the journal failing: %+v", m)
	}
	if got := stateJSON(t, h.Hub); got != before || len(h.audited()) != 0 {
		t.Fatalf("a refused action changed the state (%s) or was audited (%d)", got, len(h.audited()))
	}
	// ben hears nothing of it: the next thing he gets is the next alert.
	h.Publish(alert("a2", 0))
	if m := read(t, ben); m.Type != "alert" {
		t.Fatalf("ben got %s, want the next alert", m.Type)
	}
}
