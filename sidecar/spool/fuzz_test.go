package spool

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"testing"
)

func segmentOf(recs ...[]byte) []byte {
	var b []byte
	for _, r := range recs {
		h := make([]byte, headerSize)
		putHeader(h, r)
		b = append(append(b, h...), r...)
	}
	return b
}

// FuzzScanSegment feeds arbitrary bytes to the segment scanner as a whole
// file, and as good records followed by those bytes. The scanner must not
// panic, must report only records whose checksum matches, must report them
// back to back from the start, and must find every good record of a good
// prefix.
func FuzzScanSegment(f *testing.F) {
	f.Add([]byte{}, uint8(0))
	f.Add(segmentOf([]byte("a batch")), uint8(1))
	f.Add(segmentOf([]byte("one"), []byte("two"), nil), uint8(2))
	torn := segmentOf([]byte("complete"), []byte("cut short here"))
	f.Add(torn[:len(torn)-3], uint8(1))
	flipped := segmentOf([]byte("good"), []byte("flipped"))
	flipped[len(flipped)-2] ^= 1
	f.Add(flipped, uint8(3))
	f.Add(make([]byte, 100), uint8(0))
	f.Fuzz(func(t *testing.T, data []byte, ngood uint8) {
		// The mutator grows inputs to megabytes; beyond a few records
		// nothing new is reached, and long inputs only slow the search.
		data = data[:min(len(data), 16<<10)]
		check := func(seg []byte, wantAtLeast int) {
			var next int64
			n := 0
			res, err := scanSegment(bytes.NewReader(seg), 0, func(off int64, length uint32) {
				if off != next {
					t.Fatalf("record at %d, previous ended at %d", off, next)
				}
				end := off + headerSize + int64(length)
				if end > int64(len(seg)) {
					t.Fatalf("record at %d of %d bytes runs past the %d-byte segment", off, length, len(seg))
				}
				h := seg[off : off+headerSize]
				if crc32.Checksum(seg[off+headerSize:end], castagnoli) != binary.LittleEndian.Uint32(h[8:12]) {
					t.Fatalf("record at %d reported with a bad checksum", off)
				}
				next = end
				n++
			})
			if err != nil {
				t.Fatalf("scan of in-memory bytes: %v", err)
			}
			if res.good != next || res.records != n {
				t.Fatalf("result %+v, visited %d records ending at %d", res, n, next)
			}
			if res.tail == tailClean && res.good != int64(len(seg)) {
				t.Fatalf("clean tail but good prefix %d of %d bytes", res.good, len(seg))
			}
			if res.tail != tailClean && res.reason == "" {
				t.Fatalf("tail %v without a reason", res.tail)
			}
			if n < wantAtLeast {
				t.Fatalf("found %d records, the good prefix has %d", n, wantAtLeast)
			}
		}
		check(data, 0)

		// A good prefix built from the fuzz bytes, then the bytes raw.
		var recs [][]byte
		rest := data
		for range int(ngood % 8) {
			k := min(len(rest), 1+len(rest)/3)
			recs = append(recs, rest[:k])
			rest = rest[k:]
		}
		check(append(segmentOf(recs...), data...), len(recs))
	})
}
