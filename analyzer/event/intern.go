package event

import "encoding/binary"

// internSlots sizes the interner: enough for the streams, hosts and active
// viewers of a busy node, small enough to stay in cache (64 KiB of headers).
const internSlots = 4096

// interner hands out one shared string for repeated byte strings, so that a
// stream id, a sender id or a gift name seen on every line is allocated once
// rather than per event. It is a direct-mapped cache: a miss replaces the slot,
// so memory is bounded and a thrashing workload only loses the saving.
type interner struct {
	slots []string
}

// str returns string(b), shared with earlier calls when possible.
func (in *interner) str(b []byte) string {
	if len(b) > MaxIDBytes {
		return string(b)
	}
	if in.slots == nil {
		in.slots = make([]string, internSlots)
	}
	slot := &in.slots[hashBytes(b)&(internSlots-1)]
	if *slot == string(b) { // compared in place, no allocation
		return *slot
	}
	s := string(b)
	*slot = s
	return s
}

// hashBytes is a fast non-cryptographic hash, deterministic so that decoding
// never depends on a random seed. Collisions cost a miss, nothing else.
func hashBytes(b []byte) uint64 {
	const m = 0x9E3779B97F4A7C15
	h := uint64(len(b)) * m
	for len(b) >= 8 {
		h = (h ^ binary.LittleEndian.Uint64(b)) * m
		h ^= h >> 29
		b = b[8:]
	}
	var t uint64
	for i, c := range b {
		t |= uint64(c) << (8 * i)
	}
	h = (h ^ t) * m
	return h ^ h>>32
}
