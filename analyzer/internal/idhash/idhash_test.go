package idhash

import (
	"hash/maphash"
	"testing"
)

func TestKeyed(t *testing.T) {
	t.Parallel()
	a, b := Key(1), Key(2)
	if a.String("viewer-1") != a.String("viewer-1") {
		t.Fatal("one key, one id: two hashes")
	}
	if a.String("viewer-1") == b.String("viewer-1") {
		t.Fatal("two keys hash an id the same")
	}
	if a.String("viewer-1") == a.String("viewer-2") {
		t.Fatal("two ids hash the same")
	}
}

var sink uint64

// BenchmarkHash compares the keyed XXH64 with hash/maphash, which it replaces,
// on ids of typical lengths.
func BenchmarkHash(b *testing.B) {
	ids := []string{"v123456", "evt-2025-06-01-000123456", "01JXYZ8QK2M3N4P5R6S7T8V9WX-gift-000042"}
	k := NewKey()
	seed := maphash.MakeSeed()
	b.Run("idhash", func(b *testing.B) {
		for i := 0; b.Loop(); i++ {
			sink += k.String(ids[i%len(ids)])
		}
	})
	b.Run("maphash", func(b *testing.B) {
		for i := 0; b.Loop(); i++ {
			sink += maphash.String(seed, ids[i%len(ids)])
		}
	})
}
