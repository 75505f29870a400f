package serve

import (
	"hash/fnv"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/ronda-watch/ronda/analyzer"
	"github.com/ronda-watch/ronda/analyzer/event"
)

// TestTwoEdgesOneHub: a world with one ring is split between two edges by
// host (and by account for events without a host), so the ring's hosts
// broadcast through both. Each edge forwards to the hub, which analyses them
// together: the ring is one alert naming hosts from both edges.
func TestTwoEdgesOneHub(t *testing.T) {
	hubCfg := baseConfig(t)
	hubCfg.Role = RoleHub
	hub := startService(t, hubCfg)

	edge := func(name string) *running {
		return startService(t, edgeConfig(t, name, hub.addr))
	}
	edges := []*running{edge("edge-1"), edge("edge-2")}

	mod := dialModerator(t, hub.addr, tokModA)
	evs, labels := world(t, 7, 40, 4, 1)
	route := func(ev *event.Event) int {
		key := ev.HostID
		for _, k := range []string{ev.AccountID, ev.FromID, ev.SenderID, ev.StreamID} {
			if key == "" {
				key = k
			}
		}
		h := fnv.New32a()
		h.Write([]byte(key))
		return int(h.Sum32() % 2)
	}
	ringOn := map[int]int{}
	for _, h := range labels.PositiveHosts {
		ringOn[route(&event.Event{HostID: h})]++
	}
	if ringOn[0] == 0 || ringOn[1] == 0 {
		t.Fatalf("the ring's %d hosts all route to one edge (%v): pick another seed", len(labels.PositiveHosts), ringOn)
	}

	// In chunks of world time, each taken by the hub before the next: edges
	// forward within moments in production, and the hub analyses in arrival order.
	const chunk = 2000
	analysed := func() float64 { return counter(t, hub.svc.pipe.m.events.WithLabelValues("analysed")) }
	for i := 0; i < len(evs); i += chunk {
		var parts [2][]event.Event
		for _, ev := range evs[i:min(i+chunk, len(evs))] {
			k := route(&ev)
			parts[k] = append(parts[k], ev)
		}
		for k, p := range parts {
			if len(p) > 0 {
				if a := postOK(t, edges[k].addr, ndjson(t, p)); a.Accepted != len(p) {
					t.Fatalf("edge %d accepted %d of %d", k+1, a.Accepted, len(p))
				}
			}
		}
		want := float64(min(i+chunk, len(evs)))
		waitFor(t, 30*time.Second, "the hub analysing the chunk", func() bool { return analysed() >= want })
	}

	// The ring is one alert, and it names ring hosts of both edges: the
	// latest version of each alert, merged ones closed.
	isRing := func(id string) bool {
		for _, h := range labels.PositiveHosts {
			if id == h {
				return true
			}
		}
		return false
	}
	var ringAlerts []analyzer.Alert
	waitFor(t, 30*time.Second, "one alert naming ring hosts of both edges", func() bool {
		latest := map[string]analyzer.Alert{}
		mod.mu.Lock()
		for _, m := range mod.msgs {
			if m["type"] == "alert" {
				a := decodeAlert(m)
				latest[a.ID] = a
			}
		}
		mod.mu.Unlock()
		ringAlerts = ringAlerts[:0]
		for _, a := range latest {
			if a.MergedInto != "" || a.Severity < analyzer.SeverityMedium {
				continue
			}
			for _, e := range a.Entities {
				if e.Kind == analyzer.KindHost && isRing(e.ID) {
					ringAlerts = append(ringAlerts, a)
					break
				}
			}
		}
		if len(ringAlerts) != 1 {
			return false
		}
		on := map[int]bool{}
		for _, e := range ringAlerts[0].Entities {
			if e.Kind == analyzer.KindHost && isRing(e.ID) {
				on[route(&event.Event{HostID: e.ID})] = true
			}
		}
		return on[0] && on[1]
	})
	t.Logf("ring alert %s (%s) names %d entities", ringAlerts[0].ID, ringAlerts[0].Severity, len(ringAlerts[0].Entities))
	for k, e := range edges {
		st := e.svc.fwd.f.Stats()
		t.Logf("edge %d: %d events forwarded, %d batches acked, %d connects", k+1, st.Accepted, st.Acked, st.Connects)
	}
}

// TestEdgeBuffersThroughHubOutage: an edge whose hub is away keeps taking
// events (beyond its memory bound, into its spool) and delivers every one
// once the hub is up.
func TestEdgeBuffersThroughHubOutage(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hubAddr := ln.Addr().String()
	ln.Close() // nothing listens there until the hub starts

	c := Config{Role: RoleEdge, Node: "edge-1",
		Intake:     IntakeConfig{Keys: []SecretRef{{ID: keyID, Env: "RONDA_TEST_KEY_1"}}, RateEvents: -1},
		Edge:       EdgeConfig{Hub: "ws://" + hubAddr, Key: SecretRef{ID: keyID, Env: "RONDA_TEST_KEY_1"}, SpoolDir: t.TempDir(), BufferEvents: 2000},
		State:      StateConfig{Dir: t.TempDir()},
		ClickHouse: ClickHouseConfig{SpoolDir: t.TempDir()},
	}
	edge := startService(t, c)
	evs, _ := smallWorld(t, 8)
	for i := 0; i < len(evs); i += 500 {
		part := evs[i:min(i+500, len(evs))]
		if a := postOK(t, edge.addr, ndjson(t, part)); a.Accepted != len(part) {
			t.Fatalf("edge accepted %d of %d while its hub is away", a.Accepted, len(part))
		}
	}
	st := edge.svc.fwd.f.Stats()
	if st.Spooled == 0 || st.Connects != 0 {
		t.Fatalf("with the hub away: %+v; want events spooled past the memory bound and no connect", st)
	}
	if r := get(t, "http://"+edge.addr+"/readyz"); !strings.Contains(r, "connects 0") {
		t.Errorf("/readyz does not show the hub link: %s", r)
	}

	hub := startHubAt(t, hubAddr)
	waitFor(t, 60*time.Second, "every buffered event at the hub", func() bool {
		return counter(t, hub.svc.pipe.m.events.WithLabelValues("analysed")) >= float64(len(evs))
	})
	if n := counter(t, hub.svc.pipe.m.events.WithLabelValues("analysed")); n != float64(len(evs)) {
		t.Errorf("hub analysed %v, want %d: an event was delivered twice", n, len(evs))
	}
	t.Logf("edge link: %+v", edge.svc.fwd.f.Stats())
}
