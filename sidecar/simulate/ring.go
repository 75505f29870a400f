package simulate

import (
	"math"
	"math/rand/v2"
	"slices"

	"github.com/ronda-watch/ronda/analyzer/event"
)

// variant is how a ring operates (DOMAIN.md, "The reference case" and the
// indicator table). Rings cycle through the variants, starting at one the seed picks.
type variant uint8

const (
	// variantKos is the Cirebon case: fake shop ads, DMs, minors on ONE phone in
	// one boarding house, nightly shifts 20:00-04:00, payouts to a second operator.
	variantKos variant = iota
	// variantOwnPhones: hosts on their own phones in one house, parallel nights,
	// an "agency" link to the operator who recruited them and takes the payouts.
	variantOwnPhones
	// variantNoGPS: like kos, but the app reports no location (device and address
	// only) and often no birth years.
	variantNoGPS
	// variantScattered: two neighbouring houses, own phones plus one shared backup
	// phone, English recruitment, one beneficiary that also takes coins from a
	// benign-looking older account now and then.
	variantScattered
	numVariants
)

var variantNames = [numVariants]string{"kos", "own-phones", "no-gps", "scattered"}

func (v variant) String() string { return variantNames[v] }

// ring is one exploitation ring: its victims (host accounts), its recruiter
// and operator accounts, its place and device, and its nights.
type ring struct {
	n         int
	v         variant
	hosts     []uint32 // host indices
	recruiter string
	operator  string // == recruiter for own-phones
	city      int
	zone      uint8
	house     int32
	house2    int32 // scattered only
	device    string
	backup    string
	first     []int // first night of each host
	payOff    int
	methods   []string
	methodW   []float64
	buyerPer  uint64 // distinct buyers per country
	older     int32  // scattered: benign older host paying the beneficiary now and then, or -1
	enAds     bool
	quiet     bool // Options.Quiet
}

// planRings decides what the labels depend on: variants, victims and the
// accounts behind them. It is cheap, so PlanLabels does not build the world.
// Ring host indices follow the benign hosts; ring accounts are the first 2*Rings.
func planRings(o Options, x ids) []*ring {
	rings := make([]*ring, o.Rings)
	first := variant(mix(uint64(o.Seed)^tagRing) % uint64(numVariants))
	next := uint32(o.Hosts)
	for n := range rings {
		r := newRand(o.Seed, tagRing, uint64(n), 0)
		v := (first + variant(n)) % numVariants
		size := 3
		switch v {
		case variantKos, variantScattered:
			size = 3 + r.IntN(2)
		case variantOwnPhones:
			size = 2 + r.IntN(2)
		}
		rg := &ring{n: n, v: v, older: -1, quiet: o.Quiet}
		for range size {
			rg.hosts = append(rg.hosts, next)
			next++
		}
		rg.recruiter = x.make('a', uint32(2*n))
		rg.operator = x.make('a', uint32(2*n+1))
		if v == variantOwnPhones {
			rg.operator = rg.recruiter
		}
		rings[n] = rg
	}
	return rings
}

func ringHostCount(rings []*ring) int {
	n := 0
	for _, rg := range rings {
		n += len(rg.hosts)
	}
	return n
}

// buildRing places a planned ring in the world: its house, devices, victims'
// accounts and the recruitment that precedes their first night.
func (w *world) buildRing(rg *ring) {
	r := newRand(w.o.Seed, tagRing, uint64(rg.n), 1)
	rgn := w.rg
	rg.city = rgn.ringCity[(rg.n+r.IntN(len(rgn.ringCity)))%len(rgn.ringCity)]
	rg.zone = uint8(rgn.cities[rg.city].zone)
	rg.house = w.addPlace(r, rg.city, 6000, w.ipAddr(r))
	rg.house2 = -1
	rg.buyerPer = uint64(25 + r.IntN(40))
	rg.enAds = rg.v == variantScattered
	switch rg.v {
	case variantKos, variantNoGPS:
		rg.device = w.ids.make('d', w.newDevice())
		rg.methods, rg.methodW = []string{"atm", "ewallet", "bank"}, []float64{0.5, 0.35, 0.15}
	case variantOwnPhones:
		rg.methods, rg.methodW = []string{"ewallet", "atm"}, []float64{0.6, 0.4}
	case variantScattered:
		rg.house2 = w.nearPlace(r, rg.house, 220+r.Float64()*120, w.ipAddr(r))
		rg.backup = w.ids.make('d', w.newDevice())
		rg.methods, rg.methodW = []string{"bank", "ewallet", "atm"}, []float64{0.4, 0.4, 0.2}
	}
	days := w.o.Days
	rg.first = make([]int, len(rg.hosts))
	for j := range rg.hosts {
		f := 0
		switch {
		case j == 1 && rg.v == variantOwnPhones:
			f = r.IntN(2)
		case j == 2:
			f = 2 + r.IntN(3)
			if rg.v == variantScattered {
				f = 1 + r.IntN(3)
			}
		case j >= 3:
			f = 4 + r.IntN(3)
		}
		rg.first[j] = min(f, days-1)
	}
	rg.payOff = r.IntN(min(7, days))

	noBirth := rg.v == variantNoGPS && r.IntN(2) == 0
	adultJ := -1
	if len(rg.hosts) >= 3 {
		adultJ = r.IntN(len(rg.hosts))
	}
	en := rg.v == variantScattered
	dms, opDMs, ads := rgn.recruiterDMs, rgn.operatorDMs, rgn.ringAds
	if en {
		dms, opDMs, ads = rgn.recruiterDMsEN, rgn.operatorDMsEN, rgn.ringAdsEN
	}
	cityName := rgn.cities[rg.city].name
	earliest := int64(math.MaxInt64)
	for j, hi := range rg.hosts {
		h := &w.hosts[hi]
		*h = w.baseHost(r, hi, kindRing)
		h.ring = int16(rg.n)
		h.category = "chat"
		h.zone = rg.zone
		h.home = rg.house
		if rg.v == variantScattered && j%2 == 1 {
			h.home = rg.house2
		}
		if rg.v == variantOwnPhones && j > 0 && r.IntN(3) == 0 {
			h.home = w.nearPlace(r, rg.house, 90+r.Float64()*90, w.places[rg.house].ip)
		}
		h.mobile = rg.v != variantKos && rg.v != variantNoGPS && r.IntN(5) == 0
		h.noGeo = rg.v == variantNoGPS
		h.noTZ = false
		h.verified = false
		h.birthYear = w.year - 16 - r.IntN(2)
		if j == adultJ {
			h.birthYear = w.year - 19 - r.IntN(2)
		}
		if noBirth {
			h.birthYear = 0
		}
		h.payTo = rg.operator
		h.chatRate = 0.55 + 0.2*r.Float64()
		h.giftRate = 0.5 + 0.2*r.Float64()
		h.viewers = 40 + 100*r.Float64()
		h.signalP = 0.05
		h.signalMin, h.signalMax = 0.7, 0.95
		if j == adultJ {
			h.signalMin, h.signalMax = 0.45, 0.75
		}
		if rg.v == variantOwnPhones && !rg.quiet {
			h.agencyID = rg.operator
		}

		night := w.localMidnight(rg.first[j], rg.zone) + 20*3600
		h.created = night - int64((2.5+5*r.Float64())*86400)
		earliest = min(earliest, h.created)
		if rg.quiet {
			// Old or bought accounts, adults by their declared age, no trail.
			h.created = w.start - int64(200+r.IntN(700))*86400 - int64(r.IntN(86400))
			h.birthYear = w.year - 19 - r.IntN(6)
			h.signalP = 0
			continue
		}
		dm := h.created + int64((2+18*r.Float64())*3600)
		w.addLink(dm, rg.recruiter, h.id, "dm")
		t := dm
		for k := 0; k < 2+r.IntN(2); k++ {
			w.addPost(t, rg.recruiter, "dm", dms[(k+r.IntN(2))%len(dms)], h.id)
			t += int64(60 + r.IntN(1800))
			if k == 0 && !en {
				w.addPost(t, h.id, "dm", pick(r, rgn.targetReplies), rg.recruiter)
				t += int64(60 + r.IntN(600))
			}
		}
		w.addPost(night-86400-int64(r.IntN(4*3600)), rg.recruiter, "dm", dms[len(dms)-1], h.id)
		if rg.operator != rg.recruiter {
			op := night - int64((2+3*r.Float64())*3600)
			w.addLink(op, rg.operator, h.id, "dm")
			w.addPost(op+int64(30+r.IntN(300)), rg.operator, "dm", pick(r, opDMs), h.id)
		} else {
			w.addLink(dm+int64((1+r.Float64())*86400)-int64(r.IntN(3600)), h.id, rg.operator, "agency")
		}
	}
	if rg.quiet {
		return
	}
	// The ads come first; a second one during the window finds the later recruits.
	w.addPost(earliest-int64((1+3*r.Float64())*86400), rg.recruiter, "ad", rgn.fill(r, pick(r, ads), cityName), "")
	if days >= 3 {
		d := 1 + r.IntN(days-1)
		w.addPost(w.localMidnight(d, rg.zone)+int64((10+11*r.Float64())*3600), rg.recruiter, "ad",
			rgn.fill(r, pick(r, ads), cityName), "")
	}
	if rg.operator != rg.recruiter {
		w.addLink(earliest-int64((5+20*r.Float64())*86400), rg.recruiter, rg.operator, "follow")
	} else {
		w.addPost(earliest-int64((30+170*r.Float64())*86400), rg.operator, "bio", pick(r, rgn.ownPhonesBio), "")
	}
	// Some of those the recruiter writes to never become hosts.
	for range 1 + r.IntN(3) {
		_, id := w.newAccount()
		t := earliest + int64(r.Float64()*float64(w.end-earliest))
		w.addLink(t, rg.recruiter, id, "dm")
		w.addPost(t+int64(30+r.IntN(600)), rg.recruiter, "dm", dms[0], id)
	}
}

// ringNight plans ring rg's streams of the night that begins on local day L.
func (w *world) ringNight(rg *ring, L int, out []*session) []*session {
	if L < 0 || L >= w.o.Days {
		return out
	}
	r := newRand(w.o.Seed, tagRingNight, uint64(rg.n), uint64(L))
	var active []int
	firstNight := false
	for j := range rg.hosts {
		if rg.first[j] <= L {
			active = append(active, j)
		}
		if rg.first[j] == L {
			firstNight = true
		}
	}
	if len(active) == 0 {
		return out
	}
	n0 := len(out)
	mid := w.localMidnight(L, rg.zone)
	hour := func(h float64) int64 { return mid + int64(h*3600) }
	v := rg.v
	if rg.quiet {
		v = variantKos // quiet rings broadcast in shifts, on their phone or their own
	}
	switch v {
	case variantKos, variantNoGPS:
		if !firstNight && r.Float64() > 0.88 {
			return out
		}
		// Shifts on the one phone: one host after another, 20:00 to 04:00.
		order := slices.Clone(active)
		rot := L % len(order)
		order = append(order[rot:], order[:rot]...)
		if len(order) > 2 && r.Float64() < 0.2 {
			k := r.IntN(len(order))
			if rg.first[order[k]] != L {
				order = slices.Delete(order, k, k+1)
			}
		}
		start := 20.02 + min(math.Abs(r.NormFloat64())*0.25, 0.75)
		end := 28 + clamp(r.NormFloat64()*0.3, -0.75, 0.75)
		ws := make([]float64, len(order))
		var sum float64
		for i := range ws {
			ws[i] = 0.7 + 0.6*r.Float64()
			sum += ws[i]
		}
		t := start
		for i, j := range order {
			seg := (end - start) * ws[i] / sum
			s := w.newSession(&w.hosts[rg.hosts[j]], hour(t), hour(t+seg)-int64(60+r.IntN(420)), sessRank(L, rg.hosts[j], 0), r)
			if rg.device != "" {
				s.device, s.shared = rg.device, true
			}
			out = append(out, s)
			t += seg
		}
	case variantOwnPhones:
		for _, j := range active {
			if rg.first[j] != L && r.Float64() > 0.85 {
				continue
			}
			h := &w.hosts[rg.hosts[j]]
			start := 20.25 + clamp(r.NormFloat64()*0.5, -0.2, 1.25)
			end := 27.5 + clamp(r.NormFloat64()*0.5, -1, 1)
			if r.Float64() < 0.4 {
				br := 23.5 + r.Float64()
				out = append(out, w.newSession(h, hour(start), hour(br), sessRank(L, h.idx, 0), r))
				start = br + 0.15 + 0.5*r.Float64()
				out = append(out, w.newSession(h, hour(start), hour(end), sessRank(L, h.idx, 1), r))
				continue
			}
			out = append(out, w.newSession(h, hour(start), hour(end), sessRank(L, h.idx, 0), r))
		}
	case variantScattered:
		for _, j := range active {
			if rg.first[j] != L && r.Float64() > 0.75 {
				continue
			}
			h := &w.hosts[rg.hosts[j]]
			start := 20.5 + 2*r.Float64()
			dur := 2.5 + 2.5*r.Float64()
			s := w.newSession(h, hour(start), hour(min(start+dur, 28.5)), sessRank(L, h.idx, 0), r)
			if r.Float64() < 0.2 {
				s.device, s.shared = rg.backup, true
			}
			out = append(out, s)
		}
	}
	for _, s := range out[n0:] {
		s.ring = rg
		s.title = pick(r, w.rg.titleRing)
	}
	return out
}

func clamp(x, lo, hi float64) float64 { return max(lo, min(hi, x)) }

// ringPayouts adds the weekly payouts of ring rg on UTC day d (a quiet
// ring's every day): every victim's coins go to the operator, not to her.
func (w *world) ringPayouts(rg *ring, d int, r *rand.Rand, out []item) []item {
	if d%7 != rg.payOff%7 && !rg.quiet {
		return out
	}
	base := w.localMidnight(d, rg.zone) + int64((10+5*r.Float64())*3600)
	m := rg.methods[weighted(r, rg.methodW)]
	for k, hi := range rg.hosts {
		h := &w.hosts[hi]
		ev := &event.Event{Type: event.TypePayout, AccountID: h.id, ToAccount: rg.operator, Method: w.rg.rail(m, rg.operator)}
		out = append(out, item{at: base + int64(k*(60+r.IntN(600))), ev: ev, payout: h})
	}
	return out
}
