package event

import "time"

// DedupStats counts what a Deduper did.
type DedupStats struct {
	Duplicates uint64 // ids seen again while remembered, dropped
	Forgotten  uint64 // ids dropped from memory by the window or the capacity
	Live       int    // ids remembered now
}

// Deduper drops repeated event ids: the contract makes the id the dedup key, so
// the same id sent twice is one event (EVENTS.md "Common fields"). Memory is
// bounded twice: an id is forgotten once it is older than the window, in event
// time relative to the latest time seen, and the oldest ids are forgotten
// beyond the capacity. A duplicate that arrives after its id was forgotten
// passes; Stats().Forgotten says how often that could have happened.
//
// A Deduper runs on event time only, so replay and live drop the same events.
// Not safe for concurrent use.
type Deduper struct {
	window   time.Duration
	capacity int

	ids    map[string]struct{}
	byAge  []dedupEntry // min-heap on (at, seq): the oldest id on top
	seq    uint64
	latest time.Time
	any    bool // latest is set
	stats  DedupStats
}

type dedupEntry struct {
	at  time.Time
	seq uint64
	id  string
}

func (a *dedupEntry) less(b *dedupEntry) bool {
	if c := a.at.Compare(b.at); c != 0 {
		return c < 0
	}
	return a.seq < b.seq
}

// NewDeduper remembers ids for window of event time and at most capacity ids.
// A window <= 0 forgets by capacity only; a capacity <= 0 sets no count limit
// (then memory grows with the ids in one window).
func NewDeduper(window time.Duration, capacity int) *Deduper {
	d := &Deduper{window: window, capacity: capacity, ids: make(map[string]struct{})}
	return d
}

// Seen reports whether id was seen before and is still remembered: true means
// a duplicate to drop. Otherwise it remembers id at event time at. An id whose
// at is already outside the window is not remembered (and counts as
// forgotten): it would be forgotten at once.
func (d *Deduper) Seen(id string, at time.Time) bool {
	if !d.any || at.After(d.latest) {
		d.latest, d.any = at, true
	}
	var cutoff time.Time
	if d.window > 0 {
		cutoff = d.latest.Add(-d.window)
		for len(d.byAge) > 0 && d.byAge[0].at.Before(cutoff) {
			d.forgetOldest()
		}
	}
	if _, ok := d.ids[id]; ok {
		d.stats.Duplicates++
		return true
	}
	if d.window > 0 && at.Before(cutoff) {
		d.stats.Forgotten++
		return false
	}
	d.ids[id] = struct{}{}
	d.push(dedupEntry{at: at, seq: d.seq, id: id})
	d.seq++
	if d.capacity > 0 && len(d.byAge) > d.capacity {
		d.forgetOldest()
	}
	return false
}

// Stats returns the counts so far.
func (d *Deduper) Stats() DedupStats {
	s := d.stats
	s.Live = len(d.ids)
	return s
}

func (d *Deduper) forgetOldest() {
	delete(d.ids, d.byAge[0].id)
	d.pop()
	d.stats.Forgotten++
}

func (d *Deduper) push(e dedupEntry) {
	h := append(d.byAge, e)
	for i := len(h) - 1; i > 0; {
		parent := (i - 1) / 2
		if !h[i].less(&h[parent]) {
			break
		}
		h[i], h[parent] = h[parent], h[i]
		i = parent
	}
	d.byAge = h
}

func (d *Deduper) pop() {
	h := d.byAge
	last := len(h) - 1
	h[0] = h[last]
	h[last] = dedupEntry{} // let the id go
	h = h[:last]
	for i := 0; ; {
		small, l, r := i, 2*i+1, 2*i+2
		if l < len(h) && h[l].less(&h[small]) {
			small = l
		}
		if r < len(h) && h[r].less(&h[small]) {
			small = r
		}
		if small == i {
			break
		}
		h[i], h[small] = h[small], h[i]
		i = small
	}
	d.byAge = h
}
