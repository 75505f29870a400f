package store

import (
	"context"
	"fmt"
	"strings"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// Evidence is what the record holds about a case's entities and alert: from
// the live tables and from the hold tables, each row once.
type Evidence struct {
	Events   []EventRow
	Sessions []SessionRow
	Signals  []SignalRow
	Actions  []ActionRow
}

// MaxEvidenceRows bounds each kind of row ReadEvidence returns (per table
// read), so that a case naming a busy network cannot take the service's
// memory: a case file says when it was cut.
const MaxEvidenceRows = 20_000

// ReadEvidence reads the rows tying entities (kind:id) and alertID to a case,
// from the live tables (FINAL) and the case's hold tables, each row once, in
// time order. truncated says a table gave MaxEvidenceRows.
func ReadEvidence(ctx context.Context, conn driver.Conn, o Options, caseID, alertID string, entities []string) (ev Evidence, truncated bool, err error) {
	if err := o.validate(); err != nil {
		return ev, false, err
	}
	var ids []string
	for _, e := range entities {
		if _, id, ok := strings.Cut(e, ":"); ok && id != "" {
			ids = append(ids, Quote(id))
		}
	}
	seen := map[string]bool{}
	for _, h := range holdSources {
		if h.source == TableAlerts {
			continue // the case keeps its alert's versions itself
		}
		if len(ids) == 0 && strings.Contains(h.filter, "{ids}") {
			continue
		}
		filter := strings.NewReplacer("{ids}", strings.Join(ids, ", "), "{alert}", Quote(alertID)).Replace(h.filter)
		cols := quoteColumns(h.columns)
		for _, q := range []string{
			fmt.Sprintf("SELECT %s FROM %s FINAL WHERE %s LIMIT %d", cols, o.Qualified(h.source), filter, MaxEvidenceRows),
			fmt.Sprintf("SELECT %s FROM %s FINAL WHERE case_id = %s LIMIT %d", cols, o.Qualified(HoldTable(h.source)), Quote(caseID), MaxEvidenceRows),
		} {
			n := 0
			err := query(ctx, conn, q, func(scan func(...any) error) error {
				n++
				switch h.source {
				case TableEvents:
					var r EventRow
					if err := scan(&r.Day, &r.At, &r.ID, &r.Type, &r.Node, &r.StreamID, &r.HostID, &r.AccountID, &r.Counterpart,
						&r.Coins, &r.Amount, &r.Currency, &r.Method, &r.Country, &r.Kind, &r.Score, &r.DeviceID, &r.Cell,
						&r.Network, &r.TZ, &r.Private, &r.Viewers, &r.Cues, &r.Lang, &r.Ingested); err != nil {
						return err
					}
					if k := "e\x00" + r.Type + "\x00" + r.ID; !seen[k] {
						seen[k] = true
						ev.Events = append(ev.Events, r)
					}
				case TableSessions:
					var r SessionRow
					if err := scan(&r.Day, &r.Start, &r.End, &r.StreamID, &r.HostID, &r.Minutes, &r.NightMinutes, &r.DeviceID,
						&r.Cell, &r.Region, &r.Network, &r.TZ, &r.Coins, &r.ForeignCoins, &r.Gifts, &r.Heartbeats,
						&r.PrivateBeats, &r.DirectedGifts, &r.Ingested); err != nil {
						return err
					}
					if k := "s\x00" + r.StreamID + "\x00" + r.Start.String(); !seen[k] {
						seen[k] = true
						ev.Sessions = append(ev.Sessions, r)
					}
				case TableSignals:
					var r SignalRow
					if err := scan(&r.Day, &r.At, &r.Detector, &r.EntityKind, &r.EntityID, &r.Score, &r.Summary, &r.Evidence, &r.Ingested); err != nil {
						return err
					}
					if k := "g\x00" + r.Detector + "\x00" + r.EntityKind + "\x00" + r.EntityID + "\x00" + r.At.String(); !seen[k] {
						seen[k] = true
						ev.Signals = append(ev.Signals, r)
					}
				case TableActions:
					var r ActionRow
					if err := scan(&r.Day, &r.At, &r.ActionID, &r.AlertID, &r.Moderator, &r.Action, &r.Target, &r.Reason, &r.Note, &r.Ingested); err != nil {
						return err
					}
					if k := "a\x00" + r.ActionID; !seen[k] {
						seen[k] = true
						ev.Actions = append(ev.Actions, r)
					}
				}
				return nil
			})
			if err != nil {
				return ev, truncated, fmt.Errorf("read evidence from %s: %w", h.source, err)
			}
			truncated = truncated || n >= MaxEvidenceRows
		}
	}
	return ev, truncated, nil
}
