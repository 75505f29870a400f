package intake

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/ronda-watch/ronda/analyzer/event"
	"github.com/ronda-watch/ronda/sidecar/intake/intaketest"
	"github.com/ronda-watch/ronda/sidecar/intake/wire"
)

var (
	key1 = intaketest.Key1
	key2 = intaketest.Key2
)

// recorder is a Sink that keeps what it takes, or says busy.
type recorder struct {
	mu   sync.Mutex
	evs  []event.Event
	busy atomic.Bool
}

func (r *recorder) sink(_ context.Context, evs []event.Event) error {
	if r.busy.Load() {
		return ErrBusy
	}
	r.mu.Lock()
	r.evs = append(r.evs, evs...)
	r.mu.Unlock()
	return nil
}

func (r *recorder) ids() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var ids []string
	for _, ev := range r.evs {
		ids = append(ids, ev.ID)
	}
	return ids
}

type fixture struct {
	t   *testing.T
	srv *httptest.Server
	h   *Handler
	rec *recorder
	reg *prometheus.Registry
	seq atomic.Int64 // fresh ids for valid batches
}

// start serves a Handler on loopback with keys "k1" and "k2"; edit adjusts
// the options first.
func start(t *testing.T, edit func(*Options)) *fixture {
	t.Helper()
	f := &fixture{t: t, rec: &recorder{}, reg: prometheus.NewRegistry()}
	opts := Options{
		Keys:       map[string][]byte{"k1": key1, "k2": key2},
		Sink:       f.rec.sink,
		Registerer: f.reg,
	}
	if edit != nil {
		edit(&opts)
	}
	h, err := NewHandler(opts)
	if err != nil {
		t.Fatal(err)
	}
	f.h = h
	mux := http.NewServeMux()
	mux.Handle(Path, h)
	f.srv = httptest.NewServer(mux)
	t.Cleanup(f.srv.Close)
	return f
}

func chat(id string) string { return intaketest.Chat(id) }

func batch(lines ...string) []byte { return []byte(strings.Join(lines, "\n") + "\n") }

// fresh is a valid batch of n new events.
func (f *fixture) fresh(n int) []byte {
	var lines []string
	for range n {
		lines = append(lines, chat(fmt.Sprintf("fresh-%d", f.seq.Add(1))))
	}
	return batch(lines...)
}

type reply struct {
	status int
	header http.Header
	answer Answer
	err    string
	raw    string
}

// request builds a POST; sign says how to sign it (nil: not at all).
func (f *fixture) request(body []byte, sign func(*http.Request, []byte)) *http.Request {
	req, err := http.NewRequest(http.MethodPost, f.srv.URL+Path, bytes.NewReader(body))
	if err != nil {
		f.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-ndjson")
	if sign != nil {
		sign(req, body)
	}
	return req
}

func (f *fixture) do(req *http.Request) reply {
	f.t.Helper()
	resp, err := f.srv.Client().Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		f.t.Fatal(err)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		f.t.Fatalf("status %d: content type %q, body %s", resp.StatusCode, ct, raw)
	}
	r := reply{status: resp.StatusCode, header: resp.Header, raw: string(raw)}
	if resp.StatusCode == http.StatusOK {
		err = json.Unmarshal(raw, &r.answer)
	} else {
		var e wire.ErrorBody
		err = json.Unmarshal(raw, &e)
		r.err = e.Error
		if e.Error == "" {
			f.t.Fatalf("status %d without an error message: %s", resp.StatusCode, raw)
		}
	}
	if err != nil {
		f.t.Fatalf("status %d: %v: %s", resp.StatusCode, err, raw)
	}
	return r
}

func signWith(keyID string, secret []byte, at time.Time) func(*http.Request, []byte) {
	return func(req *http.Request, body []byte) { wire.Sign(req, keyID, secret, body, at) }
}

func signed(req *http.Request, body []byte) { wire.Sign(req, "k1", key1, body, time.Now()) }

// post sends body signed with k1 now.
func (f *fixture) post(body []byte) reply {
	f.t.Helper()
	return f.do(f.request(body, signed))
}

// stillWorks checks that a valid request is accepted after a refusal.
func (f *fixture) stillWorks() {
	f.t.Helper()
	r := f.post(f.fresh(2))
	if r.status != http.StatusOK || r.answer.Accepted != 2 {
		f.t.Fatalf("valid request after a refusal: %d %s", r.status, r.raw)
	}
}

func gz(t *testing.T, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := zw.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestAcceptedBatch(t *testing.T) {
	t.Parallel()
	f := start(t, nil)
	r := f.post(batch(chat("a1"), chat("a2"), chat("a3")))
	if r.status != http.StatusOK {
		t.Fatalf("status %d: %s", r.status, r.raw)
	}
	want := `{"accepted":3,"duplicates":[],"rejected":[],"unknown":0}` + "\n"
	if r.raw != want {
		t.Errorf("answer %s, want %s", r.raw, want)
	}
	if got := strings.Join(f.rec.ids(), ","); got != "a1,a2,a3" {
		t.Errorf("sink got %s", got)
	}
	if n := testutil.ToFloat64(f.h.m.events.WithLabelValues("accepted")); n != 3 {
		t.Errorf("accepted metric %v", n)
	}
}

func TestMixedLines(t *testing.T) {
	t.Parallel()
	f := start(t, nil)
	body := batch(
		chat("m1"),
		`{"id":"m2","type":"chat",`, // malformed JSON
		`{"id":"m3","type":"gift","at":"2025-06-02T13:05:00Z","stream_id":"s1","host_id":"h1","sender_id":"v1","coins":-5}`,
		``, // blank: skipped, still numbered
		`{"id":"m5","type":"vote","at":"2025-06-02T13:05:00Z"}`, // unknown type
		`[1,2]`,
		chat("m7"),
	)
	r := f.post(body)
	if r.status != http.StatusOK {
		t.Fatalf("status %d: %s", r.status, r.raw)
	}
	a := r.answer
	if a.Accepted != 2 || a.Unknown != 1 || len(a.Rejected) != 3 {
		t.Fatalf("answer %s", r.raw)
	}
	want := []Rejected{
		{Line: 2, ID: "", Field: "", Reason: a.Rejected[0].Reason},
		{Line: 3, ID: "m3", Field: "coins", Reason: "must be an integer > 0"},
		{Line: 6, Reason: "an event must be a JSON object"},
	}
	for i, w := range want {
		if a.Rejected[i] != w {
			t.Errorf("rejected[%d] = %+v, want %+v", i, a.Rejected[i], w)
		}
	}
	if !strings.Contains(a.Rejected[0].Reason, "JSON") {
		t.Errorf("malformed line reason %q", a.Rejected[0].Reason)
	}
	if got := strings.Join(f.rec.ids(), ","); got != "m1,m7" {
		t.Errorf("sink got %s", got)
	}
}

func TestDuplicates(t *testing.T) {
	t.Parallel()
	f := start(t, nil)
	r := f.post(batch(chat("d1"), chat("d2"), chat("d1")))
	if r.answer.Accepted != 2 || strings.Join(r.answer.Duplicates, ",") != "d1" {
		t.Fatalf("first batch: %s", r.raw)
	}
	r = f.post(batch(chat("d2"), chat("d3"), chat("d1")))
	if r.answer.Accepted != 1 || strings.Join(r.answer.Duplicates, ",") != "d2,d1" {
		t.Fatalf("second batch: %s", r.raw)
	}
	if got := strings.Join(f.rec.ids(), ","); got != "d1,d2,d3" {
		t.Errorf("sink got %s", got)
	}
}

func TestGzip(t *testing.T) {
	t.Parallel()
	f := start(t, nil)
	body := gz(t, batch(chat("g1"), chat("g2"), `{"bad"}`))
	req := f.request(body, signed) // the signature covers the bytes as sent
	req.Header.Set("Content-Encoding", "gzip")
	r := f.do(req)
	if r.status != http.StatusOK || r.answer.Accepted != 2 || len(r.answer.Rejected) != 1 || r.answer.Rejected[0].Line != 3 {
		t.Fatalf("gzip batch: %d %s", r.status, r.raw)
	}
}

// TestRefused sends each bad request, checks its answer and metric, then
// that a valid request is still taken.
func TestRefused(t *testing.T) {
	t.Parallel()
	now := time.Now()
	bomb := gz(t, bytes.Repeat([]byte("\n"), 2<<20)) // 2 MiB of blank lines in a few KiB
	cases := []struct {
		name    string
		req     func(f *fixture) *http.Request
		status  int
		reason  string // metric label
		message string // in the error
	}{
		{"missing signature", func(f *fixture) *http.Request {
			return f.request(f.fresh(1), nil)
		}, 401, "no_signature", "missing signature"},
		{"missing timestamp", func(f *fixture) *http.Request {
			req := f.request(f.fresh(1), signed)
			req.Header.Del(wire.HeaderTimestamp)
			return req
		}, 401, "no_signature", "missing signature"},
		{"wrong signature", func(f *fixture) *http.Request {
			return f.request(f.fresh(1), signWith("k1", []byte("not-the-secret-at-all"), now))
		}, 401, "bad_signature", "does not match"},
		{"tampered body", func(f *fixture) *http.Request {
			body := f.fresh(1)
			req := f.request(append(body, chat("smuggled")...), nil)
			signed(req, body)
			return req
		}, 401, "bad_signature", "does not match"},
		{"malformed signature", func(f *fixture) *http.Request {
			req := f.request(f.fresh(1), signed)
			req.Header.Set(wire.HeaderSignature, "md5=abc")
			return req
		}, 401, "bad_signature", "sha256="},
		{"expired signature", func(f *fixture) *http.Request {
			return f.request(f.fresh(1), signWith("k1", key1, now.Add(-6*time.Minute)))
		}, 401, "expired", "replay window"},
		{"timestamp from the future", func(f *fixture) *http.Request {
			return f.request(f.fresh(1), signWith("k1", key1, now.Add(6*time.Minute)))
		}, 401, "expired", "replay window"},
		{"bad timestamp", func(f *fixture) *http.Request {
			req := f.request(f.fresh(1), signed)
			req.Header.Set(wire.HeaderTimestamp, "yesterday")
			return req
		}, 401, "bad_timestamp", "Unix seconds"},
		{"unknown key id", func(f *fixture) *http.Request {
			return f.request(f.fresh(1), signWith("k9", key1, now))
		}, 401, "bad_signature", "does not match"},
		{"replayed request", func(f *fixture) *http.Request {
			body := f.fresh(1)
			first := f.request(body, signed)
			again := f.request(body, nil)
			again.Header = first.Header.Clone()
			if r := f.do(first); r.status != 200 {
				f.t.Fatalf("original request: %d %s", r.status, r.raw)
			}
			return again
		}, 401, "replayed", "replayed request"},
		{"oversize body", func(f *fixture) *http.Request {
			return f.request(bytes.Repeat([]byte("\n"), 1<<20+1), signed)
		}, 413, "body_too_large", "larger than"},
		{"oversize body without length", func(f *fixture) *http.Request {
			body := bytes.Repeat([]byte("\n"), 1<<20+1)
			req := f.request(nil, signed)
			wire.Sign(req, "k1", key1, body, now)
			req.Body = io.NopCloser(bytes.NewReader(body))
			req.ContentLength = -1 // chunked
			return req
		}, 413, "body_too_large", "larger than"},
		{"gzip bomb", func(f *fixture) *http.Request {
			req := f.request(bomb, signed)
			req.Header.Set("Content-Encoding", "gzip")
			return req
		}, 413, "decoded_too_large", "inflates"},
		{"corrupt gzip", func(f *fixture) *http.Request {
			req := f.request([]byte("not gzip at all"), signed)
			req.Header.Set("Content-Encoding", "gzip")
			return req
		}, 400, "bad_gzip", "gzip"},
		{"gzip without its header", func(f *fixture) *http.Request {
			return f.request(gz(f.t, f.fresh(1)), signed)
		}, 400, "bad_encoding", "Content-Encoding"},
		{"other encoding", func(f *fixture) *http.Request {
			req := f.request(f.fresh(1), signed)
			req.Header.Set("Content-Encoding", "br")
			return req
		}, 415, "bad_encoding", "Content-Encoding"},
		{"too many lines", func(f *fixture) *http.Request {
			return f.request(f.fresh(101), signed)
		}, 413, "too_many_lines", "more than 100 lines"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			f := start(t, func(o *Options) {
				o.MaxBodyBytes = 1 << 20
				o.MaxDecodedBytes = 1 << 20
				o.MaxLines = 100
			})
			r := f.do(c.req(f))
			if r.status != c.status || !strings.Contains(r.err, c.message) {
				t.Fatalf("got %d %s, want %d with %q", r.status, r.raw, c.status, c.message)
			}
			if n := testutil.ToFloat64(f.h.m.refused.WithLabelValues(c.reason)); n != 1 {
				t.Errorf("ronda_intake_refused_total{reason=%q} = %v, want 1", c.reason, n)
			}
			before := len(f.rec.ids())
			f.stillWorks()
			if c.name != "replayed request" && before != 0 {
				t.Errorf("the refused request reached the sink: %v", f.rec.ids())
			}
		})
	}
}

func TestMalformedLineKeepsTheRest(t *testing.T) {
	t.Parallel()
	f := start(t, nil)
	r := f.post(batch(`{"id":"x1","type":"chat","at":"2025-06-02T13:05:00Z","stream_id":"s1","sender_id":"v1","text":"a\u00"}`, chat("x2")))
	if r.status != 200 || r.answer.Accepted != 1 || len(r.answer.Rejected) != 1 || r.answer.Rejected[0].Line != 1 {
		t.Fatalf("%d %s", r.status, r.raw)
	}
	f.stillWorks()
}

func TestKeyRotation(t *testing.T) {
	t.Parallel()
	f := start(t, nil)
	for _, k := range []struct {
		id     string
		secret []byte
	}{{"k1", key1}, {"k2", key2}} {
		r := f.do(f.request(f.fresh(1), signWith(k.id, k.secret, time.Now())))
		if r.status != 200 || r.answer.Accepted != 1 {
			t.Errorf("key %s: %d %s", k.id, r.status, r.raw)
		}
	}
	// A key's secret does not sign for another key id.
	r := f.do(f.request(f.fresh(1), signWith("k2", key1, time.Now())))
	if r.status != 401 {
		t.Errorf("k2 signed with k1's secret: %d %s", r.status, r.raw)
	}
	f.stillWorks()
}

func TestRateLimit(t *testing.T) {
	t.Parallel()
	f := start(t, func(o *Options) {
		o.RateEvents = 1
		o.RateBurst = 20
		o.MaxLines = 20 // the burst must hold the largest batch
	})
	if r := f.post(f.fresh(20)); r.status != 200 {
		t.Fatalf("burst: %d %s", r.status, r.raw)
	}
	r := f.post(f.fresh(5))
	if r.status != http.StatusTooManyRequests || !strings.Contains(r.err, "rate") {
		t.Fatalf("over the rate: %d %s", r.status, r.raw)
	}
	if s, err := strconv.Atoi(r.header.Get("Retry-After")); err != nil || s < 1 {
		t.Errorf("Retry-After %q", r.header.Get("Retry-After"))
	}
	// A batch larger than the burst (and so than MaxLines) can never pass.
	r = f.do(f.request(f.fresh(21), signWith("k2", key2, time.Now())))
	if r.status != http.StatusRequestEntityTooLarge || !strings.Contains(r.err, "more than 20 lines") {
		t.Fatalf("over the burst: %d %s", r.status, r.raw)
	}
	// The other key has its own bucket.
	r = f.do(f.request(f.fresh(3), signWith("k2", key2, time.Now())))
	if r.status != 200 || r.answer.Accepted != 3 {
		t.Fatalf("other key: %d %s", r.status, r.raw)
	}
	if n := testutil.ToFloat64(f.h.m.refused.WithLabelValues("rate_limited")); n != 1 {
		t.Errorf("rate_limited = %v", n)
	}
}

func TestRateLimitBurstOnRealClock(t *testing.T) {
	t.Parallel()
	f := start(t, func(o *Options) {
		o.RateEvents = 100
		o.RateBurst = 200
		o.MaxLines = 200
	})
	var ok, limited int
	for range 20 {
		r := f.post(f.fresh(50))
		switch r.status {
		case 200:
			ok++
		case 429:
			limited++
			if r.header.Get("Retry-After") == "" {
				t.Fatal("429 without Retry-After")
			}
		default:
			t.Fatalf("%d %s", r.status, r.raw)
		}
	}
	if ok < 4 || limited == 0 {
		t.Errorf("%d taken, %d limited", ok, limited)
	}
}

func TestSinkBusy(t *testing.T) {
	t.Parallel()
	f := start(t, func(o *Options) { o.BusyRetryAfter = 2 * time.Second })
	body := batch(chat("b1"), chat("b2"))
	req := f.request(body, signed)
	retry := f.request(body, nil)
	retry.Header = req.Header.Clone()

	f.rec.busy.Store(true)
	r := f.do(req)
	if r.status != http.StatusServiceUnavailable || r.header.Get("Retry-After") != "2" || !strings.Contains(r.err, "busy") {
		t.Fatalf("busy sink: %d %q %s", r.status, r.header.Get("Retry-After"), r.raw)
	}
	f.rec.busy.Store(false)
	// The same request again: not a replay (nothing was taken) and not
	// duplicates (the pipeline never had them).
	r = f.do(retry)
	if r.status != 200 || r.answer.Accepted != 2 || len(r.answer.Duplicates) != 0 {
		t.Fatalf("retry: %d %s", r.status, r.raw)
	}
	// A third time, re-signed: duplicates now.
	r = f.do(f.request(body, signWith("k1", key1, time.Now().Add(-time.Second))))
	if r.status != 200 || len(r.answer.Duplicates) != 2 {
		t.Fatalf("third: %d %s", r.status, r.raw)
	}
	f.stillWorks()
}

func TestInFlightBound(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	entered := make(chan struct{}, 1)
	var f *fixture
	f = start(t, func(o *Options) {
		o.MaxInFlight = 1
		o.InFlightWait = 10 * time.Millisecond
		o.Sink = func(ctx context.Context, evs []event.Event) error {
			if evs[0].ID == "slow" {
				entered <- struct{}{}
				<-release
			}
			return f.rec.sink(ctx, evs)
		}
	})
	done := make(chan reply)
	go func() { done <- f.post(batch(chat("slow"))) }()
	<-entered
	r := f.post(f.fresh(1))
	if r.status != 503 || r.header.Get("Retry-After") == "" {
		t.Errorf("second request while one is in flight: %d %s", r.status, r.raw)
	}
	close(release)
	if r := <-done; r.status != 200 {
		t.Errorf("slow request: %d %s", r.status, r.raw)
	}
	f.stillWorks()
}

func TestMethod(t *testing.T) {
	t.Parallel()
	f := start(t, nil)
	req, _ := http.NewRequest(http.MethodGet, f.srv.URL+Path, nil)
	if r := f.do(req); r.status != http.StatusMethodNotAllowed {
		t.Errorf("GET: %d", r.status)
	}
}

// TestReplayMemoryFull: a key whose share of the replay memory is full gets
// 503; the other key, with its own share, is not refused.
func TestReplayMemoryFull(t *testing.T) {
	t.Parallel()
	f := start(t, func(o *Options) { o.ReplayMemory = 4 }) // two keys: a share of two each
	f.stillWorks()
	f.stillWorks()
	r := f.post(f.fresh(1))
	if r.status != 503 {
		t.Fatalf("third request with a share of two: %d %s", r.status, r.raw)
	}
	for range 2 {
		if r := f.do(f.request(f.fresh(1), signWith("k2", key2, time.Now()))); r.status != 200 {
			t.Fatalf("other key: %d %s", r.status, r.raw)
		}
	}
}

func TestReplayGuardExpires(t *testing.T) {
	t.Parallel()
	g := newReplayGuard(2, 1)
	t0 := time.Unix(1_700_000_000, 0)
	a, b, c := [32]byte{1}, [32]byte{2}, [32]byte{3}
	for _, s := range [][32]byte{a, b} {
		if g.add("k", s, t0, t0.Add(time.Minute)) != replayNew {
			t.Fatal("new signature refused")
		}
	}
	if g.add("k", a, t0, t0.Add(time.Minute)) != replayed {
		t.Error("replay not seen")
	}
	if g.add("k", c, t0, t0.Add(time.Minute)) != replayFull {
		t.Error("memory not full")
	}
	g.forget(b)
	if g.add("k", c, t0, t0.Add(time.Minute)) != replayNew {
		t.Error("forgotten slot not reused")
	}
	if g.add("k", b, t0.Add(2*time.Minute), t0.Add(3*time.Minute)) != replayNew || g.len() != 1 {
		t.Errorf("expired signatures kept: %d", g.len())
	}
}

func TestNewHandlerValidates(t *testing.T) {
	t.Parallel()
	sink := func(context.Context, []event.Event) error { return nil }
	reg := prometheus.NewRegistry()
	for name, o := range map[string]Options{
		"no keys":   {Sink: sink},
		"short key": {Keys: map[string][]byte{"k": []byte("short")}, Sink: sink},
		"empty id":  {Keys: map[string][]byte{"": key1}, Sink: sink},
		"no sink":   {Keys: map[string][]byte{"k": key1}},
		"negative":  {Keys: map[string][]byte{"k": key1}, Sink: sink, MaxBodyBytes: -1},
	} {
		if _, err := NewHandler(o); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	ok := Options{Keys: map[string][]byte{"k": key1}, Sink: sink, Registerer: reg}
	if _, err := NewHandler(ok); err != nil {
		t.Fatal(err)
	}
	if _, err := NewHandler(ok); err == nil {
		t.Error("second handler on the same registry: no error")
	}
}
