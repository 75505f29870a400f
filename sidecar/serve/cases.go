package serve

import (
	"context"
	"fmt"
	"net/http"
	"net/mail"
	"net/url"
	"path/filepath"
	"time"

	"github.com/ronda-watch/ronda/analyzer"
	"github.com/ronda-watch/ronda/sidecar/cases"
	"github.com/ronda-watch/ronda/sidecar/hub"
	"github.com/ronda-watch/ronda/sidecar/store"
)

// CasesConfig configures cases (sidecar/cases): a lead's escalation opens a
// case kept in ClickHouse, served under /v1/cases/ to the moderators' tokens,
// and sent down the report routes once a lead approved it. Cases need
// ClickHouse (clickhouse.dsn) and run where the hub runs (roles all and hub).
type CasesConfig struct {
	// Enabled opens a case on every escalation and serves /v1/cases/ when
	// ClickHouse is configured. With cases on, escalation needs no
	// moderators.escalate (the case is its destination); with both, the case
	// is opened first. Default true.
	Enabled *bool `yaml:"enabled"`
	// HoldDays is how long the rows of a case's entities (events, signals,
	// stream sessions, its alert and actions) are held from retention after
	// the case opens: ronda migrate --retention-days copies them to the
	// hold_* tables before it drops their days. Default 365.
	HoldDays int `yaml:"hold_days"`
	// Attempts bounds the tries of one route for one submission. Default 5.
	Attempts int `yaml:"attempts"`
	// Backoff is the wait before the second try of a route, doubled each try
	// up to 30s. Default 1s.
	Backoff time.Duration `yaml:"backoff"`
	// BreakerFailures is how many failures in a row open a route's circuit
	// breaker (a submission then records breaker_open and waits). Default 3.
	BreakerFailures uint32 `yaml:"breaker_failures"`
	// BreakerOpen is how long an open breaker waits before one trial. Default 30s.
	BreakerOpen time.Duration `yaml:"breaker_open"`
	// Routes are where an approved case goes, in order. Each version of a
	// case is sent at most once per route, across restarts (the outcomes are
	// in ClickHouse case_submissions).
	Routes []ReportRoute `yaml:"routes"`
}

// ReportRoute is one destination of approved cases.
type ReportRoute struct {
	// Name identifies the route in records and metrics (letters, digits, - and _).
	Name string `yaml:"name"`
	// Kind is http (a hotline's report API: the case JSON POSTed, signed
	// X-Ronda-Signature: sha256=HMAC(secret, timestamp "." body), with
	// Idempotency-Key), file (the case JSON written atomically into Dir) or
	// email (a message to To, with the case JSON attached, written into Dir
	// as an outbox: Ronda does not speak SMTP; the host's mail system sends).
	Kind string `yaml:"kind"`
	// URL of an http route (https:// outside tests).
	URL string `yaml:"url"`
	// Secret of an http route: the HMAC key (env or file), at least 16 bytes.
	Secret SecretRef `yaml:"secret"`
	// Timeout of one http attempt. Default 30s.
	Timeout time.Duration `yaml:"timeout"`
	// Dir of a file route (the drop directory) or an email route (the outbox).
	Dir string `yaml:"dir"`
	// To is an email route's address: a national hotline's (Indonesia,
	// the Philippines) or a liaison's.
	To string `yaml:"to"`
	// From is an email route's sender address.
	From string `yaml:"from"`
}

func (c *CasesConfig) applyDefaults() {
	if c.Enabled == nil {
		v := true
		c.Enabled = &v
	}
	if c.HoldDays == 0 {
		c.HoldDays = store.DefaultHoldDays
	}
	if c.Attempts == 0 {
		c.Attempts = 5
	}
	if c.Backoff == 0 {
		c.Backoff = time.Second
	}
	if c.BreakerFailures == 0 {
		c.BreakerFailures = 3
	}
	if c.BreakerOpen == 0 {
		c.BreakerOpen = 30 * time.Second
	}
}

func (c CasesConfig) validate(_ Config) []error {
	var errs []error
	bad := func(field, why string) { errs = append(errs, fmt.Errorf("cases.%s: %s", field, why)) }
	if c.HoldDays < 1 {
		bad("hold_days", "must be at least 1")
	}
	if c.Attempts < 1 || c.Attempts > 100 {
		bad("attempts", "must be between 1 and 100")
	}
	if c.Backoff < 0 || c.BreakerOpen < 0 {
		bad("backoff", "durations must not be negative")
	}
	names := map[string]bool{}
	for i, r := range c.Routes {
		at := fmt.Sprintf("routes[%d]", i)
		if !validSender(r.Name) {
			bad(at+".name", fmt.Sprintf("%q: 1 to 64 of A-Z a-z 0-9 . _ -", r.Name))
		}
		if names[r.Name] {
			bad(at+".name", fmt.Sprintf("%q twice", r.Name))
		}
		names[r.Name] = true
		switch r.Kind {
		case "http":
			u, err := url.Parse(r.URL)
			if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
				bad(at+".url", fmt.Sprintf("%q is not an http(s) URL", r.URL))
			}
			if !r.Secret.set() {
				bad(at+".secret", "an http route signs its requests: name the secret's env or file")
			}
		case "file", "email":
			if r.Dir == "" || !filepath.IsAbs(r.Dir) {
				bad(at+".dir", "an absolute directory is needed")
			}
			if r.Kind == "email" {
				if _, err := mail.ParseAddress(r.To); err != nil {
					bad(at+".to", fmt.Sprintf("%q is not an address", r.To))
				}
				if _, err := mail.ParseAddress(r.From); err != nil {
					bad(at+".from", fmt.Sprintf("%q is not an address", r.From))
				}
			}
		default:
			bad(at+".kind", fmt.Sprintf("%q is not http, file or email", r.Kind))
		}
		if r.Timeout < 0 {
			bad(at+".timeout", "must not be negative")
		}
	}
	return errs
}

// openCases builds the cases service where the hub runs with ClickHouse.
func (s *Service) openCases() error {
	c := s.cfg.Cases
	if c.Enabled != nil && !*c.Enabled || s.cfg.Role == RoleEdge {
		return nil
	}
	if s.cfg.ClickHouse.DSN == "" {
		s.log.Info("cases need ClickHouse: an escalation opens no case", "set", "clickhouse.dsn or RONDA_CLICKHOUSE_DSN")
		return nil
	}
	var routes []cases.Route
	for _, r := range c.Routes {
		switch r.Kind {
		case "http":
			secret, err := r.Secret.Secret(s.opts.Getenv)
			if err != nil {
				return fmt.Errorf("cases.routes %s: %w", r.Name, err)
			}
			if len(secret) < 16 {
				return fmt.Errorf("cases.routes %s: the secret is under 16 bytes", r.Name)
			}
			timeout := r.Timeout
			if timeout == 0 {
				timeout = 30 * time.Second
			}
			routes = append(routes, &cases.HTTPRoute{RouteName: r.Name, URL: r.URL, Secret: secret,
				Client: &http.Client{Timeout: timeout}, Now: s.opts.Now})
		case "file":
			routes = append(routes, &cases.FileRoute{RouteName: r.Name, Dir: r.Dir})
		case "email":
			routes = append(routes, &cases.EmailRoute{RouteName: r.Name, To: r.To, From: r.From, Outbox: r.Dir, Now: s.opts.Now})
		}
	}
	cs, err := cases.New(cases.Options{DSN: s.cfg.ClickHouse.DSN,
		Schema:   store.Options{Database: s.cfg.ClickHouse.Database, Cluster: s.cfg.ClickHouse.Cluster},
		HoldDays: c.HoldDays, Routes: routes, Attempts: c.Attempts, Backoff: c.Backoff,
		Breaker: cases.BreakerSettings{Failures: c.BreakerFailures, Open: c.BreakerOpen},
		Audit:   s.writer.Action, Now: s.opts.Now, RoleAtLeast: hub.RoleAtLeast,
		Registerer: s.reg, Logger: s.log.With("component", "cases")})
	if err != nil {
		return err
	}
	s.cases = cs
	return nil
}

// caseEscalation puts the case first in the hub's escalation: the case is
// opened (kept in ClickHouse) before the configured destination hears of
// it; a case that cannot be kept refuses the escalation.
func (s *Service) caseEscalation(next func(context.Context, analyzer.Alert, string) error) func(context.Context, analyzer.Alert, string) error {
	if s.cases == nil {
		return next
	}
	return func(ctx context.Context, a analyzer.Alert, note string) error {
		if err := s.cases.Open(ctx, a, hub.EscalatedBy(ctx), note); err != nil {
			return fmt.Errorf("open case: %w", err)
		}
		if next == nil {
			return nil
		}
		return next(ctx, a, note)
	}
}

// caseChanged tells every console of a change to a case (a note, an
// approval, a submission) as a hub case message: a console showing that
// case reads it again.
func (s *Service) caseChanged(c cases.Change) {
	s.hub.PublishCase(hub.CaseUpdate{CaseID: c.CaseID, AlertID: c.AlertID, Change: c.What,
		Status: c.Status, Version: c.Version, By: c.By, At: c.At})
}
