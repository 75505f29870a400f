package serve

import (
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ronda-watch/ronda/analyzer/event"
)

// TestEdgeCrashLosesNothing: an edge whose hub is away takes events over
// signed HTTP intake (every one answered 200, all held in its forwarder's
// memory), and then crashes: its directories are copied while it runs (what
// a kill -9 leaves on disk) and a new edge starts on the copies. Once the hub
// comes up, every event the first edge acknowledged is analysed there
// exactly once. Without the edge's intake log the copies hold nothing and the
// hub gets none of them.
func TestEdgeCrashLosesNothing(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hubAddr := ln.Addr().String()
	ln.Close() // nothing listens there until the hub starts

	edgeCfg := func(state, spool, chSpool string) Config {
		return Config{Role: RoleEdge, Node: "edge-1",
			Intake:     IntakeConfig{Keys: []SecretRef{{ID: keyID, Env: "RONDA_TEST_KEY_1"}}, RateEvents: -1},
			Edge:       EdgeConfig{Hub: "ws://" + hubAddr, Key: SecretRef{ID: keyID, Env: "RONDA_TEST_KEY_1"}, SpoolDir: spool},
			ClickHouse: ClickHouseConfig{SpoolDir: chSpool},
			State:      StateConfig{Dir: state},
			Pipeline:   PipelineConfig{DrainTimeout: 10 * time.Second},
		}
	}
	dirs := [3]string{t.TempDir(), t.TempDir(), t.TempDir()}
	edge := startService(t, edgeCfg(dirs[0], dirs[1], dirs[2]))
	evs, _ := smallWorld(t, 8)
	for i := 0; i < len(evs); i += 500 {
		part := evs[i:min(i+500, len(evs))]
		if a := postOK(t, edge.addr, ndjson(t, part)); a.Accepted != len(part) {
			t.Fatalf("edge accepted %d of %d while its hub is away", a.Accepted, len(part))
		}
	}
	if st := edge.svc.fwd.f.Stats(); st.Buffered != len(evs) || st.Connects != 0 {
		t.Fatalf("with the hub away: %+v; want all %d events held and no connect", st, len(evs))
	}
	// The crash: what is on disk now, while the edge runs.
	var crashed [3]string
	for i, d := range dirs {
		crashed[i] = t.TempDir()
		copyTree(t, d, crashed[i])
	}
	edge.stop(t) // its graceful stop writes to the originals, not the copies

	hub := startHubAt(t, hubAddr)
	again := startService(t, edgeCfg(crashed[0], crashed[1], crashed[2]))
	analysed := func() float64 { return counter(t, hub.svc.pipe.m.events.WithLabelValues("analysed")) }
	waitFor(t, 60*time.Second, "every acknowledged event at the hub", func() bool { return analysed() >= float64(len(evs)) })
	waitFor(t, 10*time.Second, "the restarted edge's link drained", func() bool {
		st := again.svc.fwd.f.Stats()
		return st.Buffered == 0 && st.AckedEvents == int64(len(evs))
	})
	if n := analysed(); n != float64(len(evs)) {
		t.Errorf("hub analysed %v, want %d: an event was delivered twice", n, len(evs))
	}
	if n := counter(t, again.svc.elog.replayed); n != float64(len(evs)) {
		t.Errorf("replayed %v events, want %d", n, len(evs))
	}
	// The position moves on once the hub has them: a graceful restart then
	// replays nothing.
	waitFor(t, 30*time.Second, "the edge's log position past every batch", func() bool {
		again.svc.elog.mu.Lock()
		defer again.svc.elog.mu.Unlock()
		return len(again.svc.elog.owed) == 0
	})
	again.stop(t)
	third := startService(t, edgeCfg(crashed[0], crashed[1], crashed[2]))
	if n := counter(t, third.svc.elog.replayed); n != 0 {
		t.Errorf("after a graceful stop with everything acknowledged, %v events replayed", n)
	}
	t.Logf("edge link after the crash: %+v", again.svc.fwd.f.Stats())
}

// copyTree copies the regular files under src into dst, as they are now.
func copyTree(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		out := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(out, 0o700)
		}
		if !d.Type().IsRegular() {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(out, b, 0o600)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestEdgeLogTakesOverTheSpool: an edge without the log stops gracefully with
// its hub away (its forwarder spools what it holds); restarted with the log,
// it takes that spool into the log, accepts more (spilling past a small
// memory bound), and stops again (spooling again what the log has too);
// started once more, it empties its spool and replays the log. The hub then
// analyses every event exactly once.
func TestEdgeLogTakesOverTheSpool(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hubAddr := ln.Addr().String()
	ln.Close()
	state, spool, chSpool := t.TempDir(), t.TempDir(), t.TempDir()
	edgeCfg := func(logOn bool) Config {
		return Config{Role: RoleEdge, Node: "edge-1",
			Intake: IntakeConfig{Keys: []SecretRef{{ID: keyID, Env: "RONDA_TEST_KEY_1"}}, RateEvents: -1},
			Edge: EdgeConfig{Hub: "ws://" + hubAddr, Key: SecretRef{ID: keyID, Env: "RONDA_TEST_KEY_1"},
				SpoolDir: spool, BufferEvents: 2000},
			ClickHouse: ClickHouseConfig{SpoolDir: chSpool},
			State:      StateConfig{Dir: state, Log: &logOn},
			Pipeline:   PipelineConfig{DrainTimeout: 2 * time.Second},
		}
	}
	evs, _ := smallWorld(t, 8)
	half := len(evs) / 2
	feed := func(r *running, part []event.Event) {
		for i := 0; i < len(part); i += 500 {
			p := part[i:min(i+500, len(part))]
			if a := postOK(t, r.addr, ndjson(t, p)); a.Accepted != len(p) {
				t.Fatalf("edge accepted %d of %d", a.Accepted, len(p))
			}
		}
	}

	noLog := startService(t, edgeCfg(false))
	feed(noLog, evs[:half])
	noLog.stop(t)

	first := startService(t, edgeCfg(true))
	if !strings.Contains(first.logs.String(), "forwarder spool taken into the intake log") {
		t.Error("the first start with the log did not take the spool into it")
	}
	if n := counter(t, first.svc.elog.replayed); n != float64(half) {
		t.Errorf("first start with the log replayed %v events, want the %d spooled without it", n, half)
	}
	feed(first, evs[half:])
	if st := first.svc.fwd.f.Stats(); st.Spooled == 0 {
		t.Errorf("no events spilled past the memory bound: %+v", st)
	}
	first.stop(t)

	hub := startHubAt(t, hubAddr)
	again := startService(t, edgeCfg(true))
	if !strings.Contains(again.logs.String(), "forwarder spool emptied") {
		t.Error("the spool written beside the log was not emptied at start")
	}
	if n := counter(t, again.svc.elog.replayed); n != float64(len(evs)) {
		t.Errorf("replayed %v events, want %d", n, len(evs))
	}
	analysed := func() float64 { return counter(t, hub.svc.pipe.m.events.WithLabelValues("analysed")) }
	waitFor(t, 60*time.Second, "every event at the hub", func() bool { return analysed() >= float64(len(evs)) })
	waitFor(t, 10*time.Second, "the edge's link drained", func() bool {
		return again.svc.fwd.f.Stats().AckedEvents == int64(len(evs))
	})
	if n := analysed(); n != float64(len(evs)) {
		t.Errorf("hub analysed %v, want %d", n, len(evs))
	}
	if d := metricSum(t, hub.svc.reg, "ronda_intake_events_total", "status", "duplicate"); d != 0 {
		t.Errorf("the hub dropped %v duplicates: an event was sent twice", d)
	}
}

// TestEdgeLogFull: while the hub is away an edge's log fills up to
// state.log_max_bytes; past it the edge answers busy (and counts it), never
// 200 for what it cannot keep. Once the hub is back and acknowledges, the
// log is truncated, the edge takes batches again, and the hub has every
// event answered 200 exactly once.
func TestEdgeLogFull(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hubAddr := ln.Addr().String()
	ln.Close()
	c := edgeConfig(t, "edge-1", hubAddr)
	c.State.LogMaxBytes = 1 << 20
	edge := startService(t, c)
	evs, _ := world(t, 3, 60, 3, 1)
	var accepted, busy int
	next := 0
	for ; next < len(evs) && busy == 0; next += 500 {
		part := evs[next:min(next+500, len(evs))]
		switch code, body := post(t, edge.addr, ndjson(t, part)); code {
		case 200:
			accepted += len(part)
		case 503:
			busy++
			next -= 500 // sent again below
		default:
			t.Fatalf("edge answered %d: %s", code, body)
		}
	}
	if busy == 0 {
		t.Fatalf("%d events taken into a 1 MiB log without a busy answer: the bound is not held", accepted)
	}
	if n := metricSum(t, edge.svc.reg, "ronda_wal_full_total"); n == 0 {
		t.Error("ronda_wal_full_total did not count the full log")
	}
	if b := edge.svc.elog.wal.Bytes(); b > 1<<20 {
		t.Errorf("log holds %d bytes, past its bound", b)
	}

	hub := startHubAt(t, hubAddr)
	for ; next < len(evs); next += 500 {
		part := evs[next:min(next+500, len(evs))]
		if a := postOK(t, edge.addr, ndjson(t, part)); a.Accepted != len(part) {
			t.Fatalf("edge accepted %d of %d", a.Accepted, len(part))
		}
		accepted += len(part)
	}
	analysed := func() float64 { return counter(t, hub.svc.pipe.m.events.WithLabelValues("analysed")) }
	waitFor(t, 60*time.Second, "every accepted event at the hub", func() bool { return analysed() >= float64(accepted) })
	waitFor(t, 30*time.Second, "the edge's log truncated", func() bool { return edge.svc.elog.wal.Bytes() == 0 })
	if n := analysed(); n != float64(accepted) || accepted != len(evs) {
		t.Errorf("hub analysed %v, edge accepted %d of %d", n, accepted, len(evs))
	}
}

// TestEdgeRefusesAHubsStateDir: an edge started on the state directory of a
// hub (same default path on one machine, or a role changed) refuses to
// start, rather than replay the hub's log as its own and send it again.
func TestEdgeRefusesAHubsStateDir(t *testing.T) {
	hubCfg := baseConfig(t)
	hubCfg.Role = RoleHub
	hub := startService(t, hubCfg)
	hub.stop(t) // its final checkpoint is in State.Dir
	c := Config{Role: RoleEdge, Node: "edge-1",
		Intake:     IntakeConfig{Keys: []SecretRef{{ID: keyID, Env: "RONDA_TEST_KEY_1"}}, RateEvents: -1},
		Edge:       EdgeConfig{Hub: "ws://" + hub.addr, Key: SecretRef{ID: keyID, Env: "RONDA_TEST_KEY_1"}, SpoolDir: t.TempDir()},
		ClickHouse: ClickHouseConfig{SpoolDir: t.TempDir()},
		State:      StateConfig{Dir: hubCfg.State.Dir},
	}
	if err := c.Finish(); err != nil {
		t.Fatal(err)
	}
	_, err := New(Options{Config: c, Getenv: getenv, Listener: nil})
	if err == nil || !strings.Contains(err.Error(), "an edge needs a directory of its own") {
		t.Fatalf("edge on a hub's state dir: %v", err)
	}
}
