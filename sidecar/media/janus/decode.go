package janus

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
)

// Decoders of what Janus answers. Each takes the bytes of one HTTP body (at
// most Config.MaxBodyBytes, enforced by the reader) and either returns the
// few fields the client uses or a clear error; nothing else is trusted.
// They are fuzzed in fuzz_test.go.

// message is one Janus API message: a request's answer (success, ack,
// error) or an event from the long poll (event, trickle, webrtcup, media,
// hangup, detached, slowlink, keepalive).
type message struct {
	Janus       string               `json:"janus"`
	Transaction string               `json:"transaction"`
	SessionID   uint64               `json:"session_id"`
	Sender      uint64               `json:"sender"`
	Data        *struct{ ID uint64 } `json:"data"`
	Error       *apiError            `json:"error"`
	Plugindata  *struct {
		Plugin string          `json:"plugin"`
		Data   json.RawMessage `json:"data"`
	} `json:"plugindata"`
	Jsep      *jsep           `json:"jsep"`
	Candidate json.RawMessage `json:"candidate"`
	Reason    string          `json:"reason"`
}

// jsep is a session description as Janus carries it.
type jsep struct {
	Type    string `json:"type"`
	SDP     string `json:"sdp"`
	Trickle *bool  `json:"trickle,omitempty"`
}

// apiError is Janus's error object; Code 458 means the session is gone
// (Janus restarted or timed the session out), 459 the handle.
type apiError struct {
	Code   int    `json:"code"`
	Reason string `json:"reason"`
}

func (e *apiError) Error() string { return fmt.Sprintf("janus error %d: %s", e.Code, e.Reason) }

// Janus API error codes the client branches on (janus/apierror.h).
const (
	codeSessionNotFound = 458
	codeHandleNotFound  = 459
)

// decodeMessage decodes one message and checks it has a janus kind.
func decodeMessage(b []byte) (message, error) {
	var m message
	if err := json.Unmarshal(b, &m); err != nil {
		return message{}, fmt.Errorf("decode janus message: %w", err)
	}
	if m.Janus == "" {
		return message{}, errors.New("decode janus message: no \"janus\" field")
	}
	if m.Jsep != nil && m.Jsep.Type != "offer" && m.Jsep.Type != "answer" {
		return message{}, fmt.Errorf("decode janus message: jsep type %q", m.Jsep.Type)
	}
	return m, nil
}

// decodeEvents decodes a long poll's answer: an array of messages (maxev >
// 1) or a single one.
func decodeEvents(b []byte) ([]message, error) {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '[' {
		var raws []json.RawMessage
		if err := json.Unmarshal(b, &raws); err != nil {
			return nil, fmt.Errorf("decode janus events: %w", err)
		}
		out := make([]message, 0, len(raws))
		for i, r := range raws {
			m, err := decodeMessage(r)
			if err != nil {
				return nil, fmt.Errorf("event %d: %w", i, err)
			}
			out = append(out, m)
		}
		return out, nil
	}
	m, err := decodeMessage(b)
	if err != nil {
		return nil, err
	}
	return []message{m}, nil
}

// videoroom is the VideoRoom plugin's data: its answer to list and
// listparticipants, and its events (attached, event, updated).
type videoroom struct {
	Videoroom string          `json:"videoroom"`
	ErrorCode int             `json:"error_code"`
	Error     string          `json:"error"`
	Room      json.RawMessage `json:"room"`
	List      []struct {
		Room       json.RawMessage `json:"room"`
		Publishers int             `json:"num_participants"`
	} `json:"list"`
	Participants []struct {
		ID        json.RawMessage `json:"id"`
		Display   string          `json:"display"`
		Publisher bool            `json:"publisher"`
	} `json:"participants"`
	Started string `json:"started"`
	Left    string `json:"left"`
}

// decodeVideoroom decodes the plugin data and turns a plugin error into an
// error.
func decodeVideoroom(b []byte) (videoroom, error) {
	var v videoroom
	if err := json.Unmarshal(b, &v); err != nil {
		return videoroom{}, fmt.Errorf("decode videoroom data: %w", err)
	}
	if v.Videoroom == "" {
		return videoroom{}, errors.New("decode videoroom data: no \"videoroom\" field")
	}
	if v.Videoroom == "event" && (v.ErrorCode != 0 || v.Error != "") {
		return videoroom{}, fmt.Errorf("videoroom error %d: %s", v.ErrorCode, v.Error)
	}
	return v, nil
}

// numericID reads a room or participant id. Janus uses numbers unless its
// VideoRoom runs with string_ids, which Ronda does not support: such an id is
// an error, and the room or participant is skipped.
func numericID(raw json.RawMessage) (uint64, error) {
	if len(raw) == 0 {
		return 0, errors.New("missing id")
	}
	n, err := strconv.ParseUint(string(raw), 10, 64)
	if err != nil || n == 0 {
		return 0, fmt.Errorf("id %.40s is not a positive integer (string_ids are not supported)", raw)
	}
	return n, nil
}

// decodeRooms reads the rooms of a list answer.
func decodeRooms(b []byte) ([]uint64, error) {
	v, err := decodeVideoroom(b)
	if err != nil {
		return nil, err
	}
	if v.Videoroom != "success" {
		return nil, fmt.Errorf("list: videoroom %q", v.Videoroom)
	}
	var rooms []uint64
	for _, r := range v.List {
		if id, err := numericID(r.Room); err == nil {
			rooms = append(rooms, id)
		}
	}
	return rooms, nil
}

// publisher is one publishing participant of a room.
type publisher struct {
	ID      uint64
	Display string
}

// decodePublishers reads the publishing participants of a listparticipants
// answer; participants that do not publish, or whose id is not numeric, are
// left out.
func decodePublishers(b []byte) ([]publisher, error) {
	v, err := decodeVideoroom(b)
	if err != nil {
		return nil, err
	}
	if v.Videoroom != "participants" {
		return nil, fmt.Errorf("listparticipants: videoroom %q", v.Videoroom)
	}
	var out []publisher
	for _, p := range v.Participants {
		if !p.Publisher {
			continue
		}
		id, err := numericID(p.ID)
		if err != nil {
			continue
		}
		out = append(out, publisher{ID: id, Display: p.Display})
	}
	return out, nil
}

// candidate is a trickled ICE candidate, or the end of Janus's candidates.
type candidate struct {
	SDPMid        *string `json:"sdpMid"`
	SDPMLineIndex *uint16 `json:"sdpMLineIndex"`
	Candidate     string  `json:"candidate"`
	Completed     bool    `json:"completed"`
}

// decodeCandidate reads a trickle event's candidate.
func decodeCandidate(b []byte) (candidate, error) {
	var c candidate
	if err := json.Unmarshal(b, &c); err != nil {
		return candidate{}, fmt.Errorf("decode candidate: %w", err)
	}
	if !c.Completed && c.Candidate == "" {
		return candidate{}, errors.New("decode candidate: neither candidate nor completed")
	}
	return c, nil
}
