package janus

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"go.uber.org/goleak"

	"github.com/ronda-watch/ronda/sidecar/media/janus/janustest"
	"github.com/ronda-watch/ronda/sidecar/media/mediatest"
)

// received is what one prepared PeerConnection got: the feed it was for and
// the tap's counts of its tracks.
type received struct {
	feed Feed
	n    *mediatest.Counter
}

// tap stands in for the media tap: prepare registers OnTrack before
// negotiation, as sidecar/media's Attach will, and counts RTP packets and
// VP8 keyframes per subscription.
type tap struct {
	mu   sync.Mutex
	subs []received
}

func (tp *tap) prepare(pc *webrtc.PeerConnection, f Feed) error {
	n := &mediatest.Counter{}
	n.Attach(pc)
	tp.mu.Lock()
	tp.subs = append(tp.subs, received{f, n})
	tp.mu.Unlock()
	return nil
}

func (tp *tap) last() (received, bool) {
	tp.mu.Lock()
	defer tp.mu.Unlock()
	if len(tp.subs) == 0 {
		return received{}, false
	}
	return tp.subs[len(tp.subs)-1], true
}

// flowing says the newest subscription is for want and received audio,
// video and VP8 keyframes.
func (tp *tap) flowing(want Feed) func() (bool, string) {
	return func() (bool, string) {
		r, ok := tp.last()
		if !ok {
			return false, "no subscription yet"
		}
		got := fmt.Sprintf("feed %+v: video %d packets, %d keyframes, audio %d packets", r.feed,
			r.n.VideoPackets.Load(), r.n.Keyframes.Load(), r.n.AudioPackets.Load())
		return r.feed == want && r.n.VideoPackets.Load() >= 60 && r.n.Keyframes.Load() >= 3 && r.n.AudioPackets.Load() >= 50, got
	}
}

// waitFor polls cond until it holds; the test fails after a minute with
// cond's last description.
func waitFor(t *testing.T, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		ok, desc := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not reached after a minute: %s", what, desc)
		}
		time.Sleep(20 * time.Millisecond) // polling a condition, not waiting a guessed time
	}
}

func metric(c prometheus.Collector) func() float64 {
	return func() float64 { return testutil.ToFloat64(c) }
}

// TestJanusReal runs the client against a real Janus: a pion publisher
// joins a VideoRoom through Janus's REST API, the client subscribes and the
// tap receives its VP8 and Opus; the publisher leaves and the subscription
// ends; Janus is killed and started again, and the client backs off,
// creates a new session and subscribes to the new publisher.
func TestJanusReal(t *testing.T) {
	if testing.Short() {
		t.Skip("starts janus")
	}
	if !janustest.InNetns() {
		janustest.RunInNetns(t)
		return
	}
	ignore := goleak.IgnoreCurrent() // the goroutines before the test, not at its end
	t.Cleanup(func() { goleak.VerifyNone(t, ignore) })
	const secret = "test-api-secret"
	srv := janustest.Start(t, janustest.Options{APISecret: secret, Rooms: []uint64{1234, 5678}})
	api, err := mediatest.LoopbackAPI(janustest.Interface)
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	tp := &tap{}
	cfg := Config{
		URL:          srv.URL(),
		APISecretEnv: "JANUS_TEST_SECRET",
		PollInterval: 200 * time.Millisecond,
		BackoffMin:   100 * time.Millisecond,
		BackoffMax:   time.Second,
		Mapping:      Mapping{DisplayPattern: `^(?P<host>host-[a-z]+)$`},
	}
	getenv := func(k string) string { return map[string]string{"JANUS_TEST_SECRET": secret}[k] }
	logs := &testWriter{t: t}
	c, err := New(cfg, tp.prepare, slog.New(slog.NewTextHandler(logs, nil)), reg, WithAPI(api), WithGetenv(getenv))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	stopped := false
	stop := func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}
	t.Cleanup(stop)
	pctx, pcancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer pcancel()

	// A publisher whose display the mapping does not take is never subscribed.
	if _, err := srv.Publish(pctx, 5678, "Someone's webcam"); err != nil {
		t.Fatalf("publish: %v", err)
	}
	a, err := srv.Publish(pctx, 1234, "host-a")
	if err != nil {
		t.Fatalf("publish: %v", err)
	}
	waitFor(t, "subscribed to host-a", tp.flowing(Feed{Room: 1234, ID: a.ID, Display: "host-a",
		StreamID: fmt.Sprintf("janus-1234-%d", a.ID), Host: "host-a"}))
	first, _ := tp.last()
	if n := metric(c.m.skipped.WithLabelValues(skipUnmatched))(); n == 0 {
		t.Errorf("the unmatched publisher was not counted as skipped")
	}
	if got := metric(c.m.subscriptions)(); got != 1 {
		t.Errorf("subscriptions = %v, want 1 (the unmatched publisher subscribed?)", got)
	}

	// The publisher leaves: its subscription ends and the tap's readers end.
	a.Close()
	waitFor(t, "subscription ended after the publisher left", func() (bool, string) {
		ended := metric(c.m.ended.WithLabelValues(endLeft))() + metric(c.m.ended.WithLabelValues(endHangup))()
		subs := metric(c.m.subscriptions)()
		return ended == 1 && subs == 0, fmt.Sprintf("ended (left+hangup) %v, subscriptions %v", ended, subs)
	})
	first.n.Wait()

	// Janus dies: the session is lost, the subscription ends; Janus comes
	// back, a new publisher joins, and the client subscribes again.
	b, err := srv.Publish(pctx, 1234, "host-b")
	if err != nil {
		t.Fatalf("publish: %v", err)
	}
	waitFor(t, "subscribed to host-b", tp.flowing(Feed{Room: 1234, ID: b.ID, Display: "host-b",
		StreamID: fmt.Sprintf("janus-1234-%d", b.ID), Host: "host-b"}))
	second, _ := tp.last()
	srv.Kill()
	b.Close()
	waitFor(t, "session lost after janus was killed", func() (bool, string) {
		lost := metric(c.m.ended.WithLabelValues(endSessionLost))()
		losses := metric(c.m.sessionLosses)()
		return lost == 1 && losses >= 1, fmt.Sprintf("ended session_lost %v, session losses %v", lost, losses)
	})
	second.n.Wait()
	srv.Restart()
	pctx2, pcancel2 := context.WithTimeout(context.Background(), 30*time.Second)
	defer pcancel2()
	c3, err := srv.Publish(pctx2, 1234, "host-c")
	if err != nil {
		t.Fatalf("publish after restart: %v", err)
	}
	waitFor(t, "subscribed to host-c after the restart", tp.flowing(Feed{Room: 1234, ID: c3.ID, Display: "host-c",
		StreamID: fmt.Sprintf("janus-1234-%d", c3.ID), Host: "host-c"}))
	if n := metric(c.m.sessions)(); n < 2 {
		t.Errorf("sessions created = %v, want at least 2", n)
	}

	// Ronda stops: the subscription ends as stopped, Run returns.
	third, _ := tp.last()
	stop()
	third.n.Wait()
	if n := metric(c.m.ended.WithLabelValues(endStopped))(); n != 1 {
		t.Errorf("ended stopped = %v, want 1", n)
	}
	if n := metric(c.m.subscriptions)(); n != 0 {
		t.Errorf("subscriptions after Run = %v, want 0", n)
	}
	c3.Close()
	if logs.contains(secret) {
		t.Errorf("the API secret is in the log")
	}
	if logs.contains("host-") {
		t.Errorf("a display name is in the log")
	}
}

// testWriter sends the client's log lines to the test log and keeps them.
type testWriter struct {
	t   *testing.T
	mu  sync.Mutex
	all strings.Builder
}

func (w *testWriter) Write(p []byte) (int, error) {
	w.t.Logf("%s", p)
	w.mu.Lock()
	w.all.Write(p)
	w.mu.Unlock()
	return len(p), nil
}

func (w *testWriter) count(s string) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return strings.Count(w.all.String(), s)
}

func (w *testWriter) contains(s string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return strings.Contains(w.all.String(), s)
}

// TestJanusLimit: with max_subscriptions 1 and two publishers, one is
// subscribed and the other counted as skipped; when the first leaves, the
// place goes to the second.
func TestJanusLimit(t *testing.T) {
	if testing.Short() {
		t.Skip("starts janus")
	}
	if !janustest.InNetns() {
		janustest.RunInNetns(t)
		return
	}
	ignore := goleak.IgnoreCurrent() // the goroutines before the test, not at its end
	t.Cleanup(func() { goleak.VerifyNone(t, ignore) })
	srv := janustest.Start(t, janustest.Options{})
	api, err := mediatest.LoopbackAPI(janustest.Interface)
	if err != nil {
		t.Fatal(err)
	}
	tp := &tap{}
	c, err := New(Config{URL: srv.URL(), MaxSubscriptions: 1, PollInterval: 200 * time.Millisecond},
		tp.prepare, nil, prometheus.NewRegistry(), WithAPI(api))
	if err != nil {
		t.Fatal(err)
	}
	defer runClient(t, c)()
	pctx, pcancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer pcancel()
	a, err := srv.Publish(pctx, 1234, "host-a")
	if err != nil {
		t.Fatal(err)
	}
	want := Feed{Room: 1234, ID: a.ID, Display: "host-a", StreamID: fmt.Sprintf("janus-1234-%d", a.ID), Host: "host-a"}
	waitFor(t, "subscribed to host-a", tp.flowing(want))
	b, err := srv.Publish(pctx, 1234, "host-b")
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "host-b skipped at the limit", func() (bool, string) {
		n := metric(c.m.skipped.WithLabelValues(skipLimit))()
		return n >= 3, fmt.Sprintf("skipped{limit} %v", n)
	})
	if r, _ := tp.last(); r.feed != want || metric(c.m.subscriptions)() != 1 {
		t.Fatalf("over the limit: newest subscription %+v, %v subscriptions", r.feed, metric(c.m.subscriptions)())
	}
	a.Close()
	waitFor(t, "host-b subscribed once host-a left", tp.flowing(Feed{Room: 1234, ID: b.ID, Display: "host-b",
		StreamID: fmt.Sprintf("janus-1234-%d", b.ID), Host: "host-b"}))
}

// counter is a reverse proxy in front of Janus counting the requests the
// client sends: listparticipants (one per room per poll) and subscriber
// joins per feed.
type counter struct {
	mu    sync.Mutex
	polls int
	joins map[uint64]int
}

func (n *counter) proxy(t *testing.T, target string) *httptest.Server {
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = ""
	rp := httputil.NewSingleHostReverseProxy(u)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			body, err := io.ReadAll(r.Body)
			if err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			r.Body = io.NopCloser(bytes.NewReader(body))
			var req struct {
				Body struct {
					Request string `json:"request"`
					Streams []struct {
						Feed uint64 `json:"feed"`
					} `json:"streams"`
				} `json:"body"`
			}
			if json.Unmarshal(body, &req) == nil {
				n.mu.Lock()
				switch req.Body.Request {
				case "listparticipants":
					n.polls++
				case "join":
					for _, s := range req.Body.Streams {
						n.joins[s.Feed]++
					}
				}
				n.mu.Unlock()
			}
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func (n *counter) get(feed uint64) (polls, joins int) {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.polls, n.joins[feed]
}

// TestJanusRefusedBacksOff: with a tap of one place (its prepare refuses a
// second session, as media.Tap does at max_sessions) and two publishers,
// the second is joined once, refused, and not joined again at every poll:
// it waits out its backoff, counted as skipped{backoff}, and is warned of
// once.
func TestJanusRefusedBacksOff(t *testing.T) {
	if testing.Short() {
		t.Skip("starts janus")
	}
	if !janustest.InNetns() {
		janustest.RunInNetns(t)
		return
	}
	ignore := goleak.IgnoreCurrent() // the goroutines before the test, not at its end
	t.Cleanup(func() { goleak.VerifyNone(t, ignore) })
	srv := janustest.Start(t, janustest.Options{})
	api, err := mediatest.LoopbackAPI(janustest.Interface)
	if err != nil {
		t.Fatal(err)
	}
	n := &counter{joins: map[uint64]int{}}
	px := n.proxy(t, srv.URL())
	tp := &tap{}
	var refused atomic.Int64
	full := func(pc *webrtc.PeerConnection, f Feed) error {
		tp.mu.Lock()
		held := len(tp.subs)
		tp.mu.Unlock()
		if held >= 1 {
			refused.Add(1)
			return errors.New("media: too many sessions")
		}
		return tp.prepare(pc, f)
	}
	logs := &testWriter{t: t}
	// A backoff far longer than the polls the test watches: a second join
	// of the refused feed within them is a join per poll.
	c, err := New(Config{URL: px.URL + "/janus", PollInterval: 100 * time.Millisecond, BackoffMin: time.Minute, BackoffMax: time.Minute},
		full, slog.New(slog.NewTextHandler(logs, nil)), prometheus.NewRegistry(), WithAPI(api))
	if err != nil {
		t.Fatal(err)
	}
	defer runClient(t, c)()
	pctx, pcancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer pcancel()
	a, err := srv.Publish(pctx, 1234, "host-a")
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	waitFor(t, "subscribed to host-a", tp.flowing(Feed{Room: 1234, ID: a.ID, Display: "host-a",
		StreamID: fmt.Sprintf("janus-1234-%d", a.ID), Host: "host-a"}))
	b, err := srv.Publish(pctx, 1234, "host-b")
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	waitFor(t, "host-b refused", func() (bool, string) {
		return refused.Load() >= 1, fmt.Sprintf("%d refusals", refused.Load())
	})
	from, _ := n.get(b.ID)
	const polls = 10
	waitFor(t, "polls after the refusal", func() (bool, string) {
		p, _ := n.get(b.ID)
		return p-from >= polls, fmt.Sprintf("%d polls", p-from)
	})
	p, joins := n.get(b.ID)
	if joins != 1 || refused.Load() != 1 {
		t.Errorf("host-b over %d polls after its refusal: %d joins sent to Janus, %d refusals; want 1 and 1 (then backed off)", p-from, joins, refused.Load())
	}
	if s := metric(c.m.skipped.WithLabelValues(skipBackoff))(); s < polls-1 {
		t.Errorf("skipped{backoff} %v over %d polls after the refusal", s, polls)
	}
	if got := logs.count("refused by prepare"); got != 1 {
		t.Errorf("%d warnings of the refusal, want 1", got)
	}
}

// runClient runs c until the returned stop is called, which cancels it and
// reports an error Run returned.
func runClient(t *testing.T, c *Client) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	return func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	}
}
