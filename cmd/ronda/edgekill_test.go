package main

import (
	"bufio"
	"bytes"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestEdgeKilled: a real `ronda serve --role edge` whose hub is away answers
// 200 for a world fed over signed HTTP intake, then is killed with SIGKILL.
// A real hub comes up, the edge is started again on the same directories,
// and the hub takes every event the edge acknowledged, exactly once (its
// intake counts no duplicate and nothing missing).
func TestEdgeKilled(t *testing.T) {
	bin := ronda(t)
	dir := t.TempDir()
	world := filepath.Join(dir, "world.ndjson")
	runRonda(t, 30*time.Second, bin, nil, "simulate", "--seed", "5", "--days", "3", "--hosts", "30", "--rings", "1", "--out", world)
	lines, _ := readWorld(t, world)

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hubAddr := ln.Addr().String()
	ln.Close() // nothing listens there until the hub starts

	ed := filepath.Join(dir, "edge")
	edgeConf := filepath.Join(dir, "edge.yaml")
	os.WriteFile(edgeConf, []byte(`
role: edge
node: edge-1
listen: 127.0.0.1:0
intake:
  keys: [{id: k1, env: RONDA_TEST_SECRET}]
  rate_events: -1
edge: {hub: "ws://`+hubAddr+`", key: {id: k1, env: RONDA_TEST_SECRET}, spool_dir: `+filepath.Join(ed, "forward")+`}
clickhouse: {spool_dir: `+filepath.Join(ed, "spool")+`}
state: {dir: `+filepath.Join(ed, "state")+`}
`), 0o600)
	if err := os.MkdirAll(filepath.Join(dir, "hub"), 0o700); err != nil {
		t.Fatal(err)
	}
	hubConf := restartConfig(t, filepath.Join(dir, "hub"), "")
	b, _ := os.ReadFile(hubConf)
	b = []byte(strings.Replace(string(b), "listen: 127.0.0.1:0", "role: hub\nlisten: "+hubAddr, 1))
	os.WriteFile(hubConf, b, 0o600)

	edge := startServeBin(t, bin, edgeConf)
	const batch = 500
	for i := 0; i < len(lines); i += batch {
		body := bytes.Join(lines[i:min(i+batch, len(lines))], nil)
		deadline := time.Now().Add(30 * time.Second)
		for !post(edge.addr, body) {
			if time.Now().After(deadline) {
				t.Fatalf("batch at line %d not taken by the edge in 30s", i)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	edge.stop(t, syscall.SIGKILL)

	hub := startServeBin(t, bin, hubConf)
	edge = startServeBin(t, bin, edgeConf)
	deadline := time.Now().Add(60 * time.Second)
	var acc, dup float64
	for {
		acc, dup = metric(t, hub.addr, `ronda_intake_events_total{status="accepted"}`), metric(t, hub.addr, `ronda_intake_events_total{status="duplicate"}`)
		if acc+dup >= float64(len(lines)) || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if acc != float64(len(lines)) {
		t.Errorf("the hub took %v of the %d events the killed edge acknowledged (%v duplicates)\nedge:\n%s",
			acc, len(lines), dup, edge.stderr.String())
	}
	if !strings.Contains(edge.stderr.String(), "intake log replayed into the forwarder") {
		t.Errorf("the restarted edge did not replay its log:\n%s", edge.stderr.String())
	}
	t.Logf("%d events acknowledged by the killed edge; the hub took %v, %v duplicates", len(lines), acc, dup)
	edge.stop(t, syscall.SIGTERM)
	hub.stop(t, syscall.SIGTERM)
}

// metric reads one sample of the service's /metrics (0 when absent).
func metric(t *testing.T, addr, sample string) float64 {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), sample+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatalf("%s: %v", sample, err)
			}
			return f
		}
	}
	return 0
}
