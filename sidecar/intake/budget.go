package intake

import (
	"context"
	"sync"
	"time"
)

// memBudget counts the bytes that requests hold: bodies as they are read,
// then what decoding makes of them, until the answer is written. A request
// reserves before it allocates, so that the bytes counted are never above
// the limit (ronda_intake_memory_bytes against ronda_intake_memory_limit_bytes).
type memBudget struct {
	mu      sync.Mutex
	used    int64
	limit   int64
	peak    int64         // the most ever used, for tests and benchmarks
	changed chan struct{} // closed and replaced when bytes are released
}

func newMemBudget(limit int64) *memBudget {
	return &memBudget{limit: limit, changed: make(chan struct{})}
}

// acquire reserves n bytes, waiting until deadline (or ctx) for others to
// release them; false when they could not be had. A zero deadline does not
// wait.
func (b *memBudget) acquire(ctx context.Context, n int64, deadline time.Time) bool {
	var t *time.Timer
	for {
		b.mu.Lock()
		if b.used+n <= b.limit {
			b.used += n
			b.peak = max(b.peak, b.used)
			b.mu.Unlock()
			if t != nil {
				t.Stop()
			}
			return true
		}
		ch := b.changed
		b.mu.Unlock()
		wait := time.Until(deadline)
		if deadline.IsZero() || wait <= 0 || n > b.limit {
			return false
		}
		if t == nil {
			t = time.NewTimer(wait)
			defer t.Stop()
		}
		select {
		case <-ch:
		case <-t.C:
			return false
		case <-ctx.Done():
			return false
		}
	}
}

func (b *memBudget) release(n int64) {
	if n == 0 {
		return
	}
	b.mu.Lock()
	b.used -= n
	close(b.changed)
	b.changed = make(chan struct{})
	b.mu.Unlock()
}

func (b *memBudget) stats() (used, peak int64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.used, b.peak
}

// reservation is what one request holds of the budget.
type reservation struct {
	b     *memBudget
	ctx   context.Context
	until time.Time // how long a growth may wait for room
	n     int64
	never bool // a growth failed that the whole budget could not hold
}

// grow reserves n more bytes; false when the budget has no room for them in
// time, and the request is then answered busy with nothing taken.
func (r *reservation) grow(n int64) bool {
	if n <= 0 {
		return true
	}
	if r.n+n > r.b.limit {
		r.never = true
		return false
	}
	if !r.b.acquire(r.ctx, n, r.until) {
		return false
	}
	r.n += n
	return true
}

// release gives back everything; safe twice.
func (r *reservation) release() {
	r.b.release(r.n)
	r.n = 0
}

// shrink gives back n of the bytes held, for a buffer no longer in use.
func (r *reservation) shrink(n int64) {
	n = min(n, r.n)
	r.b.release(n)
	r.n -= n
}
