package main

import (
	"context"
	"fmt"
	"time"

	"github.com/ronda-watch/ronda/sidecar/store"
)

func cmdMigrate(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "migrate", "--clickhouse DSN [flags]", `
Create or upgrade Ronda's ClickHouse schema: apply the numbered migrations not yet
recorded in the database's schema_migrations table; then fill the daily aggregates
(no ids, kept --aggregate-retention-days) for the days that have settled; then apply
retention. Safe to run any number of times; run it daily (cron, a systemd timer) so
every day is aggregated before its raw rows expire. On a cluster, run it against
every shard with --cluster (the aggregates, read and written through the Distributed
tables, are filled by the first run that finds a day settled; the others find it done).`, `
  ronda migrate --clickhouse clickhouse://default@127.0.0.1:9000/default
  ronda migrate --clickhouse clickhouse://default@shard1:9000/default --cluster ronda --database ronda`)
	var (
		dsn  string
		opts store.Options
	)
	fs.StringVar(&dsn, "clickhouse", "", "ClickHouse DSN, native protocol (required)")
	fs.StringVar(&opts.Database, "database", "ronda", "database for Ronda's tables")
	fs.StringVar(&opts.Cluster, "cluster", "", "cluster name of remote_servers: local tables plus Distributed tables")
	fs.IntVar(&opts.RetentionDays, "retention-days", 0, "keep this many days of raw rows: a TTL where the server has one (19.6+); 0 keeps all")
	fs.IntVar(&opts.AggregateRetentionDays, "aggregate-retention-days", 0, "keep this many days of the daily aggregates (whole months go on 18.16); 0 keeps all")
	fs.IntVar(&opts.AggregateSettleDays, "aggregate-settle-days", 2, "aggregate a day once this many days have passed since it ended")
	if err := parse(fs, args); err != nil {
		return err
	}
	if dsn == "" {
		return usagef("--clickhouse is required")
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
	switch err := store.ApplyRetention(ctx, conn, opts); err {
	case nil:
	case store.ErrNoTTL:
		// No table TTL (before 19.6): drop the partitions past the limits now.
		// Run migrate daily (cron, a systemd timer) to keep retention going.
		if opts.RetentionDays > 0 {
			n, err := store.DropOlderThan(ctx, conn, opts, opts.RetentionDays, time.Now())
			if err != nil {
				return err
			}
			e.log.Info("server has no TTL: dropped day partitions past the retention; run migrate daily to keep it", "days", opts.RetentionDays, "partitions", n)
		}
		if opts.AggregateRetentionDays > 0 {
			n, err := store.DropAggregatesOlderThan(ctx, conn, opts, opts.AggregateRetentionDays, time.Now())
			if err != nil {
				return err
			}
			e.log.Info("server has no TTL: dropped aggregate months past their retention", "days", opts.AggregateRetentionDays, "partitions", n)
		}
	default:
		return err
	}
	fmt.Fprintf(e.stdout, "database %s: applied migrations %v (%d known); aggregated %d table-days\n",
		opts.Database, applied, len(store.Migrations), days)
	return nil
}
