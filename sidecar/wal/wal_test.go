package wal

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func open(t *testing.T, o Options) *Log {
	t.Helper()
	l, err := Open(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

func appendN(t *testing.T, l *Log, from, n int) {
	t.Helper()
	for i := from; i < from+n; i++ {
		seq, err := l.Append(payload(i))
		if err != nil {
			t.Fatal(err)
		}
		if err := l.WaitDurable(seq); err != nil {
			t.Fatal(err)
		}
	}
}

func payload(i int) []byte {
	return []byte(fmt.Sprintf("batch %d %s", i, bytes.Repeat([]byte{'x'}, i%50)))
}

func replayAll(t *testing.T, l *Log, after uint64) (seqs []uint64, ps [][]byte) {
	t.Helper()
	err := l.Replay(after, func(seq uint64, p []byte) error {
		seqs = append(seqs, seq)
		ps = append(ps, bytes.Clone(p))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return seqs, ps
}

func TestAppendReopenReplay(t *testing.T) {
	dir := t.TempDir()
	l := open(t, Options{Dir: dir, SegmentBytes: 300})
	appendN(t, l, 0, 40)
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatalf("second close: %v", err)
	}
	l = open(t, Options{Dir: dir, SegmentBytes: 300})
	r := l.Report()
	if r.Records != 40 || r.First != 1 || r.Last != 40 || r.Torn+r.Corrupt != 0 || r.Segments < 5 {
		t.Fatalf("report %+v", r)
	}
	seqs, ps := replayAll(t, l, 15)
	if len(seqs) != 25 || seqs[0] != 16 || !bytes.Equal(ps[0], payload(15)) || !bytes.Equal(ps[24], payload(39)) {
		t.Fatalf("replay after 15: %d records from %v", len(seqs), seqs[:1])
	}
	// New appends continue the numbering in a new segment.
	seq, err := l.Append([]byte("after"))
	if err != nil || seq != 41 {
		t.Fatalf("append after reopen: seq %d, %v", seq, err)
	}
}

func TestLockedDirectory(t *testing.T) {
	dir := t.TempDir()
	open(t, Options{Dir: dir})
	if _, err := Open(Options{Dir: dir}); !errors.Is(err, ErrLocked) {
		t.Fatalf("second open: %v, want ErrLocked", err)
	}
}

func lastSegment(t *testing.T, dir string) string {
	t.Helper()
	m, _ := filepath.Glob(filepath.Join(dir, "*"+segSuffix))
	if len(m) == 0 {
		t.Fatal("no segments")
	}
	return m[len(m)-1]
}

func TestTornTailCut(t *testing.T) {
	dir := t.TempDir()
	l := open(t, Options{Dir: dir})
	appendN(t, l, 0, 10)
	l.Close()
	seg := lastSegment(t, dir)
	st, _ := os.Stat(seg)
	// A crash in the middle of the 11th write: half a record.
	f, _ := os.OpenFile(seg, os.O_WRONLY|os.O_APPEND, 0)
	f.Write(appendRecord(nil, 11, payload(10))[:15])
	f.Close()

	reg := prometheus.NewRegistry()
	l = open(t, Options{Dir: dir, Registerer: reg})
	r := l.Report()
	if r.Torn != 1 || r.Records != 10 || r.CutBytes != 15 {
		t.Fatalf("report %+v", r)
	}
	if got := testutil.ToFloat64(l.m.damaged.WithLabelValues("torn")); got != 1 {
		t.Errorf("ronda_wal_damaged_total{kind=torn} = %v", got)
	}
	if st2, _ := os.Stat(seg); st2.Size() != st.Size() {
		t.Errorf("segment %d bytes after the cut, want %d", st2.Size(), st.Size())
	}
	if seq, _ := l.Append([]byte("x")); seq != 11 {
		t.Errorf("next seq %d, want 11", seq)
	}
}

func TestCorruptRecordMidSegment(t *testing.T) {
	dir := t.TempDir()
	l := open(t, Options{Dir: dir, SegmentBytes: 500})
	appendN(t, l, 0, 30)
	l.Close()
	m, _ := filepath.Glob(filepath.Join(dir, "*"+segSuffix))
	if len(m) < 3 {
		t.Fatalf("%d segments, want 3 or more", len(m))
	}
	// Flip a byte in the payload of the 3rd record of the first segment.
	b, _ := os.ReadFile(m[0])
	d := Decode(b, 1)
	off := 0
	for _, r := range d.Records[:2] {
		off += headerSize + len(r.Payload)
	}
	b[off+headerSize+2] ^= 0x40
	os.WriteFile(m[0], b, 0o600)
	keptAfter := d.Records[len(d.Records)-1].Seq // the first segment's last seq

	reg := prometheus.NewRegistry()
	l = open(t, Options{Dir: dir, SegmentBytes: 500, Registerer: reg})
	r := l.Report()
	if r.Corrupt != 1 || r.Records != 30-int(keptAfter-2) {
		t.Fatalf("report %+v (first segment ended at seq %d)", r, keptAfter)
	}
	if got := testutil.ToFloat64(l.m.damaged.WithLabelValues("corrupt")); got != 1 {
		t.Errorf("ronda_wal_damaged_total{kind=corrupt} = %v", got)
	}
	q, _ := filepath.Glob(filepath.Join(dir, quarDir, "*"))
	if len(q) != 1 {
		t.Fatalf("damaged/ holds %v", q)
	}
	if qb, _ := os.ReadFile(q[0]); !bytes.Equal(qb, b[off:]) {
		t.Errorf("damaged/ holds %d bytes, want the %d from the damage on", len(qb), len(b)-off)
	}
	seqs, _ := replayAll(t, l, 0)
	want := []uint64{1, 2}
	for s := keptAfter + 1; s <= 30; s++ {
		want = append(want, s)
	}
	if fmt.Sprint(seqs) != fmt.Sprint(want) {
		t.Fatalf("replayed %v, want %v", seqs, want)
	}
}

func TestTruncate(t *testing.T) {
	dir := t.TempDir()
	l := open(t, Options{Dir: dir, SegmentBytes: 300})
	appendN(t, l, 0, 40)
	before := l.Bytes()
	if err := l.Truncate(20); err != nil {
		t.Fatal(err)
	}
	if l.Bytes() >= before {
		t.Fatalf("truncate freed nothing: %d bytes", l.Bytes())
	}
	seqs, _ := replayAll(t, l, 20)
	if len(seqs) != 20 {
		t.Fatalf("after truncate: %d records above 20, want 20", len(seqs))
	}
	seqs, _ = replayAll(t, l, 0)
	if seqs[0] > 21 {
		t.Fatalf("truncate removed record %d, above the position 20", seqs[0]-1)
	}
	// Covering everything seals and removes the active segment too.
	if err := l.Truncate(40); err != nil {
		t.Fatal(err)
	}
	if l.Bytes() != 0 {
		t.Fatalf("%d bytes left after truncating everything", l.Bytes())
	}
	if seq, err := l.Append([]byte("y")); err != nil || seq != 41 {
		t.Fatalf("append after full truncate: %d %v", seq, err)
	}
	l.Close()
	// NextSeq keeps the numbering above a checkpoint when no segment is left.
	os.RemoveAll(dir)
	l = open(t, Options{Dir: dir, NextSeq: 100})
	if seq, _ := l.Append([]byte("z")); seq != 100 {
		t.Fatalf("seq %d, want 100", seq)
	}
}

func TestFull(t *testing.T) {
	reg := prometheus.NewRegistry()
	l := open(t, Options{Dir: t.TempDir(), MaxBytes: 1000, Registerer: reg})
	var err error
	n := 0
	for ; err == nil; n++ {
		_, err = l.Append(make([]byte, 100))
	}
	if !errors.Is(err, ErrFull) || n != 9 {
		t.Fatalf("after %d appends: %v, want ErrFull after 8", n, err)
	}
	if testutil.ToFloat64(l.m.full) != 1 {
		t.Error("ronda_wal_full_total not counted")
	}
	l.Truncate(l.Last())
	if _, err := l.Append(make([]byte, 100)); err != nil {
		t.Fatalf("after truncate: %v", err)
	}
}

// TestGroupCommit: concurrent appenders share fsyncs, and each is durable.
func TestGroupCommit(t *testing.T) {
	reg := prometheus.NewRegistry()
	l := open(t, Options{Dir: t.TempDir(), Registerer: reg})
	var wg sync.WaitGroup
	const workers, each = 16, 50
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				seq, err := l.Append(payload(w*each + i))
				if err == nil {
					err = l.WaitDurable(seq)
				}
				if err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	fs := testutil.ToFloat64(l.m.fsyncs)
	t.Logf("%d appends, %v fsyncs", workers*each, fs)
	if fs >= workers*each {
		t.Errorf("%v fsyncs for %d appends: none shared", fs, workers*each)
	}
	if l.Last() != workers*each {
		t.Fatalf("last %d", l.Last())
	}
}

func BenchmarkAppendDurable(b *testing.B) {
	l, err := Open(Options{Dir: b.TempDir()})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	p := bytes.Repeat([]byte("e"), 64<<10)
	b.SetBytes(int64(len(p)))
	b.SetParallelism(4)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			seq, err := l.Append(p)
			if err == nil {
				err = l.WaitDurable(seq)
			}
			if err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// TestWriteFailureCutBack: a write that fails half way (a real one: the file
// size limit, RLIMIT_FSIZE, set just past the segment's end, as a full disk
// would stop it) is not taken, the segment is cut back whole, and appends go
// on once writing works again.
func TestWriteFailureCutBack(t *testing.T) {
	dir := t.TempDir()
	l := open(t, Options{Dir: dir})
	appendN(t, l, 0, 3)
	good := l.Bytes()
	var old syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_FSIZE, &old); err != nil {
		t.Skip(err)
	}
	lim := syscall.Rlimit{Cur: uint64(good) + 10, Max: old.Max}
	if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &lim); err != nil {
		t.Skipf("cannot set RLIMIT_FSIZE: %v", err)
	}
	_, err := l.Append(bytes.Repeat([]byte("x"), 100))
	syscall.Setrlimit(syscall.RLIMIT_FSIZE, &old)
	if err == nil {
		t.Fatal("append past the file size limit succeeded")
	}
	t.Logf("refused: %v", err)
	if st, _ := os.Stat(l.active.Name()); l.Bytes() != good || l.Last() != 3 || st.Size() != good {
		t.Fatalf("after the failed write: %d bytes (file %d), last %d; want %d, 3", l.Bytes(), st.Size(), l.Last(), good)
	}
	appendN(t, l, 3, 2)
	l.Close()
	l = open(t, Options{Dir: dir})
	if r := l.Report(); r.Records != 5 || r.Torn+r.Corrupt != 0 {
		t.Fatalf("reopened: %+v", r)
	}
}
