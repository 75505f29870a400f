package serve

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ronda-watch/ronda/analyzer"
)

// TestHubRebuiltFromRecord: with no checkpoint left (and no log), a restarted
// hub reads its queue back from ClickHouse alerts and actions: the open alert
// is in the snapshot a console gets, and mod-a's claim holds.
func TestHubRebuiltFromRecord(t *testing.T) {
	ch := clickhouse(t)
	cfg := baseConfig(t)
	cfg.ClickHouse.DSN = ch.DSN()
	cfg.ClickHouse.Database = freshDB()
	r := startService(t, cfg)
	a := dialModerator(t, r.addr, tokModA)
	a.find(5*time.Second, "snapshot", func(msg map[string]any) bool { return msg["type"] == "snapshot" })
	evs, labels := smallWorld(t, 3)
	for i := 0; i < len(evs); i += 2000 {
		postOK(t, r.addr, ndjson(t, evs[i:min(i+2000, len(evs))]))
	}
	ring := labels.PositiveHosts[0]
	msg := a.find(30*time.Second, "alert naming ring host "+ring, alertMsg(analyzer.SeverityMedium, ring))
	id := msg["alert"].(map[string]any)["id"].(string)
	a.send(map[string]any{"type": "action", "request_id": "r1", "alert_id": id, "action": "claim"})
	a.find(10*time.Second, "ack of the claim", func(msg map[string]any) bool {
		return msg["type"] == "ack" && msg["request_id"] == "r1"
	})
	if err := r.stop(t); err != nil {
		t.Fatal(err)
	}
	// Everything is in ClickHouse now (the stop wrote the record); the state
	// directory is lost.
	ents, _ := os.ReadDir(cfg.State.Dir)
	for _, e := range ents {
		os.RemoveAll(filepath.Join(cfg.State.Dir, e.Name()))
	}

	r2 := startService(t, cfg)
	if !strings.Contains(r2.logs.String(), "moderators' queue rebuilt from ClickHouse") {
		t.Fatalf("no rebuild from the record:\n%s", r2.logs.String())
	}
	b := dialModerator(t, r2.addr, tokModB)
	snap := b.find(5*time.Second, "snapshot", func(msg map[string]any) bool { return msg["type"] == "snapshot" })
	alerts, _ := snap["alerts"].([]any)
	found := false
	for _, x := range alerts {
		sa := x.(map[string]any)
		if sa["alert"].(map[string]any)["id"] != id {
			continue
		}
		found = true
		if st, _ := sa["state"].(map[string]any); st["claimed_by"] != "mod-a" {
			t.Errorf("rebuilt alert's state %v, want claimed by mod-a", sa["state"])
		}
	}
	if !found {
		t.Fatalf("alert %s not in the rebuilt hub's snapshot of %d alerts", id, len(alerts))
	}
}
