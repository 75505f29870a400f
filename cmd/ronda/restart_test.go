package main

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ronda-watch/ronda/sidecar/intake"
	"github.com/ronda-watch/ronda/sidecar/intake/wire"
	"github.com/ronda-watch/ronda/sidecar/store"
)

const restartSecret = "restart-secret-0123456789abcdef"

// serveProc is one `ronda serve` process of a restart test.
type serveProc struct {
	cmd    *exec.Cmd
	stderr *syncBuffer
	addr   string
	done   chan struct{} // closed when the process has ended
	err    error         // its Wait error, once done
}

// startServeBin starts the binary on conf and waits until it serves.
func startServeBin(t *testing.T, bin, conf string) *serveProc {
	t.Helper()
	return startServeArgs(t, bin, "serve", "--config", conf)
}

// startServeArgs starts argv (the binary's serve, or a wrapper that runs it).
func startServeArgs(t *testing.T, argv ...string) *serveProc {
	t.Helper()
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), "RONDA_TEST_SECRET="+restartSecret)
	p := &serveProc{cmd: cmd, stderr: &syncBuffer{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p.stderr, p.stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.err = cmd.Wait(); close(p.done) }()
	t.Cleanup(func() { cmd.Process.Kill(); <-p.done })
	addrRE := regexp.MustCompile(`msg="ronda serving".* addr=(\S+)`)
	deadline := time.Now().Add(60 * time.Second)
	for {
		if m := addrRE.FindStringSubmatch(p.stderr.String()); m != nil {
			p.addr = m[1]
			return p
		}
		select {
		case <-p.done:
			t.Fatalf("serve ended at start (%v):\n%s", p.err, p.stderr.String())
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve did not start in 60s:\n%s", p.stderr.String())
		}
	}
}

// stop ends the process with sig and waits for it.
func (p *serveProc) stop(t *testing.T, sig syscall.Signal) {
	t.Helper()
	p.cmd.Process.Signal(sig)
	<-p.done
	err := p.err
	if sig == syscall.SIGTERM && err != nil {
		t.Fatalf("exit after SIGTERM: %v\n%s", err, p.stderr.String())
	}
	if sig == syscall.SIGKILL {
		if ws, ok := p.cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || !ws.Signaled() {
			t.Fatalf("process ended before the kill: %v\n%s", err, p.stderr.String())
		}
	}
}

// restartConfig writes a serve config whose state and spool live in dir.
// Idle advance (by wall time) is off, so that what the analyzer decides
// depends on the events and their order only.
func restartConfig(t *testing.T, dir, extra string) string {
	t.Helper()
	conf := filepath.Join(dir, "serve.yaml")
	os.WriteFile(conf, []byte(`
listen: 127.0.0.1:0
pipeline: {advance_every: 10000h, drain_timeout: 20s}
intake:
  keys: [{id: k1, env: RONDA_TEST_SECRET}]
  rate_events: -1
moderators:
  tokens: [{name: m, role: lead, sha256: 0000000000000000000000000000000000000000000000000000000000000001}]
clickhouse: {spool_dir: `+filepath.Join(dir, "spool")+`}
state: {dir: `+filepath.Join(dir, "state")+`, checkpoint_every: 1s`+extra+`}
`), 0o600)
	return conf
}

// post sends one signed batch; ok means answered 200 (accepted or duplicates).
func post(addr string, body []byte) (ok bool) {
	req, err := http.NewRequest(http.MethodPost, "http://"+addr+intake.Path, bytes.NewReader(body))
	if err != nil {
		return false
	}
	wire.Sign(req, "k1", []byte(restartSecret), body, time.Now())
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// feedWorld sends lines in batches, one at a time, each until it is answered
// 200. Before batch i of restartAt, restart(i) is called from another
// goroutine after a short random delay, so that the stop lands between or in
// the middle of requests; the sender retries through it.
func feedWorld(t *testing.T, lines [][]byte, batch int, addr func() string, restartAt map[int]bool, restart func(), seed uint64) {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 7))
	done := make(chan struct{}, 1)
	for i, n := 0, 0; i < len(lines); i, n = i+batch, n+1 {
		if restartAt[n] {
			delay := time.Duration(rng.IntN(3000)) * time.Microsecond
			go func() { time.Sleep(delay); restart(); done <- struct{}{} }()
		}
		body := bytes.Join(lines[i:min(i+batch, len(lines))], nil)
		deadline := time.Now().Add(60 * time.Second)
		for !post(addr(), body) {
			if time.Now().After(deadline) {
				t.Fatalf("batch %d not taken in 60s", n)
			}
			time.Sleep(20 * time.Millisecond)
		}
		if restartAt[n] {
			<-done // the next restart waits for this one
		}
	}
}

// spooledAlerts reads every alert version the writer spooled in dir (copied
// first): each row as canonical JSON without its ingestion time, distinct.
func spooledAlerts(t *testing.T, src string) []string {
	t.Helper()
	set := map[string]bool{}
	drainSpoolCopy(t, src, t.TempDir(), func(table string, raw json.RawMessage) error {
		var rows []map[string]any
		if err := json.Unmarshal(raw, &rows); err != nil {
			return err
		}
		if table != store.TableAlerts {
			return nil
		}
		for _, r := range rows {
			delete(r, "ingested")
			j, _ := json.Marshal(r)
			set[string(j)] = true
		}
		return nil
	})
	out := make([]string, 0, len(set))
	for k := range set {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// TestRestartEquivalence: a world fed into `ronda serve` that is killed -9
// (or stopped with SIGTERM) at 5 seeded random moments and restarted each time
// with the same directories raises exactly the alert versions (ids, versions,
// severities, entities, reasons, times) of an uninterrupted run.
func TestRestartEquivalence(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the binary a dozen times")
	}
	bin := ronda(t)
	dir := t.TempDir()
	world := filepath.Join(dir, "world.ndjson")
	runRonda(t, 30*time.Second, bin, nil, "simulate", "--seed", "11", "--days", "10", "--hosts", "40", "--rings", "2", "--out", world)
	lines, _ := readWorld(t, world)
	const batch = 200
	batches := (len(lines) + batch - 1) / batch

	run := func(t *testing.T, sig syscall.Signal, kills int, seed uint64) []string {
		d := t.TempDir()
		conf := restartConfig(t, d, "")
		p := startServeBin(t, bin, conf)
		rng := rand.New(rand.NewPCG(seed, 1))
		at := map[int]bool{}
		for len(at) < kills {
			at[1+rng.IntN(batches-2)] = true
		}
		restarts, replayed, restored := 0, 0, 0
		count := func(p *serveProc) {
			if strings.Contains(p.stderr.String(), "intake log replayed") {
				replayed++
			}
			if strings.Contains(p.stderr.String(), "state restored from checkpoint") {
				restored++
			}
		}
		cur := p
		addr := make(chan string, 1)
		addr <- p.addr
		getAddr := func() string { a := <-addr; addr <- a; return a }
		feedWorld(t, lines, batch, getAddr, at, func() {
			if sig == syscall.SIGKILL {
				// A checkpoint on demand just before the kill: done, or
				// cut short by it (the previous one then serves).
				cur.cmd.Process.Signal(syscall.SIGUSR1)
				time.Sleep(time.Duration(rng.IntN(150)) * time.Millisecond)
			}
			cur.stop(t, sig)
			count(cur)
			cur = startServeBin(t, bin, conf)
			<-addr
			addr <- cur.addr
			restarts++
		}, seed)
		cur.stop(t, syscall.SIGTERM)
		count(cur)
		if restarts != kills {
			t.Fatalf("%d restarts, want %d", restarts, kills)
		}
		t.Logf("%d batches of %d lines, %d restarts (%v): %d starts restored a checkpoint, %d replayed the log",
			batches, batch, restarts, sig, restored, replayed)
		switch {
		case kills > 0 && sig == syscall.SIGKILL && replayed == 0:
			t.Errorf("no start after a kill replayed the intake log")
		case kills > 0 && sig == syscall.SIGTERM && restored < kills:
			t.Errorf("%d starts after a graceful stop restored its checkpoint, want %d", restored, kills)
		}
		return spooledAlerts(t, filepath.Join(d, "spool"))
	}

	want := run(t, syscall.SIGTERM, 0, 1)
	if len(want) < 3 {
		t.Fatalf("the uninterrupted run raised %d alert versions; the world should give several", len(want))
	}
	t.Logf("uninterrupted: %d alert versions", len(want))
	for _, tc := range []struct {
		name string
		sig  syscall.Signal
		seed uint64
	}{{"kill", syscall.SIGKILL, 42}, {"sigterm", syscall.SIGTERM, 43}} {
		t.Run(tc.name, func(t *testing.T) {
			got := run(t, tc.sig, 5, tc.seed)
			if !slices.Equal(got, want) {
				t.Errorf("alert versions differ from the uninterrupted run: %d vs %d", len(got), len(want))
				for _, g := range got {
					if !slices.Contains(want, g) {
						t.Logf("extra:   %s", g)
					}
				}
				for _, w := range want {
					if !slices.Contains(got, w) {
						t.Logf("missing: %s", w)
					}
				}
			}
		})
	}
}
