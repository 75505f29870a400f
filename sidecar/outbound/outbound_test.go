package outbound

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

var secret = []byte("a-shared-secret-of-32-bytes-long")

// receiver is a real HTTP server standing in for a platform's endpoint: it
// verifies the signature, keeps each idempotency key once, and answers from
// a script.
type receiver struct {
	mu      sync.Mutex
	script  []int // statuses to answer in turn; then 200
	calls   int
	taken   map[string]int // key -> deliveries kept
	badSigs int
}

func (rv *receiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	rv.mu.Lock()
	defer rv.mu.Unlock()
	rv.calls++
	if err := Verify(secret, r.Header.Get(TimestampHeader), r.Header.Get(SignatureHeader), body, time.Now(), 5*time.Minute); err != nil {
		rv.badSigs++
		http.Error(w, err.Error(), http.StatusUnauthorized)
		return
	}
	status := 200
	if len(rv.script) > 0 {
		status, rv.script = rv.script[0], rv.script[1:]
	}
	if status == 200 {
		rv.taken[r.Header.Get(IdempotencyHeader)]++
		io.WriteString(w, `{"report":"R-1"}`)
		return
	}
	w.WriteHeader(status)
}

func newClient(t *testing.T, url string, reg prometheus.Registerer, cfg Config) *Client {
	t.Helper()
	cfg.URL = url
	c, err := New(cfg, Options{Name: "test", Secret: secret, Registerer: reg,
		Sleep: func(ctx context.Context, d time.Duration) error { return ctx.Err() }})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestDeliverRetriesThenDelivers(t *testing.T) {
	rv := &receiver{script: []int{503, 500, 429}, taken: map[string]int{}}
	srv := httptest.NewServer(rv)
	defer srv.Close()
	reg := prometheus.NewRegistry()
	c := newClient(t, srv.URL, reg, Config{BreakerFailures: 10})
	res, err := c.Deliver(context.Background(), "case-1/v1", []byte(`{"case":"case-1"}`))
	if err != nil || !res.Delivered || res.Attempts != 4 || res.Status != 200 || string(res.Receipt) != `{"report":"R-1"}` {
		t.Fatalf("res %+v err %v, want delivered on the 4th attempt with the receipt", res, err)
	}
	if rv.taken["case-1/v1"] != 1 || rv.badSigs != 0 {
		t.Fatalf("receiver kept %v with %d bad signatures", rv.taken, rv.badSigs)
	}
	if got := testutil.ToFloat64(c.m.results.WithLabelValues("test", "delivered")); got != 1 {
		t.Fatalf("delivered counted %v", got)
	}
}

func TestDeliverRefusedIsNotRetried(t *testing.T) {
	rv := &receiver{script: []int{422}, taken: map[string]int{}}
	srv := httptest.NewServer(rv)
	defer srv.Close()
	c := newClient(t, srv.URL, nil, Config{})
	res, err := c.Deliver(context.Background(), "k", []byte(`{}`))
	if !errors.Is(err, ErrRefused) || res.Attempts != 1 || res.Delivered {
		t.Fatalf("res %+v err %v, want one attempt refused for good", res, err)
	}
}

func TestBreakerOpensAndCloses(t *testing.T) {
	rv := &receiver{script: []int{500, 500, 500, 500, 500, 500}, taken: map[string]int{}}
	srv := httptest.NewServer(rv)
	defer srv.Close()
	cfg := Config{BreakerFailures: 2, BreakerOpen: 20 * time.Millisecond, MaxAttempts: 3}
	cfg.URL = srv.URL
	var (
		states []string
		c      *Client
		err    error
	)
	c, err = New(cfg, Options{Name: "breaker", Secret: secret,
		Sleep: func(ctx context.Context, d time.Duration) error {
			states = append(states, c.cb.State().String())
			return sleepCtx(ctx, d/1000) // keep the jitter's shape, not its length
		}})
	if err != nil {
		t.Fatal(err)
	}
	// Three attempts, each 500: the breaker opens after the second.
	res, err := c.Deliver(context.Background(), "k1", []byte(`{}`))
	if err == nil || res.Attempts != 3 {
		t.Fatalf("res %+v err %v, want 3 failed attempts", res, err)
	}
	if !strings.Contains(strings.Join(states, ","), "open") {
		t.Fatalf("breaker states seen between attempts %v: never open", states)
	}
	// The receiver recovers: after the open period the half-open probe
	// succeeds and the breaker closes.
	rv.mu.Lock()
	rv.script = nil
	rv.mu.Unlock()
	res, err = c.Deliver(context.Background(), "k2", []byte(`{}`))
	if err != nil || !res.Delivered {
		t.Fatalf("after recovery: %+v %v", res, err)
	}
	if s := c.cb.State().String(); s != "closed" {
		t.Fatalf("breaker %s after a success, want closed", s)
	}
}

func TestVerify(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	body := []byte(`{"a":1}`)
	ts := "1800000000"
	sig := Sign(secret, ts, body)
	if err := Verify(secret, ts, sig, body, now, time.Minute); err != nil {
		t.Fatal(err)
	}
	for name, tc := range map[string]struct {
		ts, sig string
		body    []byte
		now     time.Time
	}{
		"other body":    {ts, sig, []byte(`{"a":2}`), now},
		"stale":         {ts, sig, body, now.Add(2 * time.Minute)},
		"other secret":  {ts, Sign([]byte("another-secret-0123456789"), ts, body), body, now},
		"no signature":  {ts, "", body, now},
		"bad timestamp": {"x", sig, body, now},
		"other time":    {"1800000001", sig, body, now},
	} {
		if err := Verify(secret, tc.ts, tc.sig, tc.body, tc.now, time.Minute); err == nil {
			t.Errorf("%s: verified", name)
		}
	}
}

func TestErrorsKeepSecretsOut(t *testing.T) {
	c := newClient(t, "http://127.0.0.1:1/hold?token=sekrit-token", nil, Config{MaxAttempts: 1})
	_, err := c.Deliver(context.Background(), "k", []byte(`{}`))
	if err == nil || strings.Contains(err.Error(), "sekrit") {
		t.Fatalf("error %v: want a failure without the URL's token", err)
	}
	if _, err := New(Config{URL: "ftp://user:pw@x/?q=sekrit"}, Options{Name: "x", Secret: secret}); err == nil ||
		strings.Contains(err.Error(), "sekrit") || strings.Contains(err.Error(), "pw") {
		t.Fatalf("config error %v leaks", err)
	}
}

func FuzzVerify(f *testing.F) {
	now := time.Unix(1_800_000_000, 0)
	f.Add("1800000000", Sign(secret, "1800000000", []byte("x")), []byte("x"))
	f.Add("", "sha256=", []byte(""))
	f.Add("99999999999999999999", "sha256=00", []byte("x"))
	f.Fuzz(func(t *testing.T, ts, sig string, body []byte) {
		if Verify(secret, ts, sig, body, now, time.Minute) == nil && sig != Sign(secret, ts, body) {
			t.Fatalf("verified a signature that is not ours: %q %q", ts, sig)
		}
	})
}
