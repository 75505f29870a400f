// Package eventid derives an event id from the fields that identify one
// occurrence, so that the same occurrence seen again (a retried webhook, a
// poll repeated, a frame re-offered) gets the same id and is deduplicated
// downstream (spec/EVENTS.md: id).
//
// The scheme is fixed: ids are dedup keys kept in ClickHouse and checkpoints,
// and a change would let every event of a restart through twice. Do not
// change it; a new scheme is a new function.
package eventid

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
)

// Hash returns prefix + "-" + the first 16 bytes, in hex, of SHA-256 over
// parts, each preceded by its length as 8 bytes big-endian, so that no two
// lists of parts hash alike ("ab","c" and "a","bc" differ).
func Hash(prefix string, parts ...string) string {
	h := sha256.New()
	var n [8]byte
	for _, p := range parts {
		binary.BigEndian.PutUint64(n[:], uint64(len(p)))
		h.Write(n[:])
		h.Write([]byte(p))
	}
	return prefix + "-" + hex.EncodeToString(h.Sum(nil)[:16])
}
