package replay

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/ronda-watch/ronda/analyzer/backtest"
	"github.com/ronda-watch/ronda/analyzer/event"
	"github.com/ronda-watch/ronda/sidecar/simulate"
)

// The acceptance backtests of "Ronda core": replay a labelled world and hold
// the figures to the issue's goals (host and account recall 1.0 at medium or
// above, host precision at least 0.9, median delay at most 24 h, at most 5
// alerts per 1,000 streams, no benign host at high).

func checkGoals(t *testing.T, name, in, labels string, goals ...backtest.Goals) {
	t.Helper()
	// Each world twice: as sent, and as a sparse platform sends it (no
	// device id, location or address), against issue 11's ring goals too.
	for _, strip := range []event.Strip{0, event.StripAll} {
		sum, err := Run(context.Background(), Options{In: in, Labels: labels, Strip: strip})
		if err != nil {
			t.Fatal(err)
		}
		r := sum.Backtest
		if r == nil {
			t.Fatal("no backtest report")
		}
		t.Logf("%s, stripped %s: %d events, host recall %.2f precision %.2f, account recall %.2f precision %.2f, median delay %.1fh (max %.1fh), after the second night max %.1fh, alerts per ring %v, %.2f alerts per 1,000 streams",
			name, strip, sum.Events, r.HostRecall, r.HostPrecision, r.AccountRecall, r.AccountPrecision,
			r.MedianDelayHours, r.MaxDelayHours, r.MaxSecondNightDelayHours, r.AlertsPerRing, r.AlertsPer1000Streams)
		for _, g := range append(goals, backtest.RingGoals()) {
			for _, f := range r.Check(g) {
				t.Errorf("stripped %s: %s", strip, f)
			}
		}
	}
}

// TestPublicScenarios runs the shared public scenarios. They live beside the
// repository (../shared/scenarios); without them the test says so and skips.
func TestPublicScenarios(t *testing.T) {
	dir, err := sharedDir()
	if err == nil {
		_, err = os.Stat(filepath.Join(dir, "scenarios"))
	}
	if err != nil {
		t.Skipf("SKIPPED: the public scenarios are not available (../shared/scenarios next to the repository, or RONDA_SHARED): %v", err)
	}
	for _, name := range []string{"public-small", "public-twoweeks"} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			sc := filepath.Join(dir, "scenarios", name)
			checkGoals(t, name, filepath.Join(sc, "events.ndjson.gz"), filepath.Join(sc, "labels.json"), backtest.IssueGoals())
		})
	}
}

// TestSimulatedWorlds runs Ronda's own worlds: other seeds, both regions, more
// rings and every ring variant, so detection is held to the indicators and
// not to the public files; and two worlds of quiet rings (simulate --quiet),
// held to the ring goals alone: old accounts give no evidence on their first
// night, so the first broadcast's median delay is not theirs to meet.
func TestSimulatedWorlds(t *testing.T) {
	if testing.Short() {
		t.Skip("simulated-world backtests are long; run without -short")
	}
	for _, o := range []simulate.Options{
		{Seed: 11, Days: 14, Hosts: 300, Rings: 4, Region: "id"},
		{Seed: 12, Days: 14, Hosts: 300, Rings: 4, Region: "ph"},
		{Seed: 13, Days: 7, Hosts: 200, Rings: 3, Region: "id"},
		{Seed: 21, Days: 14, Hosts: 300, Rings: 4, Region: "id", Quiet: true},
		{Seed: 22, Days: 14, Hosts: 300, Rings: 4, Region: "ph", Quiet: true},
	} {
		name := fmt.Sprintf("seed%d-%s", o.Seed, o.Region)
		goals := []backtest.Goals{backtest.IssueGoals()}
		if o.Quiet {
			name, goals = name+"-quiet", nil
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			in := filepath.Join(dir, "events.ndjson.gz")
			f, err := os.Create(in)
			if err != nil {
				t.Fatal(err)
			}
			labels, _, err := simulate.WriteNDJSON(context.Background(), o, f, true)
			if err != nil {
				t.Fatal(err)
			}
			if err := f.Close(); err != nil {
				t.Fatal(err)
			}
			b, _ := json.Marshal(labels)
			lp := filepath.Join(dir, "labels.json")
			if err := os.WriteFile(lp, b, 0o644); err != nil {
				t.Fatal(err)
			}
			checkGoals(t, t.Name(), in, lp, goals...)
		})
	}
}
