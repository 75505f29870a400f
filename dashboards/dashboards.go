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
// which works on ClickHouse 18.16; the _ms macros do not. Expand turns the
// macro into plain SQL for a time range, so the queries run anywhere.
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

var timeFilter = regexp.MustCompile(`\$__timeFilter\(([^()]*(?:\([^()]*\))?[^()]*)\)`)

// Expand replaces $__timeFilter(col) with the range [from, to] the way the
// grafana-clickhouse-datasource plugin does (seconds, toDateTime), and the
// database name ronda with db. Any other macro left is an error: the plugin
// would expand it and a test would not see what runs.
func Expand(sql string, from, to time.Time, db string) (string, error) {
	out := timeFilter.ReplaceAllStringFunc(sql, func(m string) string {
		col := timeFilter.FindStringSubmatch(m)[1]
		return fmt.Sprintf("%s >= toDateTime(%d) AND %s <= toDateTime(%d)", col, from.Unix(), col, to.Unix())
	})
	if i := strings.Index(out, "$__"); i >= 0 {
		return "", fmt.Errorf("unexpanded macro at %q", out[i:min(len(out), i+30)])
	}
	if db != "" && db != "ronda" {
		out = strings.ReplaceAll(out, "ronda.", db+".")
	}
	return out, nil
}
