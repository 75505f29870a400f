package media

import (
	"context"
	"math"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/logging"
	"github.com/pion/transport/v5/vnet"
	"github.com/pion/webrtc/v4"
	"go.uber.org/goleak"

	"github.com/ronda-watch/ronda/sidecar/media/mediatest"
)

// vnetPair is a publisher's and a receiver's pion API on one virtual network
// (pion/transport vnet), 1.2.3.4 publishing to 1.2.3.5.
func vnetPair(t testing.TB) (pub, recv *webrtc.API, stop func()) {
	pub, recv, stop, _ = vnetPairCut(t)
	return pub, recv, stop
}

// vnetPairCut is vnetPair with a cut: after cut() the network drops every
// packet the publisher sends, as when its phone loses the network.
func vnetPairCut(t testing.TB) (pub, recv *webrtc.API, stop, cut func()) {
	t.Helper()
	wan, err := vnet.NewRouter(&vnet.RouterConfig{CIDR: "1.2.3.0/24", LoggerFactory: logging.NewDefaultLoggerFactory()})
	if err != nil {
		t.Fatal(err)
	}
	var dropped atomic.Bool
	wan.AddChunkFilter(func(c vnet.Chunk) bool {
		return !dropped.Load() || !strings.HasPrefix(c.SourceAddr().String(), "1.2.3.4:")
	})
	mk := func(ip string) webrtc.SettingEngine {
		n, err := vnet.NewNet(&vnet.NetConfig{StaticIPs: []string{ip}})
		if err != nil {
			t.Fatal(err)
		}
		if err := wan.AddNet(n); err != nil {
			t.Fatal(err)
		}
		var se webrtc.SettingEngine
		se.SetNet(n)
		se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
		se.SetICETimeouts(2*time.Second, 4*time.Second, 200*time.Millisecond)
		return se
	}
	pubSE, recvSE := mk("1.2.3.4"), mk("1.2.3.5")
	if err := wan.Start(); err != nil {
		t.Fatal(err)
	}
	if pub, err = NewAPI(pubSE); err != nil {
		t.Fatal(err)
	}
	if recv, err = NewAPI(recvSE); err != nil {
		t.Fatal(err)
	}
	return pub, recv, func() { wan.Stop() }, func() { dropped.Store(true) }
}

// reports collects a tap's reports.
type reports struct {
	mu  sync.Mutex
	all []Report
	ch  chan Report
}

func newReports() *reports { return &reports{ch: make(chan Report, 1024)} }

func (r *reports) add(rep Report) {
	r.mu.Lock()
	r.all = append(r.all, rep)
	r.mu.Unlock()
	select {
	case r.ch <- rep:
	default:
	}
}

func (r *reports) list() []Report {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Report(nil), r.all...)
}

// connect negotiates pub to a receiver the tap is attached to.
func connect(t testing.TB, p *mediatest.Publisher, recvAPI *webrtc.API, tap *Tap, info SessionInfo) (*webrtc.PeerConnection, *Session) {
	t.Helper()
	pc, err := recvAPI.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	s, err := tap.Attach(pc, info)
	if err != nil {
		t.Fatal(err)
	}
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: p.Offer(t)}); err != nil {
		t.Fatal(err)
	}
	ans, err := pc.CreateAnswer(nil)
	if err != nil {
		t.Fatal(err)
	}
	gathered := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(ans); err != nil {
		t.Fatal(err)
	}
	<-gathered
	p.Answer(t, pc.LocalDescription().SDP)
	return pc, s
}

func near(got, want, tol float64) bool { return math.Abs(got-want) <= tol*want }

// TestTapReportsWhatWasSent: a pion publisher on a virtual network sends VP8
// or H.264 at a known size, rate, bitrate and key frame interval, with
// audible or silent Opus; the tap's figures match, every key frame handed
// over is byte for byte one that was sent, and nothing is left running.
func TestTapReportsWhatWasSent(t *testing.T) {
	for _, tc := range []struct {
		name   string
		codec  string
		w, h   int
		silent bool
	}{
		{"vp8+opus", webrtc.MimeTypeVP8, 1280, 720, false},
		{"h264+silent opus", webrtc.MimeTypeH264, 1920, 1080, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			defer goleak.VerifyNone(t)
			pubAPI, recvAPI, stopNet := vnetPair(t)
			defer stopNet()
			got := newReports()
			var kmu sync.Mutex
			var keyframes [][]byte
			tap, err := New(Options{Config: Config{ReportEvery: time.Second, KeyframeEvery: time.Millisecond},
				OnReport: got.add,
				OnKeyframe: func(streamID, codec string, frame []byte, _ time.Time) {
					kmu.Lock()
					defer kmu.Unlock()
					if streamID != "s1" {
						t.Errorf("key frame of stream %q", streamID)
					}
					keyframes = append(keyframes, frame)
				}})
			if err != nil {
				t.Fatal(err)
			}
			defer tap.Close()
			p := mediatest.NewPublisher(t, pubAPI, tc.codec)
			p.W, p.H, p.Silent = tc.w, tc.h, tc.silent
			defer p.PC.Close()
			pc, s := connect(t, p, recvAPI, tap, SessionInfo{StreamID: "s1", HostID: "h1", Kind: KindWHIP})
			defer pc.Close()
			p.Send(context.Background(), t, 4*time.Second)
			s.End()

			reps := got.list()
			if len(reps) < 3 || reps[0].State != StateStarted || reps[len(reps)-1].State != StateEnded {
				t.Fatalf("reports: want started, live…, ended; got %d: %+v", len(reps), reps)
			}
			end := reps[len(reps)-1]
			if end.Start.IsZero() || !end.End.After(end.Start) || end.StreamID != "s1" || end.HostID != "h1" || end.Kind != KindWHIP {
				t.Errorf("ended report: %+v", end)
			}
			if end.Network != "1.2.3.0/24" {
				t.Errorf("network %q, want the publisher's /24 1.2.3.0/24", end.Network)
			}
			// A live report covers about a second: 30 frames, 50 audio packets.
			checked, intervals := 0, 0
			for _, r := range reps {
				if r.State != StateLive || len(r.Tracks) != 2 {
					continue
				}
				v, a := r.Tracks[0], r.Tracks[1]
				if v.Kind == "audio" { // tracks arrive in any order
					v, a = a, v
				}
				if v.Packets < 100 {
					continue
				}
				checked++
				if v.Width != tc.w || v.Height != tc.h {
					t.Errorf("resolution %dx%d, sent %dx%d", v.Width, v.Height, tc.w, tc.h)
				}
				if !near(v.FPS, 30, 0.05) {
					t.Errorf("fps %.2f, sent 30", v.FPS)
				}
				if !near(float64(v.BitrateBps), 2_000_000, 0.1) {
					t.Errorf("video bitrate %d, sent 2,000,000", v.BitrateBps)
				}
				if v.KeyframeIntervalS != 0 { // 0 until the second key frame
					intervals++
					if !near(v.KeyframeIntervalS, 1, 0.05) {
						t.Errorf("key frame interval %.3f s, sent 1 s", v.KeyframeIntervalS)
					}
				}
				if a.Codec != "opus" || a.Silent == nil || *a.Silent != tc.silent {
					t.Errorf("audio %+v, silent sent %v", a, tc.silent)
				}
				wantAudio := 120 * 8 * 50.0
				if tc.silent {
					wantAudio = 3 * 8 * 50
				}
				if !near(float64(a.BitrateBps), wantAudio, 0.1) {
					t.Errorf("audio bitrate %d, sent %.0f", a.BitrateBps, wantAudio)
				}
			}
			if checked == 0 || intervals == 0 {
				t.Fatalf("no full live report: %+v", reps)
			}
			kmu.Lock()
			defer kmu.Unlock()
			if len(keyframes) < 2 {
				t.Fatalf("%d key frames handed over, 4 sent", len(keyframes))
			}
			for _, f := range keyframes {
				if !p.Sent(f) {
					t.Errorf("a key frame of %d bytes handed over is not one that was sent", len(f))
				}
			}
		})
	}
}

// TestKeyframeRateLimit: with KeyframeEvery 3 s, a stream sending a key
// frame every second hands over at most one per 3 s.
func TestKeyframeRateLimit(t *testing.T) {
	defer goleak.VerifyNone(t)
	pubAPI, recvAPI, stopNet := vnetPair(t)
	defer stopNet()
	var mu sync.Mutex
	var at []time.Time
	tap, err := New(Options{Config: Config{KeyframeEvery: 3 * time.Second},
		OnKeyframe: func(_, _ string, _ []byte, when time.Time) {
			mu.Lock()
			at = append(at, when)
			mu.Unlock()
		}})
	if err != nil {
		t.Fatal(err)
	}
	defer tap.Close()
	p := mediatest.NewPublisher(t, pubAPI, webrtc.MimeTypeVP8)
	defer p.PC.Close()
	pc, s := connect(t, p, recvAPI, tap, SessionInfo{StreamID: "s1"})
	defer pc.Close()
	p.Send(context.Background(), t, 4*time.Second)
	s.End()
	mu.Lock()
	defer mu.Unlock()
	if len(at) < 1 || len(at) > 2 {
		t.Fatalf("%d key frames handed over in 4 s at most one per 3 s", len(at))
	}
	if len(at) == 2 && at[1].Sub(at[0]) < 3*time.Second {
		t.Errorf("two key frames %v apart", at[1].Sub(at[0]))
	}
}

// TestTapLimits: sessions past MaxSessions and after Close are refused.
func TestTapLimits(t *testing.T) {
	defer goleak.VerifyNone(t)
	_, recvAPI, stopNet := vnetPair(t)
	defer stopNet()
	tap, err := New(Options{Config: Config{MaxSessions: 1}})
	if err != nil {
		t.Fatal(err)
	}
	pc1, _ := recvAPI.NewPeerConnection(webrtc.Configuration{})
	defer pc1.Close()
	pc2, _ := recvAPI.NewPeerConnection(webrtc.Configuration{})
	defer pc2.Close()
	s1, err := tap.Attach(pc1, SessionInfo{StreamID: "a"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tap.Attach(pc2, SessionInfo{StreamID: "b"}); err != ErrTooManySessions {
		t.Fatalf("second session: %v, want ErrTooManySessions", err)
	}
	s1.End()
	if tap.Sessions() != 0 {
		t.Fatalf("%d sessions after End", tap.Sessions())
	}
	tap.Close()
	tap.Close()
	if _, err := tap.Attach(pc2, SessionInfo{StreamID: "b"}); err != ErrClosed {
		t.Fatalf("after Close: %v, want ErrClosed", err)
	}
}
