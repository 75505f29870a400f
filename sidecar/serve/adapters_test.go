package serve

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"testing"
	"time"
)

// TestAdaptersThroughTheService: media-server webhooks reach the analyzer
// through the service: nginx-rtmp's publish and SRS's on_publish each start a
// live stream, their publish_done / on_unpublish end it, and a wrong secret
// still lets the publish through (200) but records nothing.
func TestAdaptersThroughTheService(t *testing.T) {
	testEnv["RONDA_TEST_RTMP"] = "rtmp-secret-0123456789"
	testEnv["RONDA_TEST_SRS"] = "srs-secret-0123456789"
	cfg := baseConfig(t)
	cfg.Adapters = AdaptersConfig{NginxRTMP: SecretRef{ID: "rtmp", Env: "RONDA_TEST_RTMP"},
		SRS: SecretRef{ID: "srs", Env: "RONDA_TEST_SRS"}, HostParam: "host"}
	r := startService(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	streams := func() int { return liveStreams(t, ctx, r) }
	hook := func(path, ctype, fixture string) int {
		t.Helper()
		b, err := os.ReadFile("../adapters/testdata/" + fixture)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.Post("http://"+r.addr+path, ctype, bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	const form = "application/x-www-form-urlencoded"
	if code := hook("/hooks/nginx-rtmp?secret=wrong", form, "nginx-rtmp/publish.form"); code != http.StatusOK {
		t.Errorf("wrong nginx-rtmp secret: %d, want 200 (fail open)", code)
	}
	if n := metricSum(t, r.svc.reg, "ronda_adapter_webhooks_total", "result", "unauthorized"); n != 1 {
		t.Errorf("%v unauthorized webhooks counted, want 1", n)
	}
	if n := metricSum(t, r.svc.reg, "ronda_adapter_webhooks_total", "result", "emitted"); n != 0 {
		t.Errorf("a webhook with a wrong secret was emitted (%v)", n)
	}
	if code := hook("/hooks/nginx-rtmp?secret=rtmp-secret-0123456789", form, "nginx-rtmp/publish.form"); code != http.StatusOK {
		t.Fatalf("nginx-rtmp publish: %d", code)
	}
	if code := hook("/hooks/srs?secret=srs-secret-0123456789", "application/json", "srs/on_publish.json"); code != http.StatusOK {
		t.Fatalf("srs on_publish: %d", code)
	}
	waitFor(t, 10*time.Second, "two live streams", func() bool { return streams() == 2 })
	hook("/hooks/nginx-rtmp?secret=rtmp-secret-0123456789", form, "nginx-rtmp/publish_done.form")
	hook("/hooks/srs?secret=srs-secret-0123456789", "application/json", "srs/on_unpublish.json")
	waitFor(t, 10*time.Second, "both streams ended", func() bool { return streams() == 0 })
	if n := metricSum(t, r.svc.reg, "ronda_adapter_webhooks_total"); n < 5 {
		t.Errorf("%v webhooks counted, want 5", n)
	}
}
