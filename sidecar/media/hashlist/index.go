package hashlist

import (
	"math/bits"

	"github.com/ronda-watch/ronda/sidecar/media/pdq"
)

// MaxThreshold is the largest threshold an Index answers: the multi-index
// enumerates slot values within threshold/16 bits, 3 at most here (697
// neighbours per slot), and PDQ distances past 63 are no longer matches.
const MaxThreshold = 63

// Match is the nearest list entry within the threshold.
type Match struct {
	Entry    Entry
	Distance int
}

// Index is an immutable, indexed list; safe for concurrent use.
//
// Hashes are packed four uint64 words each, so that brute force is a linear
// scan of XOR and POPCNT. The multi-index (Norouzi et al. 2014, as in the
// reference's README-MIH) cuts each hash into sixteen 16-bit slots: two
// hashes within distance d agree within d/16 bits on at least one slot, so
// the candidates are the hashes filed under the query's slot values and
// their neighbours within d/16 bits, each then checked in full. Each slot's
// table is a counting-sorted array (65,537 offsets, one uint32 per hash).
type Index struct {
	entries []Entry
	words   []uint64 // 4 per entry, highest word first
	offsets [16][]uint32
	members [16][]uint32
}

// NewIndex packs and indexes entries.
func NewIndex(entries []Entry) *Index {
	x := &Index{entries: entries, words: make([]uint64, 4*len(entries))}
	for i, e := range entries {
		w := e.Hash.Words()
		copy(x.words[4*i:], w[:])
	}
	for s := range 16 {
		off := make([]uint32, 1<<16+1)
		for i := range entries {
			off[int(x.slot(i, s))+1]++
		}
		for v := 1; v < len(off); v++ {
			off[v] += off[v-1]
		}
		mem := make([]uint32, len(entries))
		next := make([]uint32, 1<<16)
		copy(next, off[:1<<16])
		for i := range entries {
			v := x.slot(i, s)
			mem[next[v]] = uint32(i)
			next[v]++
		}
		x.offsets[s], x.members[s] = off, mem
	}
	return x
}

// Len is the number of hashes.
func (x *Index) Len() int { return len(x.entries) }

// slot is the 16-bit value of slot s (0 the highest) of entry i.
func (x *Index) slot(i, s int) uint16 {
	return uint16(x.words[4*i+s/4] >> (48 - 16*(s%4)))
}

func (x *Index) distance(i int, q *[4]uint64) int {
	w := x.words[4*i : 4*i+4]
	return bits.OnesCount64(w[0]^q[0]) + bits.OnesCount64(w[1]^q[1]) +
		bits.OnesCount64(w[2]^q[2]) + bits.OnesCount64(w[3]^q[3])
}

// Match finds the nearest entry within threshold (0..MaxThreshold), by the
// multi-index.
func (x *Index) Match(h pdq.Hash, threshold int) (Match, bool) {
	return x.MatchMIH(h, threshold)
}

// MatchBrute is Match by scanning every hash.
func (x *Index) MatchBrute(h pdq.Hash, threshold int) (Match, bool) {
	q := h.Words()
	best, bestD := -1, threshold+1
	w := x.words
	for i := 0; i+3 < len(w); i += 4 {
		d := bits.OnesCount64(w[i]^q[0]) + bits.OnesCount64(w[i+1]^q[1]) +
			bits.OnesCount64(w[i+2]^q[2]) + bits.OnesCount64(w[i+3]^q[3])
		if d < bestD {
			best, bestD = i/4, d
		}
	}
	if best < 0 {
		return Match{}, false
	}
	return Match{Entry: x.entries[best], Distance: bestD}, true
}

// MatchMIH is Match by the multi-index. A candidate found under several
// slots is checked again each time: cheaper than a set for the few
// candidates a query has.
func (x *Index) MatchMIH(h pdq.Hash, threshold int) (Match, bool) {
	if threshold > MaxThreshold {
		threshold = MaxThreshold
	}
	if threshold < 0 {
		return Match{}, false
	}
	q := h.Words()
	radius := threshold / 16
	best, bestD := -1, threshold+1
	check := func(s int, v uint16) {
		off := x.offsets[s]
		for _, i := range x.members[s][off[v]:off[int(v)+1]] {
			// ties go to the earlier entry, as in MatchBrute
			if d := x.distance(int(i), &q); d < bestD || d == bestD && int(i) < best {
				best, bestD = int(i), d
			}
		}
	}
	for s := range 16 {
		v := uint16(q[s/4] >> (48 - 16*(s%4)))
		check(s, v)
		if radius >= 1 {
			for a := range 16 {
				va := v ^ 1<<a
				check(s, va)
				if radius >= 2 {
					for b := a + 1; b < 16; b++ {
						vb := va ^ 1<<b
						check(s, vb)
						if radius >= 3 {
							for c := b + 1; c < 16; c++ {
								check(s, vb^1<<c)
							}
						}
					}
				}
			}
		}
	}
	if best < 0 {
		return Match{}, false
	}
	return Match{Entry: x.entries[best], Distance: bestD}, true
}
