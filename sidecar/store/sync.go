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
	batches := w.take(true)
	w.queued.Add(uint64(len(batches)))
	target := w.queued.Load()
	w.takeMu.Unlock()
	for _, batch := range batches {
		b := w.build(batch[0].table(), batch)
		w.flushMu.Lock()
		w.write(ctx, b)
		w.flushMu.Unlock()
		w.release(b)
		w.written.Add(1)
	}
	// Batches Run took before us may still be queued for or in its sender.
	for w.written.Load() < target {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(2 * time.Millisecond):
		}
	}
	return nil
}
