package serve

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"image"
	"image/jpeg"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"
	"github.com/pion/webrtc/v4/pkg/media"
	"github.com/pion/webrtc/v4/pkg/media/ivfreader"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/ronda-watch/ronda/analyzer"
	"github.com/ronda-watch/ronda/analyzer/event"
	"github.com/ronda-watch/ronda/sidecar/media/classify"
	"github.com/ronda-watch/ronda/sidecar/media/mediatest"
)

const tokClassifier = "token-classifier-0123456789abcdef"

// TestClassifierThroughService: a broadcast by WHIP into a live service
// configured with media.classifier; its sampled key frames are decoded and
// POSTed as JPEGs to a real local HTTP classifier (with the configured
// bearer token), which scores the host a minor and the frame nude; the two
// signal events go through the intake sink to the analyzer, which, with the
// app's stream.start naming the host, raises an alert whose reasons are the
// classifier's.
func TestClassifierThroughService(t *testing.T) {
	if testing.Short() {
		t.Skip("a broadcast of several seconds")
	}
	leakCheckLast(t) // runs last: after the service and the classifier stopped
	var mu sync.Mutex
	var requests, badAuth, notJPEG int
	var jpegs [][]byte
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		requests++
		jpegs = append(jpegs, body)
		if r.Header.Get("Authorization") != "Bearer "+tokClassifier {
			badAuth++
		}
		if _, err := jpeg.Decode(bytes.NewReader(body)); err != nil || r.Header.Get("Content-Type") != "image/jpeg" {
			notJPEG++
		}
		mu.Unlock()
		io.WriteString(w, `{"labels":[{"label":"minor","score":0.93},{"label":"nudity","score":0.91}]}`)
	}))
	defer srv.Close()

	cfg := mediaConfig(t)
	cfg.Media.Classifier = ClassifierConfig{Config: classify.Config{URL: srv.URL + "/v1/classify", Timeout: 5 * time.Second},
		TokenEnv: "RONDA_TEST_CLASSIFIER_TOKEN"}
	cfg.Media.Keyframes.MinInterval = 100 * time.Millisecond
	alerts := make(chan analyzer.Alert, 64)
	r := startService(t, cfg, withSecret("RONDA_TEST_CLASSIFIER_TOKEN", tokClassifier), func(o *Options) {
		o.OnAlert = func(a analyzer.Alert) {
			select {
			case alerts <- a:
			default:
			}
		}
	})
	now := time.Now().UTC()
	postOK(t, r.addr, ndjson(t, []event.Event{{ID: "cls-start", Type: event.TypeStreamStart, At: now,
		StreamID: "stream-cls", HostID: "host-cls", DeviceID: "device-cls"}}))

	frames := vp8FileFrames(t, "../media/vp8key/testdata/testsrc2-64x48.ivf")
	p := mediatest.NewPublisher(t, loopbackAPI(t), webrtc.MimeTypeVP8)
	defer p.PC.Close()
	loc := whipPublish(t, r.addr, "stream-cls", p)
	ctx, cancel := context.WithCancel(context.Background())
	sent := make(chan struct{})
	go func() { defer close(sent); sendVP8File(ctx, t, p, frames) }()

	var got analyzer.Alert
	deadline := time.After(30 * time.Second)
wait:
	for {
		select {
		case a := <-alerts:
			if a.Subject.ID != "host-cls" {
				continue
			}
			for _, re := range a.Reasons {
				if re.Detector == analyzer.DetAge && strings.Contains(re.Summary, "external age estimate") {
					got = a
					break wait
				}
			}
		case <-deadline:
			t.Fatalf("no alert with the classifier's age estimate on host-cls; metrics:\n%s", grepLines(metricsText(t, r.addr), "ronda_media_"))
		}
	}
	cancel()
	<-sent
	whipDelete(t, loc)
	var detectors []string
	for _, re := range got.Reasons {
		detectors = append(detectors, re.Detector+": "+re.Summary)
	}
	t.Logf("alert %s %s on %s:\n  %s", got.ID, got.Severity, got.Subject.ID, strings.Join(detectors, "\n  "))
	m := metricsText(t, r.addr)
	for _, re := range []string{
		`ronda_media_classify_requests_total\{result="ok"\} [1-9]`,
		`ronda_media_classify_signals_total [2-9]`,
		`ronda_media_classify_frames_total\{result="sent"\} [1-9]`,
	} {
		if !regexp.MustCompile(re).MatchString(m) {
			t.Errorf("metrics lack %s:\n%s", re, grepLines(m, "ronda_media_classify"))
		}
	}
	if err := r.stop(t); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if requests == 0 || badAuth != 0 || notJPEG != 0 {
		t.Errorf("%d requests, %d without the bearer token, %d not a JPEG", requests, badAuth, notJPEG)
	}
	if strings.Contains(r.logs.String(), tokClassifier) {
		t.Error("the classifier's token is in the log")
	}
	// Never on disk: neither the JPEGs sent nor the VP8 frames they were
	// decoded from (their entropy-coded middles, raw, hex and base64).
	var needles [][]byte
	add := func(b []byte) {
		if len(b) < 96 {
			return
		}
		mid := b[len(b)/2-24 : len(b)/2+24]
		needles = append(needles, mid, []byte(hex.EncodeToString(mid)), []byte(base64.StdEncoding.EncodeToString(mid[:45])))
	}
	add(jpegs[0])
	add(jpegs[len(jpegs)-1])
	for _, f := range frames {
		add(f)
	}
	n := assertNotOnDisk(t, r, cfg, needles, "a key frame's or a JPEG's bytes")
	t.Logf("%d JPEGs sent to the classifier, %d needles, %d files scanned", requests, len(needles), n)
}

// vp8FileFrames reads the frames of an IVF file (VP8 from ffmpeg's libvpx).
func vp8FileFrames(t testing.TB, path string) [][]byte {
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, _, err := ivfreader.NewWith(f)
	if err != nil {
		t.Fatal(err)
	}
	var frames [][]byte
	for {
		fr, _, err := r.ParseNextFrame()
		if err != nil {
			break
		}
		frames = append(frames, fr)
	}
	if len(frames) == 0 {
		t.Fatal("no frame in " + path)
	}
	return frames
}

// sendVP8File sends the frames of a real VP8 file (ffmpeg's libvpx, 64x48,
// key frames every other frame) on p's video track at 30 fps, over and
// over, until ctx ends: mediatest's frames are random bytes behind real
// headers, which the sampler cannot decode into a picture to classify.
func sendVP8File(ctx context.Context, t testing.TB, p *mediatest.Publisher, frames [][]byte) {
	tick := time.NewTicker(time.Second / 30)
	defer tick.Stop()
	for i := 0; ; i++ {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		if err := p.Video.WriteSample(media.Sample{Data: frames[i%len(frames)], Duration: time.Second / 30}); err != nil {
			t.Error(err)
			return
		}
	}
}

// grepLines keeps the lines of s that hold sub.
func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) && !strings.HasPrefix(l, "#") {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// TestClassifierRedirectNotFollowed: a classifier that answers a redirect
// (307, which a client follows with the same body) gets the frame once; the
// host it points to gets neither the JPEG nor the bearer token, which the
// service's transport would add to every hop.
func TestClassifierRedirectNotFollowed(t *testing.T) {
	var mu sync.Mutex
	var hits, elsewhere int
	var elsewhereAuth string
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		elsewhere++
		elsewhereAuth = r.Header.Get("Authorization")
		mu.Unlock()
		io.WriteString(w, `{"labels":[]}`)
	}))
	defer other.Close()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		hits++
		mu.Unlock()
		http.Redirect(w, r, other.URL+"/v1/classify", http.StatusTemporaryRedirect)
	}))
	defer srv.Close()
	s := &Service{cfg: Config{Media: MediaConfig{Classifier: ClassifierConfig{
		Config: classify.Config{URL: srv.URL + "/v1/classify", Timeout: 5 * time.Second}, TokenEnv: "RONDA_TEST_CLASSIFIER_TOKEN"}}},
		opts: Options{Getenv: func(k string) string {
			if k == "RONDA_TEST_CLASSIFIER_TOKEN" {
				return tokClassifier
			}
			return ""
		}},
		log: slog.New(slog.DiscardHandler), reg: prometheus.NewRegistry()}
	cl, err := s.openClassifier(func(context.Context, []event.Event) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
	if !cl.Offer(classify.Frame{StreamID: "s-redirect", At: time.Now(), Image: image.NewGray(image.Rect(0, 0, 64, 48))}) {
		t.Fatal("the frame was not sent")
	}
	cl.Close() // waits for the request in flight
	mu.Lock()
	defer mu.Unlock()
	if hits != 1 {
		t.Fatalf("the classifier got %d requests, want 1", hits)
	}
	if elsewhere != 0 {
		t.Errorf("the redirect was followed: %d requests elsewhere, with Authorization %q", elsewhere, elsewhereAuth)
	}
}
