package janus

import (
	"context"
	"errors"
	"net"
	"net/url"
	"sync"
	"time"
)

// session is one Janus session: a control handle that lists rooms and
// participants, one handle per subscription, a long poll dispatching events
// to them, and keepalives.
type session struct {
	c     *Client
	outer context.Context // Run's: done when Ronda stops
	id    uint64
	ctl   uint64
	fail  context.CancelCauseFunc

	mu       sync.Mutex
	byHandle map[uint64]*subscription
	byFeed   map[feedKey]*subscription
	refused  map[feedKey]*refusal // feeds prepare refused, not joined again before their time
	subs     sync.WaitGroup
}

// refusal is a feed prepare refused: each join costs Janus a handle and an
// offer, so the feed is not joined again before next, and the wait doubles
// up to BackoffMax at each refusal.
type refusal struct {
	next time.Time
	wait time.Duration
}

type feedKey struct{ room, id uint64 }

// runSession runs one session until it is lost or ctx ends. established
// says a session was created (the backoff starts over).
func (c *Client) runSession(ctx context.Context) (established bool, err error) {
	id, err := c.api.createSession(ctx)
	if err != nil {
		return false, err
	}
	c.m.sessions.Inc()
	sctx, fail := context.WithCancelCause(ctx)
	defer fail(nil)
	s := &session{c: c, outer: ctx, id: id, fail: fail, byHandle: map[uint64]*subscription{}, byFeed: map[feedKey]*subscription{},
		refused: map[feedKey]*refusal{}}
	c.log.Info("janus session created", "session", id)

	var loops sync.WaitGroup
	defer func() {
		reason := endSessionLost
		if ctx.Err() != nil {
			reason = endStopped
		}
		s.stopAll(reason)
		fail(nil)
		loops.Wait()
		// Best effort, bounded: Janus frees the handles and PeerConnections
		// now instead of at its session timeout. A lost Janus fails fast.
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.cfg.RequestTimeout)
		_ = c.api.simple(dctx, "destroy", id)
		cancel()
	}()
	if s.ctl, err = c.api.attach(sctx, id); err != nil {
		return true, err
	}
	loops.Add(2)
	go func() { defer loops.Done(); s.pollLoop(sctx) }()
	go func() { defer loops.Done(); s.keepalive(sctx) }()

	tick := time.NewTicker(c.cfg.PollInterval)
	defer tick.Stop()
	for {
		if err := s.discover(sctx); err != nil && fatal(err) {
			fail(err)
		}
		select {
		case <-sctx.Done():
			return true, context.Cause(sctx)
		case <-tick.C:
		}
	}
}

// fatal says an error ends the session: Janus forgot it, or cannot be
// reached.
func fatal(err error) bool {
	var ue *url.Error
	var ne net.Error
	return errors.Is(err, ErrSessionGone) || errors.As(err, &ue) || errors.As(err, &ne)
}

// pollLoop long-polls events and hands each to its subscription. A lost
// session or unreachable Janus ends the session; an undecodable answer is
// counted and skipped.
func (s *session) pollLoop(ctx context.Context) {
	for ctx.Err() == nil {
		evs, err := s.c.api.poll(ctx, s.id, 10)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			if fatal(err) || !errors.Is(err, errDecode) {
				s.fail(err)
				return
			}
			s.c.log.Warn("janus event skipped", "err", err)
			continue
		}
		for _, m := range evs {
			s.dispatch(m)
		}
	}
}

func (s *session) dispatch(m message) {
	if m.Sender == 0 {
		return
	}
	s.mu.Lock()
	sub := s.byHandle[m.Sender]
	s.mu.Unlock()
	if sub != nil {
		sub.deliver(m)
	}
}

func (s *session) keepalive(ctx context.Context) {
	t := time.NewTicker(s.c.cfg.KeepaliveInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if err := s.c.api.simple(ctx, "keepalive", s.id); err != nil && ctx.Err() == nil {
			s.fail(err)
			return
		}
	}
}

// discover lists the rooms' publishers, ends the subscriptions of those that
// left and starts new ones up to the limit. A room that cannot be listed
// keeps its subscriptions (Janus hangs them up if the room is gone).
func (s *session) discover(ctx context.Context) error {
	c := s.c
	rooms := c.cfg.Rooms
	if len(rooms) == 0 {
		body := map[string]any{"request": "list"}
		if c.adminKey != "" {
			body["admin_key"] = c.adminKey
		}
		data, err := c.api.request(ctx, s.id, s.ctl, body)
		if err == nil {
			rooms, err = decodeRooms(data)
		}
		if err != nil {
			c.log.Warn("janus list rooms", "err", err)
			return err
		}
	}
	want := map[feedKey]Feed{}
	unlisted := map[uint64]bool{}
	for _, room := range rooms {
		data, err := c.api.request(ctx, s.id, s.ctl, map[string]any{"request": "listparticipants", "room": room})
		var pubs []publisher
		if err == nil {
			pubs, err = decodePublishers(data)
		}
		if err != nil {
			if fatal(err) {
				return err
			}
			c.log.Debug("janus list participants", "room", room, "err", err)
			unlisted[room] = true
			continue
		}
		for _, p := range pubs {
			f, ok := c.mapper.feed(room, p)
			if !ok {
				c.m.skipped.WithLabelValues(skipUnmatched).Inc()
				continue
			}
			want[feedKey{room, p.ID}] = f
		}
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	for k, sub := range s.byFeed {
		if _, ok := want[k]; !ok && !unlisted[k.room] {
			sub.stop(endLeft)
		}
	}
	for k := range s.refused {
		if _, ok := want[k]; !ok && !unlisted[k.room] {
			delete(s.refused, k) // left: the map holds only listed feeds
		}
	}
	now := time.Now()
	for k, f := range want {
		if _, ok := s.byFeed[k]; ok {
			continue
		}
		if len(s.byFeed) >= c.cfg.MaxSubscriptions {
			c.m.skipped.WithLabelValues(skipLimit).Inc()
			continue
		}
		if r := s.refused[k]; r != nil && now.Before(r.next) {
			c.m.skipped.WithLabelValues(skipBackoff).Inc()
			continue
		}
		s.startLocked(ctx, k, f)
	}
	return nil
}

// refusedLocked notes that prepare refused the feed k and when it may be
// joined again; s.mu is held. It says whether this is the feed's first
// refusal in a row (the one worth a warning).
func (s *session) refusedLocked(k feedKey) (first bool) {
	r := s.refused[k]
	if r == nil {
		r = &refusal{wait: s.c.cfg.BackoffMin}
		s.refused[k] = r
		first = true
	} else {
		r.wait = min(2*r.wait, s.c.cfg.BackoffMax)
	}
	r.next = time.Now().Add(jitter(r.wait))
	return first
}

// stopAll ends every subscription with reason and waits for them.
func (s *session) stopAll(reason string) {
	s.mu.Lock()
	for _, sub := range s.byFeed {
		sub.stop(reason)
	}
	s.mu.Unlock()
	s.subs.Wait()
}
