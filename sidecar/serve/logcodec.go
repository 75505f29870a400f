package serve

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/ronda-watch/ronda/analyzer/event"
)

// An intake log record: version byte 2, the wall time intake took the batch
// (Unix nanoseconds, varint), the event count (uvarint), then each event's
// fields in the order of event.Event: strings as uvarint length and bytes,
// integers as varints, floats as 8 bytes, times as a presence byte, Unix
// seconds, nanoseconds and the zone offset, optional parts (geo, host facts) behind a presence
// byte. Binary rather than NDJSON: encoding is on the sender's path, before
// the answer, and JSON cost a third of intake's throughput. A test fills every
// field of event.Event by reflection, so a field added there and not here fails.
const logRecordVersion = 2

var errLogRecord = errors.New("intake log record malformed")

func encodeLogRecord(buf *bytes.Buffer, wall time.Time, evs []event.Event) error {
	buf.Reset()
	b := buf.AvailableBuffer()
	b = append(b, logRecordVersion)
	b = binary.AppendVarint(b, wall.UnixNano())
	b = binary.AppendUvarint(b, uint64(len(evs)))
	for i := range evs {
		b = appendEvent(b, &evs[i])
	}
	buf.Write(b)
	return nil
}

func appendEvent(b []byte, e *event.Event) []byte {
	str := func(s string) { b = binary.AppendUvarint(b, uint64(len(s))); b = append(b, s...) }
	strs := func(ss []string) {
		b = binary.AppendUvarint(b, uint64(len(ss)))
		for _, s := range ss {
			str(s)
		}
	}
	tm := func(t time.Time) {
		if t.IsZero() {
			b = append(b, 0)
			return
		}
		b = append(b, 1)
		b = binary.AppendVarint(b, t.Unix())
		b = binary.AppendUvarint(b, uint64(t.Nanosecond()))
		_, off := t.Zone() // the sender's offset, kept as the decoder keeps it
		b = binary.AppendVarint(b, int64(off))
	}
	f64 := func(f float64) { b = binary.LittleEndian.AppendUint64(b, math.Float64bits(f)) }
	bl := func(v bool) {
		if v {
			b = append(b, 1)
		} else {
			b = append(b, 0)
		}
	}
	b = append(b, byte(e.Type))
	str(e.TypeName)
	str(e.ID)
	tm(e.At)
	str(e.Node)
	str(e.StreamID)
	str(e.HostID)
	str(e.Title)
	strs(e.Tags)
	str(e.Category)
	str(e.DeviceID)
	str(e.IP)
	bl(e.Geo != nil)
	if e.Geo != nil {
		f64(e.Geo.Lat)
		f64(e.Geo.Lon)
		f64(e.Geo.AccuracyM)
	}
	str(e.TZ)
	str(e.AgencyID)
	bl(e.Host != nil)
	if e.Host != nil {
		tm(e.Host.CreatedAt)
		b = binary.AppendVarint(b, int64(e.Host.BirthYear))
		switch {
		case e.Host.AgeVerified == nil:
			b = append(b, 0)
		case *e.Host.AgeVerified:
			b = append(b, 2)
		default:
			b = append(b, 1)
		}
	}
	b = binary.AppendVarint(b, int64(e.Viewers))
	bl(e.Private)
	str(e.Reason)
	str(e.SenderID)
	b = binary.AppendVarint(b, e.Coins)
	str(e.Gift)
	str(e.SenderCountry)
	str(e.Text)
	str(e.AccountID)
	str(e.Kind)
	str(e.ToID)
	strs(e.Links)
	str(e.FromID)
	str(e.Rel)
	str(e.ToAccount)
	f64(e.Amount)
	str(e.Currency)
	str(e.Method)
	str(e.Source)
	str(e.Label)
	f64(e.Score)
	return b
}

// logReader reads a record's fields; the first fault sticks.
type logReader struct {
	b   []byte
	err error
}

func (r *logReader) fail(what string) {
	if r.err == nil {
		r.err = fmt.Errorf("%w: %s at %d bytes from the end", errLogRecord, what, len(r.b))
	}
}

func (r *logReader) byte1() byte {
	if r.err != nil || len(r.b) < 1 {
		r.fail("byte")
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

func (r *logReader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.fail("uvarint")
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *logReader) varint() int64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.fail("varint")
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *logReader) str() string {
	n := r.uvarint()
	if r.err != nil || n > uint64(len(r.b)) || n > event.MaxEventBytes {
		r.fail("string")
		return ""
	}
	s := string(r.b[:n])
	r.b = r.b[n:]
	return s
}

func (r *logReader) strs() []string {
	n := r.uvarint()
	if r.err != nil || n > uint64(len(r.b)) {
		r.fail("list")
		return nil
	}
	if n == 0 {
		return nil
	}
	out := make([]string, n)
	for i := range out {
		out[i] = r.str()
	}
	return out
}

func (r *logReader) f64() float64 {
	if r.err != nil || len(r.b) < 8 {
		r.fail("float")
		return 0
	}
	v := math.Float64frombits(binary.LittleEndian.Uint64(r.b))
	r.b = r.b[8:]
	return v
}

func (r *logReader) flag() bool {
	switch r.byte1() {
	case 0:
		return false
	case 1:
		return true
	}
	r.fail("flag")
	return false
}

func (r *logReader) tm() time.Time {
	if !r.flag() {
		return time.Time{}
	}
	sec := r.varint()
	ns := r.uvarint()
	off := r.varint()
	if ns >= 1e9 || off < -24*3600 || off > 24*3600 {
		r.fail("time")
		return time.Time{}
	}
	t := time.Unix(sec, int64(ns)).UTC()
	if off != 0 {
		t = t.In(time.FixedZone("", int(off)))
	}
	return t
}

// decodeLogRecord reads a record of the intake log. The record passed its
// checksum, so a fault means another version wrote it: it is an error, never
// a guess.
func decodeLogRecord(p []byte) (time.Time, []event.Event, error) {
	if len(p) < 1 || p[0] != logRecordVersion {
		return time.Time{}, nil, fmt.Errorf("%w: version %v, this build reads %d", errLogRecord, p[:min(1, len(p))], logRecordVersion)
	}
	r := &logReader{b: p[1:]}
	wall := time.Unix(0, r.varint()).UTC()
	n := r.uvarint()
	if r.err == nil && n > uint64(len(r.b)) {
		r.fail("event count")
	}
	if r.err != nil {
		return time.Time{}, nil, r.err
	}
	evs := make([]event.Event, n)
	for i := range evs {
		e := &evs[i]
		e.Type = event.Type(r.byte1())
		e.TypeName = r.str()
		e.ID = r.str()
		e.At = r.tm()
		e.Node = r.str()
		e.StreamID = r.str()
		e.HostID = r.str()
		e.Title = r.str()
		e.Tags = r.strs()
		e.Category = r.str()
		e.DeviceID = r.str()
		e.IP = r.str()
		if r.flag() {
			e.Geo = &event.Geo{Lat: r.f64(), Lon: r.f64(), AccuracyM: r.f64()}
		}
		e.TZ = r.str()
		e.AgencyID = r.str()
		if r.flag() {
			h := &event.HostFacts{CreatedAt: r.tm(), BirthYear: int(r.varint())}
			switch r.byte1() {
			case 0:
			case 1:
				h.AgeVerified = new(bool)
			case 2:
				v := true
				h.AgeVerified = &v
			default:
				r.fail("age_verified")
			}
			e.Host = h
		}
		e.Viewers = int(r.varint())
		e.Private = r.flag()
		e.Reason = r.str()
		e.SenderID = r.str()
		e.Coins = r.varint()
		e.Gift = r.str()
		e.SenderCountry = r.str()
		e.Text = r.str()
		e.AccountID = r.str()
		e.Kind = r.str()
		e.ToID = r.str()
		e.Links = r.strs()
		e.FromID = r.str()
		e.Rel = r.str()
		e.ToAccount = r.str()
		e.Amount = r.f64()
		e.Currency = r.str()
		e.Method = r.str()
		e.Source = r.str()
		e.Label = r.str()
		e.Score = r.f64()
		if r.err != nil {
			return time.Time{}, nil, fmt.Errorf("event %d: %w", i+1, r.err)
		}
	}
	if len(r.b) != 0 {
		return time.Time{}, nil, fmt.Errorf("%w: %d bytes after the last event", errLogRecord, len(r.b))
	}
	return wall, evs, nil
}
