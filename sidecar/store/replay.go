package store

import (
	"context"
	"log/slog"
	"time"

	"github.com/ronda-watch/ronda/analyzer"
	"github.com/ronda-watch/ronda/sidecar/replay"
)

// ReplayConfig is what StartReplay needs to write a replay into ClickHouse.
type ReplayConfig struct {
	DSN      string
	Database string // default "ronda"
	// SpoolDir, when set, spools batches ClickHouse does not take (see
	// WriterOptions.SpoolDir); without it they are dropped and counted.
	SpoolDir      string
	Pseudonymizer Pseudonymizer
	Logger        *slog.Logger
	// Writer, when non-nil, adjusts the WriterOptions StartReplay built
	// (benchmarks and tests); nil keeps the defaults.
	Writer func(*WriterOptions)
}

// StartReplay migrates the schema and starts the one ClickHouse writer, wired
// into a replay: every analysed event (those worth keeping), the engine's
// signals and sessions, and every alert version. The writer blocks the replay
// when its buffers are full (back-pressure, nothing dropped for speed). The
// caller runs replay.Run with o and then Close, which flushes.
//
// When ClickHouse cannot be reached at start and a spool is configured, the
// replay goes on and every batch is spooled (the writer opens its connection
// lazily); the schema is migrated by the next run that reaches ClickHouse,
// which also drains the spool. Without a spool an unreachable server is an
// error, since every row would be dropped.
func StartReplay(ctx context.Context, cfg ReplayConfig, o *replay.Options) (*Writer, error) {
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
	sink := o.Sink
	o.Sink = func(a analyzer.Alert) {
		w.Alert(a)
		if sink != nil {
			sink(a)
		}
	}
	o.OnEvent = w.Event
	engine := o.Engine
	o.Engine = func(eng *analyzer.Engine) {
		if engine != nil {
			engine(eng)
		}
		eng.OnSignal = w.Signal
		eng.OnSession = w.Session
	}
	return w, nil
}
