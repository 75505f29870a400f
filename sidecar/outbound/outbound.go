// Package outbound delivers Ronda's own requests to a platform's or an
// authority's endpoint: a JSON body POSTed with an HMAC signature and an
// idempotency key, retried with backoff behind a circuit breaker
// (sony/gobreaker), and reported as delivered, failed for good, or given up.
//
// The receiver verifies the signature (Verify does it in Go) and keeps the
// Idempotency-Key: a delivery that was taken but whose answer was lost is
// sent again with the same key, and the receiver must treat it as the one it
// has. Ronda never sends a key again once a 2xx came back; callers persist
// that fact (see Result.Delivered) so a restart does not resend either.
//
// Secrets never reach a log line; bodies are not logged.
package outbound

import (
	"bytes"
	"context"
	"crypto/hmac"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/sony/gobreaker/v2"

	"github.com/ronda-watch/ronda/sidecar/intake/wire"
	"github.com/ronda-watch/ronda/sidecar/internal/metricsreg"
)

// Headers of a delivery: the signature scheme of Ronda's own intake
// (sidecar/intake), so a platform verifies Ronda's calls as Ronda verifies
// its senders.
const (
	// TimestampHeader carries Unix seconds, decimal.
	TimestampHeader = wire.HeaderTimestamp
	// SignatureHeader carries "sha256=" + hex HMAC-SHA256(secret,
	// timestamp + "." + body).
	SignatureHeader = wire.HeaderSignature
	// IdempotencyHeader carries the delivery's key: the same logical request
	// always has the same key.
	IdempotencyHeader = "Idempotency-Key"
)

// Config is one endpoint.
type Config struct {
	// URL receives the POSTs. https in production; http only to loopback or
	// inside a trusted network.
	URL string `yaml:"url"`
	// Timeout bounds one attempt. Default 10s.
	Timeout time.Duration `yaml:"timeout"`
	// MaxAttempts bounds the attempts of one delivery. Default 8.
	MaxAttempts int `yaml:"max_attempts"`
	// Backoff is the wait after the first failed attempt, doubled after each
	// (with jitter), at most MaxBackoff. Defaults 1s and 5m.
	Backoff    time.Duration `yaml:"backoff"`
	MaxBackoff time.Duration `yaml:"max_backoff"`
	// BreakerFailures consecutive failed attempts open the breaker for
	// BreakerOpen: attempts wait for it instead of hammering a receiver
	// that is down. Defaults 5 and 30s.
	BreakerFailures int           `yaml:"breaker_failures"`
	BreakerOpen     time.Duration `yaml:"breaker_open"`
}

func (c *Config) Defaults() {
	if c.Timeout <= 0 {
		c.Timeout = 10 * time.Second
	}
	if c.MaxAttempts <= 0 {
		c.MaxAttempts = 8
	}
	if c.Backoff <= 0 {
		c.Backoff = time.Second
	}
	if c.MaxBackoff <= 0 {
		c.MaxBackoff = 5 * time.Minute
	}
	if c.BreakerFailures <= 0 {
		c.BreakerFailures = 5
	}
	if c.BreakerOpen <= 0 {
		c.BreakerOpen = 30 * time.Second
	}
}

// Validate reports a configuration that cannot work.
func (c Config) Validate() error {
	if c.URL == "" {
		return errors.New("url is required")
	}
	if !strings.HasPrefix(c.URL, "https://") && !strings.HasPrefix(c.URL, "http://") {
		return fmt.Errorf("url %q: want http:// or https://", redact(c.URL))
	}
	return nil
}

// Client delivers to one endpoint. It is safe for concurrent use.
type Client struct {
	name   string
	cfg    Config
	secret []byte
	http   *http.Client
	cb     *gobreaker.CircuitBreaker[int]
	m      *metrics
	sleep  func(ctx context.Context, d time.Duration) error
	now    func() time.Time
}

// Options are the parts a Client is composed from.
type Options struct {
	// Name labels the metrics (a route or lever name, never a URL).
	Name string
	// Secret signs each delivery. Required, at least 16 bytes.
	Secret []byte
	// HTTP is the client used; default one with cfg.Timeout per attempt.
	HTTP *http.Client
	// Registerer receives ronda_outbound_* metrics; nil: not exported.
	Registerer prometheus.Registerer
	// Sleep waits between attempts (tests pass a fast one); default a timer.
	Sleep func(ctx context.Context, d time.Duration) error
	// Now stamps signatures; default time.Now.
	Now func() time.Time
}

// New returns a Client for cfg.
func New(cfg Config, o Options) (*Client, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if len(o.Secret) < 16 {
		return nil, errors.New("outbound: the secret must be at least 16 bytes")
	}
	if o.Name == "" {
		return nil, errors.New("outbound: a name is required")
	}
	cfg.Defaults()
	c := &Client{name: o.Name, cfg: cfg, secret: bytes.Clone(o.Secret), http: o.HTTP,
		sleep: o.Sleep, now: o.Now, m: newMetrics(o.Registerer)}
	if c.http == nil {
		c.http = &http.Client{Timeout: cfg.Timeout}
	}
	if c.sleep == nil {
		c.sleep = sleepCtx
	}
	if c.now == nil {
		c.now = time.Now
	}
	c.cb = gobreaker.NewCircuitBreaker[int](gobreaker.Settings{
		Name:        o.Name,
		Timeout:     cfg.BreakerOpen,
		ReadyToTrip: func(n gobreaker.Counts) bool { return int(n.ConsecutiveFailures) >= cfg.BreakerFailures },
		OnStateChange: func(_ string, _, to gobreaker.State) {
			c.m.breaker.WithLabelValues(c.name).Set(float64(to))
		},
		IsSuccessful: func(err error) bool { return err == nil || errors.Is(err, errPermanent) },
	})
	c.m.breaker.WithLabelValues(c.name).Set(0)
	return c, nil
}

// Result is how a delivery ended.
type Result struct {
	// Delivered: a 2xx came back. Persist it: never send the key again.
	Delivered bool
	// Status is the last HTTP status (0: none came back).
	Status int
	// Attempts made.
	Attempts int
	// Receipt is the start of the receiver's answer body (at most 4 KiB),
	// e.g. the report number an authority's API gives.
	Receipt []byte
}

var errPermanent = errors.New("refused for good")

// ErrRefused wraps a 4xx answer other than 408 and 429: the receiver will not
// take this body, and retrying it would not help.
var ErrRefused = errPermanent

// Deliver POSTs body with key until a 2xx, a permanent refusal, MaxAttempts,
// or ctx ends. The error is nil only when Delivered.
func (c *Client) Deliver(ctx context.Context, key string, body []byte) (Result, error) {
	if key == "" {
		return Result{}, errors.New("outbound: an idempotency key is required")
	}
	var res Result
	wait := c.cfg.Backoff
	var last error
	for res.Attempts < c.cfg.MaxAttempts {
		if res.Attempts > 0 {
			d := wait/2 + rand.N(wait/2+1)
			if err := c.sleep(ctx, d); err != nil {
				c.m.results.WithLabelValues(c.name, "given_up").Inc()
				return res, fmt.Errorf("outbound %s: %w (last: %v)", c.name, err, last)
			}
			wait = min(wait*2, c.cfg.MaxBackoff)
		}
		if err := ctx.Err(); err != nil {
			c.m.results.WithLabelValues(c.name, "given_up").Inc()
			return res, fmt.Errorf("outbound %s: %w (last: %v)", c.name, err, last)
		}
		status, err := c.cb.Execute(func() (int, error) {
			res.Attempts++
			c.m.attempts.WithLabelValues(c.name).Inc()
			return c.attempt(ctx, key, body, &res)
		})
		res.Status = status
		switch {
		case err == nil:
			res.Delivered = true
			c.m.results.WithLabelValues(c.name, "delivered").Inc()
			return res, nil
		case errors.Is(err, errPermanent):
			c.m.results.WithLabelValues(c.name, "refused").Inc()
			return res, fmt.Errorf("outbound %s: %w", c.name, err)
		case errors.Is(err, gobreaker.ErrOpenState), errors.Is(err, gobreaker.ErrTooManyRequests):
			// Not an attempt: wait out the breaker without counting it.
			if err := c.sleep(ctx, c.cfg.BreakerOpen/4+time.Millisecond); err != nil {
				c.m.results.WithLabelValues(c.name, "given_up").Inc()
				return res, fmt.Errorf("outbound %s: %w (breaker open)", c.name, err)
			}
			continue
		}
		last = err
	}
	c.m.results.WithLabelValues(c.name, "given_up").Inc()
	return res, fmt.Errorf("outbound %s: gave up after %d attempts: %w", c.name, res.Attempts, last)
}

func (c *Client) attempt(ctx context.Context, key string, body []byte, res *Result) (int, error) {
	actx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	status, answer, err := Post(actx, c.http, c.cfg.URL, c.secret, key, body, c.now())
	if err == nil {
		res.Receipt = answer
	}
	return status, err
}

// MaxAnswerBytes bounds what is read of a receiver's answer.
const MaxAnswerBytes = 64 << 10

// Post makes one signed attempt: body POSTed as JSON to url with key as
// Idempotency-Key, signed with secret at now. A 2xx gives its answer (at
// most MaxAnswerBytes); 408, 429, 5xx and transport errors are worth a
// retry; any other answer wraps ErrRefused. Errors never carry the URL.
func Post(ctx context.Context, client *http.Client, url string, secret []byte, key string, body []byte, now time.Time) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
	if err != nil {
		return 0, nil, fmt.Errorf("%w: %v", errPermanent, stripURL(err))
	}
	ts := strconv.FormatInt(now.Unix(), 10)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(IdempotencyHeader, key)
	req.Header.Set(TimestampHeader, ts)
	req.Header.Set(SignatureHeader, Sign(secret, ts, body))
	resp, err := client.Do(req)
	if err != nil {
		return 0, nil, fmt.Errorf("post: %w", stripURL(err))
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(io.LimitReader(resp.Body, MaxAnswerBytes))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	switch s := resp.StatusCode; {
	case s >= 200 && s < 300:
		return s, answer, nil
	case s == http.StatusRequestTimeout || s == http.StatusTooManyRequests || s >= 500:
		return s, nil, fmt.Errorf("receiver answered %s", resp.Status)
	default:
		return s, nil, fmt.Errorf("%w: receiver answered %s", errPermanent, resp.Status)
	}
}

// Sign returns the SignatureHeader value of body at ts (Unix seconds).
func Sign(secret []byte, ts string, body []byte) string {
	mac := wire.MAC(secret, ts, body)
	return wire.SigPrefix + hex.EncodeToString(mac[:])
}

// Verify checks a request's TimestampHeader and SignatureHeader values
// against body, accepting a timestamp within tolerance of now: what a
// receiver does.
func Verify(secret []byte, ts, sig string, body []byte, now time.Time, tolerance time.Duration) error {
	if ts == "" || sig == "" {
		return errors.New("signature: want " + TimestampHeader + " and " + SignatureHeader)
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || len(ts) > 12 {
		return errors.New("signature: bad timestamp")
	}
	if d := now.Sub(time.Unix(sec, 0)); d > tolerance || d < -tolerance {
		return errors.New("signature: timestamp outside tolerance")
	}
	if !hmac.Equal([]byte(Sign(secret, ts, body)), []byte(sig)) {
		return errors.New("signature: mismatch")
	}
	return nil
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// stripURL keeps a URL's query (which may hold a token) out of errors.
func stripURL(err error) error {
	var ue interface{ Unwrap() error }
	if errors.As(err, &ue) {
		if inner := ue.Unwrap(); inner != nil {
			return inner
		}
	}
	return err
}

// redact keeps userinfo and query out of a URL shown in an error.
func redact(u string) string {
	if i := strings.IndexAny(u, "?#"); i >= 0 {
		u = u[:i]
	}
	if at := strings.LastIndex(u, "@"); at >= 0 {
		if s := strings.Index(u, "://"); s >= 0 && s < at {
			u = u[:s+3] + "…@" + u[at+1:]
		}
	}
	return u
}

type metrics struct {
	attempts *prometheus.CounterVec
	results  *prometheus.CounterVec
	breaker  *prometheus.GaugeVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		attempts: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ronda_outbound_attempts_total",
			Help: "HTTP attempts of Ronda's outbound deliveries (report routes, payout holds), by endpoint name.",
		}, []string{"endpoint"}),
		results: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "ronda_outbound_deliveries_total",
			Help: "Outbound deliveries by endpoint name and result: delivered (2xx), refused (4xx other than 408/429: not retried), given_up (attempts or time exhausted).",
		}, []string{"endpoint", "result"}),
		breaker: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "ronda_outbound_breaker_state",
			Help: "Circuit breaker of an outbound endpoint: 0 closed, 1 half-open, 2 open.",
		}, []string{"endpoint"}),
	}
	if reg != nil {
		m.attempts = must(metricsreg.Register(reg, m.attempts))
		m.results = must(metricsreg.Register(reg, m.results))
		m.breaker = must(metricsreg.Register(reg, m.breaker))
	}
	return m
}

// must panics on a registration error: the vectors' names are fixed here, so
// a clash is a programming error, not a condition to handle.
func must[C any](c C, err error) C {
	if err != nil {
		panic(err)
	}
	return c
}
