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
	"github.com/ronda-watch/ronda/analyzer/text"
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
// column list. The Writer does not use values (one []any per row): it appends
// rows to a colBuf of the table (the row type's appendTo) and sends whole
// columns; values serves reading back and checking that both orders agree.
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
	// Cues and Lang are what the analysts count of a post instead of its text:
	// the recruitment lures it carries (text.LureCues names) and its language
	// (text.Language). Empty on other events.
	Cues     []string  `json:"cues"`
	Lang     string    `json:"lang"`
	Ingested time.Time `json:"ingested"`
}

// EventColumns is the explicit column list of events, in Values order.
var EventColumns = []string{"day", "at", "id", "type", "node", "stream_id", "host_id", "account_id",
	"counterpart", "coins", "amount", "currency", "method", "country", "kind", "score", "device_id",
	"cell", "network", "tz", "private", "viewers", "cues", "lang", "ingested"}

func (r *EventRow) table() string { return TableEvents }
func (r *EventRow) values() []any {
	return []any{r.Day, r.At, r.ID, r.Type, r.Node, r.StreamID, r.HostID, r.AccountID, r.Counterpart,
		r.Coins, r.Amount, r.Currency, r.Method, r.Country, r.Kind, r.Score, r.DeviceID, r.Cell,
		r.Network, r.TZ, r.Private, r.Viewers, r.Cues, r.Lang, r.Ingested}
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
		StreamID: ev.StreamID, HostID: ev.HostID, AccountID: ev.AccountID, Cues: []string{},
		Ingested: second(ingested),
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
		if lures := text.ParseRecruitment(ev.Text).Lures; len(lures) > 0 {
			r.Cues = lures
		}
		r.Lang = text.Language(ev.Text)
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

// colBuf holds one batch of one table column by column, as typed slices that
// the driver appends whole (batch.Column(i).Append). It is reused between
// batches: reset keeps the capacity.
type colBuf interface {
	add(Row)        // appends the row's fields; the row must be the table's type
	columns() []any // the slices, in the table's column order
	len() int
	reset()
}

func newColBuf(t string) colBuf {
	switch t {
	case TableEvents:
		return &eventCols{}
	case TableSignals:
		return &signalCols{}
	case TableSessions:
		return &sessionCols{}
	case TableAlerts:
		return &alertCols{}
	case TableActions:
		return &actionCols{}
	}
	panic("store: no column buffer for table " + t)
}

// trunc empties a column, keeping its capacity and dropping references.
func trunc[T any](s *[]T) {
	clear(*s)
	*s = (*s)[:0]
}

type eventCols struct {
	day, at, ingested                            []time.Time
	id, typ, node, streamID, hostID, accountID   []string
	counterpart, currency, method, country, kind []string
	deviceID, cell, network, tz                  []string
	coins                                        []int64
	amount, score                                []float64
	private                                      []uint8
	viewers                                      []uint32
	cues                                         [][]string
	lang                                         []string
}

func (r *EventRow) appendTo(c *eventCols) {
	c.day, c.at, c.id, c.typ = append(c.day, r.Day), append(c.at, r.At), append(c.id, r.ID), append(c.typ, r.Type)
	c.node, c.streamID, c.hostID = append(c.node, r.Node), append(c.streamID, r.StreamID), append(c.hostID, r.HostID)
	c.accountID, c.counterpart = append(c.accountID, r.AccountID), append(c.counterpart, r.Counterpart)
	c.coins, c.amount, c.currency = append(c.coins, r.Coins), append(c.amount, r.Amount), append(c.currency, r.Currency)
	c.method, c.country, c.kind = append(c.method, r.Method), append(c.country, r.Country), append(c.kind, r.Kind)
	c.score, c.deviceID, c.cell = append(c.score, r.Score), append(c.deviceID, r.DeviceID), append(c.cell, r.Cell)
	c.network, c.tz, c.private = append(c.network, r.Network), append(c.tz, r.TZ), append(c.private, r.Private)
	c.viewers, c.ingested = append(c.viewers, r.Viewers), append(c.ingested, r.Ingested)
	c.cues, c.lang = append(c.cues, r.Cues), append(c.lang, r.Lang)
}

func (c *eventCols) add(r Row) { r.(*EventRow).appendTo(c) }
func (c *eventCols) len() int  { return len(c.id) }
func (c *eventCols) columns() []any {
	return []any{c.day, c.at, c.id, c.typ, c.node, c.streamID, c.hostID, c.accountID, c.counterpart,
		c.coins, c.amount, c.currency, c.method, c.country, c.kind, c.score, c.deviceID, c.cell,
		c.network, c.tz, c.private, c.viewers, c.cues, c.lang, c.ingested}
}
func (c *eventCols) reset() {
	for _, s := range []*[]time.Time{&c.day, &c.at, &c.ingested} {
		trunc(s)
	}
	for _, s := range []*[]string{&c.id, &c.typ, &c.node, &c.streamID, &c.hostID, &c.accountID, &c.counterpart,
		&c.currency, &c.method, &c.country, &c.kind, &c.deviceID, &c.cell, &c.network, &c.tz, &c.lang} {
		trunc(s)
	}
	trunc(&c.coins)
	trunc(&c.amount)
	trunc(&c.score)
	trunc(&c.private)
	trunc(&c.viewers)
	trunc(&c.cues)
}

type signalCols struct {
	day, at, ingested                                 []time.Time
	detector, entityKind, entityID, summary, evidence []string
	score                                             []float64
}

func (r *SignalRow) appendTo(c *signalCols) {
	c.day, c.at, c.detector = append(c.day, r.Day), append(c.at, r.At), append(c.detector, r.Detector)
	c.entityKind, c.entityID, c.score = append(c.entityKind, r.EntityKind), append(c.entityID, r.EntityID), append(c.score, r.Score)
	c.summary, c.evidence, c.ingested = append(c.summary, r.Summary), append(c.evidence, r.Evidence), append(c.ingested, r.Ingested)
}

func (c *signalCols) add(r Row) { r.(*SignalRow).appendTo(c) }
func (c *signalCols) len() int  { return len(c.day) }
func (c *signalCols) columns() []any {
	return []any{c.day, c.at, c.detector, c.entityKind, c.entityID, c.score, c.summary, c.evidence, c.ingested}
}
func (c *signalCols) reset() {
	for _, s := range []*[]time.Time{&c.day, &c.at, &c.ingested} {
		trunc(s)
	}
	for _, s := range []*[]string{&c.detector, &c.entityKind, &c.entityID, &c.summary, &c.evidence} {
		trunc(s)
	}
	trunc(&c.score)
}

type sessionCols struct {
	day, start, end, ingested                                        []time.Time
	streamID, hostID, deviceID, cell, region, network, tz            []string
	minutes, nightMinutes, gifts, heartbeats, privateBeats, directed []uint32
	coins, foreignCoins                                              []int64
}

func (r *SessionRow) appendTo(c *sessionCols) {
	c.day, c.start, c.end = append(c.day, r.Day), append(c.start, r.Start), append(c.end, r.End)
	c.streamID, c.hostID, c.minutes = append(c.streamID, r.StreamID), append(c.hostID, r.HostID), append(c.minutes, r.Minutes)
	c.nightMinutes, c.deviceID, c.cell = append(c.nightMinutes, r.NightMinutes), append(c.deviceID, r.DeviceID), append(c.cell, r.Cell)
	c.region, c.network, c.tz = append(c.region, r.Region), append(c.network, r.Network), append(c.tz, r.TZ)
	c.coins, c.foreignCoins, c.gifts = append(c.coins, r.Coins), append(c.foreignCoins, r.ForeignCoins), append(c.gifts, r.Gifts)
	c.heartbeats, c.privateBeats = append(c.heartbeats, r.Heartbeats), append(c.privateBeats, r.PrivateBeats)
	c.directed, c.ingested = append(c.directed, r.DirectedGifts), append(c.ingested, r.Ingested)
}

func (c *sessionCols) add(r Row) { r.(*SessionRow).appendTo(c) }
func (c *sessionCols) len() int  { return len(c.day) }
func (c *sessionCols) columns() []any {
	return []any{c.day, c.start, c.end, c.streamID, c.hostID, c.minutes, c.nightMinutes, c.deviceID,
		c.cell, c.region, c.network, c.tz, c.coins, c.foreignCoins, c.gifts, c.heartbeats,
		c.privateBeats, c.directed, c.ingested}
}
func (c *sessionCols) reset() {
	for _, s := range []*[]time.Time{&c.day, &c.start, &c.end, &c.ingested} {
		trunc(s)
	}
	for _, s := range []*[]string{&c.streamID, &c.hostID, &c.deviceID, &c.cell, &c.region, &c.network, &c.tz} {
		trunc(s)
	}
	for _, s := range []*[]uint32{&c.minutes, &c.nightMinutes, &c.gifts, &c.heartbeats, &c.privateBeats, &c.directed} {
		trunc(s)
	}
	trunc(&c.coins)
	trunc(&c.foreignCoins)
}

type alertCols struct {
	day, at, ingested                                         []time.Time
	id, severity, subjectKind, subjectID, reasons, mergedInto []string
	updates                                                   []uint32
	severityRank                                              []uint8
	score                                                     []float64
	entities, hosts, accounts, detectors                      [][]string
}

func (r *AlertRow) appendTo(c *alertCols) {
	c.day, c.at, c.id, c.updates = append(c.day, r.Day), append(c.at, r.At), append(c.id, r.ID), append(c.updates, r.Updates)
	c.severity, c.severityRank, c.score = append(c.severity, r.Severity), append(c.severityRank, r.SeverityRank), append(c.score, r.Score)
	c.subjectKind, c.subjectID = append(c.subjectKind, r.SubjectKind), append(c.subjectID, r.SubjectID)
	c.entities, c.hosts = append(c.entities, r.Entities), append(c.hosts, r.Hosts)
	c.accounts, c.detectors = append(c.accounts, r.Accounts), append(c.detectors, r.Detectors)
	c.reasons, c.mergedInto, c.ingested = append(c.reasons, r.Reasons), append(c.mergedInto, r.MergedInto), append(c.ingested, r.Ingested)
}

func (c *alertCols) add(r Row) { r.(*AlertRow).appendTo(c) }
func (c *alertCols) len() int  { return len(c.day) }
func (c *alertCols) columns() []any {
	return []any{c.day, c.at, c.id, c.updates, c.severity, c.severityRank, c.score, c.subjectKind,
		c.subjectID, c.entities, c.hosts, c.accounts, c.detectors, c.reasons, c.mergedInto, c.ingested}
}
func (c *alertCols) reset() {
	for _, s := range []*[]time.Time{&c.day, &c.at, &c.ingested} {
		trunc(s)
	}
	for _, s := range []*[]string{&c.id, &c.severity, &c.subjectKind, &c.subjectID, &c.reasons, &c.mergedInto} {
		trunc(s)
	}
	for _, s := range []*[][]string{&c.entities, &c.hosts, &c.accounts, &c.detectors} {
		trunc(s)
	}
	trunc(&c.updates)
	trunc(&c.severityRank)
	trunc(&c.score)
}

type actionCols struct {
	day, at, ingested                                          []time.Time
	actionID, alertID, moderator, action, target, reason, note []string
}

func (r *ActionRow) appendTo(c *actionCols) {
	c.day, c.at, c.actionID = append(c.day, r.Day), append(c.at, r.At), append(c.actionID, r.ActionID)
	c.alertID, c.moderator, c.action = append(c.alertID, r.AlertID), append(c.moderator, r.Moderator), append(c.action, r.Action)
	c.target, c.reason, c.note = append(c.target, r.Target), append(c.reason, r.Reason), append(c.note, r.Note)
	c.ingested = append(c.ingested, r.Ingested)
}

func (c *actionCols) add(r Row) { r.(*ActionRow).appendTo(c) }
func (c *actionCols) len() int  { return len(c.day) }
func (c *actionCols) columns() []any {
	return []any{c.day, c.at, c.actionID, c.alertID, c.moderator, c.action, c.target, c.reason, c.note, c.ingested}
}
func (c *actionCols) reset() {
	for _, s := range []*[]time.Time{&c.day, &c.at, &c.ingested} {
		trunc(s)
	}
	for _, s := range []*[]string{&c.actionID, &c.alertID, &c.moderator, &c.action, &c.target, &c.reason, &c.note} {
		trunc(s)
	}
}
