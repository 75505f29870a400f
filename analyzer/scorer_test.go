package analyzer

import (
	"testing"
	"time"
)

// cirebon plays the reference case: fake shop ads, DMs, three minors on one
// phone in one boarding house in nightly shifts, viewers directing them, paid
// private rooms, payouts to the second operator.
func cirebon(w *world, days int) []string {
	w.post("rec", "ad", "Lowongan pegawai toko pakaian Cirebon. Cewek, usia 16-20, gaji 2.000.000 + tempat tinggal. Langsung DM aja", "", at(-9, 10))
	hosts := []string{"v1", "v2", "v3"}
	for i, id := range hosts {
		w.link("rec", id, "dm", at(-7+i, 20))
		w.post("rec", "dm", "Nanti tinggal di kos yang udah disiapin ya", id, at(-7+i, 20.1))
	}
	nights(days, func(d int) {
		for i, id := range hosts {
			h := hostSpec{id: id, device: "phone", ip: "180.29.217.119", lat: -6.71304, lon: 108.53143,
				created: newAcct(-5 + i), birthYear: 2008 + i%2, verified: no}
			w.broadcast(h, at(d, 20+float64(i)*8/3), 8.0/3, streamOpt{gifts: 40, coins: 30, country: "AU", senders: 40,
				private: 0.3, chats: []string{"buka dong", "umur berapa?", "pc yuk"}, chatEvery: 20 * 60e9, giftAfterDir: true})
		}
		if d%7 == 6 {
			for _, id := range hosts {
				w.payout(id, "op", 300000, "ewallet", at(d, 11))
			}
		}
	})
	return hosts
}

func TestRingIsOneAlert(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	hosts := cirebon(w, 8)
	w.run()
	alerts := w.distinctAlerts()
	if len(alerts) != 1 {
		t.Fatalf("got %d alerts, want one for the ring: %v", len(alerts), alerts)
	}
	var last Alert
	for _, a := range alerts {
		last = a
	}
	want := map[EntityRef]bool{
		{KindHost, "v1"}: true, {KindHost, "v2"}: true, {KindHost, "v3"}: true,
		{KindAccount, "rec"}: true, {KindAccount, "op"}: true, {KindDevice, "phone"}: true,
	}
	for _, e := range last.Entities {
		delete(want, e)
	}
	if len(want) > 0 {
		t.Errorf("alert does not name %v; entities %v", want, last.Entities)
	}
	if last.Subject.Kind != KindLocation {
		t.Errorf("subject %v, want the boarding house's location", last.Subject)
	}
	if last.Severity != SeverityCritical {
		t.Errorf("severity %s, want critical: minors, a shared phone, night shifts, an operator", last.Severity)
	}
	dets := map[string]bool{}
	for _, r := range last.Reasons {
		dets[r.Detector] = true
		if r.Summary == "" || len(r.Evidence) == 0 {
			t.Errorf("reason %s has no summary or evidence", r.Detector)
		}
	}
	for _, d := range []string{DetSchedule, DetColocation, DetMoney, DetAge, DetRecruitment} {
		if !dets[d] {
			t.Errorf("no %s reason in %v", d, last.Reasons)
		}
	}
	for _, h := range hosts {
		if w.flagged(h) < SeverityHigh {
			t.Errorf("%s flagged at %s", h, w.flagged(h))
		}
	}
}

func TestAlertGrowsWithStableID(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	cirebon(w, 8)
	w.run()
	var id string
	prev := -1
	var sev Severity
	for _, a := range w.alerts {
		if id == "" {
			id = a.ID
		}
		if a.ID != id {
			t.Fatalf("alert id changed from %s to %s", id, a.ID)
		}
		if a.Updates != prev+1 {
			t.Errorf("updates went from %d to %d", prev, a.Updates)
		}
		prev = a.Updates
		if a.Severity < sev {
			t.Errorf("severity fell from %s to %s", sev, a.Severity)
		}
		sev = a.Severity
	}
	if prev < 1 {
		t.Fatalf("alert never updated (%d versions), want it to grow as hosts join", prev+1)
	}
	first := w.alerts[0]
	if first.Severity >= SeverityCritical {
		t.Errorf("first version already %s: severity should rise with evidence", first.Severity)
	}
	// Versions are few: a new stream or gift is no news for a moderator.
	if len(w.alerts) > 12 {
		t.Errorf("%d versions in 8 nights; the cool-down should hold updates back", len(w.alerts))
	}
}

func TestDeterministic(t *testing.T) {
	t.Parallel()
	run := func() []Alert {
		w := newWorld(t)
		cirebon(w, 4)
		w.run()
		return w.alerts
	}
	a, b := run(), run()
	if len(a) != len(b) {
		t.Fatalf("two runs gave %d and %d alerts", len(a), len(b))
	}
	for i := range a {
		if a[i].ID != b[i].ID || a[i].Severity != b[i].Severity || a[i].Score != b[i].Score || len(a[i].Entities) != len(b[i].Entities) {
			t.Fatalf("version %d differs: %+v vs %+v", i, a[i], b[i])
		}
	}
}

func TestEvictionBoundsState(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	for d := 0; d < 40; d++ {
		for i := 0; i < 5; i++ {
			id := string(rune('a'+i)) + string(rune('a'+d%26)) + string(rune('0'+d/26))
			w.broadcast(hostSpec{id: id, device: "d" + id, ip: "10.0.0.1"}, at(d, 12+float64(i)), 1, streamOpt{gifts: 3, coins: 1})
		}
	}
	w.run()
	st := w.e.Stats()
	// 14-day window, 5 new hosts a day: about 75 hosts live, never 200.
	if st.Hosts > 80 {
		t.Errorf("%d hosts held after 40 days of 5 new hosts a day; the window should evict", st.Hosts)
	}
	if st.Evicted == 0 {
		t.Error("nothing evicted")
	}
}

func TestConfigValidate(t *testing.T) {
	t.Parallel()
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatalf("defaults do not validate: %v", err)
	}
	cases := map[string]string{
		"unknown key":      "schedule:\n  night_strat: 21\n",
		"bad zone":         "default_tz: Mars/Olympus\n",
		"bad share":        "schedule:\n  min_night_share: 0.95\n",
		"unknown detector": "scoring:\n  weights:\n    vibes: 0.5\n",
		"bad severity":     "scoring:\n  min_severity: urgent\n",
		"short window":     "window: 2h\n",
	}
	for name, y := range cases {
		t.Run(name, func(t *testing.T) {
			if _, err := ParseConfig([]byte(y)); err == nil {
				t.Errorf("ParseConfig(%q) accepted", y)
			}
		})
	}
	c, err := ParseConfig([]byte("window: 240h\nschedule:\n  night_start: 21\nscoring:\n  weights:\n    money: 0.6\n"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Schedule.NightStart != 21 || c.Window.Hours() != 240 || c.Scoring.Weights[DetMoney] != 0.6 || c.Scoring.Weights[DetAge] != 0.5 {
		t.Errorf("overrides not applied over defaults: %+v", c)
	}
}

func TestSessions(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	var got []Session
	w.e.OnSession = func(s Session) { got = append(got, s) }
	w.broadcast(hostSpec{id: "h1", device: "d1", ip: "36.1.2.3", lat: -6.2, lon: 106.8}, at(0, 19), 3, streamOpt{gifts: 10, coins: 5, country: "AU", private: 0.5})
	w.run()
	if len(got) != 1 {
		t.Fatalf("%d sessions, want 1", len(got))
	}
	s := got[0]
	if s.HostID != "h1" || s.Device != "d1" || s.Network != "36.1.2.0/24" || s.Cell == "" || s.TZ != "Asia/Jakarta" {
		t.Errorf("session places: %+v", s)
	}
	// 19:00-22:00 local: three hours, two of them after 20:00.
	if s.Minutes != 180 || s.NightMinutes != 120 {
		t.Errorf("minutes %d night %d, want 180 and 120", s.Minutes, s.NightMinutes)
	}
	if s.Coins != 50 || s.ForeignCoins != 50 || s.Gifts != 10 || s.Heartbeats == 0 || s.Private == 0 {
		t.Errorf("session money: %+v", s)
	}
}

// Without a creation time, a host is new to hosting when Ronda had already
// watched broadcasts for NewAccount before its first one.
func TestNewWithoutCreationTime(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	for _, d := range []int{0, 12, 24} { // within the window, so nobody is evicted
		w.broadcast(hostSpec{id: "early", device: "d0"}, at(d, 12), 1, streamOpt{})
		w.broadcast(hostSpec{id: "soon", device: "d1"}, at(d+5, 12), 1, streamOpt{})
	}
	w.broadcast(hostSpec{id: "late", device: "d2"}, at(31, 12), 1, streamOpt{})
	w.run()
	for id, want := range map[string]bool{"early": false, "soon": false, "late": true} {
		if got := w.e.isNew(w.e.hosts[id]); got != want {
			t.Errorf("isNew(%s) = %v, want %v", id, got, want)
		}
	}
}

// TestBefore1970: an event dated before 1970 (a sender's wrong clock) is
// analysed like any other; its day number is negative and used to index the
// day ring out of range.
func TestBefore1970(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	var got []Session
	w.e.OnSession = func(s Session) { got = append(got, s) }
	old := day0.AddDate(-60, 0, 0)
	w.broadcast(hostSpec{id: "h1", device: "d1"}, old.Add(20*time.Hour), 2, streamOpt{gifts: 3, coins: 5})
	w.run()
	if len(got) != 1 || got[0].Minutes != 120 || got[0].NightMinutes != 120 {
		t.Fatalf("sessions %+v, want one of 120 night minutes", got)
	}
}
