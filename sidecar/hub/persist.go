package hub

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"sort"
	"time"
	"unicode/utf8"

	"github.com/ronda-watch/ronda/analyzer"
)

// StateVersion is the format of State. DecodeState refuses any other.
const StateVersion = 1

// Limits of a State, checked by DecodeState and Restore.
const (
	// MaxStateBytes is the largest encoded State DecodeState reads.
	MaxStateBytes = 512 << 20
	// MaxStateAlerts is the most open alerts a State may hold.
	MaxStateAlerts = 1 << 20
	// MaxStateRing is the most resume messages a State may hold.
	MaxStateRing = 1 << 20
	// maxRingMessage bounds one resume message.
	maxRingMessage = 16 << 20
)

// State is what a restarted hub needs: every open alert with its state
// (status, claim holder and expiry, assignment, notes, escalation; a
// dismissed alert is not open and not held), the sequence counter and the
// resume ring's messages, so that a console resuming with ?since=N after the
// restart gets exactly the messages it missed, none twice, and a claim
// survives.
//
// A State taken after Close is Final: nothing can follow it, so Restore goes
// on with its numbers and its ring, and a console resumes exactly. One taken
// while the hub runs (a periodic checkpoint) may be followed by messages it
// does not hold, which consoles may have seen: Restore then moves the
// numbering past any number a hub can have given (see Restore) and drops the
// ring, so every console resumes with a snapshot of the open alerts: nothing
// missed, nothing twice, but as a snapshot rather than message by message.
type State struct {
	// Version is StateVersion.
	Version int `json:"version"`
	// Final says the hub was closed when this was taken.
	Final bool `json:"final"`
	// Seq is the last sequence number the hub gave.
	Seq uint64 `json:"seq"`
	// Alerts are the open alerts, by id.
	Alerts []AlertState `json:"alerts"`
	// JournalPos is the Options.Journal position of the last action the
	// state holds (0: none journaled): ReplayAction skips those up to it.
	JournalPos uint64 `json:"journal_pos,omitempty"`
	// Ring holds the most recent messages, oldest first, with consecutive
	// sequence numbers ending at Seq (or none).
	Ring []RingMessage `json:"ring"`
}

// AlertState is one open alert: its latest version and what moderators did.
type AlertState struct {
	Alert analyzer.Alert `json:"alert"`
	// Status is open, acked or escalated.
	Status string `json:"status"`
	// ClaimedBy holds the alert until ClaimUntil (the hub's clock); both or
	// neither. A claim past its time is held by nobody.
	ClaimedBy  string    `json:"claimed_by,omitempty"`
	ClaimUntil time.Time `json:"claim_until,omitzero"`
	// AssignedTo is who a lead assigned it to, until another claims it.
	AssignedTo  string `json:"assigned_to,omitempty"`
	AckedBy     string `json:"acked_by,omitempty"`
	EscalatedBy string `json:"escalated_by,omitempty"`
	// Notes are the last notes kept, oldest first.
	Notes []Note `json:"notes,omitempty"`
}

// RingMessage is one message of the resume ring, as it was sent.
type RingMessage struct {
	Seq uint64          `json:"seq"`
	Msg json.RawMessage `json:"msg"`
}

// State gives a consistent copy of the hub's state, taken under its lock.
// The alerts and messages it holds are shared with the hub, which never
// changes them: read them, do not change them.
func (h *Hub) State() State {
	s := h.stateCopy()
	sort.Slice(s.Alerts, func(i, j int) bool { return s.Alerts[i].Alert.ID < s.Alerts[j].Alert.ID })
	return s
}

// stateCopy is State's part under the lock: copies of slice headers and
// values only. Notes are shared: addNote never changes a note below a
// slice's length, it appends or starts a new array.
func (h *Hub) stateCopy() State {
	h.mu.Lock()
	defer h.mu.Unlock()
	s := State{Version: StateVersion, Final: h.closed, Seq: h.seq, JournalPos: h.journalPos,
		Alerts: make([]AlertState, 0, len(h.alerts)), Ring: make([]RingMessage, 0, h.ring.n)}
	for _, st := range h.alerts {
		a := AlertState{Alert: st.alert, Status: st.status, AssignedTo: st.assignedTo,
			AckedBy: st.ackedBy, EscalatedBy: st.escalatedBy, Notes: st.notes[:len(st.notes):len(st.notes)]}
		if st.claimedBy != "" {
			a.ClaimedBy, a.ClaimUntil = st.claimedBy, st.claimUntil.UTC()
		}
		s.Alerts = append(s.Alerts, a)
	}
	for i := range h.ring.n {
		k := (h.ring.next - h.ring.n + i + len(h.ring.msgs)) % len(h.ring.msgs)
		s.Ring = append(s.Ring, RingMessage{Seq: h.ring.seqs[k], Msg: h.ring.msgs[k]})
	}
	return s
}

// Restore gives a hub that has not served anyone yet (no socket, nothing
// published) the state s. A state that does not validate is refused and
// changes nothing.
//
// A Final state's numbering goes on where it stopped and its ring serves
// resumes, up to this hub's Options.Ring newest messages. Any other state
// (a periodic checkpoint, one rebuilt from the record by StateFromRecord, or
// an empty State to start afresh) may be behind what consoles hold, so the
// numbering goes on from the larger of Seq+1 and the hub's clock in
// microseconds since 1970, and the ring starts empty: every console that
// resumes gets a snapshot. The clock bound is above every number an earlier
// hub gave as long as hubs gave fewer than one message per microsecond on
// average since the last such start (a hub gives thousands a second at
// most) and the clock did not step back by more than the time between; the
// numbers stay below 2^53, so a browser holds them exactly, until the year
// 2255.
//
// A Final state must be restored once: a hub that restored it and then
// crashed has given numbers past it that it does not hold. So the caller
// replaces the saved Final state (with this hub's State, not final, or by
// removing it) after Restore and before the hub serves anyone.
func (h *Hub) Restore(s State) error {
	err := h.restore(s)
	switch {
	case err != nil:
		h.m.restore.WithLabelValues("refused").Inc()
		h.opts.Logger.Warn("hub state refused", "err", err)
	case s.Final:
		h.m.restore.WithLabelValues("exact").Inc()
		h.opts.Logger.Info("hub state restored: consoles resume where they were", "alerts", len(s.Alerts), "seq", s.Seq)
	default:
		h.m.restore.WithLabelValues("resync").Inc()
		h.opts.Logger.Info("hub state restored: consoles resync from a snapshot", "alerts", len(s.Alerts))
	}
	return err
}

func (h *Hub) restore(s State) error {
	if err := s.validate(); err != nil {
		return fmt.Errorf("hub restore: %w", err)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	switch {
	case h.closed:
		return errors.New("hub restore: the hub is closed")
	case h.seq != 0 || len(h.clients) > 0 || len(h.alerts) > 0:
		return errors.New("hub restore: the hub has already served")
	}
	alerts := make(map[string]*alertState, len(s.Alerts))
	now := h.opts.Now()
	for _, a := range s.Alerts {
		st := &alertState{alert: a.Alert, status: a.Status, claimedBy: a.ClaimedBy, claimUntil: a.ClaimUntil,
			assignedTo: a.AssignedTo, ackedBy: a.AckedBy, escalatedBy: a.EscalatedBy,
			notes: append([]Note(nil), a.Notes...), since: now}
		alerts[a.Alert.ID] = st
	}
	h.alerts = alerts
	h.journalPos = s.JournalPos
	if !s.Final {
		h.seq = max(s.Seq+1, uint64(max(h.opts.Now().UnixMicro(), 0)))
		return nil
	}
	h.seq = s.Seq
	ring := s.Ring
	if len(ring) > len(h.ring.msgs) {
		ring = ring[len(ring)-len(h.ring.msgs):]
	}
	for _, m := range ring {
		h.ring.add(m.Seq, []byte(m.Msg))
	}
	return nil
}

// Encode writes s as JSON, for DecodeState.
func (s State) Encode() ([]byte, error) {
	b, err := json.Marshal(s)
	if err != nil {
		return nil, fmt.Errorf("encode hub state: %w", err)
	}
	return b, nil
}

// DecodeState reads a State written by Encode, strictly: one JSON object of
// at most MaxStateBytes, known fields only, StateVersion, and a state that
// validates (see validate). It never panics on any input.
func DecodeState(b []byte) (State, error) {
	if len(b) > MaxStateBytes {
		return State{}, fmt.Errorf("hub state: %d bytes, more than %d", len(b), MaxStateBytes)
	}
	var s State
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&s); err != nil {
		return State{}, fmt.Errorf("hub state: %s", trimErr(err))
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return State{}, errors.New("hub state: trailing data")
	}
	if err := s.validate(); err != nil {
		return State{}, fmt.Errorf("hub state: %w", err)
	}
	return s, nil
}

// validate checks what Restore relies on: the version; unique, bounded
// alert ids of open alerts with known statuses; claims with a holder and an
// end, both or neither; names, notes and counts within their limits; ring
// messages with consecutive numbers that end at Seq, each a JSON object that
// begins, as the hub writes them, with its type and its own seq.
func (s *State) validate() error {
	if s.Version != StateVersion {
		return fmt.Errorf("version %d (this hub reads %d)", s.Version, StateVersion)
	}
	if len(s.Alerts) > MaxStateAlerts {
		return fmt.Errorf("%d alerts, more than %d", len(s.Alerts), MaxStateAlerts)
	}
	if len(s.Ring) > MaxStateRing {
		return fmt.Errorf("%d ring messages, more than %d", len(s.Ring), MaxStateRing)
	}
	name := func(what, v string) error {
		if len(v) > maxID || !utf8.ValidString(v) {
			return fmt.Errorf("%s is not a name of at most %d bytes", what, maxID)
		}
		return nil
	}
	ids := make(map[string]bool, len(s.Alerts))
	for i, a := range s.Alerts {
		id := a.Alert.ID
		if id == "" || len(id) > maxID || !utf8.ValidString(id) {
			return fmt.Errorf("alert %d: id empty or longer than %d bytes", i, maxID)
		}
		if ids[id] {
			return fmt.Errorf("alert %q twice", id)
		}
		ids[id] = true
		if a.Alert.MergedInto != "" {
			return fmt.Errorf("alert %q: merged, so not open", id)
		}
		switch a.Status {
		case statusOpen, statusAcked, statusEscalated:
		default:
			return fmt.Errorf("alert %q: status %q (want open, acked or escalated)", id, a.Status)
		}
		if (a.ClaimedBy == "") != a.ClaimUntil.IsZero() {
			return fmt.Errorf("alert %q: a claim needs both a holder and an end", id)
		}
		for what, v := range map[string]string{"claimed_by": a.ClaimedBy, "assigned_to": a.AssignedTo,
			"acked_by": a.AckedBy, "escalated_by": a.EscalatedBy} {
			if err := name(fmt.Sprintf("alert %q: %s", id, what), v); err != nil {
				return err
			}
		}
		if len(a.Notes) > maxNotesKept {
			return fmt.Errorf("alert %q: %d notes, more than %d", id, len(a.Notes), maxNotesKept)
		}
		for j, n := range a.Notes {
			if err := name(fmt.Sprintf("alert %q: note %d by", id, j), n.By); err != nil {
				return err
			}
			if n.Text == "" || len(n.Text) > maxNote || !utf8.ValidString(n.Text) {
				return fmt.Errorf("alert %q: note %d empty or longer than %d bytes", id, j, maxNote)
			}
		}
	}
	if len(s.Ring) > 0 {
		if last := s.Ring[len(s.Ring)-1].Seq; last != s.Seq {
			return fmt.Errorf("ring ends at %d, not at seq %d", last, s.Seq)
		}
		if s.Ring[0].Seq == 0 {
			return errors.New("ring holds sequence number 0")
		}
	}
	for i, m := range s.Ring {
		if i > 0 && m.Seq != s.Ring[i-1].Seq+1 {
			return fmt.Errorf("ring message %d: seq %d after %d", i, m.Seq, s.Ring[i-1].Seq)
		}
		if len(m.Msg) > maxRingMessage {
			return fmt.Errorf("ring message %d: %d bytes, more than %d", i, len(m.Msg), maxRingMessage)
		}
		if seq, ok := ringHead(m.Msg); !ok || seq != m.Seq || !json.Valid(m.Msg) {
			return fmt.Errorf("ring message %d: not a hub message with seq %d", i, m.Seq)
		}
	}
	return nil
}

// ringHead reads the start every message the hub writes has,
// {"type":"<lower-case letters>","seq":<digits>, and gives the seq, without
// decoding the rest (json.Valid checks that).
func ringHead(b []byte) (uint64, bool) {
	rest, ok := bytes.CutPrefix(b, []byte(`{"type":"`))
	if !ok {
		return 0, false
	}
	i := 0
	for i < len(rest) && rest[i] >= 'a' && rest[i] <= 'z' {
		i++
	}
	if i == 0 {
		return 0, false
	}
	rest, ok = bytes.CutPrefix(rest[i:], []byte(`","seq":`))
	if !ok {
		return 0, false
	}
	var seq uint64
	n := 0
	for n < len(rest) && rest[n] >= '0' && rest[n] <= '9' {
		d := uint64(rest[n] - '0')
		if n == 20 || seq > (math.MaxUint64-d)/10 || n > 0 && seq == 0 {
			return 0, false // too long, overflowing, or a leading zero
		}
		seq = seq*10 + d
		n++
	}
	if n == 0 || n == len(rest) || rest[n] != ',' && rest[n] != '}' {
		return 0, false
	}
	return seq, true
}
