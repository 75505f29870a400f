// Package keyframes samples the keyframes the media tap takes off the wire,
// hashes them with PDQ against the hash lists and offers them to the
// classifier hook.
//
// A Frame is sampled at most once per MinInterval per stream and queued
// (bounded: a full queue drops the frame and counts it). Workers decode a
// VP8 keyframe (vp8key, golang.org/x/image/vp8) to an image in memory, hash it, and
// a hash within a list's threshold becomes a `signal` event (source "pdq",
// the list's label); the decoded image, or an H.264 access unit when the
// classifier takes one (H.264 is not decoded here), is then offered to the
// classifier. Frames, images and JPEGs stay in memory: nothing is written
// to disk, and no frame bytes are logged.
//
// It does not take frames off the wire (sidecar/media does) and does not
// wire itself into `ronda serve` (sidecar/serve does).
package keyframes

import (
	"errors"
	"time"
)

// Codecs a Frame may carry.
const (
	CodecVP8  = "VP8"
	CodecH264 = "H264"
)

// Defaults.
const (
	DefaultMinInterval   = 2 * time.Second
	DefaultQueueSize     = 32
	DefaultMaxFrameBytes = 1 << 20
	DefaultMaxPixels     = 1920 * 1088
	DefaultMaxStreams    = 20000
	DefaultMinQuality    = 50
	DefaultMatchCooldown = 5 * time.Minute
	DefaultSinkTimeout   = 5 * time.Second
)

// Config of the sampler, as `ronda serve`'s media section names it.
type Config struct {
	// MinInterval is the least time between two sampled keyframes of one
	// stream (by the frames' own time); keyframes between are counted
	// (sampled_out) and skipped. Default 2s.
	MinInterval time.Duration `yaml:"min_interval"`
	// QueueSize bounds the frames waiting for a worker; a frame sampled
	// while it is full is dropped and counted (queue_full). Default 32.
	QueueSize int `yaml:"queue_size"`
	// Workers decode and hash in parallel. Default 1 (one core: a 640x360
	// frame takes about 3 ms to decode and hash).
	Workers int `yaml:"workers"`
	// MaxFrameBytes bounds one encoded frame; a larger one is counted
	// (too_large) and skipped. Default 1 MiB.
	MaxFrameBytes int `yaml:"max_frame_bytes"`
	// MaxPixels bounds a keyframe's width x height, read from its header
	// before decoding, so that a forged header cannot make a worker
	// allocate gigabytes. Default 1920x1088.
	MaxPixels int `yaml:"max_pixels"`
	// MaxStreams bounds the streams whose last sample time is kept; past
	// it, streams idle for 10 x MinInterval are forgotten, and if none is,
	// new streams' frames are counted (streams_full) and skipped.
	// Default 20,000.
	MaxStreams int `yaml:"max_streams"`
	// MinQuality is the least PDQ quality of a frame's hash that is matched
	// against the lists: featureless frames (black, a test card) have hashes
	// that match by chance. Default 50, the reference's advice.
	MinQuality int `yaml:"min_quality"`
	// MatchCooldown is the least time (by the frames' own time) between two
	// signals of one list about one stream: a stream that keeps showing a
	// listed picture raises one signal per cooldown, not one per sampled
	// keyframe; the matches between are counted. Default 5m.
	MatchCooldown time.Duration `yaml:"match_cooldown"`
	// SinkTimeout bounds the hand-over of a match signal to the pipeline.
	// Default 5s.
	SinkTimeout time.Duration `yaml:"sink_timeout"`
}

// WithDefaults fills the zero fields.
func (c Config) WithDefaults() Config {
	if c.MinInterval == 0 {
		c.MinInterval = DefaultMinInterval
	}
	if c.MatchCooldown == 0 {
		c.MatchCooldown = DefaultMatchCooldown
	}
	if c.SinkTimeout == 0 {
		c.SinkTimeout = DefaultSinkTimeout
	}
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	def(&c.QueueSize, DefaultQueueSize)
	def(&c.Workers, 1)
	def(&c.MaxFrameBytes, DefaultMaxFrameBytes)
	def(&c.MaxPixels, DefaultMaxPixels)
	def(&c.MaxStreams, DefaultMaxStreams)
	def(&c.MinQuality, DefaultMinQuality)
	return c
}

// Validate reports the first problem of a defaulted Config.
func (c Config) Validate() error {
	switch {
	case c.MinInterval < 0, c.MatchCooldown < 0, c.SinkTimeout < 0:
		return errors.New("keyframes: min_interval, match_cooldown and sink_timeout must not be negative")
	case c.QueueSize < 1, c.Workers < 1, c.MaxFrameBytes < 1, c.MaxPixels < 1, c.MaxStreams < 1:
		return errors.New("keyframes: queue_size, workers, max_frame_bytes, max_pixels and max_streams must be positive")
	case c.Workers > 64:
		return errors.New("keyframes: workers must be at most 64")
	case c.MinQuality < 0 || c.MinQuality > 100:
		return errors.New("keyframes: min_quality must be between 0 and 100")
	}
	return nil
}
