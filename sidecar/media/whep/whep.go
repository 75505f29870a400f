// Package whep pulls a copy of a broadcast from a media server that offers
// WHEP, the WebRTC-HTTP Egress Protocol (draft-ietf-wish-whep): Ronda POSTs
// an SDP offer (receive-only audio and video) with a bearer token, takes the
// 201 answer and its Location, receives the media on a pion PeerConnection
// that the caller's prepare function sees first (where the media tap
// registers OnTrack), and DELETEs the Location at the end.
//
// It only receives: it never sends media, never writes media anywhere and
// never logs the token. Candidates are sent in the offer (no trickle PATCH:
// the draft makes trickle optional for the client). Failed attempts are
// retried with backoff, bounded by Config.MaxAttempts; a refused token is
// not retried.
package whep

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"mime"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"
	"github.com/prometheus/client_golang/prometheus"
)

// Errors Run returns; callers branch on them with errors.Is.
var (
	// ErrUnauthorized: the server refused the token (401 or 403). Not
	// retried.
	ErrUnauthorized = errors.New("whep: token refused")
	// ErrNotFound: no such stream at the endpoint (404), e.g. not live yet.
	// Retried.
	ErrNotFound = errors.New("whep: no such stream")
	// ErrBadAnswer: the server's answer is not a usable SDP answer.
	ErrBadAnswer = errors.New("whep: bad answer")
	// ErrSessionLost: the PeerConnection failed or the server closed it.
	ErrSessionLost = errors.New("whep: session lost")
)

// Config is one WHEP pull (an entry of `media.whep` in `ronda serve`).
type Config struct {
	// URL is the WHEP endpoint of the stream, as
	// https://media.example.org/whep/live/stream1 (MediaMTX:
	// http://HOST:8889/PATH/whep; SRS: http://HOST:1985/rtc/v1/whep/?app=live&stream=NAME).
	URL string `yaml:"url"`
	// StreamID and Host are the Ronda stream_id and host this copy is of;
	// Run passes them to prepare.
	StreamID string `yaml:"stream_id"`
	Host     string `yaml:"host"`
	// TokenEnv and TokenFile name the bearer token (the environment variable
	// first, then the file, trailing newline removed). Neither: no
	// Authorization header. Read once by New; never logged.
	TokenEnv  string `yaml:"token_env"`
	TokenFile string `yaml:"token_file"`
	// RequestTimeout bounds each HTTP request (POST, DELETE). Default 10s.
	RequestTimeout time.Duration `yaml:"request_timeout"`
	// ConnectTimeout bounds ICE and DTLS after the answer, until the
	// PeerConnection is connected. Default 15s.
	ConnectTimeout time.Duration `yaml:"connect_timeout"`
	// MaxAttempts is how many attempts in a row may fail (HTTP errors, bad
	// answers, connections that never come up or are lost) before Run gives
	// up and returns the last error; an attempt that connected starts the
	// count over. 0: never give up. Default 0.
	MaxAttempts int `yaml:"max_attempts"`
	// BackoffMin and BackoffMax bound the wait between attempts, doubling
	// with jitter. Default 500ms and 30s.
	BackoffMin time.Duration `yaml:"backoff_min"`
	BackoffMax time.Duration `yaml:"backoff_max"`
	// MaxAnswerBytes bounds the answer's body; a larger one is a bad answer.
	// Default 256 KiB.
	MaxAnswerBytes int64 `yaml:"max_answer_bytes"`
}

// Defaults of Config.
const (
	DefaultRequestTimeout = 10 * time.Second
	DefaultConnectTimeout = 15 * time.Second
	DefaultBackoffMin     = 500 * time.Millisecond
	DefaultBackoffMax     = 30 * time.Second
	DefaultMaxAnswerBytes = 256 << 10
)

func (c Config) withDefaults() Config {
	set := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	set(&c.RequestTimeout, DefaultRequestTimeout)
	set(&c.ConnectTimeout, DefaultConnectTimeout)
	set(&c.BackoffMin, DefaultBackoffMin)
	set(&c.BackoffMax, DefaultBackoffMax)
	if c.MaxAnswerBytes == 0 {
		c.MaxAnswerBytes = DefaultMaxAnswerBytes
	}
	return c
}

// Validate reports every problem of cfg with its defaults applied, as New
// would (the token is not read).
func (c Config) Validate() error { return c.withDefaults().validate() }

func (c Config) validate() error {
	var errs []error
	if u, err := url.Parse(c.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		errs = append(errs, fmt.Errorf("url %q: want an http(s) WHEP endpoint", c.URL))
	}
	if c.StreamID == "" {
		errs = append(errs, errors.New("stream_id: required"))
	}
	if c.MaxAttempts < 0 {
		errs = append(errs, fmt.Errorf("max_attempts %d: want 0 or more", c.MaxAttempts))
	}
	if c.RequestTimeout < 0 || c.ConnectTimeout < 0 || c.BackoffMin < 0 || c.BackoffMax < c.BackoffMin {
		errs = append(errs, errors.New("timeouts and backoffs: want positive durations, backoff_max at least backoff_min"))
	}
	if c.MaxAnswerBytes < 1024 {
		errs = append(errs, fmt.Errorf("max_answer_bytes %d: want at least 1024", c.MaxAnswerBytes))
	}
	return errors.Join(errs...)
}

// Stream is what prepare learns of the copy.
type Stream struct {
	StreamID, Host string
}

// Prepare is called with each attempt's PeerConnection before the offer is
// made, so the tap can register OnTrack. An error ends Run.
type Prepare func(pc *webrtc.PeerConnection, s Stream) error

// Option changes how New builds the puller.
type Option func(*Puller)

// WithAPI makes the PeerConnections with api; default pion's defaults.
func WithAPI(api *webrtc.API) Option { return func(p *Puller) { p.rtc = api } }

// WithGetenv reads TokenEnv through getenv instead of os.Getenv.
func WithGetenv(getenv func(string) string) Option { return func(p *Puller) { p.getenv = getenv } }

// WithMetrics counts into m (shared by every puller of a process) instead of
// uncounted metrics.
func WithMetrics(m *Metrics) Option { return func(p *Puller) { p.m = m } }

// WithDone calls done for each PeerConnection prepare accepted, once its
// attempt has ended and before the PeerConnection is closed: where the
// caller ends what prepare started (the tap's session), as the puller keeps
// the PeerConnection's state handler for itself.
func WithDone(done func(pc *webrtc.PeerConnection, s Stream)) Option {
	return func(p *Puller) { p.done = done }
}

// Puller keeps one WHEP copy pulled; Run it.
type Puller struct {
	cfg     Config
	prepare Prepare
	done    func(*webrtc.PeerConnection, Stream)
	log     *slog.Logger
	rtc     *webrtc.API
	getenv  func(string) string
	m       *Metrics
	token   string
	hc      *http.Client
	running atomic.Bool
}

// New validates cfg and reads its token.
func New(cfg Config, prepare Prepare, log *slog.Logger, opts ...Option) (*Puller, error) {
	if prepare == nil {
		return nil, errors.New("whep: prepare is nil")
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("whep config: %w", err)
	}
	p := &Puller{cfg: cfg, prepare: prepare, getenv: os.Getenv}
	for _, o := range opts {
		o(p)
	}
	if p.rtc == nil {
		p.rtc = webrtc.NewAPI()
	}
	if p.m == nil {
		p.m, _ = NewMetrics(nil)
	}
	tok, err := readToken(cfg.TokenEnv, cfg.TokenFile, p.getenv)
	if err != nil {
		return nil, err
	}
	p.token = tok
	p.log = log.With("component", "whep", "stream_id", cfg.StreamID)
	p.hc = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1, IdleConnTimeout: time.Minute}}
	return p, nil
}

func readToken(env, file string, getenv func(string) string) (string, error) {
	if env != "" {
		if v := getenv(env); v != "" {
			return v, nil
		}
		if file == "" {
			return "", fmt.Errorf("whep token: environment variable %s is empty", env)
		}
	}
	if file == "" {
		return "", nil
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return "", fmt.Errorf("whep token: %w", err)
	}
	if b = bytes.TrimRight(b, "\r\n"); len(b) == 0 {
		return "", fmt.Errorf("whep token: file %s is empty", file)
	}
	return string(b), nil
}

// Run pulls the stream until ctx ends (then it DELETEs the session and
// returns nil), the token is refused (ErrUnauthorized), prepare fails, or
// MaxAttempts attempts in a row failed (the last error). A session that ends
// (the server closed it or vanished) is pulled again after a backoff.
func (p *Puller) Run(ctx context.Context) error {
	if !p.running.CompareAndSwap(false, true) {
		return errors.New("whep: Run called twice")
	}
	defer p.hc.CloseIdleConnections()
	wait, failures := p.cfg.BackoffMin, 0
	for {
		connected, err := p.session(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if connected {
			wait, failures = p.cfg.BackoffMin, 0
		}
		failures++
		if errors.Is(err, ErrUnauthorized) || errors.Is(err, errPrepare) {
			return err
		}
		if p.cfg.MaxAttempts > 0 && failures >= p.cfg.MaxAttempts {
			return fmt.Errorf("whep: giving up after %d attempts: %w", failures, err)
		}
		d := time.Duration(float64(wait) * (0.8 + 0.4*rand.Float64()))
		p.log.Warn("whep attempt failed; retrying", "err", err, "retry_in", d.Round(time.Millisecond))
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
		wait = min(2*wait, p.cfg.BackoffMax)
	}
}

var errPrepare = errors.New("whep: prepare refused the stream")

// session runs one attempt: offer, answer, media until the session ends.
// connected says the PeerConnection came up.
func (p *Puller) session(ctx context.Context) (connected bool, err error) {
	pc, err := p.rtc.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		return false, err
	}
	defer pc.Close()
	if err := p.prepare(pc, Stream{StreamID: p.cfg.StreamID, Host: p.cfg.Host}); err != nil {
		return false, fmt.Errorf("%w: %w", errPrepare, err)
	}
	if p.done != nil {
		defer p.done(pc, Stream{StreamID: p.cfg.StreamID, Host: p.cfg.Host}) // deferred after pc.Close: runs first
	}
	for _, kind := range []webrtc.RTPCodecType{webrtc.RTPCodecTypeAudio, webrtc.RTPCodecTypeVideo} {
		if _, err := pc.AddTransceiverFromKind(kind, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionRecvonly}); err != nil {
			return false, err
		}
	}
	state := make(chan webrtc.PeerConnectionState, 8)
	pc.OnConnectionStateChange(func(s webrtc.PeerConnectionState) {
		select {
		case state <- s:
		default:
		}
	})
	offer, err := pc.CreateOffer(nil)
	if err != nil {
		return false, err
	}
	gathered := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(offer); err != nil {
		return false, err
	}
	select {
	case <-gathered:
	case <-ctx.Done():
		return false, ctx.Err()
	}
	answer, resource, err := p.post(ctx, pc.LocalDescription().SDP)
	if err != nil {
		return false, err
	}
	defer p.delete(ctx, resource)
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: answer}); err != nil {
		p.m.attempts.WithLabelValues(resultBadAnswer).Inc()
		return false, fmt.Errorf("%w: %w", ErrBadAnswer, err)
	}

	connect := time.NewTimer(p.cfg.ConnectTimeout)
	defer connect.Stop()
	for !connected {
		select {
		case <-ctx.Done():
			return false, nil
		case <-connect.C:
			p.m.attempts.WithLabelValues(resultConnect).Inc()
			return false, fmt.Errorf("whep: not connected after %s", p.cfg.ConnectTimeout)
		case s := <-state:
			switch s {
			case webrtc.PeerConnectionStateConnected:
				connected = true
			case webrtc.PeerConnectionStateFailed, webrtc.PeerConnectionStateClosed:
				p.m.attempts.WithLabelValues(resultConnect).Inc()
				return false, fmt.Errorf("whep: connection %s before it came up", s)
			}
		}
	}
	p.m.attempts.WithLabelValues(resultOK).Inc()
	p.m.sessions.Inc()
	defer p.m.sessions.Dec()
	p.log.Info("whep session up")
	for {
		select {
		case <-ctx.Done():
			p.m.ended.WithLabelValues(endStopped).Inc()
			return true, nil
		case s := <-state:
			if s == webrtc.PeerConnectionStateFailed || s == webrtc.PeerConnectionStateClosed {
				p.m.ended.WithLabelValues(endLost).Inc()
				return true, fmt.Errorf("%w: connection %s", ErrSessionLost, s)
			}
		}
	}
}

// post sends the offer and returns the answer and the session's resource
// URL (Location, resolved against the endpoint).
func (p *Puller) post(ctx context.Context, offer string) (string, string, error) {
	ctx, cancel := context.WithTimeout(ctx, p.cfg.RequestTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.cfg.URL, strings.NewReader(offer))
	if err != nil {
		return "", "", err
	}
	req.Header.Set("Content-Type", "application/sdp")
	if p.token != "" {
		req.Header.Set("Authorization", "Bearer "+p.token)
	}
	resp, err := p.hc.Do(req)
	if err != nil {
		p.m.attempts.WithLabelValues(resultNetwork).Inc()
		return "", "", fmt.Errorf("whep post: %w", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, p.cfg.MaxAnswerBytes+1))
	if err != nil {
		p.m.attempts.WithLabelValues(resultNetwork).Inc()
		return "", "", fmt.Errorf("whep post: read answer: %w", err)
	}
	switch {
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		p.m.attempts.WithLabelValues(resultUnauthorized).Inc()
		return "", "", fmt.Errorf("%w: %s", ErrUnauthorized, resp.Status)
	case resp.StatusCode == http.StatusNotFound:
		p.m.attempts.WithLabelValues(resultNotFound).Inc()
		return "", "", fmt.Errorf("%w: %s", ErrNotFound, resp.Status)
	case resp.StatusCode != http.StatusCreated:
		p.m.attempts.WithLabelValues(resultHTTP).Inc()
		return "", "", fmt.Errorf("whep post: %s (want 201 Created)", resp.Status)
	}
	// Location is relative to the URL that answered (after any redirect).
	answer, resource, err := decodeAnswer(resp.Request.URL.String(), resp.Header.Get("Content-Type"), resp.Header.Get("Location"), body, p.cfg.MaxAnswerBytes)
	if err != nil {
		p.m.attempts.WithLabelValues(resultBadAnswer).Inc()
		return "", "", err
	}
	return answer, resource, nil
}

// decodeAnswer checks a 201's content type, Location and SDP answer.
func decodeAnswer(endpoint, contentType, location string, body []byte, limit int64) (string, string, error) {
	if int64(len(body)) > limit {
		return "", "", fmt.Errorf("%w: answer over %d bytes", ErrBadAnswer, limit)
	}
	if mt, _, err := mime.ParseMediaType(contentType); err != nil || mt != "application/sdp" {
		return "", "", fmt.Errorf("%w: content type %q (want application/sdp)", ErrBadAnswer, contentType)
	}
	if location == "" {
		return "", "", fmt.Errorf("%w: no Location", ErrBadAnswer)
	}
	base, err := url.Parse(endpoint)
	if err != nil {
		return "", "", err
	}
	loc, err := base.Parse(location)
	if err != nil || (loc.Scheme != "http" && loc.Scheme != "https") {
		return "", "", fmt.Errorf("%w: Location %.100q", ErrBadAnswer, location)
	}
	var sd sdp.SessionDescription
	if err := sd.UnmarshalString(string(body)); err != nil {
		return "", "", fmt.Errorf("%w: sdp: %w", ErrBadAnswer, err)
	}
	if len(sd.MediaDescriptions) == 0 {
		return "", "", fmt.Errorf("%w: sdp without media", ErrBadAnswer)
	}
	return string(body), loc.String(), nil
}

// delete ends the session on the server; best effort, bounded.
func (p *Puller) delete(ctx context.Context, resource string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), p.cfg.RequestTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodDelete, resource, nil)
	if err != nil {
		return
	}
	if p.token != "" {
		req.Header.Set("Authorization", "Bearer "+p.token)
	}
	resp, err := p.hc.Do(req)
	if err != nil {
		p.log.Debug("whep delete", "err", err)
		return
	}
	resp.Body.Close()
}

// Metrics of the WHEP pullers of a process; no label names a stream.
type Metrics struct {
	sessions prometheus.Gauge
	attempts *prometheus.CounterVec
	ended    *prometheus.CounterVec
}

// Attempt results and session end reasons.
const (
	resultOK           = "ok"
	resultUnauthorized = "unauthorized"
	resultNotFound     = "not_found"
	resultHTTP         = "http_error"
	resultNetwork      = "network"
	resultBadAnswer    = "bad_answer"
	resultConnect      = "connect_failed"
	endLost            = "lost"
	endStopped         = "stopped"
)

// NewMetrics makes the metrics and registers them on reg (nil: not
// registered).
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		sessions: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "ronda_media_whep_sessions",
			Help: "WHEP sessions connected now.",
		}),
		attempts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ronda_media_whep_attempts_total",
			Help: "WHEP attempts by result: ok, unauthorized, not_found, http_error, network, bad_answer, connect_failed.",
		}, []string{"result"}),
		ended: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ronda_media_whep_sessions_ended_total",
			Help: "WHEP sessions ended, by reason: lost (the server closed or vanished), stopped.",
		}, []string{"reason"}),
	}
	for _, r := range []string{resultOK, resultUnauthorized, resultNotFound, resultHTTP, resultNetwork, resultBadAnswer, resultConnect} {
		m.attempts.WithLabelValues(r)
	}
	for _, r := range []string{endLost, endStopped} {
		m.ended.WithLabelValues(r)
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{m.sessions, m.attempts, m.ended} {
			if err := reg.Register(c); err != nil {
				return nil, err
			}
		}
	}
	return m, nil
}

// Pull is New and Run in one call: it pulls cfg's stream until ctx ends or
// Run gives up.
func Pull(ctx context.Context, cfg Config, prepare Prepare, log *slog.Logger, opts ...Option) error {
	p, err := New(cfg, prepare, log, opts...)
	if err != nil {
		return err
	}
	return p.Run(ctx)
}
