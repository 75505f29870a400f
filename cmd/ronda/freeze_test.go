package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ronda-watch/ronda/analyzer/event"
	"github.com/ronda-watch/ronda/sidecar/store"
	"github.com/ronda-watch/ronda/sidecar/store/chtest"
)

// TestFrozenClickHouseKilled: ClickHouse frozen (SIGSTOP), a world fed into
// `ronda serve` over signed HTTP, Ronda killed -9, restarted with the same
// directories, ClickHouse thawed: every storable event that was answered 200
// is in events FINAL exactly once. Before the intake log, every one of them
// was lost (they sat in the writer's memory, waiting for the insert timeout).
func TestFrozenClickHouseKilled(t *testing.T) {
	if testing.Short() {
		t.Skip("starts ClickHouse and ronda twice")
	}
	if !chtest.Available() {
		chtest.SkipOrFail(t)
	}
	bin := ronda(t)
	dir := t.TempDir()
	world := filepath.Join(dir, "world.ndjson")
	runRonda(t, 30*time.Second, bin, nil, "simulate", "--seed", "5", "--days", "4", "--hosts", "40", "--rings", "1", "--out", world)
	lines, _ := readWorld(t, world)

	ch := chtest.Start(t)
	conf := restartConfig(t, dir, "")
	b, _ := os.ReadFile(conf)
	os.WriteFile(conf, bytes.Replace(b, []byte("clickhouse: {spool_dir:"), []byte("clickhouse: {dsn: '"+ch.DSN()+"', spool_dir:"), 1), 0o600)

	p := startServeBin(t, bin, conf)
	waitUntil(t, func() bool { return strings.Contains(p.stderr.String(), "clickhouse schema up to date") }, "the schema", p.stderr)
	ch.Freeze()
	defer ch.Thaw()

	// Feed until 8 s have passed: with ClickHouse frozen the writer backs up
	// and intake answers busy; what was answered 200 counts.
	var acked []string
	deadline := time.Now().Add(8 * time.Second)
	const batch = 250
	for i := 0; i < len(lines) && time.Now().Before(deadline); {
		body := bytes.Join(lines[i:min(i+batch, len(lines))], nil)
		if !post(p.addr, body) {
			time.Sleep(50 * time.Millisecond)
			continue
		}
		for _, l := range lines[i:min(i+batch, len(lines))] {
			var ev struct{ ID, Type string }
			json.Unmarshal(l, &ev)
			if store.Keep(event.ParseType(ev.Type)) {
				acked = append(acked, ev.ID)
			}
		}
		i += batch
	}
	if len(acked) == 0 {
		t.Fatalf("nothing was answered 200 while ClickHouse was frozen:\n%s", p.stderr.String())
	}
	p.stop(t, syscall.SIGKILL)
	t.Logf("answered 200 with ClickHouse frozen, then killed -9: %d storable events", len(acked))

	p = startServeBin(t, bin, conf)
	ch.Thaw()
	want := sortedCopy(acked)
	var got []string
	// Wait for the writer (spool drained, log replayed) to deliver; then
	// compare, whatever arrived.
	for end := time.Now().Add(40 * time.Second); time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
		if out, err := ch.Client("SELECT id FROM ronda.events FINAL"); err == nil {
			if got = strings.Fields(out); len(got) >= len(want) {
				break
			}
		}
	}
	p.stop(t, syscall.SIGTERM)
	out, err := ch.Client("SELECT id FROM ronda.events FINAL")
	if err != nil {
		t.Fatal(err)
	}
	got = sortedCopy(strings.Fields(out))
	missing := 0
	for _, id := range want {
		if _, ok := slices.BinarySearch(got, id); !ok {
			missing++
		}
	}
	if missing > 0 {
		t.Fatalf("%d of %d storable events answered 200 are not in events FINAL", missing, len(want))
	}
	if dups := count(t, ch, "SELECT count() FROM (SELECT id FROM ronda.events FINAL GROUP BY id HAVING count() > 1)"); dups != 0 {
		t.Fatalf("%d ids more than once in events FINAL", dups)
	}
	if len(got) != len(want) {
		// Batches answered busy were not taken; nothing else may be there.
		t.Fatalf("events FINAL holds %d ids, %d were answered 200", len(got), len(want))
	}
	raw := count(t, ch, "SELECT count() FROM ronda.events")
	t.Logf("events FINAL: %d ids, each once (raw rows %d)", len(got), raw)
}
