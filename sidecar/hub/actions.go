package hub

import (
	"context"
	"errors"
	"time"

	"github.com/ronda-watch/ronda/analyzer"
)

// refuse answers the sender with an error. The error goes through the sender's
// queue, after everything published before it.
func (h *Hub) refuse(c *client, requestID, code, msg string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.refuseLocked(c, requestID, code, msg)
}

func (h *Hub) refuseLocked(c *client, requestID, code, msg string) {
	h.replyLocked(c, h.seq, false,
		encode(outMsg{Type: "error", Seq: h.seq, RequestID: requestID, Code: code, Message: msg}))
}

// handle decodes and carries out one client message.
func (h *Hub) handle(c *client, b []byte) {
	m, err := decodeClient(b)
	if err != nil {
		var de *decodeError
		if errors.As(err, &de) {
			h.m.actions.WithLabelValues("invalid", "refused").Inc()
			h.refuse(c, de.requestID, de.code, de.msg)
		}
		return
	}
	if m.Action == ActEscalate {
		h.escalate(c, m)
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ok := h.clients[c]; !ok {
		return // cut off, or its token removed, after the message was read
	}
	if code, msg := h.checkLocked(c, m); code != "" {
		h.m.actions.WithLabelValues(m.Action, "refused").Inc()
		h.refuseLocked(c, m.RequestID, code, msg)
		return
	}
	h.applyLocked(c, m)
}

// checkLocked validates an action against the sender's role and the alert's
// state; it returns an error code and message, or "" when the action may go.
func (h *Hub) checkLocked(c *client, m inMsg) (code, msg string) {
	need := RoleModerator
	if m.Action == ActAssign || m.Action == ActEscalate {
		need = RoleLead
	}
	if roleRank(c.role) < roleRank(need) {
		return "forbidden", "a " + c.role + " may not " + m.Action + " (needs " + need + ")"
	}
	st := h.alerts[m.AlertID]
	if st == nil {
		return "unknown_alert", "no open alert " + m.AlertID
	}
	holder := st.holder(h.opts.Now())
	heldByOther := holder != "" && holder != c.name
	switch m.Action {
	case ActClaim:
		if heldByOther {
			return "claimed", "claimed by " + holder
		}
	case ActAck:
		if heldByOther && c.role != RoleLead {
			return "claimed", "claimed by " + holder
		}
		if st.status != statusOpen {
			return "bad_state", "alert is " + st.status + ", not open"
		}
	case ActAssign:
		t, ok := h.byName(m.Target)
		if !ok || roleRank(t.Role) < roleRank(RoleModerator) {
			return "bad_target", "target must name a moderator or lead"
		}
	case ActEscalate:
		if h.opts.Escalate == nil {
			return "no_destination", "no escalation destination is configured"
		}
		if m.Note == "" {
			return "note_required", "escalate needs a note"
		}
		if st.status == statusEscalated {
			return "bad_state", "already escalated"
		}
		if st.escalating {
			return "escalating", "another escalation of this alert is under way"
		}
	case ActDismiss:
		if heldByOther && c.role != RoleLead {
			return "claimed", "claimed by " + holder
		}
		if m.Reason == "" {
			return "reason_required", "dismiss needs a reason"
		}
		// An escalated alert is someone else's case now: it leaves the queue
		// when the analyzer merges it, never by a dismiss.
		if st.status == statusEscalated {
			return "escalated", "escalated by " + st.escalatedBy + ": it cannot be dismissed"
		}
		if st.escalating {
			return "escalating", "an escalation of this alert is under way: it cannot be dismissed"
		}
	case ActNote:
		if m.Note == "" {
			return "note_required", "note needs a note"
		}
	}
	return "", ""
}

func (h *Hub) byName(name string) (Token, bool) {
	t, ok := h.tokens.Load().byName[name]
	return t, ok
}

// codeNotSaved refuses an action the journal could not take.
const codeNotSaved = "not_saved"

// applyLocked journals the action, changes the alert, audits the action,
// acks the sender and tells every other socket, in that order, as one
// sequence number.
func (h *Hub) applyLocked(c *client, m inMsg) {
	now := h.opts.Now()
	row := ActionRecord{At: now, ActionID: h.newActionIDLocked(), AlertID: m.AlertID, Moderator: c.name,
		Action: m.Action, Target: m.Target, Reason: m.Reason, Note: m.Note}
	if h.opts.Journal != nil {
		pos, err := h.opts.Journal(row)
		switch {
		case err == nil:
			h.journalPos = max(h.journalPos, pos)
		case m.Action == ActEscalate:
			// The destination has it already: refusing would have the lead
			// send it twice. A crash before the next checkpoint forgets it.
			h.opts.Logger.Error("escalation not journaled; applied, as the destination took it", "alert", m.AlertID, "err", err)
		default:
			h.opts.Logger.Error("action not journaled: refused", "action", m.Action, "alert", m.AlertID, "err", err)
			h.m.actions.WithLabelValues(m.Action, "refused").Inc()
			h.refuseLocked(c, m.RequestID, codeNotSaved, "the hub could not save the action (its log is full or failing); try again")
			return
		}
	}
	st := h.changeLocked(m.AlertID, m.Action, c.name, m.Target, m.Note, now)
	if h.opts.Audit != nil {
		h.opts.Audit(row)
	}
	h.m.actions.WithLabelValues(m.Action, "ok").Inc()
	view := &actionView{ActionID: row.ActionID, AlertID: row.AlertID, Moderator: row.Moderator,
		Action: row.Action, Target: row.Target, Reason: row.Reason, Note: row.Note, At: now.UTC()}
	sv := st.view(now, false)
	h.seq++
	h.broadcastLocked(encode(outMsg{Type: "action", Seq: h.seq, Action: view, State: sv}), c)
	h.replyLocked(c, h.seq, true, encode(outMsg{Type: "ack", Seq: h.seq, RequestID: m.RequestID, Action: view, State: sv}))
}

// changeLocked changes the alert as the action does, by the moderator by at
// now, and gives its state (a merged stand-in when the alert was merged while
// an escalation was under way).
func (h *Hub) changeLocked(alertID, action, by, target, note string, now time.Time) *alertState {
	st := h.alerts[alertID]
	if st == nil {
		st = &alertState{status: statusMerged}
	}
	switch action {
	case ActClaim:
		if st.assignedTo != by {
			st.assignedTo = ""
		}
		st.claimedBy, st.claimUntil = by, now.Add(h.opts.ClaimTTL)
	case ActAck:
		st.status, st.ackedBy = statusAcked, by
	case ActAssign:
		st.claimedBy, st.claimUntil, st.assignedTo = target, now.Add(h.opts.ClaimTTL), target
	case ActEscalate:
		if st.status != statusMerged {
			st.status = statusEscalated
		}
		st.escalatedBy = by
	case ActNote:
		st.addNote(Note{At: now.UTC(), By: by, Text: note})
	case ActDismiss:
		st.status, st.claimedBy = statusDismissed, ""
		// A dismissed alert leaves the open set; a later version reopens it.
		delete(h.alerts, alertID)
	}
	return st
}

// escalate checks, hands the alert to the destination outside the lock, and
// records the action only when the destination took it. The alert is marked
// as escalating under the same lock as the check, so two leads who press at
// once escalate it once: the second is refused.
func (h *Hub) escalate(c *client, m inMsg) {
	h.mu.Lock()
	if _, ok := h.clients[c]; !ok {
		h.mu.Unlock()
		return
	}
	if code, msg := h.checkLocked(c, m); code != "" {
		h.m.actions.WithLabelValues(m.Action, "refused").Inc()
		h.refuseLocked(c, m.RequestID, code, msg)
		h.mu.Unlock()
		return
	}
	st := h.alerts[m.AlertID]
	st.escalating = true
	alert := st.alert
	h.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.WithValue(h.ctx, escalatedByKey{}, c.name), h.opts.EscalateTimeout)
	err := h.opts.Escalate(ctx, cloneAlert(alert), m.Note)
	cancel()
	h.mu.Lock()
	defer h.mu.Unlock()
	st.escalating = false
	if err != nil {
		h.opts.Logger.Warn("escalation failed", "alert", m.AlertID, "err", err)
		h.m.actions.WithLabelValues(m.Action, "refused").Inc()
		h.refuseLocked(c, m.RequestID, "escalation_failed", "the destination did not take it")
		return
	}
	h.applyLocked(c, m)
}

type escalatedByKey struct{}

// EscalatedBy is the name of the lead whose escalation Options.Escalate is
// carrying out with ctx ("" for any other context): a destination that keeps
// a case says who opened it.
func EscalatedBy(ctx context.Context) string {
	name, _ := ctx.Value(escalatedByKey{}).(string)
	return name
}

// cloneAlert copies the slices a destination might keep or change.
func cloneAlert(a analyzer.Alert) analyzer.Alert {
	a.Entities = append([]analyzer.EntityRef(nil), a.Entities...)
	a.Reasons = append([]analyzer.Reason(nil), a.Reasons...)
	return a
}
