package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/ronda-watch/ronda/analyzer"
	"github.com/ronda-watch/ronda/analyzer/backtest"
	"github.com/ronda-watch/ronda/analyzer/event"
	"github.com/ronda-watch/ronda/sidecar/replay"
	"github.com/ronda-watch/ronda/sidecar/store"
)

func cmdReplay(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "replay", "--in FILE [flags]", `
Replay an event file (NDJSON, plain or gzip, in event-time order) through the analyzer
as fast as the CPU allows, exactly as the live service would see it. With --labels the
alerts are scored against the scenario's ground truth and every missed goal is marked
FAIL in the summary, which goes to stdout.`, `
  ronda replay --in events.ndjson.gz
  ronda replay --in events.ndjson.gz --labels labels.json --out alerts.ndjson --check
  ronda replay --in quiet.ndjson.gz --labels labels.json --strip all --check --goals ring
  zcat events.ndjson.gz | ronda replay --in - --rejects rejects.ndjson`)
	var (
		o          replay.Options
		configPath string
		progress   bool
		check      bool
		goals      string
		strip      string
	)
	fs.StringVar(&o.In, "in", "", "event file, plain or gzip; - reads stdin (required)")
	fs.StringVar(&o.Out, "out", "", "write alerts here as NDJSON, one version a line; - is stdout")
	fs.StringVar(&o.Labels, "labels", "", "scenario labels.json: score the alerts against it")
	fs.StringVar(&configPath, "config", "", "analyzer configuration YAML (default: the built-in defaults)")
	fs.StringVar(&o.Rejects, "rejects", "", "write rejected and late lines here as NDJSON (default: count them, log the first 20)")
	fs.DurationVar(&o.Lateness, "lateness", 0, "how far behind the newest event time an event may arrive; later ones are reported late")
	fs.StringVar(&strip, "strip", "", "remove these fields from every event before analysis: a comma list of device, geo, address, or all (a sparse platform's view)")
	fs.BoolVar(&progress, "progress", false, "show progress on stderr even when it is not a terminal")
	fs.BoolVar(&check, "check", false, "exit 3 when a backtest goal is missed (needs --labels)")
	fs.StringVar(&goals, "goals", "project", "the goals --check holds the backtest to: project (every victim and operator found, median delay 24 h from the first broadcast, alerts per 1,000 streams), ring (precision and recall 0.95, 24 h after a host's second night, one alert per ring: sparse platforms and quiet rings) or all")
	var cpuProfile, memProfile string
	fs.StringVar(&cpuProfile, "cpuprofile", "", "write a CPU profile of the replay here (go tool pprof)")
	fs.StringVar(&memProfile, "memprofile", "", "write a heap profile here at the end of the replay, before the engine is released")
	var chDSN, chDB, chSpool string
	fs.StringVar(&chDSN, "clickhouse", "", "also write events, signals, sessions and alerts to ClickHouse at this DSN (migrates the schema first)")
	fs.StringVar(&chDB, "clickhouse-db", "ronda", "ClickHouse database, with --clickhouse")
	fs.StringVar(&chSpool, "clickhouse-spool", "", "spool directory for batches ClickHouse does not take, with --clickhouse (default: none, such batches are counted as dropped)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if o.In == "" && fs.NArg() == 1 {
		o.In = fs.Arg(0)
	} else if fs.NArg() > 0 {
		return usagef("unexpected arguments %q", fs.Args())
	}
	switch {
	case o.In == "":
		return usagef("--in is required")
	case check && o.Labels == "":
		return usagef("--check needs --labels")
	case goals != "project" && goals != "ring" && goals != "all":
		return usagef("--goals %q: want project, ring or all", goals)
	case o.Lateness < 0:
		return usagef("--lateness must not be negative")
	}
	var err error
	if o.Strip, err = event.ParseStrip(strip); err != nil {
		return usagef("--%v", err)
	}

	o.Config = analyzer.DefaultConfig()
	if configPath != "" {
		cfg, err := analyzer.LoadConfig(configPath)
		if err != nil {
			return err
		}
		o.Config = cfg
	}
	if progress || e.stderrTTY {
		o.Progress = e.stderr
	}
	o.Logger = e.log

	// With alerts on stdout the summary moves to stderr, so stdout stays NDJSON.
	summaryTo := e.stdout
	if o.Out == "-" {
		summaryTo = e.stderr
	}
	stopProfiles, err := startProfiles(cpuProfile, memProfile, &o)
	if err != nil {
		return err
	}
	var w *store.Writer
	if chDSN != "" {
		if w, err = startStore(ctx, e, chDSN, chDB, chSpool, &o); err != nil {
			stopProfiles()
			return err
		}
	}
	s, err := replay.Run(ctx, o)
	if w != nil {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*time.Minute)
		if cerr := w.Close(cctx); cerr != nil && err == nil {
			err = fmt.Errorf("clickhouse writer: %w", cerr)
		}
		cancel()
	}
	if perr := stopProfiles(); perr != nil && err == nil {
		err = perr
	}
	if err == nil || s.Lines > 0 || s.Interrupted {
		s.Write(summaryTo)
	}
	if err != nil {
		return err
	}
	if check && s.Backtest != nil {
		var fails []string
		if goals != "ring" {
			fails = append(fails, s.Backtest.Check(backtest.IssueGoals())...)
		}
		if goals != "project" {
			fails = append(fails, s.Backtest.Check(backtest.RingGoals())...)
		}
		if len(fails) > 0 {
			e.log.Warn("backtest goals missed", "goals", goals, "count", len(fails))
			return errGoalsMissed
		}
	}
	return nil
}

// startStore starts the one ClickHouse writer and wires it into the replay:
// every analysed event, the engine's signals and sessions, and every alert
// version. The HMAC key for viewer pseudonyms comes from
// RONDA_PSEUDONYM_KEY; without it viewer ids are not kept.
func startStore(ctx context.Context, e *env, dsn, db, spoolDir string, o *replay.Options) (*store.Writer, error) {
	w, err := store.StartWriter(ctx, store.StartConfig{DSN: dsn, Database: db, SpoolDir: spoolDir, Logger: e.log,
		Pseudonymizer: store.Pseudonymizer{Key: []byte(os.Getenv("RONDA_PSEUDONYM_KEY"))}})
	if err != nil {
		return nil, err
	}
	o.Record(w)
	return w, nil
}
