package serve

import (
	"context"
	"fmt"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/ronda-watch/ronda/sidecar/hub"
)

// A console connected through a hub restart: no alert missed, none twice, its
// claim kept. These run the whole service on loopback with real gorilla
// websocket consoles and signed HTTP intake.

// dialModeratorSince is dialModerator resuming with ?since.
func dialModeratorSince(t testing.TB, addr, token string, since uint64) *moderator {
	t.Helper()
	h := http.Header{"Authorization": {"Bearer " + token}}
	conn, resp, err := websocket.DefaultDialer.Dial("ws://"+addr+hub.Path+"?since="+strconv.FormatUint(since, 10), h)
	if err != nil {
		code := 0
		if resp != nil {
			code = resp.StatusCode
		}
		t.Fatalf("moderator dial since %d: %v (HTTP %d)", since, err, code)
	}
	return readModerator(t, conn)
}

// all is a copy of the messages the console has read.
func (m *moderator) all() []map[string]any {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]map[string]any(nil), m.msgs...)
}

func msgSeq(msg map[string]any) uint64 {
	f, _ := msg["seq"].(float64)
	return uint64(f)
}

// lastSeq is the largest seq the console has seen (what it resumes with).
func (m *moderator) lastSeq() uint64 {
	var s uint64
	for _, msg := range m.all() {
		s = max(s, msgSeq(msg))
	}
	return s
}

// caughtUp waits until the service's queue is analysed (alerts are
// published before the queue count drops) and the consoles have every
// message its hub has numbered.
func caughtUp(t *testing.T, r *running, ms ...*moderator) {
	t.Helper()
	waitFor(t, 20*time.Second, "events analysed", func() bool { return r.svc.pipe.queued.Load() == 0 })
	want := r.svc.hub.State().Seq
	for _, m := range ms {
		waitFor(t, 20*time.Second, fmt.Sprintf("console at seq %d", want), func() bool { return m.lastSeq() >= want })
	}
}

// checkNoGap: after a first snapshot (or from since+1 on a resume), the
// numbered messages come one by one, none skipped, none twice.
func checkNoGap(t *testing.T, what string, msgs []map[string]any, since uint64) {
	t.Helper()
	next := since + 1
	for i, msg := range msgs {
		switch msg["type"] {
		case "snapshot":
			if i != 0 {
				t.Fatalf("%s: snapshot at message %d", what, i)
			}
			next = msgSeq(msg) + 1
		case "alert", "action", "ack":
			if s := msgSeq(msg); s != next {
				t.Fatalf("%s: message %d (%s) has seq %d, want %d: a gap or a repeat", what, i, msg["type"], s, next)
			}
			next++
		}
	}
}

// openAlerts is what a console knows of the queue: alert id → updates, from a
// snapshot and the alert messages after it; and who holds each claim.
func openAlerts(msgs []map[string]any) (updates map[string]int, claims map[string]string) {
	updates, claims = map[string]int{}, map[string]string{}
	state := func(id string, st any) {
		if m, ok := st.(map[string]any); ok {
			claims[id], _ = m["claimed_by"].(string)
		}
	}
	for _, msg := range msgs {
		switch msg["type"] {
		case "snapshot":
			updates, claims = map[string]int{}, map[string]string{}
			as, _ := msg["alerts"].([]any)
			for _, x := range as {
				sa := x.(map[string]any)
				a := decodeAlert(sa)
				updates[a.ID] = a.Updates
				state(a.ID, sa["state"])
			}
		case "alert":
			a := decodeAlert(msg)
			updates[a.ID] = a.Updates
			state(a.ID, msg["state"])
		case "action", "ack":
			act, _ := msg["action"].(map[string]any)
			id, _ := act["alert_id"].(string)
			state(id, msg["state"])
		}
	}
	return updates, claims
}

// alertVersions lists every (alert id, updates) a console was sent as an
// alert message.
func alertVersions(msgs []map[string]any) []string {
	var out []string
	for _, msg := range msgs {
		if msg["type"] == "alert" {
			a := decodeAlert(msg)
			out = append(out, fmt.Sprintf("%s/%d", a.ID, a.Updates))
		}
	}
	return out
}

// claim sends a claim and waits for its ack.
func (m *moderator) claim(t *testing.T, id, rid string) {
	t.Helper()
	m.send(map[string]any{"type": "action", "request_id": rid, "alert_id": id, "action": hub.ActClaim})
	got := m.find(10*time.Second, "answer to "+rid, func(msg map[string]any) bool { return msg["request_id"] == rid })
	if got["type"] != "ack" {
		t.Fatalf("claim %s: %v", id, got)
	}
}

// firstAlert is the id of the first alert a console was sent.
func firstAlert(t *testing.T, m *moderator) string {
	t.Helper()
	return decodeAlert(m.find(20*time.Second, "an alert", alertMsg(0, ""))).ID
}

// thirds splits the small world's last events into three batches of batches.
func thirds(t *testing.T) [3][][]byte {
	evs, _ := world(t, 21, 40, 5, 3)
	var out [3][][]byte
	n := len(evs) / 3
	for p := 0; p < 3; p++ {
		part := evs[p*n : (p+1)*n]
		if p == 2 {
			part = evs[p*n:]
		}
		for i := 0; i < len(part); i += 2000 {
			out[p] = append(out[p], ndjson(t, part[i:min(i+2000, len(part))]))
		}
	}
	return out
}

func feed(t *testing.T, r *running, bodies [][]byte) {
	for _, b := range bodies {
		postOK(t, r.addr, b)
	}
}

// TestConsoleThroughGracefulRestart: a console that disconnects, misses
// alerts and another moderator's claim, and reconnects with ?since after a
// graceful stop (the final checkpoint) and start, gets exactly what it
// missed and then the new run's messages, numbered on without a gap; its
// claim is still its own. A crash of that second run then must not let the
// same final state be resumed from twice: the console resyncs from a
// snapshot instead of getting a silent gap.
func TestConsoleThroughGracefulRestart(t *testing.T) {
	parts := thirds(t)
	cfg := baseConfig(t)
	r1 := startService(t, cfg)
	a := dialModerator(t, r1.addr, tokModA)
	b := dialModerator(t, r1.addr, tokModB) // stays until the stop: the witness of run 1
	feed(t, r1, parts[0])
	caughtUp(t, r1, a, b)
	x := firstAlert(t, a)
	a.claim(t, x, "a-claim")
	caughtUp(t, r1, a, b)
	last := a.lastSeq()
	a.conn.Close()

	// While a is away: more alerts, and b claims another alert.
	feed(t, r1, parts[1])
	caughtUp(t, r1, b)
	var y string
	for id := range func() map[string]int { u, _ := openAlerts(b.all()); return u }() {
		if id != x {
			y = id
			break
		}
	}
	if y == "" {
		t.Fatal("the world raised one alert only")
	}
	b.claim(t, y, "b-claim")
	caughtUp(t, r1, b)
	end1 := b.lastSeq()
	if end1 <= last+1 {
		t.Fatalf("nothing happened while the console was away (seq %d → %d)", last, end1)
	}
	if err := r1.stop(t); err != nil {
		t.Fatal(err)
	}

	// Nothing happens while it is down. Run 2 on the same directories.
	r2 := startService(t, cfg)
	if got := metricSum(t, r2.svc.reg, "ronda_hub_restores_total", "result", "exact"); got != 1 {
		t.Fatalf("hub restored exact %v times, want 1", got)
	}
	a2 := dialModeratorSince(t, r2.addr, tokModA, last)
	waitFor(t, 10*time.Second, "the missed messages", func() bool { return a2.lastSeq() >= end1 })
	missed := a2.all()
	if missed[0]["type"] == "snapshot" {
		t.Fatalf("resume after a graceful restart got a snapshot, want the missed messages")
	}
	// Exactly b's messages after last (b's own claim is its ack; a's copy an action).
	var want []map[string]any
	for _, msg := range b.all() {
		if s := msgSeq(msg); s > last && s <= end1 {
			want = append(want, msg)
		}
	}
	if len(missed) != len(want) {
		t.Fatalf("resumed console got %d messages up to seq %d, b had %d", len(missed), end1, len(want))
	}
	for i := range want {
		if want[i]["type"] == "alert" && fmt.Sprint(want[i]) != fmt.Sprint(missed[i]) {
			t.Fatalf("message %d differs:\n got %v\nwant %v", i, missed[i], want[i])
		}
	}
	feed(t, r2, parts[2])
	caughtUp(t, r2, a2)
	checkNoGap(t, "resumed console", a2.all(), last)
	// None twice across both runs, and what it holds is the queue a new
	// console is given.
	seen := map[string]bool{}
	for _, v := range append(alertVersions(a.all()), alertVersions(a2.all())...) {
		if seen[v] {
			t.Fatalf("alert version %s sent twice", v)
		}
		seen[v] = true
	}
	fresh := dialModerator(t, r2.addr, tokViewer)
	snap := fresh.find(10*time.Second, "snapshot", func(m map[string]any) bool { return m["type"] == "snapshot" })
	wantU, wantC := openAlerts([]map[string]any{snap})
	gotU, gotC := openAlerts(append(a.all(), a2.all()...))
	if fmt.Sprint(gotU) != fmt.Sprint(wantU) {
		t.Fatalf("the resumed console's queue differs from a new console's snapshot:\n got %v\nwant %v", gotU, wantU)
	}
	if wantC[x] != "mod-a" || gotC[x] != "mod-a" || wantC[y] != "mod-b" {
		t.Fatalf("claims after the restart: %s held by %q (console: %q), %s by %q", x, wantC[x], gotC[x], y, wantC[y])
	}
	// The claim is a's in deed: b cannot take it.
	b2 := dialModerator(t, r2.addr, tokModB)
	b2.send(map[string]any{"type": "action", "request_id": "b-steal", "alert_id": x, "action": hub.ActClaim})
	if got := b2.find(10*time.Second, "answer", func(m map[string]any) bool { return m["request_id"] == "b-steal" }); got["code"] != "claimed" {
		t.Fatalf("b claimed a's alert after the restart: %v", got)
	}

	// Run 2 gives numbers past the final state (a's ack here, then alerts).
	// A crash now, and a start on what it left: the final state must not be
	// resumed from again.
	a2.send(map[string]any{"type": "action", "request_id": "a-ack", "alert_id": x, "action": hub.ActAck})
	a2.find(10*time.Second, "ack", func(m map[string]any) bool { return m["request_id"] == "a-ack" })
	last2 := a2.lastSeq()
	a2.conn.Close()
	evs, _ := world(t, 22, 30, 3, 1)
	more := evs[len(evs)-3000:]
	feed(t, r2, [][]byte{ndjson(t, more)})
	caughtUp(t, r2)
	r3 := restartOnCrashCopy(t, r2, cfg)
	a3 := dialModeratorSince(t, r3.addr, tokModA, last2)
	first := a3.find(10*time.Second, "first message", func(map[string]any) bool { return true })
	if first["type"] != "snapshot" {
		t.Fatalf("after a crash of a run that resumed a final state, the console got %v first, want a snapshot", first["type"])
	}
	checkNoGap(t, "console after the crash", a3.all(), 0)
}

// TestConsoleThroughCrash: a crash (what kill -9 leaves: a checkpoint taken
// while running, then events in the intake log) cannot be resumed exactly;
// the console reconnecting with ?since gets a snapshot first, never a silent
// gap, holding every alert it knew at its latest version and its claim.
func TestConsoleThroughCrash(t *testing.T) {
	parts := thirds(t)
	cfg := baseConfig(t)
	r1 := startService(t, cfg)
	a := dialModerator(t, r1.addr, tokModA)
	feed(t, r1, parts[0])
	caughtUp(t, r1, a)
	x := firstAlert(t, a)
	a.claim(t, x, "a-claim")
	if err := r1.svc.Checkpoint(context.Background()); err != nil {
		t.Fatal(err)
	}
	feed(t, r1, parts[1])
	caughtUp(t, r1, a)
	last := a.lastSeq()
	knew, _ := openAlerts(a.all())
	r2 := restartOnCrashCopy(t, r1, cfg)
	if got := metricSum(t, r2.svc.reg, "ronda_hub_restores_total", "result", "resync"); got != 1 {
		t.Fatalf("hub restored for resync %v times, want 1", got)
	}
	a2 := dialModeratorSince(t, r2.addr, tokModA, last)
	first := a2.find(10*time.Second, "first message", func(map[string]any) bool { return true })
	if first["type"] != "snapshot" {
		t.Fatalf("after a crash the console got %v first, want a snapshot", first["type"])
	}
	got, claims := openAlerts([]map[string]any{first})
	if fmt.Sprint(got) != fmt.Sprint(knew) {
		t.Fatalf("snapshot after the crash differs from what the console knew:\n got %v\nwant %v", got, knew)
	}
	if claims[x] != "mod-a" {
		t.Fatalf("claim on %s after the crash held by %q, want mod-a", x, claims[x])
	}
	feed(t, r2, parts[2])
	caughtUp(t, r2, a2)
	checkNoGap(t, "console after the crash", a2.all(), 0)
}
