package simulate

import (
	"math"
	"math/rand/v2"
	"strconv"
	"time"
)

// Random streams are derived, never shared: every planner (a host's day, a
// ring's night, a stream's events) seeds its own PCG from the world seed and
// its own coordinates, so the world does not change when the order in which
// things are planned does, and a day can be planned twice with one result.

// mix is the splitmix64 finaliser: a bijection of uint64 with good avalanche.
func mix(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9
	x = (x ^ (x >> 27)) * 0x94d049bb133111eb
	return x ^ (x >> 31)
}

// Tags keep the random streams of different planners apart.
const (
	tagWorld uint64 = iota + 1
	tagRing
	tagRingNight
	tagHostDay
	tagSession
	tagDaily
	tagIDs
)

func newRand(seed int64, tag, a, b uint64) *rand.Rand {
	s := mix(uint64(seed) ^ mix(tag^mix(a^mix(b))))
	return rand.New(rand.NewPCG(s, mix(s+0x632be59bd9b4e019)))
}

func pick[T any](r *rand.Rand, xs []T) T { return xs[r.IntN(len(xs))] }

// weighted returns an index drawn by the weights ws.
func weighted(r *rand.Rand, ws []float64) int {
	var sum float64
	for _, w := range ws {
		sum += w
	}
	u := r.Float64() * sum
	for i, w := range ws {
		if u < w {
			return i
		}
		u -= w
	}
	return len(ws) - 1
}

// ids makes the world's identifiers: a kind letter, a three-hex-digit prefix
// derived from the seed (so two worlds rarely share ids) and a keyed 32-bit
// permutation of a counter (so ids are unique and their order says nothing
// about the actor: ring hosts are not the last ids).
type ids struct {
	pfx [3]byte
	key uint32
}

func newIDs(seed int64) ids {
	h := mix(uint64(seed) ^ tagIDs)
	const hexd = "0123456789abcdef"
	return ids{pfx: [3]byte{hexd[h>>60], hexd[(h>>56)&15], hexd[(h>>52)&15]}, key: uint32(h)}
}

// perm32 is a keyed bijection of uint32: every step (xor, odd multiply,
// xorshift) is invertible, so distinct inputs give distinct outputs.
func perm32(x, key uint32) uint32 {
	x ^= key
	x *= 0x9e3779b1
	x ^= x >> 16
	x *= 0x85ebca6b
	x ^= x >> 13
	x += key ^ 0x5bd1e995
	x *= 0xc2b2ae35
	x ^= x >> 16
	return x
}

func (x ids) make(kind byte, n uint32) string {
	const hexd = "0123456789abcdef"
	v := perm32(n, x.key^uint32(kind)*0x01000193)
	var b [12]byte
	b[0] = kind
	copy(b[1:4], x.pfx[:])
	for i := 11; i >= 4; i-- {
		b[i] = hexd[v&15]
		v >>= 4
	}
	return string(b[:])
}

// eventID is "e", the prefix, "-" and the emission counter.
func (x ids) eventID(n uint64) string {
	var b [32]byte
	buf := append(b[:0], 'e', x.pfx[0], x.pfx[1], x.pfx[2], '-')
	return string(strconv.AppendUint(buf, n, 10))
}

// place is where hosts stream from: a home, a boarding house, a mall, a studio.
// A place has one point (its cell) and one network address.
type place struct {
	lat, lon float64
	ip       string
	zone     uint8
	city     int16
	accMin   float64 // GPS accuracy range reported there, metres
	accMax   float64
	spread   float64 // metres around the point where devices really are (a mall is large)
}

// carrier is a mobile network whose NAT puts thousands of unrelated
// subscribers behind a few addresses of one prefix.
type carrier struct {
	prefix string // "a.b.c."
	n      int    // addresses in use
}

// kind is what a host is: an ordinary host, one of the lookalikes, or a ring's victim.
type kind uint8

const (
	kindOrdinary kind = iota
	kindHousehold
	kindStudentKos
	kindNightGamer
	kindDJ
	kindSahur
	kindWhaleSinger
	kindDiaspora
	kindAgency
	kindTeen
	kindRing
)

// host is a broadcasting account and everything that shapes its streams.
type host struct {
	id, device string
	idx        uint32
	kind       kind
	category   string
	home       int32 // place
	mall       int32 // place visited now and then, or -1
	studio     int32 // agency studio, or -1
	sibling    int32 // a sibling whose phone is borrowed now and then, or -1
	zone       uint8
	node       uint8
	created    int64
	birthYear  int
	verified   bool
	noGeo      bool
	noTZ       bool
	mobile     bool // on a carrier's NAT rather than a home network
	carrier    uint8
	payDay     uint8 // weekday offset of the weekly payout
	ring       int16 // ring index, or -1
	agencyID   string
	payTo      string // beneficiary of payouts when not the host itself
	payAlt     string // a second beneficiary, now and then
	payAltP    float64
	method     string

	// schedule, in local hours after the local midnight of the day planned
	perWeek  float64
	startH   float64
	spreadH  float64
	durMin   float64 // minutes
	durMax   float64
	weekends float64 // multiplier of the streaming probability on Saturday and Sunday

	// audience
	chatRate  float64 // chat lines per minute
	giftRate  float64 // gifts per minute
	viewers   float64
	fans      uint32
	foreign   float64 // share of fans abroad
	fanCC     []int   // their countries (indices into world.countries)
	whales    uint8
	privRate  float64 // chance per heartbeat of a paid private room
	signalP   float64 // chance per stream of an external age-estimation signal
	signalMin float64
	signalMax float64

	// state while generating
	coins     int64
	streamed  bool
	devLinked bool
}

// world is the planned population: built once from the options, then asked
// for each day's streams and agenda.
type world struct {
	o          Options
	rg         *region
	ids        ids
	start      int64
	end        int64
	year       int
	hosts      []host
	places     []place
	carriers   []carrier
	rings      []*ring
	agenda     []item // account-level events: bios, ads, DMs, links; sorted at build
	nAcc       uint32
	countries  []country
	allForeign []int
	nDev       uint32
	vDom       uint32   // domestic viewers are [0, vDom)
	block      []uint32 // foreign viewers of country c are [block[c], block[c+1])
	ramadan    [][2]int64
	devOwner   map[string]string // first user of a shared device
}

func (w *world) newAccount() (uint32, string) {
	n := w.nAcc
	w.nAcc++
	return n, w.ids.make('a', n)
}

// hostByIdx returns the host with index i.
func (w *world) host(i uint32) *host { return &w.hosts[i] }

// addPlace adds a place near city c (within radius metres of its centre).
func (w *world) addPlace(r *rand.Rand, c int, radius float64, ip string) int32 {
	ct := w.rg.cities[c]
	la, lo := offset(ct.lat, ct.lon, radius*math.Sqrt(r.Float64()), r.Float64()*2*math.Pi)
	w.places = append(w.places, place{lat: la, lon: lo, ip: ip, zone: uint8(ct.zone), city: int16(c),
		accMin: 5, accMax: 50})
	return int32(len(w.places) - 1)
}

// nearPlace adds a place dist metres from place p, on the same network or another.
func (w *world) nearPlace(r *rand.Rand, p int32, dist float64, ip string) int32 {
	q := w.places[p]
	q.lat, q.lon = offset(q.lat, q.lon, dist, r.Float64()*2*math.Pi)
	q.ip = ip
	w.places = append(w.places, q)
	return int32(len(w.places) - 1)
}

// offset moves a point d metres in direction theta.
func offset(lat, lon, d, theta float64) (float64, float64) {
	const m = 111320.0
	return lat + d*math.Cos(theta)/m, lon + d*math.Sin(theta)/(m*math.Cos(lat*math.Pi/180))
}

func round6(x float64) float64 { return math.Round(x*1e6) / 1e6 }

// ipAddr makes a synthetic public address with a first octet of the region.
func (w *world) ipAddr(r *rand.Rand) string {
	b := make([]byte, 0, 15)
	b = strconv.AppendUint(b, uint64(pick(r, w.rg.ipFirst)), 10)
	for range 3 {
		b = append(b, '.')
		b = strconv.AppendUint(b, uint64(1+r.IntN(254)), 10)
	}
	return string(b)
}

// localMidnight is the UTC second of the local midnight of day L (0 = Start) in zone z.
func (w *world) localMidnight(L int, z uint8) int64 {
	return w.start + int64(L)*86400 - w.rg.zones[z].offset
}

// weekday of local day L.
func (w *world) weekday(L int) time.Weekday {
	return time.Unix(w.start+int64(L)*86400, 0).UTC().Weekday()
}

// inRamadan reports whether local day L falls in Ramadan (region with sahur only).
func (w *world) inRamadan(L int) bool {
	if !w.rg.ramadan {
		return false
	}
	t := w.start + int64(L)*86400
	for _, rr := range w.ramadan {
		if t >= rr[0] && t < rr[1] {
			return true
		}
	}
	return false
}

// ramadanStarts are approximate first days of Ramadan in Indonesia (30 days each).
var ramadanStarts = []string{"2020-04-24", "2021-04-13", "2022-04-02", "2023-03-23", "2024-03-12",
	"2025-03-01", "2026-02-18", "2027-02-08", "2028-01-28", "2029-01-16", "2030-01-06", "2030-12-26"}

func ramadanRanges() [][2]int64 {
	var out [][2]int64
	for _, s := range ramadanStarts {
		t, err := time.Parse(time.DateOnly, s)
		if err != nil {
			continue
		}
		out = append(out, [2]int64{t.Unix(), t.Unix() + 30*86400})
	}
	return out
}

// viewer returns a viewer's id.
func (w *world) viewer(n uint32) string { return w.ids.make('v', n) }

// countryCode is the ISO code of country c (-1 is the domestic one).
func (w *world) countryCode(c int) string {
	if c < 0 {
		return w.rg.code
	}
	return w.countries[c].code
}

// inCountry maps x to a viewer of country c (-1 domestic).
func (w *world) inCountry(c int, x uint64) uint32 {
	if c < 0 {
		return uint32(x % uint64(w.vDom))
	}
	lo, hi := w.block[c], w.block[c+1]
	return lo + uint32(x%uint64(hi-lo))
}

// fan returns the k-th fan of h and its country: a stable audience, so the same
// viewers come back, chat and gift, and always from the same country.
func (w *world) fan(h *host, k uint32) (uint32, int) {
	x := mix(uint64(h.idx)<<32 | uint64(k) ^ uint64(w.ids.key))
	if len(h.fanCC) > 0 && float64(x>>40)/(1<<24) < h.foreign {
		c := h.fanCC[int(x>>8)%len(h.fanCC)]
		return w.inCountry(c, mix(x)), c
	}
	return w.inCountry(-1, x), -1
}

// nightFactor weighs how likely a viewer in a zone with this offset is to be up
// and gifting at UTC second t: most of all late at night.
func nightFactor(offset, t int64) float64 {
	h := ((t+offset)%86400 + 86400) % 86400 / 3600
	switch {
	case h >= 21 || h < 4:
		return 3
	case h >= 18 || h < 7:
		return 1.2
	}
	return 0.35
}
