package replay

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/bytedance/sonic"
	"github.com/valyala/fastjson"

	"github.com/ronda-watch/ronda/analyzer/event"
)

// The benchmarks run over public-twoweeks (../shared/scenarios), decompressed once
// into a temporary file, so that the replay and the bare decoders are measured side
// by side in one run:
//
//	go test ./sidecar/replay -run '^$' -bench . -benchmem
//
// RONDA_SHARED points at the shared directory when it is not ../shared next to the
// module root.

func TestMain(m *testing.M) {
	code := m.Run()
	if benchDir != "" {
		_ = os.RemoveAll(benchDir)
	}
	os.Exit(code)
}

var (
	benchOnce sync.Once
	benchDir  string
	benchPath string
	benchData []byte
	benchErr  error
)

// sharedDir finds the shared directory: $RONDA_SHARED, else ../shared relative to
// the directory holding go.mod.
func sharedDir() (string, error) {
	if d := os.Getenv("RONDA_SHARED"); d != "" {
		return d, nil
	}
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return filepath.Join(dir, "..", "shared"), nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory")
		}
		dir = parent
	}
}

// benchInput returns the decompressed public-twoweeks events, as a file and in
// memory, or skips the benchmark when the scenarios are not there.
func benchInput(b *testing.B) (string, []byte) {
	b.Helper()
	benchOnce.Do(func() {
		shared, err := sharedDir()
		if err != nil {
			benchErr = err
			return
		}
		gz := filepath.Join(shared, "scenarios", "public-twoweeks", "events.ndjson.gz")
		f, err := os.Open(gz)
		if err != nil {
			benchErr = err
			return
		}
		defer f.Close()
		zr, err := gzip.NewReader(f)
		if err != nil {
			benchErr = err
			return
		}
		if benchData, err = io.ReadAll(zr); err != nil {
			benchErr = err
			return
		}
		if benchDir, err = os.MkdirTemp("", "ronda-bench-"); err != nil {
			benchErr = err
			return
		}
		benchPath = filepath.Join(benchDir, "events.ndjson")
		benchErr = os.WriteFile(benchPath, benchData, 0o600)
	})
	if benchErr != nil {
		b.Skipf("public-twoweeks scenario not available (set RONDA_SHARED to the shared directory): %v", benchErr)
	}
	return benchPath, benchData
}

func BenchmarkReplay(b *testing.B) {
	path, data := benchInput(b)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	var events uint64
	for b.Loop() {
		s, err := Run(context.Background(), Options{In: path})
		if err != nil {
			b.Fatal(err)
		}
		events += s.Events
	}
	b.ReportMetric(float64(events)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkDecodeOnly measures decoding alone over the same bytes: Ronda's
// event.Reader (which also validates every field) against general JSON decoders
// that only unmarshal or only parse each line.
func BenchmarkDecodeOnly(b *testing.B) {
	_, data := benchInput(b)
	decoders := []struct {
		name string
		run  func(b *testing.B, data []byte) uint64
	}{
		{"event.Reader", decodeReader},
		{"sonic.Unmarshal", eachLine(func(line []byte, ev *event.Event) error { return sonic.Unmarshal(line, ev) })},
		{"encoding-json.Unmarshal", eachLine(func(line []byte, ev *event.Event) error { return json.Unmarshal(line, ev) })},
		{"fastjson.Parse", decodeFastjson},
	}
	for _, d := range decoders {
		b.Run(d.name, func(b *testing.B) {
			b.SetBytes(int64(len(data)))
			b.ReportAllocs()
			var events uint64
			for b.Loop() {
				events += d.run(b, data)
			}
			b.ReportMetric(float64(events)/b.Elapsed().Seconds(), "events/s")
		})
	}
}

func decodeReader(b *testing.B, data []byte) uint64 {
	r, err := event.NewReader(bytes.NewReader(data))
	if err != nil {
		b.Fatal(err)
	}
	var n uint64
	for {
		_, err := r.Next()
		switch {
		case err == nil:
			n++
		case errors.Is(err, io.EOF):
			return n
		default:
			var le *event.LineError
			if !errors.As(err, &le) {
				b.Fatal(err)
			}
		}
	}
}

// eachLine unmarshals every non-blank line into one reused event.
func eachLine(unmarshal func([]byte, *event.Event) error) func(*testing.B, []byte) uint64 {
	return func(b *testing.B, data []byte) uint64 {
		var ev event.Event
		var n uint64
		for len(data) > 0 {
			line := data
			if i := bytes.IndexByte(data, '\n'); i >= 0 {
				line, data = data[:i], data[i+1:]
			} else {
				data = nil
			}
			if len(line) == 0 {
				continue
			}
			ev = event.Event{}
			if err := unmarshal(line, &ev); err != nil {
				b.Fatal(err)
			}
			n++
		}
		return n
	}
}

func decodeFastjson(b *testing.B, data []byte) uint64 {
	var p fastjson.Parser
	var n uint64
	for len(data) > 0 {
		line := data
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			line, data = data[:i], data[i+1:]
		} else {
			data = nil
		}
		if len(line) == 0 {
			continue
		}
		if _, err := p.ParseBytes(line); err != nil {
			b.Fatal(err)
		}
		n++
	}
	return n
}
