package adapters

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

const nginxRTMPModule = "/usr/lib/nginx/modules/ngx_rtmp_module.so"

// needNginxRTMP skips the test without nginx, its RTMP module or ffmpeg,
// except under CI=true, where that is a failure.
func needNginxRTMP(t *testing.T) {
	t.Helper()
	var missing []string
	for _, bin := range []string{"nginx", "ffmpeg"} {
		if _, err := exec.LookPath(bin); err != nil {
			missing = append(missing, bin)
		}
	}
	if _, err := os.Stat(nginxRTMPModule); err != nil {
		missing = append(missing, nginxRTMPModule)
	}
	if len(missing) == 0 {
		return
	}
	const install = "apt-get install -y --no-install-recommends nginx libnginx-mod-rtmp ffmpeg"
	if os.Getenv("CI") == "true" {
		t.Fatalf("%s not found (CI=true): %s", strings.Join(missing, ", "), install)
	}
	t.Skipf("%s not found; %s to run this test", strings.Join(missing, ", "), install)
}

// startNginxRTMP runs Debian's nginx with the RTMP module in the foreground,
// its on_publish and on_publish_done pointed at hook, and returns its RTMP
// address once it accepts connections. It is ended by its process id.
func startNginxRTMP(t *testing.T, hook string) string {
	t.Helper()
	dir := t.TempDir()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	conf := fmt.Sprintf(`load_module %s;
daemon off; master_process off; worker_processes 1;
error_log %s/nginx-error.log info; pid %s/nginx.pid;
events { worker_connections 64; }
rtmp { server { listen %s; application live { live on;
  on_publish      %s;
  on_publish_done %s; } } }
`, nginxRTMPModule, dir, dir, addr, hook, hook)
	path := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("nginx", "-p", dir, "-e", filepath.Join(dir, "nginx-stderr.log"), "-c", path)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			b, _ := os.ReadFile(filepath.Join(dir, "nginx-error.log"))
			t.Logf("nginx error log:\n%s", b)
		}
	})
	waitUntil(t, "nginx-rtmp to listen", func() bool {
		c, err := net.DialTimeout("tcp", addr, 100*time.Millisecond)
		if err == nil {
			c.Close()
		}
		return err == nil
	})
	return addr
}

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

// publish runs ffmpeg publishing a two-second test pattern to rtmpAddr and
// returns its error: nil when nginx-rtmp let the broadcast through.
func publish(t *testing.T, rtmpAddr, stream string) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "ffmpeg", "-nostdin", "-loglevel", "error", "-re",
		"-f", "lavfi", "-i", "testsrc=size=160x120:rate=10", "-f", "lavfi", "-i", "sine", "-t", "2",
		"-c:v", "libx264", "-preset", "ultrafast", "-c:a", "aac", "-f", "flv",
		"rtmp://"+rtmpAddr+"/live/"+stream)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("ffmpeg: %w: %s", err, out)
	}
	return nil
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
	needNginxRTMP(t)
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
			rtmp := startNginxRTMP(t, srv.URL+"/hooks/nginx-rtmp?secret="+tc.secret)
			err = publish(t, rtmp, "studio-real?host=host-real")
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
