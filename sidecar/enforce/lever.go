// Package enforce holds Ronda's enforcement levers: deliberate, audited
// actions a lead approves against the hosts, devices or accounts of a case.
//
//   - deny_publish: a media server's admission hook (nginx-rtmp on_publish,
//     SRS on_publish, OvenMediaEngine admission) is answered with a refusal
//     for a stream.start whose host or device is under the lever. Only an
//     authentic hook is ever refused, and only because a lever names it:
//     never because of Ronda's own state (a full queue, a failure, a
//     restart), which keeps the fail-open rule of sidecar/adapters.
//   - payout_hold: a signed callback (sidecar/outbound) asks the platform to
//     hold the payouts of the named accounts until the lever ends; lifting
//     the lever sends the release.
//
// Both are off by default (Config). Each lever names its case, its approver
// (role lead), why, and when it ends (at most Config.MaxDuration); approving
// and lifting are audited through Board's Audit callback and kept in a
// state file, so a restart keeps them.
package enforce

import (
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// Kinds of lever.
const (
	KindDenyPublish = "deny_publish"
	KindPayoutHold  = "payout_hold"
)

// Entity kinds a lever can name.
const (
	EntityHost    = "host"
	EntityDevice  = "device"
	EntityAccount = "account"
)

// Entity is one thing a lever acts on.
type Entity struct {
	Kind string `json:"kind"`
	ID   string `json:"id"`
}

// Lever is one approved enforcement action.
type Lever struct {
	ID       string   `json:"id"`
	Kind     string   `json:"kind"`
	CaseID   string   `json:"case_id"`
	AlertID  string   `json:"alert_id,omitempty"`
	Entities []Entity `json:"entities"`
	Reason   string   `json:"reason"`

	ApprovedBy string    `json:"approved_by"`
	ApprovedAt time.Time `json:"approved_at"`
	Until      time.Time `json:"until"`

	LiftedBy string    `json:"lifted_by,omitempty"`
	LiftedAt time.Time `json:"lifted_at,omitzero"`

	// Callback delivery of a payout hold: the hold (and, once lifted, the
	// release) is sent until delivered, never again after.
	HoldDelivered    bool `json:"hold_delivered,omitempty"`
	ReleaseDelivered bool `json:"release_delivered,omitempty"`
	// Failed is the last delivery error, for the console and the operator.
	Failed string `json:"failed,omitempty"`
}

// Active reports whether the lever acts at t.
func (l *Lever) Active(t time.Time) bool {
	return l.LiftedAt.IsZero() && t.Before(l.Until)
}

// Request is what a lead asks for.
type Request struct {
	Kind    string `json:"kind"`
	CaseID  string `json:"case_id"`
	AlertID string `json:"alert_id,omitempty"`
	// Entities are what the lever acts on; where cases are on, they must
	// be the case's, and none means all of the case's that the kind takes.
	Entities []Entity `json:"entities"`
	Reason   string   `json:"reason"`
	// For bounds the lever's life; zero: Config.DefaultDuration.
	For Duration `json:"for,omitzero"`
}

// Duration is a time.Duration written as Go writes it ("72h").
type Duration time.Duration

func (d Duration) MarshalText() ([]byte, error) { return []byte(time.Duration(d).String()), nil }

func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("duration %q: %w", string(b), err)
	}
	*d = Duration(v)
	return nil
}

// Limits of a request.
const (
	maxIDLen     = 128
	maxReasonLen = 2048
)

// ErrInvalid wraps every reason a request is refused for its content.
var ErrInvalid = errors.New("invalid lever request")

func (r *Request) validate(c Config) error {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, a...))
	}
	switch r.Kind {
	case KindDenyPublish, KindPayoutHold:
	default:
		return bad("kind %q: want %s or %s", clip(r.Kind), KindDenyPublish, KindPayoutHold)
	}
	if err := checkID("case_id", r.CaseID, true); err != nil {
		return bad("%v", err)
	}
	if err := checkID("alert_id", r.AlertID, false); err != nil {
		return bad("%v", err)
	}
	if strings.TrimSpace(r.Reason) == "" {
		return bad("a reason is required")
	}
	if len(r.Reason) > maxReasonLen || !utf8.ValidString(r.Reason) {
		return bad("reason: at most %d bytes of UTF-8", maxReasonLen)
	}
	if len(r.Entities) == 0 {
		return bad("no entities")
	}
	if len(r.Entities) > c.MaxEntities {
		return bad("%d entities: at most %d", len(r.Entities), c.MaxEntities)
	}
	for i, e := range r.Entities {
		if err := checkID(fmt.Sprintf("entities[%d].id", i), e.ID, true); err != nil {
			return bad("%v", err)
		}
		switch {
		case r.Kind == KindDenyPublish && (e.Kind == EntityHost || e.Kind == EntityDevice):
		case r.Kind == KindPayoutHold && (e.Kind == EntityAccount || e.Kind == EntityHost):
		default:
			return bad("entities[%d].kind %q cannot be under %s", i, clip(e.Kind), r.Kind)
		}
	}
	if r.For < 0 || time.Duration(r.For) > c.MaxDuration {
		return bad("for %s: between 0 and %s", time.Duration(r.For), c.MaxDuration)
	}
	return nil
}

func checkID(field, s string, required bool) error {
	if s == "" {
		if required {
			return fmt.Errorf("%s is required", field)
		}
		return nil
	}
	if len(s) > maxIDLen || !utf8.ValidString(s) {
		return fmt.Errorf("%s: at most %d bytes of UTF-8", field, maxIDLen)
	}
	return nil
}

func clip(s string) string {
	if len(s) > 32 {
		s = s[:32] + "…"
	}
	return fmt.Sprintf("%q", s)[1 : len(fmt.Sprintf("%q", s))-1]
}
