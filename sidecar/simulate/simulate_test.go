package simulate

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ronda-watch/ronda/analyzer/event"
)

// collect generates a world and keeps its events.
func collect(t testing.TB, o Options) ([]*event.Event, Labels, Stats) {
	t.Helper()
	var evs []*event.Event
	l, st, err := Generate(context.Background(), o, func(e *event.Event) error {
		evs = append(evs, e)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return evs, l, st
}

func hashWorld(t *testing.T, o Options, gz bool) [32]byte {
	t.Helper()
	h := sha256.New()
	if _, _, err := WriteNDJSON(context.Background(), o, h, gz); err != nil {
		t.Fatal(err)
	}
	var out [32]byte
	h.Sum(out[:0])
	return out
}

func TestDeterminism(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		o    Options
		gz   bool
	}{
		{"id", Options{Seed: 7, Hosts: 60, Rings: 4, Days: 3}, false},
		{"ph gzip", Options{Seed: 7, Hosts: 60, Rings: 2, Days: 3, Region: "ph"}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			a, b := hashWorld(t, tc.o, tc.gz), hashWorld(t, tc.o, tc.gz)
			if a != b {
				t.Fatal("same options gave different bytes")
			}
			o := tc.o
			o.Seed++
			if hashWorld(t, o, tc.gz) == a {
				t.Fatal("another seed gave the same bytes")
			}
		})
	}
}

// required lists the contract's required fields per type (EVENTS.md).
var required = map[string][]string{
	"stream.start":     {"stream_id", "host_id"},
	"stream.heartbeat": {"stream_id"},
	"stream.end":       {"stream_id"},
	"gift":             {"stream_id", "host_id", "sender_id", "coins"},
	"chat":             {"stream_id", "sender_id", "text"},
	"post":             {"account_id", "kind", "text"},
	"link":             {"from_id", "to_id", "rel"},
	"payout":           {"account_id", "to_account", "coins"},
	"signal":           {"source", "label", "score"},
}

var enums = map[string][]string{
	"kind": {"post", "ad", "bio", "comment", "dm"},
	"rel":  {"dm", "follow", "agency", "referral", "device"},
	// The contract's methods, and the Philippine rails of the README's
	// compatible extension of payout.method (texts.go, region.rails).
	"method": {"bank", "ewallet", "atm", "pulsa", "crypto", "GCash", "Maya", "Palawan Express", "Cebuana Lhuillier", "M Lhuillier"},
}

// TestContract checks every event of whole worlds against the contract, and
// the fast encoder against encoding/json.
func TestContract(t *testing.T) {
	t.Parallel()
	for _, o := range []Options{
		{Seed: 1},
		{Seed: 2, Hosts: 80, Rings: 4, Days: 5, Region: "ph"},
		{Seed: 3, Hosts: 3, Rings: 1, Days: 1},
	} {
		t.Run(o.Region+"/"+itoa(int(o.Seed)), func(t *testing.T) {
			t.Parallel()
			evs, _, st := collect(t, o)
			if st.Events != uint64(len(evs)) || len(evs) == 0 {
				t.Fatalf("stats %d events, got %d", st.Events, len(evs))
			}
			var tc timeCache
			seen := make(map[string]bool, len(evs))
			streams := map[string]bool{}
			var prev time.Time
			for i, e := range evs {
				line := tc.appendEvent(nil, e)
				want, err := json.Marshal(e)
				if err != nil {
					t.Fatal(err)
				}
				if !bytes.Equal(line, want) {
					t.Fatalf("event %d: encoder wrote\n%s\nencoding/json writes\n%s", i, line, want)
				}
				checkEvent(t, line)
				if e.At.Before(prev) {
					t.Fatalf("event %d at %v before %v", i, e.At, prev)
				}
				prev = e.At
				if seen[e.ID] {
					t.Fatalf("duplicate event id %s", e.ID)
				}
				seen[e.ID] = true
				switch e.Type {
				case event.TypeStreamStart:
					if streams[e.StreamID] {
						t.Fatalf("stream id %s started twice", e.StreamID)
					}
					streams[e.StreamID] = true
				case event.TypeStreamHeartbeat, event.TypeStreamEnd, event.TypeGift, event.TypeChat:
					if !streams[e.StreamID] {
						t.Fatalf("event %d on stream %s before its start", i, e.StreamID)
					}
				}
			}
		})
	}
}

// checkEvent decodes one line as a receiver would and applies the contract's rules.
func checkEvent(t *testing.T, line []byte) {
	t.Helper()
	if len(line) > event.MaxEventBytes {
		t.Fatalf("event of %d bytes: %s", len(line), line)
	}
	var m map[string]any
	if err := json.Unmarshal(line, &m); err != nil {
		t.Fatalf("invalid JSON %s: %v", line, err)
	}
	typ, _ := m["type"].(string)
	at, _ := m["at"].(string)
	if _, err := time.Parse(time.RFC3339, at); err != nil || !strings.HasSuffix(at, "Z") {
		t.Fatalf("at %q is not RFC 3339 UTC: %s", at, line)
	}
	id, _ := m["id"].(string)
	req, ok := required[typ]
	if !ok || id == "" {
		t.Fatalf("unknown type or no id: %s", line)
	}
	for _, f := range req {
		if _, ok := m[f]; !ok {
			t.Fatalf("%s without %s: %s", typ, f, line)
		}
	}
	if typ == "signal" && m["stream_id"] == nil && m["host_id"] == nil && m["account_id"] == nil {
		t.Fatalf("signal about nothing: %s", line)
	}
	for k, v := range m {
		switch x := v.(type) {
		case string:
			if (k == "id" || strings.HasSuffix(k, "_id") || k == "to_account") && len(x) > event.MaxIDBytes {
				t.Fatalf("%s longer than %d bytes: %s", k, event.MaxIDBytes, line)
			}
			if k == "text" && (len(x) > event.MaxTextBytes || x == "") {
				t.Fatalf("bad text: %s", line)
			}
			if allowed, ok := enums[k]; ok && !slices.Contains(allowed, x) {
				t.Fatalf("%s %q not in the contract: %s", k, x, line)
			}
		case float64:
			if k == "coins" && (x <= 0 || x != float64(int64(x))) {
				t.Fatalf("coins must be a positive integer: %s", line)
			}
			if k == "score" && (x < 0 || x > 1) {
				t.Fatalf("score out of 0..1: %s", line)
			}
		}
	}
	if h, ok := m["host"].(map[string]any); ok {
		if c, ok := h["created_at"].(string); ok {
			if _, err := time.Parse(time.RFC3339, c); err != nil {
				t.Fatalf("created_at: %v", err)
			}
		}
	}
}

func TestEncoderMatchesEncodingJSON(t *testing.T) {
	t.Parallel()
	tricky := []string{"<b>&amp;</b>", "tab\tnew\nline\r\x00\x1f\b\f", "quote\" back\\", "bad \xff utf8",
		"line\u2028sep\u2029", "emoji 😘🌙", ""}
	floats := []float64{0, 1, -6.75395, 108.524602, 1e-7, 1e21, 123456789.5, 0.35}
	var tc timeCache
	for i, s := range tricky {
		f := floats[i%len(floats)]
		e := &event.Event{TypeName: "chat", ID: s, At: time.Date(2025, 6, 1, 23, 59, 59, 0, time.UTC),
			Text: s, Tags: []string{s, "x"}, Amount: f, Score: f,
			Geo:  &event.Geo{Lat: f, Lon: -f},
			Host: &event.HostFacts{BirthYear: 2008, AgeVerified: &no}}
		if i%2 == 1 {
			e.At = time.Date(2024, 2, 29, 1, 2, 3, 456, time.FixedZone("x", 3600))
			e.Host = &event.HostFacts{CreatedAt: time.Date(1999, 1, 1, 0, 0, 0, 0, time.UTC)}
		}
		got := tc.appendEvent(nil, e)
		want, err := json.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("case %d:\n got %s\nwant %s", i, got, want)
		}
	}
}

func TestLabels(t *testing.T) {
	t.Parallel()
	for _, o := range []Options{
		{Seed: 1},
		{Seed: 11, Hosts: 40, Rings: 4, Days: 2},
		{Seed: 12, Hosts: 40, Rings: 5, Days: 9, Region: "ph"},
		{Seed: 13, Hosts: 5, Rings: 3, Days: 1},
	} {
		t.Run(itoa(int(o.Seed)), func(t *testing.T) {
			t.Parallel()
			planned, err := PlanLabels(o)
			if err != nil {
				t.Fatal(err)
			}
			evs, l, _ := collect(t, o)
			if !slices.Equal(planned.PositiveHosts, l.PositiveHosts) || !slices.Equal(planned.PositiveAccounts, l.PositiveAccounts) {
				t.Fatalf("PlanLabels %v, Generate %v", planned, l)
			}
			rings := o.withDefaults().Rings
			if len(l.PositiveHosts) < 2*rings || len(l.PositiveAccounts) < rings {
				t.Fatalf("%d rings but labels %v", rings, l)
			}
			started := map[string]bool{}
			appears := map[string]bool{}
			for _, e := range evs {
				if e.Type == event.TypeStreamStart {
					started[e.HostID] = true
				}
				for _, id := range []string{e.AccountID, e.FromID, e.ToID, e.ToAccount, e.SenderID} {
					appears[id] = true
				}
			}
			for _, h := range l.PositiveHosts {
				if !started[h] {
					t.Errorf("positive host %s never streams", h)
				}
			}
			for _, a := range l.PositiveAccounts {
				if !appears[a] {
					t.Errorf("positive account %s appears in no event", a)
				}
			}
			js, _ := json.Marshal(l)
			if !strings.Contains(string(js), `"positive_hosts":["h`) {
				t.Errorf("labels JSON %s", js)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		o    Options
		want string // substring of the error, "" for valid
	}{
		{"zero is the default world", Options{}, ""},
		{"no rings", Options{Hosts: 10}, ""},
		{"one day", Options{Days: 1, Hosts: 1, Rings: 1}, ""},
		{"days", Options{Days: 367}, "days 367"},
		{"negative days", Options{Days: -1}, "days -1"},
		{"hosts", Options{Hosts: MaxHosts + 1}, "hosts"},
		{"negative hosts", Options{Hosts: -5}, "hosts -5"},
		{"rings over hosts", Options{Hosts: 2, Rings: 3}, "rings 3"},
		{"region", Options{Region: "xx"}, `unknown region "xx"`},
		{"start", Options{Start: time.Date(1990, 1, 1, 0, 0, 0, 0, time.UTC)}, "start"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.o.Validate()
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("unexpected error %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("error %v, want one with %q", err, tc.want)
			}
			if tc.want != "" {
				if _, _, err := Generate(context.Background(), tc.o, func(*event.Event) error { return nil }); err == nil {
					t.Fatal("Generate accepted invalid options")
				}
			}
		})
	}
}

func TestEmitErrorAndCancel(t *testing.T) {
	t.Parallel()
	stop := errors.New("stop")
	n := 0
	_, st, err := Generate(context.Background(), Options{Seed: 1, Hosts: 20, Days: 1}, func(*event.Event) error {
		n++
		if n == 100 {
			return stop
		}
		return nil
	})
	if !errors.Is(err, stop) || st.Events != 100 {
		t.Fatalf("err %v after %d events, want stop after 100", err, st.Events)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, _, err := WriteNDJSON(ctx, Options{Seed: 1}, io.Discard, false); !errors.Is(err, context.Canceled) {
		t.Fatalf("err %v, want context.Canceled", err)
	}
}

func TestScale(t *testing.T) {
	if testing.Short() {
		t.Skip("generates a million events")
	}
	t.Parallel()
	count := func(hosts int) uint64 {
		_, st, err := WriteNDJSON(context.Background(), Options{Seed: 5, Hosts: hosts, Rings: 2, Days: 7}, io.Discard, false)
		if err != nil {
			t.Fatal(err)
		}
		return st.Events
	}
	small, big := count(150), count(1500)
	if small < 70_000 || small > 125_000 {
		t.Errorf("150 hosts, 7 days: %d events, want about 95k", small)
	}
	if r := float64(big) / float64(small); r < 8 || r > 12 {
		t.Errorf("1500 hosts gave %.1fx the events of 150 (%d / %d), want about 10x", r, big, small)
	}
}

func BenchmarkGenerate(b *testing.B) {
	var events uint64
	for b.Loop() {
		_, st, err := WriteNDJSON(context.Background(), Options{Seed: 1, Hosts: 500, Rings: 2, Days: 7}, io.Discard, false)
		if err != nil {
			b.Fatal(err)
		}
		events += st.Events
	}
	b.ReportMetric(float64(events)/b.Elapsed().Seconds(), "events/s")
}

func BenchmarkGenerateGzip(b *testing.B) {
	var events uint64
	for b.Loop() {
		_, st, err := WriteNDJSON(context.Background(), Options{Seed: 1, Hosts: 500, Rings: 2, Days: 7}, io.Discard, true)
		if err != nil {
			b.Fatal(err)
		}
		events += st.Events
	}
	b.ReportMetric(float64(events)/b.Elapsed().Seconds(), "events/s")
}
