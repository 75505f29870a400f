package spool

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
)

// record returns a payload that names its index and whose other bytes
// depend on it, so a drained record can be checked in full.
func record(i, size int) []byte {
	size = max(size, 8)
	b := make([]byte, size)
	binary.LittleEndian.PutUint64(b, uint64(i))
	for j := 8; j < size; j++ {
		b[j] = byte(i*7 + j)
	}
	return b
}

// index checks a drained record and returns its index.
func index(t testing.TB, rec []byte) int {
	t.Helper()
	if len(rec) < 8 {
		t.Fatalf("record of %d bytes", len(rec))
	}
	i := int(binary.LittleEndian.Uint64(rec))
	if !bytes.Equal(rec, record(i, len(rec))) {
		t.Fatalf("record %d: payload differs from what was appended", i)
	}
	return i
}

func sizeOf(i int) int { return 100 + (i*37)%900 }

func open(t testing.TB, opts Options) *Spool {
	t.Helper()
	s, err := Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func appendN(t testing.TB, s *Spool, from, n int) {
	t.Helper()
	for i := from; i < from+n; i++ {
		if err := s.Append(record(i, sizeOf(i))); err != nil {
			t.Fatalf("append %d: %v", i, err)
		}
	}
}

// drainAll drains s and returns the indices in the order offered.
func drainAll(t testing.TB, s *Spool) []int {
	t.Helper()
	var got []int
	if err := s.Drain(context.Background(), func(rec []byte) error {
		got = append(got, index(t, rec))
		return nil
	}); err != nil {
		t.Fatalf("drain: %v", err)
	}
	return got
}

func seq(from, to int) []int {
	var r []int
	for i := from; i < to; i++ {
		r = append(r, i)
	}
	return r
}

func segFiles(t testing.TB, dir string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, "*"+segSuffix))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

func TestAppendDrainOrderAcrossSegmentsAndReopen(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	opts := Options{Dir: dir, SegmentBytes: 4 << 10}
	s := open(t, opts)
	appendN(t, s, 0, 100)
	if st := s.Stats(); st.Segments < 5 || st.Records != 100 || s.Len() != 100 {
		t.Fatalf("after 100 appends: %+v", st)
	}
	if n := len(segFiles(t, dir)); int64(n) != s.Stats().Segments {
		t.Fatalf("%d segment files, Stats says %d", n, s.Stats().Segments)
	}

	// Drain 40, stop with an error on the 41st.
	stop := errors.New("clickhouse away")
	var got []int
	err := s.Drain(context.Background(), func(rec []byte) error {
		if len(got) == 40 {
			return stop
		}
		got = append(got, index(t, rec))
		return nil
	})
	if !errors.Is(err, stop) {
		t.Fatalf("drain returned %v, want %v", err, stop)
	}
	if !slices.Equal(got, seq(0, 40)) {
		t.Fatalf("first drain: %v", got)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = open(t, opts)
	if s.Len() != 60 {
		t.Fatalf("after reopen Len %d, want 60", s.Len())
	}
	appendN(t, s, 100, 20)
	got = drainAll(t, s)
	if !slices.Equal(got, seq(40, 120)) {
		t.Fatalf("after reopen drained %v", got)
	}
	st := s.Stats()
	if st.Records != 0 || st.Segments != 0 || st.Bytes != 0 || st.Drained != 80 || st.Appended != 20 {
		t.Fatalf("empty spool stats: %+v", st)
	}
	if f := segFiles(t, dir); len(f) != 0 {
		t.Fatalf("segments left after draining: %v", f)
	}
	// Sequence numbers keep increasing after everything was deleted.
	appendN(t, s, 120, 1)
	if f := segFiles(t, dir); len(f) != 1 || filepath.Base(f[0]) <= segName(2) {
		t.Fatalf("new segment after drain: %v", f)
	}
}

func TestDrainErrorKeepsRecord(t *testing.T) {
	t.Parallel()
	s := open(t, Options{Dir: t.TempDir(), NoSync: true})
	appendN(t, s, 0, 10)
	fail := errors.New("insert failed")
	calls := 0
	for range 3 {
		err := s.Drain(context.Background(), func(rec []byte) error {
			calls++
			if index(t, rec) == 5 {
				return fail
			}
			return nil
		})
		if err != fail {
			t.Fatalf("drain returned %v, want the fn error unwrapped", err)
		}
		if s.Len() != 5 {
			t.Fatalf("Len %d after failing on record 5", s.Len())
		}
	}
	if calls != 6+1+1 {
		t.Fatalf("fn called %d times, want 8 (record 5 offered three times)", calls)
	}
	if got := drainAll(t, s); !slices.Equal(got, seq(5, 10)) {
		t.Fatalf("drained %v", got)
	}
}

func TestDrainContextAndClose(t *testing.T) {
	t.Parallel()
	s := open(t, Options{Dir: t.TempDir(), NoSync: true})
	appendN(t, s, 0, 3)
	ctx, cancel := context.WithCancel(context.Background())
	err := s.Drain(ctx, func(rec []byte) error {
		cancel()
		return nil
	})
	if !errors.Is(err, context.Canceled) || s.Len() != 2 {
		t.Fatalf("drain with cancelled ctx: %v, Len %d", err, s.Len())
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second close: %v", err)
	}
	if err := s.Append([]byte("x")); !errors.Is(err, ErrClosed) {
		t.Fatalf("append after close: %v", err)
	}
	if err := s.Drain(context.Background(), func([]byte) error { return nil }); !errors.Is(err, ErrClosed) {
		t.Fatalf("drain after close: %v", err)
	}
	var nilSpool *Spool
	if err := nilSpool.Close(); err != nil {
		t.Fatalf("close on nil: %v", err)
	}
}

func TestAckDeletesDrainedSegments(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := open(t, Options{Dir: dir, SegmentBytes: 2 << 10, NoSync: true})
	appendN(t, s, 0, 30)
	first := segFiles(t, dir)
	if len(first) < 3 {
		t.Fatalf("want several segments, have %v", first)
	}
	n := 0
	err := s.Drain(context.Background(), func(rec []byte) error {
		if _, err := os.Stat(first[0]); n > 0 && err == nil && s.Stats().Segments < int64(len(first)) {
			t.Errorf("segment %s still on disk after it was drained", first[0])
		}
		n++
		if n == 15 {
			return errors.New("stop")
		}
		return nil
	})
	if err == nil {
		t.Fatal("want the stop error")
	}
	left := segFiles(t, dir)
	if len(left) >= len(first) || int64(len(left)) != s.Stats().Segments {
		t.Fatalf("segments before %d, after draining 14 records %d (Stats %d)", len(first), len(left), s.Stats().Segments)
	}
	for _, f := range first[:len(first)-len(left)] {
		if _, err := os.Stat(f); !errors.Is(err, os.ErrNotExist) {
			t.Fatalf("drained segment %s still there: %v", f, err)
		}
	}
	drainAll(t, s)
	if left := segFiles(t, dir); len(left) != 0 {
		t.Fatalf("segments after full drain: %v", left)
	}
}

func TestConcurrentAppendDuringDrain(t *testing.T) {
	t.Parallel()
	s := open(t, Options{Dir: t.TempDir(), SegmentBytes: 8 << 10, NoSync: true})
	const n = 3000
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := range n {
			if err := s.Append(record(i, sizeOf(i))); err != nil {
				t.Errorf("append %d: %v", i, err)
				return
			}
		}
	})
	var got []int
	for len(got) < n && !t.Failed() {
		if err := s.Drain(context.Background(), func(rec []byte) error {
			got = append(got, index(t, rec))
			_ = s.Stats()
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	wg.Wait()
	if !slices.Equal(got, seq(0, n)) {
		t.Fatalf("drained %d records out of order or with gaps", len(got))
	}
	if st := s.Stats(); st.Records != 0 || st.Appended != n || st.Drained != n {
		t.Fatalf("stats: %+v", st)
	}
}

func TestRejectNewAtMaxBytes(t *testing.T) {
	t.Parallel()
	s := open(t, Options{Dir: t.TempDir(), SegmentBytes: 4 << 10, MaxBytes: 16 << 10, NoSync: true})
	i := 0
	for ; ; i++ {
		err := s.Append(record(i, sizeOf(i)))
		if errors.Is(err, ErrFull) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	st := s.Stats()
	if st.Bytes > 16<<10 || st.Bytes+int64(headerSize+sizeOf(i)) <= 16<<10 {
		t.Fatalf("ErrFull at %d bytes for a record of %d", st.Bytes, sizeOf(i))
	}
	if st.DroppedRecords != 0 {
		t.Fatalf("RejectNew dropped records: %+v", st)
	}
	if err := s.Append(make([]byte, 20<<10)); !errors.Is(err, ErrFull) {
		t.Fatalf("record above MaxBytes: %v", err)
	}
	if err := s.Append(make([]byte, MaxRecordBytes+1)); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("record above MaxRecordBytes: %v", err)
	}
	if got := drainAll(t, s); !slices.Equal(got, seq(0, i)) {
		t.Fatalf("drained %v, want 0..%d", got, i-1)
	}
	if err := s.Append(record(i, sizeOf(i))); err != nil {
		t.Fatalf("append after drain: %v", err)
	}
}

func TestDropOldestDropsWholeSegments(t *testing.T) {
	t.Parallel()
	var logs syncBuffer
	s := open(t, Options{Dir: t.TempDir(), SegmentBytes: 4 << 10, MaxBytes: 16 << 10, Full: DropOldest, NoSync: true,
		Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	const n = 200
	appendN(t, s, 0, n)
	st := s.Stats()
	if st.Bytes > 16<<10 {
		t.Fatalf("Bytes %d above MaxBytes", st.Bytes)
	}
	if st.DroppedRecords == 0 || st.DroppedBytes == 0 {
		t.Fatalf("nothing dropped: %+v", st)
	}
	got := drainAll(t, s)
	first := n - len(got)
	if int64(first) != st.DroppedRecords || !slices.Equal(got, seq(first, n)) {
		t.Fatalf("dropped %d, drained %d records starting at %d", st.DroppedRecords, len(got), got[0])
	}
	var dropped int64
	for i := range first {
		dropped += int64(headerSize + sizeOf(i))
	}
	if dropped != st.DroppedBytes {
		t.Fatalf("DroppedBytes %d, records 0..%d take %d", st.DroppedBytes, first-1, dropped)
	}
	if !strings.Contains(logs.String(), "dropped oldest segment") {
		t.Fatalf("no log line for the drop:\n%s", logs.String())
	}
}

func TestTornTailIsTruncatedNotCorrupt(t *testing.T) {
	t.Parallel()
	tails := []struct {
		name string
		tail func(full []byte) []byte
	}{
		{"half header", func(full []byte) []byte { return full[:5] }},
		{"header only", func(full []byte) []byte { return full[:headerSize] }},
		{"half payload", func(full []byte) []byte { return full[:headerSize+50] }},
		{"zeros", func(full []byte) []byte { return make([]byte, 4096) }},
	}
	for _, tc := range tails {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			opts := Options{Dir: dir, SegmentBytes: 4 << 10}
			s := open(t, opts)
			appendN(t, s, 0, 20)
			s.Close()

			rec := record(20, 200)
			full := make([]byte, headerSize+len(rec))
			putHeader(full, rec)
			copy(full[headerSize:], rec)
			segs := segFiles(t, dir)
			f, err := os.OpenFile(segs[len(segs)-1], os.O_WRONLY|os.O_APPEND, 0)
			if err != nil {
				t.Fatal(err)
			}
			torn := tc.tail(full)
			f.Write(torn)
			f.Close()

			s = open(t, opts)
			st := s.Stats()
			if st.TornRecords != 1 || st.TornBytes != int64(len(torn)) || st.Corrupt != 0 || st.Quarantined != 0 {
				t.Fatalf("stats after torn tail: %+v", st)
			}
			if got := drainAll(t, s); !slices.Equal(got, seq(0, 20)) {
				t.Fatalf("drained %v", got)
			}
		})
	}
}

func TestCorruptSegmentIsQuarantined(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	var logs syncBuffer
	opts := Options{Dir: dir, SegmentBytes: 10 * (headerSize + 300), Logger: slog.New(slog.NewTextHandler(&logs, nil))}
	s := open(t, opts)
	for i := range 30 { // three segments of ten records
		if err := s.Append(record(i, 300)); err != nil {
			t.Fatal(err)
		}
	}
	// Drain two records so the cursor sits inside the damaged segment's
	// predecessor, as in real life.
	n := 0
	s.Drain(context.Background(), func([]byte) error {
		if n++; n > 2 {
			return errors.New("stop")
		}
		return nil
	})
	s.Close()
	segs := segFiles(t, dir)
	if len(segs) != 3 {
		t.Fatalf("want 3 segments, have %v", segs)
	}
	// Flip a byte in the payload of the 6th record of the middle segment.
	bad := segs[1]
	b, err := os.ReadFile(bad)
	if err != nil {
		t.Fatal(err)
	}
	badOff := 5 * (headerSize + 300)
	b[badOff+headerSize+150] ^= 0x40
	if err := os.WriteFile(bad, b, 0o600); err != nil {
		t.Fatal(err)
	}

	s = open(t, opts)
	st := s.Stats()
	if st.Quarantined != 1 || st.Corrupt != 1 || st.QuarantinedBytes != int64(len(b)-badOff) || st.TornRecords != 0 {
		t.Fatalf("stats: %+v", st)
	}
	q := filepath.Join(dir, quarDir, filepath.Base(bad))
	qb, err := os.ReadFile(q)
	if err != nil || !bytes.Equal(qb, b) {
		t.Fatalf("quarantined file %s: %v (same bytes %v)", q, err, bytes.Equal(qb, b))
	}
	log := logs.String()
	if !strings.Contains(log, "quarantined") || !strings.Contains(log, filepath.Base(bad)) || !strings.Contains(log, "offset=1560") {
		t.Fatalf("log does not name the file and offset:\n%s", log)
	}
	want := append(seq(2, 15), seq(20, 30)...)
	if got := drainAll(t, s); !slices.Equal(got, want) {
		t.Fatalf("drained %v, want %v", got, want)
	}
	s.Close()

	// The quarantine survives another restart and is not scanned again.
	s = open(t, opts)
	if st := s.Stats(); st.Quarantined != 0 || st.Records != 0 {
		t.Fatalf("second reopen: %+v", st)
	}
	appendN(t, s, 30, 1)
	if got := drainAll(t, s); !slices.Equal(got, []int{30}) {
		t.Fatalf("after quarantine: %v", got)
	}
}

func TestCorruptionFoundWhileDraining(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := open(t, Options{Dir: dir, SegmentBytes: 10 * (headerSize + 300), NoSync: true})
	for i := range 20 {
		if err := s.Append(record(i, 300)); err != nil {
			t.Fatal(err)
		}
	}
	segs := segFiles(t, dir)
	f, err := os.OpenFile(segs[0], os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteAt([]byte{0xff}, 3*(headerSize+300)+headerSize+7)
	f.Close()
	got := drainAll(t, s)
	if want := append(seq(0, 3), seq(10, 20)...); !slices.Equal(got, want) {
		t.Fatalf("drained %v, want %v", got, want)
	}
	if st := s.Stats(); st.Quarantined != 1 || st.Corrupt != 1 || st.Records != 0 || st.Segments != 0 {
		t.Fatalf("stats: %+v", st)
	}
	if _, err := os.Stat(filepath.Join(dir, quarDir, filepath.Base(segs[0]))); err != nil {
		t.Fatal(err)
	}
}

func TestReopenAfterCleanCloseRedeliversNothing(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	opts := Options{Dir: dir, SegmentBytes: 4 << 10}
	for round := range 5 {
		s := open(t, opts)
		appendN(t, s, round*10, 10)
		n := 0
		s.Drain(context.Background(), func(rec []byte) error {
			if n == 7 {
				return errors.New("stop")
			}
			if got, want := index(t, rec), round*10-round*3+n; got != want {
				t.Fatalf("round %d: offered %d, want %d", round, got, want)
			}
			n++
			return nil
		})
		s.Close()
	}
}

func TestOpenRejectsBadOptionsAndSecondOpen(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for _, tc := range []struct {
		name string
		opts Options
	}{
		{"no dir", Options{}},
		{"tiny segment", Options{Dir: dir, SegmentBytes: 4}},
		{"max below segment", Options{Dir: dir, SegmentBytes: 1 << 20, MaxBytes: 1 << 10}},
		{"unknown policy", Options{Dir: dir, Full: 7}},
	} {
		if _, err := Open(tc.opts); err == nil {
			t.Errorf("%s: Open accepted %+v", tc.name, tc.opts)
		}
	}
	s := open(t, Options{Dir: dir})
	if _, err := Open(Options{Dir: dir}); !errors.Is(err, ErrLocked) {
		t.Fatalf("second Open of one dir: %v", err)
	}
	s.Close()
	s2 := open(t, Options{Dir: dir})
	s2.Close()
}

func TestBadCursorRedeliversRatherThanLoses(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	opts := Options{Dir: dir}
	s := open(t, opts)
	appendN(t, s, 0, 10)
	n := 0
	s.Drain(context.Background(), func([]byte) error {
		if n++; n > 4 {
			return errors.New("stop")
		}
		return nil
	})
	s.Close()
	if err := os.WriteFile(filepath.Join(dir, cursorName), []byte("garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	s = open(t, opts)
	if got := drainAll(t, s); !slices.Equal(got, seq(0, 10)) {
		t.Fatalf("drained %v", got)
	}
}
