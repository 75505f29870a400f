package serve

// Service checkpoints: the analyzer engine, the intake's dedup memory, the
// moderators' hub and the pipeline's clock, with the intake log position they
// cover, in one file. A snapshot is taken to memory on the analyzer's
// goroutine between batches (consistent, and short), then written, fsynced
// and renamed on another goroutine, so that intake and the moderators do not
// wait for the disk. Only once the record (the ClickHouse writer's buffers)
// is written or spooled up to the snapshot is the log truncated: the log is
// the only copy of an event until the record has it.

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ronda-watch/ronda/analyzer"
	"github.com/ronda-watch/ronda/analyzer/event"
	codec "github.com/ronda-watch/ronda/analyzer/snapshot"
	"github.com/ronda-watch/ronda/sidecar/hub"
	"github.com/ronda-watch/ronda/sidecar/internal/atomicfile"
)

const (
	ckptVersion = 1 // of the container and its meta section
	ckptPrefix  = "checkpoint-"
	ckptSuffix  = ".ckpt"
	// Section tags.
	secMeta   = 'M'
	secEngine = 'E'
	secDedup  = 'D'
	secHub    = 'H'
	// maxNode bounds the node name read back from the meta section.
	maxNode = 4096
)

// ckptFormat frames a service checkpoint (analyzer/snapshot's container).
var ckptFormat = codec.Format{Magic: "RONDASVC", Version: ckptVersion, Corrupt: errCheckpointDamaged, Old: errCheckpointOld}

// ckptMeta is the checkpoint's own part.
type ckptMeta struct {
	Position uint64 // the last intake log seq it covers
	EvNow    time.Time
	EvWall   time.Time
	Written  time.Time
	Node     string
}

// snapshot is a checkpoint in memory.
type snapshot struct {
	meta                ckptMeta
	engine, dedup, hubB []byte
	hubState            *hub.State // taken with the rest, encoded into hubB off the analyzer's goroutine
}

type stateMetrics struct {
	snapshotSec prometheus.Histogram
	writeSec    prometheus.Histogram
	bytes       prometheus.Gauge
	written     prometheus.Gauge
	total       *prometheus.CounterVec
	restore     *prometheus.CounterVec
}

func newStateMetrics(reg prometheus.Registerer, now func() time.Time) *stateMetrics {
	m := &stateMetrics{
		snapshotSec: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "ronda_state_snapshot_seconds",
			Help:    "Time the analyzer's goroutine spent taking a checkpoint's snapshot to memory (intake-to-moderator latency waits this long).",
			Buckets: prometheus.ExponentialBuckets(1e-4, 4, 10)}),
		writeSec: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "ronda_state_checkpoint_seconds",
			Help:    "Time to write a checkpoint after its snapshot: the record synced, the file written, fsynced and renamed, the log truncated.",
			Buckets: prometheus.ExponentialBuckets(1e-3, 4, 10)}),
		bytes: prometheus.NewGauge(prometheus.GaugeOpts{Name: "ronda_state_checkpoint_bytes",
			Help: "Size of the last checkpoint written."}),
		written: prometheus.NewGauge(prometheus.GaugeOpts{Name: "ronda_state_checkpoint_timestamp_seconds",
			Help: "Unix time of the last checkpoint written or restored (its age: time() minus this)."}),
		total: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ronda_state_checkpoints_total",
			Help: "Checkpoints by result: ok, or error (disk full, I/O: logged; the previous one and the intake log are kept)."},
			[]string{"result"}),
		restore: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ronda_state_restore_total",
			Help: "Starts by how the state was restored: checkpoint (the newest), previous (the newest was unreadable), none (no checkpoint: the log alone), unreadable (no readable checkpoint: started empty, the log replayed)."},
			[]string{"result"}),
	}
	for _, r := range []string{"ok", "error"} {
		m.total.WithLabelValues(r)
	}
	for _, r := range []string{"checkpoint", "previous", "none", "unreadable"} {
		m.restore.WithLabelValues(r)
	}
	if reg != nil {
		reg.MustRegister(m.snapshotSec, m.writeSec, m.bytes, m.written, m.total, m.restore)
	}
	return m
}

// Checkpoint writes a service checkpoint now and truncates the intake log up
// to it (cmd maps SIGUSR1 here; it also runs every state.checkpoint_every and
// after the drain of a graceful stop). One runs at a time.
func (s *Service) Checkpoint(ctx context.Context) error {
	if s.pipe == nil {
		return errors.New("checkpoint: this role runs no analyzer")
	}
	s.ckMu.Lock()
	defer s.ckMu.Unlock()
	if s.stopped.Load() {
		return errors.New("checkpoint: the service has stopped")
	}
	var snap snapshot
	var serr error
	if err := s.pipe.do(ctx, func(e *analyzer.Engine) { snap, serr = s.snapshot(e) }); err != nil {
		return fmt.Errorf("checkpoint: %w", err)
	}
	if serr != nil {
		return s.checkpointFailed(serr)
	}
	return s.writeCheckpoint(ctx, snap)
}

func (s *Service) checkpointFailed(err error) error {
	s.state.total.WithLabelValues("error").Inc()
	s.log.Error("checkpoint failed; the previous one and the intake log are kept", "err", err)
	return fmt.Errorf("checkpoint: %w", err)
}

// snapshot copies the state to memory. It runs on the analyzer's goroutine
// (or after it ended), between batches.
func (s *Service) snapshot(e *analyzer.Engine) (snapshot, error) {
	start := time.Now()
	defer func() { s.state.snapshotSec.Observe(time.Since(start).Seconds()) }()
	snap := snapshot{meta: ckptMeta{Position: s.pipe.applied, EvNow: s.pipe.evNow,
		EvWall: s.pipe.evWall, Written: s.opts.Now().UTC(), Node: s.cfg.Node}}
	var b bytes.Buffer
	if err := e.WriteCheckpoint(&b); err != nil {
		return snapshot{}, fmt.Errorf("analyzer state: %w", err)
	}
	snap.engine = b.Bytes()
	if s.intake != nil {
		var db bytes.Buffer
		var derr error
		s.intake.WithDedup(func(d *event.Deduper) { derr = d.WriteCheckpoint(&db) })
		if derr != nil {
			return snapshot{}, fmt.Errorf("dedup state: %w", derr)
		}
		snap.dedup = db.Bytes()
	}
	if s.hub != nil {
		st := s.hub.State() // a consistent copy; encoding it waits for the writing goroutine
		snap.hubState = &st
	}
	return snap, nil
}

// writeCheckpoint makes the record durable up to the snapshot, writes the
// file (temporary, fsynced, renamed, directory fsynced), drops checkpoints
// beyond state.keep and truncates the log to the snapshot's position.
func (s *Service) writeCheckpoint(ctx context.Context, snap snapshot) error {
	start := time.Now()
	if snap.hubState != nil {
		hb, err := snap.hubState.Encode()
		if err != nil {
			return s.checkpointFailed(fmt.Errorf("hub state: %w", err))
		}
		snap.hubB = hb
	}
	// The record first: the log may only forget an event once the record
	// (ClickHouse or the writer's spool) has it and what it gave rise to.
	if err := s.writer.Sync(ctx); err != nil {
		return s.checkpointFailed(fmt.Errorf("sync the record: %w", err))
	}
	dir := s.cfg.State.Dir
	name := filepath.Join(dir, fmt.Sprintf("%s%020d%s", ckptPrefix, snap.meta.Position, ckptSuffix))
	n, err := atomicfile.Write(name, func(w io.Writer) error { return encodeCheckpoint(w, snap) })
	if err != nil {
		return s.checkpointFailed(err)
	}
	oldest := s.pruneCheckpoints()
	if s.wal != nil {
		// Up to the oldest checkpoint kept, not this one: should this one be
		// unreadable at the next start, the previous one plus the log still
		// give everything.
		if err := s.wal.Truncate(oldest); err != nil {
			s.log.Error("intake log truncate after checkpoint", "err", err)
		}
	}
	took := time.Since(start)
	s.state.writeSec.Observe(took.Seconds())
	s.state.bytes.Set(float64(n))
	s.state.written.Set(float64(snap.meta.Written.Unix()))
	s.state.total.WithLabelValues("ok").Inc()
	s.log.Info("checkpoint written", "file", filepath.Base(name), "position", snap.meta.Position, "bytes", n,
		"took", took.Round(time.Millisecond))
	return nil
}

// checkpointFiles lists the checkpoints in dir, newest (highest position) first.
func checkpointFiles(dir string) []string {
	ents, _ := os.ReadDir(dir)
	type f struct {
		pos  uint64
		path string
	}
	var fs []f
	for _, e := range ents {
		digits, ok := strings.CutPrefix(e.Name(), ckptPrefix)
		digits, ok2 := strings.CutSuffix(digits, ckptSuffix)
		if !ok || !ok2 {
			continue
		}
		if pos, err := strconv.ParseUint(digits, 10, 64); err == nil {
			fs = append(fs, f{pos, filepath.Join(dir, e.Name())})
		}
	}
	slices.SortFunc(fs, func(a, b f) int { return -cmpU(a.pos, b.pos) })
	out := make([]string, len(fs))
	for i := range fs {
		out[i] = fs[i].path
	}
	return out
}

func cmpU(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// pruneCheckpoints keeps the state.keep newest checkpoints and returns the
// position of the oldest one kept (0: none).
func (s *Service) pruneCheckpoints() uint64 {
	files := checkpointFiles(s.cfg.State.Dir)
	for _, p := range files[min(s.cfg.State.Keep, len(files)):] {
		if err := os.Remove(p); err != nil {
			s.log.Warn("remove old checkpoint", "file", p, "err", err)
		}
	}
	// Temporary files a crash left behind.
	tmps, _ := filepath.Glob(filepath.Join(s.cfg.State.Dir, ".tmp-"+ckptPrefix+"*"))
	for _, p := range tmps {
		os.Remove(p)
	}
	files = files[:min(s.cfg.State.Keep, len(files))]
	if len(files) == 0 {
		return 0
	}
	return checkpointPos(files[len(files)-1])
}

// checkpointPos is the position in a checkpoint's file name.
func checkpointPos(path string) uint64 {
	digits := strings.TrimSuffix(strings.TrimPrefix(filepath.Base(path), ckptPrefix), ckptSuffix)
	pos, _ := strconv.ParseUint(digits, 10, 64)
	return pos
}

// encodeCheckpoint writes the container (analyzer/snapshot's: a header with
// the magic and version, then sections, each with its length and CRC-32C,
// then the end section): the meta section, the engine's, and the dedup and
// hub sections when the snapshot has them. A file without the end section was
// not written whole.
func encodeCheckpoint(w io.Writer, snap snapshot) error {
	var meta codec.Enc
	meta.Uvarint(snap.meta.Position)
	meta.Time(snap.meta.EvNow)
	meta.Time(snap.meta.EvWall)
	meta.Time(snap.meta.Written)
	meta.String(snap.meta.Node)
	cw := codec.NewWriter(w, ckptFormat)
	if err := cw.Section(secMeta, meta.B); err != nil {
		return err
	}
	if err := cw.Section(secEngine, snap.engine); err != nil {
		return err
	}
	for _, sec := range [...]struct {
		tag byte
		b   []byte
	}{{secDedup, snap.dedup}, {secHub, snap.hubB}} {
		if sec.b == nil {
			continue
		}
		if err := cw.Section(sec.tag, sec.b); err != nil {
			return err
		}
	}
	return cw.End()
}

// errCheckpointDamaged: the file is not a whole checkpoint of this format.
var errCheckpointDamaged = errors.New("checkpoint damaged")

// errCheckpointOld: a whole checkpoint header of another format version.
var errCheckpointOld = fmt.Errorf("%w: another format version", errCheckpointDamaged)

// decodeCheckpoint reads a container written by encodeCheckpoint from b,
// which must hold it and nothing more.
func decodeCheckpoint(b []byte) (snapshot, error) {
	return readCheckpointFrom(bytes.NewReader(b))
}

// readCheckpointFrom reads a container written by encodeCheckpoint and checks
// that r ends with it. It checks every section's checksum, that none comes
// twice and that the meta and engine sections are there; it does not
// interpret the engine's, dedup's and hub's bytes.
func readCheckpointFrom(r io.Reader) (snapshot, error) {
	var snap snapshot
	cr, err := codec.Open(r, ckptFormat)
	if err != nil {
		return snap, err
	}
	seen := map[byte]bool{}
	for {
		tag, p, err := cr.Next()
		if err != nil {
			return snapshot{}, err
		}
		if seen[tag] {
			return snapshot{}, fmt.Errorf("%w: section %q twice", errCheckpointDamaged, tag)
		}
		seen[tag] = true
		switch tag {
		case secMeta:
			d := codec.NewDec(p, errCheckpointDamaged, "meta")
			snap.meta = ckptMeta{Position: d.Uvarint(), EvNow: d.Time(), EvWall: d.Time(), Written: d.Time(), Node: d.String(maxNode)}
			if err := d.Done(); err != nil {
				return snapshot{}, err
			}
		case secEngine:
			snap.engine = p
		case secDedup:
			snap.dedup = p
		case secHub:
			snap.hubB = p
		case codec.EndTag:
			if len(p) != 0 {
				return snapshot{}, fmt.Errorf("%w: end section is not empty", errCheckpointDamaged)
			}
			if !seen[secMeta] || !seen[secEngine] {
				return snapshot{}, fmt.Errorf("%w: meta or engine section missing", errCheckpointDamaged)
			}
			var more [1]byte
			if n, _ := io.ReadFull(r, more[:]); n != 0 {
				return snapshot{}, fmt.Errorf("%w: bytes after the end section", errCheckpointDamaged)
			}
			return snap, nil
		default:
			return snapshot{}, fmt.Errorf("%w: unknown section %q", errCheckpointDamaged, tag)
		}
	}
}

// restoreState loads the newest readable checkpoint into the pipeline, the
// intake's deduper (returned, to be handed to intake) and the hub, and opens
// the intake log after its position. A checkpoint that cannot be read is
// reported and the previous one tried; with none readable the service starts
// empty and replays what log there is.
func (s *Service) restoreState() (*event.Deduper, error) {
	acfg := s.pipe.eng.Config()
	files := checkpointFiles(s.cfg.State.Dir)
	result := "none"
	var dedup *event.Deduper
	// A final hub state (a graceful stop's) is resumed from exactly only if
	// no hub has served since it was written: the mark is there from a
	// start until the next final checkpoint is on disk.
	_, err := os.Stat(filepath.Join(s.cfg.State.Dir, hubServingMark))
	served := err == nil
	for i, f := range files {
		snap, eng, d, err := s.readCheckpoint(f, acfg)
		if err == nil && snap.hubB != nil && s.hub != nil {
			if err = s.restoreHubFrom(snap.hubB, i == 0 && !served); err != nil {
				err = fmt.Errorf("hub state: %w", err)
			}
		}
		if err != nil {
			// Moved aside, so that it is neither tried again nor counted
			// among the checkpoints kept (the log is kept from the oldest).
			aside := filepath.Join(filepath.Dir(f), "unreadable-"+filepath.Base(f))
			os.Rename(f, aside)
			s.log.Error("checkpoint unreadable; moved aside, trying the previous one", "file", f, "err", err, "moved_to", aside)
			continue
		}
		s.hubRestored = snap.hubB != nil
		s.pipe.installEngine(eng)
		s.pipe.applied, s.pipe.evNow, s.pipe.evWall = snap.meta.Position, snap.meta.EvNow, snap.meta.EvWall
		s.restoredPos = snap.meta.Position
		dedup = d
		result = "checkpoint"
		if i > 0 {
			result = "previous"
		}
		s.state.written.Set(float64(snap.meta.Written.Unix()))
		s.log.Info("state restored from checkpoint", "file", filepath.Base(f), "position", snap.meta.Position,
			"written", snap.meta.Written, "fallback", i > 0)
		break
	}
	if result == "none" && len(files) > 0 {
		result = "unreadable"
		s.log.Error("no readable checkpoint: starting with an empty analyzer and replaying what intake log there is",
			"checkpoints", len(files))
	}
	s.state.restore.WithLabelValues(result).Inc()
	return dedup, nil
}

func (s *Service) readCheckpoint(path string, acfg analyzer.Config) (snapshot, *analyzer.Engine, *event.Deduper, error) {
	f, err := os.Open(path)
	if err != nil {
		return snapshot{}, nil, nil, err
	}
	snap, err := readCheckpointFrom(bufio.NewReader(f))
	f.Close()
	if err != nil {
		return snapshot{}, nil, nil, err
	}
	eng, err := analyzer.ReadCheckpoint(acfg, bytes.NewReader(snap.engine))
	if err != nil {
		return snapshot{}, nil, nil, fmt.Errorf("analyzer state: %w", err)
	}
	var d *event.Deduper
	if snap.dedup != nil {
		if d, err = event.ReadDeduper(bytes.NewReader(snap.dedup)); err != nil {
			return snapshot{}, nil, nil, fmt.Errorf("dedup state: %w", err)
		}
	}
	return snap, eng, d, nil
}

func restoreHub(h *hub.Hub, b []byte) error {
	st, err := hub.DecodeState(b)
	if err != nil {
		return err
	}
	return h.Restore(st)
}

// hubServingMark, in state.dir, says that a hub has served since the last
// final checkpoint: numbers past that checkpoint's were given, which it does
// not hold.
const hubServingMark = "hub-serving"

// restoreHubFrom gives the hub its state. A final state that a later run may
// have gone past (exact false) is restored as not final: consoles resync from
// a snapshot rather than resume into numbers that were given twice.
func (s *Service) restoreHubFrom(b []byte, exact bool) error {
	st, err := hub.DecodeState(b)
	if err != nil {
		return err
	}
	if st.Final && !exact {
		s.log.Warn("the hub's final state was resumed from before (or is not the newest): consoles resync from a snapshot")
		st.Final = false
	}
	return s.hub.Restore(st)
}

// markHubServing writes hubServingMark (fsynced) before the hub serves:
// from now on the final state just restored must not be resumed from again.
func (s *Service) markHubServing() error {
	_, err := atomicfile.Write(filepath.Join(s.cfg.State.Dir, hubServingMark), func(w io.Writer) error {
		_, err := fmt.Fprintf(w, "a hub has served since the last final checkpoint (%s)\n", s.opts.Now().UTC().Format(time.RFC3339))
		return err
	})
	return err
}

// unmarkHubServing removes hubServingMark once a final checkpoint (the hub
// closed) is on disk: the next start may resume from it exactly.
func (s *Service) unmarkHubServing() {
	if err := os.Remove(filepath.Join(s.cfg.State.Dir, hubServingMark)); err != nil && !errors.Is(err, os.ErrNotExist) {
		s.log.Warn("remove hub mark: consoles will resync after the restart", "err", err)
		return
	}
	_ = atomicfile.SyncDir(s.cfg.State.Dir)
}
