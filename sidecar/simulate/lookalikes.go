package simulate

import (
	"math"
	"math/rand/v2"
	"time"
)

// The benign population. DOMAIN.md names, for every indicator, the innocent
// hosts it must not flag alone; each of them is here, so that a detector that
// keys on one indicator pays for it in false positives:
//
//   - night-shift gamers (some with new accounts) and DJs with foreign fans, every night
//   - sahur streams in Ramadan, otherwise a group of night owls, 02:00-04:00
//   - households: siblings on one home network and cell, own phones, now and
//     then on a sibling's phone (a "device" link)
//   - a student boarding house: adults, one cell, one network, varied hours
//   - a mall: many hosts pass through its cell and its wifi, briefly
//   - mobile carrier NAT: unrelated hosts behind a few addresses of one prefix
//   - whale-funded singers: a few viewers give most of the coins
//   - diaspora fans in MY / SA / TW / HK gifting their favourite in the evening
//   - a legit agency: bio "21+", old accounts linked by rel agency, payouts to
//     it, a studio several of them stream from, daytime shopping streams, and
//     a new adult recruit it DMs before her first stream
//   - real job ads: normal pay, an address or a website, adult ages
//   - teens (declared minors) streaming homework chat in the afternoon from
//     home on their own phones; half are paid out to a parent's account
//   - ordinary viewers' banter and song requests, and a few rude viewers who
//     ask "umur berapa" without gifting

// baseHost is an ordinary host: an adult with an old account, a home of her
// own, streaming a few times a week mostly in the evening.
func (w *world) baseHost(r *rand.Rand, idx uint32, k kind) host {
	rg := w.rg
	z := weighted(r, rg.zoneW)
	var cs []int
	for i, c := range rg.cities {
		if c.zone == z {
			cs = append(cs, i)
		}
	}
	c := pick(r, cs)
	h := host{
		id: w.ids.make('h', idx), device: w.ids.make('d', idx), idx: idx, kind: k,
		mall: -1, studio: -1, sibling: -1, ring: -1,
		zone: uint8(z), node: uint8(r.IntN(4)),
		created:   w.start - int64(30+r.IntN(1500))*86400 - int64(r.IntN(86400)),
		birthYear: w.year - 18 - r.IntN(28),
		verified:  r.Float64() < 0.55,
		noGeo:     r.Float64() < 0.15,
		noTZ:      r.Float64() < 0.05,
		mobile:    r.Float64() < 0.25,
		carrier:   uint8(r.IntN(len(w.carriers))),
		payDay:    uint8(r.IntN(7)),
		method:    pick(r, []string{"bank", "ewallet", "ewallet"}),
		weekends:  1,
	}
	h.home = w.addPlace(r, c, 9000, w.ipAddr(r))
	if r.Float64() < 0.06 {
		h.created = w.start - int64(1+r.IntN(25))*86400 - int64(r.IntN(86400))
	}
	if r.Float64() < 0.08 {
		h.birthYear = 0
	}
	h.category = pick(r, []string{"chat", "chat", "chat", "music", "music", "gaming", "cooking", "shopping", "shopping"})
	h.perWeek = 1.5 + 5*r.Float64()
	switch u := r.Float64(); {
	case u < 0.15:
		h.startH, h.spreadH = 9.5, 1
	case u < 0.4:
		h.startH, h.spreadH = 14.5, 1.5
	case u < 0.95:
		h.startH, h.spreadH = 20, 1.2
	default:
		h.startH, h.spreadH = 22.5, 0.7
	}
	h.durMin, h.durMax = 40, 210
	pop := math.Exp(r.NormFloat64()*0.6) / 1.2
	h.chatRate = 0.5 * pop
	h.giftRate = 0.3 * pop
	h.viewers = 80 * pop
	h.fans = uint32(20 + 80*pop)
	h.foreign = 0.03
	h.fanCC = w.allForeign
	h.signalP = 0.003
	h.signalMin, h.signalMax = 0.2, 0.55
	return h
}

// ccs returns the indices of the named countries in w.countries.
func (w *world) ccs(codes ...string) []int {
	var out []int
	for _, code := range codes {
		for i, c := range w.countries {
			if c.code == code {
				out = append(out, i)
			}
		}
	}
	return out
}

// buildBenign creates hosts 0..Hosts-1: the lookalike groups first, in an
// order that keeps the most telling ones in small worlds, then ordinary hosts.
func (w *world) buildBenign(r *rand.Rand) {
	n := w.o.Hosts
	next := 0
	take := func(size int) (int, bool) {
		if next+size > n {
			return 0, false
		}
		lo := next
		next += size
		return lo, true
	}
	scaled := func(per float64) int { return max(1, int(math.Round(float64(n)*per))) }
	year := w.year

	// Households: siblings under one roof, on one network.
	for range scaled(1.0 / 75) {
		size := 2 + r.IntN(2)
		lo, ok := take(size)
		if !ok {
			break
		}
		var home int32 = -1
		for i := lo; i < lo+size; i++ {
			h := w.baseHost(r, uint32(i), kindHousehold)
			if home < 0 {
				home = h.home
			}
			h.home, h.zone = home, w.places[home].zone
			h.mobile = false
			h.startH, h.spreadH = 10+10*r.Float64(), 1.5
			h.perWeek = 3 + 2*r.Float64()
			h.birthYear = year - 18 - r.IntN(12)
			if i == lo+size-1 && r.Float64() < 0.3 {
				h.birthYear = year - 16 - r.IntN(2)
				h.verified = false
			}
			h.sibling = int32(lo + (i-lo+1)%size)
			w.hosts[i] = h
		}
	}
	// Teens: declared minors, homework chat after school, at home, own phone.
	for range scaled(0.03) {
		i, ok := take(1)
		if !ok {
			break
		}
		h := w.baseHost(r, uint32(i), kindTeen)
		h.birthYear = year - 14 - r.IntN(4)
		h.verified = false
		h.mobile = false
		h.category = "chat"
		h.startH, h.spreadH, h.durMin, h.durMax = 15.5, 0.7, 45, 120
		h.perWeek, h.weekends = 5, 0.3
		h.created = w.start - int64(60+r.IntN(500))*86400 - int64(r.IntN(86400))
		h.signalP, h.signalMin, h.signalMax = 0.03, 0.35, 0.7
		if r.IntN(2) == 0 {
			_, h.payTo = w.newAccount()
		}
		w.hosts[i] = h
	}
	// Night-shift gamers: every night, for hours, some new, with fans abroad.
	for range scaled(0.06) {
		i, ok := take(1)
		if !ok {
			break
		}
		h := w.baseHost(r, uint32(i), kindNightGamer)
		h.category = "gaming"
		h.startH, h.spreadH, h.durMin, h.durMax = 22.5, 0.6, 180, 320
		h.perWeek = 6.5
		h.birthYear = year - 18 - r.IntN(8)
		if r.Float64() < 0.4 {
			h.created = w.start - int64(1+r.IntN(20))*86400 - int64(r.IntN(86400))
			h.verified = r.Float64() < 0.3
		}
		h.foreign, h.fanCC = 0.2, w.ccs("PH", "ID", "MY", "SG", "US")
		w.hosts[i] = h
	}
	// A student boarding house: adults, one cell, one network, varied hours.
	for range scaled(1.0 / 150) {
		size := 4 + r.IntN(3)
		lo, ok := take(size)
		if !ok {
			break
		}
		var home int32 = -1
		for i := lo; i < lo+size; i++ {
			h := w.baseHost(r, uint32(i), kindStudentKos)
			if home < 0 {
				home = h.home
			}
			h.home, h.zone = home, w.places[home].zone
			h.mobile = r.Float64() < 0.15
			h.birthYear = year - 19 - r.IntN(5)
			h.startH, h.spreadH = 10+14*r.Float64(), 2
			h.durMin, h.durMax = 40, 180
			if r.Float64() < 0.4 {
				h.created = w.start - int64(2+r.IntN(40))*86400 - int64(r.IntN(86400))
			}
			h.signalP, h.signalMin, h.signalMax = 0.01, 0.25, 0.6
			w.hosts[i] = h
		}
	}
	// A legit agency: "21+", old accounts, a studio, payouts to the agency.
	for range scaled(1.0 / 120) {
		size := 5 + r.IntN(4)
		lo, ok := take(size)
		if !ok {
			break
		}
		w.buildAgency(r, lo, size)
	}
	// Whale-funded singers.
	for range scaled(0.03) {
		i, ok := take(1)
		if !ok {
			break
		}
		h := w.baseHost(r, uint32(i), kindWhaleSinger)
		h.category = "music"
		h.startH, h.spreadH, h.durMin, h.durMax = 19.5, 1, 90, 180
		h.perWeek = 4 + r.Float64()
		h.whales = uint8(2 + r.IntN(2))
		h.privRate = 0.005
		w.hosts[i] = h
	}
	// Hosts whose fans are migrant workers abroad.
	for range scaled(0.03) {
		i, ok := take(1)
		if !ok {
			break
		}
		h := w.baseHost(r, uint32(i), kindDiaspora)
		h.startH, h.spreadH = 20, 1
		h.foreign, h.fanCC = 0.55, w.ccs("MY", "SA", "TW", "HK")
		h.giftRate *= 1.3
		w.hosts[i] = h
	}
	// DJs: late, weekends above all, some fans abroad, a VIP room now and then.
	for range scaled(0.02) {
		i, ok := take(1)
		if !ok {
			break
		}
		h := w.baseHost(r, uint32(i), kindDJ)
		h.category = "music"
		h.startH, h.spreadH, h.durMin, h.durMax = 22, 0.8, 120, 240
		h.perWeek, h.weekends = 4, 1.7
		h.foreign, h.fanCC = 0.15, w.ccs("AU", "SG", "MY", "AE")
		h.privRate = 0.01
		w.hosts[i] = h
	}
	// Sahur streams in Ramadan; night owls 02:00-04:00 otherwise.
	for range scaled(0.03) {
		i, ok := take(1)
		if !ok {
			break
		}
		h := w.baseHost(r, uint32(i), kindSahur)
		h.category = "chat"
		h.startH, h.spreadH, h.durMin, h.durMax = 26, 0.3, 90, 150
		h.perWeek = 6.3
		w.hosts[i] = h
	}
	// Everyone else.
	for i := next; i < n; i++ {
		w.hosts[i] = w.baseHost(r, uint32(i), kindOrdinary)
	}
	// Malls: ordinary hosts pass through, briefly, on the mall's wifi.
	var ord []int
	for i := next; i < n; i++ {
		ord = append(ord, i)
	}
	for range scaled(1.0 / 150) {
		if len(ord) == 0 {
			break
		}
		c := r.IntN(len(w.rg.cities))
		m := w.addPlace(r, c, 4000, w.ipAddr(r))
		w.places[m].accMin, w.places[m].accMax, w.places[m].spread = 10, 80, 60
		for range 12 {
			h := &w.hosts[ord[r.IntN(len(ord))]]
			if h.mall >= 0 {
				continue
			}
			// Visitors live in the mall's city.
			h.mall = m
			h.home = w.addPlace(r, c, 9000, w.places[h.home].ip)
			h.zone = w.places[m].zone
		}
	}
	// Real job ads from shops.
	for range max(2, n/40) {
		_, id := w.newAccount()
		c := r.IntN(len(w.rg.cities))
		at := w.start - 3*86400 + int64(r.Float64()*float64(w.end-w.start+3*86400))
		at = at - at%60
		w.addPost(at, id, "ad", w.rg.fill(r, pick(r, w.rg.realAds), w.rg.cities[c].name), "")
	}
}

// buildAgency creates a legit agency with hosts lo..lo+size-1; the last is a
// new adult recruit the agency DMs before her first stream.
func (w *world) buildAgency(r *rand.Rand, lo, size int) {
	_, aid := w.newAccount()
	c := r.IntN(len(w.rg.cities))
	name := w.rg.cities[c].name
	studio := w.addPlace(r, c, 5000, w.ipAddr(r))
	w.addPost(w.start-int64(200+r.IntN(700))*86400-int64(r.IntN(86400)), aid, "bio", w.rg.fill(r, w.rg.agencyBio[0], name), "")
	for range 1 + r.IntN(2) {
		at := w.start + int64(r.Float64()*float64(w.end-w.start))
		w.addPost(at-at%60, aid, "ad", w.rg.fill(r, pick(r, w.rg.agencyAds), name), "")
	}
	for i := lo; i < lo+size; i++ {
		h := w.baseHost(r, uint32(i), kindAgency)
		ct := w.rg.cities[c]
		h.zone = uint8(ct.zone)
		h.home = w.addPlace(r, c, 9000, w.ipAddr(r))
		h.studio = studio
		h.category = "shopping"
		h.startH, h.spreadH, h.durMin, h.durMax = 12, 1.5, 120, 240
		h.perWeek, h.weekends = 5.5, 0.4
		h.birthYear = w.year - 21 - r.IntN(15)
		h.verified = true
		h.created = w.start - int64(365+r.IntN(1100))*86400 - int64(r.IntN(86400))
		h.agencyID, h.payTo, h.method = aid, aid, "bank"
		join := min(h.created+int64(10+r.IntN(300))*86400+int64(r.IntN(86400)), w.start-86400-int64(r.IntN(86400)))
		if i == lo+size-1 {
			h.created = w.start - 3*86400 + int64(r.Float64()*2*86400)
			h.verified = r.IntN(2) == 0
			dm := h.created + int64((3+10*r.Float64())*3600)
			w.addLink(dm, aid, h.id, "dm")
			w.addPost(dm+120, aid, "dm", w.rg.fill(r, w.rg.agencyDMs[0], name), h.id)
			w.addPost(dm+int64(3600+r.IntN(7200)), aid, "dm", w.rg.agencyDMs[1], h.id)
			join = dm + 86400
		}
		w.addLink(join, h.id, aid, "agency")
		w.hosts[i] = h
	}
}

// hostDay plans host h's streams of local day L (0 = Start), in UTC seconds.
func (w *world) hostDay(h *host, L int, out []*session) []*session {
	if L < 0 || L >= w.o.Days {
		return out
	}
	r := newRand(w.o.Seed, tagHostDay, uint64(h.idx), uint64(L))
	wd := w.weekday(L)
	p := h.perWeek / 7
	if wd == time.Saturday || wd == time.Sunday {
		p *= h.weekends
	}
	mid := w.localMidnight(L, h.zone)
	at := func(hours float64) int64 { return mid + int64(hours*3600) }
	n0 := len(out)
	k := uint32(0)
	if r.Float64() < p {
		start := clamp(h.startH+r.NormFloat64()*h.spreadH, 0, 30)
		dur := h.durMin + r.Float64()*(h.durMax-h.durMin)
		s := w.newSession(h, at(start), at(start)+int64(dur*60), sessRank(L, h.idx, k), r)
		k++
		if h.studio >= 0 && r.IntN(2) == 0 {
			s.place = h.studio
			s.ip = w.places[h.studio].ip
		}
		if h.sibling >= 0 && r.Float64() < 0.08 {
			s.device, s.shared = w.hosts[h.sibling].device, true
		}
		out = append(out, s)
		if h.kind == kindOrdinary && r.Float64() < 0.1 {
			start += dur/60 + 2 + 3*r.Float64()
			dur = 30 + 60*r.Float64()
			out = append(out, w.newSession(h, at(start), at(start)+int64(dur*60), sessRank(L, h.idx, k), r))
			k++
		}
	}
	if h.mall >= 0 && r.Float64() < 0.3 {
		start := 11 + 9*r.Float64()
		s := w.newSession(h, at(start), at(start)+int64((10+30*r.Float64())*60), sessRank(L, h.idx, k), r)
		k++
		s.place, s.ip = h.mall, w.places[h.mall].ip
		out = append(out, s)
	}
	if h.kind == kindOrdinary && w.inRamadan(L) && r.Float64() < 0.12 {
		start := 26.5 + 0.3*r.NormFloat64()
		s := w.newSession(h, at(start), at(start)+int64((45+45*r.Float64())*60), sessRank(L, h.idx, k), r)
		s.title = pick(r, w.rg.titleSahur)
		out = append(out, s)
	}
	// No stream before the account exists (new accounts start a few hours in).
	keep := out[:n0]
	for _, s := range out[n0:] {
		if s.start >= h.created+3*3600 {
			keep = append(keep, s)
		}
	}
	return keep
}
