package hub

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"
	"unicode/utf8"

	"github.com/ronda-watch/ronda/analyzer"
)

// Message types the hub sends.
//
//	snapshot  {"type":"snapshot","seq":S,"alerts":[{"alert":{…},"state":{…}}]}
//	          the open alerts, on connect, or when ?since is out of the ring
//	          or falls out of it while the socket catches up
//	alert     {"type":"alert","seq":N,"alert":{…},"state":{…}}
//	action    {"type":"action","seq":N,"action":{…},"state":{…}}   another's action
//	ack       {"type":"ack","seq":N,"request_id":…,"action":{…},"state":{…}}
//	error     {"type":"error","seq":S,"request_id":…,"code":…,"message":…}
//	case      {"type":"case","seq":N,"case":{"case_id":…,"alert_id":…,"change":…,"status":…,"version":V,"by":…,"at":…}}
//	          a case changed (PublishCase): consoles read its file again;
//	          a lever's step on the case has "lever_id" and no status or
//	          version: consoles read the case's levers again
//
// alert, action and case messages own their seq (N); on resume they are replayed from
// the ring. An ack is the sender's copy of its action message (same N). On
// snapshot and error, seq is the last number the hub had given: the socket has
// everything up to it, save when the socket fell out of the ring while catching
// up: then its pending acks and errors come just before the snapshot that
// replaces what it missed. A client keeps the largest seq it saw and reconnects
// with ?since=that.

// outMsg is every message the hub sends.
type outMsg struct {
	Type      string          `json:"type"`
	Seq       uint64          `json:"seq"`
	RequestID string          `json:"request_id,omitempty"`
	Alert     *analyzer.Alert `json:"alert,omitempty"`
	Alerts    []snapAlert     `json:"alerts,omitempty"`
	Action    *actionView     `json:"action,omitempty"`
	Case      *CaseUpdate     `json:"case,omitempty"`
	State     *stateView      `json:"state,omitempty"`
	Code      string          `json:"code,omitempty"`
	Message   string          `json:"message,omitempty"`
}

type snapAlert struct {
	Alert analyzer.Alert `json:"alert"`
	State *stateView     `json:"state"`
}

// actionView is an accepted action as moderators see it.
type actionView struct {
	ActionID  string    `json:"action_id"`
	AlertID   string    `json:"alert_id"`
	Moderator string    `json:"moderator"`
	Action    string    `json:"action"`
	Target    string    `json:"target,omitempty"`
	Reason    string    `json:"reason,omitempty"`
	Note      string    `json:"note,omitempty"`
	At        time.Time `json:"at"`
}

// stateView is what moderators have done to an alert so far. Notes, the last
// few kept, come in snapshots only; later ones come as note actions.
type stateView struct {
	Status       string     `json:"status"`
	ClaimedBy    string     `json:"claimed_by,omitempty"`
	ClaimExpires *time.Time `json:"claim_expires,omitempty"`
	AssignedTo   string     `json:"assigned_to,omitempty"`
	AckedBy      string     `json:"acked_by,omitempty"`
	EscalatedBy  string     `json:"escalated_by,omitempty"`
	Notes        []Note     `json:"notes,omitempty"`
	// Opened is when the hub opened the alert, by its clock: what a
	// console's service-level timer counts from (an alert's own at is event
	// time, which a replay puts days back). A restored hub counts from its
	// restore (State does not keep it). An extension of version 1.
	Opened *time.Time `json:"opened,omitempty"`
}

// Note is one moderator's note on an alert, as kept by the hub.
type Note struct {
	At   time.Time `json:"at"`
	By   string    `json:"by"`
	Text string    `json:"text"`
}

func encode(m outMsg) []byte {
	b, err := json.Marshal(m)
	if err != nil {
		// Only an alert with a NaN score or an unencodable evidence value.
		b, _ = json.Marshal(outMsg{Type: "error", Seq: m.Seq, Code: "internal", Message: "message could not be encoded"})
	}
	return b
}

// Actions a client may ask for.
const (
	ActClaim    = "claim"
	ActAck      = "ack"
	ActAssign   = "assign"
	ActEscalate = "escalate"
	ActDismiss  = "dismiss"
	ActNote     = "note"
)

// inMsg is the one message a client sends:
//
//	{"type":"action","request_id":"r1","alert_id":"a1","action":"claim|ack|assign|escalate|dismiss|note",
//	 "target":"moderator name (assign)","reason":"why (dismiss)","note":"text (note, escalate)"}
//
// Which action takes which field (fieldsOf); each is required where taken:
//
//	claim, ack   none
//	assign       target
//	dismiss      reason
//	note         note
//	escalate     note
//
// A field given (not empty) to an action that does not take it is refused
// with code unexpected_field: nothing is audited that the action did not use.
type inMsg struct {
	Type      string `json:"type"`
	RequestID string `json:"request_id"`
	AlertID   string `json:"alert_id"`
	Action    string `json:"action"`
	Target    string `json:"target"`
	Reason    string `json:"reason"`
	Note      string `json:"note"`
}

// Limits on client fields, in bytes.
const (
	maxID     = 128
	maxReason = 1024
	maxNote   = 8 << 10
)

// decodeError is a refusal of a malformed message, with the code sent back.
type decodeError struct {
	code, msg string
	requestID string
}

func (e *decodeError) Error() string { return e.code + ": " + e.msg }

// decodeClient reads one client message strictly: one JSON object, known fields
// only, type "action", a known action, an alert id, fields within their limits
// and valid UTF-8. Role and alert state are checked later, by the hub.
func decodeClient(b []byte) (inMsg, error) {
	var m inMsg
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		return inMsg{}, &decodeError{code: "bad_message", msg: "not a JSON action: " + trimErr(err)}
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return inMsg{}, &decodeError{code: "bad_message", msg: "trailing data after the message"}
	}
	fail := func(code, format string, a ...any) (inMsg, error) {
		rid := m.RequestID
		if len(rid) > maxID || !utf8.ValidString(rid) {
			rid = ""
		}
		return inMsg{}, &decodeError{code: code, msg: fmt.Sprintf(format, a...), requestID: rid}
	}
	for _, f := range []struct {
		name, v string
		max     int
	}{{"request_id", m.RequestID, maxID}, {"alert_id", m.AlertID, maxID}, {"target", m.Target, maxID},
		{"reason", m.Reason, maxReason}, {"note", m.Note, maxNote}} {
		if len(f.v) > f.max {
			return fail("bad_message", "%s longer than %d bytes", f.name, f.max)
		}
		if !utf8.ValidString(f.v) {
			return fail("bad_message", "%s is not valid UTF-8", f.name)
		}
	}
	if m.Type != "action" {
		return fail("bad_message", "type %q (want action)", m.Type)
	}
	if m.AlertID == "" {
		return fail("bad_message", "no alert_id")
	}
	takes, ok := fieldsOf[m.Action]
	if !ok {
		return fail("bad_action", "action %q (want claim, ack, assign, escalate, dismiss or note)", m.Action)
	}
	for _, f := range []struct{ name, v string }{{"target", m.Target}, {"reason", m.Reason}, {"note", m.Note}} {
		if f.v != "" && f.name != takes {
			return fail("unexpected_field", "%s takes no %s", m.Action, f.name)
		}
	}
	return m, nil
}

// fieldsOf is the one optional field each action takes, "" for none.
var fieldsOf = map[string]string{
	ActClaim: "", ActAck: "", ActAssign: "target", ActDismiss: "reason", ActNote: "note", ActEscalate: "note",
}

func trimErr(err error) string {
	s := err.Error()
	if len(s) > 120 {
		s = s[:120]
	}
	return s
}
