package main

import (
	"bytes"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ronda-watch/ronda/sidecar/intake"
	"github.com/ronda-watch/ronda/sidecar/intake/wire"
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
// the thresholds and rotates the intake keys (the removed key is refused, the
// added one taken, without a restart), a bad file is refused whole and
// logged, SIGTERM stops it within its drain time with exit 0, and the events
// it took are in its spool.
func TestServeSignals(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the binary")
	}
	t.Parallel()
	dir := t.TempDir()
	thresholds := filepath.Join(dir, "ronda.yaml")
	os.WriteFile(thresholds, []byte("schedule:\n  min_nights: 3\n"), 0o600)
	spool := filepath.Join(dir, "spool")
	const secret1, secret2 = "test-secret-0123456789abcdef", "second-secret-0123456789abcdef"
	os.WriteFile(filepath.Join(dir, "k2"), []byte(secret2+"\n"), 0o600)
	conf := filepath.Join(dir, "serve.yaml")
	writeConf := func(keys string) {
		os.WriteFile(conf, []byte(`
listen: 127.0.0.1:0
analyzer: `+thresholds+`
pipeline: {drain_timeout: 10s}
intake:
  keys: `+keys+`
moderators:
  tokens: [{name: m, role: lead, sha256: 0b14d501a594442a01c6859541bcb3e8164d183d32937b851835442f69d5c94e}]
clickhouse: {spool_dir: `+spool+`}
state: {dir: `+filepath.Join(dir, "state")+`}
`), 0o600)
	}
	writeConf("[{id: k1, env: RONDA_TEST_SECRET}]")
	cmd := exec.Command(ronda(t), "serve", "--config", conf)
	cmd.Env = append(os.Environ(), "RONDA_TEST_SECRET="+secret1)
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

	n := 0
	post := func(key, secret string) int {
		t.Helper()
		n++
		body := []byte(`{"type":"stream.start","id":"e` + strconv.Itoa(n) + `","at":"` + time.Now().UTC().Format(time.RFC3339) + `","stream_id":"s1","host_id":"h1"}` + "\n")
		req, _ := http.NewRequest(http.MethodPost, "http://"+addr+intake.Path, bytes.NewReader(body))
		wire.Sign(req, key, []byte(secret), body, time.Now())
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := post("k1", secret1); code != http.StatusOK {
		t.Fatalf("intake answered %d", code)
	}
	if code := post("k2", secret2); code != http.StatusUnauthorized {
		t.Fatalf("a key not yet configured answered %d", code)
	}

	// Thresholds changed and the intake key rotated: k1 out, k2 in.
	os.WriteFile(thresholds, []byte("schedule:\n  min_nights: 4\n"), 0o600)
	writeConf("[{id: k2, file: " + filepath.Join(dir, "k2") + "}]")
	cmd.Process.Signal(syscall.SIGHUP)
	waitUntil(t, func() bool { return strings.Contains(stderr.String(), "configuration reloaded") }, "the reload", stderr)
	if !strings.Contains(stderr.String(), "analyzer thresholds changed; intake keys: 1 live, 1 added, 1 removed") {
		t.Errorf("the reload's log line does not say what changed:\n%s", stderr.String())
	}
	if code := post("k1", secret1); code != http.StatusUnauthorized {
		t.Errorf("the removed key answered %d after SIGHUP, want 401", code)
	}
	if code := post("k2", secret2); code != http.StatusOK {
		t.Errorf("the added key answered %d after SIGHUP, want 200", code)
	}

	// A file that does not parse: refused, nothing changes.
	os.WriteFile(thresholds, []byte("schedule: [\n"), 0o600)
	cmd.Process.Signal(syscall.SIGHUP)
	waitUntil(t, func() bool { return strings.Contains(stderr.String(), "reload refused; nothing changed") }, "the refused reload", stderr)
	if code := post("k2", secret2); code != http.StatusOK {
		t.Errorf("the key after a refused reload answered %d, want 200", code)
	}

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
	for _, s := range []string{secret1, secret2} {
		if strings.Contains(stderr.String(), s) {
			t.Error("an intake secret is in the log")
		}
	}
}

// TestServeRefusesExampleToken: a configuration with the example moderator
// token of deploy/serve.yaml does not start outside --demo, and says which
// token to replace.
func TestServeRefusesExampleToken(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the binary")
	}
	t.Parallel()
	dir := t.TempDir()
	conf := filepath.Join(dir, "serve.yaml")
	os.WriteFile(conf, []byte(`
listen: 127.0.0.1:0
intake:
  keys: [{id: k1, env: RONDA_TEST_SECRET}]
moderators:
  tokens: [{name: night-lead, role: lead, sha256: e2186dbdb1bb4193608605e84f33208765b5693b55edd4f730a719a100eeea6f}]
clickhouse: {spool_dir: `+filepath.Join(dir, "spool")+`}
`), 0o600)
	cmd := exec.Command(ronda(t), "serve", "--config", conf)
	cmd.Env = append(os.Environ(), "RONDA_TEST_SECRET=test-secret-0123456789abcdef")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	done := make(chan error, 1)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(out.String(), "night-lead") || !strings.Contains(out.String(), "example") {
			t.Errorf("exit %v, output:\n%s\nwant a failure naming night-lead", err, out.String())
		}
	case <-time.After(20 * time.Second):
		cmd.Process.Kill()
		t.Fatalf("still running with the example token:\n%s", out.String())
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
