package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http/httptest"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/ronda-watch/ronda/analyzer/event"
	"github.com/ronda-watch/ronda/sidecar/intake"
	"github.com/ronda-watch/ronda/sidecar/simulate"
)

var liveSecret = "simulate-live-test-secret-0123"

// environ is the test's environment without the intake secret, plus extra.
func environ(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, intakeSecretEnv+"=") {
			env = append(env, kv)
		}
	}
	return append(env, extra...)
}

// exeEnv runs the binary in dir with args and the environment env.
func exeEnv(t *testing.T, dir string, env []string, args ...string) result {
	t.Helper()
	cmd := exec.Command(ronda(t), args...)
	cmd.Dir, cmd.Env = dir, env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatalf("run ronda %v: %v", args, err)
	}
	return result{code: cmd.ProcessState.ExitCode(), stdout: stdout.String(), stderr: stderr.String()}
}

// liveIntake is a real intake on loopback that counts the ids it takes.
type liveIntake struct {
	srv *httptest.Server
	mu  sync.Mutex
	ids map[string]int
}

func newLiveIntake(t *testing.T) *liveIntake {
	t.Helper()
	li := &liveIntake{ids: map[string]int{}}
	h, err := intake.NewHandler(intake.Options{
		Keys: map[string][]byte{"demo": []byte(liveSecret)},
		Sink: func(_ context.Context, evs []event.Event) error {
			li.mu.Lock()
			defer li.mu.Unlock()
			for _, ev := range evs {
				li.ids[ev.ID]++
			}
			return nil
		},
		RateEvents: -1,
		Logger:     slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	li.srv = httptest.NewServer(h)
	t.Cleanup(li.srv.Close)
	return li
}

func TestSimulateLive(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	li := newLiveIntake(t)
	world := []string{"--days", "1", "--hosts", "10", "--rings", "1", "--start", "2025-06-01"}
	live := append([]string{"simulate", "--live", "--url", li.srv.URL, "--speed", "1e12", "--labels", "labels.json"}, world...)

	r := exeEnv(t, dir, environ(intakeSecretEnv+"="+liveSecret), live...)
	r.want(t, 0, []string{"playing a 1-day world", "this world has 1 ring: hosts ", "fed ", " 0 duplicates, 0 rejected"}, nil)

	var want []string
	_, _, err := simulate.Generate(context.Background(), simulate.Options{Seed: 1, Days: 1, Hosts: 10, Rings: 1}, func(e *event.Event) error {
		want = append(want, e.ID)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	li.mu.Lock()
	if len(li.ids) != len(want) {
		t.Errorf("the intake took %d ids; the world has %d", len(li.ids), len(want))
	}
	for _, id := range want {
		if li.ids[id] != 1 {
			t.Errorf("event %s taken %d times", id, li.ids[id])
			break
		}
	}
	li.mu.Unlock()
	if !strings.Contains(r.stdout, "fed "+strconv.Itoa(len(want))+" events") {
		t.Errorf("summary does not count %d events:\n%s", len(want), r.stdout)
	}
	if st, err := os.Stat(dir + "/labels.json"); err != nil || st.Size() == 0 {
		t.Errorf("--labels not written: %v", err)
	}

	// The same world again, at once: the intake has its events already (but
	// for the account events older than its dedup window of a day).
	exeEnv(t, dir, environ(intakeSecretEnv+"="+liveSecret), live...).
		want(t, 0, []string{"fed " + strconv.Itoa(len(want)) + " events"}, []string{"already has some of these events"})

	tests := []struct {
		name           string
		env            []string
		args           []string
		code           int
		stdout, stderr []string
	}{
		{"missing secret", environ(), live, 2, nil, []string{intakeSecretEnv, "not a flag"}},
		{"wrong secret", environ(intakeSecretEnv + "=not-the-secret-0123456789"), live, 1, nil,
			[]string{`intake refused the key \"demo\"`, "signature does not match"}},
		{"short secret", environ(intakeSecretEnv + "=short"), live, 2, nil, []string{"secret shorter than 16 bytes"}},
		{"out and live", environ(), []string{"simulate", "--live", "--out", "x"}, 2, nil, []string{"--out and --live"}},
		{"zero speed", environ(), []string{"simulate", "--live", "--speed", "0"}, 2, nil, []string{"--speed 0: must be positive"}},
		{"speed without live", environ(), []string{"simulate", "--out", "x", "--speed", "60"}, 2, nil, []string{"--speed needs --live"}},
		{"help tells where the secret is", environ(), []string{"simulate", "-h"}, 0, nil, []string{"-live", intakeSecretEnv, "flags\nshow in ps"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			exeEnv(t, dir, tt.env, tt.args...).want(t, tt.code, tt.stdout, tt.stderr)
		})
	}
}

// TestSimulateLiveInterrupt: an unreachable intake is said once and retried
// until Ctrl-C.
func TestSimulateLiveInterrupt(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()

	cmd := exec.Command(ronda(t), "simulate", "--live", "--url", "http://"+addr, "--days", "1", "--hosts", "10", "--speed", "1e12")
	cmd.Env = environ(intakeSecretEnv + "=" + liveSecret)
	var stdout bytes.Buffer
	cmd.Stdout = &stdout
	pipe, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	sc := bufio.NewScanner(pipe)
	for sc.Scan() {
		stderr.WriteString(sc.Text() + "\n")
		if strings.Contains(sc.Text(), "intake unreachable") {
			break
		}
	}
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	rest, _ := io.ReadAll(pipe)
	stderr.Write(rest)
	err = cmd.Wait()
	var ee *exec.ExitError
	if !errors.As(err, &ee) {
		t.Fatalf("wait: %v", err)
	}
	r := result{code: ee.ExitCode(), stdout: stdout.String(), stderr: stderr.String()}
	r.want(t, 1, []string{"fed 0 events"}, []string{"intake unreachable", "Ctrl-C stops", "interrupted"})
	if n := strings.Count(r.stderr, "intake unreachable"); n != 1 {
		t.Errorf("the outage was logged %d times; want once:\n%s", n, r.stderr)
	}
}
