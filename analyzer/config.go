package analyzer

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Config holds every threshold of every detector. The comment on each field is
// its user documentation; each default comes from ../shared/DOMAIN.md with its
// reason. Durations are Go durations in YAML ("36h", "15m").
type Config struct {
	// DefaultTZ is the IANA zone for a host's local time when stream.start has no
	// tz. Default Asia/Jakarta: Indonesia's most populous zone, the reference case's;
	// a platform in the Philippines sets Asia/Manila. The zone database is built
	// in (time/tzdata). Gift senders' nights use their country's zone.
	DefaultTZ string `yaml:"default_tz"`
	// Window is how long entity state is kept after an entity's last event. Default
	// 14 days: two weeks of nightly broadcasting shows a schedule; older state is
	// evicted so memory stays bounded.
	Window time.Duration `yaml:"window"`
	// StreamIdle ends a stream that has had no event for this long, at its last
	// event (EVENTS.md: 15 minutes).
	StreamIdle time.Duration `yaml:"stream_idle"`
	// EvalInterval is the least event time between two evaluations of one host
	// while it is live, so a long stream raises an alert before it ends without
	// re-scoring on every gift. Default 20m.
	EvalInterval time.Duration `yaml:"eval_interval"`

	Schedule    ScheduleConfig    `yaml:"schedule"`
	Colocation  ColocationConfig  `yaml:"colocation"`
	Recruitment RecruitmentConfig `yaml:"recruitment"`
	Money       MoneyConfig       `yaml:"money"`
	Audience    AudienceConfig    `yaml:"audience"`
	Age         AgeConfig         `yaml:"age"`
	AccountAge  AccountAgeConfig  `yaml:"account_age"`
	Signals     SignalConfig      `yaml:"signals"`
	Wire        WireConfig        `yaml:"wire"`
	Scoring     ScoringConfig     `yaml:"scoring"`
}

// ScoringConfig combines the families into severities.
type ScoringConfig struct {
	// Strong is the family score from which a family counts as present. Default 0.5.
	Strong float64 `yaml:"strong"`
	// MinSeverity is the lowest severity emitted as an alert; weaker findings stay
	// signals for analysts. Default medium: moderators' time goes to convergence.
	MinSeverity Severity `yaml:"min_severity"`
	// Cooldown is the least event time between two versions of one alert unless
	// its severity rises or it names new entities. Default 6h.
	Cooldown time.Duration `yaml:"cooldown"`
	// MaxClusterHosts bounds how many hosts one alert names. Default 64.
	MaxClusterHosts int `yaml:"max_cluster_hosts"`
	// Weights of each family in the combined score (noisy-OR), 0..1.
	Weights map[string]float64 `yaml:"weights"`
}

// DefaultConfig returns the documented defaults.
func DefaultConfig() Config {
	return Config{
		DefaultTZ:    "Asia/Jakarta",
		Window:       14 * 24 * time.Hour,
		StreamIdle:   15 * time.Minute,
		EvalInterval: 20 * time.Minute,
		Schedule:     defaultScheduleConfig(),
		Colocation:   defaultColocationConfig(),
		Recruitment:  defaultRecruitmentConfig(),
		Money:        defaultMoneyConfig(),
		Audience:     defaultAudienceConfig(),
		Age:          defaultAgeConfig(),
		AccountAge:   defaultAccountAgeConfig(),
		Signals:      defaultSignalConfig(),
		Wire:         defaultWireConfig(),
		Scoring: ScoringConfig{
			Strong: 0.5, MinSeverity: SeverityMedium, Cooldown: 6 * time.Hour,
			MaxClusterHosts: 64,
			Weights: map[string]float64{
				DetSchedule: 0.35, DetColocation: 0.45, DetRecruitment: 0.5,
				DetMoney: 0.45, DetAudience: 0.45, DetAge: 0.5,
				DetAccountAge: 0.2, DetSignal: 0.5,
			},
		},
	}
}

// ParseConfig reads YAML over the defaults. Unknown keys are an error, so a typo
// never silently leaves a default in force.
func ParseConfig(b []byte) (Config, error) {
	cfg := DefaultConfig()
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(&cfg); err != nil && !errors.Is(err, io.EOF) {
		return Config{}, fmt.Errorf("parse config: %w", err)
	}
	if err := cfg.Validate(); err != nil {
		return Config{}, err
	}
	return cfg, nil
}

// Validate checks every field and reports all problems at once.
func (c Config) Validate() error { return c.validate(defaultFamilies) }

// validate checks c for an engine with the families fams: each needs a weight.
func (c Config) validate(fams []family) error {
	var errs []error
	bad := func(field, why string) { errs = append(errs, fmt.Errorf("%s: %s", field, why)) }
	if _, err := time.LoadLocation(c.DefaultTZ); err != nil || c.DefaultTZ == "" {
		bad("default_tz", fmt.Sprintf("unknown time zone %q", c.DefaultTZ))
	}
	if c.Window < 24*time.Hour || c.Window > 64*24*time.Hour {
		bad("window", "must be between 24h and 1536h (64 days)")
	}
	if c.StreamIdle <= 0 {
		bad("stream_idle", "must be positive")
	}
	if c.EvalInterval <= 0 {
		bad("eval_interval", "must be positive")
	}
	c.Schedule.validate(bad)
	c.Colocation.validate(bad)
	c.Recruitment.validate(bad)
	c.Money.validate(bad)
	c.Audience.validate(bad)
	c.Age.validate(bad)
	c.AccountAge.validate(bad)
	c.Signals.validate(bad)
	c.Wire.validate(c.Signals, bad)
	sc := c.Scoring
	if sc.Strong <= 0 || sc.Strong >= 1 {
		bad("scoring.strong", "must be in (0,1)")
	}
	if sc.MinSeverity < SeverityLow || sc.MinSeverity > SeverityCritical {
		bad("scoring.min_severity", "must be low, medium, high or critical")
	}
	if sc.Cooldown < 0 || sc.MaxClusterHosts < 1 {
		bad("scoring", "cooldown >= 0 and max_cluster_hosts >= 1")
	}
	names := familyNames(fams)
	for _, d := range names {
		w, ok := sc.Weights[d]
		if !ok {
			bad("scoring.weights."+d, "missing")
		} else if w < 0 || w > 1 {
			bad("scoring.weights."+d, "must be in [0,1]")
		}
	}
	for k := range sc.Weights {
		if !slices.Contains(names, k) {
			bad("scoring.weights."+k, "unknown detector (want one of "+strings.Join(names, ", ")+")")
		}
	}
	return errors.Join(errs...)
}
