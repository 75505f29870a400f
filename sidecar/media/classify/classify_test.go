package classify

import (
	"bytes"
	"errors"
	"image"
	"image/jpeg"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/sony/gobreaker/v2"
	"go.uber.org/goleak"

	"github.com/ronda-watch/ronda/analyzer/event"
	"github.com/ronda-watch/ronda/sidecar/internal/eventtest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// classifier is a real HTTP server whose behaviour a test switches.
type classifier struct {
	srv     *httptest.Server
	mode    atomic.Value // "ok", "fail", "bad", "slow", "block"
	release chan struct{}
	mu      sync.Mutex
	bodies  [][]byte
	ctypes  []string
}

func newClassifier(t *testing.T) *classifier {
	c := &classifier{release: make(chan struct{})}
	c.mode.Store("ok")
	c.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		c.mu.Lock()
		c.bodies = append(c.bodies, body)
		c.ctypes = append(c.ctypes, r.Header.Get("Content-Type"))
		c.mu.Unlock()
		switch c.mode.Load() {
		case "fail":
			http.Error(w, "down", http.StatusInternalServerError)
		case "bad":
			io.WriteString(w, `{"labels":[{"label":"Minor","score":0.9}]}`)
		case "slow":
			<-r.Context().Done() // answers only after the client gave up
		case "block":
			select {
			case <-c.release:
			case <-r.Context().Done():
			}
			io.WriteString(w, `{"labels":[]}`)
		default:
			io.WriteString(w, `{"labels":[{"label":"minor","score":0.93},{"label":"nudity","score":0.02}]}`)
		}
	}))
	t.Cleanup(c.srv.Close)
	return c
}

func frame(stream string) Frame {
	img := image.NewYCbCr(image.Rect(0, 0, 64, 48), image.YCbCrSubsampleRatio420)
	for i := range img.Y {
		img.Y[i] = uint8(i)
	}
	return Frame{StreamID: stream, HostID: "h-" + stream, At: time.Date(2026, 3, 1, 21, 0, 0, 0, time.UTC), Image: img}
}

func newClient(t *testing.T, cl *classifier, cfg Config, s *eventtest.Recorder, now func() time.Time) (*Client, *prometheus.Registry) {
	t.Helper()
	cfg.URL = cl.srv.URL + "/classify"
	reg := prometheus.NewRegistry()
	c, err := New(Options{Config: cfg, Sink: s.Sink, Registerer: reg, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c, reg
}

func TestAnswersBecomeSignals(t *testing.T) {
	cl := newClassifier(t)
	s := &eventtest.Recorder{}
	c, _ := newClient(t, cl, Config{}, s, nil)
	f := frame("s1")
	if !c.Offer(f) {
		t.Fatal("not sent")
	}
	eventtest.WaitFor(t, "two signals", func() bool { return s.Len() == 2 })
	for i, want := range []struct {
		label string
		score float64
	}{{"minor", 0.93}, {"nudity", 0.02}} {
		ev := s.Events()[i]
		if ev.Type != event.TypeSignal || ev.TypeName != "signal" || ev.StreamID != "s1" || ev.HostID != "h-s1" ||
			ev.Source != "classifier" || ev.Label != want.label || ev.Score != want.score || !ev.At.Equal(f.At) || ev.ID == "" {
			t.Errorf("signal %d: %+v", i, ev)
		}
	}
	if s.Events()[0].ID == s.Events()[1].ID {
		t.Error("two signals share an id")
	}
	// What went over the wire is a JPEG of the frame, and nothing else.
	cl.mu.Lock()
	defer cl.mu.Unlock()
	if cl.ctypes[0] != "image/jpeg" {
		t.Errorf("content type %q", cl.ctypes[0])
	}
	img, err := jpeg.Decode(bytes.NewReader(cl.bodies[0]))
	if err != nil || img.Bounds() != f.Image.Bounds() {
		t.Fatalf("body is not the frame as JPEG: %v", err)
	}
	if bytes.Contains(cl.bodies[0], []byte("s1")) {
		t.Error("the stream id was sent")
	}
}

func TestRefusals(t *testing.T) {
	cases := []struct {
		mode, result string
	}{{"bad", "bad_answer"}, {"fail", "error"}, {"slow", "timeout"}}
	for _, tc := range cases {
		t.Run(tc.mode, func(t *testing.T) {
			cl := newClassifier(t)
			cl.mode.Store(tc.mode)
			s := &eventtest.Recorder{}
			c, _ := newClient(t, cl, Config{Timeout: 100 * time.Millisecond}, s, nil)
			if !c.Offer(frame("s1")) {
				t.Fatal("not sent")
			}
			eventtest.WaitFor(t, tc.result+" counted", func() bool {
				return testutil.ToFloat64(c.m.requests.WithLabelValues(tc.result)) == 1
			})
			if s.Len() != 0 {
				t.Errorf("signals from a refused answer: %+v", s.Events())
			}
		})
	}
}

// TestBreaker: consecutive failures open the breaker, frames are then not
// sent, and after the open period one trial that succeeds closes it.
func TestBreaker(t *testing.T) {
	cl := newClassifier(t)
	cl.mode.Store("fail")
	s := &eventtest.Recorder{}
	c, _ := newClient(t, cl, Config{BreakerFailures: 2, BreakerOpenFor: 500 * time.Millisecond, MaxConcurrent: 1}, s, nil)
	for i := range 2 {
		eventtest.WaitFor(t, "a free slot", func() bool { return len(c.sem) == 0 })
		if !c.Offer(frame("s" + string(rune('a'+i)))) {
			t.Fatalf("frame %d not sent", i)
		}
	}
	eventtest.WaitFor(t, "the breaker open", func() bool { return c.BreakerState() == gobreaker.StateOpen })
	cl.mu.Lock()
	sent := len(cl.bodies)
	cl.mu.Unlock()
	// gobreaker has no clock to inject: the open period is long enough
	// (500ms) for this frame to meet it open on any machine.
	if c.Offer(frame("s3")) {
		t.Fatal("a frame was sent through an open breaker")
	}
	cl.mode.Store("ok")
	eventtest.WaitFor(t, "a frame sent after the open period", func() bool {
		return len(c.sem) == 0 && c.Offer(frame("s4"))
	})
	eventtest.WaitFor(t, "the breaker closed", func() bool { return c.BreakerState() == gobreaker.StateClosed })
	eventtest.WaitFor(t, "signals after recovery", func() bool { return s.Len() == 2 })
	if got := testutil.ToFloat64(c.m.frames.WithLabelValues(FrameBreakerOpen)); got < 1 {
		t.Errorf("breaker_open frames %v", got)
	}
	cl.mu.Lock()
	defer cl.mu.Unlock()
	if len(cl.bodies) < sent+1 {
		t.Errorf("no request after recovery")
	}
}

// TestBudget: a stream gets PerStreamPerHour frames an hour, others are
// not charged for it, and the next hour refills it.
func TestBudget(t *testing.T) {
	cl := newClassifier(t)
	s := &eventtest.Recorder{}
	var mu sync.Mutex
	now := time.Date(2026, 3, 1, 20, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	c, _ := newClient(t, cl, Config{PerStreamPerHour: 2, MaxStreams: 2}, s, clock)
	offer := func(stream string) bool {
		eventtest.WaitFor(t, "free slots", func() bool { return len(c.sem) == 0 })
		return c.Offer(frame(stream))
	}
	for i, want := range []bool{true, true, false} {
		if got := offer("s1"); got != want {
			t.Fatalf("s1 frame %d: sent %v", i, got)
		}
	}
	if !offer("s2") {
		t.Fatal("s2 charged for s1")
	}
	if offer("s3") {
		t.Fatal("a third stream past max_streams was sent")
	}
	if got := testutil.ToFloat64(c.m.frames.WithLabelValues(FrameBudgetTableFull)); got != 1 {
		t.Errorf("budget_table_full %v", got)
	}
	mu.Lock()
	now = now.Add(time.Hour)
	mu.Unlock()
	if !offer("s1") || !offer("s3") {
		t.Fatal("budget not refilled after an hour")
	}
	if got := testutil.ToFloat64(c.m.frames.WithLabelValues(FrameBudget)); got != 1 {
		t.Errorf("budget %v", got)
	}
}

func TestBusyAndH264(t *testing.T) {
	cl := newClassifier(t)
	cl.mode.Store("block")
	s := &eventtest.Recorder{}
	c, _ := newClient(t, cl, Config{MaxConcurrent: 1, AcceptsH264: true}, s, nil)
	if !c.Offer(frame("s1")) {
		t.Fatal("first frame not sent")
	}
	if c.Offer(frame("s2")) {
		t.Fatal("second frame sent past max_concurrent")
	}
	close(cl.release)
	eventtest.WaitFor(t, "a free slot", func() bool { return len(c.sem) == 0 })
	au := []byte{0, 0, 0, 1, 0x65, 0x88, 0x84}
	if !c.Offer(Frame{StreamID: "s3", At: time.Now(), AccessUnit: au}) {
		t.Fatal("H.264 access unit not sent")
	}
	eventtest.WaitFor(t, "the access unit received", func() bool {
		cl.mu.Lock()
		defer cl.mu.Unlock()
		return len(cl.bodies) == 2
	})
	if cl.ctypes[1] != "video/h264" || !bytes.Equal(cl.bodies[1], au) {
		t.Errorf("H.264 request %q %x", cl.ctypes[1], cl.bodies[1])
	}
	if got := testutil.ToFloat64(c.m.frames.WithLabelValues(FrameBusy)); got != 1 {
		t.Errorf("busy %v", got)
	}

	c2, err := New(Options{Config: Config{URL: cl.srv.URL}, Sink: s.Sink})
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	if c2.Offer(Frame{StreamID: "s", AccessUnit: au}) {
		t.Error("H.264 sent to a classifier that does not take it")
	}
}

func TestDecodeAnswer(t *testing.T) {
	good := []struct {
		in   string
		want []Label
	}{
		{`{"labels":[]}`, []Label{}},
		{` {"labels":[{"score":1,"label":"age_under_18"}]} ` + "\n", []Label{{"age_under_18", 1}}},
		{`{"labels":[{"label":"minor","score":0.93},{"label":"nudity","score":0}]}`, []Label{{"minor", 0.93}, {"nudity", 0}}},
	}
	for _, g := range good {
		got, err := DecodeAnswer([]byte(g.in))
		if err != nil || len(got) != len(g.want) {
			t.Errorf("%s: %v %v", g.in, got, err)
			continue
		}
		for i := range got {
			if got[i] != g.want[i] {
				t.Errorf("%s: %v", g.in, got)
			}
		}
	}
	bad := []string{
		``, `null`, `[]`, `{}`, `{"labels":null}`, `{"labels":{}}`,
		`{"labels":[]}{}`, `{"labels":[]} x`, `{"labels":[],"labels":[]}`, `{"Labels":[]}`,
		`{"labels":[],"extra":1}`, `{"labels":[{"label":"minor"}]}`, `{"labels":[{"score":0.5}]}`,
		`{"labels":[{"label":"minor","score":1.01}]}`, `{"labels":[{"label":"minor","score":-0.1}]}`,
		`{"labels":[{"label":"minor","score":"0.5"}]}`, `{"labels":[{"label":"Minor","score":0.5}]}`,
		`{"labels":[{"label":"","score":0.5}]}`, `{"labels":[{"label":"minor","score":0.5,"x":1}]}`,
		`{"labels":[{"label":"minor","score":0.5},{"label":"minor","score":0.6}]}`,
		`{"labels":[{"label":"minor","label":"x","score":0.5}]}`,
		`{"labels":[{"label":"` + strings.Repeat("a", 65) + `","score":0.5}]}`,
		`{"labels":[` + strings.Repeat(`{"label":"a","score":0},`, 33) + `]}`,
	}
	for _, b := range bad {
		if got, err := DecodeAnswer([]byte(b)); !errors.Is(err, ErrAnswer) {
			t.Errorf("%s accepted: %v", b, got)
		}
	}
}

// FuzzDecodeAnswer: no input panics; whatever decodes obeys the limits.
func FuzzDecodeAnswer(f *testing.F) {
	f.Add([]byte(`{"labels":[{"label":"minor","score":0.93},{"label":"nudity","score":0.02}]}`))
	f.Add([]byte(`{"labels":[]}`))
	f.Add([]byte(`{"labels":[{"label":"a","score":1e-3}]} `))
	f.Add([]byte(`{"labels":[{"label":"a","score":1}],"x":[]}`))
	f.Fuzz(func(t *testing.T, in []byte) {
		ls, err := DecodeAnswer(in)
		if err != nil {
			if !errors.Is(err, ErrAnswer) {
				t.Fatalf("unwrapped error %v", err)
			}
			return
		}
		if len(ls) > MaxLabels {
			t.Fatalf("%d labels", len(ls))
		}
		for _, l := range ls {
			if checkLabel(l.Label) != nil || l.Score < 0 || l.Score > 1 {
				t.Fatalf("label %+v", l)
			}
		}
	})
}

func TestConfig(t *testing.T) {
	if err := (Config{URL: "http://127.0.0.1:1/x"}).WithDefaults().Validate(); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []Config{{}, {URL: "ftp://x/"}, {URL: "http://"}, {URL: "http://x", JPEGQuality: 101}} {
		if err := bad.WithDefaults().Validate(); err == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
	var c *Client
	c.Close()
}
