package media

import (
	"context"
	"encoding/binary"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"
	"github.com/pion/webrtc/v4/pkg/media"
)

// publisher is a test broadcaster: a real pion peer sending synthetic VP8 or
// H.264 frames and Opus packets at a known rate, size and key frame
// interval, so what the tap reports can be checked against what was sent.
type publisher struct {
	pc           *webrtc.PeerConnection
	video, audio *webrtc.TrackLocalStaticSample
	codec        string // webrtc.MimeTypeVP8 or MimeTypeH264
	w, h         int
	fps          int
	bitrate      int // video bits per second
	keyEvery     int // frames between key frames
	silent       bool
	marker       []byte // put in every key frame (the never-on-disk test)
	rng          *rand.Rand

	keyframes map[string]bool // every key frame sent, as the tap should hand it over
}

func newPublisher(t testing.TB, api *webrtc.API, codec string) *publisher {
	t.Helper()
	pc, err := api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	p := &publisher{pc: pc, codec: codec, w: 1280, h: 720, fps: 30, bitrate: 2_000_000, keyEvery: 30,
		rng: rand.New(rand.NewPCG(1, 2)), keyframes: map[string]bool{}}
	if p.video, err = webrtc.NewTrackLocalStaticSample(webrtc.RTPCodecCapability{MimeType: codec}, "video", "pub"); err != nil {
		t.Fatal(err)
	}
	if p.audio, err = webrtc.NewTrackLocalStaticSample(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus}, "audio", "pub"); err != nil {
		t.Fatal(err)
	}
	for _, tr := range []webrtc.TrackLocal{p.video, p.audio} {
		if _, err := pc.AddTransceiverFromTrack(tr, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly}); err != nil {
			t.Fatal(err)
		}
	}
	return p
}

// offer is the publisher's complete offer (candidates gathered: no trickle).
func (p *publisher) offer(t testing.TB) string {
	t.Helper()
	o, err := p.pc.CreateOffer(nil)
	if err != nil {
		t.Fatal(err)
	}
	gathered := webrtc.GatheringCompletePromise(p.pc)
	if err := p.pc.SetLocalDescription(o); err != nil {
		t.Fatal(err)
	}
	<-gathered
	return p.pc.LocalDescription().SDP
}

func (p *publisher) answer(t testing.TB, sdp string) {
	t.Helper()
	if err := p.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: sdp}); err != nil {
		t.Fatal(err)
	}
}

// send paces frames for d (and 20 ms Opus packets), or until ctx ends.
func (p *publisher) send(ctx context.Context, t testing.TB, d time.Duration) {
	frameDur := time.Second / time.Duration(p.fps)
	frameBytes := p.bitrate / 8 / p.fps
	frames := int(d / frameDur)
	audioEvery := 20 * time.Millisecond
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	begin := time.Now()
	sentFrames, sentAudio := 0, 0
	for sentFrames < frames {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		el := time.Since(begin)
		for sentFrames < frames && time.Duration(sentFrames)*frameDur <= el {
			key := sentFrames%p.keyEvery == 0
			f := p.frame(key, frameBytes)
			if err := p.video.WriteSample(media.Sample{Data: f, Duration: frameDur}); err != nil {
				t.Error(err)
				return
			}
			sentFrames++
		}
		for time.Duration(sentAudio)*audioEvery <= el {
			pkt := []byte{0xf8, 0xff, 0xfe} // a 20 ms frame of Opus silence
			if !p.silent {
				pkt = make([]byte, 120)
				pkt[0] = 0x78
				for i := 1; i < len(pkt); i++ {
					pkt[i] = byte(p.rng.IntN(256))
				}
			}
			if err := p.audio.WriteSample(media.Sample{Data: pkt, Duration: audioEvery}); err != nil {
				t.Error(err)
				return
			}
			sentAudio++
		}
	}
}

// frame makes one synthetic frame of size bytes: a VP8 frame with a real
// frame tag (and key frame header), or an H.264 access unit in Annex B (SPS,
// PPS and IDR slice for a key frame, one non-IDR slice otherwise). The rest
// is random bytes without zeros, so no start code appears inside a NAL.
func (p *publisher) frame(key bool, size int) []byte {
	fill := func(b []byte) {
		for i := range b {
			b[i] = byte(1 + p.rng.IntN(255))
		}
		if key && len(p.marker) > 0 && len(b) > len(p.marker)+16 {
			copy(b[8:], p.marker)
		}
	}
	var f []byte
	switch p.codec {
	case webrtc.MimeTypeVP8:
		f = make([]byte, size)
		fill(f[10:])
		if key {
			f[0], f[1], f[2] = 0x10, 0x02, 0x00 // key frame, show_frame, first partition size
			f[3], f[4], f[5] = 0x9d, 0x01, 0x2a
			binary.LittleEndian.PutUint16(f[6:], uint16(p.w))
			binary.LittleEndian.PutUint16(f[8:], uint16(p.h))
		} else {
			fill(f[:10])
			f[0] |= 1 // inter frame
		}
	default:
		start := []byte{0, 0, 0, 1}
		if key {
			f = append(f, start...)
			f = append(f, testSPS(p.w, p.h)...)
			f = append(f, start...)
			f = append(f, 0x68, 0xce, 0x3c, 0x80) // PPS
			f = append(f, start...)
			slice := make([]byte, size-len(f)-4)
			fill(slice)
			slice[0] = 0x65 // IDR slice
			f = append(f, slice...)
		} else {
			f = append(f, start...)
			slice := make([]byte, size-4)
			fill(slice)
			slice[0] = 0x41 // non-IDR slice
			f = append(f, slice...)
		}
	}
	if key {
		p.keyframes[string(f)] = true
	}
	return f
}

// testSPS encodes a baseline-profile SPS NAL for a w x h picture, cropped
// when h or w is not a multiple of 16.
func testSPS(w, h int) []byte {
	var bw bitWriter
	bw.u(8, 66) // profile_idc baseline
	bw.u(8, 0xc0)
	bw.u(8, 31) // level 3.1
	bw.ue(0)    // seq_parameter_set_id
	bw.ue(0)    // log2_max_frame_num_minus4
	bw.ue(2)    // pic_order_cnt_type
	bw.ue(1)    // max_num_ref_frames
	bw.u(1, 0)
	wMBs, hMBs := (w+15)/16, (h+15)/16
	bw.ue(uint32(wMBs - 1))
	bw.ue(uint32(hMBs - 1))
	bw.u(1, 1) // frame_mbs_only
	bw.u(1, 1) // direct_8x8
	if cr, cb := wMBs*16-w, hMBs*16-h; cr > 0 || cb > 0 {
		bw.u(1, 1)
		bw.ue(0)
		bw.ue(uint32(cr / 2))
		bw.ue(0)
		bw.ue(uint32(cb / 2))
	} else {
		bw.u(1, 0)
	}
	bw.u(1, 0) // vui_parameters_present_flag
	bw.u(1, 1) // rbsp_stop_one_bit
	for bw.n%8 != 0 {
		bw.u(1, 0)
	}
	return append([]byte{0x67}, escapeRBSP(bw.b)...)
}

func escapeRBSP(b []byte) []byte {
	var out []byte
	zeros := 0
	for _, c := range b {
		if zeros >= 2 && c <= 3 {
			out = append(out, 3)
			zeros = 0
		}
		out = append(out, c)
		if c == 0 {
			zeros++
		} else {
			zeros = 0
		}
	}
	return out
}

type bitWriter struct {
	b []byte
	n int
}

func (w *bitWriter) u(bits int, v uint32) {
	for i := bits - 1; i >= 0; i-- {
		if w.n%8 == 0 {
			w.b = append(w.b, 0)
		}
		if v>>uint(i)&1 == 1 {
			w.b[len(w.b)-1] |= 1 << uint(7-w.n%8)
		}
		w.n++
	}
}

func (w *bitWriter) ue(v uint32) {
	v++
	bits := 0
	for x := v; x > 1; x >>= 1 {
		bits++
	}
	w.u(bits, 0)
	w.u(bits+1, v)
}
