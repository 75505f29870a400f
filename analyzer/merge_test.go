package analyzer

import (
	"slices"
	"testing"
)

// TestAlertsMerge: two rings raise an alert each; when a host of the younger
// ring pays the older ring's operator, the clusters join: the younger alert
// gets one last version naming the older, which continues with every host.
func TestAlertsMerge(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	adultRing(w, "a", 4, 0)
	adultRing(w, "b", 4, 2)
	w.payout("bh1", "opa", 900000, "ewallet", at(6, 12))
	w.run()

	var older, younger string
	for _, a := range w.alerts {
		if older == "" {
			older = a.ID
		} else if younger == "" && a.ID != older {
			younger = a.ID
		}
	}
	if older == "" || younger == "" {
		t.Fatalf("want two alerts before the join, got %v", w.alerts)
	}
	i := slices.IndexFunc(w.alerts, func(a Alert) bool { return a.MergedInto != "" })
	if i < 0 {
		t.Fatal("no merged version")
	}
	m := w.alerts[i]
	if m.ID != younger || m.MergedInto != older {
		t.Errorf("merged %s into %s, want the younger %s into the older %s", m.ID, m.MergedInto, younger, older)
	}
	if m.Subject != (EntityRef{KindAlert, older}) || len(m.Entities) != 0 || len(m.Reasons) != 0 {
		t.Errorf("merged version %+v: want subject the older alert, no entities or reasons", m)
	}
	prev := -1
	for _, a := range w.alerts[:i] {
		if a.ID == younger {
			prev = a.Updates
		}
	}
	if m.Updates != prev+1 {
		t.Errorf("merged version is update %d, the one before %d", m.Updates, prev)
	}
	for _, a := range w.alerts[i+1:] {
		if a.ID == younger {
			t.Errorf("the merged alert went on: %+v", a)
		}
	}
	var last Alert
	for _, a := range w.alerts {
		if a.ID == older {
			last = a
		}
	}
	if last.At.Before(m.At) {
		t.Fatalf("the older alert has no version after the merge (last at %v, merge at %v)", last.At, m.At)
	}
	for _, h := range []string{"ah1", "ah2", "ah3", "bh1", "bh2", "bh3"} {
		if !slices.Contains(last.Entities, EntityRef{KindHost, h}) {
			t.Errorf("the continuing alert does not name %s", h)
		}
	}
	if _, ok := w.e.alerts[younger]; ok {
		t.Error("the merged alert is still open")
	}
	if last.Severity == SeverityCritical {
		t.Error("adults' rings joined made critical: no minor is named")
	}
}
