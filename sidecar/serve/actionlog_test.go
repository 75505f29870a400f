package serve

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/ronda-watch/ronda/analyzer"
	"github.com/ronda-watch/ronda/sidecar/hub"
)

// act sends an action and waits for its answer (ack or error).
func (m *moderator) act(t *testing.T, rid string, fields map[string]any) map[string]any {
	t.Helper()
	msg := map[string]any{"type": "action", "request_id": rid}
	for k, v := range fields {
		msg[k] = v
	}
	m.send(msg)
	return m.find(10*time.Second, "answer to "+rid, func(msg map[string]any) bool { return msg["request_id"] == rid })
}

// snapshotStates is each alert's state (status, claim holder and expiry,
// assignment, notes) in a console's first snapshot.
func snapshotStates(t *testing.T, m *moderator) map[string]string {
	t.Helper()
	snap := m.find(10*time.Second, "snapshot", func(msg map[string]any) bool { return msg["type"] == "snapshot" })
	out := map[string]string{}
	as, _ := snap["alerts"].([]any)
	for _, x := range as {
		sa := x.(map[string]any)
		// opened is the hub's clock when it opened the alert: a restored hub
		// gives its restore time (State does not keep it), by design.
		if st, ok := sa["state"].(map[string]any); ok {
			delete(st, "opened")
		}
		out[decodeAlert(sa).ID] = fmt.Sprint(sa["state"])
	}
	return out
}

// TestActionsThroughCrash: claims, notes and assignments taken after the
// last checkpoint are in the intake log before they are answered, so a
// crash (kill -9: a copy of the running service's state directory) keeps
// them: the console resuming on the new service sees the claim with its
// holder and expiry, the note and the assignment, as they were.
func TestActionsThroughCrash(t *testing.T) {
	parts := thirds(t)
	cfg := baseConfig(t)
	r1 := startService(t, cfg)
	a := dialModerator(t, r1.addr, tokModA)
	lead := dialModerator(t, r1.addr, tokLead)
	feed(t, r1, parts[0])
	caughtUp(t, r1, a, lead)
	if err := r1.svc.Checkpoint(context.Background()); err != nil {
		t.Fatal(err)
	}
	u, _ := openAlerts(a.all())
	var ids []string
	for id := range u {
		ids = append(ids, id)
	}
	if len(ids) < 2 {
		t.Fatalf("the world raised %d alerts, want 2", len(ids))
	}
	x, y := ids[0], ids[1]
	for rid, f := range map[string]map[string]any{
		"claim":  {"alert_id": x, "action": hub.ActClaim},
		"note":   {"alert_id": x, "action": hub.ActNote, "note": "seen the gifts; watching"},
		"assign": {"alert_id": y, "action": hub.ActAssign, "target": "mod-b"},
	} {
		c := a
		if rid == "assign" {
			c = lead
		}
		if got := c.act(t, rid, f); got["type"] != "ack" {
			t.Fatalf("%s: %v", rid, got)
		}
	}
	// Events after the actions, so the log holds both, interleaved.
	feed(t, r1, parts[1])
	caughtUp(t, r1, a, lead)
	last := a.lastSeq()
	before := snapshotStates(t, dialModerator(t, r1.addr, tokViewer))
	r2 := restartOnCrashCopy(t, r1, cfg)
	if got := metricSum(t, r2.svc.reg, "ronda_state_actions_total", "result", "replayed"); got != 3 {
		t.Fatalf("%v actions replayed, want 3", got)
	}
	a2 := dialModeratorSince(t, r2.addr, tokModA, last)
	after := snapshotStates(t, a2)
	for _, id := range []string{x, y} {
		if after[id] != before[id] {
			t.Errorf("alert %s after the crash:\n got %s\nwant %s", id, after[id], before[id])
		}
	}
	if !strings.Contains(after[x], "claimed_by:mod-a") || !strings.Contains(after[x], "claim_expires:") ||
		!strings.Contains(after[x], "seen the gifts; watching") {
		t.Errorf("alert %s after the crash lost its claim or note: %s", x, after[x])
	}
	if !strings.Contains(after[y], "assigned_to:mod-b") || !strings.Contains(after[y], "claimed_by:mod-b") {
		t.Errorf("alert %s after the crash lost its assignment: %s", y, after[y])
	}
	// The claim is mod-a's in deed.
	b := dialModerator(t, r2.addr, tokModB)
	if got := b.act(t, "steal", map[string]any{"alert_id": x, "action": hub.ActClaim}); got["code"] != "claimed" {
		t.Fatalf("mod-b claimed mod-a's alert after the crash: %v", got)
	}
}

// TestActionRefusedWhenLogFails: an action the intake log cannot take is
// refused to the moderator (not_saved) and changes nothing: no claim, no
// message to the other consoles.
func TestActionRefusedWhenLogFails(t *testing.T) {
	parts := thirds(t)
	cfg := baseConfig(t)
	r := startService(t, cfg)
	a := dialModerator(t, r.addr, tokModA)
	b := dialModerator(t, r.addr, tokModB)
	feed(t, r, parts[0])
	caughtUp(t, r, a, b)
	x := firstAlert(t, a)
	// The log fails as a disk does: it takes nothing more.
	if err := r.svc.wal.Close(); err != nil {
		t.Fatal(err)
	}
	got := a.act(t, "claim", map[string]any{"alert_id": x, "action": hub.ActClaim})
	if got["type"] != "error" || got["code"] != "not_saved" {
		t.Fatalf("claim with the log failing: %v, want error not_saved", got)
	}
	if got := metricSum(t, r.svc.reg, "ronda_state_actions_total", "result", "error"); got != 1 {
		t.Fatalf("%v journal errors counted, want 1", got)
	}
	for _, st := range r.svc.hub.State().Alerts {
		if st.ClaimedBy != "" {
			t.Fatalf("alert %s claimed by %s after a refused claim", st.Alert.ID, st.ClaimedBy)
		}
	}
	// mod-b may claim it (the refused claim holds nothing), and is refused too.
	if got := b.act(t, "b-claim", map[string]any{"alert_id": x, "action": hub.ActClaim}); got["code"] != "not_saved" {
		t.Fatalf("mod-b's claim: %v, want not_saved", got)
	}
	for _, msg := range b.all() {
		if msg["type"] == "action" {
			t.Fatalf("a refused action reached another console: %v", msg)
		}
	}
}

// FuzzActionRecord: an action record read back from the intake log decodes
// or errs, never panics; what decodes re-encodes to the same bytes.
func FuzzActionRecord(f *testing.F) {
	a := hub.ActionRecord{At: time.Unix(1700000000, 123).UTC(), ActionID: "h1-3", AlertID: "al-1", Moderator: "mod-a",
		Action: hub.ActNote, Note: "watching"}
	f.Add(appendActionRecord(nil, 42, a))
	f.Add(appendActionRecord(nil, 0, hub.ActionRecord{}))
	f.Add([]byte{actionRecordKind})
	f.Add([]byte{0x12, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		after, a, err := decodeActionRecord(b)
		if err != nil {
			return
		}
		re := appendActionRecord(nil, after, a)
		after2, a2, err := decodeActionRecord(re)
		if err != nil || after2 != after || a2 != a {
			t.Fatalf("re-encoded record: %v, %d %+v, want %d %+v", err, after2, a2, after, a)
		}
		if !bytes.Equal(re, appendActionRecord(nil, after2, a2)) {
			t.Fatal("encoding not stable")
		}
	})
}

// TestActionRecordRoundTrip: every field comes back, and a batch record is
// never taken for an action record.
func TestActionRecordRoundTrip(t *testing.T) {
	a := hub.ActionRecord{At: time.Unix(1700000000, 123).UTC(), ActionID: "h1-3", AlertID: "al-1", Moderator: "lead",
		Action: hub.ActAssign, Target: "mod-b", Reason: "r", Note: "n"}
	p := appendActionRecord(nil, 7, a)
	after, got, err := decodeActionRecord(p)
	if err != nil || after != 7 || got != a {
		t.Fatalf("round trip: %v %d %+v", err, after, got)
	}
	var buf bytes.Buffer
	encodeLogRecord(&buf, time.Unix(1, 0), nil)
	if isActionRecord(buf.Bytes()) || !isActionRecord(p) {
		t.Fatal("record kinds confused")
	}
	if _, _, err := decodeActionRecord(append([]byte{0x12}, p[1:]...)); err == nil {
		t.Fatal("an action record of another version was read")
	}
	if _, _, err := decodeActionRecord(append(p, 0)); err == nil {
		t.Fatal("trailing bytes were read")
	}
}

// TestActionInCheckpointNotTwice: an action logged after the last batch is
// past the checkpoint's position but already in its hub state; the replay
// after a crash skips it, so the note is there once.
func TestActionInCheckpointNotTwice(t *testing.T) {
	parts := thirds(t)
	cfg := baseConfig(t)
	r1 := startService(t, cfg)
	a := dialModerator(t, r1.addr, tokModA)
	feed(t, r1, parts[0])
	caughtUp(t, r1, a)
	x := firstAlert(t, a)
	if got := a.act(t, "note", map[string]any{"alert_id": x, "action": hub.ActNote, "note": "once"}); got["type"] != "ack" {
		t.Fatalf("note: %v", got)
	}
	if err := r1.svc.Checkpoint(context.Background()); err != nil {
		t.Fatal(err)
	}
	r2 := restartOnCrashCopy(t, r1, cfg)
	if got := metricSum(t, r2.svc.reg, "ronda_state_actions_total", "result", "replayed"); got != 0 {
		t.Fatalf("%v actions replayed, want 0 (the checkpoint holds it)", got)
	}
	if got := metricSum(t, r2.svc.reg, "ronda_state_actions_total", "result", "skipped"); got != 1 {
		t.Fatalf("%v actions skipped, want 1", got)
	}
	for _, st := range r2.svc.hub.State().Alerts {
		if st.Alert.ID == x && len(st.Notes) != 1 {
			t.Fatalf("alert %s has %d notes after the crash, want 1", x, len(st.Notes))
		}
	}
}

// TestActionNotTwiceWithRecord: with no checkpoint after a crash, the hub is
// rebuilt from ClickHouse (alerts, actions) and the log is replayed whole;
// an action both in the record and in the log is applied once.
func TestActionNotTwiceWithRecord(t *testing.T) {
	ch := clickhouse(t)
	parts := thirds(t)
	cfg := baseConfig(t)
	cfg.ClickHouse.DSN = ch.DSN()
	cfg.ClickHouse.Database = freshDB()
	r1 := startService(t, cfg)
	a := dialModerator(t, r1.addr, tokModA)
	feed(t, r1, parts[0])
	caughtUp(t, r1, a)
	x := firstAlert(t, a)
	if got := a.act(t, "note", map[string]any{"alert_id": x, "action": hub.ActNote, "note": "once"}); got["type"] != "ack" {
		t.Fatalf("note: %v", got)
	}
	if err := r1.svc.writer.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	state := crashCopy(t, cfg.State.Dir)
	r1.stop(t)
	for _, p := range checkpointFiles(state) {
		os.Remove(p)
	}

	cfg2 := cfg
	cfg2.State.Dir = state
	r2 := startService(t, cfg2)
	if !strings.Contains(r2.logs.String(), "moderators' queue rebuilt from ClickHouse") {
		t.Fatalf("no rebuild from the record:\n%s", r2.logs.String())
	}
	if got := metricSum(t, r2.svc.reg, "ronda_state_actions_total", "result", "skipped"); got != 1 {
		t.Fatalf("%v actions skipped, want 1 (the record holds it)", got)
	}
	found := false
	for _, st := range r2.svc.hub.State().Alerts {
		if st.Alert.ID == x {
			found = true
			if len(st.Notes) != 1 {
				t.Fatalf("alert %s has %d notes after the crash, want 1", x, len(st.Notes))
			}
		}
	}
	if !found {
		t.Fatalf("alert %s not open after the crash", x)
	}
}

// TestActionsReplayedBeforeQueuedBatches: a dismiss taken while batches were
// queued behind the analyzer (logged before the dismiss, analysed after it)
// is replayed before them, as it happened: an alert those batches raise
// again is open after the crash as it was before, not dismissed.
func TestActionsReplayedBeforeQueuedBatches(t *testing.T) {
	parts := thirds(t)
	cfg := baseConfig(t)
	r1 := startService(t, cfg)
	a := dialModerator(t, r1.addr, tokModA)
	feed(t, r1, parts[0])
	caughtUp(t, r1, a)
	if err := r1.svc.Checkpoint(context.Background()); err != nil {
		t.Fatal(err)
	}
	// Hold the analyzer while the next third is logged and queued.
	release := make(chan struct{})
	held := make(chan struct{})
	go r1.svc.pipe.do(context.Background(), func(*analyzer.Engine) { close(held); <-release })
	<-held
	feed(t, r1, parts[1])
	u, _ := openAlerts(a.all())
	n := 0
	for id := range u {
		got := a.act(t, "dismiss-"+id, map[string]any{"alert_id": id, "action": hub.ActDismiss, "reason": "seen"})
		if got["type"] != "ack" {
			t.Fatalf("dismiss %s: %v", id, got)
		}
		n++
	}
	close(release)
	caughtUp(t, r1, a)
	before := snapshotStates(t, dialModerator(t, r1.addr, tokViewer))
	reopened := 0
	for id := range u {
		if _, ok := before[id]; ok {
			reopened++
		}
	}
	if reopened == 0 {
		t.Fatalf("none of the %d dismissed alerts was raised again by the queued batches: the test shows nothing", n)
	}
	r2 := restartOnCrashCopy(t, r1, cfg)
	if got := metricSum(t, r2.svc.reg, "ronda_state_actions_total", "result", "replayed"); got != float64(n) {
		t.Fatalf("%v actions replayed, want %d", got, n)
	}
	after := snapshotStates(t, dialModerator(t, r2.addr, tokViewer))
	for id := range u {
		if after[id] != before[id] {
			t.Errorf("dismissed alert %s after the crash: %q, before it %q", id, after[id], before[id])
		}
	}
	t.Logf("%d alerts dismissed while batches were queued, %d raised again by them", n, reopened)
}
