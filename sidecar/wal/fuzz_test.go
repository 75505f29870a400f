package wal

import (
	"bytes"
	"testing"
)

// FuzzDecode: whatever the bytes, Decode never panics, its good records
// re-encode to exactly the good prefix, and damage is reported, not skipped.
func FuzzDecode(f *testing.F) {
	good := appendRecord(appendRecord(nil, 7, []byte("first")), 8, []byte("second"))
	f.Add(good, uint64(7))
	f.Add(good[:len(good)-3], uint64(7))
	f.Add(append(bytes.Clone(good), make([]byte, 40)...), uint64(7))
	bad := bytes.Clone(good)
	bad[headerSize+1] ^= 1
	f.Add(bad, uint64(7))
	f.Add(good, uint64(8))
	f.Add([]byte{}, uint64(1))
	f.Fuzz(func(t *testing.T, b []byte, first uint64) {
		d := Decode(b, first)
		var re []byte
		for i, r := range d.Records {
			if r.Seq != first+uint64(i) {
				t.Fatalf("record %d has seq %d, want %d", i, r.Seq, first+uint64(i))
			}
			re = appendRecord(re, r.Seq, r.Payload)
		}
		if !bytes.Equal(re, b[:d.Good]) {
			t.Fatalf("records re-encode to %d bytes, good prefix is %d", len(re), d.Good)
		}
		if (d.Damage == Clean) != (d.Good == len(b)) {
			t.Fatalf("damage %v with %d of %d bytes good", d.Damage, d.Good, len(b))
		}
	})
}
