package store

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/netip"
	"strings"
	"time"

	"github.com/mmcloughlin/geohash"

	"github.com/ronda-watch/ronda/analyzer"
	"github.com/ronda-watch/ronda/analyzer/event"
)

// Table names. In cluster mode these are the Distributed tables and the data
// lives in the same names with the "_local" suffix on each shard.
const (
	TableEvents   = "events"
	TableSignals  = "signals"
	TableSessions = "stream_sessions"
	TableAlerts   = "alerts"
	TableActions  = "actions"
)

// Row is one row of one table, with its values in the order of the table's
// column list.
type Row interface {
	table() string
	values() []any
}

// EventRow is a normalised event worth keeping. It holds no chat or post text,
// no viewer id in the clear (Counterpart of a gift is an HMAC pseudonym), no full
// address (Network is the prefix) and no coordinates (Cell is a geohash cell).
type EventRow struct {
	Day         time.Time `json:"day"`
	At          time.Time `json:"at"`
	ID          string    `json:"id"`
	Type        string    `json:"type"`
	Node        string    `json:"node"`
	StreamID    string    `json:"stream_id"`
	HostID      string    `json:"host_id"`
	AccountID   string    `json:"account_id"`
	Counterpart string    `json:"counterpart"`
	Coins       int64     `json:"coins"`
	Amount      float64   `json:"amount"`
	Currency    string    `json:"currency"`
	Method      string    `json:"method"`
	Country     string    `json:"country"`
	Kind        string    `json:"kind"`
	Score       float64   `json:"score"`
	DeviceID    string    `json:"device_id"`
	Cell        string    `json:"cell"`
	Network     string    `json:"network"`
	TZ          string    `json:"tz"`
	Private     uint8     `json:"private"`
	Viewers     uint32    `json:"viewers"`
	Ingested    time.Time `json:"ingested"`
}

// EventColumns is the explicit column list of events, in Values order.
var EventColumns = []string{"day", "at", "id", "type", "node", "stream_id", "host_id", "account_id",
	"counterpart", "coins", "amount", "currency", "method", "country", "kind", "score", "device_id",
	"cell", "network", "tz", "private", "viewers", "ingested"}

func (r *EventRow) table() string { return TableEvents }
func (r *EventRow) values() []any {
	return []any{r.Day, r.At, r.ID, r.Type, r.Node, r.StreamID, r.HostID, r.AccountID, r.Counterpart,
		r.Coins, r.Amount, r.Currency, r.Method, r.Country, r.Kind, r.Score, r.DeviceID, r.Cell,
		r.Network, r.TZ, r.Private, r.Viewers, r.Ingested}
}

// SignalRow is one analyzer.Signal.
type SignalRow struct {
	Day        time.Time `json:"day"`
	At         time.Time `json:"at"`
	Detector   string    `json:"detector"`
	EntityKind string    `json:"entity_kind"`
	EntityID   string    `json:"entity_id"`
	Score      float64   `json:"score"`
	Summary    string    `json:"summary"`
	Evidence   string    `json:"evidence"`
	Ingested   time.Time `json:"ingested"`
}

// SignalColumns is the explicit column list of signals.
var SignalColumns = []string{"day", "at", "detector", "entity_kind", "entity_id", "score", "summary", "evidence", "ingested"}

func (r *SignalRow) table() string { return TableSignals }
func (r *SignalRow) values() []any {
	return []any{r.Day, r.At, r.Detector, r.EntityKind, r.EntityID, r.Score, r.Summary, r.Evidence, r.Ingested}
}

// SessionRow is one ended broadcast (analyzer.Session).
type SessionRow struct {
	Day           time.Time `json:"day"`
	Start         time.Time `json:"start"`
	End           time.Time `json:"end"`
	StreamID      string    `json:"stream_id"`
	HostID        string    `json:"host_id"`
	Minutes       uint32    `json:"minutes"`
	NightMinutes  uint32    `json:"night_minutes"`
	DeviceID      string    `json:"device_id"`
	Cell          string    `json:"cell"`
	Region        string    `json:"region"`
	Network       string    `json:"network"`
	TZ            string    `json:"tz"`
	Coins         int64     `json:"coins"`
	ForeignCoins  int64     `json:"foreign_coins"`
	Gifts         uint32    `json:"gifts"`
	Heartbeats    uint32    `json:"heartbeats"`
	PrivateBeats  uint32    `json:"private_beats"`
	DirectedGifts uint32    `json:"directed_gifts"`
	Ingested      time.Time `json:"ingested"`
}

// SessionColumns is the explicit column list of stream_sessions.
var SessionColumns = []string{"day", "start", "end", "stream_id", "host_id", "minutes", "night_minutes",
	"device_id", "cell", "region", "network", "tz", "coins", "foreign_coins", "gifts", "heartbeats",
	"private_beats", "directed_gifts", "ingested"}

func (r *SessionRow) table() string { return TableSessions }
func (r *SessionRow) values() []any {
	return []any{r.Day, r.Start, r.End, r.StreamID, r.HostID, r.Minutes, r.NightMinutes, r.DeviceID,
		r.Cell, r.Region, r.Network, r.TZ, r.Coins, r.ForeignCoins, r.Gifts, r.Heartbeats,
		r.PrivateBeats, r.DirectedGifts, r.Ingested}
}

// AlertRow is one version of an analyzer.Alert; (id, updates) is its key.
type AlertRow struct {
	Day          time.Time `json:"day"`
	At           time.Time `json:"at"`
	ID           string    `json:"id"`
	Updates      uint32    `json:"updates"`
	Severity     string    `json:"severity"`
	SeverityRank uint8     `json:"severity_rank"`
	Score        float64   `json:"score"`
	SubjectKind  string    `json:"subject_kind"`
	SubjectID    string    `json:"subject_id"`
	Entities     []string  `json:"entities"`
	Hosts        []string  `json:"hosts"`
	Accounts     []string  `json:"accounts"`
	Detectors    []string  `json:"detectors"`
	Reasons      string    `json:"reasons"`
	MergedInto   string    `json:"merged_into"`
	Ingested     time.Time `json:"ingested"`
}

// AlertColumns is the explicit column list of alerts.
var AlertColumns = []string{"day", "at", "id", "updates", "severity", "severity_rank", "score",
	"subject_kind", "subject_id", "entities", "hosts", "accounts", "detectors", "reasons", "merged_into", "ingested"}

func (r *AlertRow) table() string { return TableAlerts }
func (r *AlertRow) values() []any {
	return []any{r.Day, r.At, r.ID, r.Updates, r.Severity, r.SeverityRank, r.Score, r.SubjectKind,
		r.SubjectID, r.Entities, r.Hosts, r.Accounts, r.Detectors, r.Reasons, r.MergedInto, r.Ingested}
}

// ActionRow is one moderator action: the audit trail. ActionID is its key.
type ActionRow struct {
	Day       time.Time `json:"day"`
	At        time.Time `json:"at"`
	ActionID  string    `json:"action_id"`
	AlertID   string    `json:"alert_id"`
	Moderator string    `json:"moderator"`
	Action    string    `json:"action"`
	Target    string    `json:"target"`
	Reason    string    `json:"reason"`
	Note      string    `json:"note"`
	Ingested  time.Time `json:"ingested"`
}

// ActionColumns is the explicit column list of actions.
var ActionColumns = []string{"day", "at", "action_id", "alert_id", "moderator", "action", "target", "reason", "note", "ingested"}

func (r *ActionRow) table() string { return TableActions }
func (r *ActionRow) values() []any {
	return []any{r.Day, r.At, r.ActionID, r.AlertID, r.Moderator, r.Action, r.Target, r.Reason, r.Note, r.Ingested}
}

// columnsOf gives each table's column list.
var columnsOf = map[string][]string{
	TableEvents:   EventColumns,
	TableSignals:  SignalColumns,
	TableSessions: SessionColumns,
	TableAlerts:   AlertColumns,
	TableActions:  ActionColumns,
}

// second truncates to what a DateTime column keeps, in UTC.
func second(t time.Time) time.Time {
	if t.IsZero() {
		return time.Unix(0, 0).UTC()
	}
	return t.UTC().Truncate(time.Second)
}

// dayOf is the UTC date of t, as a Date column keeps it.
func dayOf(t time.Time) time.Time {
	t = second(t)
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
}

// Pseudonymizer turns personal fields into what the store may keep.
type Pseudonymizer struct {
	// Key is the HMAC-SHA256 key for viewer pseudonyms, from config. Without a
	// key, viewer ids are not kept at all.
	Key []byte
	// CellPrecision is the geohash length of a place (default 7, about 150 m).
	CellPrecision int
	// IPv4Prefix and IPv6Prefix coarsen addresses (defaults 24 and 48).
	IPv4Prefix, IPv6Prefix int
}

// Pseudonym is HMAC-SHA256(key, id) truncated to 16 hex digits; "" without a key
// or an id.
func (p Pseudonymizer) Pseudonym(id string) string {
	if id == "" || len(p.Key) == 0 {
		return ""
	}
	m := hmac.New(sha256.New, p.Key)
	m.Write([]byte(id))
	return hex.EncodeToString(m.Sum(nil)[:8])
}

// Prefix coarsens an address to its network prefix; "" when it is not one.
func (p Pseudonymizer) Prefix(ip string) string {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return ""
	}
	bits := p.IPv4Prefix
	if bits == 0 {
		bits = 24
	}
	if a.Is6() && !a.Is4In6() {
		bits = p.IPv6Prefix
		if bits == 0 {
			bits = 48
		}
	} else {
		a = a.Unmap()
	}
	pr, err := a.Prefix(bits)
	if err != nil {
		return ""
	}
	return pr.String()
}

// Cell is the geohash cell of a location; "" without one.
func (p Pseudonymizer) Cell(g *event.Geo) string {
	if g == nil {
		return ""
	}
	n := p.CellPrecision
	if n == 0 {
		n = 7
	}
	return geohash.EncodeWithPrecision(g.Lat, g.Lon, uint(n))
}

// Keep reports whether an event type is worth a row: stream starts and ends,
// gifts, posts (their kind, not their text), links, payouts and classifier
// signals. Chat (text) and heartbeats (many, summed up in stream_sessions) are not.
func Keep(t event.Type) bool {
	switch t {
	case event.TypeStreamStart, event.TypeStreamEnd, event.TypeGift, event.TypePost,
		event.TypeLink, event.TypePayout, event.TypeSignal:
		return true
	}
	return false
}

// NewEventRow normalises an event into a row. It never copies text.
func (p Pseudonymizer) NewEventRow(ev *event.Event, ingested time.Time) EventRow {
	r := EventRow{
		Day: dayOf(ev.At), At: second(ev.At), ID: ev.ID, Type: ev.Type.String(), Node: ev.Node,
		StreamID: ev.StreamID, HostID: ev.HostID, AccountID: ev.AccountID, Ingested: second(ingested),
	}
	if ev.Type == event.TypeUnknown {
		r.Type = ev.TypeName
	}
	switch ev.Type {
	case event.TypeStreamStart:
		r.DeviceID, r.Cell, r.Network, r.TZ = ev.DeviceID, p.Cell(ev.Geo), p.Prefix(ev.IP), ev.TZ
		r.Counterpart = ev.AgencyID
	case event.TypeStreamHeartbeat:
		r.Viewers = uint32(max(ev.Viewers, 0))
		if ev.Private {
			r.Private = 1
		}
	case event.TypeStreamEnd:
		r.Kind = ev.Reason
	case event.TypeGift, event.TypeChat:
		r.Counterpart = p.Pseudonym(ev.SenderID)
		r.Coins, r.Kind, r.Country = ev.Coins, ev.Gift, ev.SenderCountry
	case event.TypePost:
		r.Kind, r.Counterpart = ev.Kind, ev.ToID
	case event.TypeLink:
		r.AccountID, r.Counterpart, r.Kind = ev.FromID, ev.ToID, ev.Rel
	case event.TypePayout:
		r.Counterpart, r.Coins, r.Amount, r.Currency, r.Method = ev.ToAccount, ev.Coins, ev.Amount, ev.Currency, ev.Method
	case event.TypeSignal:
		r.Kind, r.Score, r.Counterpart = ev.Label, ev.Score, ev.ToID
		if r.Kind == "" {
			r.Kind = ev.Kind
		}
	}
	return r
}

// NewSignalRow converts a detector's signal.
func NewSignalRow(s analyzer.Signal, ingested time.Time) SignalRow {
	ev := "{}"
	if len(s.Evidence) > 0 {
		if b, err := json.Marshal(s.Evidence); err == nil {
			ev = string(b)
		}
	}
	return SignalRow{
		Day: dayOf(s.At), At: second(s.At), Detector: s.Detector, EntityKind: s.Entity.Kind,
		EntityID: s.Entity.ID, Score: s.Score, Summary: s.Summary, Evidence: ev, Ingested: second(ingested),
	}
}

// Region is the coarse area of a cell: its first 4 geohash characters (about
// 20 km); "" without a cell.
func Region(cell string) string {
	if len(cell) < 4 {
		return cell
	}
	return cell[:4]
}

// NewSessionRow converts an ended broadcast.
func NewSessionRow(s analyzer.Session, ingested time.Time) SessionRow {
	u := func(n int) uint32 { return uint32(max(n, 0)) }
	return SessionRow{
		Day: dayOf(s.Start), Start: second(s.Start), End: second(s.End), StreamID: s.StreamID,
		HostID: s.HostID, Minutes: u(s.Minutes), NightMinutes: u(s.NightMinutes), DeviceID: s.Device,
		Cell: s.Cell, Region: Region(s.Cell), Network: s.Network, TZ: s.TZ, Coins: s.Coins,
		ForeignCoins: s.ForeignCoins, Gifts: u(s.Gifts), Heartbeats: u(s.Heartbeats),
		PrivateBeats: u(s.Private), DirectedGifts: u(s.DirectedGifts), Ingested: second(ingested),
	}
}

// NewAlertRow converts one alert version.
func NewAlertRow(a analyzer.Alert, ingested time.Time) AlertRow {
	r := AlertRow{
		Day: dayOf(a.At), At: second(a.At), ID: a.ID, Updates: uint32(max(a.Updates, 0)),
		Severity: a.Severity.String(), SeverityRank: uint8(a.Severity), Score: a.Score,
		SubjectKind: a.Subject.Kind, SubjectID: a.Subject.ID, MergedInto: a.MergedInto,
		Entities: []string{}, Hosts: []string{}, Accounts: []string{}, Detectors: []string{},
		Reasons: "[]", Ingested: second(ingested),
	}
	for _, e := range a.Entities {
		r.Entities = append(r.Entities, e.Kind+":"+e.ID)
		switch e.Kind {
		case analyzer.KindHost:
			r.Hosts = append(r.Hosts, e.ID)
		case analyzer.KindAccount:
			r.Accounts = append(r.Accounts, e.ID)
		}
	}
	seen := map[string]bool{}
	for _, rs := range a.Reasons {
		if !seen[rs.Detector] {
			seen[rs.Detector] = true
			r.Detectors = append(r.Detectors, rs.Detector)
		}
	}
	if len(a.Reasons) > 0 {
		if b, err := json.Marshal(a.Reasons); err == nil {
			r.Reasons = string(b)
		}
	}
	return r
}

// NewActionRow fills the derived fields of an action: day and second precision.
func NewActionRow(r ActionRow, ingested time.Time) ActionRow {
	r.Day, r.At, r.Ingested = dayOf(r.At), second(r.At), second(ingested)
	return r
}

// quoteIdent quotes a ClickHouse identifier.
func quoteIdent(s string) string { return "`" + strings.ReplaceAll(s, "`", "``") + "`" }
