package analyzer

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/ronda-watch/ronda/analyzer/event"
)

// BenchmarkCheckpoint measures, for the state an engine and its deduper hold
// at the end of a history, writing their checkpoints, reading them back, and
// the alternative to a checkpoint: replaying the history (decode, dedup,
// analyse, as `ronda replay` does) to the same point. One core:
//
//	GOMAXPROCS=1 RONDA_BENCH_WORLD=/tmp/world.ndjson go test -run '^$' \
//	    -bench BenchmarkCheckpoint -benchtime 3x -count 3 ./analyzer/
//
// The states: public-twoweeks (../shared/scenarios, or $RONDA_SHARED), and the
// world of $RONDA_BENCH_WORLD, a file of `ronda simulate` (the README's is
// `ronda simulate --seed 1 --days 14 --hosts 8000 --rings 40 --out
// /tmp/world.ndjson`, 10.6 million events); each is skipped when absent.
func BenchmarkCheckpoint(b *testing.B) {
	for _, src := range []struct {
		name string
		path func() string
	}{
		{"public-twoweeks", func() string {
			dir := os.Getenv("RONDA_SHARED")
			if dir == "" {
				dir = filepath.Join("..", "..", "shared")
			}
			return filepath.Join(dir, "scenarios", "public-twoweeks", "events.ndjson.gz")
		}},
		{"world", func() string { return os.Getenv("RONDA_BENCH_WORLD") }},
	} {
		b.Run(src.name, func(b *testing.B) {
			st := benchState(b, src.path())
			entities := float64(st.stats.LiveEntities())
			b.Run("write", func(b *testing.B) {
				var buf bytes.Buffer
				cpu := cpuTime()
				for b.Loop() {
					buf.Reset()
					if err := st.eng.WriteCheckpoint(&buf); err != nil {
						b.Fatal(err)
					}
					if err := st.dedup.WriteCheckpoint(&buf); err != nil {
						b.Fatal(err)
					}
				}
				st.report(b, entities, cpu)
			})
			b.Run("restore", func(b *testing.B) {
				cpu := cpuTime()
				for b.Loop() {
					r := bytes.NewReader(st.checkpoint)
					e, err := ReadCheckpoint(DefaultConfig(), r)
					if err != nil {
						b.Fatal(err)
					}
					d, err := event.ReadDeduper(r)
					if err != nil {
						b.Fatal(err)
					}
					if e.Stats() != st.stats || d.Stats() != st.dedup.Stats() {
						b.Fatal("restored state differs")
					}
				}
				st.report(b, entities, cpu)
			})
			b.Run("replay", func(b *testing.B) {
				cpu := cpuTime()
				for b.Loop() {
					e, _, err := replayHistory(st.open)
					if err != nil {
						b.Fatal(err)
					}
					if e.Stats() != st.stats {
						b.Fatalf("replayed state %+v, want %+v", e.Stats(), st.stats)
					}
				}
				b.ReportMetric(float64(st.events)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
				st.report(b, entities, cpu)
			})
		})
	}
}

type ckBenchState struct {
	open       func() (io.ReadCloser, error)
	eng        *Engine
	dedup      *event.Deduper
	stats      Stats
	events     uint64
	checkpoint []byte // the engine's, then the deduper's
	engBytes   int
}

// report adds the sizes, the time per live entity and the CPU time per
// operation since cpu (with GOMAXPROCS=1 the process's CPU time is the
// benchmark's, garbage collection included; wall time on a shared machine
// also counts the neighbours).
func (st *ckBenchState) report(b *testing.B, entities float64, cpu int64) {
	cpuOp := float64(cpuTime()-cpu) / float64(b.N)
	b.ReportMetric(cpuOp, "cpu-ns/op")
	b.ReportMetric(entities, "entities")
	b.ReportMetric(cpuOp/entities, "cpu-ns/entity")
	b.ReportMetric(float64(st.engBytes), "engine-bytes")
	b.ReportMetric(float64(len(st.checkpoint)-st.engBytes), "dedup-bytes")
	b.ReportMetric(float64(st.dedup.Stats().Live), "dedup-ids")
	b.ReportMetric(float64(st.engBytes)/entities, "B/entity")
}

var benchStates sync.Map // path → *ckBenchState

// benchState replays the history at path once per process.
func benchState(b *testing.B, path string) *ckBenchState {
	b.Helper()
	if path == "" {
		b.Skip("no history: set RONDA_BENCH_WORLD to a file of ronda simulate")
	}
	if _, err := os.Stat(path); err != nil {
		b.Skipf("history not available: %v", err)
	}
	if st, ok := benchStates.Load(path); ok {
		return st.(*ckBenchState)
	}
	open := func() (io.ReadCloser, error) { return os.Open(path) }
	if filepath.Ext(path) == ".gz" {
		// Small enough to hold: the replay then measures no disk.
		data, err := os.ReadFile(path)
		if err != nil {
			b.Fatal(err)
		}
		open = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil }
	}
	st := &ckBenchState{open: open}
	var err error
	if st.eng, st.dedup, err = replayHistory(open); err != nil {
		b.Fatal(err)
	}
	st.stats = st.eng.Stats()
	st.events = st.stats.Events
	var buf bytes.Buffer
	if err := st.eng.WriteCheckpoint(&buf); err != nil {
		b.Fatal(err)
	}
	st.engBytes = buf.Len()
	if err := st.dedup.WriteCheckpoint(&buf); err != nil {
		b.Fatal(err)
	}
	st.checkpoint = buf.Bytes()
	benchStates.Store(path, st)
	return st
}

// replayHistory runs a history through a reader, the default deduper and an
// engine, dropping late events, as sidecar/replay does without an orderer.
func replayHistory(open func() (io.ReadCloser, error)) (*Engine, *event.Deduper, error) {
	f, err := open()
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	rd, err := event.NewReader(f)
	if err != nil {
		return nil, nil, err
	}
	d := event.NewDeduper(24*time.Hour, 1_000_000)
	e, err := New(DefaultConfig())
	if err != nil {
		return nil, nil, err
	}
	var newest time.Time
	for {
		ev, err := rd.Next()
		if errors.Is(err, io.EOF) {
			return e, d, nil
		}
		var le *event.LineError
		if errors.As(err, &le) {
			continue
		}
		if err != nil {
			return nil, nil, err
		}
		if d.Seen(ev.ID, ev.At) || ev.At.Before(newest) {
			continue
		}
		newest = ev.At
		e.Apply(ev)
	}
}
