package analyzer

import (
	"time"

	"github.com/mmcloughlin/geohash"
)

// The detector families of DOMAIN.md. Each scores one host in 0..1 from its own
// state and the state of what it is linked to; none is decisive alone.
const (
	DetSchedule    = "schedule"
	DetColocation  = "colocation"
	DetRecruitment = "recruitment"
	DetMoney       = "money"
	DetAudience    = "audience"
	DetAge         = "age"
	DetAccountAge  = "account_age"
	DetSignal      = "signal"
)

// Detectors lists the families in a fixed order (the order of reasons).
var Detectors = [...]string{DetSchedule, DetColocation, DetRecruitment, DetMoney, DetAudience, DetAge, DetAccountAge, DetSignal}

const (
	iSchedule = iota
	iColocation
	iRecruitment
	iMoney
	iAudience
	iAge
	iAccountAge
	iSignal
	numDetectors
)

func isDetector(s string) bool {
	for _, d := range Detectors {
		if d == s {
			return true
		}
	}
	return false
}

// hostEval is a host's last evaluation: family scores and the figures behind them.
type hostEval struct {
	at     time.Time
	scores [numDetectors]float64
	sev    Severity

	minutes, nightMinutes   int
	nights, togetherNights  int
	activeDays              int
	colocKey                string
	colocKind               placeKind
	colocHosts              int
	colocNew                int
	recruiter               string
	recruiterLure           float64
	recruits                int
	recruitVia              string
	beneficiary             string
	benPayers, benNewPayers int
	payoutOther             int64
	foreignNightShare       float64
	directed, directives    uint32
	privateShare            float64
	ageYears                int
	ageSource               string
	accountDays             float64
}

func clamp01(x float64) float64 {
	switch {
	case x < 0:
		return 0
	case x > 1:
		return 1
	}
	return x
}

// evalHost scores every family for h at the engine's current time.
func (e *Engine) evalHost(h *hostState) hostEval {
	if s := e.streams[h.liveStream]; s != nil {
		e.foldLive(s)
	}
	var ev hostEval
	ev.at = e.now
	ev.scores[iSchedule] = e.scoreSchedule(h, &ev)
	ev.scores[iColocation] = e.scoreColocation(h, &ev)
	ev.scores[iRecruitment] = e.scoreRecruitment(h, &ev)
	ev.scores[iMoney] = e.scoreMoney(h, &ev)
	ev.scores[iAudience] = e.scoreAudience(h, &ev)
	ev.scores[iAge] = e.scoreAge(h, &ev)
	ev.scores[iAccountAge] = e.scoreAccountAge(h, &ev)
	if h.extSignal >= e.cfg.Signals.MinScore {
		ev.scores[iSignal] = h.extSignal
	}
	ev.sev = e.severity(h, &ev)
	return ev
}

// scoreSchedule: most broadcast minutes inside the local night, on several
// nights; broadcasting in shifts or in parallel with other hosts at one place
// makes one night count as a pattern already.
func (e *Engine) scoreSchedule(h *hostState, ev *hostEval) float64 {
	cut := localDay(e.now.Add(-e.cfg.Window), e.defTZ)
	for _, d := range h.days {
		if d.minutes == 0 || d.day < cut {
			continue
		}
		ev.activeDays++
		ev.minutes += int(d.minutes)
		ev.nightMinutes += int(d.nightMinutes)
		if int(d.nightMinutes) >= e.cfg.Schedule.MinNightMinutes {
			ev.nights++
			if d.shift {
				ev.togetherNights++
			}
		}
	}
	if ev.minutes == 0 {
		return 0
	}
	sc := e.cfg.Schedule
	share := float64(ev.nightMinutes) / float64(ev.minutes)
	shareScore := clamp01((share - sc.MinNightShare) / (sc.FullNightShare - sc.MinNightShare))
	regular := clamp01(float64(ev.nights) / float64(sc.MinNights))
	// On most nights: nights with night broadcasting over all active days.
	most := clamp01(float64(ev.nights) / float64(ev.activeDays) / 0.6)
	own := shareScore * regular * most
	shifts := shareScore * clamp01(0.5+0.25*float64(ev.togetherNights-1))
	if ev.togetherNights == 0 {
		shifts = 0
	}
	return max(own, shifts)
}

// scoreColocation: other hosts who broadcast regularly from the same device,
// location cell (with its neighbours) or home network. A shared device counts
// most; a shared cell or network counts when the hosts are new accounts, and
// public places and carrier NAT do not count at all.
func (e *Engine) scoreColocation(h *hostState, ev *hostEval) float64 {
	best := 0.0
	kinds := 0
	cut := e.now.Add(-e.cfg.Window)
	hNew := e.isNew(h)
	consider := func(ref placeRef, kind placeKind, keys []string) {
		if !e.regular(h, ref, kind) {
			return
		}
		others, fresh := 0, 0
		for _, key := range keys {
			p := e.places[key]
			if p == nil {
				continue
			}
			if e.isPublic(p) {
				return
			}
			for _, o := range p.hosts {
				if o.key == h.id || o.last.Before(cut) {
					continue
				}
				oh := e.hosts[o.key]
				if oh == nil || !e.regular(oh, o, kind) {
					continue
				}
				others++
				if e.isNew(oh) {
					fresh++
				}
			}
		}
		if others == 0 {
			return
		}
		kinds++
		var s float64
		if kind == placeDevice {
			// Siblings lend each other a phone; one shared by new accounts
			// at night is a den's.
			s = 0.4 + 0.1*float64(min(others-1, 3))
			if hNew && fresh > 0 {
				s += 0.2
			}
			if ev.togetherNights > 0 {
				s += 0.15
			}
		} else if kind == placeCell {
			s = 0.3 + 0.05*float64(min(others-1, 2))
			if hNew && fresh > 0 {
				s += 0.25
				if ev.togetherNights > 0 {
					s += 0.15
				}
			}
		} else {
			// A network prefix is the weakest place: even a home line may be
			// shared, so alone it never makes co-location strong.
			s = 0.2 + 0.05*float64(min(others-1, 1))
			if hNew && fresh > 0 {
				s += 0.15
			}
			s = min(s, 0.45)
		}
		if s > best {
			best, ev.colocKey, ev.colocKind, ev.colocHosts, ev.colocNew = s, keys[0], kind, others+1, fresh
		}
	}
	for _, r := range h.devices {
		consider(r, placeDevice, []string{r.key})
	}
	for _, r := range h.places {
		keys := []string{r.key}
		if p := e.places[r.key]; p != nil {
			if p.near == nil {
				p.near = geohash.Neighbors(r.key)
			}
			keys = append(keys, p.near...)
		}
		consider(r, placeCell, keys)
	}
	for _, r := range h.nets {
		consider(r, placeNet, []string{r.key})
	}
	if kinds >= 2 {
		best += 0.05
	}
	return clamp01(best)
}

// regular: at least RegularShare of the host's broadcasts came from this place,
// and more than one unless it is a device: one visit to a cell or network is a
// passer-by (a mall, a cafe), while one phone shared is already a link.
func (e *Engine) regular(h *hostState, ref placeRef, kind placeKind) bool {
	if h.streams == 0 || (kind != placeDevice && ref.sessions < 2) {
		return false
	}
	return float64(ref.sessions)/float64(h.streams) >= e.cfg.Colocation.RegularShare
}

// scoreRecruitment: the host was DMed, shortly before it began hosting, by an
// account that posts lures or reaches several future hosts; or it pays out to,
// or joined the agency of, an account that posts lures.
func (e *Engine) scoreRecruitment(h *hostState, ev *hostEval) float64 {
	rc := e.cfg.Recruitment
	best := 0.0
	consider := func(id, via string, base float64) {
		a := e.accounts[id]
		if a == nil || a.id == h.id {
			return
		}
		s := 0.0
		switch {
		case a.lure >= rc.MinAdScore:
			s = base + 0.3*a.lure
		case a.lure >= 0.3:
			s = base*0.6 + 0.2*a.lure
		}
		if via == "dm" && len(a.recruits) >= rc.MinRecruits {
			s = max(s, 0.35) + 0.2
		}
		if a.legit && a.lure < rc.MinAdScore {
			s *= 0.5
		}
		if s > best {
			best, ev.recruiter, ev.recruiterLure, ev.recruits, ev.recruitVia = s, a.id, a.lure, len(a.recruits), via
		}
	}
	for _, r := range h.recruiters {
		if !h.firstStream.IsZero() && h.firstStream.Sub(r.at) <= rc.RecruitWindow && !r.at.After(h.firstStream) {
			consider(r.id, "dm", 0.45)
		}
	}
	if h.agency != "" {
		consider(h.agency, "agency", 0.4)
	}
	if h.payoutOther > h.payoutSelf && e.isNew(h) {
		// Paying a lure-posting account only says "recruited" of a new host
		// whose money mostly goes there.
		for _, b := range h.beneficiaries {
			consider(b.id, "payout", 0.4)
		}
	}
	return clamp01(best)
}

// scoreMoney: coins paid out to someone other than the host, the more so when
// that beneficiary collects from several new hosts; a large share of gifts
// from abroad in the senders' night, unless a few whales fund the host.
func (e *Engine) scoreMoney(h *hostState, ev *hostEval) float64 {
	mc := e.cfg.Money
	foreign := 0.0
	if h.coins > 0 {
		ev.foreignNightShare = float64(h.foreignNightCoins) / float64(h.coins)
		if float64(h.topCoins)/float64(h.coins) < mc.WhaleShare {
			foreign = 0.15 * clamp01(ev.foreignNightShare/mc.ForeignNightShare)
		}
	}
	if h.payoutOther == 0 {
		return foreign
	}
	ev.payoutOther = h.payoutOther
	var top *acctLink
	for i := range h.beneficiaries {
		if top == nil || h.beneficiaries[i].coins > top.coins {
			top = &h.beneficiaries[i]
		}
	}
	// Weighted by how much of the host's money goes elsewhere: a host who
	// mostly cashes out to itself and now and then to another is not "someone
	// else takes the money".
	share := float64(h.payoutOther) / float64(h.payoutOther+h.payoutSelf)
	// One payout elsewhere plus foreign fans stays under strong (0.3 + 0.15):
	// teens are paid out to a parent, hosts to a partner.
	s := 0.3*share + foreign
	b := e.accounts[top.id]
	ev.beneficiary = top.id
	if b != nil {
		ev.benPayers = len(b.payers)
		for _, p := range b.payers {
			if ph := e.hosts[p.id]; ph != nil && e.isNew(ph) {
				ev.benNewPayers++
			}
		}
		// The indicator is a beneficiary taking the coins of several new
		// hosts: it speaks of the new ones, not of an old account that pays it.
		if ev.benNewPayers >= mc.MinNewPayers && e.isNew(h) {
			s += 0.3 * share
		}
		if b.lure >= e.cfg.Recruitment.MinAdScore {
			s += 0.15 * share
		}
		if b.legit && h.agency == b.id && !e.isNew(h) {
			s -= 0.25
		}
	}
	if h.payMethods != 0 {
		s += 0.05
	}
	return clamp01(s)
}

// scoreAudience: viewers direct the host and pay right after; paid private
// rooms. Private rooms alone are a feature adults use (a DJ's VIP room), so
// alone they stay under strong.
func (e *Engine) scoreAudience(h *hostState, ev *hostEval) float64 {
	ac := e.cfg.Audience
	beats, priv := h.beats, h.privateBeats
	dir := h.directedGifts
	if s := e.streams[h.liveStream]; s != nil {
		beats += s.beats
		priv += s.private
	}
	ev.directed, ev.directives = dir, h.directives
	if beats > 0 {
		ev.privateShare = float64(priv) / float64(beats)
	}
	// A share over a handful of heartbeats is noise: the private-room share
	// counts fully from two hours of heartbeats on.
	sure := clamp01(float64(beats) / 24)
	s := 0.6*clamp01(float64(dir)/float64(ac.FullDirectedGifts)) +
		0.45*clamp01(ev.privateShare/ac.FullPrivateShare)*sure +
		0.1*clamp01(float64(h.directives)/20)
	return clamp01(s)
}

// scoreAge: a declared birth year under the age of majority, the host's own words
// ("kelas 11"), an external age estimate; viewers' age questions count a little.
func (e *Engine) scoreAge(h *hostState, ev *hostEval) float64 {
	s := 0.0
	if h.birthYear > 0 {
		years := e.now.Year() - h.birthYear
		ev.ageYears = years
		switch {
		case years < e.cfg.Age.Adult:
			s, ev.ageSource = 0.9, "declared"
		case years == e.cfg.Age.Adult:
			// Born in the year that makes 18 this year: a minor until the
			// birthday, so a weak cue.
			s, ev.ageSource = 0.35, "declared"
		}
	}
	if h.ageCues > 0 {
		c := 0.6
		if h.ageCues >= 3 {
			c = 0.75
		}
		if c > s {
			s, ev.ageSource = c, "text"
		}
	}
	if h.ageSignal >= e.cfg.Age.MinSignalScore && h.ageSignal > s {
		s, ev.ageSource = h.ageSignal, "classifier"
	}
	// Viewers asking age or school back up another cue; they never make one.
	if h.ageQuestion >= 3 && s > 0 {
		s += 0.05
	}
	if s > 0 && h.verified == 0 {
		s += 0.05
	}
	if h.verified == 1 && ev.ageSource == "declared" && ev.ageYears >= e.cfg.Age.Adult {
		s = 0
	}
	return clamp01(s)
}

// scoreAccountAge: the account was days old when it began broadcasting.
func (e *Engine) scoreAccountAge(h *hostState, ev *hostEval) float64 {
	if h.created.IsZero() || h.firstStream.IsZero() {
		return 0
	}
	age := h.firstStream.Sub(h.created)
	ev.accountDays = age.Hours() / 24
	if age < 0 || age >= e.cfg.AccountAge.NewAccount {
		return 0
	}
	return 1 - float64(age)/float64(e.cfg.AccountAge.NewAccount)
}

// severity combines the families: exploitation shows as several indicators
// together, so severity counts the families present and rises with a minor's
// presence, never with one loud family. When and where someone broadcasts
// (schedule, co-location) is context: night owls share student houses. It
// takes exploitation evidence (recruitment, money, audience, an external
// signal), a minor, or new accounts sharing one phone to make context an alert.
func (e *Engine) severity(h *hostState, ev *hostEval) Severity {
	strong := e.cfg.Scoring.Strong
	ctx, exp := 0, 0
	for _, i := range [...]int{iSchedule, iColocation} {
		if ev.scores[i] >= strong {
			ctx++
		}
	}
	for _, i := range [...]int{iRecruitment, iMoney, iAudience, iSignal} {
		if ev.scores[i] >= strong {
			exp++
		}
	}
	p := ctx + exp
	minor := ev.scores[iAge] >= strong
	fresh := ev.scores[iAccountAge] >= strong
	den := ev.scores[iColocation] >= strong && ev.colocKind == placeDevice && fresh
	var s Severity
	switch {
	case p >= 4:
		s = SeverityHigh
		if minor {
			s = SeverityCritical
		}
	case p == 3:
		s = SeverityMedium
		if minor || fresh {
			s = SeverityHigh
		}
	case p == 2 && (exp > 0 || minor || den):
		s = SeverityMedium
		if minor {
			s = SeverityHigh
		}
	case p == 1 && minor && (exp > 0 || fresh):
		s = SeverityMedium
	case p >= 1 || minor:
		s = SeverityLow
	}
	// Context and vulnerability alone ask for a look, not for urgency.
	if exp == 0 && s > SeverityMedium {
		s = SeverityMedium
	}
	if h.decisive && s < SeverityHigh {
		s = SeverityHigh
	}
	return s
}

// combined is the noisy-OR of weighted family scores: 0..1.
func (e *Engine) combined(scores *[numDetectors]float64) float64 {
	miss := 1.0
	for i, d := range Detectors {
		miss *= 1 - e.cfg.Scoring.Weights[d]*scores[i]
	}
	return 1 - miss
}
