package event

// idSet is a set of 64-bit id hashes with open addressing and linear probing:
// the Deduper's hot path, where Go's general map costs three probes of
// scattered memory per event. Deletion shifts the following run back
// (Knuth's algorithm R), so there are no tombstones and lookups stay short.
// The table doubles at half load and never shrinks below its peak.
type idSet struct {
	keys []uint64 // 0 is the empty slot; key 0 is stored as zeroKey
	n    int
}

const zeroKey = 0x9E3779B97F4A7C15 // stands for the hash 0, which marks empty slots

func fixKey(k uint64) uint64 {
	if k == 0 {
		return zeroKey
	}
	return k
}

func (s *idSet) slot(k uint64) int { return int(k>>7) & (len(s.keys) - 1) }

func (s *idSet) has(k uint64) bool {
	if s.n == 0 {
		return false
	}
	k = fixKey(k)
	for i := s.slot(k); ; i = (i + 1) & (len(s.keys) - 1) {
		switch s.keys[i] {
		case k:
			return true
		case 0:
			return false
		}
	}
}

// add inserts k, which must not be present.
func (s *idSet) add(k uint64) {
	if (s.n+1)*2 > len(s.keys) {
		s.grow()
	}
	s.put(fixKey(k))
	s.n++
}

func (s *idSet) put(k uint64) {
	i := s.slot(k)
	for s.keys[i] != 0 {
		i = (i + 1) & (len(s.keys) - 1)
	}
	s.keys[i] = k
}

func (s *idSet) grow() {
	old := s.keys
	n := 2 * len(old)
	if n < 1024 {
		n = 1024
	}
	s.keys = make([]uint64, n)
	for _, k := range old {
		if k != 0 {
			s.put(k)
		}
	}
}

// reserve sizes an empty set for n keys at once, as grow would have by then.
func (s *idSet) reserve(n int) {
	size := 1024
	for size < 2*(n+1) {
		size *= 2
	}
	if s.n == 0 && size > len(s.keys) {
		s.keys = make([]uint64, size)
	}
}

func (s *idSet) remove(k uint64) {
	if s.n == 0 {
		return
	}
	k = fixKey(k)
	mask := len(s.keys) - 1
	i := s.slot(k)
	for s.keys[i] != k {
		if s.keys[i] == 0 {
			return
		}
		i = (i + 1) & mask
	}
	s.n--
	// Shift back every key of the run that could sit in the hole.
	for j := i; ; {
		j = (j + 1) & mask
		kj := s.keys[j]
		if kj == 0 {
			break
		}
		home := s.slot(kj)
		// kj may move to i when its home is not cyclically within (i, j].
		if (i < j && (home <= i || home > j)) || (i > j && home <= i && home > j) {
			s.keys[i] = kj
			i = j
		}
	}
	s.keys[i] = 0
}

func (s *idSet) len() int { return s.n }
