package event

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ronda-watch/ronda/analyzer/snapshot"
)

// idStream is a seeded run of ids with repeats (some soon, some after the
// window), times mostly in order with stragglers behind the latest, and a few
// far in the past.
func idStream(seed uint64, n int) []seenCall {
	r := rand.New(rand.NewPCG(seed, 1))
	var calls []seenCall
	sec := 0.0
	for i := range n {
		sec += r.ExpFloat64() * 3
		c := seenCall{id: fmt.Sprintf("ev-%d", i), at: at(sec)}
		switch p := r.IntN(100); {
		case p < 15 && i > 0: // resent soon
			c.id = calls[r.IntN(len(calls))].id
		case p < 20 && i > 0: // resent with its own old time
			c = calls[len(calls)-1-r.IntN(min(len(calls), 50))]
		case p < 25: // a straggler
			c.at = at(sec - r.Float64()*600)
		case p < 26: // far behind the window
			c.at = at(sec - 3*3600)
		}
		calls = append(calls, c)
	}
	return calls
}

type seenCall struct {
	id string
	at time.Time
}

// scenarioIDs returns public-small's ids and times in file order, or nil when
// ../shared is absent.
func scenarioIDs(t *testing.T) []seenCall {
	dir := os.Getenv("RONDA_SHARED")
	if dir == "" {
		dir = filepath.Join("..", "..", "..", "shared")
	}
	f, err := os.Open(filepath.Join(dir, "scenarios", "public-small", "events.ndjson.gz"))
	if err != nil {
		return nil
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	rd, err := NewReader(zr)
	if err != nil {
		t.Fatal(err)
	}
	var calls []seenCall
	for {
		ev, err := rd.Next()
		if errors.Is(err, io.EOF) {
			return calls
		}
		if err != nil {
			continue
		}
		calls = append(calls, seenCall{ev.ID, ev.At})
	}
}

// withResends repeats every 40th call a few calls later, as a sender that
// retries a batch does.
func withResends(calls []seenCall) []seenCall {
	if calls == nil {
		return nil
	}
	var out []seenCall
	for i, c := range calls {
		out = append(out, c)
		if j := i - 7; j >= 0 && j%40 == 0 {
			out = append(out, calls[j])
		}
	}
	return out
}

// dedupRun feeds calls to d, and at each cut replaces d by the Deduper read
// back from its checkpoint; it returns the indexes of the calls dropped.
func dedupRun(t *testing.T, d *Deduper, calls []seenCall, cuts []int) ([]int, DedupStats) {
	t.Helper()
	var dropped []int
	for i, c := range calls {
		if slices.Contains(cuts, i) {
			var buf bytes.Buffer
			if err := d.WriteCheckpoint(&buf); err != nil {
				t.Fatal(err)
			}
			var err error
			if d, err = ReadDeduper(&buf); err != nil {
				t.Fatalf("at call %d: %v", i, err)
			}
			if buf.Len() != 0 {
				t.Fatalf("ReadDeduper left %d bytes unread", buf.Len())
			}
		}
		if d.Seen(c.id, c.at) {
			dropped = append(dropped, i)
		}
	}
	return dropped, d.Stats()
}

func TestDeduperCheckpointEquivalence(t *testing.T) {
	t.Parallel()
	synthetic := idStream(7, 20000)
	public := withResends(scenarioIDs(t))
	cases := []struct {
		name     string
		calls    []seenCall
		window   time.Duration
		capacity int
	}{
		{"window and capacity", synthetic, time.Hour, 2000},
		{"window only", synthetic, 30 * time.Minute, 0},
		{"capacity only", synthetic, 0, 500},
		{"public-small", public, 24 * time.Hour, 1_000_000},
		{"public-small, small capacity", public, 24 * time.Hour, 3000},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if tc.calls == nil {
				t.Skip("../shared/scenarios not available (set RONDA_SHARED)")
			}
			r := rand.New(rand.NewPCG(uint64(len(tc.calls)), uint64(tc.capacity)))
			cuts := []int{0, len(tc.calls) / 2}
			for range 5 {
				cuts = append(cuts, r.IntN(len(tc.calls)))
			}
			want, wantStats := dedupRun(t, NewDeduper(tc.window, tc.capacity), tc.calls, nil)
			got, gotStats := dedupRun(t, NewDeduper(tc.window, tc.capacity), tc.calls, cuts)
			if !slices.Equal(got, want) {
				t.Errorf("restored at %v: %d calls dropped, uninterrupted %d", cuts, len(got), len(want))
			}
			if gotStats != wantStats {
				t.Errorf("stats %+v, uninterrupted %+v", gotStats, wantStats)
			}
			if wantStats.Duplicates == 0 || wantStats.Live == 0 {
				t.Errorf("the run tests little: %+v", wantStats)
			}
		})
	}
}

// checkpointOf returns d's checkpoint after feeding it calls.
func checkpointOf(t testing.TB, d *Deduper, calls []seenCall) []byte {
	for _, c := range calls {
		d.Seen(c.id, c.at)
	}
	var buf bytes.Buffer
	if err := d.WriteCheckpoint(&buf); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestDeduperCheckpointStable(t *testing.T) {
	t.Parallel()
	d := NewDeduper(time.Hour, 2000)
	a := checkpointOf(t, d, idStream(3, 5000))
	b := checkpointOf(t, d, nil)
	if !bytes.Equal(a, b) {
		t.Fatal("two checkpoints of one state differ")
	}
	r, err := ReadDeduper(bytes.NewReader(a))
	if err != nil {
		t.Fatal(err)
	}
	if c := checkpointOf(t, r, nil); !bytes.Equal(a, c) {
		t.Fatal("the checkpoint of a restored Deduper differs from the one it was read from")
	}
	if r.Stats() != d.Stats() {
		t.Fatalf("restored stats %+v, want %+v", r.Stats(), d.Stats())
	}
}

// TestDeduperCheckpointHoldsNoIDs: only keyed hashes are kept.
func TestDeduperCheckpointHoldsNoIDs(t *testing.T) {
	t.Parallel()
	calls := idStream(5, 300)
	cp := checkpointOf(t, NewDeduper(time.Hour, 0), calls)
	for _, c := range calls {
		if bytes.Contains(cp, []byte(c.id)) {
			t.Fatalf("checkpoint holds id %q in the clear", c.id)
		}
	}
}

func TestDeduperCheckpointDamaged(t *testing.T) {
	t.Parallel()
	good := checkpointOf(t, NewDeduper(time.Hour, 100), idStream(9, 300))
	for _, tc := range damagedCopies(good) {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			d, err := ReadDeduper(bytes.NewReader(tc.data))
			if d != nil || !errors.Is(err, tc.want) {
				t.Fatalf("got %v, %v; want nil and %v", d, err, tc.want)
			}
			if !strings.HasPrefix(err.Error(), "read dedup checkpoint: ") {
				t.Errorf("error %q does not say what it read", err)
			}
		})
	}
}

type damaged struct {
	name string
	data []byte
	want error
}

// damagedCopies: every truncation, every byte flipped, another magic, the
// next version with a valid header checksum.
func damagedCopies(good []byte) []damaged {
	var out []damaged
	for n := 0; n < len(good); n++ {
		out = append(out, damaged{fmt.Sprintf("truncated to %d", n), good[:n], ErrCheckpointCorrupt})
	}
	for i := range good {
		b := bytes.Clone(good)
		b[i] ^= 0x10
		out = append(out, damaged{fmt.Sprintf("byte %d flipped", i), b, ErrCheckpointCorrupt})
	}
	b := bytes.Clone(good)
	copy(b, "RONDAENG")
	out = append(out, damaged{"engine magic", b, ErrCheckpointCorrupt})
	b = bytes.Clone(good)
	binary.LittleEndian.PutUint32(b[8:], DedupCheckpointVersion+1)
	binary.LittleEndian.PutUint32(b[12:], crc32.Checksum(b[:12], crc32.MakeTable(crc32.Castagnoli)))
	out = append(out, damaged{"next version", b, ErrCheckpointVersion})
	return out
}

func TestDeduperCheckpointVersionMessage(t *testing.T) {
	t.Parallel()
	good := checkpointOf(t, NewDeduper(time.Hour, 100), idStream(9, 10))
	d := damagedCopies(good)
	_, err := ReadDeduper(bytes.NewReader(d[len(d)-1].data))
	want := "found format version 2, this build reads version 1 only"
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("error %v, want it to say %q", err, want)
	}
}

// FuzzReadDeduper: any input is read or refused without a panic; what is read
// writes back to a checkpoint that reads as the same state, and keeps working.
// mode 0 reads data as it is; mode 1 reseals its checksums first, since a
// fuzzer seldom guesses a CRC; mode 2 and up puts data as the payload of
// section mode-2 of a good checkpoint.
func FuzzReadDeduper(f *testing.F) {
	var good []byte
	for _, tc := range []struct {
		window time.Duration
		cap    int
		n      int
	}{{time.Hour, 100, 300}, {0, 50, 100}, {time.Minute, 0, 200}, {time.Hour, 10, 0}} {
		cp := checkpointOf(f, NewDeduper(tc.window, tc.cap), idStream(uint64(tc.n), tc.n))
		if good == nil {
			good = cp
		}
		f.Add(cp, uint8(0))
		f.Add(cp[:len(cp)/2], uint8(0))
		b := bytes.Clone(cp)
		b[len(b)/3] ^= 4
		f.Add(b, uint8(0))
		f.Add(b, uint8(1))
	}
	for i, off := 0, 16; i < 3; i++ {
		end := off + 9 + int(binary.LittleEndian.Uint64(good[off+1:]))
		f.Add(bytes.Clone(good[off+9:end]), uint8(2+i))
		off = end + 4
	}
	f.Fuzz(func(t *testing.T, data []byte, mode uint8) {
		switch {
		case mode == 1:
			snapshot.Reseal(data)
		case mode >= 2:
			data = snapshot.Replace(good, int(mode-2)%3, data)
		}
		d, err := ReadDeduper(bytes.NewReader(data))
		if err != nil {
			if d != nil {
				t.Fatal("a Deduper returned with an error")
			}
			if !errors.Is(err, ErrCheckpointCorrupt) && !errors.Is(err, ErrCheckpointVersion) {
				t.Fatalf("error %v is neither corrupt nor version", err)
			}
			return
		}
		once := checkpointOf(t, d, nil)
		d2, err := ReadDeduper(bytes.NewReader(once))
		if err != nil {
			t.Fatalf("a checkpoint written from a restored Deduper does not read: %v", err)
		}
		if twice := checkpointOf(t, d2, nil); !bytes.Equal(once, twice) {
			t.Fatal("written, read and written again, the checkpoint differs")
		}
		for _, c := range idStream(1, 50) {
			d.Seen(c.id, c.at)
		}
	})
}
