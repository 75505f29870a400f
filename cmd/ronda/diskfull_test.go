package main

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestCheckpointDiskFull: the state directory on a real filesystem that
// fills up (a 4 MiB tmpfs in a user and mount namespace of its own): a
// checkpoint that cannot be written is logged and counted, the previous one
// stays whole, intake answers busy rather than accept what it cannot log, and
// once there is room again the service goes on as before, without a restart.
func TestCheckpointDiskFull(t *testing.T) {
	if testing.Short() {
		t.Skip("starts the binary")
	}
	if out, err := exec.Command("unshare", "-rm", "true").CombinedOutput(); err != nil {
		t.Skipf("no user namespaces here (unshare -rm: %v %s): the disk-full test needs a tmpfs of its own", err, out)
	}
	bin := ronda(t)
	dir := t.TempDir()
	world := filepath.Join(dir, "world.ndjson")
	runRonda(t, 30*time.Second, bin, nil, "simulate", "--seed", "3", "--days", "4", "--hosts", "30", "--rings", "1", "--out", world)
	lines, _ := readWorld(t, world)
	state := filepath.Join(dir, "state")
	os.MkdirAll(state, 0o700)
	conf := restartConfig(t, dir, "")
	// The tmpfs is mounted over the state directory inside the namespace;
	// unshare execs sh, which execs ronda, so the pid is ronda's.
	p := startServeArgs(t, "unshare", "-rm", "sh", "-c", `mount -t tmpfs -o size=4m,mode=0700 tmpfs "$1" && shift && exec "$@"`,
		"sh", state, bin, "serve", "--config", conf)
	// What ronda sees of its state directory, from outside its namespace.
	inside := filepath.Join("/proc", itoa(p.cmd.Process.Pid), "root", state)

	for i := 0; i < 4000 && i < len(lines); i += 500 {
		if !post(p.addr, bytes.Join(lines[i:min(i+500, len(lines))], nil)) {
			t.Fatalf("batch %d refused before the disk filled", i/500)
		}
	}
	p.cmd.Process.Signal(syscall.SIGUSR1)
	waitUntil(t, func() bool { return strings.Count(p.stderr.String(), "checkpoint written") == 1 }, "the first checkpoint", p.stderr)
	ckpts, _ := filepath.Glob(filepath.Join(inside, "checkpoint-*.ckpt"))
	if len(ckpts) != 1 {
		t.Fatalf("checkpoints %v", ckpts)
	}
	before, _ := os.ReadFile(ckpts[0])

	// Fill the filesystem.
	filler := filepath.Join(inside, "filler")
	f, err := os.Create(filler)
	if err != nil {
		t.Fatal(err)
	}
	chunk := make([]byte, 64<<10)
	for {
		if _, err := f.Write(chunk); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatalf("filling the tmpfs: %v", err)
			}
			break
		}
	}
	f.Close()
	// Intake cannot log: busy, nothing taken.
	body := bytes.Join(lines[4000:4500], nil)
	if post(p.addr, body) {
		t.Fatal("a batch was answered 200 with the disk full")
	}
	p.cmd.Process.Signal(syscall.SIGUSR1)
	waitUntil(t, func() bool { return strings.Contains(p.stderr.String(), "checkpoint failed") }, "the failed checkpoint", p.stderr)
	if !strings.Contains(p.stderr.String(), "no space left on device") {
		t.Errorf("the failure does not say the disk is full:\n%s", p.stderr.String())
	}
	if m := scrape(t, p.addr); !strings.Contains(m, `ronda_state_checkpoints_total{result="error"} 1`) ||
		!strings.Contains(m, `ronda_pipeline_events_total{outcome="log_error"}`) {
		t.Errorf("metrics do not count the failures:\n%s", grepLines(m, "ronda_state_checkpoints_total", "log_error"))
	}
	now, _ := filepath.Glob(filepath.Join(inside, "checkpoint-*.ckpt"))
	after, _ := os.ReadFile(now[0])
	if len(now) != 1 || !bytes.Equal(after, before) {
		t.Fatalf("the previous checkpoint was not kept whole: %v", now)
	}
	if tmps, _ := filepath.Glob(filepath.Join(inside, ".tmp-*")); len(tmps) != 0 {
		t.Errorf("temporary files left: %v", tmps)
	}

	// Room again: the same process takes events and checkpoints.
	os.Remove(filler)
	deadline := time.Now().Add(10 * time.Second)
	for !post(p.addr, body) {
		if time.Now().After(deadline) {
			t.Fatalf("intake still refuses with room on the disk:\n%s", p.stderr.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	p.cmd.Process.Signal(syscall.SIGUSR1)
	waitUntil(t, func() bool { return strings.Count(p.stderr.String(), "checkpoint written") == 2 }, "a checkpoint with room again", p.stderr)
	p.stop(t, syscall.SIGTERM)
}

func scrape(t *testing.T, addr string) string {
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

func grepLines(s string, subs ...string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		for _, sub := range subs {
			if strings.Contains(l, sub) {
				out = append(out, l)
			}
		}
	}
	return strings.Join(out, "\n")
}

func itoa(n int) string { return strconv.Itoa(n) }
