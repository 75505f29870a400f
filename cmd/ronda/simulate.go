package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/ronda-watch/ronda/sidecar/simulate"
)

func cmdSimulate(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "simulate", "--out FILE [flags]", `
Generate a synthetic world of hosts, viewers and accounts, with trafficking rings and
benign lookalikes, as NDJSON events in event-time order (../shared/spec/EVENTS.md).
The same flags always give the same world. --labels writes its ground truth.`, `
  ronda simulate --out world.ndjson.gz --labels labels.json
  ronda simulate --seed 42 --days 14 --hosts 340 --rings 3 --out - | head`)
	var (
		o     simulate.Options
		start string
		out   string
		lbl   string
	)
	fs.Int64Var(&o.Seed, "seed", 1, "random seed: the same seed gives the same world")
	fs.IntVar(&o.Days, "days", 7, "days of activity")
	fs.IntVar(&o.Hosts, "hosts", 150, "number of benign hosts, lookalikes included (the rings add their victims)")
	fs.IntVar(&o.Rings, "rings", 2, "number of exploitation rings")
	fs.StringVar(&o.Region, "region", "id", "id (Indonesia) or ph (Philippines): names, time zones, language and currency")
	fs.StringVar(&start, "start", "2025-06-01", "first day, YYYY-MM-DD (UTC) or RFC 3339")
	fs.StringVar(&out, "out", "", "event file; a name ending in .gz is gzip, - is stdout (required)")
	fs.StringVar(&lbl, "labels", "", "write the ground truth (labels.json) here")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("unexpected arguments %q", fs.Args())
	}
	if out == "" {
		return usagef("--out is required")
	}
	t, err := parseStart(start)
	if err != nil {
		return usagef("--start: %v", err)
	}
	o.Start = t
	if err := o.Validate(); err != nil {
		return usagef("%v", err)
	}

	began := time.Now()
	labels, stats, err := simulateTo(ctx, e, o, out)
	if err != nil {
		return err
	}
	if lbl != "" {
		if err := writeLabels(lbl, labels); err != nil {
			return err
		}
	}
	elapsed := time.Since(began)
	fmt.Fprintf(e.stderr, "simulated %d events, %d streams, %d hosts in %s (%.0f events/s)\n",
		stats.Events, stats.Streams, stats.Hosts, elapsed.Round(time.Millisecond), float64(stats.Events)/elapsed.Seconds())
	return nil
}

// simulateTo writes the world to path ("-" for stdout; gzip for a .gz name).
func simulateTo(ctx context.Context, e *env, o simulate.Options, path string) (simulate.Labels, simulate.Stats, error) {
	var (
		labels simulate.Labels
		stats  simulate.Stats
	)
	gz := path != "-" && strings.HasSuffix(path, ".gz")
	err := writeFile(e, path, func(w io.Writer) error {
		var err error
		labels, stats, err = simulate.WriteNDJSON(ctx, o, w, gz)
		return err
	})
	if err != nil {
		return simulate.Labels{}, simulate.Stats{}, fmt.Errorf("simulate to %s: %w", path, err)
	}
	return labels, stats, nil
}

func writeLabels(path string, l simulate.Labels) error {
	b, err := json.MarshalIndent(l, "", " ")
	if err != nil {
		return fmt.Errorf("encode labels: %w", err)
	}
	b = append(b, '\n')
	if err := writeFile(nil, path, func(w io.Writer) error { _, err := w.Write(b); return err }); err != nil {
		return fmt.Errorf("write labels: %w", err)
	}
	return nil
}

// writeFile writes path through a temporary file renamed into place, so that a
// failed or interrupted run never leaves a truncated file under the final name.
// "-" writes to e's stdout.
func writeFile(e *env, path string, write func(io.Writer) error) error {
	if path == "-" {
		bw := bufio.NewWriterSize(e.stdout, 1<<20)
		if err := write(bw); err != nil {
			return err
		}
		return bw.Flush()
	}
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return err
	}
	bw := bufio.NewWriterSize(f, 1<<20)
	err = write(bw)
	if err == nil {
		err = bw.Flush()
	}
	if err == nil {
		err = f.Chmod(0o644)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		_ = os.Remove(f.Name())
	}
	return err
}

func parseStart(s string) (time.Time, error) {
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is neither YYYY-MM-DD nor RFC 3339", s)
	}
	return t, nil
}
