package serve

import (
	"context"
	"fmt"
	"math"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ronda-watch/ronda/analyzer"
	"github.com/ronda-watch/ronda/analyzer/event"
	"github.com/ronda-watch/ronda/sidecar/media/janus"
	"github.com/ronda-watch/ronda/sidecar/media/janus/janustest"
	"github.com/ronda-watch/ronda/sidecar/media/mediatest"
)

// TestJanusIngestThroughService: Debian's janus as the ingest, a pion
// publisher in one of its VideoRooms, and `ronda serve` subscribed to the
// room through media.janus alone (no WHIP token: WHIP is not served). The
// stream.wire events the tap makes of the subscription carry the
// publisher's real figures (64x48 VP8 at about 30 fps, a key frame every
// third of a second, Opus silence) and the host its display names, and the
// analyzer takes them: the broadcast, which the app never started, becomes
// a live stream of that host and a wire signal; its key frames reach the
// same key frame hook as WHIP's. When the publisher leaves
// the tap's session ends with its ended event; when the service stops,
// nothing of it is left running.
func TestJanusIngestThroughService(t *testing.T) {
	if testing.Short() {
		t.Skip("starts janus")
	}
	if !janustest.InNetns() {
		janustest.RunInNetns(t)
		return
	}
	leakCheckLast(t) // runs last: after the service, the publisher and janus stopped
	const secret = "janus-api-secret-for-the-test"
	srv := janustest.Start(t, janustest.Options{APISecret: secret, Rooms: []uint64{1234}})

	cfg := mediaConfig(t)
	cfg.Media.WHIPTokens = nil
	cfg.Media.Janus = janus.Config{URL: srv.URL(), Rooms: []uint64{1234}, APISecretEnv: "RONDA_TEST_JANUS_SECRET",
		PollInterval: 200 * time.Millisecond, Mapping: janus.Mapping{DisplayPattern: `^(?P<host>host-[a-z]+)$`}}
	var rec wireRecord
	r := startService(t, cfg, withSecret("RONDA_TEST_JANUS_SECRET", secret), rec.hooks)
	resp, err := http.Post("http://"+r.addr+"/v1/whip/x", "application/sdp", strings.NewReader("v=0"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound && resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("WHIP without whip_tokens answered %s", resp.Status)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	pub, err := srv.Publish(ctx, 1234, "host-a")
	if err != nil {
		t.Fatalf("publish: %v", err)
	}
	stream := fmt.Sprintf("janus-1234-%d", pub.ID)
	var live event.Event
	waitFor(t, time.Minute, "two live stream.wire events of the Janus publisher with video", func() bool {
		rec.mu.Lock()
		defer rec.mu.Unlock()
		n := 0
		for _, ev := range rec.wires {
			if ev.StreamID == stream && ev.Phase == event.WireLive && ev.Wire != nil && ev.Wire.Width > 0 && ev.Wire.FPS > 0 {
				n++
				live = ev
			}
		}
		return n >= 2
	})
	w := live.Wire
	t.Logf("Ronda read %s from janus: %s %dx%d at %.2f fps, %d bit/s, key frames every %.2f s, audio %v silent %v, network %s",
		stream, w.VideoCodec, w.Width, w.Height, w.FPS, w.VideoBitrateBps, w.KeyframeIntervalS, w.Audio, w.Silent, live.Network)
	if live.HostID != "host-a" || w.Source != "janus" || w.VideoCodec != "vp8" || w.Width != 64 || w.Height != 48 ||
		math.Abs(w.FPS-30) > 6 || math.Abs(w.KeyframeIntervalS-float64(mediatest.KeyframeEvery)/30) > 0.15 || !w.Audio || !w.Silent {
		t.Errorf("wire event %+v %+v", live, w)
	}

	rec.mu.Lock()
	if rec.keyframes[stream+" vp8"] == 0 {
		t.Errorf("no key frame of the Janus broadcast reached the key frame hook: %v", rec.keyframes)
	}
	rec.mu.Unlock()

	// The analyzer took the wire facts: the broadcast is a live stream of
	// host-a, and a signal that the app never started it.
	var stats analyzer.Stats
	waitFor(t, 10*time.Second, "the analyzer holding the Janus broadcast", func() bool {
		if err := r.svc.pipe.do(ctx, func(e *analyzer.Engine) { stats = e.Stats() }); err != nil {
			t.Fatal(err)
		}
		return stats.Streams == 1 && stats.Hosts == 1 && stats.SignalsRaised >= 1
	})
	m := metricsText(t, r.addr)
	for _, re := range []string{
		`ronda_media_sessions\{kind="janus"\} 1`,
		`ronda_media_sessions_started_total\{kind="janus"\} 1`,
		`ronda_media_janus_subscriptions 1`,
		`ronda_media_packets_total\{kind="janus"\} [1-9]`,
		`ronda_media_wire_events_total\{result="sent"\} [2-9]`,
	} {
		if !regexp.MustCompile(re).MatchString(m) {
			t.Errorf("metrics lack %s:\n%s", re, grepLines(m, "ronda_media_"))
		}
	}

	// The publisher leaves: the subscription ends, and with it the tap's
	// session, which sends its ended event.
	pub.Close()
	waitFor(t, time.Minute, "the ended stream.wire event and no janus session left", func() bool {
		rec.mu.Lock()
		ended := false
		for _, ev := range rec.wires {
			ended = ended || (ev.StreamID == stream && ev.Phase == event.WireEnded)
		}
		rec.mu.Unlock()
		return ended && strings.Contains(metricsText(t, r.addr), `ronda_media_sessions{kind="janus"} 0`)
	})
	if err := r.stop(t); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(r.logs.String(), secret) {
		t.Error("janus's API secret is in the log")
	}
}
