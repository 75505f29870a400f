package hub

import (
	"testing"
	"time"

	"github.com/ronda-watch/ronda/analyzer"
)

// oldestGauge reads ronda_hub_oldest_unclaimed_seconds{severity=sev} from the
// hub's registry, as a scrape would.
func oldestGauge(t *testing.T, th *testHub, sev string) float64 {
	t.Helper()
	mfs, err := th.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != "ronda_hub_oldest_unclaimed_seconds" {
			continue
		}
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "severity" && l.GetValue() == sev {
					return m.GetGauge().GetValue()
				}
			}
		}
	}
	t.Fatalf("no ronda_hub_oldest_unclaimed_seconds{severity=%q}", sev)
	return 0
}

func TestOldestUnclaimedAgesUntilClaimedAndBySeverity(t *testing.T) {
	th := newTestHub(t, func(o *Options) { o.ClaimTTL = 10 * time.Minute })
	for _, sev := range []string{"low", "medium", "high", "critical"} {
		if got := oldestGauge(t, th, sev); got != 0 {
			t.Fatalf("%s with no alerts: %v, want 0", sev, got)
		}
	}
	crit := func(id string) analyzer.Alert {
		a := alert(id, 0)
		a.Severity = analyzer.SeverityCritical
		return a
	}
	th.Publish(crit("c1"))
	th.clk.Add(4 * time.Minute)
	th.Publish(crit("c2"))
	th.Publish(alert("h1", 0))
	th.clk.Add(time.Minute)
	// A new version of c1 does not make it younger.
	c1 := crit("c1")
	c1.Updates = 1
	th.Publish(c1)
	if got := oldestGauge(t, th, "critical"); got != 300 {
		t.Fatalf("critical oldest %v, want 300 (c1, 5m)", got)
	}
	if got := oldestGauge(t, th, "high"); got != 60 {
		t.Fatalf("high oldest %v, want 60", got)
	}

	ana := th.dial(t, "tok-ana", "")
	readType(t, ana, "snapshot")
	send(t, ana, map[string]string{"request_id": "1", "alert_id": "c1", "action": "claim"})
	readType(t, ana, "ack")
	if got := oldestGauge(t, th, "critical"); got != 60 {
		t.Fatalf("critical oldest with c1 claimed %v, want 60 (c2)", got)
	}
	send(t, ana, map[string]string{"request_id": "2", "alert_id": "c2", "action": "dismiss", "reason": "benign"})
	readType(t, ana, "ack")
	if got := oldestGauge(t, th, "critical"); got != 0 {
		t.Fatalf("critical oldest with c1 claimed and c2 dismissed %v, want 0", got)
	}
	th.clk.Add(10 * time.Minute) // the claim on c1 expires: unclaimed again
	if got := oldestGauge(t, th, "critical"); got != 900 {
		t.Fatalf("critical oldest after c1's claim expired %v, want 900", got)
	}
	if got := oldestGauge(t, th, "low"); got != 0 {
		t.Fatalf("low oldest %v, want 0", got)
	}
}
