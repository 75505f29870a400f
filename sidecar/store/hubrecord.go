package store

import (
	"context"
	"fmt"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

// ReadHubRecord reads what the moderators' hub rebuilds its state from when
// no checkpoint is left: the latest version of every alert recorded since
// since (FINAL, one row per id: the highest updates, then the latest
// ingested) and every moderator action since then, in time order.
func ReadHubRecord(ctx context.Context, conn driver.Conn, o Options, since time.Time) ([]AlertRow, []ActionRow, error) {
	if o.Database == "" {
		o.Database = "ronda"
	}
	day := since.UTC().Format("2006-01-02")
	rows, err := conn.Query(ctx, fmt.Sprintf(`SELECT day, at, id, updates, severity, severity_rank, score,
 subject_kind, subject_id, entities, hosts, accounts, detectors, reasons, merged_into, ingested
 FROM %s FINAL WHERE day >= toDate('%s') ORDER BY id, updates DESC, ingested DESC LIMIT 1 BY id`,
		o.Qualified(TableAlerts), day))
	if err != nil {
		return nil, nil, fmt.Errorf("read alerts: %w", err)
	}
	var alerts []AlertRow
	for rows.Next() {
		var r AlertRow
		if err := rows.Scan(&r.Day, &r.At, &r.ID, &r.Updates, &r.Severity, &r.SeverityRank, &r.Score,
			&r.SubjectKind, &r.SubjectID, &r.Entities, &r.Hosts, &r.Accounts, &r.Detectors, &r.Reasons,
			&r.MergedInto, &r.Ingested); err != nil {
			rows.Close()
			return nil, nil, fmt.Errorf("read alerts: %w", err)
		}
		alerts = append(alerts, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, nil, fmt.Errorf("read alerts: %w", err)
	}
	rows, err = conn.Query(ctx, fmt.Sprintf(`SELECT day, at, action_id, alert_id, moderator, action, target,
 reason, note, ingested FROM %s FINAL WHERE day >= toDate('%s') ORDER BY at, action_id`,
		o.Qualified(TableActions), day))
	if err != nil {
		return nil, nil, fmt.Errorf("read actions: %w", err)
	}
	defer rows.Close()
	var actions []ActionRow
	for rows.Next() {
		var r ActionRow
		if err := rows.Scan(&r.Day, &r.At, &r.ActionID, &r.AlertID, &r.Moderator, &r.Action, &r.Target,
			&r.Reason, &r.Note, &r.Ingested); err != nil {
			return nil, nil, fmt.Errorf("read actions: %w", err)
		}
		actions = append(actions, r)
	}
	if err := rows.Err(); err != nil {
		return nil, nil, fmt.Errorf("read actions: %w", err)
	}
	return alerts, actions, nil
}
