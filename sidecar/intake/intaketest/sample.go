package intaketest

import (
	"bytes"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"sync/atomic"
	"testing"
)

// Sample makes event lines from the analyzer's sample of real lines (mostly
// chat, gift and heartbeat, ~147 bytes each), each id made unique so that
// nothing is a duplicate.
type Sample struct {
	heads, tails [][]byte // each line split around its id's value
	next         atomic.Int64
}

// NewSample reads analyzer/event/testdata/real.ndjson.
func NewSample(tb testing.TB) *Sample {
	_, here, _, _ := runtime.Caller(0)
	data, err := os.ReadFile(filepath.Join(filepath.Dir(here), "../../../analyzer/event/testdata/real.ndjson"))
	if err != nil {
		tb.Fatal(err)
	}
	m := &Sample{}
	for line := range bytes.Lines(data) {
		i := bytes.Index(line, []byte(`"id":"`))
		if i < 0 {
			tb.Fatalf("no id in %s", line)
		}
		i += len(`"id":"`)
		j := i + bytes.IndexByte(line[i:], '"')
		m.heads = append(m.heads, line[:i])
		m.tails = append(m.tails, bytes.TrimRight(line[j:], "\n"))
	}
	return m
}

// Body appends to buf[:0] a batch of n lines with ids unique to this call.
func (m *Sample) Body(buf []byte, n int) []byte {
	call := m.next.Add(1)
	buf = buf[:0]
	for i := range n {
		k := i % len(m.heads)
		buf = append(buf, m.heads[k]...)
		buf = append(buf, 'b')
		buf = strconv.AppendInt(buf, call, 10)
		buf = append(buf, '-')
		buf = strconv.AppendInt(buf, int64(i), 10)
		buf = append(buf, m.tails[k]...)
		buf = append(buf, '\n')
	}
	return buf
}

// Line appends to buf[:0] line i of an endless stream, without a newline,
// its id "w" and i.
func (m *Sample) Line(buf []byte, i int) []byte {
	k := i % len(m.heads)
	buf = append(buf[:0], m.heads[k]...)
	buf = append(buf, 'w')
	buf = strconv.AppendInt(buf, int64(i), 10)
	return append(buf, m.tails[k]...)
}

// LineBytes is the mean size of a Line, for testing.B.SetBytes.
func (m *Sample) LineBytes() int64 {
	var size int64
	for i := range m.heads {
		size += int64(len(m.heads[i]) + len(m.tails[i]) + 8)
	}
	return size / int64(len(m.heads))
}
