package serve

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"

	"github.com/ronda-watch/ronda/analyzer/event"
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
		Payout: payout, Audit: s.auditLever, Now: s.opts.Now,
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
	if v := s.opts.Getenv(payoutHoldSecretEnv); v != "" {
		return []byte(v), nil
	}
	f := s.cfg.Enforcement.PayoutHoldSecretFile
	if f == "" {
		return nil, fmt.Errorf("enforcement.payout_hold: no secret: set %s or payout_hold_secret_file", payoutHoldSecretEnv)
	}
	b, err := os.ReadFile(f)
	if err != nil {
		return nil, fmt.Errorf("enforcement.payout_hold_secret_file: %w", err)
	}
	return []byte(strings.TrimRight(string(b), "\r\n")), nil
}

// auditLever writes a lever's step to the record's actions: action
// lever_approve, lever_lift, payout_hold_delivered, …, target the lever id,
// reason its case, note the entities and detail.
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
}

// leverGate is the adapters' Gate: a start is refused when a deny_publish
// lever names its host or device.
func (s *Service) leverGate(ev *event.Event) bool {
	_, deny := s.levers.DenyPublish(ev.HostID, ev.DeviceID)
	return deny
}

// mountLevers serves the levers' API with the hub's tokens.
func (s *Service) mountLevers(mux *http.ServeMux) {
	s.levers.Register(mux, func(w http.ResponseWriter, r *http.Request) (enforce.Actor, bool) {
		name, role, ok := s.hub.Authorize(w, r, hub.RoleViewer)
		return enforce.Actor{Name: name, Role: role}, ok
	})
}

func (s *Service) runLevers(ctx context.Context) { s.levers.Run(ctx) }
