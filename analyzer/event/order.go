package event

import "time"

// OrderStats counts what an Orderer did.
type OrderStats struct {
	Late     uint64 // events refused by Push: before the watermark
	Forced   uint64 // events released early because more than maxBuffered were held
	Buffered int    // events held now
}

// Orderer puts events back in event-time order: senders and ingest nodes may
// deliver a little out of order, and the analyzer runs on event time. Events
// are held until the newest event time seen is lateness past them, then
// released oldest first, ties in arrival order. An event that arrives after
// later events were released cannot be put in order any more: Push refuses it
// and the caller reports it as late.
//
// Use: Push each event, then Release; Drain at the end of input. Not safe for
// concurrent use.
type Orderer struct {
	lateness time.Duration
	max      int

	slab  []Event // held events; free slots are listed in free
	free  []int32
	queue []orderEntry // min-heap on (at, seq)
	seq   uint64

	newest    time.Time // newest At pushed
	mark      time.Time // At of the last event released
	hasNewest bool
	hasMark   bool
	stats     OrderStats
}

type orderEntry struct {
	sec  int64 // event time as Unix seconds and nanoseconds: cheaper to compare than time.Time
	nsec int32
	slot int32
	seq  uint64
}

func (a *orderEntry) less(b *orderEntry) bool {
	if a.sec != b.sec {
		return a.sec < b.sec
	}
	if a.nsec != b.nsec {
		return a.nsec < b.nsec
	}
	return a.seq < b.seq
}

// NewOrderer holds events up to lateness behind the newest event time seen
// and at most maxBuffered events. A lateness <= 0 reorders nothing: an
// in-order stream passes straight through, and an event older than one already
// released is late. A maxBuffered <= 0 sets no limit.
func NewOrderer(lateness time.Duration, maxBuffered int) *Orderer {
	return &Orderer{lateness: max(lateness, 0), max: maxBuffered}
}

// Push takes a copy of *ev (a shallow copy, which is a full one for events from
// Decoder and Reader, whose strings, slices and pointers are never reused). If
// ev.At is before the watermark it keeps nothing and returns false: the event
// is late. Otherwise it holds the event until Release or Drain and returns true.
func (o *Orderer) Push(ev *Event) bool {
	if o.hasMark && ev.At.Before(o.mark) {
		o.stats.Late++
		return false
	}
	var slot int32
	if n := len(o.free); n > 0 {
		slot = o.free[n-1]
		o.free = o.free[:n-1]
		o.slab[slot] = *ev
	} else {
		slot = int32(len(o.slab))
		o.slab = append(o.slab, *ev)
	}
	o.queue = heapPush(o.queue, orderEntry{sec: ev.At.Unix(), nsec: int32(ev.At.Nanosecond()), slot: slot, seq: o.seq})
	o.seq++
	if !o.hasNewest || ev.At.After(o.newest) {
		o.newest, o.hasNewest = ev.At, true
	}
	return true
}

// Release calls fn, in event-time order (ties in arrival order), for every held
// event with At <= the newest At pushed minus the lateness; then, while more
// than maxBuffered are held, for the oldest ones (counted in Stats().Forced).
// The *Event passed to fn is valid during the call only, and fn must not call
// the Orderer.
func (o *Orderer) Release(fn func(*Event)) {
	if !o.hasNewest {
		return
	}
	cutoff := o.newest.Add(-o.lateness)
	limit := orderEntry{sec: cutoff.Unix(), nsec: int32(cutoff.Nanosecond()), seq: ^uint64(0)}
	for len(o.queue) > 0 && o.queue[0].less(&limit) {
		o.releaseOldest(fn)
	}
	for o.max > 0 && len(o.queue) > o.max {
		o.stats.Forced++
		o.releaseOldest(fn)
	}
}

// Drain calls fn for every held event in order, as at the end of input.
func (o *Orderer) Drain(fn func(*Event)) {
	for len(o.queue) > 0 {
		o.releaseOldest(fn)
	}
}

// Watermark is the event time of the last event released: an event before it
// is late. It is the zero Time until something is released.
func (o *Orderer) Watermark() time.Time {
	return o.mark
}

// Stats returns the counts so far.
func (o *Orderer) Stats() OrderStats {
	s := o.stats
	s.Buffered = len(o.queue)
	return s
}

func (o *Orderer) releaseOldest(fn func(*Event)) {
	slot := o.queue[0].slot
	o.queue = heapPop(o.queue)
	ev := &o.slab[slot]
	o.mark, o.hasMark = ev.At, true
	fn(ev)
	*ev = Event{} // let go of what it references
	o.free = append(o.free, slot)
}
