package backtest

import (
	"reflect"
	"testing"

	"github.com/ronda-watch/ronda/analyzer"
	"github.com/ronda-watch/ronda/analyzer/event"
)

func payout(h float64, from, to string) step {
	return step{ev: &event.Event{Type: event.TypePayout, At: at(h), AccountID: from, ToAccount: to, Coins: 5}}
}

func dm(h float64, from, to string) step {
	return step{ev: &event.Event{Type: event.TypeLink, At: at(h), FromID: from, ToID: to, Rel: "dm"}}
}

// TestRings: positive hosts tied through positive accounts make one ring;
// alerts per ring counts distinct medium+ alerts naming a ring's hosts; the
// second night counts from the host's first stream of its second local night.
func TestRings(t *testing.T) {
	t.Parallel()
	l := Labels{PositiveHosts: []string{"h1", "h2", "h3", "h4"}, PositiveAccounts: []string{"op", "rec"}}
	steps := []step{
		dm(-10, "rec", "h1"), dm(-9, "rec", "h2"), payout(-8, "h2", "op"), payout(-8, "h3", "op"),
		payout(-8, "h4", "someone"), // a benign beneficiary ties nothing
		start(20, "h1"), start(20.5, "h2"), start(21, "h3"), start(21, "h4"),
		start(44, "h1"),     // second night of h1: 24 h later
		gift(47, "h1", "v"), // its last event that night
		alert("a1", 22, analyzer.SeverityMedium, host("h1"), host("h2")),
		alert("a2", 23, analyzer.SeverityHigh, host("h3")),
		alert("lo", 23, analyzer.SeverityLow, host("h4")),
		alert("a3", 50, analyzer.SeverityHigh, host("h4")),
	}
	r := run(l, steps)
	if want := [][]string{{"h1", "h2", "h3"}, {"h4"}}; !reflect.DeepEqual(r.Rings, want) {
		t.Errorf("rings %v, want %v", r.Rings, want)
	}
	if want := []int{2, 1}; !reflect.DeepEqual(r.AlertsPerRing, want) || r.MaxAlertsPerRing != 2 || r.MeanAlertsPerRing != 1.5 {
		t.Errorf("alerts per ring %v (mean %v, max %v), want %v", r.AlertsPerRing, r.MeanAlertsPerRing, r.MaxAlertsPerRing, want)
	}
	// h1 was flagged at 22, its second night began at 44 and ended at 47.
	if want := []float64{-25}; !reflect.DeepEqual(r.SecondNightDelayHours, want) || r.MaxSecondNightStartDelayHours != -22 {
		t.Errorf("second-night delays %v (from its start %v), want %v", r.SecondNightDelayHours, r.MaxSecondNightStartDelayHours, want)
	}
}

// TestSecondNightUnflagged: a host never flagged counts to the input's end.
func TestSecondNightUnflagged(t *testing.T) {
	t.Parallel()
	r := run(Labels{PositiveHosts: []string{"h1"}}, []step{start(20, "h1"), start(44, "h1"), gift(80, "h2", "v")})
	if want := []float64{36}; !reflect.DeepEqual(r.SecondNightDelayHours, want) || r.MaxSecondNightDelayHours != 36 {
		t.Errorf("second-night delays %v, want %v", r.SecondNightDelayHours, want)
	}
}
