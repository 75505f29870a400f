package serve

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/ronda-watch/ronda/analyzer"
	"github.com/ronda-watch/ronda/sidecar/hub"
	"github.com/ronda-watch/ronda/sidecar/store"
)

// The moderators' history, beside the hub: GET HistoryPath lists recorded
// alerts (closed ones too) by filters and search, GET AlertPath one alert
// with what moderators did to it and the record around it (its hosts'
// broadcast hours, gifts and payouts, links). Read only, from ClickHouse,
// behind the hub's tokens (viewer and up), bounded in page size, span and time.
const (
	HistoryPath = "/v1/alerts/history"
	AlertPath   = "/v1/alerts/{id}"
)

// Bounds of one alert's context.
const (
	contextDays     = 14   // days of record before the alert's time
	contextHosts    = 24   // hosts drawn as heatmaps
	contextSessions = 5000 // sessions read for the heatmaps
	contextLinks    = 500  // links of each kind
	maxParam        = 256  // bytes of a filter value
	defaultPage     = 50
	defaultDays     = 30
)

type historyAPI struct {
	hub      *hub.Hub
	dsn      string
	schema   store.Options
	page     int
	days     int
	timeout  time.Duration
	now      func() time.Time
	requests *prometheus.CounterVec

	mu   sync.Mutex
	conn driver.Conn
}

func newHistoryAPI(s *Service) *historyAPI {
	a := &historyAPI{hub: s.hub, dsn: s.cfg.ClickHouse.DSN,
		schema: store.Options{Database: s.cfg.ClickHouse.Database, Cluster: s.cfg.ClickHouse.Cluster},
		page:   s.cfg.Moderators.HistoryPage, days: s.cfg.Moderators.HistoryDays, timeout: s.cfg.Moderators.HistoryTimeout,
		now: s.opts.Now,
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ronda_history_requests_total",
			Help: "Requests to the moderators' history (GET /v1/alerts/history and /v1/alerts/{id}) by outcome: ok, bad_request (a filter out of its bounds: 400), not_found (404), refused (no or bad token, or origin: 401, 403, 429), unavailable (no ClickHouse configured, or it failed or was slower than moderators.history_timeout: 503)."},
			[]string{"outcome"})}
	for _, o := range []string{"ok", "bad_request", "not_found", "refused", "unavailable"} {
		a.requests.WithLabelValues(o)
	}
	s.reg.MustRegister(a.requests)
	return a
}

// close lets the connection go; safe twice.
func (a *historyAPI) close() {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.conn != nil {
		a.conn.Close()
		a.conn = nil
	}
}

// db is the connection to ClickHouse, opened at first use and again after
// a failure.
func (a *historyAPI) db(ctx context.Context) (driver.Conn, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.conn != nil {
		return a.conn, nil
	}
	c, err := store.Open(ctx, a.dsn)
	if err != nil {
		return nil, err
	}
	a.conn = c
	return c, nil
}

func (a *historyAPI) failed(c driver.Conn) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.conn == c {
		a.conn.Close()
		a.conn = nil
	}
}

// begin runs the checks every history request passes; ok false: answered.
func (a *historyAPI) begin(w http.ResponseWriter, r *http.Request) (hub.Token, bool) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "use GET", http.StatusMethodNotAllowed)
		a.requests.WithLabelValues("bad_request").Inc()
		return hub.Token{}, false
	}
	who, ok := a.hub.Authorize(w, r, hub.RoleViewer)
	if !ok {
		a.requests.WithLabelValues("refused").Inc()
		return hub.Token{}, false
	}
	if a.dsn == "" {
		a.requests.WithLabelValues("unavailable").Inc()
		http.Error(w, "no record: clickhouse.dsn is not set, so there is no history", http.StatusServiceUnavailable)
		return hub.Token{}, false
	}
	return who, true
}

func (a *historyAPI) bad(w http.ResponseWriter, err error) {
	a.requests.WithLabelValues("bad_request").Inc()
	http.Error(w, err.Error(), http.StatusBadRequest)
}

func (a *historyAPI) unavailable(w http.ResponseWriter, c driver.Conn, err error) {
	if c != nil {
		a.failed(c)
	}
	a.requests.WithLabelValues("unavailable").Inc()
	w.Header().Set("Retry-After", "5")
	http.Error(w, "the record could not be read now; try again", http.StatusServiceUnavailable)
}

func (a *historyAPI) answer(w http.ResponseWriter, v any) {
	a.requests.WithLabelValues("ok").Inc()
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(v)
}

// History answers GET HistoryPath.
func (a *historyAPI) History(w http.ResponseWriter, r *http.Request) {
	who, ok := a.begin(w, r)
	if !ok {
		return
	}
	q, err := parseHistoryQuery(r.URL.Query(), a.now(), a.page, a.days, who.Name)
	if err != nil {
		a.bad(w, err)
		return
	}
	want := q.Limit
	q.Limit++ // one more says whether there is a next page
	ctx, cancel := context.WithTimeout(r.Context(), a.timeout)
	defer cancel()
	c, err := a.db(ctx)
	if err != nil {
		a.unavailable(w, nil, err)
		return
	}
	rows, err := store.ReadHistory(ctx, c, a.schema, q)
	if err != nil {
		a.unavailable(w, c, err)
		return
	}
	out := historyPage{Alerts: []historyItem{}}
	for i, h := range rows {
		if i == want {
			last := rows[i-1]
			out.Next = encodeCursor(last.At, last.ID)
			break
		}
		out.Alerts = append(out.Alerts, newHistoryItem(h))
	}
	a.answer(w, out)
}

// Alert answers GET AlertPath.
func (a *historyAPI) Alert(w http.ResponseWriter, r *http.Request) {
	if _, ok := a.begin(w, r); !ok {
		return
	}
	id := r.PathValue("id")
	if err := checkParam("id", id); err != nil || id == "" {
		a.bad(w, errors.New("id: want 1 to 256 bytes of printable text"))
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), a.timeout)
	defer cancel()
	c, err := a.db(ctx)
	if err != nil {
		a.unavailable(w, nil, err)
		return
	}
	now := a.now()
	h, found, err := store.ReadAlert(ctx, c, a.schema, id, now.AddDate(0, 0, -a.days), now.AddDate(0, 0, 1))
	if err != nil {
		a.unavailable(w, c, err)
		return
	}
	if !found {
		a.requests.WithLabelValues("not_found").Inc()
		http.Error(w, "no alert "+strconv.Quote(id)+" in the record (an alert reaches it a second or two after it is raised)", http.StatusNotFound)
		return
	}
	cx, err := a.context(ctx, c, h.AlertRow)
	if err != nil {
		a.unavailable(w, c, err)
		return
	}
	a.answer(w, alertDetail{historyItem: newHistoryItem(h), Context: cx})
}

// context reads the record around one alert.
func (a *historyAPI) context(ctx context.Context, c driver.Conn, al store.AlertRow) (alertContext, error) {
	to := al.At.Add(time.Hour)
	from := al.At.AddDate(0, 0, -contextDays)
	hosts := al.Hosts
	if al.SubjectKind == analyzer.KindHost && !slices.Contains(hosts, al.SubjectID) {
		hosts = append([]string{al.SubjectID}, hosts...)
	}
	cx := alertContext{From: from.UTC(), To: to.UTC(), Heatmaps: []heatmap{}, Flows: []flowPoint{}, Links: []link{}}
	spans, err := store.ReadBroadcasts(ctx, c, a.schema, hosts[:min(len(hosts), contextHosts)], from, to, contextSessions)
	if err != nil {
		return cx, err
	}
	cx.Heatmaps = heatmaps(hosts[:min(len(hosts), contextHosts)], spans)
	flows, err := store.ReadFlows(ctx, c, a.schema, hosts, al.Accounts, from, to)
	if err != nil {
		return cx, err
	}
	for _, f := range flows {
		cx.Flows = append(cx.Flows, flowPoint{Hour: f.Hour.UTC(), Type: f.Type, Count: f.Count, Coins: f.Coins, Amount: f.Amount})
	}
	links, err := store.ReadLinks(ctx, c, a.schema, hosts, al.Accounts, from, to, contextLinks)
	if err != nil {
		return cx, err
	}
	for _, l := range links {
		cx.Links = append(cx.Links, link{From: l.From, To: l.To, Rel: l.Rel})
	}
	return cx, nil
}

// heatmap is one host's broadcast minutes by weekday (Monday first) and
// hour of the day, in the host's own time zone.
type heatmap struct {
	Host     string     `json:"host"`
	TZ       string     `json:"tz"`
	Sessions int        `json:"sessions"`
	Minutes  [7][24]int `json:"minutes"`
}

// heatmaps spreads each broadcast over the hours it covered, in the zone
// its host gave (UTC when it gave none or one this binary does not know).
func heatmaps(hosts []string, spans []store.BroadcastSpan) []heatmap {
	out := make([]heatmap, len(hosts))
	idx := map[string]int{}
	for i, h := range hosts {
		out[i].Host, out[i].TZ = h, "UTC"
		idx[h] = i
	}
	zones := map[string]*time.Location{}
	for _, s := range spans {
		i, ok := idx[s.HostID]
		if !ok {
			continue
		}
		loc, known := zones[s.TZ]
		if !known {
			loc, _ = time.LoadLocation(s.TZ)
			if s.TZ == "" || loc == nil {
				loc = nil
			}
			zones[s.TZ] = loc
		}
		m := &out[i]
		m.Sessions++
		if loc != nil {
			m.TZ = s.TZ
		} else {
			loc = time.UTC
		}
		for t := s.Start.In(loc); t.Before(s.End); {
			next := time.Date(t.Year(), t.Month(), t.Day(), t.Hour()+1, 0, 0, 0, loc) // zones off the hour too
			if next.After(s.End) {
				next = s.End.In(loc)
			}
			day := (int(t.Weekday()) + 6) % 7
			m.Minutes[day][t.Hour()] += int(next.Sub(t).Round(time.Minute) / time.Minute)
			t = next
		}
	}
	return out
}

type flowPoint struct {
	Hour   time.Time `json:"hour"`
	Type   string    `json:"type"`
	Count  uint64    `json:"count"`
	Coins  int64     `json:"coins"`
	Amount float64   `json:"amount"`
}

type link struct {
	From string `json:"from"`
	To   string `json:"to"`
	Rel  string `json:"rel"`
}

type alertContext struct {
	From     time.Time   `json:"from"`
	To       time.Time   `json:"to"`
	Heatmaps []heatmap   `json:"heatmaps"`
	Flows    []flowPoint `json:"flows"`
	Links    []link      `json:"links"`
}

type historyAction struct {
	At        time.Time `json:"at"`
	ActionID  string    `json:"action_id"`
	Moderator string    `json:"moderator"`
	Action    string    `json:"action"`
	Target    string    `json:"target,omitempty"`
	Reason    string    `json:"reason,omitempty"`
	Note      string    `json:"note,omitempty"`
}

// historyItem is an alert as the record last has it, its status as the
// recorded actions leave it (open, acked, escalated, dismissed; merged when
// its cluster joined another alert), and those actions.
type historyItem struct {
	Alert   analyzer.Alert  `json:"alert"`
	Status  string          `json:"status"`
	Actions []historyAction `json:"actions"`
}

type alertDetail struct {
	historyItem
	Context alertContext `json:"context"`
}

type historyPage struct {
	Alerts []historyItem `json:"alerts"`
	Next   string        `json:"next,omitempty"`
}

func newHistoryItem(h store.HistoryAlert) historyItem {
	it := historyItem{Alert: recordedAlerts([]store.AlertRow{h.AlertRow})[0].Alert, Status: "open", Actions: []historyAction{}}
	for _, a := range h.Actions {
		it.Actions = append(it.Actions, historyAction{At: a.At.UTC(), ActionID: a.ActionID, Moderator: a.Moderator,
			Action: a.Action, Target: a.Target, Reason: a.Reason, Note: a.Note})
		switch {
		case a.Action == "dismiss":
			it.Status = "dismissed"
		case a.Action == "escalate" && it.Status != "dismissed":
			it.Status = "escalated"
		case a.Action == "ack" && it.Status == "open":
			it.Status = "acked"
		}
	}
	if h.MergedInto != "" {
		it.Status = "merged"
	}
	if it.Alert.Entities == nil {
		it.Alert.Entities = []analyzer.EntityRef{}
	}
	if it.Alert.Reasons == nil {
		it.Alert.Reasons = []analyzer.Reason{}
	}
	return it
}

// checkParam keeps filter values to short printable text.
func checkParam(name, v string) error {
	if len(v) > maxParam || !utf8.ValidString(v) || strings.IndexFunc(v, func(r rune) bool { return !unicode.IsPrint(r) }) >= 0 {
		return fmt.Errorf("%s: want at most %d bytes of printable text", name, maxParam)
	}
	return nil
}

var historyParams = map[string]bool{"from": true, "to": true, "severity": true, "detector": true, "region": true,
	"status": true, "q": true, "moderator": true, "mine": true, "limit": true, "cursor": true}

// parseHistoryQuery reads a history request's query string: every
// parameter at most once, unknown ones refused, each within its bounds.
// Days default to the last 30 up to now; mine asks for the alerts me acted on.
func parseHistoryQuery(v url.Values, now time.Time, maxPage, maxDays int, me string) (store.HistoryQuery, error) {
	q := store.HistoryQuery{Limit: min(defaultPage, maxPage)}
	for k, vs := range v {
		if !historyParams[k] {
			return q, fmt.Errorf("unknown parameter %q", k)
		}
		if len(vs) != 1 {
			return q, fmt.Errorf("%s: give it once", k)
		}
		if err := checkParam(k, vs[0]); err != nil {
			return q, err
		}
	}
	day := func(name string, def time.Time) (time.Time, error) {
		s := v.Get(name)
		if s == "" {
			return def, nil
		}
		if t, err := time.Parse(time.RFC3339, s); err == nil {
			return t.UTC(), nil
		}
		t, err := time.Parse(time.DateOnly, s)
		if err != nil {
			return t, fmt.Errorf("%s: want a date (2026-01-31) or an RFC 3339 time", name)
		}
		return t, nil
	}
	var err error
	if q.To, err = day("to", now.UTC()); err != nil {
		return q, err
	}
	if q.From, err = day("from", q.To.AddDate(0, 0, -defaultDays)); err != nil {
		return q, err
	}
	if q.To.Before(q.From) {
		return q, errors.New("from: after to")
	}
	if q.To.Sub(q.From) > time.Duration(maxDays)*24*time.Hour {
		return q, fmt.Errorf("from, to: at most %d days apart (moderators.history_days)", maxDays)
	}
	if s := v.Get("severity"); s != "" {
		for sev := range strings.SplitSeq(s, ",") {
			if x, err := analyzer.ParseSeverity(sev); err != nil || x == analyzer.SeverityNone {
				return q, fmt.Errorf("severity: %q is not low, medium, high or critical", sev)
			}
			q.Severities = append(q.Severities, sev)
		}
	}
	if d := v.Get("detector"); d != "" {
		if !slices.Contains(analyzer.Detectors[:], d) {
			return q, fmt.Errorf("detector: %q is not one of %s", d, strings.Join(analyzer.Detectors[:], ", "))
		}
		q.Detector = d
	}
	q.Region, q.Search, q.Moderator = v.Get("region"), strings.TrimSpace(v.Get("q")), v.Get("moderator")
	switch s := v.Get("status"); s {
	case "", store.StatusOpen, store.StatusDismissed, store.StatusEscalated, store.StatusMerged, store.StatusClosed:
		q.Status = s
	default:
		return q, fmt.Errorf("status: %q is not open, dismissed, escalated, merged or closed", s)
	}
	switch v.Get("mine") {
	case "", "false", "0":
	case "true", "1":
		if q.Moderator != "" && q.Moderator != me {
			return q, errors.New("mine: with another moderator's name")
		}
		q.Moderator = me
	default:
		return q, errors.New("mine: want true or false")
	}
	if s := v.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > maxPage {
			return q, fmt.Errorf("limit: want 1 to %d (moderators.history_page)", maxPage)
		}
		q.Limit = n
	}
	if c := v.Get("cursor"); c != "" {
		if q.BeforeAt, q.BeforeID, err = decodeCursor(c); err != nil {
			return q, err
		}
	}
	return q, nil
}

// A cursor is where a page ended: the last alert's time (seconds since
// 1970) and id, base64url so that it is opaque in a URL.
func encodeCursor(at time.Time, id string) string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(at.Unix(), 10) + " " + id))
}

func decodeCursor(c string) (time.Time, string, error) {
	bad := errors.New("cursor: not one this service gave")
	b, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil {
		return time.Time{}, "", bad
	}
	secs, id, ok := strings.Cut(string(b), " ")
	n, err := strconv.ParseInt(secs, 10, 64)
	if !ok || err != nil || n <= 0 || n > 1<<33 || id == "" || checkParam("cursor", id) != nil {
		return time.Time{}, "", bad
	}
	return time.Unix(n, 0).UTC(), id, nil
}
