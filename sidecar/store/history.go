package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// The moderators' history: alerts that left the queue (dismissed, merged) or
// never did, and the record around one alert (its hosts' broadcast hours, the
// gifts and payouts of its hosts and accounts, the links between its
// entities). Read only. The SQL keeps to what ClickHouse 18.16 and current
// releases both run: FINAL, LIMIT n BY, IN subqueries, has, arrayExists with
// a lambda, toDateTime of a number; times are bound as seconds since 1970 and
// strings through quoteString, never spliced in raw.

// History statuses a HistoryQuery can ask for.
const (
	StatusOpen      = "open"      // neither dismissed nor merged
	StatusDismissed = "dismissed" // a moderator dismissed it
	StatusEscalated = "escalated" // a lead escalated it
	StatusMerged    = "merged"    // its cluster joined another alert
	StatusClosed    = "closed"    // dismissed or merged: no longer in the queue
)

// entityKinds are the kinds a search by id looks among (analyzer.Kind*).
var entityKinds = []string{"host", "account", "stream", "device", "network", "location"}

// HistoryQuery selects alerts by their latest version. Zero fields do not
// filter. From and To bound the alerts' days (UTC) and are required.
type HistoryQuery struct {
	From, To   time.Time
	Severities []string // any of these
	Detector   string   // a reason of this detector family
	Region     string   // a location entity starting with this region key
	Status     string   // one of the Status* constants
	Search     string   // an alert id, or any entity's id (host, account, stream, device, network, location)
	Moderator  string   // some action on it by this moderator
	// Before continues a page: alerts older than (BeforeAt, then id after BeforeID).
	BeforeAt time.Time
	BeforeID string
	Limit    int // at most this many; the caller bounds it
}

// HistoryAlert is an alert's latest recorded version with what moderators
// did to it, in time order.
type HistoryAlert struct {
	AlertRow
	Actions []ActionRow
}

// ErrBadQuery says a HistoryQuery cannot be run as given.
var ErrBadQuery = errors.New("bad history query")

// quoteString is s as a ClickHouse string literal.
func quoteString(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}

func quoteList(ss []string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = quoteString(s)
	}
	return strings.Join(q, ", ")
}

func dayLit(t time.Time) string { return "toDate('" + t.UTC().Format("2006-01-02") + "')" }

func timeLit(t time.Time) string { return fmt.Sprintf("toDateTime(%d)", t.Unix()) }

const historyCols = `day, at, id, updates, severity, severity_rank, score, subject_kind, subject_id,
 entities, hosts, accounts, detectors, reasons, merged_into, ingested`

// historySQL is the query of q, its alerts newest first.
func historySQL(o Options, q HistoryQuery) (string, error) {
	if q.From.IsZero() || q.To.IsZero() || q.To.Before(q.From) {
		return "", fmt.Errorf("%w: from and to required, from <= to", ErrBadQuery)
	}
	if q.Limit <= 0 {
		return "", fmt.Errorf("%w: limit must be positive", ErrBadQuery)
	}
	days := fmt.Sprintf("day >= %s AND day <= %s", dayLit(q.From), dayLit(q.To))
	actions := func(cond string) string {
		return fmt.Sprintf("id IN (SELECT alert_id FROM %s FINAL WHERE day >= %s AND %s)",
			o.Qualified(TableActions), dayLit(q.From), cond)
	}
	var where []string
	if len(q.Severities) > 0 {
		where = append(where, "severity IN ("+quoteList(q.Severities)+")")
	}
	if q.Detector != "" {
		where = append(where, "has(detectors, "+quoteString(q.Detector)+")")
	}
	if q.Region != "" {
		where = append(where, "arrayExists(x -> startsWith(x, "+quoteString("location:"+q.Region)+"), entities)")
	}
	dismissed := actions("action = 'dismiss'")
	switch q.Status {
	case "":
	case StatusOpen:
		where = append(where, "merged_into = ''", "NOT "+dismissed)
	case StatusDismissed:
		where = append(where, dismissed)
	case StatusEscalated:
		where = append(where, actions("action = 'escalate'"))
	case StatusMerged:
		where = append(where, "merged_into != ''")
	case StatusClosed:
		where = append(where, "(merged_into != '' OR "+dismissed+")")
	default:
		return "", fmt.Errorf("%w: status %q", ErrBadQuery, q.Status)
	}
	if q.Search != "" {
		s := quoteString(q.Search)
		or := []string{"id = " + s, "subject_id = " + s}
		for _, k := range entityKinds {
			or = append(or, "has(entities, "+quoteString(k+":"+q.Search)+")")
		}
		where = append(where, "("+strings.Join(or, " OR ")+")")
	}
	if q.Moderator != "" {
		where = append(where, actions("moderator = "+quoteString(q.Moderator)))
	}
	if !q.BeforeAt.IsZero() {
		where = append(where, fmt.Sprintf("(at < %s OR (at = %s AND id > %s))",
			timeLit(q.BeforeAt), timeLit(q.BeforeAt), quoteString(q.BeforeID)))
	}
	filter := ""
	if len(where) > 0 {
		filter = " WHERE " + strings.Join(where, " AND ")
	}
	// The latest version of each alert first, then the filters on it: an
	// alert is found by what it is now, not by what an old version said.
	return fmt.Sprintf(`SELECT %s FROM (SELECT %s FROM %s FINAL WHERE %s
 ORDER BY id, updates DESC, ingested DESC LIMIT 1 BY id)%s ORDER BY at DESC, id LIMIT %d`,
		historyCols, historyCols, o.Qualified(TableAlerts), days, filter, q.Limit), nil
}

// ReadHistory runs q: alerts newest first (at, then id), each with its
// actions.
func ReadHistory(ctx context.Context, conn driver.Conn, o Options, q HistoryQuery) ([]HistoryAlert, error) {
	if o.Database == "" {
		o.Database = "ronda"
	}
	sql, err := historySQL(o, q)
	if err != nil {
		return nil, err
	}
	alerts, err := scanAlerts(ctx, conn, sql)
	if err != nil {
		return nil, err
	}
	return withActions(ctx, conn, o, q.From, alerts)
}

// ReadAlert reads the latest recorded version of alert id among the days
// from..to, with its actions; found is false when there is none.
func ReadAlert(ctx context.Context, conn driver.Conn, o Options, id string, from, to time.Time) (a HistoryAlert, found bool, err error) {
	if o.Database == "" {
		o.Database = "ronda"
	}
	alerts, err := scanAlerts(ctx, conn, fmt.Sprintf(`SELECT %s FROM %s FINAL WHERE day >= %s AND day <= %s AND id = %s
 ORDER BY updates DESC, ingested DESC LIMIT 1`, historyCols, o.Qualified(TableAlerts), dayLit(from), dayLit(to), quoteString(id)))
	if err != nil || len(alerts) == 0 {
		return HistoryAlert{}, false, err
	}
	out, err := withActions(ctx, conn, o, from, alerts)
	if err != nil {
		return HistoryAlert{}, false, err
	}
	return out[0], true, nil
}

func scanAlerts(ctx context.Context, conn driver.Conn, sql string) ([]AlertRow, error) {
	rows, err := conn.Query(ctx, sql)
	if err != nil {
		return nil, fmt.Errorf("read alerts: %w", err)
	}
	defer rows.Close()
	var alerts []AlertRow
	for rows.Next() {
		var r AlertRow
		if err := rows.Scan(&r.Day, &r.At, &r.ID, &r.Updates, &r.Severity, &r.SeverityRank, &r.Score,
			&r.SubjectKind, &r.SubjectID, &r.Entities, &r.Hosts, &r.Accounts, &r.Detectors, &r.Reasons,
			&r.MergedInto, &r.Ingested); err != nil {
			return nil, fmt.Errorf("read alerts: %w", err)
		}
		alerts = append(alerts, r)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read alerts: %w", err)
	}
	return alerts, nil
}

// withActions adds to each alert the actions recorded on it since from.
func withActions(ctx context.Context, conn driver.Conn, o Options, from time.Time, alerts []AlertRow) ([]HistoryAlert, error) {
	out := make([]HistoryAlert, len(alerts))
	if len(alerts) == 0 {
		return out, nil
	}
	idx := make(map[string]int, len(alerts))
	ids := make([]string, len(alerts))
	for i, a := range alerts {
		out[i].AlertRow = a
		idx[a.ID] = i
		ids[i] = a.ID
	}
	rows, err := conn.Query(ctx, fmt.Sprintf(`SELECT day, at, action_id, alert_id, moderator, action, target,
 reason, note, ingested FROM %s FINAL WHERE day >= %s AND alert_id IN (%s) ORDER BY at, action_id`,
		o.Qualified(TableActions), dayLit(from), quoteList(ids)))
	if err != nil {
		return nil, fmt.Errorf("read actions: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var r ActionRow
		if err := rows.Scan(&r.Day, &r.At, &r.ActionID, &r.AlertID, &r.Moderator, &r.Action, &r.Target,
			&r.Reason, &r.Note, &r.Ingested); err != nil {
			return nil, fmt.Errorf("read actions: %w", err)
		}
		if i, ok := idx[r.AlertID]; ok {
			out[i].Actions = append(out[i].Actions, r)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read actions: %w", err)
	}
	return out, nil
}

// BroadcastSpan is one recorded broadcast of a host, with the host's zone.
type BroadcastSpan struct {
	HostID     string
	Start, End time.Time
	TZ         string
}

// ReadBroadcasts reads the stream sessions of hosts that started in
// from..to, newest first, at most limit.
func ReadBroadcasts(ctx context.Context, conn driver.Conn, o Options, hosts []string, from, to time.Time, limit int) ([]BroadcastSpan, error) {
	if len(hosts) == 0 || limit <= 0 {
		return nil, nil
	}
	if o.Database == "" {
		o.Database = "ronda"
	}
	rows, err := conn.Query(ctx, fmt.Sprintf("SELECT host_id, start, `end`, tz FROM %s FINAL"+
		" WHERE day >= %s AND day <= %s AND host_id IN (%s) ORDER BY start DESC LIMIT %d",
		o.Qualified(TableSessions), dayLit(from), dayLit(to), quoteList(hosts), limit))
	if err != nil {
		return nil, fmt.Errorf("read sessions: %w", err)
	}
	defer rows.Close()
	var out []BroadcastSpan
	for rows.Next() {
		var b BroadcastSpan
		if err := rows.Scan(&b.HostID, &b.Start, &b.End, &b.TZ); err != nil {
			return nil, fmt.Errorf("read sessions: %w", err)
		}
		out = append(out, b)
	}
	return out, rows.Err()
}

// FlowPoint is the gifts received by, or the payouts of, some accounts in
// one hour.
type FlowPoint struct {
	Hour   time.Time
	Type   string // gift or payout
	Count  uint64
	Coins  int64
	Amount float64
}

// ReadFlows sums, per hour in from..to, the gifts the given hosts received
// and the payouts from or to the given accounts (hosts are accounts too).
func ReadFlows(ctx context.Context, conn driver.Conn, o Options, hosts, accounts []string, from, to time.Time) ([]FlowPoint, error) {
	if len(hosts)+len(accounts) == 0 {
		return nil, nil
	}
	if o.Database == "" {
		o.Database = "ronda"
	}
	var cond []string
	if len(hosts) > 0 {
		cond = append(cond, "(type = 'gift' AND host_id IN ("+quoteList(hosts)+"))")
	}
	payers := quoteList(append(append([]string{}, hosts...), accounts...))
	cond = append(cond, "(type = 'payout' AND (account_id IN ("+payers+") OR counterpart IN ("+payers+")))")
	rows, err := conn.Query(ctx, fmt.Sprintf(`SELECT toStartOfHour(at) AS hour, type, count() AS n, sum(coins) AS c,
 sum(amount) AS m FROM %s FINAL WHERE day >= %s AND day <= %s AND at >= %s AND at <= %s AND (%s)
 GROUP BY hour, type ORDER BY hour, type`,
		o.Qualified(TableEvents), dayLit(from), dayLit(to), timeLit(from), timeLit(to), strings.Join(cond, " OR ")))
	if err != nil {
		return nil, fmt.Errorf("read flows: %w", err)
	}
	defer rows.Close()
	var out []FlowPoint
	for rows.Next() {
		var p FlowPoint
		if err := rows.Scan(&p.Hour, &p.Type, &p.Count, &p.Coins, &p.Amount); err != nil {
			return nil, fmt.Errorf("read flows: %w", err)
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

// Link is one recorded relation between two entities ("kind:id").
type Link struct {
	From, To string
	Rel      string // device, network, location (a host broadcast from it), or the link or payout relation
}

// ReadLinks reads how the given hosts and accounts are tied together in the
// record: the devices, networks and regions the hosts broadcast from, the
// accounts' link events, and payouts between accounts. At most limit of
// each kind.
func ReadLinks(ctx context.Context, conn driver.Conn, o Options, hosts, accounts []string, from, to time.Time, limit int) ([]Link, error) {
	if o.Database == "" {
		o.Database = "ronda"
	}
	var out []Link
	days := fmt.Sprintf("day >= %s AND day <= %s", dayLit(from), dayLit(to))
	if len(hosts) > 0 {
		rows, err := conn.Query(ctx, fmt.Sprintf(`SELECT DISTINCT host_id, device_id, network, region FROM %s FINAL
 WHERE %s AND host_id IN (%s) LIMIT %d`, o.Qualified(TableSessions), days, quoteList(hosts), limit))
		if err != nil {
			return nil, fmt.Errorf("read links: %w", err)
		}
		for rows.Next() {
			var h, dev, nw, region string
			if err := rows.Scan(&h, &dev, &nw, &region); err != nil {
				rows.Close()
				return nil, fmt.Errorf("read links: %w", err)
			}
			for _, l := range []Link{{"host:" + h, "device:" + dev, "device"}, {"host:" + h, "network:" + nw, "network"},
				{"host:" + h, "location:" + region, "location"}} {
				if !strings.HasSuffix(l.To, ":") {
					out = append(out, l)
				}
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("read links: %w", err)
		}
	}
	ids := append(append([]string{}, hosts...), accounts...)
	if len(ids) == 0 {
		return out, nil
	}
	rows, err := conn.Query(ctx, fmt.Sprintf(`SELECT DISTINCT account_id, counterpart, if(type = 'payout', 'payout', kind) FROM %s FINAL
 WHERE %s AND type IN ('link', 'payout') AND counterpart != '' AND (account_id IN (%s) OR counterpart IN (%s)) LIMIT %d`,
		o.Qualified(TableEvents), days, quoteList(ids), quoteList(ids), limit))
	if err != nil {
		return nil, fmt.Errorf("read links: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var a, b, rel string
		if err := rows.Scan(&a, &b, &rel); err != nil {
			return nil, fmt.Errorf("read links: %w", err)
		}
		out = append(out, Link{"account:" + a, "account:" + b, rel})
	}
	return out, rows.Err()
}
