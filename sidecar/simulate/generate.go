package simulate

import (
	"context"
	"fmt"
	"slices"
	"strconv"

	"github.com/ronda-watch/ronda/analyzer/event"
)

// The generator merges many time-ordered sources (the account-level agenda, a
// day's payouts and posts, and every live stream) through a min-heap keyed by
// (time, rank, sequence), so events come out in time order with a fixed order
// for ties. A day's streams are planned when the merge reaches that day; a
// stream holds only its own small state, so memory follows the number of
// concurrent streams and the day's plan, never the number of events.

type cursor interface {
	key() (at int64, rank uint64, seq uint32)
	fill(g *gen, e *event.Event) bool
}

func (s *session) key() (int64, uint64, uint32) { return s.at, s.rank, s.seq }

type entry struct {
	at   int64
	rank uint64
	seq  uint32
	c    cursor
}

func (a *entry) less(b *entry) bool {
	if a.at != b.at {
		return a.at < b.at
	}
	if a.rank != b.rank {
		return a.rank < b.rank
	}
	return a.seq < b.seq
}

type gen struct {
	w         *world
	emit      func(*event.Event) error
	reuse     *event.Event
	heap      []entry
	events    uint64
	streams   uint64
	hostsLive int
	buyerW    [32]float64
}

func (g *gen) push(c cursor) {
	at, rank, seq := c.key()
	if at == never {
		return
	}
	g.heap = append(g.heap, entry{at, rank, seq, c})
	i := len(g.heap) - 1
	for i > 0 {
		p := (i - 1) / 2
		if !g.heap[i].less(&g.heap[p]) {
			break
		}
		g.heap[i], g.heap[p] = g.heap[p], g.heap[i]
		i = p
	}
}

func (g *gen) down(i int) {
	h := g.heap
	n := len(h)
	for {
		l := 2*i + 1
		if l >= n {
			return
		}
		m := l
		if r := l + 1; r < n && h[r].less(&h[l]) {
			m = r
		}
		if !h[m].less(&h[i]) {
			return
		}
		h[i], h[m] = h[m], h[i]
		i = m
	}
}

// drain emits every event before limit.
func (g *gen) drain(ctx context.Context, limit int64) error {
	for len(g.heap) > 0 && g.heap[0].at < limit {
		top := &g.heap[0]
		e := g.reuse
		if e == nil {
			e = new(event.Event)
		} else {
			*e = event.Event{}
		}
		at := top.at
		if top.c.fill(g, e) {
			e.At = unixTime(at)
			e.TypeName = e.Type.String()
			e.ID = g.w.ids.eventID(g.events)
			g.events++
			if err := g.emit(e); err != nil {
				return fmt.Errorf("emit event %d: %w", g.events-1, err)
			}
			if g.events&4095 == 0 {
				if err := ctx.Err(); err != nil {
					return err
				}
			}
		}
		top.at, top.rank, top.seq = top.c.key()
		if top.at == never {
			last := len(g.heap) - 1
			g.heap[0] = g.heap[last]
			g.heap[last] = entry{}
			g.heap = g.heap[:last]
		}
		g.down(0)
	}
	return ctx.Err()
}

// planDay returns the streams starting in UTC day d.
func (w *world) planDay(d int) []*session {
	lo := w.start + int64(d)*86400
	hi := lo + 86400
	var all, out []*session
	for i := range w.hosts {
		h := &w.hosts[i]
		if h.ring >= 0 {
			continue
		}
		all = all[:0]
		for L := d - 1; L <= d+1; L++ {
			all = w.hostDay(h, L, all)
		}
		for _, s := range all {
			if s.start >= lo && s.start < hi {
				out = append(out, s)
			}
		}
	}
	for _, rg := range w.rings {
		all = all[:0]
		for L := d - 1; L <= d+1; L++ {
			all = w.ringNight(rg, L, all)
		}
		for _, s := range all {
			if s.start >= lo && s.start < hi {
				out = append(out, s)
			}
		}
	}
	return out
}

func (g *gen) run(ctx context.Context) error {
	w := g.w
	g.push(&agendaCursor{items: w.agenda})
	for d := range w.o.Days {
		for _, s := range w.planDay(d) {
			s.activate(w)
			g.push(s)
		}
		g.push(&agendaCursor{items: w.daily(d)})
		if err := g.drain(ctx, w.start+int64(d+1)*86400); err != nil {
			return err
		}
	}
	return g.drain(ctx, never)
}

func itoa(n int) string { return strconv.Itoa(n) }

// labels are the ring victims and the accounts behind them, sorted.
func labelsOf(rings []*ring, x ids) Labels {
	l := Labels{PositiveHosts: []string{}, PositiveAccounts: []string{}}
	for _, rg := range rings {
		for _, hi := range rg.hosts {
			l.PositiveHosts = append(l.PositiveHosts, x.make('h', hi))
		}
		if !rg.quiet {
			l.PositiveAccounts = append(l.PositiveAccounts, rg.recruiter)
		}
		if rg.operator != rg.recruiter || rg.quiet {
			l.PositiveAccounts = append(l.PositiveAccounts, rg.operator)
		}
	}
	slices.Sort(l.PositiveHosts)
	slices.Sort(l.PositiveAccounts)
	return l
}
