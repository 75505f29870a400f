package snapshot

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"math"
	"runtime"
	"testing"
	"time"
)

var (
	errCorrupt = errors.New("corrupt")
	errOld     = errors.New("old")
	testFormat = Format{Magic: "RONDATST", Version: 3, Corrupt: errCorrupt, Old: errOld}
)

func TestValuesRoundTrip(t *testing.T) {
	t.Parallel()
	jakarta := time.FixedZone("", 7*3600)
	india := time.FixedZone("", 5*3600+1800)
	named, err := time.LoadLocation("Asia/Makassar")
	if err != nil {
		t.Skip("no time zone database:", err)
	}
	base := time.Date(2025, 12, 31, 23, 30, 0, 123, time.UTC)
	times := []struct {
		name string
		t    time.Time
	}{
		{"zero", time.Time{}},
		{"utc", base},
		{"local", base.Local()},
		{"fixed +07:00", base.In(jakarta)},
		{"fixed +05:30", base.In(india)},
		{"before 1970", time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC)},
		{"year 1", time.Date(1, 1, 1, 0, 0, 0, 1, time.UTC)},
		{"named zone", base.In(named)},
	}
	var e Enc
	for _, tc := range times {
		e.Time(tc.t)
	}
	floats := []float64{0, 0.5, 0.35, -1, math.MaxFloat64, math.SmallestNonzeroFloat64, math.Inf(1)}
	for _, f := range floats {
		e.F64(f)
	}
	e.String("héllo")
	e.Bool(true)
	e.Varint(math.MinInt64)
	e.U64(math.MaxUint64)

	d := NewDec(e.B, errCorrupt, "test")
	for _, tc := range times {
		got := d.Time()
		if !got.Equal(tc.t) {
			t.Errorf("%s: read %v, wrote %v", tc.name, got, tc.t)
		}
		gn, go_ := got.Zone()
		wn, wo := tc.t.Zone()
		if tc.name != "named zone" && got.Location().String() != tc.t.Location().String() {
			t.Errorf("%s: location %v, wrote %v", tc.name, got.Location(), tc.t.Location())
		}
		if gn != wn || go_ != wo || got.Year() != tc.t.Year() || got.Hour() != tc.t.Hour() {
			t.Errorf("%s: zone %s%+d, year %d, hour %d; wrote %s%+d, %d, %d", tc.name, gn, go_, got.Year(), got.Hour(), wn, wo, tc.t.Year(), tc.t.Hour())
		}
	}
	for _, f := range floats {
		if got := d.F64(); got != f {
			t.Errorf("float %v read as %v", f, got)
		}
	}
	if s := d.String(16); s != "héllo" {
		t.Errorf("string %q", s)
	}
	if !d.Bool() || d.Varint() != math.MinInt64 || d.U64() != math.MaxUint64 {
		t.Error("bool, varint or u64 misread")
	}
	if err := d.Done(); err != nil {
		t.Fatal(err)
	}
}

func TestDecBounds(t *testing.T) {
	t.Parallel()
	var e Enc
	e.Uvarint(1 << 40) // a count far beyond the bytes
	cases := []struct {
		name string
		read func(d *Dec)
	}{
		{"count over the bytes left", func(d *Dec) { d.Len(math.MaxInt, "items") }},
		{"string over the bytes left", func(d *Dec) { d.String(math.MaxInt) }},
		{"value over its limit", func(d *Dec) { d.Uint(10, "value") }},
		{"bytes", func(d *Dec) { d.Uvarint(); d.Bytes(1) }},
		{"fixed word", func(d *Dec) { d.Uvarint(); d.U64() }},
	}
	for _, tc := range cases {
		d := NewDec(e.B, errCorrupt, "test")
		tc.read(d)
		if !errors.Is(d.Err(), errCorrupt) {
			t.Errorf("%s: error %v, want corrupt", tc.name, d.Err())
		}
	}
	if d := NewDec(e.B, errCorrupt, "test"); d.Done() == nil {
		t.Error("bytes left over are not an error")
	}
}

func TestSections(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	w := NewWriter(&buf, testFormat)
	w.Section('A', []byte("first"))
	w.Section('B', nil)
	w.End()
	buf.WriteString("next checkpoint")
	r, err := Open(&buf, testFormat)
	if err != nil {
		t.Fatal(err)
	}
	if p, err := r.Section('A'); err != nil || string(p) != "first" {
		t.Fatalf("section A: %q, %v", p, err)
	}
	if _, err := r.Section('C'); !errors.Is(err, errCorrupt) {
		t.Fatalf("section B read as C: %v", err)
	}
	if err := r.End(); err != nil {
		t.Fatal(err)
	}
	if buf.String() != "next checkpoint" {
		t.Fatalf("read past the end: %q left", buf.String())
	}
}

// TestNext: optional sections are read in turn whatever their tag, each
// checked, and a damaged one is corrupt.
func TestNext(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	w := NewWriter(&buf, testFormat)
	w.Section('A', []byte("first"))
	w.Section('C', []byte("third"))
	w.End()
	good := bytes.Clone(buf.Bytes())
	r, err := Open(&buf, testFormat)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for {
		tag, p, err := r.Next()
		if err != nil {
			t.Fatal(err)
		}
		if tag == EndTag {
			break
		}
		got = append(got, string(tag)+"="+string(p))
	}
	if len(got) != 2 || got[0] != "A=first" || got[1] != "C=third" {
		t.Fatalf("sections %q", got)
	}
	bad := bytes.Clone(good)
	bad[headerLen+9] ^= 1 // the first payload byte
	r, err = Open(bytes.NewReader(bad), testFormat)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := r.Next(); !errors.Is(err, errCorrupt) {
		t.Fatalf("flipped payload: %v", err)
	}
}

// TestLyingLength: a section that claims 16 GiB and holds 10 bytes is
// refused after allocating about what is there.
func TestLyingLength(t *testing.T) {
	var buf bytes.Buffer
	NewWriter(&buf, testFormat)
	var h [9]byte
	h[0] = 'A'
	binary.LittleEndian.PutUint64(h[1:], MaxSection)
	buf.Write(h[:])
	buf.WriteString("0123456789")
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	r, err := Open(&buf, testFormat)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Section('A'); !errors.Is(err, errCorrupt) {
		t.Fatalf("got %v, want corrupt", err)
	}
	runtime.ReadMemStats(&after)
	if n := after.TotalAlloc - before.TotalAlloc; n > 4<<20 {
		t.Fatalf("allocated %d bytes for a 10-byte section", n)
	}
}

func TestHeader(t *testing.T) {
	t.Parallel()
	var good bytes.Buffer
	NewWriter(&good, testFormat)
	next := bytes.Clone(good.Bytes())
	binary.LittleEndian.PutUint32(next[8:], 4)
	binary.LittleEndian.PutUint32(next[12:], crc32.Checksum(next[:12], castagnoli))
	flipped := bytes.Clone(good.Bytes())
	flipped[9] ^= 1
	cases := []struct {
		name string
		data []byte
		want error
	}{
		{"empty", nil, errCorrupt},
		{"short", good.Bytes()[:10], errCorrupt},
		{"other magic", append([]byte("RONDAXXX"), good.Bytes()[8:]...), errCorrupt},
		{"version byte flipped", flipped, errCorrupt},
		{"next version", next, errOld},
	}
	for _, tc := range cases {
		if _, err := Open(bytes.NewReader(tc.data), testFormat); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
	if _, err := Open(bytes.NewReader(good.Bytes()), testFormat); err != nil {
		t.Errorf("good header: %v", err)
	}
}

// TestOldestVersion: a format that reads its older versions takes each from
// Oldest to Version, tells the caller which, and refuses the rest as Old.
func TestOldestVersion(t *testing.T) {
	t.Parallel()
	f := testFormat
	f.Oldest = 2
	header := func(v uint32) []byte {
		var b bytes.Buffer
		NewWriter(&b, Format{Magic: f.Magic, Version: v})
		return b.Bytes()
	}
	for v := uint32(1); v <= 4; v++ {
		r, err := Open(bytes.NewReader(header(v)), f)
		switch {
		case v >= 2 && v <= 3:
			if err != nil {
				t.Errorf("version %d: %v", v, err)
			} else if r.Version() != v {
				t.Errorf("version %d read as %d", v, r.Version())
			}
		case !errors.Is(err, errOld):
			t.Errorf("version %d: %v, want %v", v, err, errOld)
		}
	}
	if r, err := Open(bytes.NewReader(header(3)), testFormat); err != nil || r.Version() != 3 {
		t.Errorf("without Oldest, the current version: %v", err)
	}
	if _, err := Open(bytes.NewReader(header(2)), testFormat); !errors.Is(err, errOld) {
		t.Errorf("without Oldest, an older version: %v, want %v", err, errOld)
	}
}
