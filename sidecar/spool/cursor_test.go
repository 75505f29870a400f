package spool

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// TestCursorFlippedByte: a cursor file of the right length and magic with one
// flipped byte anywhere (sequence, offset or checksum) is refused, and the
// spool drains again from its oldest segment: records may be redelivered,
// none is skipped. Records span two segments, so a sequence taken as larger
// would skip one.
func TestCursorFlippedByte(t *testing.T) {
	t.Parallel()
	good := func(t *testing.T) (dir string, cur []byte) {
		dir = t.TempDir()
		opts := Options{Dir: dir, SegmentBytes: 4096}
		s := open(t, opts)
		appendN(t, s, 0, 10)
		n := 0
		s.Drain(context.Background(), func([]byte) error {
			if n++; n > 6 {
				return errors.New("stop")
			}
			return nil
		})
		s.Close()
		cur, err := os.ReadFile(filepath.Join(dir, cursorName))
		if err != nil || len(cur) != cursorSize {
			t.Fatalf("cursor after draining six records: %d bytes, %v", len(cur), err)
		}
		if c, err := unmarshalCursor(cur); err != nil || c.seq == 0 || c.off == 0 {
			t.Fatalf("cursor %+v, %v: want one inside a later segment", c, err)
		}
		return dir, cur
	}
	t.Run("intact", func(t *testing.T) {
		t.Parallel()
		dir, _ := good(t)
		s := open(t, Options{Dir: dir, SegmentBytes: 4096})
		if got := drainAll(t, s); !slices.Equal(got, seq(6, 10)) {
			t.Fatalf("drained %v after an intact cursor, want 6..9", got)
		}
	})
	for i := range cursorSize {
		t.Run(fmt.Sprintf("byte %d", i), func(t *testing.T) {
			t.Parallel()
			dir, cur := good(t)
			cur[i] ^= 0x01
			if _, err := unmarshalCursor(cur); !errors.Is(err, errBadCursor) {
				t.Fatalf("cursor with byte %d flipped read as %v, want errBadCursor", i, err)
			}
			if err := os.WriteFile(filepath.Join(dir, cursorName), cur, 0o600); err != nil {
				t.Fatal(err)
			}
			s := open(t, Options{Dir: dir, SegmentBytes: 4096})
			if got := drainAll(t, s); !slices.Equal(got, seq(0, 10)) {
				t.Fatalf("drained %v, want every record from the oldest segment", got)
			}
		})
	}
}
