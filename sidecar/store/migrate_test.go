package store

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestMigrateIdempotent(t *testing.T) {
	s := sharedServer(t)
	conn := connect(t, s)
	opts := Options{Database: freshDB(t)}
	got, err := Migrate(ctxT(t), conn, opts)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(Migrations) {
		t.Fatalf("first run applied %v, want all %d", got, len(Migrations))
	}
	got, err = Migrate(ctxT(t), conn, opts)
	if err != nil || len(got) != 0 {
		t.Fatalf("second run applied %v, %v; want none", got, err)
	}
	// Statements themselves are idempotent too: re-run every one.
	for _, m := range Migrations {
		for _, q := range m.SQL(opts) {
			if err := conn.Exec(ctxT(t), q); err != nil {
				t.Fatalf("re-run migration %d: %v\n%s", m.Version, err, q)
			}
		}
		if m.Apply != nil {
			if err := m.Apply(ctxT(t), conn, opts); err != nil {
				t.Fatalf("re-run migration %d: %v", m.Version, err)
			}
		}
	}
	out, err := s.Client("SELECT name FROM system.tables WHERE database = '" + opts.Database + "' ORDER BY name")
	if err != nil {
		t.Fatal(err)
	}
	tables := strings.Fields(out)
	for _, want := range []string{"events", "signals", "stream_sessions", "alerts", "actions",
		"schema_migrations", "trend_sessions", "trend_daily_streams", "trend_hourly_alerts", AggOutcomes, AggRecruitment,
		"cases", "case_versions", "case_actions", "case_submissions", "hold_events", "hold_stream_sessions", "hold_actions"} {
		if !slices.Contains(tables, want) {
			t.Errorf("table %s missing; have %v", want, tables)
		}
	}
	out, _ = s.Client("SELECT count() FROM " + opts.Database + ".schema_migrations FINAL")
	if want := fmt.Sprint(len(Migrations)); strings.TrimSpace(out) != want {
		t.Errorf("schema_migrations rows %q, want %s", out, want)
	}
	// A database from before migration 4: its events lack cues and lang, which
	// migration 4 adds in place.
	cols := func() string {
		out, _ := s.Client("SELECT groupArray(name) FROM system.columns WHERE database = '" + opts.Database + "' AND table = 'events'")
		return strings.TrimSpace(out)
	}
	const want = "['day','at','id','type','node','stream_id','host_id','account_id','counterpart','coins','amount','currency','method','country','kind','score','device_id','cell','network','tz','private','viewers','cues','lang','ingested']"
	if got := cols(); got != want {
		t.Errorf("events columns %s, want %s", got, want)
	}
	if _, err := s.Client("ALTER TABLE " + opts.Database + ".events DROP COLUMN lang, DROP COLUMN cues"); err != nil {
		t.Fatal(err)
	}
	if err := Migrations[3].Apply(ctxT(t), conn, opts); err != nil {
		t.Fatal(err)
	}
	if got := cols(); got != want {
		t.Errorf("after migration 4 on an older database: events columns %s, want %s", got, want)
	}
}

func TestRetentionDropsOldPartitions(t *testing.T) {
	s := sharedServer(t)
	conn := connect(t, s)
	opts := Options{Database: freshDB(t), RetentionDays: 30}
	if _, err := Migrate(ctxT(t), conn, opts); err != nil {
		t.Fatal(err)
	}
	ttl, err := SupportsTTL(conn)
	if err != nil {
		t.Fatal(err)
	}
	err = ApplyRetention(ctxT(t), conn, opts)
	if !ttl && err != ErrNoTTL || ttl && err != nil {
		t.Fatalf("ApplyRetention with ttl=%v: %v", ttl, err)
	}
	now := time.Date(2024, 6, 30, 12, 0, 0, 0, time.UTC)
	for _, d := range []string{"2024-01-02", "2024-06-01", "2024-06-29"} {
		if _, err := s.Client("INSERT INTO " + opts.Database + ".events (day, at, id, type) VALUES ('" + d + "', '" + d + " 10:00:00', 'e" + d + "', 'gift')"); err != nil {
			t.Fatal(err)
		}
	}
	n, err := DropOlderThan(ctxT(t), conn, opts, 30, now)
	if err != nil {
		t.Fatal(err)
	}
	if n != 1 {
		t.Errorf("dropped %d partitions, want 1 (2024-01-02)", n)
	}
	out, _ := s.Client("SELECT groupArray(toString(day)) FROM (SELECT day FROM " + opts.Database + ".events ORDER BY day)")
	if strings.TrimSpace(out) != "['2024-06-01','2024-06-29']" {
		t.Errorf("left %s", out)
	}
}
