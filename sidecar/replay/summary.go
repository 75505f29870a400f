package replay

import (
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/ronda-watch/ronda/analyzer"
	"github.com/ronda-watch/ronda/analyzer/backtest"
)

// Write prints the summary for a person: throughput, what was not analysed, alerts by
// severity and, with labels, the backtest figures with every missed goal of
// backtest.IssueGoals marked FAIL.
func (s Summary) Write(w io.Writer) {
	if s.Interrupted {
		fmt.Fprintln(w, "interrupted: the figures cover the input read until then")
	}
	fmt.Fprintf(w, "events    %s analysed of %s lines in %s (%s events/s)\n",
		thousands(s.Events), thousands(s.Lines), roundDuration(s.Elapsed), thousands(uint64(s.EventsPerSec)))
	fmt.Fprintf(w, "skipped   %s rejected, %s unknown type, %s duplicate, %s late\n",
		thousands(s.Rejected), thousands(s.Unknown), thousands(s.Duplicates), thousands(s.Late))

	total := 0
	var bySev []string
	for _, sev := range []analyzer.Severity{analyzer.SeverityCritical, analyzer.SeverityHigh,
		analyzer.SeverityMedium, analyzer.SeverityLow, analyzer.SeverityNone} {
		if n := s.AlertsBySeverity[sev.String()]; n > 0 {
			total += n
			bySev = append(bySev, fmt.Sprintf("%s %d", sev, n))
		}
	}
	fmt.Fprintf(w, "alerts    %d", total)
	if len(bySev) > 0 {
		fmt.Fprintf(w, " (%s)", strings.Join(bySev, ", "))
	}
	fmt.Fprintf(w, " in %d versions\n", s.AlertVersions)
	if e := s.Engine; e.Events > 0 {
		fmt.Fprintf(w, "engine    %s live entities (%s hosts, %s accounts, %s streams, %s places), %s evicted\n",
			thousands(uint64(e.LiveEntities())), thousands(uint64(e.Hosts)), thousands(uint64(e.Accounts)),
			thousands(uint64(e.Streams)), thousands(uint64(e.Places)), thousands(e.Evicted))
	}
	if s.PeakHeap > 0 {
		fmt.Fprintf(w, "memory    peak heap %.1f MiB while replaying\n", float64(s.PeakHeap)/(1<<20))
	}

	if s.Backtest != nil {
		writeBacktest(w, *s.Backtest)
	}
}

func writeBacktest(w io.Writer, r backtest.Report) {
	fmt.Fprintln(w, "backtest")
	fmt.Fprintf(w, "  hosts     recall %.2f (%d of %d)  precision %.2f (%d of %d flagged)\n",
		r.HostRecall, r.HostTP, r.HostTP+r.HostFN, r.HostPrecision, r.HostTP, r.HostTP+r.HostFP)
	fmt.Fprintf(w, "  accounts  recall %.2f (%d of %d)  precision %.2f (%d of %d flagged)\n",
		r.AccountRecall, r.AccountTP, r.AccountTP+r.AccountFN, r.AccountPrecision, r.AccountTP, r.AccountTP+r.AccountFP)
	if len(r.DelayHours) > 0 {
		fmt.Fprintf(w, "  delay     median %.1f h, max %.1f h from first broadcast to first medium+ alert (%d hosts)\n",
			r.MedianDelayHours, r.MaxDelayHours, len(r.DelayHours))
	} else {
		fmt.Fprintln(w, "  delay     no positive host flagged")
	}
	if len(r.SecondNightDelayHours) > 0 {
		fmt.Fprintf(w, "  2nd night median %.1f h, max %.1f h from the end of a host's second night to its first medium+ alert (%d hosts; max %.1f h from its start)\n",
			r.MedianSecondNightDelayHours, r.MaxSecondNightDelayHours, len(r.SecondNightDelayHours), r.MaxSecondNightStartDelayHours)
	}
	if len(r.Rings) > 0 {
		fmt.Fprintf(w, "  rings     %d; alerts per ring mean %.2f, max %d (%v)\n",
			len(r.Rings), r.MeanAlertsPerRing, r.MaxAlertsPerRing, r.AlertsPerRing)
	}
	fmt.Fprintf(w, "  load      %.1f alerts per 1,000 streams (%d alerts, %d at medium+, over %s streams)\n",
		r.AlertsPer1000Streams, r.Alerts, r.AlertsMedium, thousands(uint64(r.Streams)))
	for _, l := range []struct {
		name string
		ids  []string
	}{
		{"missed hosts", r.MissedHosts},
		{"missed accounts", r.MissedAccounts},
		{"false hosts", r.FalseHosts},
		{"false accounts", r.FalseAccounts},
		{"benign hosts at high", r.BenignHostsAtHigh},
	} {
		if len(l.ids) > 0 {
			fmt.Fprintf(w, "  %-20s %s\n", l.name, strings.Join(l.ids, " "))
		}
	}
	fails := r.Check(backtest.IssueGoals())
	if len(fails) == 0 {
		fmt.Fprintln(w, "goals     all met")
	}
	for _, f := range fails {
		fmt.Fprintf(w, "goals     FAIL %s\n", f)
	}
	fails = r.Check(backtest.RingGoals())
	if len(fails) == 0 {
		fmt.Fprintln(w, "ring goals all met (precision and recall 0.95, 24 h after the second night, one alert per ring)")
	}
	for _, f := range fails {
		fmt.Fprintf(w, "ring goals FAIL %s\n", f)
	}
}

// roundDuration keeps three significant figures or so: "1.234s", "12ms", "250µs".
func roundDuration(d time.Duration) time.Duration {
	switch {
	case d >= time.Second:
		return d.Round(time.Millisecond)
	case d >= time.Millisecond:
		return d.Round(10 * time.Microsecond)
	default:
		return d.Round(time.Microsecond)
	}
}
