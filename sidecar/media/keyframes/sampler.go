package keyframes

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ronda-watch/ronda/analyzer/event"
	"github.com/ronda-watch/ronda/sidecar/internal/eventid"
	"github.com/ronda-watch/ronda/sidecar/media/classify"
	"github.com/ronda-watch/ronda/sidecar/media/hashlist"
	"github.com/ronda-watch/ronda/sidecar/media/pdq"
	"github.com/ronda-watch/ronda/sidecar/media/vp8key"
)

// Frame is one keyframe from the media tap: the complete VP8 frame (as
// pion's samplebuilder with the VP8 depacketizer gives it) or an H.264
// Annex-B access unit.
type Frame struct {
	StreamID string
	HostID   string // may be empty
	Codec    string // CodecVP8 or CodecH264
	Data     []byte
	At       time.Time
}

// Sink takes the signals of one frame, the same shape as poll.Sink.
type Sink func(ctx context.Context, evs []event.Event) error

// List is a hash list in service (*hashlist.Watcher is one).
type List interface {
	Match(h pdq.Hash) (hashlist.Match, bool)
	Config() hashlist.Config
}

// Classifier takes sampled frames (*classify.Client is one). Offer must not
// block on the network nor keep the image after it returns.
type Classifier interface {
	Offer(f classify.Frame) bool
	AcceptsH264() bool
}

var (
	_ List       = (*hashlist.Watcher)(nil)
	_ Classifier = (*classify.Client)(nil)
)

// Source is the signals' source field for hash matches.
const Source = "pdq"

// Results of Offer and of a worker (labels of ronda_media_keyframes_sampled_total).
const (
	ResultQueued        = "queued"
	ResultSampledOut    = "sampled_out"
	ResultQueueFull     = "queue_full"
	ResultTooLarge      = "too_large"
	ResultUnsupported   = "unsupported_codec"
	ResultStreamsFull   = "streams_full"
	ResultStopped       = "stopped"
	ResultHashed        = "hashed"
	ResultNotKeyframe   = "not_keyframe"
	ResultDecodeError   = "decode_error"
	ResultTooManyPixels = "too_many_pixels"
	ResultLowQuality    = "low_quality"
	ResultNotDecoded    = "h264_not_decoded"
)

// Options of a Sampler.
type Options struct {
	Config     Config
	Lists      []List
	Classifier Classifier // may be nil
	Sink       Sink
	Logger     *slog.Logger
	Registerer prometheus.Registerer
}

// Sampler joins the tap to the hash lists and the classifier.
type Sampler struct {
	cfg        Config
	lists      []List
	classifier Classifier
	sink       Sink
	log        *slog.Logger
	m          *metrics

	mu   sync.Mutex // guards last, closed and sends on queue
	last map[string]time.Time

	matchMu   sync.Mutex
	lastMatch map[matchKey]time.Time
	closed    bool
	queue     chan Frame
	ctx       context.Context
	cancel    context.CancelFunc
	wg        sync.WaitGroup
	stopped   sync.Once
}

// New validates the options and starts the workers; Stop ends them.
func New(o Options) (*Sampler, error) {
	cfg := o.Config.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if o.Sink == nil {
		return nil, errors.New("keyframes: a sink is required")
	}
	if len(o.Lists) == 0 && o.Classifier == nil {
		return nil, errors.New("keyframes: neither a hash list nor a classifier: nothing to do")
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	m, err := newMetrics(o.Registerer)
	if err != nil {
		return nil, err
	}
	s := &Sampler{
		cfg: cfg, lists: o.Lists, classifier: o.Classifier, sink: o.Sink, log: o.Logger, m: m,
		last:      make(map[string]time.Time),
		lastMatch: make(map[matchKey]time.Time),
		queue:     make(chan Frame, cfg.QueueSize),
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	for range cfg.Workers {
		s.wg.Add(1)
		go s.worker()
	}
	return s, nil
}

// OnKeyframe has the media tap's callback shape.
func (s *Sampler) OnKeyframe(streamID, codec string, frame []byte, at time.Time) {
	s.Offer(Frame{StreamID: streamID, Codec: codec, Data: frame, At: at})
}

// Wants says whether key frames of codec (VP8, H264; the media tap's lower
// case too) are worth handing over: VP8 always (decoded for the lists and
// the classifier), H.264 only when the classifier takes access units, as
// Ronda does not decode it.
func (s *Sampler) Wants(codec string) bool {
	switch strings.ToUpper(codec) {
	case CodecVP8:
		return true
	case CodecH264:
		return s.classifier != nil && s.classifier.AcceptsH264()
	}
	return false
}

// Offer samples f: it is queued (its bytes copied, so the caller may reuse
// them) unless it comes too soon after the stream's last sample or a bound
// says no. It never blocks; the result is counted and returned.
func (s *Sampler) Offer(f Frame) string {
	res := s.offer(f)
	s.m.frames.WithLabelValues(res).Inc()
	return res
}

func (s *Sampler) offer(f Frame) string {
	switch {
	case f.Codec != CodecVP8 && f.Codec != CodecH264:
		return ResultUnsupported
	case len(f.Data) > s.cfg.MaxFrameBytes:
		return ResultTooLarge
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ResultStopped
	}
	last, seen := s.last[f.StreamID]
	if seen && f.At.Sub(last) < s.cfg.MinInterval && !f.At.Before(last) {
		return ResultSampledOut
	}
	if !seen && len(s.last) >= s.cfg.MaxStreams {
		for id, t := range s.last {
			if f.At.Sub(t) > 10*s.cfg.MinInterval {
				delete(s.last, id)
			}
		}
		if len(s.last) >= s.cfg.MaxStreams {
			return ResultStreamsFull
		}
	}
	f.Data = bytes.Clone(f.Data)
	select {
	case s.queue <- f:
		s.last[f.StreamID] = f.At
		s.m.queue.Set(float64(len(s.queue)))
		return ResultQueued
	default:
		return ResultQueueFull
	}
}

// Stop stops taking frames, lets the workers finish what is queued until
// ctx ends (then abandons the rest, counted as stopped), and waits for
// them; safe twice and on nil.
func (s *Sampler) Stop(ctx context.Context) {
	if s == nil {
		return
	}
	s.stopped.Do(func() {
		s.mu.Lock()
		s.closed = true
		close(s.queue)
		s.mu.Unlock()
		done := make(chan struct{})
		go func() { s.wg.Wait(); close(done) }()
		select {
		case <-done:
		case <-ctx.Done():
			s.cancel()
			<-done
		}
		s.cancel()
	})
}

func (s *Sampler) worker() {
	defer s.wg.Done()
	var (
		dec    = vp8key.NewDecoder()
		hasher pdq.Hasher
	)
	for f := range s.queue {
		s.m.queue.Set(float64(len(s.queue)))
		if s.ctx.Err() != nil {
			s.m.processed.WithLabelValues(ResultStopped).Inc()
			continue
		}
		res := s.process(dec, &hasher, f)
		s.m.processed.WithLabelValues(res).Inc()
	}
}

func (s *Sampler) process(dec *vp8key.Decoder, hasher *pdq.Hasher, f Frame) string {
	if f.Codec == CodecH264 {
		if s.classifier != nil && s.classifier.AcceptsH264() {
			s.classifier.Offer(classify.Frame{StreamID: f.StreamID, HostID: f.HostID, At: f.At, AccessUnit: f.Data})
		}
		return ResultNotDecoded
	}
	img, err := dec.Decode(f.Data, s.cfg.MaxPixels, pdq.MinDim)
	switch {
	case errors.Is(err, vp8key.ErrNotKeyframe):
		return ResultNotKeyframe
	case errors.Is(err, vp8key.ErrTooManyPixels):
		return ResultTooManyPixels
	case err != nil:
		return ResultDecodeError
	}
	start := time.Now()
	h, q := hasher.Hash(img)
	s.m.hashSeconds.Observe(time.Since(start).Seconds())
	res := ResultHashed
	if q < s.cfg.MinQuality {
		res = ResultLowQuality
	} else {
		s.match(f, h)
	}
	if s.classifier != nil {
		s.classifier.Offer(classify.Frame{StreamID: f.StreamID, HostID: f.HostID, At: f.At, Image: img})
	}
	return res
}

func (s *Sampler) match(f Frame, h pdq.Hash) {
	for _, l := range s.lists {
		m, ok := l.Match(h)
		if !ok {
			continue
		}
		cfg := l.Config()
		s.m.matches.WithLabelValues(cfg.Name).Inc()
		if !s.signalDue(matchKey{f.StreamID, cfg.Name}, f.At) {
			s.m.suppressed.WithLabelValues(cfg.Name).Inc()
			continue
		}
		ev := event.Event{
			Type: event.TypeSignal, TypeName: "signal",
			ID:       eventid.Hash("media", f.StreamID, cfg.Name, strconv.FormatInt(f.At.UnixNano(), 10)),
			At:       f.At,
			StreamID: f.StreamID, HostID: f.HostID,
			Source: Source, Label: cfg.Label,
			// 1 at distance 0; 0.879 at HMA's threshold of 31, above the
			// analyzer's decisive min_score of 0.8.
			Score: 1 - float64(m.Distance)/pdq.Bits,
		}
		ctx, cancel := context.WithTimeout(s.ctx, s.cfg.SinkTimeout)
		err := s.sink(ctx, []event.Event{ev})
		cancel()
		if err != nil {
			s.m.sinkErrors.Inc()
			s.log.Error("hash match signal refused by the pipeline", "list", cfg.Name, "err", err)
			continue
		}
		s.log.Info("keyframe matched a hash list", "list", cfg.Name, "distance", m.Distance)
	}
}

type matchKey struct{ stream, list string }

// signalDue reports whether a match of k at at is past the cooldown of the
// last signal, and if so records it. The table is bounded like the
// sampling table: entries past their cooldown are swept when it is full.
func (s *Sampler) signalDue(k matchKey, at time.Time) bool {
	s.matchMu.Lock()
	defer s.matchMu.Unlock()
	if last, ok := s.lastMatch[k]; ok && at.Sub(last) < s.cfg.MatchCooldown && !at.Before(last) {
		return false
	}
	if len(s.lastMatch) >= s.cfg.MaxStreams {
		for id, t := range s.lastMatch {
			if at.Sub(t) >= s.cfg.MatchCooldown {
				delete(s.lastMatch, id)
			}
		}
		if len(s.lastMatch) >= s.cfg.MaxStreams {
			return true // unrecorded: a signal too many rather than none
		}
	}
	s.lastMatch[k] = at
	return true
}

type metrics struct {
	frames      *prometheus.CounterVec
	processed   *prometheus.CounterVec
	matches     *prometheus.CounterVec
	suppressed  *prometheus.CounterVec
	queue       prometheus.Gauge
	hashSeconds prometheus.Histogram
	sinkErrors  prometheus.Counter
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		frames: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ronda_media_keyframes_sampled_total",
			Help: "Keyframes offered by the media tap, by result: queued, or why not (sampled_out, queue_full, too_large, unsupported_codec, streams_full, stopped)."}, []string{"result"}),
		processed: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ronda_media_keyframes_processed_total",
			Help: "Queued keyframes by outcome: hashed, low_quality (hashed, not matched), not_keyframe, decode_error, too_many_pixels, h264_not_decoded, stopped."}, []string{"result"}),
		matches: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ronda_media_keyframes_matches_total",
			Help: "Keyframes whose PDQ hash matched a hash list, by list."}, []string{"list"}),
		suppressed: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ronda_media_keyframes_matches_suppressed_total",
			Help: "Matches within match_cooldown of the last signal of the same list about the same stream: counted, no signal."}, []string{"list"}),
		queue: prometheus.NewGauge(prometheus.GaugeOpts{Name: "ronda_media_keyframes_queue",
			Help: "Keyframes waiting for a worker."}),
		hashSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "ronda_media_keyframes_hash_seconds",
			Help: "Time to PDQ-hash one decoded keyframe.", Buckets: prometheus.ExponentialBuckets(0.0005, 2, 10)}),
		sinkErrors: prometheus.NewCounter(prometheus.CounterOpts{Name: "ronda_media_keyframes_sink_refused_total",
			Help: "Hash-match signals the pipeline refused."}),
	}
	if reg == nil {
		return m, nil
	}
	for _, c := range []prometheus.Collector{m.frames, m.processed, m.matches, m.suppressed, m.queue, m.hashSeconds, m.sinkErrors} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("keyframes: register metrics: %w", err)
		}
	}
	return m, nil
}
