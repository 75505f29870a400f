package analyzer

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/ronda-watch/ronda/analyzer/snapshot"
)

// A family of the test's own, added without editing any other file: the table
// takes it, severity counts it by its role, the alert explains it.

// toyEvidence: the host's coins.
type toyEvidence struct{ coins int64 }

// toy: a host with 1,000 coins or more is exploitation evidence (not a
// domain rule: a family only the test knows).
var toy = &familyOf[toyEvidence]{
	Name: "toy",
	Role: roleExploitation,
	Score: func(_ *Engine, h *hostState, ev *toyEvidence, _ *hostEval) float64 {
		ev.coins = h.coins
		if h.coins >= 1000 {
			return 0.9
		}
		return 0
	},
	Explain: func(_ *Engine, _ *hostState, ev *toyEvidence, n int, _ []*hostState) (string, map[string]any) {
		return fmt.Sprintf("%s took %d coins.", who(n), ev.coins), map[string]any{"coins": ev.coins}
	},
	Save: func(_ *ckWriter, enc *snapshot.Enc, ev *toyEvidence) { enc.Varint(ev.coins) },
	Load: func(_ *ckReader, d *snapshot.Dec, ev *toyEvidence) { ev.coins = d.Varint() },
}

func TestToyFamily(t *testing.T) {
	t.Parallel()
	story := func(w *world) {
		nights(4, func(d int) {
			w.broadcast(hostSpec{id: "h1", device: "d1", created: oldAcct()}, at(d, 21), 3, streamOpt{gifts: 10, coins: 100})
		})
	}
	cfg := DefaultConfig()
	cfg.Scoring.Weights = maps.Clone(cfg.Scoring.Weights)
	cfg.Scoring.Weights["toy"] = 0.4
	if _, err := New(cfg); err == nil || !strings.Contains(err.Error(), "scoring.weights.toy: unknown detector") {
		t.Fatalf("the default table took a weight for toy: %v", err)
	}
	e, err := newEngine(cfg, append(slices.Clone(defaultFamilies), toy))
	if err != nil {
		t.Fatal(err)
	}
	var signals []Signal
	e.OnSignal = func(s Signal) { signals = append(signals, s) }
	w := &world{t: t, e: e}
	story(w)
	w.run()

	plain := newWorld(t)
	story(plain)
	plain.run()
	if n := len(plain.distinctAlerts()); n != 0 {
		t.Fatalf("without toy the story raised %d alerts; it should need toy", n)
	}
	// Schedule (context) and toy (exploitation) converge: medium.
	alerts := w.distinctAlerts()
	if len(alerts) != 1 {
		t.Fatalf("with toy: %d alerts, want 1: %v", len(alerts), w.alerts)
	}
	for _, a := range alerts {
		if a.Severity != SeverityMedium {
			t.Errorf("severity %s, want medium (schedule and toy)", a.Severity)
		}
		var r *Reason
		for i := range a.Reasons {
			if a.Reasons[i].Detector == "toy" {
				r = &a.Reasons[i]
			}
		}
		if r == nil || r.Score != 0.9 || r.Evidence["coins"].(int64) < 1000 ||
			r.Summary != fmt.Sprintf("The host took %d coins.", r.Evidence["coins"]) {
			t.Errorf("toy's reason %+v, want its sentence with 1000 coins or more at 0.9", r)
		}
		if last := a.Reasons[len(a.Reasons)-1]; last.Detector != "toy" {
			t.Errorf("toy is last in the table but its reason is not last: %v", a.Reasons)
		}
	}
	if !slices.ContainsFunc(signals, func(s Signal) bool { return s.Detector == "toy" && s.Score == 0.9 }) {
		t.Errorf("no toy signal among %d signals", len(signals))
	}
	if _, err := newEngine(cfg, append(slices.Clone(defaultFamilies), toy, toy)); err == nil {
		t.Error("a table with toy twice was taken")
	}
}
