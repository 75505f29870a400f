// Package dashboards holds the analysts' questions as named SQL files
// (dashboards/sql), the Grafana dashboards built on them (dashboards/grafana),
// and the moderators' live triage console (dashboards/console, served by
// Console), all embedded so tools and tests read exactly what ships.
//
// The console is static files with no build step and nothing loaded from
// elsewhere: it talks only to the hub that serves it (hub.WhoAmIPath, then the
// socket at hub.Path), builds its page from data with text nodes only, and
// keeps the moderator's token in the tab's sessionStorage.
//
// The SQL uses the grafana-clickhouse-datasource macro $__timeFilter(column),
// which works on ClickHouse 18.16; the _ms macros do not, and the dashboard's
// variables as ${name} (Vars). Expand turns both into plain SQL for a time
// range, so the queries run anywhere.
package dashboards

import (
	"embed"
	"fmt"
	"io/fs"
	"regexp"
	"sort"
	"strings"
	"time"
)

//go:embed sql/*.sql
var sqlFiles embed.FS

//go:embed grafana/*.json
var grafanaFiles embed.FS

// Query is one named analyst question.
type Query struct {
	Name string // file name without .sql
	SQL  string
}

// Queries returns every named query, sorted by name.
func Queries() []Query {
	var out []Query
	entries, _ := fs.ReadDir(sqlFiles, "sql")
	for _, e := range entries {
		b, err := sqlFiles.ReadFile("sql/" + e.Name())
		if err != nil {
			continue
		}
		out = append(out, Query{Name: strings.TrimSuffix(e.Name(), ".sql"), SQL: string(b)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// Grafana returns the dashboards' JSON by file name.
func Grafana() map[string][]byte {
	out := map[string][]byte{}
	entries, _ := fs.ReadDir(grafanaFiles, "grafana")
	for _, e := range entries {
		if b, err := grafanaFiles.ReadFile("grafana/" + e.Name()); err == nil {
			out[e.Name()] = b
		}
	}
	return out
}

var (
	timeFilter = regexp.MustCompile(`\$__timeFilter\(([^()]*(?:\([^()]*\))?[^()]*)\)`)
	variable   = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}`)
)

// Variables are the dashboard's variables the SQL may use as ${name}, each
// with its default: the region (a geohash-4 cell, '*' for all), the lowest
// severity rank of the alerts counted (1 low .. 4 critical) and the period of
// the time buckets (day, week or month).
var Variables = []Variable{
	{"region", "Region (geohash-4)", "*"},
	{"min_severity", "Lowest severity", "1"},
	{"period", "Period", "day"},
}

// Variable is one dashboard variable.
type Variable struct{ Name, Label, Default string }

// DefaultVars are the variables' defaults by name.
func DefaultVars() map[string]string {
	out := map[string]string{}
	for _, v := range Variables {
		out[v.Name] = v.Default
	}
	return out
}

// Expand is ExpandVars with the variables' defaults.
func Expand(sql string, from, to time.Time, db string) (string, error) {
	return ExpandVars(sql, from, to, db, DefaultVars())
}

// ExpandVars replaces $__timeFilter(col) with the range [from, to] the way the
// grafana-clickhouse-datasource plugin does (seconds, toDateTime), ${name}
// with vars[name] as Grafana does for a single value, and the database name
// ronda with db. Any other macro or variable left is an error: Grafana would
// expand it and a test would not see what runs.
func ExpandVars(sql string, from, to time.Time, db string, vars map[string]string) (string, error) {
	out := timeFilter.ReplaceAllStringFunc(sql, func(m string) string {
		col := timeFilter.FindStringSubmatch(m)[1]
		return fmt.Sprintf("%s >= toDateTime(%d) AND %s <= toDateTime(%d)", col, from.Unix(), col, to.Unix())
	})
	var missing string
	out = variable.ReplaceAllStringFunc(out, func(m string) string {
		name := variable.FindStringSubmatch(m)[1]
		v, ok := vars[name]
		if !ok && missing == "" {
			missing = name
		}
		return v
	})
	if missing != "" {
		return "", fmt.Errorf("no value for variable ${%s}", missing)
	}
	if i := strings.Index(out, "$"); i >= 0 {
		return "", fmt.Errorf("unexpanded macro at %q", out[i:min(len(out), i+30)])
	}
	if db != "" && db != "ronda" {
		out = strings.ReplaceAll(out, "ronda.", db+".")
	}
	return out, nil
}
