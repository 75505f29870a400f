package media

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/webrtc/v4"
)

// Session is one tapped peer connection, from Attach until its connection
// fails or closes, End is called, or the tap stops. It never closes the peer
// connection: its owner does, when Done is closed or when it is done with it.
type Session struct {
	tap  *Tap
	pc   *webrtc.PeerConnection
	info SessionInfo

	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{}
	wg     sync.WaitGroup // the track readers

	mu      sync.Mutex
	tracks  []*track
	refused int
	ended   bool
	start   time.Time
	started chan struct{} // closed at the first packet
	network string

	id           string       // random, for report ids
	seq          int          // reports made; the session goroutine's
	nextKeyframe atomic.Int64 // unix nanos: no key frame before
	badPackets   atomic.Int64
}

// Info is what the session carries.
func (s *Session) Info() SessionInfo { return s.info }

// Done is closed when the session has ended and its last report is made.
func (s *Session) Done() <-chan struct{} { return s.done }

// End ends the session: its readers stop, the ended report is made. It does
// not close the peer connection. Safe to call more than once, from any
// goroutine except OnReport's.
func (s *Session) End() {
	s.stop()
	<-s.done
}

// stop asks the session to end without waiting (pion's callbacks call it).
func (s *Session) stop() {
	s.mu.Lock()
	if !s.ended {
		s.ended = true
		s.cancel()
		// Read returns at its deadline: the readers end though the
		// connection stays open.
		for _, t := range s.tracks {
			t.remote.SetReadDeadline(time.Unix(1, 0))
		}
	}
	s.mu.Unlock()
}

// onTrack is the peer connection's OnTrack: a reader per track, up to
// MaxTracks.
func (s *Session) onTrack(remote *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ended {
		return
	}
	if len(s.tracks) >= s.tap.cfg.MaxTracks {
		s.refused++
		s.tap.m.tracksRefused.Inc()
		return
	}
	t := newTrack(s, remote)
	s.tracks = append(s.tracks, t)
	s.tap.m.tracks.WithLabelValues(s.info.Kind, t.kind).Inc()
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		t.read()
	}()
}

func (s *Session) onState(st webrtc.PeerConnectionState) {
	if st == webrtc.PeerConnectionStateFailed || st == webrtc.PeerConnectionStateClosed {
		s.stop()
	}
}

// firstPacket marks the start on the wire (the first packet of any track).
func (s *Session) firstPacket(now time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.start.IsZero() {
		s.start = now
		close(s.started)
	}
}

func (s *Session) keyframeDue(now time.Time) bool {
	return now.UnixNano() >= s.nextKeyframe.Load()
}

// takeKeyframe claims the stream's key frame for now: false when another
// track of the stream took one since.
func (s *Session) takeKeyframe(now time.Time) bool {
	next := s.nextKeyframe.Load()
	if now.UnixNano() < next {
		return false
	}
	return s.nextKeyframe.CompareAndSwap(next, now.Add(s.tap.cfg.KeyframeEvery).UnixNano())
}

// run is the session's goroutine: the started report at the first packet,
// live reports every ReportEvery, the ended report once the readers stopped.
func (s *Session) run() {
	defer close(s.done)
	defer s.tap.remove(s)
	tick := time.NewTicker(s.tap.cfg.ReportEvery)
	defer tick.Stop()
	started := s.started
	for {
		select {
		case <-started:
			started = nil
			s.report(StateStarted)
		case <-tick.C:
			if started == nil {
				s.report(StateLive)
			}
		case <-s.ctx.Done():
			s.wg.Wait()
			s.mu.Lock()
			wasStarted := !s.start.IsZero()
			s.mu.Unlock()
			if wasStarted {
				s.report(StateEnded)
			}
			return
		}
	}
}

// report makes one report and hands it to OnReport.
func (s *Session) report(state string) {
	now := s.tap.now()
	var stats webrtc.StatsReport
	if state != StateStarted && s.pc.ConnectionState() != webrtc.PeerConnectionStateClosed {
		stats = s.pc.GetStats()
	}
	if s.network == "" {
		s.network = remotePrefix(s.pc)
	}
	s.mu.Lock()
	tracks := append([]*track(nil), s.tracks...)
	start := s.start
	s.mu.Unlock()
	s.seq++
	r := Report{StreamID: s.info.StreamID, HostID: s.info.HostID, Kind: s.info.Kind, Session: s.id, Seq: s.seq, State: state, At: now,
		Start: start, Network: s.network}
	var packets, bytes int64
	for _, t := range tracks {
		if state == StateStarted {
			t.mu.Lock()
			r.Tracks = append(r.Tracks, TrackFacts{Kind: t.kind, Codec: t.codec})
			t.mu.Unlock()
			continue
		}
		t.mu.Lock()
		bytes += t.win.bytes
		last := t.last
		t.mu.Unlock()
		f := t.facts(stats)
		packets += f.Packets
		r.Tracks = append(r.Tracks, f)
		if state == StateEnded && last.After(r.End) {
			r.End = last
		}
	}
	s.tap.m.packets.WithLabelValues(s.info.Kind).Add(float64(packets))
	s.tap.m.bytes.WithLabelValues(s.info.Kind).Add(float64(bytes))
	s.tap.m.reports.WithLabelValues(state).Inc()
	if s.tap.opts.OnReport != nil {
		s.tap.opts.OnReport(r)
	}
}

// remotePrefix is the publisher's network on the selected candidate pair,
// coarsened (Prefix); "" before one is selected.
func remotePrefix(pc *webrtc.PeerConnection) string {
	for _, r := range pc.GetReceivers() {
		dt := r.Transport()
		if dt == nil || dt.ICETransport() == nil {
			continue
		}
		pair, err := dt.ICETransport().GetSelectedCandidatePair()
		if err != nil || pair == nil || pair.Remote == nil {
			continue
		}
		return Prefix(pair.Remote.Address)
	}
	return ""
}
