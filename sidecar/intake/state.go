package intake

import (
	"time"

	"github.com/ronda-watch/ronda/analyzer/event"
)

// WithDedup runs fn with the handler's deduper under the handler's lock:
// how the service snapshots it into a checkpoint. fn must not keep d.
func (h *Handler) WithDedup(fn func(d *event.Deduper)) {
	h.dedupMu.Lock()
	defer h.dedupMu.Unlock()
	fn(h.dedup)
}

// Remember records the ids of events taken before this handler existed (the
// service's intake log, replayed at start) as the handler records the ones it
// takes, with now the wall time they were taken at, so that their resends
// are duplicates.
func (h *Handler) Remember(evs []event.Event, now time.Time) {
	h.dedupMu.Lock()
	defer h.dedupMu.Unlock()
	lim := now.Add(h.opts.DedupMaxFuture)
	for i := range evs {
		h.dedup.Seen(evs[i].ID, dedupTime(evs[i].At, lim))
	}
}

// dedupTime is the event time the deduper is told: never later than lim, so
// that one sender's clock running ahead (an event dated 2099) cannot move
// the dedup window and make every other sender's resent ids new again.
func dedupTime(at, lim time.Time) time.Time {
	if at.After(lim) {
		return lim
	}
	return at
}
