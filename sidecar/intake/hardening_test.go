package intake

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
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

// The attacks of issue 10, item 7, each against a real loopback server.

// slowSender opens a raw connection and sends a POST with a known key id, a
// signature that cannot match and a body of size bytes, one byte every
// pace, until stop is closed. It returns the connection.
func slowSender(t *testing.T, addr string, size int, pace time.Duration, stop <-chan struct{}) net.Conn {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	fmt.Fprintf(conn, "POST %s HTTP/1.1\r\nHost: %s\r\nContent-Length: %d\r\nX-Slow: 1\r\n%s: k1\r\n%s: %d\r\n%s: sha256=%s\r\n\r\n",
		Path, addr, size, wire.HeaderKey, wire.HeaderTimestamp, time.Now().Unix(), wire.HeaderSignature, strings.Repeat("0", 64))
	go func() {
		t := time.NewTicker(pace)
		defer t.Stop()
		for range size {
			if _, err := conn.Write([]byte{'\n'}); err != nil {
				return
			}
			select {
			case <-stop:
				return
			case <-t.C:
			}
		}
	}()
	return conn
}

// TestSlowBodiesDoNotStopSignedSender: ten sockets that name a known key
// and trickle a body (the signature is never checked until it is whole) do
// not keep a correctly signed sender out. Before, each held one of the 8
// in-flight slots for as long as it liked, and every other sender got 503.
func TestSlowBodiesDoNotStopSignedSender(t *testing.T) {
	t.Parallel()
	rec := &recorder{}
	h, err := NewHandler(Options{
		Keys:       map[string][]byte{"k1": key1},
		Sink:       rec.sink,
		Registerer: prometheus.NewRegistry(),
		Logger:     intaketest.Logger(),
	})
	if err != nil {
		t.Fatal(err)
	}
	var slowIn atomic.Int64 // slow requests that reached the handler
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Slow") != "" {
			slowIn.Add(1)
		}
		h.ServeHTTP(w, r)
	}))
	defer srv.Close()
	addr := srv.Listener.Addr().String()
	stop := make(chan struct{})
	defer close(stop)
	for range 10 {
		conn := slowSender(t, addr, 1000, 50*time.Millisecond, stop)
		defer conn.Close() // before srv.Close, which waits for their requests
	}
	intaketest.WaitFor(t, "ten slow requests in the handler", func() bool { return slowIn.Load() == 10 })

	f := &fixture{t: t, srv: srv, h: h, rec: rec}
	for i := range 5 {
		r := f.post(f.fresh(3))
		if r.status != http.StatusOK || r.answer.Accepted != 3 {
			t.Fatalf("signed request %d while ten slow bodies are read: %d %s", i, r.status, r.raw)
		}
	}
}

// TestSlowBodyCut: a body slower than MinBodyRate, or longer than
// BodyTimeout, gets 408 and its connection is closed, though the server has
// no ReadTimeout.
func TestSlowBodyCut(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name string
		edit func(*Options)
	}{
		{"below the minimum rate", func(o *Options) { o.MinBodyRate = 1000 }},
		{"past the body timeout", func(o *Options) { o.MinBodyRate = -1; o.BodyTimeout = 300 * time.Millisecond }},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			f := start(t, c.edit)
			stop := make(chan struct{})
			defer close(stop)
			conn := slowSender(t, f.srv.Listener.Addr().String(), 1000, 100*time.Millisecond, stop)
			_ = conn.SetReadDeadline(time.Now().Add(time.Minute))
			resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusRequestTimeout || !resp.Close {
				t.Fatalf("status %d, close %v", resp.StatusCode, resp.Close)
			}
			if n := testutil.ToFloat64(f.h.m.refused.WithLabelValues("read_timeout")); n != 1 {
				t.Errorf("read_timeout = %v", n)
			}
			f.stillWorks()
		})
	}
}

// TestUnknownKeyLooksLikeBadSignature: an unknown key id and a known one
// with a wrong signature get the same status and the same body, on both
// intakes, so that ids cannot be probed.
func TestUnknownKeyLooksLikeBadSignature(t *testing.T) {
	t.Parallel()
	f := start(t, nil)
	body := f.fresh(1)
	unknown := f.do(f.request(body, signWith("k9", key1, time.Now())))
	wrong := f.do(f.request(body, signWith("k1", key2, time.Now())))
	if unknown.status != wrong.status || unknown.raw != wrong.raw {
		t.Fatalf("unknown key: %d %s; bad signature: %d %s", unknown.status, unknown.raw, wrong.status, wrong.raw)
	}

	s := newWSServer(t, nil)
	answer := func(keyID string, secret []byte) string {
		_, resp, err := s.dialRaw(s.handshakeURL("e1", "s1"), func(h http.Header, uri string) {
			wire.SignHandshake(h, keyID, secret, uri, time.Now())
		})
		if err == nil || resp == nil {
			t.Fatalf("handshake with %s: %v", keyID, err)
		}
		defer resp.Body.Close()
		var b bytes.Buffer
		b.ReadFrom(resp.Body)
		return strconv.Itoa(resp.StatusCode) + " " + b.String()
	}
	if u, w := answer("k9", key1), answer("k1", key2); u != w {
		t.Fatalf("websocket: unknown key %s; bad signature %s", u, w)
	}
}

var emptyN atomic.Int64

// emptyBatch is a batch of blank lines only, each a different body (and so
// signature) from the last.
func emptyBatch() []byte { return bytes.Repeat([]byte("\n"), int(emptyN.Add(1))%4096+1) }

// TestEmptyBatchFloodDoesNotStopOtherKey: one key holder sending empty
// signed batches as fast as it can fills only its share of the replay
// memory; another key's sender is not refused. Before, the memory was one
// pool and every key got 503 once it was full.
func TestEmptyBatchFloodDoesNotStopOtherKey(t *testing.T) {
	t.Parallel()
	f := start(t, func(o *Options) { o.ReplayMemory = 100 })
	full := 0
	for range 150 {
		r := f.do(f.request(emptyBatch(), signWith("k2", key2, time.Now())))
		switch r.status {
		case http.StatusOK:
		case http.StatusServiceUnavailable:
			full++
		default:
			t.Fatalf("flood: %d %s", r.status, r.raw)
		}
	}
	if full == 0 {
		t.Fatal("the flooding key filled nothing: the test proves nothing")
	}
	for range 3 {
		f.stillWorks() // k1
	}
}

// TestRequestRateLimit: requests are counted per key, empty ones included;
// the other key has its own bucket.
func TestRequestRateLimit(t *testing.T) {
	t.Parallel()
	now := time.Now()
	f := start(t, func(o *Options) {
		o.RateRequests = 1
		o.RequestBurst = 3
		o.Now = func() time.Time { return now }
	})
	for i := range 3 {
		if r := f.do(f.request(emptyBatch(), signWith("k1", key1, now))); r.status != http.StatusOK {
			t.Fatalf("request %d within the burst: %d %s", i, r.status, r.raw)
		}
	}
	r := f.do(f.request(emptyBatch(), signWith("k1", key1, now)))
	if r.status != http.StatusTooManyRequests || r.header.Get("Retry-After") == "" || !strings.Contains(r.err, "requests/s") {
		t.Fatalf("past the burst: %d %s", r.status, r.raw)
	}
	if r := f.do(f.request(f.fresh(1), signWith("k2", key2, now))); r.status != http.StatusOK {
		t.Fatalf("other key: %d %s", r.status, r.raw)
	}
	if n := testutil.ToFloat64(f.h.m.refused.WithLabelValues("request_rate_limited")); n != 1 {
		t.Errorf("request_rate_limited = %v", n)
	}
}

// TestEmptyBatchCostsAnEvent: an empty batch takes one token of the event
// rate, so a stream of them is limited too.
func TestEmptyBatchCostsAnEvent(t *testing.T) {
	t.Parallel()
	now := time.Now()
	f := start(t, func(o *Options) {
		o.RateEvents = 1
		o.RateBurst = 2
		o.MaxLines = 2
		o.Now = func() time.Time { return now }
	})
	for range 2 {
		if r := f.do(f.request(emptyBatch(), signWith("k1", key1, now))); r.status != http.StatusOK {
			t.Fatalf("%d %s", r.status, r.raw)
		}
	}
	if r := f.do(f.request(emptyBatch(), signWith("k1", key1, now))); r.status != http.StatusTooManyRequests {
		t.Fatalf("third empty batch with a burst of 2: %d %s", r.status, r.raw)
	}
}

// TestFutureTimestampWindow: the future side of the window is
// MaxFutureSkew, narrower than MaxSkew.
func TestFutureTimestampWindow(t *testing.T) {
	t.Parallel()
	f := start(t, nil)
	if r := f.do(f.request(f.fresh(1), signWith("k1", key1, time.Now().Add(20*time.Second)))); r.status != 200 {
		t.Fatalf("20 s ahead: %d %s", r.status, r.raw)
	}
	r := f.do(f.request(f.fresh(1), signWith("k1", key1, time.Now().Add(2*time.Minute))))
	if r.status != 401 || !strings.Contains(r.err, "30s ahead") {
		t.Fatalf("2 m ahead: %d %s", r.status, r.raw)
	}
}

// TestMaxLinesBatchAccepted: with the defaults, a batch of exactly MaxLines
// lines (the documented largest) is taken. Before, the rate burst (40,000)
// was below it and it got 413.
func TestMaxLinesBatchAccepted(t *testing.T) {
	t.Parallel()
	f := start(t, nil)
	r := f.post(f.fresh(DefaultMaxLines))
	if r.status != http.StatusOK || r.answer.Accepted != DefaultMaxLines {
		t.Fatalf("%d lines: %d %.200s", DefaultMaxLines, r.status, r.raw)
	}
}

func TestLimitsValidated(t *testing.T) {
	t.Parallel()
	sink := func(context.Context, []event.Event) error { return nil }
	for name, c := range map[string]struct {
		o    Options
		says string
	}{
		"burst below max lines":  {Options{RateBurst: 10, MaxLines: 11}, "rate burst 10 is below max lines 11"},
		"memory below a request": {Options{MaxMemoryBytes: 1 << 20}, "max memory bytes 1048576 is below"},
	} {
		c.o.Keys, c.o.Sink = map[string][]byte{"k": key1}, sink
		_, err := NewHandler(c.o)
		if err == nil || !strings.Contains(err.Error(), c.says) {
			t.Errorf("%s: %v", name, err)
		}
	}
	// Unlimited rate: any burst will do.
	if _, err := NewHandler(Options{Keys: map[string][]byte{"k": key1}, Sink: sink, RateEvents: -1, RateBurst: 1}); err != nil {
		t.Error(err)
	}
}

// syncBuffer is a log sink safe for the server's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestTrustedProxiesInLogs: the client address of a refusal's log line
// comes from X-Forwarded-For through a trusted proxy, and not otherwise.
func TestTrustedProxiesInLogs(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name    string
		trusted []netip.Prefix
		want    string
	}{
		{"trusted", []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}, "client=203.0.113.7"},
		{"not trusted", nil, "client=127.0.0.1"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			var logs syncBuffer
			f := start(t, func(o *Options) {
				o.TrustedProxies = c.trusted
				o.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
			})
			req := f.request(f.fresh(1), signWith("k1", key2, time.Now()))
			req.Header.Set("X-Forwarded-For", "203.0.113.7")
			if r := f.do(req); r.status != 401 {
				t.Fatalf("%d %s", r.status, r.raw)
			}
			if !strings.Contains(logs.String(), c.want) {
				t.Errorf("log %q lacks %q", logs.String(), c.want)
			}
		})
	}
}
