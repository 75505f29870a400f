package hub

import "time"

// CaseUpdate tells every console that a case changed (a note, a lead's
// approval, a submission, a new version of its alert): a console showing
// that case reads its file again from the cases API. It carries no case
// content, only what names the change, so a viewer's socket learns nothing
// the cases API would not tell it.
type CaseUpdate struct {
	CaseID  string `json:"case_id"`
	AlertID string `json:"alert_id"`
	// Change is what happened: note, approve, submit, or version (a new
	// version of the alert joined the case).
	Change string `json:"change"`
	// Status and Version are the case's after the change (cases.Status*).
	Status  string    `json:"status"`
	Version int       `json:"version"`
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
