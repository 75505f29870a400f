package store

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// Case tables: what sidecar/cases keeps of a case. They are outside retention
// (no day partitions, not in dataTables): a case stays readable after its
// alert closed and after the rows it was built from aged out.
const (
	TableCases           = "cases"
	TableCaseVersions    = "case_versions"
	TableCaseActions     = "case_actions"
	TableCaseSubmissions = "case_submissions"
)

// caseTables: each a ReplacingMergeTree keyed by what makes a row the same
// row, so a write repeated after a restart or a replay collapses with FINAL.
var caseTables = []struct {
	name, columns, version, orderBy, shardBy string
}{
	// One row per case, rewritten (a higher rev) when its alert names new
	// entities: the entities its holds follow, and until when.
	{TableCases, `case_id String, alert_id String, opened DateTime, opened_by String,
 entities Array(String), hold_until Date, rev UInt64`, "rev", "case_id", "cityHash64(case_id)"},
	// Every alert version the case has seen, as the contract's JSON.
	{TableCaseVersions, `case_id String, updates UInt32, at DateTime, alert String, ingested DateTime`,
		"ingested", "case_id, updates", "cityHash64(case_id)"},
	// What people did to the case: notes, approvals, submissions asked.
	{TableCaseActions, `case_id String, at DateTime, action_id String, moderator String,
 action String, note String, version UInt32, ingested DateTime`, "ingested", "case_id, action_id", "cityHash64(case_id)"},
	// Every attempt to send a case version down a route, and its outcome.
	{TableCaseSubmissions, `case_id String, route String, key String, attempt UInt32, at DateTime,
 result String, detail String, ingested DateTime`, "ingested", "case_id, route, key, attempt", "cityHash64(case_id)"},
}

// holdSources are the tables whose rows a case holds, with what ties a row to
// a case: {ids} is the case's entity ids, {alert} its alert id (literals).
var holdSources = []struct {
	source  string
	columns []string
	filter  string
}{
	{TableEvents, EventColumns, `host_id IN ({ids}) OR account_id IN ({ids}) OR counterpart IN ({ids})
 OR stream_id IN ({ids}) OR device_id IN ({ids}) OR network IN ({ids})`},
	{TableSignals, SignalColumns, `entity_id IN ({ids})`},
	{TableSessions, SessionColumns, `host_id IN ({ids}) OR stream_id IN ({ids}) OR device_id IN ({ids}) OR network IN ({ids})`},
	{TableAlerts, AlertColumns, `id = {alert}`},
	{TableActions, ActionColumns, `alert_id = {alert}`},
}

// HoldTable is the name of the table that holds a source table's rows for
// cases: hold_events, hold_signals, hold_stream_sessions, hold_alerts,
// hold_actions. Each has the source's columns after case_id and hold_until.
func HoldTable(source string) string { return "hold_" + source }

func caseMigration(o Options) []string {
	var out []string
	for _, t := range caseTables {
		out = append(out, createWith(o, t.name, t.columns,
			fmt.Sprintf("ReplacingMergeTree(%s) ORDER BY (%s)", t.version, t.orderBy), t.shardBy)...)
	}
	for _, h := range holdSources {
		src := tableByName(h.source)
		// Partitioned by the hold's end, so that without TTL the expired
		// holds are dropped as whole partitions, as retention drops days.
		out = append(out, createWith(o, HoldTable(h.source),
			"case_id String, hold_until Date, "+src.columns+", ingested DateTime",
			fmt.Sprintf("ReplacingMergeTree(ingested) PARTITION BY hold_until ORDER BY (case_id, %s)", src.orderBy),
			"cityHash64(case_id)")...)
	}
	return out
}

func tableByName(name string) tableDef {
	for _, t := range baseTables {
		if t.name == name {
			return t
		}
	}
	panic("store: no base table " + name)
}

// createWith creates a table with the given engine clause (and its
// Distributed table on a cluster).
func createWith(o Options, name, columns, engine, shardBy string) []string {
	local := fmt.Sprintf("CREATE TABLE IF NOT EXISTS %s (%s) ENGINE = %s",
		o.Qualified(o.local(name)), columns, engine)
	if o.Cluster == "" {
		return []string{local}
	}
	dist := fmt.Sprintf("CREATE TABLE IF NOT EXISTS %s AS %s ENGINE = Distributed(%s, %s, %s, %s)",
		o.Qualified(name), o.Qualified(o.local(name)), o.Cluster, o.Database, o.local(name), shardBy)
	return []string{local, dist}
}

// holdTables are the hold tables (local names).
func holdTables(o Options) []string {
	var out []string
	for _, h := range holdSources {
		out = append(out, o.local(HoldTable(h.source)))
	}
	return out
}

// CaseRow is one row of cases.
type CaseRow struct {
	CaseID    string
	AlertID   string
	Opened    time.Time
	OpenedBy  string
	Entities  []string // kind:id
	HoldUntil time.Time
	Rev       uint64
}

// CaseVersionRow is one alert version of a case.
type CaseVersionRow struct {
	CaseID   string
	Updates  uint32
	At       time.Time
	Alert    string // the contract's JSON
	Ingested time.Time
}

// CaseActionRow is one thing a person did to a case.
type CaseActionRow struct {
	CaseID    string
	At        time.Time
	ActionID  string
	Moderator string
	Action    string
	Note      string
	Version   uint32
	Ingested  time.Time
}

// CaseSubmissionRow is one attempt to send a case down a route.
type CaseSubmissionRow struct {
	CaseID   string
	Route    string
	Key      string
	Attempt  uint32
	At       time.Time
	Result   string
	Detail   string
	Ingested time.Time
}

// insert writes rows through a batch (an INSERT ... VALUES sent with Exec
// waits forever on 18.16: COMPAT.md). Synchronous: a case write is rare and
// its caller must know it is kept.
func insert(ctx context.Context, conn driver.Conn, o Options, table string, cols string, rows [][]any) error {
	if err := o.validate(); err != nil {
		return err
	}
	b, err := conn.PrepareBatch(ctx, fmt.Sprintf("INSERT INTO %s (%s)", o.Qualified(table), cols))
	if err != nil {
		return fmt.Errorf("insert into %s: %w", table, err)
	}
	for _, r := range rows {
		if err := b.Append(r...); err != nil {
			b.Abort()
			return fmt.Errorf("insert into %s: %w", table, err)
		}
	}
	if err := b.Send(); err != nil {
		return fmt.Errorf("insert into %s: %w", table, err)
	}
	return nil
}

// WriteCase writes (or rewrites, with a higher Rev) a case's row.
func WriteCase(ctx context.Context, conn driver.Conn, o Options, r CaseRow) error {
	return insert(ctx, conn, o, TableCases, "case_id, alert_id, opened, opened_by, entities, hold_until, rev",
		[][]any{{r.CaseID, r.AlertID, second(r.Opened), r.OpenedBy, nonNil(r.Entities), dayOf(r.HoldUntil), r.Rev}})
}

// WriteCaseVersions writes alert versions of a case.
func WriteCaseVersions(ctx context.Context, conn driver.Conn, o Options, rs ...CaseVersionRow) error {
	rows := make([][]any, 0, len(rs))
	for _, r := range rs {
		rows = append(rows, []any{r.CaseID, r.Updates, second(r.At), r.Alert, second(r.Ingested)})
	}
	return insert(ctx, conn, o, TableCaseVersions, "case_id, updates, at, alert, ingested", rows)
}

// WriteCaseAction writes one action on a case.
func WriteCaseAction(ctx context.Context, conn driver.Conn, o Options, r CaseActionRow) error {
	return insert(ctx, conn, o, TableCaseActions, "case_id, at, action_id, moderator, action, note, version, ingested",
		[][]any{{r.CaseID, second(r.At), r.ActionID, r.Moderator, r.Action, r.Note, r.Version, second(r.Ingested)}})
}

// WriteCaseSubmission records one attempt to send a case.
func WriteCaseSubmission(ctx context.Context, conn driver.Conn, o Options, r CaseSubmissionRow) error {
	return insert(ctx, conn, o, TableCaseSubmissions, "case_id, route, key, attempt, at, result, detail, ingested",
		[][]any{{r.CaseID, r.Route, r.Key, r.Attempt, second(r.At), r.Result, r.Detail, second(r.Ingested)}})
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// Quote is a ClickHouse string literal of s.
func Quote(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}

// ReadCases reads the case rows that where selects (the latest rev of each),
// newest first, at most limit of them (0: all).
func ReadCases(ctx context.Context, conn driver.Conn, o Options, where string, limit int) ([]CaseRow, error) {
	if err := o.validate(); err != nil {
		return nil, err
	}
	if where == "" {
		where = "1"
	}
	q := fmt.Sprintf(`SELECT case_id, alert_id, opened, opened_by, entities, hold_until, rev
 FROM %s FINAL WHERE %s ORDER BY opened DESC, case_id`, o.Qualified(TableCases), where)
	if limit > 0 {
		q += fmt.Sprintf(" LIMIT %d", limit)
	}
	rows, err := conn.Query(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("read cases: %w", err)
	}
	defer rows.Close()
	var out []CaseRow
	for rows.Next() {
		var r CaseRow
		if err := rows.Scan(&r.CaseID, &r.AlertID, &r.Opened, &r.OpenedBy, &r.Entities, &r.HoldUntil, &r.Rev); err != nil {
			return nil, fmt.Errorf("read cases: %w", err)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// ReadCaseDetail reads a case's versions, actions and submissions.
func ReadCaseDetail(ctx context.Context, conn driver.Conn, o Options, caseID string) ([]CaseVersionRow, []CaseActionRow, []CaseSubmissionRow, error) {
	if err := o.validate(); err != nil {
		return nil, nil, nil, err
	}
	id := Quote(caseID)
	var vs []CaseVersionRow
	err := query(ctx, conn, fmt.Sprintf(`SELECT case_id, updates, at, alert, ingested FROM %s FINAL
 WHERE case_id = %s ORDER BY updates`, o.Qualified(TableCaseVersions), id), func(s func(...any) error) error {
		var r CaseVersionRow
		err := s(&r.CaseID, &r.Updates, &r.At, &r.Alert, &r.Ingested)
		vs = append(vs, r)
		return err
	})
	if err != nil {
		return nil, nil, nil, fmt.Errorf("read case versions: %w", err)
	}
	var as []CaseActionRow
	err = query(ctx, conn, fmt.Sprintf(`SELECT case_id, at, action_id, moderator, action, note, version, ingested
 FROM %s FINAL WHERE case_id = %s ORDER BY at, action_id`, o.Qualified(TableCaseActions), id), func(s func(...any) error) error {
		var r CaseActionRow
		err := s(&r.CaseID, &r.At, &r.ActionID, &r.Moderator, &r.Action, &r.Note, &r.Version, &r.Ingested)
		as = append(as, r)
		return err
	})
	if err != nil {
		return nil, nil, nil, fmt.Errorf("read case actions: %w", err)
	}
	var ss []CaseSubmissionRow
	err = query(ctx, conn, fmt.Sprintf(`SELECT case_id, route, key, attempt, at, result, detail, ingested
 FROM %s FINAL WHERE case_id = %s ORDER BY at, route, attempt`, o.Qualified(TableCaseSubmissions), id), func(s func(...any) error) error {
		var r CaseSubmissionRow
		err := s(&r.CaseID, &r.Route, &r.Key, &r.Attempt, &r.At, &r.Result, &r.Detail, &r.Ingested)
		ss = append(ss, r)
		return err
	})
	if err != nil {
		return nil, nil, nil, fmt.Errorf("read case submissions: %w", err)
	}
	return vs, as, ss, nil
}

// query runs q and calls each with every row's Scan.
func query(ctx context.Context, conn driver.Conn, q string, each func(scan func(...any) error) error) error {
	rows, err := conn.Query(ctx, q)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := each(rows.Scan); err != nil {
			return err
		}
	}
	return rows.Err()
}
