package analyzer

import (
	"fmt"
	"testing"
	"time"

	"github.com/ronda-watch/ronda/analyzer/event"
)

// A timeline test reads like a story: accounts post, message and broadcast at
// local times; the test then asks what the engine concluded.

var wib = time.FixedZone("WIB", 7*3600)

// day0 is a Monday in WIB; times in stories are hours after its midnight.
var day0 = time.Date(2025, 6, 2, 0, 0, 0, 0, wib)

type world struct {
	t      *testing.T
	e      *Engine
	n      int
	alerts []Alert
	pend   []event.Event
}

func newWorld(t *testing.T) *world {
	t.Helper()
	e, err := New(DefaultConfig())
	if err != nil {
		t.Fatal(err)
	}
	return &world{t: t, e: e}
}

// at is day d, local hour h (may exceed 24) in WIB.
func at(d int, h float64) time.Time {
	return day0.AddDate(0, 0, d).Add(time.Duration(h * float64(time.Hour)))
}

func (w *world) add(ev event.Event) {
	w.n++
	ev.ID = fmt.Sprintf("e%d", w.n)
	ev.TypeName = ev.Type.String()
	w.pend = append(w.pend, ev)
}

// run applies every pending event in time order (stable) and collects alerts.
func (w *world) run() {
	evs := w.pend
	w.pend = nil
	for i := 1; i < len(evs); i++ {
		for j := i; j > 0 && evs[j].At.Before(evs[j-1].At); j-- {
			evs[j], evs[j-1] = evs[j-1], evs[j]
		}
	}
	for i := range evs {
		w.alerts = append(w.alerts, w.e.Apply(&evs[i])...)
	}
	w.alerts = append(w.alerts, w.e.Flush()...)
}

type hostSpec struct {
	id, device, ip string
	lat, lon       float64
	created        time.Time
	birthYear      int
	verified       *bool
}

type streamOpt struct {
	gifts        int     // gifts spread over the stream
	coins        int64   // coins per gift
	country      string  // gift sender country ("" = ID)
	senders      int     // distinct senders (default 50)
	private      float64 // share of heartbeats in a private room
	chats        []string
	chatEvery    time.Duration
	giftAfterDir bool // a gift follows each chat line within a minute
}

var no = new(bool)

// broadcast: host h streams from start for hours with opts.
func (w *world) broadcast(h hostSpec, start time.Time, hours float64, o streamOpt) {
	w.n++
	sid := fmt.Sprintf("s%d", w.n)
	ev := event.Event{Type: event.TypeStreamStart, At: start, StreamID: sid, HostID: h.id, DeviceID: h.device, IP: h.ip, TZ: "Asia/Jakarta"}
	if h.lat != 0 {
		ev.Geo = &event.Geo{Lat: h.lat, Lon: h.lon, AccuracyM: 20}
	}
	if !h.created.IsZero() || h.birthYear != 0 || h.verified != nil {
		ev.Host = &event.HostFacts{CreatedAt: h.created, BirthYear: h.birthYear, AgeVerified: h.verified}
	}
	w.add(ev)
	end := start.Add(time.Duration(hours * float64(time.Hour)))
	beats := 0
	for t := start.Add(5 * time.Minute); t.Before(end); t = t.Add(5 * time.Minute) {
		beats++
		priv := o.private > 0 && float64(beats%100)/100 < o.private
		w.add(event.Event{Type: event.TypeStreamHeartbeat, At: t, StreamID: sid, Viewers: 100, Private: priv})
	}
	senders := o.senders
	if senders == 0 {
		senders = 50
	}
	for i := 0; i < o.gifts; i++ {
		t := start.Add(time.Duration(float64(end.Sub(start)) * float64(i) / float64(o.gifts)))
		w.add(event.Event{Type: event.TypeGift, At: t, StreamID: sid, HostID: h.id,
			SenderID: fmt.Sprintf("v%d", i%senders), Coins: o.coins, SenderCountry: o.country})
	}
	if len(o.chats) > 0 {
		every := o.chatEvery
		if every == 0 {
			every = 10 * time.Minute
		}
		i := 0
		for t := start.Add(time.Minute); t.Before(end); t = t.Add(every) {
			w.add(event.Event{Type: event.TypeChat, At: t, StreamID: sid, SenderID: fmt.Sprintf("v%d", i%7), Text: o.chats[i%len(o.chats)]})
			if o.giftAfterDir {
				w.add(event.Event{Type: event.TypeGift, At: t.Add(time.Minute), StreamID: sid, HostID: h.id, SenderID: fmt.Sprintf("v%d", i%7), Coins: 100})
			}
			i++
		}
	}
	w.add(event.Event{Type: event.TypeStreamEnd, At: end, StreamID: sid})
}

func (w *world) post(acct, kind, text, to string, t time.Time) {
	w.add(event.Event{Type: event.TypePost, At: t, AccountID: acct, Kind: kind, Text: text, ToID: to})
}

func (w *world) link(from, to, rel string, t time.Time) {
	w.add(event.Event{Type: event.TypeLink, At: t, FromID: from, ToID: to, Rel: rel})
}

func (w *world) payout(acct, to string, coins int64, method string, t time.Time) {
	w.add(event.Event{Type: event.TypePayout, At: t, AccountID: acct, ToAccount: to, Coins: coins, Method: method})
}

func (w *world) score(host string, det int) float64 {
	w.t.Helper()
	h := w.e.hosts[host]
	if h == nil {
		w.t.Fatalf("host %s unknown to the engine", host)
	}
	return h.eval.scores[det]
}

// flagged: the highest severity at which id appears in any alert.
func (w *world) flagged(id string) Severity {
	var s Severity
	for _, a := range w.alerts {
		if a.Subject.ID == id {
			s = max(s, a.Severity)
		}
		for _, e := range a.Entities {
			if e.ID == id {
				s = max(s, a.Severity)
			}
		}
	}
	return s
}

func (w *world) distinctAlerts() map[string]Alert {
	m := map[string]Alert{}
	for _, a := range w.alerts {
		if a.MergedInto == "" {
			m[a.ID] = a
		}
	}
	return m
}

func newAcct(d int) time.Time { return at(d, 10) }
func oldAcct() time.Time      { return day0.AddDate(-3, 0, 0) }

// nights runs fn for days 0..n-1.
func nights(n int, fn func(d int)) {
	for d := 0; d < n; d++ {
		fn(d)
	}
}

func assertStrong(t *testing.T, w *world, host string, det int) {
	t.Helper()
	if s := w.score(host, det); s < w.e.cfg.Scoring.Strong {
		t.Errorf("%s: %s score %.2f, want >= %.2f", host, Detectors[det], s, w.e.cfg.Scoring.Strong)
	}
}

func assertWeak(t *testing.T, w *world, host string, det int) {
	t.Helper()
	if s := w.score(host, det); s >= w.e.cfg.Scoring.Strong {
		t.Errorf("%s: %s score %.2f, want < %.2f", host, Detectors[det], s, w.e.cfg.Scoring.Strong)
	}
}

func assertNoAlert(t *testing.T, w *world, ids ...string) {
	t.Helper()
	for _, id := range ids {
		if s := w.flagged(id); s >= SeverityMedium {
			t.Errorf("%s appears in a %s alert; a lookalike alone must not", id, s)
		}
	}
	if n := len(w.distinctAlerts()); n != 0 {
		t.Errorf("%d alerts raised, want none", n)
	}
}

func signalEvent(host, label string, score float64, t time.Time) event.Event {
	return event.Event{Type: event.TypeSignal, At: t, HostID: host, Source: "test-classifier", Label: label, Score: score}
}
