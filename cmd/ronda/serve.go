package main

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/ronda-watch/ronda/analyzer"
	"github.com/ronda-watch/ronda/sidecar/feed"
	"github.com/ronda-watch/ronda/sidecar/hub"
	"github.com/ronda-watch/ronda/sidecar/serve"
	"github.com/ronda-watch/ronda/sidecar/simulate"
)

func cmdServe(ctx context.Context, e *env, args []string) error {
	fs := newFlags(e, "serve", "[flags]", `
Run Ronda live beside ingest nodes: signed event batches over HTTP (POST
/v1/events) and websocket (/v1/events/ws), media-server webhooks (/hooks/...),
the analyzer, the ClickHouse record and the moderators' websocket hub
(/v1/alerts/ws), with /healthz, /readyz and /metrics.

Configuration: the file of --config (deploy/serve.yaml documents every key),
then the environment (RONDA_ROLE, RONDA_LISTEN, RONDA_CLICKHOUSE_DSN, ...), then
these flags. Secrets are never flags or file values: the file names the
environment variable or file that holds each one.

SIGHUP reloads, all or nothing, the detector thresholds (--analyzer), the
intake keys, the moderators' tokens (and tokens_file), the webhook secrets and
the TLS certificate, reading the file and the secrets again; a change to
anything else (listen, role, directories, ...) is refused until a restart.
The example moderator token of deploy/serve.yaml is refused outside --demo.
SIGUSR1 writes a state checkpoint now (state.dir). SIGTERM or Ctrl-C stops
within the drain timeout: intake closes, queued events are analysed, a
checkpoint is written, the record is written or spooled. Every accepted batch
is in the intake log (state.dir) before its sender is answered, so a crash
loses nothing acknowledged: the next start loads the newest checkpoint and
replays the log after it.

--demo runs the service on an embedded default with a synthetic world played
into it at accelerated time (ronda simulate --live, in process): alerts appear
on the terminal within a couple of minutes. Without ClickHouse the record is
spooled to a temporary directory, removed at exit.`, `
  ronda serve --demo
  ronda serve --demo --clickhouse clickhouse://127.0.0.1:9000/ronda
  ronda serve --config /etc/ronda/serve.yaml
  ronda serve --config edge.yaml --role edge --hub wss://ronda-hub.internal:8443`)
	var (
		configPath, role, listen, analyzerPath, dsn, spoolDir, hubURL string
		demo, once                                                    bool
		speed                                                         float64
		world                                                         simulate.Options
	)
	fs.StringVar(&configPath, "config", "", "service configuration YAML (default: built-in defaults)")
	fs.StringVar(&role, "role", "", "all, edge or hub (overrides the file and RONDA_ROLE)")
	fs.StringVar(&listen, "listen", "", "HTTP listen address (default 127.0.0.1:8080)")
	fs.StringVar(&analyzerPath, "analyzer", "", "detector thresholds YAML, reloaded on SIGHUP (default: built-in)")
	fs.StringVar(&dsn, "clickhouse", "", "ClickHouse DSN, native protocol (default: none, the record is spooled); a password belongs in RONDA_CLICKHOUSE_DSN")
	fs.StringVar(&spoolDir, "spool", "", "spool directory for record batches ClickHouse has not taken")
	fs.StringVar(&hubURL, "hub", "", "role edge: the hub's wss:// base URL (ws:// to a loopback host only)")
	fs.BoolVar(&demo, "demo", false, "embedded default configuration, fed by a synthetic world at accelerated time")
	fs.BoolVar(&once, "once", false, "with --demo: stop when the world has been played")
	fs.Float64Var(&speed, "speed", 600, "with --demo: world seconds per wall second")
	fs.Int64Var(&world.Seed, "seed", 1, "with --demo: random seed of the world")
	fs.IntVar(&world.Days, "days", 7, "with --demo: days of activity, ending now")
	fs.IntVar(&world.Hosts, "hosts", 150, "with --demo: benign hosts")
	fs.IntVar(&world.Rings, "rings", 2, "with --demo: exploitation rings")
	fs.StringVar(&world.Region, "region", "id", "with --demo: id (Indonesia) or ph (Philippines)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("unexpected arguments %q", fs.Args())
	}
	if once && !demo {
		return usagef("--once needs --demo")
	}

	getenv := os.Getenv
	var d *demoSetup
	if demo {
		var err error
		if d, err = newDemo(); err != nil {
			return err
		}
		defer d.cleanup()
		getenv = d.getenv
	}
	// load reads the configuration as at start: at start, and again on SIGHUP.
	load := func() (serve.Config, error) {
		var cfg serve.Config
		if demo {
			cfg = d.cfg
		} else if configPath != "" {
			b, err := os.ReadFile(configPath)
			if err != nil {
				return serve.Config{}, err
			}
			if cfg, err = serve.ParseConfig(b); err != nil {
				return serve.Config{}, fmt.Errorf("%s: %w", configPath, err)
			}
		}
		cfg.ApplyEnv(getenv)
		for p, v := range map[*string]string{&cfg.Role: role, &cfg.Listen: listen, &cfg.Analyzer: analyzerPath,
			&cfg.ClickHouse.DSN: dsn, &cfg.ClickHouse.SpoolDir: spoolDir, &cfg.Edge.Hub: hubURL} {
			if v != "" {
				*p = v
			}
		}
		return cfg, cfg.Finish()
	}
	cfg, err := load()
	if err != nil {
		return usagef("configuration:\n%v", err)
	}
	log := newLevelLogger(e, cfg.LogLevel)

	var printer *alertPrinter
	opts := serve.Options{Config: cfg, Getenv: getenv, Logger: log, Reread: load, AllowExampleToken: demo}
	if demo {
		printer = &alertPrinter{w: e, seen: map[string]analyzer.Severity{}, flagged: map[string]bool{}}
		opts.OnAlert = printer.print
	}
	svc, err := serve.New(opts)
	if err != nil {
		return err
	}

	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	usr1 := make(chan os.Signal, 1)
	signal.Notify(usr1, syscall.SIGUSR1)
	defer signal.Stop(usr1)
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	go func() {
		for {
			select {
			case <-hup:
				rctx, cancel := context.WithTimeout(runCtx, 10*time.Second)
				if err := svc.Reload(rctx); err != nil {
					log.Error("reload refused; nothing changed", "err", err)
				}
				cancel()
			case <-usr1:
				cctx, cancel := context.WithTimeout(runCtx, 5*time.Minute)
				if err := svc.Checkpoint(cctx); err != nil {
					log.Error("checkpoint on SIGUSR1 failed", "err", err)
				}
				cancel()
			case <-runCtx.Done():
				return
			}
		}
	}()

	var wg sync.WaitGroup
	if demo {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d.play(runCtx, e, log, svc.Addr(), world, speed, once, printer)
			if once {
				stop()
			}
		}()
	}
	err = svc.Run(runCtx)
	stop()
	wg.Wait()
	if printer != nil && printer.final != nil {
		printer.final()
	}
	if err == nil && ctx.Err() != nil && !once {
		return nil // a signal is how a service stops
	}
	return err
}

// demoSetup is the embedded default of --demo: a random intake key and a
// moderator token made for this run, a temporary spool, escalation to the log.
type demoSetup struct {
	cfg      serve.Config
	env      map[string]string
	token    string
	spoolDir string
}

func newDemo() (*demoSetup, error) {
	secret, token := randomHex(32), randomHex(16)
	dir, err := os.MkdirTemp("", "ronda-demo-spool-")
	if err != nil {
		return nil, fmt.Errorf("demo spool: %w", err)
	}
	sum := sha256.Sum256([]byte(token))
	d := &demoSetup{env: map[string]string{"RONDA_DEMO_INTAKE_SECRET": secret}, token: token, spoolDir: dir}
	d.cfg = serve.Config{
		Intake:     serve.IntakeConfig{Keys: []serve.SecretRef{{ID: "demo", Env: "RONDA_DEMO_INTAKE_SECRET"}}, RateEvents: -1},
		Moderators: serve.ModeratorsConfig{Tokens: []hub.Token{{Name: "demo-lead", Role: hub.RoleLead, SHA256: hex.EncodeToString(sum[:])}}, Escalate: "log"},
		ClickHouse: serve.ClickHouseConfig{SpoolDir: dir},
		State:      serve.StateConfig{Dir: filepath.Join(dir, "state")},
	}
	return d, nil
}

func (d *demoSetup) getenv(k string) string {
	if v, ok := d.env[k]; ok {
		return v
	}
	return os.Getenv(k)
}

func (d *demoSetup) cleanup() { os.RemoveAll(d.spoolDir) }

// play feeds the world into the service and prints what it was and what was found.
func (d *demoSetup) play(ctx context.Context, e *env, log *slog.Logger, addr string, world simulate.Options, speed float64, once bool, p *alertPrinter) {
	o := feed.Options{World: world, Rebase: true, Speed: speed, StopAtClock: once, URL: "http://" + addr, KeyID: "demo",
		Secret: []byte(d.env["RONDA_DEMO_INTAKE_SECRET"]), Logger: log}
	if e.stderrTTY {
		o.Progress = e.stderr
	}
	f, err := feed.New(o)
	if err != nil {
		log.Error("demo feed", "err", err)
		return
	}
	labels := f.Labels()
	w := f.World()
	took := "as fast as the service takes it"
	if pt := f.PlayTime(); pt >= time.Second {
		took = "about " + pt.Round(time.Second).String() + " of wall time"
	}
	fmt.Fprintf(e.stdout, "demo: playing a %d-day synthetic world (%s to now) at %gx into http://%s, %s; %d ring hosts to find\n",
		w.Days, w.Start.Format("2006-01-02"), speed, addr, took, len(labels.PositiveHosts))
	local := dialable(addr)
	fmt.Fprintf(e.stdout, "demo: the moderators' console is http://%s%s#token=%s (role lead)\n", local, serve.ConsolePath, d.token)
	fmt.Fprintf(e.stdout, "demo: moderators connect to ws://%s%s with \"Authorization: Bearer %s\" (role lead); Ctrl-C stops\n\n", local, hub.Path, d.token)
	st, err := f.Run(ctx)
	if err != nil && !errors.Is(err, context.Canceled) {
		log.Error("demo feed", "err", err)
		return
	}
	if err != nil {
		return
	}
	fmt.Fprintf(e.stdout, "\ndemo: the world is played: %d events sent.", st.Sent)
	if once {
		// The score waits for the service's drain: the last batches are still
		// being analysed.
		p.final = func() { fmt.Fprintf(e.stdout, " %s\n", p.score(labels)) }
		return
	}
	fmt.Fprintf(e.stdout, " So far: %s Ronda keeps serving; Ctrl-C stops.\n", p.score(labels))
}

// alertPrinter prints an alert when it is new or its severity rises.
type alertPrinter struct {
	w       *env
	mu      sync.Mutex
	seen    map[string]analyzer.Severity
	flagged map[string]bool // hosts named by an alert at medium or above
	final   func()          // prints the score once the service has stopped
}

func (p *alertPrinter) print(a analyzer.Alert) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if a.MergedInto != "" {
		delete(p.seen, a.ID)
		fmt.Fprintf(p.w.stdout, "alert %s merged into %s\n", a.ID, a.MergedInto)
		return
	}
	if prev, ok := p.seen[a.ID]; ok && prev >= a.Severity {
		p.seen[a.ID] = max(prev, a.Severity)
		return
	}
	p.seen[a.ID] = a.Severity
	if a.Severity >= analyzer.SeverityMedium {
		for _, en := range append(a.Entities, a.Subject) {
			if en.Kind == analyzer.KindHost {
				p.flagged[en.ID] = true
			}
		}
	}
	writeAlert(p.w.stdout, a)
}

// score says how many of the world's positive hosts the printed alerts named.
func (p *alertPrinter) score(l simulate.Labels) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	found, missed := 0, []string{}
	for _, h := range l.PositiveHosts {
		if p.flagged[h] {
			found++
		} else {
			missed = append(missed, h)
		}
	}
	benign := len(p.flagged) - found
	s := fmt.Sprintf("Alerts named %d of the %d ring hosts, and %d other hosts.", found, len(l.PositiveHosts), benign)
	if len(missed) > 0 {
		s += " Not named: " + strings.Join(missed, " ") + "."
	}
	return s
}

// dialable is addr as a browser on this machine reaches it: a service
// listening on every address (0.0.0.0, ::) answers on loopback.
func dialable(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port)
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func newLevelLogger(e *env, level string) *slog.Logger {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return e.log
	}
	return slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: l}))
}
