package media

import (
	"net/netip"
	"time"
)

// Report states of a session, the stream.wire event's state.
const (
	StateStarted = "started"
	StateLive    = "live"
	StateEnded   = "ended"
)

// Report is a session's wire facts at one moment.
type Report struct {
	StreamID, HostID, Kind string
	// Session is a random id of the session, Seq the report's number in it
	// from 1: together a unique id for the report.
	Session string
	Seq     int
	// State is StateStarted, StateLive or StateEnded.
	State string
	// At is when the report was made.
	At time.Time
	// Start is the first packet's arrival; End the last one's (set when
	// ended).
	Start, End time.Time
	// Network is the publisher's address prefix on the selected ICE
	// candidate pair, coarsened to /24 (IPv4) or /48 (IPv6); empty when the
	// remote candidate is not an address (an mDNS name).
	Network string
	// Tracks are the facts of each track read, in the order they arrived.
	Tracks []TrackFacts
}

// TrackFacts are one track's figures over the time since the previous report
// (the session so far for the key frame interval and the resolution).
type TrackFacts struct {
	// Kind is video or audio; Codec vp8, h264 or opus.
	Kind  string `json:"kind"`
	Codec string `json:"codec"`
	// BitrateBps is media payload bits per second, measured on the RTP
	// clock (what the sender stamped), not on arrival.
	BitrateBps int64 `json:"bitrate_bps"`
	// FPS is frames per second (video), by the RTP timestamps of distinct
	// frames.
	FPS float64 `json:"fps,omitempty"`
	// KeyframeIntervalS is the mean time between key frames so far (video).
	KeyframeIntervalS float64 `json:"keyframe_interval_s,omitempty"`
	// Width and Height are the coded picture's size from the latest key frame
	// header (VP8) or SPS (H.264).
	Width  int `json:"width,omitempty"`
	Height int `json:"height,omitempty"`
	// Silent (audio) is true when nearly every packet of the interval is
	// a DTX or silence frame (at most 3 bytes), or none arrived.
	Silent *bool `json:"silent,omitempty"`
	// Packets received in the interval, and lost and jitter as the
	// receiver's RTP statistics have them (pion's stats interceptor; absent
	// on connections built without it).
	Packets  int64   `json:"packets"`
	Lost     int64   `json:"lost,omitempty"`
	JitterMs float64 `json:"jitter_ms,omitempty"`
}

// Prefix coarsens an address to its /24 (IPv4) or /48 (IPv6) network, the
// only form in which Ronda keeps a publisher's address. It answers "" for
// anything that is not an address.
func Prefix(addr string) string {
	a, err := netip.ParseAddr(addr)
	if err != nil {
		return ""
	}
	a = a.Unmap()
	bits := 48
	if a.Is4() {
		bits = 24
	}
	p, err := a.Prefix(bits)
	if err != nil {
		return ""
	}
	return p.String()
}
