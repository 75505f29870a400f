package store

import (
	"context"
	"fmt"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/ronda-watch/ronda/analyzer"
	"github.com/ronda-watch/ronda/analyzer/event"
	"github.com/ronda-watch/ronda/sidecar/store/chtest"
)

var t0 = time.Date(2024, 5, 1, 21, 30, 15, 0, time.UTC)

// sampleRows is one of each kind of row, with every column set.
func sampleRows() []Row {
	p := Pseudonymizer{Key: []byte("test-key")}
	ing := t0.Add(time.Hour)
	var rows []Row
	evs := []*event.Event{
		{Type: event.TypeStreamStart, ID: "e1", At: t0, Node: "n1", StreamID: "s1", HostID: "h1",
			DeviceID: "d1", IP: "203.0.113.77", Geo: &event.Geo{Lat: 14.5995, Lon: 120.9842}, TZ: "Asia/Manila", AgencyID: "ag1", Title: "secret title"},
		{Type: event.TypeGift, ID: "e2", At: t0.Add(time.Minute), StreamID: "s1", HostID: "h1", SenderID: "viewer-42", Coins: 500, Gift: "rose", SenderCountry: "US"},
		{Type: event.TypePayout, ID: "e3", At: t0.Add(2 * time.Minute), AccountID: "a1", ToAccount: "b1", Amount: 12.5, Currency: "PHP", Method: "ewallet"},
		{Type: event.TypePost, ID: "e4", At: t0.Add(3 * time.Minute), AccountID: "a2", Kind: "job_ad", Text: "never stored"},
		{Type: event.TypeLink, ID: "e5", At: t0.Add(4 * time.Minute), FromID: "a1", ToID: "h1", Rel: "agency"},
		{Type: event.TypeSignal, ID: "e6", At: t0.Add(5 * time.Minute), StreamID: "s1", HostID: "h1", Source: "clf", Label: "minor", Score: 0.875},
	}
	for _, ev := range evs {
		r := p.NewEventRow(ev, ing)
		rows = append(rows, &r)
	}
	s := NewSignalRow(analyzer.Signal{At: t0, Detector: "night", Entity: analyzer.EntityRef{Kind: "host", ID: "h1"},
		Score: 0.5, Summary: "Broadcast 5 nights.", Evidence: map[string]any{"nights": 5}}, ing)
	ss := NewSessionRow(analyzer.Session{StreamID: "s1", HostID: "h1", Start: t0, End: t0.Add(90 * time.Minute),
		Minutes: 90, NightMinutes: 60, Device: "d1", Cell: "wdw4f8x", Network: "203.0.113.0/24", TZ: "Asia/Manila",
		Coins: 1500, ForeignCoins: 1000, Gifts: 7, Heartbeats: 90, Private: 30, DirectedGifts: 2}, ing)
	a := NewAlertRow(analyzer.Alert{ID: "al1", At: t0.Add(time.Hour), Severity: analyzer.SeverityHigh, Score: 0.9,
		Subject:  analyzer.EntityRef{Kind: "host", ID: "h1"},
		Entities: []analyzer.EntityRef{{Kind: "host", ID: "h1"}, {Kind: "account", ID: "a1"}, {Kind: "location", ID: "wdw4f8x"}},
		Reasons:  []analyzer.Reason{{Detector: "night", Score: 0.5, Summary: "x", Evidence: map[string]any{"n": 1}}},
		Updates:  2}, ing)
	act := NewActionRow(ActionRow{At: t0.Add(2 * time.Hour), ActionID: "act1", AlertID: "al1", Moderator: "m1",
		Action: "escalate", Target: "host:h1", Reason: "ring", Note: "n"}, ing)
	return append(rows, &s, &ss, &a, &act)
}

// readBack reads a table with FINAL into rows of the same Go types as want.
func readBack(t testing.TB, conn driver.Conn, o Options, table string, orderBy string, proto Row) [][]any {
	t.Helper()
	q := fmt.Sprintf("SELECT %s FROM %s FINAL ORDER BY %s", strings.Join(quoteAll(columnsOf[table]), ", "), o.Qualified(table), orderBy)
	rows, err := conn.Query(ctxT(t), q)
	if err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	defer rows.Close()
	var out [][]any
	for rows.Next() {
		ptrs := make([]any, len(proto.values()))
		for i, v := range proto.values() {
			ptrs[i] = reflect.New(reflect.TypeOf(v)).Interface()
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		vals := make([]any, len(ptrs))
		for i, p := range ptrs {
			v := reflect.ValueOf(p).Elem().Interface()
			if tm, ok := v.(time.Time); ok {
				v = tm.UTC()
			}
			vals[i] = v
		}
		out = append(out, vals)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

func insertDirect(t testing.TB, w *Writer, rows []Row) {
	t.Helper()
	by := map[string][]Row{}
	for _, r := range rows {
		by[r.table()] = append(by[r.table()], r)
	}
	for tb, rs := range by {
		if err := w.send(ctxT(t), tb, rs); err != nil {
			t.Fatal(err)
		}
	}
}

func newTestWriter(t testing.TB, conn driver.Conn, o Options) *Writer {
	t.Helper()
	w, err := NewWriter(WriterOptions{Conn: conn, Schema: o})
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// TestRoundTrip writes every table through a Writer on an injected Conn (one
// block per insert) and through one that dials the DSN itself and streams
// blocks of one row within each insert (batch.Flush), and reads each back.
func TestRoundTrip(t *testing.T) {
	t.Run("conn", func(t *testing.T) {
		testRoundTrip(t, func(s *chtest.Server, conn driver.Conn, o Options) *Writer { return newTestWriter(t, conn, o) })
	})
	t.Run("streamed", func(t *testing.T) {
		var most atomic.Int32 // the most blocks one insert carried
		testRoundTrip(t, func(s *chtest.Server, conn driver.Conn, o Options) *Writer {
			w, err := NewWriter(WriterOptions{DSN: s.DSN(), Schema: o, BatchRows: 2, BlockRows: 1, InsertRows: 100})
			if err != nil {
				t.Fatal(err)
			}
			w.afterBlock = func(_ string, block int) {
				if int32(block) > most.Load() {
					most.Store(int32(block))
				}
			}
			return w
		})
		if most.Load() < 2 {
			t.Errorf("at most %d block per insert: nothing was streamed", most.Load())
		}
	})
}

func testRoundTrip(t *testing.T, newWriter func(*chtest.Server, driver.Conn, Options) *Writer) {
	s := sharedServer(t)
	conn := connect(t, s)
	o := Options{Database: freshDB(t)}
	if _, err := Migrate(ctxT(t), conn, o); err != nil {
		t.Fatal(err)
	}
	w := newWriter(s, conn, o)
	rows := sampleRows()
	// Through the writer's intake, flushed by Close.
	ctx, cancel := context.WithCancel(context.Background())
	go w.Run(ctx)
	defer cancel()
	for _, r := range rows {
		w.add(r)
	}
	w.Close(ctxT(t))

	order := map[string]string{TableEvents: "id", TableSignals: "at", TableSessions: "start", TableAlerts: "id", TableActions: "action_id"}
	want := map[string][][]any{}
	proto := map[string]Row{}
	for _, r := range rows {
		want[r.table()] = append(want[r.table()], normalise(r.values()))
		proto[r.table()] = r
	}
	for tb, w := range want {
		got := readBack(t, conn, o, tb, order[tb], proto[tb])
		if !reflect.DeepEqual(got, w) {
			t.Errorf("%s round trip:\n got %v\nwant %v", tb, got, w)
		}
	}
	// The command line sees the same.
	out, err := s.Client("SELECT id, type, counterpart, coins, amount, kind, cell, network, country FROM " + o.Qualified("events") + " FINAL ORDER BY id FORMAT TSV")
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, r := range rows[:6] {
		e := r.(*EventRow)
		fmt.Fprintf(&b, "%s\t%s\t%s\t%d\t%v\t%s\t%s\t%s\t%s\n", e.ID, e.Type, e.Counterpart, e.Coins, e.Amount, e.Kind, e.Cell, e.Network, e.Country)
	}
	if out != b.String() {
		t.Errorf("clickhouse-client:\n%s\nwant\n%s", out, b.String())
	}
	// Privacy: the pseudonym, the prefix and the cell, never the raw values.
	if strings.Contains(out, "viewer-42") || strings.Contains(out, "203.0.113.77") {
		t.Errorf("raw personal data stored:\n%s", out)
	}
	if !strings.Contains(out, "203.0.113.0/24") || !strings.Contains(out, "\twdw511f\t") {
		t.Errorf("prefix or cell missing:\n%s", out)
	}
	out, _ = s.Client("SELECT entities, hosts, accounts, detectors FROM " + o.Qualified("alerts") + " FINAL FORMAT TSV")
	if out != "['host:h1','account:a1','location:wdw4f8x']\t['h1']\t['a1']\t['night']\n" {
		t.Errorf("alert arrays via client: %q", out)
	}
}

func normalise(v []any) []any {
	out := make([]any, len(v))
	for i, x := range v {
		if tm, ok := x.(time.Time); ok {
			x = tm.UTC()
		}
		out[i] = x
	}
	return out
}

func TestReinsertDoesNotDouble(t *testing.T) {
	s := sharedServer(t)
	conn := connect(t, s)
	o := Options{Database: freshDB(t)}
	if _, err := Migrate(ctxT(t), conn, o); err != nil {
		t.Fatal(err)
	}
	w := newTestWriter(t, conn, o)
	defer w.Close(ctxT(t))
	rows := sampleRows()
	queries := []string{
		"SELECT count() FROM " + o.Qualified("events") + " FINAL",
		"SELECT count() FROM " + o.Qualified("signals") + " FINAL",
		"SELECT count() FROM " + o.Qualified("alerts") + " FINAL",
		"SELECT count() FROM " + o.Qualified("actions") + " FINAL",
		"SELECT hour, region, streams, minutes_total, night_share, gifts_total, coins_total, foreign_share FROM " + o.Qualified("trend_hourly_streams") + " FORMAT TSV",
		"SELECT day, region, streams, night_minutes_total, coins_total, foreign_coins_total FROM " + o.Qualified("trend_daily_streams") + " FORMAT TSV",
		"SELECT * FROM " + o.Qualified("trend_daily_signals") + " FORMAT TSV",
		"SELECT * FROM " + o.Qualified("trend_hourly_alerts") + " FORMAT TSV",
		"SELECT * FROM " + o.Qualified("trend_daily_alerts_by_region") + " FORMAT TSV",
	}
	insertDirect(t, w, rows)
	var once []string
	for _, q := range queries {
		out, err := s.Client(q)
		if err != nil {
			t.Fatal(err)
		}
		once = append(once, out)
	}
	insertDirect(t, w, rows)
	insertDirect(t, w, rows)
	for i, q := range queries {
		out, err := s.Client(q)
		if err != nil {
			t.Fatal(err)
		}
		if out != once[i] {
			t.Errorf("after re-insert %s:\n got %s\nwant %s", q, out, once[i])
		}
	}
	if once[4] != "2024-05-01 21:00:00\twdw4\t1\t90\t0.6666666666666666\t7\t1500\t0.6666666666666666\n" {
		t.Errorf("hourly streams: %q", once[4])
	}
	if once[8] != "2024-05-01\twdw4\thigh\t1\n" {
		t.Errorf("alerts by region: %q", once[8])
	}
	// Unmerged parts really hold the copies: FINAL is what hides them.
	out, _ := s.Client("SELECT count() FROM " + o.Qualified("events"))
	if strings.TrimSpace(out) != "18" && strings.TrimSpace(out) != "6" {
		t.Logf("events without FINAL: %s", out)
	}
}
