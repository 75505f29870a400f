package serve

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

// TestAdminListener: with admin_listen, /metrics is served there and no
// longer on the public listener; /readyz and /healthz answer on both (load
// balancers probe the traffic port); the admin listener serves nothing else,
// and is closed when the service stops.
func TestAdminListener(t *testing.T) {
	cfg := baseConfig(t)
	cfg.AdminListen = "127.0.0.1:0"
	r := startService(t, cfg)
	admin := r.svc.AdminAddr()
	if admin == "" || admin == r.addr {
		t.Fatalf("admin address %q (public %q)", admin, r.addr)
	}
	get := func(addr, path string) (int, string) {
		t.Helper()
		resp, err := http.Get("http://" + addr + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := get(admin, "/metrics"); code != 200 || !strings.Contains(body, "ronda_config_reloads_total") {
		t.Errorf("admin /metrics: %d, %d bytes", code, len(body))
	}
	if code, _ := get(r.addr, "/metrics"); code != http.StatusNotFound {
		t.Errorf("public /metrics: %d, want 404 with an admin listener", code)
	}
	for _, p := range []string{"/readyz", "/healthz"} {
		for _, a := range []string{admin, r.addr} {
			if code, _ := get(a, p); code != 200 {
				t.Errorf("%s%s: %d", a, p, code)
			}
		}
	}
	for _, p := range []string{"/v1/events", "/v1/alerts/ws", "/console/"} {
		if code, _ := get(admin, p); code != http.StatusNotFound {
			t.Errorf("admin %s: %d, want 404", p, code)
		}
	}
	if !strings.Contains(r.logs.String(), "admin="+admin) {
		t.Error("the start log does not name the admin address")
	}
	if err := r.stop(t); err != nil {
		t.Fatal(err)
	}
	if resp, err := http.Get("http://" + admin + "/healthz"); err == nil {
		resp.Body.Close()
		t.Error("the admin listener still answers after the stop")
	}

	// Without admin_listen, /metrics is on the public listener as before.
	plain := startService(t, baseConfig(t))
	if code, _ := get(plain.addr, "/metrics"); code != 200 {
		t.Errorf("public /metrics without an admin listener: %d", code)
	}
	if plain.svc.AdminAddr() != "" {
		t.Error("an admin address without admin_listen")
	}
}

// TestStartLogCountsEveryAdapter: the start log counts LiveKit with the three
// shared-secret webhooks.
func TestStartLogCountsEveryAdapter(t *testing.T) {
	testEnv["RONDA_TEST_LK"] = "livekit-secret-0123456789abcdef-0123"
	testEnv["RONDA_TEST_HOOK"] = "hook-secret-0123456789"
	cfg := baseConfig(t)
	cfg.Adapters = AdaptersConfig{LiveKit: []SecretRef{{ID: "APIkey", Env: "RONDA_TEST_LK"}},
		SRS: SecretRef{Env: "RONDA_TEST_HOOK"}, OME: SecretRef{Env: "RONDA_TEST_HOOK"}, NginxRTMP: SecretRef{Env: "RONDA_TEST_HOOK"}}
	r := startService(t, cfg)
	if !strings.Contains(r.logs.String(), "adapters=4") {
		t.Errorf("start log does not count 4 adapters:\n%s", tail(r.logs.String(), 10))
	}
}
