package event

import (
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"runtime"
	"strings"
	"testing"
	"testing/iotest"

	kgzip "github.com/klauspost/compress/gzip"
)

const (
	lineChat  = `{"type":"chat","stream_id":"s1","sender_id":"v1","text":"halo","id":"c1","at":"2025-06-01T18:00:03Z"}`
	lineGift  = `{"type":"gift","stream_id":"s1","host_id":"h1","sender_id":"v1","coins":30,"gift":"bunga","sender_country":"ID","id":"g1","at":"2025-06-01T18:00:04Z"}`
	lineEnd   = `{"type":"stream.end","stream_id":"s1","id":"e1","at":"2025-06-01T18:10:00Z"}`
	lineBad   = `{"type":"gift","stream_id":"s1","host_id":"h1","sender_id":"v1","coins":0,"id":"g2","at":"2025-06-01T18:00:05Z"}`
	lineFutur = `{"type":"stream.pause","stream_id":"s1","id":"p1","at":"2025-06-01T18:00:06Z"}`
)

func gzipped(t testing.TB, parts ...string) []byte {
	t.Helper()
	var buf bytes.Buffer
	for _, p := range parts { // one gzip member per part
		zw := gzip.NewWriter(&buf)
		if _, err := zw.Write([]byte(p)); err != nil {
			t.Fatal(err)
		}
		if err := zw.Close(); err != nil {
			t.Fatal(err)
		}
	}
	return buf.Bytes()
}

// outcome is what Next gave for one line: an event id, or a line error.
type outcome struct {
	id   string
	line int    // for a line error
	errs string // for a line error: its message
}

// readAll reads r to the end and returns the outcomes and the final error
// (nil at a clean io.EOF).
func readAll(t testing.TB, r *Reader) ([]outcome, error) {
	t.Helper()
	var out []outcome
	for {
		ev, err := r.Next()
		var le *LineError
		switch {
		case err == nil:
			out = append(out, outcome{id: ev.ID})
		case errors.As(err, &le):
			out = append(out, outcome{line: le.Line, errs: le.Error()})
		case err == io.EOF:
			return out, nil
		default:
			return out, err
		}
	}
}

func TestReader(t *testing.T) {
	t.Parallel()
	longLine := `{"type":"chat","text":"` + strings.Repeat("x", MaxEventBytes) + `"}`
	tests := []struct {
		name  string
		input []byte
		want  []outcome
		stats ReaderStats // BytesIn is checked separately
	}{
		{
			name:  "plain",
			input: []byte(lineChat + "\n" + lineGift + "\n" + lineEnd + "\n"),
			want:  []outcome{{id: "c1"}, {id: "g1"}, {id: "e1"}},
			stats: ReaderStats{Lines: 3, Accepted: 3},
		},
		{
			name:  "no final newline",
			input: []byte(lineChat + "\n" + lineGift),
			want:  []outcome{{id: "c1"}, {id: "g1"}},
			stats: ReaderStats{Lines: 2, Accepted: 2},
		},
		{
			name:  "empty",
			input: nil,
			stats: ReaderStats{},
		},
		{
			name:  "one byte",
			input: []byte("\x1f"),
			want:  []outcome{{line: 1, errs: "line 1: invalid JSON: unexpected 0x1f at byte 0"}},
			stats: ReaderStats{Lines: 1, Rejected: 1},
		},
		{
			name:  "gzip",
			input: gzipped(t, lineChat+"\n"+lineGift+"\n"),
			want:  []outcome{{id: "c1"}, {id: "g1"}},
			stats: ReaderStats{Lines: 2, Accepted: 2},
		},
		{
			name:  "multistream gzip",
			input: gzipped(t, lineChat+"\n", lineGift+"\n", lineEnd+"\n"),
			want:  []outcome{{id: "c1"}, {id: "g1"}, {id: "e1"}},
			stats: ReaderStats{Lines: 3, Accepted: 3},
		},
		{
			name:  "multistream gzip splitting a line",
			input: gzipped(t, lineChat+"\n"+lineGift[:40], lineGift[40:]+"\n"),
			want:  []outcome{{id: "c1"}, {id: "g1"}},
			stats: ReaderStats{Lines: 2, Accepted: 2},
		},
		{
			name:  "CRLF and blank lines",
			input: []byte("\r\n" + lineChat + "\r\n  \t\r\n\n" + lineGift + "\r\n"),
			want:  []outcome{{id: "c1"}, {id: "g1"}},
			stats: ReaderStats{Lines: 5, Accepted: 2, Blank: 3},
		},
		{
			name:  "rejected and unknown lines",
			input: []byte(lineChat + "\n" + lineBad + "\n" + lineFutur + "\n{\n" + lineEnd + "\n"),
			want: []outcome{
				{id: "c1"},
				{line: 2, errs: "line 2: field coins: must be an integer > 0"},
				{line: 3, errs: `line 3: unknown event type "stream.pause"`},
				{line: 4, errs: "line 4: invalid JSON: unexpected end in object at byte 1"},
				{id: "e1"},
			},
			stats: ReaderStats{Lines: 5, Accepted: 2, Rejected: 2, Unknown: 1},
		},
		{
			name:  "over-long line between two good ones",
			input: []byte(lineChat + "\n" + longLine + "\n" + lineGift + "\n"),
			want: []outcome{
				{id: "c1"},
				{line: 2, errs: "line 2: line longer than 65536 bytes"},
				{id: "g1"},
			},
			stats: ReaderStats{Lines: 3, Accepted: 2, Rejected: 1},
		},
		{
			name:  "over-long line in gzip, last, without newline",
			input: gzipped(t, lineChat+"\n"+longLine+longLine),
			want: []outcome{
				{id: "c1"},
				{line: 2, errs: "line 2: line longer than 65536 bytes"},
			},
			stats: ReaderStats{Lines: 2, Accepted: 1, Rejected: 1},
		},
		{
			name:  "line of exactly the limit, with CRLF",
			input: []byte(padTo(lineChat, MaxEventBytes) + "\r\n" + padTo(lineGift, MaxEventBytes+1) + "\r\n"),
			want: []outcome{
				{id: "c1"},
				{line: 2, errs: "line 2: line longer than 65536 bytes"},
			},
			stats: ReaderStats{Lines: 2, Accepted: 1, Rejected: 1},
		},
	}
	for _, tt := range tests {
		for _, wrap := range []struct {
			name string
			fn   func(io.Reader) io.Reader
		}{
			{"", func(r io.Reader) io.Reader { return r }},
			{" one byte at a time", iotest.OneByteReader},
			{" with EOF on the last data", iotest.DataErrReader},
		} {
			r, err := NewReader(wrap.fn(bytes.NewReader(tt.input)))
			if err != nil {
				t.Fatalf("%s%s: NewReader: %v", tt.name, wrap.name, err)
			}
			got, err := readAll(t, r)
			if err != nil {
				t.Errorf("%s%s: %v", tt.name, wrap.name, err)
			}
			if !equalOutcomes(got, tt.want) {
				t.Errorf("%s%s:\n got %v\nwant %v", tt.name, wrap.name, got, tt.want)
			}
			st := r.Stats()
			if st.BytesIn != int64(len(tt.input)) {
				t.Errorf("%s%s: BytesIn = %d, want %d", tt.name, wrap.name, st.BytesIn, len(tt.input))
			}
			st.BytesIn = 0
			if st != tt.stats {
				t.Errorf("%s%s: stats %+v, want %+v", tt.name, wrap.name, st, tt.stats)
			}
		}
	}
}

// padTo pads a JSON object line with spaces before its closing brace.
func padTo(line string, n int) string {
	return line[:len(line)-1] + strings.Repeat(" ", n-len(line)) + "}"
}

func equalOutcomes(a, b []outcome) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestReaderLineError(t *testing.T) {
	t.Parallel()
	r, err := NewReader(strings.NewReader(lineChat + "\n" + lineBad + "\n" + lineFutur + "\n"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Next(); err != nil {
		t.Fatal(err)
	}
	_, err = r.Next()
	want := &LineError{Line: 2, ID: "g2", Field: "coins", Reason: "must be an integer > 0"}
	var le *LineError
	if !errors.As(err, &le) || *le != *want {
		t.Errorf("got %#v, want %#v", err, want)
	}
	if errors.Is(err, ErrUnknownType) {
		t.Errorf("a rejection is not an unknown type")
	}
	_, err = r.Next()
	if !errors.As(err, &le) || !le.Unknown || le.ID != "p1" || le.Field != "type" || !errors.Is(err, ErrUnknownType) {
		t.Errorf("got %#v, want an unknown type line error", err)
	}
	if _, err = r.Next(); err != io.EOF {
		t.Errorf("got %v, want io.EOF", err)
	}
	if _, err = r.Next(); err != io.EOF {
		t.Errorf("after the end: got %v, want io.EOF again", err)
	}
}

func TestReaderFatal(t *testing.T) {
	t.Parallel()
	full := gzipped(t, lineChat+"\n"+lineGift+"\n"+lineEnd+"\n")

	t.Run("truncated gzip", func(t *testing.T) {
		t.Parallel()
		r, err := NewReader(bytes.NewReader(full[:len(full)-12]))
		if err != nil {
			t.Fatal(err)
		}
		_, err = readAll(t, r)
		if !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Fatalf("got %v, want io.ErrUnexpectedEOF", err)
		}
		if !strings.HasPrefix(err.Error(), "read line ") {
			t.Errorf("error %q lacks context", err)
		}
		if _, again := r.Next(); again != err {
			t.Errorf("the fatal error is not sticky: %v", again)
		}
		st := r.Stats()
		if st.Lines != st.Accepted+st.Rejected+st.Unknown+st.Blank {
			t.Errorf("counts do not add up: %+v", st)
		}
	})

	t.Run("corrupt gzip", func(t *testing.T) {
		t.Parallel()
		bad := bytes.Clone(full)
		bad[len(bad)-5] ^= 0xff // the length in the trailer
		r, err := NewReader(bytes.NewReader(bad))
		if err != nil {
			t.Fatal(err)
		}
		if _, err = readAll(t, r); err == nil {
			t.Fatal("a corrupt gzip trailer went unnoticed")
		}
	})

	t.Run("garbage after a gzip member", func(t *testing.T) {
		t.Parallel()
		r, err := NewReader(bytes.NewReader(append(bytes.Clone(full), "trailing bytes, not gzip"...)))
		if err != nil {
			t.Fatal(err)
		}
		if _, err = readAll(t, r); !errors.Is(err, kgzip.ErrHeader) {
			t.Fatalf("got %v, want gzip.ErrHeader", err)
		}
	})

	t.Run("bad gzip header", func(t *testing.T) {
		t.Parallel()
		if _, err := NewReader(bytes.NewReader([]byte{0x1f, 0x8b, 0, 0})); err == nil {
			t.Fatal("NewReader took a broken gzip header")
		}
	})

	t.Run("read error", func(t *testing.T) {
		t.Parallel()
		boom := errors.New("boom")
		in := io.MultiReader(strings.NewReader(lineChat+"\n"+lineGift[:20]), iotest.ErrReader(boom))
		r, err := NewReader(in)
		if err != nil {
			t.Fatal(err)
		}
		got, err := readAll(t, r)
		if !errors.Is(err, boom) || err.Error() != "read line 2: boom" {
			t.Fatalf("got %v, want read line 2: boom", err)
		}
		if len(got) != 1 || got[0].id != "c1" {
			t.Errorf("got %v before the error, want c1", got)
		}
		if st := r.Stats(); st.Lines != 1 || st.Accepted != 1 {
			t.Errorf("the partial line was counted: %+v", st)
		}
	})

	t.Run("read error in an over-long line", func(t *testing.T) {
		t.Parallel()
		boom := errors.New("boom")
		in := io.MultiReader(strings.NewReader(strings.Repeat("x", 3*MaxEventBytes)), iotest.ErrReader(boom))
		r, err := NewReader(in)
		if err != nil {
			t.Fatal(err)
		}
		if _, err = readAll(t, r); !errors.Is(err, boom) {
			t.Fatalf("got %v, want boom", err)
		}
		if st := r.Stats(); st.Lines != 0 || st.Rejected != 0 {
			t.Errorf("the unfinished line was counted: %+v", st)
		}
	})
}

// repeatReader gives n bytes of c.
type repeatReader struct {
	c byte
	n int64
}

func (r *repeatReader) Read(p []byte) (int, error) {
	if r.n <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > r.n {
		p = p[:r.n]
	}
	for i := range p {
		p[i] = r.c
	}
	r.n -= int64(len(p))
	return len(p), nil
}

// TestReaderBoundedMemory reads a 64 MiB line: the Reader must skip it, not
// hold it.
func TestReaderBoundedMemory(t *testing.T) {
	const huge = 64 << 20
	in := io.MultiReader(
		strings.NewReader(lineChat+"\n"),
		&repeatReader{c: 'x', n: huge},
		strings.NewReader("\n"+lineGift+"\n"),
	)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	r, err := NewReader(in)
	if err != nil {
		t.Fatal(err)
	}
	got, err := readAll(t, r)
	runtime.ReadMemStats(&after)
	if err != nil {
		t.Fatal(err)
	}
	want := []outcome{{id: "c1"}, {line: 2, errs: "line 2: line longer than 65536 bytes"}, {id: "g1"}}
	if !equalOutcomes(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 4<<20 {
		t.Errorf("reading a %d-byte line allocated %d bytes", huge, alloc)
	}
}
