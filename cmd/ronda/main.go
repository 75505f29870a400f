// Command ronda is Ronda's one binary: it replays event files through the analyzer
// and scores them against labels, generates synthetic worlds, checks configuration
// and runs the demo. The work is done by packages; this file only parses the command
// line, sets up the logger and the signals, and maps errors to exit codes.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	_ "time/tzdata" // host time zones resolve on machines without a zone database

	"golang.org/x/term"
)

// Exit codes.
const (
	exitOK    = 0
	exitError = 1 // a runtime error
	exitUsage = 2 // the command line is wrong
	exitGoals = 3 // replay --check: a backtest goal was missed
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// env is what a command may use of the process.
type env struct {
	stdout, stderr io.Writer
	log            *slog.Logger
	// stderrTTY says stderr is a terminal, where progress lines belong.
	stderrTTY bool
}

type command struct {
	name    string
	summary string
	run     func(ctx context.Context, e *env, args []string) error
}

var commands = []command{
	{"serve", "run Ronda live: intake, analyzer, ClickHouse record and the moderators' hub (--demo: a world played into it)", cmdServe},
	{"replay", "replay an event file through the analyzer, optionally scored against labels", cmdReplay},
	{"migrate", "create or upgrade the ClickHouse schema, fill the daily aggregates and apply retention", cmdMigrate},
	{"export-aggregates", "export the daily aggregates (no ids) as CSV or NDJSON, e.g. for NGOs", cmdExportAggregates},
	{"simulate", "generate a synthetic world of events and its labels", cmdSimulate},
	{"demo", "simulate a world and replay it with its labels (the first thing to run)", cmdDemo},
	{"hook", "post one nginx-rtmp exec_publish / exec_publish_done notification to Ronda (never blocks a publish)", cmdHook},
	{"check-config", "check a configuration file and print the effective configuration", cmdCheckConfig},
	{"config", "print configuration: 'ronda config defaults'", cmdConfig},
	{"version", "print the version", cmdVersion},
	{"help", "print this help", nil},
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	e := &env{
		stdout: stdout,
		stderr: stderr,
		log:    slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo})),
	}
	if f, ok := stderr.(*os.File); ok {
		e.stderrTTY = term.IsTerminal(int(f.Fd()))
	}
	if len(args) == 0 {
		usage(stderr)
		return exitUsage
	}
	name, rest := args[0], args[1:]
	switch name {
	case "help", "-h", "-help", "--help":
		usage(stdout)
		return exitOK
	}
	for _, c := range commands {
		if c.name == name && c.run != nil {
			return exitCode(e, name, c.run(ctx, e, rest))
		}
	}
	fmt.Fprintf(stderr, "ronda: unknown command %q\n\n", name)
	usage(stderr)
	return exitUsage
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "Ronda watches live-streaming events for the patterns of child exploitation.")
	fmt.Fprintln(w, "\nusage: ronda <command> [flags]\n\ncommands:")
	for _, c := range commands {
		fmt.Fprintf(w, "  %-13s %s\n", c.name, c.summary)
	}
	fmt.Fprint(w, `
examples:
  ronda serve --demo
  ronda demo
  ronda simulate --seed 7 --days 14 --out world.ndjson.gz --labels labels.json
  ronda replay --in world.ndjson.gz --labels labels.json --out alerts.ndjson
  ronda check-config ronda.yaml

'ronda <command> -h' describes a command's flags.
`)
}

// Errors a command returns to choose its exit code.
var (
	// errGoalsMissed: the backtest missed a goal (exit 3).
	errGoalsMissed = errors.New("backtest goals missed")
	// errReported: the command already told the user what went wrong (exit 1).
	errReported = errors.New("reported")
)

// usageError is a wrong command line (exit 2).
type usageError struct{ msg string }

func (u usageError) Error() string { return u.msg }

func usagef(format string, args ...any) error { return usageError{fmt.Sprintf(format, args...)} }

func exitCode(e *env, name string, err error) int {
	var u usageError
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return exitOK
	case errors.Is(err, errGoalsMissed):
		return exitGoals
	case errors.Is(err, errReported):
		return exitError
	case errors.As(err, &u):
		if u.msg != "" {
			fmt.Fprintf(e.stderr, "ronda %s: %s\nrun 'ronda %s -h' for its flags\n", name, u.msg, name)
		}
		return exitUsage
	case errors.Is(err, context.Canceled):
		e.log.Warn("interrupted", "command", name)
		return exitError
	default:
		e.log.Error(name+" failed", "err", err)
		return exitError
	}
}

// newFlags returns a FlagSet for one command whose -h prints what the command does,
// its flags and examples.
func newFlags(e *env, name, synopsis, about, examples string) *flag.FlagSet {
	fs := flag.NewFlagSet("ronda "+name, flag.ContinueOnError)
	fs.SetOutput(e.stderr)
	fs.Usage = func() {
		w := fs.Output()
		fmt.Fprintf(w, "usage: ronda %s %s\n\n%s\n", name, synopsis, strings.TrimSpace(about))
		fmt.Fprintln(w, "\nflags:")
		fs.PrintDefaults()
		fmt.Fprintf(w, "\nexamples:\n%s\n", strings.Trim(examples, "\n"))
	}
	return fs
}

// parse parses args, mapping a bad flag to a usage error (the flag package has
// already printed the problem and the usage).
func parse(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return usageError{}
	}
	return nil
}
