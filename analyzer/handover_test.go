package analyzer

import (
	"testing"
	"time"

	"github.com/ronda-watch/ronda/analyzer/event"
)

// TestHandoverCounting: a hand-over counts once per pair and local night, on
// both hosts, only at night and only within the gap; the lists are bounded
// and what they drop is counted.
func TestHandoverCounting(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	a, b := hostSpec{id: "a", created: oldAcct()}, hostSpec{id: "b", created: oldAcct()}
	// Night 0: a 20-22, b from 22:10 (a hand-over); again b 23:00-23:30 after
	// a short a (22:40-22:45): the same pair, the same night.
	w.broadcast(a, at(0, 20), 2, streamOpt{})
	w.broadcast(b, at(0, 22+10.0/60), 0.4, streamOpt{})
	w.broadcast(a, at(0, 22+40.0/60), 5.0/60, streamOpt{})
	w.broadcast(b, at(0, 23), 0.5, streamOpt{})
	// Night 1: one exactly handover_gap (20m) after, the pair's second night.
	w.broadcast(a, at(1, 23), 1, streamOpt{})
	w.broadcast(b, at(2, 0+20.0/60), 1, streamOpt{})
	// Day 2: back to back in the afternoon, not at night; at night a gap
	// over handover_gap. Neither is a third night.
	w.broadcast(a, at(2, 14), 1, streamOpt{})
	w.broadcast(b, at(2, 15+5.0/60), 1, streamOpt{})
	w.broadcast(a, at(2, 20), 1, streamOpt{})
	w.broadcast(b, at(2, 21+21.0/60), 1, streamOpt{})
	w.run()
	for _, pair := range [][2]string{{"a", "b"}, {"b", "a"}} {
		h := w.e.hosts[pair[0]]
		if len(h.handovers) != 1 || h.handovers[0].id != pair[1] || handoverNights(h.handovers[0].coins) != 2 {
			t.Errorf("%s's hand-overs %+v, want %s on 2 nights", pair[0], h.handovers, pair[1])
		}
	}

	// The lists keep at most maxHandoverMarks and count the rest.
	e := w.e
	before := e.Stats().HandoverMarksDropped
	var ms []mark
	for i := 0; i < maxHandoverMarks+3; i++ {
		ms = e.pushMark(ms, mark{host: "x", at: int64(i)})
	}
	if len(ms) != maxHandoverMarks || ms[0].at != 3 || e.Stats().HandoverMarksDropped-before != 3 {
		t.Errorf("%d marks from %d, %d dropped; want %d from 3, 3 dropped", len(ms), ms[0].at, e.Stats().HandoverMarksDropped-before, maxHandoverMarks)
	}

	// A full partner list drops the partner of fewest nights, the oldest.
	var links []acctLink
	t0 := at(0, 20)
	links = addHandover(links, "keep", 1, t0)
	links = addHandover(links, "keep", 2, t0.Add(24*time.Hour))
	for i := 0; i < maxHandovers; i++ {
		links = addHandover(links, string(rune('a'+i)), 3, t0.Add(time.Duration(i)*time.Minute))
	}
	found := false
	for _, l := range links {
		found = found || (l.id == "keep" && handoverNights(l.coins) == 2)
	}
	if len(links) != maxHandovers || !found {
		t.Errorf("%d partners, the two-night one kept: %v", len(links), found)
	}
}

// TestDeviceLinkTiesBothWays: link rel=device names both hosts on each.
func TestDeviceLinkTiesBothWays(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.link("x", "y", "device", at(0, 10))
	w.link("x", "x", "device", at(0, 11)) // a device of one's own is no link
	w.run()
	if x, y := w.e.hosts["x"], w.e.hosts["y"]; len(x.devLinks) != 1 || x.devLinks[0].id != "y" || len(y.devLinks) != 1 || y.devLinks[0].id != "x" {
		t.Errorf("device links x %+v, y %+v", x.devLinks, y.devLinks)
	}
}

// TestHandoverWhileTheFirstIsLive: when the next stream begins before the
// first one's silence has ended it (stream_idle), the hand-over is found as
// the first ends, up to handover_gap after its last event.
func TestHandoverWhileTheFirstIsLive(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		after time.Duration
		want  int
	}{{10 * time.Minute, 1}, {10*time.Minute + time.Second, 0}} {
		w := newWorld(t)
		w.e.cfg.Schedule.HandoverGap = 10 * time.Minute // below stream_idle (15m)
		t0 := at(0, 21)
		w.add(event.Event{Type: event.TypeStreamStart, At: t0, StreamID: "sa", HostID: "a"})
		for m := 5; m <= 60; m += 5 { // no end: it falls silent after 22:00
			w.add(event.Event{Type: event.TypeStreamHeartbeat, At: t0.Add(time.Duration(m) * time.Minute), StreamID: "sa"})
		}
		w.add(event.Event{Type: event.TypeStreamStart, At: t0.Add(time.Hour + c.after), StreamID: "sb", HostID: "b"})
		for m := 75; m <= 120; m += 5 {
			w.add(event.Event{Type: event.TypeStreamHeartbeat, At: t0.Add(time.Duration(m) * time.Minute), StreamID: "sb"})
		}
		w.run()
		if n := len(w.e.hosts["b"].handovers); n != c.want {
			t.Errorf("b began %v after a's last event: %d hand-overs, want %d", c.after, n, c.want)
		}
	}
}
