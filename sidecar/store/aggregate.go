package store

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// Daily aggregates: the analysts' figures per UTC day with no host, account,
// stream, device, alert or moderator id and no free text, kept longer than the
// raw rows (Options.AggregateRetentionDays) and exportable for NGOs
// (ReadAggregates, `ronda export-aggregates`). Counts of distinct hosts or
// senders are numbers; places are geohash-4 regions (Region), never finer.
//
// They are filled by Aggregate, not by materialized views: a view sees each
// inserted block, so a batch re-sent after a timeout would count twice, while
// Aggregate reads the deduplicated raw tables (FINAL) once a day has settled.
// Each table is a ReplacingMergeTree keyed by (day, its dimensions): two
// Aggregate runs at once write the same keys, which collapse.
//
// On a cluster the queries read the Distributed tables, so a subquery that a
// shard cannot answer alone (an IN over another Distributed table, in a query
// that reads one directly) is GLOBAL: the initiator runs it once and ships the
// set. JOINs read subqueries, which the initiator runs anyway.

// Aggregate tables.
const (
	AggOutcomes    = "agg_daily_outcomes"
	AggResponse    = "agg_daily_response"
	AggGifts       = "agg_daily_gift_countries"
	AggEscalations = "agg_daily_escalations"
	AggRegions     = "agg_daily_regions"
	AggRecruitment = "agg_daily_recruitment"
)

// DismissReasons are the dismiss reasons an aggregate keeps by name (lower case,
// any run of other characters than a-z as one underscore: "Night gamer" is
// night_gamer); any other reason a moderator typed is counted as
// "other", since free text may name a person. The lookalikes of DOMAIN.md, and
// the generic ones.
var DismissReasons = []string{
	"night_gamer", "dj_or_music", "sahur_stream", "family", "boarding_house", "public_place",
	"carrier_nat", "real_job_ad", "legit_agency", "whale_funded", "diaspora_fans", "banter",
	"teen_at_home", "adult_verified", "duplicate", "insufficient_evidence", "test",
}

// MinorScore is the age family score from which a host counts as a minor in
// the aggregates and panels: the analyzer's default Strong (0.5), below which
// an age cue counts as absent.
const MinorScore = 0.5

type aggDef struct {
	name    string
	columns string // "name Type, ..." without computed
	orderBy string
	// days lists the days there is something to aggregate: SELECT DISTINCT day.
	days string
	// query is the SELECT of one day's rows in column order, with {db} and
	// {day} ('YYYY-MM-DD') to fill.
	query string
}

// latestAlerts is every alert's last version: its severity, hosts and detectors.
const latestAlerts = `SELECT id AS alert_id, argMax(severity, updates) AS severity,
 argMax(hosts, updates) AS alert_hosts, argMax(detectors, updates) AS detectors
 FROM {db}.alerts FINAL GROUP BY id`

// minorHosts are the hosts whose age family ever scored MinorScore or more.
var minorHosts = fmt.Sprintf(`SELECT DISTINCT entity_id FROM {db}.signals FINAL
 WHERE detector = 'age' AND entity_kind = 'host' AND score >= %g`, MinorScore)

// flaggedHosts are the hosts named in an alert of medium or above (the
// contract's "flagged").
const flaggedHosts = `SELECT DISTINCT arrayJoin(hosts) FROM {db}.alerts FINAL WHERE severity_rank >= 2`

var aggTables = []aggDef{
	{AggOutcomes, `day Date, detector String, severity String, outcome String, reason String, alerts UInt64`,
		"day, detector, severity, outcome, reason",
		`SELECT DISTINCT day FROM {db}.actions WHERE action IN ('escalate', 'dismiss')`,
		// An alert's outcome of the day is its last escalate or dismiss that day,
		// counted once for every detector of its last version.
		`SELECT toDate('{day}'), detector, severity, outcome,
 if(outcome = 'dismiss', if(code IN ({reasons}), code, 'other'), '') AS reason, count()
 FROM (
  SELECT alert_id, argMax(action, at) AS outcome,
   replaceRegexpAll(replaceRegexpAll(lower(argMax(reason, at)), '[^a-z]+', '_'), '^_|_$', '') AS code
  FROM {db}.actions FINAL WHERE day = toDate('{day}') AND action IN ('escalate', 'dismiss')
  GROUP BY alert_id
 ) ALL INNER JOIN (
  SELECT alert_id, severity, detector FROM (` + latestAlerts + `) ARRAY JOIN detectors AS detector
 ) USING alert_id
 GROUP BY detector, severity, outcome, reason`},

	{AggResponse, `day Date, severity String, alerts UInt64, claimed UInt64, claim_p50_min Float64,
 claim_p90_min Float64, escalated UInt64, escalate_p50_min Float64, escalate_p90_min Float64`,
		"day, severity",
		`SELECT DISTINCT day FROM {db}.alerts`,
		// Per day an alert was first raised: how long until its first claim and
		// its first escalation, in minutes.
		`SELECT toDate('{day}'), severity, count(), countIf(claimed),
 quantileExactIf(0.5)(claim_min, claimed), quantileExactIf(0.9)(claim_min, claimed),
 countIf(escalated), quantileExactIf(0.5)(escalate_min, escalated), quantileExactIf(0.9)(escalate_min, escalated)
 FROM (
  SELECT severity, claim_at > toDateTime(0) AS claimed, escalate_at > toDateTime(0) AS escalated,
   greatest(toInt64(claim_at) - toInt64(raised), 0) / 60 AS claim_min,
   greatest(toInt64(escalate_at) - toInt64(raised), 0) / 60 AS escalate_min
  FROM (
   SELECT id AS alert_id, min(at) AS raised, argMax(severity, updates) AS severity
   FROM {db}.alerts FINAL WHERE id GLOBAL IN (SELECT id FROM {db}.alerts WHERE day = toDate('{day}'))
   GROUP BY id HAVING toDate(raised) = toDate('{day}')
  ) ALL LEFT JOIN (
   SELECT alert_id, minIf(at, action = 'claim') AS claim_at, minIf(at, action = 'escalate') AS escalate_at
   FROM {db}.actions FINAL WHERE action IN ('claim', 'escalate') GROUP BY alert_id
  ) USING alert_id
 )
 GROUP BY severity`},

	{AggGifts, `day Date, country String, flagged UInt8, gifts UInt64, coins Int64, senders UInt64, hosts UInt64`,
		"day, country, flagged",
		`SELECT DISTINCT day FROM {db}.events WHERE type = 'gift'`,
		// flagged: to a host named in an alert of medium or above (as of the run).
		`SELECT toDate('{day}'), country, host_id GLOBAL IN (` + flaggedHosts + `) AS flagged, count(), sum(coins),
 uniqExactIf(counterpart, counterpart != ''), uniqExact(host_id)
 FROM {db}.events FINAL WHERE day = toDate('{day}') AND type = 'gift'
 GROUP BY country, flagged`},

	{AggEscalations, `day Date, severity String, hosts UInt32, minors UInt32, rings UInt64`,
		"day, severity, hosts, minors",
		`SELECT DISTINCT day FROM {db}.actions WHERE action = 'escalate'`,
		// Per day of an alert's first escalation: how many rings had how many
		// hosts, and how many of them minors.
		`SELECT toDate('{day}'), severity, toUInt32(hosts), toUInt32(minors), count()
 FROM (
  SELECT alert_id, any(severity) AS severity, countIf(host_id != '') AS hosts, sum(minor) AS minors
  FROM (
   SELECT alert_id, severity, host_id, host_id IN (` + minorHosts + `) AS minor
   FROM (
    SELECT * FROM (
     SELECT alert_id FROM {db}.actions FINAL WHERE action = 'escalate'
     GROUP BY alert_id HAVING toDate(min(at)) = toDate('{day}')
    ) ALL INNER JOIN (` + latestAlerts + `) USING alert_id
   ) LEFT ARRAY JOIN alert_hosts AS host_id
  )
  GROUP BY alert_id
 )
 GROUP BY severity, hosts, minors`},

	{AggRegions, `day Date, region String, streams UInt64, hosts UInt64, flagged_hosts UInt64,
 minutes UInt64, night_minutes UInt64`,
		"day, region",
		`SELECT DISTINCT day FROM {db}.stream_sessions`,
		`SELECT toDate('{day}'), region, uniqExact(stream_id), uniqExact(host_id),
 uniqExactIf(host_id, host_id GLOBAL IN (` + flaggedHosts + `)), sum(minutes), sum(night_minutes)
 FROM {db}.stream_sessions FINAL WHERE day = toDate('{day}')
 GROUP BY region`},

	{AggRecruitment, `day Date, kind String, cue String, lang String, posts UInt64, authors UInt64`,
		"day, kind, cue, lang",
		`SELECT DISTINCT day FROM {db}.events WHERE type = 'post'`,
		// cue '' counts the posts that carry no lure.
		`SELECT toDate('{day}'), kind, cue, lang, count(), uniqExact(account_id)
 FROM {db}.events FINAL LEFT ARRAY JOIN cues AS cue
 WHERE day = toDate('{day}') AND type = 'post'
 GROUP BY kind, cue, lang`},
}

// AggregateTables names the aggregate tables.
func AggregateTables() []string {
	var out []string
	for _, t := range aggTables {
		out = append(out, t.name)
	}
	return out
}

// AggregateColumns names an aggregate table's columns in order (without
// computed, the version column); nil for a name that is not one.
func AggregateColumns(name string) []string {
	for _, t := range aggTables {
		if t.name == name {
			return t.columnNames()
		}
	}
	return nil
}

func (t aggDef) columnNames() []string {
	var out []string
	for _, c := range strings.Split(t.columns, ",") {
		out = append(out, strings.Fields(c)[0])
	}
	return out
}

func createAggTable(o Options, t aggDef) []string {
	local := fmt.Sprintf(`CREATE TABLE IF NOT EXISTS %s (%s, computed DateTime)
 ENGINE = ReplacingMergeTree(computed) PARTITION BY toYYYYMM(day) ORDER BY (%s)`,
		o.Qualified(o.local(t.name)), t.columns, t.orderBy)
	if o.Cluster == "" {
		return []string{local}
	}
	dist := fmt.Sprintf("CREATE TABLE IF NOT EXISTS %s AS %s ENGINE = Distributed(%s, %s, %s, toYYYYMMDD(day))",
		o.Qualified(t.name), o.Qualified(o.local(t.name)), o.Cluster, o.Database, o.local(t.name))
	return []string{local, dist}
}

// aggSQL fills {db}, {day} and {reasons}.
func aggSQL(q string, o Options, day string) string {
	reasons := "'" + strings.Join(DismissReasons, "', '") + "'"
	return strings.NewReplacer("{db}", o.Database, "{day}", day, "{reasons}", reasons).Replace(q)
}

// Aggregate writes the daily aggregates of every day that has raw rows, ended
// at least Options.AggregateSettleDays before now (UTC), and is not yet in the
// aggregate table, and returns how many (table, day) pairs it wrote. A day is
// aggregated once: actions or late rows that arrive after it settled are not
// counted in it (raise AggregateSettleDays if moderators take longer). Run it
// before the raw rows expire: `ronda migrate` runs it before retention. On a
// cluster, run it on one server: it reads and writes the Distributed tables.
func Aggregate(ctx context.Context, conn driver.Conn, o Options, now time.Time) (int, error) {
	if err := o.validate(); err != nil {
		return 0, err
	}
	if o.Cluster != "" {
		// Done only once every shard has its rows: the next run's pendingDays
		// must see them.
		ctx = clickhouse.Context(ctx, clickhouse.WithSettings(clickhouse.Settings{"insert_distributed_sync": 1}))
	}
	// Day d ends at d+1 00:00 and has settled settleDays later.
	cutoff := dayOf(now).AddDate(0, 0, -o.settleDays()-1).Format("2006-01-02")
	n := 0
	for _, t := range aggTables {
		days, err := pendingDays(ctx, conn, o, t, cutoff)
		if err != nil {
			return n, err
		}
		for _, d := range days {
			q := fmt.Sprintf("INSERT INTO %s SELECT *, now() FROM (%s)", o.Qualified(t.name), aggSQL(t.query, o, d))
			if err := conn.Exec(ctx, q); err != nil {
				return n, fmt.Errorf("aggregate %s of %s: %w", t.name, d, err)
			}
			n++
		}
	}
	return n, nil
}

// pendingDays are the days of t's source up to cutoff not yet in t.
func pendingDays(ctx context.Context, conn driver.Conn, o Options, t aggDef, cutoff string) ([]string, error) {
	q := fmt.Sprintf(`SELECT toString(day) AS d FROM (%s) WHERE day <= toDate('%s')
 AND day NOT IN (SELECT DISTINCT day FROM %s) ORDER BY d`,
		aggSQL(t.days, o, ""), cutoff, o.Qualified(t.name))
	rows, err := conn.Query(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("days to aggregate into %s: %w", t.name, err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var d string
		if err := rows.Scan(&d); err != nil {
			return nil, fmt.Errorf("days to aggregate into %s: %w", t.name, err)
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

// ReadAggregates calls row for every row of aggregate table name with day in
// [from, to] (dates, UTC), in day order, with the column names (computed left
// out) and the row's values as Go types (time.Time for day, strings, integers,
// float64).
func ReadAggregates(ctx context.Context, conn driver.Conn, o Options, name string, from, to time.Time,
	row func(cols []string, vals []any) error) error {
	if err := o.validate(); err != nil {
		return err
	}
	var def *aggDef
	for i := range aggTables {
		if aggTables[i].name == name {
			def = &aggTables[i]
		}
	}
	if def == nil {
		return fmt.Errorf("no aggregate table %q (have %s)", name, strings.Join(AggregateTables(), ", "))
	}
	cols := def.columnNames()
	q := fmt.Sprintf("SELECT %s FROM %s FINAL WHERE day >= toDate('%s') AND day <= toDate('%s') ORDER BY %s",
		strings.Join(cols, ", "), o.Qualified(name), from.UTC().Format("2006-01-02"), to.UTC().Format("2006-01-02"), def.orderBy)
	rows, err := conn.Query(ctx, q)
	if err != nil {
		return fmt.Errorf("read %s: %w", name, err)
	}
	defer rows.Close()
	types := rows.ColumnTypes()
	for rows.Next() {
		ptrs := make([]any, len(types))
		for i, c := range types {
			ptrs[i] = newScanValue(c.ScanType())
		}
		if err := rows.Scan(ptrs...); err != nil {
			return fmt.Errorf("read %s: %w", name, err)
		}
		vals := make([]any, len(ptrs))
		for i, p := range ptrs {
			vals[i] = derefScan(p)
		}
		if err := row(cols, vals); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read %s: %w", name, err)
	}
	return nil
}

func newScanValue(t reflect.Type) any { return reflect.New(t).Interface() }
func derefScan(p any) any             { return reflect.ValueOf(p).Elem().Interface() }
