package dashboards

import (
	"bufio"
	"compress/gzip"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/ronda-watch/ronda/analyzer/text"
	"github.com/ronda-watch/ronda/sidecar/store"
)

// Delays of the moderators' actions that moderate writes, in minutes: a claim
// claimMin..claimMax after an alert is raised, an escalation or dismissal
// within decideMax after the claim.
const (
	claimMin, claimMax = 5, 120
	decideMin          = 3
	decideMax          = 60
)

// moderation is what moderate did, for checking the panels against it.
type moderation struct {
	alerts    int
	escalated map[string]bool // alert ids
	// perDetector counts the alerts escalated and dismissed by detector of
	// their last version.
	escalatedBy, dismissedBy map[string]int
	reasons                  map[string]int // dismiss reason typed -> alerts
	minorHosts               map[string]bool
	ringRegion               string // a geohash-4 region of an escalated ring
	ids                      map[string]bool
	// cues are the lures of analyzer/text in the world's posts: what the
	// recruitment cues panel must show, whichever world was replayed.
	cues map[string]bool
}

// lookalikeReason is what a moderator types when dismissing an alert with
// these detectors: the lookalikes of DOMAIN.md, as the console's free text.
func lookalikeReason(dets []string) string {
	switch {
	case slices.Contains(dets, "money"):
		return "legit agency"
	case slices.Contains(dets, "colocation"):
		return "boarding house"
	case slices.Contains(dets, "age"):
		return "teen at home"
	default:
		return "night gamer"
	}
}

// moderate writes the moderators' work on the replayed alerts through the
// store's Writer, as the hub does: most alerts are claimed minutes after they
// are raised (every ninth lookalike is left unclaimed), alerts naming a ring's
// host or account are escalated, the others dismissed with a lookalike reason.
func moderate(t *testing.T, ctx context.Context, conn driver.Conn, dsn string, positive map[string]bool) moderation {
	t.Helper()
	rows, err := query(ctx, conn, `SELECT id, min(at) AS raised, argMax(hosts, updates) AS hosts,
 argMax(accounts, updates) AS accounts, argMax(detectors, updates) AS detectors,
 argMax(entities, updates) AS entities
 FROM ronda.alerts FINAL GROUP BY id ORDER BY raised, id`)
	if err != nil {
		t.Fatal(err)
	}
	w, err := store.NewWriter(store.WriterOptions{DSN: dsn, Schema: store.Options{Database: "ronda"}, Block: true})
	if err != nil {
		t.Fatal(err)
	}
	wctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.Run(wctx) }()
	m := moderation{escalated: map[string]bool{}, escalatedBy: map[string]int{}, dismissedBy: map[string]int{},
		reasons: map[string]int{}}
	for i, r := range rows {
		id, raised := r["id"].(string), r["raised"].(time.Time)
		dets := r["detectors"].([]string)
		ring := false
		for _, e := range append(r["hosts"].([]string), r["accounts"].([]string)...) {
			ring = ring || positive[e]
		}
		m.alerts++
		if !ring && i%9 == 8 {
			continue
		}
		claim := raised.Add(time.Duration(claimMin+(i*37)%(claimMax-claimMin)) * time.Minute)
		decide := claim.Add(time.Duration(decideMin+(i*13)%(decideMax-decideMin)) * time.Minute)
		w.Action(store.ActionRow{At: claim, ActionID: fmt.Sprintf("act-%d-claim", i), AlertID: id, Moderator: "mod-1", Action: "claim"})
		if ring {
			w.Action(store.ActionRow{At: decide, ActionID: fmt.Sprintf("act-%d-esc", i), AlertID: id, Moderator: "mod-1", Action: "escalate"})
			m.escalated[id] = true
			for _, d := range dets {
				m.escalatedBy[d]++
			}
			for _, e := range r["entities"].([]string) {
				if cell, ok := strings.CutPrefix(e, "location:"); ok && m.ringRegion == "" && len(cell) >= 4 {
					m.ringRegion = cell[:4]
				}
			}
			continue
		}
		reason := lookalikeReason(dets)
		w.Action(store.ActionRow{At: decide, ActionID: fmt.Sprintf("act-%d-dis", i), AlertID: id, Moderator: "mod-1", Action: "dismiss", Reason: reason})
		m.reasons[reason]++
		for _, d := range dets {
			m.dismissedBy[d]++
		}
	}
	cctx, ccancel := context.WithTimeout(context.Background(), time.Minute)
	defer ccancel()
	if err := w.Close(cctx); err != nil {
		t.Fatal(err)
	}
	cancel()
	<-done
	if len(m.escalated) == 0 || len(m.reasons) == 0 || m.ringRegion == "" {
		t.Fatalf("the world gave no ring to escalate, lookalike to dismiss or ring region: %+v", m)
	}

	minors, err := query(ctx, conn, "SELECT DISTINCT entity_id FROM ronda.signals FINAL WHERE detector = 'age' AND score >= 0.5")
	if err != nil {
		t.Fatal(err)
	}
	m.minorHosts = map[string]bool{}
	for _, r := range minors {
		m.minorHosts[r["entity_id"].(string)] = true
	}
	m.ids = rawIDs(t, ctx, conn)
	return m
}

// rawIDs is every id, pseudonym, place and network the raw tables hold.
func rawIDs(t *testing.T, ctx context.Context, conn driver.Conn) map[string]bool {
	ids := map[string]bool{}
	for _, q := range []string{
		`SELECT DISTINCT arrayJoin([id, stream_id, host_id, account_id, counterpart, device_id, cell, network]) AS v FROM ronda.events`,
		`SELECT DISTINCT arrayJoin(arrayConcat([id, subject_id], hosts, accounts, entities)) AS v FROM ronda.alerts`,
		`SELECT DISTINCT arrayJoin([action_id, alert_id, moderator]) AS v FROM ronda.actions`,
		`SELECT DISTINCT arrayJoin([stream_id, host_id, device_id, cell, network]) AS v FROM ronda.stream_sessions`,
	} {
		rows, err := query(ctx, conn, q)
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range rows {
			if v := r["v"].(string); v != "" {
				ids[v] = true
			}
		}
	}
	return ids
}

// checkAnalystPanels checks the analysts' panels against what the world and
// the moderators did.
func checkAnalystPanels(t *testing.T, results map[string][]map[string]any, m moderation) {
	// Outcomes by detector: exactly the escalations and dismissals written,
	// per detector, and the precision they make.
	seen := map[string]bool{}
	for _, r := range results["outcomes_by_detector"] {
		d := r["detector"].(string)
		seen[d] = true
		esc, dis := r["escalated"].(uint64), r["dismissed"].(uint64)
		if int(esc) != m.escalatedBy[d] || int(dis) != m.dismissedBy[d] {
			t.Errorf("outcomes %s: escalated %d dismissed %d, moderators did %d and %d", d, esc, dis, m.escalatedBy[d], m.dismissedBy[d])
		}
		want := math.Round(float64(esc)/float64(max(esc+dis, 1))*1000) / 1000
		if p := r["precision"].(float64); p != want {
			t.Errorf("outcomes %s: precision %v, want %v", d, p, want)
		}
		for _, s := range r["dismiss_reasons"].([]string) {
			reason, _, _ := strings.Cut(s, ": ")
			if m.reasons[reason] == 0 {
				t.Errorf("outcomes %s: dismiss reason %q was never typed", d, s)
			}
		}
	}
	for d := range m.escalatedBy {
		if !seen[d] {
			t.Errorf("outcomes: detector %s of an escalated ring is missing", d)
		}
	}
	// The ring detectors are precise here; night schedules alone are not.
	if m.escalatedBy["recruitment"] > 0 && m.dismissedBy["recruitment"] == 0 && !anyRow(results["outcomes_by_detector"], func(r map[string]any) bool {
		return r["detector"] == "recruitment" && r["precision"].(float64) == 1
	}) {
		t.Error("recruitment precision is not 1 though only rings carried it")
	}

	// Time to claim and escalate: within the delays written, p50 <= p90.
	var escalated uint64
	for _, r := range results["response_times"] {
		if r["alerts_claimed"].(uint64) > r["alerts"].(uint64) {
			t.Errorf("response: more claimed than alerts: %v", r)
		}
		c50, c90 := r["claim_p50_min"].(float64), r["claim_p90_min"].(float64)
		if r["alerts_claimed"].(uint64) > 0 && (c50 < claimMin || c90 >= claimMax || c50 > c90) {
			t.Errorf("response: claim minutes p50 %v p90 %v outside [%d, %d) or unordered", c50, c90, claimMin, claimMax)
		}
		if n := r["alerts_escalated"].(uint64); n > 0 {
			e50, e90 := r["escalate_p50_min"].(float64), r["escalate_p90_min"].(float64)
			if e50 < claimMin+decideMin || e90 >= claimMax+decideMax || e50 > e90 {
				t.Errorf("response: escalate minutes p50 %v p90 %v out of range or unordered", e50, e90)
			}
			escalated += n
		}
	}
	if int(escalated) != len(m.escalated) {
		t.Errorf("response: %d escalated alerts, moderators escalated %d", escalated, len(m.escalated))
	}

	// Sender countries: ISO codes, shares that add up to one.
	share := 0.0
	for _, r := range results["gift_countries_flagged"] {
		c := r["country"].(string)
		if c != "(unknown)" && (len(c) != 2 || strings.ToUpper(c) != c) {
			t.Errorf("gift countries: %q is no ISO 3166 code", c)
		}
		if r["coins"].(int64) <= 0 || r["senders"].(uint64) == 0 || r["hosts"].(uint64) == 0 {
			t.Errorf("gift countries: empty row %v", r)
		}
		share += r["coins_share"].(float64)
	}
	if n := float64(len(results["gift_countries_flagged"])); math.Abs(share-1) > 0.0005*n+1e-9 {
		t.Errorf("gift countries: shares add up to %v", share)
	}

	// Hosts per escalated ring: every escalated alert, with its hosts and
	// minors as the labels and age signals say.
	rings := results["escalated_rings"]
	if len(rings) != len(m.escalated) {
		t.Errorf("escalated rings: %d rows, moderators escalated %d", len(rings), len(m.escalated))
	}
	minors := uint64(0)
	for _, r := range rings {
		if !m.escalated[r["alert_id"].(string)] {
			t.Errorf("escalated rings: %s was not escalated", r["alert_id"])
		}
		h, mi := r["hosts"].(uint64), r["minors"].(uint64)
		if h < 1 || mi > h {
			t.Errorf("escalated rings: %d hosts, %d minors", h, mi)
		}
		minors += mi
	}
	if minors == 0 {
		t.Error("escalated rings: no minor, though a ring's hosts declared birth years under 18")
	}
	months := results["minors_per_month"]
	var mRings, mMinors uint64
	for _, r := range months {
		mRings += r["rings"].(uint64)
		mMinors += r["minors"].(uint64)
		if r["minors"].(uint64) > r["hosts"].(uint64) {
			t.Errorf("minors per month: more minors than hosts: %v", r)
		}
	}
	if int(mRings) != len(m.escalated) || mMinors != minors {
		t.Errorf("minors per month: %d rings and %d minors, the rings panel has %d and %d", mRings, mMinors, len(m.escalated), minors)
	}

	// Regions: geohash-4 at the finest, flagged within hosts, the ring's region
	// flagged and escalated.
	ringRegion := false
	for _, r := range results["regions"] {
		reg := r["region"].(string)
		if reg != "(no location)" && len(reg) != 4 {
			t.Errorf("regions: %q is not a geohash-4 region", reg)
		}
		if r["flagged_hosts"].(uint64) > r["hosts"].(uint64) || r["night_share"].(float64) > 1 || r["flagged_share"].(float64) > 1 {
			t.Errorf("regions: implausible %v", r)
		}
		if reg == m.ringRegion && r["flagged_hosts"].(uint64) > 0 && r["escalated_alerts"].(uint64) > 0 {
			ringRegion = true
		}
	}
	if !ringRegion {
		t.Errorf("regions: the ring's region %s shows no flagged host or escalation", m.ringRegion)
	}

	// Recruitment cues and languages: the lures of the world's ads and DMs.
	cues := map[string]bool{}
	for _, r := range results["recruitment_cues"] {
		c := r["cue"].(string)
		if !slices.Contains(text.LureCues, c) {
			t.Errorf("recruitment cues: %q is not a lure", c)
		}
		cues[c] = true
	}
	for _, c := range []string{"young_age", "lodging"} {
		if !m.cues[c] {
			t.Errorf("the world's posts carry no %s cue: a weak world for this panel (%v)", c, m.cues)
		}
	}
	for c := range m.cues {
		if !cues[c] {
			t.Errorf("recruitment cues: %s missing, which the world's posts carry", c)
		}
	}
	langs := map[string]bool{}
	for _, r := range results["recruitment_languages"] {
		langs[r["lang"].(string)] = true
	}
	if !langs["id"] {
		t.Errorf("recruitment languages: no Indonesian among %v", langs)
	}
}

// checkVariables runs the panels with other values of the variables: a region
// keeps to its alerts, a higher severity drops the dismissed lookalikes, a
// week holds its days.
func checkVariables(t *testing.T, ctx context.Context, conn driver.Conn, from, to time.Time, m moderation) {
	run := func(name string, vars map[string]string) []map[string]any {
		for _, q := range Queries() {
			if q.Name != name {
				continue
			}
			v := DefaultVars()
			for k, x := range vars {
				v[k] = x
			}
			sql, err := ExpandVars(q.SQL, from.Add(-time.Hour), to.Add(24*time.Hour), "ronda", v)
			if err != nil {
				t.Fatal(err)
			}
			rows, err := query(ctx, conn, sql)
			if err != nil {
				t.Fatalf("%s with %v: %v", name, vars, err)
			}
			return rows
		}
		t.Fatalf("no query %s", name)
		return nil
	}
	if rows := run("escalated_rings", map[string]string{"region": m.ringRegion}); len(rows) == 0 {
		t.Errorf("escalated rings in the ring's region %s: none", m.ringRegion)
	}
	if rows := run("escalated_rings", map[string]string{"region": "zzzz"}); len(rows) != 0 {
		t.Errorf("escalated rings in a region with none: %v", rows)
	}
	for _, r := range run("regions", map[string]string{"region": m.ringRegion}) {
		if r["region"] != m.ringRegion {
			t.Errorf("regions filtered to %s gave %v", m.ringRegion, r["region"])
		}
	}
	high := run("outcomes_by_detector", map[string]string{"min_severity": "3"})
	if len(high) == 0 {
		t.Error("outcomes of high alerts: none, though rings were escalated")
	}
	for _, r := range high {
		if r["escalated"].(uint64) == 0 {
			t.Errorf("outcomes of high alerts: %v has no escalation", r)
		}
	}
	days, weeks := run("response_times", nil), run("response_times", map[string]string{"period": "week"})
	if len(weeks) == 0 || len(weeks) > len(days) {
		t.Errorf("response times: %d weeks for %d days", len(weeks), len(days))
	}
	for _, r := range weeks {
		if wd := r["time"].(time.Time).Weekday(); wd != time.Monday {
			t.Errorf("response times by week: bucket on a %s", wd)
		}
	}
	for _, r := range run("recruitment_cues", map[string]string{"period": "month"}) {
		if r["time"].(time.Time).Day() != 1 {
			t.Errorf("recruitment cues by month: bucket %v", r["time"])
		}
	}
}

// checkAggregates fills the daily aggregates as `ronda migrate` does, checks
// them against the panels and for ids, and exports them with the binary.
func checkAggregates(t *testing.T, ctx context.Context, conn driver.Conn, bin, dsn string, m moderation) {
	opts := store.Options{Database: "ronda"}
	migrate := func(args ...string) string {
		t.Helper()
		start := time.Now()
		b, err := exec.Command(bin, append([]string{"migrate", "--clickhouse", dsn}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("ronda migrate %v: %v\n%s", args, err, b)
		}
		t.Logf("ronda migrate %v took %v: %s", args, time.Since(start).Round(time.Millisecond), strings.TrimSpace(string(b)))
		return string(b)
	}
	// The world ended long ago: every day has settled.
	if out := migrate(); !strings.Contains(out, "aggregated ") || strings.Contains(out, "aggregated 0 ") {
		t.Fatalf("migrate aggregated nothing from a settled world: %s", out)
	}
	if out := migrate(); !strings.Contains(out, "aggregated 0 table-days") {
		t.Errorf("a second migrate aggregated again: %s", out)
	}
	from, to := time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC), time.Now()
	read := map[string][][]any{}
	for _, name := range store.AggregateTables() {
		err := store.ReadAggregates(ctx, conn, opts, name, from, to, func(cols []string, vals []any) error {
			read[name] = append(read[name], vals)
			for i, v := range vals {
				if s, ok := v.(string); ok && m.ids[s] {
					t.Errorf("%s.%s holds the id %q", name, cols[i], s)
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(read[name]) == 0 {
			t.Errorf("aggregate %s is empty", name)
		}
	}
	col := func(name, c string) int { return slices.Index(store.AggregateColumns(name), c) }
	var rings, minors uint64
	for _, r := range read[store.AggEscalations] {
		rings += r[col(store.AggEscalations, "rings")].(uint64)
		minors += uint64(r[col(store.AggEscalations, "minors")].(uint32)) * r[col(store.AggEscalations, "rings")].(uint64)
	}
	if int(rings) != len(m.escalated) || minors == 0 {
		t.Errorf("aggregated escalations: %d rings with %d minors; moderators escalated %d", rings, minors, len(m.escalated))
	}
	escBy := map[string]uint64{}
	for _, r := range read[store.AggOutcomes] {
		if r[col(store.AggOutcomes, "outcome")] == "escalate" {
			escBy[r[col(store.AggOutcomes, "detector")].(string)] += r[col(store.AggOutcomes, "alerts")].(uint64)
		}
		if reason := r[col(store.AggOutcomes, "reason")].(string); reason != "" && !slices.Contains(store.DismissReasons, reason) && reason != "other" {
			t.Errorf("aggregated outcomes: reason %q is no code", reason)
		}
	}
	for d, n := range m.escalatedBy {
		if escBy[d] != uint64(n) {
			t.Errorf("aggregated outcomes: %s escalated %d, moderators %d", d, escBy[d], n)
		}
	}

	// Export with the binary, as an NGO's copy would be made.
	dir := t.TempDir()
	for _, format := range []string{"csv", "ndjson"} {
		out := filepath.Join(dir, format)
		cmd := exec.Command(bin, "export-aggregates", "--clickhouse", dsn, "--from", "2000-01-01",
			"--to", time.Now().UTC().Format(time.DateOnly), "--format", format, "--out", out)
		if b, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("export-aggregates --format %s: %v\n%s", format, err, b)
		}
		for _, name := range store.AggregateTables() {
			f, err := os.Open(filepath.Join(out, name+"."+format))
			if err != nil {
				t.Fatal(err)
			}
			var records [][]string
			if format == "csv" {
				records, err = csv.NewReader(f).ReadAll()
				if err == nil && !slices.Equal(records[0], store.AggregateColumns(name)) {
					t.Errorf("%s.csv header %v", name, records[0])
				}
				records = records[1:]
			} else {
				sc := bufio.NewScanner(f)
				for sc.Scan() {
					var obj map[string]any
					if err := json.Unmarshal(sc.Bytes(), &obj); err != nil {
						t.Fatalf("%s.ndjson: %v: %s", name, err, sc.Text())
					}
					var rec []string
					for _, c := range store.AggregateColumns(name) {
						v, ok := obj[c]
						if !ok {
							t.Fatalf("%s.ndjson lacks %s: %s", name, c, sc.Text())
						}
						rec = append(rec, fmt.Sprint(v))
					}
					records = append(records, rec)
				}
				err = sc.Err()
			}
			f.Close()
			if err != nil {
				t.Fatal(err)
			}
			if len(records) != len(read[name]) {
				t.Errorf("%s.%s: %d rows, the table has %d", name, format, len(records), len(read[name]))
			}
			for _, rec := range records {
				for _, v := range rec {
					if m.ids[v] {
						t.Errorf("%s.%s exports the id %q", name, format, v)
					}
				}
			}
		}
	}

	// The aggregates' own retention: the world's months are past 30 days, so
	// they go (whole months on 18.16, by TTL later), and the raw rows, which
	// have no retention here, stay.
	var rawBefore uint64
	if err := conn.QueryRow(ctx, "SELECT count() FROM ronda.events").Scan(&rawBefore); err != nil {
		t.Fatal(err)
	}
	migrate("--aggregate-retention-days", "30")
	ttl, err := store.SupportsTTL(conn)
	if err != nil {
		t.Fatal(err)
	}
	if ttl {
		// The TTL applies at the next merge.
		if err := conn.Exec(ctx, "OPTIMIZE TABLE ronda."+store.AggOutcomes+" FINAL"); err != nil {
			t.Fatal(err)
		}
	}
	var aggLeft, rawAfter uint64
	if err := conn.QueryRow(ctx, "SELECT count() FROM ronda."+store.AggOutcomes).Scan(&aggLeft); err != nil {
		t.Fatal(err)
	}
	if err := conn.QueryRow(ctx, "SELECT count() FROM ronda.events").Scan(&rawAfter); err != nil {
		t.Fatal(err)
	}
	if aggLeft != 0 || rawAfter != rawBefore {
		t.Errorf("after aggregate retention: %d outcome rows left (want 0), events %d of %d", aggLeft, rawAfter, rawBefore)
	}
}

// postCues reads an event file (NDJSON, gzip) and returns the lure cues of
// its posts, as the record derives them.
func postCues(t *testing.T, path string) map[string]bool {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	cues := map[string]bool{}
	sc := bufio.NewScanner(zr)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		var ev struct{ Type, Text string }
		if json.Unmarshal(sc.Bytes(), &ev) != nil || ev.Type != "post" {
			continue
		}
		for _, c := range text.ParseRecruitment(ev.Text).Lures {
			cues[c] = true
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return cues
}
