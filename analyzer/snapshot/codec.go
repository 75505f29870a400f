package snapshot

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/bits"
	"time"
)

// Enc appends values to a section's payload.
type Enc struct{ B []byte }

// Uvarint appends x as a varint.
func (e *Enc) Uvarint(x uint64) { e.B = binary.AppendUvarint(e.B, x) }

// Varint appends x as a zig-zag varint.
func (e *Enc) Varint(x int64) { e.B = binary.AppendVarint(e.B, x) }

// U64 appends x as 8 bytes: for hashes and keys, which varints would lengthen.
func (e *Enc) U64(x uint64) { e.B = binary.LittleEndian.AppendUint64(e.B, x) }

// F64 appends f exactly, its bytes reversed into a varint so that round
// figures (0, 0.5, 0.35) take 1 to 3 bytes rather than 8.
func (e *Enc) F64(f float64) { e.Uvarint(bits.ReverseBytes64(math.Float64bits(f))) }

// Bool appends b as one byte, 0 or 1.
func (e *Enc) Bool(b bool) {
	var x byte
	if b {
		x = 1
	}
	e.B = append(e.B, x)
}

// String appends s with its length.
func (e *Enc) String(s string) {
	if len(s) < 0x80 { // a one-byte varint: most strings, and on the intake's path
		e.B = append(append(e.B, byte(len(s))), s...)
		return
	}
	e.Uvarint(uint64(len(s)))
	e.B = append(e.B, s...)
}

// Time kinds: the zero time, then the location the time carries.
const (
	timeZero = iota
	timeUTC
	timeLocal
	timeFixed // any other location, kept as its name and offset at that instant
)

// Time appends t as Unix seconds and nanoseconds with its location: UTC, the
// process's Local, or the zone name and offset in force at t (event times
// carry the offset they were written with, and a later Year or Hour of them
// must not change). A monotonic clock reading is not kept.
func (e *Enc) Time(t time.Time) {
	if t == (time.Time{}) {
		e.Uvarint(timeZero)
		return
	}
	switch t.Location() {
	case time.UTC:
		e.Uvarint(timeUTC)
	case time.Local:
		e.Uvarint(timeLocal)
	default:
		e.Uvarint(timeFixed)
	}
	e.Varint(t.Unix())
	e.Uvarint(uint64(t.Nanosecond()))
	if l := t.Location(); l != time.UTC && l != time.Local {
		name, off := t.Zone()
		e.Varint(int64(off))
		e.String(name)
	}
}

// Dec reads values from a section's payload. The first problem sticks: every
// later read returns a zero value, and Err reports it wrapped in the format's
// corrupt error. No read panics or allocates more than the payload holds.
type Dec struct {
	b       []byte
	err     error
	corrupt error
	what    string
	zones   map[zoneKey]*time.Location
}

type zoneKey struct {
	name string
	off  int
}

// NewDec reads payload, the section named what; problems wrap corrupt.
func NewDec(payload []byte, corrupt error, what string) *Dec {
	return &Dec{b: payload, corrupt: corrupt, what: what}
}

// Fail records a problem, unless one is recorded already.
func (d *Dec) Fail(format string, args ...any) {
	if d.err == nil {
		d.err = fmt.Errorf("%w: %s: %s", d.corrupt, d.what, fmt.Sprintf(format, args...))
		d.b = nil
	}
}

// Err is the first problem, or nil.
func (d *Dec) Err() error { return d.err }

// Done is Err, or a problem if bytes are left over: a section is read whole.
func (d *Dec) Done() error {
	if d.err == nil && len(d.b) > 0 {
		d.Fail("%d bytes left over", len(d.b))
	}
	return d.err
}

// Remaining is the count of unread bytes.
func (d *Dec) Remaining() int { return len(d.b) }

// Uvarint reads a varint.
func (d *Dec) Uvarint() uint64 {
	x, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.Fail("bad varint")
		return 0
	}
	d.b = d.b[n:]
	return x
}

// Varint reads a zig-zag varint.
func (d *Dec) Varint() int64 {
	x, n := binary.Varint(d.b)
	if n <= 0 {
		d.Fail("bad varint")
		return 0
	}
	d.b = d.b[n:]
	return x
}

// Uint reads a varint that must be at most max.
func (d *Dec) Uint(max uint64, what string) uint64 {
	x := d.Uvarint()
	if x > max {
		d.Fail("%s %d is over %d", what, x, max)
		return 0
	}
	return x
}

// Int reads a zig-zag varint that must lie in [lo, hi].
func (d *Dec) Int(lo, hi int64, what string) int64 {
	x := d.Varint()
	if x < lo || x > hi {
		d.Fail("%s %d is outside %d..%d", what, x, lo, hi)
		return 0
	}
	return x
}

// Len reads a count of items that take at least one byte each: at most max
// and at most the bytes left, so that a damaged count never makes a large
// allocation.
func (d *Dec) Len(max int, what string) int {
	n := d.Uvarint()
	if n > uint64(max) || n > uint64(len(d.b)) {
		d.Fail("%s count %d is over its limit or the bytes left", what, n)
		return 0
	}
	return int(n)
}

// U64 reads 8 bytes.
func (d *Dec) U64() uint64 {
	if len(d.b) < 8 {
		d.Fail("truncated")
		return 0
	}
	x := binary.LittleEndian.Uint64(d.b)
	d.b = d.b[8:]
	return x
}

// F64 reads a float written by Enc.F64.
func (d *Dec) F64() float64 { return math.Float64frombits(bits.ReverseBytes64(d.Uvarint())) }

// Bool reads a byte that must be 0 or 1.
func (d *Dec) Bool() bool {
	if len(d.b) < 1 {
		d.Fail("truncated")
		return false
	}
	x := d.b[0]
	d.b = d.b[1:]
	if x > 1 {
		d.Fail("bad boolean %d", x)
	}
	return x == 1
}

// String reads a string of at most max bytes.
func (d *Dec) String(max int) string {
	n := d.Uvarint()
	if n > uint64(max) || n > uint64(len(d.b)) {
		d.Fail("string length %d is over its limit or the bytes left", n)
		return ""
	}
	s := string(d.b[:n])
	d.b = d.b[n:]
	return s
}

// Time reads a time written by Enc.Time.
func (d *Dec) Time() time.Time {
	kind := d.Uvarint()
	if kind == timeZero || d.err != nil {
		return time.Time{}
	}
	sec := d.Varint()
	nsec := d.Uint(999_999_999, "nanoseconds")
	t := time.Unix(sec, int64(nsec))
	switch kind {
	case timeUTC:
		return t.UTC()
	case timeLocal:
		return t.Local()
	case timeFixed:
		off := int(d.Int(-26*3600, 26*3600, "zone offset"))
		name := d.String(64)
		if d.err != nil {
			return time.Time{}
		}
		k := zoneKey{name, off}
		loc := d.zones[k]
		if loc == nil {
			loc = time.FixedZone(name, off)
			if d.zones == nil {
				d.zones = map[zoneKey]*time.Location{}
			}
			if len(d.zones) < 256 { // event times carry a handful of offsets
				d.zones[k] = loc
			}
		}
		return t.In(loc)
	}
	d.Fail("bad time kind %d", kind)
	return time.Time{}
}

// Bytes returns the next n bytes of the payload, not copied; nil when fewer
// are left.
func (d *Dec) Bytes(n int) []byte {
	if n < 0 || n > len(d.b) {
		d.Fail("truncated")
		return nil
	}
	b := d.b[:n:n]
	d.b = d.b[n:]
	return b
}
