package serve

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"sync"
	"time"

	"github.com/ronda-watch/ronda/analyzer"
	"github.com/ronda-watch/ronda/sidecar/intake"
	"github.com/ronda-watch/ronda/sidecar/poll"
)

// PollersConfig reads which streams are live from the media servers'
// read-only statistics (sidecar/poll): a heartbeat for every live stream at
// every poll and, with sessions, the start and end of each broadcast. Polling
// is the source of liveness that cannot cut a broadcast: nobody is refused or
// disconnected when Ronda is down, slow or misconfigured. None by default.
type PollersConfig struct {
	// NginxRTMP are nginx-rtmp stat pages: an http location with
	// `rtmp_stat all;` (deploy/nginx-rtmp/nginx.conf). Sessions off and
	// resume on: starts and ends come from exec_publish running `ronda hook`.
	NginxRTMP []NginxRTMPPoller `yaml:"nginx_rtmp"`
	// SRS HTTP APIs (http_api in srs.conf). Sessions on is recommended: SRS's
	// on_publish refuses the publish when Ronda does not answer.
	SRS []SRSPoller `yaml:"srs"`
	// OvenMediaEngine REST APIs. Sessions on is recommended: its admission
	// webhooks refuse the publish when Ronda does not answer.
	OME []OMEPoller `yaml:"ome"`
}

// PollerConfig is what every poller has.
type PollerConfig struct {
	// URL: nginx-rtmp the stat location (http://127.0.0.1:8088/stat), SRS and
	// OME the API's base (http://127.0.0.1:1985, http://127.0.0.1:8081).
	URL string `yaml:"url"`
	// Interval between polls. Default 30s (a quiet stream is taken as ended
	// after 15 minutes without an event; heartbeats come a few minutes apart
	// at most). At least 1s.
	Interval time.Duration `yaml:"interval"`
	// Sessions also sends stream.start when a stream appears and stream.end
	// when a successful poll no longer lists it. Default false.
	Sessions bool `yaml:"sessions"`
	// Resume, with sessions off, starts once each stream that was already
	// live when Ronda started (nginx-rtmp gives each stream's age) and that
	// the analyzer does not have: a restored state has the starts the
	// previous process accepted, but not one sent while Ronda was down, nor
	// any when the state was lost; without a start the analyzer ignores the
	// stream's heartbeats. Streams younger than Ronda are left to their hook.
	// Default false; true beside nginx-rtmp with exec_publish.
	Resume bool `yaml:"resume"`
	// Timeout bounds one poll, all its requests. Default 10s.
	Timeout time.Duration `yaml:"timeout"`
	// MaxStreams bounds the streams taken from one poll (the rest counted in
	// ronda_poll_skipped_total). Default 10,000.
	MaxStreams int `yaml:"max_streams"`
}

// NginxRTMPPoller polls one nginx-rtmp stat page.
type NginxRTMPPoller struct {
	PollerConfig `yaml:",inline"`
	// App keeps only this application's streams; empty: all.
	App string `yaml:"app"`
}

// SRSPoller polls one SRS HTTP API.
type SRSPoller struct {
	PollerConfig `yaml:",inline"`
}

// OMEPoller polls one OvenMediaEngine REST API.
type OMEPoller struct {
	PollerConfig `yaml:",inline"`
	// TokenSecret names where the API's <AccessToken> is (env or file).
	TokenSecret SecretRef `yaml:"token_secret"`
	// Vhost is the virtual host. Default "default".
	Vhost string `yaml:"vhost"`
	// Apps to read; empty: every application of the vhost.
	Apps []string `yaml:"apps"`
}

func (c PollersConfig) validate() []error {
	var errs []error
	check := func(field string, p PollerConfig) {
		u, err := url.Parse(p.URL)
		if p.URL == "" || err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			errs = append(errs, fmt.Errorf("%s.url: %q is not an http(s) URL", field, p.URL))
		}
		if p.Interval != 0 && p.Interval < time.Second {
			errs = append(errs, fmt.Errorf("%s.interval: %s is under 1s", field, p.Interval))
		}
		if p.Timeout < 0 || p.MaxStreams < 0 {
			errs = append(errs, fmt.Errorf("%s: timeout and max_streams must not be negative", field))
		}
	}
	for i, p := range c.NginxRTMP {
		check(fmt.Sprintf("pollers.nginx_rtmp[%d]", i), p.PollerConfig)
	}
	for i, p := range c.SRS {
		check(fmt.Sprintf("pollers.srs[%d]", i), p.PollerConfig)
	}
	for i, p := range c.OME {
		field := fmt.Sprintf("pollers.ome[%d]", i)
		check(field, p.PollerConfig)
		if !p.TokenSecret.set() {
			errs = append(errs, fmt.Errorf("%s.token_secret: names neither env nor file for the API's access token", field))
		}
	}
	return errs
}

// pollerSet runs the configured pollers under the service's background
// context; stop cancels them and waits, and is safe on an empty set and twice.
type pollerSet struct {
	list   []*poll.Poller
	cancel context.CancelFunc
	wg     sync.WaitGroup
	once   sync.Once
}

// openPollers builds the configured pollers, feeding sink.
func (s *Service) openPollers(sink intake.Sink) error {
	c := s.cfg.Pollers
	type source struct {
		field string
		cfg   PollerConfig
		src   poll.Source
	}
	var srcs []source
	for i, p := range c.NginxRTMP {
		srcs = append(srcs, source{fmt.Sprintf("pollers.nginx_rtmp[%d]", i), p.PollerConfig, poll.NginxStat{URL: p.URL, App: p.App}})
	}
	for i, p := range c.SRS {
		srcs = append(srcs, source{fmt.Sprintf("pollers.srs[%d]", i), p.PollerConfig, poll.SRS{URL: p.URL}})
	}
	for i, p := range c.OME {
		field := fmt.Sprintf("pollers.ome[%d]", i)
		token, err := p.TokenSecret.Secret(s.opts.Getenv)
		if err != nil {
			return fmt.Errorf("%s.token_secret: %w", field, err)
		}
		srcs = append(srcs, source{field, p.PollerConfig, poll.OME{URL: p.URL, Token: string(token), Vhost: p.Vhost, Apps: p.Apps}})
	}
	s.polls = &pollerSet{}
	var live func(context.Context, string) bool
	if s.pipe != nil {
		live = func(ctx context.Context, streamID string) bool {
			var ok bool
			if err := s.pipe.do(ctx, func(e *analyzer.Engine) { ok = e.Live(streamID) }); err != nil {
				return true // cannot tell: leave it to its hook rather than start it twice
			}
			return ok
		}
	}
	for _, sc := range srcs {
		p, err := poll.New(poll.Options{Source: sc.src, Sink: poll.Sink(sink), Node: s.cfg.Node,
			Interval: sc.cfg.Interval, Sessions: sc.cfg.Sessions, Resume: sc.cfg.Resume, Live: live, HostParam: s.cfg.Adapters.HostParam,
			MaxStreams: sc.cfg.MaxStreams, Timeout: sc.cfg.Timeout, Now: s.opts.Now,
			Logger: s.log.With("component", "poll"), Registerer: s.reg})
		if err != nil {
			return fmt.Errorf("%s: %w", sc.field, err)
		}
		s.polls.list = append(s.polls.list, p)
	}
	return nil
}

// start runs every poller until stop or the end of parent.
func (ps *pollerSet) start(parent context.Context, s *Service) {
	if ps == nil || len(ps.list) == 0 {
		return
	}
	ctx, cancel := context.WithCancel(parent)
	ps.cancel = cancel
	for _, p := range ps.list {
		ps.wg.Add(1)
		go func() {
			defer ps.wg.Done()
			if err := p.Run(ctx); err != nil && !errors.Is(err, context.Canceled) {
				s.log.Warn("poller stopped", "err", err)
			}
		}()
	}
	s.log.Info("polling media servers' statistics for liveness", "pollers", len(ps.list))
}

// stop ends the pollers and waits for them: the first step of a stop, so
// that no poll feeds a pipeline that is draining.
func (ps *pollerSet) stop() {
	if ps == nil {
		return
	}
	ps.once.Do(func() {
		if ps.cancel != nil {
			ps.cancel()
		}
		ps.wg.Wait()
	})
}
