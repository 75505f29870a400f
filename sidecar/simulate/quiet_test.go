package simulate

import (
	"slices"
	"testing"
	"time"

	"github.com/ronda-watch/ronda/analyzer/event"
)

// TestQuietRings: with Options.Quiet every ring is on old accounts of adult
// age with no recruitment trail, its viewers seldom direct it, and every
// morning its coins go to the operator, the only labelled account.
func TestQuietRings(t *testing.T) {
	t.Parallel()
	o := Options{Seed: 7, Days: 5, Hosts: 60, Rings: 2, Quiet: true}
	evs, l, _ := collect(t, o)
	plan, err := PlanLabels(o)
	if err != nil || !slices.Equal(plan.PositiveAccounts, l.PositiveAccounts) {
		t.Fatalf("PlanLabels %v (%v), Generate %v", plan.PositiveAccounts, err, l.PositiveAccounts)
	}
	if len(l.PositiveAccounts) != 2 {
		t.Fatalf("positive accounts %v, want the two operators alone", l.PositiveAccounts)
	}
	ring := map[string]bool{}
	for _, h := range l.PositiveHosts {
		ring[h] = true
	}
	start := DefaultStart
	var payouts int
	payDays := map[string]map[int]bool{}
	started := map[string]bool{}
	for _, e := range evs {
		switch e.Type {
		case event.TypeStreamStart:
			started[e.HostID] = true
			if ring[e.HostID] {
				if e.Host == nil || e.Host.CreatedAt.After(start.AddDate(0, 0, -100)) {
					t.Fatalf("quiet ring host %s with a new account: %+v", e.HostID, e.Host)
				}
				if e.Host.BirthYear != 0 && start.Year()-e.Host.BirthYear < 18 {
					t.Fatalf("quiet ring host %s declares a minor's birth year", e.HostID)
				}
			}
		case event.TypePost, event.TypeLink:
			for _, a := range l.PositiveAccounts {
				if e.AccountID == a || e.FromID == a {
					t.Fatalf("a quiet ring's operator left a recruitment trail: %+v", e)
				}
			}
			// The recruiter is no labelled account in a quiet world, so its
			// trail shows only as DMs to a ring host before it first
			// broadcasts (viewers DM hosts they have watched).
			if (e.Kind == "dm" || e.Rel == "dm") && ring[e.ToID] && !started[e.ToID] {
				t.Fatalf("a DM to quiet ring host %s before it broadcast: %+v", e.ToID, e)
			}
			if e.Type == event.TypeLink && e.Rel == "agency" && ring[e.FromID] {
				t.Fatalf("a quiet ring host joined an agency: %+v", e)
			}
		case event.TypePayout:
			if ring[e.AccountID] {
				payouts++
				if !slices.Contains(l.PositiveAccounts, e.ToAccount) {
					t.Fatalf("ring payout to %s", e.ToAccount)
				}
				if payDays[e.AccountID] == nil {
					payDays[e.AccountID] = map[int]bool{}
				}
				payDays[e.AccountID][int(e.At.Sub(start)/(24*time.Hour))] = true
			}
		}
	}
	if payouts == 0 {
		t.Fatal("no ring payouts")
	}
	most := 0
	for _, days := range payDays {
		most = max(most, len(days))
	}
	if most < 4 {
		t.Errorf("the longest-serving host was paid out on %d days of 5, want every morning (a weekly payout would be 1)", most)
	}
}
