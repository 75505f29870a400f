package janus

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/ronda-watch/ronda/sidecar/media/janus/janustest"
	"github.com/ronda-watch/ronda/sidecar/media/mediatest"
)

const (
	// chromiumPath is Debian's Chromium; janusJS is janus.js 1.1.2 from
	// Debian's libjs-janus-gateway, as a platform's web page would load it.
	chromiumPath = "/usr/bin/chromium"
	janusJS      = "/usr/share/javascript/janus-gateway/janus.js"
)

// publishPage is a broadcaster's page: janus.js joins the room as a
// publisher and publishes the (fake) camera and microphone. adapter.js is
// not in Debian; janus.js only reads its browser details, given here.
const publishPage = `<!doctype html><meta charset="utf-8"><title>publish</title>
<script src="/janus.js"></script>
<script>
window.state = "loaded"; window.errors = [];
function publish(server, secret, room, display) {
  const deps = Janus.useDefaultDependencies({adapter: {browserDetails: {browser: "chrome", version: 120}}});
  Janus.init({debug: false, dependencies: deps, callback: function () {
    const janus = new Janus({server: server, apisecret: secret, error: e => errors.push("janus: " + e),
      success: function () {
        janus.attach({plugin: "janus.plugin.videoroom", error: e => errors.push("attach: " + e),
          success: function (h) {
            window.handle = h;
            h.send({message: {request: "join", ptype: "publisher", room: room, display: display}});
          },
          onmessage: function (msg, jsep) {
            if (msg.error) errors.push(msg.error);
            if (msg.videoroom === "joined") {
              window.state = "joined";
              window.handle.createOffer({
                tracks: [{type: "audio", capture: true, recv: false}, {type: "video", capture: true, recv: false}],
                success: j => window.handle.send({message: {request: "configure", audio: true, video: true}, jsep: j}),
                error: e => errors.push("offer: " + JSON.stringify(e))});
            }
            if (jsep) window.handle.handleRemoteJsep({jsep: jsep});
          },
          webrtcState: function (on) { window.state = on ? "up" : "down"; }});
      }});
  }});
}
</script>`

// TestJanusChromium: a real headless Chromium with a fake camera publishes
// through janus.js into a real Janus, and the client subscribes and receives
// Chromium's VP8 (keyframes included) and Opus; the page going away ends the
// subscription.
func TestJanusChromium(t *testing.T) {
	if testing.Short() {
		t.Skip("starts janus and chromium")
	}
	for _, f := range []string{chromiumPath, janusJS} {
		if _, err := os.Stat(f); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("%s not found (CI=true): apt-get install -y --no-install-recommends chromium libjs-janus-gateway", f)
			}
			t.Skipf("%s not found; apt-get install chromium libjs-janus-gateway to run this test", f)
		}
	}
	if !janustest.InNetns() {
		janustest.RunInNetns(t)
		return
	}
	const secret = "browser-test-secret"
	srv := janustest.Start(t, janustest.Options{APISecret: secret})
	page := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/janus.js":
			w.Header().Set("Content-Type", "text/javascript")
			http.ServeFile(w, r, janusJS)
		case "/":
			w.Header().Set("Content-Type", "text/html")
			fmt.Fprint(w, publishPage)
		default:
			http.NotFound(w, r)
		}
	}))
	defer page.Close()

	api, err := mediatest.LoopbackAPI(janustest.Interface)
	if err != nil {
		t.Fatal(err)
	}
	tp := &tap{}
	logs := &testWriter{t: t}
	c, err := New(Config{URL: srv.URL(), Rooms: []uint64{1234}, APISecretEnv: "S", PollInterval: 200 * time.Millisecond},
		tp.prepare, slog.New(slog.NewTextHandler(logs, nil)), prometheus.NewRegistry(), WithAPI(api),
		WithGetenv(func(string) string { return secret }))
	if err != nil {
		t.Fatal(err)
	}
	defer runClient(t, c)()

	bctx, bcancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer bcancel()
	alloc, cancelAlloc := chromedp.NewExecAllocator(bctx,
		chromedp.ExecPath(chromiumPath),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("use-fake-device-for-media-stream", true),
		chromedp.Flag("use-fake-ui-for-media-stream", true),
		// The only addresses here are loopback-range ones (janustest).
		chromedp.Flag("allow-loopback-in-peer-connection", true),
		chromedp.UserDataDir(t.TempDir()),
	)
	defer cancelAlloc() // waits for the browser to exit
	tab, cancelTab := chromedp.NewContext(alloc)
	defer cancelTab()
	call := fmt.Sprintf("publish(%s, %s, 1234, %s)", strconv.Quote(srv.URL()), strconv.Quote(secret), strconv.Quote("host-browser"))
	if err := chromedp.Do(tab, chromedp.Navigate(page.URL+"/"), chromedp.Evaluate[chromedp.Void](call)); err != nil {
		t.Fatalf("open the publishing page: %v", err)
	}
	waitFor(t, "the browser publishing", func() (bool, string) {
		state, err := chromedp.Run(tab, chromedp.Evaluate[string](`window.state + " " + JSON.stringify(window.errors)`))
		return err == nil && state == "up []", fmt.Sprintf("page: %q, %v", state, err)
	})
	waitFor(t, "subscribed to the browser's feed", func() (bool, string) {
		r, ok := tp.last()
		if !ok {
			return false, "no subscription yet"
		}
		got := fmt.Sprintf("feed host %q: video %d packets, %d keyframes, audio %d packets", r.feed.Host,
			r.n.VideoPackets.Load(), r.n.Keyframes.Load(), r.n.AudioPackets.Load())
		_, vp8 := r.n.Mimes.Load("video/VP8")
		_, opus := r.n.Mimes.Load("audio/opus")
		return r.feed.Host == "host-browser" && vp8 && opus && r.n.VideoPackets.Load() >= 100 &&
			r.n.Keyframes.Load() >= 1 && r.n.AudioPackets.Load() >= 50, got
	})

	// The broadcaster closes the page: janus.js destroys its session on
	// unload, the publisher leaves, the subscription ends.
	first, _ := tp.last()
	if err := chromedp.Do(tab, chromedp.Navigate("about:blank")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "subscription ended after the page closed", func() (bool, string) {
		subs := metric(c.m.subscriptions)()
		return subs == 0, fmt.Sprintf("subscriptions %v", subs)
	})
	first.n.Wait()
}
