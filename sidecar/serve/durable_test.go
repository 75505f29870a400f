package serve

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ronda-watch/ronda/sidecar/wal"
)

// crashCopy copies a running service's state directory: what a kill -9 would
// leave (acknowledged batches are on disk, so the copy has them).
func crashCopy(t *testing.T, src string) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "state")
	if err := os.CopyFS(dst, os.DirFS(src)); err != nil {
		t.Fatal(err)
	}
	return dst
}

// TestLogReplayedAfterCrash: batches answered 200 are in the log; a service
// started on a crash copy of the state replays them before intake opens, and
// their resends are duplicates.
func TestLogReplayedAfterCrash(t *testing.T) {
	evs, _ := smallWorld(t, 3)
	evs = evs[:3000]
	cfg := baseConfig(t)
	r := startService(t, cfg)
	for i := 0; i < len(evs); i += 500 {
		postOK(t, r.addr, ndjson(t, evs[i:i+500]))
	}
	state := crashCopy(t, cfg.State.Dir)
	r.stop(t)

	cfg2 := baseConfig(t)
	cfg2.State.Dir = state
	r2 := startService(t, cfg2)
	if got := counter(t, r2.svc.pipe.m.events.WithLabelValues("analysed")); got != float64(len(evs)) {
		t.Fatalf("replay analysed %v events, want %d", got, len(evs))
	}
	if !strings.Contains(r2.logs.String(), "intake log replayed") {
		t.Errorf("no replay line:\n%s", r2.logs.String())
	}
	// The last batch: the first ones are dated years back (accounts, links),
	// outside the dedup window of 24 hours, and would pass in any run.
	a := postOK(t, r2.addr, ndjson(t, evs[2500:]))
	if a.Accepted != 0 || len(a.Duplicates) != 500 {
		t.Fatalf("resent batch after the restart: %d accepted, %d duplicates", a.Accepted, len(a.Duplicates))
	}
}

// TestLogDamagedMidFile: a record damaged in the middle of the log is
// reported (log line, ronda_wal_damaged_total{kind="corrupt"}), the records
// before it are replayed, the rest of its segment is moved to damaged/, and
// the service starts.
func TestLogDamagedMidFile(t *testing.T) {
	evs, _ := smallWorld(t, 4)
	evs = evs[:2500]
	cfg := baseConfig(t)
	r := startService(t, cfg)
	for i := 0; i < len(evs); i += 500 {
		postOK(t, r.addr, ndjson(t, evs[i:i+500])) // one log record each
	}
	state := crashCopy(t, cfg.State.Dir)
	r.stop(t)

	segs, _ := filepath.Glob(filepath.Join(state, "log", "*.wal"))
	if len(segs) != 1 {
		t.Fatalf("log segments %v", segs)
	}
	b, _ := os.ReadFile(segs[0])
	d := wal.Decode(b, 1)
	if len(d.Records) != 5 {
		t.Fatalf("%d records in the log, want 5", len(d.Records))
	}
	// Damage the third record's payload, as a bad sector would.
	off := len(b) - len(d.Records[2].Payload) - len(d.Records[3].Payload) - len(d.Records[4].Payload) - 2*20 + 100
	b[off] ^= 0xff
	os.WriteFile(segs[0], b, 0o600)

	cfg2 := baseConfig(t)
	cfg2.State.Dir = state
	r2 := startService(t, cfg2)
	if got := counter(t, r2.svc.pipe.m.events.WithLabelValues("analysed")); got != 1000 {
		t.Fatalf("replay analysed %v events, want the 1000 before the damage", got)
	}
	if got := metricSum(t, r2.svc.reg, "ronda_wal_damaged_total", "kind", "corrupt"); got != 1 {
		t.Errorf("ronda_wal_damaged_total{kind=corrupt} = %v", got)
	}
	if !strings.Contains(r2.logs.String(), "damaged record") {
		t.Errorf("no log line about the damage:\n%s", r2.logs.String())
	}
	if q, _ := filepath.Glob(filepath.Join(state, "log", "damaged", "*")); len(q) != 1 {
		t.Errorf("damaged/ holds %v", q)
	}
	// The service serves: new events are taken and logged after the cut.
	postOK(t, r2.addr, ndjson(t, evs[1000:1500]))
	waitFor(t, 5*time.Second, "new events analysed", func() bool {
		return counter(t, r2.svc.pipe.m.events.WithLabelValues("analysed")) == 1500
	})
}
