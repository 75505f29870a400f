package store

import (
	"strings"
	"testing"
	"time"
)

// TestHoldKeepsACaseThroughRetention: on a real ClickHouse 18.16 (no TTL),
// retention of 30 days drops the old days, but an escalated ring's rows
// (its hosts' events and sessions, the signals on them, its alert and the
// moderators' actions) are in the hold tables and ReadEvidence finds them;
// the same days' rows of other hosts, and of a case whose hold ended, are
// gone. When the hold ends, the next run drops it too.
func TestHoldKeepsACaseThroughRetention(t *testing.T) {
	s := sharedServer(t)
	conn := connect(t, s)
	opts := Options{Database: freshDB(t), RetentionDays: 30}
	if _, err := Migrate(ctxT(t), conn, opts); err != nil {
		t.Fatal(err)
	}
	db := opts.Database
	now := time.Date(2025, 6, 30, 12, 0, 0, 0, time.UTC)
	exec := func(q string) {
		t.Helper()
		if _, err := s.Client(q); err != nil {
			t.Fatalf("%v\n%s", err, q)
		}
	}
	// Old days (past retention) and a recent one, for the ring (h1, h2 on
	// device d1, net 10.1.2.0/24, paid to acct b1), a bystander (h9) and a
	// host whose case's hold has ended (h8).
	for _, d := range []string{"2025-01-02", "2025-03-15", "2025-06-29"} {
		for _, h := range []string{"h1", "h2", "h9", "h8"} {
			dev, net := "d-"+h, "198.51.100.0/24"
			if h == "h1" || h == "h2" {
				dev, net = "d1", "10.1.2.0/24"
			}
			exec("INSERT INTO " + db + ".events (day, at, id, type, stream_id, host_id, device_id, network, tz, ingested) VALUES ('" +
				d + "', '" + d + " 13:00:00', 'start-" + h + d + "', 'stream.start', 's-" + h + d + "', '" + h + "', '" + dev + "', '" + net + "', 'Asia/Jakarta', now())")
			exec("INSERT INTO " + db + ".events (day, at, id, type, account_id, counterpart, coins, amount, currency, ingested) VALUES ('" +
				d + "', '" + d + " 14:00:00', 'pay-" + h + d + "', 'payout', '" + h + "', 'b-" + h + "', 500, 25.5, 'IDR', now())")
			exec("INSERT INTO " + db + ".stream_sessions (day, start, `end`, stream_id, host_id, minutes, device_id, network, tz, ingested) VALUES ('" +
				d + "', '" + d + " 13:00:00', '" + d + " 15:00:00', 's-" + h + d + "', '" + h + "', 120, '" + dev + "', '" + net + "', 'Asia/Jakarta', now())")
			exec("INSERT INTO " + db + ".signals (day, at, detector, entity_kind, entity_id, score, summary, evidence, ingested) VALUES ('" +
				d + "', '" + d + " 15:00:00', 'schedule', 'host', '" + h + "', 0.7, 'night', '{}', now())")
		}
		exec("INSERT INTO " + db + ".alerts (day, at, id, updates, severity, entities, reasons, ingested) VALUES ('" +
			d + "', '" + d + " 16:00:00', 'al-ring', " + map[string]string{"2025-01-02": "0", "2025-03-15": "1", "2025-06-29": "2"}[d] +
			", 'high', ['host:h1','host:h2'], '[]', now())")
		exec("INSERT INTO " + db + ".actions (day, at, action_id, alert_id, moderator, action, note, ingested) VALUES ('" +
			d + "', '" + d + " 17:00:00', 'x-" + d + "', 'al-ring', 'mod-a', 'note', 'seen', now())")
		exec("INSERT INTO " + db + ".actions (day, at, action_id, alert_id, moderator, action, note, ingested) VALUES ('" +
			d + "', '" + d + " 17:00:00', 'y-" + d + "', 'al-other', 'mod-a', 'note', 'other', now())")
	}
	ring := CaseRow{CaseID: "case-ring", AlertID: "al-ring", Opened: now.AddDate(0, 0, -10), OpenedBy: "lead",
		Entities: []string{"host:h1", "host:h2", "device:d1", "network:10.1.2.0/24"}, HoldUntil: now.AddDate(0, 0, 355), Rev: 1}
	ended := CaseRow{CaseID: "case-ended", AlertID: "al-8", Opened: now.AddDate(-1, 0, -5), OpenedBy: "lead",
		Entities: []string{"host:h8"}, HoldUntil: now.AddDate(0, 0, -5), Rev: 1}
	for _, c := range []CaseRow{ring, ended} {
		if err := WriteCase(ctxT(t), conn, opts, c); err != nil {
			t.Fatal(err)
		}
	}

	rep, err := Retain(ctxT(t), conn, opts, now)
	if err != nil {
		t.Fatal(err)
	}
	if rep.TTL {
		t.Skip("this server has TTL: the hold tables' TTL is set instead of drops (not the 18.16 path)")
	}
	if rep.Dropped == 0 || rep.Held == 0 {
		t.Fatalf("retention %+v: want old days dropped and holds copied", rep)
	}
	count := func(q string) string {
		t.Helper()
		out, err := s.Client(q)
		if err != nil {
			t.Fatalf("%v\n%s", err, q)
		}
		return strings.TrimSpace(out)
	}
	// The old days are gone from the live tables, the recent one is there.
	if got := count("SELECT groupUniqArray(toString(day)) FROM " + db + ".events"); got != "['2025-06-29']" {
		t.Fatalf("events days left %s, want only 2025-06-29", got)
	}
	// The ring's old rows are held; nobody else's.
	for _, c := range []struct{ q, want string }{
		{"SELECT arraySort(groupUniqArray(host_id)) FROM " + db + ".hold_events FINAL WHERE type = 'stream.start'", "['h1','h2']"},
		{"SELECT arraySort(groupUniqArray(account_id)) FROM " + db + ".hold_events FINAL WHERE type = 'payout'", "['h1','h2']"},
		{"SELECT count() FROM " + db + ".hold_events FINAL WHERE case_id = 'case-ring'", "8"},
		{"SELECT arraySort(groupUniqArray(toString(day))) FROM " + db + ".hold_events FINAL", "['2025-01-02','2025-03-15']"},
		{"SELECT count() FROM " + db + ".hold_stream_sessions FINAL WHERE case_id = 'case-ring'", "4"},
		{"SELECT arraySort(groupUniqArray(entity_id)) FROM " + db + ".hold_signals FINAL", "['h1','h2']"},
		{"SELECT arraySort(groupArray(updates)) FROM " + db + ".hold_alerts FINAL WHERE id = 'al-ring'", "[0,1]"},
		{"SELECT arraySort(groupArray(action_id)) FROM " + db + ".hold_actions FINAL", "['x-2025-01-02','x-2025-03-15']"},
		{"SELECT count() FROM " + db + ".hold_events WHERE case_id = 'case-ended'", "0"},
	} {
		if got := count(c.q); got != c.want {
			t.Errorf("%s\n= %s, want %s", c.q, got, c.want)
		}
	}
	// A second run the next day copies nothing twice (FINAL) and keeps them.
	if _, err := Retain(ctxT(t), conn, opts, now.AddDate(0, 0, 1)); err != nil {
		t.Fatal(err)
	}
	if got := count("SELECT count() FROM " + db + ".hold_events FINAL WHERE case_id = 'case-ring'"); got != "8" {
		t.Errorf("after a second run %s held events, want 8", got)
	}
	// The case file reads the held rows beside the live ones.
	ev, _, err := ReadEvidence(ctxT(t), conn, opts, ring.CaseID, ring.AlertID, ring.Entities)
	if err != nil {
		t.Fatal(err)
	}
	if len(ev.Events) != 12 || len(ev.Sessions) != 6 || len(ev.Signals) != 6 || len(ev.Actions) != 3 {
		t.Errorf("evidence: %d events, %d sessions, %d signals, %d actions; want 12, 6, 6, 3 (held and live)",
			len(ev.Events), len(ev.Sessions), len(ev.Signals), len(ev.Actions))
	}
	for _, e := range ev.Events {
		if e.HostID != "h1" && e.HostID != "h2" && e.AccountID != "h1" && e.AccountID != "h2" {
			t.Errorf("evidence holds another host's event %+v", e)
		}
	}
	// After the hold's end, the next run drops it.
	rep, err = Retain(ctxT(t), conn, opts, ring.HoldUntil.AddDate(0, 0, 1))
	if err != nil {
		t.Fatal(err)
	}
	if rep.HoldsDropped == 0 || count("SELECT count() FROM "+db+".hold_events") != "0" {
		t.Errorf("after the hold ended: %+v, %s held events left", rep, count("SELECT count() FROM "+db+".hold_events"))
	}
	if got := count("SELECT count() FROM " + db + ".cases FINAL"); got != "2" {
		t.Errorf("%s cases after retention, want 2: cases themselves are kept", got)
	}
}
