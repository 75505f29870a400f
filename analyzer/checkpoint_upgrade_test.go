package analyzer

import (
	"bytes"
	"os"
	"testing"
)

// TestCheckpointFromVersion1 reads a checkpoint the version 1 build wrote
// (commit 147617e, before the hand-over memory: the Cirebon story of 16 days
// cut after its first 60 of 4,285 events, its alert high and naming 6 entities, testdata/checkpoint-v1.bin),
// as an upgraded service does at its first start. The state comes back with
// no hand-over memory, and the story carried on from it ends with the same
// alerts, at the same severities and naming the same entities, as a run of
// this build that never stopped.
func TestCheckpointFromVersion1(t *testing.T) {
	b, err := os.ReadFile("testdata/checkpoint-v1.bin")
	if err != nil {
		t.Fatal(err)
	}
	evs := storyEvents(func(w *world) { cirebon(w, 16) })
	const cut = 60
	if len(evs) != 4285 {
		t.Fatalf("the story has %d events, the fixture was cut from one of 4285: regenerate it", len(evs))
	}
	cfg := DefaultConfig()
	e, err := ReadCheckpoint(cfg, bytes.NewReader(b))
	if err != nil {
		t.Fatalf("a version 1 checkpoint: %v", err)
	}
	if st := e.Stats(); st.Events != cut || st.OpenAlerts != 1 || st.Hosts != 3 {
		t.Fatalf("restored stats %+v, want the fixture's 60 events, 3 hosts, 1 open alert", st)
	}
	// The restored engine writes the current version, which reads back whole.
	again := checkpointBytes(t, e)
	if r, err := ReadCheckpoint(cfg, bytes.NewReader(again)); err != nil {
		t.Fatal(err)
	} else if !bytes.Equal(checkpointBytes(t, r), again) {
		t.Fatal("the upgraded checkpoint does not read back to the same bytes")
	}

	final := func(alerts []Alert) map[string]Alert {
		m := map[string]Alert{}
		for _, a := range alerts {
			m[a.ID] = a
		}
		return m
	}
	var carried []Alert
	for i := cut; i < len(evs); i++ {
		carried = append(carried, e.Apply(&evs[i])...)
	}
	carried = append(carried, e.Flush()...)
	// What a run of this build that never stopped emits after the cut.
	fresh, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var after []Alert
	for i := range evs {
		a := fresh.Apply(&evs[i])
		if i >= cut {
			after = append(after, a...)
		}
	}
	after = append(after, fresh.Flush()...)
	got, exp := final(carried), final(after)
	t.Logf("after the cut: %d alert versions carried on, %d from a run that never stopped", len(carried), len(after))
	if len(exp) == 0 || len(after) < 3 {
		t.Fatalf("the story raises %d alert versions after the cut: a weak test", len(after))
	}
	if len(carried) != len(after) {
		t.Errorf("%d alert versions carried on, %d from a run that never stopped", len(carried), len(after))
	}
	for id, w := range exp {
		g, ok := got[id]
		if !ok {
			t.Errorf("alert %s (%s %v) not carried on after the upgrade; carried: %v", id, w.Severity, w.Entities, got)
			continue
		}
		if g.Severity != w.Severity || !sameEntities(g, w) {
			t.Errorf("alert %s after the upgrade: %s %v, a run that never stopped: %s %v", id, g.Severity, g.Entities, w.Severity, w.Entities)
		}
	}
}

func sameEntities(a, b Alert) bool {
	if len(a.Entities) != len(b.Entities) {
		return false
	}
	for i := range a.Entities {
		if a.Entities[i] != b.Entities[i] {
			return false
		}
	}
	return true
}
