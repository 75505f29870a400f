package classify

import (
	"sync"
	"time"
)

// budget counts each stream's frames in a fixed hour window from its first
// frame; the table is bounded, expired windows swept when it is full.
type budget struct {
	mu      sync.Mutex
	perHour int
	max     int
	streams map[string]*window
}

type window struct {
	start time.Time
	n     int
}

func newBudget(perHour, max int) *budget {
	return &budget{perHour: perHour, max: max, streams: make(map[string]*window)}
}

// take spends one frame of the stream's budget; "" when granted, else the
// reason.
func (b *budget) take(stream string, now time.Time) string {
	b.mu.Lock()
	defer b.mu.Unlock()
	w := b.streams[stream]
	if w != nil && now.Sub(w.start) >= time.Hour {
		w.start, w.n = now, 0
	}
	if w == nil {
		if len(b.streams) >= b.max {
			for id, o := range b.streams {
				if now.Sub(o.start) >= time.Hour {
					delete(b.streams, id)
				}
			}
			if len(b.streams) >= b.max {
				return FrameBudgetTableFull
			}
		}
		w = &window{start: now}
		b.streams[stream] = w
	}
	if w.n >= b.perHour {
		return FrameBudget
	}
	w.n++
	return ""
}
