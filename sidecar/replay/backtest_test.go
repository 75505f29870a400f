package replay

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/ronda-watch/ronda/analyzer/backtest"
	"github.com/ronda-watch/ronda/sidecar/simulate"
)

// The acceptance backtests of "Ronda core": replay a labelled world and hold
// the figures to the issue's goals (host and account recall 1.0 at medium or
// above, host precision at least 0.9, median delay at most 24 h, at most 5
// alerts per 1,000 streams, no benign host at high).

func checkGoals(t *testing.T, name, in, labels string) {
	t.Helper()
	sum, err := Run(context.Background(), Options{In: in, Labels: labels})
	if err != nil {
		t.Fatal(err)
	}
	r := sum.Backtest
	if r == nil {
		t.Fatal("no backtest report")
	}
	t.Logf("%s: %d events, host recall %.2f precision %.2f, account recall %.2f precision %.2f, median delay %.1fh (max %.1fh), %.2f alerts per 1,000 streams",
		name, sum.Events, r.HostRecall, r.HostPrecision, r.AccountRecall, r.AccountPrecision,
		r.MedianDelayHours, r.MaxDelayHours, r.AlertsPer1000Streams)
	for _, f := range r.Check(backtest.IssueGoals()) {
		t.Error(f)
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
			checkGoals(t, name, filepath.Join(sc, "events.ndjson.gz"), filepath.Join(sc, "labels.json"))
		})
	}
}

// TestSimulatedWorlds runs Ronda's own worlds: other seeds, both regions, more
// rings and every ring variant, so detection is held to the indicators and
// not to the public files.
func TestSimulatedWorlds(t *testing.T) {
	if testing.Short() {
		t.Skip("simulated-world backtests are long; run without -short")
	}
	for _, o := range []simulate.Options{
		{Seed: 11, Days: 14, Hosts: 300, Rings: 4, Region: "id"},
		{Seed: 12, Days: 14, Hosts: 300, Rings: 4, Region: "ph"},
		{Seed: 13, Days: 7, Hosts: 200, Rings: 3, Region: "id"},
	} {
		t.Run(fmt.Sprintf("seed%d-%s", o.Seed, o.Region), func(t *testing.T) {
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
			checkGoals(t, t.Name(), in, lp)
		})
	}
}
