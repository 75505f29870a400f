package analyzer

import (
	"slices"
	"testing"
	"time"
)

// What the sparse and quiet stories (golden_sparse_stories_test.go) must
// show, besides their golden files: a ring is one alert naming all its
// hosts, however it is linked; the quiet ring alerts within 24 hours of the
// end of its second night; the lookalikes raise nothing.

func runStory(t *testing.T, name string) *world {
	t.Helper()
	w := newWorld(t)
	sparseStories[name](w)
	w.run()
	return w
}

// oneAlertNaming: every alert version of the story belongs to one alert id,
// none merged, and it names every host of hosts at medium or above.
func oneAlertNaming(t *testing.T, w *world, hosts ...string) Alert {
	t.Helper()
	ids := map[string]bool{}
	for _, a := range w.alerts {
		ids[a.ID] = true
		if a.MergedInto != "" {
			t.Errorf("alert %s merged into %s: the ring was split before it was joined", a.ID, a.MergedInto)
		}
	}
	if len(ids) != 1 {
		t.Fatalf("%d alerts, want one for the ring: %v", len(ids), ids)
	}
	last := w.alerts[len(w.alerts)-1]
	for _, h := range hosts {
		if s := w.flagged(h); s < SeverityMedium {
			t.Errorf("host %s flagged at %s, want medium or above", h, s)
		}
		if !slices.Contains(last.Entities, EntityRef{KindHost, h}) {
			t.Errorf("the ring's alert does not name %s: %v", h, last.Entities)
		}
	}
	return last
}

func TestSparseRingLinkedByBeneficiary(t *testing.T) {
	t.Parallel()
	w := runStory(t, "sparse-ring-linked-by-beneficiary")
	a := oneAlertNaming(t, w, "b1", "b2", "b3")
	if !slices.Contains(a.Entities, EntityRef{KindAccount, "opx"}) {
		t.Errorf("the beneficiary is not named: %v", a.Entities)
	}
}

func TestSparseRingLinkedByDeviceLink(t *testing.T) {
	t.Parallel()
	oneAlertNaming(t, runStory(t, "sparse-ring-linked-by-device-link"), "d1", "d2", "d3")
}

func TestSparseRingLinkedByHandovers(t *testing.T) {
	t.Parallel()
	oneAlertNaming(t, runStory(t, "sparse-ring-linked-by-handovers"), "s1", "s2", "s3")
}

func TestQuietRingWithinADayOfSecondNight(t *testing.T) {
	t.Parallel()
	w := runStory(t, "quiet-ring-second-night")
	oneAlertNaming(t, w, "q1", "q2", "q3")
	// The second night (day 1) ends with q3's stream at 04:00 + 2.55 h of
	// shifts: each host must be flagged within 24 h of it.
	end := at(1, 20+2.7*2+2.55)
	first := map[string]time.Time{}
	for _, a := range w.alerts {
		if a.Severity < SeverityMedium {
			continue
		}
		for _, e := range a.Entities {
			if _, ok := first[e.ID]; !ok && e.Kind == KindHost {
				first[e.ID] = a.At
			}
		}
	}
	for _, h := range []string{"q1", "q2", "q3"} {
		if d := first[h].Sub(end); first[h].IsZero() || d > 24*time.Hour {
			t.Errorf("%s flagged %v after the end of its second night, want within 24h", h, d)
		}
	}
	// Not on the first night: one night of shifts and one payout is not yet a rota.
	if at := first["q1"]; !at.After(at1End()) {
		t.Errorf("q1 flagged at %v, before its second night", at)
	}
}

func at1End() time.Time { return at(1, 12) }

func TestSparseLookalikesStayQuiet(t *testing.T) {
	t.Parallel()
	for name, hosts := range map[string][]string{
		"lookalike-family-business-payout-account": {"f1", "f2", "f3", "mom"},
		"lookalike-agency-hosts-follow-at-night":   {"k0", "k1", "k2", "agk"},
		"lookalike-siblings-device-link":           {"g1", "g2"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			assertNoAlert(t, runStory(t, name), hosts...)
		})
	}
}
