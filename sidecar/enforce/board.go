package enforce

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ronda-watch/ronda/sidecar/internal/atomicfile"
	"github.com/ronda-watch/ronda/sidecar/outbound"
)

// Config turns the levers on and bounds them. Everything is off by default.
type Config struct {
	// DenyPublish lets a lead's deny_publish lever refuse a publish through
	// the media servers' admission hooks. Off: such levers are refused, and
	// the hooks always allow (sidecar/adapters).
	DenyPublish bool `yaml:"deny_publish"`
	// PayoutHold is the platform's endpoint for payout-hold callbacks;
	// empty url: payout_hold levers are refused. Its secret comes from
	// RONDA_PAYOUT_HOLD_SECRET or payout_hold_secret_file, never this file.
	PayoutHold outbound.Config `yaml:"payout_hold"`
	// PayoutHoldSecretFile holds the HMAC secret of the callbacks.
	PayoutHoldSecretFile string `yaml:"payout_hold_secret_file"`
	// DefaultDuration is a lever's life when the request names none.
	// Default 72h (or max_duration if shorter): long enough for the
	// platform's staff to act, short enough that a forgotten lever ends.
	DefaultDuration time.Duration `yaml:"default_duration"`
	// MaxDuration bounds a lever's life. Default 720h (30 days).
	MaxDuration time.Duration `yaml:"max_duration"`
	// MaxEntities bounds the entities of one lever. Default 256.
	MaxEntities int `yaml:"max_entities"`
	// MaxActive bounds the levers kept (active or awaiting a release).
	// Default 10000.
	MaxActive int `yaml:"max_active"`
	// FollowTokenFile holds the hub bearer token (role viewer) with which
	// an edge reads the hub's levers, when deny_publish is on at an edge;
	// RONDA_LEVERS_TOKEN wins over it.
	FollowTokenFile string `yaml:"follow_token_file"`
	// FollowEvery is how often an edge reads the hub's levers. Default 30s.
	FollowEvery time.Duration `yaml:"follow_every"`
}

// Defaults fills what is unset.
func (c *Config) Defaults() {
	if c.MaxDuration <= 0 {
		c.MaxDuration = 720 * time.Hour
	}
	if c.DefaultDuration <= 0 {
		c.DefaultDuration = min(72*time.Hour, c.MaxDuration)
	}
	if c.MaxEntities <= 0 {
		c.MaxEntities = 256
	}
	if c.MaxActive <= 0 {
		c.MaxActive = 10000
	}
	if c.FollowEvery <= 0 {
		c.FollowEvery = 30 * time.Second
	}
	c.PayoutHold.Defaults()
}

// Validate reports settings that cannot work.
func (c Config) Validate() error {
	if c.PayoutHold.URL != "" {
		if err := c.PayoutHold.Validate(); err != nil {
			return fmt.Errorf("payout_hold: %w", err)
		}
	}
	if c.DefaultDuration > c.MaxDuration && c.MaxDuration > 0 {
		return fmt.Errorf("default_duration %s is longer than max_duration %s", c.DefaultDuration, c.MaxDuration)
	}
	return nil
}

// Actor is who asks: the name and role of a hub token.
type Actor struct {
	Name string
	Role string
}

// RoleLead is the only role that may approve or lift a lever.
const RoleLead = "lead"

// Errors of Approve and Lift.
var (
	ErrForbidden = errors.New("only a lead may approve or lift a lever")
	ErrDisabled  = errors.New("this lever is not enabled in the configuration")
	ErrNotFound  = errors.New("no such lever")
	ErrFull      = errors.New("too many levers kept")
	ErrNoCase    = errors.New("no such case")
)

// AuditRecord is one audited step of a lever: approve, lift, expire,
// hold_delivered, release_delivered, delivery_failed.
type AuditRecord struct {
	At     time.Time
	Action string
	Actor  string
	Lever  Lever
	Detail string
	// Repeat marks a failed delivery of a lever whose last round failed
	// too: no change of state. The record keeps every round; consoles,
	// which hear of state changes (failing, delivered), need not.
	Repeat bool
}

// Options compose a Board.
type Options struct {
	Config Config
	// Path is the state file (JSON, written atomically). Empty: levers live
	// in memory only (tests, demos).
	Path string
	// Audit receives every step; serve writes them to the record as
	// moderator actions. It must not block for long.
	Audit func(AuditRecord)
	// Payout delivers payout-hold callbacks; nil: payout_hold is disabled.
	Payout *outbound.Client
	// Check, when set, is called by the API before Approve: serve checks that
	// the case exists and that the entities are the case's, filling them from
	// it when the request names none. It returns ErrNoCase or an error
	// wrapping ErrInvalid.
	Check func(ctx context.Context, req *Request) error
	// Now is the clock; default time.Now.
	Now        func() time.Time
	Logger     *slog.Logger
	Registerer prometheus.Registerer
}

// Board keeps the levers. Its DenyPublish is called on every admission hook
// and never blocks: it reads an immutable index swapped in whole.
type Board struct {
	o   Options
	mu  sync.Mutex
	lev map[string]*Lever
	idx atomic.Pointer[index]
	// kick wakes the delivery loop.
	kick chan struct{}
	m    *boardMetrics
}

// index maps "h:<host>" and "d:<device>" to the deny_publish lever and its end.
type index map[string]indexed

type indexed struct {
	lever string
	until time.Time
}

// Open loads the state file, if any, and returns the Board. A state file
// that cannot be read is moved aside (path + ".damaged"), counted and
// logged, and the Board starts empty: Ronda does not refuse to start over
// it, since a stopped Ronda must never stand between an ingest and its
// publishers.
func Open(o Options) (*Board, error) {
	o.Config.Defaults()
	if err := o.Config.Validate(); err != nil {
		return nil, err
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Audit == nil {
		o.Audit = func(AuditRecord) {}
	}
	b := &Board{o: o, lev: map[string]*Lever{}, kick: make(chan struct{}, 1), m: newBoardMetrics(o.Registerer)}
	if o.Path != "" {
		levers, err := readState(o.Path)
		switch {
		case errors.Is(err, os.ErrNotExist):
		case err != nil:
			b.m.damaged.Inc()
			aside := o.Path + ".damaged"
			_ = os.Rename(o.Path, aside)
			o.Logger.Error("enforcement levers: state file unreadable; moved aside, starting with none",
				"path", o.Path, "aside", aside, "err", err)
		default:
			for i := range levers {
				b.lev[levers[i].ID] = &levers[i]
			}
		}
	}
	b.reindexLocked()
	return b, nil
}

// DenyPublish reports the deny_publish lever, if any, under which a
// stream.start of host on device must be refused. It is false whenever
// Config.DenyPublish is off.
func (b *Board) DenyPublish(host, device string) (lever string, deny bool) {
	if !b.o.Config.DenyPublish {
		return "", false
	}
	ix := b.idx.Load()
	now := b.o.Now()
	for _, k := range [2]string{"h:" + host, "d:" + device} {
		if len(k) == 2 {
			continue
		}
		if e, ok := (*ix)[k]; ok && now.Before(e.until) {
			b.m.denied.Inc()
			return e.lever, true
		}
	}
	return "", false
}

// Enabled lists the kinds of lever this board approves: deny_publish when
// Config.DenyPublish is on, payout_hold when a payout client is configured.
func (b *Board) Enabled() []string {
	out := []string{}
	if b.o.Config.DenyPublish {
		out = append(out, KindDenyPublish)
	}
	if b.o.Payout != nil {
		out = append(out, KindPayoutHold)
	}
	return out
}

// Approve records a lever a lead asks for, after checking the role, the
// configuration and the request. The lever is in the state file before it
// acts and before Approve returns.
func (b *Board) Approve(req Request, by Actor) (Lever, error) {
	if by.Role != RoleLead {
		return Lever{}, ErrForbidden
	}
	switch {
	case req.Kind == KindDenyPublish && !b.o.Config.DenyPublish,
		req.Kind == KindPayoutHold && b.o.Payout == nil:
		return Lever{}, fmt.Errorf("%w: %s", ErrDisabled, req.Kind)
	}
	if err := req.validate(b.o.Config); err != nil {
		return Lever{}, err
	}
	d := time.Duration(req.For)
	if d == 0 {
		d = b.o.Config.DefaultDuration
	}
	now := b.o.Now().UTC()
	l := &Lever{ID: newID(), Kind: req.Kind, CaseID: req.CaseID, AlertID: req.AlertID,
		Entities: slices.Clone(req.Entities), Reason: req.Reason,
		ApprovedBy: by.Name, ApprovedAt: now, Until: now.Add(d)}
	b.mu.Lock()
	b.pruneLocked(now)
	if len(b.lev) >= b.o.Config.MaxActive {
		b.mu.Unlock()
		b.m.full.Inc()
		return Lever{}, ErrFull
	}
	b.lev[l.ID] = l
	if err := b.saveLocked(); err != nil {
		delete(b.lev, l.ID)
		b.mu.Unlock()
		return Lever{}, err
	}
	b.reindexLocked()
	out := *l
	b.mu.Unlock()
	b.m.approved.WithLabelValues(l.Kind).Inc()
	b.o.Audit(AuditRecord{At: now, Action: "lever_approve", Actor: by.Name, Lever: out})
	b.wake()
	return out, nil
}

// Lift ends a lever before its time. A payout hold's release is then sent.
func (b *Board) Lift(id string, by Actor, reason string) (Lever, error) {
	if by.Role != RoleLead {
		return Lever{}, ErrForbidden
	}
	now := b.o.Now().UTC()
	b.mu.Lock()
	l, ok := b.lev[id]
	if !ok {
		b.mu.Unlock()
		return Lever{}, ErrNotFound
	}
	if !l.LiftedAt.IsZero() {
		out := *l
		b.mu.Unlock()
		return out, nil // lifting twice is lifting once
	}
	prev := *l
	l.LiftedBy, l.LiftedAt = by.Name, now
	if err := b.saveLocked(); err != nil {
		*l = prev
		b.mu.Unlock()
		return Lever{}, err
	}
	b.reindexLocked()
	out := *l
	b.mu.Unlock()
	b.o.Audit(AuditRecord{At: now, Action: "lever_lift", Actor: by.Name, Lever: out, Detail: clipReason(reason)})
	b.wake()
	return out, nil
}

// List returns the levers kept, newest first.
func (b *Board) List() []Lever {
	b.mu.Lock()
	out := make([]Lever, 0, len(b.lev))
	for _, l := range b.lev {
		out = append(out, *l)
	}
	b.mu.Unlock()
	slices.SortFunc(out, func(a, c Lever) int { return c.ApprovedAt.Compare(a.ApprovedAt) })
	return out
}

// Get returns one lever.
func (b *Board) Get(id string) (Lever, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	l, ok := b.lev[id]
	if !ok {
		return Lever{}, false
	}
	return *l, true
}

func (b *Board) wake() {
	select {
	case b.kick <- struct{}{}:
	default:
	}
}

// reindexLocked rebuilds the deny index from the active deny_publish levers.
func (b *Board) reindexLocked() {
	now := b.o.Now()
	ix := index{}
	active := 0
	for _, l := range b.lev {
		if !l.Active(now) {
			continue
		}
		active++
		if l.Kind != KindDenyPublish {
			continue
		}
		for _, e := range l.Entities {
			k := "h:" + e.ID
			if e.Kind == EntityDevice {
				k = "d:" + e.ID
			}
			if cur, ok := ix[k]; !ok || cur.until.Before(l.Until) {
				ix[k] = indexed{lever: l.ID, until: l.Until}
			}
		}
	}
	b.idx.Store(&ix)
	b.m.active.Set(float64(active))
}

// pruneLocked forgets levers ended over a week ago whose callbacks are done:
// the audit trail in the record keeps them.
func (b *Board) pruneLocked(now time.Time) {
	for id, l := range b.lev {
		end := l.Until
		if !l.LiftedAt.IsZero() {
			end = l.LiftedAt
		}
		if now.Sub(end) > 7*24*time.Hour && !b.pendingLocked(l, now) {
			delete(b.lev, id)
		}
	}
}

// pendingLocked: a payout hold whose hold or release is still to be sent.
func (b *Board) pendingLocked(l *Lever, now time.Time) bool {
	if l.Kind != KindPayoutHold {
		return false
	}
	if !l.HoldDelivered && l.Active(now) {
		return true
	}
	return !l.Active(now) && l.HoldDelivered && !l.ReleaseDelivered
}

// Run sends payout-hold callbacks until ctx ends: each hold once delivered,
// and its release when the lever is lifted or expires. It also refreshes the
// deny index as levers expire.
func (b *Board) Run(ctx context.Context) {
	t := time.NewTicker(time.Minute)
	defer t.Stop()
	for {
		b.deliverPending(ctx)
		b.mu.Lock()
		b.reindexLocked()
		b.mu.Unlock()
		select {
		case <-ctx.Done():
			return
		case <-b.kick:
		case <-t.C:
		}
	}
}

func (b *Board) deliverPending(ctx context.Context) {
	if b.o.Payout == nil {
		return
	}
	now := b.o.Now()
	b.mu.Lock()
	var todo []Lever
	for _, l := range b.lev {
		if b.pendingLocked(l, now) {
			todo = append(todo, *l)
		}
	}
	b.mu.Unlock()
	for _, l := range todo {
		if ctx.Err() != nil {
			return
		}
		release := !l.Active(now)
		kind, key := "payout_hold", l.ID+"/hold"
		if release {
			kind, key = "payout_release", l.ID+"/release"
		}
		body, _ := json.Marshal(callback{Type: kind, LeverID: l.ID, CaseID: l.CaseID,
			Accounts: accounts(l.Entities), Until: l.Until, ApprovedBy: l.ApprovedBy, Reason: l.Reason})
		res, err := b.o.Payout.Deliver(ctx, key, body)
		b.mu.Lock()
		cur, ok := b.lev[l.ID]
		repeat := false
		if ok {
			repeat = cur.Failed != ""
			if err == nil {
				if release {
					cur.ReleaseDelivered = true
				} else {
					cur.HoldDelivered = true
				}
				cur.Failed = ""
			} else if ctx.Err() == nil {
				cur.Failed = err.Error()
			}
			if serr := b.saveLocked(); serr != nil {
				b.o.Logger.Error("enforcement levers: saving state", "err", serr)
			}
		}
		b.mu.Unlock()
		switch {
		case err == nil:
			b.o.Audit(AuditRecord{At: b.o.Now().UTC(), Action: kind + "_delivered", Actor: "ronda", Lever: l,
				Detail: fmt.Sprintf("attempts=%d status=%d", res.Attempts, res.Status)})
		case ctx.Err() == nil:
			b.o.Audit(AuditRecord{At: b.o.Now().UTC(), Action: kind + "_failed", Actor: "ronda", Lever: l, Detail: err.Error(), Repeat: repeat})
			b.o.Logger.Warn("enforcement levers: payout callback not delivered", "lever", l.ID, "case", l.CaseID, "err", err)
		}
	}
}

// callback is the body of a payout-hold callback.
type callback struct {
	Type       string    `json:"type"` // payout_hold or payout_release
	LeverID    string    `json:"lever_id"`
	CaseID     string    `json:"case_id"`
	Accounts   []string  `json:"accounts"`
	Until      time.Time `json:"until"`
	ApprovedBy string    `json:"approved_by"`
	Reason     string    `json:"reason"`
}

func accounts(es []Entity) []string {
	out := make([]string, 0, len(es))
	for _, e := range es {
		out = append(out, e.ID)
	}
	return out
}

func newID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return "lv-" + hex.EncodeToString(b[:])
}

func clipReason(s string) string {
	if len(s) > maxReasonLen {
		return s[:maxReasonLen]
	}
	return s
}

// state is the file's form.
type state struct {
	Version int     `json:"version"`
	Levers  []Lever `json:"levers"`
}

const maxStateBytes = 64 << 20

func readState(path string) ([]Lever, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return decodeState(io.LimitReader(f, maxStateBytes+1))
}

func decodeState(r io.Reader) ([]Lever, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	if len(data) > maxStateBytes {
		return nil, fmt.Errorf("larger than %d bytes", maxStateBytes)
	}
	var s state
	if err := json.Unmarshal(data, &s); err != nil {
		return nil, err
	}
	if s.Version != 1 {
		return nil, fmt.Errorf("version %d: want 1", s.Version)
	}
	seen := map[string]bool{}
	for i, l := range s.Levers {
		if l.ID == "" || seen[l.ID] {
			return nil, fmt.Errorf("levers[%d]: missing or repeated id", i)
		}
		seen[l.ID] = true
		if l.Kind != KindDenyPublish && l.Kind != KindPayoutHold {
			return nil, fmt.Errorf("levers[%d]: kind %s", i, clip(l.Kind))
		}
	}
	return s.Levers, nil
}

func (b *Board) saveLocked() error {
	if b.o.Path == "" {
		return nil
	}
	s := state{Version: 1, Levers: make([]Lever, 0, len(b.lev))}
	for _, l := range b.lev {
		s.Levers = append(s.Levers, *l)
	}
	slices.SortFunc(s.Levers, func(a, c Lever) int { return a.ApprovedAt.Compare(c.ApprovedAt) })
	data, err := json.MarshalIndent(s, "", " ")
	if err != nil {
		return err
	}
	if err := atomicfile.WriteBytes(b.o.Path, data); err != nil {
		b.m.saveErrors.Inc()
		return fmt.Errorf("enforcement levers: saving %s: %w", b.o.Path, err)
	}
	return nil
}

type boardMetrics struct {
	approved   *prometheus.CounterVec
	denied     prometheus.Counter
	active     prometheus.Gauge
	full       prometheus.Counter
	damaged    prometheus.Counter
	saveErrors prometheus.Counter
	follow     *prometheus.CounterVec
}

func newBoardMetrics(reg prometheus.Registerer) *boardMetrics {
	m := &boardMetrics{
		approved: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ronda_levers_approved_total",
			Help: "Enforcement levers approved by a lead, by kind (deny_publish, payout_hold)."}, []string{"kind"}),
		denied: prometheus.NewCounter(prometheus.CounterOpts{Name: "ronda_levers_publish_denied_total",
			Help: "Publishes refused through an admission hook because a deny_publish lever names the host or device."}),
		active: prometheus.NewGauge(prometheus.GaugeOpts{Name: "ronda_levers_active",
			Help: "Enforcement levers in force now."}),
		full: prometheus.NewCounter(prometheus.CounterOpts{Name: "ronda_levers_refused_full_total",
			Help: "Lever approvals refused because max_active levers are kept."}),
		damaged: prometheus.NewCounter(prometheus.CounterOpts{Name: "ronda_levers_state_damaged_total",
			Help: "Lever state files found unreadable at start and moved aside."}),
		saveErrors: prometheus.NewCounter(prometheus.CounterOpts{Name: "ronda_levers_state_write_errors_total",
			Help: "Failed writes of the lever state file (the approval or lift is refused)."}),
		follow: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ronda_levers_follow_total",
			Help: "An edge's reads of the hub's levers, by result (ok, error: the last levers read stay)."}, []string{"result"}),
	}
	if reg != nil {
		reg.MustRegister(m.approved, m.denied, m.active, m.full, m.damaged, m.saveErrors, m.follow)
	}
	return m
}
