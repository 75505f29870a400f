package backtest

import (
	"slices"
	"strings"
	"time"

	"github.com/ronda-watch/ronda/analyzer/event"
)

// rings joins labelled ids that an event ties together: a payout from one to
// the other, a link, a DM, a stream under an agency. Only labelled ids are
// kept, so its memory follows the labels, not the world.
type rings struct {
	parent map[string]string
}

func newRings() *rings { return &rings{parent: map[string]string{}} }

func (g *rings) find(id string) string {
	for {
		p, ok := g.parent[id]
		if !ok || p == id {
			return id
		}
		if pp := g.parent[p]; pp != p {
			g.parent[id] = pp // path halving
		}
		id = p
	}
}

func (g *rings) union(a, b string) {
	ra, rb := g.find(a), g.find(b)
	if ra == rb {
		return
	}
	if rb < ra {
		ra, rb = rb, ra
	}
	g.parent[rb] = ra
}

// ringEvent ties two labelled ids an event relates.
func (t *Tracker) ringEvent(ev *event.Event) {
	if ev.At.After(t.last) {
		t.last = ev.At
	}
	var a, b string
	switch ev.Type {
	case event.TypePayout:
		a, b = ev.AccountID, ev.ToAccount
	case event.TypeLink:
		a, b = ev.FromID, ev.ToID
	case event.TypePost:
		a, b = ev.AccountID, ev.ToID
	case event.TypeStreamStart:
		a, b = ev.HostID, ev.AgencyID
	default:
		return
	}
	if a == "" || b == "" || a == b {
		return
	}
	if _, ok := t.label[a]; !ok {
		return
	}
	if _, ok := t.label[b]; !ok {
		return
	}
	for _, id := range [...]string{a, b} {
		if _, ok := t.rings.parent[id]; !ok {
			t.rings.parent[strings.Clone(id)] = strings.Clone(id)
		}
	}
	t.rings.union(a, b)
}

// groups returns the positive hosts grouped by ring, each sorted, in the
// order of their first id.
func (g *rings) groups(hosts []string) [][]string {
	by := map[string][]string{}
	var roots []string
	for _, h := range hosts {
		r := g.find(h)
		if _, ok := by[r]; !ok {
			roots = append(roots, r)
		}
		by[r] = append(by[r], h)
	}
	out := make([][]string, 0, len(roots))
	for _, r := range roots {
		out = append(out, by[r])
	}
	slices.SortFunc(out, func(a, b []string) int { return strings.Compare(a[0], b[0]) })
	return out
}

// nights are a labelled host's first two broadcast nights: the local
// noon-to-noon days of its streams.
type nights struct {
	first, secondDay int64     // local days of the first and second night
	second           time.Time // first stream.start of the second night, zero before
	secondEnd        time.Time // the last event of the second night's streams
}

// night records a labelled host's stream.start by local night.
func (t *Tracker) night(ev *event.Event) {
	if t.label[ev.HostID] != classHost {
		return
	}
	loc := time.UTC
	if ev.TZ != "" {
		if l, err := time.LoadLocation(ev.TZ); err == nil {
			loc = l
		}
	}
	_, off := ev.At.In(loc).Zone()
	day := (ev.At.Unix() + int64(off) - 12*3600) / 86400
	n := t.nights[ev.HostID]
	if n == nil {
		t.nights[strings.Clone(ev.HostID)] = &nights{first: day}
		return
	}
	if n.second.IsZero() && day != n.first {
		n.second, n.secondDay = ev.At, day
	}
	if !n.second.IsZero() && day == n.secondDay {
		if ev.At.After(n.secondEnd) {
			n.secondEnd = ev.At
		}
		t.secondStreams[strings.Clone(ev.StreamID)] = n
	}
}

// streamEvent moves the end of a second night to the last event of its
// streams.
func (t *Tracker) streamEvent(ev *event.Event) {
	if n := t.secondStreams[ev.StreamID]; n != nil && ev.At.After(n.secondEnd) {
		n.secondEnd = ev.At
	}
}
