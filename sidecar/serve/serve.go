// Package serve is Ronda's live service, `ronda serve`: the sidecar beside
// streaming ingest nodes. It wires the intake paths (signed HTTP batches,
// the streaming websocket, media-server webhooks) into the one goroutine that
// owns the analyzer, and the analyzer's signals, sessions and alerts into the
// ClickHouse writer and the moderators' websocket hub (with the triage console
// it serves at /console/), with health, readiness and Prometheus metrics (on
// a separate admin listener when configured), optional TLS, reloads of the
// thresholds, keys, tokens and secrets (all or nothing, reload.go) and a
// bounded, lossless stop.
//
// Roles (ARCHITECTURE.md, decision 1): "all" runs everything in one process;
// an "edge" beside an ingest node takes events, writes them to the record and
// forwards them to a "hub", which analyses the events of every edge together
// (so a ring whose hosts broadcast through two edges is one alert) and serves
// the moderators. The edge forwards events rather than alerts: an alert is only
// as good as the facts it was scored on, and only the hub sees all of them.
//
// What it must not do: block a sender on a slow analyzer or a slow ClickHouse
// (queues are bounded and answer "busy"), lose an accepted event at a stop
// (what cannot be analysed or written in the drain time is spooled), log a
// secret or event contents, or put per-stream or per-account labels on metrics.
// It never touches signals or the process: the caller cancels Run's context
// and calls Reload.
package serve

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/ronda-watch/ronda/analyzer"
	"github.com/ronda-watch/ronda/analyzer/event"
	"github.com/ronda-watch/ronda/dashboards"
	"github.com/ronda-watch/ronda/sidecar/adapters"
	"github.com/ronda-watch/ronda/sidecar/cases"
	"github.com/ronda-watch/ronda/sidecar/enforce"
	"github.com/ronda-watch/ronda/sidecar/hub"
	"github.com/ronda-watch/ronda/sidecar/intake"
	"github.com/ronda-watch/ronda/sidecar/store"
)

// Options configure a Service.
type Options struct {
	// Config is the service configuration, finished (LoadConfig or Finish).
	Config Config
	// Getenv reads secrets named by the configuration. Default os.Getenv.
	Getenv func(string) string
	// Logger; default slog.Default().
	Logger *slog.Logger
	// Listener, when set, is served instead of listening on Config.Listen
	// (tests listen on 127.0.0.1:0).
	Listener net.Listener
	// OnAlert, when set, also receives every alert version (the demo prints
	// them). It runs on the analyzer's goroutine and must return quickly.
	OnAlert func(analyzer.Alert)
	// Now is the wall clock; default time.Now.
	Now func() time.Time
	// Registry receives every metric of the service and is what /metrics
	// serves. Default a new prometheus.Registry; never the global one.
	Registry Registry
	// Reread returns the configuration as the process would load it now
	// (the file, the environment, the flags, finished); Reload calls it.
	// Nil: Reload keeps the start configuration and reads the files and
	// variables it names again.
	Reread func() (Config, error)
	// AllowExampleToken lets the example moderator token of
	// deploy/serve.yaml start the service, with a warning (--demo).
	// Otherwise it is refused: its secret, "change-me", is public.
	AllowExampleToken bool
	// AdminListener, when set, is served instead of listening on
	// Config.AdminListen (tests).
	AdminListener net.Listener
	// OnKeyframe, when set with media enabled, receives the broadcasts' key
	// frames in memory (media.Options.OnKeyframe), beside the service's own
	// sampler (media.hash_lists, media.classifier), which gets the same
	// slice after it: read it, do not change it.
	OnKeyframe func(streamID, codec string, frame []byte, at time.Time)
	// OnWire, when set with media enabled, also receives every stream.wire
	// event the tap makes (tests and the demo watch the wire facts). It runs
	// on the session's goroutine and must return quickly.
	OnWire func(event.Event)
}

// Registry is where a Service registers its metrics and what /metrics
// gathers: a *prometheus.Registry, or one wrapping it (the docs generator
// records every collector registered, also the labelled ones no sample has
// been seen for yet, which Gather leaves out).
type Registry interface {
	prometheus.Registerer
	prometheus.Gatherer
}

// exampleTokenSHA256 is the SHA-256 of "change-me", the example moderator
// token in deploy/serve.yaml.
const exampleTokenSHA256 = hub.ExampleTokenSHA256

// ConsolePath is where the moderators' console is served (roles all and hub,
// unless moderators.console is false).
const ConsolePath = "/console/"

// Service is one running Ronda process.
type Service struct {
	cfg  Config
	opts Options
	log  *slog.Logger
	reg  Registry
	// levers are the enforcement levers (levers.go): approved where the
	// hub runs, followed from it by an edge (follow set).
	levers *enforce.Board
	follow *enforce.Follower

	ln      net.Listener
	srv     *http.Server
	intake  *intake.Handler
	hub     *hub.Hub       // roles all and hub
	history *historyAPI    // roles all and hub
	cases   *cases.Service // roles all and hub, with ClickHouse (cases.go)
	writer  *store.Writer  // every role
	pipe    *pipeline      // roles all and hub
	fwd     *forwarder     // role edge
	elog    *edgeLog       // role edge with state.log (edgelog.go)
	polls   *pollerSet     // pollers of media servers' statistics (pollers.go)
	media   *mediaTap      // the WHIP endpoint and the media tap (media.go)
	adapt   map[string]int // adapters mounted, for the start log

	hooks    map[string]http.Handler // adapters mounted, by name, for Reload
	admin    *adminServer            // Config.AdminListen
	certs    *certReloader           // Config.TLS
	reloadMu sync.Mutex              // one Reload at a time; guards live
	live     secretSet               // the secrets in use
	reloads  *prometheus.CounterVec

	// The intake log and checkpoints (durable.go), roles all and hub.
	durableState

	ready    atomic.Bool
	draining atomic.Bool
	runOnce  sync.Once
}

// New builds the service: it reads the secrets, opens the spool, builds every
// component and listens, but serves nothing until Run. On error it closes
// what it opened.
func New(opts Options) (_ *Service, err error) {
	if opts.Getenv == nil {
		opts.Getenv = os.Getenv
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Registry == nil {
		opts.Registry = prometheus.NewRegistry()
	}
	cfg := opts.Config
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("serve config: %w", err)
	}
	s := &Service{cfg: cfg, opts: opts, log: opts.Logger.With("role", cfg.Role), reg: opts.Registry,
		adapt: map[string]int{}, hooks: map[string]http.Handler{}}
	s.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	defer func() {
		if err != nil {
			s.closeAll(context.Background())
		}
	}()

	if s.live, err = s.resolveSecrets(cfg); err != nil {
		return nil, err
	}
	if err := s.openWriter(); err != nil {
		return nil, err
	}
	var sink intake.Sink
	var dedup *event.Deduper // restored from a checkpoint, or nil
	switch cfg.Role {
	case RoleEdge:
		if s.fwd, err = newForwarder(cfg, opts.Getenv, s.reg, s.log); err != nil {
			return nil, err
		}
		sink = s.edgeSink
		if err := s.openEdgeLevers(); err != nil {
			return nil, err
		}
		if *cfg.State.Log {
			if err := s.openEdgeLog(); err != nil {
				return nil, err
			}
			sink = func(_ context.Context, evs []event.Event) error { return s.elog.sink(s, evs) }
		}
	default:
		if err := s.openHub(); err != nil {
			return nil, err
		}
		if err := s.openPipeline(); err != nil {
			return nil, err
		}
		if err := s.openLevers(); err != nil {
			return nil, err
		}
		if dedup, err = s.openState(); err != nil {
			return nil, err
		}
		sink = s.pipe.sink
		if s.wal != nil {
			sink = s.durableSink
		}
	}
	if s.pipe != nil {
		s.reloads = s.pipe.m.reloads
	} else {
		s.reloads = newReloadCounter(s.reg)
	}
	keys := s.live.keys
	proxies, err := cfg.trustedProxies()
	if err != nil {
		return nil, fmt.Errorf("trusted_proxies: %w", err)
	}
	mux := http.NewServeMux()
	if len(keys) > 0 {
		s.intake, err = intake.NewHandler(intake.Options{Keys: keys, Sink: sink, Registerer: s.reg,
			Dedup: dedup, DedupMaxFuture: cfg.Pipeline.MaxFuture,
			RateEvents: cfg.Intake.RateEvents, RateBurst: cfg.Intake.RateBurst, MaxBodyBytes: cfg.Intake.MaxBodyBytes,
			MaxLines: cfg.Intake.MaxLines, MaxInFlight: cfg.Intake.MaxInFlight, Now: opts.Now, Logger: s.log,
			RateRequests: cfg.Intake.RateRequests, RequestBurst: cfg.Intake.RequestBurst,
			MaxMemoryBytes: cfg.Intake.MaxMemoryBytes, BodyTimeout: cfg.Intake.BodyTimeout, MinBodyRate: cfg.Intake.MinBodyRate,
			TrustedProxies: proxies})
		if err != nil {
			return nil, fmt.Errorf("intake: %w", err)
		}
		mux.Handle(intake.Path, s.intake)
		mux.Handle(intake.WSPath, s.intake.WebSocket())
	}
	if s.hub != nil {
		mux.Handle(hub.Path, s.hub)
		mux.HandleFunc(hub.WhoAmIPath, s.hub.WhoAmI)
		s.mountLevers(mux)
		if s.cases != nil {
			s.cases.SetAuthenticate(s.hub.Authenticate)
			s.cases.SetChanged(s.caseChanged)
			mux.Handle(cases.Path, s.cases.Handler())
		}
		s.history = newHistoryAPI(s)
		mux.HandleFunc(HistoryPath, s.history.History)
		mux.HandleFunc(AlertPath, s.history.Alert)
		if c := cfg.Moderators.Console; c == nil || *c {
			bare := strings.TrimSuffix(ConsolePath, "/")
			mux.Handle(ConsolePath, http.StripPrefix(bare, dashboards.Console(dashboards.ConsoleSettings{SLA: cfg.Moderators.SLA})))
			// 302, not 301: a browser would keep a permanent one after the console is turned off.
			toConsole := http.RedirectHandler(ConsolePath, http.StatusFound)
			mux.Handle(bare, toConsole)
			mux.Handle("/{$}", toConsole)
		}
	}
	if err := s.mountAdapters(mux, sink); err != nil {
		return nil, err
	}
	if err := s.openPollers(sink); err != nil {
		return nil, err
	}
	if err := s.openMedia(mux, sink); err != nil {
		return nil, fmt.Errorf("media: %w", err)
	}
	mux.HandleFunc("/healthz", s.healthz)
	mux.HandleFunc("/readyz", s.readyz)
	if cfg.AdminListen == "" {
		mux.Handle("/metrics", s.metricsHandler())
	} else if err := s.openAdmin(); err != nil {
		return nil, err
	}
	if cfg.TLS.enabled() {
		if s.certs, err = newCertReloader(cfg.TLS, opts.Now, s.reg, s.log.With("component", "tls")); err != nil {
			return nil, err
		}
	}

	s.ln = opts.Listener
	if s.ln == nil {
		if s.ln, err = net.Listen("tcp", cfg.Listen); err != nil {
			return nil, fmt.Errorf("listen: %w", err)
		}
	}
	if s.certs != nil {
		s.ln = tls.NewListener(s.ln, s.certs.serverTLS())
	}
	s.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute,
		MaxHeaderBytes: 64 << 10, ErrorLog: slog.NewLogLogger(s.log.Handler(), slog.LevelDebug)}
	return s, nil
}

// Addr is the address the service listens on.
func (s *Service) Addr() string { return s.ln.Addr().String() }

// Registry is the service's metrics registry (what /metrics serves).
func (s *Service) Registry() Registry { return s.reg }

func (s *Service) openWriter() error {
	ch := s.cfg.ClickHouse
	key, err := ch.PseudonymKey.Secret(s.opts.Getenv)
	if err != nil {
		key = nil // no key: viewer ids are not stored at all
	}
	w, err := store.NewWriter(store.WriterOptions{DSN: ch.DSN,
		Schema:        store.Options{Database: ch.Database, Cluster: ch.Cluster},
		Pseudonymizer: store.Pseudonymizer{Key: key},
		SpoolDir:      ch.SpoolDir, SpoolMaxBytes: ch.SpoolMaxBytes, BatchRows: ch.BatchRows,
		// The analyzer waits for room rather than drop what intake accepted;
		// intake answers busy while the writer is backlogged (the sinks), so
		// it never waits itself.
		Block:      true,
		Registerer: s.reg, Logger: s.log.With("component", "store"), Now: s.opts.Now})
	if err != nil {
		return fmt.Errorf("clickhouse writer: %w", err)
	}
	s.writer = w
	if w.SpoolOnly() {
		s.log.Warn("no ClickHouse configured: every record batch is spooled to disk until a run with ClickHouse delivers it",
			"spool", w.SpoolDir(), "set", "clickhouse.dsn or RONDA_CLICKHOUSE_DSN")
	}
	if key == nil {
		s.log.Info("no pseudonym key: viewer ids are not stored", "set", ch.PseudonymKey.Env)
	}
	return nil
}

func (s *Service) openHub() error {
	tokens := s.live.tokens
	esc, err := s.escalator()
	if err != nil {
		return err
	}
	if err := s.openCases(); err != nil {
		return err
	}
	esc = s.caseEscalation(esc)
	proxies, err := s.cfg.trustedProxies()
	if err != nil {
		return fmt.Errorf("trusted_proxies: %w", err)
	}
	h, err := hub.New(hub.Options{Tokens: tokens, AllowedOrigins: s.cfg.Moderators.AllowedOrigins, TrustedProxies: proxies,
		Audit: s.auditAction, Journal: s.journalAction, Escalate: esc, ClaimTTL: s.cfg.Moderators.ClaimTTL,
		SendQueue: s.cfg.Moderators.SendQueue, Ring: s.cfg.Moderators.Ring, Now: s.opts.Now,
		Registerer: s.reg, Logger: s.log.With("component", "hub")})
	if err != nil {
		return fmt.Errorf("moderators: %w", err)
	}
	s.hub = h
	return nil
}

func (s *Service) openPipeline() error {
	acfg := analyzer.DefaultConfig()
	if s.cfg.Analyzer != "" {
		var err error
		if acfg, err = analyzer.LoadConfig(s.cfg.Analyzer); err != nil {
			return err
		}
	}
	eng, err := analyzer.New(acfg)
	if err != nil {
		return fmt.Errorf("analyzer: %w", err)
	}
	writeEvents := *s.cfg.ClickHouse.Events
	eng.OnSignal = s.writer.Signal
	eng.OnSession = s.writer.Session
	p := &pipeline{
		in:    make(chan batch, 4096),
		limit: int64(s.cfg.Pipeline.QueueEvents),
		eng:   eng,
		onEvent: func(ev *event.Event) {
			if writeEvents {
				s.writer.Event(ev)
			}
		},
		onAlert: func(a analyzer.Alert) {
			s.writer.Alert(a)
			s.hub.Publish(a)
			if s.cases != nil {
				s.cases.Observe(a)
			}
			if s.opts.OnAlert != nil {
				s.opts.OnAlert(a)
			}
		},
		recordBusy: s.writer.Backlogged,
		maxFuture:  s.cfg.Pipeline.MaxFuture, advanceEvery: s.cfg.Pipeline.AdvanceEvery,
		now: s.opts.Now, log: s.log.With("component", "pipeline"), calls: make(chan func(*analyzer.Engine)),
		done: make(chan struct{}),
	}
	p.m = newPipelineMetrics(s.reg, p)
	s.pipe = p
	return nil
}

// edgeSink is the intake.Sink of an edge: the record, then the hub.
func (s *Service) edgeSink(_ context.Context, evs []event.Event) error {
	if *s.cfg.ClickHouse.Events && s.writer.Backlogged() {
		return intake.ErrBusy
	}
	if err := s.fwd.add(evs); err != nil {
		return intake.ErrBusy
	}
	if *s.cfg.ClickHouse.Events {
		for i := range evs {
			s.writer.Event(&evs[i])
		}
	}
	return nil
}

// mountAdapters serves the media-server webhooks that have a secret.
func (s *Service) mountAdapters(mux *http.ServeMux, sink intake.Sink) error {
	a := s.cfg.Adapters
	o := adapters.Options{Sink: adapters.Sink(sink), Node: s.cfg.Node, Now: s.opts.Now,
		Logger: s.log.With("component", "adapters"), Registerer: s.reg, MaxTokenLifetime: a.LiveKitMaxTokenLifetime}
	if s.levers != nil && s.cfg.Enforcement.DenyPublish {
		o.Gate = s.leverGate
	}
	// Adapters given one Registerer share its counter.
	if s.live.livekit != nil {
		h, err := adapters.NewLiveKit(o, s.live.livekit)
		if err != nil {
			return fmt.Errorf("adapters.livekit: %w", err)
		}
		mux.Handle("/hooks/livekit", h)
		s.hooks["livekit"] = h
		s.adapt["livekit"] = 1
	}
	type server struct {
		name, path string
		ref        SecretRef
		build      func(adapters.Options, adapters.ServerOptions) (http.Handler, error)
	}
	for _, sv := range []server{
		{"srs", "/hooks/srs", a.SRS, func(o adapters.Options, so adapters.ServerOptions) (http.Handler, error) {
			return adapters.NewSRS(o, so)
		}},
		{"ome", "/hooks/ome", a.OME, func(o adapters.Options, so adapters.ServerOptions) (http.Handler, error) {
			return adapters.NewOME(o, so)
		}},
		{"nginx_rtmp", "/hooks/nginx-rtmp", a.NginxRTMP, func(o adapters.Options, so adapters.ServerOptions) (http.Handler, error) {
			return adapters.NewNginxRTMP(o, so)
		}},
	} {
		sec, ok := s.live.servers[sv.name]
		if !ok {
			continue
		}
		h, err := sv.build(o, adapters.ServerOptions{Secrets: sec, HostParam: a.HostParam})
		if err != nil {
			return fmt.Errorf("adapters.%s: %w", sv.name, err)
		}
		mux.Handle(sv.path, h)
		s.hooks[sv.name] = h
		s.adapt[sv.name] = 1
	}
	return nil
}

// escalator builds the hub's escalation to the configured destination.
func (s *Service) escalator() (func(context.Context, analyzer.Alert, string) error, error) {
	dest := s.cfg.Moderators.Escalate
	switch dest {
	case "":
		return nil, nil
	case "log":
		return func(_ context.Context, a analyzer.Alert, _ string) error {
			s.log.Warn("alert escalated (destination: log only)", "alert", a.ID, "severity", a.Severity.String())
			return nil
		}, nil
	}
	var token []byte
	if s.cfg.Moderators.EscalateToken.set() {
		var err error
		if token, err = s.cfg.Moderators.EscalateToken.Secret(s.opts.Getenv); err != nil {
			return nil, fmt.Errorf("moderators.escalate_token: %w", err)
		}
	}
	client := &http.Client{Timeout: 10 * time.Second}
	return func(ctx context.Context, a analyzer.Alert, note string) error {
		body, err := json.Marshal(struct {
			Alert analyzer.Alert `json:"alert"`
			Note  string         `json:"note"`
			At    time.Time      `json:"at"`
			From  string         `json:"from"`
		}{a, note, s.opts.Now().UTC(), s.cfg.Node})
		if err != nil {
			return err
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, dest, bytes.NewReader(body))
		if err != nil {
			return err
		}
		req.Header.Set("Content-Type", "application/json")
		if token != nil {
			req.Header.Set("Authorization", "Bearer "+string(token))
		}
		resp, err := client.Do(req)
		if err != nil {
			return fmt.Errorf("escalation destination: %w", err)
		}
		resp.Body.Close()
		if resp.StatusCode/100 != 2 {
			return fmt.Errorf("escalation destination answered %s", resp.Status)
		}
		return nil
	}, nil
}

// Run serves until ctx ends, then stops in order within the drain timeout:
// intake first (senders get refused and retry elsewhere or later), then the
// queued events are analysed, the moderators' sockets closed, and the writer's
// buffers written or spooled. Call it once.
func (s *Service) Run(ctx context.Context) error {
	err := errors.New("serve: Run called twice")
	s.runOnce.Do(func() { err = s.run(ctx) })
	return err
}

func (s *Service) run(ctx context.Context) error {
	bg, cancelBG := context.WithCancel(context.Background())
	defer cancelBG()
	var wg sync.WaitGroup
	goFn := func(f func()) {
		wg.Add(1)
		go func() { defer wg.Done(); f() }()
	}
	goFn(func() { s.writer.Run(bg) })
	if s.cfg.ClickHouse.DSN != "" {
		goFn(func() { s.migrate(bg) })
	}
	s.rebuildHubFromRecord(bg)
	err := s.replayLog()
	if s.elog != nil && err == nil {
		err = s.elog.replay(s)
	}
	if err != nil {
		cancelBG()
		wg.Wait()
		s.closeAll(context.Background())
		return err
	}
	if s.pipe != nil {
		goFn(func() { s.checkpointLoop(bg) })
	}
	if s.levers != nil {
		goFn(func() { s.runLevers(bg) })
	}
	pipeStop := make(chan context.Context, 1)
	pipeDone := make(chan struct{})
	if s.pipe != nil {
		go func() {
			defer close(pipeDone)
			s.pipe.run(pipeStop)
		}()
	} else {
		close(pipeDone)
	}
	if s.fwd != nil {
		goFn(func() { s.fwd.run(bg) })
	}
	if s.elog != nil {
		goFn(func() { s.elog.run(bg, s) })
	}
	s.polls.start(bg, s)
	s.media.start(s)
	serveErr := make(chan error, 1)
	go func() { serveErr <- s.srv.Serve(s.ln) }()
	if s.admin != nil {
		go s.admin.serve(s.log)
	}
	s.ready.Store(true)
	s.log.Info("ronda serving", "addr", s.Addr(), "tls", s.certs != nil, "admin", s.AdminAddr(), "node", s.cfg.Node,
		"clickhouse", s.cfg.ClickHouse.DSN != "", "spool", s.writer.SpoolDir(), "hub", s.hub != nil, "adapters", len(s.adapt))

	var runErr error
	select {
	case <-ctx.Done():
	case err := <-serveErr:
		runErr = fmt.Errorf("http server: %w", err)
	}
	s.ready.Store(false)
	s.draining.Store(true)
	drainCtx, cancel := context.WithTimeout(context.Background(), s.cfg.Pipeline.DrainTimeout)
	defer cancel()
	s.log.Info("ronda stopping", "drain_timeout", s.cfg.Pipeline.DrainTimeout)

	// 0. Pollers: no more polls into a pipeline that drains; broadcasts read
	// end, each with its last stream.wire event.
	s.polls.stop()
	s.media.close()
	// 1. Intake: no new requests or sockets; in-flight requests finish.
	s.srv.SetKeepAlivesEnabled(false)
	if s.intake != nil {
		s.intake.Close()
	}
	if err := s.srv.Shutdown(drainCtx); err != nil {
		s.log.Warn("http shutdown", "err", err)
	}
	// 2. The analyzer takes what is queued in three quarters of the budget;
	// past that it only records, so the writer keeps time to write.
	analyseCtx, cancelAnalyse := context.WithTimeout(drainCtx, s.cfg.Pipeline.DrainTimeout*3/4)
	pipeStop <- analyseCtx
	<-pipeDone
	cancelAnalyse()
	// 3. Moderators get the last alerts, then a close frame.
	if s.hub != nil {
		s.hub.Close()
	}
	// 4. The state, now final (the hub's too: consoles resume exactly).
	if s.pipe != nil {
		s.finalCheckpoint(drainCtx)
	}
	cancelBG()
	wg.Wait()
	// 5. The record: written when ClickHouse answers in time, spooled otherwise.
	s.closeAll(drainCtx)
	s.log.Info("ronda stopped", "spooled_batches", s.writer.Spooled())
	return runErr
}

func (s *Service) closeAll(ctx context.Context) {
	s.media.close()
	if s.fwd != nil {
		if err := s.fwd.close(ctx); err != nil {
			s.log.Error("forwarder close", "err", err)
		}
	}
	if s.history != nil {
		s.history.close()
	}
	if s.writer != nil {
		if err := s.writer.Close(ctx); err != nil {
			s.log.Error("writer close", "err", err)
		}
	}
	s.cases.Close()
	if s.wal != nil {
		if err := s.wal.Close(); err != nil {
			s.log.Error("intake log close", "err", err)
		}
	}
	if s.elog != nil {
		if err := s.elog.close(s); err != nil {
			s.log.Error("intake log close", "err", err)
		}
	}
	if s.ln != nil && s.srv == nil {
		s.ln.Close()
	}
	if s.admin != nil {
		s.admin.stop(ctx)
		s.admin.ln.Close()
	}
}

// migrate brings the ClickHouse schema up to date, retrying while the server
// is away; the writer spools meanwhile.
func (s *Service) migrate(ctx context.Context) {
	backoff := time.Second
	for {
		err := func() error {
			cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			defer cancel()
			conn, err := store.Open(cctx, s.cfg.ClickHouse.DSN)
			if err != nil {
				return err
			}
			defer conn.Close()
			_, err = store.Migrate(cctx, conn, store.Options{Database: s.cfg.ClickHouse.Database, Cluster: s.cfg.ClickHouse.Cluster})
			return err
		}()
		if err == nil {
			s.log.Info("clickhouse schema up to date", "database", s.cfg.ClickHouse.Database)
			return
		}
		s.log.Warn("clickhouse not reachable for migrations; spooling until it answers", "err", err, "retry_in", backoff)
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 30*time.Second)
	}
}

// AnalyzerConfig is the analyzer's running configuration.
func (s *Service) AnalyzerConfig(ctx context.Context) (analyzer.Config, error) {
	if s.pipe == nil {
		return analyzer.Config{}, errors.New("this role runs no analyzer")
	}
	var c analyzer.Config
	err := s.pipe.do(ctx, func(e *analyzer.Engine) { c = e.Config() })
	return c, err
}

func (s *Service) healthz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	fmt.Fprintln(w, "ok")
}

// readyz says whether to send traffic here: 200 while serving, 503 while
// starting or stopping. ClickHouse being away does not make the service
// unready (it spools), but the body says so.
func (s *Service) readyz(w http.ResponseWriter, _ *http.Request) {
	st := struct {
		Ready      bool   `json:"ready"`
		Role       string `json:"role"`
		Draining   bool   `json:"draining,omitempty"`
		ClickHouse string `json:"clickhouse"`
		Spooled    int    `json:"spooled_batches"`
		Queue      int64  `json:"queue_events,omitempty"`
		Hub        string `json:"hub,omitempty"`
	}{Ready: s.ready.Load(), Role: s.cfg.Role, Draining: s.draining.Load(), Spooled: s.writer.Spooled()}
	switch {
	case s.writer.SpoolOnly():
		st.ClickHouse = "not configured (spooling)"
	default:
		st.ClickHouse = "breaker " + s.writer.BreakerState().String()
	}
	if s.pipe != nil {
		st.Queue = s.pipe.queued.Load()
	}
	if s.fwd != nil {
		st.Hub = s.fwd.state()
	}
	code := http.StatusOK
	if !st.Ready {
		code = http.StatusServiceUnavailable
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(st)
}
