package main

import (
	"os"
	"path/filepath"
	"regexp"
	"testing"
)

// TestServeDemo runs the README's main command as a user would, to the end of
// its world: the service starts without ClickHouse and says it spools, the
// world is played into it over HTTP, alerts are printed as they rise, and the
// ring's hosts are named; the demo's spool is removed at exit.
func TestServeDemo(t *testing.T) {
	if testing.Short() {
		t.Skip("plays a world into the live service; skipped with -short")
	}
	t.Parallel()
	before, _ := filepath.Glob(filepath.Join(os.TempDir(), "ronda-demo-spool-*"))
	r := exe(t, t.TempDir(), "serve", "--demo", "--once", "--listen", "127.0.0.1:0", "--speed", "1e9",
		"--days", "3", "--hosts", "30", "--rings", "1")
	r.want(t, 0, []string{"demo: playing a 3-day synthetic world", "alert al-", "the world is played"},
		[]string{"no ClickHouse configured", "ronda serving", "ronda stopped"})
	m := regexp.MustCompile(`Alerts named (\d+) of the (\d+) ring hosts, and (\d+) other hosts`).FindStringSubmatch(r.stdout)
	if m == nil || m[1] != m[2] || m[1] == "0" {
		t.Errorf("demo score %v: want every ring host named\n%s", m, r.stdout)
	}
	after, _ := filepath.Glob(filepath.Join(os.TempDir(), "ronda-demo-spool-*"))
	if len(after) > len(before) {
		t.Errorf("demo left its spool behind: %v", after)
	}
}
