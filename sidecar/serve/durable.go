package serve

// The intake log's part of the service: every batch intake accepts is
// numbered in the log and queued for the analyzer under one lock (so a replay
// applies batches in the live order), and its sender is answered only once
// the log has it on disk. At start the log is replayed after the checkpoint's
// position before intake opens.

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ronda-watch/ronda/analyzer/event"
	"github.com/ronda-watch/ronda/sidecar/intake"
	"github.com/ronda-watch/ronda/sidecar/spool"
	"github.com/ronda-watch/ronda/sidecar/wal"
)

var logBufs = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// openLog opens the intake log; next is the least seq its next record may
// have (the checkpoint's position + 1).
func (s *Service) openLog(next uint64) error {
	dir := filepath.Join(s.cfg.State.Dir, "log")
	l, err := wal.Open(wal.Options{Dir: dir, MaxBytes: s.cfg.State.LogMaxBytes, NextSeq: next,
		Registerer: s.reg, Logger: s.log.With("component", "intake-log")})
	if err != nil {
		return fmt.Errorf("intake log: %w", err)
	}
	s.wal = l
	s.actionLog = newActionLogMetrics(s.reg)
	if r := l.Report(); r.Records > 0 || r.Torn+r.Corrupt > 0 {
		s.log.Info("intake log opened", "dir", dir, "records", r.Records, "first", r.First, "last", r.Last,
			"torn_cut", r.Torn, "corrupt_cut", r.Corrupt, "bytes_cut", r.CutBytes)
	}
	return nil
}

// durableSink is the intake.Sink with the log on: the batch is logged and
// queued, and the sender answered once the log has it on disk.
func (s *Service) durableSink(_ context.Context, evs []event.Event) error {
	wall := s.opts.Now()
	buf := logBufs.Get().(*bytes.Buffer)
	defer func() {
		if buf.Cap() <= 16<<20 {
			logBufs.Put(buf)
		}
	}()
	if err := encodeLogRecord(buf, wall, evs); err != nil {
		return err
	}
	var seq uint64
	err := s.pipe.enqueue(evs, wall, func() (uint64, error) {
		var err error
		seq, err = s.wal.Append(buf.Bytes())
		return seq, err
	})
	switch {
	case errors.Is(err, wal.ErrFull):
		s.pipe.m.events.WithLabelValues("log_full").Add(float64(len(evs)))
		if s.walFullLogged.CompareAndSwap(false, true) {
			s.log.Error("intake log full: intake answers busy until a checkpoint truncates it",
				"max_bytes", s.cfg.State.LogMaxBytes, "set", "state.log_max_bytes, or see why checkpoints fail")
		}
		return intake.ErrBusy
	case errors.Is(err, intake.ErrBusy):
		return err
	case err != nil:
		// Disk full or an I/O error: nothing was taken; the sender retries.
		s.pipe.m.events.WithLabelValues("log_error").Add(float64(len(evs)))
		if now, last := time.Now().UnixNano(), s.walErrLogged.Load(); now-last > int64(10*time.Second) && s.walErrLogged.CompareAndSwap(last, now) {
			s.log.Error("intake log write failed: intake answers busy until the log can be written", "err", err)
		}
		return intake.ErrBusy
	}
	if err := s.wal.WaitDurable(seq); err != nil {
		// The batch is queued already; its sender gets 500 and may resend, and
		// the resend may then be analysed twice. Only a failing disk does this.
		s.log.Error("intake log fsync failed: intake refuses until restarted", "err", err)
		return err
	}
	return nil
}

// replayLog applies the log's records after the restored position, before
// the pipeline's goroutine starts and intake opens: event batches, and the
// moderators' actions in their live order with the alerts (actionlog.go).
// The events' ids go into the intake's dedup memory, so that a sender
// resending what it sent before the restart gets duplicates.
func (s *Service) replayLog() error {
	if s.wal == nil {
		return nil
	}
	start := time.Now()
	r := &replayer{s: s}
	if s.hub != nil {
		r.inState = s.hub.State().JournalPos
	}
	if err := s.wal.Replay(s.pipe.applied, r.record); err != nil {
		return fmt.Errorf("intake log replay: %w", err)
	}
	r.finish()
	if r.batches+r.actions+r.left > 0 {
		s.log.Info("intake log replayed", "after", s.restoredPos, "batches", r.batches, "events", r.evs,
			"actions", r.actions, "actions_left_out", r.left, "took", time.Since(start).Round(time.Millisecond))
	}
	return nil
}

// openState restores the checkpoint and opens the intake log (roles all and
// hub). It returns the restored dedup memory for intake (nil: a new one).
func (s *Service) openState() (*event.Deduper, error) {
	s.state = newStateMetrics(s.reg, s.opts.Now)
	// Checked as the spool is: whoever may write here could plant events
	// that a replay would take as accepted.
	for _, dir := range []string{s.cfg.State.Dir, filepath.Join(s.cfg.State.Dir, "log")} {
		if err := spool.SecureDir(dir); err != nil {
			return nil, fmt.Errorf("state.dir: %w", err)
		}
	}
	dedup, err := s.restoreState()
	if err != nil {
		return nil, err
	}
	if s.hub != nil {
		if err := s.markHubServing(); err != nil {
			return nil, fmt.Errorf("state dir: %w", err)
		}
	}
	if *s.cfg.State.Log {
		if err := s.openLog(s.restoredPos + 1); err != nil {
			return nil, err
		}
	} else {
		s.log.Warn("intake log off (state.log: false): a crash loses what was accepted since the last checkpoint")
	}
	return dedup, nil
}

// checkpointLoop writes a checkpoint every state.checkpoint_every.
func (s *Service) checkpointLoop(ctx context.Context) {
	t := time.NewTicker(s.cfg.State.CheckpointEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		s.Checkpoint(ctx) // a failure is logged and counted; the next one may do
	}
}

// finalCheckpoint is the checkpoint of a graceful stop, taken after the drain
// (the analyzer's goroutine has ended, so the state is read here).
func (s *Service) finalCheckpoint(ctx context.Context) {
	s.ckMu.Lock()
	defer s.ckMu.Unlock()
	defer s.stopped.Store(true)
	snap, err := s.snapshot(s.pipe.eng)
	if err != nil {
		s.checkpointFailed(err)
		return
	}
	if s.writeCheckpoint(ctx, snap) == nil && snap.hubState != nil && snap.hubState.Final {
		s.unmarkHubServing()
	}
}

// durableState is the Service's part for durability.
type durableState struct {
	wal           *wal.Log // nil: the log is off, or the role keeps no state
	state         *stateMetrics
	ckMu          sync.Mutex  // one checkpoint at a time
	stopped       atomic.Bool // the final checkpoint is taken: no more
	restoredPos   uint64      // the restored checkpoint's position
	hubRestored   bool        // a checkpoint held the hub's state
	walFullLogged atomic.Bool
	walErrLogged  atomic.Int64 // Unix ns of the last "log write failed" line (one per 10 s)

	actionLog *actionLogMetrics // with the log (actionlog.go)
	// actionsInRecord are the ids of the actions a hub rebuilt from the
	// record holds: the log's replay skips them.
	actionsInRecord map[string]struct{}
}
