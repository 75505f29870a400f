package analyzer

import (
	"errors"
	"fmt"
	"hash/fnv"
	"sort"
	"strings"
	"time"
)

// ErrRestartNeeded: SetConfig was given a change that keys state (window, cell
// precision, network prefixes); the process must restart to apply it.
var ErrRestartNeeded = errors.New("window, cell precision and network prefixes cannot change without a restart")

// alertState is one open alert: a cluster of linked hosts that reached the
// minimum severity, and the accounts, devices and places behind them.
type alertState struct {
	id       string
	created  time.Time
	last     time.Time // last change
	emitted  time.Time
	updates  int
	sev      Severity
	score    float64
	hosts    []*hostState
	entities map[EntityRef]struct{}
	nEmitted int // entities at last emission
	changed  bool
	merged   string
}

// evaluateDirty scores every host marked since the last call; hosts that reach
// the minimum severity join (or open) the alert of the hosts they are linked to.
func (e *Engine) evaluateDirty() {
	e.evalGen++
	var changed []*alertState
	for i := 0; i < len(e.dirty); i++ {
		h := e.dirty[i]
		if h.evalGen == e.evalGen {
			continue
		}
		h.evalGen = e.evalGen
		if e.hosts[h.id] != h {
			continue // evicted meanwhile
		}
		h.lastEval = e.now
		if s := e.streams[h.liveStream]; s != nil {
			e.foldLive(s)
		}
		e.evalHost(h, &h.eval)
		e.raiseSignals(h)
		if h.eval.sev < e.cfg.Scoring.MinSeverity {
			continue
		}
		linked := e.linkedHosts(h)
		// Linked hosts are scored now too, so a ring joins one alert together.
		for _, l := range linked {
			if l.evalGen != e.evalGen {
				e.dirty = append(e.dirty, l)
			}
		}
		a := e.alertFor(h, linked)
		if !a.changed {
			a.changed = true
			changed = append(changed, a)
		}
	}
	e.dirty = e.dirty[:0]
	// A host scored later in the round may have joined; re-collect members.
	for _, a := range changed {
		if a.merged == "" {
			e.refreshAlert(a)
		}
		a.changed = false
	}
}

// linkedHosts are the hosts joined to h by a shared device (seen at stream
// start or by link rel=device), a private place or home network, a
// beneficiary, a recruiter that is not legitimate, or shift hand-overs.
func (e *Engine) linkedHosts(h *hostState) []*hostState {
	var out []*hostState
	add := func(id string) {
		if id == h.id || len(out) >= e.cfg.Scoring.MaxClusterHosts {
			return
		}
		o := e.hosts[id]
		if o == nil || o.streams == 0 {
			return
		}
		for _, x := range out {
			if x == o {
				return
			}
		}
		out = append(out, o)
	}
	for _, refs := range [...][]placeRef{h.devices, h.places, h.nets} {
		for _, r := range refs {
			if p := e.places[r.key]; p != nil && !e.isPublic(p) {
				for _, o := range p.hosts {
					add(o.key)
				}
			}
		}
	}
	for _, b := range h.beneficiaries {
		if a := e.accounts[b.id]; a != nil && !a.legit {
			for _, p := range a.payers {
				add(p.id)
			}
		}
	}
	for _, r := range h.recruiters {
		if a := e.accounts[r.id]; a != nil && (a.lure >= e.cfg.Recruitment.WeakAdScore || !a.legit && e.cfg.Recruitment.recruiter(a)) {
			for _, p := range a.recruits {
				add(p.id)
			}
		}
	}
	for _, l := range h.devLinks {
		add(l.id)
	}
	// Hand-over partners, cheapest test first (most are one night's chance):
	// h's newness, night share and operators once, and only when needed.
	need := int64(e.cfg.Schedule.HandoverNights)
	hNew, hNight, opsDone := -1, -1, false
	var hOps []string
	for _, l := range h.handovers {
		n := handoverNights(l.coins)
		if n < 1 {
			continue
		}
		short := n < need
		if short {
			// One night's hand-over joins only new accounts that no
			// operator explains yet (a ring's first night on a sparse
			// app); it does not pull a stray host into a ring's alert.
			if hNew < 0 {
				hNew = boolInt(e.isNew(h))
			}
			if hNew == 0 {
				continue
			}
			if !opsDone {
				hOps, opsDone = e.operatorsOf(h), true
			}
			if len(hOps) > 0 {
				continue
			}
		}
		o := e.hosts[l.id]
		if o == nil || (short && !e.isNew(o)) {
			continue
		}
		if hNight < 0 {
			hNight = boolInt(e.nightly(h))
		}
		if hNight == 0 {
			break
		}
		if !e.nightly(o) {
			continue
		}
		if !opsDone {
			hOps, opsDone = e.operatorsOf(h), true
		}
		oOps := e.operatorsOf(o)
		if short && len(oOps) > 0 {
			continue
		}
		if sameOperators(hOps, oOps) {
			add(l.id)
		}
	}
	return out
}

// sameOperators: a hand-over, a weak tie, joins two hosts only when what
// each is already joined to (its alert, else itself: operatorsOf) names no operator
// accounts, or a common one. Rings keep their rotas by the clock, so their
// hand-overs meet by chance; two rings with operators of their own stay two
// alerts.
func sameOperators(ha, oa []string) bool {
	if len(ha) == 0 || len(oa) == 0 {
		return true
	}
	for _, x := range ha {
		for _, y := range oa {
			if x == y {
				return true
			}
		}
	}
	return false
}

// operatorsOf lists the accounts of h's alert, or of h alone.
func (e *Engine) operatorsOf(h *hostState) []string {
	var out []string
	if h.alert != nil && h.alert.merged == "" {
		for k := range h.alert.entities {
			if k.Kind == KindAccount {
				out = append(out, k.ID)
			}
		}
		if len(out) > 0 {
			return out
		}
	}
	e.eachEntity([]*hostState{h}, func(kind, id string) {
		if kind == KindAccount {
			out = append(out, id)
		}
	})
	return out
}

// alertFor returns the alert h belongs in: its own, else the oldest alert of a
// linked host at the minimum severity, else a new one. Other alerts of the
// cluster merge into it.
func (e *Engine) alertFor(h *hostState, linked []*hostState) *alertState {
	var cand []*alertState
	if h.alert != nil {
		cand = append(cand, h.alert)
	}
	for _, l := range linked {
		if l.alert != nil && l.alert.merged == "" {
			cand = append(cand, l.alert)
		}
	}
	var a *alertState
	for _, c := range cand {
		if a == nil || c.created.Before(a.created) || (c.created.Equal(a.created) && c.id < a.id) {
			a = c
		}
	}
	if a == nil {
		a = &alertState{id: alertID(h.id, e.now), created: e.now, entities: map[EntityRef]struct{}{}}
		e.alerts[a.id] = a
	}
	for _, c := range cand {
		if c != a {
			e.merge(c, a)
		}
	}
	e.join(a, h)
	for _, l := range linked {
		if l.eval.sev >= e.cfg.Scoring.MinSeverity && !l.eval.at.IsZero() {
			e.join(a, l)
		}
	}
	return a
}

func (e *Engine) join(a *alertState, h *hostState) {
	if h.alert == a {
		return
	}
	if len(a.hosts) >= e.cfg.Scoring.MaxClusterHosts {
		return
	}
	h.alert = a
	a.hosts = append(a.hosts, h)
}

// merge folds alert from into into: the moderator follows the older alert and
// the newer one is emitted once more, saying where it went.
func (e *Engine) merge(from, into *alertState) {
	for _, h := range from.hosts {
		h.alert = nil
		e.join(into, h)
	}
	for k := range from.entities {
		into.entities[k] = struct{}{}
	}
	from.merged = into.id
	if from.updates > 0 || !from.emitted.IsZero() {
		e.out = append(e.out, Alert{
			ID: from.id, At: e.now, Severity: from.sev, Score: from.score,
			Subject: EntityRef{KindAlert, into.id}, Entities: []EntityRef{},
			Reasons: []Reason{}, Updates: from.updates + 1, MergedInto: into.id,
		})
	}
	delete(e.alerts, from.id)
}

// KindAlert is the subject kind of a merged alert's last version.
const KindAlert = "alert"

func alertID(host string, at time.Time) string {
	f := fnv.New64a()
	f.Write([]byte(host))
	fmt.Fprintf(f, "|%d", at.Unix())
	return fmt.Sprintf("al-%016x", f.Sum64())
}

// refreshAlert recomputes an alert from its members and emits a new version if
// it grew: a higher severity or new entities at once, a higher score after the
// cool-down.
func (e *Engine) refreshAlert(a *alertState) {
	a.last = e.now
	sortedHosts(a.hosts)
	e.collectEntities(a)
	alert := e.build(a)
	grew := alert.Severity > a.sev || len(a.entities) > a.nEmitted
	cooled := !a.emitted.IsZero() && e.now.Sub(a.emitted) >= e.cfg.Scoring.Cooldown && alert.Score > a.score+0.05
	if !a.emitted.IsZero() && !grew && !cooled {
		return
	}
	if !a.emitted.IsZero() {
		a.updates++
	}
	alert.Updates = a.updates
	a.sev = max(a.sev, alert.Severity)
	alert.Severity = a.sev
	a.score = alert.Score
	a.emitted = e.now
	a.nEmitted = len(a.entities)
	e.out = append(e.out, alert)
}

// collectEntities adds to a's entities every member host, the accounts that
// recruit them or take their money, their devices, places and networks. An
// alert names every entity it ever named.
func (e *Engine) collectEntities(a *alertState) {
	add := func(kind, id string) {
		if id != "" {
			a.entities[EntityRef{kind, id}] = struct{}{}
		}
	}
	e.eachEntity(a.hosts, add)
}

// operators counts the recruiter and beneficiary accounts of hosts.
func (e *Engine) operators(hosts []*hostState) int {
	n := 0
	e.eachEntity(hosts, func(kind, _ string) {
		if kind == KindAccount {
			n++
		}
	})
	return n
}

// eachEntity calls add with every entity of hosts an alert names, accounts
// once per host that links to them.
func (e *Engine) eachEntity(hosts []*hostState, add func(kind, id string)) {
	for _, h := range hosts {
		add(KindHost, h.id)
		for _, r := range h.devices {
			add(KindDevice, strings.TrimPrefix(r.key, "device:"))
		}
		for _, r := range h.places {
			add(KindLocation, r.key)
		}
		for _, r := range h.nets {
			if p := e.places[r.key]; p != nil && !e.isPublic(p) {
				add(KindNetwork, r.key)
			}
		}
		for _, r := range h.recruiters {
			if ac := e.accounts[r.id]; ac != nil && (ac.lure >= e.cfg.Recruitment.WeakAdScore || e.cfg.Recruitment.recruiter(ac)) && !ac.legit {
				add(KindAccount, r.id)
			}
		}
		for _, b := range h.beneficiaries {
			if ac := e.accounts[b.id]; ac == nil || !ac.legit || ac.lure >= e.cfg.Recruitment.MinAdScore {
				add(KindAccount, b.id)
			}
		}
		if h.agency != "" {
			if ac := e.accounts[h.agency]; ac != nil && ac.lure >= e.cfg.Recruitment.MinAdScore {
				add(KindAccount, h.agency)
			}
		}
	}
}

// build assembles the contract alert from its member hosts (sorted) and its
// entities (collected): one reason per family. It changes nothing.
func (e *Engine) build(a *alertState) Alert {
	hosts := a.hosts
	var best [maxFamilies]float64
	var top Severity
	minor := false
	for _, h := range hosts {
		for i, s := range h.eval.scores {
			best[i] = max(best[i], s)
		}
		top = max(top, h.eval.sev)
		if e.minor(&h.eval) {
			minor = true
		}
	}
	operators := e.operators(hosts)
	// A ring, several victims behind one operator, is more than its worst host.
	if len(hosts) >= 2 && operators > 0 && top >= SeverityMedium {
		if top < SeverityHigh {
			top = SeverityHigh
		} else if minor {
			top = SeverityCritical
		}
	}
	ents := make([]EntityRef, 0, len(a.entities)+2*len(hosts))
	for k := range a.entities {
		ents = append(ents, k)
	}
	// The latest streams of each host, not every stream ever: a new stream is
	// no news for a moderator, and does not make a new version.
	for _, h := range hosts {
		for _, s := range h.lastStreams[:2] {
			if s != "" {
				ents = append(ents, EntityRef{KindStream, s})
			}
		}
	}
	sort.Slice(ents, func(i, j int) bool {
		if ents[i].Kind != ents[j].Kind {
			return kindOrder(ents[i].Kind) < kindOrder(ents[j].Kind)
		}
		return ents[i].ID < ents[j].ID
	})
	return Alert{
		ID:       a.id,
		At:       e.now,
		Severity: top,
		Score:    round3(e.combined(&best)),
		Subject:  e.subject(a, hosts),
		Entities: ents,
		Reasons:  e.reasons(hosts, &best),
	}
}

func kindOrder(k string) int {
	switch k {
	case KindHost:
		return 0
	case KindAccount:
		return 1
	case KindDevice:
		return 2
	case KindLocation:
		return 3
	case KindNetwork:
		return 4
	}
	return 5
}

// subject: a ring's place when its hosts share one, else its first host.
func (e *Engine) subject(a *alertState, hosts []*hostState) EntityRef {
	if len(hosts) > 1 {
		for _, h := range hosts {
			for _, r := range h.places {
				shared := 0
				for _, o := range hosts {
					for _, or := range o.places {
						if or.key == r.key {
							shared++
						}
					}
				}
				if shared >= 2 {
					return EntityRef{KindLocation, r.key}
				}
			}
		}
	}
	return EntityRef{KindHost, hosts[0].id}
}

func round3(x float64) float64 { return float64(int64(x*1000+0.5)) / 1000 }
