package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/ronda-watch/ronda/analyzer"
	"github.com/ronda-watch/ronda/sidecar/replay"
	"github.com/ronda-watch/ronda/sidecar/simulate"
)

func cmdDemo(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "demo", "[flags]", `
Simulate a world with trafficking rings and benign lookalikes into a temporary
directory, replay it through the analyzer with its labels and print what was found
against the ground truth. The directory is removed afterwards.`, `
  ronda demo
  ronda demo --seed 7 --days 14 --hosts 340 --rings 3 --out alerts.ndjson`)
	var (
		o   simulate.Options
		out string
	)
	fs.Int64Var(&o.Seed, "seed", 1, "random seed of the world")
	fs.IntVar(&o.Days, "days", 7, "days of activity")
	fs.IntVar(&o.Hosts, "hosts", 150, "number of benign hosts, lookalikes included (the rings add their victims)")
	fs.IntVar(&o.Rings, "rings", 2, "number of exploitation rings")
	fs.StringVar(&o.Region, "region", "id", "id (Indonesia) or ph (Philippines)")
	fs.StringVar(&out, "out", "", "also write the alerts here as NDJSON")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("unexpected arguments %q", fs.Args())
	}
	o.Start = time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)
	if err := o.Validate(); err != nil {
		return usagef("%v", err)
	}

	dir, err := os.MkdirTemp("", "ronda-demo-")
	if err != nil {
		return fmt.Errorf("demo directory: %w", err)
	}
	defer os.RemoveAll(dir)
	events := filepath.Join(dir, "events.ndjson")
	labels := filepath.Join(dir, "labels.json")

	began := time.Now()
	l, stats, err := simulateTo(ctx, e, o, events)
	if err != nil {
		return err
	}
	if err := writeLabels(labels, l); err != nil {
		return err
	}
	fmt.Fprintf(e.stderr, "simulated %d days: %d hosts, %d streams, %d events in %s; %d positive hosts and %d positive accounts to find\n",
		o.Days, stats.Hosts, stats.Streams, stats.Events, time.Since(began).Round(time.Millisecond),
		len(l.PositiveHosts), len(l.PositiveAccounts))

	// Keep the latest version of each alert, to show a moderator's view of them.
	latest := map[string]analyzer.Alert{}
	ro := replay.Options{In: events, Out: out, Labels: labels, Config: analyzer.DefaultConfig(), Logger: e.log,
		Sink: func(a analyzer.Alert) {
			if a.MergedInto == "" {
				latest[a.ID] = a
			} else {
				delete(latest, a.ID)
			}
		}}
	if e.stderrTTY {
		ro.Progress = e.stderr
	}
	s, err := replay.Run(ctx, ro)
	if err == nil || s.Lines > 0 || s.Interrupted {
		s.Write(e.stdout)
		writeAlerts(e.stdout, latest)
	}
	return err
}

// writeAlerts prints each alert as a moderator would read it: who, where and why.
func writeAlerts(w io.Writer, alerts map[string]analyzer.Alert) {
	list := make([]analyzer.Alert, 0, len(alerts))
	for _, a := range alerts {
		list = append(list, a)
	}
	sort.Slice(list, func(i, j int) bool {
		if list[i].Severity != list[j].Severity {
			return list[i].Severity > list[j].Severity
		}
		return list[i].ID < list[j].ID
	})
	for _, a := range list {
		writeAlert(w, a)
	}
}

// writeAlert prints one alert version as a moderator would read it.
func writeAlert(w io.Writer, a analyzer.Alert) {
	byKind := map[string][]string{}
	for _, en := range a.Entities {
		byKind[en.Kind] = append(byKind[en.Kind], en.ID)
	}
	fmt.Fprintf(w, "\nalert %s  %s  score %.2f  %s %s  (version %d, %s)\n", a.ID, strings.ToUpper(a.Severity.String()), a.Score,
		a.Subject.Kind, a.Subject.ID, a.Updates, a.At.UTC().Format("2006-01-02 15:04"))
	for _, k := range []string{analyzer.KindHost, analyzer.KindAccount, analyzer.KindDevice, analyzer.KindLocation, analyzer.KindNetwork} {
		if ids := byKind[k]; len(ids) > 0 {
			fmt.Fprintf(w, "  %-9s %s\n", k+"s", strings.Join(ids, " "))
		}
	}
	for _, r := range a.Reasons {
		fmt.Fprintf(w, "  - %s\n", r.Summary)
	}
}
