package store

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// DefaultHoldDays is how long a case holds its entities' rows when the
// configuration says nothing: a year, time for an authority to ask for them.
const DefaultHoldDays = 365

// HoldMargin is how far ahead of retention HoldCases copies: rows within this
// many days of their drop (or TTL) are copied too, so that a retention run
// missed for a day, or a TTL merge that comes early, loses nothing held.
const HoldMargin = 2

// HoldCases copies into the hold tables the rows of every case still held at
// now that retention of days would remove by the next run: the rows of the
// case's entities (events, signals, stream sessions) and of its alert (every
// version, every moderator action) whose day is before now - days +
// HoldMargin. Run it before DropOlderThan (18.16) or at least daily where a
// TTL expires rows (the retention path of ronda migrate does both). A row
// copied twice collapses (FINAL). It returns how many case-table pairs it
// copied for, and works on every version: INSERT ... SELECT with literals.
func HoldCases(ctx context.Context, conn driver.Conn, opts Options, days int, now time.Time) (int, error) {
	if err := opts.validate(); err != nil {
		return 0, err
	}
	if days <= 0 {
		return 0, nil
	}
	cases, err := ReadCases(ctx, conn, opts, fmt.Sprintf("hold_until >= toDate('%s')", dayOf(now).Format("2006-01-02")), 0)
	if err != nil {
		return 0, fmt.Errorf("hold cases: %w", err)
	}
	before := dayOf(now).AddDate(0, 0, -days+HoldMargin).Format("2006-01-02")
	n := 0
	for _, c := range cases {
		ids := make([]string, 0, len(c.Entities))
		for _, e := range c.Entities {
			if _, id, ok := strings.Cut(e, ":"); ok && id != "" {
				ids = append(ids, Quote(id))
			}
		}
		for _, h := range holdSources {
			if len(ids) == 0 && strings.Contains(h.filter, "{ids}") {
				continue // no entities: the alert's own rows only
			}
			filter := strings.NewReplacer("{ids}", strings.Join(ids, ", "), "{alert}", Quote(c.AlertID)).Replace(h.filter)
			cols := quoteColumns(h.columns)
			q := fmt.Sprintf(`INSERT INTO %s (case_id, hold_until, %s) SELECT %s, toDate('%s'), %s FROM %s
 WHERE day < toDate('%s') AND (%s)`,
				opts.Qualified(opts.local(HoldTable(h.source))), cols, Quote(c.CaseID), c.HoldUntil.UTC().Format("2006-01-02"),
				cols, opts.Qualified(opts.local(h.source)), before, filter)
			if err := conn.Exec(ctx, q); err != nil {
				return n, fmt.Errorf("hold %s for case %s: %w", h.source, c.CaseID, err)
			}
			n++
		}
	}
	return n, nil
}

// DropExpiredHolds drops the hold partitions whose hold ended before now: on
// servers without TTL (18.16), where the hold tables' own TTL cannot.
func DropExpiredHolds(ctx context.Context, conn driver.Conn, opts Options, now time.Time) (int, error) {
	if err := opts.validate(); err != nil {
		return 0, err
	}
	return dropPartitionsBefore(ctx, conn, opts, holdTables(opts), dayOf(now))
}

// quoteColumns is a column list with each name in backquotes (end is a
// keyword).
func quoteColumns(cols []string) string {
	q := make([]string, len(cols))
	for i, c := range cols {
		q[i] = "`" + c + "`"
	}
	return strings.Join(q, ", ")
}

// RetentionReport says what Retain did.
type RetentionReport struct {
	// AggregatesDropped is the aggregate month partitions dropped (no TTL).
	AggregatesDropped int
	// TTL: the server expires rows itself (19.6+); nothing was dropped.
	TTL bool
	// Held is how many case-table copies into hold tables ran.
	Held int
	// Dropped is how many day partitions were dropped (no TTL).
	Dropped int
	// HoldsDropped is how many expired hold partitions were dropped (no TTL).
	HoldsDropped int
}

// Retain runs retention of opts.RetentionDays at now, holds first: the rows
// of every held case that retention would remove are copied into the hold
// tables (HoldCases), then the server's TTL is set (the hold tables get their
// own, hold_until) or, without TTL (18.16), the day partitions past the
// retention and the hold partitions past their end are dropped. Zero days:
// nothing is removed and nothing needs holding.
func Retain(ctx context.Context, conn driver.Conn, opts Options, now time.Time) (RetentionReport, error) {
	var rep RetentionReport
	if err := opts.validate(); err != nil {
		return rep, err
	}
	if opts.RetentionDays == 0 && opts.AggregateRetentionDays == 0 {
		return rep, nil
	}
	if opts.RetentionDays > 0 {
		n, err := HoldCases(ctx, conn, opts, opts.RetentionDays, now)
		rep.Held = n
		if err != nil {
			return rep, err // nothing dropped: a case's rows are not left to go
		}
	}
	switch err := ApplyRetention(ctx, conn, opts); err {
	case nil:
		rep.TTL = true
		return rep, nil
	case ErrNoTTL:
	default:
		return rep, err
	}
	var err error
	if opts.RetentionDays > 0 {
		if rep.Dropped, err = DropOlderThan(ctx, conn, opts, opts.RetentionDays, now); err != nil {
			return rep, err
		}
		if rep.HoldsDropped, err = DropExpiredHolds(ctx, conn, opts, now); err != nil {
			return rep, err
		}
	}
	if opts.AggregateRetentionDays > 0 {
		rep.AggregatesDropped, err = DropAggregatesOlderThan(ctx, conn, opts, opts.AggregateRetentionDays, now)
	}
	return rep, err
}
