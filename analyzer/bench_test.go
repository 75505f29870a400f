package analyzer

import (
	"bufio"
	"compress/gzip"
	"encoding/json"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/ronda-watch/ronda/analyzer/event"
)

// loadScenario decodes a public scenario once, for the engine benchmarks. It
// skips when ../shared/scenarios is not beside the repository.
func loadScenario(tb testing.TB, name string) []event.Event {
	tb.Helper()
	dir := os.Getenv("RONDA_SHARED")
	if dir == "" {
		dir = filepath.Join("..", "..", "shared")
	}
	f, err := os.Open(filepath.Join(dir, "scenarios", name, "events.ndjson.gz"))
	if err != nil {
		tb.Skipf("scenario %s not available (set RONDA_SHARED): %v", name, err)
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		tb.Fatal(err)
	}
	var evs []event.Event
	sc := bufio.NewScanner(gz)
	sc.Buffer(make([]byte, event.MaxEventBytes), event.MaxEventBytes)
	for sc.Scan() {
		var ev event.Event
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			tb.Fatal(err)
		}
		ev.Type = event.ParseType(ev.TypeName)
		evs = append(evs, ev)
	}
	return evs
}

// BenchmarkEngine measures the analyzer alone on public-twoweeks, decoded
// beforehand: events/s on one core, and heap bytes per live entity after it.
func BenchmarkEngine(b *testing.B) {
	evs := loadScenario(b, "public-twoweeks")
	b.ResetTimer()
	var e *Engine
	for b.Loop() {
		e, _ = New(DefaultConfig())
		for i := range evs {
			e.Apply(&evs[i])
		}
		e.Flush()
	}
	b.ReportMetric(float64(len(evs))*float64(b.N)/b.Elapsed().Seconds(), "events/s")
	b.StopTimer()
	var before, after runtime.MemStats
	e = nil
	runtime.GC()
	runtime.ReadMemStats(&before)
	e, _ = New(DefaultConfig())
	for i := range evs {
		e.Apply(&evs[i])
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	st := e.Stats()
	runtime.KeepAlive(evs)
	b.ReportMetric(float64(after.HeapAlloc-before.HeapAlloc)/float64(max(st.LiveEntities(), 1)), "heapB/entity")
	b.ReportMetric(float64(st.LiveEntities()), "entities")
}
