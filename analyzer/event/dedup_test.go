package event

import (
	"testing"
	"time"
)

var t0 = time.Date(2025, 6, 1, 18, 0, 0, 0, time.UTC)

// at gives the event time t0 + s seconds.
func at(s float64) time.Time { return t0.Add(time.Duration(s * float64(time.Second))) }

type seen struct {
	id   string
	at   float64
	want bool // duplicate
}

func runDedup(t *testing.T, d *Deduper, steps []seen) {
	t.Helper()
	for i, s := range steps {
		if got := d.Seen(s.id, at(s.at)); got != s.want {
			t.Fatalf("step %d: Seen(%q, +%vs) = %v, want %v", i, s.id, s.at, got, s.want)
		}
	}
}

func TestDeduperDuplicates(t *testing.T) {
	t.Parallel()
	d := NewDeduper(time.Hour, 100)
	runDedup(t, d, []seen{
		{"a", 0, false},
		{"b", 1, false},
		{"a", 2, true},
		{"a", 0, true}, // the same event sent again with its own time
		{"c", 3, false},
		{"b", 3, true},
	})
	if got, want := d.Stats(), (DedupStats{Duplicates: 3, Live: 3}); got != want {
		t.Errorf("stats %+v, want %+v", got, want)
	}
}

func TestDeduperWindow(t *testing.T) {
	t.Parallel()
	d := NewDeduper(10*time.Second, 100)
	runDedup(t, d, []seen{
		{"a", 0, false},
		{"b", 5, false},
		{"a", 10, true},    // 10 s after a: still in the window
		{"c", 10.5, false}, // a is now older than the window: forgotten
		{"a", 11, false},   // so a passes again, at its new time
		{"b", 12, true},
		{"d", 16, false}, // b forgotten
		{"b", 16, false},
		{"old", 2, false}, // already outside the window: not remembered
		{"old", 3, false},
	})
	// Forgotten: a, b, then "old" twice. Live: c, a, d, b.
	if got, want := d.Stats(), (DedupStats{Duplicates: 2, Forgotten: 4, Live: 4}); got != want {
		t.Errorf("stats %+v, want %+v", got, want)
	}
}

func TestDeduperCapacity(t *testing.T) {
	t.Parallel()
	d := NewDeduper(time.Hour, 3)
	runDedup(t, d, []seen{
		{"a", 0, false},
		{"b", 2, false},
		{"c", 1, false},
		{"d", 3, false}, // over capacity: a, the oldest in event time, goes
		{"c", 4, true},
		{"b", 4, true},
		{"a", 4, false}, // forgotten; remembering it again drops c (time 1)
		{"c", 5, false},
	})
	if got, want := d.Stats(), (DedupStats{Duplicates: 2, Forgotten: 3, Live: 3}); got != want {
		t.Errorf("stats %+v, want %+v", got, want)
	}
}

func TestDeduperCapacityTies(t *testing.T) {
	t.Parallel()
	d := NewDeduper(0, 2) // no window: capacity only
	runDedup(t, d, []seen{
		{"a", 0, false},
		{"b", 0, false},
		{"c", 0, false}, // a, first in, goes first
		{"b", 0, true},
		{"a", 0, false},
	})
}

func TestDeduperNoLimits(t *testing.T) {
	t.Parallel()
	d := NewDeduper(0, 0)
	for i := range 1000 {
		d.Seen(string(rune('A'+i%26))+string(rune(i)), at(float64(i)*3600))
	}
	if st := d.Stats(); st.Live != 1000 || st.Forgotten != 0 {
		t.Errorf("stats %+v, want everything remembered", st)
	}
}
