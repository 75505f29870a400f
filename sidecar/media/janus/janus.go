// Package janus gets Ronda a copy of the broadcasts of a Janus WebRTC server:
// it subscribes to the publishers of VideoRoom rooms through Janus's REST
// API (https://janus.conf.meetecho.com/docs/videoroom.html), answers each
// subscription's offer with a pion PeerConnection handed first to the
// caller's prepare function (where the media tap registers OnTrack), and
// follows publishers as they join and leave.
//
// It only lists rooms and subscribes: it never publishes, never joins a room
// as a participant others can see, never changes a room, and never writes
// media anywhere. It logs rooms and feed ids, never display names or
// secrets. Subscriptions are bounded (Config.MaxSubscriptions); when Janus
// restarts, the client backs off and subscribes again.
package janus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"os"
	"sync/atomic"
	"time"

	"github.com/pion/webrtc/v4"
	"github.com/prometheus/client_golang/prometheus"
)

// Feed is one Janus publisher as Ronda sees it: where it is in Janus and
// which Ronda stream and host it is (Mapping).
type Feed struct {
	// Room is the VideoRoom room.
	Room uint64
	// ID is the publisher's feed id in the room.
	ID uint64
	// Display is the publisher's display name as Janus lists it. It may be a
	// person's name: keep it out of logs.
	Display string
	// StreamID and Host are Ronda's stream_id and host for this feed.
	StreamID string
	Host     string
}

// Prepare is called with each subscription's PeerConnection before any
// negotiation, so the tap can register OnTrack (and read the tracks until
// the PeerConnection closes). An error refuses the feed: the PeerConnection
// is closed and the feed is tried again at a later poll.
type Prepare func(pc *webrtc.PeerConnection, feed Feed) error

// Option changes how New builds the client.
type Option func(*Client)

// WithAPI makes the PeerConnections with api (its media engine, interceptors
// and setting engine: interfaces, ports); default a pion API with the
// default codecs and interceptors.
func WithAPI(api *webrtc.API) Option { return func(c *Client) { c.rtc = api } }

// WithGetenv reads the secrets' environment variables through getenv
// instead of os.Getenv.
func WithGetenv(getenv func(string) string) Option { return func(c *Client) { c.getenv = getenv } }

// WithDone calls done for each PeerConnection prepare accepted, once its
// subscription has ended and before the PeerConnection is closed: where
// the caller ends what prepare started (the tap's session), as the client
// keeps the PeerConnection's state handler for itself.
func WithDone(done func(pc *webrtc.PeerConnection, feed Feed)) Option {
	return func(c *Client) { c.done = done }
}

// Client subscribes to Janus publishers; Run it.
type Client struct {
	cfg      Config
	prepare  Prepare
	done     func(*webrtc.PeerConnection, Feed)
	log      *slog.Logger
	m        *metrics
	api      *api
	rtc      *webrtc.API
	mapper   mapper
	adminKey string
	getenv   func(string) string
	hc       *http.Client
	running  atomic.Bool
}

// New validates cfg, reads its secrets and registers the metrics on reg
// (nil: not registered).
func New(cfg Config, prepare Prepare, log *slog.Logger, reg prometheus.Registerer, opts ...Option) (*Client, error) {
	if prepare == nil {
		return nil, errors.New("janus: prepare is nil")
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("janus config: %w", err)
	}
	c := &Client{cfg: cfg, prepare: prepare, log: log.With("component", "janus"), getenv: os.Getenv}
	for _, o := range opts {
		o(c)
	}
	if c.rtc == nil {
		c.rtc = webrtc.NewAPI()
	}
	secret, err := readSecret("janus api secret", cfg.APISecretEnv, cfg.APISecretFile, c.getenv)
	if err != nil {
		return nil, err
	}
	if c.adminKey, err = readSecret("janus videoroom admin key", cfg.AdminKeyEnv, cfg.AdminKeyFile, c.getenv); err != nil {
		return nil, err
	}
	c.mapper, _ = cfg.Mapping.compile() // validated above
	if c.m, err = newMetrics(reg); err != nil {
		return nil, fmt.Errorf("janus metrics: %w", err)
	}
	c.hc = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4, IdleConnTimeout: time.Minute}}
	c.api = &api{base: trimSlash(cfg.URL), secret: secret, hc: c.hc, timeout: cfg.RequestTimeout,
		maxBody: cfg.MaxBodyBytes, decodeFn: c.m.decodeErrors.Inc}
	return c, nil
}

// Run subscribes until ctx ends, then ends every subscription, destroys the
// Janus session and returns nil. A lost session (Janus down, restarted or
// answering errors) ends its subscriptions and is replaced after a backoff.
// Run may be called once.
func (c *Client) Run(ctx context.Context) error {
	if !c.running.CompareAndSwap(false, true) {
		return errors.New("janus: Run called twice")
	}
	defer c.hc.CloseIdleConnections()
	wait := c.cfg.BackoffMin
	for {
		established, err := c.runSession(ctx)
		if ctx.Err() != nil {
			return nil
		}
		c.m.sessionLosses.Inc()
		if established {
			wait = c.cfg.BackoffMin
		}
		d := jitter(wait)
		c.log.Warn("janus session ended; retrying", "err", err, "retry_in", d.Round(time.Millisecond))
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
		wait = min(2*wait, c.cfg.BackoffMax)
	}
}

// jitter spreads d by ±20% so clients of one Janus do not retry in step.
func jitter(d time.Duration) time.Duration {
	return time.Duration(float64(d) * (0.8 + 0.4*rand.Float64()))
}

func trimSlash(s string) string {
	for len(s) > 0 && s[len(s)-1] == '/' {
		s = s[:len(s)-1]
	}
	return s
}
