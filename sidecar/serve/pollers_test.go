package serve

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestPollersThroughTheService: an nginx-rtmp stat page polled with
// sessions starts its two streams in the analyzer, beats them at every poll,
// and ends them when a successful poll no longer lists them; a failing page
// in between ends nothing.
func TestPollersThroughTheService(t *testing.T) {
	page, err := os.ReadFile("../poll/testdata/nginx-stat-two-streams.xml")
	if err != nil {
		t.Fatal(err)
	}
	empty := []byte(`<?xml version="1.0"?><rtmp><pid>1</pid><server><application><name>live</name><live></live></application></server></rtmp>`)
	var state atomic.Int32 // 0 live, 1 failing, 2 empty
	stat := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		switch state.Load() {
		case 0:
			w.Write(page)
		case 1:
			http.Error(w, "down", http.StatusBadGateway)
		default:
			w.Write(empty)
		}
	}))
	defer stat.Close()
	cfg := baseConfig(t)
	cfg.Pollers.NginxRTMP = []NginxRTMPPoller{{PollerConfig: PollerConfig{URL: stat.URL + "/stat", Interval: time.Second, Sessions: true}}}
	r := startService(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	streams := func() int { return liveStreams(t, ctx, r) }
	waitFor(t, 10*time.Second, "two live streams from the stat page", func() bool { return streams() == 2 })
	waitFor(t, 10*time.Second, "heartbeats", func() bool {
		return metricSum(t, r.svc.reg, "ronda_poll_events_total") >= 6 // 2 starts, 2 polls of 2 beats
	})
	state.Store(1)
	waitFor(t, 10*time.Second, "two failed polls", func() bool {
		return metricSum(t, r.svc.reg, "ronda_poll_requests_total") >= 5
	})
	if n := streams(); n != 2 {
		t.Fatalf("failed polls ended streams: %d live", n)
	}
	state.Store(2)
	waitFor(t, 10*time.Second, "both streams ended", func() bool { return streams() == 0 })
	if err := r.stop(t); err != nil {
		t.Fatal(err)
	}
}

func TestPollersConfig(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct {
		yaml string
		says []string
	}{
		"bad url":         {"pollers: {nginx_rtmp: [{url: 'ftp://x/stat'}]}", []string{"pollers.nginx_rtmp[0].url"}},
		"short interval":  {"pollers: {srs: [{url: 'http://127.0.0.1:1985', interval: 10ms}]}", []string{"pollers.srs[0].interval"}},
		"ome no token":    {"pollers: {ome: [{url: 'http://127.0.0.1:8081'}]}", []string{"pollers.ome[0].token_secret"}},
		"unknown key":     {"pollers: {srs: [{url: 'http://127.0.0.1:1985', app: live}]}", []string{"app"}},
		"negative bounds": {"pollers: {nginx_rtmp: [{url: 'http://127.0.0.1/stat', max_streams: -1}]}", []string{"must not be negative"}},
	} {
		t.Run(name, func(t *testing.T) {
			c, err := ParseConfig([]byte(tc.yaml))
			if err == nil {
				err = c.Validate()
			}
			if err == nil {
				t.Fatal("accepted")
			}
			for _, s := range tc.says {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error %q does not mention %q", err, s)
				}
			}
		})
	}
	c, err := ParseConfig([]byte(`pollers:
  nginx_rtmp: [{url: 'http://127.0.0.1:8088/stat', interval: 45s, app: live}]
  ome: [{url: 'http://127.0.0.1:8081', sessions: true, token_secret: {env: X}, apps: [app]}]
`))
	if err != nil {
		t.Fatal(err)
	}
	if p := c.Pollers.NginxRTMP[0]; p.Interval != 45*time.Second || p.App != "live" || !c.Pollers.OME[0].Sessions {
		t.Errorf("parsed %+v", c.Pollers)
	}
}
