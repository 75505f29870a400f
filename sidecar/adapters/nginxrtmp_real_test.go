package adapters

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ronda-watch/ronda/sidecar/adapters/nginxtest"
)

// waitUntil polls ok for up to 20s.
func waitUntil(t *testing.T, what string, ok func() bool) {
	t.Helper()
	for end := time.Now().Add(20 * time.Second); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
		if ok() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}

// TestNginxRTMPRealPublish: Debian's nginx-rtmp with ffmpeg publishing. The
// right secret records the start and the end; a wrong secret and a frozen
// Sink (one that ignores its context) still let the broadcast through, the
// wrong secret recording nothing. The control, a hook that answers 403,
// shows that ffmpeg does fail when nginx-rtmp refuses.
func TestNginxRTMPRealPublish(t *testing.T) {
	if testing.Short() {
		t.Skip("runs nginx and ffmpeg")
	}
	nginxtest.Need(t)
	t.Parallel()
	tests := []struct {
		name      string
		secret    string
		frozen    bool
		refuse    bool
		wantPass  bool
		result    string // counted twice: on_publish and on_publish_done
		wantEvent int
	}{
		{name: "right secret", secret: nginxSecret, wantPass: true, result: resultEmitted, wantEvent: 2},
		{name: "wrong secret", secret: "nope-nope-nope-nope", wantPass: true, result: resultUnauthorized},
		{name: "frozen sink", secret: nginxSecret, frozen: true, wantPass: true, result: resultSinkTimeout},
		{name: "control: a hook that refuses", refuse: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rec := &recorder{}
			if tc.frozen {
				rec.hold = make(chan struct{})
				defer close(rec.hold)
			}
			reg := prometheus.NewRegistry()
			o := testOptions(rec, reg)
			o.Now = time.Now
			o.SinkTimeout = 200 * time.Millisecond
			var h http.Handler
			h, err := newNginxHandler(o)
			if err != nil {
				t.Fatal(err)
			}
			if tc.refuse {
				h = http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
					http.Error(w, "no", http.StatusForbidden)
				})
			}
			srv := loopback(t, h)
			hook := srv.URL + "/hooks/nginx-rtmp?secret=" + tc.secret
			rtmp := nginxtest.Start(t, nginxtest.Options{RTMPConf: fmt.Sprintf("on_publish %s;\non_publish_done %s;", hook, hook)})
			// A two-second test pattern: nil when nginx-rtmp let it through.
			err = nginxtest.Publish(t, rtmp, "studio-real?host=host-real", 2).Err(t)
			if tc.wantPass != (err == nil) {
				t.Fatalf("publish passed %v (%v), want %v", err == nil, err, tc.wantPass)
			}
			if tc.refuse {
				return
			}
			waitUntil(t, "on_publish and on_publish_done", func() bool {
				return counted(t, reg, "nginx_rtmp", tc.result) == 2
			})
			evs := rec.events()
			if len(evs) != tc.wantEvent {
				t.Fatalf("%d events recorded %+v, want %d", len(evs), evs, tc.wantEvent)
			}
			if tc.wantEvent == 2 && (evs[0].StreamID != "live/studio-real" || evs[0].HostID != "host-real" || evs[1].StreamID != "live/studio-real") {
				t.Fatalf("events %+v, want the start and end of live/studio-real by host-real", evs)
			}
		})
	}
}

// counted reads ronda_adapter_webhooks_total{adapter,result} from reg.
func counted(t testing.TB, reg *prometheus.Registry, adapter, result string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if mf.GetName() == "ronda_adapter_webhooks_total" && labels["adapter"] == adapter && labels["result"] == result {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}
