// Package snapshot is Ronda's one binary codec for state it writes and reads
// back: the analyzer's and the deduper's checkpoints, the service checkpoint
// (sidecar/serve) and the intake log's records (event batches, moderators'
// actions). It has two parts. The container: a fixed header with a magic, a
// format version and its own checksum, then tagged sections, each with a
// length and a CRC-32C, then an end section (Writer, Reader). The values
// inside a section or a record: varints, fixed 64-bit words, floats,
// booleans, length-prefixed strings and times (Enc, Dec), read with a bound
// on every length and a sticky first error.
//
// What it reads back is outside input (a file or a log record that may be
// damaged, or written by another version), so the readers must never panic,
// never allocate more than the bytes actually present justify, and never read
// past a checkpoint's end: several checkpoints may follow each other in one
// stream. It must not do I/O of its own beyond the reader and writer it is
// given, and knows nothing of what the sections and records hold: their
// layout and versions belong to the packages that write them.
package snapshot

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
)

// Format names one kind of checkpoint and the errors its reader returns.
type Format struct {
	// Magic is 8 bytes that name the kind ("RONDAENG"); anything else is not
	// this kind of checkpoint.
	Magic string
	// Version is the format version this build writes and reads.
	Version uint32
	// Oldest is the oldest version this build still reads (Reader.Version
	// tells the caller which it got); 0 reads Version only. A format that
	// only adds fields keeps reading its older versions, so that an upgrade
	// does not forget the state a checkpoint holds.
	Oldest uint32
	// Corrupt is wrapped by every error of structure or checksum; Old by the
	// error for a checkpoint of another version.
	Corrupt, Old error
}

// MaxSection bounds one section's length. Reading a section allocates as its
// bytes arrive, so a damaged length costs no more memory than the input holds.
const MaxSection = 1 << 34

// EndTag closes a checkpoint; section tags are the other bytes.
const EndTag = 0

const headerLen = 8 + 4 + 4 // magic, version, CRC-32C of both

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Writer writes one checkpoint: the header at once, then sections.
type Writer struct {
	w   io.Writer
	err error
}

// NewWriter writes f's header to w.
func NewWriter(w io.Writer, f Format) *Writer {
	var h [headerLen]byte
	copy(h[:8], f.Magic)
	binary.LittleEndian.PutUint32(h[8:], f.Version)
	binary.LittleEndian.PutUint32(h[12:], crc32.Checksum(h[:12], castagnoli))
	wr := &Writer{w: w}
	_, wr.err = w.Write(h[:])
	return wr
}

// Section writes one section: tag, length, payload and the CRC-32C of the three.
func (w *Writer) Section(tag byte, payload []byte) error {
	if w.err != nil {
		return w.err
	}
	var h [9]byte
	h[0] = tag
	binary.LittleEndian.PutUint64(h[1:], uint64(len(payload)))
	crc := crc32.Update(crc32.Checksum(h[:], castagnoli), castagnoli, payload)
	var c [4]byte
	binary.LittleEndian.PutUint32(c[:], crc)
	for _, b := range [...][]byte{h[:], payload, c[:]} {
		if _, err := w.w.Write(b); err != nil {
			w.err = err
			return err
		}
	}
	return nil
}

// End writes the end section.
func (w *Writer) End() error { return w.Section(EndTag, nil) }

// Reader reads one checkpoint, section by section, and no byte past its end.
type Reader struct {
	r       io.Reader
	f       Format
	version uint32
}

// Version is the format version of the checkpoint being read.
func (r *Reader) Version() uint32 { return r.version }

// Open reads and checks the header: a wrong magic or checksum is corrupt, a
// whole header of another version is f.Old.
func Open(r io.Reader, f Format) (*Reader, error) {
	var h [headerLen]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return nil, readErr(f, "header", err)
	}
	if string(h[:8]) != f.Magic {
		return nil, fmt.Errorf("%w: header %q is not the magic %q of this kind of checkpoint", f.Corrupt, printable(h[:8]), f.Magic)
	}
	if crc32.Checksum(h[:12], castagnoli) != binary.LittleEndian.Uint32(h[12:]) {
		return nil, fmt.Errorf("%w: header checksum does not match", f.Corrupt)
	}
	v := binary.LittleEndian.Uint32(h[8:])
	switch {
	case v == f.Version:
	case f.Oldest == 0 || f.Oldest > f.Version:
		return nil, fmt.Errorf("%w: found format version %d, this build reads version %d only", f.Old, v, f.Version)
	case v < f.Oldest || v > f.Version:
		return nil, fmt.Errorf("%w: found format version %d, this build reads versions %d to %d", f.Old, v, f.Oldest, f.Version)
	}
	return &Reader{r: r, f: f, version: v}, nil
}

// Section reads the next section, which must carry tag, and returns its
// payload once its checksum verifies.
func (r *Reader) Section(tag byte) ([]byte, error) {
	got, payload, err := r.read("section " + tagName(tag))
	if err != nil {
		return nil, err
	}
	if got != tag {
		return nil, fmt.Errorf("%w: found section %q where %q belongs", r.f.Corrupt, tagName(got), tagName(tag))
	}
	return payload, nil
}

// Next reads the next section whatever its tag, for formats whose sections
// are optional: the caller checks the tag (EndTag closes the checkpoint).
func (r *Reader) Next() (tag byte, payload []byte, err error) {
	return r.read("next section")
}

func (r *Reader) read(what string) (byte, []byte, error) {
	var h [9]byte
	if _, err := io.ReadFull(r.r, h[:]); err != nil {
		return 0, nil, readErr(r.f, what, err)
	}
	n := binary.LittleEndian.Uint64(h[1:])
	if n > MaxSection {
		return 0, nil, fmt.Errorf("%w: section %q: length %d is over the limit %d", r.f.Corrupt, tagName(h[0]), n, uint64(MaxSection))
	}
	payload, err := readN(r.r, int(n))
	if err != nil {
		return 0, nil, readErr(r.f, what, err)
	}
	var c [4]byte
	if _, err := io.ReadFull(r.r, c[:]); err != nil {
		return 0, nil, readErr(r.f, what, err)
	}
	crc := crc32.Update(crc32.Checksum(h[:], castagnoli), castagnoli, payload)
	if crc != binary.LittleEndian.Uint32(c[:]) {
		return 0, nil, fmt.Errorf("%w: section %q: checksum does not match", r.f.Corrupt, tagName(h[0]))
	}
	return h[0], payload, nil
}

// End reads the end section.
func (r *Reader) End() error {
	p, err := r.Section(EndTag)
	if err == nil && len(p) != 0 {
		err = fmt.Errorf("%w: end section is not empty", r.f.Corrupt)
	}
	return err
}

// readN reads exactly n bytes, growing the buffer as they arrive (at most
// doubling), so that a length larger than the input allocates about what the
// input holds, not what the length claims.
func readN(r io.Reader, n int) ([]byte, error) {
	const chunk = 1 << 20
	if n <= chunk {
		b := make([]byte, n)
		_, err := io.ReadFull(r, b)
		return b, err
	}
	b := make([]byte, 0, chunk)
	for len(b) < n {
		if len(b) == cap(b) {
			b = append(b, make([]byte, min(cap(b), n-len(b)))...)[:len(b)]
		}
		m := min(cap(b), n) - len(b)
		k, err := io.ReadFull(r, b[len(b):len(b)+m])
		b = b[:len(b)+k]
		if err != nil {
			return nil, err
		}
	}
	return b, nil
}

// readErr: an input that ends early is a truncated, so corrupt, checkpoint;
// any other error is the reader's own.
func readErr(f Format, what string, err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("%w: %s: truncated", f.Corrupt, what)
	}
	return fmt.Errorf("read %s: %w", what, err)
}

func tagName(t byte) string {
	if t == EndTag {
		return "end"
	}
	return string(printable([]byte{t}))
}

func printable(b []byte) []byte {
	out := make([]byte, len(b))
	for i, c := range b {
		if c < 0x20 || c > 0x7e {
			c = '?'
		}
		out[i] = c
	}
	return out
}

// Reseal recomputes, in place, the checksums of the header and of every whole
// section of b. It is for fuzz tests: a fuzzer seldom guesses a CRC, and with
// the checksums resealed its inputs reach the decoders behind them.
func Reseal(b []byte) {
	if len(b) < headerLen {
		return
	}
	binary.LittleEndian.PutUint32(b[12:], crc32.Checksum(b[:12], castagnoli))
	for p := b[headerLen:]; len(p) >= 9+4; {
		n := binary.LittleEndian.Uint64(p[1:])
		if n > uint64(len(p)-9-4) {
			return
		}
		end := 9 + int(n)
		binary.LittleEndian.PutUint32(p[end:], crc32.Checksum(p[:end], castagnoli))
		p = p[end+4:]
	}
}

// Replace returns a copy of checkpoint b whose i-th section carries payload,
// with every checksum resealed; b itself if it has no such section. It is for
// fuzz tests: a well-framed checkpoint around one fuzzed payload reaches that
// section's decoder with whole, valid sections on either side.
func Replace(b []byte, i int, payload []byte) []byte {
	if len(b) < headerLen {
		return b
	}
	p := headerLen
	for ; i > 0; i-- {
		if len(b)-p < 9+4 {
			return b
		}
		n := binary.LittleEndian.Uint64(b[p+1:])
		if n > uint64(len(b)-p-9-4) {
			return b
		}
		p += 9 + int(n) + 4
	}
	if len(b)-p < 9+4 {
		return b
	}
	n := binary.LittleEndian.Uint64(b[p+1:])
	if n > uint64(len(b)-p-9-4) {
		return b
	}
	out := make([]byte, 0, len(b)+len(payload))
	out = append(out, b[:p+1]...)
	out = binary.LittleEndian.AppendUint64(out, uint64(len(payload)))
	out = append(out, payload...)
	out = append(out, 0, 0, 0, 0)
	out = append(out, b[p+9+int(n)+4:]...)
	Reseal(out)
	return out
}
