package serve

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"
	"go.uber.org/goleak"

	"github.com/ronda-watch/ronda/analyzer"
	"github.com/ronda-watch/ronda/analyzer/event"
	"github.com/ronda-watch/ronda/sidecar/media/mediatest"

	"github.com/ronda-watch/ronda/sidecar/media/classify"
	"github.com/ronda-watch/ronda/sidecar/media/hashlist"
	"github.com/ronda-watch/ronda/sidecar/media/janus"
	"github.com/ronda-watch/ronda/sidecar/media/whep"
)

// TestMediaSourcesConfig: media.classifier, media.janus and media.whep are
// validated with the key that is wrong; set while media is off, they (and
// media.hash_lists) are refused rather than ignored, in the same order each
// time; janus or whep alone need no WHIP token.
func TestMediaSourcesConfig(t *testing.T) {
	errsOf := func(c MediaConfig) string {
		var got []string
		for _, err := range c.validate() {
			got = append(got, err.Error())
		}
		return strings.Join(got, "\n")
	}
	c := mediaConfig(t).Media
	c.Classifier = ClassifierConfig{Config: classify.Config{URL: "http://127.0.0.1:1/x", JPEGQuality: 101}}
	c.Janus = janus.Config{URL: "janus:8088", PollInterval: 10 * time.Millisecond}
	c.WHEP = []whep.Config{{URL: "http://m/a/whep", StreamID: "s1"}, {URL: "http://m/b/whep", StreamID: "s1"}, {URL: "http://m/c/whep"}}
	c.Keyframes.Workers = 65
	all := errsOf(c)
	for _, want := range []string{
		"media.classifier: jpeg_quality must be between 1 and 100",
		`media.janus: url "janus:8088": want http(s)://host:port/janus`,
		"media.janus: poll_interval 10ms: want at least 100ms",
		`media.whep[1].stream_id: "s1" is pulled by media.whep[0] too`,
		"media.whep[2]: stream_id: required",
		"media.keyframes: keyframes: workers must be at most 64", // the sampler runs for the classifier alone
	} {
		if !strings.Contains(all, want) {
			t.Errorf("errors lack %q:\n%s", want, all)
		}
	}

	off := MediaConfig{Classifier: ClassifierConfig{Config: classify.Config{URL: "http://c/x"}},
		Janus: janus.Config{URL: "http://j/janus"}, WHEP: []whep.Config{{URL: "http://m/a/whep", StreamID: "s1"}},
		HashLists: []hashlist.Config{{Name: "a", Path: "/x"}}}
	all = errsOf(off)
	var want []string
	for _, key := range []string{"hash_lists", "classifier", "janus", "whep"} {
		want = append(want, "media."+key+": set, but media.enabled is false: nothing would read it")
	}
	if all != strings.Join(want, "\n") {
		t.Errorf("with media off, errors (in this order):\n%s\nwant:\n%s", all, strings.Join(want, "\n"))
	}

	only := MediaConfig{Enabled: true, Janus: janus.Config{URL: "http://127.0.0.1:8088/janus"}}
	if all := errsOf(only); all != "" {
		t.Errorf("janus alone refused: %s", all)
	}
	only = MediaConfig{Enabled: true, WHEP: []whep.Config{{URL: "http://m/a/whep", StreamID: "s1"}}}
	if all := errsOf(only); all != "" {
		t.Errorf("whep alone refused: %s", all)
	}
	if all := errsOf(MediaConfig{Enabled: true}); !strings.Contains(all, "media.whip_tokens") {
		t.Errorf("media on without any source accepted: %q", all)
	}
	tok := mediaConfig(t).Media
	tok.Classifier = ClassifierConfig{TokenEnv: "X"}
	if all := errsOf(tok); !strings.Contains(all, "token_env or token_file set without a url") {
		t.Errorf("a classifier token without a url accepted: %q", all)
	}
}

// whepServer is a WHEP endpoint built with pion, as MediaMTX offers one:
// each POST with the right token gets a real peer sending mediatest's VP8
// and Opus, each DELETE closes it; drop closes every peer, as a server
// that restarts does.
type whepServer struct {
	api                     *webrtc.API
	mu                      sync.Mutex
	peers                   map[string]func()
	n                       int
	wg                      sync.WaitGroup
	posts, deletes, badAuth int
	gone                    map[string]bool     // streams answered 403 from now on
	byStream                map[string][]string // the session URLs of each stream
}

func newWHEPServer(t *testing.T) (*whepServer, *httptest.Server) {
	api, err := mediatest.LoopbackAPI()
	if err != nil {
		t.Fatal(err)
	}
	s := &whepServer{api: api, peers: map[string]func(){}, gone: map[string]bool{}, byStream: map[string][]string{}}
	mux := http.NewServeMux()
	mux.Handle("POST /live/{stream}/whep", s)
	mux.Handle("/", s)
	hs := httptest.NewServer(mux)
	t.Cleanup(func() { hs.Close(); s.drop(); s.wg.Wait() })
	return s, hs
}

func (s *whepServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	if r.Header.Get("Authorization") != "Bearer "+tokWHEP {
		s.badAuth++
		s.mu.Unlock()
		http.Error(w, "unauthorized", http.StatusUnauthorized)
		return
	}
	s.mu.Unlock()
	switch {
	case r.Method == http.MethodPost && r.PathValue("stream") != "":
		s.mu.Lock()
		gone := s.gone[r.PathValue("stream")]
		s.mu.Unlock()
		if gone {
			http.Error(w, "forbidden", http.StatusForbidden)
			return
		}
		s.post(w, r)
	case r.Method == http.MethodDelete:
		s.mu.Lock()
		s.deletes++
		end := s.peers[r.URL.Path]
		delete(s.peers, r.URL.Path)
		s.mu.Unlock()
		if end != nil {
			end()
		}
		w.WriteHeader(http.StatusOK)
	default:
		http.NotFound(w, r)
	}
}

func (s *whepServer) post(w http.ResponseWriter, r *http.Request) {
	offer, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	pc, err := s.api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	tracks, err := mediatest.ServeOffer(pc, string(offer))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	s.mu.Lock()
	s.posts++
	s.n++
	loc := fmt.Sprintf("/session/%d", s.n)
	s.peers[loc] = func() { cancel(); pc.Close() }
	s.byStream[r.PathValue("stream")] = append(s.byStream[r.PathValue("stream")], loc)
	s.mu.Unlock()
	s.wg.Add(1)
	go func() { defer s.wg.Done(); _ = mediatest.Send(ctx, tracks) }()
	w.Header().Set("Content-Type", "application/sdp")
	w.Header().Set("Location", loc)
	w.WriteHeader(http.StatusCreated)
	io.WriteString(w, pc.LocalDescription().SDP)
}

// end refuses stream from now on (403, which a puller does not retry) and
// closes its peers without a DELETE.
func (s *whepServer) end(stream string) {
	s.mu.Lock()
	s.gone[stream] = true
	for _, loc := range s.byStream[stream] {
		if end := s.peers[loc]; end != nil {
			end()
			delete(s.peers, loc)
		}
	}
	s.mu.Unlock()
}

// drop closes every peer without a DELETE.
func (s *whepServer) drop() {
	s.mu.Lock()
	for k, end := range s.peers {
		end()
		delete(s.peers, k)
	}
	s.mu.Unlock()
}

func (s *whepServer) counts() (posts, deletes, badAuth int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.posts, s.deletes, s.badAuth
}

// whepOnly starts a WHEP test: the goroutine check that runs last, the
// test's WHEP server, and a media config with no WHIP, for the test to add
// its pulls to.
func whepOnly(t *testing.T) (*whepServer, *httptest.Server, Config) {
	t.Helper()
	leakCheckLast(t)
	ws, hs := newWHEPServer(t)
	cfg := mediaConfig(t)
	cfg.Media.WHIPTokens = nil
	return ws, hs, cfg
}

const tokWHEP = "token-whep-0123456789abcdef"

// TestWHEPPullThroughService: `ronda serve` pulls a stream from a WHEP
// server (pion, with a bearer token) through media.whep alone; the tap
// reads it as a whep session whose stream.wire events carry the configured
// stream and host and the sent figures, its key frames reach the key frame
// hook, and the analyzer holds the stream.
// The server drops the connection: the tap's session ends with its ended
// event, and the puller pulls again (a second session). At stop the
// session is DELETEd and nothing is left running.
func TestWHEPPullThroughService(t *testing.T) {
	if testing.Short() {
		t.Skip("a broadcast of several seconds")
	}
	ws, hs, cfg := whepOnly(t)
	cfg.Media.WHEP = []whep.Config{{URL: hs.URL + "/live/s-whep/whep", StreamID: "s-whep", Host: "h-whep",
		TokenEnv: "RONDA_TEST_WHEP_TOKEN", BackoffMin: 50 * time.Millisecond, BackoffMax: 200 * time.Millisecond}}
	var rec wireRecord
	r := startService(t, cfg, withSecret("RONDA_TEST_WHEP_TOKEN", tokWHEP), rec.hooks)
	phases := func(phase string) (n int, last event.Event) {
		rec.mu.Lock()
		defer rec.mu.Unlock()
		for _, ev := range rec.wires {
			if ev.Phase == phase && ev.StreamID == "s-whep" {
				n++
				last = ev
			}
		}
		return n, last
	}
	var live event.Event
	waitFor(t, 30*time.Second, "a live stream.wire event of the WHEP pull with video", func() bool {
		n, ev := phases(event.WireLive)
		live = ev
		return n >= 1 && ev.Wire.Width > 0
	})
	w := live.Wire
	t.Logf("Ronda read s-whep by WHEP: %s %dx%d at %.2f fps, key frames every %.2f s, audio %v silent %v",
		w.VideoCodec, w.Width, w.Height, w.FPS, w.KeyframeIntervalS, w.Audio, w.Silent)
	if live.HostID != "h-whep" || w.Source != "whep" || w.Width != 64 || w.Height != 48 || !w.Audio {
		t.Errorf("wire event %+v %+v", live, w)
	}
	rec.mu.Lock()
	if rec.keyframes["s-whep vp8"] == 0 {
		t.Errorf("no key frame of the pulled stream reached the key frame hook: %v", rec.keyframes)
	}
	rec.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	waitFor(t, 10*time.Second, "the analyzer holding the pulled stream", func() bool {
		var st analyzer.Stats
		if err := r.svc.pipe.do(ctx, func(e *analyzer.Engine) { st = e.Stats() }); err != nil {
			t.Fatal(err)
		}
		return st.Streams == 1 && st.Hosts == 1
	})

	// The server drops the connection: the session ends, the pull starts
	// over, and a second session is read.
	ws.drop()
	waitFor(t, 45*time.Second, "the ended event, then a second whep session", func() bool {
		ended, _ := phases(event.WireEnded)
		m := metricsText(t, r.addr)
		return ended >= 1 && strings.Contains(m, `ronda_media_sessions_started_total{kind="whep"} 2`) &&
			strings.Contains(m, `ronda_media_sessions{kind="whep"} 1`) && strings.Contains(m, "ronda_media_whep_sessions 1")
	})
	m := metricsText(t, r.addr)
	for _, re := range []string{
		`ronda_media_whep_attempts_total\{result="ok"\} 2`,
		`ronda_media_whep_sessions_ended_total\{reason="lost"\} 1`,
		`ronda_media_packets_total\{kind="whep"\} [1-9]`,
	} {
		if !regexp.MustCompile(re).MatchString(m) {
			t.Errorf("metrics lack %s:\n%s", re, grepLines(m, "ronda_media_"))
		}
	}
	if err := r.stop(t); err != nil {
		t.Fatal(err)
	}
	if n := gauge(t, r, "ronda_media_sessions", "whep"); n != 0 {
		t.Errorf("%v whep sessions outlived the service", n)
	}
	posts, deletes, badAuth := ws.counts()
	if posts != 2 || deletes < 1 || badAuth != 0 {
		t.Errorf("WHEP server: %d POSTs, %d DELETEs, %d without the token", posts, deletes, badAuth)
	}
	if strings.Contains(r.logs.String(), tokWHEP) {
		t.Error("the WHEP token is in the log")
	}
}

// gauge reads the series kind=kind of a gauge from r's registry directly
// (after stop, when /metrics is no longer served).
func gauge(t *testing.T, r *running, name, kind string) float64 {
	t.Helper()
	mfs, err := r.svc.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "kind" && l.GetValue() == kind {
					return m.GetGauge().GetValue()
				}
			}
		}
	}
	t.Fatalf("no %s{kind=%q}", name, kind)
	return 0
}

// TestMediaSecretsAtStart: a classifier token, Janus secret or WHEP token
// that cannot be read fails the start, naming the variable or file and not
// leaving the service half open.
func TestMediaSecretsAtStart(t *testing.T) {
	for name, set := range map[string]func(*MediaConfig){
		"classifier": func(m *MediaConfig) {
			m.Classifier = ClassifierConfig{Config: classify.Config{URL: "http://127.0.0.1:9/x"}, TokenEnv: "RONDA_TEST_NO_CLASSIFIER_TOKEN"}
		},
		"janus": func(m *MediaConfig) {
			m.Janus = janus.Config{URL: "http://127.0.0.1:9/janus", APISecretEnv: "RONDA_TEST_NO_JANUS_SECRET"}
		},
		"whep": func(m *MediaConfig) {
			m.WHEP = []whep.Config{{URL: "http://127.0.0.1:9/whep", StreamID: "s", TokenFile: "/nonexistent/ronda-whep-token"}}
		},
	} {
		t.Run(name, func(t *testing.T) {
			defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
			cfg := mediaConfig(t)
			set(&cfg.Media)
			if err := cfg.Finish(); err != nil {
				t.Fatal(err)
			}
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			_, err = New(Options{Config: cfg, Getenv: getenv, Listener: ln,
				Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
			if err == nil {
				t.Fatal("started without the secret")
			}
			if !regexp.MustCompile(`RONDA_TEST_NO_|/nonexistent/`).MatchString(err.Error()) {
				t.Errorf("the error does not name what is missing: %v", err)
			}
			t.Logf("%v", err)
		})
	}
}

// TestMediaReloadNeedsRestart: a SIGHUP reload that changes the classifier
// (its keys are inline in media.classifier), Janus or WHEP is refused with
// the key named: they are read at start only.
func TestMediaReloadNeedsRestart(t *testing.T) {
	old := mediaConfig(t)
	old.Media.Classifier = ClassifierConfig{Config: classify.Config{URL: "http://127.0.0.1:9/a"}}
	for key, change := range map[string]func(*Config){
		"media.classifier.url":       func(c *Config) { c.Media.Classifier.URL = "http://127.0.0.1:9/b" },
		"media.classifier.token_env": func(c *Config) { c.Media.Classifier.TokenEnv = "X" },
		"media.janus":                func(c *Config) { c.Media.Janus.URL = "http://127.0.0.1:9/janus" },
		"media.whep":                 func(c *Config) { c.Media.WHEP = []whep.Config{{URL: "http://m/w", StreamID: "s"}} },
	} {
		cur := old
		change(&cur)
		err := restartNeeded(old, cur)
		if err == nil || !strings.Contains(err.Error(), key) {
			t.Errorf("%s changed: %v", key, err)
		}
	}
}

// TestWHEPWaitsForAPlaceInTheTap: with media.max_sessions 1 and two WHEP
// pulls, one is read and the other refused by the tap, which would end a
// puller for good; the service tries it again, and when the first stream
// ends for good (its server answers 403), the second is read.
func TestWHEPWaitsForAPlaceInTheTap(t *testing.T) {
	if testing.Short() {
		t.Skip("broadcasts of several seconds")
	}
	ws, hs, cfg := whepOnly(t)
	cfg.Media.MaxSessions = 1
	for _, id := range []string{"s-a", "s-b"} {
		cfg.Media.WHEP = append(cfg.Media.WHEP, whep.Config{URL: hs.URL + "/live/" + id + "/whep", StreamID: id, Host: "h-" + id,
			TokenEnv: "RONDA_TEST_WHEP_TOKEN", BackoffMin: 20 * time.Millisecond, BackoffMax: 100 * time.Millisecond})
	}
	var mu sync.Mutex
	started := map[string]int{}
	r := startService(t, cfg, withSecret("RONDA_TEST_WHEP_TOKEN", tokWHEP), func(o *Options) {
		o.OnWire = func(ev event.Event) {
			if ev.Phase == event.WireStarted {
				mu.Lock()
				started[ev.StreamID]++
				mu.Unlock()
			}
		}
	})
	first := ""
	waitFor(t, 30*time.Second, "one pull read, the other refused by the tap", func() bool {
		mu.Lock()
		for id := range started {
			first = id
		}
		n := len(started)
		mu.Unlock()
		m := metricsText(t, r.addr)
		return n == 1 && regexp.MustCompile(`ronda_media_sessions_refused_total\{reason="max_sessions"\} [1-9]`).MatchString(m)
	})
	second := map[string]string{"s-a": "s-b", "s-b": "s-a"}[first]
	waitFor(t, 10*time.Second, "the refused pull tried again", func() bool {
		return regexp.MustCompile(`ronda_media_sessions_refused_total\{reason="max_sessions"\} ([2-9]|\d\d)`).MatchString(metricsText(t, r.addr))
	})
	ws.end(first)
	waitFor(t, 30*time.Second, "the second pull read once the first ended", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return started[second] == 1
	})
	if err := r.stop(t); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(r.logs.String(), "whep pull waits for a place in the media tap") {
		t.Error("the wait is not logged")
	}
}
