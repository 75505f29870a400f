package hashlist

import (
	"sync"
	"testing"

	"github.com/ronda-watch/ronda/sidecar/media/pdq"
)

var (
	benchOnce  sync.Once
	benchIndex *Index
)

// BenchmarkMatch1M: one query against 1M uniformly random hashes at HMA's
// threshold of 31, brute force and multi-index side by side: a query that
// matches nothing (the common case: most frames are in no list) and one
// 20 bits from a listed hash. Real PDQ hashes are less uniform than random
// ones, which fills some multi-index buckets more.
func BenchmarkMatch1M(b *testing.B) {
	benchOnce.Do(func() { benchIndex = NewIndex(randomEntries(1_000_000, 11)) })
	x := benchIndex
	queries := map[string]pdq.Hash{
		"miss": randomEntries(1, 99)[0].Hash,
		"hit":  flip(x.entries[777_777].Hash, 20, 5),
	}
	for _, qn := range []string{"miss", "hit"} {
		q := queries[qn]
		b.Run("brute/"+qn, func(b *testing.B) {
			for b.Loop() {
				x.MatchBrute(q, DefaultThreshold)
			}
		})
		b.Run("mih/"+qn, func(b *testing.B) {
			for b.Loop() {
				x.MatchMIH(q, DefaultThreshold)
			}
		})
	}
}

func BenchmarkNewIndex1M(b *testing.B) {
	es := randomEntries(1_000_000, 11)
	for b.Loop() {
		NewIndex(es)
	}
}
