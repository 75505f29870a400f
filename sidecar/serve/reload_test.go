package serve

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ronda-watch/ronda/analyzer"
	"github.com/ronda-watch/ronda/sidecar/forward"
	"github.com/ronda-watch/ronda/sidecar/hub"
)

// TestReloadThresholds: a changed thresholds file takes effect on Reload
// (SIGHUP); a file that does not parse, or changes what needs a restart, is
// refused and the running thresholds stay.
func TestReloadThresholds(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ronda.yaml")
	write := func(s string) {
		if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("schedule:\n  min_nights: 3\n")
	cfg := baseConfig(t)
	cfg.Analyzer = path
	r := startService(t, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	nights := func() int {
		c, err := r.svc.AnalyzerConfig(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return c.Schedule.MinNights
	}
	if n := nights(); n != 3 {
		t.Fatalf("min_nights %d at start, want 3", n)
	}

	write("schedule:\n  min_nights: 5\n")
	if err := r.svc.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	if n := nights(); n != 5 {
		t.Fatalf("min_nights %d after reload, want 5", n)
	}

	write("schedule:\n  min_nightz: 4\n")
	if err := r.svc.Reload(ctx); err == nil || !strings.Contains(err.Error(), "min_nightz") {
		t.Errorf("unknown key: %v, want an error naming it", err)
	}
	write("window: 240h\nschedule:\n  min_nights: 4\n")
	if err := r.svc.Reload(ctx); !errors.Is(err, analyzer.ErrRestartNeeded) {
		t.Errorf("window change: %v, want ErrRestartNeeded", err)
	}
	if n := nights(); n != 5 {
		t.Errorf("min_nights %d after refused reloads, want 5 kept", n)
	}
	m := r.svc.pipe.m
	if ok, bad := counter(t, m.reloads.WithLabelValues("ok")), counter(t, m.reloads.WithLabelValues("error")); ok != 1 || bad != 2 {
		t.Errorf("reloads ok %v error %v, want 1 and 2", ok, bad)
	}
}

func TestConfigValidation(t *testing.T) {
	for _, tc := range []struct {
		name string
		yaml string
		says []string
	}{
		{"unknown key", "rol: all\n", []string{"rol"}},
		{"everything wrong", "role: middle\nlog_level: loud\nmoderators:\n  escalate: ftp://x\n", []string{"role", "log_level", "moderators.escalate", "moderators.tokens", "intake.keys"}},
		{"edge without hub", "role: edge\n", []string{"edge.hub", "edge.key"}},
		{"edge with a bad node name", "role: edge\nnode: edge 1\n", []string{"node"}},
		{"key without secret", "intake:\n  keys:\n    - id: k\n", []string{"names neither env nor file"}},
		{"edge over plain ws to a network host", "role: edge\nnode: e1\nedge:\n  hub: ws://10.0.0.5:8080\n  key: {id: e1, env: X}\n",
			[]string{"edge.hub", "plain ws:// is allowed to a loopback host only; use wss://"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := ParseConfig([]byte(tc.yaml))
			if err == nil {
				err = c.Finish()
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
	// The same words as the forwarder's refusal at start; loopback and wss pass.
	_, ferr := forward.New(forward.Options{URL: "ws://10.0.0.5:8080", KeyID: "e1",
		Secret: []byte(keySecret), Sender: "e1"})
	c, err := ParseConfig([]byte("role: edge\nnode: e1\nedge:\n  hub: ws://10.0.0.5:8080\n  key: {id: e1, env: X}\n"))
	if err == nil {
		err = c.Finish()
	}
	if ferr == nil || err == nil || !strings.Contains(ferr.Error(), strings.SplitN(err.Error(), "edge.hub: ", 2)[1]) {
		t.Errorf("check says %v, the forwarder %v", err, ferr)
	}
	for _, hubURL := range []string{"ws://127.0.0.1:8080", "ws://localhost:8080", "ws://[::1]:8080", "wss://hub.example:8443"} {
		c, err := ParseConfig([]byte("role: edge\nnode: e1\nedge:\n  hub: " + hubURL + "\n  key: {id: e1, env: X}\n"))
		if err == nil {
			err = c.Finish()
		}
		if err != nil {
			t.Errorf("edge.hub %s refused: %v", hubURL, err)
		}
	}
	c, err = LoadConfig("../../deploy/serve.yaml", func(k string) string { return "" })
	if err != nil {
		t.Fatalf("deploy/serve.yaml: %v", err)
	}
	if c.Role != RoleAll || c.Pipeline.QueueEvents != DefaultConfig().Pipeline.QueueEvents {
		t.Errorf("deploy/serve.yaml: role %q queue %d", c.Role, c.Pipeline.QueueEvents)
	}
}

// TestExampleTokenRefused: the example moderator token of deploy/serve.yaml
// ("change-me", public in the repository) stops the service at start with an
// error naming the token, unless AllowExampleToken (--demo), which warns.
func TestExampleTokenRefused(t *testing.T) {
	if sum := sha256.Sum256([]byte("change-me")); hex.EncodeToString(sum[:]) != exampleTokenSHA256 {
		t.Fatal("exampleTokenSHA256 is not the SHA-256 of change-me")
	}
	cfg := baseConfig(t)
	cfg.Moderators.Tokens = append(cfg.Moderators.Tokens, hub.Token{Name: "moderator-1", Role: hub.RoleLead, SHA256: strings.ToUpper(exampleTokenSHA256)})
	if err := cfg.Finish(); err != nil {
		t.Fatal(err)
	}
	_, err := New(Options{Config: cfg, Getenv: getenv, Logger: slog.New(slog.DiscardHandler)})
	if err == nil || !strings.Contains(err.Error(), `"moderator-1"`) || !strings.Contains(err.Error(), "example") {
		t.Fatalf("New with the example token: %v, want a refusal naming moderator-1", err)
	}
	if segs, _ := filepath.Glob(filepath.Join(cfg.ClickHouse.SpoolDir, "*")); len(segs) != 0 {
		t.Errorf("a refused start left %v in the spool directory", segs)
	}

	demo := startService(t, cfg, func(o *Options) { o.AllowExampleToken = true })
	if !strings.Contains(demo.logs.String(), "example from deploy/serve.yaml") {
		t.Error("no warning about the example token where it is allowed")
	}
	plain := startService(t, baseConfig(t))
	if strings.Contains(plain.logs.String(), "example from deploy/serve.yaml") {
		t.Error("a warning about the example token where none is configured")
	}
}
