package serve

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/ronda-watch/ronda/analyzer/event"
	"github.com/ronda-watch/ronda/sidecar/media"
)

// publishPage is the test page: it takes Chromium's fake camera and
// microphone and publishes them by WHIP (RFC 9725) to the same origin,
// which proxies to the service. Only loopback candidates are offered, so
// every packet stays on this machine.
const publishPage = `<!doctype html><meta charset="utf-8"><title>publish</title><script>
async function publish(url, token) {
  const stream = await navigator.mediaDevices.getUserMedia({audio: true, video: {width: 640, height: 480, frameRate: 30}});
  const pc = new RTCPeerConnection();
  for (const t of stream.getTracks()) pc.addTransceiver(t, {direction: 'sendonly'});
  await pc.setLocalDescription(await pc.createOffer());
  await new Promise(done => {
    if (pc.iceGatheringState === 'complete') return done();
    pc.addEventListener('icegatheringstatechange', () => pc.iceGatheringState === 'complete' && done());
  });
  const sdp = pc.localDescription.sdp.split('\r\n')
    .filter(l => !l.startsWith('a=candidate:') || l.includes(' 127.0.0.1 ')).join('\r\n');
  const resp = await fetch(url, {method: 'POST', headers: {'Content-Type': 'application/sdp', 'Authorization': 'Bearer ' + token}, body: sdp});
  if (resp.status !== 201) throw new Error('WHIP answered ' + resp.status + ': ' + await resp.text());
  window.session = resp.headers.get('Location');
  await pc.setRemoteDescription({type: 'answer', sdp: await resp.text()});
  window.pc = pc;
  return 'ok';
}
// sent is what Chromium says it sends: the outbound video's frame size and rate.
async function sent() {
  const out = {};
  (await window.pc.getStats()).forEach(s => {
    if (s.type === 'outbound-rtp' && s.kind === 'video') {
      out.w = s.frameWidth; out.h = s.frameHeight; out.fps = s.framesPerSecond; out.codec = s.codecId;
    }
  });
  out.state = window.pc.connectionState;
  return JSON.stringify(out);
}
</script>`

// TestChromiumPublishesByWHIP: a real headless Chromium publishes its fake
// camera by WHIP to a live service, and the stream.wire events Ronda makes
// report the resolution and frame rate Chromium says it sends.
func TestChromiumPublishesByWHIP(t *testing.T) {
	if testing.Short() {
		t.Skip("a browser broadcast of several seconds")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	var mu sync.Mutex
	var wires []event.Event
	r := startService(t, mediaConfig(t), func(o *Options) {
		o.OnWire = func(ev event.Event) {
			mu.Lock()
			wires = append(wires, ev)
			mu.Unlock()
		}
	})
	target, _ := url.Parse("http://" + r.addr)
	mux := http.NewServeMux()
	mux.Handle(media.WHIPPath, httputil.NewSingleHostReverseProxy(target))
	mux.HandleFunc("/publish.html", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, publishPage)
	})
	page := httptest.NewServer(mux)
	defer page.Close()

	tab := newBrowser(t, ctx, chromedp.Flag("use-fake-device-for-media-stream", true),
		chromedp.Flag("use-fake-ui-for-media-stream", true), chromedp.Flag("allow-loopback-in-peer-connection", true))
	do(t, tab, chromedp.Navigate(page.URL+"/publish.html"))
	if _, err := chromedp.Run(tab, chromedp.Evaluate[string](fmt.Sprintf(`publish(%q, %q)`, media.WHIPPath+"chromium-1", tokPublisher),
		chromedp.EvalAwaitPromise)); err != nil {
		t.Fatalf("publish: %v", err)
	}
	// Wait for two live reports with video, then compare with what Chromium
	// says it sends now.
	var last event.Event
	waitFor(t, 45*time.Second, "two live stream.wire events with video", func() bool {
		mu.Lock()
		defer mu.Unlock()
		n := 0
		for _, ev := range wires {
			if ev.Phase == event.WireLive && ev.Wire != nil && ev.Wire.Width > 0 && ev.Wire.FPS > 0 {
				n++
				last = ev
			}
		}
		return n >= 2
	})
	js, err := chromedp.Run(tab, chromedp.Evaluate[string](`sent()`, chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatal(err)
	}
	var out struct {
		W, H  int
		FPS   float64
		State string
	}
	if err := json.Unmarshal([]byte(js), &out); err != nil {
		t.Fatalf("%s: %v", js, err)
	}
	w := last.Wire
	t.Logf("Chromium sends %dx%d at %.1f fps (%s); Ronda read %s %dx%d at %.2f fps, %d bit/s, key frames every %.2f s, audio %v silent %v, network %s",
		out.W, out.H, out.FPS, out.State, w.VideoCodec, w.Width, w.Height, w.FPS, w.VideoBitrateBps, w.KeyframeIntervalS, w.Audio, w.Silent, last.Network)
	if w.Width != out.W || w.Height != out.H {
		t.Errorf("Ronda read %dx%d, Chromium sends %dx%d", w.Width, w.Height, out.W, out.H)
	}
	if out.FPS > 0 && math.Abs(w.FPS-out.FPS) > 0.25*out.FPS {
		t.Errorf("Ronda read %.2f fps, Chromium sends %.1f", w.FPS, out.FPS)
	}
	if !w.Audio || w.VideoBitrateBps <= 0 || last.Network != "127.0.0.0/24" || last.StreamID != "chromium-1" {
		t.Errorf("wire event %+v %+v", last, w)
	}
}
