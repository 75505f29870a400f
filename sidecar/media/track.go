package media

import (
	"strings"
	"sync"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// Codec names in reports.
const (
	codecVP8  = "vp8"
	codecH264 = "h264"
	codecOpus = "opus"
)

// track reads one remote track and keeps its figures. The reading goroutine
// writes them and the session's goroutine reads them under mu, once a packet
// and once a report: uncontended.
type track struct {
	s      *Session
	remote *webrtc.TrackRemote
	kind   string // video, audio
	codec  string // vp8, h264, opus, or the MIME subtype
	clock  uint32
	ssrc   uint32

	mu  sync.Mutex
	win window
	// The session so far.
	last           time.Time // the newest packet's arrival
	lastTS         uint32
	haveTS         bool
	width, height  int
	keyTS          uint32
	keys           int
	keyIntervalSum float64 // seconds, between consecutive key frames
	lostBefore     int64   // the stats' cumulative loss at the previous report

	wantKeys bool      // OnKeyframe is set and wants this codec's key frames
	asm      assembler // key frame capture; only the reading goroutine
	nextPLI  time.Time // no key frame request before; only the reading goroutine
}

// window is what arrived since the previous report.
type window struct {
	packets, bytes, tiny int64
	frames               int64
	firstTS, lastTS      uint32
}

func newTrack(s *Session, remote *webrtc.TrackRemote) *track {
	c := remote.Codec()
	mime := strings.ToLower(c.MimeType)
	_, sub, _ := strings.Cut(mime, "/")
	t := &track{s: s, remote: remote, kind: remote.Kind().String(), codec: sub, clock: c.ClockRate, ssrc: uint32(remote.SSRC())}
	if t.clock == 0 {
		t.clock = 90000
	}
	t.asm = assembler{codec: t.codec, max: s.tap.cfg.MaxKeyframeBytes}
	o := s.tap.opts
	t.wantKeys = o.OnKeyframe != nil && t.kind == "video" && (o.WantsKeyframes == nil || o.WantsKeyframes(t.codec))
	return t
}

// read reads packets until the track ends or the session stops it with a
// read deadline.
func (t *track) read() {
	buf := make([]byte, t.s.tap.cfg.ReadBuffer)
	var p rtp.Packet
	for {
		n, _, err := t.remote.Read(buf)
		if err != nil {
			return
		}
		if p.Unmarshal(buf[:n]) != nil {
			t.s.badPackets.Add(1)
			continue
		}
		t.observe(&p, t.s.tap.now())
	}
}

// observe takes one packet's figures: no decoding, a few bytes of the
// payload looked at (the VP8 frame tag, the H.264 NAL header, Opus's size).
func (t *track) observe(p *rtp.Packet, now time.Time) {
	payload := p.Payload
	var key, startsFrame bool
	var w, h int
	var sps []byte
	switch t.codec {
	case codecVP8:
		if vp, start, ok := vp8Descriptor(payload); ok && start {
			startsFrame = true
			key, w, h = vp8Frame(vp)
		}
	case codecH264:
		key, sps = h264Packet(payload)
		startsFrame = key
	}

	t.mu.Lock()
	first := t.last.IsZero()
	t.last = now
	win := &t.win
	win.packets++
	win.bytes += int64(len(payload))
	if t.kind == "audio" && len(payload) <= opusSilentBytes {
		win.tiny++
	}
	ts := p.Timestamp
	newFrame := len(payload) > 0 && (!t.haveTS || int32(ts-t.lastTS) > 0)
	if newFrame {
		if win.frames == 0 {
			win.firstTS = ts
		}
		win.frames++
		win.lastTS = ts
		t.lastTS, t.haveTS = ts, true
	}
	if key && (t.keys == 0 || ts != t.keyTS) {
		if t.keys > 0 && int32(ts-t.keyTS) > 0 {
			t.keyIntervalSum += float64(ts-t.keyTS) / float64(t.clock)
		}
		t.keyTS = ts
		t.keys++
	}
	if w > 0 && h > 0 {
		t.width, t.height = w, h
	}
	t.mu.Unlock()

	if sps != nil {
		if s, err := ParseSPS(sps); err == nil {
			t.mu.Lock()
			t.width, t.height = s.Width, s.Height
			t.mu.Unlock()
		}
	}
	if first {
		t.s.firstPacket(now)
	}
	if t.wantKeys {
		t.capture(p, key && startsFrame, now)
		t.requestKeyframe(now)
	}
}

// capture feeds the assembler while a key frame is wanted: from the first
// packet of a key frame once KeyframeEvery has passed for the stream.
func (t *track) capture(p *rtp.Packet, keyStart bool, now time.Time) {
	if !t.asm.armed {
		if !keyStart || !t.s.keyframeDue(now) {
			return
		}
		t.asm.arm(p.Timestamp)
	}
	switch outcome, frame := t.asm.push(p); outcome {
	case asmDone:
		if t.s.takeKeyframe(now) {
			t.s.tap.m.keyframes.WithLabelValues("delivered").Inc()
			t.s.tap.opts.OnKeyframe(t.s.info.StreamID, t.codec, frame, now)
		}
	case asmIncomplete:
		t.s.tap.m.keyframes.WithLabelValues("incomplete").Inc()
		if keyStart { // the next frame is a key frame too: take it instead
			t.capture(p, keyStart, now)
		}
	case asmTooLarge:
		t.s.tap.m.keyframes.WithLabelValues("too_large").Inc()
	}
}

// facts takes the window's figures and starts a new window.
func (t *track) facts(stats webrtc.StatsReport) TrackFacts {
	t.mu.Lock()
	win := t.win
	t.win = window{}
	f := TrackFacts{Kind: t.kind, Codec: t.codec, Packets: win.packets, Width: t.width, Height: t.height}
	if t.keys > 1 {
		f.KeyframeIntervalS = round3(t.keyIntervalSum / float64(t.keys-1))
	}
	t.mu.Unlock()

	// Rates on the RTP clock: n frames span n-1 frame durations from the
	// first timestamp to the last, and the bytes are those of n frames.
	if span := float64(win.lastTS-win.firstTS) / float64(t.clock); win.frames > 1 && span > 0 {
		perFrame := span / float64(win.frames-1)
		f.BitrateBps = int64(float64(win.bytes*8) / (perFrame * float64(win.frames)))
		if t.kind == "video" {
			f.FPS = round3(float64(win.frames-1) / span)
		}
	}
	if t.kind == "audio" {
		silent := win.packets == 0 || float64(win.tiny) >= 0.9*float64(win.packets)
		f.Silent = &silent
	}
	for _, st := range stats {
		in, ok := st.(webrtc.InboundRTPStreamStats)
		if !ok || uint32(in.SSRC) != t.ssrc {
			continue
		}
		f.JitterMs = round3(in.Jitter * 1000)
		lost := int64(in.PacketsLost)
		f.Lost = max(0, lost-t.lostBefore)
		t.lostBefore = lost
	}
	return f
}

func round3(x float64) float64 {
	const k = 1000
	return float64(int64(x*k+0.5)) / k
}
