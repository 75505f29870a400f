package simulate

import (
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/ronda-watch/ronda/analyzer/event"
)

// The shape tests check that the world means what DOMAIN.md says: they fail if
// a ring stops looking like a ring or a lookalike stops looking like one.

type worldIndex struct {
	w        *world
	evs      []*event.Event
	labels   Labels
	starts   map[string][]*event.Event // host → stream.start
	hostOf   map[string]string         // stream → host
	positive map[string]bool
	lastAt   map[string]int64 // stream → time of its last event
}

func index(t *testing.T, o Options) *worldIndex {
	t.Helper()
	evs, l, _ := collect(t, o)
	x := &worldIndex{w: newWorld(o.withDefaults()), evs: evs, labels: l,
		starts: map[string][]*event.Event{}, hostOf: map[string]string{}, positive: map[string]bool{},
		lastAt: map[string]int64{}}
	for _, e := range evs {
		if e.StreamID != "" {
			x.lastAt[e.StreamID] = e.At.Unix()
		}
		if e.Type == event.TypeStreamStart {
			x.starts[e.HostID] = append(x.starts[e.HostID], e)
			x.hostOf[e.StreamID] = e.HostID
		}
	}
	for _, id := range append(slices.Clone(l.PositiveHosts), l.PositiveAccounts...) {
		x.positive[id] = true
	}
	return x
}

func (x *worldIndex) localHour(e *event.Event) int {
	off := int64(7 * 3600)
	for _, z := range x.w.rg.zones {
		if z.name == e.TZ {
			off = z.offset
		}
	}
	return int((e.At.Unix()+off)%86400) / 3600
}

func night(h int) bool { return h >= 20 || h < 4 }

func metres(a, b *event.Geo) float64 {
	dy := (a.Lat - b.Lat) * 111320
	dx := (a.Lon - b.Lon) * 111320 * math.Cos(a.Lat*math.Pi/180)
	return math.Hypot(dx, dy)
}

func TestRingShape(t *testing.T) {
	t.Parallel()
	for _, o := range []Options{{Seed: 1}, {Seed: 21, Hosts: 150, Rings: 4}, {Seed: 22, Hosts: 150, Rings: 4, Region: "ph"}} {
		t.Run(o.Region+itoa(int(o.Seed)), func(t *testing.T) {
			t.Parallel()
			x := index(t, o)
			// Schedule: ring streams mostly 20:00-04:00 local; benign ones mostly not.
			var ringN, ringNight, benN, benNight int
			for h, ss := range x.starts {
				for _, s := range ss {
					if x.positive[h] {
						ringN++
						if night(x.localHour(s)) {
							ringNight++
						}
					} else {
						benN++
						if night(x.localHour(s)) {
							benNight++
						}
					}
				}
			}
			if f := float64(ringNight) / float64(ringN); f < 0.9 {
				t.Errorf("ring streams at night: %.2f of %d, want >= 0.9", f, ringN)
			}
			if f := float64(benNight) / float64(benN); f > 0.5 {
				t.Errorf("benign streams at night: %.2f of %d, want a minority", f, benN)
			}
			// Money: ring payouts go to a labelled account, never to the host.
			ringPayouts := 0
			for _, e := range x.evs {
				if e.Type == event.TypePayout && x.positive[e.AccountID] {
					ringPayouts++
					if e.ToAccount == e.AccountID || !x.positive[e.ToAccount] {
						t.Errorf("ring payout %s → %s", e.AccountID, e.ToAccount)
					}
				}
			}
			if ringPayouts == 0 {
				t.Error("no ring payouts")
			}
			// Audience: foreign coins and directing lines followed by gifts.
			var ringCoins, ringForeign, benCoins, benForeign float64
			lastDirect := map[string]int64{} // sender → time of a directing line
			followed := map[bool]int{}
			directing := x.w.rg.directing
			for _, e := range x.evs {
				switch e.Type {
				case event.TypeGift:
					foreign := e.SenderCountry != x.w.rg.code
					if x.positive[e.HostID] {
						ringCoins += float64(e.Coins)
						if foreign {
							ringForeign += float64(e.Coins)
						}
					} else {
						benCoins += float64(e.Coins)
						if foreign {
							benForeign += float64(e.Coins)
						}
					}
					if t0, ok := lastDirect[e.SenderID]; ok && e.At.Unix()-t0 <= 120 {
						followed[x.positive[e.HostID]]++
						delete(lastDirect, e.SenderID)
					}
				case event.TypeChat:
					if slices.Contains(directing, e.Text) {
						lastDirect[e.SenderID] = e.At.Unix()
					}
				}
			}
			if f := ringForeign / ringCoins; f < 0.4 {
				t.Errorf("ring coins from abroad: %.2f, want >= 0.4", f)
			}
			if f := benForeign / benCoins; f > 0.2 {
				t.Errorf("benign coins from abroad: %.2f, want < 0.2", f)
			}
			if followed[true] < 10*max(1, followed[false]) {
				t.Errorf("directing then gift: ring %d, benign %d", followed[true], followed[false])
			}
			// Recruitment: every victim got a DM link from a labelled account before her first stream.
			for _, h := range x.labels.PositiveHosts {
				first := x.starts[h][0].At
				ok := false
				for _, e := range x.evs {
					if e.Type == event.TypeLink && e.Rel == "dm" && e.ToID == h && x.positive[e.FromID] && e.At.Before(first) {
						ok = true
						break
					}
				}
				if !ok {
					t.Errorf("host %s was not DMed by the ring before streaming", h)
				}
			}
			// Age: most victims declare a minor's birth year or none, none verified.
			minors := 0
			for _, h := range x.labels.PositiveHosts {
				f := x.starts[h][0].Host
				if *f.AgeVerified {
					t.Errorf("ring host %s age verified", h)
				}
				if f.BirthYear == 0 || x.w.year-f.BirthYear < 18 {
					minors++
				}
			}
			if minors*2 <= len(x.labels.PositiveHosts) {
				t.Errorf("only %d of %d ring hosts declare a minor's year", minors, len(x.labels.PositiveHosts))
			}
		})
	}
}

func TestVariants(t *testing.T) {
	t.Parallel()
	x := index(t, Options{Seed: 31, Hosts: 120, Rings: 4})
	seen := map[variant]bool{}
	for _, rg := range x.w.rings {
		seen[rg.v] = true
		devices, ips := map[string]bool{}, map[string]bool{}
		var geos []*event.Geo
		var all []*event.Event
		for _, hi := range rg.hosts {
			for _, s := range x.starts[x.w.hosts[hi].id] {
				devices[s.DeviceID] = true
				ips[s.IP] = true
				if s.Geo != nil {
					geos = append(geos, s.Geo)
				}
				all = append(all, s)
			}
		}
		maxDist := 0.0
		for _, a := range geos {
			maxDist = max(maxDist, metres(a, geos[0]))
		}
		switch rg.v {
		case variantKos, variantNoGPS:
			if len(devices) != 1 || len(ips) != 1 {
				t.Errorf("%v: %d devices, %d addresses, want one phone in one house", rg.v, len(devices), len(ips))
			}
			if rg.v == variantNoGPS && len(geos) > 0 {
				t.Errorf("no-gps ring reports geo")
			}
			if rg.v == variantKos && (len(geos) == 0 || maxDist > 110) {
				t.Errorf("kos: %d geos spread over %.0f m", len(geos), maxDist)
			}
			// Shifts: the phone is never live twice at once.
			slices.SortFunc(all, func(a, b *event.Event) int { return a.At.Compare(b.At) })
			for i := 1; i < len(all); i++ {
				if prev := x.lastAt[all[i-1].StreamID]; prev > all[i].At.Unix() {
					t.Errorf("%v: shift %s starts while %s is live", rg.v, all[i].StreamID, all[i-1].StreamID)
				}
			}
		case variantOwnPhones:
			if len(devices) != len(rg.hosts) || maxDist > 400 {
				t.Errorf("own-phones: %d devices for %d hosts, spread %.0f m", len(devices), len(rg.hosts), maxDist)
			}
			for _, s := range all {
				if s.AgencyID != rg.operator {
					t.Errorf("own-phones stream without the operator as agency")
					break
				}
			}
		case variantScattered:
			if maxDist < 150 || maxDist > 500 {
				t.Errorf("scattered: houses %.0f m apart, want neighbouring cells", maxDist)
			}
			if !devices[rg.backup] && len(all) > 12 {
				t.Errorf("scattered: backup phone never used in %d streams", len(all))
			}
		}
	}
	if len(seen) != int(numVariants) {
		t.Errorf("4 rings gave variants %v", seen)
	}
	var english bool
	for _, e := range x.evs {
		if e.Type == event.TypePost && e.Kind == "dm" && strings.HasPrefix(e.Text, "Hi dear") && x.positive[e.AccountID] {
			english = true
		}
	}
	if !english {
		t.Error("scattered ring recruits in English: no such DM")
	}
}

func TestLookalikes(t *testing.T) {
	t.Parallel()
	x := index(t, Options{Seed: 1})
	w := x.w
	byKind := map[kind][]*host{}
	for i := range w.hosts {
		byKind[w.hosts[i].kind] = append(byKind[w.hosts[i].kind], &w.hosts[i])
	}
	for k := kindOrdinary; k < kindRing; k++ {
		if len(byKind[k]) == 0 {
			t.Errorf("no host of kind %d", k)
		}
	}
	// A household shares one network (and cell) on several phones.
	shared := false
	homes := map[int32][]*host{}
	for _, h := range byKind[kindHousehold] {
		homes[h.home] = append(homes[h.home], h)
	}
	for _, hs := range homes {
		ipHosts := map[string]map[string]bool{}
		for _, h := range hs {
			for _, s := range x.starts[h.id] {
				if ipHosts[s.IP] == nil {
					ipHosts[s.IP] = map[string]bool{}
				}
				ipHosts[s.IP][h.id] = true
			}
		}
		for _, m := range ipHosts {
			if len(m) >= 2 {
				shared = true
			}
		}
	}
	if !shared {
		t.Error("no household shares a network")
	}
	// The mall's cell and wifi see many hosts.
	for p := range w.places {
		pl := &w.places[p]
		if pl.spread == 0 {
			continue
		}
		hosts := map[string]bool{}
		for h, ss := range x.starts {
			for _, s := range ss {
				if s.IP == pl.ip && (s.Geo == nil || metres(s.Geo, &event.Geo{Lat: pl.lat, Lon: pl.lon}) < 200) {
					hosts[h] = true
				}
			}
		}
		if len(hosts) < 6 {
			t.Errorf("mall saw %d hosts, want many", len(hosts))
		}
	}
	// Teens declare minors' years and stream in the afternoon.
	for _, h := range byKind[kindTeen] {
		for _, s := range x.starts[h.id] {
			if hr := x.localHour(s); hr < 12 || hr > 19 || w.year-s.Host.BirthYear >= 18 {
				t.Errorf("teen stream at %d h, born %d", hr, s.Host.BirthYear)
			}
		}
	}
	// Night gamers stream at night on most nights.
	for _, h := range byKind[kindNightGamer] {
		if n := len(x.starts[h.id]); n < 3 {
			t.Errorf("night gamer streamed %d times in a week", n)
		}
	}
	// The legit agency's hosts are paid out to it.
	agencyPaid := 0
	for _, e := range x.evs {
		if e.Type == event.TypePayout && e.ToAccount != e.AccountID && !x.positive[e.AccountID] {
			agencyPaid++
		}
	}
	if agencyPaid == 0 {
		t.Error("no benign payout to another account (agency, parent)")
	}
	// Carrier NAT: one address serves several unrelated hosts.
	ipHosts := map[string]map[string]bool{}
	for h, ss := range x.starts {
		for _, s := range ss {
			if ipHosts[s.IP] == nil {
				ipHosts[s.IP] = map[string]bool{}
			}
			ipHosts[s.IP][h] = true
		}
	}
	nat := false
	for _, c := range w.carriers {
		for ip, m := range ipHosts {
			if strings.HasPrefix(ip, c.prefix) && len(m) >= 3 {
				nat = true
			}
		}
	}
	if !nat {
		t.Error("no carrier address shared by several hosts")
	}
	// Real job ads and the ring's ads both exist.
	var real, lure int
	for _, e := range x.evs {
		if e.Type == event.TypePost && e.Kind == "ad" {
			if x.positive[e.AccountID] {
				lure++
			} else {
				real++
			}
		}
	}
	if real < 2 || lure < 2 {
		t.Errorf("ads: %d real, %d lures", real, lure)
	}
}
