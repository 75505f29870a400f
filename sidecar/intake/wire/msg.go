package wire

import (
	"encoding/json"
	"errors"
	"fmt"
)

// The message types of the websocket protocol.
const (
	MsgHello   = "hello"
	MsgAck     = "ack"
	MsgBusy    = "busy"
	MsgRefused = "refused"
	MsgError   = "error"
)

// Hello is the server's first message.
type Hello struct {
	Type    string `json:"type"`
	Session string `json:"session"`
	Acked   uint64 `json:"acked"`
	// The limits a sender must keep to: a batch of more lines or body
	// bytes is refused; one over the rate burst too.
	MaxBatchBytes  int64   `json:"max_batch_bytes"`
	MaxLines       int     `json:"max_lines"`
	RateEvents     float64 `json:"rate_events,omitempty"`
	RateBurst      int     `json:"rate_burst,omitempty"`
	PingIntervalMS int64   `json:"ping_interval_ms"`
}

// Ack answers a batch that was taken (or, with Already, had been).
type Ack struct {
	Type    string `json:"type"`
	Seq     uint64 `json:"seq"`
	Already bool   `json:"already,omitempty"`
	Answer
}

// Busy answers a batch of which nothing was taken.
type Busy struct {
	Type         string `json:"type"`
	Seq          uint64 `json:"seq"`
	RetryAfterMS int64  `json:"retry_after_ms"`
	Reason       string `json:"reason"`
}

// Refused answers a batch that can never pass; it counts as taken.
type Refused struct {
	Type   string `json:"type"`
	Seq    uint64 `json:"seq"`
	Status int    `json:"status"`
	Error  string `json:"error"`
}

// Error precedes the close of a socket that broke the protocol.
type Error struct {
	Type  string `json:"type"`
	Error string `json:"error"`
}

// ErrBatchHeader is a malformed batch header.
var ErrBatchHeader = errors.New("malformed batch header")

// ParseBatchHeader reads the header line of a batch, {"seq":N} with N >= 1.
// Other fields are ignored, for later versions.
func ParseBatchHeader(line []byte) (uint64, error) {
	var hdr struct {
		Seq *uint64 `json:"seq"`
	}
	if err := json.Unmarshal(line, &hdr); err != nil {
		return 0, fmt.Errorf("%w: want {\"seq\":N} on the first line: %v", ErrBatchHeader, err)
	}
	if hdr.Seq == nil || *hdr.Seq == 0 {
		return 0, fmt.Errorf("%w: seq must be an integer >= 1", ErrBatchHeader)
	}
	return *hdr.Seq, nil
}

// ServerMsg is any message of the server, decoded by ParseServerMsg.
type ServerMsg struct {
	Type string `json:"type"`
	Seq  uint64 `json:"seq"`

	// hello
	Session        string  `json:"session"`
	Acked          uint64  `json:"acked"`
	MaxBatchBytes  int64   `json:"max_batch_bytes"`
	MaxLines       int     `json:"max_lines"`
	RateEvents     float64 `json:"rate_events"`
	RateBurst      int     `json:"rate_burst"`
	PingIntervalMS int64   `json:"ping_interval_ms"`

	// ack
	Already    bool       `json:"already"`
	Accepted   int        `json:"accepted"`
	Duplicates []string   `json:"duplicates"`
	Rejected   []Rejected `json:"rejected"`
	Unknown    int        `json:"unknown"`

	// busy
	RetryAfterMS int64  `json:"retry_after_ms"`
	Reason       string `json:"reason"`

	// refused, error
	Status int    `json:"status"`
	Error  string `json:"error"`
}

// ParseServerMsg decodes and checks one message from the server.
func ParseServerMsg(b []byte) (ServerMsg, error) {
	var m ServerMsg
	if err := json.Unmarshal(b, &m); err != nil {
		return m, fmt.Errorf("server message: %w", err)
	}
	bad := func(what string) (ServerMsg, error) {
		return ServerMsg{}, fmt.Errorf("server message %q: %s", m.Type, what)
	}
	switch m.Type {
	case MsgHello:
		if m.MaxBatchBytes < 1 || m.MaxLines < 1 || m.RateBurst < 0 || m.PingIntervalMS < 0 {
			return bad("limits must be positive")
		}
	case MsgAck:
		if m.Seq == 0 || m.Accepted < 0 || m.Unknown < 0 {
			return bad("seq must be >= 1 and counts >= 0")
		}
	case MsgBusy:
		if m.Seq == 0 || m.RetryAfterMS < 0 {
			return bad("seq must be >= 1 and retry_after_ms >= 0")
		}
	case MsgRefused:
		if m.Seq == 0 {
			return bad("seq must be >= 1")
		}
	case MsgError:
	default:
		return bad("unknown type")
	}
	return m, nil
}
