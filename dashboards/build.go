package dashboards

import (
	"encoding/json"
	"strings"
)

// panelSpec says how a named query is drawn.
type panelSpec struct {
	query, title, kind string // kind: timeseries or table
	w, h               int
}

var panels = []panelSpec{
	{"night_broadcasting_by_region", "Night broadcasting by region", "timeseries", 24, 9},
	{"colocated_host_clusters", "Co-located host clusters (devices and places with 2+ hosts)", "table", 24, 9},
	{"payout_funnels", "Payout funnels to beneficiaries", "table", 12, 9},
	{"recruiters", "Recruiter accounts and the hosts they reached", "table", 12, 9},
	{"detector_volumes", "Signals by detector", "timeseries", 12, 8},
	{"alerts_by_severity", "Alerts by severity", "timeseries", 12, 8},
	{"moderator_outcomes", "Moderator outcomes", "table", 24, 8},
}

// BuildGrafana renders the Ronda dashboard for grafana-clickhouse-datasource
// (plugin v4) from the named queries, so the panels run exactly the SQL files.
func BuildGrafana() ([]byte, error) {
	sql := map[string]string{}
	for _, q := range Queries() {
		sql[q.Name] = strings.TrimSpace(q.SQL)
	}
	ds := map[string]any{"type": "grafana-clickhouse-datasource", "uid": "${datasource}"}
	var out []any
	x, y, rowH := 0, 0, 0
	for i, p := range panels {
		if x+p.w > 24 {
			x, y, rowH = 0, y+rowH, 0
		}
		format := 1 // table
		if p.kind == "timeseries" {
			format = 0
		}
		out = append(out, map[string]any{
			"id": i + 1, "type": p.kind, "title": p.title, "datasource": ds,
			"gridPos": map[string]int{"x": x, "y": y, "w": p.w, "h": p.h},
			"targets": []any{map[string]any{
				"refId": "A", "datasource": ds, "editorType": "sql", "queryType": p.kind,
				"format": format, "rawSql": sql[p.query],
			}},
		})
		x += p.w
		rowH = max(rowH, p.h)
	}
	d := map[string]any{
		"uid": "ronda-trends", "title": "Ronda: exploitation patterns and moderation",
		"tags": []string{"ronda", "trust-and-safety"}, "timezone": "browser", "schemaVersion": 39,
		"time": map[string]string{"from": "now-30d", "to": "now"}, "refresh": "5m",
		"templating": map[string]any{"list": []any{map[string]any{
			"name": "datasource", "label": "ClickHouse", "type": "datasource",
			"query": "grafana-clickhouse-datasource",
		}}},
		"panels": out,
	}
	b, err := json.MarshalIndent(d, "", "  ")
	return append(b, '\n'), err
}
