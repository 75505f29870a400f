// Package cases turns an escalated alert into a case: a file kept in
// ClickHouse (store's case tables) with every version of the alert, its
// entities and reasons, what moderators did and noted, and the facts a report
// to the authorities needs (accounts, streams with their times in UTC and the
// host's zone, network prefixes, devices, payouts, recruitment cues). It
// serves the cases under /v1/cases as JSON and as a printable page, and sends
// a case down the configured report routes once a lead approved it, each
// version at most once per route.
//
// A case never holds media, chat or post text, or a viewer id in the clear:
// it is built only from what the record keeps (pseudonymised by the store).
// The package does not authenticate by itself (Options.Authenticate, the
// hub's tokens) and does not wire itself into the service: sidecar/serve
// composes it.
package cases

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sort"
	"sync"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/ronda-watch/ronda/analyzer"
	"github.com/ronda-watch/ronda/sidecar/store"
)

// Path is where the cases API is served: Path (list), Path+ID (JSON),
// Path+ID+"/page" (printable HTML), Path+ID+"/notes", "/approve", "/submit".
const Path = "/v1/cases/"

// Roles as the hub names them (the cases API uses the hub's tokens).
const (
	RoleViewer    = "viewer"
	RoleModerator = "moderator"
	RoleLead      = "lead"
)

// Errors callers branch on (the API maps them to statuses).
var (
	ErrNotFound    = errors.New("no such case")
	ErrNotApproved = errors.New("this version of the case is not approved by a lead")
	ErrNoRecord    = errors.New("the record (ClickHouse) is not reachable")
)

// Options configure the cases service. Zero values take the documented
// defaults.
type Options struct {
	// DSN of ClickHouse (store.Open). Required.
	DSN string
	// Schema names the database (and cluster) of store's tables.
	Schema store.Options
	// HoldDays is how long a case holds its entities' rows from retention
	// after it opens. Default store.DefaultHoldDays.
	HoldDays int
	// Routes are where an approved case is sent, in order.
	Routes []Route
	// Breaker tunes each route's circuit breaker.
	Breaker BreakerSettings
	// Attempts bounds the tries of one route for one submission. Default 5.
	Attempts int
	// Backoff is the wait before the second try, doubled each try up to
	// 30 s. Default 1 s.
	Backoff time.Duration
	// Authenticate checks a request's bearer token (the hub's) and gives its
	// name and role; it answers a refusal itself. Required to serve the API.
	Authenticate func(w http.ResponseWriter, r *http.Request) (name, role string, ok bool)
	// RoleAtLeast orders roles (hub.RoleAtLeast).
	RoleAtLeast func(role, need string) bool
	// Audit receives each case action as a row of the audit trail (actions),
	// alert_id the case's alert. Nil: only the case tables keep them.
	Audit func(store.ActionRow)
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// Registerer takes the metrics. Nil: not registered.
	Registerer prometheus.Registerer
	// Logger. Default slog.Default().
	Logger *slog.Logger
}

// Service keeps cases in ClickHouse and serves them.
type Service struct {
	opts Options
	m    *metrics
	page *renderer

	connMu sync.Mutex
	conn   driver.Conn

	mu      sync.Mutex
	alerts  map[string]string // alert id -> case id, for the versions that follow
	loaded  bool
	sending map[string]bool // case ids being submitted
	states  []*routeState   // the routes with their breakers (routes)

	observeOnce sync.Once
	observed    chan analyzer.Alert // versions for Observe's goroutine
	done        chan struct{}       // closed by Close: Observe's goroutine ends
	closeOnce   sync.Once

	changed changed    // told of each change (SetChanged)
	links   printLinks // one-time links to printable pages
}

// New builds the service; it connects to ClickHouse on first use.
func New(opts Options) (*Service, error) {
	if opts.DSN == "" {
		return nil, errors.New("cases: no ClickHouse DSN")
	}
	if opts.HoldDays == 0 {
		opts.HoldDays = store.DefaultHoldDays
	}
	if opts.HoldDays < 0 {
		return nil, fmt.Errorf("cases: hold days %d: want at least 1", opts.HoldDays)
	}
	if opts.Attempts == 0 {
		opts.Attempts = 5
	}
	if opts.Backoff == 0 {
		opts.Backoff = time.Second
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Schema.Database == "" {
		opts.Schema.Database = "ronda"
	}
	names := map[string]bool{}
	for _, r := range opts.Routes {
		if names[r.Name()] {
			return nil, fmt.Errorf("cases: route %q named twice", r.Name())
		}
		names[r.Name()] = true
	}
	page, err := newRenderer()
	if err != nil {
		return nil, err
	}
	return &Service{opts: opts, m: newMetrics(opts.Registerer), page: page,
		alerts: map[string]string{}, sending: map[string]bool{}}, nil
}

// SetAuthenticate sets Options.Authenticate before the API serves: the
// hub that holds the tokens is built after the service it escalates to.
func (s *Service) SetAuthenticate(f func(w http.ResponseWriter, r *http.Request) (name, role string, ok bool)) {
	s.opts.Authenticate = f
}

// Close closes the connection.
func (s *Service) Close() error {
	if s == nil {
		return nil
	}
	s.closeOnce.Do(func() {
		s.observeOnce.Do(func() {}) // no goroutine starts after this
		if s.done != nil {
			close(s.done)
		}
	})
	s.connMu.Lock()
	defer s.connMu.Unlock()
	if s.conn != nil {
		err := s.conn.Close()
		s.conn = nil
		return err
	}
	return nil
}

func (s *Service) db(ctx context.Context) (driver.Conn, error) {
	s.connMu.Lock()
	defer s.connMu.Unlock()
	if s.conn != nil {
		return s.conn, nil
	}
	c, err := store.Open(ctx, s.opts.DSN)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrNoRecord, err)
	}
	s.conn = c
	return c, nil
}

// ID is the case id of an alert: derived from the alert id alone, so that an
// escalation replayed after a restart (or pressed again after the alert
// reopened) names the same case and opens nothing twice.
func ID(alertID string) string {
	sum := sha256.Sum256([]byte("ronda-case\x00" + alertID))
	return "case-" + hex.EncodeToString(sum[:10])
}

// Open opens the case of an escalated alert (or adds the version to the case
// it has): called as the hub's escalation destination, by the lead who
// escalated, with the lead's note. It returns once ClickHouse has the case;
// an error refuses the escalation.
func (s *Service) Open(ctx context.Context, a analyzer.Alert, by, note string) error {
	conn, err := s.db(ctx)
	if err != nil {
		return err
	}
	id := ID(a.ID)
	now := s.opts.Now().UTC()
	existing, err := store.ReadCases(ctx, conn, s.opts.Schema, "case_id = "+store.Quote(id), 0)
	if err != nil {
		return err
	}
	row := store.CaseRow{CaseID: id, AlertID: a.ID, Opened: now, OpenedBy: by,
		Entities: entityStrings(a.Entities), HoldUntil: now.AddDate(0, 0, s.opts.HoldDays), Rev: uint64(now.UnixMicro())}
	if len(existing) > 0 {
		// The case stays as it was opened; its entities grow.
		old := existing[0]
		row.Opened, row.OpenedBy, row.HoldUntil = old.Opened, old.OpenedBy, old.HoldUntil
		row.Entities = union(old.Entities, row.Entities)
		row.Rev = max(row.Rev, old.Rev+1)
	} else {
		s.m.opened.Inc()
		s.opts.Logger.Info("case opened", "case", id, "alert", a.ID, "version", a.Updates)
	}
	if err := s.addVersion(ctx, conn, id, a); err != nil {
		return err
	}
	if err := store.WriteCase(ctx, conn, s.opts.Schema, row); err != nil {
		return err
	}
	if note != "" {
		// The escalation's own note: the action id is the alert's version,
		// so a replay of the same escalation writes the same row.
		if err := s.writeAction(ctx, conn, id, a.ID, by, "escalate", note,
			fmt.Sprintf("escalate-%d", a.Updates), now, 0); err != nil {
			return err
		}
	}
	s.mu.Lock()
	s.alerts[a.ID] = id
	s.mu.Unlock()
	return nil
}

// Observe adds a new version of an alert that has a case to that case (the
// analyzer's later findings belong to the report). It is called with every
// alert version and returns at once: one goroutine writes, from a queue of
// maxObserved versions (past it a version is logged and left out: the
// alerts table still has it).
func (s *Service) Observe(a analyzer.Alert) {
	s.mu.Lock()
	_, ok := s.alerts[a.ID]
	loaded := s.loaded
	s.mu.Unlock()
	if !ok && loaded {
		return
	}
	s.observeOnce.Do(func() {
		s.observed = make(chan analyzer.Alert, maxObserved)
		s.done = make(chan struct{})
		go s.observeLoop()
	})
	select {
	case s.observed <- a:
	default:
		s.opts.Logger.Warn("case versions queue full: an alert version was not added to its case", "alert", a.ID, "version", a.Updates)
	}
}

const maxObserved = 1024

func (s *Service) observeLoop() {
	for {
		var a analyzer.Alert
		select {
		case <-s.done:
			return
		case a = <-s.observed:
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		s.mu.Lock()
		loaded := s.loaded
		s.mu.Unlock()
		if !loaded {
			if err := s.loadAlerts(ctx); err != nil {
				s.opts.Logger.Warn("cases not read: an alert version was not added to its case", "alert", a.ID, "err", err)
			}
		}
		s.mu.Lock()
		id, ok := s.alerts[a.ID]
		s.mu.Unlock()
		if ok {
			conn, err := s.db(ctx)
			if err == nil {
				err = s.addVersion(ctx, conn, id, a)
			}
			if err != nil {
				s.opts.Logger.Warn("alert version not added to its case", "case", id, "alert", a.ID, "err", err)
			} else if s.changed.f.Load() != nil {
				// A new version moves the case past its approval: the
				// consoles showing it read it again.
				if c, err := s.Get(ctx, id); err == nil {
					s.tell(c, "version", "", s.opts.Now().UTC())
				}
			}
		}
		cancel()
	}
}

// loadAlerts reads which alerts have cases, once.
func (s *Service) loadAlerts(ctx context.Context) error {
	conn, err := s.db(ctx)
	if err != nil {
		return err
	}
	rows, err := store.ReadCases(ctx, conn, s.opts.Schema, "", 0)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, r := range rows {
		s.alerts[r.AlertID] = r.CaseID
	}
	s.loaded = true
	return nil
}

func (s *Service) addVersion(ctx context.Context, conn driver.Conn, id string, a analyzer.Alert) error {
	b, err := json.Marshal(a)
	if err != nil {
		return err
	}
	return store.WriteCaseVersions(ctx, conn, s.opts.Schema, store.CaseVersionRow{CaseID: id, Updates: uint32(a.Updates),
		At: a.At, Alert: string(b), Ingested: s.opts.Now()})
}

func (s *Service) writeAction(ctx context.Context, conn driver.Conn, caseID, alertID, by, action, note, actionID string, at time.Time, version int) error {
	if err := store.WriteCaseAction(ctx, conn, s.opts.Schema, store.CaseActionRow{CaseID: caseID, At: at, ActionID: actionID,
		Moderator: by, Action: action, Note: note, Version: uint32(version), Ingested: at}); err != nil {
		return err
	}
	if s.opts.Audit != nil && action != "escalate" { // the hub audits its escalation itself
		s.opts.Audit(store.ActionRow{At: at, ActionID: actionID, AlertID: alertID, Moderator: by,
			Action: "case_" + action, Target: caseID, Note: note})
	}
	return nil
}

// Get builds a case from the record.
func (s *Service) Get(ctx context.Context, id string) (*Case, error) {
	conn, err := s.db(ctx)
	if err != nil {
		return nil, err
	}
	rows, err := store.ReadCases(ctx, conn, s.opts.Schema, "case_id = "+store.Quote(id), 0)
	if err != nil {
		return nil, err
	}
	if len(rows) == 0 {
		return nil, ErrNotFound
	}
	vs, as, subs, err := store.ReadCaseDetail(ctx, conn, s.opts.Schema, id)
	if err != nil {
		return nil, err
	}
	ev, cut, err := store.ReadEvidence(ctx, conn, s.opts.Schema, id, rows[0].AlertID, rows[0].Entities)
	if err != nil {
		return nil, err
	}
	c := build(rows[0], vs, as, subs, ev, s.routeNames())
	c.Truncated = cut
	c.Generated = s.opts.Now().UTC()
	return c, nil
}

// MaxList bounds the cases List gives: the newest.
const MaxList = 10_000

// List gives the newest MaxList cases, newest first, as summaries.
func (s *Service) List(ctx context.Context) ([]Summary, error) {
	conn, err := s.db(ctx)
	if err != nil {
		return nil, err
	}
	rows, err := store.ReadCases(ctx, conn, s.opts.Schema, "", MaxList)
	if err != nil {
		return nil, err
	}
	out := make([]Summary, 0, len(rows))
	for _, r := range rows {
		out = append(out, Summary{ID: r.CaseID, AlertID: r.AlertID, OpenedAt: r.Opened.UTC(), OpenedBy: r.OpenedBy,
			HoldUntil: r.HoldUntil.UTC().Format(time.DateOnly), Entities: len(r.Entities)})
	}
	return out, nil
}

// Note adds a moderator's note to a case.
func (s *Service) Note(ctx context.Context, id, by, text string) (*Case, error) {
	c, err := s.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	conn, err := s.db(ctx)
	if err != nil {
		return nil, err
	}
	now := s.opts.Now().UTC()
	if err := s.writeAction(ctx, conn, id, c.AlertID, by, "note", text, s.actionID(id, "note", by, now), now, c.Version); err != nil {
		return nil, err
	}
	s.m.actions.WithLabelValues("note").Inc()
	c, err = s.Get(ctx, id)
	if err == nil {
		s.tell(c, "note", by, now)
	}
	return c, err
}

// Approve records a lead's approval of the case's current version: only an
// approved version is sent.
func (s *Service) Approve(ctx context.Context, id, by string, version int) (*Case, error) {
	c, err := s.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	if version != 0 && version != c.Version {
		return nil, fmt.Errorf("%w: the case is at version %d, not %d: read it again", ErrStale, c.Version, version)
	}
	conn, err := s.db(ctx)
	if err != nil {
		return nil, err
	}
	now := s.opts.Now().UTC()
	if err := s.writeAction(ctx, conn, id, c.AlertID, by, "approve", "", fmt.Sprintf("approve-%d-%s", c.Version, by), now, c.Version); err != nil {
		return nil, err
	}
	s.m.actions.WithLabelValues("approve").Inc()
	c, err = s.Get(ctx, id)
	if err == nil {
		s.tell(c, "approve", by, now)
	}
	return c, err
}

// ErrStale: an approval named a version the case has moved past.
var ErrStale = errors.New("stale version")

// actionID is unique per action: the case, what, who and the time in
// nanoseconds.
func (s *Service) actionID(id, action, by string, at time.Time) string {
	sum := sha256.Sum256(fmt.Appendf(nil, "%s\x00%s\x00%s\x00%d", id, action, by, at.UnixNano()))
	return action + "-" + hex.EncodeToString(sum[:8])
}

func (s *Service) routeNames() []string {
	out := make([]string, 0, len(s.opts.Routes))
	for _, r := range s.opts.Routes {
		out = append(out, r.Name())
	}
	return out
}

func entityStrings(es []analyzer.EntityRef) []string {
	out := make([]string, 0, len(es))
	for _, e := range es {
		out = append(out, e.Kind+":"+e.ID)
	}
	return out
}

func union(a, b []string) []string {
	set := map[string]bool{}
	var out []string
	for _, x := range append(append([]string(nil), a...), b...) {
		if !set[x] {
			set[x] = true
			out = append(out, x)
		}
	}
	sort.Strings(out)
	return out
}
