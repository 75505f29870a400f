package simulate

import (
	"math"
	"math/rand/v2"
	"strings"

	"github.com/ronda-watch/ronda/analyzer/event"
)

// A session is one broadcast. It is planned with its host, times, place and
// device, then, once the generator reaches its start, it produces its events
// one at a time in time order: several Poisson processes (chat, gifts, follows)
// beside a heartbeat every ~5 minutes and a queue of follow-ups (the gift
// after a directing line, the DM after a DM link, a host's answer).
type session struct {
	h      *host
	ring   *ring
	start  int64
	end    int64
	rank   uint64
	place  int32
	device string
	ip     string
	title  string
	shared bool   // device used by more than one host
	owner  string // the device's first user, when known at planning
	noEnd  bool   // ends by idle timeout, without stream.end
	ramad  bool   // a sahur stream in Ramadan

	rng     *rand.Rand
	sid     string
	at      int64
	seq     uint32
	next    uint8
	checked bool
	tHB     int64
	tChat   int64
	tGift   int64
	tSocial int64
	tSignal int64
	q       []pending
	viewers float64
	priv    int
}

// pending is a follow-up event queued by an earlier one.
type pending struct {
	at      int64
	kind    uint8
	sender  string
	country int
	text    string
	coins   int64
	gift    string
}

const never = math.MaxInt64

// Event kinds of a session, in tie-breaking order within one second.
const (
	evStart uint8 = iota
	evPending
	evHB
	evChat
	evGift
	evSocial
	evSignal
	evEnd
	evDone
)

// Kinds of pending follow-ups.
const (
	pGift uint8 = iota
	pChat
	pDM
)

// sessRank orders sessions that share a second: by local day, actor, number.
func sessRank(L int, actor uint32, k uint32) uint64 {
	return 2<<62 | uint64(L+2)<<44 | uint64(actor)<<8 | uint64(k&0xff)
}

func (w *world) newSession(h *host, start, end int64, rank uint64, r *rand.Rand) *session {
	s := &session{h: h, start: start, end: max(end, start+300), rank: rank, place: h.home, device: h.device,
		noEnd: r.Float64() < 0.08}
	s.ip = w.places[h.home].ip
	if h.mobile {
		c := w.carriers[h.carrier]
		s.ip = c.prefix + itoa(1+r.IntN(c.n))
	}
	s.title = w.title(h, s, r)
	if h.sibling >= 0 {
		s.owner = w.hosts[h.sibling].id
	}
	return s
}

func (w *world) title(h *host, s *session, r *rand.Rand) string {
	rg := w.rg
	switch h.kind {
	case kindDJ:
		return pick(r, rg.titleDJ)
	case kindTeen:
		return pick(r, rg.titleTeen)
	case kindSahur:
		L := int((s.start - 12*3600 - w.start) / 86400)
		if w.inRamadan(L) {
			s.ramad = true
			return pick(r, rg.titleSahur)
		}
		return pick(r, rg.titleNightOwl)
	}
	switch h.category {
	case "music":
		return pick(r, rg.titleMusic)
	case "gaming":
		return pick(r, rg.titleGaming)
	case "cooking":
		return pick(r, rg.titleCooking)
	case "shopping":
		return pick(r, rg.titleShop)
	}
	return pick(r, rg.titleChat)
}

// activate prepares a planned session for generation.
func (s *session) activate(w *world) {
	s.rng = newRand(w.o.Seed, tagSession, s.rank, 0)
	r := s.rng
	s.at, s.next = s.start, evStart
	s.tHB = s.start + 300 + int64(r.IntN(7)) - 3
	s.tChat = s.start + expSec(r, s.h.chatRate/60)
	s.tGift = s.start + expSec(r, s.h.giftRate/60)
	s.tSocial = s.start + expSec(r, 0.45/7800)
	s.tSignal = never
	if r.Float64() < s.h.signalP {
		s.tSignal = s.start + 300 + int64(r.Float64()*float64(max(s.end-s.start-600, 1)))
	}
	s.viewers = s.h.viewers * (0.5 + r.Float64())
}

// expSec is an exponential waiting time in whole seconds (at least one).
func expSec(r *rand.Rand, perSec float64) int64 {
	if perSec <= 0 {
		return never / 2
	}
	return 1 + int64(r.ExpFloat64()/perSec)
}

// advance picks the next event of the session.
func (s *session) advance() {
	ts := [...]int64{never, never, s.tHB, s.tChat, s.tGift, s.tSocial, s.tSignal, never}
	if len(s.q) > 0 {
		ts[evPending] = s.q[0].at
	}
	for i := evHB; i <= evSignal; i++ {
		if ts[i] >= s.end {
			ts[i] = never
		}
	}
	if !s.noEnd {
		ts[evEnd] = s.end
	}
	s.next, s.at = evDone, never
	for i, t := range ts {
		if t < s.at {
			s.next, s.at = uint8(i), t
		}
	}
}

// fill writes the session's next event into e and moves on. It reports false
// when the session is over (e untouched).
func (s *session) fill(g *gen, e *event.Event) bool {
	w, h, r := g.w, s.h, s.rng
	t := s.at
	s.seq++
	switch s.next {
	case evDone:
		return false
	case evStart:
		if s.shared && !s.checked {
			// The platform sees a host log in on a device someone else used first.
			s.checked = true
			owner := s.owner
			if owner == "" {
				owner = w.devOwner[s.device]
				if owner == "" {
					w.devOwner[s.device] = h.id
				}
			}
			if owner != "" && owner != h.id && !h.devLinked {
				h.devLinked = true
				e.Type, e.FromID, e.ToID, e.Rel = event.TypeLink, h.id, owner, "device"
				return true
			}
		}
		s.startEvent(g, e)
	case evPending:
		p := s.q[0]
		s.q = s.q[1:]
		switch p.kind {
		case pGift:
			s.giftEvent(g, e, p.sender, p.country, p.coins, p.gift)
			h.coins += p.coins
		case pChat:
			e.Type, e.StreamID, e.SenderID, e.Text = event.TypeChat, s.sid, p.sender, p.text
		case pDM:
			e.Type, e.AccountID, e.Kind, e.Text, e.ToID = event.TypePost, p.sender, "dm", p.text, h.id
		}
	case evHB:
		e.Type, e.StreamID = event.TypeStreamHeartbeat, s.sid
		base := h.viewers
		s.viewers += (base-s.viewers)*0.2 + r.NormFloat64()*0.12*base
		s.viewers = max(s.viewers, 1)
		if s.priv == 0 && h.privRate > 0 && r.Float64() < h.privRate {
			s.priv = 1 + r.IntN(3)
		}
		if s.priv > 0 {
			s.priv--
			e.Private = true
			e.Viewers = 1 + r.IntN(12)
		} else {
			e.Viewers = int(s.viewers)
		}
		s.tHB += 300 + int64(r.IntN(7)) - 3
	case evChat:
		s.chat(g, e)
		s.tChat = t + expSec(r, h.chatRate/60)
	case evGift:
		s.gift(g, e)
		s.tGift = t + expSec(r, h.giftRate/60)
	case evSocial:
		s.social(g, e)
		s.tSocial = t + expSec(r, 0.45/7800)
	case evSignal:
		e.Type, e.StreamID, e.HostID = event.TypeSignal, s.sid, h.id
		e.Source, e.Label = "agecheck", "minor"
		e.Score = math.Round((h.signalMin+r.Float64()*(h.signalMax-h.signalMin))*100) / 100
		s.tSignal = never
	case evEnd:
		e.Type, e.StreamID = event.TypeStreamEnd, s.sid
		e.Reason = "host_ended"
		if r.IntN(7) == 0 {
			e.Reason = "connection_lost"
		}
		s.next, s.at = evDone, never
		return true
	}
	s.advance()
	return true
}

var (
	yes   = true
	no    = false
	nodes = [...]string{"ingest-1", "ingest-2", "ingest-3", "ingest-4"}
	tags  = map[string][]string{"chat": {"chat", "santai"}, "music": {"music", "live"},
		"gaming": {"gaming", "mobile"}, "cooking": {"cooking"}, "shopping": {"shopping", "promo"}}
)

func (s *session) startEvent(g *gen, e *event.Event) {
	w, h, r := g.w, s.h, s.rng
	s.sid = w.ids.make('s', uint32(g.streams))
	g.streams++
	if !h.streamed {
		h.streamed = true
		g.hostsLive++
	}
	e.Type, e.StreamID, e.HostID, e.Title, e.Category = event.TypeStreamStart, s.sid, h.id, s.title, h.category
	if r.IntN(2) == 0 {
		e.Tags = tags[h.category]
	}
	e.DeviceID, e.IP, e.Node, e.AgencyID = s.device, s.ip, nodes[h.node], h.agencyID
	if !h.noTZ {
		e.TZ = w.rg.zones[h.zone].name
	}
	if !h.noGeo {
		p := &w.places[s.place]
		acc := math.Round(p.accMin + r.Float64()*(p.accMax-p.accMin))
		la, lo := offset(p.lat, p.lon, (p.spread+acc)*math.Sqrt(r.Float64()), r.Float64()*2*math.Pi)
		e.Geo = &event.Geo{Lat: round6(la), Lon: round6(lo), AccuracyM: acc}
	}
	f := &event.HostFacts{CreatedAt: unixTime(h.created), BirthYear: h.birthYear, AgeVerified: &no}
	if h.verified {
		f.AgeVerified = &yes
	}
	e.Host = f
}

// minor reports whether the host declares an age under 18.
func (h *host) minor(year int) bool { return h.birthYear > 0 && year-h.birthYear < 18 }

func (s *session) chat(g *gen, e *event.Event) {
	w, h, r, rg := g.w, s.h, s.rng, g.w.rg
	e.Type, e.StreamID = event.TypeChat, s.sid
	u := r.Float64()
	if s.ring != nil {
		v, c := s.buyer(g)
		e.SenderID = w.viewer(v)
		directing := 0.3
		if s.ring.quiet {
			directing = 0.02 // its viewers seldom type a directive
		}
		switch {
		case u < directing:
			e.Text = pick(r, rg.directing)
			// Directing is followed by a gift from the same viewer, often a private room.
			if r.Float64() < 0.8 {
				gf := rg.gifts[2+weighted(r, directGifts)]
				s.enqueue(pending{at: s.at + int64(10+r.IntN(80)), kind: pGift, sender: e.SenderID, country: c,
					coins: gf.coins, gift: gf.name})
			}
			if isIn(e.Text, rg.directPrivate) || r.Float64() < 0.1 {
				s.priv = max(s.priv, 1+r.IntN(5))
			}
			if h.minor(w.year) && isAgeQuestion(e.Text) && r.Float64() < 0.25 {
				s.enqueue(pending{at: s.at + int64(20+r.IntN(100)), kind: pChat, sender: h.id, text: pick(r, rg.ringHostAge)})
			}
		case u < directing+0.08:
			e.SenderID, e.Text = h.id, pick(r, rg.ringHost)
		default:
			e.Text = pick(r, rg.banter)
		}
		return
	}
	if u < 0.08 {
		e.SenderID = h.id
		if h.kind == kindTeen && r.IntN(2) == 0 {
			e.Text = pick(r, rg.teenHost)
		} else {
			e.Text = pick(r, rg.hostThanks)
		}
		return
	}
	v, c := s.fanOrDrifter(g)
	e.SenderID = w.viewer(v)
	switch {
	case u < 0.085:
		e.Text = pick(r, rg.rudeViewer) // a rude viewer; nobody gifts after it
	case u < 0.5:
		e.Text = s.kindLine(g, c)
	default:
		e.Text = pick(r, rg.banter)
	}
}

// kindLine is a chat line typical of the host's kind of stream.
func (s *session) kindLine(g *gen, c int) string {
	rg, r := g.w.rg, s.rng
	switch s.h.kind {
	case kindNightGamer:
		return pick(r, rg.gamer)
	case kindDJ:
		return pick(r, rg.dj)
	case kindSahur:
		if s.ramad {
			return pick(r, rg.sahur)
		}
		return pick(r, rg.nightOwl)
	case kindTeen:
		return pick(r, rg.teenViewer)
	case kindDiaspora:
		if c >= 0 {
			return pick(r, rg.diaspora)
		}
	case kindWhaleSinger:
		return pick(r, rg.songReq)
	}
	switch s.h.category {
	case "gaming":
		return pick(r, rg.gamer)
	case "music":
		return pick(r, rg.songReq)
	case "shopping":
		return pick(r, rg.shopping)
	case "cooking":
		return pick(r, rg.cooking)
	}
	if r.IntN(3) == 0 {
		return pick(r, rg.songReq)
	}
	return pick(r, rg.banter)
}

func isIn(x string, xs []string) bool {
	for _, y := range xs {
		if x == y {
			return true
		}
	}
	return false
}

func isAgeQuestion(t string) bool {
	return strings.Contains(t, "umur") || strings.Contains(t, "sekolah") || strings.Contains(t, "kelas") ||
		strings.Contains(t, "old") || strings.Contains(t, "taon") || strings.Contains(t, "aaral") || strings.Contains(t, "school")
}

// Gift weights over the catalogue (cheapest first).
var (
	smallGifts = []float64{0.38, 0.27, 0.15, 0.11, 0.05, 0.025, 0.01, 0.004, 0.001}
	ringGifts  = []float64{0.42, 0.28, 0.14, 0.1, 0.04, 0.015, 0.004, 0.001, 0}
	// after a directing line: kopi .. mobil
	directGifts = []float64{0.3, 0.35, 0.2, 0.12, 0.03}
)

func (s *session) gift(g *gen, e *event.Event) {
	w, h, r := g.w, s.h, s.rng
	var v uint32
	var c int
	var gf gift
	switch {
	case s.ring != nil:
		v, c = s.buyer(g)
		gf = w.rg.gifts[weighted(r, ringGifts)]
	case h.whales > 0 && r.Float64() < 0.07:
		v = w.inCountry(-1, mix(uint64(h.idx)<<8|uint64(r.IntN(int(h.whales)))^0xa11e))
		c = -1
		gf = w.rg.gifts[6+r.IntN(3)]
	default:
		v, c = s.fanOrDrifter(g)
		gf = w.rg.gifts[weighted(r, smallGifts)]
	}
	s.giftEvent(g, e, w.viewer(v), c, gf.coins, gf.name)
	h.coins += gf.coins
}

func (s *session) giftEvent(g *gen, e *event.Event, sender string, c int, coins int64, name string) {
	e.Type, e.StreamID, e.HostID, e.SenderID = event.TypeGift, s.sid, s.h.id, sender
	e.Coins, e.Gift, e.SenderCountry = coins, name, g.w.countryCode(c)
}

func (s *session) social(g *gen, e *event.Event) {
	w, h, r := g.w, s.h, s.rng
	var v uint32
	if s.ring != nil {
		v, _ = s.buyer(g)
	} else {
		v, _ = s.fanOrDrifter(g)
	}
	from := w.viewer(v)
	switch u := r.Float64(); {
	case u < 0.7:
		e.Type, e.FromID, e.ToID, e.Rel = event.TypeLink, from, h.id, "follow"
	case u < 0.85:
		e.Type, e.FromID, e.ToID, e.Rel = event.TypeLink, from, h.id, "dm"
		s.enqueue(pending{at: s.at + int64(5+r.IntN(120)), kind: pDM, sender: from, text: pick(r, w.rg.fanDMs)})
	default:
		o, _ := s.fanOrDrifter(g)
		if o == v {
			o++
		}
		e.Type, e.FromID, e.ToID, e.Rel = event.TypeLink, from, w.viewer(o), "follow"
	}
}

func (s *session) enqueue(p pending) {
	if p.at >= s.end {
		return
	}
	i := len(s.q)
	s.q = append(s.q, p)
	for i > 0 && s.q[i-1].at > p.at {
		s.q[i] = s.q[i-1]
		i--
	}
	s.q[i] = p
}

// fanOrDrifter picks a chatting or gifting viewer: mostly regulars, sometimes
// someone passing by.
func (s *session) fanOrDrifter(g *gen) (uint32, int) {
	r, h := s.rng, s.h
	u := r.Float64()
	k := uint32(float64(h.fans) * u * u)
	if r.Float64() < 0.15 {
		k = h.fans + uint32(r.IntN(int(5*h.fans)+1))
	}
	return g.w.fan(h, k)
}

// buyer picks one of a ring's viewers: many buyers, largely abroad, most
// active at their own night.
func (s *session) buyer(g *gen) (uint32, int) {
	w, r, rg := g.w, s.rng, s.ring
	ws := g.buyerW[:len(w.countries)+1]
	ws[0] = 0.3 * nightFactor(w.rg.zones[rg.zone].offset, s.at)
	for i, c := range w.countries {
		m := 1.0
		switch c.code {
		case "US", "GB", "AU", "CA":
			m = 2.2
		}
		ws[i+1] = c.weight * m * nightFactor(c.offset, s.at)
	}
	c := weighted(r, ws) - 1
	j := uint64(float64(rg.buyerPer) * math.Pow(r.Float64(), 1.5))
	x := mix(uint64(rg.n)<<40 | uint64(c+1)<<32 | j ^ uint64(w.ids.key))
	return w.inCountry(c, x), c
}
