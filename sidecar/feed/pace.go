package feed

import (
	"bytes"
	"context"
	"fmt"
	"time"

	"github.com/klauspost/compress/gzip"

	"github.com/ronda-watch/ronda/analyzer/event"
)

// run is the state of one Feeder.Run. The generator calls emit for each event
// in time order; emit waits for the event's paced time, adds it to the batch
// and sends the batch when it is full or old. Everything happens on the
// generator's goroutine, so the world is never ahead of what was sent by more
// than one batch.
type run struct {
	f   *Feeder
	o   *Options
	ctx context.Context // Run's: the generator's callback has none
	st  Stats

	t0         time.Time // wall start of pacing
	worldStart time.Time
	err        error // the feed's own failure, returned by Run as is

	buf    []byte // NDJSON of the batch
	n      int    // events in buf
	born   time.Time
	lastAt time.Time // of the batch's last event

	zbuf bytes.Buffer
	zw   *gzip.Writer

	nextProgress time.Time
	lastProgress time.Time
	lastSent     uint64

	out outage
}

func newRun(ctx context.Context, f *Feeder) *run {
	r := &run{f: f, o: &f.o, ctx: ctx, worldStart: f.o.World.Start}
	r.t0 = r.o.Now()
	r.lastProgress, r.nextProgress = r.t0, r.t0.Add(r.o.ProgressEvery)
	if r.o.Gzip {
		r.zw, _ = gzip.NewWriterLevel(&r.zbuf, gzip.BestSpeed) // a valid level: no error
	}
	return r
}

// due is when e may go out: its paced time, and never before the clock
// reaches its own time.
func (r *run) due(at time.Time) time.Time {
	d := r.t0
	if off := at.Sub(r.worldStart); off > 0 {
		d = r.t0.Add(scaled(off, r.o.Speed))
	}
	if at.After(d) {
		d = at
	}
	return d
}

func (r *run) emit(e *event.Event) error {
	r.st.Generated++
	if r.o.StopAtClock && e.At.After(r.o.Now()) {
		return errCaughtUp
	}
	if err := r.waitUntil(e.At); err != nil {
		return err
	}
	line, err := e.MarshalJSON()
	if err != nil {
		return r.fail(fmt.Errorf("feed: encode event %s: %w", e.ID, err))
	}
	if r.n == 0 {
		r.born = r.o.Now()
	}
	r.buf = append(append(r.buf, line...), '\n')
	r.n++
	r.lastAt = e.At
	if r.n >= r.o.BatchMax || len(r.buf) >= maxBodyBytes || !r.o.Now().Before(r.born.Add(r.o.BatchAge)) {
		return r.flush()
	}
	return nil
}

// waitUntil sleeps until the event at world time at is due, sending the batch
// in hand when it comes of age and progress lines when they are due.
func (r *run) waitUntil(at time.Time) error {
	due := r.due(at)
	for {
		now := r.o.Now()
		r.progress(now, false)
		if !now.Before(due) {
			return nil
		}
		wake := due
		if r.n > 0 {
			old := r.born.Add(r.o.BatchAge)
			if !now.Before(old) {
				if err := r.flush(); err != nil {
					return err
				}
				continue
			}
			wake = earliest(wake, old)
		}
		if r.o.Progress != nil {
			wake = earliest(wake, r.nextProgress)
		}
		if err := r.o.Sleep(r.ctx, wake.Sub(now)); err != nil {
			return err
		}
	}
}

func earliest(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

// flush sends the batch in hand, if any, until the intake takes it.
func (r *run) flush() error {
	if r.n == 0 {
		return nil
	}
	body := r.buf
	if r.zw != nil {
		r.zbuf.Reset()
		r.zw.Reset(&r.zbuf)
		if _, err := r.zw.Write(r.buf); err != nil {
			return r.fail(fmt.Errorf("feed: compress: %w", err))
		}
		if err := r.zw.Close(); err != nil {
			return r.fail(fmt.Errorf("feed: compress: %w", err))
		}
		body = r.zbuf.Bytes()
	}
	ans, err := r.post(body)
	if err != nil {
		return r.fail(err)
	}
	r.st.Sent += uint64(r.n)
	r.st.Accepted += uint64(ans.Accepted)
	r.st.Duplicates += uint64(len(ans.Duplicates))
	r.st.Rejected += uint64(len(ans.Rejected))
	r.st.Unknown += uint64(ans.Unknown)
	r.st.WorldTime = r.lastAt
	r.noteAnswer(ans)
	r.buf, r.n = r.buf[:0], 0
	return nil
}

// fail records the feed's own error, so that Run returns it unwrapped by
// the generator; ctx's end is returned as ctx's error.
func (r *run) fail(err error) error {
	if r.ctx.Err() == nil && r.err == nil {
		r.err = err
	}
	return err
}

// progress writes a progress line when one is due, or a last one.
func (r *run) progress(now time.Time, last bool) {
	if r.o.Progress == nil || (!last && now.Before(r.nextProgress)) {
		return
	}
	rate := 0.0
	if dt := now.Sub(r.lastProgress).Seconds(); dt > 0 {
		rate = float64(r.st.Sent-r.lastSent) / dt
	}
	if last {
		if dt := now.Sub(r.t0).Seconds(); dt > 0 {
			rate = float64(r.st.Sent) / dt
		}
	}
	world := "not started"
	if !r.st.WorldTime.IsZero() {
		day := int(r.st.WorldTime.Sub(r.worldStart)/(24*time.Hour)) + 1
		world = fmt.Sprintf("%s (day %d of %d)", r.st.WorldTime.UTC().Format("2006-01-02 15:04 UTC"),
			max(day, 0), r.o.World.Days)
	}
	word := "feed:"
	if last {
		word = "feed done:"
	}
	fmt.Fprintf(r.o.Progress, "%s world at %s, %d events sent, %.0f/s, %d retries\n",
		word, world, r.st.Sent, rate, r.st.Retries)
	r.lastProgress, r.lastSent = now, r.st.Sent
	r.nextProgress = now.Add(r.o.ProgressEvery)
}
