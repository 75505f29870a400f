package media

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/pion/webrtc/v4"
	"github.com/prometheus/client_golang/prometheus"
)

// Tap reads the peer connections attached to it. New, then Attach any number
// of connections before their negotiation; Close (or the end of Run's
// context) ends every session and waits for its goroutines.
type Tap struct {
	opts Options
	cfg  Config
	now  func() time.Time
	log  *slog.Logger
	m    *metrics

	mu       sync.Mutex
	sessions map[*Session]struct{}
	closed   bool
	wg       sync.WaitGroup // the sessions' goroutines
}

// New builds a tap.
func New(o Options) (*Tap, error) {
	o.Config.applyDefaults()
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.ReadBuffer < 64 {
		return nil, fmt.Errorf("media: read_buffer %d is below an RTP packet", o.ReadBuffer)
	}
	t := &Tap{opts: o, cfg: o.Config, now: o.Now, log: o.Logger, sessions: map[*Session]struct{}{}}
	t.m = newMetrics(o.Registerer, t)
	return t, nil
}

// Attach taps pc: it takes pc's OnTrack and OnConnectionStateChange
// handlers (an owner that wants to know when the connection ends watches
// Session.Done), so call it before the negotiation. The session ends when the
// connection fails or closes, on End, or when the tap stops.
func (t *Tap) Attach(pc *webrtc.PeerConnection, info SessionInfo) (*Session, error) {
	if info.Kind == "" {
		info.Kind = KindWHIP
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		t.m.refused.WithLabelValues("closed").Inc()
		return nil, ErrClosed
	}
	if len(t.sessions) >= t.cfg.MaxSessions {
		t.m.refused.WithLabelValues("max_sessions").Inc()
		return nil, ErrTooManySessions
	}
	ctx, cancel := context.WithCancel(context.Background())
	var id [12]byte
	rand.Read(id[:])
	s := &Session{tap: t, pc: pc, info: info, ctx: ctx, cancel: cancel, done: make(chan struct{}), started: make(chan struct{}),
		id: hex.EncodeToString(id[:])}
	t.sessions[s] = struct{}{}
	t.m.sessions.WithLabelValues(info.Kind).Inc()
	t.m.started.WithLabelValues(info.Kind).Inc()
	pc.OnTrack(s.onTrack)
	pc.OnConnectionStateChange(s.onState)
	t.wg.Add(1)
	go func() {
		defer t.wg.Done()
		s.run()
	}()
	return s, nil
}

func (t *Tap) remove(s *Session) {
	t.mu.Lock()
	delete(t.sessions, s)
	t.mu.Unlock()
	t.m.sessions.WithLabelValues(s.info.Kind).Dec()
}

// Sessions is how many sessions are live.
func (t *Tap) Sessions() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.sessions)
}

// Run blocks until ctx ends, then closes the tap.
func (t *Tap) Run(ctx context.Context) {
	<-ctx.Done()
	t.Close()
}

// Close ends every session (each makes its ended report) and waits for
// every goroutine of the tap; Attach is refused from then on. Safe twice and
// on nil.
func (t *Tap) Close() {
	if t == nil {
		return
	}
	t.mu.Lock()
	t.closed = true
	ss := make([]*Session, 0, len(t.sessions))
	for s := range t.sessions {
		ss = append(ss, s)
	}
	t.mu.Unlock()
	for _, s := range ss {
		s.stop()
	}
	t.wg.Wait()
}

type metrics struct {
	sessions      *prometheus.GaugeVec
	started       *prometheus.CounterVec
	refused       *prometheus.CounterVec
	tracks        *prometheus.CounterVec
	tracksRefused prometheus.Counter
	packets       *prometheus.CounterVec
	bytes         *prometheus.CounterVec
	reports       *prometheus.CounterVec
	keyframes     *prometheus.CounterVec
	keyRequests   *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer, _ *Tap) *metrics {
	m := &metrics{
		sessions: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "ronda_media_sessions",
			Help: "Peer connections tapped now, by kind (whip, janus, whep); their sum is the total."}, []string{"kind"}),
		started: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ronda_media_sessions_started_total",
			Help: "Peer connections attached to the media tap, by kind."}, []string{"kind"}),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ronda_media_sessions_refused_total",
			Help: "Peer connections the tap refused, by reason (max_sessions, closed)."}, []string{"reason"}),
		tracks: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ronda_media_tracks_total",
			Help: "Tracks read, by session kind and media (video, audio)."}, []string{"kind", "media"}),
		tracksRefused: prometheus.NewCounter(prometheus.CounterOpts{Name: "ronda_media_tracks_refused_total",
			Help: "Tracks not read because their session had media.max_tracks already."}),
		packets: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ronda_media_packets_total",
			Help: "RTP packets read, by session kind (added at each report)."}, []string{"kind"}),
		bytes: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ronda_media_payload_bytes_total",
			Help: "RTP payload bytes read, by session kind (added at each report)."}, []string{"kind"}),
		reports: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ronda_media_reports_total",
			Help: "Wire fact reports made, by state (started, live, ended)."}, []string{"state"}),
		keyframes: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ronda_media_keyframes_total",
			Help: "Key frames assembled for OnKeyframe, by outcome (delivered; incomplete and too_large dropped). Frames between two deliveries are not assembled."}, []string{"outcome"}),
		keyRequests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ronda_media_keyframe_requests_total",
			Help: "Key frames asked of publishers (RTCP PLI) because a stream was due one for OnKeyframe, by result (sent, failed). At most one per track per keyframe_every, never more often than one a second."}, []string{"result"}),
	}
	for _, o := range []string{"delivered", "incomplete", "too_large"} {
		m.keyframes.WithLabelValues(o)
	}
	for _, r := range []string{"sent", "failed"} {
		m.keyRequests.WithLabelValues(r)
	}
	if reg != nil {
		reg.MustRegister(m.sessions, m.started, m.refused, m.tracks, m.tracksRefused, m.packets, m.bytes, m.reports, m.keyframes, m.keyRequests)
	}
	return m
}
