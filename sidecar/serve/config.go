package serve

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/ronda-watch/ronda/analyzer"
	"github.com/ronda-watch/ronda/sidecar/adapters"
	"github.com/ronda-watch/ronda/sidecar/enforce"
	"github.com/ronda-watch/ronda/sidecar/forward"
	"github.com/ronda-watch/ronda/sidecar/hub"
	"github.com/ronda-watch/ronda/sidecar/intake"
	"github.com/ronda-watch/ronda/sidecar/intake/wire"
)

// Roles of a Ronda process (ARCHITECTURE.md, decision 1).
const (
	// RoleAll runs everything in one process: intake, analyzer, ClickHouse
	// writes and the moderators' hub. The default.
	RoleAll = "all"
	// RoleEdge runs beside an ingest node: intake and adapters, ClickHouse
	// writes of the events, and forwarding of every event to a hub. It scores
	// nothing itself, so a ring whose hosts land on two edges is still one alert.
	RoleEdge = "edge"
	// RoleHub takes the events of several edges (and of any direct sender),
	// runs the analyzer over all of them and serves the moderators.
	RoleHub = "hub"
)

// Config is the service's configuration file (deploy/serve.yaml documents every
// key). Secrets never live in it: each is named by the environment variable or
// the file that holds it. Environment variables (Env) and then command-line
// flags override the file.
type Config struct {
	// Role is all, edge or hub. Default all.
	Role string `yaml:"role"`
	// Listen is the address of the HTTP server: intake, adapters, the
	// moderators' websocket, health and metrics. Default 127.0.0.1:8080; bind
	// a public address only behind TLS termination.
	Listen string `yaml:"listen"`
	// Node names this process in logs and in the events adapters make. Default
	// the host name.
	Node string `yaml:"node"`
	// Analyzer is the detector thresholds file (deploy/ronda.yaml), reloaded on
	// SIGHUP. Empty: the built-in defaults.
	Analyzer string `yaml:"analyzer"`
	// LogLevel is debug, info, warn or error. Default info.
	LogLevel string `yaml:"log_level"`
	// AdminListen, when set, is a second HTTP listener for operators:
	// /metrics, /readyz and /healthz, and /metrics then leaves Listen. Bind a
	// loopback or private address (127.0.0.1:9090). /readyz and /healthz stay
	// on Listen too, where load balancers probe the traffic port. Empty:
	// everything is on Listen.
	AdminListen string `yaml:"admin_listen"`
	// TrustedProxies are the CIDRs (or single addresses) of the reverse
	// proxies in front of this service. Only a request whose peer is in one
	// of them has its client address taken from X-Forwarded-For (for the
	// bad-token lockout, rate limits and logs); from any other peer the
	// header is ignored. Empty: every client address is the peer's.
	TrustedProxies []string `yaml:"trusted_proxies"`
	// TLS serves Listen over HTTPS when its files are set.
	TLS TLSConfig `yaml:"tls"`

	Pipeline   PipelineConfig   `yaml:"pipeline"`
	Intake     IntakeConfig     `yaml:"intake"`
	Moderators ModeratorsConfig `yaml:"moderators"`
	ClickHouse ClickHouseConfig `yaml:"clickhouse"`
	Cases      CasesConfig      `yaml:"cases"`
	Adapters   AdaptersConfig   `yaml:"adapters"`
	Pollers    PollersConfig    `yaml:"pollers"`
	Edge       EdgeConfig       `yaml:"edge"`
	State      StateConfig      `yaml:"state"`
	// Enforcement holds the levers a lead may approve against a case's
	// hosts, devices and accounts: refusing their publishes through the
	// admission hooks, and asking the platform to hold their payouts.
	// Everything is off by default; see README "Enforcement levers".
	Enforcement enforce.Config `yaml:"enforcement"`
	Media       MediaConfig    `yaml:"media"`
}

// PipelineConfig bounds the queue between intake and the analyzer.
type PipelineConfig struct {
	// QueueEvents bounds the events accepted but not yet analysed. Past it the
	// intake answers 503 with Retry-After (nothing is taken, senders retry).
	// Default 200,000: two seconds at 100,000 events/s, about 100 MB.
	QueueEvents int `yaml:"queue_events"`
	// MaxFuture keeps out of the analysis (it is still recorded, and counted)
	// an event whose time is further than this ahead of this machine's
	// clock: one sender with a wrong clock must not move the analyzer's time
	// and age everyone else's state. Default 10m.
	MaxFuture time.Duration `yaml:"max_future"`
	// AdvanceEvery is how often the analyzer's event time is moved on while no
	// events arrive (by the wall time since the newest event), so idle streams
	// end and due evaluations run. Default 1s.
	AdvanceEvery time.Duration `yaml:"advance_every"`
	// DrainTimeout bounds a graceful stop (SIGTERM): the queue is analysed and
	// the ClickHouse buffers written in this time, the rest spooled. Default 20s.
	DrainTimeout time.Duration `yaml:"drain_timeout"`
}

// IntakeConfig configures POST /v1/events and the websocket /v1/events/ws.
type IntakeConfig struct {
	// Keys are the senders' HMAC keys; several may be live at once for
	// rotation. Required unless the role is edge without direct senders.
	// Read again on SIGHUP: keys added, removed or rotated in place.
	Keys []SecretRef `yaml:"keys"`
	// RateEvents and RateBurst bound each key's events per second (a token
	// bucket; an empty batch counts as one). Defaults 20,000/s and 100,000;
	// a negative rate disables it. The burst must be at least max_lines, or
	// the largest batch could never pass.
	RateEvents float64 `yaml:"rate_events"`
	RateBurst  int     `yaml:"rate_burst"`
	// RateRequests and RequestBurst bound each key's requests and websocket
	// handshakes per second, counted once the signature is checked.
	// Defaults 1,000/s and 2,000; a negative rate disables it.
	RateRequests float64 `yaml:"rate_requests"`
	RequestBurst int     `yaml:"request_burst"`
	// MaxBodyBytes bounds one request body as sent. Default 8 MiB.
	MaxBodyBytes int64 `yaml:"max_body_bytes"`
	// MaxLines bounds the lines of one request. Default 50,000.
	MaxLines int `yaml:"max_lines"`
	// MaxInFlight bounds the requests decoded at once (CPU). Default 8.
	MaxInFlight int `yaml:"max_in_flight"`
	// MaxMemoryBytes bounds the bytes requests hold at once (bodies being
	// read, decoded batches, answers), POST and websocket together; past it
	// 503 with Retry-After. Default 256 MiB. The process's heap holds more
	// (see intake.Options.MaxMemoryBytes): set GOMEMLIMIT to cap it.
	MaxMemoryBytes int64 `yaml:"max_memory_bytes"`
	// BodyTimeout bounds the reading of one body, and MinBodyRate (bytes/s,
	// after 2 s) its pace; a slower body gets 408. Bodies are read before
	// their signature can be checked, so these bound what a sender that knows
	// only a key id can hold. Defaults 1m and 32768; a negative rate checks
	// only the timeout.
	BodyTimeout time.Duration `yaml:"body_timeout"`
	MinBodyRate int64         `yaml:"min_body_rate"`
}

// SecretRef names a secret without holding it: the value is read from the
// environment variable Env, or else from File (its content, trailing newline
// removed).
type SecretRef struct {
	// ID is the key id senders put in X-Ronda-Key (or the API key of LiveKit).
	ID   string `yaml:"id"`
	Env  string `yaml:"env"`
	File string `yaml:"file"`
}

// ModeratorsConfig configures the moderators' hub, /v1/alerts/ws.
type ModeratorsConfig struct {
	// Tokens are the moderators' bearer tokens, each stored as its SHA-256
	// (printf %s "$TOKEN" | sha256sum), with a name and a role (viewer,
	// moderator, lead). Required where the hub runs (roles all and hub).
	// Read again on SIGHUP, with TokensFile: a removed token's sockets are
	// closed. The example token of deploy/serve.yaml is refused outside --demo.
	Tokens []hub.Token `yaml:"tokens"`
	// TokensFile, when set, is a YAML list of tokens read in addition to Tokens:
	// where a deployment keeps them apart from the rest.
	TokensFile string `yaml:"tokens_file"`
	// AllowedOrigins are the exact origins of other browser consoles allowed
	// to connect (https://mod.example.org). The console this service serves
	// (Console) is on the service's own origin and needs no entry.
	AllowedOrigins []string `yaml:"allowed_origins"`
	// Console serves the moderators' triage console at /console/ (and
	// redirects / there): open http://ADDR/console/ and sign in with a token.
	// It is static files embedded in the binary that talk only to this hub.
	// Default true; false where moderators use another console.
	Console *bool `yaml:"console"`
	// ClaimTTL is how long a claim holds an alert. Default 15m.
	ClaimTTL time.Duration `yaml:"claim_ttl"`
	// SendQueue bounds the messages waiting for one console; a console past it
	// is cut off (it resumes with ?since). Default 256.
	SendQueue int `yaml:"send_queue"`
	// Ring is how many recent messages are kept for consoles that resume.
	// Default 4096.
	Ring int `yaml:"ring"`
	// Escalate is where a lead's escalation goes: an https:// (or http://) URL
	// that receives a JSON POST {alert, note, by, at}, authenticated with the
	// bearer token in EscalateToken; or "log", which only logs that an alert
	// was escalated (the demo). Empty: escalation is refused.
	Escalate      string    `yaml:"escalate"`
	EscalateToken SecretRef `yaml:"escalate_token"`
	// HistoryPage is the most alerts one answer of GET /v1/alerts/history
	// holds (the console asks for 50); a request for more is refused. The
	// history reads ClickHouse, so it needs clickhouse.dsn. Default 200.
	HistoryPage int `yaml:"history_page"`
	// HistoryDays is the widest span of days one history request may search,
	// and how far back GET /v1/alerts/{id} looks for an alert. Default 90: a
	// quarter, longer than the record is usually kept.
	HistoryDays int `yaml:"history_days"`
	// HistoryTimeout bounds each history request's queries to ClickHouse;
	// past it the request answers 503. Default 10s.
	HistoryTimeout time.Duration `yaml:"history_timeout"`
	// SLA is how long an unclaimed alert may wait, by severity (critical,
	// high, medium, low), before the console marks it overdue; half of it
	// marks it due soon. Default critical 5m, high 15m; a severity left out
	// has no timer.
	SLA map[string]time.Duration `yaml:"sla"`
}

// ClickHouseConfig configures the record (sidecar/store).
type ClickHouseConfig struct {
	// DSN of ClickHouse's native protocol, clickhouse://user@host:9000/db.
	// Put a password in RONDA_CLICKHOUSE_DSN instead of this file. Empty: no
	// ClickHouse; every batch is spooled, to be delivered by a later run that
	// has one.
	DSN string `yaml:"dsn"`
	// Database for Ronda's tables. Default ronda.
	Database string `yaml:"database"`
	// Cluster, when set, writes through Distributed tables of this cluster.
	Cluster string `yaml:"cluster"`
	// SpoolDir keeps the batches ClickHouse does not take (down, slow, or not
	// configured), drained in order when it answers. Default
	// <user cache dir>/ronda/spool.
	SpoolDir string `yaml:"spool_dir"`
	// SpoolMaxBytes bounds the spool; past it new batches are dropped and
	// counted. Default 1 GiB.
	SpoolMaxBytes int64 `yaml:"spool_max_bytes"`
	// BatchRows is how many rows of a table's buffer make a batch to write
	// (a buffer is also written after 1 s); one insert streams up to four
	// ready batches in blocks of 10,000 rows. Default 10,000: a live service keeps batches small, so
	// that building and spooling one never stalls the analyzer and the
	// moderators' alerts (with 50,000, p99 intake-to-moderator latency rose
	// from about 50 ms to over 100 ms on 2 cores); replay, which wants
	// throughput only, uses 50,000.
	BatchRows int `yaml:"batch_rows"`
	// Events writes the analysed events (the types worth keeping). Default true,
	// except for the hub role, whose events were written by the edges.
	Events *bool `yaml:"events"`
	// PseudonymKey is the HMAC key of viewer pseudonyms; without it viewer ids
	// are not stored at all. Default env RONDA_PSEUDONYM_KEY.
	PseudonymKey SecretRef `yaml:"pseudonym_key"`
}

// AdaptersConfig enables the media-server webhooks (sidecar/adapters). Each is
// off unless its secret is configured. Secrets are read again on SIGHUP;
// turning a webhook on or off needs a restart.
type AdaptersConfig struct {
	// LiveKit API keys and their secrets (ID is the API key), as in LiveKit's
	// keys configuration, each secret at least 32 bytes. Served at
	// /hooks/livekit.
	LiveKit []SecretRef `yaml:"livekit"`
	// SRS callbacks at /hooks/srs?secret=...
	SRS SecretRef `yaml:"srs"`
	// OvenMediaEngine admission webhooks at /hooks/ome (its SecretKey).
	OME SecretRef `yaml:"ome"`
	// nginx-rtmp notifications at /hooks/nginx-rtmp?secret=...
	NginxRTMP SecretRef `yaml:"nginx_rtmp"`
	// HostParam is the publisher URL parameter that names the host account
	// (SRS, OME, nginx-rtmp); empty takes the stream name.
	HostParam string `yaml:"host_param"`
	// LiveKitMaxTokenLifetime refuses a LiveKit webhook whose signed token is
	// valid longer than this (exp minus nbf or iat): a long-lived token could
	// be replayed by whoever captured it. LiveKit signs for 5m. Default 10m.
	LiveKitMaxTokenLifetime time.Duration `yaml:"livekit_max_token_lifetime"`
}

// EdgeConfig is where an edge forwards its events (role edge only).
type EdgeConfig struct {
	// Hub is the base URL of the hub Ronda: wss://hub:8443, or ws:// to a
	// loopback host only (the edge signs the handshake only; on a network
	// TLS must protect the batches after it). Checked by Validate.
	Hub string `yaml:"hub"`
	// Key is this edge's intake key at the hub (ID and where its secret is).
	Key SecretRef `yaml:"key"`
	// SpoolDir keeps the events the hub has not acknowledged across outages
	// (past BufferEvents in memory) and graceful restarts. With state.log on
	// (the default), the intake log holds them too, so a start empties the
	// spool and replays the log; a crash loses nothing acknowledged.
	// Default <user cache dir>/ronda/forward.
	SpoolDir string `yaml:"spool_dir"`
	// BufferEvents bounds the events held in memory while the hub is away,
	// before they go to the spool. Default 200,000.
	BufferEvents int `yaml:"buffer_events"`
}

// DefaultConfig is the configuration with every default applied.
func DefaultConfig() Config {
	c := Config{}
	c.applyDefaults()
	return c
}

func (c *Config) applyDefaults() {
	set := func(p *string, v string) {
		if *p == "" {
			*p = v
		}
	}
	set(&c.Role, RoleAll)
	set(&c.Listen, "127.0.0.1:8080")
	set(&c.LogLevel, "info")
	if c.Node == "" {
		c.Node, _ = os.Hostname()
	}
	p := &c.Pipeline
	if p.QueueEvents == 0 {
		p.QueueEvents = 200_000
	}
	if p.MaxFuture == 0 {
		p.MaxFuture = 10 * time.Minute
	}
	if p.AdvanceEvery == 0 {
		p.AdvanceEvery = time.Second
	}
	if p.DrainTimeout == 0 {
		p.DrainTimeout = 20 * time.Second
	}
	in := &c.Intake
	if in.RateEvents == 0 {
		in.RateEvents = intake.DefaultRateEvents
	}
	if in.RateBurst == 0 {
		in.RateBurst = intake.DefaultRateBurst
	}
	if in.RateRequests == 0 {
		in.RateRequests = intake.DefaultRateRequests
	}
	if in.RequestBurst == 0 {
		in.RequestBurst = intake.DefaultRequestBurst
	}
	if in.MaxBodyBytes == 0 {
		in.MaxBodyBytes = intake.DefaultMaxBodyBytes
	}
	if in.MaxLines == 0 {
		in.MaxLines = intake.DefaultMaxLines
	}
	if in.MaxInFlight == 0 {
		in.MaxInFlight = intake.DefaultMaxInFlight
	}
	if in.MaxMemoryBytes == 0 {
		in.MaxMemoryBytes = intake.DefaultMaxMemoryBytes
	}
	if in.BodyTimeout == 0 {
		in.BodyTimeout = intake.DefaultBodyTimeout
	}
	if in.MinBodyRate == 0 {
		in.MinBodyRate = intake.DefaultMinBodyRate
	}
	set(&c.ClickHouse.Database, "ronda")
	if c.ClickHouse.SpoolMaxBytes == 0 {
		c.ClickHouse.SpoolMaxBytes = 1 << 30
	}
	if c.ClickHouse.BatchRows == 0 {
		c.ClickHouse.BatchRows = 10_000
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	set(&c.ClickHouse.SpoolDir, filepath.Join(cache, "ronda", "spool"))
	set(&c.Edge.SpoolDir, filepath.Join(cache, "ronda", "forward"))
	c.State.applyDefaults(cache)
	c.Enforcement.Defaults()
	c.Cases.applyDefaults()
	set(&c.ClickHouse.PseudonymKey.Env, "RONDA_PSEUDONYM_KEY")
	if c.Adapters.LiveKitMaxTokenLifetime == 0 {
		c.Adapters.LiveKitMaxTokenLifetime = adapters.DefaultMaxTokenLifetime
	}
	if c.Edge.BufferEvents == 0 {
		c.Edge.BufferEvents = 200_000
	}
	mo := &c.Moderators
	if mo.HistoryPage == 0 {
		mo.HistoryPage = 200
	}
	if mo.HistoryDays == 0 {
		mo.HistoryDays = 90
	}
	if mo.HistoryTimeout == 0 {
		mo.HistoryTimeout = 10 * time.Second
	}
	if mo.SLA == nil {
		mo.SLA = map[string]time.Duration{"critical": 5 * time.Minute, "high": 15 * time.Minute}
	}
	if c.Moderators.Console == nil {
		v := true
		c.Moderators.Console = &v
	}
	if c.ClickHouse.Events == nil {
		v := c.Role != RoleHub
		c.ClickHouse.Events = &v
	}
}

// ParseConfig reads a configuration file over the defaults; unknown keys are
// errors. Env overrides are not applied (see ApplyEnv).
func ParseConfig(b []byte) (Config, error) {
	var c Config
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil && !errors.Is(err, io.EOF) {
		return Config{}, fmt.Errorf("parse serve config: %w", err)
	}
	return c, nil
}

// LoadConfig reads path ("" for none), applies the environment, the defaults
// and validates.
func LoadConfig(path string, getenv func(string) string) (Config, error) {
	var c Config
	if path != "" {
		b, err := os.ReadFile(path)
		if err != nil {
			return Config{}, fmt.Errorf("serve config: %w", err)
		}
		if c, err = ParseConfig(b); err != nil {
			return Config{}, fmt.Errorf("%s: %w", path, err)
		}
	}
	c.ApplyEnv(getenv)
	if err := c.Finish(); err != nil {
		return Config{}, err
	}
	return c, nil
}

// Env lists the environment variables that override the file, and the key
// each overrides.
var Env = []struct{ Name, Key string }{
	{"RONDA_ROLE", "role"},
	{"RONDA_LISTEN", "listen"},
	{"RONDA_NODE", "node"},
	{"RONDA_ANALYZER_CONFIG", "analyzer"},
	{"RONDA_LOG_LEVEL", "log_level"},
	{"RONDA_ADMIN_LISTEN", "admin_listen"},
	{"RONDA_CLICKHOUSE_DSN", "clickhouse.dsn"},
	{"RONDA_CLICKHOUSE_DATABASE", "clickhouse.database"},
	{"RONDA_SPOOL_DIR", "clickhouse.spool_dir"},
	{"RONDA_STATE_DIR", "state.dir"},
	{"RONDA_HUB_URL", "edge.hub"},
}

// ApplyEnv overrides the file with the environment variables of Env.
func (c *Config) ApplyEnv(getenv func(string) string) {
	fields := map[string]*string{
		"role": &c.Role, "listen": &c.Listen, "node": &c.Node, "analyzer": &c.Analyzer,
		"log_level": &c.LogLevel, "admin_listen": &c.AdminListen, "clickhouse.dsn": &c.ClickHouse.DSN,
		"clickhouse.database": &c.ClickHouse.Database, "clickhouse.spool_dir": &c.ClickHouse.SpoolDir,
		"edge.hub": &c.Edge.Hub, "state.dir": &c.State.Dir,
	}
	for _, e := range Env {
		if v := getenv(e.Name); v != "" {
			*fields[e.Key] = v
		}
	}
}

// Finish applies the defaults and validates; call it after every override.
func (c *Config) Finish() error {
	c.applyDefaults()
	return c.Validate()
}

// Validate reports every problem at once.
func (c Config) Validate() error {
	var errs []error
	bad := func(field, why string) { errs = append(errs, fmt.Errorf("%s: %s", field, why)) }
	switch c.Role {
	case RoleAll, RoleEdge, RoleHub:
	default:
		bad("role", fmt.Sprintf("%q is not all, edge or hub", c.Role))
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		bad("log_level", fmt.Sprintf("%q is not debug, info, warn or error", c.LogLevel))
	}
	if c.Pipeline.QueueEvents < 1000 {
		bad("pipeline.queue_events", "must be at least 1000")
	}
	if c.ClickHouse.BatchRows < 100 || c.ClickHouse.BatchRows > 1_000_000 {
		bad("clickhouse.batch_rows", "must be between 100 and 1,000,000")
	}
	if c.Pipeline.MaxFuture < 0 || c.Pipeline.AdvanceEvery < 0 || c.Pipeline.DrainTimeout < 0 {
		bad("pipeline", "durations must not be negative")
	}
	if c.Role != RoleEdge && len(c.Moderators.Tokens) == 0 && c.Moderators.TokensFile == "" {
		bad("moderators.tokens", "at least one token is needed where the hub runs (roles all and hub)")
	}
	for i, k := range c.Intake.Keys {
		if k.ID == "" {
			bad(fmt.Sprintf("intake.keys[%d].id", i), "empty")
		}
		if k.Env == "" && k.File == "" {
			bad(fmt.Sprintf("intake.keys[%d]", i), "names neither env nor file for its secret")
		}
	}
	if in := c.Intake; in.RateEvents > 0 && in.RateBurst < in.MaxLines {
		bad("intake.rate_burst", fmt.Sprintf("%d is below intake.max_lines %d: a batch of max_lines could never pass; raise rate_burst or lower max_lines",
			in.RateBurst, in.MaxLines))
	}
	if in := c.Intake; in.MaxBodyBytes < 0 || in.MaxLines < 0 || in.MaxInFlight < 0 || in.MaxMemoryBytes < 0 || in.BodyTimeout < 0 || in.RateBurst < 0 || in.RequestBurst < 0 {
		bad("intake", "limits must not be negative (except rate_events and rate_requests, where negative disables)")
	}
	if len(c.Intake.Keys) == 0 && c.Role != RoleEdge {
		bad("intake.keys", "at least one key is needed: senders sign their batches")
	}
	if mo := c.Moderators; mo.HistoryPage < 0 || mo.HistoryDays < 0 || mo.HistoryTimeout < 0 {
		bad("moderators.history_page, history_days, history_timeout", "must not be negative")
	}
	for sev, d := range c.Moderators.SLA {
		if v, err := analyzer.ParseSeverity(sev); err != nil || v == analyzer.SeverityNone || d <= 0 {
			bad("moderators.sla", fmt.Sprintf("%q: %v: want a severity (critical, high, medium, low) and a positive duration", sev, d))
		}
	}
	switch e := c.Moderators.Escalate; {
	case e == "", e == "log":
	default:
		u, err := url.Parse(e)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			bad("moderators.escalate", fmt.Sprintf("%q is not an http(s) URL or \"log\"", e))
		}
	}
	if c.Role == RoleEdge {
		u, err := url.Parse(c.Edge.Hub)
		if c.Edge.Hub == "" || err != nil || (u.Scheme != "ws" && u.Scheme != "wss") || u.Host == "" {
			bad("edge.hub", fmt.Sprintf("%q: an edge needs its hub's ws:// or wss:// URL", c.Edge.Hub))
		} else if err := forward.CheckURL(c.Edge.Hub); err != nil {
			bad("edge.hub", err.Error()) // as the forwarder would refuse it at start
		}
		if !validSender(c.Node) {
			bad("node", fmt.Sprintf("%q: an edge names itself to its hub by node: 1 to 64 of A-Z a-z 0-9 . _ -", c.Node))
		}
		if c.Edge.Key.ID == "" || (c.Edge.Key.Env == "" && c.Edge.Key.File == "") {
			bad("edge.key", "an edge needs its key id at the hub and where its secret is (env or file)")
		}
	}
	if c.AdminListen != "" && c.AdminListen == c.Listen {
		bad("admin_listen", "must differ from listen: the admin listener is a second one")
	}
	if _, err := c.trustedProxies(); err != nil {
		bad("trusted_proxies", err.Error())
	}
	errs = append(errs, c.TLS.validate()...)
	if c.Adapters.LiveKitMaxTokenLifetime < 0 {
		bad("adapters.livekit_max_token_lifetime", "must not be negative")
	}
	errs = append(errs, c.Pollers.validate()...)
	if c.ClickHouse.DSN != "" && !strings.HasPrefix(c.ClickHouse.DSN, "clickhouse://") && !strings.HasPrefix(c.ClickHouse.DSN, "tcp://") {
		bad("clickhouse.dsn", "must be a clickhouse:// DSN (the native protocol)")
	}
	errs = append(errs, c.State.validate()...)
	errs = append(errs, c.Cases.validate(c)...)
	errs = append(errs, c.Media.validate()...)
	return errors.Join(errs...)
}

// trustedProxies parses TrustedProxies: CIDRs, or single addresses (a /32
// or /128).
func (c Config) trustedProxies() ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, s := range c.TrustedProxies {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			a, aerr := netip.ParseAddr(s)
			if aerr != nil {
				return nil, fmt.Errorf("%q is neither a CIDR (10.0.0.0/8) nor an address", s)
			}
			a = a.Unmap()
			p = netip.PrefixFrom(a, a.BitLen())
		}
		if p.Masked() != p {
			return nil, fmt.Errorf("%q has host bits set (did you mean %s?)", s, p.Masked())
		}
		out = append(out, p)
	}
	return out, nil
}

func validSender(s string) bool {
	if len(s) == 0 || len(s) > wire.MaxWSParamBytes {
		return false
	}
	for _, c := range []byte(s) {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// Secret reads the secret r names. The error names the variable or file, never
// the value.
func (r SecretRef) Secret(getenv func(string) string) ([]byte, error) {
	if r.Env != "" {
		if v := getenv(r.Env); v != "" {
			return []byte(v), nil
		}
		if r.File == "" {
			return nil, fmt.Errorf("secret %q: environment variable %s is empty", r.ID, r.Env)
		}
	}
	if r.File != "" {
		b, err := os.ReadFile(r.File)
		if err != nil {
			return nil, fmt.Errorf("secret %q: %w", r.ID, err)
		}
		b = bytes.TrimRight(b, "\r\n")
		if len(b) == 0 {
			return nil, fmt.Errorf("secret %q: file %s is empty", r.ID, r.File)
		}
		return b, nil
	}
	return nil, fmt.Errorf("secret %q: neither env nor file is set", r.ID)
}

// set says whether r names a secret at all.
func (r SecretRef) set() bool { return r.Env != "" || r.File != "" }

// readTokens reads a tokens file: a YAML list of hub.Token.
func readTokens(path string) ([]hub.Token, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("moderators.tokens_file: %w", err)
	}
	var ts []hub.Token
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&ts); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("moderators.tokens_file %s: %w", path, err)
	}
	return ts, nil
}

// intakeKeys resolves the intake keys' secrets.
func (c Config) intakeKeys(getenv func(string) string) (map[string][]byte, error) {
	keys := map[string][]byte{}
	for _, k := range c.Intake.Keys {
		s, err := k.Secret(getenv)
		if err != nil {
			return nil, fmt.Errorf("intake.keys: %w", err)
		}
		if len(s) < wire.MinKeyBytes {
			return nil, fmt.Errorf("intake.keys: secret %q is shorter than %d bytes", k.ID, wire.MinKeyBytes)
		}
		if _, dup := keys[k.ID]; dup {
			return nil, fmt.Errorf("intake.keys: id %q twice", k.ID)
		}
		keys[k.ID] = s
	}
	return keys, nil
}
