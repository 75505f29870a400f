package analyzer

import (
	"cmp"
	"math"
	"slices"
	"time"

	"github.com/mmcloughlin/geohash"

	"github.com/ronda-watch/ronda/analyzer/snapshot"
)

// The encoding of each kind of entity in a checkpoint: every field, in the
// order of its struct (state.go, family.go and each family's file, alerts.go), written by a ckWriter
// method and read back by the ckReader method of the same name (only a pure
// cache, a place's neighbouring cells, is left to be computed again). The reader
// checks each bound the engine keeps (list lengths, enums), so a checkpoint
// that verifies yet holds nonsense is refused, not run. TestCheckpointFields
// fails when a struct gains a field, so that none is forgotten here.

func (w *ckWriter) host(enc *snapshot.Enc, h *hostState) {
	w.str(enc, h.id)
	enc.Time(h.created)
	enc.Varint(int64(h.birthYear))
	enc.Varint(int64(h.verified))
	w.zone(enc, h.tz)
	w.str(enc, h.agency)
	enc.Time(h.firstStream)
	enc.Time(h.lastSeen)
	enc.Time(h.lastEval)
	enc.Uvarint(uint64(h.streams))
	w.str(enc, h.liveStream)
	for _, s := range h.lastStreams {
		w.str(enc, s)
	}
	enc.Uvarint(uint64(len(h.days)))
	for _, d := range h.days {
		enc.Varint(int64(d.day))
		enc.Uvarint(uint64(d.minutes))
		enc.Uvarint(uint64(d.nightMinutes))
		enc.Bool(d.shift)
	}
	w.placeRefs(enc, h.devices)
	w.placeRefs(enc, h.places)
	w.placeRefs(enc, h.nets)
	enc.Varint(h.coins)
	enc.Varint(h.foreignNightCoins)
	enc.Varint(h.topCoins)
	enc.Varint(h.payoutOther)
	enc.Varint(h.payoutSelf)
	enc.Uvarint(uint64(h.payMethods))
	w.links(enc, h.beneficiaries)
	enc.Uvarint(uint64(h.directives))
	enc.Uvarint(uint64(h.directedGifts))
	enc.Uvarint(uint64(h.beats))
	enc.Uvarint(uint64(h.privateBeats))
	enc.Uvarint(uint64(h.ageCues))
	enc.Uvarint(uint64(h.ageQuestion))
	enc.F64(h.ageSignal)
	enc.F64(h.extSignal)
	w.str(enc, h.extLabel)
	enc.Bool(h.decisive)
	w.links(enc, h.recruiters)
	w.links(enc, h.handovers)
	w.links(enc, h.devLinks)
	w.eval(enc, &h.eval)
	enc.Uvarint(h.evalGen)
	w.alertRef(enc, h.alert)
	for _, s := range h.signal[:len(w.e.fams)] {
		enc.F64(s)
	}
}

func (r *ckReader) host(d *snapshot.Dec, h *hostState) {
	h.id = r.str(d)
	h.created = d.Time()
	h.birthYear = int(d.Varint())
	h.verified = int8(d.Int(-1, 1, "age verified"))
	h.tz = r.zone(d)
	h.agency = r.str(d)
	h.firstStream = d.Time()
	h.lastSeen = d.Time()
	h.lastEval = d.Time()
	h.streams = uint32(d.Uint(math.MaxUint32, "streams"))
	h.liveStream = r.str(d)
	for i := range h.lastStreams {
		h.lastStreams[i] = r.str(d)
	}
	if n := d.Len(maxDayBuckets+1, "days"); n > 0 {
		if n != r.e.windowDays() {
			d.Fail("host %q has %d days, the window %d", h.id, n, r.e.windowDays())
			return
		}
		h.days = make([]dayStat, n)
		for i := range h.days {
			x := &h.days[i]
			x.day = int32(d.Int(math.MinInt32, math.MaxInt32, "day"))
			x.minutes = uint16(d.Uint(math.MaxUint16, "minutes"))
			x.nightMinutes = uint16(d.Uint(math.MaxUint16, "night minutes"))
			x.shift = d.Bool()
		}
	}
	h.devices = r.placeRefs(d, maxHostDevices)
	h.places = r.placeRefs(d, maxHostPlaces)
	h.nets = r.placeRefs(d, maxHostNets)
	h.coins = d.Varint()
	h.foreignNightCoins = d.Varint()
	h.topCoins = d.Varint()
	h.payoutOther = d.Varint()
	h.payoutSelf = d.Varint()
	h.payMethods = uint8(d.Uint(math.MaxUint8, "pay methods"))
	h.beneficiaries = r.links(d, maxLinks)
	h.directives = uint32(d.Uint(math.MaxUint32, "directives"))
	h.directedGifts = uint32(d.Uint(math.MaxUint32, "directed gifts"))
	h.beats = uint32(d.Uint(math.MaxUint32, "heartbeats"))
	h.privateBeats = uint32(d.Uint(math.MaxUint32, "private heartbeats"))
	h.ageCues = uint32(d.Uint(math.MaxUint32, "age cues"))
	h.ageQuestion = uint32(d.Uint(math.MaxUint32, "age questions"))
	h.ageSignal = d.F64()
	h.extSignal = d.F64()
	h.extLabel = r.str(d)
	h.decisive = d.Bool()
	h.recruiters = r.links(d, maxLinks)
	if r.version >= 2 {
		h.handovers = r.links(d, maxHandovers)
		h.devLinks = r.links(d, maxLinks)
	}
	r.eval(d, &h.eval)
	h.evalGen = d.Uvarint()
	h.alert = r.alertRef(d)
	for i := range h.signal[:len(r.e.fams)] {
		h.signal[i] = d.F64()
	}
}

// eval writes the scores of each family in the table, the severity, then each
// family's evidence in the table's order.
func (w *ckWriter) eval(enc *snapshot.Enc, ev *hostEval) {
	enc.Time(ev.at)
	for _, s := range ev.scores[:len(w.e.fams)] {
		enc.F64(s)
	}
	enc.Uvarint(uint64(ev.sev))
	for i, f := range w.e.fams {
		f.save(w, enc, ev, i)
	}
}

func (r *ckReader) eval(d *snapshot.Dec, ev *hostEval) {
	ev.at = d.Time()
	for i := range ev.scores[:len(r.e.fams)] {
		ev.scores[i] = d.F64()
	}
	ev.sev = Severity(d.Uint(uint64(SeverityCritical), "severity"))
	for i, f := range r.e.fams {
		f.load(r, d, ev, i)
	}
}

func (w *ckWriter) placeRefs(enc *snapshot.Enc, refs []placeRef) {
	enc.Uvarint(uint64(len(refs)))
	for _, p := range refs {
		w.str(enc, p.key)
		enc.Uvarint(uint64(p.sessions))
		enc.Time(p.last)
	}
}

func (r *ckReader) placeRefs(d *snapshot.Dec, max int) []placeRef {
	n := d.Len(max, "place references")
	if n == 0 {
		return nil
	}
	refs := make([]placeRef, n)
	for i := range refs {
		refs[i] = placeRef{key: r.str(d), sessions: uint32(d.Uint(math.MaxUint32, "sessions")), last: d.Time()}
	}
	return refs
}

func (w *ckWriter) links(enc *snapshot.Enc, links []acctLink) {
	enc.Uvarint(uint64(len(links)))
	for _, l := range links {
		w.str(enc, l.id)
		enc.Varint(l.coins)
		enc.Time(l.at)
	}
}

func (r *ckReader) links(d *snapshot.Dec, max int) []acctLink {
	n := d.Len(max, "links")
	if n == 0 {
		return nil
	}
	links := make([]acctLink, n)
	for i := range links {
		links[i] = acctLink{id: r.str(d), coins: d.Varint(), at: d.Time()}
	}
	return links
}

func (w *ckWriter) account(enc *snapshot.Enc, a *acctState) {
	w.str(enc, a.id)
	enc.Time(a.lastSeen)
	enc.F64(a.lure)
	w.strList(enc, a.lureCues)
	enc.Bool(a.legit)
	w.links(enc, a.dmTargets)
	w.links(enc, a.recruits)
	w.links(enc, a.payers)
}

func (r *ckReader) account(d *snapshot.Dec) *acctState {
	return &acctState{
		id:        r.str(d),
		lastSeen:  d.Time(),
		lure:      d.F64(),
		lureCues:  r.strList(d, maxCkCues),
		legit:     d.Bool(),
		dmTargets: r.links(d, maxLinks),
		recruits:  r.links(d, maxLinks),
		payers:    r.links(d, maxLinks),
	}
}

func (w *ckWriter) place(enc *snapshot.Enc, p *placeState) {
	w.str(enc, p.key)
	// near is not written: it is geohash.Neighbors(key), computed again
	// when the place is read.
	enc.Uvarint(uint64(p.kind))
	enc.Time(p.lastSeen)
	w.placeRefs(enc, p.hosts)
	enc.Bool(p.overflow)
	enc.Uvarint(uint64(len(p.sessions)))
	for _, s := range p.sessions {
		w.str(enc, s.host)
		enc.Varint(s.start)
		enc.Varint(s.end)
	}
}

func (r *ckReader) place(d *snapshot.Dec) *placeState {
	p := &placeState{
		key:      r.str(d),
		kind:     placeKind(d.Uint(uint64(placeNet), "place kind")),
		lastSeen: d.Time(),
		hosts:    r.placeRefs(d, maxPlaceHosts),
		overflow: d.Bool(),
	}
	if n := d.Len(maxPlaceSessions, "sessions"); n > 0 {
		p.sessions = make([]session, n)
		for i := range p.sessions {
			p.sessions[i] = session{host: r.str(d), start: d.Varint(), end: d.Varint()}
		}
	}
	if p.kind == placeCell {
		p.near = geohash.Neighbors(p.key)
	}
	return p
}

func (w *ckWriter) stream(enc *snapshot.Enc, s *streamState) {
	w.str(enc, s.id)
	w.hostRef(enc, s.host)
	enc.Time(s.start)
	enc.Time(s.last)
	w.zone(enc, s.loc)
	w.str(enc, s.device)
	w.str(enc, s.cell)
	w.str(enc, s.net)
	enc.Uvarint(uint64(len(s.directors)))
	for _, k := range sortedHashes(s.directors) {
		enc.U64(k)
		enc.Time(s.directors[k])
	}
	enc.Uvarint(uint64(len(s.senders)))
	for _, k := range sortedHashes(s.senders) {
		enc.U64(k)
		enc.Varint(s.senders[k])
	}
	enc.Varint(s.coins)
	enc.Uvarint(uint64(s.beats))
	enc.Uvarint(uint64(s.private))
	enc.Uvarint(uint64(s.directed))
	enc.Time(s.folded)
	enc.Uvarint(uint64(s.gifts))
	enc.Varint(s.foreign)
	enc.Varint(int64(s.minutes))
	enc.Varint(int64(s.night))
	enc.Bool(s.together)
}

func sortedHashes[V any](m map[uint64]V) []uint64 {
	keys := make([]uint64, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func (r *ckReader) stream(d *snapshot.Dec) *streamState {
	s := &streamState{id: r.str(d), host: r.hostRef(d), start: d.Time(), last: d.Time(), loc: r.zone(d)}
	if d.Err() == nil && (s.host == nil || s.loc == nil) {
		d.Fail("stream %q has no host or no time zone", s.id)
	}
	s.device = r.str(d)
	s.cell = r.str(d)
	s.net = r.str(d)
	// Keys are written in ascending order; anything else is damage.
	var prev uint64
	if n := d.Len(maxStreamDirectors, "directors"); n > 0 {
		s.directors = make(map[uint64]time.Time, n)
		for i := range n {
			k := d.U64()
			if i > 0 && k <= prev {
				d.Fail("viewer hashes out of order")
			}
			prev = k
			s.directors[k] = d.Time()
		}
	}
	if n := d.Len(maxStreamSenders, "senders"); n > 0 {
		s.senders = make(map[uint64]int64, n)
		for i := range n {
			k := d.U64()
			if i > 0 && k <= prev {
				d.Fail("viewer hashes out of order")
			}
			prev = k
			s.senders[k] = d.Varint()
		}
	}
	s.coins = d.Varint()
	s.beats = uint32(d.Uint(math.MaxUint32, "heartbeats"))
	s.private = uint32(d.Uint(math.MaxUint32, "private heartbeats"))
	s.directed = uint32(d.Uint(math.MaxUint32, "directed gifts"))
	s.folded = d.Time()
	s.gifts = uint32(d.Uint(math.MaxUint32, "gifts"))
	s.foreign = d.Varint()
	s.minutes = int(d.Varint())
	s.night = int(d.Varint())
	s.together = d.Bool()
	return s
}

func (w *ckWriter) alert(enc *snapshot.Enc, a *alertState) {
	w.str(enc, a.id)
	enc.Time(a.created)
	enc.Time(a.last)
	enc.Time(a.emitted)
	enc.Varint(int64(a.updates))
	enc.Uvarint(uint64(a.sev))
	enc.F64(a.score)
	enc.Uvarint(uint64(len(a.hosts)))
	for _, h := range a.hosts {
		w.hostRef(enc, h)
	}
	ents := make([]EntityRef, 0, len(a.entities))
	for k := range a.entities {
		ents = append(ents, k)
	}
	slices.SortFunc(ents, compareRefs)
	enc.Uvarint(uint64(len(ents)))
	for _, k := range ents {
		w.str(enc, k.Kind)
		w.str(enc, k.ID)
	}
	enc.Varint(int64(a.nEmitted))
	enc.Bool(a.changed)
	w.str(enc, a.merged)
}

func compareRefs(a, b EntityRef) int {
	if c := cmp.Compare(a.Kind, b.Kind); c != 0 {
		return c
	}
	return cmp.Compare(a.ID, b.ID)
}

func (r *ckReader) alert(d *snapshot.Dec, a *alertState) {
	a.id = r.str(d)
	a.created = d.Time()
	a.last = d.Time()
	a.emitted = d.Time()
	a.updates = int(d.Int(0, math.MaxInt32, "updates"))
	a.sev = Severity(d.Uint(uint64(SeverityCritical), "severity"))
	a.score = d.F64()
	if n := d.Len(len(r.hosts), "alert hosts"); n > 0 {
		a.hosts = make([]*hostState, n)
		for i := range a.hosts {
			if a.hosts[i] = r.hostRef(d); a.hosts[i] == nil && d.Err() == nil {
				d.Fail("alert %q names no host", a.id)
			}
		}
	}
	n := d.Len(math.MaxInt32, "alert entities")
	a.entities = make(map[EntityRef]struct{}, n)
	var prev EntityRef
	for i := range n {
		k := EntityRef{Kind: kindName(d, r.str(d)), ID: r.str(d)}
		if i > 0 && compareRefs(prev, k) >= 0 {
			d.Fail("entities out of order")
		}
		prev = k
		a.entities[k] = struct{}{}
	}
	a.nEmitted = int(d.Int(0, math.MaxInt32, "entities emitted"))
	a.changed = d.Bool()
	a.merged = r.str(d)
	if d.Err() == nil && a.merged == "" && len(a.hosts) == 0 {
		d.Fail("open alert %q has no host", a.id)
	}
}
