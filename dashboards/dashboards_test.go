package dashboards

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"strings"
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

// Every query is drawn, described by its opening comment, and uses only the
// dashboard's variables; alert ids link to the console.
func TestPanelsUseDashboardVariables(t *testing.T) {
	var d struct {
		Templating struct {
			List []struct{ Name, Type string }
		}
		Panels []struct {
			Title, Description string
			FieldConfig        struct {
				Overrides []struct {
					Matcher    struct{ ID, Options string }
					Properties []struct {
						ID    string
						Value json.RawMessage
					}
				}
			}
			Targets []struct{ RawSQL string }
		}
	}
	if err := json.Unmarshal(Grafana()["ronda.json"], &d); err != nil {
		t.Fatal(err)
	}
	declared := map[string]bool{}
	for _, v := range d.Templating.List {
		declared[v.Name] = true
	}
	for _, v := range Variables {
		if !declared[v.Name] {
			t.Errorf("variable %s is not in the dashboard", v.Name)
		}
	}
	drawn := map[string]bool{}
	for _, p := range panels {
		drawn[p.query] = true
	}
	for _, q := range Queries() {
		if !drawn[q.Name] {
			t.Errorf("sql/%s.sql has no panel", q.Name)
		}
		for _, m := range variable.FindAllStringSubmatch(q.SQL, -1) {
			if !declared[m[1]] {
				t.Errorf("%s uses ${%s}, which the dashboard does not declare", q.Name, m[1])
			}
		}
	}
	links := 0
	for _, p := range d.Panels {
		if p.Description == "" || strings.HasPrefix(p.Description, "--") {
			t.Errorf("panel %q has no description", p.Title)
		}
		linked := false
		for _, o := range p.FieldConfig.Overrides {
			for _, prop := range o.Properties {
				if prop.ID != "links" {
					continue
				}
				var ls []struct{ URL string }
				if err := json.Unmarshal(prop.Value, &ls); err != nil {
					t.Fatalf("panel %q: links %s: %v", p.Title, prop.Value, err)
				}
				for _, l := range ls {
					if o.Matcher.Options != "alert_id" || l.URL != "${console}#alert=${__value.raw}" {
						t.Errorf("panel %q links %s to %q", p.Title, o.Matcher.Options, l.URL)
					}
					linked = true
					links++
				}
			}
		}
		if selects := selectsAlertID.MatchString(p.Targets[0].RawSQL); selects != linked {
			t.Errorf("panel %q: selects alert_id %v, links it %v", p.Title, selects, linked)
		}
	}
	if links == 0 {
		t.Error("no panel links an alert to the console")
	}
}

func TestExpandVars(t *testing.T) {
	from, to := time.Unix(1000, 0), time.Unix(2000, 0)
	got, err := ExpandVars("WHERE rank >= ${min_severity} AND ('${region}' = '*' OR region = '${region}')", from, to, "", map[string]string{"min_severity": "3", "region": "qqv1"})
	if err != nil {
		t.Fatal(err)
	}
	if want := "WHERE rank >= 3 AND ('qqv1' = '*' OR region = 'qqv1')"; got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	if _, err := ExpandVars("WHERE x = ${nope}", from, to, "", DefaultVars()); err == nil {
		t.Error("an unknown variable passed")
	}
	if _, err := Expand("WHERE x = $nope", from, to, ""); err == nil {
		t.Error("a bare $name passed")
	}
}
