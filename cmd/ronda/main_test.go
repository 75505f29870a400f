package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/ronda-watch/ronda/sidecar/spool"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// ronda builds the binary once for all tests, into a directory removed at the end.
func ronda(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		gobin, err := exec.LookPath("go")
		if err != nil {
			buildErr = err
			return
		}
		dir, err := os.MkdirTemp("", "ronda-bin-")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "ronda")
		out, err := exec.Command(gobin, "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			buildErr = errors.New(string(out))
		}
	})
	if buildErr != nil {
		t.Fatalf("build ronda: %v", buildErr)
	}
	return binPath
}

func TestMain(m *testing.M) {
	code := m.Run()
	if binPath != "" {
		_ = os.RemoveAll(filepath.Dir(binPath))
	}
	os.Exit(code)
}

type result struct {
	code           int
	stdout, stderr string
}

// exe runs the binary in dir with args.
func exe(t *testing.T, dir string, args ...string) result {
	t.Helper()
	cmd := exec.Command(ronda(t), args...)
	cmd.Dir = dir
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		t.Fatalf("run ronda %v: %v", args, err)
	}
	return result{code: cmd.ProcessState.ExitCode(), stdout: stdout.String(), stderr: stderr.String()}
}

func (r result) want(t *testing.T, code int, stdout, stderr []string) {
	t.Helper()
	if r.code != code {
		t.Errorf("exit code %d; want %d\nstdout:\n%s\nstderr:\n%s", r.code, code, r.stdout, r.stderr)
	}
	for _, s := range stdout {
		if !strings.Contains(r.stdout, s) {
			t.Errorf("stdout lacks %q:\n%s", s, r.stdout)
		}
	}
	for _, s := range stderr {
		if !strings.Contains(r.stderr, s) {
			t.Errorf("stderr lacks %q:\n%s", s, r.stderr)
		}
	}
}

func TestSimulateThenReplay(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	exe(t, dir, "simulate", "--seed", "3", "--days", "2", "--hosts", "40", "--rings", "1",
		"--out", "world.ndjson.gz", "--labels", "labels.json").
		want(t, 0, nil, []string{"simulated", "events", "streams"})
	for _, f := range []string{"world.ndjson.gz", "labels.json"} {
		if st, err := os.Stat(filepath.Join(dir, f)); err != nil || st.Size() == 0 {
			t.Fatalf("simulate did not write %s: %v", f, err)
		}
	}
	if m, _ := filepath.Glob(filepath.Join(dir, ".*.tmp")); len(m) > 0 {
		t.Errorf("temporary files left behind: %v", m)
	}

	exe(t, dir, "replay", "--in", "world.ndjson.gz", "--labels", "labels.json", "--out", "alerts.ndjson", "--rejects", "rejects.ndjson").
		want(t, 0, []string{"events ", "analysed", "alerts ", "backtest", "hosts     recall", "alerts per 1,000 streams", "goals "}, nil)
	for _, f := range []string{"alerts.ndjson", "rejects.ndjson"} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Errorf("replay did not create %s: %v", f, err)
		}
	}

	// --check gates on the chosen goals: exit 3 exactly when the summary marks
	// one of them FAIL. This small world (62 streams, one alert) misses the
	// project's load goal and meets the ring goals, so the two differ.
	for _, c := range []struct{ goals, fail string }{
		{"project", "goals     FAIL"}, {"ring", "ring goals FAIL"}, {"all", "FAIL"},
	} {
		r := exe(t, dir, "replay", "--in", "world.ndjson.gz", "--labels", "labels.json", "--check", "--goals", c.goals)
		wantCode := 0
		if strings.Contains(r.stdout, c.fail) {
			wantCode = 3
		}
		r.want(t, wantCode, []string{"backtest", "ring goals"}, nil)
		if c.goals == "project" && !strings.Contains(r.stdout, "goals     FAIL") || c.goals == "ring" && strings.Contains(r.stdout, "ring goals FAIL") {
			t.Errorf("the world no longer tells the goals apart (project should fail, ring pass):\n%s", r.stdout)
		}
	}

	// Without labels there is no backtest; alerts on stdout push the summary to stderr.
	r := exe(t, dir, "replay", "--in", "world.ndjson.gz", "--out", "-")
	r.want(t, 0, nil, []string{"events ", "alerts "})
	if strings.Contains(r.stderr, "backtest") {
		t.Errorf("backtest without labels:\n%s", r.stderr)
	}
	for i, line := range strings.Split(strings.TrimSpace(r.stdout), "\n") {
		if line != "" && !strings.HasPrefix(line, `{"id":`) {
			t.Errorf("stdout line %d is not an alert: %q", i+1, line)
		}
	}
}

func TestReplayErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	exe(t, dir, "replay", "--in", "missing.ndjson").want(t, 1, nil, []string{"missing.ndjson"})
	if err := os.WriteFile(filepath.Join(dir, "e.ndjson"), []byte("not json\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "bad.yaml"), []byte("no_such_key: 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	exe(t, dir, "replay", "--in", "e.ndjson", "--config", "bad.yaml").want(t, 1, nil, []string{"no_such_key"})
	exe(t, dir, "replay", "e.ndjson").want(t, 0, []string{"0 analysed of 1 lines", "1 rejected"}, nil)
	if err := os.WriteFile(filepath.Join(dir, "empty.ndjson"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	exe(t, dir, "replay", "--in", "empty.ndjson").want(t, 0, []string{"0 analysed of 0 lines"}, nil)
}

func TestCheckConfig(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	files := map[string]string{
		"good.yaml":     "default_tz: Asia/Makassar\n",
		"empty.yaml":    "",
		"unknown.yaml":  "default_tz: Asia/Jakarta\nnight_start: 20\n",
		"badvalue.yaml": "default_tz: Mars/Olympus_Mons\n",
		"notyaml.yaml":  "default_tz: [\n",
		"edge-ws.yaml":  "role: edge\nnode: e1\nedge: {hub: \"ws://10.0.0.5:8080\", key: {id: e1, env: RONDA_EDGE_KEY}}\n",
		"edge-wss.yaml": "role: edge\nnode: e1\nedge: {hub: \"wss://hub.example:8443\", key: {id: e1, env: RONDA_EDGE_KEY}}\n",
		"serve-bad-analyzer.yaml": "role: edge\nnode: e1\nanalyzer: badvalue.yaml\n" +
			"edge: {hub: \"wss://hub.example:8443\", key: {id: e1, env: RONDA_EDGE_KEY}}\n",
		"serve-good-analyzer.yaml": "role: edge\nnode: e1\nanalyzer: good.yaml\n" +
			"edge: {hub: \"wss://hub.example:8443\", key: {id: e1, env: RONDA_EDGE_KEY}}\n",
		"serve-bad-media.yaml": "role: edge\nnode: e1\nedge: {hub: \"wss://hub.example:8443\", key: {id: e1, env: RONDA_EDGE_KEY}}\n" +
			"media:\n  enabled: true\n  classifier: {url: \"ftp://classifier\", token_env: RONDA_CLASSIFIER_TOKEN}\n" +
			"  janus: {url: \"http://127.0.0.1:8088/janus\", poll_interval: 10ms}\n" +
			"  whep:\n    - {url: \"http://127.0.0.1:8889/s1/whep\"}\n",
		"serve-good-media.yaml": "role: edge\nnode: e1\nedge: {hub: \"wss://hub.example:8443\", key: {id: e1, env: RONDA_EDGE_KEY}}\n" +
			"media:\n  enabled: true\n  classifier: {url: \"https://classifier.internal/v1\", token_file: /run/secrets/classifier}\n" +
			"  janus: {url: \"http://127.0.0.1:8088/janus\", rooms: [1234]}\n" +
			"  whep:\n    - {url: \"http://127.0.0.1:8889/s1/whep\", stream_id: s1, host: h1}\n",
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	deployServe, err := filepath.Abs("../../deploy/serve.yaml")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name           string
		args           []string
		code           int
		stdout, stderr []string
	}{
		{"good", []string{"check-config", "good.yaml"}, 0, []string{"ok\n", "default_tz: Asia/Makassar"}, nil},
		{"empty file is the defaults", []string{"check-config", "empty.yaml"}, 0, []string{"ok\n", "default_tz: Asia/Jakarta"}, nil},
		{"unknown key", []string{"check-config", "unknown.yaml"}, 1, nil, []string{"not ok", "night_start"}},
		{"bad value", []string{"check-config", "badvalue.yaml"}, 1, nil, []string{"not ok", "default_tz"}},
		{"not yaml", []string{"check-config", "notyaml.yaml"}, 1, nil, []string{"not ok"}},
		{"missing file", []string{"check-config", "nope.yaml"}, 1, nil, []string{"nope.yaml"}},
		{"serve: edge over plain ws to a network host", []string{"check-config", "--serve", "edge-ws.yaml"}, 1, nil,
			[]string{"not ok", "edge.hub", "plain ws:// is allowed to a loopback host only; use wss://"}},
		{"serve: edge over wss", []string{"check-config", "--serve", "edge-wss.yaml"}, 0, []string{"ok\n"}, nil},
		{"serve told by its keys", []string{"check-config", "edge-ws.yaml"}, 1, nil, []string{"not ok", "edge.hub"}},
		{"serve with a bad analyzer file", []string{"check-config", "serve-bad-analyzer.yaml"}, 1, nil,
			[]string{"not ok", "badvalue.yaml", "default_tz"}},
		{"serve with a good analyzer file", []string{"check-config", "serve-good-analyzer.yaml"}, 0, []string{"ok\n"}, nil},
		{"serve: bad media sources and classifier", []string{"check-config", "serve-bad-media.yaml"}, 1, nil,
			[]string{"not ok", "media.classifier: url must be an http or https URL", "media.janus: poll_interval 10ms: want at least 100ms",
				"media.whep[0]: stream_id: required"}},
		{"serve: media from janus and whep, classified", []string{"check-config", "serve-good-media.yaml"}, 0, []string{"ok\n"}, nil},
		{"serve: the deployed example", []string{"check-config", "--serve", deployServe}, 0, []string{"ok\n"}, nil},
		{"no file", []string{"check-config"}, 2, nil, []string{"want one configuration file"}},
		{"defaults flag", []string{"check-config", "--defaults"}, 0, []string{"default_tz: Asia/Jakarta"}, nil},
		{"config defaults", []string{"config", "defaults"}, 0, []string{"default_tz: Asia/Jakarta"}, nil},
		{"config without defaults", []string{"config"}, 2, nil, []string{"ronda config defaults"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			exe(t, dir, tt.args...).want(t, tt.code, tt.stdout, tt.stderr)
		})
	}
}

// TestDefaultsRoundTrip: what 'config defaults' prints, check-config accepts.
func TestDefaultsRoundTrip(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	r := exe(t, dir, "config", "defaults")
	r.want(t, 0, nil, nil)
	if err := os.WriteFile(filepath.Join(dir, "ronda.yaml"), []byte(r.stdout), 0o644); err != nil {
		t.Fatal(err)
	}
	got := exe(t, dir, "check-config", "ronda.yaml")
	got.want(t, 0, []string{"ok\n"}, nil)
	strip := func(s string) string {
		var keep []string
		for _, l := range strings.Split(s, "\n") {
			if !strings.HasPrefix(l, "#") && l != "ok" {
				keep = append(keep, l)
			}
		}
		return strings.Join(keep, "\n")
	}
	if strip(got.stdout) != strip(r.stdout) {
		t.Errorf("effective config differs from the defaults it was given:\n%s\nwant\n%s", got.stdout, r.stdout)
	}
}

func TestUsage(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	tests := []struct {
		name           string
		args           []string
		code           int
		stdout, stderr []string
	}{
		{"no command", nil, 2, nil, []string{"usage: ronda <command>"}},
		{"unknown command", []string{"serve-all"}, 2, nil, []string{`unknown command "serve-all"`}},
		{"help", []string{"help"}, 0, []string{"commands:", "replay", "simulate", "demo", "check-config", "examples:"}, nil},
		{"replay -h", []string{"replay", "-h"}, 0, nil, []string{"usage: ronda replay", "-labels", "examples:"}},
		{"simulate --help", []string{"simulate", "--help"}, 0, nil, []string{"usage: ronda simulate", "-seed", "examples:"}},
		{"replay without input", []string{"replay"}, 2, nil, []string{"--in is required"}},
		{"replay unknown flag", []string{"replay", "--in", "x", "--fast"}, 2, nil, []string{"-fast"}},
		{"replay check without labels", []string{"replay", "--in", "x", "--check"}, 2, nil, []string{"--check needs --labels"}},
		{"replay bad duration", []string{"replay", "--in", "x", "--lateness", "soon"}, 2, nil, []string{"lateness"}},
		{"replay unknown strip field", []string{"replay", "--in", "x", "--strip", "device,phone"}, 2, nil, []string{"strip: unknown field \"phone\""}},
		{"replay unknown goals", []string{"replay", "--in", "x", "--goals", "some"}, 2, nil, []string{"--goals \"some\": want project, ring or all"}},
		{"simulate without out", []string{"simulate"}, 2, nil, []string{"--out is required"}},
		{"simulate bad start", []string{"simulate", "--out", "x", "--start", "June"}, 2, nil, []string{"--start"}},
		{"export-aggregates -h", []string{"export-aggregates", "-h"}, 0, nil, []string{"usage: ronda export-aggregates", "agg_daily_outcomes", "-format"}},
		{"export-aggregates without range", []string{"export-aggregates", "--clickhouse", "x"}, 2, nil, []string{"--from and --to are required"}},
		{"export-aggregates bad format", []string{"export-aggregates", "--clickhouse", "x", "--from", "2025-01-01", "--to", "2025-01-31", "--format", "xlsx", "--out", "d"}, 2, nil, []string{"want csv or ndjson"}},
		{"export-aggregates nowhere", []string{"export-aggregates", "--clickhouse", "x", "--from", "2025-01-01", "--to", "2025-01-31"}, 2, nil, []string{"--table", "--out"}},
		{"export-aggregates bad table", []string{"export-aggregates", "--clickhouse", "x", "--from", "2025-01-01", "--to", "2025-01-31", "--table", "events"}, 2, nil, []string{`--table "events"`}},
		{"export-aggregates reversed", []string{"export-aggregates", "--clickhouse", "x", "--from", "2025-02-01", "--to", "2025-01-31", "--table", "agg_daily_regions"}, 2, nil, []string{"before --from"}},
		{"export-aggregates bad day", []string{"export-aggregates", "--clickhouse", "x", "--from", "June", "--to", "2025-01-31", "--table", "agg_daily_regions"}, 2, nil, []string{"--from"}},
		{"version", []string{"version"}, 0, []string{"ronda "}, nil},
		{"version extra", []string{"version", "now"}, 2, nil, []string{"unexpected arguments"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			exe(t, dir, tt.args...).want(t, tt.code, tt.stdout, tt.stderr)
		})
	}
}

func TestDemo(t *testing.T) {
	if testing.Short() {
		t.Skip("demo simulates and replays a world; skipped with -short")
	}
	t.Parallel()
	before, _ := filepath.Glob(filepath.Join(os.TempDir(), "ronda-demo-*"))
	exe(t, t.TempDir(), "demo", "--days", "2", "--hosts", "40", "--rings", "1").
		want(t, 0, []string{"backtest", "hosts     recall", "goals "}, []string{"simulated"})
	after, _ := filepath.Glob(filepath.Join(os.TempDir(), "ronda-demo-*"))
	if len(after) > len(before) {
		t.Errorf("demo left its directory behind: %v", after)
	}
}

// drainSpoolCopy copies the spool directory src to dst and drains the copy,
// handing each of the writer's records (version byte 1, then
// {"table":…,"rows":[…]}) to each as its table and undecoded rows; it
// returns the copy's stats after the drain.
func drainSpoolCopy(t *testing.T, src, dst string, each func(table string, rows json.RawMessage) error) spool.Stats {
	t.Helper()
	if err := os.CopyFS(dst, os.DirFS(src)); err != nil {
		t.Fatal(err)
	}
	sp, err := spool.Open(spool.Options{Dir: dst})
	if err != nil {
		t.Fatal(err)
	}
	defer sp.Close()
	err = sp.Drain(context.Background(), func(rec []byte) error {
		if len(rec) == 0 || rec[0] != 1 {
			return fmt.Errorf("spool record version %v", rec[:min(1, len(rec))])
		}
		var b struct {
			Table string
			Rows  json.RawMessage
		}
		if err := json.Unmarshal(rec[1:], &b); err != nil {
			return err
		}
		return each(b.Table, b.Rows)
	})
	if err != nil {
		t.Fatal(err)
	}
	return sp.Stats()
}
