package store

import (
	"context"
	"log/slog"
	"time"
)

// StartConfig is what StartWriter needs.
type StartConfig struct {
	DSN      string
	Database string // default "ronda"
	// SpoolDir, when set, spools batches ClickHouse does not take (see
	// WriterOptions.SpoolDir); without it they are dropped and counted.
	SpoolDir      string
	Pseudonymizer Pseudonymizer
	Logger        *slog.Logger
	// Writer, when non-nil, adjusts the WriterOptions StartWriter built
	// (benchmarks and tests); nil keeps the defaults.
	Writer func(*WriterOptions)
}

// StartWriter migrates the schema and starts a blocking Writer (back-pressure:
// nothing dropped for speed) for a batch job such as `ronda replay
// --clickhouse`; the caller wires it (replay.Options.Record) and Closes it,
// which flushes.
//
// When ClickHouse cannot be reached at start and a spool is configured, the
// writer goes on and spools every batch (it opens its connection lazily);
// the schema is migrated by the next run that reaches ClickHouse, which also
// drains the spool. Without a spool an unreachable server is an error, since
// every row would be dropped.
func StartWriter(ctx context.Context, cfg StartConfig) (*Writer, error) {
	if cfg.Database == "" {
		cfg.Database = "ronda"
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	schema := Options{Database: cfg.Database}
	mctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	conn, err := Open(mctx, cfg.DSN)
	switch {
	case err != nil && cfg.SpoolDir == "":
		return nil, err
	case err != nil:
		cfg.Logger.Warn("clickhouse unreachable at start: spooling every batch; the schema is migrated by the next run that reaches it",
			"spool", cfg.SpoolDir, "err", err)
	default:
		_, err = Migrate(mctx, conn, schema)
		conn.Close()
		if err != nil {
			return nil, err
		}
	}
	wo := WriterOptions{DSN: cfg.DSN, Schema: schema, SpoolDir: cfg.SpoolDir, Logger: cfg.Logger, Block: true,
		Pseudonymizer: cfg.Pseudonymizer}
	if cfg.Writer != nil {
		cfg.Writer(&wo)
	}
	w, err := NewWriter(wo)
	if err != nil {
		return nil, err
	}
	go w.Run(context.WithoutCancel(ctx)) // stopped by Close, which flushes
	return w, nil
}
