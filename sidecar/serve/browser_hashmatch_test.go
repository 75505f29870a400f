package serve

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/ronda-watch/ronda/analyzer"
	"github.com/ronda-watch/ronda/analyzer/event"
	"github.com/ronda-watch/ronda/sidecar/media"
	"github.com/ronda-watch/ronda/sidecar/media/hashlist"
	"github.com/ronda-watch/ronda/sidecar/media/keyframes"
	"github.com/ronda-watch/ronda/sidecar/media/pdq"
	"github.com/ronda-watch/ronda/sidecar/media/vp8key"
)

// sampledHash is the PDQ hash of one key frame the service handed over.
type sampledHash struct {
	h  pdq.Hash
	q  int
	at time.Time
}

// TestChromiumHashMatchRaisesAlert: a host is already suspected (an external
// classifier's score, its low alert open at a moderator's console) when it
// starts a broadcast that headless Chromium publishes from its fake camera by
// WHIP. The tap asks Chromium for key frames (RTCP PLI), so the broadcast
// keeps giving them; the test hashes them in memory from the service's key
// frame hook, writes the hashes of the first few into the hash list file the
// running service watches, and a later key frame of the same broadcast
// matches the reloaded list: the `signal` the sampler makes (label
// csam_hash_match) reaches the analyzer and raises the host's alert to high
// at the moderator.
func TestChromiumHashMatchRaisesAlert(t *testing.T) {
	if testing.Short() {
		t.Skip("a browser broadcast of several seconds")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 180*time.Second)
	defer cancel()
	list := filepath.Join(t.TempDir(), "seen.pdq")
	if err := os.WriteFile(list, []byte("# filled by the test\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	// Moderators see low alerts here, so that a host with one indicator is
	// an open alert: the suspected host.
	thresholds := filepath.Join(t.TempDir(), "ronda.yaml")
	if err := os.WriteFile(thresholds, []byte("scoring:\n  min_severity: low\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := mediaConfig(t)
	cfg.Analyzer = thresholds
	cfg.Media.KeyframeEvery = time.Second // a key frame asked for every second
	cfg.Media.HashLists = []hashlist.Config{{Name: "seen", Path: list, PollInterval: 100 * time.Millisecond}}
	cfg.Media.Keyframes.MinInterval = 500 * time.Millisecond
	var mu sync.Mutex
	var hashes []sampledHash
	r := startService(t, cfg, func(o *Options) {
		// The test's own look at the key frames, in memory, beside the
		// service's sampler.
		o.OnKeyframe = func(_, codec string, frame []byte, at time.Time) {
			if codec != "vp8" {
				return
			}
			img, err := vp8key.NewDecoder().Decode(frame, keyframes.DefaultMaxPixels, pdq.MinDim)
			if err != nil {
				return
			}
			h, q := pdq.Image(img)
			mu.Lock()
			hashes = append(hashes, sampledHash{h, q, at})
			mu.Unlock()
		}
	})

	// The suspected host: an external classifier scored its broadcast
	// (nudity 0.81, one indicator), and its alert is open, low.
	mod := dialModerator(t, r.addr, tokModA)
	mod.find(5*time.Second, "snapshot", func(msg map[string]any) bool { return msg["type"] == "snapshot" })
	const host, stream = "host-suspected", "chromium-hash"
	now := time.Now().UTC()
	postOK(t, r.addr, ndjson(t, []event.Event{
		{ID: stream + "-start", Type: event.TypeStreamStart, At: now, StreamID: stream, HostID: host, DeviceID: "phone-1"},
		{ID: stream + "-nudity", Type: event.TypeSignal, At: now, StreamID: stream, Source: "classifier", Label: "nudity", Score: 0.81},
	}))
	before := decodeAlert(mod.find(30*time.Second, "the alert of "+host, alertMsg(analyzer.SeverityLow, host)))
	t.Logf("host %s suspected: alert %s at %s, reasons %v", host, before.ID, before.Severity, detectors(before))
	if before.Severity >= analyzer.SeverityHigh {
		t.Fatalf("the host's alert is %s before any hash match: the test would prove nothing", before.Severity)
	}

	// The host's broadcast: Chromium's fake camera by WHIP.
	target, _ := url.Parse("http://" + r.addr)
	mux := http.NewServeMux()
	mux.Handle(media.WHIPPath, httputil.NewSingleHostReverseProxy(target))
	mux.HandleFunc("/publish.html", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, publishPage+keyframeStatsScript)
	})
	page := httptest.NewServer(mux)
	defer page.Close()
	tab := newBrowser(t, ctx, chromedp.Flag("use-fake-device-for-media-stream", true),
		chromedp.Flag("use-fake-ui-for-media-stream", true), chromedp.Flag("allow-loopback-in-peer-connection", true))
	do(t, tab, chromedp.Navigate(page.URL+"/publish.html"))
	if _, err := chromedp.Run(tab, chromedp.Evaluate[string](fmt.Sprintf(`publish(%q, %q)`, media.WHIPPath+stream, tokPublisher),
		chromedp.EvalAwaitPromise)); err != nil {
		t.Fatalf("publish: %v", err)
	}
	defer func() {
		mu.Lock()
		defer mu.Unlock()
		logHashFigures(t, hashes)
		if js, err := chromedp.Run(tab, chromedp.Evaluate[string](`keyframeStats()`, chromedp.EvalAwaitPromise)); err == nil {
			t.Logf("Chromium's outbound video: %s", js)
		}
		t.Logf("%s", regexp.MustCompile(`ronda_media_keyframe_requests_total\{result="sent"\} \d+`).FindString(metricsText(t, r.addr)))
	}()

	// The hashes of the broadcast's first listed key frames (at the quality
	// the sampler matches at) go into the list; the sampler has seen those
	// frames already, without a match. Chromium's fake camera animates: key
	// frames a second apart are 50 to 120 bits apart, and its picture comes
	// back about every 35 s, so a later key frame matches one of them when
	// the animation comes round again.
	const listed = 10
	var entries []sampledHash
	waitFor(t, 60*time.Second, fmt.Sprintf("%d key frames of the broadcast hashed at quality 50 or more", listed), func() bool {
		mu.Lock()
		defer mu.Unlock()
		entries = entries[:0]
		for _, s := range hashes {
			if s.q >= keyframes.DefaultMinQuality {
				entries = append(entries, s)
			}
		}
		return len(entries) >= listed
	})
	// Every key frame handed over so far is hashed by the sampler against
	// the empty list before the entries are written: a match can only be
	// of a key frame that comes after.
	mu.Lock()
	seenBefore := len(hashes)
	mu.Unlock()
	hashed := regexp.MustCompile(`ronda_media_keyframes_processed_total\{result="hashed"\} (\d+)`)
	waitFor(t, 30*time.Second, fmt.Sprintf("the sampler to hash the %d key frames handed over", seenBefore), func() bool {
		sm := hashed.FindStringSubmatch(metricsText(t, r.addr))
		n := 0
		if sm != nil {
			n, _ = strconv.Atoi(sm[1])
		}
		return n >= seenBefore
	})
	var file strings.Builder
	file.WriteString("# PDQ hashes of key frames of the broadcast, as HMA and StopNCII write them\n")
	for _, e := range entries[:listed] {
		fmt.Fprintf(&file, "%s,%d\n", e.h, e.q)
	}
	if err := os.WriteFile(list, []byte(file.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	loaded := regexp.MustCompile(fmt.Sprintf(`ronda_media_hashlist_entries\{list="seen"\} %d\b`, listed))
	waitFor(t, 30*time.Second, "the list reloaded with the entries", func() bool { return loaded.MatchString(metricsText(t, r.addr)) })
	t.Logf("%d list entries, key frames of %s to %s; %d key frames handed over and hashed before it was written", listed,
		entries[0].at.Format(time.RFC3339Nano), entries[listed-1].at.Format(time.RFC3339Nano), seenBefore)

	// A later key frame of the broadcast matches: the signal raises the
	// suspected host's alert to high, with the external signal as a reason.
	var after analyzer.Alert
	mod.find(120*time.Second, "the alert of "+host+" raised to high by the hash match", func(msg map[string]any) bool {
		if !alertMsg(analyzer.SeverityHigh, host)(msg) {
			return false
		}
		a := decodeAlert(msg)
		for _, rs := range a.Reasons {
			if rs.Detector == analyzer.DetSignal && rs.Evidence["label"] == hashlist.DefaultLabel {
				after = a
				return true
			}
		}
		return false
	})
	t.Logf("alert %s now %s (update %d), reasons %v", after.ID, after.Severity, after.Updates, detectors(after))
	if after.ID != before.ID {
		t.Errorf("the hash match opened alert %s; the host's open alert is %s", after.ID, before.ID)
	}
	m := metricsText(t, r.addr)
	if !regexp.MustCompile(`ronda_media_keyframes_matches_total\{list="seen"\} [1-9]`).MatchString(m) {
		t.Error("no match counted")
	}
	if !regexp.MustCompile(`ronda_media_keyframe_requests_total\{result="sent"\} [1-9]`).MatchString(m) {
		t.Error("no key frame request counted")
	}
	// The sampler logs the match once the pipeline took its signal: the
	// alert may be out first.
	var matched []string
	waitFor(t, 10*time.Second, "the service's log of the match", func() bool {
		matched = regexp.MustCompile(`keyframe matched a hash list.*list=seen distance=(\d+)`).FindStringSubmatch(r.logs.String())
		return matched != nil
	})
	mu.Lock()
	defer mu.Unlock()
	t.Logf("the sampler matched a later key frame at distance %s", matched[1])
	var nearest []int
	for _, s := range hashes[seenBefore:] {
		d := pdq.Bits
		for _, e := range entries[:listed] {
			d = min(d, pdq.Distance(e.h, s.h))
		}
		nearest = append(nearest, d)
	}
	t.Logf("key frames after the list was written, distance to the nearest entry: %v", nearest)
}

// keyframeStatsScript adds keyframeStats to publishPage: what Chromium says
// it encoded and was asked for.
const keyframeStatsScript = `<script>
async function keyframeStats() {
  const out = {};
  (await window.pc.getStats()).forEach(s => {
    if (s.type === 'outbound-rtp' && s.kind === 'video') {
      out.keyFramesEncoded = s.keyFramesEncoded; out.framesEncoded = s.framesEncoded; out.pliCount = s.pliCount; out.firCount = s.firCount;
    }
  });
  return JSON.stringify(out);
}
</script>`

// logHashFigures logs how many key frames were handed over in how long and
// the distances between consecutive ones' hashes.
func logHashFigures(t *testing.T, hs []sampledHash) {
	if len(hs) < 2 {
		t.Logf("%d key frames handed over", len(hs))
		return
	}
	span := hs[len(hs)-1].at.Sub(hs[0].at)
	var dists, quals []int
	for i, s := range hs {
		quals = append(quals, s.q)
		if i > 0 {
			dists = append(dists, pdq.Distance(hs[i-1].h, s.h))
		}
	}
	t.Logf("%d key frames handed over in %s (%.1f a minute); qualities %v; distances between consecutive hashes %v; from the first %v",
		len(hs), span.Round(time.Millisecond), float64(len(hs)-1)/span.Minutes(), quals, dists, fromFirst(hs))
}

func fromFirst(hs []sampledHash) []int {
	var out []int
	for _, s := range hs[1:] {
		out = append(out, pdq.Distance(hs[0].h, s.h))
	}
	return out
}

func detectors(a analyzer.Alert) []string {
	var out []string
	for _, r := range a.Reasons {
		out = append(out, r.Detector)
	}
	return out
}
