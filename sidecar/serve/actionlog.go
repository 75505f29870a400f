package serve

// The moderators' actions in the intake log: an action the hub accepts
// (claim, ack, assign, note, escalate, dismiss) is appended to the log, in
// order with the event batches, and on disk before the hub changes the alert
// or tells anyone (hub.Options.Journal). A replay applies it after the
// alerts of the batches the live analyzer had taken up when it was taken, so
// the queue after a crash is the queue before it. Audit rows of no alert
// (tokens_reloaded, config_reloaded) are not journaled: they change nothing
// in the queue.

import (
	"errors"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/ronda-watch/ronda/analyzer/event"
	codec "github.com/ronda-watch/ronda/analyzer/snapshot"
	"github.com/ronda-watch/ronda/sidecar/hub"
	"github.com/ronda-watch/ronda/sidecar/store"
	"github.com/ronda-watch/ronda/sidecar/wal"
)

// An action record: kind-and-version byte actionRecordKind (an event batch
// record begins with logRecordVersion, 2), then on analyzer/snapshot's values
// the log seq of the batch the analyzer was on when the action was taken
// (uvarint: its alerts were the moderators' to see), the action's time (Unix
// nanoseconds, varint), then the action id, alert id, moderator, action,
// target, reason and note, each a string of at most maxActionString bytes.
const actionRecordKind = 0x11 // action records, version 1

var errActionRecord = errors.New("intake log action record malformed")

// maxActionString bounds each string of an action record read back.
const maxActionString = event.MaxEventBytes

func appendActionRecord(b []byte, after uint64, a hub.ActionRecord) []byte {
	enc := codec.Enc{B: append(b, actionRecordKind)}
	enc.Uvarint(after)
	enc.Varint(a.At.UnixNano())
	for _, s := range [...]string{a.ActionID, a.AlertID, a.Moderator, a.Action, a.Target, a.Reason, a.Note} {
		enc.String(s)
	}
	return enc.B
}

// isActionRecord tells an action record from an event batch record.
func isActionRecord(p []byte) bool { return len(p) > 0 && p[0]&0xf0 == actionRecordKind&0xf0 }

// decodeActionRecord reads an action record. As for batches, the record
// passed its checksum, so a fault means another version wrote it: an error,
// never a guess.
func decodeActionRecord(p []byte) (after uint64, a hub.ActionRecord, err error) {
	if len(p) < 1 || p[0] != actionRecordKind {
		return 0, a, fmt.Errorf("%w: kind %v, this build reads %#x", errActionRecord, p[:min(1, len(p))], actionRecordKind)
	}
	d := codec.NewDec(p[1:], errActionRecord, "action record")
	after = d.Uvarint()
	a.At = time.Unix(0, d.Varint()).UTC()
	for _, s := range [...]*string{&a.ActionID, &a.AlertID, &a.Moderator, &a.Action, &a.Target, &a.Reason, &a.Note} {
		*s = d.String(maxActionString)
	}
	if err := d.Done(); err != nil {
		return 0, hub.ActionRecord{}, err
	}
	return after, a, nil
}

type actionLogMetrics struct {
	total *prometheus.CounterVec
}

func newActionLogMetrics(reg prometheus.Registerer) *actionLogMetrics {
	m := &actionLogMetrics{total: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ronda_state_actions_total",
		Help: "Moderators' actions in the intake log by result: logged (on disk before the hub applied it), full (state.log_max_bytes reached: refused to the moderator), error (disk full, I/O: refused), replayed (applied at start), skipped (at start: in the checkpoint, or in the record the hub was rebuilt from, already), not_open (at start: its alert was not open at that point of the replay; left out)."},
		[]string{"result"})}
	for _, r := range []string{"logged", "full", "error", "replayed", "skipped", "not_open"} {
		m.total.WithLabelValues(r)
	}
	if reg != nil {
		reg.MustRegister(m.total)
	}
	return m
}

// journalAction is the hub's Options.Journal: the action is appended to the
// intake log and on disk when it returns (with the hub's lock held: other
// actions and alerts wait for one group commit). Without a log it keeps
// nothing.
func (s *Service) journalAction(a hub.ActionRecord) (uint64, error) {
	if s.wal == nil {
		return 0, nil
	}
	after := uint64(0)
	if s.pipe != nil {
		after = s.pipe.current.Load()
	}
	seq, err := s.wal.Append(appendActionRecord(nil, after, a))
	if err == nil {
		err = s.wal.WaitDurable(seq)
	}
	switch {
	case errors.Is(err, wal.ErrFull):
		s.actionLog.total.WithLabelValues("full").Inc()
		return 0, fmt.Errorf("intake log full: %w", err)
	case err != nil:
		s.actionLog.total.WithLabelValues("error").Inc()
		return 0, fmt.Errorf("intake log: %w", err)
	}
	s.actionLog.total.WithLabelValues("logged").Inc()
	return seq, nil
}

// replayer applies the log's records at start in the live order. Live, the
// batches logged before an action but after the one the analyzer was on were
// still queued, so their alerts came after the action: the replayer holds
// read batches back (no more than the live queue holds) until an action's
// turn or the end.
type replayer struct {
	s       *Service
	pending []batch
	events  int64  // in pending
	inState uint64 // the restored hub state's JournalPos: actions up to it are in it

	batches, evs, actions, left int
}

func (r *replayer) record(seq uint64, p []byte) error {
	if isActionRecord(p) {
		after, a, err := decodeActionRecord(p)
		if err != nil {
			return fmt.Errorf("seq %d: %w", seq, err)
		}
		r.applyUpTo(after)
		r.action(seq, a)
		return nil
	}
	wall, evs, err := decodeLogRecord(p)
	if err != nil {
		return fmt.Errorf("seq %d: %w", seq, err)
	}
	if r.s.intake != nil {
		r.s.intake.Remember(evs, wall)
	}
	r.s.pipe.queued.Add(int64(len(evs)))
	r.pending = append(r.pending, batch{evs: evs, wall: wall, seq: seq})
	r.events += int64(len(evs))
	for len(r.pending) > cap(r.s.pipe.in) || r.events > r.s.pipe.limit {
		r.applyOne()
	}
	return nil
}

func (r *replayer) action(seq uint64, a hub.ActionRecord) {
	if r.s.hub == nil {
		return
	}
	if _, ok := r.s.actionsInRecord[a.ActionID]; ok {
		// The hub was rebuilt from the record, which has this one.
		r.s.actionLog.total.WithLabelValues("skipped").Inc()
		return
	}
	err := r.s.hub.ReplayAction(a, seq)
	switch {
	case err != nil:
		// Live, an alert merged between the batch the analyzer was on and
		// the next cannot do this; a restart with another analyzer
		// configuration can.
		r.s.actionLog.total.WithLabelValues("not_open").Inc()
		if r.left++; r.left <= 10 {
			r.s.log.Warn("intake log: action left out at replay", "seq", seq, "err", err)
		}
	case seq <= r.inState:
		r.s.actionLog.total.WithLabelValues("skipped").Inc()
	default:
		r.s.actionLog.total.WithLabelValues("replayed").Inc()
		r.actions++
	}
}

func (r *replayer) applyOne() {
	b := r.pending[0]
	r.pending[0] = batch{}
	r.pending = r.pending[1:]
	r.events -= int64(len(b.evs))
	r.s.pipe.apply(b)
	r.batches++
	r.evs += len(b.evs)
}

// applyUpTo applies the held batches up to seq after.
func (r *replayer) applyUpTo(after uint64) {
	for len(r.pending) > 0 && r.pending[0].seq <= after {
		r.applyOne()
	}
}

func (r *replayer) finish() {
	for len(r.pending) > 0 {
		r.applyOne()
	}
}

// actionIDs is the set of the rows' action ids.
func actionIDs(rows []store.ActionRow) map[string]struct{} {
	ids := make(map[string]struct{}, len(rows))
	for _, r := range rows {
		ids[r.ActionID] = struct{}{}
	}
	return ids
}
