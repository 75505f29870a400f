package analyzer

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Config holds every threshold of every detector. The comment on each field is
// its user documentation; each default comes from ../shared/DOMAIN.md with its
// reason. Durations are Go durations in YAML ("36h", "15m").
type Config struct {
	// DefaultTZ is the IANA zone for a host's local time when stream.start has no
	// tz. Default Asia/Jakarta: Indonesia's most populous zone, the reference case's.
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

// ScheduleConfig: a host's broadcasts mostly inside the night window, on most
// nights, for hours; several hosts covering one night in shifts.
type ScheduleConfig struct {
	// NightStart and NightEnd bound the night in local hours. Default 20 to 4: the
	// reference case broadcast "from about 20:00 to 04:00".
	NightStart int `yaml:"night_start"`
	NightEnd   int `yaml:"night_end"`
	// MinNightShare is the share of broadcast minutes at night where the schedule
	// starts to count; FullNightShare is where it counts fully. Defaults 0.5 and
	// 0.9: many hosts stream in the evening, few almost only at night.
	MinNightShare  float64 `yaml:"min_night_share"`
	FullNightShare float64 `yaml:"full_night_share"`
	// MinNights is how many nights with night broadcasting make a schedule rather
	// than one late evening. Default 3.
	MinNights int `yaml:"min_nights"`
	// MinNightMinutes is the least night broadcasting that counts a night. Default 30.
	MinNightMinutes int `yaml:"min_night_minutes"`
	// ShiftGap is the largest gap between one host's broadcast ending and another's
	// starting on the same device or place for the two to be shifts. Default 45m.
	ShiftGap time.Duration `yaml:"shift_gap"`
}

// ColocationConfig: several distinct hosts broadcasting from one place, device or
// home network, told apart from families, student houses, malls and carrier NAT.
type ColocationConfig struct {
	// CellPrecision is the geohash length of a location cell. Default 7 (about
	// 150 m): one building, with neighbouring cells checked for GPS error.
	CellPrecision int `yaml:"cell_precision"`
	// MaxAccuracyM ignores fixes less precise than this. Default 200 m.
	MaxAccuracyM float64 `yaml:"max_accuracy_m"`
	// PublicPlaceHosts: a cell with more distinct hosts than this in the window is
	// a public place (mall, cafe) and not a den. Default 8.
	PublicPlaceHosts int `yaml:"public_place_hosts"`
	// NATHosts: a network prefix with more distinct hosts than this is shared
	// infrastructure (mobile carrier NAT, campus), not a home. Default 4: a home
	// line rarely carries more broadcasting accounts.
	NATHosts int `yaml:"nat_hosts"`
	// RegularShare: a host is a regular of a place when at least this share of its
	// broadcasts come from there; passers-by do not make a den. Default 0.5.
	RegularShare float64 `yaml:"regular_share"`
	// IPv4Prefix and IPv6Prefix coarsen addresses to a network. Defaults 24 and 48.
	IPv4Prefix int `yaml:"ipv4_prefix"`
	IPv6Prefix int `yaml:"ipv6_prefix"`
}

// RecruitmentConfig: fake job ads with lures, and the account that DMs accounts
// which soon start hosting.
type RecruitmentConfig struct {
	// MinAdScore is the lure score (0..1, from analyzer/text) at which a post
	// counts as a recruitment lure. Default 0.5: real shop ads score under 0.3.
	MinAdScore float64 `yaml:"min_ad_score"`
	// RecruitWindow: a DM counts as recruitment when its target starts hosting
	// within this time. Default 21 days: the reference case moved girls within weeks.
	RecruitWindow time.Duration `yaml:"recruit_window"`
	// MinRecruits is how many DM targets turned hosts make an account a recruiter
	// even without a lure text. Default 2.
	MinRecruits int `yaml:"min_recruits"`
}

// MoneyConfig: gifts paid out to someone other than the host; one beneficiary
// taking several new hosts' coins; foreign gifting in the viewers' night.
type MoneyConfig struct {
	// MinNewPayers is how many new-account hosts paying one beneficiary make it a
	// collector. Default 2.
	MinNewPayers int `yaml:"min_new_payers"`
	// ForeignNightShare is the share of a host's coins from abroad, sent in the
	// sender's night, that counts fully. Default 0.3.
	ForeignNightShare float64 `yaml:"foreign_night_share"`
	// WhaleShare: when the top three senders give more than this share of a host's
	// coins, the host is whale-funded (popular singers) and foreign gifting does not
	// count. Default 0.6.
	WhaleShare float64 `yaml:"whale_share"`
}

// AudienceConfig: chat that directs the host, followed by gifts; paid private rooms.
type AudienceConfig struct {
	// GiftAfterDirective is how soon after a directive a gift from the same viewer
	// counts as paying for it. Default 5m.
	GiftAfterDirective time.Duration `yaml:"gift_after_directive"`
	// FullDirectedGifts is how many directed gifts count fully. Default 10.
	FullDirectedGifts int `yaml:"full_directed_gifts"`
	// FullPrivateShare is the share of heartbeats in paid private rooms that
	// counts fully. Default 0.2.
	FullPrivateShare float64 `yaml:"full_private_share"`
}

// AgeConfig: declared birth year, text cues, external age scores.
type AgeConfig struct {
	// Adult is the age of majority. Default 18 (UU 35/2014 child protection).
	Adult int `yaml:"adult"`
	// MinSignalScore is the external age-estimation score that counts. Default 0.7.
	MinSignalScore float64 `yaml:"min_signal_score"`
	// MinorLabels are the external signal labels that mean a minor.
	MinorLabels []string `yaml:"minor_labels"`
}

// AccountAgeConfig: hosts whose accounts are days old when broadcasting begins.
type AccountAgeConfig struct {
	// NewAccount is the account age at first broadcast below which a host is new.
	// Default 30 days.
	NewAccount time.Duration `yaml:"new_account"`
}

// SignalConfig: external classifier scores other than age.
type SignalConfig struct {
	// MinScore is the external score that counts. Default 0.8.
	MinScore float64 `yaml:"min_score"`
	// DecisiveLabels raise an alert to high on their own at MinScore: a hash match
	// against known abuse material is not a weak indicator.
	DecisiveLabels []string `yaml:"decisive_labels"`
}

// WireConfig: a broadcast the media tap sees live on the wire (stream.wire)
// that the app never started, or that goes on after the app's stream.end, is
// a broadcast hidden from the platform's own records. It enters as an
// external signal of Label at Score (non-decisive: it counts in the signals
// family, which needs other families to converge before an alert).
type WireConfig struct {
	// Label of the signal. Default wire_unannounced; it must not be one of
	// signals.decisive_labels.
	Label string `yaml:"label"`
	// Score of the signal. Default 0.8: signals.min_score, so it counts as
	// one family, no more.
	Score float64 `yaml:"score"`
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
		Schedule: ScheduleConfig{
			NightStart: 20, NightEnd: 4,
			MinNightShare: 0.5, FullNightShare: 0.9,
			MinNights: 3, MinNightMinutes: 30,
			ShiftGap: 45 * time.Minute,
		},
		Colocation: ColocationConfig{
			CellPrecision: 7, MaxAccuracyM: 200,
			PublicPlaceHosts: 8, NATHosts: 4, RegularShare: 0.5,
			IPv4Prefix: 24, IPv6Prefix: 48,
		},
		Recruitment: RecruitmentConfig{
			MinAdScore: 0.5, RecruitWindow: 21 * 24 * time.Hour, MinRecruits: 2,
		},
		Money: MoneyConfig{MinNewPayers: 2, ForeignNightShare: 0.3, WhaleShare: 0.6},
		Audience: AudienceConfig{
			GiftAfterDirective: 5 * time.Minute, FullDirectedGifts: 10, FullPrivateShare: 0.2,
		},
		Age: AgeConfig{
			Adult: 18, MinSignalScore: 0.7,
			MinorLabels: []string{"minor", "age_under_18", "underage"},
		},
		AccountAge: AccountAgeConfig{NewAccount: 30 * 24 * time.Hour},
		Signals: SignalConfig{
			MinScore:       0.8,
			DecisiveLabels: []string{"csam_hash_match"},
		},
		Wire: WireConfig{Label: "wire_unannounced", Score: 0.8},
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
func (c Config) Validate() error {
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
	s := c.Schedule
	if s.NightStart < 0 || s.NightStart > 23 || s.NightEnd < 0 || s.NightEnd > 23 || s.NightStart == s.NightEnd {
		bad("schedule.night_start/night_end", "must be distinct hours 0..23")
	}
	if !(0 <= s.MinNightShare && s.MinNightShare < s.FullNightShare && s.FullNightShare <= 1) {
		bad("schedule.min_night_share/full_night_share", "need 0 <= min < full <= 1")
	}
	if s.MinNights < 1 || s.MinNightMinutes < 1 || s.ShiftGap < 0 {
		bad("schedule", "min_nights and min_night_minutes must be >= 1, shift_gap >= 0")
	}
	l := c.Colocation
	if l.CellPrecision < 5 || l.CellPrecision > 9 {
		bad("colocation.cell_precision", "must be 5..9 (geohash length)")
	}
	if l.MaxAccuracyM <= 0 || l.PublicPlaceHosts < 2 || l.NATHosts < 2 {
		bad("colocation", "max_accuracy_m > 0, public_place_hosts >= 2 and nat_hosts >= 2")
	}
	if l.RegularShare <= 0 || l.RegularShare > 1 {
		bad("colocation.regular_share", "must be in (0,1]")
	}
	if l.IPv4Prefix < 8 || l.IPv4Prefix > 32 || l.IPv6Prefix < 16 || l.IPv6Prefix > 128 {
		bad("colocation.ipv4_prefix/ipv6_prefix", "must be 8..32 and 16..128")
	}
	if c.Recruitment.MinAdScore <= 0 || c.Recruitment.MinAdScore > 1 || c.Recruitment.RecruitWindow <= 0 || c.Recruitment.MinRecruits < 1 {
		bad("recruitment", "min_ad_score in (0,1], recruit_window > 0, min_recruits >= 1")
	}
	if c.Money.MinNewPayers < 1 || c.Money.ForeignNightShare <= 0 || c.Money.WhaleShare <= 0 || c.Money.WhaleShare > 1 {
		bad("money", "min_new_payers >= 1, foreign_night_share > 0, whale_share in (0,1]")
	}
	if c.Audience.GiftAfterDirective <= 0 || c.Audience.FullDirectedGifts < 1 || c.Audience.FullPrivateShare <= 0 {
		bad("audience", "all values must be positive")
	}
	if c.Age.Adult < 1 || c.Age.MinSignalScore <= 0 || c.Age.MinSignalScore > 1 {
		bad("age", "adult >= 1 and min_signal_score in (0,1]")
	}
	if c.AccountAge.NewAccount <= 0 {
		bad("account_age.new_account", "must be positive")
	}
	if c.Signals.MinScore <= 0 || c.Signals.MinScore > 1 {
		bad("signals.min_score", "must be in (0,1]")
	}
	if c.Wire.Label == "" || c.Wire.Score <= 0 || c.Wire.Score > 1 {
		bad("wire", "label must be set and score in (0,1]")
	}
	for _, l := range c.Signals.DecisiveLabels {
		if strings.EqualFold(l, c.Wire.Label) {
			bad("wire.label", "must not be a decisive label: a broadcast hidden from the app is evidence, not proof")
		}
	}
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
	for _, d := range Detectors {
		w, ok := sc.Weights[d]
		if !ok {
			bad("scoring.weights."+d, "missing")
		} else if w < 0 || w > 1 {
			bad("scoring.weights."+d, "must be in [0,1]")
		}
	}
	for k := range sc.Weights {
		if !isDetector(k) {
			bad("scoring.weights."+k, "unknown detector (want one of schedule, colocation, recruitment, money, audience, age, account_age, signal)")
		}
	}
	return errors.Join(errs...)
}
