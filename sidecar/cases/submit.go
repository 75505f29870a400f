package cases

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/sony/gobreaker/v2"

	"github.com/ronda-watch/ronda/sidecar/store"
)

// Route is where an approved case goes: a hotline's HTTP API, a directory
// another system picks files from, an outbox of messages to a hotline's
// address. Send must be idempotent by d.Key where the destination allows it
// (the HTTP route sends it as Idempotency-Key; the file routes name the file
// by it); the service itself never sends a key a route has taken.
type Route interface {
	Name() string
	Kind() string
	Send(ctx context.Context, d Delivery) (receipt string, err error)
}

// Delivery is one case version to send.
type Delivery struct {
	Key  string
	Case *Case
	// Body is the case file as JSON, exactly what GET /v1/cases/{id} gives.
	Body []byte
}

// PermanentError is a refusal a retry cannot change (a 4xx other than 408
// and 429): the submission stops at it.
type PermanentError struct{ Err error }

func (e *PermanentError) Error() string { return e.Err.Error() }
func (e *PermanentError) Unwrap() error { return e.Err }

// Results of a submission attempt (the result column and the metric label).
const (
	ResultDelivered   = "delivered"    // the route took it
	ResultAlready     = "already"      // the route had taken this key before: not sent
	ResultFailed      = "failed"       // an attempt failed; retried while attempts are left
	ResultRejected    = "rejected"     // refused for good (PermanentError)
	ResultBreakerOpen = "breaker_open" // not attempted: the route's breaker is open
)

// Outcome is what a submission did on one route.
type Outcome struct {
	Route    string `json:"route"`
	Key      string `json:"key"`
	Result   string `json:"result"`
	Attempts int    `json:"attempts"`
	Receipt  string `json:"receipt,omitempty"`
	Error    string `json:"error,omitempty"`
}

// BreakerSettings tune each route's circuit breaker.
type BreakerSettings struct {
	// Failures in a row that open it. Default 3.
	Failures uint32
	// Open is how long it stays open before one trial. Default 30s.
	Open time.Duration
}

type routeState struct {
	Route
	cb *gobreaker.CircuitBreaker[string]
}

// Submit sends the case's approved version down every route that has not
// taken it: each attempt recorded in ClickHouse before the next, retried with
// backoff through the route's breaker. A route that took this version (a
// delivered row in case_submissions, kept across restarts) is not sent again.
// It needs the approval of the current version (ErrNotApproved).
func (s *Service) Submit(ctx context.Context, id, by string) ([]Outcome, error) {
	s.mu.Lock()
	if s.sending[id] {
		s.mu.Unlock()
		return nil, ErrBusy
	}
	s.sending[id] = true
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.sending, id)
		s.mu.Unlock()
	}()
	c, err := s.Get(ctx, id)
	if err != nil {
		return nil, err
	}
	if c.Approval == nil {
		return nil, ErrNotApproved
	}
	if len(s.opts.Routes) == 0 {
		return nil, ErrNoRoutes
	}
	conn, err := s.db(ctx)
	if err != nil {
		return nil, err
	}
	now := s.opts.Now().UTC()
	if err := s.writeAction(ctx, conn, id, c.AlertID, by, "submit", "", s.actionID(id, "submit", by, now), now, c.Version); err != nil {
		return nil, err
	}
	key := Key(c.ID, c.Version)
	body, err := json.Marshal(c)
	if err != nil {
		return nil, err
	}
	taken := map[string]bool{}
	attempts := map[string]int{}
	for _, sub := range c.Submissions {
		if sub.Key != key {
			continue
		}
		attempts[sub.Route] = max(attempts[sub.Route], sub.Attempt)
		if sub.Result == ResultDelivered {
			taken[sub.Route] = true
		}
	}
	var out []Outcome
	for _, r := range s.routes() {
		o := Outcome{Route: r.Name(), Key: key}
		if taken[r.Name()] {
			o.Result = ResultAlready
			s.m.submissions.WithLabelValues(r.Name(), ResultAlready).Inc()
			out = append(out, o)
			continue
		}
		o = s.send(ctx, r, Delivery{Key: key, Case: c, Body: body}, attempts[r.Name()])
		out = append(out, o)
	}
	// The case as the submission left it (submitted once every route took
	// it); unread, the consoles hear the status it had.
	if after, err := s.Get(ctx, id); err == nil {
		c = after
	}
	s.tell(c, "submit", by, now)
	return out, nil
}

// Errors of Submit.
var (
	ErrBusy     = errors.New("a submission of this case is under way")
	ErrNoRoutes = errors.New("no report route is configured")
)

// send tries one route up to Attempts times, recording every attempt.
func (s *Service) send(ctx context.Context, r *routeState, d Delivery, before int) Outcome {
	o := Outcome{Route: r.Name(), Key: d.Key}
	wait := s.opts.Backoff
	for i := 1; i <= s.opts.Attempts; i++ {
		o.Attempts = i
		receipt, err := r.cb.Execute(func() (string, error) { return r.Send(ctx, d) })
		result, detail := ResultDelivered, receipt
		var perm *PermanentError
		switch {
		case err == nil:
		case errors.Is(err, gobreaker.ErrOpenState), errors.Is(err, gobreaker.ErrTooManyRequests):
			result, detail = ResultBreakerOpen, err.Error()
		case errors.As(err, &perm):
			result, detail = ResultRejected, err.Error()
		default:
			result, detail = ResultFailed, err.Error()
		}
		s.m.submissions.WithLabelValues(r.Name(), result).Inc()
		if rerr := s.record(ctx, d, r.Name(), before+i, result, detail); rerr != nil && result == ResultDelivered {
			// The route has it; without the row a restart would send it
			// again under the same key, which the route must refuse.
			s.opts.Logger.Error("case delivered but not recorded", "route", r.Name(), "key", d.Key, "err", rerr)
		}
		o.Result = result
		switch result {
		case ResultDelivered:
			o.Receipt, o.Error = receipt, ""
			s.opts.Logger.Info("case delivered", "route", r.Name(), "key", d.Key, "attempt", i)
			return o
		case ResultRejected:
			o.Error = detail
			return o
		}
		o.Error = detail
		if i == s.opts.Attempts {
			break
		}
		select {
		case <-ctx.Done():
			o.Error = ctx.Err().Error()
			return o
		case <-time.After(wait):
		}
		wait = min(2*wait, 30*time.Second)
	}
	s.opts.Logger.Warn("case not delivered", "route", r.Name(), "key", d.Key, "attempts", o.Attempts, "err", o.Error)
	return o
}

func (s *Service) record(ctx context.Context, d Delivery, route string, attempt int, result, detail string) error {
	conn, err := s.db(ctx)
	if err != nil {
		return err
	}
	if len(detail) > 1024 {
		detail = detail[:1024]
	}
	now := s.opts.Now().UTC()
	return store.WriteCaseSubmission(context.WithoutCancel(ctx), conn, s.opts.Schema, store.CaseSubmissionRow{CaseID: d.Case.ID,
		Route: route, Key: d.Key, Attempt: uint32(attempt), At: now, Result: result, Detail: detail, Ingested: now})
}

// routes gives the routes with their breakers, built once.
func (s *Service) routes() []*routeState {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.states == nil {
		b := s.opts.Breaker
		if b.Failures == 0 {
			b.Failures = 3
		}
		if b.Open == 0 {
			b.Open = 30 * time.Second
		}
		for _, r := range s.opts.Routes {
			name := r.Name()
			s.states = append(s.states, &routeState{Route: r, cb: gobreaker.NewCircuitBreaker[string](gobreaker.Settings{
				Name: "report route " + name, MaxRequests: 1, Timeout: b.Open,
				ReadyToTrip: func(c gobreaker.Counts) bool { return c.ConsecutiveFailures >= b.Failures },
				// A refusal for good says the route works: it does not open the breaker.
				IsSuccessful: func(err error) bool {
					var perm *PermanentError
					return err == nil || errors.As(err, &perm)
				},
				OnStateChange: func(_ string, from, to gobreaker.State) {
					s.m.breaker.WithLabelValues(name).Set(float64(to))
					s.opts.Logger.Warn("report route breaker", "route", name, "from", from.String(), "to", to.String())
				},
			})})
		}
	}
	return s.states
}
