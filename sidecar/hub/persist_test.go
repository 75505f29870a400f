package hub

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/ronda-watch/ronda/analyzer"
)

// restartTweak is the options both hubs of a restart share: a small send
// queue, so that what a console missed is more than its queue holds, and a
// destination for escalations.
func restartTweak(clk *clock) func(*Options) {
	return func(o *Options) {
		o.SendQueue = 8
		o.ClaimTTL = 10 * time.Minute
		o.Escalate = func(context.Context, analyzer.Alert, string) error { return nil }
		if clk != nil {
			o.Now = clk.Now
		}
	}
}

// act sends an action and reads up to its ack, past others' messages.
func act(t *testing.T, c *websocket.Conn, fields map[string]string) msg {
	t.Helper()
	fields["request_id"] = fields["action"] + "-" + fields["alert_id"]
	send(t, c, fields)
	for {
		m := read(t, c)
		if m.Type == "ack" && m.RequestID == fields["request_id"] {
			return m
		}
		if m.Type == "error" {
			t.Fatalf("%s: %s %s", fields["request_id"], m.Code, m.Message)
		}
	}
}

// drainToClose reads until the hub closes the socket and gives the largest
// seq read and the close code.
// Safe on another goroutine: it reports failures with Error and code -1.
func drainToClose(t *testing.T, c *websocket.Conn, read *atomic.Uint64) (last uint64, code int) {
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	for {
		_, b, err := c.ReadMessage()
		if err != nil {
			ce, ok := err.(*websocket.CloseError)
			if !ok {
				t.Errorf("read: %v", err)
				return last, -1
			}
			return last, ce.Code
		}
		var m msg
		if err := json.Unmarshal(b, &m); err != nil {
			t.Error(err)
			return last, -1
		}
		last = max(last, m.Seq)
		read.Store(last)
	}
}

// readSeqs reads messages until one with seq last, checking that each comes
// once, in order, after from.
func readSeqs(t *testing.T, c *websocket.Conn, from, last uint64) []msg {
	t.Helper()
	var got []msg
	for want := from + 1; want <= last; want++ {
		m := read(t, c)
		if m.Seq != want || (m.Type != "alert" && m.Type != "action") {
			t.Fatalf("after seq %d got %s seq %d, want seq %d", want-1, m.Type, m.Seq, want)
		}
		got = append(got, m)
	}
	return got
}

// A console connected through a hub restart: hub A's state, taken after it
// closed, encoded, decoded and restored into hub B on a new listener; the
// console resumes with ?since and gets exactly what it missed, none twice;
// claims (with their expiry on the injected clock), assignments, notes and
// escalations are kept.
func TestConsoleResumesThroughAHubRestart(t *testing.T) {
	a := newTestHub(t, restartTweak(nil))
	clk := a.clk
	for i := 1; i <= 6; i++ {
		a.Publish(alert(fmt.Sprintf("a%d", i), 0))
	}
	ana, lea := a.dial(t, "tok-ana", ""), a.dial(t, "tok-lea", "")
	readType(t, ana, "snapshot")
	readType(t, lea, "snapshot")
	vic := a.dial(t, "tok-vic", "")
	vicSeq := readType(t, vic, "snapshot").Seq // 6

	act(t, ana, map[string]string{"alert_id": "a3", "action": "claim"})
	act(t, lea, map[string]string{"alert_id": "a4", "action": "assign", "target": "ben"})
	act(t, ana, map[string]string{"alert_id": "a5", "action": "note", "note": "two adults, one child"})
	act(t, lea, map[string]string{"alert_id": "a6", "action": "escalate", "note": "hotline"})
	act(t, ana, map[string]string{"alert_id": "a2", "action": "dismiss", "reason": "a family"})
	vicGot := readSeqs(t, vic, vicSeq, vicSeq+5)
	vicSeq += 5
	vic.Close() // vic goes away at seq 11; ana stays to the end, reading
	lea.Close()
	type drained struct {
		last uint64
		code int
	}
	anaDone := make(chan drained, 1)
	var anaRead atomic.Uint64
	go func() {
		last, code := drainToClose(t, ana, &anaRead)
		anaDone <- drained{last, code}
	}()
	for i := 7; i <= 30; i++ {
		a.Publish(alert(fmt.Sprintf("a%d", i), 0))
		// Not faster than ana reads: its queue holds 8.
		for seq := a.State().Seq; anaRead.Load()+4 < seq; {
			time.Sleep(time.Millisecond)
		}
	}
	last := a.State().Seq // 35

	// The restart: close A, take its state, through bytes, into B. ana read
	// everything up to the close.
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	anaLast := <-anaDone
	if anaLast.last > last || anaLast.last < last-4 || anaLast.code != websocket.CloseGoingAway {
		t.Fatalf("ana read up to %d of %d, closed with %d", anaLast.last, last, anaLast.code)
	}
	st := a.State()
	if !st.Final || st.Seq != last || len(st.Alerts) != 29 || len(st.Ring) != int(last) {
		t.Fatalf("state final %v seq %d, %d alerts, %d ring", st.Final, st.Seq, len(st.Alerts), len(st.Ring))
	}
	b, err := st.Encode()
	if err != nil {
		t.Fatal(err)
	}
	back, err := DecodeState(b)
	if err != nil {
		t.Fatal(err)
	}
	clk.Add(5 * time.Minute) // the restart took a while
	h := newTestHub(t, restartTweak(clk))
	if err := h.Restore(back); err != nil {
		t.Fatal(err)
	}
	if n := testutil.ToFloat64(h.m.restore.WithLabelValues("exact")); n != 1 {
		t.Fatalf("exact restore counted %v", n)
	}
	h.Publish(alert("a31", 0)) // seq 36

	// ana was connected through the restart: it resumes after the last it
	// read (A's close does not wait for what was still queued for it) and
	// gets the rest and what B sent since.
	ana = h.dial(t, "tok-ana", fmt.Sprintf("since=%d", anaLast.last))
	if got := readSeqs(t, ana, anaLast.last, last+1); got[len(got)-1].Alert.ID != "a31" {
		t.Fatalf("ana after the restart: %+v", got[len(got)-1])
	}
	// vic was away across the restart: it gets the 24 alerts published on A
	// after it left and B's one, in order, each once: more than its send
	// queue holds, streamed as it reads.
	vic = h.dial(t, "tok-vic", fmt.Sprintf("since=%d", vicSeq))
	got := readSeqs(t, vic, vicSeq, last+1)
	for i, m := range got {
		if want := fmt.Sprintf("a%d", i+7); m.Alert.ID != want {
			t.Fatalf("vic's message %d after the restart is %s, want %s", m.Seq, m.Alert.ID, want)
		}
	}
	if vicGot[0].Action.Action != "claim" || vicGot[4].Action.Action != "dismiss" {
		t.Fatalf("vic before the restart: %+v", vicGot)
	}
	// Nothing more: the next message is B's next.
	h.Publish(alert("a32", 0))
	if m := readType(t, vic, "alert"); m.Seq != last+2 || m.Alert.ID != "a32" {
		t.Fatalf("vic live after the restart: %+v", m)
	}

	// What moderators did is kept, as a new console's snapshot shows.
	s := readType(t, h.dial(t, "tok-ben", ""), "snapshot")
	states := map[string]stateView{}
	for _, x := range s.Alerts {
		states[x.Alert.ID] = x.State
	}
	if len(s.Alerts) != 31 || states["a2"].Status != "" {
		t.Fatalf("snapshot of %d alerts; a2 (dismissed) %+v", len(s.Alerts), states["a2"])
	}
	if c := states["a3"]; c.ClaimedBy != "ana" || c.ClaimExpires == nil {
		t.Fatalf("a3 %+v", c)
	}
	if c := states["a4"]; c.ClaimedBy != "ben" || c.AssignedTo != "ben" {
		t.Fatalf("a4 %+v", c)
	}
	if c := states["a5"]; len(c.Notes) != 1 || c.Notes[0].By != "ana" || c.Notes[0].Text != "two adults, one child" {
		t.Fatalf("a5 %+v", c)
	}
	if c := states["a6"]; c.Status != "escalated" || c.EscalatedBy != "lea" {
		t.Fatalf("a6 %+v", c)
	}

	// ana's claim holds on B until its expiry on the injected clock (10 min
	// from the claim; 5 have passed), then ben may claim.
	ben := h.dial(t, "tok-ben", "")
	readType(t, ben, "snapshot")
	send(t, ben, map[string]string{"request_id": "c", "alert_id": "a3", "action": "claim"})
	if e := readType(t, ben, "error"); e.Code != "claimed" || !strings.Contains(e.Message, "ana") {
		t.Fatalf("claim of ana's alert after the restart: %+v", e)
	}
	send(t, ben, map[string]string{"request_id": "d", "alert_id": "a6", "action": "dismiss", "reason": "done"})
	if e := readType(t, ben, "error"); e.Code != "escalated" {
		t.Fatalf("dismiss of an escalated alert after the restart: %+v", e)
	}
	clk.Add(5 * time.Minute)
	if m := act(t, ben, map[string]string{"alert_id": "a3", "action": "claim"}); m.State.ClaimedBy != "ben" {
		t.Fatalf("claim after expiry: %+v", m)
	}
}

// A state taken while the hub ran (a periodic checkpoint) may be behind what
// consoles saw: after Restore the numbering is past anything the old hub
// gave, and every resume gets a snapshot rather than a wrong stream.
func TestRestoreFromARunningHubsStateSnapshotsEveryone(t *testing.T) {
	a := newTestHub(t, nil)
	for i := 1; i <= 5; i++ {
		a.Publish(alert(fmt.Sprintf("a%d", i), 0))
	}
	st := a.State() // the checkpoint, at seq 5
	c := a.dial(t, "tok-ana", "")
	readType(t, c, "snapshot")
	for i := 6; i <= 9; i++ { // after the checkpoint: lost with the crash
		a.Publish(alert(fmt.Sprintf("a%d", i), 0))
	}
	if st.Final {
		t.Fatal("a running hub's state is final")
	}
	h := newTestHub(t, nil)
	if err := h.Restore(st); err != nil {
		t.Fatal(err)
	}
	floor := uint64(h.clk.Now().UnixMicro())
	for _, since := range []uint64{3, 5, 9, 12} {
		c := h.dial(t, "tok-ana", fmt.Sprintf("since=%d", since))
		s := readType(t, c, "snapshot")
		if s.Seq != floor || len(s.Alerts) != 5 {
			t.Fatalf("since=%d: snapshot seq %d (want %d) with %d alerts", since, s.Seq, floor, len(s.Alerts))
		}
		c.Close()
	}
	h.Publish(alert("a10", 0))
	c = h.dial(t, "tok-ana", fmt.Sprintf("since=%d", floor))
	if m := readType(t, c, "alert"); m.Seq != floor+1 {
		t.Fatalf("after the floor: %+v", m)
	}
	// An empty state starts a hub past every earlier number too.
	e := newTestHub(t, nil)
	if err := e.Restore(State{Version: StateVersion}); err != nil {
		t.Fatal(err)
	}
	if s := e.State(); s.Seq != floor || len(s.Alerts) != 0 {
		t.Fatalf("empty restore: %+v", s)
	}
}

func TestRestoreRefusesWhatDoesNotValidate(t *testing.T) {
	good := func() State {
		return State{Version: StateVersion, Final: true, Seq: 2,
			Alerts: []AlertState{{Alert: alert("a1", 0), Status: statusOpen}},
			Ring: []RingMessage{{Seq: 1, Msg: json.RawMessage(`{"type":"alert","seq":1}`)},
				{Seq: 2, Msg: json.RawMessage(`{"type":"alert","seq":2}`)}}}
	}
	until := time.Date(2026, 3, 1, 21, 10, 0, 0, time.UTC)
	for name, tc := range map[string]struct {
		change func(*State)
		want   string
	}{
		"version":         {func(s *State) { s.Version = 2 }, "version 2"},
		"empty id":        {func(s *State) { s.Alerts[0].Alert.ID = "" }, "id empty"},
		"id twice":        {func(s *State) { s.Alerts = append(s.Alerts, s.Alerts[0]) }, "twice"},
		"merged":          {func(s *State) { s.Alerts[0].Alert.MergedInto = "a9" }, "merged"},
		"status":          {func(s *State) { s.Alerts[0].Status = "dismissed" }, "status"},
		"claim no end":    {func(s *State) { s.Alerts[0].ClaimedBy = "ana" }, "claim"},
		"claim no holder": {func(s *State) { s.Alerts[0].ClaimUntil = until }, "claim"},
		"long name":       {func(s *State) { s.Alerts[0].AckedBy = strings.Repeat("x", maxID+1) }, "acked_by"},
		"empty note":      {func(s *State) { s.Alerts[0].Notes = []Note{{By: "ana"}} }, "note 0"},
		"too many notes": {func(s *State) {
			s.Alerts[0].Notes = make([]Note, maxNotesKept+1)
		}, "notes"},
		"ring gap":       {func(s *State) { s.Ring[1].Seq = 3; s.Seq = 3 }, "seq 3 after 1"},
		"ring end":       {func(s *State) { s.Seq = 5 }, "ends at 2"},
		"ring seq wrong": {func(s *State) { s.Ring[1].Msg = json.RawMessage(`{"type":"alert","seq":7}`) }, "ring message 1"},
		"ring not json":  {func(s *State) { s.Ring[1].Msg = json.RawMessage(`7`) }, "ring message 1"},
		"ring zero": {func(s *State) {
			s.Ring = []RingMessage{{Seq: 0, Msg: json.RawMessage(`{"type":"alert","seq":0}`)}}
			s.Seq = 0
		}, "number 0"},
	} {
		s := good()
		tc.change(&s)
		h := newTestHub(t, nil)
		err := h.Restore(s)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want an error with %q", name, err, tc.want)
			continue
		}
		if st := h.State(); st.Seq != 0 || len(st.Alerts) != 0 {
			t.Errorf("%s: a refused state changed the hub", name)
		}
		if n := testutil.ToFloat64(h.m.restore.WithLabelValues("refused")); n != 1 {
			t.Errorf("%s: refusal counted %v", name, n)
		}
	}
	h := newTestHub(t, nil)
	if err := h.Restore(good()); err != nil {
		t.Fatal(err)
	}
	if err := h.Restore(good()); err == nil || !strings.Contains(err.Error(), "already served") {
		t.Fatalf("second restore: %v", err)
	}
	// A ring larger than this hub's keeps the newest.
	small := newTestHub(t, func(o *Options) { o.Ring = 1 })
	if err := small.Restore(good()); err != nil {
		t.Fatal(err)
	}
	if s := small.State(); len(s.Ring) != 1 || s.Ring[0].Seq != 2 {
		t.Fatalf("ring %+v", s.Ring)
	}
	for _, b := range []string{``, `{}`, `{"version":1} {}`, `{"version":1,"extra":1}`, `[]`} {
		if _, err := DecodeState([]byte(b)); err == nil {
			t.Errorf("decoded %q", b)
		}
	}
}

// The record (what Audit wrote and the alerts the writer took) rebuilds the
// same open alerts and moderators' state that the live hub holds.
func TestStateFromRecordMatchesTheLiveHub(t *testing.T) {
	a := newTestHub(t, restartTweak(nil))
	clk := a.clk
	var recorded []RecordedAlert
	publish := func(al analyzer.Alert) {
		a.Publish(al)
		recorded = append(recorded, RecordedAlert{Alert: al, Ingested: clk.Now()})
	}
	for i := 1; i <= 8; i++ {
		publish(alert(fmt.Sprintf("a%d", i), 0))
	}
	ana, lea := a.dial(t, "tok-ana", ""), a.dial(t, "tok-lea", "")
	readType(t, ana, "snapshot")
	readType(t, lea, "snapshot")
	do := func(c *websocket.Conn, f map[string]string) {
		act(t, c, f)
		clk.Add(1500 * time.Millisecond)
	}
	do(ana, map[string]string{"alert_id": "a1", "action": "claim"})
	do(lea, map[string]string{"alert_id": "a2", "action": "assign", "target": "ana"})
	do(ana, map[string]string{"alert_id": "a2", "action": "ack"})
	do(ana, map[string]string{"alert_id": "a3", "action": "note", "note": "first"})
	do(lea, map[string]string{"alert_id": "a3", "action": "note", "note": "second"})
	do(lea, map[string]string{"alert_id": "a4", "action": "escalate", "note": "hotline"})
	do(ana, map[string]string{"alert_id": "a5", "action": "dismiss", "reason": "benign"})
	do(ana, map[string]string{"alert_id": "a6", "action": "claim"})
	do(ana, map[string]string{"alert_id": "a6", "action": "dismiss", "reason": "benign"})
	clk.Add(time.Second)
	publish(alert("a6", 1)) // reopened, without its claim
	merged := alert("a7", 1)
	merged.MergedInto = "a8"
	publish(merged)
	publish(alert("a8", 1))
	// Two actions in one second of the record keep their order by counter.
	act(t, ana, map[string]string{"alert_id": "a8", "action": "claim"})
	act(t, lea, map[string]string{"alert_id": "a8", "action": "assign", "target": "ben"})
	// A tokens reload is in the trail too, for no alert.
	if err := a.SetTokens(append([]Token(nil), a.opts.Tokens...)); err != nil {
		t.Fatal(err)
	}
	var actions []ActionRecord
	for _, r := range a.audited() {
		actions = append(actions, ActionRecord{At: r.At.Truncate(time.Second), ActionID: r.ActionID,
			AlertID: r.AlertID, Moderator: r.Moderator, Action: r.Action, Target: r.Target,
			Reason: r.Reason, Note: r.Note})
	}
	// The record is in no particular order.
	for i, j := 0, len(actions)-1; i < j; i, j = i+1, j-1 {
		actions[i], actions[j] = actions[j], actions[i]
	}
	rebuilt := StateFromRecord(recorded, actions, 10*time.Minute)
	live := a.State()
	norm := func(s []AlertState) string {
		for i := range s {
			s[i].ClaimUntil = s[i].ClaimUntil.Truncate(time.Second)
			for j := range s[i].Notes {
				s[i].Notes[j].At = s[i].Notes[j].At.Truncate(time.Second)
			}
		}
		b, _ := json.MarshalIndent(s, "", " ")
		return string(b)
	}
	if got, want := norm(rebuilt.Alerts), norm(live.Alerts); got != want {
		t.Fatalf("rebuilt:\n%s\nlive:\n%s", got, want)
	}
	if rebuilt.Final || len(rebuilt.Ring) != 0 {
		t.Fatalf("rebuilt state final %v with %d ring messages", rebuilt.Final, len(rebuilt.Ring))
	}
	h := newTestHub(t, nil)
	if err := h.Restore(rebuilt); err != nil {
		t.Fatal(err)
	}
	if n := testutil.ToFloat64(h.m.restore.WithLabelValues("resync")); n != 1 {
		t.Fatalf("resync restore counted %v", n)
	}
	if s := readType(t, h.dial(t, "tok-vic", "since=3"), "snapshot"); len(s.Alerts) != 6 {
		t.Fatalf("snapshot after the rebuild: %d alerts", len(s.Alerts))
	}
}

// A console that missed a whole ring (4,096 messages) before a restart gets
// every one of them from the restored hub, in order, through a send queue of
// 8: the backlog streams as the socket takes it, it is never queued.
func TestFullRingBacklogStreamsAfterRestore(t *testing.T) {
	a := newTestHub(t, func(o *Options) { o.SendQueue = 8 })
	for i := 1; i <= 4096; i++ {
		a.Publish(alert(fmt.Sprintf("a%d", i), 0))
	}
	_ = a.Close()
	b, err := a.State().Encode()
	if err != nil {
		t.Fatal(err)
	}
	st, err := DecodeState(b)
	if err != nil {
		t.Fatal(err)
	}
	h := newTestHub(t, func(o *Options) { o.SendQueue = 8 })
	if err := h.Restore(st); err != nil {
		t.Fatal(err)
	}
	c := h.dial(t, "tok-ana", "since=0")
	readUntil(t, c, 0, 4096)
	h.Publish(alert("a4097", 0))
	readUntil(t, c, 4096, 4097)
	if n := testutil.ToFloat64(h.m.slow); n != 0 {
		t.Fatalf("%v sockets cut as too slow", n)
	}
}
