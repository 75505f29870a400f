// Package event holds Ronda's event contract (../shared/spec/EVENTS.md, version 1)
// as Go types, and the decoding of outside input into them: one NDJSON line, a
// stream of lines (plain or gzip), duplicate suppression and event-time ordering.
//
// It is pure: no files, no network, no wall clock. Everything that reads from the
// outside world hands bytes to this package and gets events or precise errors back.
package event

import "time"

// Type is the event type of the contract, as a small enum so that the analyzer
// switches on an integer in its hot path. The wire name is kept in Event.TypeName.
type Type uint8

// The event types of contract version 1. TypeUnknown is a type the decoder does not
// know: counted and skipped, never fatal (forward compatibility).
const (
	TypeUnknown Type = iota
	TypeStreamStart
	TypeStreamHeartbeat
	TypeStreamEnd
	TypeGift
	TypeChat
	TypePost
	TypeLink
	TypePayout
	TypeSignal
	// TypeStreamWire is Ronda's own extension (README "Input and output"):
	// what the media tap saw of a broadcast on the wire (sidecar/media).
	TypeStreamWire
)

var typeNames = [...]string{
	TypeUnknown:         "unknown",
	TypeStreamStart:     "stream.start",
	TypeStreamHeartbeat: "stream.heartbeat",
	TypeStreamEnd:       "stream.end",
	TypeGift:            "gift",
	TypeChat:            "chat",
	TypePost:            "post",
	TypeLink:            "link",
	TypePayout:          "payout",
	TypeSignal:          "signal",
	TypeStreamWire:      "stream.wire",
}

func (t Type) String() string {
	if int(t) < len(typeNames) {
		return typeNames[t]
	}
	return "unknown"
}

// ParseType maps a wire name to a Type; unknown names give TypeUnknown.
func ParseType(s string) Type {
	for i, n := range typeNames {
		if i > 0 && n == s {
			return Type(i)
		}
	}
	return TypeUnknown
}

// Geo is a device location as the app reported it.
type Geo struct {
	Lat       float64 `json:"lat"`
	Lon       float64 `json:"lon"`
	AccuracyM float64 `json:"accuracy_m,omitempty"`
}

// HostFacts are account facts sent with stream.start.
type HostFacts struct {
	CreatedAt   time.Time `json:"created_at,omitzero"`
	BirthYear   int       `json:"birth_year,omitempty"`
	AgeVerified *bool     `json:"age_verified,omitempty"`
}

// Event is one event of any type. Fields that a type does not use stay zero.
// The JSON tags are the contract's names, so encoding an Event writes a valid line.
type Event struct {
	Type     Type      `json:"-"`
	TypeName string    `json:"type"`
	ID       string    `json:"id"`
	At       time.Time `json:"at"`
	Node     string    `json:"node,omitempty"`

	// stream.*, gift, chat
	StreamID string `json:"stream_id,omitempty"`
	HostID   string `json:"host_id,omitempty"`

	// stream.start
	Title    string     `json:"title,omitempty"`
	Tags     []string   `json:"tags,omitempty"`
	Category string     `json:"category,omitempty"`
	DeviceID string     `json:"device_id,omitempty"`
	IP       string     `json:"ip,omitempty"`
	Geo      *Geo       `json:"geo,omitempty"`
	TZ       string     `json:"tz,omitempty"`
	AgencyID string     `json:"agency_id,omitempty"`
	Host     *HostFacts `json:"host,omitempty"`

	// stream.heartbeat
	Viewers int  `json:"viewers,omitempty"`
	Private bool `json:"private,omitempty"`

	// stream.end
	Reason string `json:"reason,omitempty"`

	// gift, chat
	SenderID      string `json:"sender_id,omitempty"`
	Coins         int64  `json:"coins,omitempty"`
	Gift          string `json:"gift,omitempty"`
	SenderCountry string `json:"sender_country,omitempty"`
	// SenderTZ is the sender's IANA zone, when the app knows it (a compatible
	// extension of the contract: README, "Input and output").
	SenderTZ string `json:"sender_tz,omitempty"`

	// chat, post
	Text string `json:"text,omitempty"`

	// post, payout, signal
	AccountID string   `json:"account_id,omitempty"`
	Kind      string   `json:"kind,omitempty"`
	ToID      string   `json:"to_id,omitempty"`
	Links     []string `json:"links,omitempty"`

	// link
	FromID string `json:"from_id,omitempty"`
	Rel    string `json:"rel,omitempty"`

	// payout
	ToAccount string  `json:"to_account,omitempty"`
	Amount    float64 `json:"amount,omitempty"`
	Currency  string  `json:"currency,omitempty"`
	Method    string  `json:"method,omitempty"`

	// signal
	Source string  `json:"source,omitempty"`
	Label  string  `json:"label,omitempty"`
	Score  float64 `json:"score,omitempty"`

	// stream.wire (with stream_id and host_id)
	Phase   string     `json:"phase,omitempty"`
	Network string     `json:"network,omitempty"`
	Wire    *WireFacts `json:"facts,omitempty"`
}

// Limits a receiver enforces (EVENTS.md "Encoding").
const (
	MaxEventBytes = 64 << 10
	MaxTextBytes  = 8 << 10
	MaxIDBytes    = 128
)
