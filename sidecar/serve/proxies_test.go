package serve

import (
	"net/http"
	"testing"

	"github.com/ronda-watch/ronda/sidecar/hub"
)

// TestTrustedProxiesThroughTheService: behind a trusted proxy (loopback
// here), 20 bad tokens from one client lock out that client only: another
// client through the same proxy is still answered 401 for a bad token, and a
// valid token from it connects. Without trusted_proxies X-Forwarded-For is
// ignored, and the proxy's own address is the one locked out.
func TestTrustedProxiesThroughTheService(t *testing.T) {
	attempt := func(addr, token, client string) int {
		t.Helper()
		req := wsUpgrade("http://"+addr+hub.Path, token, "")
		req.Header.Set("X-Forwarded-For", client)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	const x, y = "203.0.113.7", "198.51.100.9"

	cfg := baseConfig(t)
	cfg.TrustedProxies = []string{"127.0.0.1/32", "::1"}
	r := startService(t, cfg)
	last := 0
	for i := 0; i < 20; i++ {
		last = attempt(r.addr, "guess-token", x)
	}
	if last != http.StatusTooManyRequests {
		t.Errorf("client %s after 20 bad tokens: %d, want 429", x, last)
	}
	if code := attempt(r.addr, "another-guess", y); code != http.StatusUnauthorized {
		t.Errorf("client %s's first bad token: %d, want 401 (not locked out by %s)", y, code, x)
	}
	if code := attempt(r.addr, tokModB, y); code != http.StatusSwitchingProtocols {
		t.Errorf("client %s's valid token: %d, want 101", y, code)
	}

	plain := startService(t, baseConfig(t))
	for i := 0; i < 20; i++ {
		attempt(plain.addr, "guess-token", x)
	}
	if code := attempt(plain.addr, "another-guess", y); code != http.StatusTooManyRequests {
		t.Errorf("without trusted_proxies, %s's bad token after %s's 20: %d, want 429 (the header ignored)", y, x, code)
	}
}
