package hub

import "time"

// CaseUpdate tells every console that a case changed (a note, a lead's
// approval, a submission, a new version of its alert, a lever on it): a
// console showing that case reads its file, or its levers, again from the
// cases or levers API. It carries no case
// content, only what names the change, so a viewer's socket learns nothing
// the cases API would not tell it.
type CaseUpdate struct {
	CaseID  string `json:"case_id"`
	AlertID string `json:"alert_id"`
	// Change is what happened: note, approve, submit, or version (a new
	// version of the alert joined the case); or a step of a lever on the
	// case (sidecar/enforce's audit actions): lever_approve, lever_lift,
	// payout_hold_delivered, payout_release_delivered, payout_hold_failed,
	// payout_release_failed.
	Change string `json:"change"`
	// Status and Version are the case's after the change (cases.Status*);
	// a lever's step leaves them out (it does not change the case).
	Status  string `json:"status,omitempty"`
	Version int    `json:"version,omitempty"`
	// LeverID names the lever of a lever's step.
	LeverID string    `json:"lever_id,omitempty"`
	By      string    `json:"by,omitempty"`
	At      time.Time `json:"at"`
}

// PublishCase sends a case message to every socket, numbered and kept in the
// resume ring as alert and action messages are, so a console that resumes
// with ?since gets it too. It never blocks on a socket.
func (h *Hub) PublishCase(u CaseUpdate) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed || u.CaseID == "" {
		return
	}
	h.seq++
	h.broadcastLocked(encode(outMsg{Type: "case", Seq: h.seq, Case: &u}), nil)
}
