package wal

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"strconv"
	"strings"
)

const (
	// headerSize is the fixed size of a record header, little endian:
	// magic u16 | flags u8 | reserved u8 | length u32 | seq u64 | CRC-32C u32.
	// The checksum covers the seq and the payload, so a record moved to
	// another place of the log (a misdirected write) does not pass as good.
	headerSize = 20
	// recordMagic marks the start of every record ("RW", Ronda write-ahead log).
	recordMagic uint16 = 0x5752
	// MaxRecordBytes is the largest payload Append accepts.
	MaxRecordBytes = 64 << 20

	segSuffix = ".wal"
	segDigits = 20
	quarDir   = "damaged"
	lockName  = "lock"
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

func recordCRC(seq uint64, payload []byte) uint32 {
	var s [8]byte
	binary.LittleEndian.PutUint64(s[:], seq)
	return crc32.Update(crc32.Checksum(s[:], castagnoli), castagnoli, payload)
}

// appendRecord appends the framed record to dst.
func appendRecord(dst []byte, seq uint64, payload []byte) []byte {
	var h [headerSize]byte
	binary.LittleEndian.PutUint16(h[0:2], recordMagic)
	binary.LittleEndian.PutUint32(h[4:8], uint32(len(payload)))
	binary.LittleEndian.PutUint64(h[8:16], seq)
	binary.LittleEndian.PutUint32(h[16:20], recordCRC(seq, payload))
	dst = append(dst, h[:]...)
	return append(dst, payload...)
}

// Damage says why a segment's bytes stop being good records.
type Damage int

const (
	// Clean: the bytes end exactly after the last good record.
	Clean Damage = iota
	// Torn: the bytes after the good records are an incomplete record cut by
	// the end of the file, or all zero: what a crash during a write leaves.
	Torn
	// Corrupt: a complete record whose header is invalid, whose checksum does
	// not match, or whose sequence number does not follow its predecessor's.
	Corrupt
)

func (d Damage) String() string {
	switch d {
	case Clean:
		return "clean"
	case Torn:
		return "torn"
	default:
		return "corrupt"
	}
}

// Record is one good record found by Decode.
type Record struct {
	Seq     uint64
	Payload []byte // aliases the decoded bytes
}

// Decoded is what Decode found in a segment's bytes.
type Decoded struct {
	Records []Record
	Good    int    // bytes of good records from the start
	Damage  Damage // what follows them
	Reason  string // why the rest is not good, for the log
}

var errBadHeader = errors.New("bad record header")

// Decode reads the records of one segment's bytes. first is the sequence
// number the segment's name promises its first record has; each next record
// must carry the next number. Decoding stops at the first record that is not
// good: everything from there on is reported, never skipped past, since
// after a damaged header the framing of what follows cannot be trusted.
func Decode(b []byte, first uint64) Decoded {
	var d Decoded
	next := first
	for off := 0; off < len(b); {
		rest := b[off:]
		if len(rest) < headerSize {
			d.Damage, d.Reason = Torn, fmt.Sprintf("header cut short after %d bytes", len(rest))
			if allZero(rest) {
				d.Reason = "zero-filled tail"
			}
			return d
		}
		n, seq, crc, err := parseHeader(rest[:headerSize])
		if err != nil {
			if allZero(rest) {
				d.Damage, d.Reason = Torn, "zero-filled tail"
			} else {
				d.Damage, d.Reason = Corrupt, err.Error()
			}
			return d
		}
		if uint64(len(rest)-headerSize) < uint64(n) {
			d.Damage, d.Reason = Torn, fmt.Sprintf("payload of %d bytes cut short after %d", n, len(rest)-headerSize)
			return d
		}
		payload := rest[headerSize : headerSize+int(n)]
		if got := recordCRC(seq, payload); got != crc {
			d.Damage, d.Reason = Corrupt, fmt.Sprintf("checksum mismatch at seq %d: header %#08x, record %#08x", seq, crc, got)
			return d
		}
		if seq != next {
			d.Damage, d.Reason = Corrupt, fmt.Sprintf("record seq %d where %d was due", seq, next)
			return d
		}
		d.Records = append(d.Records, Record{Seq: seq, Payload: payload})
		next++
		off += headerSize + int(n)
		d.Good = off
	}
	return d
}

func parseHeader(h []byte) (n uint32, seq uint64, crc uint32, err error) {
	if m := binary.LittleEndian.Uint16(h[0:2]); m != recordMagic {
		return 0, 0, 0, fmt.Errorf("%w: magic %#04x", errBadHeader, m)
	}
	if h[2] != 0 || h[3] != 0 {
		return 0, 0, 0, fmt.Errorf("%w: flags %#02x reserved %#02x", errBadHeader, h[2], h[3])
	}
	n = binary.LittleEndian.Uint32(h[4:8])
	if n > MaxRecordBytes {
		return 0, 0, 0, fmt.Errorf("%w: length %d above %d", errBadHeader, n, MaxRecordBytes)
	}
	return n, binary.LittleEndian.Uint64(h[8:16]), binary.LittleEndian.Uint32(h[16:20]), nil
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

func segName(first uint64) string { return fmt.Sprintf("%0*d%s", segDigits, first, segSuffix) }

func parseSegName(name string) (uint64, bool) {
	digits, ok := strings.CutSuffix(name, segSuffix)
	if !ok || len(digits) != segDigits {
		return 0, false
	}
	for _, c := range digits {
		if c < '0' || c > '9' {
			return 0, false
		}
	}
	v, err := strconv.ParseUint(digits, 10, 64)
	return v, err == nil && v > 0
}
