package main

import (
	"bytes"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ronda-watch/ronda/sidecar/intake"
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
	r.want(t, 0, []string{"demo: playing a 3-day synthetic world", "/console/#token=", "alert al-", "the world is played"},
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

// TestServeSignals runs the binary from a configuration file: SIGHUP reloads
// the thresholds (a bad file is refused and logged), SIGTERM stops it within
// its drain time with exit 0, and the events it took are in its spool.
func TestServeSignals(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the binary")
	}
	t.Parallel()
	dir := t.TempDir()
	thresholds := filepath.Join(dir, "ronda.yaml")
	os.WriteFile(thresholds, []byte("schedule:\n  min_nights: 3\n"), 0o600)
	spool := filepath.Join(dir, "spool")
	conf := filepath.Join(dir, "serve.yaml")
	os.WriteFile(conf, []byte(`
listen: 127.0.0.1:0
analyzer: `+thresholds+`
pipeline: {drain_timeout: 10s}
intake:
  keys: [{id: k1, env: RONDA_TEST_SECRET}]
moderators:
  tokens: [{name: m, role: lead, sha256: e2186dbdb1bb4193608605e84f33208765b5693b55edd4f730a719a100eeea6f}]
clickhouse: {spool_dir: `+spool+`}
state: {dir: `+filepath.Join(dir, "state")+`}
`), 0o600)
	cmd := exec.Command(ronda(t), "serve", "--config", conf)
	cmd.Env = append(os.Environ(), "RONDA_TEST_SECRET=test-secret-0123456789abcdef")
	var stdout bytes.Buffer
	stderr := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = &stdout, stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	addrRE := regexp.MustCompile(`msg="ronda serving".* addr=(\S+)`)
	var addr string
	waitUntil(t, func() bool {
		if m := addrRE.FindStringSubmatch(stderr.String()); m != nil {
			addr = m[1]
			return true
		}
		return false
	}, "the service to listen", stderr)

	body := []byte(`{"type":"stream.start","id":"e1","at":"` + time.Now().UTC().Format(time.RFC3339) + `","stream_id":"s1","host_id":"h1"}` + "\n")
	req, _ := http.NewRequest(http.MethodPost, "http://"+addr+intake.Path, bytes.NewReader(body))
	intake.Sign(req, "k1", []byte("test-secret-0123456789abcdef"), body, time.Now())
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("intake answered %d", resp.StatusCode)
	}

	os.WriteFile(thresholds, []byte("schedule:\n  min_nights: 4\n"), 0o600)
	cmd.Process.Signal(syscall.SIGHUP)
	waitUntil(t, func() bool { return strings.Contains(stderr.String(), "analyzer thresholds reloaded") }, "the reload", stderr)
	os.WriteFile(thresholds, []byte("schedule: [\n"), 0o600)
	cmd.Process.Signal(syscall.SIGHUP)
	waitUntil(t, func() bool { return strings.Contains(stderr.String(), "reload failed; the running thresholds stay") }, "the refused reload", stderr)

	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("exit after SIGTERM: %v\n%s", err, stderr.String())
	}
	if !strings.Contains(stderr.String(), "ronda stopped") {
		t.Errorf("no stop line:\n%s", stderr.String())
	}
	if segs, _ := filepath.Glob(filepath.Join(spool, "*.seg")); len(segs) == 0 {
		t.Errorf("nothing in the spool after the stop:\n%s", stderr.String())
	}
	if strings.Contains(stderr.String(), "test-secret-0123456789abcdef") {
		t.Error("the intake secret is in the log")
	}
}

func waitUntil(t *testing.T, cond func() bool, what string, log *syncBuffer) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s:\n%s", what, log.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}
