package forward

import (
	"bytes"
	"context"
	"errors"
	"time"
)

// takeSpooled moves the oldest spooled record into memory. The spool's
// cursor moves past it at once: from here the batch is in memory like any
// other, and Close spools it again if it is not acknowledged by then.
func (f *Forwarder) takeSpooled() ([]byte, error) {
	var rec []byte
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	err := f.spool.Drain(ctx, func(r []byte) error {
		rec = bytes.Clone(r)
		cancel() // one record at a time
		return nil
	})
	if err != nil && !errors.Is(err, context.Canceled) {
		return nil, err
	}
	return rec, nil
}

// TakeSpool hands every record in the spool to fn (a batch's NDJSON lines),
// oldest first, and moves the spool past each one fn returned nil for.
// Before Run only: an owner that keeps its own log of what it added (an
// edge's intake log) takes back or discards what an earlier process
// spooled, so that nothing is sent twice. Nil spool: nothing to take.
func (f *Forwarder) TakeSpool(fn func(rec []byte) error) error {
	f.mu.Lock()
	running := f.running
	f.mu.Unlock()
	if running {
		return errors.New("forwarder: TakeSpool while running")
	}
	if f.spool == nil {
		return nil
	}
	return f.spool.Drain(context.Background(), fn)
}

// spiller moves the oldest chunks to the spool while memory is more than a
// quarter full, once kicked at half full.
func (f *Forwarder) spiller() {
	defer f.wg.Done()
	for {
		select {
		case <-f.stop:
			return
		case <-f.spillKick:
		}
		for f.spillOne() {
		}
	}
}

func (f *Forwarder) spillOne() bool {
	f.mu.Lock()
	if f.memEvents <= f.opts.BufferEvents/4 && f.memBytes <= f.opts.BufferBytes/4 {
		f.mu.Unlock()
		return false
	}
	if len(f.chunks) == 0 {
		if f.cur.n == 0 {
			f.mu.Unlock()
			return false
		}
		f.chunks = append(f.chunks, f.cur)
		f.cur = fwdChunk{}
	}
	c := f.chunks[0]
	f.chunks[0] = fwdChunk{}
	f.chunks = f.chunks[1:]
	f.spilling = true
	f.mu.Unlock()

	err := f.spool.Append(c.body)

	f.mu.Lock()
	f.spilling = false
	if err != nil {
		f.chunks = append([]fwdChunk{c}, f.chunks...)
		logIt := time.Since(f.spillErrLog) > 10*time.Second
		if logIt {
			f.spillErrLog = time.Now()
		}
		f.mu.Unlock()
		f.signal() // the chunk is back: the run loop may send it
		if logIt {
			f.log.Error("forwarder spool append failed, events stay in memory", "err", err)
		}
		return false
	}
	f.memEvents -= c.n
	f.memBytes -= int64(len(c.body))
	f.st.Spooled += int64(c.n)
	f.mu.Unlock()
	f.m.events.WithLabelValues("spooled").Add(float64(c.n))
	f.signal()
	return true
}
