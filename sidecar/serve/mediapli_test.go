package serve

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"

	"github.com/ronda-watch/ronda/sidecar/media/hashlist"
	"github.com/ronda-watch/ronda/sidecar/media/mediatest"
)

// TestMediaKeyframeRequests: through a live service's WHIP endpoint, a pion
// publisher that sends a key frame only at its start and when asked (as a
// browser does) is asked by PLI when hash lists are configured, and the
// sampler then gets more than one key frame; without hash lists nothing
// consumes key frames and nothing is asked.
func TestMediaKeyframeRequests(t *testing.T) {
	if testing.Short() {
		t.Skip("a broadcast of several seconds")
	}
	for _, withLists := range []bool{true, false} {
		t.Run("hash lists "+strconv.FormatBool(withLists), func(t *testing.T) {
			cfg := mediaConfig(t)
			cfg.Media.KeyframeEvery = time.Second
			if withLists {
				withEmptyHashList(t, &cfg)
			}
			r := startService(t, cfg)
			p := mediatest.NewPublisher(t, loopbackAPI(t), webrtc.MimeTypeVP8)
			p.KeyEvery, p.HonorPLI = 1<<30, true
			defer p.PC.Close()
			loc := whipPublish(t, r.addr, "stream-pli", p)
			p.Send(context.Background(), t, 4*time.Second)
			whipDelete(t, loc)
			m := metricsText(t, r.addr)
			requests := metricCount(m, `ronda_media_keyframe_requests_total\{result="sent"\}`)
			sampled := metricCount(m, `ronda_media_keyframes_sampled_total\{result="queued"\}`)
			t.Logf("%d PLIs received, %d counted sent; %d key frames queued by the sampler", p.PLIs(), requests, sampled)
			if !withLists {
				if p.PLIs() != 0 || requests != 0 {
					t.Fatalf("%d PLIs received, %d counted, with no key frame consumer", p.PLIs(), requests)
				}
				return
			}
			if p.PLIs() < 2 || requests < int(p.PLIs()) {
				t.Errorf("%d PLIs received, %d counted sent, in 4 s at keyframe_every 1s", p.PLIs(), requests)
			}
			if sampled < 2 {
				t.Errorf("the sampler queued %d key frames: the requests were not answered", sampled)
			}
		})
	}
}

// TestMediaKeyframeRequestsH264: with hash lists only (the sampler decodes
// VP8 alone and no classifier takes H.264), an H.264 publisher is asked for
// no key frame: one would only be dropped as not decoded.
func TestMediaKeyframeRequestsH264(t *testing.T) {
	if testing.Short() {
		t.Skip("a broadcast of several seconds")
	}
	cfg := mediaConfig(t)
	cfg.Media.KeyframeEvery = time.Second
	withEmptyHashList(t, &cfg)
	r := startService(t, cfg)
	p := mediatest.NewPublisher(t, loopbackAPI(t), webrtc.MimeTypeH264)
	p.KeyEvery, p.HonorPLI = 1<<30, true
	defer p.PC.Close()
	loc := whipPublish(t, r.addr, "stream-pli-h264", p)
	p.Send(context.Background(), t, 3*time.Second)
	whipDelete(t, loc)
	m := metricsText(t, r.addr)
	requests := metricCount(m, `ronda_media_keyframe_requests_total\{result="sent"\}`)
	if requests < 0 {
		t.Fatal("no ronda_media_keyframe_requests_total in /metrics")
	}
	if p.PLIs() != 0 || requests != 0 {
		t.Fatalf("an H.264 publisher with hash lists only: %d PLIs received, %d counted sent", p.PLIs(), requests)
	}
	if !regexp.MustCompile(`ronda_media_tracks_total\{kind="whip",media="video"\} 1`).MatchString(m) {
		t.Errorf("the H.264 track was not read:\n%s", regexp.MustCompile(`(?m)^ronda_media_tracks_total.*$`).FindAllString(m, -1))
	}
}

// withEmptyHashList gives cfg a hash list with no entry, so the service
// samples key frames (and asks for them) without any match.
func withEmptyHashList(t *testing.T, cfg *Config) {
	t.Helper()
	list := filepath.Join(t.TempDir(), "list.txt")
	if err := os.WriteFile(list, []byte("# no entry\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg.Media.HashLists = []hashlist.Config{{Name: "test", Path: list}}
	cfg.Media.Keyframes.MinInterval = 500 * time.Millisecond
}

// metricCount reads the value of the series re matches in a /metrics text,
// -1 when it is absent.
func metricCount(metrics, re string) int {
	sm := regexp.MustCompile(re + ` (\d+)`).FindStringSubmatch(metrics)
	if sm == nil {
		return -1
	}
	n, _ := strconv.Atoi(sm[1])
	return n
}
