package main

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The files under test, from this package's directory.
const (
	promRules     = "../../deploy/prometheus/ronda-rules.yml"
	promRulesTest = "../../deploy/prometheus/ronda-rules.test.yml"
	promConfig    = "../../deploy/prometheus/prometheus.yml"
)

// needProm gives the path of Debian's prometheus or promtool, skipping the
// test without it (failing it under CI=true, where .ci/run installs it).
func needProm(t *testing.T, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s not found under CI=true: install Debian's prometheus", name)
		}
		t.Skipf("%s not found: apt-get install --no-install-recommends prometheus", name)
	}
	return p
}

// TestPromtoolChecksTheDeployFiles runs the real promtool over the shipped
// rules, their unit tests (deploy/prometheus/ronda-rules.test.yml) and the
// scrape configuration, and checks that every metric a rule reads is one
// Ronda exports, so a renamed metric cannot leave a rule that never fires.
func TestPromtoolChecksTheDeployFiles(t *testing.T) {
	promtool := needProm(t, "promtool")
	for _, args := range [][]string{
		{"check", "rules", promRules},
		{"check", "config", promConfig},
		{"test", "rules", promRulesTest},
	} {
		out, err := exec.Command(promtool, args...).CombinedOutput()
		if err != nil || !strings.Contains(string(out), "SUCCESS") {
			t.Errorf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}

	rules, err := os.ReadFile(promRules)
	if err != nil {
		t.Fatal(err)
	}
	var src strings.Builder
	for _, glob := range []string{"../../sidecar/*/*.go", "../../sidecar/*.go"} {
		files, _ := filepath.Glob(glob)
		for _, f := range files {
			if strings.HasSuffix(f, "_test.go") {
				continue
			}
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			src.Write(b)
		}
	}
	for _, word := range strings.FieldsFunc(string(rules), func(r rune) bool {
		return !(r == '_' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9')
	}) {
		if strings.HasPrefix(word, "ronda_") && !strings.Contains(src.String(), `"`+word+`"`) {
			t.Errorf("the rules read %s, which no sidecar package exports", word)
		}
	}
}

// freeLoopbackPort is a port nothing listens on at the time of the call.
func freeLoopbackPort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// TestPrometheusFiresBreakerAlert is issue 12's "a real Prometheus scrapes a
// running Ronda and evaluates one rule to firing": `ronda serve` with its
// ClickHouse at an address nothing listens on takes events until its
// breaker opens; Debian's prometheus, started here with the shipped scrape
// job and rules (the breaker's `for:` cut to 1s, the only change), scrapes
// the admin listener and reports RondaClickHouseBreakerOpen firing.
func TestPrometheusFiresBreakerAlert(t *testing.T) {
	if testing.Short() {
		t.Skip("starts ronda serve and prometheus")
	}
	prom := needProm(t, "prometheus")
	t.Parallel()
	dir := t.TempDir()

	admin := fmt.Sprintf("127.0.0.1:%d", freeLoopbackPort(t))
	conf := restartConfig(t, dir, "")
	b, _ := os.ReadFile(conf)
	b = append(b, fmt.Sprintf("admin_listen: %s\n", admin)...)
	b = []byte(strings.Replace(string(b), "clickhouse: {spool_dir:",
		fmt.Sprintf("clickhouse: {dsn: \"clickhouse://127.0.0.1:%d\", spool_dir:", freeLoopbackPort(t)), 1))
	if err := os.WriteFile(conf, b, 0o600); err != nil {
		t.Fatal(err)
	}
	srv := startServeBin(t, ronda(t), conf)
	// The hub's gauge that RondaCriticalAlertUnclaimed reads is served, at 0
	// with no alert open.
	if m := scrape(t, admin); !strings.Contains(m, `ronda_hub_oldest_unclaimed_seconds{severity="critical"} 0`+"\n") {
		t.Errorf("admin /metrics lacks ronda_hub_oldest_unclaimed_seconds{severity=\"critical\"} 0:\n%s", grepLines(m, "oldest"))
	}

	// The shipped rules, with the breaker's 2m hold cut to 1s.
	rules, err := os.ReadFile(promRules)
	if err != nil {
		t.Fatal(err)
	}
	block := "expr: ronda_store_breaker_state == 2\n        for: 2m\n"
	if strings.Count(string(rules), block) != 1 {
		t.Fatalf("rules: want one %q", block)
	}
	rules = []byte(strings.Replace(string(rules), block, "expr: ronda_store_breaker_state == 2\n        for: 1s\n", 1))
	os.WriteFile(filepath.Join(dir, "ronda-rules.yml"), rules, 0o600)
	// The shipped scrape config, with short intervals and this Ronda's admin listener.
	pc, err := os.ReadFile(promConfig)
	if err != nil {
		t.Fatal(err)
	}
	pcs := strings.NewReplacer("scrape_interval: 15s", "scrape_interval: 200ms",
		"evaluation_interval: 15s", "evaluation_interval: 200ms",
		"- 127.0.0.1:9090", "- "+admin).Replace(string(pc))
	if !strings.Contains(pcs, admin) || strings.Contains(pcs, "15s") {
		t.Fatalf("scrape config not rewritten:\n%s", pcs)
	}
	os.WriteFile(filepath.Join(dir, "prometheus.yml"), []byte(pcs), 0o600)

	web := fmt.Sprintf("127.0.0.1:%d", freeLoopbackPort(t))
	plog := &syncBuffer{}
	cmd := exec.Command(prom, "--config.file="+filepath.Join(dir, "prometheus.yml"),
		"--storage.tsdb.path="+filepath.Join(dir, "tsdb"), "--web.listen-address="+web)
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = plog, plog
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() { cmd.Process.Kill(); <-done })

	// alertState is RondaClickHouseBreakerOpen's state in Prometheus, or "".
	alertState := func() string {
		resp, err := http.Get("http://" + web + "/api/v1/alerts")
		if err != nil {
			return ""
		}
		defer resp.Body.Close()
		var r struct {
			Data struct {
				Alerts []struct {
					Labels map[string]string `json:"labels"`
					State  string            `json:"state"`
				} `json:"alerts"`
			} `json:"data"`
		}
		if json.NewDecoder(resp.Body).Decode(&r) != nil {
			return ""
		}
		for _, a := range r.Data.Alerts {
			if a.Labels["alertname"] == "RondaClickHouseBreakerOpen" && a.Labels["instance"] == admin {
				return a.State
			}
		}
		return ""
	}
	if s := alertState(); s != "" {
		t.Fatalf("breaker alert %q before any insert failed", s)
	}

	// Events while the breaker is not open: each insert fails to dial.
	n := 0
	deadline := time.Now().Add(90 * time.Second)
	for alertState() != "firing" {
		select {
		case <-done:
			t.Fatalf("prometheus exited:\n%s", plog.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("RondaClickHouseBreakerOpen not firing after 90s (state %q, %d batches sent)\nronda:\n%s\nprometheus:\n%s",
				alertState(), n, tail(srv.stderr.String(), 3000), tail(plog.String(), 3000))
		}
		if metric(t, admin, "ronda_store_breaker_state") == 2 {
			continue // open: Prometheus has to see it, no more events needed
		}
		n++
		post(srv.addr, []byte(`{"type":"stream.start","id":"e`+strconv.Itoa(n)+`","at":"`+
			time.Now().UTC().Format(time.RFC3339)+`","stream_id":"s1","host_id":"h1"}`+"\n"))
	}
	t.Logf("firing after %d batches", n)
}
