// Package mediatest is a test broadcaster for the media tap's tests, the
// service's and the benchmark: a real pion peer that sends synthetic VP8 or
// H.264 frames and Opus packets at a known size, rate, bitrate and key frame
// interval, so what Ronda reports can be checked against what was sent. The
// frames carry real frame tags, key frame headers and SPSs, and random bytes
// for the rest: nothing in them is a picture.
package mediatest

import (
	"context"
	"encoding/binary"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/webrtc/v4"
	"github.com/pion/webrtc/v4/pkg/media"
)

// Publisher is a test broadcaster: a real pion peer sending synthetic VP8 or
// H.264 frames and Opus packets at a known rate, size and key frame
// interval, so what the tap reports can be checked against what was sent.
type Publisher struct {
	PC           *webrtc.PeerConnection
	Video, Audio *webrtc.TrackLocalStaticSample
	Codec        string // webrtc.MimeTypeVP8 or MimeTypeH264
	W, H         int
	FPS          int
	Bitrate      int // video bits per second
	KeyEvery     int // frames between key frames
	Silent       bool
	Marker       []byte // put in every key frame (the never-on-disk test)
	// HonorPLI makes the frame after a Picture Loss Indication a key frame,
	// as a browser's encoder does; set KeyEvery high to send key frames only
	// when asked (and the first).
	HonorPLI bool
	rng      *rand.Rand
	plis     atomic.Int64 // PLIs received for the video track
	pliDue   atomic.Bool  // a PLI came since the last key frame

	mu        sync.Mutex
	keyframes map[string]bool // every key frame sent, as the tap should hand it over
}

func NewPublisher(t testing.TB, api *webrtc.API, codec string) *Publisher {
	t.Helper()
	pc, err := api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	p := &Publisher{PC: pc, Codec: codec, W: 1280, H: 720, FPS: 30, Bitrate: 2_000_000, KeyEvery: 30,
		rng: rand.New(rand.NewPCG(1, 2)), keyframes: map[string]bool{}}
	if p.Video, err = webrtc.NewTrackLocalStaticSample(webrtc.RTPCodecCapability{MimeType: codec}, "video", "pub"); err != nil {
		t.Fatal(err)
	}
	if p.Audio, err = webrtc.NewTrackLocalStaticSample(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus}, "audio", "pub"); err != nil {
		t.Fatal(err)
	}
	for _, tr := range []webrtc.TrackLocal{p.Video, p.Audio} {
		x, err := pc.AddTransceiverFromTrack(tr, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly})
		if err != nil {
			t.Fatal(err)
		}
		if tr == p.Video {
			go p.readRTCP(x.Sender()) // ends when the connection closes
		}
	}
	return p
}

// readRTCP counts the receiver's Picture Loss Indications.
func (p *Publisher) readRTCP(s *webrtc.RTPSender) {
	for {
		pkts, _, err := s.ReadRTCP()
		if err != nil {
			return
		}
		for _, pkt := range pkts {
			if _, ok := pkt.(*rtcp.PictureLossIndication); ok {
				p.plis.Add(1)
				p.pliDue.Store(true)
			}
		}
	}
}

// PLIs is how many Picture Loss Indications the video track received.
func (p *Publisher) PLIs() int64 { return p.plis.Load() }

// Offer is the publisher's complete offer (candidates gathered: no trickle).
func (p *Publisher) Offer(t testing.TB) string {
	t.Helper()
	o, err := p.PC.CreateOffer(nil)
	if err != nil {
		t.Fatal(err)
	}
	gathered := webrtc.GatheringCompletePromise(p.PC)
	if err := p.PC.SetLocalDescription(o); err != nil {
		t.Fatal(err)
	}
	<-gathered
	return p.PC.LocalDescription().SDP
}

// Answer takes the receiver's answer.
func (p *Publisher) Answer(t testing.TB, sdp string) {
	t.Helper()
	if err := p.PC.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: sdp}); err != nil {
		t.Fatal(err)
	}
}

// Send paces frames for d (and 20 ms Opus packets), or until ctx ends. It
// begins once the connection is up (at most 10 s after the call): pion drops
// samples written before, and a lost first key frame would leave the
// receiver's first second without a resolution.
func (p *Publisher) Send(ctx context.Context, t testing.TB, d time.Duration) {
	for wait := time.Now().Add(10 * time.Second); p.PC.ConnectionState() != webrtc.PeerConnectionStateConnected && time.Now().Before(wait); {
		select {
		case <-ctx.Done():
			return
		case <-time.After(5 * time.Millisecond):
		}
	}
	frameDur := time.Second / time.Duration(p.FPS)
	frameBytes := p.Bitrate / 8 / p.FPS
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
			key := sentFrames%p.KeyEvery == 0
			if p.HonorPLI && p.pliDue.Swap(false) {
				key = true
			}
			f := p.Frame(key, frameBytes)
			if err := p.Video.WriteSample(media.Sample{Data: f, Duration: frameDur}); err != nil {
				t.Error(err)
				return
			}
			sentFrames++
		}
		for time.Duration(sentAudio)*audioEvery <= el {
			pkt := []byte{0xf8, 0xff, 0xfe} // a 20 ms frame of Opus silence
			if !p.Silent {
				pkt = make([]byte, 120)
				pkt[0] = 0x78
				for i := 1; i < len(pkt); i++ {
					pkt[i] = byte(p.rng.IntN(256))
				}
			}
			if err := p.Audio.WriteSample(media.Sample{Data: pkt, Duration: audioEvery}); err != nil {
				t.Error(err)
				return
			}
			sentAudio++
		}
	}
}

// Frame makes one synthetic frame of size bytes: a VP8 frame with a real
// frame tag (and key frame header), or an H.264 access unit in Annex B (SPS,
// PPS and IDR slice for a key frame, one non-IDR slice otherwise). The rest
// is random bytes without zeros, so no start code appears inside a NAL.
func (p *Publisher) Frame(key bool, size int) []byte {
	fill := func(b []byte) {
		for i := range b {
			b[i] = byte(1 + p.rng.IntN(255))
		}
		if key && len(p.Marker) > 0 && len(b) > len(p.Marker)+16 {
			copy(b[8:], p.Marker)
		}
	}
	var f []byte
	switch p.Codec {
	case webrtc.MimeTypeVP8:
		f = make([]byte, size)
		fill(f[10:])
		if key {
			f[0], f[1], f[2] = 0x10, 0x02, 0x00 // key frame, show_frame, first partition size
			f[3], f[4], f[5] = 0x9d, 0x01, 0x2a
			binary.LittleEndian.PutUint16(f[6:], uint16(p.W))
			binary.LittleEndian.PutUint16(f[8:], uint16(p.H))
		} else {
			fill(f[:10])
			f[0] |= 1 // inter frame
		}
	default:
		start := []byte{0, 0, 0, 1}
		if key {
			f = append(f, start...)
			f = append(f, SPS(p.W, p.H)...)
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
		p.mu.Lock()
		p.keyframes[string(f)] = true
		p.mu.Unlock()
	}
	return f
}

// SPS encodes a baseline-profile SPS NAL for a w x h picture, cropped
// when h or w is not a multiple of 16.
func SPS(w, h int) []byte {
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
	return append([]byte{0x67}, EscapeRBSP(bw.b)...)
}

// EscapeRBSP inserts the emulation-prevention bytes (00 00 03).
func EscapeRBSP(b []byte) []byte {
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

// Sent says whether frame is byte for byte a key frame this publisher sent.
func (p *Publisher) Sent(frame []byte) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.keyframes[string(frame)]
}
