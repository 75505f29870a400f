package event

import (
	"math/rand/v2"
	"testing"
)

// TestIDSetAgainstMap drives the set and a map with the same random adds and
// removes, including colliding homes and key 0, and compares them throughout.
func TestIDSetAgainstMap(t *testing.T) {
	t.Parallel()
	r := rand.New(rand.NewPCG(1, 2))
	var s idSet
	m := map[uint64]bool{}
	keys := []uint64{0, zeroKey}
	for i := 0; i < 200_000; i++ {
		var k uint64
		switch {
		case len(keys) > 0 && r.IntN(3) == 0:
			k = keys[r.IntN(len(keys))]
		case r.IntN(4) == 0:
			k = uint64(r.IntN(64)) << 7 // same home slot family
		default:
			k = r.Uint64()
		}
		if m[k] {
			s.remove(k)
			delete(m, k)
		} else if k != zeroKey || !m[0] { // 0 and zeroKey share a slot value by design
			if k == 0 && m[zeroKey] {
				continue
			}
			s.add(k)
			m[k] = true
			keys = append(keys, k)
		}
		if s.len() != len(m) {
			t.Fatalf("step %d: set holds %d, map %d", i, s.len(), len(m))
		}
	}
	for k := range m {
		if !s.has(k) {
			t.Fatalf("set lost %#x", k)
		}
	}
	for i := 0; i < 10000; i++ {
		k := r.Uint64()
		if s.has(k) != m[k] {
			t.Fatalf("has(%#x) = %v, map says %v", k, s.has(k), m[k])
		}
	}
}
