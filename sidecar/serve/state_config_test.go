package serve

import (
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// TestDeployStateDefaults: the state section of deploy/serve.yaml says the
// defaults, and bad values are refused with the key named.
func TestDeployStateDefaults(t *testing.T) {
	c, err := LoadConfig("../../deploy/serve.yaml", func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	if want := DefaultConfig().State; !reflect.DeepEqual(c.State, want) {
		t.Errorf("deploy/serve.yaml state %+v, defaults %+v", c.State, want)
	}
	for _, tc := range []struct{ yaml, says string }{
		{"state: {keep: 0}\n", ""}, // 0 takes the default
		{"state: {keep: 101}\n", "state.keep"},
		{"state: {checkpoint_every: 10ms}\n", "state.checkpoint_every"},
		{"state: {log_max_bytes: 1000}\n", "state.log_max_bytes"},
	} {
		c, err := ParseConfig([]byte(tc.yaml + "intake: {keys: [{id: k, env: X}]}\nmoderators: {tokens: [{name: a, role: lead, sha256: x}]}\n"))
		if err == nil {
			err = c.Finish()
		}
		if tc.says == "" && err != nil || tc.says != "" && (err == nil || !strings.Contains(err.Error(), tc.says)) {
			t.Errorf("%q: %v, want an error naming %q", tc.yaml, err, tc.says)
		}
	}
}

// TestStateDirChecked: the state directory and its log directory are checked
// as the spool is (spool.SecureDir): writable by the group or by everyone,
// the service refuses to start and names state.dir; a new one is made 0700.
func TestStateDirChecked(t *testing.T) {
	for _, sub := range []string{"", "log"} {
		cfg := baseConfig(t)
		dir := filepath.Join(cfg.State.Dir, sub)
		if err := os.MkdirAll(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(dir, 0o777); err != nil {
			t.Fatal(err)
		}
		if err := cfg.Finish(); err != nil {
			t.Fatal(err)
		}
		_, err := New(Options{Config: cfg, Getenv: getenv, Logger: slog.New(slog.DiscardHandler)})
		if err == nil || !strings.Contains(err.Error(), "state.dir") || !strings.Contains(err.Error(), "writable by its group or by everyone") {
			t.Errorf("state dir %q mode 0777: %v, want refused naming state.dir", sub, err)
		}
	}
	cfg := baseConfig(t)
	cfg.State.Dir = filepath.Join(cfg.State.Dir, "new", "state")
	r := startService(t, cfg)
	r.stop(t)
	for _, d := range []string{cfg.State.Dir, filepath.Join(cfg.State.Dir, "log")} {
		fi, err := os.Stat(d)
		if err != nil || fi.Mode().Perm() != 0o700 {
			t.Errorf("%s: %v, mode %v, want 0700", d, err, fi.Mode().Perm())
		}
	}
}
