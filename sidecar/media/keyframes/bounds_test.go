package keyframes

import (
	"context"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/ronda-watch/ronda/sidecar/internal/eventtest"
	"github.com/ronda-watch/ronda/sidecar/media/classify"
	"github.com/ronda-watch/ronda/sidecar/media/hashlist"
	"github.com/ronda-watch/ronda/sidecar/media/pdq"
)

// gate is a List whose Match waits for the test to open it, so that a
// worker can be held busy while the queue fills.
type gate struct {
	entered chan struct{}
	open    chan struct{}
	once    sync.Once
}

func (g *gate) Match(pdq.Hash) (hashlist.Match, bool) {
	g.once.Do(func() { close(g.entered) })
	<-g.open
	return hashlist.Match{}, false
}

func (g *gate) Config() hashlist.Config { return hashlist.Config{Name: "gate"} }

// offers records what the sampler offers a classifier.
type offers struct {
	mu     sync.Mutex
	frames []classify.Frame
	h264   bool
}

func (o *offers) Offer(f classify.Frame) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.frames = append(o.frames, f)
	return true
}

func (o *offers) AcceptsH264() bool { return o.h264 }

func fixture(t testing.TB) []ivfFrame {
	b, err := os.ReadFile("../vp8key/testdata/testsrc2-64x48.ivf")
	if err != nil {
		t.Fatal(err)
	}
	return parseIVF(t, b)
}

// TestBounds: a full queue drops and counts, size and pixel bounds refuse
// before decoding, garbage is a decode error, and Stop abandons what is
// left once its context ends, leaking no goroutine.
func TestBounds(t *testing.T) {
	frames := fixture(t)
	g := &gate{entered: make(chan struct{}), open: make(chan struct{})}
	o := &offers{h264: true}
	rec := &eventtest.Recorder{}
	s, err := New(Options{
		Config: Config{QueueSize: 2, MinInterval: -1, MaxFrameBytes: 2000, MaxPixels: 64 * 48},
		Lists:  []List{g}, Classifier: o, Sink: rec.Sink,
	})
	if err == nil {
		t.Fatal("negative min_interval accepted")
	}
	s, err = New(Options{
		Config: Config{QueueSize: 2, MinInterval: time.Nanosecond, MaxFrameBytes: 2000, MaxPixels: 64 * 48},
		Lists:  []List{g}, Classifier: o, Sink: rec.Sink,
	})
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 3, 1, 21, 0, 0, 0, time.UTC)
	at := func(i int) time.Time { return t0.Add(time.Duration(i) * time.Second) }
	if r := s.Offer(Frame{StreamID: "s", Codec: CodecVP8, Data: frames[0].data, At: at(0)}); r != ResultQueued {
		t.Fatalf("first frame %s", r)
	}
	<-g.entered // the worker holds the first frame
	for i, want := range []string{ResultQueued, ResultQueued, ResultQueueFull} {
		if r := s.Offer(Frame{StreamID: "s", Codec: CodecVP8, Data: frames[0].data, At: at(1 + i)}); r != want {
			t.Errorf("frame %d: %s, want %s", i+1, r, want)
		}
	}
	if r := s.Offer(Frame{StreamID: "s", Codec: CodecVP8, Data: make([]byte, 2001), At: at(9)}); r != ResultTooLarge {
		t.Errorf("large frame: %s", r)
	}
	close(g.open)
	eventtest.WaitFor(t, "the queue drained", func() bool {
		return testutil.ToFloat64(s.m.processed.WithLabelValues(ResultHashed))+
			testutil.ToFloat64(s.m.processed.WithLabelValues(ResultLowQuality)) == 3
	})

	// Larger than max_pixels (a 640x360 header), garbage, an H.264 unit.
	big := append([]byte{}, frames[0].data...)
	big[6], big[7], big[8], big[9] = 0x80, 0x02, 0x68, 0x01
	for _, c := range []struct {
		f    Frame
		want string
	}{
		{Frame{StreamID: "big", Codec: CodecVP8, Data: big, At: at(20)}, ResultTooManyPixels},
		{Frame{StreamID: "junk", Codec: CodecVP8, Data: []byte{0x10, 0x02, 0x00, 1, 2, 3}, At: at(20)}, ResultDecodeError},
		{Frame{StreamID: "inter", Codec: CodecVP8, Data: frames[1].data, At: at(20)}, ResultNotKeyframe},
		{Frame{StreamID: "avc", Codec: CodecH264, Data: []byte{0, 0, 0, 1, 0x65, 0x88}, At: at(20)}, ResultNotDecoded},
	} {
		before := testutil.ToFloat64(s.m.processed.WithLabelValues(c.want))
		if r := s.Offer(c.f); r != ResultQueued {
			t.Fatalf("%s: %s", c.f.StreamID, r)
		}
		eventtest.WaitFor(t, c.f.StreamID+" counted "+c.want, func() bool {
			return testutil.ToFloat64(s.m.processed.WithLabelValues(c.want)) == before+1
		})
	}
	o.mu.Lock()
	var h264 int
	for _, f := range o.frames {
		if f.AccessUnit != nil {
			h264++
		}
	}
	if len(o.frames) != 4 || h264 != 1 {
		t.Errorf("classifier offered %d frames, %d H.264", len(o.frames), h264)
	}
	o.mu.Unlock()

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	s.Stop(ctx)
	s.Stop(ctx)
	if r := s.Offer(Frame{StreamID: "late", Codec: CodecVP8, Data: frames[0].data, At: at(30)}); r != ResultStopped {
		t.Errorf("after stop: %s", r)
	}
	var nilSampler *Sampler
	nilSampler.Stop(ctx)
}
