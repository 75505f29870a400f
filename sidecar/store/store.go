// Package store keeps Ronda's record in ClickHouse: the schema and its
// migrations, rows converted from events, signals, sessions, alerts and
// moderator actions, and a batched Writer behind a circuit breaker that spools to
// disk while ClickHouse is away.
//
// It speaks the native protocol with LZ4 (COMPAT.md: the driver's HTTP protocol
// fails on Debian's 18.16) and uses only what 18.16 and current releases share.
// Every table is a ReplacingMergeTree keyed by the row's dedup key with an
// `ingested` version column: a batch sent twice (a retry, a spool drained after a
// timeout that had in fact succeeded) never doubles a row for readers that use
// FINAL, as every query and trend view here does.
//
// It must not keep raw personal data: no chat or post text, viewer ids only as
// keyed pseudonyms, addresses only as prefixes, places only as geohash cells.
package store

import (
	"context"
	"fmt"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// Open connects to ClickHouse from a DSN (clickhouse://user:pass@host:9000/db)
// over the native protocol with LZ4, whatever the DSN says about protocol and
// compression, and pings it within ctx.
func Open(ctx context.Context, dsn string) (driver.Conn, error) {
	o, err := clickhouse.ParseDSN(dsn)
	if err != nil {
		return nil, fmt.Errorf("clickhouse dsn: %w", err)
	}
	o.Protocol = clickhouse.Native
	o.Compression = &clickhouse.Compression{Method: clickhouse.CompressionLZ4}
	if o.DialTimeout == 0 {
		o.DialTimeout = 5 * time.Second
	}
	conn, err := clickhouse.Open(o)
	if err != nil {
		return nil, fmt.Errorf("open clickhouse: %w", err)
	}
	if err := conn.Ping(ctx); err != nil {
		conn.Close()
		return nil, fmt.Errorf("ping clickhouse %v: %w", o.Addr, err)
	}
	return conn, nil
}
