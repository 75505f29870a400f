package analyzer

import (
	"net/netip"
	"sort"
	"strings"
	"time"

	"github.com/mmcloughlin/geohash"

	"github.com/ronda-watch/ronda/analyzer/event"
	"github.com/ronda-watch/ronda/analyzer/internal/idhash"
	"github.com/ronda-watch/ronda/analyzer/text"
)

// Engine is the analyzer: it takes events in event-time order and returns the
// alerts they raise or update. It is not safe for concurrent use; the caller owns
// the goroutine (replay runs it inline, the live service behind one channel).
type Engine struct {
	cfg   Config
	fams  []family // the detector families' table (severity.go)
	now   time.Time
	key   idhash.Key // viewer pseudonyms; saved in checkpoints
	tz    map[string]*time.Location
	defTZ *time.Location
	// senderTZ caches gift senders' zones by name (country.go), nil for an
	// unknown name; not checkpointed, it is only a cache.
	senderTZ map[string]*time.Location

	streams  map[string]*streamState
	hosts    map[string]*hostState
	accounts map[string]*acctState
	places   map[string]*placeState
	alerts   map[string]*alertState
	wire     wireState // wire.go
	ho       handovers // handover.go

	nextSweep time.Time
	nextEvict time.Time
	evalGen   uint64
	started   time.Time // event time of the first stream.start, for isNew
	dirty     []*hostState
	out       []Alert
	stats     Stats
	inCall    bool // inside Apply, Advance or Flush: no checkpoint now

	// OnSignal, when set, receives every signal a detector raises.
	OnSignal func(Signal)
	// OnSession, when set, receives every broadcast when it ends.
	OnSession func(Session)
}

// Stats describes the engine's state, for progress lines, metrics and the
// memory benchmark.
type Stats struct {
	Events        uint64
	Unknown       uint64 // events of a type the engine does not use
	Streams       int    // live streams
	Hosts         int
	Accounts      int
	Places        int // devices, location cells and networks
	OpenAlerts    int
	Evicted       uint64
	AlertsEmitted uint64
	SignalsRaised uint64
	// HandoverMarksDropped counts recent stream starts and ends dropped
	// from the hand-over lists past their bound (handover.go): a platform
	// busier than the lists, whose hand-overs go partly unseen.
	HandoverMarksDropped uint64
	// ZonesFallback counts zone names (a stream.start's tz, a gift's
	// sender_tz) that were not loaded because their cache was full (1,024
	// names each): the default zone, or the sender's country's, applied in
	// their place. It is not checkpointed: it counts this process's lookups,
	// the senders' cache itself starts empty after a restart, and the
	// metric it feeds is a counter, which a restart may reset.
	ZonesFallback uint64
}

// LiveEntities is the number of entities the engine holds now.
func (s Stats) LiveEntities() int { return s.Streams + s.Hosts + s.Accounts + s.Places }

// New returns an engine with cfg, which must validate.
func New(cfg Config) (*Engine, error) { return newEngine(cfg, defaultFamilies) }

// newEngine returns an engine scoring the families fams (a test's table may
// hold a family of its own).
func newEngine(cfg Config, fams []family) (*Engine, error) {
	if err := checkFamilies(fams); err != nil {
		return nil, err
	}
	if err := cfg.validate(fams); err != nil {
		return nil, err
	}
	loc, _ := time.LoadLocation(cfg.DefaultTZ)
	return &Engine{
		cfg:      cfg,
		fams:     fams,
		key:      idhash.NewKey(),
		tz:       map[string]*time.Location{},
		defTZ:    loc,
		streams:  map[string]*streamState{},
		hosts:    map[string]*hostState{},
		accounts: map[string]*acctState{},
		places:   map[string]*placeState{},
		alerts:   map[string]*alertState{},
	}, nil
}

// Config returns the engine's configuration.
func (e *Engine) Config() Config { return e.cfg }

// SetConfig replaces the thresholds (a SIGHUP reload). State is kept; the new
// thresholds apply from the next evaluation. The window and cell precision
// cannot change without a restart, since state is keyed by them.
func (e *Engine) SetConfig(cfg Config) error {
	if err := cfg.validate(e.fams); err != nil {
		return err
	}
	if cfg.Window != e.cfg.Window || cfg.Colocation.CellPrecision != e.cfg.Colocation.CellPrecision ||
		cfg.Colocation.IPv4Prefix != e.cfg.Colocation.IPv4Prefix || cfg.Colocation.IPv6Prefix != e.cfg.Colocation.IPv6Prefix {
		return ErrRestartNeeded
	}
	loc, _ := time.LoadLocation(cfg.DefaultTZ)
	e.cfg, e.defTZ = cfg, loc
	return nil
}

// Apply feeds one event and returns the alerts it raised or updated, in a slice
// the caller owns. Events must come in event-time order (event.Orderer sees to
// that); an older event is applied at the engine's current time.
func (e *Engine) Apply(ev *event.Event) []Alert {
	e.inCall = true
	e.stats.Events++
	at := ev.At
	if at.After(e.now) {
		e.now = at
	} else {
		at = e.now
	}
	e.sweep()
	switch ev.Type {
	case event.TypeStreamStart:
		e.streamStart(ev, at)
	case event.TypeStreamHeartbeat:
		e.heartbeat(ev, at)
	case event.TypeStreamEnd:
		if s := e.streams[ev.StreamID]; s != nil {
			s.last = at
			e.endStream(s)
		}
	case event.TypeStreamWire:
		e.streamWire(ev, at)
	case event.TypeGift:
		e.gift(ev, at)
	case event.TypeChat:
		e.chat(ev, at)
	case event.TypePost:
		e.post(ev, at)
	case event.TypeLink:
		e.link(ev, at)
	case event.TypePayout:
		e.payout(ev, at)
	case event.TypeSignal:
		e.extSignal(ev, at)
	default:
		e.stats.Unknown++
	}
	return e.drain()
}

// Advance moves event time forward without an event (the live service calls it
// on a timer so idle streams end); it returns any alerts that raises.
func (e *Engine) Advance(to time.Time) []Alert {
	e.inCall = true
	if to.After(e.now) {
		e.now = to
	}
	e.sweep()
	return e.drain()
}

// Flush ends the input: open streams are closed at their last event and every
// pending evaluation runs. It returns the alerts that raises.
func (e *Engine) Flush() []Alert {
	e.inCall = true
	ids := make([]string, 0, len(e.streams))
	for id := range e.streams {
		ids = append(ids, id)
	}
	sort.Strings(ids) // deterministic output
	for _, id := range ids {
		e.endStream(e.streams[id])
	}
	return e.drain()
}

// Stats reports the engine's current state.
func (e *Engine) Stats() Stats {
	s := e.stats
	s.Streams, s.Hosts, s.Accounts, s.Places = len(e.streams), len(e.hosts), len(e.accounts), len(e.places)
	s.OpenAlerts = len(e.alerts)
	return s
}

// drain ends every call: it scores what the call marked and returns the
// alerts raised.
func (e *Engine) drain() []Alert {
	if len(e.dirty) > 0 {
		e.evaluateDirty()
	}
	e.inCall = false
	if len(e.out) == 0 {
		return nil
	}
	out := e.out
	e.out = nil
	e.stats.AlertsEmitted += uint64(len(out))
	return out
}

func (e *Engine) location(name string) *time.Location {
	if name == "" {
		return e.defTZ
	}
	if l, ok := e.tz[name]; ok {
		return l
	}
	if len(e.tz) > 1024 {
		e.stats.ZonesFallback++
		return e.defTZ // the cache is full (and the checkpoint's table bounded)
	}
	l, err := time.LoadLocation(name)
	if err != nil || name == "Local" {
		l = e.defTZ
	}
	e.tz[name] = l
	return l
}

func (e *Engine) host(id string) *hostState {
	h := e.hosts[id]
	if h == nil {
		h = &hostState{id: id, verified: -1}
		e.hosts[id] = h
	}
	h.lastSeen = e.now
	return h
}

func (e *Engine) account(id string) *acctState {
	a := e.accounts[id]
	if a == nil {
		a = &acctState{id: id}
		e.accounts[id] = a
	}
	a.lastSeen = e.now
	return a
}

func (e *Engine) place(kind placeKind, key string) *placeState {
	p := e.places[key]
	if p == nil {
		p = &placeState{key: key, kind: kind}
		if kind == placeCell {
			p.near = geohash.Neighbors(key)
		}
		e.places[key] = p
	}
	p.lastSeen = e.now
	return p
}

func (e *Engine) markDirty(h *hostState) {
	for _, d := range e.dirty {
		if d == h {
			return
		}
	}
	e.dirty = append(e.dirty, h)
}

func (e *Engine) streamStart(ev *event.Event, at time.Time) {
	if old := e.streams[ev.StreamID]; old != nil {
		e.endStream(old)
	}
	if e.started.IsZero() {
		e.started = at
	}
	h := e.host(ev.HostID)
	if ev.Host != nil {
		if !ev.Host.CreatedAt.IsZero() {
			h.created = ev.Host.CreatedAt
		}
		if ev.Host.BirthYear != 0 {
			h.birthYear = ev.Host.BirthYear
		}
		if ev.Host.AgeVerified != nil {
			h.verified = 0
			if *ev.Host.AgeVerified {
				h.verified = 1
			}
		}
	}
	if ev.AgencyID != "" {
		h.agency = ev.AgencyID
		e.account(ev.AgencyID)
	}
	if h.liveStream != "" && h.liveStream != ev.StreamID {
		if old := e.streams[h.liveStream]; old != nil {
			e.endStream(old)
		}
	}
	first := h.firstStream.IsZero()
	if first {
		h.firstStream = at
	}
	h.streams++
	h.liveStream = ev.StreamID
	copy(h.lastStreams[1:], h.lastStreams[:])
	h.lastStreams[0] = ev.StreamID
	s := &streamState{id: ev.StreamID, host: h, start: at, last: at, loc: e.location(ev.TZ)}
	h.tz = s.loc
	if ev.DeviceID != "" {
		s.device = "device:" + ev.DeviceID
	}
	if ev.Geo != nil && (ev.Geo.AccuracyM == 0 || ev.Geo.AccuracyM <= e.cfg.Colocation.MaxAccuracyM) {
		s.cell = geohash.EncodeWithPrecision(ev.Geo.Lat, ev.Geo.Lon, uint(e.cfg.Colocation.CellPrecision))
	}
	if ev.IP != "" {
		s.net = e.netPrefix(ev.IP)
	}
	e.streams[ev.StreamID] = s
	e.registerPlaces(s)
	e.handoverStart(s)
	if first {
		e.recruited(h, at)
	}
}

// netPrefix coarsens an address to its network: Ronda keeps no full addresses.
func (e *Engine) netPrefix(ip string) string {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return ""
	}
	bits := e.cfg.Colocation.IPv4Prefix
	if a.Is6() && !a.Is4In6() {
		bits = e.cfg.Colocation.IPv6Prefix
	} else {
		a = a.Unmap()
	}
	p, err := a.Prefix(bits)
	if err != nil {
		return ""
	}
	return p.String()
}

func (e *Engine) heartbeat(ev *event.Event, at time.Time) {
	s := e.streams[ev.StreamID]
	if s == nil {
		return
	}
	s.last = at
	s.beats++
	if ev.Private {
		s.private++
	}
	if at.Sub(s.host.lastEval) >= e.cfg.EvalInterval {
		e.foldLive(s)
		e.markDirty(s.host)
	}
}

// gift counts coins for the host, from whom (pseudonymised) and from where.
func (e *Engine) gift(ev *event.Event, at time.Time) {
	s := e.streams[ev.StreamID]
	var h *hostState
	if s != nil && s.host.id == ev.HostID {
		s.last = at
		h = s.host
	} else {
		h = e.host(ev.HostID)
	}
	h.coins += ev.Coins
	foreign := ev.SenderCountry != "" && !sameCountry(ev.SenderCountry, h.tz, e.defTZ)
	if foreign && e.senderNight(ev, at) {
		h.foreignNightCoins += ev.Coins
	}
	if s == nil {
		return
	}
	s.coins += ev.Coins
	s.gifts++
	if foreign {
		s.foreign += ev.Coins
	}
	if s.senders == nil {
		s.senders = make(map[uint64]int64, 16)
	}
	k := e.hashID(ev.SenderID)
	if _, ok := s.senders[k]; ok || len(s.senders) < maxStreamSenders {
		s.senders[k] += ev.Coins
	}
	// A gift pays for a directive when the viewer who gave the directive sends
	// it soon after: on a busy stream gifts follow any line within minutes.
	if d, ok := s.directors[k]; ok && at.Sub(d) <= e.cfg.Audience.GiftAfterDirective {
		delete(s.directors, k)
		s.directed++
		h.directedGifts++
	}
}

func (e *Engine) chat(ev *event.Event, at time.Time) {
	s := e.streams[ev.StreamID]
	if s == nil {
		return
	}
	s.last = at
	if ev.SenderID == s.host.id {
		if _, minor := text.AgeCues(ev.Text); minor {
			s.host.ageCues++
		}
		return
	}
	cues := text.Directive(ev.Text)
	if len(cues) == 0 {
		return
	}
	directs := false
	for _, c := range cues {
		switch c {
		case "age_question", "alone_check":
			// Grooming questions: weak age evidence, not a directive to perform.
			s.host.ageQuestion++
		default:
			directs = true
		}
	}
	if !directs {
		return
	}
	s.host.directives++
	if s.directors == nil {
		s.directors = make(map[uint64]time.Time, 4)
	}
	if len(s.directors) < maxStreamDirectors {
		s.directors[e.hashID(ev.SenderID)] = at
	}
}

func (e *Engine) post(ev *event.Event, at time.Time) {
	a := e.account(ev.AccountID)
	r := text.ParseRecruitment(ev.Text)
	if ev.Kind == "dm" && ev.ToID != "" {
		a.dmTargets = addLink(a.dmTargets, ev.ToID, 0, at)
		e.dmTo(a, ev.ToID, at)
	} else if ev.Kind != "dm" {
		if _, minor := text.AgeCues(ev.Text); minor {
			if h := e.hosts[ev.AccountID]; h != nil {
				h.ageCues++
			}
		}
	}
	if len(r.Legit) > 0 && r.Score < e.cfg.Recruitment.MinAdScore && (ev.Kind == "bio" || ev.Kind == "ad") {
		for _, l := range r.Legit {
			if l == "adult_only" {
				a.legit = true
			}
		}
	}
	if r.Score > a.lure {
		a.lure = r.Score
		a.lureCues = append(a.lureCues[:0], r.Lures...)
	}
	if r.Score >= e.cfg.Recruitment.MinAdScore {
		// A lure makes every host this account already reached worth a new look.
		for _, t := range a.recruits {
			if h := e.hosts[t.id]; h != nil {
				e.markDirty(h)
			}
		}
		for _, p := range a.payers {
			if h := e.hosts[p.id]; h != nil {
				e.markDirty(h)
			}
		}
	}
}

// dmTo records a first DM from a to target; if the target already hosts and the
// DM came shortly before its first broadcast it is a recruitment.
func (e *Engine) dmTo(a *acctState, target string, at time.Time) {
	h := e.hosts[target]
	if h == nil {
		h = e.host(target) // DMs arrive before the target ever hosts
	}
	h.recruiters = addLink(h.recruiters, a.id, 0, at)
	if !h.firstStream.IsZero() && !at.After(h.firstStream) {
		a.recruits = addLink(a.recruits, h.id, 0, h.firstStream)
		e.markDirty(h)
	}
}

// recruited runs at a host's first broadcast: every account that DMed it within
// the recruitment window gains a recruit.
func (e *Engine) recruited(h *hostState, at time.Time) {
	for _, r := range h.recruiters {
		if at.Sub(r.at) > e.cfg.Recruitment.RecruitWindow {
			continue
		}
		if a := e.accounts[r.id]; a != nil {
			a.recruits = addLink(a.recruits, h.id, 0, at)
			for _, o := range a.recruits {
				if oh := e.hosts[o.id]; oh != nil && oh != h {
					e.markDirty(oh)
				}
			}
		}
	}
}

func (e *Engine) link(ev *event.Event, at time.Time) {
	switch ev.Rel {
	case "dm":
		a := e.account(ev.FromID)
		a.dmTargets = addLink(a.dmTargets, ev.ToID, 0, at)
		e.dmTo(a, ev.ToID, at)
	case "agency":
		h := e.host(ev.FromID)
		h.agency = ev.ToID
		e.account(ev.ToID)
		e.markDirty(h)
	case "referral":
		// from was invited by to: an invitation into hosting is a recruitment path.
		a := e.account(ev.ToID)
		e.dmTo(a, ev.FromID, at)
	case "device":
		// from logged in on a device first used by to: where the app sends no
		// device_id, this is what links a ring's hosts on one phone. It links
		// hosts that each reach an alert; it does not score (siblings lend
		// each other a phone).
		if ev.FromID == ev.ToID {
			return
		}
		f, t := e.host(ev.FromID), e.host(ev.ToID)
		f.devLinks = addLink(f.devLinks, t.id, 1, at)
		t.devLinks = addLink(t.devLinks, f.id, 1, at)
		e.markDirty(f)
		e.markDirty(t)
	}
	// rel "follow" is not used: follows say nothing of exploitation.
}

func (e *Engine) payout(ev *event.Event, at time.Time) {
	h := e.host(ev.AccountID)
	if ev.ToAccount == ev.AccountID {
		h.payoutSelf += ev.Coins
		return
	}
	h.payoutOther += ev.Coins
	h.payMethods = addPayMethod(h.payMethods, ev.Method)
	h.beneficiaries = addLink(h.beneficiaries, ev.ToAccount, ev.Coins, at)
	b := e.account(ev.ToAccount)
	b.payers = addLink(b.payers, h.id, ev.Coins, at)
	for _, p := range b.payers {
		if ph := e.hosts[p.id]; ph != nil {
			e.markDirty(ph)
		}
	}
}

func (e *Engine) extSignal(ev *event.Event, at time.Time) {
	var h *hostState
	switch {
	case ev.StreamID != "" && e.streams[ev.StreamID] != nil:
		h = e.streams[ev.StreamID].host
	case ev.HostID != "":
		h = e.host(ev.HostID)
	case ev.AccountID != "" && e.hosts[ev.AccountID] != nil:
		h = e.hosts[ev.AccountID]
	}
	if h == nil {
		return
	}
	label := strings.ToLower(ev.Label)
	if contains(e.cfg.Age.MinorLabels, label) {
		if ev.Score > h.ageSignal {
			h.ageSignal = ev.Score
		}
	} else if ev.Score > h.extSignal {
		h.extSignal, h.extLabel = ev.Score, label
	}
	if contains(e.cfg.Signals.DecisiveLabels, label) && ev.Score >= e.cfg.Signals.MinScore {
		h.decisive = true
	}
	e.markDirty(h)
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// sweep ends idle streams, at most every sweepEvery of event time, and evicts
// state past the window every evictEvery. An idle stream ends at its last
// event whenever the sweep finds it, so a later sweep changes no figure.
// Streams that go idle together end in the order of their ids, not of the
// map: their sessions, and the order their hosts are scored in (which host
// opens an alert, so its id), must be the same in every run.
func (e *Engine) sweep() {
	if e.now.Before(e.nextSweep) {
		return
	}
	e.nextSweep = e.now.Add(sweepEvery)
	var idle []*streamState
	for _, s := range e.streams {
		if e.now.Sub(s.last) >= e.cfg.StreamIdle {
			idle = append(idle, s)
		}
	}
	if len(idle) > 1 {
		sort.Slice(idle, func(i, j int) bool { return idle[i].id < idle[j].id })
	}
	for _, s := range idle {
		e.endStream(s)
	}
	if e.now.Before(e.nextEvict) {
		return
	}
	e.nextEvict = e.now.Add(evictEvery)
	e.evict()
}

const (
	sweepEvery = 2 * time.Minute
	evictEvery = 3 * time.Hour
)

// evict drops entities with no event within the window. It runs every
// evictEvery of event time; its cost is one pass over the live entities.
func (e *Engine) evict() {
	cut := e.now.Add(-e.cfg.Window)
	for id, h := range e.hosts {
		if h.lastSeen.Before(cut) && h.liveStream == "" {
			delete(e.hosts, id)
			e.stats.Evicted++
		}
	}
	for id, a := range e.accounts {
		if a.lastSeen.Before(cut) {
			delete(e.accounts, id)
			e.stats.Evicted++
		}
	}
	for id, p := range e.places {
		if p.lastSeen.Before(cut) {
			delete(e.places, id)
			e.stats.Evicted++
		}
	}
	for id, a := range e.alerts {
		if a.last.Before(cut) {
			delete(e.alerts, id)
		}
	}
}
