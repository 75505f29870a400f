package spool

import (
	"context"
	"testing"
)

const benchRecord = 64 << 10

func benchmarkAppend(b *testing.B, noSync bool) {
	s := open(b, Options{Dir: b.TempDir(), NoSync: noSync, MaxBytes: 64 << 30, Full: DropOldest})
	rec := record(1, benchRecord)
	b.SetBytes(benchRecord)
	b.ReportAllocs()
	for b.Loop() {
		if err := s.Append(rec); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
}

// BenchmarkAppend appends 64 KiB records, as the writer spools batches.
func BenchmarkAppend(b *testing.B) {
	b.Run("fsync", func(b *testing.B) { benchmarkAppend(b, false) })
	b.Run("nosync", func(b *testing.B) { benchmarkAppend(b, true) })
}

func benchmarkDrain(b *testing.B, noSync bool) {
	s := open(b, Options{Dir: b.TempDir(), NoSync: true, MaxBytes: 64 << 30})
	rec := record(1, benchRecord)
	for range b.N {
		if err := s.Append(rec); err != nil {
			b.Fatal(err)
		}
	}
	s.opts.NoSync = noSync // the cursor updates are what is measured
	b.SetBytes(benchRecord)
	b.ReportAllocs()
	b.ResetTimer()
	n := 0
	if err := s.Drain(context.Background(), func(rec []byte) error { n++; return nil }); err != nil {
		b.Fatal(err)
	}
	if n != b.N {
		b.Fatalf("drained %d of %d", n, b.N)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
}

// BenchmarkDrain drains 64 KiB records; "fsync" syncs the cursor after each
// record as in production.
func BenchmarkDrain(b *testing.B) {
	b.Run("fsync", func(b *testing.B) { benchmarkDrain(b, false) })
	b.Run("nosync", func(b *testing.B) { benchmarkDrain(b, true) })
}
