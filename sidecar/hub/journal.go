package hub

import (
	"errors"
	"fmt"
	"unicode/utf8"
)

// ErrReplayNotOpen: a replayed action refers to an alert that is not open
// at that point of the replay (dismissed or merged before it).
var ErrReplayNotOpen = errors.New("alert not open")

// ReplayAction applies an action that Options.Journal recorded at position
// pos, as it was applied then: by its moderator, at its recorded time (a
// claim holds until At plus ClaimTTL, as it did), without audit, message or
// checks of role and claim (those were made when it was taken). Call it
// after Restore and the replay of the alerts recorded before it, before the
// hub serves anyone. An action at or before the restored State's JournalPos
// is in that state already and is skipped. An action that is not one a
// moderator takes, has fields beyond the hub's limits, or refers to an alert
// that is not open (ErrReplayNotOpen) is refused and changes nothing.
func (h *Hub) ReplayAction(a ActionRecord, pos uint64) error {
	if err := a.checkReplay(); err != nil {
		return fmt.Errorf("replay action %q: %w", clip(a.ActionID), err)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if pos != 0 && pos <= h.journalPos {
		return nil
	}
	h.journalPos = max(h.journalPos, pos)
	if h.alerts[a.AlertID] == nil {
		return fmt.Errorf("replay action %q: %s of %q: %w", clip(a.ActionID), a.Action, clip(a.AlertID), ErrReplayNotOpen)
	}
	h.changeLocked(a.AlertID, a.Action, a.Moderator, a.Target, a.Note, a.At)
	return nil
}

// checkReplay checks a replayed action against what the hub accepts live.
func (a *ActionRecord) checkReplay() error {
	switch a.Action {
	case ActClaim, ActAck, ActAssign, ActEscalate, ActNote, ActDismiss:
	default:
		return fmt.Errorf("not a moderator's action: %q", clip(a.Action))
	}
	if a.At.IsZero() {
		return errors.New("no time")
	}
	for what, v := range map[string]string{"alert": a.AlertID, "moderator": a.Moderator, "target": a.Target} {
		if len(v) > maxID || !utf8.ValidString(v) {
			return fmt.Errorf("%s is not a name of at most %d bytes", what, maxID)
		}
	}
	if a.AlertID == "" || a.Moderator == "" {
		return errors.New("no alert or no moderator")
	}
	if a.Action == ActAssign && a.Target == "" {
		return errors.New("assign without a target")
	}
	if a.Action == ActNote && a.Note == "" {
		return errors.New("note without a note")
	}
	if len(a.Note) > maxNote || !utf8.ValidString(a.Note) || len(a.Reason) > maxReason || !utf8.ValidString(a.Reason) {
		return fmt.Errorf("note longer than %d bytes, reason longer than %d, or not UTF-8", maxNote, maxReason)
	}
	return nil
}
