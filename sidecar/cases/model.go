package cases

import (
	"encoding/json"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ronda-watch/ronda/analyzer"
	"github.com/ronda-watch/ronda/sidecar/store"
)

// Case statuses.
const (
	StatusOpen      = "open"      // nobody approved this version
	StatusApproved  = "approved"  // a lead approved this version; not yet sent everywhere
	StatusSubmitted = "submitted" // this version reached every route
)

// Case is a case file: what a report to the authorities needs, built from the
// record. Times are UTC; Local fields give the host's own time where the
// record knows its zone. Viewer ids appear only as the store's pseudonyms.
type Case struct {
	ID      string `json:"id"`
	AlertID string `json:"alert_id"`
	// Version grows with every alert version and every note: an approval
	// and a submission are of one version.
	Version   int       `json:"version"`
	Status    string    `json:"status"`
	OpenedAt  time.Time `json:"opened_at"`
	OpenedBy  string    `json:"opened_by"`
	HoldUntil string    `json:"hold_until"`
	Generated time.Time `json:"generated_at"`

	Severity string               `json:"severity"`
	Score    float64              `json:"score"`
	Subject  analyzer.EntityRef   `json:"subject"`
	Entities []analyzer.EntityRef `json:"entities"`
	Reasons  []analyzer.Reason    `json:"reasons"`
	// Versions are every alert version the case saw, oldest first.
	Versions []analyzer.Alert `json:"versions"`

	Accounts    []Account `json:"accounts"`
	Streams     []Stream  `json:"streams"`
	Networks    []Seen    `json:"networks"`
	Devices     []Seen    `json:"devices"`
	Payouts     []Payout  `json:"payouts"`
	Recruitment []Cue     `json:"recruitment"`

	Actions     []Action     `json:"actions"`
	Notes       []Note       `json:"notes"`
	Approval    *Approval    `json:"approval,omitempty"`
	Submissions []Submission `json:"submissions"`
	// Truncated: a table gave more rows than a case file takes
	// (store.MaxEvidenceRows); the record has the rest.
	Truncated bool `json:"truncated,omitempty"`
}

// Summary is one line of the list of cases.
type Summary struct {
	ID        string    `json:"id"`
	AlertID   string    `json:"alert_id"`
	OpenedAt  time.Time `json:"opened_at"`
	OpenedBy  string    `json:"opened_by"`
	HoldUntil string    `json:"hold_until"`
	Entities  int       `json:"entities"`
}

// Account is a reported host or account.
type Account struct {
	Kind  string    `json:"kind"` // host or account
	ID    string    `json:"id"`
	TZ    string    `json:"tz,omitempty"`
	First time.Time `json:"first_seen,omitzero"`
	Last  time.Time `json:"last_seen,omitzero"`
}

// Stream is one broadcast of a reported host.
type Stream struct {
	ID           string    `json:"id"`
	Host         string    `json:"host"`
	Start        time.Time `json:"start"`
	End          time.Time `json:"end"`
	TZ           string    `json:"tz,omitempty"`
	StartLocal   string    `json:"start_local,omitempty"`
	EndLocal     string    `json:"end_local,omitempty"`
	Minutes      uint32    `json:"minutes"`
	NightMinutes uint32    `json:"night_minutes"`
	Network      string    `json:"network,omitempty"`
	Device       string    `json:"device,omitempty"`
	Region       string    `json:"region,omitempty"`
	Coins        int64     `json:"coins"`
	ForeignCoins int64     `json:"foreign_coins"`
	Gifts        uint32    `json:"gifts"`
}

// Seen is a network prefix or device with when it was seen and by whom.
type Seen struct {
	ID    string    `json:"id"`
	First time.Time `json:"first_seen"`
	Last  time.Time `json:"last_seen"`
	Hosts []string  `json:"hosts"`
	Times int       `json:"times"`
}

// Payout is one payout of a reported host or account.
type Payout struct {
	At       time.Time `json:"at"`
	Local    string    `json:"at_local,omitempty"`
	From     string    `json:"from"`
	To       string    `json:"to"`
	Coins    int64     `json:"coins"`
	Amount   float64   `json:"amount"`
	Currency string    `json:"currency"`
	Method   string    `json:"method,omitempty"`
}

// Cue is one recruitment finding: a detector's sentence and figures, or a
// post's kind and addressee (never its text, which is not kept).
type Cue struct {
	At       time.Time      `json:"at"`
	Entity   string         `json:"entity"`
	Kind     string         `json:"kind"`
	Summary  string         `json:"summary,omitempty"`
	Evidence map[string]any `json:"evidence,omitempty"`
	To       string         `json:"to,omitempty"`
}

// Action is one thing a person did, on the alert (the hub) or on the case.
type Action struct {
	At     time.Time `json:"at"`
	By     string    `json:"by"`
	Action string    `json:"action"`
	Target string    `json:"target,omitempty"`
	Reason string    `json:"reason,omitempty"`
	Note   string    `json:"note,omitempty"`
	On     string    `json:"on"` // alert or case
}

// Note is a moderator's note, on the alert or on the case.
type Note struct {
	At   time.Time `json:"at"`
	By   string    `json:"by"`
	Text string    `json:"text"`
}

// Approval is a lead's approval of one version.
type Approval struct {
	By      string    `json:"by"`
	At      time.Time `json:"at"`
	Version int       `json:"version"`
}

// Submission is one attempt to send a version down a route.
type Submission struct {
	Route   string    `json:"route"`
	Key     string    `json:"key"`
	Attempt int       `json:"attempt"`
	At      time.Time `json:"at"`
	Result  string    `json:"result"`
	Detail  string    `json:"detail,omitempty"`
}

// build assembles a case from its rows.
func build(r store.CaseRow, vs []store.CaseVersionRow, as []store.CaseActionRow, subs []store.CaseSubmissionRow,
	ev store.Evidence, routes []string) *Case {
	c := &Case{ID: r.CaseID, AlertID: r.AlertID, OpenedAt: r.Opened.UTC(), OpenedBy: r.OpenedBy,
		HoldUntil: r.HoldUntil.UTC().Format(time.DateOnly)}
	for _, v := range vs {
		var a analyzer.Alert
		if json.Unmarshal([]byte(v.Alert), &a) == nil { // rows this package wrote
			c.Versions = append(c.Versions, a)
		}
	}
	if n := len(c.Versions); n > 0 {
		last := c.Versions[n-1]
		c.Severity, c.Score, c.Subject, c.Entities, c.Reasons = last.Severity.String(), last.Score, last.Subject, last.Entities, last.Reasons
	}

	// Actions and notes, from the hub's trail and the case's own. An
	// escalation is the case's own row (kept outside retention); the hub's
	// audit copies of case actions are left out.
	for _, a := range ev.Actions {
		if strings.HasPrefix(a.Action, "case_") || a.Action == "escalate" {
			continue
		}
		c.Actions = append(c.Actions, Action{At: a.At.UTC(), By: a.Moderator, Action: a.Action, Target: a.Target,
			Reason: a.Reason, Note: a.Note, On: "alert"})
		if a.Action == "note" {
			c.Notes = append(c.Notes, Note{At: a.At.UTC(), By: a.Moderator, Text: a.Note})
		}
	}
	for _, a := range as {
		on := "case"
		if a.Action == "escalate" {
			on = "alert"
		}
		if (a.Action == "note" || a.Action == "escalate") && a.Note != "" {
			c.Notes = append(c.Notes, Note{At: a.At.UTC(), By: a.Moderator, Text: a.Note})
		}
		c.Actions = append(c.Actions, Action{At: a.At.UTC(), By: a.Moderator, Action: a.Action, Note: a.Note, On: on})
	}
	sort.SliceStable(c.Actions, func(i, j int) bool { return c.Actions[i].At.Before(c.Actions[j].At) })
	sort.SliceStable(c.Notes, func(i, j int) bool { return c.Notes[i].At.Before(c.Notes[j].At) })
	c.Version = len(c.Versions) + len(c.Notes)
	for _, a := range as {
		if a.Action == "approve" && int(a.Version) == c.Version {
			c.Approval = &Approval{By: a.Moderator, At: a.At.UTC(), Version: int(a.Version)}
		}
	}

	for _, s := range subs {
		c.Submissions = append(c.Submissions, Submission{Route: s.Route, Key: s.Key, Attempt: int(s.Attempt),
			At: s.At.UTC(), Result: s.Result, Detail: s.Detail})
	}
	c.Status = StatusOpen
	if c.Approval != nil {
		c.Status = StatusApproved
		delivered := map[string]bool{}
		for _, s := range c.Submissions {
			if s.Key == Key(c.ID, c.Version) && s.Result == ResultDelivered {
				delivered[s.Route] = true
			}
		}
		all := len(routes) > 0
		for _, r := range routes {
			all = all && delivered[r]
		}
		if all {
			c.Status = StatusSubmitted
		}
	}
	c.evidence(ev)
	return c
}

// evidence fills the report's facts from the rows.
func (c *Case) evidence(ev store.Evidence) {
	tz := map[string]string{} // host -> zone, from its sessions
	reported := map[string]string{}
	for _, e := range c.Entities {
		if e.Kind == analyzer.KindHost || e.Kind == analyzer.KindAccount {
			reported[e.ID] = e.Kind
		}
	}
	sort.Slice(ev.Sessions, func(i, j int) bool { return ev.Sessions[i].Start.Before(ev.Sessions[j].Start) })
	nets, devs := map[string]*Seen{}, map[string]*Seen{}
	see := func(m map[string]*Seen, id, host string, first, last time.Time) {
		if id == "" {
			return
		}
		s := m[id]
		if s == nil {
			s = &Seen{ID: id, First: first.UTC(), Last: last.UTC()}
			m[id] = s
		}
		if first.Before(s.First) {
			s.First = first.UTC()
		}
		if last.After(s.Last) {
			s.Last = last.UTC()
		}
		s.Times++
		if host != "" && !contains(s.Hosts, host) {
			s.Hosts = append(s.Hosts, host)
		}
	}
	for _, s := range ev.Sessions {
		if s.TZ != "" {
			tz[s.HostID] = s.TZ
		}
		c.Streams = append(c.Streams, Stream{ID: s.StreamID, Host: s.HostID, Start: s.Start.UTC(), End: s.End.UTC(), TZ: s.TZ,
			StartLocal: local(s.Start, s.TZ), EndLocal: local(s.End, s.TZ), Minutes: s.Minutes, NightMinutes: s.NightMinutes,
			Network: s.Network, Device: s.DeviceID, Region: s.Region, Coins: s.Coins, ForeignCoins: s.ForeignCoins, Gifts: s.Gifts})
		see(nets, s.Network, s.HostID, s.Start, s.End)
		see(devs, s.DeviceID, s.HostID, s.Start, s.End)
	}
	sort.Slice(ev.Events, func(i, j int) bool { return ev.Events[i].At.Before(ev.Events[j].At) })
	accounts := map[string]*Account{}
	acct := func(kind, id string, at time.Time) {
		if id == "" {
			return
		}
		a := accounts[id]
		if a == nil {
			a = &Account{Kind: kind, ID: id}
			accounts[id] = a
		}
		if a.First.IsZero() || at.Before(a.First) {
			a.First = at.UTC()
		}
		if at.After(a.Last) {
			a.Last = at.UTC()
		}
	}
	for id, kind := range reported {
		accounts[id] = &Account{Kind: kind, ID: id}
	}
	for _, e := range ev.Events {
		if _, ok := reported[e.HostID]; ok {
			acct(reported[e.HostID], e.HostID, e.At)
		}
		if _, ok := reported[e.AccountID]; ok {
			acct(reported[e.AccountID], e.AccountID, e.At)
		}
		switch e.Type {
		case "stream.start":
			if e.TZ != "" && e.HostID != "" {
				tz[e.HostID] = e.TZ
			}
			see(nets, e.Network, e.HostID, e.At, e.At)
			see(devs, e.DeviceID, e.HostID, e.At, e.At)
		case "payout":
			from := e.HostID
			if from == "" {
				from = e.AccountID
			}
			c.Payouts = append(c.Payouts, Payout{At: e.At.UTC(), Local: local(e.At, tz[from]), From: from, To: e.Counterpart,
				Coins: e.Coins, Amount: e.Amount, Currency: e.Currency, Method: e.Method})
		case "post":
			who := e.AccountID
			if who == "" {
				who = e.HostID
			}
			if _, ok := reported[who]; !ok {
				continue // someone else's message to a reported host: not a cue of theirs
			}
			c.Recruitment = append(c.Recruitment, Cue{At: e.At.UTC(), Entity: who, Kind: "post:" + e.Kind, To: e.Counterpart})
		}
	}
	for _, s := range ev.Signals {
		if s.Detector != "recruitment" {
			continue
		}
		var fig map[string]any
		_ = json.Unmarshal([]byte(s.Evidence), &fig) // the store wrote it; empty if not
		c.Recruitment = append(c.Recruitment, Cue{At: s.At.UTC(), Entity: s.EntityKind + ":" + s.EntityID, Kind: "signal",
			Summary: s.Summary, Evidence: fig})
	}
	sort.SliceStable(c.Recruitment, func(i, j int) bool { return c.Recruitment[i].At.Before(c.Recruitment[j].At) })
	for _, a := range accounts {
		a.TZ = tz[a.ID]
		c.Accounts = append(c.Accounts, *a)
	}
	sort.Slice(c.Accounts, func(i, j int) bool {
		if c.Accounts[i].Kind != c.Accounts[j].Kind {
			return c.Accounts[i].Kind > c.Accounts[j].Kind // hosts first
		}
		return c.Accounts[i].ID < c.Accounts[j].ID
	})
	c.Networks, c.Devices = sorted(nets), sorted(devs)
	for _, e := range c.Entities { // named by the alert though the record has no row left
		switch e.Kind {
		case analyzer.KindNetwork:
			if nets[e.ID] == nil {
				c.Networks = append(c.Networks, Seen{ID: e.ID})
			}
		case analyzer.KindDevice:
			if devs[e.ID] == nil {
				c.Devices = append(c.Devices, Seen{ID: e.ID})
			}
		}
	}
}

func sorted(m map[string]*Seen) []Seen {
	out := make([]Seen, 0, len(m))
	for _, s := range m {
		sort.Strings(s.Hosts)
		out = append(out, *s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].First.Before(out[j].First) })
	return out
}

// local is t in the zone tz as "2006-01-02 15:04:05 MST", or "" when the zone
// is unknown.
func local(t time.Time, tz string) string {
	if tz == "" {
		return ""
	}
	loc, ok := zones.Load(tz)
	if !ok {
		l, err := time.LoadLocation(tz) // reads the embedded database: slow, so kept
		if err != nil {
			l = nil
		}
		if zoneCount.Add(1) <= maxZones {
			zones.Store(tz, l)
		}
		loc = l
	}
	if loc.(*time.Location) == nil {
		return ""
	}
	return t.In(loc.(*time.Location)).Format("2006-01-02 15:04:05 MST")
}

// zones caches loaded time zones by name (at most maxZones names, bad ones
// too, as nil: a zone name comes from outside, in events).
var (
	zones     sync.Map
	zoneCount atomic.Int64
)

const maxZones = 1024

func contains(s []string, x string) bool {
	for _, y := range s {
		if y == x {
			return true
		}
	}
	return false
}

// Key is the idempotency key of a case version: a route never takes one key
// twice.
func Key(caseID string, version int) string {
	return caseID + "-v" + strconv.Itoa(version)
}
