package janus

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/pion/webrtc/v4"
)

// subscription is one subscriber handle on one publisher, with its
// PeerConnection.
type subscription struct {
	s      *session
	feed   Feed
	events chan message
	cancel context.CancelCauseFunc
}

// endCause carries why a subscription was ended from outside.
type endCause string

func (e endCause) Error() string { return string(e) }

// eventQueue bounds the events waiting for one subscription; a subscription
// that falls that far behind is ended as failed.
const eventQueue = 32

// startLocked starts a subscription; s.mu is held.
func (s *session) startLocked(ctx context.Context, k feedKey, f Feed) {
	ctx, cancel := context.WithCancelCause(ctx)
	sub := &subscription{s: s, feed: f, events: make(chan message, eventQueue), cancel: cancel}
	s.byFeed[k] = sub
	s.subs.Add(1)
	go func() {
		defer s.subs.Done()
		reason, err := sub.run(ctx)
		cancel(nil)
		s.mu.Lock()
		delete(s.byFeed, k)
		first := false
		if reason == "" {
			first = s.refusedLocked(k)
		} else {
			// A place may have freed in the tap: refused feeds may try again.
			clear(s.refused)
		}
		s.mu.Unlock()
		if reason == "" {
			// Refused by prepare (counted there), never started: warn once
			// per feed, not at every retry.
			lvl := slog.LevelDebug
			if first {
				lvl = slog.LevelWarn
			}
			s.c.log.Log(context.Background(), lvl, "janus feed refused by prepare; backing off",
				"room", f.Room, "feed", f.ID, "err", err)
			return
		}
		s.c.m.ended.WithLabelValues(reason).Inc()
		s.c.log.Info("janus subscription ended", "room", f.Room, "feed", f.ID, "reason", reason, "err", err)
	}()
}

func (sub *subscription) stop(reason string) { sub.cancel(endCause(reason)) }

// deliver queues an event for the subscription without blocking the poll.
func (sub *subscription) deliver(m message) {
	select {
	case sub.events <- m:
	default:
		sub.cancel(fmt.Errorf("%w: event queue full", endCause(endFailed)))
	}
}

// run subscribes and follows the subscription until it ends; it returns the
// end reason ("" when prepare refused the feed) and the error behind it.
func (sub *subscription) run(ctx context.Context) (reason string, err error) {
	s, c := sub.s, sub.s.c
	handle, err := c.api.attach(ctx, s.id)
	if err != nil {
		return sub.reason(ctx, endFailed), err
	}
	s.mu.Lock()
	s.byHandle[handle] = sub
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.byHandle, handle)
		s.mu.Unlock()
		if reason != endSessionLost {
			dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.cfg.RequestTimeout)
			_ = c.api.simple(dctx, "detach", s.id, handle)
			cancel()
		}
	}()

	join := map[string]any{"request": "join", "ptype": "subscriber", "room": sub.feed.Room,
		"streams": []map[string]any{{"feed": sub.feed.ID}}}
	nctx, ncancel := context.WithTimeout(ctx, c.cfg.NegotiationTimeout)
	defer ncancel()
	if err := c.api.message(nctx, s.id, handle, join, nil); err != nil {
		return sub.reason(ctx, endFailed), err
	}
	var pending []candidate
	offer, err := sub.awaitOffer(nctx, &pending)
	if err != nil {
		return sub.reason(ctx, endFailed), err
	}

	pc, err := c.rtc.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		return sub.reason(ctx, endFailed), err
	}
	defer pc.Close()
	if err := c.prepare(pc, sub.feed); err != nil {
		c.m.skipped.WithLabelValues(skipPrepare).Inc()
		return "", err
	}
	if c.done != nil {
		defer c.done(pc, sub.feed) // deferred after pc.Close: runs first
	}
	broken := make(chan webrtc.PeerConnectionState, 1)
	pc.OnConnectionStateChange(func(st webrtc.PeerConnectionState) {
		if st == webrtc.PeerConnectionStateFailed {
			select {
			case broken <- st:
			default:
			}
		}
	})
	if err := sub.answer(nctx, pc, handle, offer, pending); err != nil {
		return sub.reason(ctx, endFailed), err
	}
	ncancel()
	c.m.started.Inc()
	c.m.subscriptions.Inc()
	defer c.m.subscriptions.Dec()
	c.log.Info("janus subscription started", "room", sub.feed.Room, "feed", sub.feed.ID)

	for {
		select {
		case <-ctx.Done():
			return sub.reason(ctx, endStopped), nil
		case <-broken:
			return endFailed, errors.New("peer connection failed")
		case m := <-sub.events:
			switch m.Janus {
			case "hangup", "detached":
				return endHangup, fmt.Errorf("janus %s: %s", m.Janus, m.Reason)
			case "trickle":
				sub.trickle(pc, m)
			case "event":
				if m.Plugindata != nil {
					if v, err := decodeVideoroom(m.Plugindata.Data); err == nil && v.Left == "ok" {
						return endLeft, nil
					}
				}
				if m.Jsep != nil && m.Jsep.Type == "offer" {
					// "updated": streams added or removed; answer it.
					rctx, rcancel := context.WithTimeout(ctx, c.cfg.NegotiationTimeout)
					err := sub.answer(rctx, pc, handle, *m.Jsep, nil)
					rcancel()
					if err != nil {
						return sub.reason(ctx, endFailed), err
					}
				}
			}
		}
	}
}

// reason is the end reason: the one given by whoever cancelled ctx, else
// def.
func (sub *subscription) reason(ctx context.Context, def string) string {
	var e endCause
	if errors.As(context.Cause(ctx), &e) {
		return string(e)
	}
	if ctx.Err() != nil {
		if sub.s.outer.Err() != nil {
			return endStopped
		}
		return endSessionLost
	}
	return def
}

// awaitOffer waits for the join's event carrying Janus's offer, keeping
// candidates trickled before it.
func (sub *subscription) awaitOffer(ctx context.Context, pending *[]candidate) (jsep, error) {
	for {
		select {
		case <-ctx.Done():
			return jsep{}, fmt.Errorf("waiting for janus's offer: %w", context.Cause(ctx))
		case m := <-sub.events:
			switch m.Janus {
			case "hangup", "detached":
				return jsep{}, fmt.Errorf("janus %s before the offer: %s", m.Janus, m.Reason)
			case "trickle":
				if cand, err := decodeCandidate(m.Candidate); err == nil && !cand.Completed {
					*pending = append(*pending, cand)
				}
			case "event":
				if m.Plugindata != nil {
					if _, err := decodeVideoroom(m.Plugindata.Data); err != nil {
						return jsep{}, fmt.Errorf("join: %w", err)
					}
				}
				if m.Jsep != nil && m.Jsep.Type == "offer" {
					return *m.Jsep, nil
				}
			}
		}
	}
}

// answer takes Janus's offer, answers it with every local candidate (no
// trickle from this side) and sends the answer with a start request.
func (sub *subscription) answer(ctx context.Context, pc *webrtc.PeerConnection, handle uint64, offer jsep, pending []candidate) error {
	c := sub.s.c
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: offer.SDP}); err != nil {
		return fmt.Errorf("janus's offer: %w", err)
	}
	for _, cand := range pending {
		addCandidate(pc, cand)
	}
	ans, err := pc.CreateAnswer(nil)
	if err != nil {
		return fmt.Errorf("create answer: %w", err)
	}
	gathered := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(ans); err != nil {
		return fmt.Errorf("set answer: %w", err)
	}
	select {
	case <-gathered:
	case <-ctx.Done():
		return fmt.Errorf("ice gathering: %w", context.Cause(ctx))
	}
	noTrickle := false
	sd := &jsep{Type: "answer", SDP: pc.LocalDescription().SDP, Trickle: &noTrickle}
	return c.api.message(ctx, sub.s.id, handle, map[string]any{"request": "start"}, sd)
}

func (sub *subscription) trickle(pc *webrtc.PeerConnection, m message) {
	cand, err := decodeCandidate(m.Candidate)
	if err != nil || cand.Completed {
		return
	}
	addCandidate(pc, cand)
}

func addCandidate(pc *webrtc.PeerConnection, c candidate) {
	_ = pc.AddICECandidate(webrtc.ICECandidateInit{Candidate: c.Candidate, SDPMid: c.SDPMid, SDPMLineIndex: c.SDPMLineIndex})
}
