package dashboards

import (
	"encoding/json"
	"regexp"
	"strings"
)

// panelSpec says how a named query is drawn. A query that selects alert_id
// gets a link from it to the alert in the moderators' console
// (ConsoleAlertURL); a time series with columns named *_min draws those as
// minutes on the left axis and its other columns (counts) on the right.
type panelSpec struct {
	query, title, kind string // kind: timeseries or table
	w, h               int
}

var (
	selectsAlertID = regexp.MustCompile(`(?m)^\s*alert_id,$`)
	minutesColumn  = regexp.MustCompile(`(?m) AS \w+_min,?$`)
)

// ConsoleAlertURL is the data link from a panel's alert_id to the alert in the
// moderators' console: the console's address (the dashboard variable console,
// default ConsoleURL) with the alert's id in the fragment, which never reaches
// a server log.
const ConsoleAlertURL = "${console}#alert=${__value.raw}"

// ConsoleURL is the console variable's default: `ronda serve`'s default listen
// address and console path. Set it to where the moderators open the console.
const ConsoleURL = "http://127.0.0.1:8080/console/"

var panels = []panelSpec{
	{"night_broadcasting_by_region", "Night broadcasting by region", "timeseries", 24, 9},
	{"colocated_host_clusters", "Co-located host clusters (devices and places with 2+ hosts)", "table", 24, 9},
	{"payout_funnels", "Payout funnels to beneficiaries", "table", 12, 9},
	{"recruiters", "Recruiter accounts and the hosts they reached", "table", 12, 9},
	{"detector_volumes", "Signals by detector", "timeseries", 12, 8},
	{"alerts_by_severity", "Alerts by severity", "timeseries", 12, 8},
	{"moderator_outcomes", "Moderator outcomes", "table", 24, 8},
	{"outcomes_by_detector", "Outcomes by detector: escalated, dismissed (why) and observed precision", "table", 24, 8},
	{"response_times", "Minutes to claim and to escalate (median, p90)", "timeseries", 12, 8},
	{"minors_per_month", "Minors in escalated rings per month", "timeseries", 12, 8},
	{"escalated_rings", "Hosts and minors per escalated ring", "table", 12, 9},
	{"gift_countries_flagged", "Sender countries of gifts to flagged hosts", "table", 12, 9},
	{"regions", "Regions (geohash-4): hosts, flagged hosts, night share, escalations", "table", 24, 9},
	{"recruitment_cues", "Recruitment cues over time", "timeseries", 12, 8},
	{"recruitment_languages", "Languages of recruitment texts over time", "timeseries", 12, 8},
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
		panel := map[string]any{
			"id": i + 1, "type": p.kind, "title": p.title, "description": question(sql[p.query]),
			"datasource": ds, "gridPos": map[string]int{"x": x, "y": y, "w": p.w, "h": p.h},
			"targets": []any{map[string]any{
				"refId": "A", "datasource": ds, "editorType": "sql", "queryType": p.kind,
				"format": format, "rawSql": sql[p.query],
			}},
		}
		var overrides []any
		if selectsAlertID.MatchString(sql[p.query]) {
			overrides = append(overrides, map[string]any{
				"matcher": map[string]any{"id": "byName", "options": "alert_id"},
				"properties": []any{map[string]any{"id": "links", "value": []any{map[string]any{
					"title": "Open the alert in the console", "url": ConsoleAlertURL, "targetBlank": true,
				}}}},
			})
		}
		defaults := map[string]any{}
		if p.kind == "timeseries" && minutesColumn.MatchString(sql[p.query]) {
			defaults = map[string]any{"unit": "short", "custom": map[string]any{"axisPlacement": "right"}}
			overrides = append(overrides, map[string]any{
				"matcher": map[string]any{"id": "byRegexp", "options": ".*_min$"},
				"properties": []any{
					map[string]any{"id": "unit", "value": "m"},
					map[string]any{"id": "custom.axisPlacement", "value": "left"},
				},
			})
		}
		if len(overrides) > 0 {
			panel["fieldConfig"] = map[string]any{"defaults": defaults, "overrides": overrides}
		}
		out = append(out, panel)
		x += p.w
		rowH = max(rowH, p.h)
	}
	d := map[string]any{
		"uid": "ronda-trends", "title": "Ronda: exploitation patterns and moderation",
		"tags": []string{"ronda", "trust-and-safety"}, "timezone": "browser", "schemaVersion": 39,
		"time": map[string]string{"from": "now-30d", "to": "now"}, "refresh": "5m",
		"templating": map[string]any{"list": templating(ds)},
		"panels":     out,
	}
	b, err := json.MarshalIndent(d, "", "  ")
	return append(b, '\n'), err
}

// templating is the dashboard's variables: the datasource, those of Variables
// (which the SQL uses as ${name}), and the console's address for data links.
func templating(ds map[string]any) []any {
	def := DefaultVars()
	regions := "SELECT DISTINCT region FROM ronda.trend_sessions WHERE region != '' ORDER BY region"
	return []any{
		map[string]any{"name": "datasource", "label": "ClickHouse", "type": "datasource",
			"query": "grafana-clickhouse-datasource"},
		map[string]any{"name": "region", "label": label("region"), "type": "query", "datasource": ds,
			"query": regions, "definition": regions, "refresh": 2, "includeAll": true, "allValue": def["region"],
			"current": map[string]any{"text": "All", "value": "$__all"}},
		map[string]any{"name": "min_severity", "label": label("min_severity"), "type": "custom",
			"query":   "low : 1,medium : 2,high : 3,critical : 4",
			"current": map[string]any{"text": "low", "value": def["min_severity"]}},
		map[string]any{"name": "period", "label": label("period"), "type": "custom", "query": "day,week,month",
			"current": map[string]any{"text": def["period"], "value": def["period"]}},
		map[string]any{"name": "console", "label": "Console URL", "type": "textbox", "query": ConsoleURL,
			"current": map[string]any{"text": ConsoleURL, "value": ConsoleURL}},
	}
}

func label(name string) string {
	for _, v := range Variables {
		if v.Name == name {
			return v.Label
		}
	}
	return name
}

// question is a query's leading comment as one paragraph: the question it
// answers, shown as the panel's description.
func question(sql string) string {
	var words []string
	for _, line := range strings.Split(sql, "\n") {
		c, ok := strings.CutPrefix(strings.TrimSpace(line), "--")
		if !ok {
			break
		}
		words = append(words, strings.Fields(c)...)
	}
	return strings.Join(words, " ")
}
