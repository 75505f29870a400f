package event

import (
	"time"

	"github.com/ronda-watch/ronda/analyzer/internal/idhash"
)

// DedupStats counts what a Deduper did.
type DedupStats struct {
	Duplicates uint64 // ids seen again while remembered, dropped
	Forgotten  uint64 // ids dropped from memory by the window or the capacity
	Live       int    // ids remembered now
}

// Deduper drops repeated event ids: the contract makes the id the dedup key, so
// the same id sent twice is one event (EVENTS.md "Common fields"). Memory is
// bounded twice: an id is forgotten once it is older than the window, in event
// time relative to the latest time seen, and the oldest ids (in event time,
// ties in arrival order) are forgotten beyond the capacity. A duplicate that
// arrives after its id was forgotten passes; Stats().Forgotten says how often
// that could have happened.
//
// Ids are remembered as a 64-bit keyed hash, not as strings, in an
// open-addressing set (idset.go): several times cheaper than a map of strings,
// and memory per id is fixed. With a random key per Deduper a false duplicate (two live ids with
// the same 64 bits) has a probability near n²/2^65: about 3·10^-8 with a full
// million ids, 2·10^-11 for a day of a busy node's events. The key is saved in
// a checkpoint (WriteCheckpoint), so a restored Deduper hashes as its writer did.
//
// A Deduper runs on event time only, so replay and live drop the same events.
// Not safe for concurrent use.
type Deduper struct {
	window   time.Duration
	capacity int

	key idhash.Key
	ids idSet
	// The remembered ids by age: those that arrived in event-time order sit in
	// a FIFO (already sorted, so O(1)), the stragglers in a min-heap; the oldest
	// is the older of the two fronts.
	fifo      []dedupEntry
	head      int // fifo[head:] is live
	straggler []dedupEntry
	seq       uint64
	latest    instant // the latest event time seen
	cutoff    instant // latest - window
	any       bool    // latest is set
	stats     DedupStats
}

// instant is an event time as Unix seconds and nanoseconds: cheaper to compare
// than a time.Time, and good for every year RFC 3339 can write.
type instant struct {
	sec  int64
	nsec int32
}

func instantOf(t time.Time) instant { return instant{t.Unix(), int32(t.Nanosecond())} }

func (a instant) before(b instant) bool {
	return a.sec < b.sec || a.sec == b.sec && a.nsec < b.nsec
}

type idKey = uint64

type dedupEntry struct {
	at  instant
	seq uint64
	id  idKey
}

func (a *dedupEntry) less(b *dedupEntry) bool {
	if a.at != b.at {
		return a.at.before(b.at)
	}
	return a.seq < b.seq
}

// NewDeduper remembers ids for window of event time and at most capacity ids.
// A window <= 0 forgets by capacity only; a capacity <= 0 sets no count limit
// (then memory grows with the ids in one window).
func NewDeduper(window time.Duration, capacity int) *Deduper {
	return &Deduper{window: window, capacity: capacity, key: idhash.NewKey()}
}

// Seen reports whether id was seen before and is still remembered: true means
// a duplicate to drop. Otherwise it remembers id at event time at. An id whose
// at is already outside the window is not remembered (and counts as
// forgotten): it would be forgotten at once.
func (d *Deduper) Seen(idStr string, at time.Time) bool {
	id := d.key.String(idStr)
	now := instantOf(at)
	if !d.any || d.latest.before(now) {
		d.latest, d.any = now, true
		if d.window > 0 {
			d.cutoff = instantOf(at.Add(-d.window))
			for d.live() > 0 && d.oldest().at.before(d.cutoff) {
				d.forgetOldest()
			}
		}
	}
	if d.ids.has(id) {
		d.stats.Duplicates++
		return true
	}
	if d.window > 0 && now.before(d.cutoff) {
		d.stats.Forgotten++
		return false
	}
	d.ids.add(id)
	e := dedupEntry{at: now, seq: d.seq, id: id}
	d.seq++
	if n := len(d.fifo); n == d.head || !now.before(d.fifo[n-1].at) {
		d.fifo = append(d.fifo, e)
	} else {
		d.straggler = heapPush(d.straggler, e)
	}
	if d.capacity > 0 && d.live() > d.capacity {
		d.forgetOldest()
	}
	return false
}

// Stats returns the counts so far.
func (d *Deduper) Stats() DedupStats {
	s := d.stats
	s.Live = d.live()
	return s
}

func (d *Deduper) live() int { return len(d.fifo) - d.head + len(d.straggler) }

// fifoFirst reports whether the oldest entry is the front of the FIFO rather
// than the top of the straggler heap; live must be > 0.
func (d *Deduper) fifoFirst() bool {
	return d.head < len(d.fifo) && (len(d.straggler) == 0 || d.fifo[d.head].less(&d.straggler[0]))
}

func (d *Deduper) oldest() *dedupEntry {
	if d.fifoFirst() {
		return &d.fifo[d.head]
	}
	return &d.straggler[0]
}

func (d *Deduper) forgetOldest() {
	d.stats.Forgotten++
	if !d.fifoFirst() {
		d.ids.remove(d.straggler[0].id)
		d.straggler = heapPop(d.straggler)
		return
	}
	d.ids.remove(d.fifo[d.head].id)
	d.fifo[d.head] = dedupEntry{} // let the id go
	d.head++
	switch {
	case d.head == len(d.fifo):
		d.fifo, d.head = d.fifo[:0], 0
	case d.head >= 1024 && d.head*2 >= len(d.fifo):
		// Slide the live part down so that the backing array stops growing.
		n := copy(d.fifo, d.fifo[d.head:])
		clear(d.fifo[n:])
		d.fifo, d.head = d.fifo[:n], 0
	}
}
