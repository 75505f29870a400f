package forward

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/ronda-watch/ronda/analyzer/event"
	"github.com/ronda-watch/ronda/sidecar/intake"
	"github.com/ronda-watch/ronda/sidecar/intake/intaketest"
	"github.com/ronda-watch/ronda/sidecar/intake/wire"
)

// hub is a real intake.Handler on an intaketest.Server, with its recording
// sink and its registry.
type hub struct {
	*intaketest.Server
	sink *intaketest.Sink
	reg  *prometheus.Registry
}

func newHub(t *testing.T, edit func(*intake.Options)) *hub {
	t.Helper()
	s := &hub{sink: intaketest.NewSink(), reg: prometheus.NewRegistry()}
	h, err := intake.NewHandler(s.options(edit))
	if err != nil {
		t.Fatal(err)
	}
	s.Server = intaketest.Start(t, h)
	return s
}

// options are the hub's: key k1, no event rate, its sink and registry.
func (s *hub) options(edit func(*intake.Options)) intake.Options {
	opts := intake.Options{Keys: map[string][]byte{"k1": intaketest.Key1}, Sink: s.sink.Take,
		Registerer: s.reg, RateEvents: -1, Logger: intaketest.Logger()}
	if edit != nil {
		edit(&opts)
	}
	return opts
}

// metric is the hub's counter name, of the series with the label value
// (any label name; "" for a counter without labels).
func (s *hub) metric(t *testing.T, name, value string) float64 {
	t.Helper()
	mfs, err := s.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if len(m.GetLabel()) == 0 && value == "" || len(m.GetLabel()) > 0 && m.GetLabel()[0].GetValue() == value {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}

// fwdEvents makes n chat events of one sender with ids prefix-000000 ...
func fwdEvents(prefix string, from, n int) ([]*event.Event, []string) {
	t0 := time.Date(2025, 6, 2, 13, 0, 0, 0, time.UTC)
	evs := make([]*event.Event, n)
	ids := make([]string, n)
	for i := range n {
		id := fmt.Sprintf("%s-%06d", prefix, from+i)
		evs[i] = &event.Event{Type: event.TypeChat, TypeName: "chat", ID: id, At: t0.Add(time.Duration(from+i) * time.Millisecond),
			StreamID: "s1", SenderID: "v1", Text: "halo " + id}
		ids[i] = id
	}
	return evs, ids
}

// startForwarder runs a Forwarder to s until the test ends; edit adjusts its
// options first.
func startForwarder(t *testing.T, s *hub, edit func(*Options)) *Forwarder {
	t.Helper()
	opts := Options{
		URL:        s.URL(),
		KeyID:      "k1",
		Secret:     intaketest.Key1,
		Sender:     "edge-1",
		MinBackoff: 5 * time.Millisecond,
		MaxBackoff: 50 * time.Millisecond,
		Logger:     intaketest.Logger(),
		Registerer: prometheus.NewRegistry(),
	}
	if edit != nil {
		edit(&opts)
	}
	f, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	runForwarder(t, f)
	return f
}

func runForwarder(t *testing.T, f *Forwarder) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- f.Run(ctx) }()
	t.Cleanup(func() { // tests that need a flush close it themselves
		cctx, ccancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		defer ccancel()
		f.Close(cctx)
		cancel()
		<-done
	})
}

// add hands events to f in slices of 100, waiting out ErrBufferFull.
func add(t *testing.T, f *Forwarder, evs []*event.Event) {
	t.Helper()
	for len(evs) > 0 {
		n := min(100, len(evs))
		err := f.Add(evs[:n]...)
		if errors.Is(err, ErrBufferFull) {
			time.Sleep(time.Millisecond)
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		evs = evs[n:]
	}
}

func closeForwarder(t *testing.T, f *Forwarder) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := f.Close(ctx); err != nil {
		t.Fatal(err)
	}
}

func TestForwarderRoundTrip(t *testing.T) {
	t.Parallel()
	s := newHub(t, nil)
	f := startForwarder(t, s, nil)
	evs, ids := fwdEvents("rt", 0, 50_000)
	add(t, f, evs)
	intaketest.WaitFor(t, "50,000 events at the sink", func() bool { return s.sink.Count() >= len(ids) })
	closeForwarder(t, f)
	s.sink.CheckOnce(t, ids)
	st := f.Stats()
	if st.Accepted != 50_000 || st.AckedEvents != 50_000 || st.Buffered != 0 || st.Duplicates != 0 || st.Refused != 0 || st.Sent != st.Acked || st.Resent != 0 {
		t.Errorf("stats %+v", st)
	}
	if st.Sent < 10 {
		t.Errorf("%d batches for 50,000 events with at most 5,000 a batch", st.Sent)
	}
}

// TestForwarderResume cuts the socket server-side many times, some of them
// right after a batch was taken (its ack is lost), with the Sink busy some of
// the time: every id reaches the Sink once and in order, and no batch is
// processed twice.
func TestForwarderResume(t *testing.T) {
	t.Parallel()
	s := newHub(t, func(o *intake.Options) { o.BusyRetryAfter = 5 * time.Millisecond })
	var cuts, lostAcks atomic.Int64
	s.sink.SetHook(func(call int64, _ []event.Event) error {
		switch {
		case call%7 == 3:
			return intake.ErrBusy
		case call%11 == 5: // cut before the batch is taken
			cuts.Add(1)
			s.Cut()
			return intake.ErrBusy
		case call%5 == 0: // cut after the batch is taken: its ack is lost
			cuts.Add(1)
			lostAcks.Add(1)
			s.Cut()
		}
		return nil
	})
	f := startForwarder(t, s, func(o *Options) { o.MaxBatchLines = 200 })
	evs, ids := fwdEvents("rs", 0, 30_000)
	add(t, f, evs)
	intaketest.WaitFor(t, "30,000 events at the sink", func() bool { return s.sink.Count() >= len(ids) })
	closeForwarder(t, f)
	s.sink.CheckOnce(t, ids)

	st := f.Stats()
	t.Logf("%d cuts (%d after the batch was taken); forwarder %+v", cuts.Load(), lostAcks.Load(), st)
	if n := s.metric(t, "ronda_intake_events_total", "duplicate"); n != 0 {
		t.Errorf("%v events processed twice", n)
	}
	// At least the cuts right after a take lost an ack; a cut can also
	// catch acks written and not yet read.
	if st.AckedByHello < 1 {
		t.Errorf("acks lost with a taken batch: %d learnt from hellos, %d cut", st.AckedByHello, lostAcks.Load())
	}
	if st.Busy == 0 || st.Resent == 0 || st.Connects < cuts.Load() {
		t.Errorf("busy %d, resent %d, connects %d for %d cuts", st.Busy, st.Resent, st.Connects, cuts.Load())
	}
	if n := s.metric(t, "ronda_intake_ws_resumes_total", ""); n < float64(cuts.Load()) {
		t.Errorf("resumes %v for %d cuts", n, cuts.Load())
	}
	if n := s.metric(t, "ronda_intake_ws_batches_total", "busy"); n == 0 {
		t.Error("no busy batch")
	}
}

// TestForwarderOutage: the server is down a while, events keep coming, and
// all of them arrive once it is back.
func TestForwarderOutage(t *testing.T) {
	t.Parallel()
	s := newHub(t, nil)
	f := startForwarder(t, s, func(o *Options) { o.MaxBatchLines = 500 })
	evs, ids := fwdEvents("out", 0, 12_000)
	add(t, f, evs[:2000])
	// Acknowledged, not only taken: an ack in flight when the server goes
	// would keep its batch buffered.
	intaketest.WaitFor(t, "the first events acknowledged", func() bool { return f.Stats().Acked > 0 && f.Stats().Buffered == 0 })
	s.Down()
	add(t, f, evs[2000:])
	intaketest.WaitFor(t, "failed connects", func() bool { return f.Stats().ConnectFails >= 3 })
	if st := f.Stats(); st.Buffered != 10_000 {
		t.Errorf("buffered %d during the outage", st.Buffered)
	}
	s.Up()
	intaketest.WaitFor(t, "every event", func() bool { return s.sink.Count() >= len(ids) })
	closeForwarder(t, f)
	s.sink.CheckOnce(t, ids)
}

// TestForwarderSpoolRestart: during an outage longer than memory the
// forwarder moves batches to its spool; closed then, it spools the rest,
// and a new forwarder on the same directory delivers all of it once.
func TestForwarderSpoolRestart(t *testing.T) {
	t.Parallel()
	s := newHub(t, nil)
	dir := t.TempDir()
	opts := func(o *Options) {
		o.SpoolDir = dir
		o.SpoolNoSync = true
		o.BufferEvents = 2000
		o.MaxBatchLines = 300
	}
	f := startForwarder(t, s, opts)
	evs, ids := fwdEvents("sp", 0, 15_000)
	add(t, f, evs[:1000])
	intaketest.WaitFor(t, "the first events acknowledged", func() bool { return f.Stats().Acked > 0 && f.Stats().Buffered == 0 })
	s.Down()
	add(t, f, evs[1000:]) // 7 times the memory: waits on the spool
	// The spiller moves batches out from half full down to a quarter.
	intaketest.WaitFor(t, "memory under half full", func() bool { return f.Stats().Buffered < 1000 })
	// (A batch the run loop took back from the spool just before it saw
	// the cut is in both counts.)
	if st := f.Stats(); st.Spooled < 13_000 || st.SpoolRecords < 40 {
		t.Fatalf("outage of 14,000 events with memory for 2,000: %+v", st)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	err := f.Close(ctx) // the server is down: everything goes to the spool
	cancel()
	if err != nil {
		t.Fatal(err)
	}
	if st := f.Stats(); st.Undelivered != 0 || st.Buffered != 0 {
		t.Fatalf("after Close: %+v", st)
	}

	s.Up()
	g := startForwarder(t, s, opts)
	intaketest.WaitFor(t, "every event", func() bool { return s.sink.Count() >= len(ids) })
	closeForwarder(t, g)
	// Each id once at the sink; the restart may resend at most the
	// unacknowledged batches (the dedup drops them) and reorder them.
	for _, id := range ids {
		if n := s.sink.Times(id); n != 1 {
			t.Errorf("id %s taken %d times", id, n)
		}
	}
	dups := s.metric(t, "ronda_intake_events_total", "duplicate")
	if dups > float64(DefaultWindow*300) {
		t.Errorf("%v duplicates across the restart, more than a window", dups)
	}
	if n := g.Stats().SpoolRecords; n != 0 {
		t.Errorf("%d records left in the spool", n)
	}
}

// TestForwarderServerRestart: a server that forgot the session (a restart,
// here a new Handler with the same dedup) makes the forwarder start a new
// session and renumber what it has not seen acknowledged.
func TestForwarderServerRestart(t *testing.T) {
	t.Parallel()
	dedup := event.NewDeduper(time.Hour, 100_000)
	s := newHub(t, func(o *intake.Options) { o.Dedup = dedup })
	f := startForwarder(t, s, nil)
	evs, ids := fwdEvents("sr", 0, 4000)
	add(t, f, evs[:2000])
	intaketest.WaitFor(t, "the first events acknowledged", func() bool { return f.Stats().Acked > 0 && f.Stats().Buffered == 0 })
	old := s.Handler()
	h2, err := intake.NewHandler(s.options(func(o *intake.Options) {
		o.Dedup = dedup
		o.Registerer = nil
	}))
	if err != nil {
		t.Fatal(err)
	}
	s.Swap(h2)
	old.Close()
	add(t, f, evs[2000:])
	intaketest.WaitFor(t, "every event", func() bool { return s.sink.Count() >= len(ids) })
	closeForwarder(t, f)
	s.sink.CheckOnce(t, ids)
	if st := f.Stats(); st.SessionResets != 1 {
		t.Errorf("session resets %d", st.SessionResets)
	}
}

// TestForwarderServerAnswers: lines the server rejects come back counted,
// and a batch the server refuses (a line longer than its whole batch limit)
// is counted and does not stop the stream.
func TestForwarderServerAnswers(t *testing.T) {
	t.Parallel()
	s := newHub(t, func(o *intake.Options) { o.MaxBodyBytes = 32 << 10 })
	f := startForwarder(t, s, nil)
	mustAdd := func(line string) {
		if err := f.AddLine([]byte(line)); err != nil {
			t.Fatal(err)
		}
	}
	mustAdd(intaketest.Chat("x1"))
	mustAdd(`{"id":"x2","type":"chat"}`)
	mustAdd(`{"id":"x3","type":"chat","at":"2025-06-02T13:05:00Z","stream_id":"s1","sender_id":"v1","text":"` + strings.Repeat("a", 40<<10) + `"}`)
	mustAdd(intaketest.Chat("x4") + "\n")
	intaketest.WaitFor(t, "the answers", func() bool {
		st := f.Stats()
		return st.Accepted == 2 && st.Refused == 1
	})
	st := f.Stats()
	if st.Rejected != 1 || st.RefusedEvents != 1 || st.Buffered != 0 {
		t.Errorf("stats %+v", st)
	}
	s.sink.CheckOnce(t, []string{"x1", "x4"})
	for _, bad := range []string{"", "  \n", "a\nb", strings.Repeat("x", event.MaxEventBytes+1)} {
		if err := f.AddLine([]byte(bad)); !errors.Is(err, ErrBadLine) {
			t.Errorf("AddLine(%.20q): %v", bad, err)
		}
	}
}

func TestForwarderBufferFull(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	f, err := New(Options{URL: "ws://127.0.0.1:1", KeyID: "k1", Secret: intaketest.Key1, Sender: "edge-1",
		BufferEvents: 250, Logger: intaketest.Logger(), Registerer: reg})
	if err != nil {
		t.Fatal(err)
	}
	evs, _ := fwdEvents("bf", 0, 300)
	if err := f.Add(evs[:200]...); err != nil {
		t.Fatal(err)
	}
	if err := f.Add(evs[200:]...); !errors.Is(err, ErrBufferFull) {
		t.Fatalf("over the bound: %v", err)
	}
	if err := f.Add(evs[200:250]...); err != nil {
		t.Fatalf("up to the bound: %v", err)
	}
	st := f.Stats()
	if st.Dropped != 100 || st.Added != 250 || st.Buffered != 250 {
		t.Errorf("stats %+v", st)
	}
	if n := testutil.ToFloat64(f.m.events.WithLabelValues("dropped")); n != 100 {
		t.Errorf("dropped metric %v", n)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	err = f.Close(ctx) // never ran, no spool
	if !errors.Is(err, ErrUndelivered) || !strings.Contains(err.Error(), "250") {
		t.Fatalf("Close: %v", err)
	}
	if err2 := f.Close(ctx); err2 != err {
		t.Errorf("second Close: %v", err2)
	}
	if err := f.Add(evs[0]); !errors.Is(err, ErrClosed) {
		t.Errorf("Add after Close: %v", err)
	}
	if err := f.Run(ctx); !errors.Is(err, ErrClosed) {
		t.Errorf("Run after Close: %v", err)
	}
	var nilF *Forwarder
	if err := nilF.Close(ctx); err != nil {
		t.Error(err)
	}
}

// TestForwarderHandshakeRefused: a wrong secret is refused, retried with
// backoff, logged and counted; nothing is lost meanwhile.
func TestForwarderHandshakeRefused(t *testing.T) {
	t.Parallel()
	s := newHub(t, nil)
	f := startForwarder(t, s, func(o *Options) { o.Secret = []byte("not-the-secret-at-all") })
	evs, _ := fwdEvents("hr", 0, 10)
	add(t, f, evs)
	intaketest.WaitFor(t, "refused connects", func() bool { return f.Stats().ConnectFails >= 3 })
	if st := f.Stats(); st.Connects != 0 || st.Buffered != 10 || s.sink.Count() != 0 {
		t.Errorf("stats %+v", st)
	}
	if n := s.metric(t, "ronda_intake_ws_handshakes_total", "bad_signature"); n < 3 {
		t.Errorf("bad signatures %v", n)
	}
}

func TestForwarderOptionsValidate(t *testing.T) {
	t.Parallel()
	ok := Options{URL: "wss://hub:8080", KeyID: "k1", Secret: intaketest.Key1, Sender: "edge-1"}
	for name, edit := range map[string]func(*Options){
		"no url":       func(o *Options) { o.URL = "" },
		"ftp":          func(o *Options) { o.URL = "ftp://hub" },
		"no host":      func(o *Options) { o.URL = "ws:///x" },
		"no key":       func(o *Options) { o.KeyID = "" },
		"short secret": func(o *Options) { o.Secret = []byte("short") },
		"bad sender":   func(o *Options) { o.Sender = "edge 1" },
		"negative":     func(o *Options) { o.Window = -1 },
		"tiny batch":   func(o *Options) { o.MaxBatchBytes = 1000 },
		// Only the handshake is signed: plain ws across a network could
		// carry injected batches.
		"plain ws to a network host": func(o *Options) { o.URL = "ws://hub:8080" },
		"plain http to an address":   func(o *Options) { o.URL = "http://10.0.0.5:8080" },
		"plain ws, localhost suffix": func(o *Options) { o.URL = "ws://localhost.example.org" },
	} {
		o := ok
		edit(&o)
		_, err := New(o)
		if err == nil {
			t.Errorf("%s: no error", name)
		} else if strings.HasPrefix(name, "plain") && !strings.Contains(err.Error(), "loopback host only; use wss://") {
			t.Errorf("%s: unclear error %v", name, err)
		}
	}
	for _, u := range []string{"ws://127.0.0.1:8080", "ws://localhost:8080", "http://[::1]:8080", "ws://127.9.9.9", "https://hub"} {
		o := ok
		o.URL = u
		f, err := New(o)
		if err != nil {
			t.Errorf("%s: %v", u, err)
			continue
		}
		f.Close(context.Background())
	}
	f, err := New(ok)
	if err != nil {
		t.Fatal(err)
	}
	f.Close(context.Background())
}

// TestEventMarshalRoundTrip checks that what Add sends, event.Event's
// MarshalJSON, is read back the same by the strict decoder, for every type.
func TestEventMarshalRoundTrip(t *testing.T) {
	t.Parallel()
	at := time.Date(2025, 6, 2, 13, 5, 0, 123_000_000, time.FixedZone("", 7*3600))
	yes := true
	evs := []event.Event{
		{TypeName: "stream.start", ID: "e1", At: at, Node: "n1", StreamID: "s1", HostID: "h1", Title: "t", Tags: []string{"a", "b"},
			Category: "chat", DeviceID: "d1", IP: "10.0.0.1", Geo: &event.Geo{Lat: -6.2, Lon: 106.8, AccuracyM: 20}, TZ: "Asia/Jakarta",
			AgencyID: "ag", Host: &event.HostFacts{CreatedAt: at.Add(-time.Hour), BirthYear: 2001, AgeVerified: &yes}},
		{TypeName: "stream.heartbeat", ID: "e2", At: at, StreamID: "s1", Viewers: 12, Private: true},
		{TypeName: "stream.end", ID: "e3", At: at, StreamID: "s1", Reason: "done"},
		{TypeName: "gift", ID: "e4", At: at, StreamID: "s1", HostID: "h1", SenderID: "v1", Coins: 99, Gift: "rose", SenderCountry: "ID"},
		{TypeName: "chat", ID: "e5", At: at, StreamID: "s1", SenderID: "v1", Text: ""},
		{TypeName: "chat", ID: "e5b", At: at, StreamID: "s1", SenderID: "v1", Text: "line\nbreak \"quoted\" \u00e9"},
		{TypeName: "post", ID: "e6", At: at, AccountID: "a1", Kind: "dm", Text: "hi", ToID: "a2", Links: []string{"https://x"}},
		{TypeName: "link", ID: "e7", At: at, FromID: "a1", ToID: "a2", Rel: "follow"},
		{TypeName: "payout", ID: "e8", At: at, AccountID: "a1", ToAccount: "a2", Coins: 5, Amount: 1.5, Currency: "IDR", Method: "bank"},
		{TypeName: "signal", ID: "e9", At: at, HostID: "h1", Source: "clf", Label: "nudity", Score: 0},
	}
	for _, want := range evs {
		want.Type = event.ParseType(want.TypeName)
		b, err := want.MarshalJSON()
		if err != nil {
			t.Fatal(err)
		}
		rd, err := event.NewReader(bytes.NewReader(append(b, '\n')))
		if err != nil {
			t.Fatal(err)
		}
		got, err := rd.Next()
		if err != nil {
			t.Fatalf("%s: %v: %s", want.ID, err, b)
		}
		if !got.At.Equal(want.At) {
			t.Errorf("%s: at %v, want %v", want.ID, got.At, want.At)
		}
		g, w := *got, want
		g.At, w.At = time.Time{}, time.Time{}
		if g.Host != nil && w.Host != nil {
			if !g.Host.CreatedAt.Equal(w.Host.CreatedAt) {
				t.Errorf("%s: host created at %v", want.ID, g.Host.CreatedAt)
			}
			gh, wh := *g.Host, *w.Host
			gh.CreatedAt, wh.CreatedAt = time.Time{}, time.Time{}
			g.Host, w.Host = &gh, &wh
		}
		if !reflect.DeepEqual(g, w) {
			t.Errorf("%s: round trip\n got %+v\nwant %+v\nline %s", want.ID, g, w, b)
		}
	}
}

func TestSplitBody(t *testing.T) {
	t.Parallel()
	body := []byte("aaaa\nbb\ncccccc\nd\n")
	cases := []struct {
		lim   batchLimits
		heads []string
	}{
		{batchLimits{lines: 10, bytes: 100}, []string{"aaaa\nbb\ncccccc\nd\n"}},
		{batchLimits{lines: 2, bytes: 100}, []string{"aaaa\nbb\n", "cccccc\nd\n"}},
		{batchLimits{lines: 10, bytes: 8}, []string{"aaaa\nbb\n", "cccccc\n", "d\n"}},
		{batchLimits{lines: 10, bytes: 3}, []string{"aaaa\n", "bb\n", "cccccc\n", "d\n"}}, // a long line goes alone
	}
	for _, c := range cases {
		var heads []string
		rest, n := body, 4
		for n > 0 {
			head, hn, r, rn := splitBody(rest, n, c.lim)
			if hn == 0 || hn+rn != n || bytes.Count(head, []byte{'\n'}) != hn {
				t.Fatalf("%+v: split of %q gave %d+%d lines", c.lim, rest, hn, rn)
			}
			heads = append(heads, string(head))
			rest, n = r, rn
		}
		if !reflect.DeepEqual(heads, c.heads) {
			t.Errorf("%+v: %q, want %q", c.lim, heads, c.heads)
		}
	}
}

// TestForwarderTLS: wss with the caller's TLS config, an https base URL
// taken as wss, and an event that names its type by Type alone.
func TestForwarderTLS(t *testing.T) {
	t.Parallel()
	sink := intaketest.NewSink()
	h, err := intake.NewHandler(intake.Options{Keys: map[string][]byte{"k1": intaketest.Key1}, Sink: sink.Take, Logger: intaketest.Logger()})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle(wire.WSPath, h.WebSocket())
	srv := httptest.NewTLSServer(mux)
	t.Cleanup(srv.Close)
	t.Cleanup(func() { h.Close() })
	tlsConf := srv.Client().Transport.(*http.Transport).TLSClientConfig
	f, err := New(Options{URL: srv.URL + "/", KeyID: "k1", Secret: intaketest.Key1, Sender: "edge-1",
		TLSConfig: tlsConf, Logger: intaketest.Logger()})
	if err != nil {
		t.Fatal(err)
	}
	runForwarder(t, f)
	at := time.Date(2025, 6, 2, 13, 0, 0, 0, time.UTC)
	if err := f.Add(&event.Event{Type: event.TypeLink, ID: "tls1", At: at, FromID: "a", ToID: "b", Rel: "follow"}); err != nil {
		t.Fatal(err)
	}
	intaketest.WaitFor(t, "the event", func() bool { return sink.Count() == 1 })
	closeForwarder(t, f)
	sink.CheckOnce(t, []string{"tls1"})
}

// TestForwarderBatchOfMaxLines: a receiver taking at most 20 lines a batch
// gets batches of exactly 20 lines, never 21, and every event arrives once:
// the forwarder seals a batch when it holds max_lines.
func TestForwarderBatchOfMaxLines(t *testing.T) {
	t.Parallel()
	s := newHub(t, func(o *intake.Options) { o.MaxLines = 20 })
	f := startForwarder(t, s, func(o *Options) { o.FlushInterval = time.Hour })
	// The limit comes in the server's hello: wait for it, so that batches are
	// sealed as events come, not split afterwards.
	intaketest.WaitFor(t, "the hello", func() bool { return f.Stats().Connects > 0 })
	evs, ids := fwdEvents("ml", 0, 60)
	add(t, f, evs)
	closeForwarder(t, f) // sends the last batch, which waits for a 61st line otherwise
	s.sink.CheckOnce(t, ids)
	st := f.Stats()
	if st.Refused != 0 || st.Accepted != 60 || st.Sent != 3 {
		t.Errorf("stats %+v: want 60 events accepted in 3 batches of 20, none refused", st)
	}
}
