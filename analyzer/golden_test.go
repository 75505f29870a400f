package analyzer

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ronda-watch/ronda/analyzer/event"
)

// Golden timelines: testdata/timelines/NAME.events.ndjson is a story as the
// contract's events (EVENTS.md), NAME.golden what the engine concludes from
// it: every signal and alert version in order, then each host's final family
// scores and severity. One subtest per file. After a deliberate change of the
// scoring, `go test ./analyzer -run TestGolden -update` rewrites the .golden
// files (review the diff); `-golden-events` first writes the event files again
// from the stories in golden_stories_test.go.

var (
	update       = flag.Bool("update", false, "rewrite testdata/timelines/*.golden from the engine's output")
	goldenEvents = flag.Bool("golden-events", false, "rewrite testdata/timelines/*.events.ndjson from golden_stories_test.go")
)

const timelines = "testdata/timelines"

func TestGolden(t *testing.T) {
	t.Parallel()
	if *goldenEvents {
		writeStoryEvents(t)
	}
	files, err := filepath.Glob(filepath.Join(timelines, "*.events.ndjson"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no timelines in %s: %v", timelines, err)
	}
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".events.ndjson")
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			got := verdict(t, f, DefaultConfig())
			golden := filepath.Join(timelines, name+".golden")
			if *update {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update to write it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s differs from what the engine concludes now:\n%s\n(run with -update if the change is meant)", golden, lineDiff(want, got))
			}
		})
	}
	// Every story has its event file, so none is forgotten.
	for name := range goldenStories {
		if !slices.Contains(files, filepath.Join(timelines, name+".events.ndjson")) {
			t.Errorf("story %s has no event file (run with -golden-events -update)", name)
		}
	}
}

// verdict replays one event file through the contract's decoder and the
// engine and writes what it concluded.
func verdict(t *testing.T, path string, cfg Config) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	e, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	line := func(kind string, v any) {
		j, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&out, "%s %s\n", kind, j)
	}
	e.OnSignal = func(s Signal) {
		line("signal", struct {
			At       string         `json:"at"`
			Detector string         `json:"detector"`
			Entity   EntityRef      `json:"entity"`
			Score    float64        `json:"score"`
			Summary  string         `json:"summary"`
			Evidence map[string]any `json:"evidence"`
		}{s.At.UTC().Format("2006-01-02T15:04:05Z"), s.Detector, s.Entity, s.Score, s.Summary, s.Evidence})
	}
	var dec event.Decoder
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, event.MaxEventBytes), event.MaxEventBytes)
	n := 0
	for sc.Scan() {
		n++
		var ev event.Event
		if err := dec.Decode(sc.Bytes(), &ev); err != nil {
			t.Fatalf("%s:%d: %v", path, n, err)
		}
		for _, a := range e.Apply(&ev) {
			line("alert", a)
		}
	}
	for _, a := range e.Flush() {
		line("alert", a)
	}
	ids := make([]string, 0, len(e.hosts))
	for id, h := range e.hosts {
		if h.streams > 0 {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	for _, id := range ids {
		h := e.hosts[id]
		scores := map[string]float64{}
		for i, f := range e.fams {
			if s := h.eval.scores[i]; s != 0 {
				scores[f.name()] = round3(s)
			}
		}
		line("host", struct {
			ID       string             `json:"id"`
			Severity Severity           `json:"severity"`
			Scores   map[string]float64 `json:"scores"`
		}{id, h.eval.sev, scores})
	}
	return out.Bytes()
}

// lineDiff lists the lines only in want (-) and only in got (+).
func lineDiff(want, got []byte) string {
	w := strings.Split(string(want), "\n")
	g := strings.Split(string(got), "\n")
	var b strings.Builder
	for i := 0; i < max(len(w), len(g)); i++ {
		var x, y string
		if i < len(w) {
			x = w[i]
		}
		if i < len(g) {
			y = g[i]
		}
		if x != y {
			fmt.Fprintf(&b, "line %d\n- %s\n+ %s\n", i+1, x, y)
		}
	}
	return b.String()
}

// writeStoryEvents writes each story's events, in time order, as NDJSON.
func writeStoryEvents(t *testing.T) {
	for name, story := range goldenStories {
		w := newWorld(t)
		story(w)
		evs := w.pend
		slices.SortStableFunc(evs, func(a, b event.Event) int { return a.At.Compare(b.At) })
		var buf bytes.Buffer
		for _, ev := range evs {
			j, err := json.Marshal(ev)
			if err != nil {
				t.Fatal(err)
			}
			buf.Write(j)
			buf.WriteByte('\n')
		}
		if err := os.WriteFile(filepath.Join(timelines, name+".events.ndjson"), buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}
