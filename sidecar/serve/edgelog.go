package serve

// The edge's intake log: an edge appends every batch it accepts to the
// intake log (sidecar/wal, the same log and record codec as roles all and
// hub) and fsyncs it before the sender is answered, in the order the batches
// go to its forwarder. The log is truncated up to what the hub has
// acknowledged AND the edge's ClickHouse writer has made durable; that point
// is kept in state.dir/edge-acked, so a start after a crash replays into the
// forwarder (and the writer) only what may not have reached them. The
// forwarder's own spool then holds nothing the log does not: at start it is
// emptied (its records are in the log), or, on the first start with the log
// on, taken into the log.

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ronda-watch/ronda/analyzer/event"
	"github.com/ronda-watch/ronda/sidecar/forward"
	"github.com/ronda-watch/ronda/sidecar/intake"
	"github.com/ronda-watch/ronda/sidecar/internal/atomicfile"
	"github.com/ronda-watch/ronda/sidecar/spool"
	"github.com/ronda-watch/ronda/sidecar/wal"
)

const (
	// edgeMarkName is the file holding the log position up to which the
	// hub and the record have everything.
	edgeMarkName = "edge-acked"
	// edgeMarkEvery is how often the position is moved on and the log
	// truncated; each move syncs the record (the writer flushes every second
	// anyway).
	// A crash replays at most this much more than needed; the
	// hub's event-id dedup drops that redelivery.
	edgeMarkEvery = 2 * time.Second
	// edgeReplayWait bounds how long a start waits for the forwarder's
	// buffer to take a replayed batch (its spool makes room).
	edgeReplayWait = time.Minute
)

var edgeMarkMagic = [4]byte{'R', 'E', 'A', '1'}

// edgeOwed is a logged batch the hub or the record may still need: its seq
// in the log (0: not in the log) and the forwarder's event count after it.
type edgeOwed struct {
	seq uint64
	end int64
}

// edgeLog is the edge's intake log and what it owes.
type edgeLog struct {
	wal      *wal.Log
	markPath string
	fwd      *forwarder
	writer   func() recordSyncer // nil when the edge records no events

	mu    sync.Mutex // orders log appends like forwarder adds
	added int64      // events added to the forwarder, as AckedEvents counts
	owed  []edgeOwed
	mark  uint64 // persisted position

	markMu    sync.Mutex // one advance at a time
	closeOnce sync.Once
	closeErr  error

	replayed prometheus.Counter
	owedG    prometheus.GaugeFunc
}

// recordSyncer is the part of the ClickHouse writer the log waits for.
type recordSyncer interface {
	Sync(ctx context.Context) error
	Event(ev *event.Event)
}

// openEdgeLog opens state.dir's intake log for an edge, reads its position
// and empties (or, on a first start with the log, migrates) the forwarder's
// spool. Replay is separate (replayEdgeLog), once intake exists.
func (s *Service) openEdgeLog() error {
	dir := s.cfg.State.Dir
	for _, d := range []string{dir, filepath.Join(dir, "log")} {
		if err := spool.SecureDir(d); err != nil {
			return fmt.Errorf("state.dir: %w", err)
		}
	}
	if len(checkpointFiles(dir)) > 0 {
		// Its log would be replayed as this edge's and sent to the hub again.
		return fmt.Errorf("state.dir %s holds the checkpoints of role all or hub: an edge needs a directory of its own", dir)
	}
	e := &edgeLog{markPath: filepath.Join(dir, edgeMarkName), fwd: s.fwd}
	if *s.cfg.ClickHouse.Events {
		e.writer = func() recordSyncer { return s.writer }
	}
	b, err := os.ReadFile(e.markPath)
	first := errors.Is(err, os.ErrNotExist)
	switch {
	case first:
	case err != nil:
		return fmt.Errorf("edge log position: %w", err)
	default:
		if e.mark, err = decodeEdgeMark(b); err != nil {
			return fmt.Errorf("edge log position %s: %w (remove it to replay the whole log; the hub's dedup drops what it has)", e.markPath, err)
		}
	}
	l, err := wal.Open(wal.Options{Dir: filepath.Join(dir, "log"), MaxBytes: s.cfg.State.LogMaxBytes, NextSeq: e.mark + 1,
		Registerer: s.reg, Logger: s.log.With("component", "intake-log")})
	if err != nil {
		return fmt.Errorf("intake log: %w", err)
	}
	e.wal = l
	if r := l.Report(); r.Records > 0 || r.Torn+r.Corrupt > 0 {
		s.log.Info("intake log opened", "records", r.Records, "first", r.First, "last", r.Last, "acked_through", e.mark,
			"torn_cut", r.Torn, "corrupt_cut", r.Corrupt, "bytes_cut", r.CutBytes)
	}
	s.elog = e
	if err := e.takeSpool(s, first); err != nil {
		return err
	}
	if first {
		if err := e.writeMark(e.mark); err != nil {
			return err
		}
	}
	e.replayed = prometheus.NewCounter(prometheus.CounterOpts{Name: "ronda_edge_log_replayed_events_total",
		Help: "Events an edge replayed from its intake log into its forwarder at start: accepted before a crash and not known to have reached the hub and the record."})
	e.owedG = prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "ronda_edge_log_owed_batches",
		Help: "Batches in an edge's intake log that the hub has not acknowledged or the record not made durable yet."},
		func() float64 { e.mu.Lock(); defer e.mu.Unlock(); return float64(len(e.owed)) })
	s.reg.MustRegister(e.replayed, e.owedG)
	return nil
}

// takeSpool empties the forwarder's spool: with the log on before, every
// spooled batch is also in the log after the position (the position never
// passes what the hub has not acknowledged), so it is dropped. On the first
// start with the log, the spool is what an edge without a log left: it is
// appended to the log and so replayed like the rest.
func (e *edgeLog) takeSpool(s *Service, first bool) error {
	var recs, events, bad int
	var d event.Decoder
	err := s.fwd.f.TakeSpool(func(rec []byte) error {
		recs++
		if !first {
			return nil
		}
		var evs []event.Event
		for line := range bytes.Lines(rec) {
			var ev event.Event
			if err := d.Decode(line, &ev); err != nil {
				bad++ // the hub would have rejected it too
				continue
			}
			evs = append(evs, ev)
		}
		if len(evs) == 0 {
			return nil
		}
		var buf bytes.Buffer
		if err := encodeLogRecord(&buf, s.opts.Now(), evs); err != nil {
			return err
		}
		seq, err := e.wal.Append(buf.Bytes())
		if err == nil {
			err = e.wal.WaitDurable(seq)
		}
		events += len(evs)
		return err
	})
	if err != nil {
		return fmt.Errorf("edge spool into the intake log: %w", err)
	}
	switch {
	case recs > 0 && first:
		s.log.Info("forwarder spool taken into the intake log (first start with the log)", "batches", recs, "events", events, "bad_lines", bad)
	case recs > 0:
		s.log.Info("forwarder spool emptied: its batches are in the intake log", "batches", recs)
	}
	return nil
}

// sink is the edge's intake.Sink with the log on: the batch is logged, handed
// to the forwarder and the writer in the log's order, and its sender answered
// once the log has it on disk.
func (e *edgeLog) sink(s *Service, evs []event.Event) error {
	if e.writer != nil && s.writer.Backlogged() {
		return intake.ErrBusy
	}
	buf := logBufs.Get().(*bytes.Buffer)
	defer func() {
		if buf.Cap() <= 16<<20 {
			logBufs.Put(buf)
		}
	}()
	if err := encodeLogRecord(buf, s.opts.Now(), evs); err != nil {
		return err
	}
	e.mu.Lock()
	// Refused before it is logged, so a sender retrying while the hub is
	// away does not fill the log with copies.
	if st := s.fwd.f.Stats(); st.Buffered+len(evs) > s.cfg.Edge.BufferEvents {
		e.mu.Unlock()
		return intake.ErrBusy
	}
	seq, err := e.wal.Append(buf.Bytes())
	if err != nil {
		e.mu.Unlock()
		if errors.Is(err, wal.ErrFull) {
			if s.walFullLogged.CompareAndSwap(false, true) {
				s.log.Error("intake log full: the edge answers busy until the hub acknowledges what it holds",
					"max_bytes", s.cfg.State.LogMaxBytes, "set", "state.log_max_bytes, or see why the hub is away")
			}
		} else if now, last := time.Now().UnixNano(), s.walErrLogged.Load(); now-last > int64(10*time.Second) && s.walErrLogged.CompareAndSwap(last, now) {
			s.log.Error("intake log write failed: the edge answers busy until the log can be written", "err", err)
		}
		return intake.ErrBusy
	}
	if err := s.fwd.add(evs); err != nil {
		// Logged, not forwarded: the sender is answered busy and resends;
		// a crash now would replay it once more (the hub drops the copy).
		e.owed = append(e.owed, edgeOwed{seq: seq, end: e.added})
		e.mu.Unlock()
		return intake.ErrBusy
	}
	e.added += int64(len(evs))
	if e.writer != nil {
		for i := range evs {
			s.writer.Event(&evs[i])
		}
	}
	e.owed = append(e.owed, edgeOwed{seq: seq, end: e.added})
	e.mu.Unlock()
	if err := e.wal.WaitDurable(seq); err != nil {
		s.log.Error("intake log fsync failed: the edge refuses until restarted", "err", err)
		return err
	}
	return nil
}

// replay hands the log's records after the position to the forwarder and the
// writer, before intake opens.
func (e *edgeLog) replay(s *Service) error {
	start := time.Now()
	var batches, events int
	err := e.wal.Replay(e.mark, func(seq uint64, p []byte) error {
		wall, evs, err := decodeLogRecord(p)
		if err != nil {
			return fmt.Errorf("seq %d: %w", seq, err)
		}
		if s.intake != nil {
			s.intake.Remember(evs, wall)
		}
		deadline := time.Now().Add(edgeReplayWait)
		for {
			err := s.fwd.add(evs)
			if err == nil {
				break
			}
			if !errors.Is(err, forward.ErrBufferFull) || time.Now().After(deadline) {
				return fmt.Errorf("seq %d into the forwarder: %w", seq, err)
			}
			time.Sleep(10 * time.Millisecond) // its spool makes room
		}
		if e.writer != nil {
			for i := range evs {
				s.writer.Event(&evs[i])
			}
		}
		e.mu.Lock()
		e.added += int64(len(evs))
		e.owed = append(e.owed, edgeOwed{seq: seq, end: e.added})
		e.mu.Unlock()
		batches++
		events += len(evs)
		return nil
	})
	if err != nil {
		return fmt.Errorf("intake log replay: %w", err)
	}
	e.replayed.Add(float64(events))
	if batches > 0 {
		s.log.Info("intake log replayed into the forwarder", "after", e.mark, "batches", batches, "events", events,
			"took", time.Since(start).Round(time.Millisecond))
	}
	return nil
}

// run moves the position on every edgeMarkEvery until ctx ends.
func (e *edgeLog) run(ctx context.Context, s *Service) {
	t := time.NewTicker(edgeMarkEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := e.advance(ctx, s.fwd.f.Stats().AckedEvents); err != nil && ctx.Err() == nil {
			s.log.Warn("intake log position not moved", "err", err)
		}
		if e.wal.Bytes() < s.cfg.State.LogMaxBytes/2 {
			s.walFullLogged.Store(false) // room again: a next "full" is news
		}
	}
}

// advance moves the position past every batch whose events the hub has
// acknowledged (acked: the forwarder's AckedEvents), once the writer has made
// them durable, and truncates the log there.
func (e *edgeLog) advance(ctx context.Context, acked int64) error {
	e.markMu.Lock()
	defer e.markMu.Unlock()
	e.mu.Lock()
	var upTo uint64
	i := 0
	for ; i < len(e.owed) && e.owed[i].end <= acked; i++ {
		upTo = max(upTo, e.owed[i].seq)
	}
	e.mu.Unlock()
	if i == 0 {
		return nil
	}
	if e.writer != nil {
		// Every event of those batches was given to the writer before
		// they were owed; Sync returns once they are written or spooled.
		if err := e.writer().Sync(ctx); err != nil {
			return fmt.Errorf("record sync: %w", err)
		}
	}
	if upTo > e.mark {
		if err := e.writeMark(upTo); err != nil {
			return err
		}
	}
	e.mu.Lock()
	e.owed = e.owed[i:]
	e.mu.Unlock()
	if upTo > 0 {
		if err := e.wal.Truncate(upTo); err != nil {
			return fmt.Errorf("intake log truncate: %w", err)
		}
	}
	return nil
}

// close records the final position (after the forwarder and the writer have
// closed) and closes the log.
func (e *edgeLog) close(s *Service) error {
	e.closeOnce.Do(func() {
		e.writer = nil // closed: what it had is written or spooled
		err := e.advance(context.Background(), s.fwd.f.Stats().AckedEvents)
		e.closeErr = errors.Join(err, e.wal.Close())
	})
	return e.closeErr
}

func (e *edgeLog) writeMark(seq uint64) error {
	_, err := atomicfile.Write(e.markPath, func(w io.Writer) error {
		_, err := w.Write(encodeEdgeMark(seq))
		return err
	})
	if err != nil {
		return fmt.Errorf("edge log position: %w", err)
	}
	e.mark = seq
	return nil
}

// encodeEdgeMark is the position file: magic, seq (8 bytes big-endian) and
// the CRC-32C of both.
func encodeEdgeMark(seq uint64) []byte {
	b := append(edgeMarkMagic[:], make([]byte, 12)...)
	binary.BigEndian.PutUint64(b[4:], seq)
	binary.BigEndian.PutUint32(b[12:], crc32.Checksum(b[:12], crc32.MakeTable(crc32.Castagnoli)))
	return b
}

func decodeEdgeMark(b []byte) (uint64, error) {
	switch {
	case len(b) != 16:
		return 0, fmt.Errorf("%d bytes, want 16", len(b))
	case !bytes.Equal(b[:4], edgeMarkMagic[:]):
		return 0, errors.New("not an edge log position (bad magic)")
	case binary.BigEndian.Uint32(b[12:]) != crc32.Checksum(b[:12], crc32.MakeTable(crc32.Castagnoli)):
		return 0, errors.New("checksum mismatch")
	}
	return binary.BigEndian.Uint64(b[4:]), nil
}
