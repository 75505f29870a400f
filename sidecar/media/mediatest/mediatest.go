// Package mediatest is real WebRTC media for tests of Ronda's media paths: a
// pion API that gathers loopback candidates only, a synthetic VP8 and Opus
// sender, and a counter of what a receiving track got (RTP packets, VP8
// keyframes).
//
// It is for tests only. The frames are synthetic (a VP8 frame header and
// filler, an Opus silence frame): real RTP of the right payload types and
// packetization, no picture or sound, nothing written anywhere.
package mediatest

import (
	"context"
	"errors"
	"io"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/rtp/codecs"
	"github.com/pion/webrtc/v4"
	"github.com/pion/webrtc/v4/pkg/media"
)

// LoopbackAPI is a pion API with the default codecs and interceptors whose
// ICE agent gathers only IPv4 UDP candidates on the loopback interface (and
// the interfaces named in also, such as janustest's loopback-addressed
// interface inside its own network namespace), with mDNS off: tests never
// send a packet off this machine.
func LoopbackAPI(also ...string) (*webrtc.API, error) {
	m := &webrtc.MediaEngine{}
	if err := m.RegisterDefaultCodecs(); err != nil {
		return nil, err
	}
	var s webrtc.SettingEngine
	s.SetIncludeLoopbackCandidate(true)
	s.SetInterfaceFilter(func(name string) bool { return name == "lo" || slices.Contains(also, name) })
	s.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	s.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	return webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithSettingEngine(s)), nil
}

// Tracks are a sender's VP8 video and Opus audio.
type Tracks struct {
	Video *webrtc.TrackLocalStaticSample
	Audio *webrtc.TrackLocalStaticSample
}

// AddTracks adds a VP8 and an Opus track, send-only, to pc.
func AddTracks(pc *webrtc.PeerConnection) (Tracks, error) {
	v, err := webrtc.NewTrackLocalStaticSample(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8}, "video", "mediatest")
	if err != nil {
		return Tracks{}, err
	}
	a, err := webrtc.NewTrackLocalStaticSample(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus}, "audio", "mediatest")
	if err != nil {
		return Tracks{}, err
	}
	for _, tr := range []webrtc.TrackLocal{v, a} {
		if _, err := pc.AddTransceiverFromTrack(tr, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly}); err != nil {
			return Tracks{}, err
		}
	}
	return Tracks{Video: v, Audio: a}, nil
}

// KeyframeEvery is how often Send writes a VP8 keyframe, in video frames (at
// 30 frames a second: three a second, so a subscriber that joins late sees
// one soon without waiting for a PLI).
const KeyframeEvery = 10

// VP8Frame is a synthetic VP8 frame (RFC 6386 section 9.1): a keyframe has
// the key-frame bit clear, the start code and a 64x48 size; an interframe
// only the frame tag. The rest is filler.
func VP8Frame(key bool) []byte {
	b := make([]byte, 200)
	if key {
		b[0] = 0x10 // key frame, version 0, show_frame
		copy(b[3:], []byte{0x9d, 0x01, 0x2a, 64, 0, 48, 0})
	} else {
		b[0] = 0x11
	}
	for i := 10; i < len(b); i++ {
		b[i] = byte(i)
	}
	return b
}

// opusSilence is an Opus frame of 20 ms of silence (TOC 0xf8: CELT FB 20 ms).
var opusSilence = []byte{0xf8, 0xff, 0xfe}

// Send writes VP8 at 30 frames a second and Opus every 20 ms until ctx ends
// or a write fails; it returns nil when ctx ends.
func Send(ctx context.Context, t Tracks) error {
	video := time.NewTicker(33 * time.Millisecond)
	defer video.Stop()
	audio := time.NewTicker(20 * time.Millisecond)
	defer audio.Stop()
	n := 0
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-video.C:
			err := t.Video.WriteSample(media.Sample{Data: VP8Frame(n%KeyframeEvery == 0), Duration: 33 * time.Millisecond})
			if err != nil && !errors.Is(err, io.ErrClosedPipe) {
				return err
			}
			n++
		case <-audio.C:
			err := t.Audio.WriteSample(media.Sample{Data: opusSilence, Duration: 20 * time.Millisecond})
			if err != nil && !errors.Is(err, io.ErrClosedPipe) {
				return err
			}
		}
	}
}

// Counter counts what remote tracks deliver, safe for concurrent use.
type Counter struct {
	VideoPackets atomic.Int64
	AudioPackets atomic.Int64
	Keyframes    atomic.Int64
	Tracks       atomic.Int64
	Mimes        sync.Map // mime type -> true

	wg sync.WaitGroup
}

// Attach registers OnTrack on pc: each remote track is read until it ends
// (the PeerConnection closes), counting packets and VP8 keyframes.
func (c *Counter) Attach(pc *webrtc.PeerConnection) {
	pc.OnTrack(func(tr *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		c.Tracks.Add(1)
		c.Mimes.Store(tr.Codec().MimeType, true)
		c.wg.Add(1)
		defer c.wg.Done()
		for {
			p, _, err := tr.ReadRTP()
			if err != nil {
				return
			}
			switch tr.Kind() {
			case webrtc.RTPCodecTypeVideo:
				c.VideoPackets.Add(1)
				if IsVP8Keyframe(p.Payload) {
					c.Keyframes.Add(1)
				}
			case webrtc.RTPCodecTypeAudio:
				c.AudioPackets.Add(1)
			}
		}
	})
}

// Wait waits for every track reader started by Attach to end.
func (c *Counter) Wait() { c.wg.Wait() }

// IsVP8Keyframe reports whether an RTP payload (RFC 7741) starts a VP8
// keyframe: the first packet of partition 0 whose frame tag has the
// key-frame bit clear.
func IsVP8Keyframe(payload []byte) bool {
	var p codecs.VP8Packet
	b, err := p.Unmarshal(payload)
	if err != nil || p.S != 1 || p.PID != 0 || len(b) < 3 {
		return false
	}
	return b[0]&0x01 == 0
}

// ServeOffer is a sending peer's half of an offer/answer exchange, as a
// WHEP server does it: pc gets the test tracks (AddTracks), takes the offer
// and answers it with every candidate gathered. On an error pc is closed.
// The answer is pc.LocalDescription().SDP; Send(ctx, tracks) plays them.
func ServeOffer(pc *webrtc.PeerConnection, offer string) (Tracks, error) {
	tracks, err := AddTracks(pc)
	if err == nil {
		err = pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: offer})
	}
	var answer webrtc.SessionDescription
	if err == nil {
		answer, err = pc.CreateAnswer(nil)
	}
	gathered := webrtc.GatheringCompletePromise(pc)
	if err == nil {
		err = pc.SetLocalDescription(answer)
	}
	if err != nil {
		pc.Close()
		return Tracks{}, err
	}
	<-gathered
	return tracks, nil
}
