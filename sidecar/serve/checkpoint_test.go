package serve

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ronda-watch/ronda/analyzer"
)

// checkpointedState runs a service over six batches with a checkpoint after
// the second and the fourth, and returns a crash copy of its state: two
// checkpoints and the log.
func checkpointedState(t *testing.T) string {
	t.Helper()
	evs, _ := smallWorld(t, 6)
	evs = evs[len(evs)-6000:]
	cfg := baseConfig(t)
	r := startService(t, cfg)
	for i := 0; i < 6; i++ {
		postOK(t, r.addr, ndjson(t, evs[i*1000:(i+1)*1000]))
		if i == 1 || i == 3 {
			waitFor(t, 10e9, "batch analysed", func() bool {
				return counter(t, r.svc.pipe.m.events.WithLabelValues("analysed")) == float64((i+1)*1000)
			})
			if err := r.svc.Checkpoint(context.Background()); err != nil {
				t.Fatal(err)
			}
		}
	}
	state := crashCopy(t, cfg.State.Dir)
	r.stop(t)
	if n := len(checkpointFiles(state)); n != 2 {
		t.Fatalf("%d checkpoints, want 2", n)
	}
	return state
}

// restartOn starts a service on a copy of state changed by edit, and returns
// it with its engine's checkpoint bytes and stats.
func restartOn(t *testing.T, state string, edit func(dir string)) (*running, []byte, analyzer.Stats) {
	t.Helper()
	dir := crashCopy(t, state)
	if edit != nil {
		edit(dir)
	}
	cfg := baseConfig(t)
	cfg.State.Dir = dir
	r := startService(t, cfg)
	var b bytes.Buffer
	var st analyzer.Stats
	if err := r.svc.pipe.do(context.Background(), func(e *analyzer.Engine) { e.WriteCheckpoint(&b); st = e.Stats() }); err != nil {
		t.Fatal(err)
	}
	return r, b.Bytes(), st
}

func damage(path string) {
	b, _ := os.ReadFile(path)
	b[len(b)/2] ^= 0x5a
	os.WriteFile(path, b, 0o600)
}

func restoreResult(t *testing.T, r *running, result string) float64 {
	return metricSum(t, r.svc.reg, "ronda_state_restore_total", "result", result)
}

// TestCheckpointFallback: with the newest checkpoint damaged, the previous one
// and the log after it give exactly the state the newest would have; with
// none readable or none at all, the service starts empty and replays what log
// it has (the log is kept back to the oldest checkpoint kept).
func TestCheckpointFallback(t *testing.T) {
	state := checkpointedState(t)
	good, want, _ := restartOn(t, state, nil)
	if restoreResult(t, good, "checkpoint") != 1 {
		t.Fatal("the intact state was not restored from its newest checkpoint")
	}
	if got := counter(t, good.svc.pipe.m.events.WithLabelValues("analysed")); got != 2000 {
		t.Errorf("newest checkpoint: %v events replayed, want the 2000 after it", got)
	}

	fb, got, _ := restartOn(t, state, func(dir string) { damage(checkpointFiles(dir)[0]) })
	if restoreResult(t, fb, "previous") != 1 || !strings.Contains(fb.logs.String(), "checkpoint unreadable") {
		t.Fatalf("no fallback reported:\n%s", fb.logs.String())
	}
	if n := counter(t, fb.svc.pipe.m.events.WithLabelValues("analysed")); n != 4000 {
		t.Errorf("fallback: %v events replayed, want the 4000 after the previous checkpoint", n)
	}
	if !bytes.Equal(got, want) {
		t.Error("the previous checkpoint plus the log gave another engine state than the newest checkpoint")
	}
	if m, _ := filepath.Glob(filepath.Join(fb.svc.cfg.State.Dir, "unreadable-*")); len(m) != 1 {
		t.Errorf("the damaged checkpoint was not moved aside: %v", m)
	}

	for name, edit := range map[string]func(string){
		"unreadable": func(dir string) {
			for _, f := range checkpointFiles(dir) {
				damage(f)
			}
		},
		"none": func(dir string) {
			for _, f := range checkpointFiles(dir) {
				os.Remove(f)
			}
		},
	} {
		r, _, st := restartOn(t, state, edit)
		if restoreResult(t, r, name) != 1 {
			t.Errorf("%s: ronda_state_restore_total{result=%q} not counted", name, name)
		}
		// The log since the oldest checkpoint kept: the first 2000 events
		// are only in the record now.
		if n := counter(t, r.svc.pipe.m.events.WithLabelValues("analysed")); n != 4000 || st.Events != 4000 {
			t.Errorf("%s: %v events replayed (engine %d), want the 4000 the log keeps", name, n, st.Events)
		}
		postOK(t, r.addr, ndjson(t, nil)) // and it serves
	}
}
