package serve

import (
	"bytes"
	"errors"
	"fmt"
	"time"

	"github.com/ronda-watch/ronda/analyzer/event"
	codec "github.com/ronda-watch/ronda/analyzer/snapshot"
)

// An intake log record of an event batch: version byte 4, then on
// analyzer/snapshot's values the wall time intake took the batch (Unix
// nanoseconds, varint), the event count and each event in its binary form
// (event.EncodeBinary). Binary rather than NDJSON: encoding is on the
// sender's path, before the answer, and JSON cost a third of intake's
// throughput. A test fills every field of event.Event by reflection, so a
// field added there and not to the event's binary form fails. Version 3,
// before gift.sender_tz, and version 2, before stream.wire, are read too.
const (
	logRecordVersion   = 4
	logRecordVersionV3 = 3
	logRecordVersionV2 = 2
)

var errLogRecord = errors.New("intake log record malformed")

func encodeLogRecord(buf *bytes.Buffer, wall time.Time, evs []event.Event) error {
	buf.Reset()
	enc := codec.Enc{B: buf.AvailableBuffer()}
	enc.B = append(enc.B, logRecordVersion)
	enc.Varint(wall.UnixNano())
	enc.Uvarint(uint64(len(evs)))
	for i := range evs {
		event.EncodeBinary(&enc, &evs[i])
	}
	buf.Write(enc.B)
	return nil
}

// decodeLogRecord reads a record of the intake log. The record passed its
// checksum, so a fault means another version wrote it: it is an error, never
// a guess.
func decodeLogRecord(p []byte) (time.Time, []event.Event, error) {
	if len(p) < 1 || (p[0] != logRecordVersion && p[0] != logRecordVersionV3 && p[0] != logRecordVersionV2) {
		return time.Time{}, nil, fmt.Errorf("%w: version %v, this build reads %d", errLogRecord, p[:min(1, len(p))], logRecordVersion)
	}
	d := codec.NewDec(p[1:], errLogRecord, "event batch")
	wall := time.Unix(0, d.Varint()).UTC()
	n := d.Len(len(p), "event") // an event takes a byte at least
	if err := d.Err(); err != nil {
		return time.Time{}, nil, err
	}
	decode := event.DecodeBinary
	switch p[0] {
	case logRecordVersionV3:
		decode = event.DecodeBinaryNoSenderTZ
	case logRecordVersionV2:
		decode = event.DecodeBinaryNoWire
	}
	evs := make([]event.Event, n)
	for i := range evs {
		decode(d, &evs[i])
		if err := d.Err(); err != nil {
			return time.Time{}, nil, fmt.Errorf("event %d: %w", i+1, err)
		}
	}
	if err := d.Done(); err != nil {
		return time.Time{}, nil, err
	}
	return wall, evs, nil
}
