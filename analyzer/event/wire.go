package event

import (
	"bytes"
	"encoding/json"
	"net/netip"
	"strconv"
	"time"
)

// Phases of a stream.wire event.
const (
	WireStarted = "started"
	WireLive    = "live"
	WireEnded   = "ended"
)

// WireFacts are what the media tap read of a broadcast on the wire, without
// decoding a picture: the figures of its first video and first audio track
// over the interval since the previous stream.wire of the stream. Zero
// values are facts not seen (no video, no key frame yet).
type WireFacts struct {
	// Source is where the tap read it: whip, janus, whep.
	Source string `json:"source,omitempty"`
	// Start and End are the first and (phase ended) last packet's arrival.
	Start time.Time `json:"start,omitzero"`
	End   time.Time `json:"end,omitzero"`

	VideoCodec        string  `json:"video_codec,omitempty"`
	Width             int     `json:"width,omitempty"`
	Height            int     `json:"height,omitempty"`
	FPS               float64 `json:"fps,omitempty"`
	VideoBitrateBps   int64   `json:"video_bitrate_bps,omitempty"`
	KeyframeIntervalS float64 `json:"keyframe_interval_s,omitempty"`

	AudioCodec      string `json:"audio_codec,omitempty"`
	Audio           bool   `json:"audio,omitempty"`  // an audio track carried packets
	Silent          bool   `json:"silent,omitempty"` // …all of them silence or DTX
	AudioBitrateBps int64  `json:"audio_bitrate_bps,omitempty"`

	// Lost packets in the interval and the receiver's jitter, all tracks.
	Lost     int64   `json:"lost,omitempty"`
	JitterMs float64 `json:"jitter_ms,omitempty"`
}

// Bounds of stream.wire's figures: past them a value is a sender's bug.
const (
	maxWireShort   = 32 // source and codec names
	maxWireSide    = 16384
	maxWireFPS     = 1000
	maxWireBitrate = 100_000_000_000
	maxWireSeconds = 86400
	maxWireLost    = 1 << 40
	maxWireJitter  = 3_600_000
)

func (d *Decoder) streamWire(ev *Event) *FieldError {
	if err := firstErr(
		d.idField(fStreamID, true, &ev.StreamID),
		d.idField(fHostID, false, &ev.HostID),
		d.reqStr(fPhase, &ev.Phase),
		d.str(fNetwork, &ev.Network),
	); err != nil {
		return err
	}
	switch ev.Phase {
	case WireStarted, WireLive, WireEnded:
	default:
		return fieldErr(fPhase, "must be started, live or ended")
	}
	if ev.Network != "" && !coarsePrefix(ev.Network) {
		// Only a coarsened address is taken: a full one is personal data
		// Ronda does not keep.
		return fieldErr(fNetwork, "must be an address prefix of /24 (IPv4) or /48 (IPv6), like 203.0.113.0/24")
	}
	sp, ok, err := d.get(fFacts, false)
	if err != nil || !ok {
		return err
	}
	if sp.kind != '{' {
		return fieldErr(fFacts, reasonObject)
	}
	w, ferr := d.wireFacts(d.s.b[sp.start:sp.end])
	if ferr != nil {
		return ferr
	}
	ev.Wire = w
	return nil
}

func coarsePrefix(s string) bool {
	p, err := netip.ParsePrefix(s)
	if err != nil || p != p.Masked() {
		return false
	}
	return (p.Addr().Is4() && p.Bits() == 24) || (p.Addr().Is6() && !p.Addr().Is4In6() && p.Bits() == 48)
}

// wireFacts decodes the facts object, which the line's scan has already
// checked as strict JSON: unknown keys are ignored, a repeated key, a value
// of the wrong type or out of its bounds rejects the event.
func (d *Decoder) wireFacts(obj []byte) (*WireFacts, *FieldError) {
	dec := json.NewDecoder(bytes.NewReader(obj))
	dec.UseNumber()
	if _, err := dec.Token(); err != nil { // {
		return nil, fieldErr(fFacts, reasonObject)
	}
	w := new(WireFacts)
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		key, ok := tok.(string)
		if err != nil || !ok {
			return nil, fieldErr(fFacts, reasonObject)
		}
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			return nil, fieldErr(fFacts, reasonObject)
		}
		path := "facts." + key
		if len(key) > 64 {
			path = "facts"
		}
		if seen[key] {
			return nil, &FieldError{Field: path, Reason: reasonDuplicate}
		}
		seen[key] = true
		if string(raw) == "null" {
			continue
		}
		var ferr *FieldError
		switch key {
		case "source":
			ferr = wireString(path, raw, &w.Source)
		case "start":
			ferr = d.wireTime(path, raw, &w.Start)
		case "end":
			ferr = d.wireTime(path, raw, &w.End)
		case "video_codec":
			ferr = wireString(path, raw, &w.VideoCodec)
		case "width":
			ferr = wireInt(path, raw, maxWireSide, &w.Width)
		case "height":
			ferr = wireInt(path, raw, maxWireSide, &w.Height)
		case "fps":
			ferr = wireFloat(path, raw, maxWireFPS, &w.FPS)
		case "video_bitrate_bps":
			ferr = wireInt(path, raw, maxWireBitrate, &w.VideoBitrateBps)
		case "keyframe_interval_s":
			ferr = wireFloat(path, raw, maxWireSeconds, &w.KeyframeIntervalS)
		case "audio_codec":
			ferr = wireString(path, raw, &w.AudioCodec)
		case "audio":
			ferr = wireBool(path, raw, &w.Audio)
		case "silent":
			ferr = wireBool(path, raw, &w.Silent)
		case "audio_bitrate_bps":
			ferr = wireInt(path, raw, maxWireBitrate, &w.AudioBitrateBps)
		case "lost":
			ferr = wireInt(path, raw, maxWireLost, &w.Lost)
		case "jitter_ms":
			ferr = wireFloat(path, raw, maxWireJitter, &w.JitterMs)
		}
		if ferr != nil {
			return nil, ferr
		}
	}
	return w, nil
}

func wireString(path string, raw []byte, dst *string) *FieldError {
	if raw[0] != '"' {
		return &FieldError{Field: path, Reason: reasonString}
	}
	var s string
	if json.Unmarshal(raw, &s) != nil || len(s) > maxWireShort {
		return &FieldError{Field: path, Reason: "must be a string of at most 32 bytes"}
	}
	*dst = s
	return nil
}

func (d *Decoder) wireTime(path string, raw []byte, dst *time.Time) *FieldError {
	var s string
	if raw[0] != '"' || json.Unmarshal(raw, &s) != nil {
		return &FieldError{Field: path, Reason: reasonTime}
	}
	t, ok := d.times.parse([]byte(s))
	if !ok {
		return &FieldError{Field: path, Reason: reasonTime}
	}
	*dst = t
	return nil
}

func wireInt[T int | int64](path string, raw []byte, hi int64, dst *T) *FieldError {
	n, ok := parseInteger(raw)
	if !ok || (raw[0] != '-' && (raw[0] < '0' || raw[0] > '9')) || n < 0 || n > hi {
		return &FieldError{Field: path, Reason: "must be an integer between 0 and " + strconv.FormatInt(hi, 10)}
	}
	*dst = T(n)
	return nil
}

func wireFloat(path string, raw []byte, hi float64, dst *float64) *FieldError {
	reason := "must be a number between 0 and " + strconv.FormatFloat(hi, 'f', -1, 64)
	if raw[0] != '-' && (raw[0] < '0' || raw[0] > '9') {
		return &FieldError{Field: path, Reason: reason}
	}
	x, err := strconv.ParseFloat(string(raw), 64)
	if err != nil || !(x >= 0 && x <= hi) {
		return &FieldError{Field: path, Reason: reason}
	}
	*dst = x
	return nil
}

func wireBool(path string, raw []byte, dst *bool) *FieldError {
	switch string(raw) {
	case "true":
		*dst = true
	case "false":
		*dst = false
	default:
		return &FieldError{Field: path, Reason: reasonBool}
	}
	return nil
}
