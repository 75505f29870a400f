package simulate

import (
	"cmp"
	"math"
	"slices"
	"time"

	"github.com/ronda-watch/ronda/analyzer/event"
)

// item is an account-level event that is not part of a stream: a post, a link
// or a payout. A payout's coins are the host's balance when it is emitted.
type item struct {
	at     int64
	rank   uint64
	ev     *event.Event
	payout *host
}

func unixTime(s int64) time.Time { return time.Unix(s, 0).UTC() }

func (w *world) addItem(at int64, ev *event.Event) {
	w.agenda = append(w.agenda, item{at: at, rank: uint64(len(w.agenda)), ev: ev})
}

func (w *world) addPost(at int64, account, kind, text, to string) {
	w.addItem(at, &event.Event{Type: event.TypePost, AccountID: account, Kind: kind, Text: text, ToID: to})
}

func (w *world) addLink(at int64, from, to, rel string) {
	w.addItem(at, &event.Event{Type: event.TypeLink, FromID: from, ToID: to, Rel: rel})
}

func sortItems(xs []item) {
	slices.SortFunc(xs, func(a, b item) int {
		if c := cmp.Compare(a.at, b.at); c != 0 {
			return c
		}
		return cmp.Compare(a.rank, b.rank)
	})
}

// daily plans the account-level events of UTC day d: weekly payouts and the
// hosts' own posts. Every item falls inside the day.
func (w *world) daily(d int) []item {
	r := newRand(w.o.Seed, tagDaily, uint64(d), 0)
	var out []item
	for i := range w.hosts {
		h := &w.hosts[i]
		if h.ring >= 0 {
			continue
		}
		mid := w.localMidnight(d, h.zone)
		if (d+int(h.payDay))%7 == 0 {
			to := h.id
			if h.payTo != "" {
				to = h.payTo
			}
			if h.payAlt != "" && r.Float64() < h.payAltP {
				to = h.payAlt
			}
			ev := &event.Event{Type: event.TypePayout, AccountID: h.id, ToAccount: to, Method: w.rg.rail(h.method, h.id)}
			out = append(out, item{at: mid + int64((9+11*r.Float64())*3600), ev: ev, payout: h})
		}
		if r.Float64() < 0.07 && h.created < mid {
			ev := &event.Event{Type: event.TypePost, AccountID: h.id, Kind: "post", Text: pick(r, w.rg.hostPosts)}
			out = append(out, item{at: mid + int64((9+13*r.Float64())*3600), ev: ev})
		}
	}
	for _, rg := range w.rings {
		out = w.ringPayouts(rg, d, r, out)
	}
	for i := range out {
		out[i].rank = 1<<62 | uint64(d)<<32 | uint64(i)
	}
	sortItems(out)
	return out
}

// agendaCursor walks a sorted list of items.
type agendaCursor struct {
	items []item
	i     int
}

func (a *agendaCursor) key() (int64, uint64, uint32) {
	if a.i >= len(a.items) {
		return never, 0, 0
	}
	return a.items[a.i].at, a.items[a.i].rank, 0
}

func (a *agendaCursor) fill(g *gen, e *event.Event) bool {
	it := a.items[a.i]
	a.items[a.i] = item{} // let the event go once emitted
	a.i++
	*e = *it.ev
	if h := it.payout; h != nil {
		// Ring payouts take whatever there is; a benign host waits for a sum worth the fee.
		if h.coins <= 0 || (h.ring < 0 && h.coins < 300) {
			return false
		}
		e.Coins = h.coins
		h.coins = 0
		p := math.Pow10(g.w.rg.decimals)
		e.Amount = math.Round(float64(e.Coins)*g.w.rg.coinValue*p) / p
		e.Currency = g.w.rg.currency
	}
	return true
}
