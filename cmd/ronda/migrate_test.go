package main

import (
	"bytes"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/ronda-watch/ronda/sidecar/store/chtest"
)

// migrateWith runs `ronda migrate args...` with RONDA_CLICKHOUSE_DSN set to
// dsn (unset when empty).
func migrateWith(t *testing.T, dsn string, args ...string) result {
	t.Helper()
	cmd := exec.Command(ronda(t), append([]string{"migrate"}, args...)...)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "RONDA_CLICKHOUSE_DSN=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	if dsn != "" {
		cmd.Env = append(cmd.Env, "RONDA_CLICKHOUSE_DSN="+dsn)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		if _, ok := err.(*exec.ExitError); !ok {
			t.Fatal(err)
		}
	}
	return result{code: cmd.ProcessState.ExitCode(), stdout: stdout.String(), stderr: stderr.String()}
}

// TestMigrateDSNFromEnv: without --clickhouse, migrate reads the DSN from
// RONDA_CLICKHOUSE_DSN (so a systemd unit or a Kubernetes job keeps the
// password off the command line); without either it is a usage error; a
// server that does not answer is an error that does not show the password.
func TestMigrateDSNFromEnv(t *testing.T) {
	r := migrateWith(t, "")
	if r.code != 2 || !strings.Contains(r.stderr, "RONDA_CLICKHOUSE_DSN") {
		t.Errorf("no DSN: exit %d, stderr %q; want 2 naming RONDA_CLICKHOUSE_DSN", r.code, r.stderr)
	}

	const pw = "s3cret-pw-0123"
	port := chtest.FreePort(t) // nothing listens there
	r = migrateWith(t, "clickhouse://ronda:"+pw+"@127.0.0.1:"+itoa(port)+"/default?dial_timeout=2s", "--retention-days", "30")
	if r.code != 1 || !strings.Contains(r.stderr, "127.0.0.1:"+itoa(port)) {
		t.Errorf("unreachable server from the environment: exit %d, stderr %q; want 1 naming the address", r.code, r.stderr)
	}
	if strings.Contains(r.stderr+r.stdout, pw) {
		t.Errorf("migrate wrote the DSN's password: %s", r.stderr)
	}

	if !chtest.Available() {
		chtest.SkipOrFail(t)
	}
	ch := chtest.Start(t)
	r = migrateWith(t, ch.DSN(), "--retention-days", "30")
	if r.code != 0 || !strings.Contains(r.stdout, "database ronda: applied migrations") {
		t.Fatalf("migrate with RONDA_CLICKHOUSE_DSN: exit %d\nstdout %s\nstderr %s", r.code, r.stdout, r.stderr)
	}
	if n := count(t, ch, "SELECT count() FROM system.tables WHERE database = 'ronda' AND name = 'stream_sessions'"); n != 1 {
		t.Errorf("stream_sessions not created by migrate from the environment (%d)", n)
	}
	// The flag wins over the environment.
	r = migrateWith(t, "clickhouse://ronda:"+pw+"@127.0.0.1:"+itoa(port)+"/default", "--clickhouse", ch.DSN())
	if r.code != 0 {
		t.Errorf("--clickhouse beside an unreachable RONDA_CLICKHOUSE_DSN: exit %d\n%s", r.code, r.stderr)
	}
}
