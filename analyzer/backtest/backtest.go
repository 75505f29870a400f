// Package backtest scores a replay against a scenario's ground truth: which labelled
// hosts and accounts the alerts flagged, how many they flagged wrongly, how long after a
// victim's first broadcast the first alert came, and the moderators' load.
//
// The definitions are those of ../shared/spec/EVENTS.md ("Scenario files") and
// ../shared/scenarios/README.md: an id is flagged when it appears as subject or in the
// entities of an alert of severity medium or above. Accounts are one id space, so a
// labelled id matches whatever entity kind names it.
//
// It is pure: it reads no file and keeps no clock. The caller feeds it the events and
// alerts of a replay and asks for the Report at the end.
package backtest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/ronda-watch/ronda/analyzer"
	"github.com/ronda-watch/ronda/analyzer/event"
)

// Labels is a scenario's ground truth (labels.json). Every id not named is benign.
type Labels struct {
	PositiveHosts    []string `json:"positive_hosts"`
	PositiveAccounts []string `json:"positive_accounts"`
}

// ParseLabels reads labels.json. Unknown fields are allowed, so that a scenario may
// carry notes; empty ids, repeated ids and an id in both lists are errors, because each
// would silently change recall.
func ParseLabels(b []byte) (Labels, error) {
	var l Labels
	if len(bytes.TrimSpace(b)) == 0 {
		return Labels{}, errors.New("parse labels: empty input")
	}
	if err := json.Unmarshal(b, &l); err != nil {
		return Labels{}, fmt.Errorf("parse labels: %w", err)
	}
	if err := l.validate(); err != nil {
		return Labels{}, fmt.Errorf("parse labels: %w", err)
	}
	return l, nil
}

func (l Labels) validate() error {
	var errs []error
	seen := make(map[string]string, len(l.PositiveHosts)+len(l.PositiveAccounts))
	check := func(list, id string) {
		switch prev, ok := seen[id]; {
		case id == "":
			errs = append(errs, fmt.Errorf("%s: empty id", list))
		case ok && prev == list:
			errs = append(errs, fmt.Errorf("%s: %q listed twice", list, id))
		case ok:
			errs = append(errs, fmt.Errorf("%q is in both %s and %s", id, prev, list))
		default:
			seen[id] = list
		}
	}
	for _, id := range l.PositiveHosts {
		check("positive_hosts", id)
	}
	for _, id := range l.PositiveAccounts {
		check("positive_accounts", id)
	}
	return errors.Join(errs...)
}

// class says how an id is scored.
type class uint8

const (
	classHost class = iota + 1
	classAccount
)

// Tracker collects what the Report needs during a replay. Its memory grows with the
// number of hosts and of flagged ids, not with the number of events. It is not safe for
// concurrent use.
type Tracker struct {
	label map[string]class // labelled positive ids

	firstBroadcast map[string]time.Time // host id → first stream.start
	nights         map[string]*nights   // labelled host → its first two local nights
	secondStreams  map[string]*nights   // the streams of labelled hosts' second nights
	rings          *rings               // labelled ids joined by their events
	last           time.Time            // the newest event time
	streams        int

	alerts    map[string]struct{}  // every alert id, any severity
	medium    map[string]struct{}  // alert ids ever at medium or above
	firstFlag map[string]time.Time // id → first medium+ alert naming it
	high      map[string]struct{}  // ids named by an alert at high or above
	alertIDs  map[string][]string  // labelled id → the medium+ alerts that named it
}

// NewTracker returns a Tracker scoring against l.
func NewTracker(l Labels) *Tracker {
	t := &Tracker{
		label:          make(map[string]class, len(l.PositiveHosts)+len(l.PositiveAccounts)),
		firstBroadcast: make(map[string]time.Time),
		nights:         make(map[string]*nights),
		secondStreams:  make(map[string]*nights),
		rings:          newRings(),
		alerts:         make(map[string]struct{}),
		medium:         make(map[string]struct{}),
		firstFlag:      make(map[string]time.Time),
		high:           make(map[string]struct{}),
		alertIDs:       make(map[string][]string),
	}
	for _, id := range l.PositiveHosts {
		t.label[id] = classHost
	}
	for _, id := range l.PositiveAccounts {
		t.label[id] = classAccount
	}
	return t
}

// Event records stream starts: the stream count and each host's first broadcast. An id
// is a host from the moment it starts a stream. Other event types are ignored.
func (t *Tracker) Event(ev *event.Event) {
	t.ringEvent(ev)
	if ev.Type != event.TypeStreamStart {
		if ev.StreamID != "" && len(t.secondStreams) > 0 {
			t.streamEvent(ev)
		}
		return
	}
	t.streams++
	t.night(ev)
	if ev.HostID == "" {
		return
	}
	if first, ok := t.firstBroadcast[ev.HostID]; ok {
		if ev.At.Before(first) {
			t.firstBroadcast[ev.HostID] = ev.At
		}
		return
	}
	// The decoder may reuse the event's memory; keep our own copy of the key.
	t.firstBroadcast[strings.Clone(ev.HostID)] = ev.At
}

// Alert records one version of an alert.
func (t *Tracker) Alert(a analyzer.Alert) {
	if _, ok := t.alerts[a.ID]; !ok {
		t.alerts[a.ID] = struct{}{}
	}
	if a.Severity < analyzer.SeverityMedium {
		return
	}
	t.medium[a.ID] = struct{}{}
	t.flag(a.ID, a.Subject, a.At, a.Severity)
	for _, e := range a.Entities {
		t.flag(a.ID, e, a.At, a.Severity)
	}
}

// flag records ref as named by a medium+ alert at at. Labelled ids count whatever their
// kind; other ids only as hosts or accounts (a device or a place is not scored).
func (t *Tracker) flag(alert string, ref analyzer.EntityRef, at time.Time, sev analyzer.Severity) {
	if ref.ID == "" {
		return
	}
	_, labelled := t.label[ref.ID]
	if !labelled && ref.Kind != analyzer.KindHost && ref.Kind != analyzer.KindAccount {
		return
	}
	if labelled && !slices.Contains(t.alertIDs[ref.ID], alert) {
		t.alertIDs[ref.ID] = append(t.alertIDs[ref.ID], alert)
	}
	if first, ok := t.firstFlag[ref.ID]; !ok || at.Before(first) {
		t.firstFlag[ref.ID] = at
	}
	if sev >= analyzer.SeverityHigh {
		t.high[ref.ID] = struct{}{}
	}
}

// classOf decides how id is scored: labels first (a labelled account that also
// broadcast is still scored as an account), then "started a stream" makes a host.
func (t *Tracker) classOf(id string) class {
	if c, ok := t.label[id]; ok {
		return c
	}
	if _, ok := t.firstBroadcast[id]; ok {
		return classHost
	}
	return classAccount
}

// Report is the backtest's result.
type Report struct {
	// HostRecall is flagged positive hosts / positive hosts; HostPrecision is flagged
	// positive hosts / flagged hosts. Both are 1 when their denominator is 0.
	HostRecall, HostPrecision float64
	// AccountRecall and AccountPrecision are the same over non-host accounts.
	AccountRecall, AccountPrecision float64

	HostTP, HostFP, HostFN          int
	AccountTP, AccountFP, AccountFN int

	MissedHosts, MissedAccounts []string // positives never flagged
	FalseHosts, FalseAccounts   []string // flagged, not positive
	// BenignHostsAtHigh are non-positive hosts named by an alert at high or above.
	BenignHostsAtHigh []string

	// DelayHours holds, for each flagged positive host that broadcast, the hours from
	// its first broadcast to its first medium+ alert, in id order. A negative value
	// means the host was flagged before it first went live.
	DelayHours                      []float64
	MedianDelayHours, MaxDelayHours float64
	// SecondNightDelayHours holds, for each positive host that broadcast on at
	// least two local nights (noon to noon in the stream's tz, UTC without one),
	// the hours from the end of its second night (the last event of that
	// night's streams: when a second night exists) to its first medium+ alert,
	// in id order; a host never flagged counts as the hours from then to the
	// end of the input (recall says it was missed). Negative: flagged before
	// its second night ended. The issue's goal is a maximum of 24 h.
	SecondNightDelayHours                                 []float64
	MedianSecondNightDelayHours, MaxSecondNightDelayHours float64
	// MaxSecondNightStartDelayHours is the stricter maximum from the first
	// broadcast of the second night.
	MaxSecondNightStartDelayHours float64

	// Rings are the positive hosts grouped by the events that tie them to
	// one another and to positive accounts (payouts, links, DMs, agencies):
	// a scenario's labels name no rings, so the ground truth's own ties say
	// which victims belong together. AlertsPerRing is, for each ring with a
	// flagged host, how many distinct medium+ alert ids named its positive
	// hosts (1 is one alert per ring; an alert merged into another still
	// counts, as moderators saw it), in the order of the rings' first host id.
	Rings             [][]string
	AlertsPerRing     []int
	MeanAlertsPerRing float64
	MaxAlertsPerRing  int

	Alerts       int // distinct alert ids, any severity
	AlertsMedium int // distinct alert ids ever at medium or above
	Streams      int // stream.start events
	// AlertsPer1000Streams is Alerts / Streams × 1000, the moderators' load; 0
	// without streams.
	AlertsPer1000Streams float64
}

// Report computes the figures from what was recorded so far.
func (t *Tracker) Report() Report {
	r := Report{
		Alerts:       len(t.alerts),
		AlertsMedium: len(t.medium),
		Streams:      t.streams,
	}
	if t.streams > 0 {
		r.AlertsPer1000Streams = float64(len(t.alerts)) / float64(t.streams) * 1000
	}

	// Positives, in a stable order.
	var posHosts, posAccounts []string
	for id, c := range t.label {
		if c == classHost {
			posHosts = append(posHosts, id)
		} else {
			posAccounts = append(posAccounts, id)
		}
	}
	slices.Sort(posHosts)
	slices.Sort(posAccounts)

	for _, id := range posHosts {
		at, ok := t.firstFlag[id]
		if !ok {
			r.HostFN++
			r.MissedHosts = append(r.MissedHosts, id)
			continue
		}
		r.HostTP++
		if first, ok := t.firstBroadcast[id]; ok {
			r.DelayHours = append(r.DelayHours, at.Sub(first).Hours())
		}
	}
	for _, id := range posAccounts {
		if _, ok := t.firstFlag[id]; ok {
			r.AccountTP++
		} else {
			r.AccountFN++
			r.MissedAccounts = append(r.MissedAccounts, id)
		}
	}
	for id := range t.firstFlag {
		if _, ok := t.label[id]; ok {
			continue
		}
		if t.classOf(id) == classHost {
			r.HostFP++
			r.FalseHosts = append(r.FalseHosts, id)
		} else {
			r.AccountFP++
			r.FalseAccounts = append(r.FalseAccounts, id)
		}
	}
	for id := range t.high {
		if _, ok := t.label[id]; !ok && t.classOf(id) == classHost {
			r.BenignHostsAtHigh = append(r.BenignHostsAtHigh, id)
		}
	}
	slices.Sort(r.FalseHosts)
	slices.Sort(r.FalseAccounts)
	slices.Sort(r.BenignHostsAtHigh)

	r.HostRecall = ratio(r.HostTP, r.HostTP+r.HostFN)
	r.HostPrecision = ratio(r.HostTP, r.HostTP+r.HostFP)
	r.AccountRecall = ratio(r.AccountTP, r.AccountTP+r.AccountFN)
	r.AccountPrecision = ratio(r.AccountTP, r.AccountTP+r.AccountFP)
	r.MedianDelayHours, r.MaxDelayHours = medianMax(r.DelayHours)
	var starts []float64
	for _, id := range posHosts {
		n := t.nights[id]
		if n == nil || n.second.IsZero() {
			continue
		}
		at, ok := t.firstFlag[id]
		if !ok {
			at = t.last
		}
		r.SecondNightDelayHours = append(r.SecondNightDelayHours, at.Sub(n.secondEnd).Hours())
		starts = append(starts, at.Sub(n.second).Hours())
	}
	r.MedianSecondNightDelayHours, r.MaxSecondNightDelayHours = medianMax(r.SecondNightDelayHours)
	_, r.MaxSecondNightStartDelayHours = medianMax(starts)
	r.Rings = t.rings.groups(posHosts)
	sum := 0
	for _, ring := range r.Rings {
		var ids []string
		for _, h := range ring {
			for _, a := range t.alertIDs[h] {
				if !slices.Contains(ids, a) {
					ids = append(ids, a)
				}
			}
		}
		if len(ids) == 0 {
			continue
		}
		r.AlertsPerRing = append(r.AlertsPerRing, len(ids))
		sum += len(ids)
		r.MaxAlertsPerRing = max(r.MaxAlertsPerRing, len(ids))
	}
	if len(r.AlertsPerRing) > 0 {
		r.MeanAlertsPerRing = float64(sum) / float64(len(r.AlertsPerRing))
	}
	return r
}

func ratio(n, d int) float64 {
	if d == 0 {
		return 1
	}
	return float64(n) / float64(d)
}

// medianMax returns the median and maximum of xs, zeros when it is empty.
func medianMax(xs []float64) (median, maxv float64) {
	if len(xs) == 0 {
		return 0, 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	n := len(s)
	if n%2 == 1 {
		median = s[n/2]
	} else {
		median = (s[n/2-1] + s[n/2]) / 2
	}
	return median, s[n-1]
}

// Goals are the thresholds a backtest must meet. A zero field is not checked.
type Goals struct {
	MinHostRecall, MinAccountRecall, MinHostPrecision float64
	MaxMedianDelayHours, MaxAlertsPer1000Streams      float64
	// NoBenignHostAtHigh fails the check when any non-positive host is named by an
	// alert at high or above.
	NoBenignHostAtHigh bool
	// MinAccountPrecision, MaxSecondNightDelayHours (from the end of a
	// host's second night) and MaxAlertsPerRing (distinct medium+ alerts
	// naming one ring's hosts).
	MinAccountPrecision      float64
	MaxSecondNightDelayHours float64
	MaxAlertsPerRing         int
}

// RingGoals are issue 11's goals, for sparse platforms and quiet rings too:
// precision at least 0.95 at recall at least 0.95 (hosts and accounts), every
// victim flagged within 24 h of the end of her second night, one alert per
// ring, and no benign host ever in a high alert.
func RingGoals() Goals {
	return Goals{
		MinHostRecall: 0.95, MinAccountRecall: 0.95,
		MinHostPrecision: 0.95, MinAccountPrecision: 0.95,
		MaxSecondNightDelayHours: 24, MaxAlertsPerRing: 1,
		NoBenignHostAtHigh: true,
	}
}

// IssueGoals are the project's acceptance goals: every victim and every operator
// found, at most one wrongly flagged host in ten, the median victim found within a day
// of first going live, at most 5 alerts per 1,000 streams, and no benign host ever in a
// high alert.
func IssueGoals() Goals {
	return Goals{
		MinHostRecall:           1.0,
		MinAccountRecall:        1.0,
		MinHostPrecision:        0.9,
		MaxMedianDelayHours:     24,
		MaxAlertsPer1000Streams: 5,
		NoBenignHostAtHigh:      true,
	}
}

// Check returns one sentence per goal r misses; none when it meets them all.
func (r Report) Check(g Goals) []string {
	var fails []string
	if g.MinHostRecall > 0 && r.HostRecall < g.MinHostRecall {
		fails = append(fails, fmt.Sprintf("host recall %.2f below %.2f (missed %s)",
			r.HostRecall, g.MinHostRecall, list(r.MissedHosts)))
	}
	if g.MinAccountRecall > 0 && r.AccountRecall < g.MinAccountRecall {
		fails = append(fails, fmt.Sprintf("account recall %.2f below %.2f (missed %s)",
			r.AccountRecall, g.MinAccountRecall, list(r.MissedAccounts)))
	}
	if g.MinHostPrecision > 0 && r.HostPrecision < g.MinHostPrecision {
		fails = append(fails, fmt.Sprintf("host precision %.2f below %.2f (false %s)",
			r.HostPrecision, g.MinHostPrecision, list(r.FalseHosts)))
	}
	if g.MinAccountPrecision > 0 && r.AccountPrecision < g.MinAccountPrecision {
		fails = append(fails, fmt.Sprintf("account precision %.2f below %.2f (false %s)",
			r.AccountPrecision, g.MinAccountPrecision, list(r.FalseAccounts)))
	}
	if g.MaxSecondNightDelayHours > 0 && r.MaxSecondNightDelayHours > g.MaxSecondNightDelayHours {
		fails = append(fails, fmt.Sprintf("max delay %.1f h after a host's second night above %.1f h",
			r.MaxSecondNightDelayHours, g.MaxSecondNightDelayHours))
	}
	if g.MaxAlertsPerRing > 0 && r.MaxAlertsPerRing > g.MaxAlertsPerRing {
		fails = append(fails, fmt.Sprintf("a ring in %d alerts, above %d (%v)", r.MaxAlertsPerRing, g.MaxAlertsPerRing, r.AlertsPerRing))
	}
	if g.MaxMedianDelayHours > 0 && r.MedianDelayHours > g.MaxMedianDelayHours {
		fails = append(fails, fmt.Sprintf("median delay %.1f h above %.1f h",
			r.MedianDelayHours, g.MaxMedianDelayHours))
	}
	if g.MaxAlertsPer1000Streams > 0 && r.AlertsPer1000Streams > g.MaxAlertsPer1000Streams {
		fails = append(fails, fmt.Sprintf("%.1f alerts per 1,000 streams above %.1f",
			r.AlertsPer1000Streams, g.MaxAlertsPer1000Streams))
	}
	if g.NoBenignHostAtHigh && len(r.BenignHostsAtHigh) > 0 {
		fails = append(fails, fmt.Sprintf("benign hosts at high or above: %s", list(r.BenignHostsAtHigh)))
	}
	return fails
}

// list joins ids for a sentence, shortened so a long list stays one line.
func list(ids []string) string {
	const shown = 10
	switch {
	case len(ids) == 0:
		return "none"
	case len(ids) <= shown:
		return strings.Join(ids, ", ")
	default:
		return strings.Join(ids[:shown], ", ") + fmt.Sprintf(" and %d more", len(ids)-shown)
	}
}
