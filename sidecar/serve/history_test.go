package serve

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ronda-watch/ronda/sidecar/store"
)

// getJSON sends GET path with a bearer token and returns the status and body.
func getJSON(t *testing.T, addr, path, token string) (int, []byte) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, "http://"+addr+path, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// TestHistoryAPI: a dismissed alert leaves the queue and is found in the
// history (by status, by host, by a moderator's "mine"), with its dismissal;
// one alert's answer carries its record; the doors are the hub's (no token,
// a bad one) and the bounds are kept (limit, span, unknown parameters).
func TestHistoryAPI(t *testing.T) {
	ch := clickhouse(t)
	cfg := baseConfig(t)
	cfg.ClickHouse.DSN = ch.DSN()
	cfg.ClickHouse.Database = freshDB()
	r := startService(t, cfg)
	m := dialModerator(t, r.addr, tokModA)
	m.find(5*time.Second, "snapshot", func(msg map[string]any) bool { return msg["type"] == "snapshot" })
	host := "hist-host-1"
	a := raiseAlert(t, r.addr, m, host)
	m.send(map[string]any{"type": "action", "request_id": "d1", "alert_id": a.ID, "action": "dismiss", "reason": "a test stream"})
	m.find(5*time.Second, "ack of the dismissal", func(msg map[string]any) bool { return msg["type"] == "ack" && msg["request_id"] == "d1" })

	var page historyPage
	waitFor(t, 20*time.Second, "the dismissed alert in the history", func() bool {
		code, b := getJSON(t, r.addr, HistoryPath+"?status=closed&q="+host, tokViewer)
		page = historyPage{}
		return code == 200 && json.Unmarshal(b, &page) == nil && len(page.Alerts) == 1 && page.Alerts[0].Status == "dismissed"
	})
	if got := page.Alerts[0]; got.Alert.ID != a.ID || len(got.Actions) != 1 || got.Actions[0].Reason != "a test stream" {
		t.Errorf("history item %+v", got)
	}
	if code, b := getJSON(t, r.addr, HistoryPath+"?mine=true&severity=high", tokModA); code != 200 || !strings.Contains(string(b), a.ID) {
		t.Errorf("mod-a's own: %d %s", code, b)
	}
	if code, b := getJSON(t, r.addr, HistoryPath+"?mine=true", tokModB); code != 200 || strings.Contains(string(b), a.ID) {
		t.Errorf("mod-b's own: %d %s", code, b)
	}
	code, b := getJSON(t, r.addr, "/v1/alerts/"+url.PathEscape(a.ID), tokViewer)
	var d alertDetail
	if code != 200 || json.Unmarshal(b, &d) != nil || d.Alert.ID != a.ID || d.Status != "dismissed" || len(d.Context.Heatmaps) == 0 {
		t.Errorf("GET alert: %d %s", code, b)
	}
	for _, tc := range []struct {
		name, path, token string
		want              int
	}{
		{"no token", HistoryPath, "", 401},
		{"bad token", HistoryPath, "not-a-token", 401},
		{"unknown alert", "/v1/alerts/no-such-alert", tokViewer, 404},
		{"limit too large", HistoryPath + "?limit=100000", tokViewer, 400},
		{"span too wide", HistoryPath + "?from=2020-01-01&to=2026-01-01", tokViewer, 400},
		{"unknown parameter", HistoryPath + "?where=1", tokViewer, 400},
		{"bad severity", HistoryPath + "?severity=loud", tokViewer, 400},
		{"bad cursor", HistoryPath + "?cursor=%21%21", tokViewer, 400},
	} {
		if code, b := getJSON(t, r.addr, tc.path, tc.token); code != tc.want {
			t.Errorf("%s: %d %s, want %d", tc.name, code, b, tc.want)
		}
	}
	if n := counter(t, r.svc.history.requests.WithLabelValues("bad_request")); n != 5 {
		t.Errorf("%v bad requests counted, want 5", n)
	}
	if n := counter(t, r.svc.history.requests.WithLabelValues("refused")); n != 2 {
		t.Errorf("%v refused requests counted, want 2", n)
	}
}

// Without ClickHouse there is no history: 503, said so.
func TestHistoryWithoutClickHouse(t *testing.T) {
	r := startService(t, baseConfig(t))
	if code, b := getJSON(t, r.addr, HistoryPath, tokViewer); code != 503 || !strings.Contains(string(b), "clickhouse.dsn") {
		t.Errorf("%d %s", code, b)
	}
}

// A broadcast is spread over the hours it covered in its host's zone: a
// session from 22:30 to 01:10 Jakarta time (UTC+7) on a Monday night fills
// Monday 22 and 23 and Tuesday 00 and 01; a zone off the hour (India, +5:30)
// still splits at its own hours; an unknown zone counts in UTC.
func TestHeatmapInHostLocalTime(t *testing.T) {
	jkt, _ := time.LoadLocation("Asia/Jakarta")
	ind, _ := time.LoadLocation("Asia/Kolkata")
	start := time.Date(2026, 11, 30, 22, 30, 0, 0, jkt) // a Monday
	maps := heatmaps([]string{"h1", "h2", "h3"}, []store.BroadcastSpan{
		{HostID: "h1", Start: start.UTC(), End: start.Add(160 * time.Minute).UTC(), TZ: "Asia/Jakarta"},
		{HostID: "h2", Start: time.Date(2026, 12, 1, 10, 0, 0, 0, ind).UTC(), End: time.Date(2026, 12, 1, 11, 30, 0, 0, ind).UTC(), TZ: "Asia/Kolkata"},
		{HostID: "h3", Start: time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC), End: time.Date(2026, 12, 1, 10, 20, 0, 0, time.UTC), TZ: "Mars/Olympus"},
		{HostID: "other", Start: start, End: start.Add(time.Hour)},
	})
	h1 := maps[0]
	if h1.TZ != "Asia/Jakarta" || h1.Sessions != 1 || h1.Minutes[0][22] != 30 || h1.Minutes[0][23] != 60 || h1.Minutes[1][0] != 60 || h1.Minutes[1][1] != 10 {
		t.Errorf("h1: %+v", h1)
	}
	if h2 := maps[1]; h2.Minutes[1][10] != 60 || h2.Minutes[1][11] != 30 {
		t.Errorf("h2 (+5:30): Tuesday 10h %d, 11h %d; want 60, 30", h2.Minutes[1][10], h2.Minutes[1][11])
	}
	if h3 := maps[2]; h3.TZ != "UTC" || h3.Minutes[1][10] != 20 {
		t.Errorf("h3 (unknown zone): %s %d", h3.TZ, h3.Minutes[1][10])
	}
}

// FuzzHistoryQuery: any query string is either a query within its bounds
// or a clear error, never a panic.
func FuzzHistoryQuery(f *testing.F) {
	for _, s := range []string{"", "severity=high,critical&detector=money&status=closed&q=h1&limit=10",
		"from=2026-01-01&to=2026-02-01", "cursor=" + encodeCursor(time.Unix(1700000000, 0), "a1"), "mine=true&moderator=x",
		"q=%00", "limit=-1", "cursor=MTcwMDAwMDAwMCA", "from=2026-13-01", "q=" + strings.Repeat("x", 300)} {
		f.Add(s)
	}
	now := time.Date(2026, 12, 6, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, raw string) {
		v, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		q, err := parseHistoryQuery(v, now, 200, 90, "me")
		if err != nil {
			if err.Error() == "" {
				t.Fatal("an empty error")
			}
			return
		}
		if q.Limit < 1 || q.Limit > 200 || q.To.Before(q.From) || q.To.Sub(q.From) > 90*24*time.Hour ||
			len(q.Search) > maxParam || len(q.Region) > maxParam || len(q.BeforeID) > maxParam {
			t.Fatalf("out of bounds: %+v", q)
		}
	})
}

// TestOpenAPIHistory: the history's real answers (a page with a dismissed
// alert and its actions, a next page, one alert with its record, refusals,
// not found, and 503 without ClickHouse) validate against docs/openapi.yaml,
// and a copy with the record's schema changed no longer passes them.
func TestOpenAPIHistory(t *testing.T) {
	ch := clickhouse(t)
	cfg := baseConfig(t)
	cfg.ClickHouse.DSN = ch.DSN()
	cfg.ClickHouse.Database = freshDB()
	r := startService(t, cfg)
	m := dialModerator(t, r.addr, tokModA)
	m.find(5*time.Second, "snapshot", func(msg map[string]any) bool { return msg["type"] == "snapshot" })
	a := raiseAlert(t, r.addr, m, "openapi-host-1")
	raiseAlert(t, r.addr, m, "openapi-host-2")
	m.send(map[string]any{"type": "action", "request_id": "d1", "alert_id": a.ID, "action": "dismiss", "reason": "test"})
	m.find(5*time.Second, "ack of the dismissal", func(msg map[string]any) bool { return msg["type"] == "ack" && msg["request_id"] == "d1" })
	waitFor(t, 20*time.Second, "the dismissal in the record", func() bool {
		code, b := getJSON(t, r.addr, HistoryPath+"?status=dismissed", tokViewer)
		return code == 200 && strings.Contains(string(b), a.ID)
	})
	off := startService(t, baseConfig(t))

	get := func(name, addr, path, tok string) exchange {
		t.Helper()
		req := newRequest(t, http.MethodGet, "http://"+addr+path, "")
		if tok != "" {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		return send(t, name, req, nil)
	}
	first := get("history page", r.addr, HistoryPath+"?limit=1&severity=high,critical", tokViewer)
	var page historyPage
	if err := json.Unmarshal(first.body, &page); err != nil || page.Next == "" {
		t.Fatalf("first page %s: want a next cursor", first.body)
	}
	xs := []struct {
		x    exchange
		want int
	}{
		{first, 200},
		{get("history next page", r.addr, HistoryPath+"?limit=1&severity=high,critical&cursor="+page.Next, tokViewer), 200},
		{get("history closed, mine", r.addr, HistoryPath+"?status=closed&mine=true&q="+url.QueryEscape(a.ID), tokModA), 200},
		{get("alert record", r.addr, "/v1/alerts/"+url.PathEscape(a.ID), tokViewer), 200},
		{get("alert unknown", r.addr, "/v1/alerts/nope", tokViewer), 404},
		{get("history bad limit", r.addr, HistoryPath+"?limit=100000", tokViewer), 400},
		{get("history no token", r.addr, HistoryPath, ""), 401},
		{get("history without clickhouse", off.addr, HistoryPath, tokViewer), 503},
	}
	doc := loadSpec(t, specPath)
	for _, c := range xs {
		if c.x.status != c.want {
			t.Errorf("%s: status %d %q, want %d", c.x.name, c.x.status, c.x.body, c.want)
		}
		if err := validate(doc, c.x); err != nil {
			t.Errorf("%s: %v", c.x.name, err)
		}
	}
	// Drift: the record's heatmap said to hold 24 rows fails the live answer.
	spec, err := os.ReadFile(specPath)
	if err != nil {
		t.Fatal(err)
	}
	changed := strings.Replace(string(spec), "minItems: 7\n          maxItems: 7", "minItems: 24\n          maxItems: 24", 1)
	if changed == string(spec) {
		t.Fatal("the heatmap's rows are not in the spec as expected")
	}
	path := filepath.Join(t.TempDir(), "openapi.yaml")
	if err := os.WriteFile(path, []byte(changed), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := validate(loadSpec(t, path), xs[3].x); err == nil {
		t.Error("a spec that says a heatmap has 24 rows still passes the record's answer")
	}
}
