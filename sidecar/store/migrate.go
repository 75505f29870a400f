package store

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// Options name where the schema lives. The same Options go to Migrate, the
// Writer and the retention helpers.
type Options struct {
	// Database holds every table. Default "ronda".
	Database string
	// Cluster, when set, is a cluster of the servers' remote_servers config: each
	// table is created as "<name>_local" on the server Migrate runs on, with a
	// Distributed table "<name>" over the cluster, sharded by the row's dedup key
	// so a re-sent row lands on the same shard and collapses there. Run Migrate
	// on every shard (there is no ON CLUSTER: that needs ZooKeeper).
	Cluster string
	// RetentionDays, when positive, keeps that many days. On servers with table
	// TTL (19.6 and later) ApplyRetention sets it; otherwise DropOlderThan drops
	// whole day partitions.
	RetentionDays int
	// HoldDays is how long the rows of an escalated alert's entities are
	// held from retention after its case opens (hold.go). Zero: DefaultHoldDays.
	// Only the case decides: each case row carries its own hold_until.
	HoldDays int
	// AggregateRetentionDays, when positive, keeps that many days of the daily
	// aggregates (aggregate.go), which hold no ids and are meant to outlive the
	// raw rows: a TTL where the server has one, else DropOlderThan drops whole
	// months once their last day is past the limit. 0 keeps them all.
	AggregateRetentionDays int
	// AggregateSettleDays is how many days after a UTC day ends Aggregate waits
	// before it aggregates that day, once: moderators' claims, escalations and
	// dismissals of the day's alerts arrive in that time. Default 2.
	AggregateSettleDays int
}

var identRe = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

func (o *Options) validate() error {
	if o.Database == "" {
		o.Database = "ronda"
	}
	if !identRe.MatchString(o.Database) {
		return fmt.Errorf("database name %q: want letters, digits and _", o.Database)
	}
	if o.Cluster != "" && !identRe.MatchString(o.Cluster) {
		return fmt.Errorf("cluster name %q: want letters, digits and _", o.Cluster)
	}
	if o.HoldDays < 0 {
		return fmt.Errorf("hold days %d: want 0 (the default, %d) or more", o.HoldDays, DefaultHoldDays)
	}
	if o.RetentionDays < 0 {
		return fmt.Errorf("retention days %d: want 0 (keep all) or more", o.RetentionDays)
	}
	if o.AggregateRetentionDays < 0 {
		return fmt.Errorf("aggregate retention days %d: want 0 (keep all) or more", o.AggregateRetentionDays)
	}
	if o.AggregateSettleDays < 0 {
		return fmt.Errorf("aggregate settle days %d: want 0 (the default, 2) or more", o.AggregateSettleDays)
	}
	return nil
}

func (o Options) settleDays() int {
	if o.AggregateSettleDays == 0 {
		return 2
	}
	return o.AggregateSettleDays
}

// local is the name of a table's data: itself, or "<name>_local" on a cluster.
func (o Options) local(name string) string {
	if o.Cluster != "" {
		return name + "_local"
	}
	return name
}

// Qualified is "db.name" for queries: the table every reader and writer uses
// (the Distributed one on a cluster).
func (o Options) Qualified(name string) string { return o.Database + "." + name }

// tableDef is one ReplacingMergeTree table. Every table has an `ingested
// DateTime` version column; ORDER BY is the row's dedup key, so a re-inserted
// batch collapses at merge and reads with FINAL see each row once.
type tableDef struct {
	name    string
	columns string // "name Type, ..." without ingested
	orderBy string
	shardBy string // sharding expression of the Distributed table
}

// Schema. PARTITION BY day (one partition per UTC day) so retention without TTL
// can drop exactly the days past the limit; personal data does not linger a month.
var baseTables = []tableDef{
	{TableEvents, `day Date, at DateTime, id String, type String, node String, stream_id String,
 host_id String, account_id String, counterpart String, coins Int64, amount Float64,
 currency String, method String, country String, kind String, score Float64, device_id String,
 cell String, network String, tz String, private UInt8, viewers UInt32, cues Array(String), lang String`,
		"day, type, id", "cityHash64(id)"},
	{TableSignals, `day Date, at DateTime, detector String, entity_kind String, entity_id String,
 score Float64, summary String, evidence String`,
		"day, detector, entity_kind, entity_id, at", "cityHash64(entity_id)"},
	{TableSessions, "day Date, start DateTime, `end` DateTime, stream_id String, host_id String," +
		` minutes UInt32, night_minutes UInt32, device_id String, cell String, region String,
 network String, tz String, coins Int64, foreign_coins Int64, gifts UInt32, heartbeats UInt32,
 private_beats UInt32, directed_gifts UInt32`,
		"day, stream_id, start", "cityHash64(stream_id)"},
	{TableAlerts, `day Date, at DateTime, id String, updates UInt32, severity String,
 severity_rank UInt8, score Float64, subject_kind String, subject_id String,
 entities Array(String), hosts Array(String), accounts Array(String), detectors Array(String),
 reasons String, merged_into String`,
		"day, id, updates", "cityHash64(id)"},
	{TableActions, `day Date, at DateTime, action_id String, alert_id String, moderator String,
 action String, target String, reason String, note String`,
		"day, action_id", "cityHash64(action_id)"},
}

// Trend tables: each a narrow copy of its source keyed by the source row's dedup
// key (ReplacingMergeTree), filled by a materialized view. A batch inserted twice
// fires the view twice, but the copies collapse like the source rows do, and the
// per-hour and per-day views read them with FINAL. Aggregating states (sumState)
// would double on a re-insert; uniq states alone cannot sum coins.
type trendDef struct {
	tableDef
	source string
	query  string // SELECT ... FROM {src}
}

var trendTables = []trendDef{
	{tableDef{"trend_sessions", `day Date, hour DateTime, start DateTime, region String,
 stream_id String, host_id String, minutes UInt32, night_minutes UInt32, coins Int64,
 foreign_coins Int64, gifts UInt32`, "day, stream_id, start", "cityHash64(stream_id)"},
		TableSessions,
		`SELECT day, toStartOfHour(start) AS hour, start, region, stream_id, host_id, minutes,
 night_minutes, coins, foreign_coins, gifts, ingested FROM {src}`},
	{tableDef{"trend_signals", `day Date, hour DateTime, at DateTime, detector String,
 entity_kind String, entity_id String, score Float64`,
		"day, detector, entity_kind, entity_id, at", "cityHash64(entity_id)"},
		TableSignals,
		`SELECT day, toStartOfHour(at) AS hour, at, detector, entity_kind, entity_id, score, ingested FROM {src}`},
	{tableDef{"trend_alerts", `day Date, hour DateTime, id String, updates UInt32,
 severity String, severity_rank UInt8, regions Array(String)`, "day, id, updates", "cityHash64(id)"},
		TableAlerts,
		`SELECT day, toStartOfHour(at) AS hour, id, updates, severity, severity_rank,
 arrayMap(x -> substring(x, 10, 4), arrayFilter(x -> startsWith(x, 'location:'), entities)) AS regions,
 ingested FROM {src}`},
}

// Trend views, per hour and per day. Read them like tables:
// SELECT * FROM ronda.trend_daily_streams WHERE day >= today() - 30.
var trendViews = []struct{ name, query string }{
	{"trend_hourly_streams", `SELECT hour, region, uniqExact(stream_id) AS streams,
 uniqExact(host_id) AS hosts, sum(minutes) AS minutes_total,
 sum(night_minutes) AS night_minutes_total,
 if(minutes_total = 0, 0, night_minutes_total / minutes_total) AS night_share,
 sum(gifts) AS gifts_total, sum(coins) AS coins_total, sum(foreign_coins) AS foreign_coins_total,
 if(coins_total = 0, 0, foreign_coins_total / coins_total) AS foreign_share
 FROM {db}.trend_sessions FINAL GROUP BY hour, region`},
	{"trend_daily_streams", `SELECT day, region, uniqExact(stream_id) AS streams,
 uniqExact(host_id) AS hosts, sum(minutes) AS minutes_total,
 sum(night_minutes) AS night_minutes_total,
 if(minutes_total = 0, 0, night_minutes_total / minutes_total) AS night_share,
 sum(gifts) AS gifts_total, sum(coins) AS coins_total, sum(foreign_coins) AS foreign_coins_total,
 if(coins_total = 0, 0, foreign_coins_total / coins_total) AS foreign_share
 FROM {db}.trend_sessions FINAL GROUP BY day, region`},
	{"trend_hourly_signals", `SELECT hour, detector, count() AS signals,
 uniqExact(entity_kind, entity_id) AS entities FROM {db}.trend_signals FINAL GROUP BY hour, detector`},
	{"trend_daily_signals", `SELECT day, detector, count() AS signals,
 uniqExact(entity_kind, entity_id) AS entities FROM {db}.trend_signals FINAL GROUP BY day, detector`},
	{"trend_hourly_alerts", `SELECT hour, severity, uniqExact(id) AS alerts, count() AS versions
 FROM {db}.trend_alerts FINAL GROUP BY hour, severity`},
	{"trend_daily_alerts", `SELECT day, severity, uniqExact(id) AS alerts, count() AS versions
 FROM {db}.trend_alerts FINAL GROUP BY day, severity`},
	{"trend_daily_alerts_by_region", `SELECT day, region, severity, uniqExact(id) AS alerts
 FROM {db}.trend_alerts FINAL ARRAY JOIN regions AS region GROUP BY day, region, severity`},
}

// Migration is one numbered step of the schema: statements that are each
// idempotent (IF NOT EXISTS), so a step interrupted half way is simply re-run,
// then Apply, when set, for what 18.16 cannot say idempotently in SQL (ADD
// COLUMN has no IF NOT EXISTS there): it looks before it changes.
type Migration struct {
	Version int
	Name    string
	SQL     func(o Options) []string
	Apply   func(ctx context.Context, conn driver.Conn, o Options) error
}

// Migrations in order. Never edit a released one in a way a database that
// applied it would miss: add the next number. (A new database gets the events
// columns cues and lang from migration 1 already, so that the writer, which
// starts before the migrations end, never inserts into an events table
// without them; migration 4 adds them to older databases and skips them here.)
var Migrations = []Migration{
	{1, "base tables", func(o Options) []string {
		var out []string
		for _, t := range baseTables {
			out = append(out, createTable(o, t)...)
		}
		return out
	}, nil},
	{2, "trend tables and views", func(o Options) []string {
		var out []string
		for _, t := range trendTables {
			out = append(out, createTable(o, t.tableDef)...)
			src := o.Qualified(o.local(t.source))
			out = append(out, fmt.Sprintf("CREATE MATERIALIZED VIEW IF NOT EXISTS %s TO %s AS %s",
				o.Qualified(t.name+"_mv"), o.Qualified(o.local(t.name)), strings.ReplaceAll(t.query, "{src}", src)))
		}
		for _, v := range trendViews {
			out = append(out, fmt.Sprintf("CREATE VIEW IF NOT EXISTS %s AS %s",
				o.Qualified(v.name), strings.ReplaceAll(v.query, "{db}", o.Database)))
		}
		return out
	}, nil},
	{3, "cases and evidence holds", caseMigration, nil},
	{4, "post cues and languages, daily aggregates", func(o Options) []string {
		var out []string
		for _, t := range aggTables {
			out = append(out, createAggTable(o, t)...)
		}
		return out
	}, func(ctx context.Context, conn driver.Conn, o Options) error {
		tables := []string{o.local(TableEvents)}
		if o.Cluster != "" {
			tables = append(tables, TableEvents)
		}
		for _, t := range tables {
			for _, c := range []struct{ name, typ, after string }{{"cues", "Array(String)", "viewers"}, {"lang", "String", "cues"}} {
				if err := addColumn(ctx, conn, o, t, c.name, c.typ, c.after); err != nil {
					return err
				}
			}
		}
		return nil
	}},
}

// addColumn adds a column after another unless it is there already.
func addColumn(ctx context.Context, conn driver.Conn, o Options, table, name, typ, after string) error {
	var n uint64
	q := fmt.Sprintf("SELECT count() FROM system.columns WHERE database = '%s' AND table = '%s' AND name = '%s'",
		o.Database, table, name)
	if err := conn.QueryRow(ctx, q).Scan(&n); err != nil {
		return fmt.Errorf("look for column %s.%s: %w", table, name, err)
	}
	if n > 0 {
		return nil
	}
	q = fmt.Sprintf("ALTER TABLE %s ADD COLUMN %s %s AFTER %s", o.Qualified(table), name, typ, after)
	if err := conn.Exec(ctx, q); err != nil {
		return fmt.Errorf("add column %s.%s: %w", table, name, err)
	}
	return nil
}

func createTable(o Options, t tableDef) []string {
	local := fmt.Sprintf(`CREATE TABLE IF NOT EXISTS %s (%s, ingested DateTime)
 ENGINE = ReplacingMergeTree(ingested) PARTITION BY day ORDER BY (%s)`,
		o.Qualified(o.local(t.name)), t.columns, t.orderBy)
	if o.Cluster == "" {
		return []string{local}
	}
	dist := fmt.Sprintf("CREATE TABLE IF NOT EXISTS %s AS %s ENGINE = Distributed(%s, %s, %s, %s)",
		o.Qualified(t.name), o.Qualified(o.local(t.name)), o.Cluster, o.Database, o.local(t.name), t.shardBy)
	return []string{local, dist}
}

// Migrate creates the database and applies the migrations not yet recorded in
// schema_migrations on the server conn points at. Safe to run any number of
// times and from several processes at once.
func Migrate(ctx context.Context, conn driver.Conn, opts Options) (applied []int, err error) {
	if err := opts.validate(); err != nil {
		return nil, err
	}
	db := opts.Database
	for _, q := range []string{
		"CREATE DATABASE IF NOT EXISTS " + db,
		`CREATE TABLE IF NOT EXISTS ` + db + `.schema_migrations (version UInt32, name String,
 applied DateTime) ENGINE = ReplacingMergeTree(applied) ORDER BY version`,
	} {
		if err := conn.Exec(ctx, q); err != nil {
			return nil, fmt.Errorf("migrate %s: %w", db, err)
		}
	}
	done, err := appliedVersions(ctx, conn, db)
	if err != nil {
		return nil, err
	}
	for _, m := range Migrations {
		if done[m.Version] {
			continue
		}
		for _, q := range m.SQL(opts) {
			if err := conn.Exec(ctx, q); err != nil {
				return applied, fmt.Errorf("migration %d (%s): %w\n%s", m.Version, m.Name, err, q)
			}
		}
		if m.Apply != nil {
			if err := m.Apply(ctx, conn, opts); err != nil {
				return applied, fmt.Errorf("migration %d (%s): %w", m.Version, m.Name, err)
			}
		}
		// Through a batch: on 18.16 an INSERT ... VALUES sent with Exec waits for a
		// data block that never comes (COMPAT.md).
		b, err := conn.PrepareBatch(ctx, "INSERT INTO "+db+".schema_migrations (version, name, applied)")
		if err == nil {
			if err = b.Append(uint32(m.Version), m.Name, time.Now().UTC().Truncate(time.Second)); err == nil {
				err = b.Send()
			} else {
				b.Abort()
			}
		}
		if err != nil {
			return applied, fmt.Errorf("record migration %d: %w", m.Version, err)
		}
		applied = append(applied, m.Version)
	}
	return applied, nil
}

func appliedVersions(ctx context.Context, conn driver.Conn, db string) (map[int]bool, error) {
	rows, err := conn.Query(ctx, "SELECT DISTINCT version FROM "+db+".schema_migrations")
	if err != nil {
		return nil, fmt.Errorf("read schema_migrations: %w", err)
	}
	defer rows.Close()
	done := map[int]bool{}
	for rows.Next() {
		var v uint32
		if err := rows.Scan(&v); err != nil {
			return nil, fmt.Errorf("read schema_migrations: %w", err)
		}
		done[int(v)] = true
	}
	return done, rows.Err()
}

// dataTables are the tables that hold rows (local names), for retention.
func dataTables(o Options) []string {
	var out []string
	for _, t := range baseTables {
		out = append(out, o.local(t.name))
	}
	for _, t := range trendTables {
		out = append(out, o.local(t.name))
	}
	return out
}

// SupportsTTL reports whether the server has table TTL (ClickHouse 19.6+).
func SupportsTTL(conn driver.Conn) (bool, error) {
	v, err := conn.ServerVersion()
	if err != nil {
		return false, fmt.Errorf("server version: %w", err)
	}
	return v.Version.Major > 19 || (v.Version.Major == 19 && v.Version.Minor >= 6), nil
}

// ErrNoTTL says the server cannot expire rows itself: call DropOlderThan.
var ErrNoTTL = errors.New("server has no table TTL; drop old partitions with DropOlderThan")

// ApplyRetention sets a TTL of opts.RetentionDays on every data table, and of
// opts.AggregateRetentionDays on the aggregate tables, when the server supports
// it, and returns ErrNoTTL when it does not (18.16). Zero days leaves those
// tables alone.
func ApplyRetention(ctx context.Context, conn driver.Conn, opts Options) error {
	if err := opts.validate(); err != nil {
		return err
	}
	if opts.RetentionDays == 0 && opts.AggregateRetentionDays == 0 {
		return nil
	}
	ok, err := SupportsTTL(conn)
	if err != nil {
		return err
	}
	if !ok {
		return ErrNoTTL
	}
	for _, r := range []struct {
		tables []string
		days   int
	}{{dataTables(opts), opts.RetentionDays}, {aggregateTables(opts), opts.AggregateRetentionDays}} {
		if r.days == 0 {
			continue
		}
		for _, t := range r.tables {
			q := fmt.Sprintf("ALTER TABLE %s MODIFY TTL day + toIntervalDay(%d)", opts.Qualified(t), r.days)
			if err := conn.Exec(ctx, q); err != nil {
				return fmt.Errorf("set ttl on %s: %w", t, err)
			}
		}
	}
	// A hold table's rows expire on their own date, whatever the retention.
	for _, t := range holdTables(opts) {
		q := fmt.Sprintf("ALTER TABLE %s MODIFY TTL hold_until", opts.Qualified(t))
		if err := conn.Exec(ctx, q); err != nil {
			return fmt.Errorf("set ttl on %s: %w", t, err)
		}
	}
	return nil
}

// aggregateTables are the aggregate tables that hold rows (local names).
func aggregateTables(o Options) []string {
	var out []string
	for _, t := range aggTables {
		out = append(out, o.local(t.name))
	}
	return out
}

// DropOlderThan drops every day partition older than days before now (UTC) from
// the data tables on the server conn points at (each shard on a cluster), and
// returns how many partitions it dropped. Works on every version.
func DropOlderThan(ctx context.Context, conn driver.Conn, opts Options, days int, now time.Time) (int, error) {
	return dropOlderThan(ctx, conn, opts, dataTables(opts), days, now)
}

// DropAggregatesOlderThan drops the month partitions of the aggregate tables
// whose every day is older than days before now (UTC): a month goes once its
// last day is past the limit. Works on every version.
func DropAggregatesOlderThan(ctx context.Context, conn driver.Conn, opts Options, days int, now time.Time) (int, error) {
	return dropOlderThan(ctx, conn, opts, aggregateTables(opts), days, now)
}

func dropOlderThan(ctx context.Context, conn driver.Conn, opts Options, tables []string, days int, now time.Time) (int, error) {
	if err := opts.validate(); err != nil {
		return 0, err
	}
	if days <= 0 {
		return 0, fmt.Errorf("drop older than %d days: want at least 1", days)
	}
	return dropPartitionsBefore(ctx, conn, opts, tables, dayOf(now).AddDate(0, 0, -days))
}

// dropPartitionsBefore drops the partitions of tables (local names) whose
// every row's Date partition key is before cutoff.
func dropPartitionsBefore(ctx context.Context, conn driver.Conn, opts Options, tables []string, cutoff time.Time) (int, error) {
	// Names are validated identifiers; literals because 18.16 rejects a bound
	// array in IN. A partition goes when its newest part's last day is past.
	q := fmt.Sprintf(`SELECT table, partition_id FROM system.parts
 WHERE database = '%s' AND active AND table IN ('%s')
 GROUP BY table, partition_id HAVING max(max_date) < toDate('%s')`,
		opts.Database, strings.Join(tables, "', '"), cutoff.Format("2006-01-02"))
	rows, err := conn.Query(ctx, q)
	if err != nil {
		return 0, fmt.Errorf("list old partitions: %w", err)
	}
	type part struct{ table, id string }
	var parts []part
	for rows.Next() {
		var p part
		if err := rows.Scan(&p.table, &p.id); err != nil {
			rows.Close()
			return 0, fmt.Errorf("list old partitions: %w", err)
		}
		parts = append(parts, p)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, fmt.Errorf("list old partitions: %w", err)
	}
	n := 0
	for _, p := range parts {
		// The partition id is digits: 20240501 for a day, 202405 for a month.
		q := fmt.Sprintf("ALTER TABLE %s DROP PARTITION ID '%s'", opts.Qualified(p.table),
			strings.ReplaceAll(p.id, "'", ""))
		if err := conn.Exec(ctx, q); err != nil {
			return n, fmt.Errorf("drop partition %s of %s: %w", p.id, p.table, err)
		}
		n++
	}
	return n, nil
}
