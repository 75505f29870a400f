package store

import (
	"context"
	"time"
)

// Sync writes every buffered row now, to ClickHouse or the spool, and returns
// once they and every batch taken before are written (or spooled, or counted
// dropped): what a caller that is about to forget its own copy of those rows
// needs (the service truncates its intake log after a checkpoint). Safe
// beside Run; after Close it returns at once.
func (w *Writer) Sync(ctx context.Context) error {
	w.mu.Lock()
	closed := w.closed
	w.mu.Unlock()
	if closed {
		return nil
	}
	w.takeMu.Lock()
	for _, batch := range w.take(true) {
		t := batch[0].table()
		for len(batch) > 0 {
			n := min(len(batch), w.opts.BlockRows)
			w.queuedRows.Add(uint64(n))
			b := w.build(t, batch[:n:n], false)
			w.flushMu.Lock()
			w.write(ctx, b, nil) // one insert of this block: nothing follows it
			w.flushMu.Unlock()
			batch = batch[n:]
		}
	}
	target := w.queuedRows.Load()
	w.takeMu.Unlock()
	// Batches Run took before us may still be queued for or in its sender.
	for w.doneRows.Load() < target {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(2 * time.Millisecond):
		}
	}
	return nil
}
