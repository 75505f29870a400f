package serve

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ronda-watch/ronda/analyzer"
	"github.com/ronda-watch/ronda/analyzer/event"
)

// TestEndToEnd: a small world with one ring goes in, half its batches over
// HTTP and half over the websocket intake; two moderators watch; the ring's
// alert reaches both; one claims it, the other sees the claim, and the claim is
// in ClickHouse's audit table with the alert and the world's events.
func TestEndToEnd(t *testing.T) {
	ch := clickhouse(t)
	db := freshDB()
	cfg := baseConfig(t)
	cfg.ClickHouse.DSN = ch.DSN()
	cfg.ClickHouse.Database = db
	r := startService(t, cfg)

	a := dialModerator(t, r.addr, tokModA)
	b := dialModerator(t, r.addr, tokModB)
	for _, m := range []*moderator{a, b} {
		m.find(5*time.Second, "snapshot", func(msg map[string]any) bool { return msg["type"] == "snapshot" })
	}

	evs, labels := smallWorld(t, 3)
	ws := dialEventsWS(t, r.addr, "e2e")
	const batch = 1000
	accepted := 0
	for i, n := 0, 0; i < len(evs); i, n = i+batch, n+1 {
		part := evs[i:min(i+batch, len(evs))]
		if n%2 == 0 {
			accepted += postOK(t, r.addr, ndjson(t, part)).Accepted
		} else {
			accepted += ws.sendOK(t, part)
		}
	}
	if accepted != len(evs) {
		t.Fatalf("intake accepted %d of %d events", accepted, len(evs))
	}

	ring := labels.PositiveHosts[0]
	msgA := a.find(30*time.Second, "alert naming ring host "+ring, alertMsg(analyzer.SeverityMedium, ring))
	alert := msgA["alert"].(map[string]any)
	id := alert["id"].(string)
	b.find(10*time.Second, "the same alert at the other moderator", func(msg map[string]any) bool {
		al, _ := msg["alert"].(map[string]any)
		return msg["type"] == "alert" && al["id"] == id
	})

	a.send(map[string]any{"type": "action", "request_id": "r1", "alert_id": id, "action": "claim"})
	a.find(10*time.Second, "ack of the claim", func(msg map[string]any) bool {
		return msg["type"] == "ack" && msg["request_id"] == "r1"
	})
	b.find(10*time.Second, "mod-a's claim at mod-b", func(msg map[string]any) bool {
		act, _ := msg["action"].(map[string]any)
		return msg["type"] == "action" && act["moderator"] == "mod-a" && act["action"] == "claim" && act["alert_id"] == id
	})
	// b may not claim what a holds.
	b.send(map[string]any{"type": "action", "request_id": "r2", "alert_id": id, "action": "claim"})
	b.find(10*time.Second, "refusal of a second claim", func(msg map[string]any) bool {
		return msg["type"] == "error" && msg["request_id"] == "r2"
	})

	q := func(sql string) string {
		out, err := ch.Client(sql)
		if err != nil {
			t.Fatal(err)
		}
		return strings.TrimSpace(out)
	}
	waitFor(t, 30*time.Second, "the claim in the audit table", func() bool {
		out, err := ch.Client(fmt.Sprintf("SELECT moderator, action FROM %s.actions FINAL WHERE alert_id = '%s'", db, id))
		return err == nil && strings.TrimSpace(out) == "mod-a\tclaim"
	})
	waitFor(t, 30*time.Second, "the alert in the alerts table", func() bool {
		out, err := ch.Client(fmt.Sprintf("SELECT count() FROM %s.alerts FINAL WHERE id = '%s'", db, id))
		return err == nil && strings.TrimSpace(out) != "0"
	})
	kept := 0
	for i := range evs {
		if keep(evs[i].Type) {
			kept++
		}
	}
	waitFor(t, 30*time.Second, "every kept event in the events table", func() bool {
		out, err := ch.Client(fmt.Sprintf("SELECT count() FROM %s.events FINAL", db))
		return err == nil && strings.TrimSpace(out) == fmt.Sprint(kept)
	})
	if n := q(fmt.Sprintf("SELECT count() FROM %s.signals", db)); n == "0" {
		t.Error("no signals written")
	}
	if n := metricSum(t, r.svc.reg, "ronda_intake_ws_batches_total"); n == 0 {
		t.Error("no batch came over the websocket intake")
	}

	// Metrics: the figures moved, and no label names a stream, host or account.
	metrics := get(t, "http://"+r.addr+"/metrics")
	for _, want := range []string{"ronda_pipeline_events_total{outcome=\"analysed\"}", "ronda_intake_events_total",
		"ronda_hub_", "ronda_store_", "ronda_pipeline_alerts_total"} {
		if !strings.Contains(metrics, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	for _, id := range []string{ring, evs[0].StreamID, evs[0].HostID} {
		if id != "" && strings.Contains(metrics, id) {
			t.Errorf("/metrics names %q: no per-stream or per-account labels", id)
		}
	}
}

func keep(t event.Type) bool {
	switch t {
	case event.TypeChat, event.TypeStreamHeartbeat:
		return false
	}
	return true
}

func get(t testing.TB, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

// TestHealthReadyAndStop: /healthz answers, /readyz says ready and how the
// record is kept, and after a stop nothing accepted is lost: every event the
// intake took is either analysed or in the spool.
func TestHealthReadyAndStop(t *testing.T) {
	cfg := baseConfig(t)
	r := startService(t, cfg)
	if got := get(t, "http://"+r.addr+"/healthz"); strings.TrimSpace(got) != "ok" {
		t.Fatalf("/healthz: %q", got)
	}
	var ready map[string]any
	if err := json.Unmarshal([]byte(get(t, "http://"+r.addr+"/readyz")), &ready); err != nil {
		t.Fatal(err)
	}
	if ready["ready"] != true || !strings.Contains(fmt.Sprint(ready["clickhouse"]), "spooling") {
		t.Fatalf("/readyz: %v", ready)
	}
	if !strings.Contains(r.logs.String(), "no ClickHouse configured") {
		t.Error("the log does not say that the record is spooled")
	}
	evs, _ := smallWorld(t, 4)
	evs = evs[:5000]
	postOK(t, r.addr, ndjson(t, evs))
	if err := r.stop(t); err != nil {
		t.Fatal(err)
	}
	if r.svc.writer.Spooled() == 0 {
		t.Error("nothing spooled at the stop of a service without ClickHouse")
	}
	m := r.svc.pipe.m
	analysed := counter(t, m.events.WithLabelValues("analysed")) + counter(t, m.events.WithLabelValues("unanalysed"))
	if analysed != float64(len(evs)) {
		t.Errorf("%v events analysed or recorded at the stop, want %d", analysed, len(evs))
	}
}

// TestFutureEventRecordedNotAnalysed: an event from a sender whose clock runs
// an hour ahead is accepted, kept out of the analyzer (its time would age
// everyone's state) and still written to the record.
func TestFutureEventRecordedNotAnalysed(t *testing.T) {
	r := startService(t, baseConfig(t))
	now := time.Now().UTC()
	evs := []event.Event{
		{ID: "fut-start", Type: event.TypeStreamStart, At: now, StreamID: "fut-s", HostID: "fut-h"},
		{ID: "fut-gift", Type: event.TypeGift, At: now.Add(time.Hour), StreamID: "fut-s", HostID: "fut-h", SenderID: "v1", Coins: 5},
	}
	if a := postOK(t, r.addr, ndjson(t, evs)); a.Accepted != 2 {
		t.Fatalf("answer %+v, want both accepted", a)
	}
	m := r.svc.pipe.m
	waitFor(t, 10*time.Second, "both events through the pipeline", func() bool {
		return counter(t, m.events.WithLabelValues("analysed"))+counter(t, m.events.WithLabelValues("future")) == 2
	})
	if got := counter(t, m.events.WithLabelValues("future")); got != 1 {
		t.Errorf("%v events counted as future, want 1", got)
	}
	if err := r.stop(t); err != nil {
		t.Fatal(err)
	}
	if got := metricSum(t, r.svc.reg, "ronda_store_rows_spooled_total"); got < 2 {
		t.Errorf("%v rows recorded, want both events (and the future one among them)", got)
	}
}
