package store

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ronda-watch/ronda/sidecar/spool"
)

// TestWriterCorruptSpoolSegment: nine spooled batches in three segments of three;
// one byte of the second record of the middle segment is flipped. The damage is
// detected (by the checksum), the segment quarantined and reported (an error log
// line, Stats().Quarantined), and every batch not behind the damage is drained
// into ClickHouse exactly once. Two ways the damage can be met: at Open (the
// spool recovers before the writer starts: the good first record of the segment
// is kept) and by a running writer's Drain (the disk changed under an open spool:
// the segment is quarantined from the bad record on).
func TestWriterCorruptSpoolSegment(t *testing.T) {
	for _, tc := range []struct {
		name    string
		atOpen  bool
		lost    []int // batches not delivered: the damaged one and what follows it in its segment
		logLine string
	}{
		{"found at open", true, []int{4, 5}, "spool segment quarantined"},
		{"found by drain", false, []int{4, 5}, "spool segment quarantined"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := sharedServer(t)
			o := freshSchema(t, s)
			dir := t.TempDir()

			const batches, perBatch = 9, 50
			var recs [][]byte
			for b := 0; b < batches; b++ {
				var batch []Row
				for i := 0; i < perBatch; i++ {
					r := EventRow{Day: dayOf(t0), At: t0.Add(time.Duration(b*perBatch+i) * time.Second),
						ID: fmt.Sprintf("c%d-%02d", b, i), Type: "gift", StreamID: "s1", HostID: "h1",
						Coins: int64(i), Ingested: t0}
					batch = append(batch, &r)
				}
				rec, err := encodeBatch(TableEvents, batch)
				if err != nil {
					t.Fatal(err)
				}
				recs = append(recs, rec)
			}
			// The spool reports through the logger of whoever opens it: the
			// writer's (SpoolDir) or the caller's (Spool).
			var logs lockedBuffer
			log := slog.New(slog.NewTextHandler(&logs, nil))
			// Three records per segment: the fourth would pass SegmentBytes.
			segBytes := int64(3*(12+len(recs[0])) + 64)
			sp, err := spool.Open(spool.Options{Dir: dir, SegmentBytes: segBytes, NoSync: true, Logger: log})
			if err != nil {
				t.Fatal(err)
			}
			for _, rec := range recs {
				if err := sp.Append(rec); err != nil {
					t.Fatal(err)
				}
			}
			segs, _ := filepath.Glob(filepath.Join(dir, "*.seg"))
			if len(segs) != 3 {
				t.Fatalf("%d segments, want 3: %v", len(segs), segs)
			}
			if tc.atOpen {
				if err := sp.Close(); err != nil {
					t.Fatal(err)
				}
				sp = nil
			}
			// Flip one payload byte of the second record of the middle segment.
			mid := segs[1]
			b, err := os.ReadFile(mid)
			if err != nil {
				t.Fatal(err)
			}
			second := 12 + int(binary.LittleEndian.Uint32(b[4:8]))
			b[second+12+20] ^= 0x20
			if err := os.WriteFile(mid, b, 0o600); err != nil {
				t.Fatal(err)
			}

			opts := WriterOptions{DSN: s.DSN(), Schema: o, Logger: log}
			if tc.atOpen {
				opts.SpoolDir = dir // the writer opens the spool: recovery reports through its logger
			} else {
				opts.Spool = sp
				defer sp.Close()
			}
			w, err := NewWriter(opts)
			if err != nil {
				t.Fatal(err)
			}
			if err := w.Close(ctxT(t)); err != nil { // drains the spool, then stops
				t.Fatal(err)
			}
			st := w.sp.Stats()
			t.Logf("spool stats: %+v", st)
			if st.Quarantined != 1 || st.Corrupt != 1 || st.QuarantinedBytes == 0 {
				t.Errorf("stats %+v: want one quarantined segment, one corrupt record, bytes counted", st)
			}
			if st.Records != 0 {
				t.Errorf("%d records left in the spool", st.Records)
			}
			if !strings.Contains(logs.String(), tc.logLine) || !strings.Contains(logs.String(), filepath.Base(mid)) {
				t.Errorf("no %q log line naming %s:\n%s", tc.logLine, filepath.Base(mid), logs.String())
			}
			if q, _ := filepath.Glob(filepath.Join(dir, "quarantine", filepath.Base(mid)+"*")); len(q) != 1 {
				t.Errorf("quarantine holds %v, want the damaged segment", q)
			}

			var want []string
			for b := 0; b < batches; b++ {
				if slices.Contains(tc.lost, b) {
					continue
				}
				for i := 0; i < perBatch; i++ {
					want = append(want, fmt.Sprintf("c%d-%02d\t%d", b, i, i))
				}
			}
			out := mustQuery(t, s, "SELECT id, coins FROM "+o.Qualified(TableEvents)+" FINAL ORDER BY id")
			got := strings.Split(out, "\n")
			if !slices.Equal(got, want) {
				t.Errorf("events: %d rows, want %d (batches %v lost)\ngot  %v\nwant %v", len(got), len(want), tc.lost,
					firstLast(got), firstLast(want))
			}
			if raw := mustQuery(t, s, "SELECT count() FROM "+o.Qualified(TableEvents)); raw != fmt.Sprint(len(want)) {
				t.Errorf("%s raw rows, want %d: a batch was delivered twice", raw, len(want))
			}
		})
	}
}

func firstLast(s []string) []string {
	if len(s) <= 4 {
		return s
	}
	return []string{s[0], s[1], "…", s[len(s)-2], s[len(s)-1]}
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
