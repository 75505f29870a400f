package cases

import (
	"fmt"
	"testing"
	"time"

	"github.com/ronda-watch/ronda/sidecar/store"
)

// BenchmarkCaseFile builds a case from a ring's rows (3 hosts, 14 days: 42
// sessions, 2,000 events, 300 signals, 50 actions) and renders its page:
// what GET /v1/cases/{id}/page costs beside the ClickHouse reads.
func BenchmarkCaseFile(b *testing.B) {
	at := time.Date(2025, 3, 1, 13, 0, 0, 0, time.UTC)
	var ev store.Evidence
	hosts := []string{"h1", "h2", "h3"}
	for d := 0; d < 14; d++ {
		for i, h := range hosts {
			start := at.AddDate(0, 0, d).Add(time.Duration(i) * 3 * time.Hour)
			ev.Sessions = append(ev.Sessions, store.SessionRow{Start: start, End: start.Add(3 * time.Hour), StreamID: fmt.Sprintf("s-%s-%d", h, d),
				HostID: h, TZ: "Asia/Jakarta", DeviceID: "d1", Network: "10.1.2.0/24", Minutes: 180, Coins: 4000, Gifts: 150})
		}
	}
	for i := 0; i < 2000; i++ {
		typ := []string{"stream.start", "payout", "post", "gift"}[i%4]
		ev.Events = append(ev.Events, store.EventRow{At: at.Add(time.Duration(i) * time.Minute), Type: typ, ID: fmt.Sprint(i),
			HostID: hosts[i%3], AccountID: hosts[i%3], Counterpart: "op", Coins: 100, Amount: 5, Currency: "IDR", Kind: "dm", TZ: "Asia/Jakarta"})
	}
	for i := 0; i < 300; i++ {
		ev.Signals = append(ev.Signals, store.SignalRow{At: at.Add(time.Duration(i) * time.Hour), Detector: []string{"recruitment", "schedule"}[i%2],
			EntityKind: "host", EntityID: hosts[i%3], Summary: "lures", Evidence: `{"recruits":3}`})
	}
	for i := 0; i < 50; i++ {
		ev.Actions = append(ev.Actions, store.ActionRow{At: at.Add(time.Duration(i) * time.Hour), ActionID: fmt.Sprint(i), AlertID: "al-1", Moderator: "mod", Action: "note", Note: "seen"})
	}
	av := `{"id":"al-1","at":"2025-03-01T14:00:00Z","severity":"high","score":0.9,"subject":{"kind":"host","id":"h1"},"entities":[{"kind":"host","id":"h1"},{"kind":"host","id":"h2"},{"kind":"host","id":"h3"},{"kind":"device","id":"d1"}],"reasons":[{"detector":"money","score":0.8,"summary":"paid out","evidence":{"coins":12022}}],"updates":1}`
	r, err := newRenderer()
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		c := build(store.CaseRow{CaseID: "case-1", AlertID: "al-1", Opened: at}, []store.CaseVersionRow{{Updates: 1, Alert: av}}, nil, nil, ev, nil)
		if _, err := r.Render(c); err != nil {
			b.Fatal(err)
		}
	}
}
