package store

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/ronda-watch/ronda/analyzer"
)

// TestHistoryOnRealClickHouse writes alerts in several versions, actions,
// sessions and money events through the Writer, then reads them back through
// every filter of the history: on the server chtest runs (Debian's 18.16 here).
func TestHistoryOnRealClickHouse(t *testing.T) {
	s := sharedServer(t)
	conn := connect(t, s)
	o := Options{Database: freshDB(t)}
	if _, err := Migrate(ctxT(t), conn, o); err != nil {
		t.Fatal(err)
	}
	w := newTestWriter(t, conn, o)
	ctx, cancel := context.WithCancel(context.Background())
	go w.Run(ctx)
	defer cancel()

	now := time.Now().UTC().Truncate(time.Second)
	ing := now
	alert := func(id string, at time.Time, sev analyzer.Severity, updates int, det string, merged string, ents ...analyzer.EntityRef) {
		r := NewAlertRow(analyzer.Alert{ID: id, At: at, Severity: sev, Score: 0.7, Subject: ents[0], Entities: ents,
			Reasons: []analyzer.Reason{{Detector: det, Score: 0.7, Summary: det}}, Updates: updates, MergedInto: merged}, ing)
		w.add(&r)
	}
	host := func(id string) analyzer.EntityRef { return analyzer.EntityRef{Kind: "host", ID: id} }
	ref := func(k, id string) analyzer.EntityRef { return analyzer.EntityRef{Kind: k, ID: id} }
	// a1: first low on money, then high on schedule (the latest version counts).
	alert("a1", now.Add(-3*time.Hour), analyzer.SeverityLow, 0, "money", "", host("h1"))
	alert("a1", now.Add(-2*time.Hour), analyzer.SeverityHigh, 1, "schedule", "", host("h1"), ref("device", "d1"), ref("location", "qqgu7"))
	alert("a2", now.Add(-90*time.Minute), analyzer.SeverityCritical, 0, "signal", "", host("h2"), ref("account", "acc'9"))
	alert("a3", now.Add(-time.Hour), analyzer.SeverityMedium, 0, "colocation", "a2", host("h3"))
	alert("a4", now.Add(-30*time.Minute), analyzer.SeverityHigh, 0, "schedule", "", host("h4"), ref("stream", "s4"))
	act := func(id, alertID, mod, action string) {
		r := NewActionRow(ActionRow{At: now.Add(-10 * time.Minute), ActionID: id, AlertID: alertID, Moderator: mod, Action: action, Reason: "r"}, ing)
		w.add(&r)
	}
	act("x1", "a1", "mod-a", "claim")
	act("x2", "a1", "mod-a", "dismiss")
	act("x3", "a4", "lead", "escalate")
	sess := NewSessionRow(analyzer.Session{StreamID: "s1", HostID: "h1", Start: now.Add(-5 * time.Hour), End: now.Add(-4 * time.Hour),
		Minutes: 60, TZ: "Asia/Jakarta", Device: "d1", Network: "203.0.113.0/24", Cell: "qqgu7abc"}, ing)
	w.add(&sess)
	for i, ev := range []EventRow{
		{ID: "g1", Type: "gift", HostID: "h1", Coins: 50},
		{ID: "g2", Type: "gift", HostID: "h1", Coins: 25},
		{ID: "p1", Type: "payout", AccountID: "h1", Counterpart: "agency", Coins: 70, Amount: 4.5},
		{ID: "l1", Type: "link", AccountID: "h1", Counterpart: "agency", Kind: "agency"},
	} {
		ev.At = now.Add(-time.Duration(i+1) * time.Minute)
		ev.Day, ev.Ingested = dayOf(ev.At), ing
		w.add(&ev)
	}
	w.Close(ctxT(t))

	base := HistoryQuery{From: now.Add(-48 * time.Hour), To: now, Limit: 10}
	ids := func(q HistoryQuery) []string {
		t.Helper()
		got, err := ReadHistory(ctxT(t), conn, o, q)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, a := range got {
			out = append(out, a.ID)
		}
		return out
	}
	with := func(f func(*HistoryQuery)) HistoryQuery { q := base; f(&q); return q }
	for _, tc := range []struct {
		name string
		q    HistoryQuery
		want []string
	}{
		{"all, newest first", base, []string{"a4", "a3", "a2", "a1"}},
		{"severity", with(func(q *HistoryQuery) { q.Severities = []string{"high"} }), []string{"a4", "a1"}},
		{"old version does not match", with(func(q *HistoryQuery) { q.Severities = []string{"low"} }), nil},
		{"detector", with(func(q *HistoryQuery) { q.Detector = "schedule" }), []string{"a4", "a1"}},
		{"region", with(func(q *HistoryQuery) { q.Region = "qqgu" }), []string{"a1"}},
		{"dismissed", with(func(q *HistoryQuery) { q.Status = StatusDismissed }), []string{"a1"}},
		{"merged", with(func(q *HistoryQuery) { q.Status = StatusMerged }), []string{"a3"}},
		{"closed", with(func(q *HistoryQuery) { q.Status = StatusClosed }), []string{"a3", "a1"}},
		{"open", with(func(q *HistoryQuery) { q.Status = StatusOpen }), []string{"a4", "a2"}},
		{"escalated", with(func(q *HistoryQuery) { q.Status = StatusEscalated }), []string{"a4"}},
		{"search alert id", with(func(q *HistoryQuery) { q.Search = "a2" }), []string{"a2"}},
		{"search device", with(func(q *HistoryQuery) { q.Search = "d1" }), []string{"a1"}},
		{"search stream", with(func(q *HistoryQuery) { q.Search = "s4" }), []string{"a4"}},
		{"search with a quote", with(func(q *HistoryQuery) { q.Search = "acc'9" }), []string{"a2"}},
		{"search injection is a string", with(func(q *HistoryQuery) { q.Search = `x' OR 1=1 OR id = '` }), nil},
		{"moderator", with(func(q *HistoryQuery) { q.Moderator = "lead" }), []string{"a4"}},
		{"page 1", with(func(q *HistoryQuery) { q.Limit = 2 }), []string{"a4", "a3"}},
		{"page 2", with(func(q *HistoryQuery) { q.Limit = 2; q.BeforeAt, q.BeforeID = now.Add(-time.Hour), "a3" }), []string{"a2", "a1"}},
	} {
		if got := ids(tc.q); !slices.Equal(got, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
	got, err := ReadHistory(ctxT(t), conn, o, with(func(q *HistoryQuery) { q.Search = "a1" }))
	if err != nil || len(got) != 1 {
		t.Fatalf("a1: %v %v", got, err)
	}
	if len(got[0].Actions) != 2 || got[0].Actions[1].Action != "dismiss" || got[0].Updates != 1 {
		t.Errorf("a1 read back as version %d with actions %+v", got[0].Updates, got[0].Actions)
	}
	one, found, err := ReadAlert(ctxT(t), conn, o, "a4", base.From, base.To)
	if err != nil || !found || one.Actions[0].Action != "escalate" {
		t.Errorf("ReadAlert a4: %+v %v %v", one, found, err)
	}
	if _, found, err := ReadAlert(ctxT(t), conn, o, "nope", base.From, base.To); found || err != nil {
		t.Errorf("ReadAlert of an unknown id: found %v, %v", found, err)
	}
	if _, err := ReadHistory(ctxT(t), conn, o, HistoryQuery{Limit: 1}); !errors.Is(err, ErrBadQuery) {
		t.Errorf("no days: %v, want ErrBadQuery", err)
	}

	spans, err := ReadBroadcasts(ctxT(t), conn, o, []string{"h1", "h2"}, base.From, base.To, 100)
	if err != nil || len(spans) != 1 || spans[0].TZ != "Asia/Jakarta" || spans[0].End.Sub(spans[0].Start) != time.Hour {
		t.Errorf("broadcasts: %+v %v", spans, err)
	}
	flows, err := ReadFlows(ctxT(t), conn, o, []string{"h1"}, nil, base.From, now)
	var gifts, payouts int64
	for _, f := range flows {
		switch f.Type {
		case "gift":
			gifts += f.Coins
		case "payout":
			payouts += f.Coins
		}
	}
	if err != nil || gifts != 75 || payouts != 70 {
		t.Errorf("flows: gifts %d payouts %d (%+v) %v", gifts, payouts, flows, err)
	}
	links, err := ReadLinks(ctxT(t), conn, o, []string{"h1"}, nil, base.From, base.To, 100)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []Link{{"host:h1", "device:d1", "device"}, {"host:h1", "location:qqgu", "location"},
		{"account:h1", "account:agency", "agency"}, {"account:h1", "account:agency", "payout"}} {
		if !slices.Contains(links, want) {
			t.Errorf("links %v lack %v", links, want)
		}
	}
}

// BenchmarkReadHistory reads a page of 50 from 20,000 alerts of 2 versions
// each, with a search by a host's id and with no filter, on the server
// chtest runs.
func BenchmarkReadHistory(b *testing.B) {
	s := sharedServer(b)
	conn := connect(b, s)
	o := Options{Database: freshDB(b)}
	if _, err := Migrate(ctxT(b), conn, o); err != nil {
		b.Fatal(err)
	}
	w := newTestWriter(b, conn, o)
	ctx, cancel := context.WithCancel(context.Background())
	go w.Run(ctx)
	defer cancel()
	now := time.Now().UTC().Truncate(time.Second)
	for i := range 20000 {
		for v := range 2 {
			h := analyzer.EntityRef{Kind: "host", ID: fmt.Sprintf("h%d", i)}
			r := NewAlertRow(analyzer.Alert{ID: fmt.Sprintf("a%d", i), At: now.Add(-time.Duration(i) * time.Minute), Severity: analyzer.SeverityHigh,
				Subject: h, Entities: []analyzer.EntityRef{h, {Kind: "device", ID: fmt.Sprintf("d%d", i%500)}}, Updates: v,
				Reasons: []analyzer.Reason{{Detector: "schedule", Score: 0.6}}}, now)
			w.add(&r)
		}
	}
	w.Close(ctxT(b))
	for _, bc := range []struct {
		name string
		q    HistoryQuery
	}{
		{"newest", HistoryQuery{From: now.AddDate(0, 0, -30), To: now, Limit: 51}},
		{"search", HistoryQuery{From: now.AddDate(0, 0, -30), To: now, Limit: 51, Search: "d42"}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				got, err := ReadHistory(ctxT(b), conn, o, bc.q)
				if err != nil || len(got) == 0 {
					b.Fatal(len(got), err)
				}
			}
		})
	}
}
