package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/ronda-watch/ronda/sidecar/store"
)

func cmdMigrate(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "migrate", "[--clickhouse DSN] [flags]", `
Create or upgrade Ronda's ClickHouse schema: apply the numbered migrations not yet
recorded in the database's schema_migrations table; then fill the daily aggregates
(no ids, kept --aggregate-retention-days) for the days that have settled; then apply
retention. Safe to run any number of times; run it daily (cron, a systemd timer) so
every day is aggregated before its raw rows expire. On a cluster, run it against
every shard with --cluster (the aggregates, read and written through the Distributed
tables, are filled by the first run that finds a day settled; the others find it done).

Without --clickhouse the DSN is read from RONDA_CLICKHOUSE_DSN, as ronda serve
reads it: a DSN with a password belongs there, not on a command line that
every user of the host can read in /proc.`, `
  RONDA_CLICKHOUSE_DSN=clickhouse://ronda:PASSWORD@127.0.0.1:9000/default ronda migrate --retention-days 30
  ronda migrate --clickhouse clickhouse://default@127.0.0.1:9000/default
  ronda migrate --clickhouse clickhouse://default@shard1:9000/default --cluster ronda --database ronda`)
	var (
		dsn  string
		opts store.Options
	)
	fs.StringVar(&dsn, "clickhouse", "", "ClickHouse DSN, native protocol (default: $RONDA_CLICKHOUSE_DSN; a password belongs there)")
	fs.StringVar(&opts.Database, "database", "ronda", "database for Ronda's tables")
	fs.StringVar(&opts.Cluster, "cluster", "", "cluster name of remote_servers: local tables plus Distributed tables")
	fs.IntVar(&opts.RetentionDays, "retention-days", 0, "keep this many days of raw rows: a TTL where the server has one (19.6+), else drop older day partitions; escalated cases' rows are copied to hold tables first; 0 keeps all")
	fs.IntVar(&opts.AggregateRetentionDays, "aggregate-retention-days", 0, "keep this many days of the daily aggregates (whole months go on 18.16); 0 keeps all")
	fs.IntVar(&opts.AggregateSettleDays, "aggregate-settle-days", 2, "aggregate a day once this many days have passed since it ended")
	if err := parse(fs, args); err != nil {
		return err
	}
	if dsn == "" {
		dsn = os.Getenv("RONDA_CLICKHOUSE_DSN")
	}
	if dsn == "" {
		return usagef("no ClickHouse DSN: set RONDA_CLICKHOUSE_DSN or --clickhouse")
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	conn, err := store.Open(ctx, dsn)
	if err != nil {
		return err
	}
	defer conn.Close()
	applied, err := store.Migrate(ctx, conn, opts)
	if err != nil {
		return err
	}
	if opts.RetentionDays > 0 && opts.RetentionDays <= opts.AggregateSettleDays {
		e.log.Warn("raw rows expire before their day settles: those days are never aggregated",
			"retention_days", opts.RetentionDays, "aggregate_settle_days", opts.AggregateSettleDays)
	}
	// Before retention: a day's raw rows must be aggregated before they go.
	days, err := store.Aggregate(ctx, conn, opts, time.Now())
	if err != nil {
		return err
	}
	// Then holds: the rows of escalated cases are copied out of the days
	// retention removes, then TTL is set or (before 19.6) the days dropped.
	rep, err := store.Retain(ctx, conn, opts, time.Now())
	if err != nil {
		return err
	}
	if opts.RetentionDays > 0 {
		if rep.TTL {
			e.log.Info("retention set as a TTL; rows of held cases copied to the hold tables first", "days", opts.RetentionDays, "held", rep.Held)
		} else {
			e.log.Info("server has no TTL: dropped day partitions past the retention, after copying held cases' rows; run migrate daily to keep it",
				"days", opts.RetentionDays, "partitions", rep.Dropped, "held", rep.Held, "expired_hold_partitions", rep.HoldsDropped)
		}
	}
	if opts.AggregateRetentionDays > 0 && !rep.TTL {
		e.log.Info("server has no TTL: dropped aggregate months past their retention", "days", opts.AggregateRetentionDays, "partitions", rep.AggregatesDropped)
	}
	fmt.Fprintf(e.stdout, "database %s: applied migrations %v (%d known); aggregated %d table-days\n",
		opts.Database, applied, len(store.Migrations), days)
	return nil
}
