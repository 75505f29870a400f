// Package wire is what both ends of Ronda's intake agree on: the paths, the
// limits and ids of the websocket protocol (../PROTOCOL.md), its messages,
// the answer to a batch, and the request signature. The server
// (sidecar/intake) and the websocket client (sidecar/forward) share it so
// that neither imports the other.
//
// It holds types, constants and pure functions only: no I/O, no state, no
// metrics. A change here is a change of the wire format.
package wire

import (
	"crypto/rand"
	"encoding/hex"
	"time"
)

// Where the intakes are mounted: POST batches at Path, the websocket at
// WSPath.
const (
	Path   = "/v1/events"
	WSPath = "/v1/events/ws"
)

// Limits of the protocol.
const (
	// MaxWSParamBytes bounds the sender, session and nonce of a handshake.
	MaxWSParamBytes = 64
	// MinKeyBytes is the shortest secret accepted: shorter keys can be guessed.
	MinKeyBytes = 16
	// DefaultPingInterval is how often a server pings a socket unless
	// configured otherwise; a client that was not told (a hello without
	// ping_interval_ms) assumes it.
	DefaultPingInterval = 20 * time.Second
)

// Answer is the body of a 200 response to a POST, and the counts of a
// websocket ack: what became of each line.
type Answer struct {
	Accepted   int        `json:"accepted"`
	Duplicates []string   `json:"duplicates"`
	Rejected   []Rejected `json:"rejected"`
	Unknown    int        `json:"unknown"`
}

// Rejected is one line that gave no event.
type Rejected struct {
	Line   int    `json:"line"`
	ID     string `json:"id,omitempty"`
	Field  string `json:"field,omitempty"`
	Reason string `json:"reason"`
}

// ErrorBody is the body of every non-200 response, a refused websocket
// handshake's included.
type ErrorBody struct {
	Error string `json:"error"`
}

// NewID is a random session id or nonce: 32 hex digits, a valid parameter.
func NewID() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand)
	return hex.EncodeToString(b[:])
}

// ValidID reports whether v is a short printable id: 1 to MaxWSParamBytes
// of [A-Za-z0-9._-], safe in logs, URLs and file names.
func ValidID(v string) bool {
	if v == "" || len(v) > MaxWSParamBytes {
		return false
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}
