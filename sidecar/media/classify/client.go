package classify

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/jpeg"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/sony/gobreaker/v2"

	"github.com/ronda-watch/ronda/analyzer/event"
	"github.com/ronda-watch/ronda/sidecar/internal/eventid"
)

// Sink takes the signals of one answer, the same shape as poll.Sink.
type Sink func(ctx context.Context, evs []event.Event) error

// Frame is a keyframe offered for classification: Image for a decoded
// frame, or AccessUnit (Annex-B) for an H.264 keyframe Ronda does not
// decode.
type Frame struct {
	StreamID   string
	HostID     string
	At         time.Time
	Image      image.Image
	AccessUnit []byte
}

// Reasons a frame is not sent (label of ronda_media_classify_frames_total).
const (
	FrameSent            = "sent"
	FrameBudget          = "budget"
	FrameBudgetTableFull = "budget_table_full"
	FrameBusy            = "busy"
	FrameBreakerOpen     = "breaker_open"
	FrameUnsupported     = "unsupported"
	FrameEncodeError     = "encode_error"
	FrameStopped         = "stopped"
)

// Options of a Client.
type Options struct {
	Config Config
	Sink   Sink
	// HTTPClient sends the requests; default a client without its own
	// timeout (each request has Config.Timeout).
	HTTPClient *http.Client
	Logger     *slog.Logger
	Registerer prometheus.Registerer
	// Now is the clock of the per-stream budget; default time.Now.
	Now func() time.Time
}

// Client offers frames to the classifier. Offer never blocks on the
// network; Close waits for the requests in flight.
type Client struct {
	cfg    Config
	sink   Sink
	hc     *http.Client
	log    *slog.Logger
	now    func() time.Time
	m      *metrics
	cb     *gobreaker.CircuitBreaker[[]Label]
	sem    chan struct{}
	budget *budget

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	mu     sync.Mutex // guards closed against wg.Add after Close
	closed bool
}

// New validates the options and returns a Client.
func New(o Options) (*Client, error) {
	cfg := o.Config.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if o.Sink == nil {
		return nil, errors.New("classifier: a sink is required")
	}
	if o.HTTPClient == nil {
		o.HTTPClient = &http.Client{}
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	m, err := newMetrics(o.Registerer)
	if err != nil {
		return nil, err
	}
	c := &Client{
		cfg: cfg, sink: o.Sink, hc: o.HTTPClient, log: o.Logger, now: o.Now, m: m,
		sem:    make(chan struct{}, cfg.MaxConcurrent),
		budget: newBudget(cfg.PerStreamPerHour, cfg.MaxStreams),
	}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	c.cb = gobreaker.NewCircuitBreaker[[]Label](gobreaker.Settings{
		Name:        "classifier",
		MaxRequests: 1,
		Timeout:     cfg.BreakerOpenFor,
		ReadyToTrip: func(n gobreaker.Counts) bool { return n.ConsecutiveFailures >= uint32(cfg.BreakerFailures) },
		OnStateChange: func(_ string, from, to gobreaker.State) {
			m.breaker.Set(float64(to))
			c.log.Warn("classifier breaker", "from", from.String(), "to", to.String())
		},
	})
	return c, nil
}

// AcceptsH264 reports whether H.264 access units are worth offering.
func (c *Client) AcceptsH264() bool { return c.cfg.AcceptsH264 }

// BreakerState is the circuit breaker's state.
func (c *Client) BreakerState() gobreaker.State { return c.cb.State() }

// Offer sends f to the classifier unless a bound says no, and reports
// whether it was sent; the reason it was not is counted. The image is
// encoded before Offer returns and not kept: the caller may reuse it.
func (c *Client) Offer(f Frame) bool {
	res := c.offer(f)
	c.m.frames.WithLabelValues(res).Inc()
	return res == FrameSent
}

func (c *Client) offer(f Frame) string {
	if f.Image == nil && (f.AccessUnit == nil || !c.cfg.AcceptsH264) {
		return FrameUnsupported
	}
	if c.cb.State() == gobreaker.StateOpen {
		return FrameBreakerOpen
	}
	select {
	case c.sem <- struct{}{}:
	default:
		return FrameBusy
	}
	release := true
	defer func() {
		if release {
			<-c.sem
		}
	}()
	if res := c.budget.take(f.StreamID, c.now()); res != "" {
		return res
	}
	body, ctype := f.AccessUnit, "video/h264"
	if f.Image != nil {
		var buf bytes.Buffer
		if err := jpeg.Encode(&buf, f.Image, &jpeg.Options{Quality: c.cfg.JPEGQuality}); err != nil {
			return FrameEncodeError
		}
		body, ctype = buf.Bytes(), "image/jpeg"
	} else {
		body = bytes.Clone(body)
	}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return FrameStopped
	}
	c.wg.Add(1)
	c.mu.Unlock()
	release = false
	go func() {
		defer c.wg.Done()
		defer func() { <-c.sem }()
		c.classify(f.StreamID, f.HostID, f.At, body, ctype)
	}()
	return FrameSent
}

func (c *Client) classify(streamID, hostID string, at time.Time, body []byte, ctype string) {
	start := time.Now()
	labels, err := c.cb.Execute(func() ([]Label, error) { return c.post(body, ctype) })
	c.m.latency.Observe(time.Since(start).Seconds())
	switch {
	case err == nil:
		c.m.requests.WithLabelValues("ok").Inc()
	case errors.Is(err, gobreaker.ErrOpenState), errors.Is(err, gobreaker.ErrTooManyRequests):
		c.m.requests.WithLabelValues("breaker_open").Inc()
		return
	case errors.Is(err, context.DeadlineExceeded):
		c.m.requests.WithLabelValues("timeout").Inc()
		c.log.Warn("classifier timed out", "timeout", c.cfg.Timeout)
		return
	case errors.Is(err, ErrAnswer):
		c.m.requests.WithLabelValues("bad_answer").Inc()
		c.log.Warn("classifier answer refused", "err", err)
		return
	default:
		c.m.requests.WithLabelValues("error").Inc()
		c.log.Warn("classifier request failed", "err", err)
		return
	}
	if len(labels) == 0 {
		return
	}
	evs := make([]event.Event, 0, len(labels))
	for _, l := range labels {
		evs = append(evs, event.Event{
			Type: event.TypeSignal, TypeName: "signal",
			ID:       eventid.Hash("media", streamID, c.cfg.Source, l.Label, strconv.FormatInt(at.UnixNano(), 10)),
			At:       at,
			StreamID: streamID, HostID: hostID,
			Source: c.cfg.Source, Label: l.Label, Score: l.Score,
		})
	}
	ctx, cancel := context.WithTimeout(c.ctx, c.cfg.Timeout)
	defer cancel()
	if err := c.sink(ctx, evs); err != nil {
		c.m.sinkErrors.Inc()
		c.log.Warn("classifier signals refused by the pipeline", "signals", len(evs), "err", err)
		return
	}
	c.m.signals.Add(float64(len(evs)))
}

func (c *Client) post(body []byte, ctype string) ([]Label, error) {
	ctx, cancel := context.WithTimeout(c.ctx, c.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.cfg.URL, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", ctype)
	req.Header.Set("Accept", "application/json")
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, redactURL(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		io.Copy(io.Discard, io.LimitReader(resp.Body, c.cfg.MaxAnswerBytes)) //nolint:errcheck // draining for reuse only
		return nil, fmt.Errorf("classifier answered HTTP %d", resp.StatusCode)
	}
	raw, err := io.ReadAll(io.LimitReader(resp.Body, c.cfg.MaxAnswerBytes+1))
	if err != nil {
		return nil, redactURL(err)
	}
	if int64(len(raw)) > c.cfg.MaxAnswerBytes {
		return nil, fmt.Errorf("%w: longer than %d bytes", ErrAnswer, c.cfg.MaxAnswerBytes)
	}
	return DecodeAnswer(raw)
}

// redactURL keeps a URL's query (which may hold a key) out of logs.
func redactURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Errorf("%s classifier: %w", ue.Op, ue.Err)
	}
	return err
}

// Close stops new requests and waits for those in flight (each bounded by
// the timeout); safe twice and on nil.
func (c *Client) Close() {
	if c == nil {
		return
	}
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	c.wg.Wait()
	c.cancel()
}
