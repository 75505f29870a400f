package store

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/ronda-watch/ronda/analyzer"
	"github.com/ronda-watch/ronda/analyzer/event"
)

// idLike are column names that would carry an id or free text.
var idLike = regexp.MustCompile(`(^|_)(id|ids|host|account|stream|device|cell|network|moderator|sender|counterpart|entity|entities|subject|target|note|text|summary|evidence|alert|payer|beneficiary)$`)

// The aggregate tables hold no column that could carry an id or free text,
// and no arrays (which could hold ids).
func TestAggregateColumnsHoldNoIDs(t *testing.T) {
	s := sharedServer(t)
	conn := connect(t, s)
	opts := Options{Database: freshDB(t)}
	if _, err := Migrate(ctxT(t), conn, opts); err != nil {
		t.Fatal(err)
	}
	for _, name := range AggregateTables() {
		rows, err := conn.Query(ctxT(t), fmt.Sprintf("SELECT name, type FROM system.columns WHERE database = '%s' AND table = '%s'", opts.Database, name))
		if err != nil {
			t.Fatal(err)
		}
		var cols []string
		for rows.Next() {
			var n, typ string
			if err := rows.Scan(&n, &typ); err != nil {
				t.Fatal(err)
			}
			cols = append(cols, n)
			if idLike.MatchString(n) {
				t.Errorf("%s.%s looks like an id or free text", name, n)
			}
			if strings.Contains(typ, "Array") {
				t.Errorf("%s.%s is %s: an array could hold ids", name, n, typ)
			}
		}
		rows.Close()
		if want := append(AggregateColumns(name), "computed"); !slices.Equal(cols, want) {
			t.Errorf("%s has columns %v, want %v", name, cols, want)
		}
	}
	// The pattern catches what it is for.
	for _, bad := range []string{"host_id", "alert_ids", "moderator", "sender", "cell", "id"} {
		if !idLike.MatchString(bad) {
			t.Errorf("idLike misses %q", bad)
		}
	}
}

// aggDay is the day of the small world writeAggWorld writes.
var aggDay = time.Date(2024, 5, 1, 0, 0, 0, 0, time.UTC)

// writeAggWorld writes a small world of one day through the Writer: a ring's
// alert escalated, a night gamer's dismissed with a listed reason, a teen's
// dismissed with free text naming her, an alert left open; age signals, gifts
// from two countries, an ad with lures and an ordinary post, two sessions.
func writeAggWorld(t *testing.T, dsn string, opts Options) {
	t.Helper()
	d := aggDay
	at := func(h, m int) time.Time { return d.Add(time.Duration(h)*time.Hour + time.Duration(m)*time.Minute) }
	w, err := NewWriter(WriterOptions{DSN: dsn, Schema: opts, Block: true, Pseudonymizer: Pseudonymizer{Key: []byte("k")}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()

	host := func(id string) analyzer.EntityRef { return analyzer.EntityRef{Kind: analyzer.KindHost, ID: id} }
	alert := func(id string, h int, sev analyzer.Severity, dets []string, ents ...analyzer.EntityRef) {
		a := analyzer.Alert{ID: id, At: at(h, 0), Severity: sev, Score: 0.5, Subject: ents[0], Entities: ents}
		for _, det := range dets {
			a.Reasons = append(a.Reasons, analyzer.Reason{Detector: det, Score: 0.6, Summary: "s"})
		}
		w.Alert(a)
	}
	alert("al-ring", 20, analyzer.SeverityHigh, []string{"schedule", "age"}, host("h1"), host("h2"), host("h3"),
		analyzer.EntityRef{Kind: analyzer.KindAccount, ID: "a1"}, analyzer.EntityRef{Kind: "location", ID: "qqv1td3"})
	alert("al-gamer", 21, analyzer.SeverityLow, []string{"schedule"}, host("h9"))
	alert("al-teen", 21, analyzer.SeverityLow, []string{"age"}, host("h7"))
	alert("al-open", 22, analyzer.SeverityMedium, []string{"money"}, host("h8"))
	act := func(id, alertID, action, reason string, h, m int) {
		w.Action(ActionRow{At: at(h, m), ActionID: id, AlertID: alertID, Moderator: "mod-7", Action: action, Reason: reason})
	}
	act("x1", "al-ring", "claim", "", 20, 10)
	act("x2", "al-ring", "escalate", "", 20, 40)
	act("x3", "al-gamer", "claim", "", 21, 30)
	act("x4", "al-gamer", "dismiss", " Night gamer ", 21, 45)
	act("x5", "al-teen", "dismiss", "my cousin h7, she is fine", 22, 5)
	for _, sg := range []struct {
		host  string
		score float64
	}{{"h1", 0.9}, {"h2", 0.95}, {"h3", 0.3}, {"h7", 0.6}} {
		w.Signal(analyzer.Signal{At: at(19, 0), Detector: "age", Entity: host(sg.host), Score: sg.score, Summary: "s"})
	}
	for i, g := range []struct {
		host, sender, country string
		coins                 int64
	}{{"h1", "v1", "US", 100}, {"h1", "v2", "ID", 50}, {"h9", "v2", "ID", 10}} {
		w.Event(&event.Event{Type: event.TypeGift, ID: fmt.Sprintf("g%d", i), At: at(20, i), StreamID: "s1",
			HostID: g.host, SenderID: g.sender, SenderCountry: g.country, Coins: g.coins})
	}
	w.Event(&event.Event{Type: event.TypePost, ID: "p1", At: at(9, 0), AccountID: "a1", Kind: "ad",
		Text: "Lowongan kerja cewek usia 16-20, kos disediakan, gaji 5jt"})
	w.Event(&event.Event{Type: event.TypePost, ID: "p2", At: at(9, 5), AccountID: "a5", Kind: "post",
		Text: "Selamat pagi semua, live lagi nanti malam ya"})
	w.Session(analyzer.Session{StreamID: "s1", HostID: "h1", Start: at(20, 0), End: at(21, 0), Minutes: 60, NightMinutes: 50, Cell: "qqv1td3"})
	w.Session(analyzer.Session{StreamID: "s9", HostID: "h9", Start: at(1, 0), End: at(3, 0), Minutes: 120, NightMinutes: 100, Cell: "w0whd28"})
	cctx, ccancel := context.WithTimeout(context.Background(), time.Minute)
	defer ccancel()
	if err := w.Close(cctx); err != nil {
		t.Fatal(err)
	}
	cancel()
	<-done
}

// aggWant is what the aggregates of writeAggWorld's day must hold, without
// the day, one string a row in table order.
var aggWant = map[string][]string{
	// detector severity outcome reason alerts; the typed reason is a code or "other".
	AggOutcomes: {"age high escalate  1", "age low dismiss other 1", "schedule high escalate  1", "schedule low dismiss night_gamer 1"},
	// severity alerts claimed p50 p90 escalated p50 p90 (minutes; NaN: none)
	AggResponse: {"high 1 1 10 10 1 40 40", "low 2 1 30 30 0 NaN NaN", "medium 1 0 NaN NaN 0 NaN NaN"},
	// country flagged gifts coins senders hosts: h1 is in a high alert, h9 only in a low one.
	AggGifts: {"ID 0 1 10 1 1", "ID 1 1 50 1 1", "US 1 1 100 1 1"},
	// severity hosts minors rings: h1 and h2 scored 0.5 or more on age, h3 not.
	AggEscalations: {"high 3 2 1"},
	// region streams hosts flagged_hosts minutes night_minutes
	AggRegions: {"qqv1 1 1 1 60 50", "w0wh 1 1 0 120 100"},
	// kind cue lang posts authors
	AggRecruitment: {"ad female_only id 1 1", "ad high_pay id 1 1", "ad lodging id 1 1", "ad young_age id 1 1", "post  id 1 1"},
}

// checkAggDay compares the aggregates of aggDay with aggWant and looks for
// ids and free text in them.
func checkAggDay(t *testing.T, conn driver.Conn, opts Options) {
	t.Helper()
	got := map[string][]string{}
	for _, name := range AggregateTables() {
		err := ReadAggregates(ctxT(t), conn, opts, name, aggDay, aggDay, func(cols []string, vals []any) error {
			var b strings.Builder
			for i, v := range vals[1:] { // day is aggDay
				if i > 0 {
					b.WriteByte(' ')
				}
				fmt.Fprint(&b, v)
			}
			got[name] = append(got[name], b.String())
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	for name, w := range aggWant {
		if !slices.Equal(got[name], w) {
			t.Errorf("%s:\n got %q\nwant %q", name, got[name], w)
		}
	}
	// No id, pseudonym or free text in any aggregate value.
	secrets := []string{"al-", "h1", "h2", "h3", "h7", "h8", "h9", "a1", "a5", "s1", "s9", "mod-7", "cousin", "qqv1td3",
		Pseudonymizer{Key: []byte("k")}.Pseudonym("v1"), Pseudonymizer{Key: []byte("k")}.Pseudonym("v2")}
	for name, rows := range got {
		for _, r := range rows {
			for _, f := range strings.Fields(r) {
				for _, sec := range secrets {
					if strings.Contains(f, sec) {
						t.Errorf("%s row %q holds %q", name, r, sec)
					}
				}
			}
		}
	}
}

// A small world written through the Writer, aggregated: the figures are
// exact, a day is aggregated once it settled and only once, no id or free
// text reaches an aggregate, and aggregate retention drops whole months.
func TestAggregate(t *testing.T) {
	s := sharedServer(t)
	conn := connect(t, s)
	opts := Options{Database: freshDB(t)}
	if _, err := Migrate(ctxT(t), conn, opts); err != nil {
		t.Fatal(err)
	}
	writeAggWorld(t, s.DSN(), opts)
	d := aggDay

	// The day has not settled a day after.
	if n, err := Aggregate(ctxT(t), conn, opts, d.AddDate(0, 0, 2)); err != nil || n != 0 {
		t.Fatalf("aggregated %d table-days before the day settled (%v)", n, err)
	}
	now := d.AddDate(0, 0, 10)
	n, err := Aggregate(ctxT(t), conn, opts, now)
	if err != nil {
		t.Fatal(err)
	}
	if n != len(aggTables) {
		t.Errorf("aggregated %d table-days, want %d (one day per table)", n, len(aggTables))
	}
	// Once: a late action does not reopen the day.
	w2, _ := NewWriter(WriterOptions{DSN: s.DSN(), Schema: opts, Block: true})
	ctx2, cancel2 := context.WithCancel(context.Background())
	go w2.Run(ctx2)
	w2.Action(ActionRow{At: d.Add(23 * time.Hour), ActionID: "x6", AlertID: "al-open", Moderator: "mod-7", Action: "escalate"})
	if err := w2.Close(ctxT(t)); err != nil {
		t.Fatal(err)
	}
	cancel2()
	if n, err := Aggregate(ctxT(t), conn, opts, now); err != nil || n != 0 {
		t.Errorf("second run aggregated %d table-days (%v), want 0", n, err)
	}
	checkAggDay(t, conn, opts)

	// Retention: a month goes once its last day is past the limit.
	if n, err := DropAggregatesOlderThan(ctxT(t), conn, opts, 30, d.AddDate(0, 0, 20)); err != nil || n != 0 {
		t.Fatalf("dropped %d partitions within retention (%v)", n, err)
	}
	n, err = DropAggregatesOlderThan(ctxT(t), conn, opts, 30, time.Date(2024, 6, 15, 0, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	if n != len(aggTables) {
		t.Errorf("dropped %d partitions, want %d (May of every table)", n, len(aggTables))
	}
	var left uint64
	if err := conn.QueryRow(ctxT(t), "SELECT count() FROM "+opts.Qualified(AggOutcomes)).Scan(&left); err != nil || left != 0 {
		t.Errorf("%d outcome rows left after retention (%v)", left, err)
	}
	// Raw rows are not the aggregates' to drop.
	var events uint64
	if err := conn.QueryRow(ctxT(t), "SELECT count() FROM "+opts.Qualified(TableEvents)).Scan(&events); err != nil || events != 5 {
		t.Errorf("%d events left, want 5 (%v)", events, err)
	}
}
