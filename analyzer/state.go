package analyzer

import "time"

// Entity state. Every slice is bounded by a constant below and every map is swept
// by evict, so the engine's memory follows the window, not the input's length.

const (
	maxHostDevices     = 4  // devices remembered per host
	maxHostPlaces      = 4  // location cells remembered per host
	maxHostNets        = 4  // network prefixes remembered per host
	maxPlaceHosts      = 32 // hosts remembered per place; more marks it public
	maxPlaceSessions   = 16 // recent sessions per place, for shifts
	maxLinks           = 16 // recruiters, DM targets, beneficiaries, payers per entity
	maxStreamSenders   = 256
	maxStreamDirectors = 64 // viewers whose directive awaits a gift, per stream
	maxDayBuckets      = 64
)

// dayStat is one local broadcast day of a host (noon to noon, so a night is one day).
type dayStat struct {
	day          int32 // days since the epoch of the local noon-to-noon day
	minutes      uint16
	nightMinutes uint16
	shift        bool // broadcast in a shift with another host on one device or place
}

type hostState struct {
	id        string
	created   time.Time
	birthYear int
	verified  int8 // -1 unknown, 0 no, 1 yes
	tz        *time.Location
	agency    string

	firstStream time.Time
	lastSeen    time.Time
	lastEval    time.Time
	streams     uint32
	liveStream  string
	lastStreams [4]string

	days []dayStat // ring indexed by day % len

	devices []placeRef
	places  []placeRef
	nets    []placeRef

	// money
	coins, foreignNightCoins int64
	topCoins                 int64 // top-3 senders' coins summed per stream
	payoutOther, payoutSelf  int64
	payMethods               uint8 // cash method seen (payCash), last named rail (payrail.go)
	beneficiaries            []acctLink

	// audience
	directives, directedGifts uint32
	beats, privateBeats       uint32

	// age
	ageCues     uint32 // own text with minor cues
	ageQuestion uint32 // viewers asking age or school
	ageSignal   float64
	extSignal   float64
	extLabel    string
	decisive    bool

	recruiters []acctLink // accounts that DMed the host before it began hosting
	handovers  []acctLink // hosts it handed over to or from at night (handover.go)
	devLinks   []acctLink // hosts it shares a device with by link rel=device

	eval    hostEval
	evalGen uint64 // the evaluation round that last scored this host
	alert   *alertState
	signal  [maxFamilies]float64 // last family scores emitted as signals
}

// placeRef is a host's use of a device, cell or network.
type placeRef struct {
	key      string
	sessions uint32
	last     time.Time
}

// acctLink is a link to another account with a coin amount or a time.
type acctLink struct {
	id    string
	coins int64
	at    time.Time
}

type acctState struct {
	id       string
	lastSeen time.Time

	lure      float64 // best recruitment lure score of its ads, posts, bios, DMs
	lureCues  []string
	legit     bool // bio or ad with legitimacy cues (adult-only, application address)
	dmTargets []acctLink
	recruits  []acctLink // DM targets that started hosting soon after

	payers []acctLink // hosts paying out to it
}

type placeKind uint8

const (
	placeDevice placeKind = iota
	placeCell
	placeNet
)

type placeState struct {
	key      string
	near     []string // a cell's neighbouring cells, computed once
	kind     placeKind
	lastSeen time.Time
	hosts    []placeRef // hosts seen here, with their sessions here
	overflow bool       // more hosts than maxPlaceHosts
	sessions []session  // recent sessions here, for shifts
}

// session is a broadcast at a place, in Unix seconds (end 0 while live): 32
// bytes, since every place keeps several.
type session struct {
	host       string
	start, end int64
}

type streamState struct {
	id        string
	host      *hostState
	start     time.Time
	last      time.Time
	loc       *time.Location
	device    string
	cell      string
	net       string
	directors map[uint64]time.Time // pseudonymised viewer → last directive
	senders   map[uint64]int64
	coins     int64
	beats     uint32
	private   uint32
	directed  uint32
	folded    time.Time
	gifts     uint32
	foreign   int64
	minutes   int
	night     int
	together  bool
}

// hashID pseudonymises a viewer id for in-memory counting: viewer ids are never
// kept or written in the clear, not even in a checkpoint, which holds the key.
func (e *Engine) hashID(id string) uint64 { return e.key.String(id) }

func (h *hostState) day(d int32, n int) *dayStat {
	if len(h.days) == 0 {
		h.days = make([]dayStat, n)
	}
	i := int(d) % len(h.days)
	if i < 0 {
		i += len(h.days) // a day before 1970: a sender's clock is wrong, not a crash
	}
	b := &h.days[i]
	if b.day != d {
		*b = dayStat{day: d}
	}
	return b
}

func touchRef(refs []placeRef, key string, at time.Time, max int) ([]placeRef, bool) {
	for i := range refs {
		if refs[i].key == key {
			refs[i].sessions++
			refs[i].last = at
			return refs, true
		}
	}
	if len(refs) >= max {
		// Replace the least recently used: a host that moved keeps its newest places.
		old := 0
		for i := range refs {
			if refs[i].last.Before(refs[old].last) {
				old = i
			}
		}
		refs[old] = placeRef{key: key, sessions: 1, last: at}
		return refs, false
	}
	return append(refs, placeRef{key: key, sessions: 1, last: at}), false
}

func addLink(links []acctLink, id string, coins int64, at time.Time) []acctLink {
	for i := range links {
		if links[i].id == id {
			links[i].coins += coins
			if at.After(links[i].at) {
				links[i].at = at
			}
			return links
		}
	}
	if len(links) >= maxLinks {
		return links
	}
	return append(links, acctLink{id: id, coins: coins, at: at})
}

// isNew says whether h began hosting soon after its account was created. When
// the app sends no creation time, a host first seen broadcasting after Ronda
// had watched broadcasts for at least NewAccount is new to hosting, which is
// what the indicator is about; before that, newness is unknown (not new).
func (e *Engine) isNew(h *hostState) bool {
	if h.firstStream.IsZero() {
		return false
	}
	if !h.created.IsZero() {
		return h.firstStream.Sub(h.created) < e.cfg.AccountAge.NewAccount
	}
	return !e.started.IsZero() && h.firstStream.Sub(e.started) >= e.cfg.AccountAge.NewAccount
}
