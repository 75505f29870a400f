// Package idhash pseudonymises ids with a keyed 64-bit hash whose key can be
// saved: the engine's viewer pseudonyms and the deduper's remembered ids must
// hash the same after a checkpoint is restored, which hash/maphash's
// per-process seeds cannot do.
//
// The hash is XXH64 (github.com/cespare/xxhash/v2) seeded with a random key.
// It is fast and spreads ids well; it is not a cryptographic PRF, so the key is
// what keeps an outsider from predicting or forcing collisions, and it must
// never leave memory except inside a checkpoint, which is as private as the
// state it belongs to.
package idhash

import (
	"math/rand/v2"

	"github.com/cespare/xxhash/v2"
)

// Key is a hash key.
type Key uint64

// NewKey returns a random key (from the runtime's cryptographically seeded
// source).
func NewKey() Key { return Key(rand.Uint64()) }

// String hashes s under k.
func (k Key) String(s string) uint64 {
	var d xxhash.Digest
	d.ResetWithSeed(uint64(k))
	d.WriteString(s)
	return d.Sum64()
}
