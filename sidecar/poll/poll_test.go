package poll

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/ronda-watch/ronda/analyzer/event"
)

func fixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestDecodeNginxStat(t *testing.T) {
	t.Parallel()
	streams, over, err := DecodeNginxStat(fixture(t, "nginx-stat-two-streams.xml"), "", 100)
	if err != nil || over != 0 {
		t.Fatalf("decode: %v, over %d", err, over)
	}
	want := []Stream{
		{ID: "live/bob", Name: "bob", Session: "11647/1", Viewers: 0, IP: "127.0.0.1", Age: 3731 * time.Millisecond},
		{ID: "live/s1", Name: "s1", Session: "11647/2", Viewers: 2, IP: "127.0.0.1", Age: 3723 * time.Millisecond},
	}
	if len(streams) != len(want) {
		t.Fatalf("got %+v", streams)
	}
	for i := range want {
		if streams[i] != want[i] {
			t.Errorf("stream %d: got %+v, want %+v", i, streams[i], want[i])
		}
	}
	if s, _, _ := DecodeNginxStat(fixture(t, "nginx-stat-two-streams.xml"), "other", 100); len(s) != 0 {
		t.Errorf("app filter kept %+v", s)
	}
	if s, over, _ := DecodeNginxStat(fixture(t, "nginx-stat-two-streams.xml"), "", 1); len(s) != 1 || over != 1 {
		t.Errorf("limit 1: %d streams, over %d", len(s), over)
	}
	for name, body := range map[string]string{
		"not XML":   "{}",
		"truncated": `<?xml version="1.0"?><rtmp><server><application>`,
		"empty":     "",
	} {
		if _, _, err := DecodeNginxStat([]byte(body), "", 10); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func TestDecodeSRS(t *testing.T) {
	t.Parallel()
	vh, err := DecodeSRSVhosts(fixture(t, "srs-v5-vhosts.json"))
	if err != nil {
		t.Fatal(err)
	}
	streams, over, err := DecodeSRSStreams(fixture(t, "srs-v5-streams.json"), vh, 100)
	if err != nil || over != 0 {
		t.Fatalf("decode: %v, over %d", err, over)
	}
	want := []Stream{
		{ID: "live/livestream", Name: "livestream", Session: "vid-0xk989d/7o2a95u9", Viewers: 2, Args: "host=alice"},
		{ID: "live.example.org/show/cam2", Name: "cam2", Session: "vid-0xk989d/k2j4h5g6", Viewers: 0},
	}
	if len(streams) != 2 || streams[0] != want[0] || streams[1] != want[1] {
		t.Errorf("v5: got %+v\nwant %+v", streams, want)
	}
	vh, err = DecodeSRSVhosts(fixture(t, "srs-v4-vhosts.json"))
	if err != nil {
		t.Fatal(err)
	}
	streams, _, err = DecodeSRSStreams(fixture(t, "srs-v4-streams.json"), vh, 100)
	if err != nil || len(streams) != 1 || streams[0].ID != "live/123" || streams[0].Session != "24418/112" || streams[0].Viewers != 1 {
		t.Errorf("v4: %+v %v", streams, err)
	}
	for name, body := range map[string]string{
		"error code": `{"code":1003,"server":"vid-1"}`,
		"no code":    `{"streams":[]}`,
		"two values": `{"code":0,"streams":[]}{}`,
		"bad id":     `{"code":0,"server":[1,{"a":1}],"streams":[{"name":"x","app":"a","vhost":true,"publish":{"active":true}}]}`,
	} {
		if _, _, err := DecodeSRSStreams([]byte(body), nil, 10); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func TestDecodeOME(t *testing.T) {
	t.Parallel()
	names, err := DecodeOMEList(fixture(t, "ome-streams-app.json"))
	if err != nil || len(names) != 2 || names[0] != "stream" {
		t.Fatalf("list: %v %v", names, err)
	}
	st, err := DecodeOMEStats(fixture(t, "ome-stats-stream.json"))
	if err != nil {
		t.Fatal(err)
	}
	created := time.Date(2023, 3, 15, 10, 46, 13, 728e6, time.UTC)
	if st.Viewers != 7 || st.Session != "2023-03-15T19:46:13.728+09:00" || !st.Since.Equal(created) {
		t.Errorf("stats: %+v", st)
	}
	for _, body := range []string{`{"statusCode":404,"message":"x"}`, `{"statusCode":200}`, `[`} {
		if _, err := DecodeOMEStats([]byte(body)); err == nil {
			t.Errorf("%s: no error", body)
		}
	}
}

// server is a media server's statistics endpoint whose answer the test sets.
type server struct {
	mu     sync.Mutex
	body   []byte
	status int
	hits   atomic.Int64
}

func (s *server) set(status int, body []byte) {
	s.mu.Lock()
	s.status, s.body = status, body
	s.mu.Unlock()
}

func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.hits.Add(1)
	s.mu.Lock()
	defer s.mu.Unlock()
	w.WriteHeader(s.status)
	w.Write(s.body)
}

// sink records what it takes and refuses while busy is set.
type sink struct {
	mu   sync.Mutex
	evs  []event.Event
	busy bool
}

func (k *sink) take(_ context.Context, evs []event.Event) error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.busy {
		return errors.New("pipeline busy")
	}
	k.evs = append(k.evs, evs...)
	return nil
}

// drain returns what was taken since the last drain, by type.
func (k *sink) drain() map[event.Type][]event.Event {
	k.mu.Lock()
	defer k.mu.Unlock()
	out := map[event.Type][]event.Event{}
	for _, e := range k.evs {
		out[e.Type] = append(out[e.Type], e)
	}
	k.evs = nil
	return out
}

func newPoller(t *testing.T, o Options) *Poller {
	t.Helper()
	p, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestPollerSessions tells the life of two nginx-rtmp streams through the
// poller with sessions: each poll beats every live stream, a stream starts
// once, a failed poll ends nothing, a stream gone from a successful poll
// ends, a poller restarted gives the same start id, and a busy pipeline loses
// the heartbeats but not the start, sent again under its id.
func TestPollerSessions(t *testing.T) {
	t.Parallel()
	srv := &server{}
	ts := httptest.NewServer(srv)
	defer ts.Close()
	reg := prometheus.NewRegistry()
	clock := time.Date(2026, 12, 6, 4, 0, 0, 0, time.UTC)
	now := func() time.Time { return clock }
	k := &sink{}
	opts := Options{Source: NginxStat{URL: ts.URL + "/stat"}, Sink: k.take, Node: "ingest-1", Sessions: true,
		Now: now, Registerer: reg}
	p := newPoller(t, opts)
	ctx := context.Background()

	srv.set(200, fixture(t, "nginx-stat-two-streams.xml"))
	if err := p.PollOnce(ctx); err != nil {
		t.Fatal(err)
	}
	got := k.drain()
	if len(got[event.TypeStreamStart]) != 2 || len(got[event.TypeStreamHeartbeat]) != 2 || len(got[event.TypeStreamEnd]) != 0 {
		t.Fatalf("first poll: %v", got)
	}
	start := map[string]event.Event{}
	for _, e := range got[event.TypeStreamStart] {
		start[e.StreamID] = e
	}
	s1 := start["live/s1"]
	if s1.HostID != "s1" || s1.IP != "127.0.0.1" || s1.Node != "ingest-1" || !s1.At.Equal(clock.Add(-3723*time.Millisecond)) {
		t.Errorf("start of live/s1: %+v", s1)
	}
	for _, e := range got[event.TypeStreamHeartbeat] {
		if e.StreamID == "live/s1" && e.Viewers != 2 {
			t.Errorf("heartbeat of live/s1: %d viewers, want 2", e.Viewers)
		}
	}

	clock = clock.Add(30 * time.Second)
	p.PollOnce(ctx)
	got = k.drain()
	if len(got[event.TypeStreamStart]) != 0 || len(got[event.TypeStreamHeartbeat]) != 2 {
		t.Fatalf("second poll, same streams: %v", got)
	}

	clock = clock.Add(30 * time.Second)
	srv.set(502, []byte("bad gateway"))
	if err := p.PollOnce(ctx); err == nil {
		t.Fatal("a 502 is not an error")
	}
	srv.set(200, []byte("<rtmp><server>"))
	if err := p.PollOnce(ctx); err == nil {
		t.Fatal("a torn page is not an error")
	}
	if got = k.drain(); len(got) != 0 {
		t.Fatalf("failed polls emitted %v", got)
	}

	clock = clock.Add(30 * time.Second)
	srv.set(200, fixture(t, "nginx-stat-one-stream.xml")) // only live/s1, another nginx pid
	p.PollOnce(ctx)
	got = k.drain()
	ends := got[event.TypeStreamEnd]
	if len(ends) != 2 || len(got[event.TypeStreamStart]) != 1 {
		// live/bob is gone and live/s1 is a new session (new pid, client 1).
		t.Fatalf("after the restart of nginx: %v", got)
	}
	newStart := got[event.TypeStreamStart][0]
	if newStart.ID == s1.ID {
		t.Error("a new session of live/s1 kept the old start id")
	}

	// A poller restarted over the same page gives the same start id.
	k2 := &sink{}
	opts2 := opts
	opts2.Sink = k2.take
	p2 := newPoller(t, opts2)
	p2.PollOnce(ctx)
	if again := k2.drain()[event.TypeStreamStart]; len(again) != 1 || again[0].ID != newStart.ID {
		t.Errorf("restarted poller: start %v, want id %s", again, newStart.ID)
	}

	// A busy pipeline: the heartbeats are lost and counted, the end is sent
	// again at the next poll under the same id.
	srv.set(200, []byte(`<?xml version="1.0"?><rtmp><pid>1</pid><server><application><name>live</name><live></live></application></server></rtmp>`))
	k.mu.Lock()
	k.busy = true
	k.mu.Unlock()
	p.PollOnce(ctx)
	k.mu.Lock()
	k.busy = false
	k.mu.Unlock()
	p.PollOnce(ctx)
	got = k.drain()
	if e := got[event.TypeStreamEnd]; len(e) != 1 || e[0].StreamID != "live/s1" {
		t.Fatalf("end after a busy poll: %v", got)
	}
	if v := testutil.ToFloat64(p.m.sinkErrors.WithLabelValues("nginx_rtmp")); v != 1 {
		t.Errorf("sink refusals counted %v, want 1", v)
	}
	if v := testutil.ToFloat64(p.m.requests.WithLabelValues("nginx_rtmp", "error")); v != 2 {
		t.Errorf("failed polls counted %v, want 2", v)
	}
	if v := testutil.ToFloat64(p.m.events.WithLabelValues("nginx_rtmp", "stream.heartbeat")); v != 6 {
		t.Errorf("heartbeats counted %v, want 6 (2+2+1 from the first poller, 1 from the second)", v)
	}
}

// TestPollerHeartbeatsOnly: without sessions only heartbeats, one per live
// stream per poll, each with its own id.
func TestPollerHeartbeatsOnly(t *testing.T) {
	t.Parallel()
	srv := &server{}
	srv.set(200, fixture(t, "nginx-stat-two-streams.xml"))
	ts := httptest.NewServer(srv)
	defer ts.Close()
	k := &sink{}
	clock := time.Date(2026, 12, 6, 4, 0, 0, 0, time.UTC)
	p := newPoller(t, Options{Source: NginxStat{URL: ts.URL}, Sink: k.take, Now: func() time.Time { return clock }})
	ids := map[string]bool{}
	for range 3 {
		p.PollOnce(context.Background())
		clock = clock.Add(time.Second)
	}
	got := k.drain()
	if len(got) != 1 || len(got[event.TypeStreamHeartbeat]) != 6 {
		t.Fatalf("got %v", got)
	}
	for _, e := range got[event.TypeStreamHeartbeat] {
		ids[e.ID] = true
	}
	if len(ids) != 6 {
		t.Errorf("%d distinct heartbeat ids of 6", len(ids))
	}
}

// TestPollerBounds: a body over the limit fails the poll; a poll over
// MaxStreams keeps the first ones, counts the rest and ends nothing.
func TestPollerBounds(t *testing.T) {
	t.Parallel()
	srv := &server{}
	ts := httptest.NewServer(srv)
	defer ts.Close()
	reg := prometheus.NewRegistry()
	k := &sink{}
	p := newPoller(t, Options{Source: NginxStat{URL: ts.URL}, Sink: k.take, Sessions: true, MaxStreams: 1,
		MaxBodyBytes: 4096, Registerer: reg})
	srv.set(200, fixture(t, "nginx-stat-two-streams.xml"))
	if err := p.PollOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	first := k.drain()
	if len(first[event.TypeStreamStart]) != 1 {
		t.Fatalf("limit 1: %v", first)
	}
	if v := testutil.ToFloat64(p.m.skipped.WithLabelValues("nginx_rtmp", "over_max_streams")); v != 1 {
		t.Errorf("over_max_streams %v, want 1", v)
	}
	srv.set(200, []byte("<rtmp>"+strings.Repeat(" ", 5000)+"</rtmp>"))
	if err := p.PollOnce(context.Background()); !errors.Is(err, ErrTooLarge) {
		t.Errorf("large body: %v, want ErrTooLarge", err)
	}
}

// TestPollerPartialKeepsStreams: streams left out by MaxStreams are not ended.
func TestPollerPartialKeepsStreams(t *testing.T) {
	t.Parallel()
	srv := &server{}
	ts := httptest.NewServer(srv)
	defer ts.Close()
	k := &sink{}
	p := newPoller(t, Options{Source: NginxStat{URL: ts.URL}, Sink: k.take, Sessions: true, MaxStreams: 2})
	srv.set(200, fixture(t, "nginx-stat-two-streams.xml"))
	p.PollOnce(context.Background())
	k.drain()
	p.opts.MaxStreams = 1 // the same page, now over the limit
	p.PollOnce(context.Background())
	if got := k.drain(); len(got[event.TypeStreamEnd]) != 0 {
		t.Errorf("a partial poll ended %v", got[event.TypeStreamEnd])
	}
}

// TestOMEPoll runs the OME source against an HTTP server answering the REST
// API's paths with the documented fixtures: Basic auth with the access token,
// applications listed when none are configured, a stream whose statistics
// are gone (404) left out.
func TestOMEPoll(t *testing.T) {
	t.Parallel()
	mux := http.NewServeMux()
	auth := func(h http.HandlerFunc) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			if u, pw, ok := r.BasicAuth(); !ok || u != "ronda" || pw != "s3cret" {
				http.Error(w, `{"statusCode":401}`, http.StatusUnauthorized)
				return
			}
			h(w, r)
		}
	}
	serve := func(name string) http.HandlerFunc {
		return auth(func(w http.ResponseWriter, _ *http.Request) { w.Write(fixture(t, name)) })
	}
	mux.HandleFunc("GET /v1/vhosts/default/apps", serve("ome-apps.json"))
	mux.HandleFunc("GET /v1/vhosts/default/apps/app/streams", serve("ome-streams-app.json"))
	mux.HandleFunc("GET /v1/vhosts/default/apps/show/streams", serve("ome-streams-show.json"))
	mux.HandleFunc("GET /v1/stats/current/vhosts/default/apps/app/streams/stream", serve("ome-stats-stream.json"))
	ts := httptest.NewServer(mux) // stream2's statistics: 404
	defer ts.Close()
	k := &sink{}
	clock := func() time.Time { return time.Date(2023, 3, 15, 11, 0, 0, 0, time.UTC) }
	p := newPoller(t, Options{Source: OME{URL: ts.URL, Token: "ronda:s3cret"}, Sink: k.take, Sessions: true, Now: clock})
	if err := p.PollOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	got := k.drain()
	if s := got[event.TypeStreamStart]; len(s) != 1 || s[0].StreamID != "app/stream" || s[0].HostID != "stream" ||
		!s[0].At.Equal(time.Date(2023, 3, 15, 10, 46, 13, 728e6, time.UTC)) {
		t.Errorf("starts %+v", s)
	}
	if h := got[event.TypeStreamHeartbeat]; len(h) != 1 || h[0].Viewers != 7 {
		t.Errorf("heartbeats %+v", h)
	}
	bad := newPoller(t, Options{Source: OME{URL: ts.URL, Token: "ronda:wrong"}, Sink: k.take})
	var se *StatusError
	if err := bad.PollOnce(context.Background()); !errors.As(err, &se) || se.Code != 401 {
		t.Errorf("wrong token: %v", err)
	}
}

// TestSRSPoll runs the SRS source against an HTTP server answering the API's
// paths with the documented fixtures; HostParam reads the publisher's query.
func TestSRSPoll(t *testing.T) {
	t.Parallel()
	var count string
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1/vhosts/", func(w http.ResponseWriter, _ *http.Request) { w.Write(fixture(t, "srs-v5-vhosts.json")) })
	mux.HandleFunc("GET /api/v1/streams/", func(w http.ResponseWriter, r *http.Request) {
		count = r.URL.Query().Get("count")
		w.Write(fixture(t, "srs-v5-streams.json"))
	})
	ts := httptest.NewServer(mux)
	defer ts.Close()
	k := &sink{}
	p := newPoller(t, Options{Source: SRS{URL: ts.URL + "/"}, Sink: k.take, Sessions: true, HostParam: "host", MaxStreams: 50})
	if err := p.PollOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	if count != "51" {
		t.Errorf("asked for count=%s, want 51 (SRS lists 10 unless asked)", count)
	}
	hosts := map[string]string{}
	for _, e := range k.drain()[event.TypeStreamStart] {
		hosts[e.StreamID] = e.HostID
	}
	if hosts["live/livestream"] != "alice" || hosts["live.example.org/show/cam2"] != "cam2" || len(hosts) != 2 {
		t.Errorf("starts by stream: %v", hosts)
	}
}

// TestRedact: logs never carry a URL's credentials or query.
func TestRedact(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"http://user:pw@host:1/stat?token=x":                          "http://host:1/stat",
		"http://h/v1/stats/current/vhosts/default/apps/app/streams/k": "http://h/v1/stats/current/vhosts/default/apps/app/streams/-",
		"http://h/api/v1/streams/?count=11":                           "http://h/api/v1/streams/",
	} {
		if got := redact(in); got != want {
			t.Errorf("redact(%s) = %s, want %s", in, got, want)
		}
	}
}

func TestCleanIP(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{"127.0.0.1": "127.0.0.1", "::ffff:10.0.0.1": "10.0.0.1", "unix:": "", "": "", " ::1 ": "::1"} {
		if got := cleanIP(in); got != want {
			t.Errorf("cleanIP(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestPollerResume: with sessions off and Resume, a stream already live
// before the poller began (older than ResumeMargin) is started once, dated
// from its age; a stream that began after the poller is left to its hook.
func TestPollerResume(t *testing.T) {
	t.Parallel()
	srv := &server{}
	ts := httptest.NewServer(srv)
	defer ts.Close()
	clock := time.Date(2026, 12, 6, 4, 0, 0, 0, time.UTC)
	k := &sink{}
	p := newPoller(t, Options{Source: NginxStat{URL: ts.URL}, Sink: k.take, Resume: true, Now: func() time.Time { return clock }})
	// Both streams of the page are ~3.7 s old at the first poll, made when
	// the poller began: older than the 2 s margin, so resumed.
	srv.set(200, fixture(t, "nginx-stat-two-streams.xml"))
	p.PollOnce(context.Background())
	got := k.drain()
	if len(got[event.TypeStreamStart]) != 2 || len(got[event.TypeStreamHeartbeat]) != 2 {
		t.Fatalf("first poll: %v", got)
	}
	for _, e := range got[event.TypeStreamStart] {
		if e.At.After(clock.Add(-3 * time.Second)) {
			t.Errorf("resumed start of %s at %v: want dated from its age", e.StreamID, e.At)
		}
	}
	clock = clock.Add(time.Minute)
	p.PollOnce(context.Background())
	if got := k.drain(); len(got[event.TypeStreamStart]) != 0 || len(got[event.TypeStreamHeartbeat]) != 2 {
		t.Fatalf("second poll started again: %v", got)
	}
	// A new session of live/s1 (nginx restarted) 1.5 s old: younger than the
	// poller, its hook starts it.
	srv.set(200, fixture(t, "nginx-stat-one-stream.xml"))
	p.PollOnce(context.Background())
	if got := k.drain(); len(got[event.TypeStreamStart]) != 0 || len(got[event.TypeStreamEnd]) != 0 {
		t.Fatalf("a young stream was started or an old one ended: %v", got)
	}
}

// TestPollerResumeLive: with Live, a stream that began before the poller is
// started unless the receiver already has it, without the margin.
func TestPollerResumeLive(t *testing.T) {
	t.Parallel()
	srv := &server{}
	srv.set(200, fixture(t, "nginx-stat-two-streams.xml"))
	ts := httptest.NewServer(srv)
	defer ts.Close()
	clock := time.Date(2026, 12, 6, 4, 0, 0, 0, time.UTC)
	k := &sink{}
	p := newPoller(t, Options{Source: NginxStat{URL: ts.URL}, Sink: k.take, Resume: true,
		Now:  func() time.Time { return clock },
		Live: func(_ context.Context, id string) bool { return id == "live/bob" }})
	p.PollOnce(context.Background())
	if s := k.drain()[event.TypeStreamStart]; len(s) != 1 || s[0].StreamID != "live/s1" {
		t.Fatalf("starts %v: want live/s1 only (live/bob is live in the receiver)", s)
	}
}
