package hub

import (
	"time"

	"github.com/ronda-watch/ronda/analyzer"
)

// Alert statuses as moderators see them.
const (
	statusOpen      = "open"
	statusAcked     = "acked"
	statusEscalated = "escalated"
	statusDismissed = "dismissed"
	statusMerged    = "merged"
)

// maxNotesKept is how many notes the hub keeps per open alert, newest; the
// audit trail keeps them all.
const maxNotesKept = 20

// alertState is an open alert's latest version and what moderators did to it.
type alertState struct {
	alert       analyzer.Alert
	status      string
	claimedBy   string
	claimUntil  time.Time
	assignedTo  string // the moderator a lead assigned it to, until another claims it
	ackedBy     string
	escalatedBy string
	notes       []Note // the last maxNotesKept, oldest first
	// since is when the hub opened the alert, by its clock (at a restore:
	// the restore's time). Not kept in State.
	since time.Time

	// escalating is set while the destination has the alert, outside the
	// lock: a second escalate or a dismiss meanwhile is refused. Not kept in
	// State: an escalation a restart cut never got its answer.
	escalating bool
}

// holder is who holds the claim at now, or "".
func (s *alertState) holder(now time.Time) string {
	if s.claimedBy != "" && now.Before(s.claimUntil) {
		return s.claimedBy
	}
	return ""
}

// view is the state as moderators see it; a snapshot's carries the kept notes.
func (s *alertState) view(now time.Time, notes bool) *stateView {
	v := &stateView{Status: s.status, AssignedTo: s.assignedTo, AckedBy: s.ackedBy, EscalatedBy: s.escalatedBy}
	if !s.since.IsZero() {
		t := s.since.UTC()
		v.Opened = &t
	}
	if h := s.holder(now); h != "" {
		v.ClaimedBy = h
		t := s.claimUntil.UTC()
		v.ClaimExpires = &t
	}
	if notes && len(s.notes) > 0 {
		v.Notes = append([]Note(nil), s.notes...)
	}
	return v
}

// addNote keeps n, dropping the oldest past maxNotesKept.
func (s *alertState) addNote(n Note) {
	if len(s.notes) >= maxNotesKept {
		s.notes = append(s.notes[:0:0], s.notes[len(s.notes)-maxNotesKept+1:]...)
	}
	s.notes = append(s.notes, n)
}

// ring keeps the last messages by sequence number for resuming sockets.
type ring struct {
	seqs []uint64
	msgs [][]byte
	next int // where the next message goes
	n    int // how many are held
}

func newRing(size int) ring {
	return ring{seqs: make([]uint64, size), msgs: make([][]byte, size)}
}

func (r *ring) add(seq uint64, msg []byte) {
	r.seqs[r.next], r.msgs[r.next] = seq, msg
	r.next = (r.next + 1) % len(r.msgs)
	if r.n < len(r.msgs) {
		r.n++
	}
}

// at gives the message with sequence number seq, if the ring still holds it.
// The ring holds consecutive sequence numbers: every one goes through add.
func (r *ring) at(seq uint64) ([]byte, bool) {
	if r.n == 0 {
		return nil, false
	}
	newest := (r.next - 1 + len(r.msgs)) % len(r.msgs)
	last := r.seqs[newest]
	if seq > last || last-seq >= uint64(r.n) {
		return nil, false
	}
	i := (newest - int(last-seq) + len(r.msgs)) % len(r.msgs)
	if r.seqs[i] != seq {
		return nil, false
	}
	return r.msgs[i], true
}

// holds says whether the ring still holds seq.
func (r *ring) holds(seq uint64) bool {
	_, ok := r.at(seq)
	return ok
}
