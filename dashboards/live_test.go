package dashboards

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"runtime"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/ronda-watch/ronda/sidecar/store"
	"github.com/ronda-watch/ronda/sidecar/store/chtest"
)

// TestPanelsOnRealData replays a labelled world into a real ClickHouse with
// the `ronda` binary, as an analyst's pipeline would, writes a few moderator
// actions, and runs every panel's SQL with its macros expanded: each must
// return rows, and the rows must say what the world holds (the rings' devices,
// beneficiaries and recruiters).
func TestPanelsOnRealData(t *testing.T) {
	if testing.Short() {
		t.Skip("replays a world into ClickHouse; run without -short")
	}
	srv := chtest.Start(t)
	dir := t.TempDir()
	bin := filepath.Join(dir, "ronda")
	if out, err := exec.Command(filepath.Join(runtime.GOROOT(), "bin", "go"), "build", "-o", bin, "../cmd/ronda").CombinedOutput(); err != nil {
		t.Fatalf("build ronda: %v\n%s", err, out)
	}
	in, labels := world(t, bin, dir)
	// Low alerts too, as a deployment that shows moderators the lookalikes
	// does: they are what moderators dismiss.
	cfg := filepath.Join(dir, "analyzer.yaml")
	if err := os.WriteFile(cfg, []byte("scoring:\n  min_severity: low\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "replay", "--in", in, "--labels", labels, "--config", cfg, "--clickhouse", srv.DSN())
	cmd.Env = append(os.Environ(), "RONDA_PSEUDONYM_KEY=test-key-not-secret")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("ronda replay --clickhouse: %v\n%s", err, out)
	}

	ctx := context.Background()
	conn, err := store.Open(ctx, srv.DSN())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var from, to time.Time
	if err := conn.QueryRow(ctx, "SELECT min(at), max(at) FROM ronda.events FINAL").Scan(&from, &to); err != nil {
		t.Fatal(err)
	}
	var lab struct {
		Hosts    []string `json:"positive_hosts"`
		Accounts []string `json:"positive_accounts"`
	}
	b, _ := os.ReadFile(labels)
	if err := json.Unmarshal(b, &lab); err != nil {
		t.Fatal(err)
	}
	positive := map[string]bool{}
	for _, id := range append(lab.Hosts, lab.Accounts...) {
		positive[id] = true
	}
	mod := moderate(t, ctx, conn, srv.DSN(), positive)
	mod.cues = postCues(t, in)

	results := map[string][]map[string]any{}
	for _, q := range Queries() {
		sql, err := Expand(q.SQL, from.Add(-time.Hour), to.Add(24*time.Hour), "ronda")
		if err != nil {
			t.Fatalf("%s: %v", q.Name, err)
		}
		rows, err := query(ctx, conn, sql)
		if err != nil {
			t.Errorf("%s does not run on ClickHouse %s: %v", q.Name, serverVersion(ctx, conn), err)
			continue
		}
		if len(rows) == 0 {
			t.Errorf("%s returned no rows", q.Name)
		}
		results[q.Name] = rows
		t.Logf("%s: %d rows; first %v", q.Name, len(rows), first(rows))
	}

	// Plausible, not just non-empty.
	for _, r := range results["night_broadcasting_by_region"] {
		if s := r["night_share"].(float64); s < 0 || s > 1 {
			t.Errorf("night share %v out of [0,1]", s)
		}
	}
	if !anyRow(results["colocated_host_clusters"], func(r map[string]any) bool {
		return r["hosts"].(uint64) >= 2 && containsAny(r["host_ids"], positive)
	}) {
		t.Error("no co-located cluster holds a ring's hosts")
	}
	if !anyRow(results["payout_funnels"], func(r map[string]any) bool {
		return positive[r["beneficiary"].(string)] && r["payers"].(uint64) >= 2 && r["coins"].(int64) > 0
	}) {
		t.Error("no ring operator among the payout funnels")
	}
	if !anyRow(results["recruiters"], func(r map[string]any) bool {
		return positive[r["recruiter"].(string)] && r["hosts_reached"].(uint64) >= 2
	}) {
		t.Error("no ring recruiter among the recruiters")
	}
	if !anyRow(results["alerts_by_severity"], func(r map[string]any) bool { return r["severity"] == "critical" }) {
		t.Error("no critical alerts in the alerts panel")
	}
	if !anyRow(results["moderator_outcomes"], func(r map[string]any) bool { return r["action"] == "dismiss" }) {
		t.Error("the dismiss actions written are not in the outcomes panel")
	}
	checkAnalystPanels(t, results, mod)
	checkVariables(t, ctx, conn, from, to, mod)
	checkAggregates(t, ctx, conn, bin, srv.DSN(), mod)
}

// world is public-small when ../shared is beside the repository, else a world
// of Ronda's own simulator.
func world(t *testing.T, bin, dir string) (events, labels string) {
	shared := os.Getenv("RONDA_SHARED")
	if shared == "" {
		shared = filepath.Join("..", "..", "shared")
	}
	sc := filepath.Join(shared, "scenarios", "public-small")
	if _, err := os.Stat(filepath.Join(sc, "events.ndjson.gz")); err == nil {
		return filepath.Join(sc, "events.ndjson.gz"), filepath.Join(sc, "labels.json")
	}
	events, labels = filepath.Join(dir, "world.ndjson.gz"), filepath.Join(dir, "labels.json")
	if out, err := exec.Command(bin, "simulate", "--seed", "3", "--out", events, "--labels", labels).CombinedOutput(); err != nil {
		t.Fatalf("simulate: %v\n%s", err, out)
	}
	return events, labels
}

// query runs sql and returns its rows by column name, scanned into the Go
// types the driver reports for each column.
func query(ctx context.Context, conn driver.Conn, sql string) ([]map[string]any, error) {
	rows, err := conn.Query(ctx, sql)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	cols := rows.ColumnTypes()
	var out []map[string]any
	for rows.Next() {
		vals := make([]any, len(cols))
		for i, c := range cols {
			vals[i] = reflect.New(c.ScanType()).Interface()
		}
		if err := rows.Scan(vals...); err != nil {
			return nil, err
		}
		m := make(map[string]any, len(cols))
		for i, c := range cols {
			m[c.Name()] = reflect.ValueOf(vals[i]).Elem().Interface()
		}
		out = append(out, m)
	}
	return out, rows.Err()
}

func serverVersion(ctx context.Context, conn driver.Conn) string {
	v, err := conn.ServerVersion()
	if err != nil {
		return "?"
	}
	return v.String()
}

func first(rows []map[string]any) any {
	if len(rows) == 0 {
		return nil
	}
	return rows[0]
}

func anyRow(rows []map[string]any, ok func(map[string]any) bool) bool {
	for _, r := range rows {
		if ok(r) {
			return true
		}
	}
	return false
}

func containsAny(v any, set map[string]bool) bool {
	ids, _ := v.([]string)
	for _, id := range ids {
		if set[id] {
			return true
		}
	}
	return false
}
