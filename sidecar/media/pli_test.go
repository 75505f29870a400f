package media

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.uber.org/goleak"

	"github.com/ronda-watch/ronda/sidecar/media/mediatest"
)

// TestKeyframeRequests: a publisher that sends a key frame only at its start
// and when asked (as a browser does) gets Picture Loss Indications from the
// tap while a key frame consumer is set, and the consumer then gets more than
// one key frame; the requests keep to MinKeyframeRequestInterval though
// KeyframeEvery is shorter. Without a consumer, nothing is asked.
func TestKeyframeRequests(t *testing.T) {
	for _, tc := range []struct {
		name     string
		consumer bool
	}{{"with a key frame consumer", true}, {"without", false}} {
		t.Run(tc.name, func(t *testing.T) {
			defer goleak.VerifyNone(t)
			pubAPI, recvAPI, stopNet := vnetPair(t)
			defer stopNet()
			reg := prometheus.NewRegistry()
			got := make(chan []byte, 64)
			o := Options{Config: Config{KeyframeEvery: time.Millisecond}, Registerer: reg}
			if tc.consumer {
				o.OnKeyframe = func(_, _ string, frame []byte, _ time.Time) {
					select {
					case got <- frame:
					default:
					}
				}
			}
			tap, err := New(o)
			if err != nil {
				t.Fatal(err)
			}
			defer tap.Close()
			p := mediatest.NewPublisher(t, pubAPI, webrtc.MimeTypeVP8)
			p.KeyEvery, p.HonorPLI = 1<<30, true // the first frame, then only when asked
			defer p.PC.Close()
			pc, s := connect(t, p, recvAPI, tap, SessionInfo{StreamID: "s1"})
			defer pc.Close()
			const sent = 4 * time.Second
			p.Send(context.Background(), t, sent)
			s.End()
			close(got)
			var frames [][]byte
			for f := range got {
				frames = append(frames, f)
			}
			plis := p.PLIs()
			counted := testutil.ToFloat64(tap.m.keyRequests.WithLabelValues("sent"))
			t.Logf("%d PLIs received (%.0f counted sent), %d key frames handed over in %s", plis, counted, len(frames), sent)
			if !tc.consumer {
				if plis != 0 || counted != 0 {
					t.Fatalf("%d PLIs received, %.0f counted, with no key frame consumer", plis, counted)
				}
				return
			}
			// At most one request per MinKeyframeRequestInterval, the first
			// at the start.
			if limit := int64(sent/MinKeyframeRequestInterval) + 1; plis < 2 || plis > limit {
				t.Errorf("%d PLIs received in %s, want 2..%d", plis, sent, limit)
			}
			if int64(counted) < plis {
				t.Errorf("%.0f requests counted, %d received", counted, plis)
			}
			if len(frames) < 3 {
				t.Fatalf("%d key frames handed over: the requests were not answered", len(frames))
			}
			for _, f := range frames {
				if !p.Sent(f) {
					t.Errorf("a key frame of %d bytes handed over is not one that was sent", len(f))
				}
			}
		})
	}
}

// TestKeyframeRequestsPerCodec: a key frame consumer that wants VP8 only (a
// sampler with hash lists and no classifier taking H.264) gets an H.264
// publisher asked for nothing and handed nothing, while a VP8 publisher is
// still asked and its key frames handed over.
func TestKeyframeRequestsPerCodec(t *testing.T) {
	for _, tc := range []struct {
		mime string
		want bool
	}{{webrtc.MimeTypeVP8, true}, {webrtc.MimeTypeH264, false}} {
		t.Run(tc.mime, func(t *testing.T) {
			defer goleak.VerifyNone(t)
			pubAPI, recvAPI, stopNet := vnetPair(t)
			defer stopNet()
			reg := prometheus.NewRegistry()
			var handed atomic.Int64
			var asked []string
			var mu sync.Mutex
			tap, err := New(Options{Config: Config{KeyframeEvery: time.Millisecond}, Registerer: reg,
				OnKeyframe: func(_, _ string, _ []byte, _ time.Time) { handed.Add(1) },
				WantsKeyframes: func(codec string) bool {
					mu.Lock()
					asked = append(asked, codec)
					mu.Unlock()
					return codec == codecVP8
				}})
			if err != nil {
				t.Fatal(err)
			}
			defer tap.Close()
			p := mediatest.NewPublisher(t, pubAPI, tc.mime)
			p.KeyEvery, p.HonorPLI = 1<<30, true // the first frame, then only when asked
			defer p.PC.Close()
			pc, s := connect(t, p, recvAPI, tap, SessionInfo{StreamID: "s1"})
			defer pc.Close()
			p.Send(context.Background(), t, 2*time.Second)
			s.End()
			plis, n := p.PLIs(), handed.Load()
			counted := testutil.ToFloat64(tap.m.keyRequests.WithLabelValues("sent"))
			mu.Lock()
			t.Logf("asked for codecs %v; %d PLIs received (%.0f counted), %d key frames handed over", asked, plis, counted, n)
			mu.Unlock()
			if tc.want {
				if plis < 1 || n < 1 {
					t.Fatalf("a wanted codec: %d PLIs, %d key frames handed over", plis, n)
				}
				return
			}
			if plis != 0 || counted != 0 || n != 0 {
				t.Fatalf("a codec not wanted: %d PLIs received, %.0f counted, %d key frames handed over", plis, counted, n)
			}
		})
	}
}
