// Package wal is Ronda's intake log: a local write-ahead log of the event
// batches the service accepted, written and fsynced before a sender is
// answered, so that acknowledged means durable. A restart replays it after
// the service checkpoint's position; a checkpoint truncates it.
//
// Records are length-prefixed and checksummed (CRC-32C over the sequence
// number and the payload) in numbered segment files. Concurrent appends share
// one fsync (group commit). Opening scans every segment: a torn tail (what a
// crash during a write leaves) is cut, and a damaged record in the middle is
// cut with everything after it in its segment moved to damaged/ for an
// operator; both are logged and counted, never silently skipped past. Later
// whole segments are kept and replayed: they are good records that were
// acknowledged.
//
// What it must not do: hold a payload's meaning (it stores bytes), grow
// without a bound (past MaxBytes Append says ErrFull and the caller answers
// busy), or acknowledge a record that is not on disk.
package wal

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ronda-watch/ronda/sidecar/internal/atomicfile"
)

// ErrFull is returned by Append when the log holds MaxBytes: the caller
// refuses the batch (busy) rather than accept what it cannot make durable.
var ErrFull = errors.New("intake log full")

// ErrClosed is returned after Close.
var ErrClosed = errors.New("intake log closed")

// Defaults of Options.
const (
	DefaultSegmentBytes = 64 << 20
	DefaultMaxBytes     = 2 << 30
)

// Options configure Open.
type Options struct {
	// Dir holds the segments; created if missing. Required.
	Dir string
	// SegmentBytes is the size past which a new segment is started. Default 64 MiB.
	SegmentBytes int64
	// MaxBytes bounds the log on disk; past it Append returns ErrFull.
	// Default 2 GiB.
	MaxBytes int64
	// NextSeq is the least sequence number the next record may have: a
	// checkpoint's position + 1, so that numbering never restarts below what
	// a checkpoint already covers even when every segment is gone.
	NextSeq uint64
	// Registerer receives the ronda_wal_* metrics; nil registers nothing.
	Registerer prometheus.Registerer
	// Logger; default slog.Default().
	Logger *slog.Logger
}

// Report is what Open found.
type Report struct {
	Segments int    // segment files kept
	Records  int    // good records in them
	First    uint64 // first good seq (0: none)
	Last     uint64 // last good seq (0: none)
	Torn     int    // segments whose torn tail was cut
	Corrupt  int    // segments cut at a damaged record (rest moved to damaged/)
	CutBytes int64  // bytes cut in all
}

type segment struct {
	first, last uint64 // last < first: empty
	size        int64
	path        string
}

// Log is an open intake log. Append, WaitDurable and Truncate are safe for
// concurrent use; Replay must run before the first Append.
type Log struct {
	opts Options
	log  *slog.Logger
	m    *metrics
	lock *os.File
	dirf *os.File

	mu      sync.Mutex
	segs    []segment // sealed and active, in order
	active  *os.File  // nil until the first Append after Open or a roll
	next    uint64    // seq of the next record
	total   int64     // bytes on disk
	buf     []byte
	failed  error // sticky: an fsync failed, nothing more is acknowledged
	closed  bool
	report  Report
	written uint64 // last seq written to a file

	syncMu  sync.Mutex    // one fsync at a time; waiters queue here
	durable atomic.Uint64 // last seq known on disk
}

// Open locks dir, scans every segment, cuts and reports damage, and returns
// the log ready for Replay and then Append.
func Open(opts Options) (*Log, error) {
	if opts.Dir == "" {
		return nil, errors.New("wal: no directory")
	}
	if opts.SegmentBytes <= 0 {
		opts.SegmentBytes = DefaultSegmentBytes
	}
	if opts.MaxBytes <= 0 {
		opts.MaxBytes = DefaultMaxBytes
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if err := os.MkdirAll(opts.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("wal: %w", err)
	}
	lk, err := lockDir(filepath.Join(opts.Dir, lockName))
	if err != nil {
		return nil, err
	}
	l := &Log{opts: opts, log: opts.Logger, lock: lk, m: newMetrics(opts.Registerer)}
	if l.dirf, err = os.Open(opts.Dir); err != nil {
		lk.Close()
		return nil, fmt.Errorf("wal: %w", err)
	}
	if err := l.scan(); err != nil {
		l.Close()
		return nil, err
	}
	l.next = max(l.next, opts.NextSeq, 1)
	l.durable.Store(l.next - 1)
	l.written = l.next - 1
	l.m.bytes.Set(float64(l.total))
	l.m.segments.Set(float64(len(l.segs)))
	return l, nil
}

// Report is what Open found.
func (l *Log) Report() Report { return l.report }

func (l *Log) scan() error {
	ents, err := os.ReadDir(l.opts.Dir)
	if err != nil {
		return fmt.Errorf("wal: %w", err)
	}
	var firsts []uint64
	for _, e := range ents {
		if v, ok := parseSegName(e.Name()); ok && e.Type().IsRegular() {
			firsts = append(firsts, v)
		}
	}
	slices.Sort(firsts)
	r := &l.report
	for _, first := range firsts {
		path := filepath.Join(l.opts.Dir, segName(first))
		b, err := os.ReadFile(path)
		if err != nil {
			return fmt.Errorf("wal: read %s: %w", path, err)
		}
		if first < l.next {
			// Numbered below records already kept: not a segment of this log.
			if err := l.quarantine(path, b, 0, fmt.Sprintf("segment starts at seq %d, at or below %d already kept", first, l.next-1)); err != nil {
				return err
			}
			r.Corrupt++
			r.CutBytes += int64(len(b))
			continue
		}
		d := Decode(b, first)
		switch d.Damage {
		case Torn:
			r.Torn++
			r.CutBytes += int64(len(b) - d.Good)
			l.m.damaged.WithLabelValues("torn").Inc()
			l.m.damagedBytes.Add(float64(len(b) - d.Good))
			l.log.Warn("intake log: torn tail cut (a write interrupted by a crash; that batch was never acknowledged)",
				"segment", filepath.Base(path), "offset", d.Good, "bytes", len(b)-d.Good, "reason", d.Reason)
			if err := truncateFile(path, int64(d.Good)); err != nil {
				return err
			}
		case Corrupt:
			if err := l.quarantine(path, b, d.Good, d.Reason); err != nil {
				return err
			}
			r.Corrupt++
			r.CutBytes += int64(len(b) - d.Good)
			if err := truncateFile(path, int64(d.Good)); err != nil {
				return err
			}
		}
		if len(d.Records) == 0 {
			if err := os.Remove(path); err != nil {
				return fmt.Errorf("wal: %w", err)
			}
			continue
		}
		last := d.Records[len(d.Records)-1].Seq
		if r.Last != 0 && first != r.Last+1 {
			l.log.Error("intake log: records missing between segments (an earlier segment was damaged); replay goes on past the gap",
				"after", r.Last, "next", first)
		}
		if r.First == 0 {
			r.First = first
		}
		r.Last = last
		r.Records += len(d.Records)
		r.Segments++
		l.segs = append(l.segs, segment{first: first, last: last, size: int64(d.Good), path: path})
		l.total += int64(d.Good)
		l.next = last + 1
	}
	if r.Torn+r.Corrupt > 0 {
		return l.dirf.Sync()
	}
	return nil
}

// quarantine copies b[from:] to damaged/ and reports it.
func (l *Log) quarantine(path string, b []byte, from int, reason string) error {
	l.m.damaged.WithLabelValues("corrupt").Inc()
	l.m.damagedBytes.Add(float64(len(b) - from))
	qdir := filepath.Join(l.opts.Dir, quarDir)
	if err := os.MkdirAll(qdir, 0o700); err != nil {
		return fmt.Errorf("wal: %w", err)
	}
	dst := filepath.Join(qdir, fmt.Sprintf("%s.%d", filepath.Base(path), from))
	if err := atomicfile.WriteNew(dst, b[from:]); err != nil {
		return fmt.Errorf("wal: quarantine: %w", err)
	}
	l.log.Error("intake log: damaged record; the log is cut there and the rest of that segment moved aside, not replayed",
		"segment", filepath.Base(path), "offset", from, "bytes", len(b)-from, "reason", reason, "moved_to", dst)
	return nil
}

// Replay calls fn for every record with a seq above after, in order. Run it
// before the first Append. An error from fn stops it and is returned.
func (l *Log) Replay(after uint64, fn func(seq uint64, payload []byte) error) error {
	l.mu.Lock()
	segs := slices.Clone(l.segs)
	l.mu.Unlock()
	for _, s := range segs {
		if s.last <= after {
			continue
		}
		b, err := os.ReadFile(s.path)
		if err != nil {
			return fmt.Errorf("wal: replay: %w", err)
		}
		d := Decode(b, s.first)
		if d.Damage != Clean {
			return fmt.Errorf("wal: replay %s: %s at offset %d (changed since open)", filepath.Base(s.path), d.Reason, d.Good)
		}
		for _, r := range d.Records {
			if r.Seq <= after {
				continue
			}
			if err := fn(r.Seq, r.Payload); err != nil {
				return err
			}
		}
	}
	return nil
}

// Append writes one record and returns its seq; it is on disk once
// WaitDurable(seq) returns nil. Records are numbered in the order Append is
// called, so a caller that must order something else like the log calls it
// under its own lock and waits outside it.
func (l *Log) Append(payload []byte) (uint64, error) {
	if len(payload) > MaxRecordBytes {
		return 0, fmt.Errorf("wal: record of %d bytes above %d", len(payload), MaxRecordBytes)
	}
	start := time.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case l.closed:
		return 0, ErrClosed
	case l.failed != nil:
		return 0, l.failed
	}
	n := int64(headerSize + len(payload))
	if l.total+n > l.opts.MaxBytes {
		l.m.full.Inc()
		return 0, ErrFull
	}
	if l.active == nil || l.segs[len(l.segs)-1].size+n > l.opts.SegmentBytes && l.segs[len(l.segs)-1].size > 0 {
		if err := l.roll(); err != nil {
			l.failed = err
			return 0, err
		}
	}
	seq := l.next
	l.buf = appendRecord(l.buf[:0], seq, payload)
	s := &l.segs[len(l.segs)-1]
	if _, err := l.active.Write(l.buf); err != nil {
		// Disk full or an I/O error: the record is not taken. A short write
		// is cut back so that the segment stays whole and later records
		// follow the last good one; if even that fails, nothing more is
		// appended (the next open cuts the torn record).
		if terr := l.active.Truncate(s.size); terr != nil {
			l.failed = fmt.Errorf("wal: write: %w (and cutting it back: %v)", err, terr)
			return 0, l.failed
		}
		l.m.writeErrors.Inc()
		return 0, fmt.Errorf("wal: write: %w", err)
	}
	l.next++
	l.written = seq
	s.last = seq
	s.size += n
	l.total += n
	l.m.bytes.Set(float64(l.total))
	l.m.appendSec.Observe(time.Since(start).Seconds())
	return seq, nil
}

// roll seals the active segment (fsynced) and starts a new one at l.next.
func (l *Log) roll() error {
	if l.active != nil {
		if err := l.active.Sync(); err != nil {
			return fmt.Errorf("wal: sync: %w", err)
		}
		l.durable.Store(l.written)
		if err := l.active.Close(); err != nil {
			return fmt.Errorf("wal: close: %w", err)
		}
	}
	path := filepath.Join(l.opts.Dir, segName(l.next))
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("wal: new segment: %w", err)
	}
	if err := l.dirf.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("wal: sync dir: %w", err)
	}
	l.active = f
	l.segs = append(l.segs, segment{first: l.next, last: l.next - 1, path: path})
	l.m.segments.Set(float64(len(l.segs)))
	return nil
}

// WaitDurable returns once record seq is on disk. Concurrent callers share
// fsyncs: whoever holds the sync syncs everything written so far, and the
// callers it covers return without one of their own.
func (l *Log) WaitDurable(seq uint64) error {
	if l.durable.Load() >= seq {
		return nil
	}
	l.syncMu.Lock()
	defer l.syncMu.Unlock()
	if l.durable.Load() >= seq {
		return nil
	}
	l.mu.Lock()
	f, upTo, failed := l.active, l.written, l.failed
	l.mu.Unlock()
	if failed != nil {
		return failed
	}
	if f == nil || l.durable.Load() >= seq { // a roll or a truncate synced it meanwhile
		return nil
	}
	start := time.Now()
	err := f.Sync()
	if errors.Is(err, os.ErrClosed) {
		// Rolled (and so synced) between our read and our sync.
		if l.durable.Load() >= seq {
			return nil
		}
	}
	if err != nil {
		err = fmt.Errorf("wal: fsync: %w", err)
		l.mu.Lock()
		if l.failed == nil && !l.closed {
			// After a failed fsync the kernel may have dropped the dirty
			// pages: nothing written since is known to be on disk.
			l.failed = err
		}
		l.mu.Unlock()
		return err
	}
	l.m.fsyncSec.Observe(time.Since(start).Seconds())
	l.m.fsyncs.Inc()
	if upTo > l.durable.Load() {
		l.durable.Store(upTo)
	}
	return nil
}

// Truncate deletes the segments whose every record is at or below upTo (what
// a checkpoint now covers). The active segment is sealed first when it is
// wholly covered, so a quiet log shrinks too.
func (l *Log) Truncate(upTo uint64) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return ErrClosed
	}
	if l.active != nil && len(l.segs) > 0 && l.segs[len(l.segs)-1].last <= upTo && l.failed == nil {
		if err := l.active.Sync(); err != nil {
			l.failed = fmt.Errorf("wal: sync: %w", err)
			return l.failed
		}
		l.durable.Store(l.written)
		l.active.Close()
		l.active = nil // the next Append starts a new segment
	}
	var removed int
	keep := l.segs[:0]
	for i, s := range l.segs {
		active := l.active != nil && i == len(l.segs)-1
		if !active && s.last <= upTo {
			if err := os.Remove(s.path); err != nil && !errors.Is(err, fs.ErrNotExist) {
				keep = append(keep, l.segs[i:]...)
				l.segs = keep
				return fmt.Errorf("wal: truncate: %w", err)
			}
			l.total -= s.size
			removed++
			continue
		}
		keep = append(keep, s)
	}
	l.segs = keep
	l.m.bytes.Set(float64(l.total))
	l.m.segments.Set(float64(len(l.segs)))
	if removed > 0 {
		if err := l.dirf.Sync(); err != nil {
			return fmt.Errorf("wal: sync dir: %w", err)
		}
	}
	return nil
}

// Last is the seq of the last record appended (or found at Open); 0 for none.
func (l *Log) Last() uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.next - 1
}

// Bytes is the size of the log on disk.
func (l *Log) Bytes() int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.total
}

// Close syncs and closes the log. Safe to call twice.
func (l *Log) Close() error {
	l.syncMu.Lock()
	defer l.syncMu.Unlock()
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return nil
	}
	l.closed = true
	var err error
	if l.active != nil {
		if l.failed == nil {
			err = l.active.Sync()
		}
		err = errors.Join(err, l.active.Close())
	}
	if l.dirf != nil {
		l.dirf.Close()
	}
	if l.lock != nil {
		l.lock.Close()
	}
	return err
}

func truncateFile(path string, size int64) error {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return fmt.Errorf("wal: %w", err)
	}
	defer f.Close()
	if err := f.Truncate(size); err != nil {
		return fmt.Errorf("wal: truncate %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("wal: sync %s: %w", path, err)
	}
	return nil
}
