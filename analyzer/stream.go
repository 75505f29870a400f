package analyzer

import (
	"sort"
	"strings"
	"time"
)

// Folding streams into hosts and places: minutes by local broadcast day and
// night, sessions at devices and places, shifts and parallel broadcasting.

func (e *Engine) endStream(s *streamState) {
	e.noteAppEnd(s)
	e.foldLive(s)
	h := s.host
	if h.liveStream == s.id {
		h.liveStream = ""
	}
	for _, key := range [...]string{s.device, s.cell, s.net} {
		if key == "" {
			continue
		}
		if p := e.places[key]; p != nil {
			for i := len(p.sessions) - 1; i >= 0; i-- {
				if p.sessions[i].host == h.id && p.sessions[i].end == 0 {
					p.sessions[i].end = s.last.Unix()
					break
				}
			}
		}
	}
	// Concentration: the top three senders' share, summed over streams.
	if len(s.senders) > 0 {
		var top [3]int64
		for _, c := range s.senders {
			switch {
			case c > top[0]:
				top[0], top[1], top[2] = c, top[0], top[1]
			case c > top[1]:
				top[1], top[2] = c, top[1]
			case c > top[2]:
				top[2] = c
			}
		}
		h.topCoins += top[0] + top[1] + top[2]
	}
	h.beats += s.beats
	h.privateBeats += s.private
	e.handoverEnd(s)
	delete(e.streams, s.id)
	if e.OnSession != nil {
		tz := ""
		if s.loc != nil {
			tz = s.loc.String()
		}
		e.OnSession(Session{
			StreamID: s.id, HostID: h.id, Start: s.start, End: s.last,
			Minutes: s.minutes, NightMinutes: s.night,
			Device: strings.TrimPrefix(s.device, "device:"), Cell: s.cell, Network: s.net, TZ: tz,
			Coins: s.coins, ForeignCoins: s.foreign, Gifts: int(s.gifts),
			Heartbeats: int(s.beats), Private: int(s.private), DirectedGifts: int(s.directed),
		})
	}
	e.markDirty(h)
}

// registerPlaces runs at stream start: the host is seen at its device, cell and
// network; a session opens there; another host's session just ended or still
// live at the same device or cell makes this a shift or parallel broadcast.
func (e *Engine) registerPlaces(s *streamState) {
	h := s.host
	together := false
	for _, pk := range [...]struct {
		key  string
		kind placeKind
	}{{s.device, placeDevice}, {s.cell, placeCell}, {s.net, placeNet}} {
		if pk.key == "" {
			continue
		}
		p := e.place(pk.kind, pk.key)
		var known bool
		p.hosts, known = touchRef(p.hosts, h.id, s.start, maxPlaceHosts)
		if !known && len(p.hosts) >= maxPlaceHosts {
			p.overflow = true
		}
		switch pk.kind {
		case placeDevice:
			h.devices, _ = touchRef(h.devices, pk.key, s.start, maxHostDevices)
		case placeCell:
			h.places, _ = touchRef(h.places, pk.key, s.start, maxHostPlaces)
		case placeNet:
			h.nets, _ = touchRef(h.nets, pk.key, s.start, maxHostNets)
		}
		if pk.kind != placeNet && !e.isPublic(p) {
			for _, o := range p.sessions {
				if o.host == h.id {
					continue
				}
				// Households and student houses stream side by side too; at a
				// shared cell only new accounts count as shifts.
				if pk.kind == placeCell && !(e.isNew(h) && e.hostIsNew(o.host)) {
					continue
				}
				start := s.start.Unix()
				live := o.end == 0 && start-o.start < 24*3600
				shift := o.end != 0 && start-o.end <= int64(e.cfg.Schedule.ShiftGap/time.Second) && start >= o.start
				if live || shift {
					together = true
					if oh := e.hosts[o.host]; oh != nil {
						e.markTogether(oh, time.Unix(o.start, 0), time.Unix(o.end, 0))
						e.markDirty(oh)
					}
				}
			}
		}
		if len(p.sessions) >= maxPlaceSessions {
			copy(p.sessions, p.sessions[1:])
			p.sessions = p.sessions[:len(p.sessions)-1]
		}
		p.sessions = append(p.sessions, session{host: h.id, start: s.start.Unix()})
	}
	if together {
		s.together = true
	}
}

// markTogether flags the local day of a session as broadcast with another host.
func (e *Engine) markTogether(h *hostState, start, end time.Time) {
	if end.Unix() == 0 {
		end = start
	}
	loc := h.tz
	if loc == nil {
		loc = e.defTZ
	}
	if e.isNight(start.In(loc).Hour()) || e.isNight(end.In(loc).Hour()) {
		h.day(localDay(start, loc), e.windowDays()).shift = true
	}
}

func (e *Engine) hostIsNew(id string) bool {
	h := e.hosts[id]
	return h != nil && e.isNew(h)
}

func (e *Engine) windowDays() int {
	n := int(e.cfg.Window / (24 * time.Hour))
	if n > maxDayBuckets {
		n = maxDayBuckets
	}
	return n + 1
}

// foldLive adds the minutes of s since the last fold to its host's local days.
func (e *Engine) foldLive(s *streamState) {
	from := s.start
	if !s.folded.IsZero() {
		from = s.folded
	}
	to := s.last
	if !to.After(from) {
		return
	}
	s.folded = to
	h := s.host
	n := e.windowDays()
	for t := from; t.Before(to); {
		lt := t.In(s.loc)
		next := t.Add(time.Duration(60-lt.Minute())*time.Minute - time.Duration(lt.Second())*time.Second)
		if next.After(to) {
			next = to
		}
		mins := uint16(next.Sub(t) / time.Minute)
		if mins == 0 && next.Sub(t) > 0 {
			mins = 1
		}
		d := h.day(localDay(t, s.loc), n)
		d.minutes += mins
		s.minutes += int(mins)
		if e.isNight(lt.Hour()) {
			d.nightMinutes += mins
			s.night += int(mins)
			if s.together {
				d.shift = true
			}
		}
		t = next
	}
}

func (e *Engine) isNight(hour int) bool {
	a, b := e.cfg.Schedule.NightStart, e.cfg.Schedule.NightEnd
	if a > b {
		return hour >= a || hour < b
	}
	return hour >= a && hour < b
}

// localDay numbers the local noon-to-noon day of t, so that one night, evening
// to morning, is one day.
func localDay(t time.Time, loc *time.Location) int32 {
	_, off := t.In(loc).Zone()
	return int32((t.Unix() + int64(off) - 12*3600) / 86400)
}

func (e *Engine) isPublic(p *placeState) bool {
	switch p.kind {
	case placeCell:
		return p.overflow || len(p.hosts) > e.cfg.Colocation.PublicPlaceHosts
	case placeNet:
		return p.overflow || len(p.hosts) > e.cfg.Colocation.NATHosts
	}
	return p.overflow
}

// sortedHosts is a deterministic order for hosts of an alert.
func sortedHosts(hs []*hostState) {
	sort.Slice(hs, func(i, j int) bool { return hs[i].id < hs[j].id })
}
