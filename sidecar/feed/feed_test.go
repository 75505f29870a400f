package feed

import (
	"context"
	"errors"
	"log/slog"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ronda-watch/ronda/analyzer/event"
	"github.com/ronda-watch/ronda/sidecar/intake"
	"github.com/ronda-watch/ronda/sidecar/simulate"
)

var secret = []byte("feed-test-secret-0123456789")

// smallWorld is one day of 20 hosts and a ring: about two thousand events.
var smallWorld = simulate.Options{Seed: 5, Days: 1, Hosts: 20, Rings: 1}

// clock is a test clock: Sleep advances Now at once, and the intake is given
// the same Now, so that nothing waits for real time and the replay window
// and the rate limit run on the feed's time.
type clock struct {
	mu      sync.Mutex
	t       time.Time
	onSleep func(d time.Duration) // called outside the lock
}

func newClock(t time.Time) *clock { return &clock{t: t} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if c.onSleep != nil {
		c.onSleep(d)
	}
	c.mu.Lock()
	c.t = c.t.Add(max(d, 0))
	c.mu.Unlock()
	return ctx.Err()
}

// received is one event as the Sink got it, with the clock at that moment.
type received struct {
	ev event.Event
	at time.Time
}

// server is a real intake.Handler on loopback whose Sink collects events.
type server struct {
	t    *testing.T
	srv  *httptest.Server
	mu   sync.Mutex
	got  []received
	seen map[int]int // HTTP status → count
	// busy, when set, is asked before each Sink call whether to say ErrBusy.
	busy func(call int) bool
	call int
	now  func() time.Time
}

func newServer(t *testing.T, now func() time.Time, edit func(*intake.Options)) *server {
	t.Helper()
	s := &server{t: t, seen: map[int]int{}, now: now}
	opts := intake.Options{
		Keys:   map[string][]byte{"demo": secret},
		Sink:   s.sink,
		Now:    now,
		Logger: slog.New(slog.DiscardHandler),
	}
	if edit != nil {
		edit(&opts)
	}
	h, err := intake.NewHandler(opts)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle(intake.Path, s.count(h))
	s.srv = httptest.NewUnstartedServer(mux)
	return s
}

func (s *server) start() *server {
	s.srv.Start()
	s.t.Cleanup(s.srv.Close)
	return s
}

func (s *server) sink(_ context.Context, evs []event.Event) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.call++
	if s.busy != nil && s.busy(s.call) {
		return intake.ErrBusy
	}
	now := s.now()
	for _, ev := range evs {
		s.got = append(s.got, received{ev, now})
	}
	return nil
}

// count records the status of every answer.
func (s *server) count(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sw := &statusWriter{ResponseWriter: w}
		h.ServeHTTP(sw, r)
		s.mu.Lock()
		s.seen[sw.status]++
		s.mu.Unlock()
	})
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

func (s *server) events() []received {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.got)
}

func (s *server) statuses(code int) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.seen[code]
}

// generate is the world as simulate makes it.
func generate(t testing.TB, w simulate.Options) []event.Event {
	t.Helper()
	var evs []event.Event
	_, _, err := simulate.Generate(context.Background(), w, func(e *event.Event) error {
		evs = append(evs, *e)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return evs
}

func line(t *testing.T, e event.Event) string {
	t.Helper()
	b, err := e.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// sameEvents checks that got is want, once each, in order.
func sameEvents(t *testing.T, got []received, want []event.Event) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("intake took %d events; the world has %d", len(got), len(want))
	}
	for i := range want {
		if g, w := line(t, got[i].ev), line(t, want[i]); g != w {
			t.Fatalf("event %d:\n got %s\nwant %s", i, g, w)
		}
	}
}

func options(url string, c *clock) Options {
	return Options{
		World:  smallWorld,
		Rebase: true,
		Speed:  math.Inf(1),
		URL:    url,
		KeyID:  "demo",
		Secret: secret,
		Now:    c.Now,
		Sleep:  c.Sleep,
		Logger: slog.New(slog.DiscardHandler),
	}
}

// monday10 is a Monday morning of 2025: a one-day world rebased to it starts
// on Sunday 2025-06-15, two weeks after simulate's default start, in the same
// year and outside Ramadan, so it is the default world shifted by 14 days.
var monday10 = time.Date(2025, 6, 16, 10, 0, 0, 0, time.UTC)

func TestFeedDeliversWorldOnce(t *testing.T) {
	t.Parallel()
	for _, gz := range []bool{false, true} {
		name := "plain"
		if gz {
			name = "gzip"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			c := newClock(monday10)
			s := newServer(t, c.Now, nil).start()
			o := options(s.srv.URL, c)
			o.Gzip = gz
			o.BatchMax = 300
			f, err := New(o)
			if err != nil {
				t.Fatal(err)
			}
			start := time.Date(2025, 6, 15, 0, 0, 0, 0, time.UTC)
			if w := f.World(); !w.Start.Equal(start) || w.Days != 1 {
				t.Fatalf("rebased world starts %s, %d days; want %s, 1 day", w.Start, w.Days, start)
			}
			st, err := f.Run(context.Background())
			if err != nil {
				t.Fatal(err)
			}

			world := smallWorld
			world.Start = start
			want := generate(t, world)
			got := s.events()
			sameEvents(t, got, want)
			n := uint64(len(want))
			if st.Generated != n || st.Sent != n || st.Accepted != n || st.Duplicates != 0 ||
				st.Rejected != 0 || st.Unknown != 0 || st.Retries != 0 {
				t.Errorf("stats %+v; want %d generated, sent and accepted, nothing else", st, n)
			}
			if wantReq := (n + 299) / 300; st.Requests < wantReq {
				t.Errorf("%d requests for %d events in batches of 300", st.Requests, n)
			}
			if !st.WorldTime.Equal(want[len(want)-1].At) {
				t.Errorf("world time reached %s; the last event is at %s", st.WorldTime, want[len(want)-1].At)
			}
			for i, r := range got {
				if r.ev.At.After(r.at) {
					t.Fatalf("event %d dated %s arrived at %s, in the future of the clock", i, r.ev.At, r.at)
				}
			}

			// The same events as the default world, apart from a shift of whole days.
			const shift = 14 * 24 * time.Hour
			orig := generate(t, smallWorld)
			for i := range orig {
				e := orig[i]
				e.At = e.At.Add(shift)
				if e.Host != nil {
					h := *e.Host
					h.CreatedAt = h.CreatedAt.Add(shift)
					e.Host = &h
				}
				if g, w := line(t, got[i].ev), line(t, e); g != w {
					t.Fatalf("event %d is not the default world's shifted by 14 days:\n got %s\nwant %s", i, g, w)
				}
			}

			wantLabels, err := simulate.PlanLabels(world)
			if err != nil {
				t.Fatal(err)
			}
			if l := f.Labels(); !slices.Equal(l.PositiveHosts, wantLabels.PositiveHosts) || len(l.PositiveHosts) == 0 {
				t.Errorf("labels %v; want %v", l, wantLabels)
			}
		})
	}
}

func TestFeedRetriesBusyAndRateLimited(t *testing.T) {
	t.Parallel()
	c := newClock(monday10)
	s := newServer(t, c.Now, func(o *intake.Options) {
		o.RateEvents, o.RateBurst = 200, 1000
		o.MaxLines = 1000 // the intake refuses a burst below its max lines
	})
	s.busy = func(call int) bool { return call%3 == 0 }
	s.start()
	o := options(s.srv.URL, c)
	o.BatchMax = 400
	st, err := Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	world := smallWorld
	world.Start = time.Date(2025, 6, 15, 0, 0, 0, 0, time.UTC)
	sameEvents(t, s.events(), generate(t, world))

	busy, limited := s.statuses(http.StatusServiceUnavailable), s.statuses(http.StatusTooManyRequests)
	if busy == 0 || limited == 0 {
		t.Fatalf("the intake answered %d busy and %d rate-limited; the test wants both", busy, limited)
	}
	if st.Retries != uint64(busy+limited) {
		t.Errorf("%d retries counted; the intake refused %d times", st.Retries, busy+limited)
	}
	if st.Requests != st.Retries+uint64(s.statuses(http.StatusOK)) {
		t.Errorf("%d requests; want %d retries + %d accepted", st.Requests, st.Retries, s.statuses(http.StatusOK))
	}
	if st.Duplicates != 0 || st.Accepted != st.Generated {
		t.Errorf("stats %+v: retries gave duplicates or lost events", st)
	}
}

func TestFeedPacing(t *testing.T) {
	t.Parallel()
	c := newClock(monday10)
	s := newServer(t, c.Now, nil).start()
	o := options(s.srv.URL, c)
	o.Speed = 600
	f, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	st, err := f.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t0, ws := monday10, f.World().Start
	got := s.events()
	if len(got) == 0 || uint64(len(got)) != st.Generated {
		t.Fatalf("%d events arrived of %d", len(got), st.Generated)
	}
	for i, r := range got {
		elapsed, off := r.at.Sub(t0), r.ev.At.Sub(ws)
		if int64(elapsed)*600 < int64(off) {
			t.Fatalf("event %d at world %s went out after %s of wall time: %s early",
				i, off, elapsed, time.Duration(int64(off)-int64(elapsed)*600)/600)
		}
		// Only the batch age may hold an event back, as this clock moves
		// only when the feeder sleeps.
		due := t0.Add(time.Duration(math.Ceil(float64(max(off, 0)) / 600)))
		if late := r.at.Sub(due); late > DefaultBatchAge {
			t.Fatalf("event %d went out %s after its paced time; the batch age is %s", i, late, DefaultBatchAge)
		}
	}
	if off := st.WorldTime.Sub(ws); off < 12*time.Hour || int64(st.Elapsed)*600 < int64(off) {
		t.Errorf("the feed reached world time %s after %s of wall time; want over 12 h, at speed 600", off, st.Elapsed)
	}
}

func TestFeedRefused(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		edit   func(*Options)
		server func(*intake.Options)
		want   []string
		status int
	}{
		{"wrong secret", func(o *Options) { o.Secret = []byte("not-the-secret-0123456789") }, nil,
			[]string{`intake refused the key "demo"`, "signature does not match"}, http.StatusUnauthorized},
		{"unknown key", func(o *Options) { o.KeyID = "nobody" }, nil,
			// The intake answers an unknown id as a bad signature, so ids cannot be probed.
			[]string{`intake refused the key "nobody"`, "signature does not match"}, http.StatusUnauthorized},
		{"batch over the intake's lines", nil, func(o *intake.Options) { o.MaxLines = 100 },
			[]string{"intake refused the batch (413", "more than 100 lines"}, http.StatusRequestEntityTooLarge},
		{"no intake at the URL", func(o *Options) { o.URL += "/nope" }, nil,
			[]string{"intake refused the batch (404", "is there a Ronda intake at http://127.0.0.1:"}, http.StatusNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := newClock(monday10)
			s := newServer(t, c.Now, tt.server).start()
			o := options(s.srv.URL, c)
			if tt.edit != nil {
				tt.edit(&o)
			}
			st, err := Run(context.Background(), o)
			var rf *RefusedError
			if !errors.As(err, &rf) || rf.Status != tt.status {
				t.Fatalf("error %v; want a refusal with status %d", err, tt.status)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
			if st.Requests != 1 || st.Retries != 0 || st.Sent != 0 {
				t.Errorf("stats %+v; want one request and nothing sent", st)
			}
		})
	}
}

// logRecorder keeps the messages logged at info and above and calls on for each.
type logRecorder struct {
	mu   sync.Mutex
	msgs []string
	on   func(msg string)
}

func (l *logRecorder) Enabled(_ context.Context, lvl slog.Level) bool { return lvl >= slog.LevelInfo }
func (l *logRecorder) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	l.msgs = append(l.msgs, r.Level.String()+" "+r.Message)
	on := l.on
	l.mu.Unlock()
	if on != nil {
		on(r.Message)
	}
	return nil
}
func (l *logRecorder) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *logRecorder) WithGroup(string) slog.Handler      { return l }

func (l *logRecorder) count(prefix string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, m := range l.msgs {
		if strings.HasPrefix(m, prefix) {
			n++
		}
	}
	return n
}

// closedAddr is a loopback address where nothing listens.
func closedAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func TestFeedWaitsForIntake(t *testing.T) {
	t.Parallel()
	c := newClock(monday10)
	addr := closedAddr(t)
	s := newServer(t, c.Now, nil)
	logs := &logRecorder{}

	// The intake comes up on the feeder's third wait after it went down.
	var (
		mu     sync.Mutex
		sleeps int
		down   bool
	)
	logs.on = func(msg string) {
		if strings.HasPrefix(msg, "intake unreachable") {
			mu.Lock()
			down = true
			mu.Unlock()
		}
	}
	c.onSleep = func(time.Duration) {
		mu.Lock()
		defer mu.Unlock()
		if !down {
			return
		}
		if sleeps++; sleeps == 3 {
			ln, err := net.Listen("tcp", addr)
			if err != nil {
				t.Errorf("listen again on %s: %v", addr, err)
				return
			}
			s.srv.Listener.Close()
			s.srv.Listener = ln
			s.start()
		}
	}
	o := options("http://"+addr, c)
	o.Logger = slog.New(logs)
	st, err := Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	world := smallWorld
	world.Start = time.Date(2025, 6, 15, 0, 0, 0, 0, time.UTC)
	sameEvents(t, s.events(), generate(t, world))
	if st.Retries < 2 {
		t.Errorf("%d retries; the intake was down for more than one attempt", st.Retries)
	}
	if n := logs.count("WARN intake unreachable"); n != 1 {
		t.Errorf("the outage was logged %d times; want once:\n%s", n, strings.Join(logs.msgs, "\n"))
	}
	if n := logs.count("INFO intake answering again"); n != 1 {
		t.Errorf("the recovery was logged %d times; want once:\n%s", n, strings.Join(logs.msgs, "\n"))
	}
}

func TestFeedCancel(t *testing.T) {
	t.Parallel()
	total := uint64(len(generate(t, smallWorld)))

	t.Run("mid-feed", func(t *testing.T) {
		t.Parallel()
		c := newClock(monday10)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		s := newServer(t, c.Now, nil)
		s.busy = func(call int) bool {
			if call == 2 {
				cancel() // the feeder hears of it after this batch is taken
			}
			return false
		}
		s.start()
		o := options(s.srv.URL, c)
		o.Speed = 600
		st, err := Run(ctx, o)
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("error %v; want context.Canceled", err)
		}
		if st.Generated == 0 || st.Generated >= total || st.Sent > st.Generated {
			t.Errorf("stats %+v; want part of the %d events", st, total)
		}
		if got := uint64(len(s.events())); got < st.Sent {
			t.Errorf("the intake took %d events; the feeder says %d were sent", got, st.Sent)
		}
	})

	t.Run("while the intake is unreachable", func(t *testing.T) {
		t.Parallel()
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		logs := &logRecorder{on: func(msg string) {
			if strings.HasPrefix(msg, "intake unreachable") {
				cancel()
			}
		}}
		o := options("http://"+closedAddr(t), newClock(monday10))
		o.Now, o.Sleep = nil, nil // a real clock: the backoff really waits
		o.Logger = slog.New(logs)
		o.World.Start, o.Rebase = simulate.DefaultStart, false
		st, err := Run(ctx, o)
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("error %v; want context.Canceled", err)
		}
		if st.Requests == 0 || st.Sent != 0 {
			t.Errorf("stats %+v; want attempts and nothing sent", st)
		}
	})
}

func TestOptions(t *testing.T) {
	t.Parallel()
	c := newClock(monday10)
	good := options("http://127.0.0.1:1", c)
	tests := []struct {
		name string
		edit func(*Options)
		want string
	}{
		{"negative speed", func(o *Options) { o.Speed = -1 }, "speed -1"},
		{"NaN speed", func(o *Options) { o.Speed = math.NaN() }, "speed NaN"},
		{"no URL", func(o *Options) { o.URL = "" }, "no intake URL"},
		{"URL without scheme", func(o *Options) { o.URL = "127.0.0.1:8080" }, "intake URL"},
		{"no key id", func(o *Options) { o.KeyID = "" }, "no key id"},
		{"no secret", func(o *Options) { o.Secret = nil }, "no secret"},
		{"short secret", func(o *Options) { o.Secret = []byte("short") }, "secret shorter than 16 bytes"},
		{"negative batch", func(o *Options) { o.BatchMax = -1 }, "batch max"},
		{"rebase and start", func(o *Options) { o.World.Start = simulate.DefaultStart }, "rebase and a world start"},
		{"half a clock", func(o *Options) { o.Sleep = nil }, "Now and Sleep"},
		{"bad world", func(o *Options) { o.World.Days = -3 }, "days -3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			o := good
			tt.edit(&o)
			_, err := New(o)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v; want one mentioning %q", err, tt.want)
			}
		})
	}

	good.Speed = 0
	f, err := New(good)
	if err != nil {
		t.Fatal(err)
	}
	if f.o.Speed != DefaultSpeed || f.o.BatchMax != DefaultBatchMax || f.o.BatchAge != DefaultBatchAge {
		t.Errorf("defaults not applied: %+v", f.o)
	}
	if got, want := f.PlayTime(), 144*time.Second; got != want {
		t.Errorf("a one-day world plays in %s at the default speed; want %s", got, want)
	}
}

func TestRebasedStart(t *testing.T) {
	t.Parallel()
	tests := []struct {
		now  time.Time
		days int
		want time.Time
	}{
		{monday10, 1, time.Date(2025, 6, 15, 0, 0, 0, 0, time.UTC)},
		{time.Date(2026, 3, 2, 0, 0, 0, 0, time.UTC), 7, time.Date(2026, 2, 23, 0, 0, 0, 0, time.UTC)},
		// Jakarta's date is ahead of UTC's: UTC decides.
		{time.Date(2026, 1, 1, 5, 0, 0, 0, time.FixedZone("WIB", 7*3600)), 2, time.Date(2025, 12, 29, 0, 0, 0, 0, time.UTC)},
	}
	for _, tt := range tests {
		if got := RebasedStart(tt.now, tt.days); !got.Equal(tt.want) {
			t.Errorf("RebasedStart(%s, %d) = %s; want %s", tt.now, tt.days, got, tt.want)
		}
	}
}

func TestFeedNeverAheadOfClock(t *testing.T) {
	t.Parallel()
	// A world whose day is not over: the evening's events wait for the clock.
	now := time.Date(2025, 6, 15, 20, 0, 0, 0, time.UTC)
	c := newClock(now)
	s := newServer(t, c.Now, nil).start()
	o := options(s.srv.URL, c)
	o.Rebase, o.World.Start = false, now
	st, err := Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	got := s.events()
	held := 0
	for i, r := range got {
		if r.ev.At.After(r.at) {
			t.Fatalf("event %d dated %s arrived at %s, in the future of the clock", i, r.ev.At, r.at)
		}
		if r.ev.At.After(now) {
			held++
		}
	}
	if held == 0 || uint64(len(got)) != st.Generated {
		t.Fatalf("%d of %d events arrived, %d of them after the start of the test; want all, some after", len(got), st.Generated, held)
	}
	if last := got[len(got)-1].ev.At; c.Now().Before(last) {
		t.Errorf("the feed ended at %s, before its last event at %s", c.Now(), last)
	}
}

// TestFeedStopAtClock: with StopAtClock the same world ends at the clock:
// every event up to it is sent and none after it, and Run returns at once.
func TestFeedStopAtClock(t *testing.T) {
	t.Parallel()
	now := time.Date(2025, 6, 15, 20, 0, 0, 0, time.UTC)
	c := newClock(now)
	s := newServer(t, c.Now, nil).start()
	o := options(s.srv.URL, c)
	o.Rebase, o.World.Start, o.StopAtClock = false, now, true // the world's day runs past the clock
	st, err := Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	got := s.events()
	if len(got) == 0 || uint64(len(got)) != st.Sent || st.Generated != st.Sent+1 {
		t.Fatalf("%d events arrived, stats %+v: want every event before the clock and one generated and not sent", len(got), st)
	}
	for i, r := range got {
		if r.ev.At.After(now) {
			t.Fatalf("event %d dated %s, after the clock's %s, was sent", i, r.ev.At, now)
		}
	}
	if !c.Now().Before(now.Add(time.Hour)) {
		t.Errorf("the feed waited until %s", c.Now())
	}
}

// BenchmarkFeed feeds simulate's default world (about 95,000 events) at
// unlimited speed into a real intake on loopback whose Sink discards, with no
// rate limit: the feeder's own ceiling on this machine, intake included.
func BenchmarkFeed(b *testing.B) {
	for _, gz := range []bool{false, true} {
		name := "plain"
		if gz {
			name = "gzip"
		}
		b.Run(name, func(b *testing.B) {
			var events uint64
			for b.Loop() {
				b.StopTimer()
				h, err := intake.NewHandler(intake.Options{
					Keys:       map[string][]byte{"demo": secret},
					Sink:       func(context.Context, []event.Event) error { return nil },
					RateEvents: -1,
					Logger:     slog.New(slog.DiscardHandler),
				})
				if err != nil {
					b.Fatal(err)
				}
				srv := httptest.NewServer(h)
				b.StartTimer()
				st, err := Run(context.Background(), Options{
					World:  simulate.Options{Seed: 1},
					Speed:  math.Inf(1),
					URL:    srv.URL,
					KeyID:  "demo",
					Secret: secret,
					Gzip:   gz,
					Logger: slog.New(slog.DiscardHandler),
				})
				b.StopTimer()
				srv.Close()
				b.StartTimer()
				if err != nil {
					b.Fatal(err)
				}
				events += st.Sent
			}
			b.ReportMetric(float64(events)/b.Elapsed().Seconds(), "events/s")
		})
	}
}

// BenchmarkEncodeOnly is the generator and the encoding of the batches alone,
// for comparison with BenchmarkFeed.
func BenchmarkEncodeOnly(b *testing.B) {
	var events uint64
	for b.Loop() {
		var buf []byte
		_, st, err := simulate.Generate(context.Background(), simulate.Options{Seed: 1}, func(e *event.Event) error {
			line, err := e.MarshalJSON()
			buf = append(append(buf[:0], line...), '\n')
			return err
		})
		if err != nil {
			b.Fatal(err)
		}
		events += st.Events
	}
	b.ReportMetric(float64(events)/b.Elapsed().Seconds(), "events/s")
}

// TestFeedSameWorldTwice: a second run of the same world at the same moment
// signs its first batch as the first run did; the intake takes the signature
// for a replay, and the feeder signs again a second later.
func TestFeedSameWorldTwice(t *testing.T) {
	t.Parallel()
	c := newClock(monday10)
	s := newServer(t, c.Now, nil).start()
	o := options(s.srv.URL, c)
	first, err := Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	c.mu.Lock()
	c.t = monday10 // the second run starts within the same second
	c.mu.Unlock()
	second, err := Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	// The intake's dedup window is a day of event time: the world's older
	// account events (years before its start) are taken again.
	if second.Sent != first.Sent || second.Duplicates < first.Sent*9/10 || second.Retries == 0 {
		t.Errorf("second run %+v; want the %d events sent again, most of them duplicates, after a retry", second, first.Sent)
	}
	if n := s.statuses(http.StatusUnauthorized); n == 0 {
		t.Errorf("the intake never refused a replay; the test does not test it")
	}
}
