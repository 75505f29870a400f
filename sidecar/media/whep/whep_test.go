package whep

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
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

// server is a WHEP endpoint built with pion: each POST gets a real peer
// sending synthetic VP8 and Opus (mediatest), each DELETE closes it.
type server struct {
	t      *testing.T
	api    *webrtc.API
	token  string
	mode   atomic.Value // string: "", "404", "malformed", "text"
	posts  atomic.Int64
	delete atomic.Int64
	auth   atomic.Value // string: the last Authorization header

	mu    sync.Mutex
	peers map[string]*peer
	n     int
	wg    sync.WaitGroup
}

type peer struct {
	pc     *webrtc.PeerConnection
	cancel context.CancelFunc
}

func newServer(t *testing.T) (*server, *httptest.Server) {
	api, err := mediatest.LoopbackAPI()
	if err != nil {
		t.Fatal(err)
	}
	s := &server{t: t, api: api, token: "good-token", peers: map[string]*peer{}}
	s.mode.Store("")
	s.auth.Store("")
	hs := httptest.NewServer(s)
	t.Cleanup(func() { hs.Close(); s.closeAll() })
	return s, hs
}

func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.auth.Store(r.Header.Get("Authorization"))
	if r.Method == http.MethodPost {
		s.posts.Add(1)
	}
	if r.Header.Get("Authorization") != "Bearer "+s.token {
		http.Error(w, "unauthorized", http.StatusUnauthorized)
		return
	}
	switch {
	case r.Method == http.MethodPost && r.URL.Path == "/whep/live/s1":
		s.post(w, r)
	case r.Method == http.MethodDelete && strings.HasPrefix(r.URL.Path, "/whep/session/"):
		s.delete.Add(1)
		s.mu.Lock()
		p := s.peers[r.URL.Path]
		delete(s.peers, r.URL.Path)
		s.mu.Unlock()
		if p == nil {
			http.NotFound(w, r)
			return
		}
		p.close()
		w.WriteHeader(http.StatusOK)
	default:
		http.NotFound(w, r)
	}
}

func (s *server) post(w http.ResponseWriter, r *http.Request) {
	switch s.mode.Load().(string) {
	case "404":
		http.NotFound(w, r)
		return
	case "malformed":
		w.Header().Set("Content-Type", "application/sdp")
		w.Header().Set("Location", "/whep/session/x")
		w.WriteHeader(http.StatusCreated)
		io.WriteString(w, "v=0\r\nthis is not an answer\r\n")
		return
	}
	if r.Header.Get("Content-Type") != "application/sdp" {
		http.Error(w, "want application/sdp", http.StatusUnsupportedMediaType)
		return
	}
	offer, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	pc, err := s.api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		http.Error(w, err.Error(), 500)
		return
	}
	tracks, err := mediatest.ServeOffer(pc, string(offer))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	s.mu.Lock()
	s.n++
	loc := fmt.Sprintf("/whep/session/%d", s.n)
	s.peers[loc] = &peer{pc: pc, cancel: cancel}
	s.mu.Unlock()
	s.wg.Add(1)
	go func() { defer s.wg.Done(); _ = mediatest.Send(ctx, tracks) }()
	w.Header().Set("Content-Type", "application/sdp")
	w.Header().Set("Location", loc)
	w.WriteHeader(http.StatusCreated)
	io.WriteString(w, pc.LocalDescription().SDP)
}

func (p *peer) close() { p.cancel(); p.pc.Close() }

// closeAll closes every peer, as a server that vanishes does.
func (s *server) closeAll() {
	s.mu.Lock()
	for k, p := range s.peers {
		p.close()
		delete(s.peers, k)
	}
	s.mu.Unlock()
	s.wg.Wait()
}

// tap counts what each attempt's PeerConnection received.
type tap struct {
	mu       sync.Mutex
	counters []*mediatest.Counter
	streams  []Stream
}

func (tp *tap) prepare(pc *webrtc.PeerConnection, st Stream) error {
	n := &mediatest.Counter{}
	n.Attach(pc)
	tp.mu.Lock()
	tp.counters = append(tp.counters, n)
	tp.streams = append(tp.streams, st)
	tp.mu.Unlock()
	return nil
}

func (tp *tap) last() *mediatest.Counter {
	tp.mu.Lock()
	defer tp.mu.Unlock()
	if len(tp.counters) == 0 {
		return nil
	}
	return tp.counters[len(tp.counters)-1]
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not reached after 30s", what)
		}
		time.Sleep(20 * time.Millisecond) // polling a condition, not waiting a guessed time
	}
}

func start(t *testing.T, url string, cfg Config, tp *tap) (*Puller, *Metrics, chan error, context.CancelFunc) {
	t.Helper()
	api, err := mediatest.LoopbackAPI()
	if err != nil {
		t.Fatal(err)
	}
	m, err := NewMetrics(prometheus.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	cfg.URL, cfg.StreamID, cfg.Host, cfg.TokenEnv = url, "s1", "h1", "WHEP_TOKEN"
	if cfg.BackoffMin == 0 {
		cfg.BackoffMin, cfg.BackoffMax = 20*time.Millisecond, 100*time.Millisecond
	}
	getenv := func(string) string { return "good-token" }
	p, err := New(cfg, tp.prepare, nil, WithAPI(api), WithGetenv(getenv), WithMetrics(m))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	t.Cleanup(cancel)
	return p, m, done, cancel
}

// TestPull pulls VP8 and Opus from a pion WHEP server with a bearer token and
// DELETEs the session at the end.
func TestPull(t *testing.T) {
	ignore := goleak.IgnoreCurrent() // the goroutines before the test, not at its end
	t.Cleanup(func() { goleak.VerifyNone(t, ignore) })
	s, hs := newServer(t)
	tp := &tap{}
	_, m, done, cancel := start(t, hs.URL+"/whep/live/s1", Config{}, tp)
	waitFor(t, "media received", func() bool {
		n := tp.last()
		return n != nil && n.VideoPackets.Load() >= 60 && n.Keyframes.Load() >= 3 && n.AudioPackets.Load() >= 50
	})
	if got := s.auth.Load().(string); got != "Bearer good-token" {
		t.Errorf("Authorization = %q", got)
	}
	if tp.streams[0] != (Stream{StreamID: "s1", Host: "h1"}) {
		t.Errorf("prepare got %+v", tp.streams[0])
	}
	if g := testutil.ToFloat64(m.sessions); g != 1 {
		t.Errorf("sessions = %v, want 1", g)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	tp.last().Wait()
	if s.delete.Load() != 1 {
		t.Errorf("DELETEs = %d, want 1", s.delete.Load())
	}
	if g := testutil.ToFloat64(m.ended.WithLabelValues(endStopped)); g != 1 {
		t.Errorf("ended stopped = %v", g)
	}
}

func TestPullErrors(t *testing.T) {
	ignore := goleak.IgnoreCurrent() // the goroutines before the test, not at its end
	t.Cleanup(func() { goleak.VerifyNone(t, ignore) })
	cases := []struct {
		name     string
		mode     string
		token    string
		want     error
		posts    int64
		result   string
		attempts int
	}{
		{"401 is not retried", "", "other", ErrUnauthorized, 1, resultUnauthorized, 5},
		{"404 is retried", "404", "", ErrNotFound, 3, resultNotFound, 3},
		{"malformed answer", "malformed", "", ErrBadAnswer, 2, resultBadAnswer, 2},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s, hs := newServer(t)
			s.mode.Store(tc.mode)
			if tc.token != "" {
				s.token = tc.token
			}
			_, m, done, _ := start(t, hs.URL+"/whep/live/s1", Config{MaxAttempts: tc.attempts}, &tap{})
			err := <-done
			if !errors.Is(err, tc.want) {
				t.Fatalf("Run = %v, want %v", err, tc.want)
			}
			if got := s.posts.Load(); got != tc.posts {
				t.Errorf("POSTs = %d, want %d", got, tc.posts)
			}
			if got := testutil.ToFloat64(m.attempts.WithLabelValues(tc.result)); got != float64(tc.posts) {
				t.Errorf("attempts{%s} = %v, want %d", tc.result, got, tc.posts)
			}
			if strings.Contains(err.Error(), "good-token") {
				t.Errorf("the token is in the error: %v", err)
			}
		})
	}
}

// TestServerVanishes: the server closes every peer and stops answering; the
// session is lost, retries fail, and Run gives up after MaxAttempts.
func TestServerVanishes(t *testing.T) {
	ignore := goleak.IgnoreCurrent() // the goroutines before the test, not at its end
	t.Cleanup(func() { goleak.VerifyNone(t, ignore) })
	s, hs := newServer(t)
	tp := &tap{}
	_, m, done, _ := start(t, hs.URL+"/whep/live/s1", Config{MaxAttempts: 3}, tp)
	waitFor(t, "media received", func() bool {
		n := tp.last()
		return n != nil && n.VideoPackets.Load() >= 30
	})
	hs.Close()
	s.closeAll()
	err := <-done
	if err == nil || !strings.Contains(err.Error(), "giving up after 3 attempts") {
		t.Fatalf("Run = %v, want giving up after 3 attempts", err)
	}
	if g := testutil.ToFloat64(m.ended.WithLabelValues(endLost)); g != 1 {
		t.Errorf("ended lost = %v, want 1", g)
	}
	if g := testutil.ToFloat64(m.attempts.WithLabelValues(resultNetwork)); g != 2 {
		t.Errorf("attempts{network} = %v, want 2", g)
	}
	for _, n := range tp.counters {
		n.Wait()
	}
}

func FuzzDecodeAnswer(f *testing.F) {
	answer := "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 0.0.0.0\r\na=rtpmap:111 opus/48000/2\r\n"
	f.Add("application/sdp", "/whep/session/1", []byte(answer))
	f.Add("application/sdp; charset=utf-8", "https://other.example/session/2", []byte(answer))
	f.Add("text/plain", "/x", []byte(answer))
	f.Add("application/sdp", "", []byte(answer))
	f.Add("application/sdp", "ftp://x/y", []byte(answer))
	f.Add("application/sdp", "/x", []byte("v=0\r\nthis is not an answer\r\n"))
	f.Add("application/sdp", "/x", []byte("v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n"))
	f.Fuzz(func(t *testing.T, ct, loc string, body []byte) {
		sdp, res, err := decodeAnswer("http://127.0.0.1:8889/whep/live/s1", ct, loc, body, 4096)
		if err != nil {
			if !errors.Is(err, ErrBadAnswer) {
				t.Fatalf("error not ErrBadAnswer: %v", err)
			}
			return
		}
		if sdp != string(body) || !strings.HasPrefix(res, "http") {
			t.Fatalf("accepted %q at %q", sdp, res)
		}
	})
}
