package event

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"os"
	"slices"
	"testing"
	"time"
)

// realLines loads testdata/real.ndjson: a sample of the public scenarios in
// their own mix of types (mostly chat, gift and heartbeat, 147 bytes a line
// on average).
func realLines(tb testing.TB) [][]byte {
	tb.Helper()
	data, err := os.ReadFile("testdata/real.ndjson")
	if err != nil {
		tb.Fatal(err)
	}
	return bytes.Split(bytes.TrimSuffix(data, []byte("\n")), []byte("\n"))
}

func totalBytes(lines [][]byte) int64 {
	var n int64
	for _, l := range lines {
		n += int64(len(l))
	}
	return n
}

// BenchmarkDecode decodes the sample once per op; lines/s is the figure to
// hold against the pipeline's budget.
func BenchmarkDecode(b *testing.B) {
	lines := realLines(b)
	b.SetBytes(totalBytes(lines))
	b.ReportAllocs()
	var d Decoder
	var ev Event
	for b.Loop() {
		for _, l := range lines {
			if err := d.Decode(l, &ev); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(b.N*len(lines))/b.Elapsed().Seconds(), "lines/s")
}

// BenchmarkReader reads the sample, 20 times over, through a Reader, plain
// and gzip: the intake of a replay, decompression included.
func BenchmarkReader(b *testing.B) {
	lines := realLines(b)
	lines = slices.Repeat(lines, 20)
	plain := append(bytes.Join(lines, []byte("\n")), '\n')
	var zbuf bytes.Buffer
	zw := gzip.NewWriter(&zbuf)
	zw.Write(plain)
	zw.Close()
	for _, in := range []struct {
		name string
		data []byte
	}{{"plain", plain}, {"gzip", zbuf.Bytes()}} {
		b.Run(in.name, func(b *testing.B) {
			b.SetBytes(int64(len(plain)))
			b.ReportAllocs()
			for b.Loop() {
				r, err := NewReader(bytes.NewReader(in.data))
				if err != nil {
					b.Fatal(err)
				}
				for {
					_, err := r.Next()
					if err == io.EOF {
						break
					}
					if err != nil {
						b.Fatal(err)
					}
				}
			}
			b.ReportMetric(float64(b.N*len(lines))/b.Elapsed().Seconds(), "lines/s")
		})
	}
}

func BenchmarkDeduper(b *testing.B) {
	ids := make([]string, 1<<16)
	for i := range ids {
		ids[i] = fmt.Sprintf("e101-%d", i)
	}
	d := NewDeduper(10*time.Minute, 1<<20)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		// One event per 10 ms of event time; every 32nd repeats the one before.
		n := i
		if i%32 == 31 {
			n--
		}
		d.Seen(ids[n&(len(ids)-1)], t0.Add(time.Duration(i)*10*time.Millisecond))
		i++
	}
}

func BenchmarkOrderer(b *testing.B) {
	o := NewOrderer(5*time.Second, 1<<16)
	ev := Event{Type: TypeChat, TypeName: "chat", ID: "x"}
	b.ReportAllocs()
	i := 0
	sink := func(*Event) {}
	for b.Loop() {
		// Mostly in order, every 8th event 2 s late.
		ev.At = t0.Add(time.Duration(i) * 10 * time.Millisecond)
		if i%8 == 7 {
			ev.At = ev.At.Add(-2 * time.Second)
		}
		o.Push(&ev)
		o.Release(sink)
		i++
	}
}
