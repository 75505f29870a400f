package main

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/ronda-watch/ronda/sidecar/store"
)

func cmdExportAggregates(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "export-aggregates", "--clickhouse DSN --from DAY --to DAY (--table NAME | --out DIR) [flags]", `
Export the daily aggregates (figures per day with no host, account, stream,
device, alert or moderator id, and no free text) for partners such as NGOs, as
CSV with a header line or as NDJSON, one object a line. --table writes one table
to stdout; --out writes every table (or the one named) to DIR/<table>.csv or
.ndjson. The aggregates are filled by 'ronda migrate' once a day has settled.
Tables: `+fmt.Sprint(store.AggregateTables()), `
  ronda export-aggregates --clickhouse clickhouse://default@127.0.0.1:9000/default --from 2025-01-01 --to 2025-12-31 --table agg_daily_outcomes
  ronda export-aggregates --clickhouse clickhouse://default@127.0.0.1:9000/default --from 2025-01-01 --to 2025-12-31 --format ndjson --out export/`)
	var (
		dsn, db, from, to, format, table, out string
	)
	fs.StringVar(&dsn, "clickhouse", "", "ClickHouse DSN, native protocol (required)")
	fs.StringVar(&db, "database", "ronda", "database of Ronda's tables")
	fs.StringVar(&from, "from", "", "first day, YYYY-MM-DD (required)")
	fs.StringVar(&to, "to", "", "last day, YYYY-MM-DD, included (required)")
	fs.StringVar(&format, "format", "csv", "csv (with a header line) or ndjson")
	fs.StringVar(&table, "table", "", "one aggregate table; without --out it goes to stdout")
	fs.StringVar(&out, "out", "", "directory to write <table>.<format> files into (created if missing)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if dsn == "" || from == "" || to == "" {
		return usagef("--clickhouse, --from and --to are required")
	}
	if format != "csv" && format != "ndjson" {
		return usagef("--format %q: want csv or ndjson", format)
	}
	if table == "" && out == "" {
		return usagef("name a --table for stdout, or an --out directory")
	}
	if table != "" && !slices.Contains(store.AggregateTables(), table) {
		return usagef("--table %q: want one of %v", table, store.AggregateTables())
	}
	fromDay, err := time.Parse(time.DateOnly, from)
	if err != nil {
		return usagef("--from %q: want YYYY-MM-DD", from)
	}
	toDay, err := time.Parse(time.DateOnly, to)
	if err != nil {
		return usagef("--to %q: want YYYY-MM-DD", to)
	}
	if toDay.Before(fromDay) {
		return usagef("--to %s is before --from %s", to, from)
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	conn, err := store.Open(ctx, dsn)
	if err != nil {
		return err
	}
	defer conn.Close()
	opts := store.Options{Database: db}
	tables := store.AggregateTables()
	if table != "" {
		tables = []string{table}
	}
	if out == "" {
		w := bufio.NewWriter(e.stdout)
		if err := exportTable(ctx, conn, opts, table, fromDay, toDay, format, w); err != nil {
			return err
		}
		return w.Flush()
	}
	if err := os.MkdirAll(out, 0o755); err != nil {
		return fmt.Errorf("export directory: %w", err)
	}
	for _, t := range tables {
		path := filepath.Join(out, t+"."+format)
		if err := exportFile(ctx, conn, opts, t, fromDay, toDay, format, path); err != nil {
			return err
		}
		fmt.Fprintf(e.stdout, "wrote %s\n", path)
	}
	return nil
}

func exportFile(ctx context.Context, conn driver.Conn, opts store.Options, table string, from, to time.Time, format, path string) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("export %s: %w", table, err)
	}
	w := bufio.NewWriter(f)
	err = exportTable(ctx, conn, opts, table, from, to, format, w)
	if err == nil {
		err = w.Flush()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("export %s: %w", path, err)
	}
	return nil
}

// exportTable writes one aggregate table's rows in [from, to] as CSV with a
// header (also when there are no rows) or as NDJSON with the columns in table
// order. A quantile of no values (NaN) is an empty CSV field and a JSON null.
func exportTable(ctx context.Context, conn driver.Conn, opts store.Options, table string, from, to time.Time, format string, w io.Writer) error {
	cw := csv.NewWriter(w)
	header := format == "csv"
	err := store.ReadAggregates(ctx, conn, opts, table, from, to, func(cols []string, vals []any) error {
		if format == "csv" {
			if header {
				header = false
				if err := cw.Write(cols); err != nil {
					return err
				}
			}
			rec := make([]string, len(vals))
			for i, v := range vals {
				rec[i] = exportText(v)
			}
			return cw.Write(rec)
		}
		buf := []byte{'{'}
		for i, c := range cols {
			if i > 0 {
				buf = append(buf, ',')
			}
			k, err := json.Marshal(c)
			if err != nil {
				return err
			}
			v, err := json.Marshal(exportJSON(vals[i]))
			if err != nil {
				return err
			}
			buf = append(append(append(buf, k...), ':'), v...)
		}
		buf = append(buf, '}', '\n')
		_, err := w.Write(buf)
		return err
	})
	if err != nil {
		return err
	}
	if header {
		if err := cw.Write(store.AggregateColumns(table)); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

func exportText(v any) string {
	switch x := v.(type) {
	case time.Time:
		return x.UTC().Format(time.DateOnly)
	case string:
		return x
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return ""
		}
		return strconv.FormatFloat(x, 'f', -1, 64)
	}
	return fmt.Sprint(v)
}

func exportJSON(v any) any {
	switch x := v.(type) {
	case time.Time:
		return x.UTC().Format(time.DateOnly)
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return nil
		}
	}
	return v
}
