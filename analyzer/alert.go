package analyzer

import (
	"encoding/json"
	"fmt"
	"time"
)

// Severity orders alerts for moderators. It rises with converging evidence from
// several detector families, never with the loudness of one signal.
type Severity uint8

// Severities of the contract, lowest first. SeverityNone is below every alert.
const (
	SeverityNone Severity = iota
	SeverityLow
	SeverityMedium
	SeverityHigh
	SeverityCritical
)

var severityNames = [...]string{"none", "low", "medium", "high", "critical"}

func (s Severity) String() string {
	if int(s) < len(severityNames) {
		return severityNames[s]
	}
	return "none"
}

// ParseSeverity reads a contract severity name.
func ParseSeverity(s string) (Severity, error) {
	for i, n := range severityNames {
		if n == s {
			return Severity(i), nil
		}
	}
	return SeverityNone, fmt.Errorf("unknown severity %q (want low, medium, high or critical)", s)
}

// MarshalText writes the contract name.
func (s Severity) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText reads the contract name.
func (s *Severity) UnmarshalText(b []byte) error {
	v, err := ParseSeverity(string(b))
	if err != nil {
		return err
	}
	*s = v
	return nil
}

// Entity kinds named in alerts and signals. The contract's subject kinds are host,
// account, stream and location; entities may also be devices and networks.
const (
	KindHost     = "host"
	KindAccount  = "account"
	KindStream   = "stream"
	KindDevice   = "device"
	KindLocation = "location"
	KindNetwork  = "network"
)

// EntityRef names one entity.
type EntityRef struct {
	Kind string `json:"kind"`
	ID   string `json:"id"`
}

// Reason is one detector family's contribution to an alert.
type Reason struct {
	Detector string  `json:"detector"`
	Score    float64 `json:"score"`
	// Summary is one plain sentence a moderator reads, with its figures.
	Summary string `json:"summary"`
	// Evidence holds the figures behind the summary, by name.
	Evidence map[string]any `json:"evidence"`
}

// Alert is the contract's alert object: what replay writes, one per line, and what
// the moderators' websocket sends.
type Alert struct {
	ID       string      `json:"id"`
	At       time.Time   `json:"at"`
	Severity Severity    `json:"severity"`
	Score    float64     `json:"score"`
	Subject  EntityRef   `json:"subject"`
	Entities []EntityRef `json:"entities"`
	Reasons  []Reason    `json:"reasons"`
	Updates  int         `json:"updates"`
	// MergedInto, when set, says this alert's cluster joined another alert's; the
	// moderator follows that one. An extension of contract version 1.
	MergedInto string `json:"merged_into,omitempty"`
}

// MarshalJSON writes At as RFC 3339 in UTC, as the contract asks.
func (a Alert) MarshalJSON() ([]byte, error) {
	type plain Alert
	return json.Marshal(struct {
		plain
		At string `json:"at"`
	}{plain(a), a.At.UTC().Format(time.RFC3339)})
}

// Signal is one detector's finding about one entity: the unit analysts count in
// ClickHouse. Alerts are built from signals over linked entities.
type Signal struct {
	At       time.Time
	Detector string
	Entity   EntityRef
	Score    float64
	Summary  string
	Evidence map[string]any
}

// Session is one ended broadcast, for analysts' trend tables: when, where
// (coarsened), for how long, at night or not, and the money it drew.
type Session struct {
	StreamID, HostID string
	Start, End       time.Time
	// Minutes and NightMinutes are in the host's local time.
	Minutes, NightMinutes int
	// Device is the device id; Cell a location cell (geohash); Network an address
	// prefix. Empty when the event did not carry them.
	Device, Cell, Network string
	TZ                    string
	Coins, ForeignCoins   int64
	Gifts                 int
	Heartbeats, Private   int
	DirectedGifts         int
}
