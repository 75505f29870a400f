package serve

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/ronda-watch/ronda/sidecar/media"
	"github.com/ronda-watch/ronda/sidecar/media/janus"
	"github.com/ronda-watch/ronda/sidecar/media/whep"
)

// validateSources checks the broadcasts Ronda fetches itself: the Janus
// subscription and the WHEP pulls.
func (c MediaConfig) validateSources() []error {
	var errs []error
	if c.Janus.URL != "" || len(c.Janus.Rooms) > 0 {
		errs = append(errs, keyed("media.janus", c.Janus.Validate())...)
	}
	streams := map[string]int{}
	for i, w := range c.WHEP {
		errs = append(errs, keyed(fmt.Sprintf("media.whep[%d]", i), w.Validate())...)
		if j, dup := streams[w.StreamID]; dup && w.StreamID != "" {
			errs = append(errs, fmt.Errorf("media.whep[%d].stream_id: %q is pulled by media.whep[%d] too", i, w.StreamID, j))
		}
		streams[w.StreamID] = i
	}
	return errs
}

// keyed prefixes each of err's joined errors with key, so that every line
// check-config prints names the key it is about.
func keyed(key string, err error) []error {
	if err == nil {
		return nil
	}
	list := []error{err}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		list = j.Unwrap()
	}
	out := make([]error, 0, len(list))
	for _, e := range list {
		out = append(out, fmt.Errorf("%s: %w", key, e))
	}
	return out
}

// mediaSources are the broadcasts Ronda fetches: one Janus client and one
// WHEP puller per configured stream, each handing its PeerConnections to
// the tap as the WHIP endpoint does, each run until close.
type mediaSources struct {
	runs   []func(context.Context) error
	names  []string
	cancel context.CancelFunc
	wg     sync.WaitGroup
	once   sync.Once
}

// openSources builds the Janus client and the WHEP pullers (their secrets
// read now: a missing one fails the start); nothing runs before start.
func (s *Service) openSources(tap *media.Tap, api *webrtc.API) (*mediaSources, error) {
	c := s.cfg.Media
	src := &mediaSources{}
	// The tap takes the PeerConnection's OnConnectionStateChange, and the
	// clients take it back after prepare; so the tap's session is ended
	// through the clients' done hook, before they close the connection.
	var live sync.Map // *webrtc.PeerConnection -> *media.Session
	attach := func(pc *webrtc.PeerConnection, info media.SessionInfo) error {
		sess, err := tap.Attach(pc, info)
		if err != nil {
			return err
		}
		live.Store(pc, sess)
		return nil
	}
	done := func(pc *webrtc.PeerConnection) {
		if v, ok := live.LoadAndDelete(pc); ok {
			v.(*media.Session).End()
		}
	}
	if c.Janus.URL != "" {
		jc, err := janus.New(c.Janus, func(pc *webrtc.PeerConnection, f janus.Feed) error {
			return attach(pc, media.SessionInfo{StreamID: f.StreamID, HostID: f.Host, Kind: media.KindJanus})
		}, s.log, s.reg, janus.WithAPI(api), janus.WithGetenv(s.opts.Getenv),
			janus.WithDone(func(pc *webrtc.PeerConnection, _ janus.Feed) { done(pc) }))
		if err != nil {
			return nil, fmt.Errorf("media.janus: %w", err)
		}
		src.runs = append(src.runs, jc.Run)
		src.names = append(src.names, media.KindJanus)
	}
	if len(c.WHEP) > 0 {
		m, err := whep.NewMetrics(s.reg)
		if err != nil {
			return nil, fmt.Errorf("whep metrics: %w", err)
		}
		for i, wc := range c.WHEP {
			newPuller := func() (*whep.Puller, error) {
				return whep.New(wc, func(pc *webrtc.PeerConnection, st whep.Stream) error {
					return attach(pc, media.SessionInfo{StreamID: st.StreamID, HostID: st.Host, Kind: media.KindWHEP})
				}, s.log, whep.WithAPI(api), whep.WithGetenv(s.opts.Getenv), whep.WithMetrics(m),
					whep.WithDone(func(pc *webrtc.PeerConnection, _ whep.Stream) { done(pc) }))
			}
			p, err := newPuller()
			if err != nil {
				return nil, fmt.Errorf("media.whep[%d]: %w", i, err)
			}
			src.runs = append(src.runs, s.pullWHEP(p, newPuller, wc))
			src.names = append(src.names, media.KindWHEP)
		}
	}
	return src, nil
}

// pullWHEP runs a puller; when the tap had no place for its session
// (media.max_sessions, counted in ronda_media_sessions_refused_total), which
// ends a puller's Run, a new puller tries again after the entry's
// backoff_max, so that a full tap delays a pull rather than ending it.
func (s *Service) pullWHEP(p *whep.Puller, newPuller func() (*whep.Puller, error), wc whep.Config) func(context.Context) error {
	wait := wc.BackoffMax
	if wait == 0 {
		wait = whep.DefaultBackoffMax
	}
	return func(ctx context.Context) error {
		for {
			err := p.Run(ctx)
			if ctx.Err() != nil || !errors.Is(err, media.ErrTooManySessions) {
				return err
			}
			s.log.Warn("whep pull waits for a place in the media tap", "stream_id", wc.StreamID, "retry_in", wait)
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				return nil
			case <-t.C:
			}
			if p, err = newPuller(); err != nil {
				return err
			}
		}
	}
}

// start runs every source until close. A WHEP puller that gives up (its
// token refused, max_attempts failed) is logged and stays stopped.
func (m *mediaSources) start(s *Service) {
	if m == nil || len(m.runs) == 0 {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	m.cancel = cancel
	for i, run := range m.runs {
		m.wg.Add(1)
		go func() {
			defer m.wg.Done()
			if err := run(ctx); err != nil {
				s.log.Error("media source stopped", "kind", m.names[i], "err", err)
			}
		}()
	}
}

// close stops every source and waits: each ends its subscriptions and
// pulls (their tap sessions make their ended reports) and tells its server.
// Safe on nil, twice, and without start.
func (m *mediaSources) close() {
	if m == nil {
		return
	}
	m.once.Do(func() {
		if m.cancel != nil {
			m.cancel()
		}
		m.wg.Wait()
	})
}
