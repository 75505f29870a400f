package event

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strconv"

	// A drop-in for compress/gzip that inflates the scenario files about 1.4
	// times as fast (430 against 305 MB/s): replay must read gzip files at
	// 500k events/s.
	"github.com/klauspost/compress/gzip"
)

// LineError is a line of a stream that gave no event; the stream goes on.
// A line of an unknown type has Unknown set: it is counted and skipped, not a
// rejection (EVENTS.md "Encoding").
type LineError struct {
	Line    int    // 1-based line number
	ID      string // the event id, when the line had a valid one
	Field   string // as in FieldError; "type" for an unknown type
	Reason  string
	Unknown bool
}

// Error reads "line 12: field coins: must be an integer > 0".
func (e *LineError) Error() string {
	prefix := "line " + strconv.Itoa(e.Line) + ": "
	if e.Field == "" || e.Unknown {
		return prefix + e.Reason
	}
	return prefix + "field " + e.Field + ": " + e.Reason
}

// Unwrap gives ErrUnknownType for an unknown type, so that errors.Is works on a
// LineError as on the error of Decode.
func (e *LineError) Unwrap() error {
	if e.Unknown {
		return ErrUnknownType
	}
	return nil
}

// ReaderStats counts what a Reader has read. Between calls to Next,
// Lines == Accepted + Rejected + Unknown + Blank: every line, "\n"-terminated
// or the last one without a terminator, is exactly one of those. Duplicates are
// not a Reader matter (see Deduper), so Accepted counts them.
type ReaderStats struct {
	Lines    uint64 // lines read
	Accepted uint64 // lines that gave an event
	Rejected uint64 // lines rejected with a *LineError, Unknown false
	Unknown  uint64 // lines of an unknown type
	Blank    uint64 // lines of only spaces, tabs and carriage returns
	// BytesIn counts bytes taken from the underlying reader, compressed when
	// the input is gzip, for progress against a file size. It runs ahead of
	// the lines by what is buffered.
	BytesIn int64
}

// gzipMagic starts every gzip member (RFC 1952 section 2.3.1).
var gzipMagic = [2]byte{0x1f, 0x8b}

// lineBufSize holds the longest line accepted plus "\r\n", so that ReadSlice
// returns every acceptable line whole and memory stays bounded for any input.
const lineBufSize = MaxEventBytes + 2

// Reader reads a stream of NDJSON events, plain or gzip. Not safe for
// concurrent use.
type Reader struct {
	in    *countingReader
	lines *bufio.Reader
	dec   Decoder
	ev    Event
	stats ReaderStats
	err   error // sticky: io.EOF or a fatal error
}

// NewReader reads NDJSON from r, plain or gzip: gzip is recognized by its magic
// bytes 1f 8b, and a file of several gzip members (cat a.gz b.gz) reads as
// one. It fails only when r looks like gzip but has no valid gzip header, or
// cannot be read at all.
func NewReader(r io.Reader) (*Reader, error) {
	in := &countingReader{r: r}
	br := bufio.NewReaderSize(in, lineBufSize)
	head, err := br.Peek(len(gzipMagic))
	if err != nil && err != io.EOF {
		return nil, fmt.Errorf("read input: %w", err)
	}
	rd := &Reader{in: in, lines: br}
	if len(head) == len(gzipMagic) && [2]byte(head) == gzipMagic {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("read gzip header: %w", err)
		}
		rd.lines = bufio.NewReaderSize(zr, lineBufSize)
	}
	return rd, nil
}

// Next returns the next accepted event, valid until the next call to Next (the
// Event is reused; copy it to keep it). For a rejected or unknown-type line it
// returns a *LineError, after which Next goes on with the next line. At the end
// it returns io.EOF, and for a fatal fault (I/O, corrupt or truncated gzip)
// another error, wrapped with the line it stopped at; both are then returned
// for every later call.
func (r *Reader) Next() (*Event, error) {
	for r.err == nil {
		line, err := r.readLine()
		if err != nil {
			r.err = err
			break
		}
		if line == nil {
			continue // a blank line
		}
		n := int(r.stats.Lines)
		if len(line) > MaxEventBytes {
			r.stats.Rejected++
			return nil, &LineError{Line: n, Reason: reasonLineLen}
		}
		derr := r.dec.Decode(line, &r.ev)
		if derr == nil {
			r.stats.Accepted++
			return &r.ev, nil
		}
		fe, isField := derr.(*FieldError)
		switch {
		case isField:
			r.stats.Rejected++
			return nil, &LineError{Line: n, ID: r.ev.ID, Field: fe.Field, Reason: fe.Reason}
		case errors.Is(derr, ErrUnknownType):
			r.stats.Unknown++
			return nil, &LineError{Line: n, ID: r.ev.ID, Field: "type", Reason: derr.Error(), Unknown: true}
		default:
			r.stats.Rejected++
			return nil, &LineError{Line: n, ID: r.ev.ID, Reason: derr.Error()}
		}
	}
	return nil, r.err
}

// Stats returns the counts so far.
func (r *Reader) Stats() ReaderStats {
	s := r.stats
	s.BytesIn = r.in.n
	return s
}

// readLine returns the next line without its terminator, counted in
// stats.Lines. A blank line is counted (Blank too) and returned as nil; a line
// longer than MaxEventBytes is skipped, not buffered, and returned as a slice
// just over the limit so that the caller rejects it. The error is io.EOF at a
// clean end, or a fatal one.
func (r *Reader) readLine() ([]byte, error) {
	line, err := r.lines.ReadSlice('\n')
	switch {
	case err == nil:
		line = line[:len(line)-1]
	case err == io.EOF:
		if len(line) == 0 {
			return nil, io.EOF
		}
		// The last line has no "\n"; io.EOF comes again on the next call.
	case errors.Is(err, bufio.ErrBufferFull):
		r.stats.Lines++
		if err := r.skipLine(); err != nil {
			r.stats.Lines-- // the line did not end: a fatal fault, not a line
			return nil, err
		}
		return line, nil // len(line) == lineBufSize > MaxEventBytes
	default:
		return nil, r.fatal(err)
	}
	r.stats.Lines++
	if n := len(line); n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	if isBlank(line) {
		r.stats.Blank++
		return nil, nil
	}
	return line, nil
}

// skipLine discards the rest of an over-long line, through its "\n" or to the
// end of input.
func (r *Reader) skipLine() error {
	for {
		_, err := r.lines.ReadSlice('\n')
		switch {
		case err == nil || err == io.EOF:
			return nil
		case errors.Is(err, bufio.ErrBufferFull):
		default:
			return r.fatal(err)
		}
	}
}

func (r *Reader) fatal(err error) error {
	return fmt.Errorf("read line %d: %w", r.stats.Lines+1, err)
}

func isBlank(b []byte) bool {
	for _, c := range b {
		if c != ' ' && c != '\t' && c != '\r' {
			return false
		}
	}
	return true
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}
