package analyzer

import (
	"math"
	"time"

	"github.com/ronda-watch/ronda/analyzer/snapshot"
)

// Shift hand-overs: one host's broadcast falls quiet and another host's
// begins minutes later, at night. On a platform that sends no device id, no
// location and no address, that is what is left of a ring's one phone passed
// from girl to girl. By timing alone it is weak (on a busy platform streams
// end and begin every minute), so a hand-over never scores by itself: it
// links hosts that each reached an alert (once the pair repeats it on
// schedule.handover_nights nights, or at once between new accounts), and the
// money family counts a beneficiary that takes the coins of both sides.

// mark is a stream's start or its last event, for hand-overs.
type mark struct {
	host string
	at   int64 // Unix seconds
}

// handovers keeps the recent stream starts and ends hand-overs are found
// among; both lists are bounded and in time order.
type handovers struct {
	starts []mark // within stream_idle + handover_gap + sweepEvery
	ends   []mark // within handover_gap
}

// maxHandoverMarks bounds each list: on a platform so busy that more streams
// start within the lists' spans, the oldest are dropped and counted
// (Stats.HandoverMarksDropped, ronda_engine_handover_marks_dropped_total).
const maxHandoverMarks = 4096

// maxHandovers bounds the hand-over partners remembered per host. Chance
// hand-overs fill it at night (on public-twoweeks about eight a night for a
// host who broadcasts then); a full list drops the partner of fewest nights,
// the oldest among them, so a rota's partner of two nights stays.
const maxHandovers = 24

// handoverStart runs at a stream's start: a stream of another host that
// ended within handover_gap before is a hand-over to this one.
func (e *Engine) handoverStart(s *streamState) {
	gap := e.cfg.Schedule.HandoverGap
	if gap <= 0 {
		return
	}
	t := s.start.Unix()
	keepEnds := e.ho.ends[:0]
	var at handoverTime
	for _, m := range e.ho.ends {
		if t-m.at <= int64(gap/time.Second) {
			keepEnds = append(keepEnds, m)
			if m.host != s.host.id { // an end is never after now
				e.handover(m.host, s.host, m.at, t, &at)
			}
		}
	}
	e.ho.ends = keepEnds
	span := int64((e.cfg.StreamIdle + gap + sweepEvery) / time.Second)
	keep := e.ho.starts[:0]
	for _, m := range e.ho.starts {
		if t-m.at <= span {
			keep = append(keep, m)
		}
	}
	e.ho.starts = e.pushMark(keep, mark{s.host.id, t})
}

// handoverEnd runs when a stream ends (at its last event): a stream of
// another host that began after that event and within handover_gap is a
// hand-over from this one. The end is kept for streams that begin later.
func (e *Engine) handoverEnd(s *streamState) {
	gap := int64(e.cfg.Schedule.HandoverGap / time.Second)
	if gap <= 0 {
		return
	}
	end := s.last.Unix()
	for _, m := range e.ho.starts {
		if m.host != s.host.id && m.at > end && m.at-end <= gap {
			if h := e.hosts[m.host]; h != nil {
				var at handoverTime
				e.handover(s.host.id, h, end, m.at, &at)
			}
		}
	}
	e.ho.ends = e.pushMark(e.ho.ends, mark{s.host.id, end})
}

func (e *Engine) pushMark(ms []mark, m mark) []mark {
	if len(ms) >= maxHandoverMarks {
		e.stats.HandoverMarksDropped++
		copy(ms, ms[1:])
		ms = ms[:len(ms)-1]
	}
	return append(ms, m)
}

// handover records that from's broadcast, quiet at end, was followed by to's
// at start: on both hosts, counted once per local night, only at night.
func (e *Engine) handover(fromID string, to *hostState, end, start int64, at *handoverTime) {
	from := e.hosts[fromID]
	if from == nil || from == to {
		return
	}
	loc := to.tz
	if loc == nil {
		loc = e.defTZ
	}
	if !at.set {
		// The start's side once per stream start: the zone's arithmetic
		// is most of a hand-over's cost.
		st := time.Unix(start, 0).In(loc)
		*at = handoverTime{set: true, t: st, night: e.isNight(st.Hour()), day: localDay(st, loc)}
	}
	if !at.night && !e.isNight(time.Unix(end, 0).In(loc).Hour()) {
		return
	}
	was := false
	for _, l := range to.handovers {
		if l.id == from.id {
			was = e.handoverNightsMet(to, from, l)
		}
	}
	from.handovers = addHandover(from.handovers, to.id, at.day, at.t)
	to.handovers = addHandover(to.handovers, from.id, at.day, at.t)
	// Scored again only when the pair's nights come to link them: a
	// hand-over that links nothing new changes no score.
	for _, l := range to.handovers {
		if l.id == from.id && !was && e.handoverNightsMet(to, from, l) && e.nightly(to) && e.nightly(from) {
			e.markDirty(from)
			e.markDirty(to)
		}
	}
}

// handoverTime is a stream start's local time, night and day, worked out
// once for all the hand-overs to it.
type handoverTime struct {
	set   bool
	t     time.Time
	night bool
	day   int32
}

// addHandover counts a hand-over night with partner id: two hand-overs of
// one pair in one local night are one night (coins packs the nights and the
// latest night's day, at is the latest). A full list replaces its partner of
// fewest nights, the oldest among them.
func addHandover(links []acctLink, id string, day int32, at time.Time) []acctLink {
	for i := range links {
		if links[i].id == id {
			if handoverDay(links[i].coins) != day {
				links[i].coins = packHandover(handoverNights(links[i].coins)+1, day)
			}
			links[i].at = at
			return links
		}
	}
	l := acctLink{id: id, coins: packHandover(1, day), at: at}
	if len(links) < maxHandovers {
		return append(links, l)
	}
	low := 0
	for i := range links {
		if handoverNights(links[i].coins) < handoverNights(links[low].coins) ||
			(handoverNights(links[i].coins) == handoverNights(links[low].coins) && links[i].at.Before(links[low].at)) {
			low = i
		}
	}
	links[low] = l
	return links
}

// A hand-over link's coins field holds its nights (high 32 bits) and the
// local day of its latest night (low 32 bits).
func packHandover(nights int64, day int32) int64 { return nights<<32 | int64(uint32(day)) }
func handoverNights(c int64) int64               { return c >> 32 }
func handoverDay(c int64) int32                  { return int32(uint32(c)) }

// handoverNightsMet says o has handed over to or from h on enough nights to
// link them: schedule.handover_nights, or one when both are new accounts.
// (Linking also asks that both broadcast mostly at night: nightly.)
func (e *Engine) handoverNightsMet(h, o *hostState, l acctLink) bool {
	n := handoverNights(l.coins)
	return n >= int64(e.cfg.Schedule.HandoverNights) || (n >= 1 && e.isNew(h) && e.isNew(o))
}

// nightly says at least schedule.min_night_share of h's broadcast minutes
// in the window were at night.
func (e *Engine) nightly(h *hostState) bool {
	cut := localDay(e.now.Add(-e.cfg.Window), e.defTZ)
	var all, night int
	for _, d := range h.days {
		if d.day >= cut {
			all += int(d.minutes)
			night += int(d.nightMinutes)
		}
	}
	return all > 0 && float64(night) >= e.cfg.Schedule.MinNightShare*float64(all)
}

func (w *ckWriter) handovers(enc *snapshot.Enc, ho *handovers) {
	for _, ms := range [...][]mark{ho.starts, ho.ends} {
		enc.Uvarint(uint64(len(ms)))
		for _, m := range ms {
			w.str(enc, m.host)
			enc.Varint(m.at)
		}
	}
}

func (r *ckReader) handovers(d *snapshot.Dec, ho *handovers) {
	for _, ms := range [...]*[]mark{&ho.starts, &ho.ends} {
		n := d.Len(maxHandoverMarks, "hand-over marks")
		*ms = nil
		for range n {
			*ms = append(*ms, mark{host: r.str(d), at: d.Int(math.MinInt64, math.MaxInt64, "hand-over time")})
		}
	}
}
