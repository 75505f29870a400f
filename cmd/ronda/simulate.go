package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/ronda-watch/ronda/sidecar/feed"
	"github.com/ronda-watch/ronda/sidecar/intake"
	"github.com/ronda-watch/ronda/sidecar/simulate"
)

func cmdSimulate(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "simulate", "--out FILE [flags]  |  --live [--url URL] [flags]", `
Generate a synthetic world of hosts, viewers and accounts, with trafficking rings and
benign lookalikes, as NDJSON events in event-time order (../shared/spec/EVENTS.md).
The same flags always give the same world. --labels writes its ground truth.

With --live the world is played into a running Ronda (ronda serve) at accelerated
time instead: signed batches to --url, --speed world seconds per wall second. Unless
--start is given, the world is dated to end at today's UTC midnight, so its events
are never in the future and fall in the dashboards' last days; at the default speed a
week catches up with the clock in under 17 minutes. The intake secret of --key-id is
read from the environment variable `+intakeSecretEnv+`, never from a flag: flags
show in ps. An unreachable server is retried until it answers; Ctrl-C stops.`, `
  ronda simulate --out world.ndjson.gz --labels labels.json
  ronda simulate --seed 42 --days 14 --hosts 340 --rings 3 --out - | head
  `+intakeSecretEnv+`=... ronda simulate --live --url http://127.0.0.1:8080 --speed 600`)
	var (
		o     simulate.Options
		start string
		out   string
		lbl   string
		lv    liveFlags
	)
	fs.Int64Var(&o.Seed, "seed", 1, "random seed: the same seed gives the same world")
	fs.IntVar(&o.Days, "days", 7, "days of activity")
	fs.IntVar(&o.Hosts, "hosts", 150, "number of benign hosts, lookalikes included (the rings add their victims)")
	fs.IntVar(&o.Rings, "rings", 2, "number of exploitation rings")
	fs.StringVar(&o.Region, "region", "id", "id (Indonesia) or ph (Philippines): names, time zones, language and currency")
	fs.BoolVar(&o.Quiet, "quiet", false, "make every ring a quiet one: old or bought accounts, no recruitment trail, seldom a directive, shifts every night, payouts to the operator every morning")
	fs.StringVar(&start, "start", "2025-06-01", "first day, YYYY-MM-DD (UTC) or RFC 3339; with --live the default ends the world today")
	fs.StringVar(&out, "out", "", "event file; a name ending in .gz is gzip, - is stdout (required without --live)")
	fs.StringVar(&lbl, "labels", "", "write the ground truth (labels.json) here")
	fs.BoolVar(&lv.live, "live", false, "play the world into a running Ronda's intake instead of writing a file")
	fs.StringVar(&lv.url, "url", "http://127.0.0.1:8080", "with --live: base URL of the Ronda intake (batches go to URL"+intake.Path+")")
	fs.StringVar(&lv.keyID, "key-id", "demo", "with --live: the intake key that signs the batches; its secret comes from "+intakeSecretEnv)
	fs.Float64Var(&lv.speed, "speed", feed.DefaultSpeed, "with --live: world seconds per wall second (600: a day in 2m24s); 1e9 sends as fast as the intake takes it")
	fs.IntVar(&lv.batch, "batch", feed.DefaultBatchMax, "with --live: most events per request")
	fs.BoolVar(&lv.gzip, "gzip", false, "with --live: compress the requests (for a slow link)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("unexpected arguments %q", fs.Args())
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if lv.live {
		if set["out"] {
			return usagef("--out and --live exclude each other: --live sends the world to --url")
		}
	} else {
		for _, name := range []string{"url", "key-id", "speed", "batch", "gzip"} {
			if set[name] {
				return usagef("--%s needs --live", name)
			}
		}
		if out == "" {
			return usagef("--out is required")
		}
	}
	if !lv.live || set["start"] {
		t, err := parseStart(start)
		if err != nil {
			return usagef("--start: %v", err)
		}
		o.Start = t
	}
	if err := o.Validate(); err != nil {
		return usagef("%v", err)
	}
	if lv.live {
		return simulateLive(ctx, e, o, lv, lbl)
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

// intakeSecretEnv holds the secret of simulate --live's key. Not a flag: the
// command lines of running processes are visible to every local user.
const intakeSecretEnv = "RONDA_INTAKE_SECRET"

// liveFlags are simulate --live's own flags.
type liveFlags struct {
	live  bool
	url   string
	keyID string
	speed float64
	batch int
	gzip  bool
}

// simulateLive plays the world into the intake at lv.url. A zero o.Start
// rebases the world to end today.
func simulateLive(ctx context.Context, e *env, o simulate.Options, lv liveFlags, lbl string) error {
	if math.IsNaN(lv.speed) || lv.speed <= 0 {
		return usagef("--speed %g: must be positive", lv.speed)
	}
	if lv.batch <= 0 {
		return usagef("--batch %d: must be positive", lv.batch)
	}
	secret := os.Getenv(intakeSecretEnv)
	if secret == "" {
		return usagef("--live needs the secret of key %q in the environment variable %s (not a flag: flags show in ps)",
			lv.keyID, intakeSecretEnv)
	}
	fo := feed.Options{
		World:    o,
		Rebase:   o.Start.IsZero(),
		Speed:    lv.speed,
		URL:      lv.url,
		KeyID:    lv.keyID,
		Secret:   []byte(secret),
		BatchMax: lv.batch,
		Gzip:     lv.gzip,
		Logger:   e.log,
		Progress: e.stderr,
	}
	if !e.stderrTTY {
		fo.ProgressEvery = 30 * time.Second // a log file needs fewer
	}
	f, err := feed.New(fo)
	if err != nil {
		return usagef("%v", err)
	}
	w, labels := f.World(), f.Labels()
	if lbl != "" {
		if err := writeLabels(lbl, labels); err != nil {
			return err
		}
	}
	end := w.Start.AddDate(0, 0, w.Days)
	fmt.Fprintf(e.stdout, "playing a %d-day world (seed %d, %d hosts, %s to %s UTC) into %s ",
		w.Days, w.Seed, w.Hosts, w.Start.Format(time.DateOnly), end.Format(time.DateOnly), f.Endpoint())
	if pt := f.PlayTime(); pt < time.Second {
		fmt.Fprintln(e.stdout, "as fast as it takes them")
	} else if fo.Rebase {
		fmt.Fprintf(e.stdout, "at %gx: it catches up with the clock in %s\n", lv.speed, pt.Round(time.Second))
	} else {
		fmt.Fprintf(e.stdout, "at %gx: %s of wall time\n", lv.speed, pt.Round(time.Second))
	}
	writeRings(e.stdout, w.Rings, labels)

	st, err := f.Run(ctx)
	fmt.Fprintf(e.stdout, "fed %d events of %d generated in %s: %d accepted, %d duplicates, %d rejected; %d requests, %d retries\n",
		st.Sent, st.Generated, st.Elapsed.Round(time.Millisecond), st.Accepted, st.Duplicates, st.Rejected, st.Requests, st.Retries)
	if err != nil {
		return err
	}
	if st.Rejected > 0 {
		return fmt.Errorf("the intake rejected %d events: the generator and the event contract disagree", st.Rejected)
	}
	return nil
}

// writeRings says which hosts and accounts the alerts should name.
func writeRings(w io.Writer, rings int, l simulate.Labels) {
	if rings == 0 {
		fmt.Fprintln(w, "this world has no rings: every alert is a false positive")
		return
	}
	s := "s"
	if rings == 1 {
		s = ""
	}
	fmt.Fprintf(w, "this world has %d ring%s: hosts %s; accounts behind them %s\n",
		rings, s, strings.Join(l.PositiveHosts, " "), strings.Join(l.PositiveAccounts, " "))
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
