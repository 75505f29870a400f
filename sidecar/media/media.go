// Package media is Ronda's tap on the broadcast itself: it reads the RTP of
// WebRTC peer connections (a WHIP publisher, a Janus VideoRoom subscription,
// a WHEP playback), reports per track the facts the wire shows without
// decoding a picture (bitrate, frame rate, key frame interval, resolution,
// audio present or silent, loss and jitter, start and end, the publisher's
// network prefix) and, when asked, hands complete key frames to a callback in
// memory, rate-limited per stream, asking the publisher for them (RTCP PLI)
// when the stream is due one.
//
// What it must not do: write media anywhere (no file, no log, no metric holds
// a byte of it; a key frame exists only in the slice given to OnKeyframe),
// keep a publisher's full address (only its /24 or /48), put a stream's name
// on a metric, or outlive its context (every goroutine it starts ends when
// the session or the tap ends). It does not create peer connections or
// answer offers except through the WHIP handler (whip.go), and it does not
// wire itself into the service: sidecar/serve does.
package media

import (
	"errors"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Session kinds: where a peer connection came from. They label metrics.
const (
	KindWHIP  = "whip"
	KindJanus = "janus"
	KindWHEP  = "whep"
)

// MinKeyframeRequestInterval is the least time between two key frame
// requests (RTCP PLI) the tap sends on one track, whatever KeyframeEvery:
// a key frame costs the publisher several times an ordinary frame's bits.
const MinKeyframeRequestInterval = time.Second

// Errors of Attach, for callers that branch on them.
var (
	// ErrTooManySessions: Config.MaxSessions sessions are live.
	ErrTooManySessions = errors.New("media: too many sessions")
	// ErrClosed: the tap has stopped.
	ErrClosed = errors.New("media: tap closed")
)

// Config bounds the tap. Zero values take the defaults.
type Config struct {
	// MaxSessions bounds the peer connections tapped at once; one more is
	// refused (WHIP answers 503 with Retry-After). Default 200.
	MaxSessions int `yaml:"max_sessions"`
	// MaxTracks bounds the tracks read per session (a publisher sends one
	// video and one audio track); further tracks are not read, and counted.
	// Default 4.
	MaxTracks int `yaml:"max_tracks"`
	// ReadBuffer is the bytes of the buffer each track's packets are read
	// into: at least the largest RTP packet (the path MTU). Default 1500.
	ReadBuffer int `yaml:"read_buffer"`
	// ReportEvery is how often a live session's wire facts are reported
	// (the stream.wire events, like heartbeats). Default 60s.
	ReportEvery time.Duration `yaml:"report_every"`
	// KeyframeEvery is the least time between two key frames handed to
	// OnKeyframe for one stream; key frames in between are not assembled.
	// When OnKeyframe is set and a stream is due a key frame, the tap asks
	// the publisher for one (RTCP PLI), at most once per KeyframeEvery per
	// track and never within MinKeyframeRequestInterval. Default 10s.
	KeyframeEvery time.Duration `yaml:"keyframe_every"`
	// MaxKeyframeBytes bounds one assembled key frame; a larger one is
	// dropped and counted. Default 4 MiB.
	MaxKeyframeBytes int `yaml:"max_keyframe_bytes"`
}

func (c *Config) applyDefaults() {
	if c.MaxSessions <= 0 {
		c.MaxSessions = 200
	}
	if c.MaxTracks <= 0 {
		c.MaxTracks = 4
	}
	if c.ReadBuffer <= 0 {
		c.ReadBuffer = 1500
	}
	if c.ReportEvery <= 0 {
		c.ReportEvery = time.Minute
	}
	if c.KeyframeEvery <= 0 {
		c.KeyframeEvery = 10 * time.Second
	}
	if c.MaxKeyframeBytes <= 0 {
		c.MaxKeyframeBytes = 4 << 20
	}
}

// DefaultConfig is Config with every default applied.
func DefaultConfig() Config {
	var c Config
	c.applyDefaults()
	return c
}

// Options configure a Tap.
type Options struct {
	Config
	// OnReport receives each session's wire facts: when its first packet
	// arrives (started), every ReportEvery (live) and when it ends (ended).
	// It runs on the session's goroutine and must return quickly.
	OnReport func(Report)
	// OnKeyframe, when set, receives complete key frames, at most one per
	// KeyframeEvery per stream: VP8 frames as the decoder takes them, H.264
	// access units in Annex B. The slice is the callee's to keep or drop; the
	// tap keeps no reference and writes it nowhere. It runs on the track's
	// reading goroutine: a slow callee delays that track's reading (pion
	// buffers, then drops), so hand heavy work to a bounded queue.
	OnKeyframe func(streamID, codec string, frame []byte, at time.Time)
	// WantsKeyframes, when set, says per codec (vp8, h264) whether OnKeyframe
	// wants that codec's key frames; nil: every codec. A track of a codec not
	// wanted is neither assembled nor asked for key frames (RTCP PLI): each
	// costs the publisher several ordinary frames' bits, for a frame the
	// consumer would drop. Called once per track.
	WantsKeyframes func(codec string) bool
	// Now is the wall clock; default time.Now.
	Now func() time.Time
	// Registerer receives the metrics; nil registers none.
	Registerer prometheus.Registerer
	// Logger; default slog.Default().
	Logger *slog.Logger
}

// SessionInfo says what a peer connection carries.
type SessionInfo struct {
	// StreamID is the platform's stream id (the stream.* events' stream_id).
	StreamID string
	// HostID is the broadcasting account when known.
	HostID string
	// Kind is where the connection came from: KindWHIP, KindJanus, KindWHEP.
	Kind string
}
