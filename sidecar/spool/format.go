package spool

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"strconv"
	"strings"
)

const (
	// headerSize is the fixed size of a record header:
	// magic u16 | flags u8 | reserved u8 | length u32 | CRC-32C u32, little endian.
	headerSize = 12
	// recordMagic marks the start of every record ("RS", Ronda spool).
	recordMagic uint16 = 0x5352
	// MaxRecordBytes is the largest payload Append accepts.
	MaxRecordBytes = 64 << 20

	segSuffix  = ".seg"
	segDigits  = 12
	tmpSuffix  = ".tmp"
	cursorName = "cursor"
	lockName   = "lock"
	quarDir    = "quarantine"
)

// castagnoli is hardware accelerated on amd64 (SSE4.2) and arm64.
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

func putHeader(h []byte, payload []byte) {
	binary.LittleEndian.PutUint16(h[0:2], recordMagic)
	h[2] = 0 // flags: none defined yet
	h[3] = 0 // reserved
	binary.LittleEndian.PutUint32(h[4:8], uint32(len(payload)))
	binary.LittleEndian.PutUint32(h[8:12], crc32.Checksum(payload, castagnoli))
}

type header struct {
	length uint32
	crc    uint32
}

// errBadHeader is a header that cannot start a record written by this
// package: wrong magic, unknown flags, reserved bits set or a length above
// MaxRecordBytes.
var errBadHeader = errors.New("bad record header")

func parseHeader(h []byte) (header, error) {
	if binary.LittleEndian.Uint16(h[0:2]) != recordMagic {
		return header{}, fmt.Errorf("%w: magic %#04x", errBadHeader, binary.LittleEndian.Uint16(h[0:2]))
	}
	if h[2] != 0 || h[3] != 0 {
		return header{}, fmt.Errorf("%w: flags %#02x reserved %#02x", errBadHeader, h[2], h[3])
	}
	n := binary.LittleEndian.Uint32(h[4:8])
	if n > MaxRecordBytes {
		return header{}, fmt.Errorf("%w: length %d above %d", errBadHeader, n, MaxRecordBytes)
	}
	return header{length: n, crc: binary.LittleEndian.Uint32(h[8:12])}, nil
}

// tailKind says how a segment scan ended.
type tailKind int

const (
	// tailClean: the segment ends exactly after its last good record.
	tailClean tailKind = iota
	// tailTorn: the bytes after the good prefix are an incomplete record
	// (header or payload cut short by the end of the file) or all zero
	// (a file extended without its data). This is what a write interrupted
	// by a crash leaves behind.
	tailTorn
	// tailCorrupt: a complete record whose header is invalid or whose
	// checksum does not match.
	tailCorrupt
)

func (k tailKind) String() string {
	switch k {
	case tailClean:
		return "clean"
	case tailTorn:
		return "torn"
	default:
		return "corrupt"
	}
}

// scanResult describes a segment read from some start offset.
type scanResult struct {
	good    int64    // end of the good prefix: offset just after the last good record
	records int      // good records between the start offset and good
	tail    tailKind // what follows the good prefix
	reason  string   // why the tail is not clean
}

// scanSegment reads records from r, which starts at offset start of a
// segment, until EOF. It verifies every checksum while streaming the payload
// through the hash, so it holds no record in memory. visit, if not nil, is
// called for every good record with its offset and length. Only I/O errors
// are returned as errors; damage is reported in the result.
func scanSegment(r io.Reader, start int64, visit func(off int64, length uint32)) (scanResult, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	res := scanResult{good: start}
	var h [headerSize]byte
	crc := crc32.New(castagnoli)
	for {
		n, err := io.ReadFull(br, h[:])
		if err == io.EOF {
			return res, nil
		}
		if err == io.ErrUnexpectedEOF {
			if allZero(h[:n]) {
				res.tail, res.reason = tailTorn, "zero-filled tail"
			} else {
				res.tail, res.reason = tailTorn, fmt.Sprintf("header cut short after %d bytes", n)
			}
			return res, nil
		}
		if err != nil {
			return res, err
		}
		hd, herr := parseHeader(h[:])
		if herr != nil {
			if allZero(h[:]) {
				zero, err := restZero(br)
				if err != nil {
					return res, err
				}
				if zero {
					res.tail, res.reason = tailTorn, "zero-filled tail"
					return res, nil
				}
			}
			res.tail, res.reason = tailCorrupt, herr.Error()
			return res, nil
		}
		crc.Reset()
		m, err := io.CopyN(crc, br, int64(hd.length))
		if err == io.EOF {
			res.tail, res.reason = tailTorn, fmt.Sprintf("payload of %d bytes cut short after %d", hd.length, m)
			return res, nil
		}
		if err != nil {
			return res, err
		}
		if crc.Sum32() != hd.crc {
			res.tail, res.reason = tailCorrupt, fmt.Sprintf("checksum mismatch: header %#08x payload %#08x", hd.crc, crc.Sum32())
			return res, nil
		}
		if visit != nil {
			visit(res.good, hd.length)
		}
		res.good += headerSize + int64(hd.length)
		res.records++
	}
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// restZero consumes r and reports whether every remaining byte is zero.
func restZero(r io.Reader) (bool, error) {
	buf := make([]byte, 32<<10)
	for {
		n, err := r.Read(buf)
		if !allZero(buf[:n]) {
			return false, nil
		}
		if err == io.EOF {
			return true, nil
		}
		if err != nil {
			return false, err
		}
	}
}

func segName(seq uint64) string {
	return fmt.Sprintf("%0*d%s", segDigits, seq, segSuffix)
}

// parseSegName returns the sequence number of a segment file name, or
// ok=false for any other name.
func parseSegName(name string) (seq uint64, ok bool) {
	digits, found := strings.CutSuffix(name, segSuffix)
	if !found || len(digits) != segDigits {
		return 0, false
	}
	for _, c := range digits {
		if c < '0' || c > '9' {
			return 0, false
		}
	}
	seq, err := strconv.ParseUint(digits, 10, 64)
	return seq, err == nil && seq > 0
}

func crc32Checksum(b []byte) uint32 { return crc32.Checksum(b, castagnoli) }
