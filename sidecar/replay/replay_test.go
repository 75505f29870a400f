package replay

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/ronda-watch/ronda/analyzer"
	"github.com/ronda-watch/ronda/analyzer/backtest"
)

// input is a small world with one of every kind of trouble, one event a line.
var input = strings.Join([]string{
	/* 1 */ `{"type":"post","id":"e0","at":"2025-06-01T09:00:00Z","account_id":"a1","kind":"bio","text":"suka nyanyi"}`,
	/* 2 */ `{"type":"stream.start","id":"e1","at":"2025-06-01T10:00:00Z","stream_id":"s1","host_id":"h1","tz":"Asia/Jakarta"}`,
	/* 3 */ `{"type":"gift","id":"e2","at":"2025-06-01T10:05:00Z",`, // malformed
	/* 4 */ `{"type":"gift","id":"e3","at":"2025-06-01T10:05:00Z","stream_id":"s1","host_id":"h1","sender_id":"v1","coins":10}`,
	/* 5 */ `{"type":"gift","id":"e3","at":"2025-06-01T10:05:00Z","stream_id":"s1","host_id":"h1","sender_id":"v1","coins":10}`, // duplicate
	/* 6 */ `{"type":"sticker","id":"e4","at":"2025-06-01T10:06:00Z","stream_id":"s1"}`, // unknown type
	/* 7 */ ``,
	// 2m behind the newest: late in order, in time with 10m lateness.
	/* 8 */ `{"type":"chat","id":"e5","at":"2025-06-01T10:03:00Z","stream_id":"s1","sender_id":"v2","text":"halo kak"}`,
	// Before e0, which a 10m lateness has already released at e1: late either way.
	/* 9 */ `{"type":"chat","id":"e6","at":"2025-06-01T08:00:00Z","stream_id":"s1","sender_id":"v2","text":"lama"}`,
	/* 10 */ `{"type":"gift","id":"e7","at":"2025-06-01T10:07:00Z","stream_id":"s1","host_id":"h1","sender_id":"v1","coins":-5}`, // invalid
	/* 11 */ `{"type":"stream.end","id":"e8","at":"2025-06-01T10:30:00Z","stream_id":"s1"}`,
}, "\n") + "\n"

func writeInput(t *testing.T, gz bool) string {
	t.Helper()
	dir := t.TempDir()
	if !gz {
		path := filepath.Join(dir, "events.ndjson")
		if err := os.WriteFile(path, []byte(input), 0o644); err != nil {
			t.Fatal(err)
		}
		return path
	}
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	if _, err := zw.Write([]byte(input)); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "events.ndjson.gz")
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func readRejects(t *testing.T, path string) []reject {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var out []reject
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		var r reject
		dec := json.NewDecoder(bytes.NewReader(sc.Bytes()))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&r); err != nil {
			t.Fatalf("rejects line %q: %v", sc.Text(), err)
		}
		out = append(out, r)
	}
	return out
}

func TestRunCounts(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		gz       bool
		lateness time.Duration
		events   uint64
		late     []int // lines reported late
	}{
		{name: "plain in order", events: 4, late: []int{8, 9}},
		{name: "gzip in order", gz: true, events: 4, late: []int{8, 9}},
		{name: "plain with lateness", lateness: 10 * time.Minute, events: 5, late: []int{9}},
		{name: "gzip with lateness", gz: true, lateness: 10 * time.Minute, events: 5, late: []int{9}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			in := writeInput(t, tt.gz)
			dir := t.TempDir()
			opts := Options{
				In:       in,
				Out:      filepath.Join(dir, "alerts.ndjson"),
				Rejects:  filepath.Join(dir, "rejects.ndjson"),
				Lateness: tt.lateness,
			}
			s, err := Run(context.Background(), opts)
			if err != nil {
				t.Fatalf("Run() error = %v", err)
			}
			type counts struct{ Events, Lines, Rejected, Unknown, Duplicates, Late uint64 }
			want := counts{Events: tt.events, Lines: 11, Rejected: 2, Unknown: 1, Duplicates: 1, Late: uint64(len(tt.late))}
			got := counts{Events: s.Events, Lines: s.Lines, Rejected: s.Rejected, Unknown: s.Unknown, Duplicates: s.Duplicates, Late: s.Late}
			if got != want {
				t.Errorf("counts = %+v\nwant %+v", got, want)
			}
			if s.Interrupted || s.Backtest != nil {
				t.Errorf("Interrupted = %v, Backtest = %v; want false, nil", s.Interrupted, s.Backtest)
			}

			rj := readRejects(t, opts.Rejects)
			var lines []int
			for _, r := range rj {
				lines = append(lines, r.Line)
				if r.Reason == "" {
					t.Errorf("reject %+v has no reason", r)
				}
			}
			wantLines := append([]int{3}, tt.late...)
			wantLines = append(wantLines, 10)
			if !reflect.DeepEqual(lines, wantLines) {
				t.Fatalf("rejected lines = %v; want %v (unknown types are not rejects)", lines, wantLines)
			}
			for _, r := range rj {
				switch r.Line {
				case 8, 9:
					if r.Field != "at" || !strings.HasPrefix(r.Reason, "late") || r.ID != map[int]string{8: "e5", 9: "e6"}[r.Line] {
						t.Errorf("late reject = %+v", r)
					}
				case 10:
					if r.Field != "coins" || r.ID != "e7" {
						t.Errorf("invalid gift reject = %+v; want field coins, id e7", r)
					}
				}
			}
			checkAlertsFile(t, opts.Out, s.AlertVersions)
		})
	}
}

// checkAlertsFile checks that path holds n alerts, one valid contract alert a line.
func checkAlertsFile(t *testing.T, path string, n int) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := 0
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		lines++
		var a struct {
			ID       string             `json:"id"`
			At       time.Time          `json:"at"`
			Severity analyzer.Severity  `json:"severity"`
			Subject  analyzer.EntityRef `json:"subject"`
		}
		if err := json.Unmarshal(sc.Bytes(), &a); err != nil {
			t.Fatalf("alerts line %d: %v", lines, err)
		}
		if a.ID == "" || a.At.IsZero() || a.Severity == analyzer.SeverityNone || a.Subject.ID == "" {
			t.Errorf("alerts line %d is incomplete: %s", lines, sc.Text())
		}
	}
	if lines != n {
		t.Errorf("alerts file has %d lines; want %d (AlertVersions)", lines, n)
	}
}

func TestRunSinkSeesEveryVersion(t *testing.T) {
	t.Parallel()
	in := writeInput(t, false)
	var got []analyzer.Alert
	s, err := Run(context.Background(), Options{In: in, Sink: func(a analyzer.Alert) { got = append(got, a) }})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != s.AlertVersions {
		t.Errorf("Sink called %d times; want AlertVersions = %d", len(got), s.AlertVersions)
	}
	distinct := map[string]bool{}
	for _, a := range got {
		distinct[a.ID] = true
	}
	total := 0
	for _, n := range s.AlertsBySeverity {
		total += n
	}
	if total != len(distinct) {
		t.Errorf("AlertsBySeverity counts %d alerts; Sink saw %d distinct ids", total, len(distinct))
	}
}

func TestRunBacktest(t *testing.T) {
	t.Parallel()
	in := writeInput(t, false)
	labels := filepath.Join(t.TempDir(), "labels.json")
	if err := os.WriteFile(labels, []byte(`{"positive_hosts":["h1"],"positive_accounts":["v1"]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := Run(context.Background(), Options{In: in, Labels: labels})
	if err != nil {
		t.Fatal(err)
	}
	if s.Backtest == nil {
		t.Fatal("Backtest = nil with labels")
	}
	if s.Backtest.Streams != 1 {
		t.Errorf("Backtest.Streams = %d; want 1", s.Backtest.Streams)
	}
	if n := s.Backtest.HostTP + s.Backtest.HostFN; n != 1 {
		t.Errorf("positive hosts scored = %d; want 1", n)
	}
	var out bytes.Buffer
	s.Write(&out)
	for _, want := range []string{"events    4 analysed of 11 lines", "backtest", "hosts     recall", "accounts  recall", "alerts per 1,000 streams", "goals"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("summary lacks %q:\n%s", want, out.String())
		}
	}
}

func TestRunErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	badLabels := filepath.Join(dir, "labels.json")
	if err := os.WriteFile(badLabels, []byte(`{"positive_hosts":[""]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	in := writeInput(t, false)
	tests := []struct {
		name string
		opts Options
		want string
	}{
		{"no input", Options{}, "no input file"},
		{"missing input", Options{In: filepath.Join(dir, "nope.ndjson")}, "nope.ndjson"},
		{"negative lateness", Options{In: in, Lateness: -time.Second}, "lateness"},
		{"both to stdout", Options{In: in, Out: "-", Rejects: "-"}, "stdout"},
		{"missing labels", Options{In: in, Labels: filepath.Join(dir, "none.json")}, "none.json"},
		{"bad labels", Options{In: in, Labels: badLabels}, "empty id"},
		{"unwritable alerts", Options{In: in, Out: filepath.Join(dir, "no", "such", "dir", "a.ndjson")}, "create alerts file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := Run(context.Background(), tt.opts)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Run() error = %v; want it to mention %q", err, tt.want)
			}
		})
	}
}

func TestRunTruncatedGzip(t *testing.T) {
	t.Parallel()
	full, err := os.ReadFile(writeInput(t, true))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "cut.ndjson.gz")
	if err := os.WriteFile(path, full[:len(full)-6], 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "alerts.ndjson")
	s, err := Run(context.Background(), Options{In: path, Out: out})
	if err == nil || !strings.Contains(err.Error(), path) {
		t.Fatalf("Run() error = %v; want a read error naming %s", err, path)
	}
	if s.Lines == 0 {
		t.Errorf("Lines = 0; want the lines before the damage counted")
	}
	checkAlertsFile(t, out, s.AlertVersions)
}

func TestRunCancelled(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	out := filepath.Join(t.TempDir(), "alerts.ndjson")
	s, err := Run(ctx, Options{In: writeInput(t, false), Out: out})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("Run() error = %v; want context.Canceled", err)
	}
	if !s.Interrupted || s.Events != 0 {
		t.Errorf("Interrupted = %v, Events = %d; want true, 0", s.Interrupted, s.Events)
	}
	if _, err := os.Stat(out); err != nil {
		t.Errorf("alerts file: %v", err)
	}
	var b bytes.Buffer
	s.Write(&b)
	if !strings.HasPrefix(b.String(), "interrupted") {
		t.Errorf("summary does not say it was interrupted:\n%s", b.String())
	}
}

func TestRunProgressAndClock(t *testing.T) {
	t.Parallel()
	clock := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	now := func() time.Time { clock = clock.Add(time.Second); return clock }
	var progress bytes.Buffer
	s, err := Run(context.Background(), Options{In: writeInput(t, true), Progress: &progress, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	// The clock is read at the start, at the first progress check, for the final
	// line and at the end.
	if s.Elapsed <= 0 || s.EventsPerSec != float64(s.Events)/s.Elapsed.Seconds() {
		t.Errorf("Elapsed = %v, EventsPerSec = %v", s.Elapsed, s.EventsPerSec)
	}
	if want := "replay 100.0%  4 events"; !strings.Contains(progress.String(), want) {
		t.Errorf("progress = %q; want it to contain %q", progress.String(), want)
	}
	if strings.Contains(progress.String(), "\r") {
		t.Errorf("progress to a non-terminal uses \\r: %q", progress.String())
	}
}

func TestSummaryWrite(t *testing.T) {
	t.Parallel()
	rep := backtest.Report{
		HostRecall: 0.5, HostPrecision: 1, AccountRecall: 1, AccountPrecision: 1,
		HostTP: 1, HostFN: 1, AccountTP: 1, MissedHosts: []string{"h2"},
		DelayHours: []float64{5}, MedianDelayHours: 5, MaxDelayHours: 5,
		Alerts: 3, AlertsMedium: 1, Streams: 1200, AlertsPer1000Streams: 2.5,
	}
	s := Summary{
		Events: 1234567, Lines: 1234600, Rejected: 12, Unknown: 3, Duplicates: 2, Late: 1,
		Elapsed: 2 * time.Second, EventsPerSec: 617283.5,
		AlertsBySeverity: map[string]int{"high": 1, "low": 2}, AlertVersions: 7,
		Backtest: &rep,
		Engine:   analyzer.Stats{Events: 1234567, Streams: 3, Hosts: 2, Accounts: 1500, Places: 7, Evicted: 9000},
	}
	var b bytes.Buffer
	s.Write(&b)
	for _, want := range []string{
		"events    1,234,567 analysed of 1,234,600 lines in 2s (617,283 events/s)",
		"skipped   12 rejected, 3 unknown type, 2 duplicate, 1 late",
		"alerts    3 (high 1, low 2) in 7 versions",
		"engine    1,512 live entities (2 hosts, 1,500 accounts, 3 streams, 7 places), 9,000 evicted",
		"hosts     recall 0.50 (1 of 2)  precision 1.00 (1 of 1 flagged)",
		"delay     median 5.0 h, max 5.0 h",
		"load      2.5 alerts per 1,000 streams (3 alerts, 1 at medium+, over 1,200 streams)",
		"missed hosts         h2",
		"goals     FAIL host recall 0.50 below 1.00 (missed h2)",
	} {
		if !strings.Contains(b.String(), want) {
			t.Errorf("summary lacks %q:\n%s", want, b.String())
		}
	}
	if strings.Contains(b.String(), "all met") {
		t.Errorf("summary says all goals met:\n%s", b.String())
	}
}

func TestThousands(t *testing.T) {
	t.Parallel()
	for in, want := range map[uint64]string{0: "0", 999: "999", 1000: "1,000", 123456: "123,456", 1234567: "1,234,567"} {
		if got := thousands(in); got != want {
			t.Errorf("thousands(%d) = %q; want %q", in, got, want)
		}
	}
}
