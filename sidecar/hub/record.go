package hub

import (
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/ronda-watch/ronda/analyzer"
)

// RecordedAlert is one alert version as the record (ClickHouse alerts) keeps
// it: the version, and when the writer took it (the ingested column).
type RecordedAlert struct {
	Alert    analyzer.Alert
	Ingested time.Time
}

// ActionRecord is one moderator action: what the hub audits (Options.Audit),
// journals (Options.Journal), and reads back from the record when it is
// rebuilt from it. The serve layer maps it to and from the store's action
// row; the hub knows nothing of the store.
type ActionRecord struct {
	At        time.Time
	ActionID  string
	AlertID   string
	Moderator string
	Action    string
	Target    string
	Reason    string
	Note      string
}

// StateFromRecord rebuilds the hub's state from the record when no saved
// State is left: the open alerts (the latest version of each, unless it was
// merged) and what the audit trail says moderators did to them, replayed in
// order of time (then of each hub's action counter). claimTTL is the hub's
// Options.ClaimTTL: a claim or assignment holds until its action's time plus
// claimTTL, so one that has run out is held by nobody.
//
// A dismiss closes the alert unless a version was recorded in a later second
// than the dismiss (then it reopened, as Publish reopens it). An escalate
// marks it escalated. Actions on alerts that are not open, and audit rows of
// no alert (a tokens reload), are skipped.
//
// The record holds no messages and no sequence numbers: the state is not
// Final, so Restore starts the numbering past any a hub can have given and
// every console resumes with a snapshot (see Restore).
func StateFromRecord(alerts []RecordedAlert, actions []ActionRecord, claimTTL time.Duration) State {
	type open struct {
		st     *alertState
		latest time.Time // ingested of the latest version
		gone   bool
	}
	byID := map[string]*open{}
	for _, r := range alerts {
		a := r.Alert
		if clip(a.ID) == "" {
			continue
		}
		o := byID[a.ID]
		if o == nil {
			o = &open{st: &alertState{alert: a, status: statusOpen}, latest: r.Ingested}
			byID[a.ID] = o
			continue
		}
		if a.Updates > o.st.alert.Updates || a.Updates == o.st.alert.Updates && r.Ingested.After(o.latest) {
			o.st.alert = a
		}
		if r.Ingested.After(o.latest) {
			o.latest = r.Ingested
		}
	}
	for _, o := range byID {
		o.gone = o.st.alert.MergedInto != ""
	}
	acts := make([]ActionRecord, 0, len(actions))
	for _, a := range actions {
		if o := byID[a.AlertID]; o != nil && !o.gone {
			acts = append(acts, a)
		}
	}
	sort.SliceStable(acts, func(i, j int) bool { return actionBefore(acts[i], acts[j]) })
	for _, a := range acts {
		o := byID[a.AlertID]
		if o.gone {
			continue
		}
		st := o.st
		until := a.At.Add(claimTTL).UTC()
		switch a.Action {
		case ActClaim:
			if st.assignedTo != a.Moderator {
				st.assignedTo = ""
			}
			st.claimedBy, st.claimUntil = a.Moderator, until
		case ActAck:
			if st.status == statusOpen {
				st.status, st.ackedBy = statusAcked, a.Moderator
			}
		case ActAssign:
			st.claimedBy, st.claimUntil, st.assignedTo = a.Target, until, a.Target
		case ActEscalate:
			st.status, st.escalatedBy = statusEscalated, a.Moderator
		case ActNote:
			if a.Note != "" {
				st.addNote(Note{At: a.At.UTC(), By: a.Moderator, Text: a.Note})
			}
		case ActDismiss:
			if !o.latest.Truncate(time.Second).After(a.At.Truncate(time.Second)) {
				o.gone = true
			} else {
				// Reopened by a later version: as with Publish, what
				// moderators had done went with the dismiss.
				o.st = &alertState{alert: st.alert, status: statusOpen}
			}
		}
	}
	s := State{Version: StateVersion}
	for _, o := range byID {
		if o.gone {
			continue
		}
		st := o.st
		a := AlertState{Alert: st.alert, Status: st.status, AssignedTo: clip(st.assignedTo),
			AckedBy: clip(st.ackedBy), EscalatedBy: clip(st.escalatedBy)}
		if clip(st.claimedBy) != "" {
			a.ClaimedBy, a.ClaimUntil = st.claimedBy, st.claimUntil
		}
		for _, n := range st.notes {
			if clip(n.By) == n.By && len(n.Text) <= maxNote && utf8.ValidString(n.Text) {
				a.Notes = append(a.Notes, n)
			}
		}
		s.Alerts = append(s.Alerts, a)
	}
	sort.Slice(s.Alerts, func(i, j int) bool { return s.Alerts[i].Alert.ID < s.Alerts[j].Alert.ID })
	return s
}

// actionBefore orders the audit trail: by time, then, for actions of one hub
// instance (ids <instance>-<n>), by its counter, else by id.
func actionBefore(a, b ActionRecord) bool {
	if !a.At.Equal(b.At) {
		return a.At.Before(b.At)
	}
	ai, an, aok := splitActionID(a.ActionID)
	bi, bn, bok := splitActionID(b.ActionID)
	if aok && bok && ai == bi {
		return an < bn
	}
	return a.ActionID < b.ActionID
}

func splitActionID(id string) (instance string, n uint64, ok bool) {
	i := strings.LastIndexByte(id, '-')
	if i < 0 {
		return "", 0, false
	}
	n, err := strconv.ParseUint(id[i+1:], 10, 64)
	return id[:i], n, err == nil
}

// clip drops a name or id a State would refuse (never one the hub wrote):
// longer than maxID or not UTF-8.
func clip(name string) string {
	if len(name) > maxID || !utf8.ValidString(name) {
		return ""
	}
	return name
}
