package serve

import (
	"context"
	"encoding/json"
	"strings"
	"time"

	"github.com/ronda-watch/ronda/analyzer"
	"github.com/ronda-watch/ronda/sidecar/hub"
	"github.com/ronda-watch/ronda/sidecar/store"
)

// hubRecordSpan is how far back the record is read when the hub's state is
// rebuilt from it: alerts not updated for longer are not brought back.
const hubRecordSpan = 30 * 24 * time.Hour

// rebuildHubFromRecord gives the hub the open alerts and what moderators did
// to them, read from ClickHouse (alerts and actions), when no checkpoint held
// the hub's state. ClickHouse away or slow: the hub starts empty, said so.
func (s *Service) rebuildHubFromRecord(ctx context.Context) {
	if s.hub == nil || s.hubRestored || s.cfg.ClickHouse.DSN == "" {
		return
	}
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	alerts, actions, err := func() ([]store.AlertRow, []store.ActionRow, error) {
		conn, err := store.Open(ctx, s.cfg.ClickHouse.DSN)
		if err != nil {
			return nil, nil, err
		}
		defer conn.Close()
		return store.ReadHubRecord(ctx, conn, store.Options{Database: s.cfg.ClickHouse.Database, Cluster: s.cfg.ClickHouse.Cluster},
			s.opts.Now().Add(-hubRecordSpan))
	}()
	if err != nil {
		s.log.Warn("no checkpoint held the moderators' queue and ClickHouse could not be read: the hub starts empty", "err", err)
		return
	}
	ttl := s.cfg.Moderators.ClaimTTL
	if ttl == 0 {
		ttl = hub.DefaultClaimTTL
	}
	st := hub.StateFromRecord(recordedAlerts(alerts), actionRecords(actions), ttl)
	if err := s.hub.Restore(st); err != nil {
		s.log.Error("moderators' queue rebuilt from ClickHouse refused: the hub starts empty", "err", err)
		return
	}
	s.actionsInRecord = actionIDs(actions)
	s.log.Info("moderators' queue rebuilt from ClickHouse (no checkpoint held it)", "alerts_read", len(alerts),
		"actions_read", len(actions), "open", len(st.Alerts), "took", time.Since(start).Round(time.Millisecond))
}

func recordedAlerts(rows []store.AlertRow) []hub.RecordedAlert {
	out := make([]hub.RecordedAlert, 0, len(rows))
	for _, r := range rows {
		a := analyzer.Alert{ID: r.ID, At: r.At, Severity: analyzer.Severity(r.SeverityRank), Score: r.Score,
			Subject: analyzer.EntityRef{Kind: r.SubjectKind, ID: r.SubjectID}, Updates: int(r.Updates), MergedInto: r.MergedInto}
		for _, e := range r.Entities {
			if k, id, ok := strings.Cut(e, ":"); ok {
				a.Entities = append(a.Entities, analyzer.EntityRef{Kind: k, ID: id})
			}
		}
		json.Unmarshal([]byte(r.Reasons), &a.Reasons) // a row this writer wrote; empty if not
		out = append(out, hub.RecordedAlert{Alert: a, Ingested: r.Ingested})
	}
	return out
}

func actionRecords(rows []store.ActionRow) []hub.ActionRecord {
	out := make([]hub.ActionRecord, 0, len(rows))
	for _, r := range rows {
		out = append(out, hub.ActionRecord{At: r.At, ActionID: r.ActionID, AlertID: r.AlertID, Moderator: r.Moderator,
			Action: r.Action, Target: r.Target, Reason: r.Reason, Note: r.Note})
	}
	return out
}

// auditAction writes a hub action to the record: the hub's Audit.
func (s *Service) auditAction(a hub.ActionRecord) {
	s.writer.Action(store.ActionRow{At: a.At, ActionID: a.ActionID, AlertID: a.AlertID, Moderator: a.Moderator,
		Action: a.Action, Target: a.Target, Reason: a.Reason, Note: a.Note})
}
