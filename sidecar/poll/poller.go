package poll

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ronda-watch/ronda/analyzer/event"
	"github.com/ronda-watch/ronda/sidecar/internal/eventid"
	"github.com/ronda-watch/ronda/sidecar/internal/metricsreg"
)

// Options configure one Poller: one server, one URL.
type Options struct {
	// Source is the server to read. Required.
	Source Source
	// Sink takes the events. Required.
	Sink Sink
	// Node names this ingest node in the events and in their ids.
	Node string
	// Interval between polls. Default 30s: heartbeats are meant a few minutes
	// apart and a stream with no event for 15 minutes is taken as ended, so a
	// poll every 30 to 60 seconds keeps a quiet broadcast alive with margin.
	Interval time.Duration
	// Sessions also emits stream.start when a stream appears and stream.end
	// when a successful poll no longer lists it. Off where another path sends
	// them (nginx-rtmp's exec_publish running `ronda hook`); on for SRS and
	// OvenMediaEngine, whose own hooks fail closed when Ronda is down.
	Sessions bool
	// Resume, with Sessions off, starts the streams that were live before
	// this poller began, once each: their start (from `ronda hook`) went to a
	// previous Ronda process or nowhere, and without one the analyzer ignores
	// their heartbeats. A stream counts as older when the server's age for it
	// (nginx-rtmp's <time>) reaches back past the poller's start by more than
	// ResumeMargin, the time a hook may still be retrying; younger streams
	// are left to their hook, so that no broadcast is started twice. With
	// Live set, the margin is not needed: a stream that began before the
	// poller is started unless Live says the receiver has it.
	Resume bool
	// Live reports whether the receiver already has streamID live (the
	// analyzer, through the service). Optional; see Resume.
	Live func(ctx context.Context, streamID string) bool
	// HostParam names the publisher URL parameter that carries the host id,
	// when the server reports the publisher's query (SRS); else the stream
	// name is the host id.
	HostParam string
	// MaxStreams bounds the streams taken from one poll; past it the rest are
	// counted and ignored, and no stream is ended by that poll (its view is
	// partial). Default 10,000.
	MaxStreams int
	// MaxBodyBytes bounds one response body. Default 8 MiB: nginx-rtmp's stat
	// page is about 1.2 KiB per stream.
	MaxBodyBytes int64
	// Timeout bounds one whole poll (every request it makes). Default 10s.
	Timeout time.Duration
	// Client makes the requests. Default a client without redirects.
	Client *http.Client
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// Logger gets a line for the first failed poll and then at most one a
	// minute while polls keep failing. Never secrets or stream names.
	Logger *slog.Logger
	// Registerer receives ronda_poll_*; pollers sharing one share the metrics.
	Registerer prometheus.Registerer
}

// Defaults of Options.
const (
	DefaultInterval     = 30 * time.Second
	DefaultMaxStreams   = 10_000
	DefaultMaxBodyBytes = 8 << 20
	DefaultTimeout      = 10 * time.Second
	logEvery            = time.Minute
	// maxAge bounds how far back a start is dated from the server's word.
	maxAge = 7 * 24 * time.Hour
	// ResumeMargin is `ronda hook`'s default bound (--timeout): a stream
	// that began earlier than this before the poller cannot have had its
	// start delivered to this process by the hook.
	ResumeMargin = 2 * time.Second
)

func (o *Options) validate() error {
	if o.Source == nil || o.Sink == nil {
		return errors.New("poll: Source and Sink are required")
	}
	if o.Interval < 0 || o.MaxStreams < 0 || o.MaxBodyBytes < 0 || o.Timeout < 0 {
		return errors.New("poll: Interval, MaxStreams, MaxBodyBytes and Timeout must not be negative")
	}
	if len(o.Node) > event.MaxIDBytes {
		return fmt.Errorf("poll: Node longer than %d bytes", event.MaxIDBytes)
	}
	if o.Interval == 0 {
		o.Interval = DefaultInterval
	}
	if o.MaxStreams == 0 {
		o.MaxStreams = DefaultMaxStreams
	}
	if o.MaxBodyBytes == 0 {
		o.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if o.Timeout == 0 {
		o.Timeout = DefaultTimeout
	}
	if o.Client == nil {
		o.Client = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return nil
}

// Poller polls one server. Run it on one goroutine; PollOnce is for tests.
type Poller struct {
	opts   Options
	server string
	m      *metrics
	began  time.Time // when the poller was made, for Resume

	mu   sync.Mutex
	live map[string]session // by stream id: the sessions whose start was taken
	seen int                // streams at the last successful poll, for the gauge

	failures int       // failed polls since the last log line
	loggedAt time.Time // when a failure was last logged
}

// session is what the poller remembers of a live stream (Sessions only).
type session struct {
	id    string // the server's session identity
	start string // the start event's id
}

// New validates o and builds a Poller.
func New(o Options) (*Poller, error) {
	if err := o.validate(); err != nil {
		return nil, err
	}
	m, err := newMetrics(o.Registerer)
	if err != nil {
		return nil, err
	}
	return &Poller{opts: o, server: o.Source.Server(), m: m, began: o.Now(), live: map[string]session{}}, nil
}

// Run polls at once and then every Interval until ctx ends. It returns nil.
func (p *Poller) Run(ctx context.Context) error {
	t := time.NewTicker(p.opts.Interval)
	defer t.Stop()
	for {
		p.PollOnce(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// PollOnce makes one poll and hands its events to the Sink. A failed poll
// changes nothing and is returned (and counted, and logged when due).
func (p *Poller) PollOnce(ctx context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	pctx, cancel := context.WithTimeout(ctx, p.opts.Timeout)
	streams, over, err := p.opts.Source.Poll(pctx, p.get, p.opts.MaxStreams)
	cancel()
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err() // stopping: not the server's failure
		}
		p.m.requests.WithLabelValues(p.server, "error").Inc()
		p.logFailure(err)
		return err
	}
	p.m.requests.WithLabelValues(p.server, "ok").Inc()
	if p.failures > 0 {
		p.opts.Logger.Info("poll succeeds again", "server", p.server, "failed_polls", p.failures)
		p.failures = 0
	}
	if over > 0 {
		p.m.skipped.WithLabelValues(p.server, "over_max_streams").Add(float64(over))
	}
	streams = p.clean(streams)
	p.m.streams.WithLabelValues(p.server).Add(float64(len(streams) - p.seen))
	p.seen = len(streams)

	now := p.opts.Now().UTC()
	evs, next := p.events(ctx, streams, now, over > 0)
	if len(evs) == 0 {
		p.live = next
		return nil
	}
	if err := p.opts.Sink(ctx, evs); err != nil {
		// Starts and ends go again at the next poll (p.live unchanged, same
		// ids); the heartbeats are lost, the next poll sends new ones.
		for i := range evs {
			if evs[i].Type == event.TypeStreamHeartbeat {
				p.m.skipped.WithLabelValues(p.server, "sink_refused").Inc()
			}
		}
		p.m.sinkErrors.WithLabelValues(p.server).Inc()
		return nil
	}
	for i := range evs {
		p.m.events.WithLabelValues(p.server, evs[i].TypeName).Inc()
	}
	p.live = next
	return nil
}

// clean drops streams whose ids the contract cannot carry, and repeats.
func (p *Poller) clean(streams []Stream) []Stream {
	out := streams[:0]
	seen := make(map[string]bool, len(streams))
	for _, s := range streams {
		if !validID(s.ID) || !validID(s.Name) || seen[s.ID] {
			p.m.skipped.WithLabelValues(p.server, "invalid").Inc()
			continue
		}
		seen[s.ID] = true
		out = append(out, s)
	}
	return out
}

// resumable reports whether Resume starts s: it began before the poller (by
// more than ResumeMargin unless Live can tell) and the receiver lacks it.
func (p *Poller) resumable(ctx context.Context, s Stream, now time.Time) bool {
	at, known := began(s, now)
	if !known {
		return false
	}
	if p.opts.Live == nil {
		return at.Before(p.began.Add(-ResumeMargin))
	}
	return at.Before(p.began) && !p.opts.Live(ctx, s.ID)
}

// began is when a stream's session began, when the server says.
func began(s Stream, now time.Time) (time.Time, bool) {
	switch {
	case s.Age > 0 && s.Age < maxAge:
		return now.Add(-s.Age), true
	case !s.Since.IsZero() && s.Since.Before(now) && now.Sub(s.Since) < maxAge:
		return s.Since.UTC(), true
	}
	return now, false
}

// start builds the stream.start of a stream's session: its id depends on the
// session only, so a poller restarted gives the same one.
func (p *Poller) start(s Stream, now time.Time) event.Event {
	at, _ := began(s, now)
	return event.Event{Type: event.TypeStreamStart, TypeName: event.TypeStreamStart.String(),
		ID: eventid.Hash("poll", p.server, p.opts.Node, "start", s.ID, s.Session), At: at, Node: p.opts.Node, StreamID: s.ID,
		HostID: hostFrom(s.Args, p.opts.HostParam, s.Name), IP: cleanIP(s.IP)}
}

// events builds the poll's events in order: ends, starts, heartbeats. It
// returns the sessions to remember once the Sink has taken them.
func (p *Poller) events(ctx context.Context, streams []Stream, now time.Time, partial bool) ([]event.Event, map[string]session) {
	server, node := p.server, p.opts.Node
	at := now.Format(time.RFC3339Nano)
	var evs []event.Event
	next := p.live
	if p.opts.Sessions {
		next = make(map[string]session, len(streams))
		current := make(map[string]string, len(streams))
		for _, s := range streams {
			current[s.ID] = s.Session
		}
		for id, old := range p.live {
			if sess, ok := current[id]; ok && sess == old.id {
				next[id] = old
				continue
			}
			if _, ok := current[id]; !ok && partial {
				next[id] = old // not listed, but the view is partial: keep it
				continue
			}
			evs = append(evs, event.Event{Type: event.TypeStreamEnd, TypeName: event.TypeStreamEnd.String(),
				ID: eventid.Hash("poll", server, node, "end", id, old.id), At: now, Node: node, StreamID: id})
		}
		for _, s := range streams {
			if _, ok := next[s.ID]; ok {
				continue
			}
			ev := p.start(s, now)
			evs = append(evs, ev)
			next[s.ID] = session{id: s.Session, start: ev.ID}
		}
	} else if p.opts.Resume {
		next = make(map[string]session, len(streams))
		if partial {
			for id, old := range p.live {
				next[id] = old // perhaps only left out of this poll: not resumed twice
			}
		}
		for _, s := range streams {
			if old, ok := p.live[s.ID]; ok && old.id == s.Session {
				next[s.ID] = old // resumed already, or judged young
				continue
			}
			next[s.ID] = session{id: s.Session}
			if p.resumable(ctx, s, now) {
				ev := p.start(s, now)
				evs = append(evs, ev)
				next[s.ID] = session{id: s.Session, start: ev.ID}
			}
		}
	}
	for _, s := range streams {
		evs = append(evs, event.Event{Type: event.TypeStreamHeartbeat, TypeName: event.TypeStreamHeartbeat.String(),
			ID: eventid.Hash("poll", server, node, "beat", s.ID, s.Session, at), At: now, Node: node, StreamID: s.ID,
			Viewers: max(s.Viewers, 0)})
	}
	return evs, next
}

func (p *Poller) logFailure(err error) {
	p.failures++
	now := p.opts.Now()
	if p.failures > 1 && now.Sub(p.loggedAt) < logEvery {
		return
	}
	p.loggedAt = now
	p.opts.Logger.Warn("poll failed; live streams stay as they were", "server", p.server,
		"failed_polls", p.failures, "err", err)
}

// metrics are shared by the pollers of one Registerer.
type metrics struct {
	requests   *prometheus.CounterVec
	streams    *prometheus.GaugeVec
	events     *prometheus.CounterVec
	skipped    *prometheus.CounterVec
	sinkErrors *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) (*metrics, error) {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ronda_poll_requests_total",
			Help: "Polls of media-server statistics by server and result (ok, error)."}, []string{"server", "result"}),
		streams: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "ronda_poll_streams",
			Help: "Live publishing streams at the last successful poll, by server type (summed over pollers)."}, []string{"server"}),
		events: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ronda_poll_events_total",
			Help: "Events from polls taken by the pipeline, by server and type."}, []string{"server", "type"}),
		skipped: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ronda_poll_skipped_total",
			Help: "Streams or heartbeats a poll left out, by server and reason (over_max_streams, invalid, sink_refused)."}, []string{"server", "reason"}),
		sinkErrors: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ronda_poll_sink_refused_total",
			Help: "Polls whose events the pipeline refused (busy); starts and ends are sent again at the next poll."}, []string{"server"}),
	}
	if reg == nil {
		return m, nil
	}
	var errs [5]error
	m.requests, errs[0] = metricsreg.Register(reg, m.requests)
	m.streams, errs[1] = metricsreg.Register(reg, m.streams)
	m.events, errs[2] = metricsreg.Register(reg, m.events)
	m.skipped, errs[3] = metricsreg.Register(reg, m.skipped)
	m.sinkErrors, errs[4] = metricsreg.Register(reg, m.sinkErrors)
	if err := errors.Join(errs[:]...); err != nil {
		return nil, fmt.Errorf("poll: register metrics: %w", err)
	}
	return m, nil
}
