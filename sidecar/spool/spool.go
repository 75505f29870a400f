// Package spool is the disk spool of the ClickHouse writer: while ClickHouse
// is away or inserts fail, the writer appends each batch here as one opaque
// record, and drains the records in append order once ClickHouse is back
// (ARCHITECTURE.md, decision 4). Nothing is lost silently: a record is either
// delivered, or counted in Stats and logged (dropped by the DropOldest policy,
// quarantined because its bytes are damaged, or cut off as a torn tail that
// Append never acknowledged).
//
// The spool must not hold more than one record in memory per call (Open
// streams payloads through the checksum, Drain reads one record at a time),
// and must not write outside Options.Dir.
//
// # On disk
//
// Dir is created with mode 0700; Open refuses a Dir that another user owns or
// that its group or everyone may write (SecureDir), since whoever writes there
// could read the record or plant batches in it. Dir holds segment files named by a zero-padded, increasing sequence number
// (000000000001.seg, 000000000002.seg, ...), so append order survives
// restarts; a new sequence number is always above every number seen in Dir,
// Dir/quarantine and the cursor. A segment is a plain sequence of records,
// each a 12-byte header followed by the payload:
//
//	offset size field
//	0      2    magic 0x5352 ("RS"), little endian
//	2      1    flags, 0 (none defined; anything else is damage)
//	3      1    reserved, 0
//	4      4    payload length, little endian, at most MaxRecordBytes
//	8      4    CRC-32C (Castagnoli) of the payload, little endian
//	12     n    payload
//
// The writer appends to the newest segment and rolls to a new one when a
// record would take it past Options.SegmentBytes. Dir/cursor (24 bytes:
// "RSC1", segment sequence u64, offset u64, CRC-32C of those 20 bytes u32)
// says how far the oldest segment has been drained; it is replaced atomically
// (temporary file, fsync, rename, fsync of Dir) on every acknowledgement.
// Segments with a sequence number below the cursor's are fully drained.
// Dir/lock is held with flock(2) while a Spool is open. Dir/quarantine/ keeps
// damaged segments for inspection.
//
// # Recovery
//
// Open scans every segment from the cursor on, checking every checksum:
//
//   - A torn tail in the newest segment (a header or payload cut short by
//     the end of the file, or a zero-filled tail) is what a crash during
//     Append leaves; that Append never returned nil, so the tail is truncated
//     away and counted in Stats.TornRecords/TornBytes, not as corruption.
//   - Any other damage (bad magic, flags or length, checksum mismatch, or a
//     cut-short record in a segment that is not the newest) quarantines the
//     segment: the file is moved to Dir/quarantine/ under its own name (with
//     a ".N" suffix only if that name is taken), an error is logged with the
//     file and the offset of the bad record, and Stats.Quarantined, Corrupt
//     and QuarantinedBytes count it. The good records before the bad one are
//     copied to a fresh file under the segment's original name (same
//     offsets, so the cursor still applies) and drained as usual. Records
//     after the bad one stay only in the quarantined file.
//   - Every other segment is kept as it is.
//
// After Open, appends always go to a new segment.
//
// # Delivery guarantee
//
// At least once, in append order. A record is durable when Append returns nil
// (unless Options.NoSync). Drain advances and fsyncs the cursor after fn
// returns nil for a record and before it offers the next one, so after a
// crash (kill -9, power loss) the only record that can be delivered twice is
// the one whose fn call was running or had returned but whose cursor update
// had not reached the disk: at most one record per crash. An acknowledged
// record is never lost: it stays on disk until Drain's fn has accepted it,
// unless DropOldest removes it to make room, and that is counted. The
// writer's ClickHouse inserts are idempotent, so at-least-once is enough.
package spool

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
)

// FullPolicy says what Append does when the spool has reached MaxBytes.
type FullPolicy int

const (
	// RejectNew makes Append return ErrFull; the caller counts the batch as
	// dropped with reason "spool_full" and keeps it in memory if it can.
	RejectNew FullPolicy = iota
	// DropOldest deletes the oldest whole segment(s) to make room; the
	// records lost are counted in Stats().DroppedRecords and DroppedBytes and
	// logged.
	DropOldest
)

func (p FullPolicy) String() string {
	switch p {
	case RejectNew:
		return "reject_new"
	case DropOldest:
		return "drop_oldest"
	default:
		return fmt.Sprintf("FullPolicy(%d)", int(p))
	}
}

const (
	defaultSegmentBytes = 8 << 20
	defaultMaxBytes     = 1 << 30
)

// Options configure a Spool.
type Options struct {
	// Dir holds the segments, the cursor and quarantine/; it is created
	// (0o700) if missing. One Spool per directory: Open fails with ErrLocked
	// while another holds it.
	Dir string
	// SegmentBytes is the size past which appends roll to a new segment
	// file; a drained segment is deleted whole, so this is also the
	// granularity of freeing disk and of DropOldest. Default 8 MiB.
	SegmentBytes int64
	// MaxBytes bounds the bytes of all segments on disk, headers included.
	// Default 1 GiB; at least SegmentBytes.
	MaxBytes int64
	// Full is the policy when an Append would pass MaxBytes.
	Full FullPolicy
	// NoSync skips every fsync. For tests and benchmarks only: a crash can
	// then lose or tear records that Append acknowledged.
	NoSync bool
	// Logger receives recovery, quarantine and drop reports; nil discards.
	Logger *slog.Logger
}

func (o *Options) setDefaults() {
	if o.SegmentBytes == 0 {
		o.SegmentBytes = defaultSegmentBytes
	}
	if o.MaxBytes == 0 {
		o.MaxBytes = defaultMaxBytes
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
}

func (o *Options) validate() error {
	switch {
	case o.Dir == "":
		return errors.New("empty Dir")
	case o.SegmentBytes < headerSize:
		return fmt.Errorf("SegmentBytes %d below %d", o.SegmentBytes, headerSize)
	case o.MaxBytes < o.SegmentBytes:
		return fmt.Errorf("MaxBytes %d below SegmentBytes %d", o.MaxBytes, o.SegmentBytes)
	case o.Full != RejectNew && o.Full != DropOldest:
		return fmt.Errorf("unknown Full policy %d", int(o.Full))
	}
	return nil
}

var (
	// ErrFull is returned by Append under RejectNew when the record does not
	// fit in MaxBytes, and under either policy when the record alone is
	// larger than MaxBytes or the disk is full (ENOSPC).
	ErrFull = errors.New("spool full")
	// ErrClosed is returned by calls on a closed (or nil) Spool.
	ErrClosed = errors.New("spool closed")
	// ErrTooLarge is returned by Append for a record above MaxRecordBytes.
	ErrTooLarge = errors.New("record too large")
	// ErrLocked is returned by Open when another Spool holds Dir.
	ErrLocked = errors.New("spool directory in use")
)

// Stats are counters since Open, except Bytes, Records and Segments, which
// describe the spool now.
type Stats struct {
	Bytes    int64 // segment bytes on disk, including the drained part of the oldest segment
	Records  int64 // records not yet drained
	Segments int64 // segment files
	Appended int64 // records appended
	Drained  int64 // records acknowledged by Drain's fn
	// DroppedRecords and DroppedBytes (headers included) count records that
	// DropOldest deleted before they were drained. A record whose segment
	// is dropped while Drain's fn is working on it is counted here even if
	// fn then succeeds.
	DroppedRecords int64
	DroppedBytes   int64
	Quarantined    int64 // segments moved to quarantine/
	// QuarantinedBytes are the bytes from the first bad record to the end
	// of quarantined segments: data that was not delivered.
	QuarantinedBytes int64
	Corrupt          int64 // bad records found (one per quarantined segment: reading stops there)
	TornRecords      int64 // incomplete tail records truncated at Open; never acknowledged by Append
	TornBytes        int64
}

type counters struct {
	bytes, records, segments, appended, drained atomic.Int64
	droppedRecords, droppedBytes                atomic.Int64
	quarantined, quarantinedBytes, corrupt      atomic.Int64
	tornRecords, tornBytes                      atomic.Int64
}

type segment struct {
	seq     uint64
	path    string
	size    int64 // bytes written and synced; Drain reads no further
	pending int64 // records not yet acknowledged
}

// Spool is a disk spool of records. Append and Drain may run concurrently;
// Drain calls are serialized.
type Spool struct {
	opts Options
	log  *slog.Logger
	qdir string

	drainMu sync.Mutex // one Drain at a time; Close waits for it

	mu        sync.Mutex // guards everything below and all file changes
	closed    bool
	dirf      *os.File // Dir, for fsync of directory entries
	lockf     *os.File
	segs      []*segment // oldest first
	active    *os.File   // open for append to activeSeg
	activeSeg *segment   // newest segment when active != nil
	cur       cursor
	nextSeq   uint64

	st counters
}

// Open opens or creates the spool in opts.Dir and recovers what a previous
// process left there (see the package comment).
func Open(opts Options) (*Spool, error) {
	opts.setDefaults()
	if err := opts.validate(); err != nil {
		return nil, fmt.Errorf("open spool: %w", err)
	}
	s := &Spool{opts: opts, log: opts.Logger.With("spool", opts.Dir), qdir: filepath.Join(opts.Dir, quarDir)}
	if err := SecureDir(opts.Dir); err != nil {
		return nil, fmt.Errorf("open spool: %w", err)
	}
	if err := os.MkdirAll(s.qdir, 0o700); err != nil {
		return nil, fmt.Errorf("open spool: %w", err)
	}
	var err error
	if s.lockf, err = lockDir(filepath.Join(opts.Dir, lockName)); err != nil {
		return nil, err
	}
	if s.dirf, err = os.Open(opts.Dir); err != nil {
		s.lockf.Close()
		return nil, fmt.Errorf("open spool: %w", err)
	}
	if err := s.recover(); err != nil {
		s.dirf.Close()
		s.lockf.Close()
		return nil, fmt.Errorf("open spool %s: %w", opts.Dir, err)
	}
	return s, nil
}

// SecureDir creates dir (mode 0700, parents too) when it is missing, and
// refuses it when it is not a directory, is owned by another user, or is
// writable by its group or by everyone (Unix). Open calls it; other state
// directories (checkpoints, logs) should too.
func SecureDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	return checkDirOwner(dir)
}

func (s *Spool) recover() error {
	cur, err := readCursor(s.opts.Dir)
	if err != nil {
		// Drain from the start of the oldest segment: some records may be
		// delivered again, none is lost.
		s.log.Warn("spool cursor unreadable, draining from the oldest segment", "err", err)
		cur = cursor{}
	}
	s.cur = cur
	maxSeq := cur.seq

	entries, err := os.ReadDir(s.opts.Dir)
	if err != nil {
		return err
	}
	var seqs []uint64
	for _, e := range entries {
		name := e.Name()
		if strings.HasSuffix(name, tmpSuffix) && e.Type().IsRegular() {
			// A cursor or quarantine copy interrupted by a crash; the
			// original is still in place.
			if err := os.Remove(filepath.Join(s.opts.Dir, name)); err != nil {
				return err
			}
			continue
		}
		if seq, ok := parseSegName(name); ok && e.Type().IsRegular() {
			seqs = append(seqs, seq)
			maxSeq = max(maxSeq, seq)
		}
	}
	qentries, err := os.ReadDir(s.qdir)
	if err != nil {
		return err
	}
	for _, e := range qentries {
		name := e.Name()
		if i := strings.Index(name, segSuffix); i >= 0 {
			if seq, ok := parseSegName(name[:i+len(segSuffix)]); ok {
				maxSeq = max(maxSeq, seq)
			}
		}
	}
	s.nextSeq = maxSeq + 1
	slices.Sort(seqs)

	for i, seq := range seqs {
		path := filepath.Join(s.opts.Dir, segName(seq))
		if seq < cur.seq {
			// Drained; the process died before deleting it.
			if err := os.Remove(path); err != nil {
				return err
			}
			continue
		}
		start := int64(0)
		if seq == cur.seq {
			start = cur.off
		}
		size, res, err := scanFile(path, start)
		if err != nil {
			return err
		}
		if start > size {
			s.log.Warn("spool cursor beyond end of segment, treating it as drained", "file", path, "cursor", start, "size", size)
			start, res.good = size, size
		}
		switch {
		case res.tail == tailClean:
		case res.tail == tailTorn && i == len(seqs)-1:
			if err := truncateFile(path, res.good, !s.opts.NoSync); err != nil {
				return err
			}
			s.st.tornRecords.Add(1)
			s.st.tornBytes.Add(size - res.good)
			s.log.Warn("spool torn tail truncated: an append that never completed", "file", path, "offset", res.good, "bytes", size-res.good, "reason", res.reason)
			size = res.good
		default:
			dst, err := s.quarantine(path, res.good, res.good > start)
			if err != nil {
				return err
			}
			s.st.quarantined.Add(1)
			s.st.corrupt.Add(1)
			s.st.quarantinedBytes.Add(size - res.good)
			s.log.Error("spool segment quarantined", "file", path, "offset", res.good, "reason", res.reason,
				"moved_to", dst, "records_kept", res.records, "bytes_not_delivered", size-res.good)
			size = res.good
		}
		if size <= start {
			// Nothing left to drain.
			if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
				return err
			}
			continue
		}
		s.segs = append(s.segs, &segment{seq: seq, path: path, size: size, pending: int64(res.records)})
		s.st.bytes.Add(size)
		s.st.records.Add(int64(res.records))
		s.st.segments.Add(1)
	}
	if !s.opts.NoSync {
		if err := s.dirf.Sync(); err != nil {
			return err
		}
	}
	if len(s.segs) > 0 {
		s.log.Info("spool recovered", "segments", len(s.segs), "records", s.st.records.Load(), "bytes", s.st.bytes.Load())
	}
	return nil
}

func scanFile(path string, start int64) (size int64, res scanResult, err error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, res, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return 0, res, err
	}
	if start > fi.Size() {
		return fi.Size(), res, nil
	}
	if _, err := f.Seek(start, io.SeekStart); err != nil {
		return 0, res, err
	}
	res, err = scanSegment(f, start, nil)
	if err != nil {
		return 0, res, fmt.Errorf("scan %s: %w", path, err)
	}
	return fi.Size(), res, nil
}

func truncateFile(path string, size int64, sync bool) error {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	err = f.Truncate(size)
	if err == nil && sync {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("truncate %s: %w", path, err)
	}
	return nil
}

// quarantine moves the segment at path to quarantine/ and, if keepPrefix,
// leaves in its place a copy of its first good bytes. The steps are ordered
// so that a crash at any point leaves the original either in place or in
// quarantine with the copy in place; a stale temporary copy is removed by
// the next Open.
func (s *Spool) quarantine(path string, good int64, keepPrefix bool) (string, error) {
	dst, err := s.quarantineName(path)
	if err != nil {
		return "", err
	}
	sync := !s.opts.NoSync
	if !keepPrefix {
		if err := os.Rename(path, dst); err != nil {
			return "", fmt.Errorf("quarantine %s: %w", path, err)
		}
		return dst, s.syncDirs(sync)
	}
	tmp := path + tmpSuffix
	if err := copyFile(tmp, path, good, sync); err != nil {
		return "", fmt.Errorf("quarantine %s: keep good prefix: %w", path, err)
	}
	if err := os.Link(path, dst); err != nil && !sameFile(path, dst) {
		if err := copyFile(dst+tmpSuffix, path, -1, sync); err != nil {
			return "", fmt.Errorf("quarantine %s: %w", path, err)
		}
		if err := os.Rename(dst+tmpSuffix, dst); err != nil {
			return "", fmt.Errorf("quarantine %s: %w", path, err)
		}
	}
	if err := s.syncDirs(sync); err != nil {
		return "", err
	}
	if err := os.Rename(tmp, path); err != nil {
		return "", fmt.Errorf("quarantine %s: %w", path, err)
	}
	return dst, s.syncDirs(sync)
}

// quarantineName keeps the segment's name unless quarantine/ already holds
// a different file by that name.
func (s *Spool) quarantineName(path string) (string, error) {
	base := filepath.Join(s.qdir, filepath.Base(path))
	dst := base
	for n := 1; ; n++ {
		_, err := os.Lstat(dst)
		if errors.Is(err, os.ErrNotExist) {
			return dst, nil
		}
		if err != nil {
			return "", fmt.Errorf("quarantine %s: %w", path, err)
		}
		if sameFile(path, dst) {
			// Linked by a quarantine that a crash interrupted.
			return dst, nil
		}
		dst = fmt.Sprintf("%s.%d", base, n)
	}
}

func sameFile(a, b string) bool {
	fa, err := os.Stat(a)
	if err != nil {
		return false
	}
	fb, err := os.Stat(b)
	return err == nil && os.SameFile(fa, fb)
}

// copyFile copies the first n bytes of src (all of it if n < 0) to a new
// file dst.
func copyFile(dst, src string, n int64, sync bool) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	var r io.Reader = in
	if n >= 0 {
		r = io.LimitReader(in, n)
	}
	_, err = io.Copy(out, r)
	if err == nil && sync {
		err = out.Sync()
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(dst)
	}
	return err
}

func (s *Spool) syncDirs(sync bool) error {
	if !sync {
		return nil
	}
	if err := s.dirf.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", s.opts.Dir, err)
	}
	q, err := os.Open(s.qdir)
	if err != nil {
		return err
	}
	defer q.Close()
	if err := q.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", s.qdir, err)
	}
	return nil
}

// Append writes one record (an opaque batch of up to MaxRecordBytes). When it
// returns nil the record is on disk and fsynced (unless NoSync) and will be
// offered by Drain. Under RejectNew it returns ErrFull when the record does
// not fit in MaxBytes; under DropOldest it deletes the oldest whole segments
// first. rec is not retained.
func (s *Spool) Append(rec []byte) error {
	if s == nil {
		return ErrClosed
	}
	if len(rec) > MaxRecordBytes {
		return fmt.Errorf("append %d bytes: %w (max %d)", len(rec), ErrTooLarge, MaxRecordBytes)
	}
	need := int64(headerSize + len(rec))
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrClosed
	}
	if need > s.opts.MaxBytes {
		return fmt.Errorf("append %d bytes: %w: record alone above MaxBytes %d", len(rec), ErrFull, s.opts.MaxBytes)
	}
	for s.st.bytes.Load()+need > s.opts.MaxBytes {
		if s.opts.Full == RejectNew || len(s.segs) == 0 {
			return ErrFull
		}
		if err := s.dropOldestLocked(); err != nil {
			return err
		}
	}
	if s.active == nil || (s.activeSeg.size > 0 && s.activeSeg.size+need > s.opts.SegmentBytes) {
		if err := s.rollLocked(); err != nil {
			return err
		}
	}
	seg := s.activeSeg
	var h [headerSize]byte
	putHeader(h[:], rec)
	_, err := s.active.Write(h[:])
	if err == nil {
		_, err = s.active.Write(rec)
	}
	if err == nil && !s.opts.NoSync {
		err = s.active.Sync()
	}
	if err != nil {
		s.abortAppendLocked(seg)
		err = fmt.Errorf("append to %s: %w", seg.path, err)
		if errors.Is(err, syscall.ENOSPC) {
			err = fmt.Errorf("%w: %w", ErrFull, err)
		}
		return err
	}
	seg.size += need
	seg.pending++
	s.st.bytes.Add(need)
	s.st.records.Add(1)
	s.st.appended.Add(1)
	return nil
}

// abortAppendLocked cuts a failed append off the active segment and closes
// it, so the next Append starts a fresh segment; after a failed write or
// fsync the file's state is not to be trusted. If the truncate does not take,
// Drain still reads only up to seg.size, and the next Open sees the leftover
// as a torn tail or quarantines it with its good records kept.
func (s *Spool) abortAppendLocked(seg *segment) {
	if err := s.active.Truncate(seg.size); err != nil {
		s.log.Error("spool truncate after failed append", "file", seg.path, "err", err)
	}
	s.active.Close()
	s.active, s.activeSeg = nil, nil
}

func (s *Spool) rollLocked() error {
	if s.active != nil {
		if err := s.active.Close(); err != nil {
			s.log.Warn("spool close segment", "file", s.activeSeg.path, "err", err)
		}
		s.active, s.activeSeg = nil, nil
	}
	seq := s.nextSeq
	path := filepath.Join(s.opts.Dir, segName(seq))
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("new segment: %w", err)
	}
	s.nextSeq++
	if !s.opts.NoSync {
		// The name must be durable before any record in it is acknowledged.
		if err := s.dirf.Sync(); err != nil {
			f.Close()
			os.Remove(path)
			return fmt.Errorf("new segment %s: sync dir: %w", path, err)
		}
	}
	seg := &segment{seq: seq, path: path}
	s.segs = append(s.segs, seg)
	s.active, s.activeSeg = f, seg
	s.st.segments.Add(1)
	return nil
}

// offsetLocked is where draining of seg resumes.
func (s *Spool) offsetLocked(seg *segment) int64 {
	if s.cur.seq == seg.seq {
		return s.cur.off
	}
	return 0
}

// removeHeadLocked deletes the oldest segment and forgets it.
func (s *Spool) removeHeadLocked() error {
	seg := s.segs[0]
	if seg == s.activeSeg {
		s.active.Close()
		s.active, s.activeSeg = nil, nil
	}
	s.segs = s.segs[1:]
	s.st.bytes.Add(-seg.size)
	s.st.records.Add(-seg.pending)
	s.st.segments.Add(-1)
	// No directory fsync: if the unlink is lost in a crash, the cursor
	// (at this segment's end, or at a later segment) marks it drained.
	if err := os.Remove(seg.path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove drained segment: %w", err)
	}
	return nil
}

func (s *Spool) dropOldestLocked() error {
	seg := s.segs[0]
	bytes := seg.size - s.offsetLocked(seg)
	recs := seg.pending
	if err := s.removeHeadLocked(); err != nil {
		return fmt.Errorf("drop oldest segment: %w", err)
	}
	s.st.droppedRecords.Add(recs)
	s.st.droppedBytes.Add(bytes)
	s.log.Warn("spool full, dropped oldest segment", "file", seg.path, "records", recs, "bytes", bytes, "max_bytes", s.opts.MaxBytes)
	return nil
}

// Drain calls fn for the pending records in append order, oldest first, one
// at a time. rec is valid only until fn returns. When fn returns nil the
// record is acknowledged: the cursor advances and is fsynced before the next
// record is read, and a fully drained segment is deleted. When fn returns an
// error, Drain returns that error unwrapped and the record is offered again
// by the next Drain. Drain returns nil when the spool is empty, ctx.Err()
// when ctx ends between records, and ErrClosed after Close. It may run
// concurrently with Append; a second Drain waits for the first.
//
// A record whose bytes are found damaged while draining is not passed to fn:
// its segment is quarantined (see the package comment) and draining goes on
// with the next segment.
func (s *Spool) Drain(ctx context.Context, fn func(rec []byte) error) error {
	if s == nil {
		return ErrClosed
	}
	s.drainMu.Lock()
	defer s.drainMu.Unlock()

	var (
		rf   *os.File // the segment being read
		rseq uint64
		buf  []byte
	)
	defer func() {
		if rf != nil {
			rf.Close()
		}
	}()
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			return ErrClosed
		}
		if len(s.segs) == 0 {
			s.mu.Unlock()
			return nil
		}
		head := s.segs[0]
		off, size := s.offsetLocked(head), head.size
		if off >= size {
			err := s.removeHeadLocked()
			s.mu.Unlock()
			if err != nil {
				return fmt.Errorf("drain: %w", err)
			}
			continue
		}
		s.mu.Unlock()

		if rf == nil || rseq != head.seq {
			if rf != nil {
				rf.Close()
				rf = nil
			}
			f, err := os.Open(head.path)
			if err != nil {
				if errors.Is(err, os.ErrNotExist) && s.isGone(head) {
					continue // dropped by DropOldest meanwhile
				}
				return fmt.Errorf("drain: %w", err)
			}
			rf, rseq = f, head.seq
		}

		rec, n, err := readRecord(rf, off, size, &buf)
		if errors.Is(err, errDamaged) {
			if qerr := s.quarantineHead(head, off, err); qerr != nil {
				return fmt.Errorf("drain: %w", qerr)
			}
			continue
		}
		if err != nil {
			return fmt.Errorf("drain %s at %d: %w", head.path, off, err)
		}

		if err := fn(rec); err != nil {
			return err
		}

		s.mu.Lock()
		if len(s.segs) == 0 || s.segs[0] != head {
			// DropOldest removed the segment while fn ran; it is counted there.
			s.mu.Unlock()
			continue
		}
		next := cursor{seq: head.seq, off: off + n}
		if err := writeCursor(s.opts.Dir, s.dirf, next, !s.opts.NoSync); err != nil {
			s.mu.Unlock()
			return fmt.Errorf("drain: acknowledge %s at %d: %w", head.path, off, err)
		}
		s.cur = next
		head.pending--
		s.st.records.Add(-1)
		s.st.drained.Add(1)
		if next.off >= head.size {
			err = s.removeHeadLocked()
		}
		s.mu.Unlock()
		if err != nil {
			return fmt.Errorf("drain: %w", err)
		}
	}
}

func (s *Spool) isGone(seg *segment) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return !slices.Contains(s.segs, seg)
}

// errDamaged marks bytes in a segment that are not a good record.
var errDamaged = errors.New("damaged record")

// readRecord reads the record at off of a segment whose good bytes end at
// limit, into *buf (grown as needed), and returns it with its size on disk.
func readRecord(f *os.File, off, limit int64, buf *[]byte) ([]byte, int64, error) {
	var h [headerSize]byte
	if limit-off < headerSize {
		return nil, 0, fmt.Errorf("%w: %d bytes left, header needs %d", errDamaged, limit-off, headerSize)
	}
	if _, err := f.ReadAt(h[:], off); err != nil {
		if err == io.EOF {
			return nil, 0, fmt.Errorf("%w: file shorter than expected", errDamaged)
		}
		return nil, 0, err
	}
	hd, err := parseHeader(h[:])
	if err != nil {
		return nil, 0, fmt.Errorf("%w: %w", errDamaged, err)
	}
	n := headerSize + int64(hd.length)
	if off+n > limit {
		return nil, 0, fmt.Errorf("%w: length %d past the end of the segment", errDamaged, hd.length)
	}
	if int64(cap(*buf)) < int64(hd.length) {
		*buf = make([]byte, hd.length)
	}
	rec := (*buf)[:hd.length]
	if _, err := f.ReadAt(rec, off+headerSize); err != nil {
		if err == io.EOF {
			return nil, 0, fmt.Errorf("%w: file shorter than expected", errDamaged)
		}
		return nil, 0, err
	}
	if got := crc32Checksum(rec); got != hd.crc {
		return nil, 0, fmt.Errorf("%w: checksum mismatch: header %#08x payload %#08x", errDamaged, hd.crc, got)
	}
	return rec, n, nil
}

// quarantineHead handles damage found by Drain (the disk changed under a
// running spool): everything before off has been delivered, so the whole
// file moves to quarantine and draining goes on with the next segment.
func (s *Spool) quarantineHead(head *segment, off int64, cause error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.segs) == 0 || s.segs[0] != head {
		return nil
	}
	if head == s.activeSeg {
		s.active.Close()
		s.active, s.activeSeg = nil, nil
	}
	dst, err := s.quarantine(head.path, off, false)
	if err != nil {
		return err
	}
	s.segs = s.segs[1:]
	s.st.bytes.Add(-head.size)
	s.st.records.Add(-head.pending)
	s.st.segments.Add(-1)
	s.st.quarantined.Add(1)
	s.st.corrupt.Add(1)
	s.st.quarantinedBytes.Add(head.size - off)
	s.log.Error("spool segment quarantined", "file", head.path, "offset", off, "reason", cause.Error(),
		"moved_to", dst, "records_not_delivered", head.pending, "bytes_not_delivered", head.size-off)
	return nil
}

// Stats returns the spool's counters; it takes no lock.
func (s *Spool) Stats() Stats {
	if s == nil {
		return Stats{}
	}
	return Stats{
		Bytes:            s.st.bytes.Load(),
		Records:          s.st.records.Load(),
		Segments:         s.st.segments.Load(),
		Appended:         s.st.appended.Load(),
		Drained:          s.st.drained.Load(),
		DroppedRecords:   s.st.droppedRecords.Load(),
		DroppedBytes:     s.st.droppedBytes.Load(),
		Quarantined:      s.st.quarantined.Load(),
		QuarantinedBytes: s.st.quarantinedBytes.Load(),
		Corrupt:          s.st.corrupt.Load(),
		TornRecords:      s.st.tornRecords.Load(),
		TornBytes:        s.st.tornBytes.Load(),
	}
}

// Dir is the spool's directory.
func (s *Spool) Dir() string { return s.opts.Dir }

// MaxBytes is the bound on the bytes of all segments (Options.MaxBytes, its
// default filled in).
func (s *Spool) MaxBytes() int64 { return s.opts.MaxBytes }

// Len returns the number of records not yet drained.
func (s *Spool) Len() int {
	if s == nil {
		return 0
	}
	return int(s.st.records.Load())
}

// Close closes the spool. It waits for a running Drain to finish the record
// it is on (so do not call it from inside fn); later calls return ErrClosed.
// Close is safe to call twice and on nil.
func (s *Spool) Close() error {
	if s == nil {
		return nil
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()

	s.drainMu.Lock()
	defer s.drainMu.Unlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	var errs []error
	if s.active != nil {
		if err := s.active.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close spool segment: %w", err))
		}
		s.active, s.activeSeg = nil, nil
	}
	if err := s.dirf.Close(); err != nil {
		errs = append(errs, fmt.Errorf("close spool: %w", err))
	}
	if err := s.lockf.Close(); err != nil { // releases the flock
		errs = append(errs, fmt.Errorf("close spool: %w", err))
	}
	return errors.Join(errs...)
}
