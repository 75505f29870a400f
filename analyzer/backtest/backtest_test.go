package backtest

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/ronda-watch/ronda/analyzer"
	"github.com/ronda-watch/ronda/analyzer/event"
)

var t0 = time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)

// at is hours after t0.
func at(h float64) time.Time { return t0.Add(time.Duration(h * float64(time.Hour))) }

// step is one thing fed to the Tracker, in order: an event or an alert.
type step struct {
	ev    *event.Event
	alert *analyzer.Alert
}

func start(h float64, host string) step {
	return step{ev: &event.Event{Type: event.TypeStreamStart, TypeName: "stream.start", ID: "e-" + host, At: at(h), StreamID: "s-" + host, HostID: host}}
}

func gift(h float64, host, sender string) step {
	return step{ev: &event.Event{Type: event.TypeGift, TypeName: "gift", At: at(h), StreamID: "s-" + host, HostID: host, SenderID: sender, Coins: 10}}
}

func host(id string) analyzer.EntityRef { return analyzer.EntityRef{Kind: analyzer.KindHost, ID: id} }
func account(id string) analyzer.EntityRef {
	return analyzer.EntityRef{Kind: analyzer.KindAccount, ID: id}
}
func device(id string) analyzer.EntityRef {
	return analyzer.EntityRef{Kind: analyzer.KindDevice, ID: id}
}

func alert(id string, h float64, sev analyzer.Severity, subject analyzer.EntityRef, entities ...analyzer.EntityRef) step {
	return step{alert: &analyzer.Alert{ID: id, At: at(h), Severity: sev, Subject: subject, Entities: entities}}
}

func run(l Labels, steps []step) Report {
	t := NewTracker(l)
	for _, s := range steps {
		if s.ev != nil {
			t.Event(s.ev)
		}
		if s.alert != nil {
			t.Alert(*s.alert)
		}
	}
	return t.Report()
}

func TestReport(t *testing.T) {
	t.Parallel()
	labels := Labels{PositiveHosts: []string{"h1", "h2"}, PositiveAccounts: []string{"op"}}
	tests := []struct {
		name   string
		labels Labels
		steps  []step
		want   Report
	}{
		{
			name:   "nothing flagged",
			labels: labels,
			steps:  []step{start(0, "h1"), start(1, "h2"), start(2, "b1"), alert("a1", 3, analyzer.SeverityLow, host("h1"))},
			want: Report{
				HostRecall: 0, HostPrecision: 1, AccountRecall: 0, AccountPrecision: 1,
				HostFN: 2, AccountFN: 1,
				MissedHosts: []string{"h1", "h2"}, MissedAccounts: []string{"op"},
				Alerts: 1, Streams: 3, AlertsPer1000Streams: 1000.0 / 3,
			},
		},
		{
			name:   "ring found in one alert through entities",
			labels: labels,
			steps: []step{
				start(0, "h1"), start(10, "h2"), start(10, "b1"), start(11, "h1"),
				alert("ring", 20, analyzer.SeverityMedium, host("h1"), host("h2"), account("op"), device("d1")),
			},
			want: Report{
				HostRecall: 1, HostPrecision: 1, AccountRecall: 1, AccountPrecision: 1,
				HostTP: 2, AccountTP: 1,
				DelayHours: []float64{20, 10}, MedianDelayHours: 15, MaxDelayHours: 20,
				Alerts: 1, AlertsMedium: 1, Streams: 4, AlertsPer1000Streams: 250,
			},
		},
		{
			name:   "delay counts from the first medium version, not the low one",
			labels: Labels{PositiveHosts: []string{"h1"}},
			steps: []step{
				start(0, "h1"),
				alert("a", 2, analyzer.SeverityLow, host("h1")),
				alert("a", 30, analyzer.SeverityMedium, host("h1")),
				alert("a", 40, analyzer.SeverityHigh, host("h1")),
			},
			want: Report{
				HostRecall: 1, HostPrecision: 1, AccountRecall: 1, AccountPrecision: 1,
				HostTP: 1, DelayHours: []float64{30}, MedianDelayHours: 30, MaxDelayHours: 30,
				Alerts: 1, AlertsMedium: 1, Streams: 1, AlertsPer1000Streams: 1000,
			},
		},
		{
			name:   "labelled id matches whatever the entity kind",
			labels: Labels{PositiveHosts: []string{"h1"}, PositiveAccounts: []string{"op"}},
			steps: []step{
				start(0, "h1"),
				alert("a", 5, analyzer.SeverityMedium, account("h1"), analyzer.EntityRef{Kind: analyzer.KindStream, ID: "op"}),
			},
			want: Report{
				HostRecall: 1, HostPrecision: 1, AccountRecall: 1, AccountPrecision: 1,
				HostTP: 1, AccountTP: 1, DelayHours: []float64{5}, MedianDelayHours: 5, MaxDelayHours: 5,
				Alerts: 1, AlertsMedium: 1, Streams: 1, AlertsPer1000Streams: 1000,
			},
		},
		{
			name:   "false hosts and accounts split by who broadcast; devices not scored",
			labels: labels,
			steps: []step{
				start(0, "h1"), start(0, "h2"), start(0, "b1"), start(0, "b2"), gift(1, "b1", "v1"),
				alert("x", 3, analyzer.SeverityMedium, host("h1"), host("h2"), account("b1"), account("v1"), device("d1")),
				alert("y", 4, analyzer.SeverityMedium, account("op")),
				// b2 broadcast, so it is scored as a host whatever kind the alert gives it.
				alert("z", 5, analyzer.SeverityMedium, account("b2")),
			},
			want: Report{
				HostRecall: 1, HostPrecision: 0.5, AccountRecall: 1, AccountPrecision: 0.5,
				HostTP: 2, HostFP: 2, AccountTP: 1, AccountFP: 1,
				FalseHosts: []string{"b1", "b2"}, FalseAccounts: []string{"v1"},
				DelayHours: []float64{3, 3}, MedianDelayHours: 3, MaxDelayHours: 3,
				Alerts: 3, AlertsMedium: 3, Streams: 4, AlertsPer1000Streams: 750,
			},
		},
		{
			name:   "benign host at high; benign account at high is not a host",
			labels: labels,
			steps: []step{
				start(0, "h1"), start(0, "h2"), start(0, "b1"),
				alert("x", 1, analyzer.SeverityHigh, host("h1"), host("h2"), account("op"), host("b1"), account("v1")),
			},
			want: Report{
				HostRecall: 1, HostPrecision: 2.0 / 3, AccountRecall: 1, AccountPrecision: 0.5,
				HostTP: 2, HostFP: 1, AccountTP: 1, AccountFP: 1,
				FalseHosts: []string{"b1"}, FalseAccounts: []string{"v1"}, BenignHostsAtHigh: []string{"b1"},
				DelayHours: []float64{1, 1}, MedianDelayHours: 1, MaxDelayHours: 1,
				Alerts: 1, AlertsMedium: 1, Streams: 3, AlertsPer1000Streams: 1000.0 / 3,
			},
		},
		{
			name:   "flagged before first broadcast gives a negative delay; never broadcast gives none",
			labels: Labels{PositiveHosts: []string{"h1", "h9"}},
			steps: []step{
				alert("rec", 0, analyzer.SeverityMedium, account("h1"), account("h9")),
				start(6, "h1"),
			},
			want: Report{
				HostRecall: 1, HostPrecision: 1, AccountRecall: 1, AccountPrecision: 1,
				HostTP: 2, DelayHours: []float64{-6}, MedianDelayHours: -6, MaxDelayHours: -6,
				Alerts: 1, AlertsMedium: 1, Streams: 1, AlertsPer1000Streams: 1000,
			},
		},
		{
			name:   "alerts counted once per id; the earliest first broadcast wins",
			labels: Labels{PositiveHosts: []string{"h1"}},
			steps: []step{
				start(10, "h1"), start(4, "h1"), start(12, "b1"),
				alert("a", 30, analyzer.SeverityLow, host("b1")),
				alert("a", 31, analyzer.SeverityLow, host("b1")),
				alert("b", 28, analyzer.SeverityCritical, host("h1")),
				alert("b", 29, analyzer.SeverityCritical, host("h1")),
			},
			want: Report{
				HostRecall: 1, HostPrecision: 1, AccountRecall: 1, AccountPrecision: 1,
				HostTP: 1, DelayHours: []float64{24}, MedianDelayHours: 24, MaxDelayHours: 24,
				Alerts: 2, AlertsMedium: 1, Streams: 3, AlertsPer1000Streams: 2000.0 / 3,
			},
		},
		{
			name:   "no labels no streams",
			labels: Labels{},
			steps:  nil,
			want:   Report{HostRecall: 1, HostPrecision: 1, AccountRecall: 1, AccountPrecision: 1},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := run(tt.labels, tt.steps)
			// Rings and second nights have their own test (TestRings).
			got.Rings, got.AlertsPerRing, got.MeanAlertsPerRing, got.MaxAlertsPerRing = nil, nil, 0, 0
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Report()\n got %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestMedianMax(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		in          []float64
		median, max float64
	}{
		{"empty", nil, 0, 0},
		{"one", []float64{3}, 3, 3},
		{"odd unsorted", []float64{9, 1, 5}, 5, 9},
		{"even", []float64{4, 1, 10, 2}, 3, 10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			m, x := medianMax(tt.in)
			if m != tt.median || x != tt.max {
				t.Errorf("medianMax(%v) = %v, %v; want %v, %v", tt.in, m, x, tt.median, tt.max)
			}
		})
	}
}

func TestCheck(t *testing.T) {
	t.Parallel()
	good := Report{
		HostRecall: 1, HostPrecision: 0.9, AccountRecall: 1, AccountPrecision: 0.2,
		MedianDelayHours: 24, AlertsPer1000Streams: 5,
	}
	tests := []struct {
		name  string
		r     Report
		goals Goals
		want  []string // substrings, one per failure, in order
	}{
		{"exactly at the goals passes", good, IssueGoals(), nil},
		{
			name: "every goal missed",
			r: Report{
				HostRecall: 0.5, HostPrecision: 0.5, AccountRecall: 0.75, MedianDelayHours: 30,
				AlertsPer1000Streams: 7.5, MissedHosts: []string{"h2"}, MissedAccounts: []string{"op"},
				FalseHosts: []string{"b1"}, BenignHostsAtHigh: []string{"b1"},
			},
			goals: IssueGoals(),
			want: []string{
				"host recall 0.50 below 1.00 (missed h2)",
				"account recall 0.75 below 1.00 (missed op)",
				"host precision 0.50 below 0.90 (false b1)",
				"median delay 30.0 h above 24.0 h",
				"7.5 alerts per 1,000 streams above 5.0",
				"benign hosts at high or above: b1",
			},
		},
		{
			name:  "zero goals check nothing",
			r:     Report{MedianDelayHours: 1000, AlertsPer1000Streams: 1000, BenignHostsAtHigh: []string{"b"}},
			goals: Goals{},
			want:  nil,
		},
		{
			name:  "long lists are shortened",
			r:     Report{HostRecall: 0, MissedHosts: strings.Fields("a b c d e f g h i j k l")},
			goals: Goals{MinHostRecall: 1},
			want:  []string{"missed a, b, c, d, e, f, g, h, i, j and 2 more"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := tt.r.Check(tt.goals)
			if len(got) != len(tt.want) {
				t.Fatalf("Check() = %q; want %d failures", got, len(tt.want))
			}
			for i := range got {
				if !strings.Contains(got[i], tt.want[i]) {
					t.Errorf("failure %d = %q; want it to contain %q", i, got[i], tt.want[i])
				}
			}
		})
	}
}

func TestParseLabels(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		in      string
		want    Labels
		wantErr string
	}{
		{"scenario file", `{"positive_hosts":["h1","h2"],"positive_accounts":["a1"]}`,
			Labels{PositiveHosts: []string{"h1", "h2"}, PositiveAccounts: []string{"a1"}}, ""},
		{"unknown fields allowed", `{"positive_hosts":["h1"],"notes":"ring A"}`, Labels{PositiveHosts: []string{"h1"}}, ""},
		{"empty object", `{}`, Labels{}, ""},
		{"empty input", "  \n", Labels{}, "empty input"},
		{"not json", `positive_hosts: [h1]`, Labels{}, "parse labels"},
		{"wrong type", `{"positive_hosts":"h1"}`, Labels{}, "parse labels"},
		{"empty id", `{"positive_hosts":[""]}`, Labels{}, "positive_hosts: empty id"},
		{"repeated id", `{"positive_accounts":["a","a"]}`, Labels{}, `positive_accounts: "a" listed twice`},
		{"in both lists", `{"positive_hosts":["x"],"positive_accounts":["x"]}`, Labels{}, `"x" is in both positive_hosts and positive_accounts`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := ParseLabels([]byte(tt.in))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseLabels() error = %v; want it to contain %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseLabels() error = %v", err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ParseLabels() = %+v; want %+v", got, tt.want)
			}
		})
	}
}
