package spool

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
)

// cursor is how far the oldest segment has been drained: every record of
// segment seq that ends at or before off has been acknowledged, and so has
// every record of every segment with a lower sequence number.
//
// On disk: "RSC1" | seq u64 | off u64 | CRC-32C of the first 20 bytes u32,
// little endian, 24 bytes.
type cursor struct {
	seq uint64
	off int64
}

const cursorSize = 24

var cursorMagic = [4]byte{'R', 'S', 'C', '1'}

func (c cursor) marshal() []byte {
	b := make([]byte, cursorSize)
	copy(b[0:4], cursorMagic[:])
	binary.LittleEndian.PutUint64(b[4:12], c.seq)
	binary.LittleEndian.PutUint64(b[12:20], uint64(c.off))
	binary.LittleEndian.PutUint32(b[20:24], crc32.Checksum(b[:20], castagnoli))
	return b
}

var errBadCursor = errors.New("bad cursor file")

func unmarshalCursor(b []byte) (cursor, error) {
	if len(b) != cursorSize {
		return cursor{}, fmt.Errorf("%w: %d bytes, want %d", errBadCursor, len(b), cursorSize)
	}
	if [4]byte(b[0:4]) != cursorMagic {
		return cursor{}, fmt.Errorf("%w: magic %q", errBadCursor, b[0:4])
	}
	if crc32.Checksum(b[:20], castagnoli) != binary.LittleEndian.Uint32(b[20:24]) {
		return cursor{}, fmt.Errorf("%w: checksum mismatch", errBadCursor)
	}
	off := binary.LittleEndian.Uint64(b[12:20])
	if off > 1<<62 {
		return cursor{}, fmt.Errorf("%w: offset %d", errBadCursor, off)
	}
	return cursor{seq: binary.LittleEndian.Uint64(b[4:12]), off: int64(off)}, nil
}

// readCursor returns the zero cursor (drain from the start of the oldest
// segment) when there is no cursor file.
func readCursor(dir string) (cursor, error) {
	f, err := os.Open(filepath.Join(dir, cursorName))
	if errors.Is(err, os.ErrNotExist) {
		return cursor{}, nil
	}
	if err != nil {
		return cursor{}, fmt.Errorf("read cursor: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, cursorSize+1))
	if err != nil {
		return cursor{}, fmt.Errorf("read cursor: %w", err)
	}
	return unmarshalCursor(b)
}

// writeCursor replaces the cursor file atomically: write a temporary file,
// fsync it, rename it over the old one, fsync the directory. A crash at any
// point leaves either the old or the new cursor.
func writeCursor(dir string, dirf *os.File, c cursor, sync bool) error {
	tmp := filepath.Join(dir, cursorName+tmpSuffix)
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return fmt.Errorf("write cursor: %w", err)
	}
	_, err = f.Write(c.marshal())
	if err == nil && sync {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write cursor %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, cursorName)); err != nil {
		return fmt.Errorf("write cursor: %w", err)
	}
	if sync {
		if err := dirf.Sync(); err != nil {
			return fmt.Errorf("write cursor: sync %s: %w", dir, err)
		}
	}
	return nil
}
