package event

import (
	"math"

	"github.com/ronda-watch/ronda/analyzer/snapshot"
)

// The event's binary form, for Ronda's own records of events (the intake
// log): every field of Event in its order, on snapshot's values: strings with
// their length, integers as varints, floats and times as snapshot writes them
// (a time keeps its zone offset), the optional parts (geo, host facts) behind
// a presence flag. It is not a wire format and carries no version: the record
// around it does. A test in sidecar/serve fills every field of Event by
// reflection, so a field added there and not here fails.

// EncodeBinary appends e to enc.
func EncodeBinary(to *snapshot.Enc, e *Event) {
	enc := *to // a local copy, so that the inlined appends keep it in registers
	enc.Uvarint(uint64(e.Type))
	enc.String(e.TypeName)
	enc.String(e.ID)
	enc.Time(e.At)
	enc.String(e.Node)
	enc.String(e.StreamID)
	enc.String(e.HostID)
	enc.String(e.Title)
	encodeStrings(&enc, e.Tags)
	enc.String(e.Category)
	enc.String(e.DeviceID)
	enc.String(e.IP)
	enc.Bool(e.Geo != nil)
	if e.Geo != nil {
		enc.F64(e.Geo.Lat)
		enc.F64(e.Geo.Lon)
		enc.F64(e.Geo.AccuracyM)
	}
	enc.String(e.TZ)
	enc.String(e.AgencyID)
	enc.Bool(e.Host != nil)
	if e.Host != nil {
		enc.Time(e.Host.CreatedAt)
		enc.Varint(int64(e.Host.BirthYear))
		switch {
		case e.Host.AgeVerified == nil:
			enc.Uvarint(0)
		case *e.Host.AgeVerified:
			enc.Uvarint(2)
		default:
			enc.Uvarint(1)
		}
	}
	enc.Varint(int64(e.Viewers))
	enc.Bool(e.Private)
	enc.String(e.Reason)
	enc.String(e.SenderID)
	enc.Varint(e.Coins)
	enc.String(e.Gift)
	enc.String(e.SenderCountry)
	enc.String(e.Text)
	enc.String(e.AccountID)
	enc.String(e.Kind)
	enc.String(e.ToID)
	encodeStrings(&enc, e.Links)
	enc.String(e.FromID)
	enc.String(e.Rel)
	enc.String(e.ToAccount)
	enc.F64(e.Amount)
	enc.String(e.Currency)
	enc.String(e.Method)
	enc.String(e.Source)
	enc.String(e.Label)
	enc.F64(e.Score)
	encodeWire(&enc, e)
	enc.String(e.SenderTZ)
	*to = enc
}

// encodeWire writes stream.wire's fields, which records before them lack
// (DecodeBinaryNoWire reads those).
func encodeWire(enc *snapshot.Enc, e *Event) {
	enc.String(e.Phase)
	enc.String(e.Network)
	enc.Bool(e.Wire != nil)
	if w := e.Wire; w != nil {
		enc.String(w.Source)
		enc.Time(w.Start)
		enc.Time(w.End)
		enc.String(w.VideoCodec)
		enc.Varint(int64(w.Width))
		enc.Varint(int64(w.Height))
		enc.F64(w.FPS)
		enc.Varint(w.VideoBitrateBps)
		enc.F64(w.KeyframeIntervalS)
		enc.String(w.AudioCodec)
		enc.Bool(w.Audio)
		enc.Bool(w.Silent)
		enc.Varint(w.AudioBitrateBps)
		enc.Varint(w.Lost)
		enc.F64(w.JitterMs)
	}
}

func decodeWire(d *snapshot.Dec, e *Event) {
	e.Phase = d.String(MaxEventBytes)
	e.Network = d.String(MaxEventBytes)
	if d.Bool() {
		e.Wire = &WireFacts{Source: d.String(MaxEventBytes), Start: d.Time(), End: d.Time(),
			VideoCodec: d.String(MaxEventBytes), Width: int(d.Varint()), Height: int(d.Varint()), FPS: d.F64(),
			VideoBitrateBps: d.Varint(), KeyframeIntervalS: d.F64(), AudioCodec: d.String(MaxEventBytes),
			Audio: d.Bool(), Silent: d.Bool(), AudioBitrateBps: d.Varint(), Lost: d.Varint(), JitterMs: d.F64()}
	}
}

func encodeStrings(enc *snapshot.Enc, ss []string) {
	enc.Uvarint(uint64(len(ss)))
	for _, s := range ss {
		enc.String(s)
	}
}

// DecodeBinary reads an event written by EncodeBinary into e. No string is
// longer than MaxEventBytes, no list longer than the bytes left; a fault
// sticks in d (d.Err) and leaves e partly read.
func DecodeBinary(d *snapshot.Dec, e *Event) {
	DecodeBinaryNoSenderTZ(d, e)
	e.SenderTZ = d.String(MaxEventBytes)
}

// DecodeBinaryNoSenderTZ reads an event written before gift.sender_tz existed
// (stream.wire's fields last).
func DecodeBinaryNoSenderTZ(d *snapshot.Dec, e *Event) {
	DecodeBinaryNoWire(d, e)
	decodeWire(d, e)
}

// DecodeBinaryNoWire reads an event written before stream.wire existed
// (without its fields at the end).
func DecodeBinaryNoWire(d *snapshot.Dec, e *Event) {
	e.Type = Type(d.Uint(math.MaxUint8, "type"))
	e.TypeName = d.String(MaxEventBytes)
	e.ID = d.String(MaxEventBytes)
	e.At = d.Time()
	e.Node = d.String(MaxEventBytes)
	e.StreamID = d.String(MaxEventBytes)
	e.HostID = d.String(MaxEventBytes)
	e.Title = d.String(MaxEventBytes)
	e.Tags = decodeStrings(d, "tags")
	e.Category = d.String(MaxEventBytes)
	e.DeviceID = d.String(MaxEventBytes)
	e.IP = d.String(MaxEventBytes)
	if d.Bool() {
		e.Geo = &Geo{Lat: d.F64(), Lon: d.F64(), AccuracyM: d.F64()}
	}
	e.TZ = d.String(MaxEventBytes)
	e.AgencyID = d.String(MaxEventBytes)
	if d.Bool() {
		h := &HostFacts{CreatedAt: d.Time(), BirthYear: int(d.Varint())}
		switch d.Uint(2, "age_verified") {
		case 1:
			h.AgeVerified = new(bool)
		case 2:
			v := true
			h.AgeVerified = &v
		}
		e.Host = h
	}
	e.Viewers = int(d.Varint())
	e.Private = d.Bool()
	e.Reason = d.String(MaxEventBytes)
	e.SenderID = d.String(MaxEventBytes)
	e.Coins = d.Varint()
	e.Gift = d.String(MaxEventBytes)
	e.SenderCountry = d.String(MaxEventBytes)
	e.Text = d.String(MaxEventBytes)
	e.AccountID = d.String(MaxEventBytes)
	e.Kind = d.String(MaxEventBytes)
	e.ToID = d.String(MaxEventBytes)
	e.Links = decodeStrings(d, "links")
	e.FromID = d.String(MaxEventBytes)
	e.Rel = d.String(MaxEventBytes)
	e.ToAccount = d.String(MaxEventBytes)
	e.Amount = d.F64()
	e.Currency = d.String(MaxEventBytes)
	e.Method = d.String(MaxEventBytes)
	e.Source = d.String(MaxEventBytes)
	e.Label = d.String(MaxEventBytes)
	e.Score = d.F64()
}

func decodeStrings(d *snapshot.Dec, what string) []string {
	n := d.Len(MaxEventBytes, what)
	if n == 0 {
		return nil
	}
	out := make([]string, n)
	for i := range out {
		out[i] = d.String(MaxEventBytes)
	}
	return out
}
