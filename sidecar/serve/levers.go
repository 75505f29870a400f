package serve

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"github.com/ronda-watch/ronda/analyzer"
	"github.com/ronda-watch/ronda/analyzer/event"
	"github.com/ronda-watch/ronda/sidecar/cases"
	"github.com/ronda-watch/ronda/sidecar/enforce"
	"github.com/ronda-watch/ronda/sidecar/hub"
	"github.com/ronda-watch/ronda/sidecar/outbound"
	"github.com/ronda-watch/ronda/sidecar/store"
)

// payoutHoldSecretEnv holds the HMAC secret of payout-hold callbacks; it
// wins over enforcement.payout_hold_secret_file.
const payoutHoldSecretEnv = "RONDA_PAYOUT_HOLD_SECRET"

// leversFile is the levers' state file in state.dir.
const leversFile = "levers.json"

// leversTokenEnv holds the hub token with which an edge reads the hub's
// levers; it wins over enforcement.follow_token_file.
const leversTokenEnv = "RONDA_LEVERS_TOKEN"

// openLevers composes the enforcement levers where the hub runs: the board
// (its state in state.dir), the payout-hold client when configured, and
// the audit into the record as moderator actions.
func (s *Service) openLevers() error {
	c := s.cfg.Enforcement
	var payout *outbound.Client
	if c.PayoutHold.URL != "" {
		secret, err := s.payoutHoldSecret()
		if err != nil {
			return err
		}
		if payout, err = outbound.New(c.PayoutHold, outbound.Options{Name: "payout_hold", Secret: secret,
			Registerer: s.reg}); err != nil {
			return fmt.Errorf("enforcement.payout_hold: %w", err)
		}
	}
	b, err := enforce.Open(enforce.Options{Config: c, Path: filepath.Join(s.cfg.State.Dir, leversFile),
		Payout: payout, Audit: s.auditLever, Check: s.leverOnCase, Now: s.opts.Now,
		Logger: s.log.With("component", "levers"), Registerer: s.reg})
	if err != nil {
		return fmt.Errorf("enforcement: %w", err)
	}
	s.levers = b
	if c.DenyPublish || payout != nil {
		s.log.Warn("enforcement levers are on: a lead may refuse publishes or hold payouts",
			"deny_publish", c.DenyPublish, "payout_hold", payout != nil)
	}
	return nil
}

func (s *Service) payoutHoldSecret() ([]byte, error) {
	return s.enforcementSecret(payoutHoldSecretEnv, "payout_hold_secret_file", s.cfg.Enforcement.PayoutHoldSecretFile)
}

// enforcementSecret reads a secret from env, else from file; errors name
// the variable and key, never the value.
func (s *Service) enforcementSecret(env, key, file string) ([]byte, error) {
	if v := s.opts.Getenv(env); v != "" {
		return []byte(v), nil
	}
	if file == "" {
		return nil, fmt.Errorf("enforcement: no secret: set %s or enforcement.%s", env, key)
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("enforcement.%s: %w", key, err)
	}
	b = []byte(strings.TrimRight(string(b), "\r\n"))
	if len(b) == 0 {
		return nil, fmt.Errorf("enforcement.%s: the file is empty", key)
	}
	return b, nil
}

// openEdgeLevers gives an edge with deny_publish on a board that follows
// the hub's levers (enforce.Follow); without deny_publish an edge has none.
func (s *Service) openEdgeLevers() error {
	c := s.cfg.Enforcement
	if !c.DenyPublish {
		return nil
	}
	tok, err := s.enforcementSecret(leversTokenEnv, "follow_token_file", c.FollowTokenFile)
	if err != nil {
		return fmt.Errorf("enforcement.deny_publish on an edge reads the hub's levers: %w", err)
	}
	base := strings.TrimSuffix(s.cfg.Edge.Hub, "/")
	switch {
	case strings.HasPrefix(base, "wss://"):
		base = "https://" + strings.TrimPrefix(base, "wss://")
	case strings.HasPrefix(base, "ws://"):
		base = "http://" + strings.TrimPrefix(base, "ws://")
	}
	c.PayoutHold.URL = "" // holds are the hub's
	b, err := enforce.Open(enforce.Options{Config: c, Path: filepath.Join(s.cfg.State.Dir, leversFile),
		Now: s.opts.Now, Logger: s.log.With("component", "levers"), Registerer: s.reg})
	if err != nil {
		return fmt.Errorf("enforcement: %w", err)
	}
	s.levers = b
	s.follow = &enforce.Follower{URL: base + enforce.Path, Token: string(tok), Every: c.FollowEvery}
	s.log.Warn("enforcement levers are on: this edge refuses publishes the hub's levers name", "hub", base)
	return nil
}

// auditLever writes a lever's step to the record's actions: action
// lever_approve, lever_lift, payout_hold_delivered, …, target the lever id,
// reason its case, note the entities and detail. Every console hears of a
// change as a case message naming the lever, so a console showing the case
// reads its levers again; a payout endpoint that stays down is a change when
// its deliveries start failing, not at every failed round (a.Repeat), which
// the record still keeps.
func (s *Service) auditLever(a enforce.AuditRecord) {
	ents := make([]string, 0, len(a.Lever.Entities))
	for _, e := range a.Lever.Entities {
		ents = append(ents, e.Kind+":"+e.ID)
	}
	id := sha256.Sum256([]byte(a.Lever.ID + "\x00" + a.Action + "\x00" + a.At.String()))
	note := a.Lever.Kind + " " + strings.Join(ents, ",")
	if a.Detail != "" {
		note += "; " + a.Detail
	}
	s.writer.Action(store.ActionRow{At: a.At, ActionID: "lever-" + hex.EncodeToString(id[:8]), AlertID: a.Lever.AlertID,
		Moderator: a.Actor, Action: a.Action, Target: a.Lever.ID, Reason: "case " + a.Lever.CaseID, Note: note})
	if s.hub != nil && !a.Repeat {
		s.hub.PublishCase(hub.CaseUpdate{CaseID: a.Lever.CaseID, AlertID: a.Lever.AlertID, Change: a.Action,
			LeverID: a.Lever.ID, By: a.Actor, At: a.At})
	}
}

// leverGate is the adapters' Gate: a start is refused when a deny_publish
// lever names its host or device.
func (s *Service) leverGate(ev *event.Event) bool {
	_, deny := s.levers.DenyPublish(ev.HostID, ev.DeviceID)
	return deny
}

// mountLevers serves the levers' API with the hub's tokens.
func (s *Service) mountLevers(mux *http.ServeMux) {
	s.levers.Register(mux, func(w http.ResponseWriter, r *http.Request, min string) (enforce.Actor, bool) {
		t, ok := s.hub.Authorize(w, r, min)
		return enforce.Actor{Name: t.Name, Role: t.Role}, ok
	})
}

func (s *Service) runLevers(ctx context.Context) {
	if s.follow != nil {
		s.levers.Follow(ctx, *s.follow)
		return
	}
	s.levers.Run(ctx)
}

// leverOnCase ties a lever to its case when cases are on: the case must
// exist, a lever names only the case's own hosts and devices (deny_publish)
// or hosts and accounts (payout_hold), and a request naming none takes them
// all. Without cases the lead's request stands as sent.
func (s *Service) leverOnCase(ctx context.Context, req *enforce.Request) error {
	if s.cases == nil {
		return nil
	}
	c, err := s.cases.Get(ctx, req.CaseID)
	switch {
	case errors.Is(err, cases.ErrNotFound):
		return fmt.Errorf("%w: %s", enforce.ErrNoCase, req.CaseID)
	case err != nil:
		return fmt.Errorf("reading case %s: %w", req.CaseID, err)
	}
	takes := map[string]string{analyzer.KindHost: enforce.EntityHost, analyzer.KindDevice: enforce.EntityDevice}
	if req.Kind == enforce.KindPayoutHold {
		takes = map[string]string{analyzer.KindHost: enforce.EntityHost, analyzer.KindAccount: enforce.EntityAccount}
	}
	of := map[enforce.Entity]bool{}
	var all []enforce.Entity
	for _, e := range c.Entities {
		if k, ok := takes[e.Kind]; ok && !of[enforce.Entity{Kind: k, ID: e.ID}] {
			of[enforce.Entity{Kind: k, ID: e.ID}] = true
			all = append(all, enforce.Entity{Kind: k, ID: e.ID})
		}
	}
	if req.AlertID == "" {
		req.AlertID = c.AlertID
	}
	if len(req.Entities) == 0 {
		if len(all) == 0 {
			return fmt.Errorf("%w: case %s names nothing a %s lever acts on", enforce.ErrInvalid, req.CaseID, req.Kind)
		}
		req.Entities = all
		return nil
	}
	for _, e := range req.Entities {
		if !of[e] {
			return fmt.Errorf("%w: %s %s is not in case %s", enforce.ErrInvalid, e.Kind, e.ID, req.CaseID)
		}
	}
	return nil
}
