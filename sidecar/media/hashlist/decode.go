package hashlist

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"

	"github.com/ronda-watch/ronda/sidecar/media/pdq"
)

// Limits of the file format.
const (
	MaxLineBytes = 4096
	MaxIDBytes   = 128
)

// Entry is one hash of a list.
type Entry struct {
	Hash pdq.Hash
	// Quality is the list's quality for the hash, -1 when the line had none.
	Quality int
	// ID is the first id field of the line (the list's reference for the
	// hash), empty when there was none.
	ID string
}

// LineError is a refused line.
type LineError struct {
	Line int
	Err  error
}

func (e *LineError) Error() string { return fmt.Sprintf("line %d: %v", e.Line, e.Err) }
func (e *LineError) Unwrap() error { return e.Err }

// ErrTooMany is returned when a file holds more hashes than allowed.
var ErrTooMany = errors.New("more hashes than max_entries")

// Decode reads a hash list, strictly. The format, shared by HMA's and
// StopNCII's exports of PDQ hashes:
//
//   - UTF-8 text, lines ending in \n or \r\n, at most 4 KiB each;
//   - blank lines and lines whose first byte is # are skipped;
//   - otherwise fields separated by commas, or by tabs when the line has a
//     tab: the PDQ hash as 64 hex digits (either case), then optionally the
//     quality, an integer 0..100 (may be empty), then optionally ids, of
//     which the first (at most 128 bytes, printable ASCII) is kept;
//   - a first record whose first field is "hash", "pdq", "pdq_hash" or
//     "signal" (any case) is a header and skipped;
//   - no CSV quoting: a double quote anywhere is an error.
//
// A hash repeated in the file is kept once (its first line). Entries of
// quality below minQuality are left out. Any other deviation refuses the
// whole file with the line number: a list is either loaded whole or not.
func Decode(r io.Reader, minQuality, maxEntries int) ([]Entry, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	var out []Entry
	seen := make(map[pdq.Hash]struct{})
	first := true
	for n := 1; ; n++ {
		line, err := readLine(br)
		if err == io.EOF && line == nil {
			return out, nil
		}
		if err != nil && err != io.EOF {
			return nil, &LineError{n, err}
		}
		e, ok, perr := parseLine(line, first)
		if perr != nil {
			return nil, &LineError{n, perr}
		}
		if !ok {
			if len(bytes.TrimSpace(line)) > 0 && line[0] != '#' {
				first = false
			}
			continue
		}
		first = false
		if e.Quality >= 0 && e.Quality < minQuality {
			continue
		}
		if _, dup := seen[e.Hash]; dup {
			continue
		}
		if len(out) == maxEntries {
			return nil, &LineError{n, fmt.Errorf("%w (%d)", ErrTooMany, maxEntries)}
		}
		seen[e.Hash] = struct{}{}
		out = append(out, e)
	}
}

// readLine returns one line without its ending; nil at the end.
func readLine(br *bufio.Reader) ([]byte, error) {
	line, err := br.ReadSlice('\n')
	if err == bufio.ErrBufferFull || len(line) > MaxLineBytes+1 {
		return nil, fmt.Errorf("line longer than %d bytes", MaxLineBytes)
	}
	if err == io.EOF && len(line) == 0 {
		return nil, io.EOF
	}
	if err != nil && err != io.EOF {
		return nil, err
	}
	line = bytes.TrimSuffix(line, []byte("\n"))
	line = bytes.TrimSuffix(line, []byte("\r"))
	if len(line) > MaxLineBytes {
		return nil, fmt.Errorf("line longer than %d bytes", MaxLineBytes)
	}
	return line, err
}

// parseLine parses one line; ok is false for a line that holds no entry
// (blank, comment, header).
func parseLine(line []byte, first bool) (e Entry, ok bool, err error) {
	if len(line) == 0 || line[0] == '#' {
		return e, false, nil
	}
	if len(bytes.TrimSpace(line)) == 0 {
		return e, false, nil
	}
	if bytes.IndexByte(line, '"') >= 0 {
		return e, false, errors.New("quoted field: quoting is not part of the format")
	}
	sep := byte(',')
	if bytes.IndexByte(line, '\t') >= 0 {
		sep = '\t'
	}
	fields := bytes.Split(line, []byte{sep})
	if first {
		switch string(bytes.ToLower(fields[0])) {
		case "hash", "pdq", "pdq_hash", "signal":
			return e, false, nil
		}
	}
	h, err := pdq.ParseHash(string(fields[0]))
	if err != nil {
		return e, false, fmt.Errorf("field 1: %w", err)
	}
	e = Entry{Hash: h, Quality: -1}
	if len(fields) > 1 && len(fields[1]) > 0 {
		q, err := strconv.Atoi(string(fields[1]))
		if err != nil || q < 0 || q > 100 || fields[1][0] == '+' {
			return Entry{}, false, fmt.Errorf("field 2: quality %q is not an integer 0..100", clip(fields[1]))
		}
		e.Quality = q
	}
	if len(fields) > 2 {
		id := fields[2]
		if len(id) > MaxIDBytes {
			return Entry{}, false, fmt.Errorf("field 3: id longer than %d bytes", MaxIDBytes)
		}
		for _, c := range id {
			if c < 0x20 || c > 0x7e {
				return Entry{}, false, fmt.Errorf("field 3: id has a byte 0x%02x outside printable ASCII", c)
			}
		}
		e.ID = string(id)
	}
	return e, true, nil
}

// clip bounds what an error quotes of the input.
func clip(b []byte) []byte {
	if len(b) > 16 {
		return b[:16]
	}
	return b
}
