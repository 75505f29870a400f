// Package classify sends sampled keyframes to an external HTTP classifier
// (age estimation, nudity) and turns its answers into contract `signal`
// events.
//
// The request is a POST of the frame as a JPEG, encoded in memory
// (Content-Type image/jpeg), or, for H.264 when the classifier says it takes
// it, the raw Annex-B access unit (Content-Type video/h264). Nothing else is
// sent: no stream, host or viewer id leaves the process. The answer is JSON,
// decoded strictly:
//
//	{"labels":[{"label":"minor","score":0.93},{"label":"nudity","score":0.02}]}
//
// Each label becomes one signal about the frame's stream (and host, when
// known), source Config.Source. Every request is bounded by a timeout, a
// circuit breaker stops calling a failing classifier, a concurrency bound
// and a per-stream budget (frames per stream per hour) bound the load, and
// every frame not sent is counted by reason. Frames and JPEGs live in memory
// only and are never logged.
package classify

import (
	"errors"
	"net/url"
	"time"
)

// Defaults.
const (
	DefaultTimeout          = 3 * time.Second
	DefaultMaxConcurrent    = 4
	DefaultPerStreamPerHour = 30
	DefaultMaxStreams       = 20000
	DefaultJPEGQuality      = 85
	DefaultMaxAnswerBytes   = 16 << 10
	DefaultSource           = "classifier"
	DefaultBreakerFailures  = 5
	DefaultBreakerOpenFor   = 30 * time.Second
	// MaxLabels bounds the labels of one answer.
	MaxLabels = 32
	// MaxLabelBytes bounds one label.
	MaxLabelBytes = 64
)

// Config is the classifier hook, as `ronda serve`'s media section names it.
type Config struct {
	// URL of the classifier: http or https, POSTed one frame per request.
	// Empty disables the hook.
	URL string `yaml:"url"`
	// Timeout bounds one request, answer included. Default 3s.
	Timeout time.Duration `yaml:"timeout"`
	// MaxConcurrent bounds the requests in flight; a frame offered while
	// all are busy is dropped and counted (busy). Default 4.
	MaxConcurrent int `yaml:"max_concurrent"`
	// PerStreamPerHour is each stream's budget of frames sent per clock
	// hour (a fixed window from its first frame); past it frames are counted
	// (budget) and not sent. Default 30: one frame every two minutes.
	PerStreamPerHour int `yaml:"per_stream_per_hour"`
	// MaxStreams bounds the streams whose budget is tracked; a new stream
	// past it is not sent until windows expire (counted, budget_table_full).
	// Default 20,000.
	MaxStreams int `yaml:"max_streams"`
	// JPEGQuality is the quality of the JPEG sent, 1..100. Default 85.
	JPEGQuality int `yaml:"jpeg_quality"`
	// MaxAnswerBytes bounds the answer body; a longer one is a bad answer.
	// Default 16 KiB.
	MaxAnswerBytes int64 `yaml:"max_answer_bytes"`
	// Source is the signals' source field. Default "classifier".
	Source string `yaml:"source"`
	// AcceptsH264 sends H.264 keyframes (which Ronda does not decode) to
	// the classifier as Annex-B access units; otherwise they are not sent.
	AcceptsH264 bool `yaml:"accepts_h264"`
	// BreakerFailures is the number of consecutive failed requests that
	// opens the circuit breaker. Default 5.
	BreakerFailures int `yaml:"breaker_failures"`
	// BreakerOpenFor is how long the breaker stays open before one trial
	// request. Default 30s.
	BreakerOpenFor time.Duration `yaml:"breaker_open_for"`
}

// WithDefaults fills the zero fields.
func (c Config) WithDefaults() Config {
	def := func(v *int, d int) {
		if *v == 0 {
			*v = d
		}
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	def(&c.MaxConcurrent, DefaultMaxConcurrent)
	def(&c.PerStreamPerHour, DefaultPerStreamPerHour)
	def(&c.MaxStreams, DefaultMaxStreams)
	def(&c.JPEGQuality, DefaultJPEGQuality)
	def(&c.BreakerFailures, DefaultBreakerFailures)
	if c.MaxAnswerBytes == 0 {
		c.MaxAnswerBytes = DefaultMaxAnswerBytes
	}
	if c.Source == "" {
		c.Source = DefaultSource
	}
	if c.BreakerOpenFor == 0 {
		c.BreakerOpenFor = DefaultBreakerOpenFor
	}
	return c
}

// Validate reports the first problem of a defaulted Config.
func (c Config) Validate() error {
	u, err := url.Parse(c.URL)
	switch {
	case c.URL == "":
		return errors.New("classifier: url is required")
	case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
		return errors.New("classifier: url must be an http or https URL")
	case c.Timeout <= 0:
		return errors.New("classifier: timeout must be positive")
	case c.MaxConcurrent < 1, c.PerStreamPerHour < 1, c.MaxStreams < 1, c.BreakerFailures < 1:
		return errors.New("classifier: max_concurrent, per_stream_per_hour, max_streams and breaker_failures must be positive")
	case c.JPEGQuality < 1 || c.JPEGQuality > 100:
		return errors.New("classifier: jpeg_quality must be between 1 and 100")
	case c.MaxAnswerBytes < 64:
		return errors.New("classifier: max_answer_bytes must be at least 64")
	case c.BreakerOpenFor <= 0:
		return errors.New("classifier: breaker_open_for must be positive")
	}
	return nil
}
