package serve

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/webrtc/v4"

	"github.com/ronda-watch/ronda/analyzer/event"
	"github.com/ronda-watch/ronda/sidecar/media"
	"github.com/ronda-watch/ronda/sidecar/media/hashlist"
	"github.com/ronda-watch/ronda/sidecar/media/keyframes"
	"github.com/ronda-watch/ronda/sidecar/media/mediatest"
)

const tokPublisher = "token-publisher-0123456789abcdef"

// mediaConfig is baseConfig with the media tap on, on loopback.
func mediaConfig(t testing.TB) Config {
	cfg := baseConfig(t)
	cfg.Media = MediaConfig{Enabled: true, LoopbackOnly: true, ReportEvery: time.Second, KeyframeEvery: time.Millisecond,
		WHIPTokens: []WHIPToken{{Name: "phone-app", SHA256: sha(tokPublisher)}}}
	return cfg
}

// loopbackAPI is a publisher's pion API on loopback.
func loopbackAPI(t testing.TB) *webrtc.API {
	var se webrtc.SettingEngine
	se.SetIPFilter(func(ip net.IP) bool { return ip.IsLoopback() })
	se.SetIncludeLoopbackCandidate(true)
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	api, err := media.NewAPI(se)
	if err != nil {
		t.Fatal(err)
	}
	return api
}

// whipPublish POSTs p's offer to the service and completes the
// negotiation; it returns the session's URL.
func whipPublish(t testing.TB, addr, streamID string, p *mediatest.Publisher) string {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, "http://"+addr+media.WHIPPath+streamID, strings.NewReader(p.Offer(t)))
	req.Header.Set("Content-Type", "application/sdp")
	req.Header.Set("Authorization", "Bearer "+tokPublisher)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("WHIP POST: %s %s", resp.Status, b)
	}
	p.Answer(t, string(b))
	return "http://" + addr + resp.Header.Get("Location")
}

func whipDelete(t testing.TB, url string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodDelete, url, nil)
	req.Header.Set("Authorization", "Bearer "+tokPublisher)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("WHIP DELETE: %s", resp.Status)
	}
}

func metricsText(t testing.TB, addr string) string {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// TestMediaNeverOnDisk: a broadcast through WHIP into a live service, its
// key frames handed to a consumer that drops them, and afterwards no byte
// sequence of a key frame is in the spool, the intake log, the checkpoints,
// the logs or any temporary directory of the test: the frames carry a
// distinctive 48-byte payload, searched raw, in hex and in base64.
func TestMediaNeverOnDisk(t *testing.T) {
	if testing.Short() {
		t.Skip("a broadcast of several seconds")
	}
	marker := make([]byte, 48)
	rand.Read(marker)
	var mu sync.Mutex
	delivered, withMarker := 0, 0
	cfg := mediaConfig(t)
	// A hash list turns the sampler on: the key frames also go through
	// decoding and hashing, which must not write them anywhere either.
	list := filepath.Join(t.TempDir(), "list.txt")
	if err := os.WriteFile(list, []byte("# no entry: nothing matches\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg.Media.HashLists = []hashlist.Config{{Name: "test", Path: list}}
	cfg.Media.Keyframes.MinInterval = 100 * time.Millisecond
	r := startService(t, cfg, func(o *Options) {
		o.OnKeyframe = func(streamID, codec string, frame []byte, _ time.Time) {
			mu.Lock()
			defer mu.Unlock()
			delivered++
			if bytes.Contains(frame, marker) {
				withMarker++
			}
		}
	})
	p := mediatest.NewPublisher(t, loopbackAPI(t), webrtc.MimeTypeVP8)
	p.Marker = marker
	defer p.PC.Close()
	loc := whipPublish(t, r.addr, "stream-disk", p)
	p.Send(context.Background(), t, 3*time.Second)
	whipDelete(t, loc)
	m := metricsText(t, r.addr)
	for _, want := range []string{
		`ronda_media_whip_requests_total{method="POST",result="created"} 1`,
		`ronda_media_whip_requests_total{method="DELETE",result="deleted"} 1`,
		`ronda_media_sessions{kind="whip"} 0`,
		`ronda_media_sessions_started_total{kind="whip"} 1`,
	} {
		if !strings.Contains(m, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	if !regexp.MustCompile(`ronda_media_keyframes_sampled_total\{result="queued"\} [1-9]`).MatchString(m) {
		t.Errorf("no key frame reached the sampler")
	}
	if !regexp.MustCompile(`ronda_media_wire_events_total\{result="sent"\} [3-9]`).MatchString(m) {
		t.Errorf("stream.wire events not sent to the analyzer (started, live…, ended)")
	}
	if err := r.stop(t); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	if delivered < 2 || withMarker < 2 {
		t.Fatalf("%d key frames delivered, %d with the payload: the test would prove nothing", delivered, withMarker)
	}
	mu.Unlock()

	needles := [][]byte{marker, []byte(hex.EncodeToString(marker)), []byte(base64.StdEncoding.EncodeToString(marker)),
		[]byte(base64.RawURLEncoding.EncodeToString(marker[:45]))}
	scanned := assertNotOnDisk(t, r, cfg, needles, "a key frame's bytes")
	t.Logf("%d key frames handed over in memory; %d files scanned", delivered, scanned)
}

// assertNotOnDisk fails t if any needle is in the service's log, or in a
// file of its spool, its state directory (intake log, checkpoints) or any
// temporary directory of the test; it returns the files scanned.
func assertNotOnDisk(t *testing.T, r *running, cfg Config, needles [][]byte, what string) int {
	t.Helper()
	logs := []byte(r.logs.String())
	for _, n := range needles {
		if bytes.Contains(logs, n) {
			t.Errorf("%s are in the service's log", what)
		}
	}
	roots := []string{cfg.ClickHouse.SpoolDir, cfg.State.Dir, filepath.Dir(t.TempDir())}
	scanned := 0
	for _, root := range roots {
		filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return nil
			}
			b, err := os.ReadFile(path)
			if err != nil {
				return nil
			}
			scanned++
			for _, n := range needles {
				if bytes.Contains(b, n) {
					t.Errorf("%s holds %s", path, what)
				}
			}
			return nil
		})
	}
	if scanned == 0 {
		t.Fatal("no file scanned: the service wrote no spool, log or checkpoint")
	}
	return scanned
}

// TestWireEvent: a tap report becomes a stream.wire the strict decoder takes
// back as it was made.
func TestWireEvent(t *testing.T) {
	silent := true
	at := time.Date(2025, 6, 2, 13, 5, 0, 0, time.UTC)
	r := media.Report{StreamID: "s1", HostID: "h1", Kind: media.KindWHIP, Session: "abc", Seq: 3, State: media.StateEnded,
		At: at, Start: at.Add(-time.Hour), End: at, Network: "203.0.113.0/24", Tracks: []media.TrackFacts{
			{Kind: "audio", Codec: "opus", BitrateBps: 3000, Packets: 50, Silent: &silent, Lost: 1, JitterMs: 2},
			{Kind: "video", Codec: "h264", BitrateBps: 2_000_000, FPS: 30, Width: 1920, Height: 1080, KeyframeIntervalS: 2, Packets: 300, Lost: 4, JitterMs: 1},
		}}
	ev := wireEvent(r, "node-1")
	line, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	var d event.Decoder
	var got event.Event
	if err := d.Decode(line, &got); err != nil {
		t.Fatalf("%s: %v", line, err)
	}
	w := got.Wire
	if got.ID != "wire-abc-3" || got.Phase != "ended" || got.Network != "203.0.113.0/24" || w == nil ||
		w.Width != 1920 || w.FPS != 30 || w.VideoCodec != "h264" || !w.Audio || !w.Silent || w.Lost != 5 || w.JitterMs != 2 ||
		!w.End.Equal(at) || w.Source != "whip" {
		t.Fatalf("decoded %s as %+v %+v", line, got, w)
	}
}

// TestMediaHashListConfig: the hash lists and the sampler are validated with
// the key that is wrong.
func TestMediaHashListConfig(t *testing.T) {
	c := mediaConfig(t).Media
	c.HashLists = []hashlist.Config{{Name: "a", Path: "/x"}, {Name: "a", Path: "/y"}, {Path: "/z", Threshold: 64}}
	c.Keyframes.Workers = 65
	var got []string
	for _, err := range c.validate() {
		got = append(got, err.Error())
	}
	all := strings.Join(got, "\n")
	for _, want := range []string{"media.keyframes: keyframes: workers must be at most 64", `media.hash_lists[1].name: "a" named twice`,
		"media.hash_lists[2]: hash list: name is required"} {
		if !strings.Contains(all, want) {
			t.Errorf("errors lack %q:\n%s", want, all)
		}
	}
	c.HashLists, c.Keyframes = nil, keyframes.Config{Workers: 65}
	if errs := c.validate(); len(errs) != 0 {
		t.Errorf("the sampler is not used without hash lists, yet: %v", errs)
	}
}
