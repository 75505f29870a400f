package event

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// orderStory pushes events and releases after each push, recording what was
// released and refused, in a form that reads like the timeline.
type orderStory struct {
	t   *testing.T
	o   *Orderer
	out []string
}

func (s *orderStory) collect(ev *Event) { s.out = append(s.out, ev.ID) }

// push pushes an event id at t0 + sec and releases.
func (s *orderStory) push(id string, sec float64) {
	ev := Event{Type: TypeChat, TypeName: "chat", ID: id, At: at(sec)}
	if !s.o.Push(&ev) {
		s.out = append(s.out, "late:"+id)
	}
	ev.ID = "overwritten" // Push must have taken a copy
	s.o.Release(s.collect)
}

func (s *orderStory) want(ids string) {
	s.t.Helper()
	if got := strings.Join(s.out, " "); got != ids {
		s.t.Fatalf("released %q, want %q", got, ids)
	}
	s.out = nil
}

func TestOrdererPassThrough(t *testing.T) {
	t.Parallel()
	s := &orderStory{t: t, o: NewOrderer(0, 100)}
	s.push("a", 0)
	s.want("a")
	s.push("b", 1)
	s.want("b")
	s.push("c", 1) // a tie passes too
	s.want("c")
	s.push("d", 0.5) // behind c, already released
	s.want("late:d")
	if got, want := s.o.Stats(), (OrderStats{Late: 1}); got != want {
		t.Errorf("stats %+v, want %+v", got, want)
	}
	if !s.o.Watermark().Equal(at(1)) {
		t.Errorf("watermark %v, want %v", s.o.Watermark(), at(1))
	}
}

func TestOrdererReorder(t *testing.T) {
	t.Parallel()
	s := &orderStory{t: t, o: NewOrderer(10*time.Second, 100)}
	if !s.o.Watermark().IsZero() {
		t.Fatalf("watermark before any release: %v", s.o.Watermark())
	}
	s.push("a", 0)
	s.push("c", 8)
	s.push("b", 5) // out of order, within the lateness
	s.want("")
	s.push("d", 12) // releases up to 2
	s.want("a")
	s.push("e", 3) // behind the newest by 9 s but after a: still placed
	s.want("")
	s.push("f", 30) // releases up to 20
	s.want("e b c d")
	s.push("g", 11) // before d, which is out
	s.want("late:g")
	if got := s.o.Stats(); got.Buffered != 1 || got.Late != 1 {
		t.Errorf("stats %+v", got)
	}
	s.o.Drain(s.collect)
	s.want("f")
	if got := s.o.Stats().Buffered; got != 0 {
		t.Errorf("buffered %d after Drain", got)
	}
}

func TestOrdererTiesKeepArrivalOrder(t *testing.T) {
	t.Parallel()
	s := &orderStory{t: t, o: NewOrderer(time.Minute, 100)}
	for i := range 20 {
		s.push(fmt.Sprint(i), float64(i%3)) // times 0 1 2 0 1 2 ...
	}
	s.o.Drain(s.collect)
	s.want("0 3 6 9 12 15 18 1 4 7 10 13 16 19 2 5 8 11 14 17")
}

func TestOrdererForced(t *testing.T) {
	t.Parallel()
	s := &orderStory{t: t, o: NewOrderer(time.Hour, 3)}
	s.push("a", 4)
	s.push("b", 2)
	s.push("c", 3)
	s.want("")
	s.push("d", 1) // four held: the oldest goes early
	s.want("d")
	s.push("e", 0) // before d, which is out
	s.want("late:e")
	s.push("f", 5)
	s.want("b")
	if got, want := s.o.Stats(), (OrderStats{Late: 1, Forced: 2, Buffered: 3}); got != want {
		t.Errorf("stats %+v, want %+v", got, want)
	}
	s.o.Drain(s.collect)
	s.want("c a f")
}

func TestOrdererReusesSlots(t *testing.T) {
	t.Parallel()
	o := NewOrderer(0, 0)
	ev := Event{ID: "x"}
	var n int
	for i := range 1000 {
		ev.At = at(float64(i))
		o.Push(&ev)
		o.Release(func(*Event) { n++ })
	}
	if n != 1000 || len(o.slab) != 1 {
		t.Errorf("released %d, slab of %d; want 1000 through one slot", n, len(o.slab))
	}
}
