package analyzer

import (
	"slices"
	"testing"
	"time"
)

// What the sparse and quiet stories (golden_sparse_stories_test.go) must
// show, besides their golden files: a ring is one alert naming all its
// hosts, however it is linked; the quiet ring alerts within 24 hours of the
// end of its second night; the lookalikes raise nothing.

func runStory(t *testing.T, name string) *world {
	t.Helper()
	w := newWorld(t)
	sparseStories[name](w)
	w.run()
	return w
}

// oneAlertNaming: every alert version of the story belongs to one alert id,
// none merged, and it names every host of hosts at medium or above.
func oneAlertNaming(t *testing.T, w *world, hosts ...string) Alert {
	t.Helper()
	ids := map[string]bool{}
	for _, a := range w.alerts {
		ids[a.ID] = true
		if a.MergedInto != "" {
			t.Errorf("alert %s merged into %s: the ring was split before it was joined", a.ID, a.MergedInto)
		}
	}
	if len(ids) != 1 {
		t.Fatalf("%d alerts, want one for the ring: %v", len(ids), ids)
	}
	last := w.alerts[len(w.alerts)-1]
	for _, h := range hosts {
		if s := w.flagged(h); s < SeverityMedium {
			t.Errorf("host %s flagged at %s, want medium or above", h, s)
		}
		if !slices.Contains(last.Entities, EntityRef{KindHost, h}) {
			t.Errorf("the ring's alert does not name %s: %v", h, last.Entities)
		}
	}
	return last
}

func TestSparseRingLinkedByBeneficiary(t *testing.T) {
	t.Parallel()
	w := runStory(t, "sparse-ring-linked-by-beneficiary")
	a := oneAlertNaming(t, w, "b1", "b2", "b3")
	if !slices.Contains(a.Entities, EntityRef{KindAccount, "opx"}) {
		t.Errorf("the beneficiary is not named: %v", a.Entities)
	}
}

func TestSparseRingLinkedByRecruiterDMs(t *testing.T) {
	t.Parallel()
	a := oneAlertNaming(t, runStory(t, "sparse-ring-linked-by-recruiter-dms"), "m1", "m2", "m3")
	if !slices.Contains(a.Entities, EntityRef{KindAccount, "rx"}) {
		t.Errorf("the recruiter is not named: %v", a.Entities)
	}
}

func TestSparseRingLinkedByDeviceLink(t *testing.T) {
	t.Parallel()
	oneAlertNaming(t, runStory(t, "sparse-ring-linked-by-device-link"), "d1", "d2", "d3")
}

func TestSparseRingLinkedByHandovers(t *testing.T) {
	t.Parallel()
	oneAlertNaming(t, runStory(t, "sparse-ring-linked-by-handovers"), "s1", "s2", "s3")
}

func TestQuietRingWithinADayOfSecondNight(t *testing.T) {
	t.Parallel()
	w := runStory(t, "quiet-ring-second-night")
	oneAlertNaming(t, w, "q1", "q2", "q3")
	// The second night (day 1) ends with q3's stream at 04:00 + 2.55 h of
	// shifts: each host must be flagged within 24 h of it.
	end := at(1, 20+2.7*2+2.55)
	first := map[string]time.Time{}
	for _, a := range w.alerts {
		if a.Severity < SeverityMedium {
			continue
		}
		for _, e := range a.Entities {
			if _, ok := first[e.ID]; !ok && e.Kind == KindHost {
				first[e.ID] = a.At
			}
		}
	}
	for _, h := range []string{"q1", "q2", "q3"} {
		if d := first[h].Sub(end); first[h].IsZero() || d > 24*time.Hour {
			t.Errorf("%s flagged %v after the end of its second night, want within 24h", h, d)
		}
	}
	// Not on the first night: one night of shifts and one payout is not yet a rota.
	if at := first["q1"]; !at.After(at1End()) {
		t.Errorf("q1 flagged at %v, before its second night", at)
	}
}

func at1End() time.Time { return at(1, 12) }

// TestOlderPayerNotOnTheRota: the quiet ring is found, the old account that
// pays its operator most of its coins and follows its last shift is not
// named: some of its payouts are its own.
func TestOlderPayerNotOnTheRota(t *testing.T) {
	t.Parallel()
	w := runStory(t, "lookalike-older-host-pays-a-ring-now-and-then")
	oneAlertNaming(t, w, "q1", "q2", "q3")
	if s := w.flagged("o1"); s >= SeverityMedium {
		t.Errorf("o1 in a %s alert", s)
	}
}

// TestHandoverLinksOnlyNightHosts: an evening host's hand-over to a night
// host links nothing; a legitimate recruiter links nothing.
func TestHandoverLinksOnlyNightHosts(t *testing.T) {
	t.Parallel()
	for name, hosts := range map[string][2]string{
		"edge-handover-from-an-evening-host":         {"e1", "e2"},
		"edge-legit-agency-recruits-stay-apart":      {"r1", "r2"},
		"edge-stray-host-after-a-rings-last-shift":   {"r3", "x1"},
		"edge-one-handover-of-a-new-and-an-old-host": {"n1", "o2"},
		"edge-greeter-messages-two-rings":            {"b1", "d1"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			w := runStory(t, name)
			for _, a := range w.alerts {
				if slices.Contains(a.Entities, EntityRef{KindHost, hosts[0]}) && slices.Contains(a.Entities, EntityRef{KindHost, hosts[1]}) {
					t.Fatalf("alert %s names both %v: they were linked", a.ID, hosts)
				}
				if a.MergedInto != "" {
					t.Errorf("alert %s merged into %s", a.ID, a.MergedInto)
				}
			}
			for _, h := range hosts {
				if s := w.flagged(h); s < SeverityMedium {
					t.Errorf("%s flagged at %s, want its own alert", h, s)
				}
			}
		})
	}
}

func TestSparseLookalikesStayQuiet(t *testing.T) {
	t.Parallel()
	for name, hosts := range map[string][]string{
		"lookalike-family-business-payout-account": {"f1", "f2", "f3", "mom"},
		"lookalike-agency-hosts-follow-at-night":   {"k0", "k1", "k2", "agk"},
		"lookalike-siblings-device-link":           {"g1", "g2"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			assertNoAlert(t, runStory(t, name), hosts...)
		})
	}
}

// TestAgencyPostingLuresOnARota: the agency lookalike, but the agency posts
// a lure: the hosts it takes the coins of are one alert (by the lure; the
// hand-over rule leaves one's own agency alone).
func TestAgencyPostingLuresOnARota(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	sparseStories["lookalike-agency-hosts-follow-at-night"](w)
	w.post("agk", "ad", "Lowongan host live, kerja malam, gaji 5jt + bonus, disediakan kos. Cewek usia 17-22. DM aja", "", at(-1, 10))
	w.run()
	oneAlertNaming(t, w, "k0", "k1", "k2")
}

// TestNightly: a host is nightly from exactly schedule.min_night_share of
// its minutes at night.
func TestNightly(t *testing.T) {
	t.Parallel()
	e, _ := New(DefaultConfig())
	e.now = at(3, 12)
	h := &hostState{id: "h"}
	d := h.day(localDay(at(2, 22), e.defTZ), e.windowDays())
	d.minutes, d.nightMinutes = 60, 30
	if !e.nightly(h) {
		t.Error("30 of 60 minutes at night: nightly, want so at min_night_share 0.5")
	}
	d.nightMinutes = 29
	if e.nightly(h) {
		t.Error("29 of 60 minutes at night: not nightly")
	}
	if e.nightly(&hostState{id: "none"}) {
		t.Error("a host without minutes is not nightly")
	}
}

// TestLegitBeneficiaryOnARota: hosts who follow one another at night and pay
// an agency that recruits adults only (not the one they broadcast under):
// a legitimate beneficiary does not make a rota a ring.
func TestLegitBeneficiaryOnARota(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.post("agl", "bio", "Agency resmi host live. Kantor di Bandung. Rekrutmen terbuka untuk usia 21+.", "", at(-1, 10))
	nights(5, func(d int) {
		for i := 0; i < 3; i++ {
			id := string(rune('x' + i))
			w.broadcast(sparseHost(id, oldAcct(), 1990), at(d, 20+2.6*float64(i)), 2.45,
				streamOpt{gifts: 30, coins: 40, chats: []string{"lagu lagi kak"}, chatEvery: 30 * time.Minute})
			w.payout(id, "agl", 30000, "bank", at(d+1, 9+float64(i)/4))
		}
	})
	w.run()
	assertNoAlert(t, w, "x", "y", "z", "agl")
}

// TestUnrecruitedHostJoinsOnTheSecondNight: a host tied to a ring with an
// operator only by hand-overs joins its alert once the rota repeats.
func TestUnrecruitedHostJoinsOnTheSecondNight(t *testing.T) {
	t.Parallel()
	w := runStory(t, "edge-unrecruited-host-on-a-rings-rota")
	open := w.distinctAlerts()
	var ring Alert
	for _, a := range w.alerts {
		if _, ok := open[a.ID]; ok && slices.Contains(a.Entities, EntityRef{KindAccount, "rz"}) {
			ring = a
		}
	}
	for _, id := range []string{"u1", "u2", "u3"} {
		if !slices.Contains(ring.Entities, EntityRef{KindHost, id}) {
			t.Errorf("the ring's alert does not name %s: %v", id, ring.Entities)
		}
	}
	first := time.Time{}
	for _, a := range w.alerts {
		if slices.Contains(a.Entities, EntityRef{KindHost, "u3"}) && slices.Contains(a.Entities, EntityRef{KindAccount, "rz"}) {
			first = a.At
			break
		}
	}
	if first.Before(at(0, 12+12)) {
		t.Errorf("u3 joined the ring's alert at %v, on the first night: one chance hand-over joined a ring with its operator", first)
	}
}

// TestGreeterNamedInNoAlert: an account that messaged eight new accounts of
// which two turned hosts (recruitment.recruit_share) is not named, and the
// share's edge: half of them turned hosts makes it a recruiter.
func TestGreeterNamedInNoAlert(t *testing.T) {
	t.Parallel()
	w := runStory(t, "edge-greeter-messages-two-rings")
	for _, a := range w.alerts {
		if slices.Contains(a.Entities, EntityRef{KindAccount, "welcome"}) {
			t.Fatalf("alert %s names the greeter: %v", a.ID, a.Entities)
		}
	}
	rc := DefaultConfig().Recruitment
	links := func(n int) []acctLink { return make([]acctLink, n) }
	for _, c := range []struct {
		recruits, targets int
		want              bool
	}{{2, 8, false}, {2, 4, true}, {2, 5, false}, {1, 1, false}, {3, 3, true}} {
		a := &acctState{recruits: links(c.recruits), dmTargets: links(c.targets)}
		if got := rc.recruiter(a); got != c.want {
			t.Errorf("%d recruits of %d messaged: recruiter %v, want %v", c.recruits, c.targets, got, c.want)
		}
	}
}
