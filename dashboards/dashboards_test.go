package dashboards

import (
	"bytes"
	"flag"
	"os"
	"testing"
	"time"
)

var update = flag.Bool("update", false, "rewrite grafana/ronda.json from the SQL files")

// The shipped dashboard is exactly what BuildGrafana makes of the SQL files.
func TestGrafanaMatchesSQL(t *testing.T) {
	want, err := BuildGrafana()
	if err != nil {
		t.Fatal(err)
	}
	if *update {
		if err := os.WriteFile("grafana/ronda.json", want, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if got := Grafana()["ronda.json"]; !bytes.Equal(got, want) {
		t.Fatal("grafana/ronda.json is stale: run go test ./dashboards -run TestGrafanaMatchesSQL -update")
	}
	for _, p := range panels {
		found := false
		for _, q := range Queries() {
			found = found || q.Name == p.query
		}
		if !found {
			t.Errorf("panel %q has no sql/%s.sql", p.title, p.query)
		}
	}
}

func TestExpand(t *testing.T) {
	from, to := time.Unix(1000, 0), time.Unix(2000, 0)
	got, err := Expand("SELECT 1 FROM ronda.t WHERE $__timeFilter(toDateTime(day)) AND $__timeFilter(at)", from, to, "r2")
	if err != nil {
		t.Fatal(err)
	}
	want := "SELECT 1 FROM r2.t WHERE toDateTime(day) >= toDateTime(1000) AND toDateTime(day) <= toDateTime(2000) AND at >= toDateTime(1000) AND at <= toDateTime(2000)"
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	if _, err := Expand("WHERE $__timeFilter_ms(at)", from, to, ""); err == nil {
		t.Error("an unexpandable macro passed")
	}
}
