package event

import (
	"errors"
	"fmt"
	"io"
	"math"
	"time"

	"github.com/ronda-watch/ronda/analyzer/internal/idhash"
	"github.com/ronda-watch/ronda/analyzer/snapshot"
)

// A Deduper's checkpoint is its whole state: window, capacity, hash key, the
// remembered id hashes with their event times and arrival order, the latest
// time and the counts. A Deduper read back drops exactly the ids its writer
// would have dropped. It holds no id in the clear, only keyed hashes.

// Errors of ReadDeduper, for errors.Is.
var (
	// ErrCheckpointVersion: the checkpoint was written in another format
	// version; the message says which was found and which is read.
	ErrCheckpointVersion = errors.New("dedup checkpoint of another format version")
	// ErrCheckpointCorrupt: a checksum, the structure or an invariant does not verify.
	ErrCheckpointCorrupt = errors.New("dedup checkpoint is damaged")
)

// DedupCheckpointVersion is the format version WriteCheckpoint writes and
// ReadDeduper reads.
const DedupCheckpointVersion = 1

var dedupFormat = snapshot.Format{
	Magic: "RONDADUP", Version: DedupCheckpointVersion,
	Corrupt: ErrCheckpointCorrupt, Old: ErrCheckpointVersion,
}

// Sections, in order.
const (
	dedupSecParams    = 'D'
	dedupSecFIFO      = 'F'
	dedupSecStraggler = 'S'
)

// WriteCheckpoint writes d's state to w. The same state always gives the same
// bytes. It writes nothing but the checkpoint, so others may follow it in w.
func (d *Deduper) WriteCheckpoint(w io.Writer) error {
	sw := snapshot.NewWriter(w, dedupFormat)
	var e snapshot.Enc
	e.Varint(int64(d.window))
	e.Varint(int64(d.capacity))
	e.U64(uint64(d.key))
	e.Uvarint(d.seq)
	e.Bool(d.any)
	e.Varint(d.latest.sec)
	e.Uvarint(uint64(d.latest.nsec))
	e.Varint(d.cutoff.sec)
	e.Uvarint(uint64(d.cutoff.nsec))
	e.Uvarint(d.stats.Duplicates)
	e.Uvarint(d.stats.Forgotten)
	if err := sw.Section(dedupSecParams, e.B); err != nil {
		return fmt.Errorf("write dedup checkpoint: %w", err)
	}
	// The FIFO is in event-time order: times as deltas take a byte or two.
	fifo := d.fifo[d.head:]
	e = snapshot.Enc{B: make([]byte, 0, 16*len(fifo)+8)}
	e.Uvarint(uint64(len(fifo)))
	var prev dedupEntry
	for _, x := range fifo {
		e.Varint(x.at.sec - prev.at.sec)
		e.Uvarint(uint64(x.at.nsec))
		e.Varint(int64(x.seq - prev.seq))
		e.U64(x.id)
		prev = x
	}
	if err := sw.Section(dedupSecFIFO, e.B); err != nil {
		return fmt.Errorf("write dedup checkpoint: %w", err)
	}
	// The heap in its array order, so that later pops come in the same order.
	e = snapshot.Enc{B: make([]byte, 0, 24*len(d.straggler)+8)}
	e.Uvarint(uint64(len(d.straggler)))
	for _, x := range d.straggler {
		e.Varint(x.at.sec)
		e.Uvarint(uint64(x.at.nsec))
		e.Uvarint(x.seq)
		e.U64(x.id)
	}
	if err := sw.Section(dedupSecStraggler, e.B); err != nil {
		return fmt.Errorf("write dedup checkpoint: %w", err)
	}
	if err := sw.End(); err != nil {
		return fmt.Errorf("write dedup checkpoint: %w", err)
	}
	return nil
}

// ReadDeduper reads a checkpoint written by WriteCheckpoint and returns a
// Deduper in its writer's state. A damaged checkpoint is ErrCheckpointCorrupt
// and one of another format version ErrCheckpointVersion; no partial Deduper
// is ever returned. It reads exactly the checkpoint's bytes from r.
func ReadDeduper(r io.Reader) (*Deduper, error) {
	d, err := readDeduper(r)
	if err != nil {
		return nil, fmt.Errorf("read dedup checkpoint: %w", err)
	}
	return d, nil
}

func readDeduper(r io.Reader) (*Deduper, error) {
	sr, err := snapshot.Open(r, dedupFormat)
	if err != nil {
		return nil, err
	}
	p, err := sr.Section(dedupSecParams)
	if err != nil {
		return nil, err
	}
	dec := snapshot.NewDec(p, ErrCheckpointCorrupt, "parameters")
	d := &Deduper{}
	d.window = time.Duration(dec.Varint())
	d.capacity = int(dec.Int(math.MinInt32, math.MaxInt32, "capacity"))
	d.key = idhash.Key(dec.U64())
	d.seq = dec.Uvarint()
	d.any = dec.Bool()
	d.latest = readInstant(dec)
	d.cutoff = readInstant(dec)
	d.stats.Duplicates = dec.Uvarint()
	d.stats.Forgotten = dec.Uvarint()
	if err := dec.Done(); err != nil {
		return nil, err
	}

	// Either section can hold every live id, up to the capacity.
	maxLive := math.MaxInt32
	if d.capacity > 0 {
		maxLive = d.capacity
	}
	p, err = sr.Section(dedupSecFIFO)
	if err != nil {
		return nil, err
	}
	dec = snapshot.NewDec(p, ErrCheckpointCorrupt, "remembered ids")
	n := dec.Len(maxLive, "ids")
	d.fifo = make([]dedupEntry, n)
	var prev dedupEntry
	for i := range d.fifo {
		x := &d.fifo[i]
		x.at.sec = prev.at.sec + dec.Varint()
		x.at.nsec = readNsec(dec)
		x.seq = prev.seq + uint64(dec.Varint())
		x.id = dec.U64()
		if i > 0 && !prev.less(x) {
			dec.Fail("ids out of order at %d", i)
		}
		prev = *x
	}
	if err := dec.Done(); err != nil {
		return nil, err
	}

	p, err = sr.Section(dedupSecStraggler)
	if err != nil {
		return nil, err
	}
	dec = snapshot.NewDec(p, ErrCheckpointCorrupt, "late ids")
	n = dec.Len(maxLive-len(d.fifo), "ids")
	d.straggler = make([]dedupEntry, n)
	for i := range d.straggler {
		x := &d.straggler[i]
		x.at = readInstant(dec)
		x.seq = dec.Uvarint()
		x.id = dec.U64()
		if i > 0 && x.less(&d.straggler[(i-1)/2]) {
			dec.Fail("late ids out of heap order at %d", i)
		}
	}
	if err := dec.Done(); err != nil {
		return nil, err
	}
	if err := sr.End(); err != nil {
		return nil, err
	}
	if err := d.rebuild(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrCheckpointCorrupt, err)
	}
	return d, nil
}

func readInstant(dec *snapshot.Dec) instant {
	return instant{sec: dec.Varint(), nsec: readNsec(dec)}
}

func readNsec(dec *snapshot.Dec) int32 { return int32(dec.Uint(999_999_999, "nanoseconds")) }

// rebuild fills the id set from the entries and checks what Seen keeps true:
// ids are unique, arrival numbers come before seq, and no entry is older
// than the window.
func (d *Deduper) rebuild() error {
	if len(d.fifo) == 0 {
		d.fifo = nil
	}
	if len(d.straggler) == 0 {
		d.straggler = nil
	}
	d.ids.reserve(d.live())
	for _, list := range [...][]dedupEntry{d.fifo, d.straggler} {
		for _, x := range list {
			if d.ids.has(x.id) {
				return errors.New("an id is remembered twice")
			}
			if x.seq >= d.seq {
				return errors.New("an arrival number runs ahead of the count")
			}
			if d.window > 0 && d.any && x.at.before(d.cutoff) {
				return errors.New("an id older than the window is remembered")
			}
			d.ids.add(x.id)
		}
	}
	if !d.any && d.live() > 0 {
		return errors.New("ids remembered before any time was seen")
	}
	return nil
}
