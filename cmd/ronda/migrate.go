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
recorded in the database's schema_migrations table. Safe to run any number of times.
On a cluster, run it against every shard with --cluster.

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
	fs.IntVar(&opts.RetentionDays, "retention-days", 0, "keep this many days: a TTL where the server has one (19.6+); 0 keeps all")
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
	switch err := store.ApplyRetention(ctx, conn, opts); err {
	case nil:
	case store.ErrNoTTL:
		// No table TTL (before 19.6): drop the day partitions past the limit now.
		// Run migrate daily (cron, a systemd timer) to keep retention going.
		n, err := store.DropOlderThan(ctx, conn, opts, opts.RetentionDays, time.Now())
		if err != nil {
			return err
		}
		e.log.Info("server has no TTL: dropped day partitions past the retention; run migrate daily to keep it", "days", opts.RetentionDays, "partitions", n)
	default:
		return err
	}
	fmt.Fprintf(e.stdout, "database %s: applied migrations %v (%d known)\n", opts.Database, applied, len(store.Migrations))
	return nil
}
