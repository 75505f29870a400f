package main

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ronda-watch/ronda/sidecar/serve"
	"github.com/ronda-watch/ronda/sidecar/store/chtest"
)

// systemdUnits are the files of deploy/systemd that systemd-analyze checks.
var systemdUnits = []string{"ronda.service", "ronda-retention.service", "ronda-retention.timer"}

// maxExposure is the highest systemd-analyze security score (0 safest, 10
// unsafe) a service of deploy/systemd may reach; the README quotes the score.
const maxExposure = 2.0

// systemdAnalyze returns the path of systemd-analyze, skipping the test
// without it except under CI=true.
func systemdAnalyze(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("systemd-analyze")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("systemd-analyze is required under CI=true (Debian package systemd): %v", err)
		}
		t.Skip("systemd-analyze not installed (Debian package systemd)")
	}
	return p
}

// installedUnits copies deploy/systemd's units into a temporary directory with
// /usr/local/bin/ronda replaced by a freshly built binary, since verify checks
// that every command exists.
func installedUnits(t *testing.T) string {
	t.Helper()
	bin := ronda(t)
	dir := t.TempDir()
	for _, name := range systemdUnits {
		b, err := os.ReadFile(filepath.Join("..", "..", "deploy", "systemd", name))
		if err != nil {
			t.Fatal(err)
		}
		unit := strings.ReplaceAll(string(b), "/usr/local/bin/ronda", bin)
		if err := os.WriteFile(filepath.Join(dir, name), []byte(unit), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// TestSystemdUnitsVerify runs systemd-analyze verify on the units and fails on
// anything it says about them (lines about other units of the host are not
// theirs and are ignored).
func TestSystemdUnitsVerify(t *testing.T) {
	analyze := systemdAnalyze(t)
	dir := installedUnits(t)
	cmd := exec.Command(analyze, append([]string{"verify", "--man=no"}, systemdUnits...)...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	var ours []string
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		for _, name := range systemdUnits {
			if strings.Contains(line, name) {
				ours = append(ours, line)
				break
			}
		}
	}
	if err != nil || len(ours) > 0 {
		t.Fatalf("systemd-analyze verify: %v\n%s", err, strings.Join(ours, "\n"))
	}
}

// TestSystemdUnitsSecurity scores each service's sandbox offline and keeps it
// at or below maxExposure.
func TestSystemdUnitsSecurity(t *testing.T) {
	analyze := systemdAnalyze(t)
	if out, _ := exec.Command(analyze, "security", "--help").CombinedOutput(); !strings.Contains(string(out), "--offline") {
		t.Skip("this systemd-analyze has no security --offline (systemd before 250)")
	}
	dir := installedUnits(t)
	score := regexp.MustCompile(`Overall exposure level for (\S+): ([0-9.]+)`)
	for _, name := range []string{"ronda.service", "ronda-retention.service"} {
		cmd := exec.Command(analyze, "security", "--offline=true", "--no-pager", name)
		cmd.Dir = dir
		out, _ := cmd.CombinedOutput()
		m := score.FindStringSubmatch(string(out))
		if m == nil {
			t.Fatalf("%s: no exposure score in:\n%s", name, out)
		}
		v, err := strconv.ParseFloat(m[2], 64)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%s: exposure %.1f", name, v)
		if v > maxExposure {
			t.Errorf("%s: exposure %.1f above %.1f:\n%s", name, v, maxExposure, out)
		}
	}
}

// unitSettings reads the Key=Value lines of a unit file in order.
func unitSettings(t *testing.T, name string) [][2]string {
	t.Helper()
	f, err := os.Open(filepath.Join("..", "..", "deploy", "systemd", name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var kv [][2]string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, "[") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			t.Fatalf("%s: not Key=Value: %q", name, line)
		}
		kv = append(kv, [2]string{k, v})
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return kv
}

// TestSystemdServiceMatchesServe keeps ronda.service agreeing with ronda serve:
// it waits longer than the documented drain timeout, reloads with SIGHUP, and
// its environment names variables serve reads and puts the state, the record's
// spool and the edge's spool on the persistent StateDirectory.
func TestSystemdServiceMatchesServe(t *testing.T) {
	settings := unitSettings(t, "ronda.service")
	get := func(key string) string {
		for _, kv := range settings {
			if kv[0] == key {
				return kv[1]
			}
		}
		t.Fatalf("ronda.service has no %s=", key)
		return ""
	}
	if got := get("ExecReload"); got != "/bin/kill -HUP $MAINPID" {
		t.Errorf("ExecReload=%s: SIGHUP is ronda's reload", got)
	}
	if got := get("KillSignal"); got != "SIGTERM" {
		t.Errorf("KillSignal=%s: SIGTERM is ronda's graceful stop", got)
	}
	if got := get("StateDirectory"); got != "ronda" {
		t.Errorf("StateDirectory=%s, want ronda", got)
	}

	const stateDir = "/var/lib" // %S for a system service
	env := map[string]string{}
	for _, kv := range settings {
		if kv[0] != "Environment" {
			continue
		}
		k, v, _ := strings.Cut(kv[1], "=")
		env[k] = strings.ReplaceAll(v, "%S", stateDir)
	}
	known := map[string]bool{"XDG_CACHE_HOME": true, "HOME": true}
	for _, e := range serve.Env {
		known[e.Name] = true
	}
	for k := range env {
		if !known[k] {
			t.Errorf("ronda.service sets %s, which ronda serve does not read", k)
		}
	}
	t.Setenv("XDG_CACHE_HOME", env["XDG_CACHE_HOME"])
	cfg, err := serve.LoadConfig(filepath.Join("..", "..", "deploy", "serve.yaml"), func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	for what, dir := range map[string]string{"state.dir": cfg.State.Dir,
		"clickhouse.spool_dir": cfg.ClickHouse.SpoolDir, "edge.spool_dir": cfg.Edge.SpoolDir} {
		if !strings.HasPrefix(dir, stateDir+"/ronda/") {
			t.Errorf("%s = %s: not under StateDirectory %s/ronda", what, dir, stateDir)
		}
	}

	stop, err := time.ParseDuration(get("TimeoutStopSec"))
	if err != nil {
		t.Fatalf("TimeoutStopSec: %v", err)
	}
	// The drain, then closing the writers and the final checkpoint.
	if min := cfg.Pipeline.DrainTimeout + 10*time.Second; stop < min {
		t.Errorf("TimeoutStopSec=%s: below drain_timeout %s plus 10s for the writers and checkpoint", stop, cfg.Pipeline.DrainTimeout)
	}
}

// TestSystemdRetentionDSNFromEnvironment: ronda-retention.service passes no
// DSN on its command line (migrate reads RONDA_CLICKHOUSE_DSN from the
// EnvironmentFile), and its command, run as systemd would run it with the
// example environment file pointed at a real ClickHouse, migrates.
func TestSystemdRetentionDSNFromEnvironment(t *testing.T) {
	var exec0, envFile string
	for _, kv := range unitSettings(t, "ronda-retention.service") {
		switch kv[0] {
		case "ExecStart":
			exec0 = kv[1]
		case "EnvironmentFile":
			envFile = kv[1]
		}
	}
	if strings.Contains(exec0, "--clickhouse") || strings.Contains(exec0, "RONDA_CLICKHOUSE_DSN") {
		t.Errorf("ExecStart=%s puts the DSN on the command line", exec0)
	}
	if envFile != "/etc/ronda/retention.env" {
		t.Errorf("EnvironmentFile=%s, want /etc/ronda/retention.env (retention.env.example)", envFile)
	}
	example, err := os.ReadFile(filepath.Join("..", "..", "deploy", "systemd", "retention.env.example"))
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{}
	for line := range strings.Lines(string(example)) {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, _ := strings.Cut(line, "=")
		env[k] = v
	}
	if env["RONDA_CLICKHOUSE_DSN"] == "" || env["RONDA_RETENTION_DAYS"] == "" {
		t.Fatalf("retention.env.example sets %v, want RONDA_CLICKHOUSE_DSN and RONDA_RETENTION_DAYS", env)
	}

	if !chtest.Available() {
		chtest.SkipOrFail(t)
	}
	ch := chtest.Start(t)
	env["RONDA_CLICKHOUSE_DSN"] = ch.DSN()
	// systemd's ${VAR} expansion, then its word splitting.
	args := strings.Fields(os.Expand(exec0, func(k string) string { return env[k] }))
	if args[0] != "/usr/local/bin/ronda" {
		t.Fatalf("ExecStart runs %s, want /usr/local/bin/ronda", args[0])
	}
	cmd := exec.Command(ronda(t), args[1:]...)
	cmd.Env = []string{"PATH=/usr/bin:/bin"}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "database ronda: applied migrations") {
		t.Fatalf("ExecStart as systemd runs it: %v\n%s", err, out)
	}
}
